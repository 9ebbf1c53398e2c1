#!/usr/bin/env bash
# Containers through runtime templates (docs/user-guide.md, "Environments:
# containers"), on a root filesystem this test builds (busybox-static and a
# file only the image has; no registry), with bubblewrap, Charliecloud's
# ch-run and podman (through a site template in RUN_DIR/runtimes.json:
# this machine's podman needs runc, cgroupfs and no default ulimits):
#  - a job sees the image's filesystem, its volume (and a read-only one),
#    its variables and working directory, and exits with the command's status
#  - cancel and timeout (a job that ignores SIGTERM) leave nothing running
#  - bad runtime (CLI and wire), missing image (at submit, and one that went
#    away before the job ran), a runtime not installed: clear errors
#  - mindtrace's run-script docker environment over HTTP
#  - workers themselves inside the image: start --container and
#    add-workers --container (local, bwrap)
. "$(dirname "$0")/lib.sh"

for p in bwrap ch-run podman busybox; do
	command -v "$p" >/dev/null || fail "$p is not installed (tests/deps.sh installs bubblewrap, charliecloud-runtime, podman, runc, busybox-static)"
done
export USER=${USER:-$(id -un)} # ch-run wants it

# ---- the image: busybox and a marker only the image has ----
IMG=$T/img
mkdir -p "$IMG"/{bin,dev,proc,sys,tmp,etc,data,ro,app,home,root,run,var,usr}
cp "$(command -v busybox)" "$IMG/bin/busybox"
for a in sh cat echo sleep ls pwd env true false trap; do ln -s busybox "$IMG/bin/$a"; done
echo "only-in-image-$$" >"$IMG/etc/mts-marker"
touch "$IMG/etc/passwd" "$IMG/etc/group" "$IMG/etc/hosts" "$IMG/etc/resolv.conf"
[ ! -e /etc/mts-marker ] || fail "the host has /etc/mts-marker: the test cannot tell the image from the host"
mkdir -p "$T/vol" "$T/rovol"
echo "in-the-volume" >"$T/vol/f"
echo "read-only-data" >"$T/rovol/r"

listening() { ss -Htln 2>/dev/null | awk '{print $4}' | sed 's/.*://'; }
P=
for _ in $(seq 1 50); do
	p=$((20000 + RANDOM % 19980))
	busy=$(listening | grep -cx -e "$p" -e "$((p + 1))" || true)
	[ "$busy" = 0 ] && { P=$p; break; }
done
[ -n "$P" ] || fail "no two free ports found"
mtslurm -n 1 --local start --slots 2 --node-ports "$P-$((P + 1))" >/dev/null

# podman here: runc (crun refuses this hybrid cgroup tree), cgroupfs, and
# no default ulimits (the container may not raise RLIMIT_NOFILE); as the
# built-in's, --cgroups=split keeps the container in the job's cgroup
printf '[containers]\ndefault_ulimits = []\n' >"$T/containers.conf"
cat >"$MTSLURM_RUN_DIR/runtimes.json" <<EOF
{"runtimes": {"podman-here": {
  "command": "env CONTAINERS_CONF=$T/containers.conf podman --runtime runc --cgroup-manager=cgroupfs run --rm --init --cgroups=split --network=host {workdir} {volumes} {env} -e MTSLURM_JOB_ID --rootfs {image} {command}",
  "volume": "-v {src}:{dst}", "volume_ro": "-v {src}:{dst}:ro", "env": "-e {key}={value}", "workdir": "-w {dir}"}}}
EOF

field() { db "select $2 from jobs where id=$1"; }
procs() { ps -eo pid=,args= | grep -E "$1" | grep -v -e grep -e "ps -eo" || true; }

RUNTIMES="bwrap ch-run podman-here"
for rt in $RUNTIMES; do
	log "$rt: image, volumes, variables, working directory, exit status"
	ro=$T/rovol:/ro:ro
	[ "$rt" = ch-run ] && ro=$T/rovol:/ro # ch-run has no read-only binds
	id=$(mtslurm submit --container "$IMG" --runtime "$rt" --volume "$T/vol:/data" --volume "$ro" --container-cwd /app \
		--container-env 'K=v w' --container-env 'D=$HOME' \
		--exec 'cat /etc/mts-marker /data/f /ro/r; echo "K=$K D=$D"; pwd; echo "job=$MTSLURM_JOB_ID"; exit 7')
	mtslurm wait "$id" --timeout 60 >/dev/null || true
	out=$(field "$id" output)
	assert_contains "$out" "only-in-image-$$" "$rt: the image's file"
	assert_contains "$out" "in-the-volume" "$rt: the volume"
	assert_contains "$out" "read-only-data" "$rt: the second volume"
	assert_contains "$out" 'K=v w D=$HOME' "$rt: the variables, as given"
	assert_contains "$out" "/app" "$rt: the working directory"
	assert_contains "$out" "job=$id" "$rt: the job's own variables"
	assert_eq 7 "$(field "$id" rc)" "$rt: the command's exit status"
	assert_eq 3 "$(field "$id" state)" "$rt: failed with it"
	# a command without shell words runs directly: the runtime execs cat
	# inside the image
	id=$(mtslurm submit --container "$IMG" --runtime "$rt" --exec 'cat /etc/mts-marker')
	mtslurm wait "$id" --timeout 60 >/dev/null
	assert_eq "only-in-image-$$" "$(field "$id" output)" "$rt: a direct command"
done
# a read-only volume is read-only
id=$(mtslurm submit --container "$IMG" --runtime bwrap --volume "$T/rovol:/ro:ro" --exec 'echo x > /ro/new')
mtslurm wait "$id" --timeout 30 >/dev/null || true
assert_eq 3 "$(field "$id" state)" "bwrap: writing to a read-only volume fails"
[ ! -e "$T/rovol/new" ] || fail "a read-only volume was written"

for rt in $RUNTIMES; do
	log "$rt: cancel leaves nothing running"
	n=$((RANDOM % 9000 + 1000))
	id=$(mtslurm submit --container "$IMG" --runtime "$rt" --exec "sleep 1$n & sleep 2$n")
	up() { [ -n "$(procs "sleep 2$n")" ] && [ -n "$(procs "sleep 1$n")" ]; }
	wait_for 30 up
	mtslurm cancel "$id" >/dev/null
	gone() { [ -z "$(procs "sleep [12]$n")" ] && [ -z "$(procs "$IMG.*sleep")" ]; }
	wait_for 15 gone
	wait_for 10 sh -c "[ \"\$(sqlite3 -cmd '.timeout 5000' $MTSLURM_RUN_DIR/state.db 'select state from jobs where id=$id')\" = 4 ]"
done

for rt in bwrap ch-run; do
	log "$rt: timeout of a job that ignores SIGTERM: killed, nothing left"
	n=$((RANDOM % 9000 + 1000))
	id=$(mtslurm submit --container "$IMG" --runtime "$rt" --timeout 1 --exec "trap '' TERM; sleep 3$n & sleep 4$n")
	mtslurm wait "$id" --timeout 30 >/dev/null || true
	assert_contains "$(field "$id" error)" "timed out after 1 s" "$rt: the timeout"
	gone() { [ -z "$(procs "sleep [34]$n")" ]; }
	wait_for 10 gone
done

log "bad input"
set +e
out=$(mtslurm submit --container "$IMG" --runtime nosuch --exec true 2>&1); rc=$?
set -e
assert_eq 2 "$rc" "unknown runtime: exit 2"
assert_contains "$out" "unknown container runtime 'nosuch'; known: apptainer, bwrap, ch-run, podman, singularity, podman-here" "unknown runtime: CLI"
out=$("$TOOLS/wire_peer" --ms 800 "$MTSLURM_RUN_DIR" '{"t":"hello","client":"0123456789abcdef0123456789abcdef"}' \
	'{"t":"submit","req":1,"jobs":[{"type":"exec","input":"true","container":{"image":"/x","runtime":"docker"}}]}' \
	'{"t":"submit","req":2,"jobs":[{"type":"exec","input":"true","container":{"runtime":"bwrap"}}]}' \
	'{"t":"submit","req":3,"jobs":[{"type":"echo","input":"x","container":{"image":"/x"}}]}')
assert_contains "$out" 'job 0: unknown container runtime \"docker\"; known: apptainer, bwrap, ch-run, podman, singularity, podman-here' "unknown runtime: wire"
assert_contains "$out" '\"container\" needs \"image\"' "no image: wire"
assert_contains "$out" '\"container\" is for exec jobs' "container on an echo job"
set +e
out=$(mtslurm submit --container "$T/no-such-image" --exec true 2>&1); rc=$?
set -e
assert_eq 2 "$rc" "missing image: exit 2"
assert_contains "$out" "container image $T/no-such-image: No such file or directory" "missing image at submit"
# an image that is gone by the time the job runs: the job fails saying so
cp -a "$IMG" "$T/img2"
first=$(mtslurm submit --exec 'sleep 1')
id=$(mtslurm submit --after "$first" --container "$T/img2" --runtime bwrap --exec true)
rm -rf "$T/img2"
mtslurm wait "$id" --timeout 30 >/dev/null || true
assert_eq "container image $T/img2: No such file or directory on this node" "$(field "$id" error)" "image gone: job error"
# a runtime that is not installed on the worker's node
cat >"$MTSLURM_RUN_DIR/runtimes.json" <<EOF
{"runtimes": {"absent": {"command": "no-such-runtime-program {image} {command}"}}}
EOF
id=$(mtslurm submit --container "$IMG" --runtime absent --exec true)
mtslurm wait "$id" --timeout 30 >/dev/null || true
assert_contains "$(field "$id" error)" "container runtime absent: its program no-such-runtime-program is not on the job's PATH" "runtime not installed"
assert_eq 127 "$(field "$id" rc)" "runtime not installed: 127"
# a site file that does not parse: said, at submit and by the job
echo '{"runtimes": {"bad": {"command": "x {command}"}}}' >"$MTSLURM_RUN_DIR/runtimes.json"
set +e
out=$(mtslurm submit --container "$IMG" --runtime bwrap --exec true 2>&1); rc=$?
set -e
assert_contains "$out" "runtimes.json: runtime bad, template command: needs {image} and exactly one {command}" "bad site file"
rm "$MTSLURM_RUN_DIR/runtimes.json"

log "run-script: mindtrace's docker environment over HTTP"
NODE=$(jget "$(mtslurm nodes --json)" '$[0].url')
mt_call register_worker_type '{"worker_name":"scripts","worker_class":"RunScriptWorker","worker_params":{"runtime":"bwrap"},"job_type":"vbrain"}' >/dev/null
lid=$(jget "$(mt_call launch_worker "{\"node_url\":\"$NODE\",\"worker_type\":\"scripts\",\"worker_name\":null,\"worker_url\":null}")" '$.launch_id')
ready() { [ "$(jget "$(mt_call launch_worker_status "{\"node_url\":\"$NODE\",\"launch_id\":\"$lid\"}")" '$.status')" = ready ]; }
wait_for 60 ready
mt_call submit_job "$(mt_job d1 vbrain "{\"environment\":{\"docker\":{\"image\":\"$IMG\",\"working_dir\":\"/app\",\"volumes\":{\"$T/vol\":{\"bind\":\"/data\",\"mode\":\"rw\"},\"$T/rovol\":\"/ro\"},\"environment\":{\"GREETING\":\"hi there\"}}},\"command\":\"sh -c 'cat /etc/mts-marker /data/f /ro/r; echo \$GREETING; pwd; echo err >&2'\"}")" >/dev/null
st=$(mt_final d1 10)
assert_eq completed "$(jget "$st" '$.status')" "docker environment: $st"
assert_eq "only-in-image-$$
in-the-volume
read-only-data
hi there
/app" "$(jget "$st" '$.output.stdout' | sed '/^$/d')" "docker environment: stdout"
assert_eq "err" "$(jget "$st" '$.output.stderr' | tr -d '\n')" "docker environment: stderr"
mt_call submit_job "$(mt_job d2 vbrain "{\"environment\":{\"docker\":{\"image\":\"$IMG\"}},\"command\":\"sh -c 'echo out; exit 5'\"}")" >/dev/null
st=$(mt_final d2 10)
assert_eq failed "$(jget "$st" '$.status')" "docker environment, exit 5: $st"
assert_eq out "$(jget "$st" '$.output.stdout' | tr -d '\n')" "docker environment, exit 5: its stdout"

log "workers inside the image: start --container (bwrap)"
mtslurm stop >/dev/null
# the image gets the host's libraries for the worker through --volume; the
# run dir, the worker's directory and /tmp are bound by start itself (mount
# points in the read-only image made here)
mkdir -p "$IMG/lib" "$IMG/lib64" "$IMG$MTSLURM_RUN_DIR" "$IMG$MTS_BUILD"
mtslurm -n 2 --local start --container "$IMG" --runtime bwrap --volume /usr:/usr --volume /lib:/lib \
	--volume /lib64:/lib64 >/dev/null
in_bwrap=$(procs "bwrap --ro-bind $IMG / .*mtslurm-worker --run-dir $MTSLURM_RUN_DIR" | wc -l)
[ "$in_bwrap" -ge 2 ] || fail "the workers do not run under bwrap: $(procs mtslurm-worker)"
ids=$(for i in 1 2 3 4; do mtslurm submit --exec 'cat /etc/mts-marker'; done)
mtslurm wait $ids --timeout 30 >/dev/null
for id in $ids; do
	assert_eq "only-in-image-$$" "$(field "$id" output)" "a plain job on a worker inside the image"
done

log "add-workers --container: the added workers run inside the image too"
mtslurm -n 1 add-workers --container "$IMG" --runtime bwrap --volume /usr:/usr --volume /lib:/lib \
	--volume /lib64:/lib64 >/dev/null
in_bwrap=$(procs "bwrap --ro-bind $IMG / .*mtslurm-worker --run-dir $MTSLURM_RUN_DIR" | wc -l)
[ "$in_bwrap" -ge 3 ] || fail "the added worker does not run under bwrap: $(procs mtslurm-worker)"
assert_eq 3 "$(jlen "$(mtslurm workers --json)" '$')" "workers after add-workers --container"
ids=$(for i in 1 2 3 4 5 6; do mtslurm submit --exec 'cat /etc/mts-marker'; done)
mtslurm wait $ids --timeout 30 >/dev/null
for id in $ids; do
	assert_eq "only-in-image-$$" "$(field "$id" output)" "a job after add-workers --container"
done
set +e
out=$(mtslurm -n 1 add-workers --container "$IMG" --runtime nosuch 2>&1); rc=$?
set -e
assert_eq 2 "$rc" "add-workers --runtime nosuch: exit 2"
assert_contains "$out" "unknown container runtime 'nosuch'" "add-workers --runtime nosuch: said"
assert_eq 3 "$(jlen "$(mtslurm workers --json)" '$')" "workers after a refused add-workers"
mtslurm stop >/dev/null
left() { [ -z "$(procs "bwrap --ro-bind $IMG")" ]; }
wait_for 10 left
set +e
out=$(mtslurm -n 1 start --backend slurm --container "$IMG" 2>&1); rc=$?
set -e
assert_eq 2 "$rc" "start --container in Slurm mode: exit 2"
assert_contains "$out" "with --local or --in-allocation" "start --container in Slurm mode: said"
mkdir -p "$T/slurmrun" && echo '{}' >"$T/slurmrun/slurm.json" # a cluster started through Slurm
set +e
out=$(MTSLURM_RUN_DIR=$T/slurmrun mtslurm -n 1 add-workers --container "$IMG" 2>&1); rc=$?
set -e
assert_eq 2 "$rc" "add-workers --container on a Slurm-mode cluster: exit 2"
assert_contains "$out" "for a cluster started with --local or --in-allocation" "add-workers --container in Slurm mode: said"

log ok
