#!/usr/bin/env bash
# git checkouts, resolved and bounded (docs/user-guide.md, "Environments:
# git"): a branch named only by branch -- through the C API (one job and a
# job array, tests/tools/git_client.c) and in a run-script payload over
# HTTP (mindtrace's submit_job) -- is resolved by the master at submit, so
# a job held until after the branch moved still runs the commit of submit
# time; a branch that does not exist or a repository that cannot be
# reached is refused at submit with libgit2's reason (C API and HTTP 422);
# --timeout covers the wait for the checkout and its setup command as well
# as the run (exec and run-script); a setup command past MTSLURM_GIT_SETUP_TIMEOUT is killed with
# its process group, fails the jobs waiting for it with the reason, leaves
# no lock, and the next job makes the checkout cleanly. A connection's
# frames after a held submit are handled after it.
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/gitlib.sh"
push_version() { # N: process.sh says vN, committed and pushed to the bare repository
	sed -i "s/v[0-9]/v$1/" "$G/scripts/process.sh"
	git -C "$G" commit -qam "v$1"
	git -C "$G" push -q "$T/repo.git" main
}
out_of() { db "select rtrim(output,char(10)) from jobs where id=$1"; }

export MTSLURM_GIT_SETUP_TIMEOUT=4 # the workers' bound for a setup command
mtslurm -n 2 --local start
R=$MTSLURM_RUN_DIR/git

# ---- the C API: a branch only, resolved at submit; the branch then moves ----
hold=$(mtslurm submit --exec 'sleep 2')
one=$("$TOOLS/git_client" --url "$url" --branch main --workdir scripts --after "$hold" ./process.sh)
read -r afirst an < <("$TOOLS/git_client" --url "$url" --branch main --workdir scripts --after "$hold" \
	--array 1-3 './process.sh {}')
assert_eq 3 "$an" "members of the C API's array"
assert_eq queued "$(db "select case state when 0 then 'queued' else state end from jobs where id=$one")" \
	"the C API's job waits for its holder"
assert_contains "$(db "select opts from jobs where id=$one")" "\"commit\":\"$c1\"" "the C API job's recorded commit"
push_version 2 # the branch moves while they wait
mtslurm wait "$hold" "$one" $(seq "$afirst" $((afirst + 2))) --timeout 60 >/dev/null ||
	fail "the C API's git jobs failed: $(mtslurm jobs "$one")"
assert_eq "v1 one" "$(out_of "$one")" "the C API job ran the commit of submit time"
assert_eq 3 "$(db "select count(*) from jobs where id between $afirst and $((afirst + 2)) and
	rtrim(output,char(10))='v1 one'")" "the array's members ran the commit of submit time"
assert_contains "$(grep 'resolved at submit' "$MTSLURM_RUN_DIR/logs/master.log" || true)" "$c1" "the master's log"
c2=$(git -C "$T/repo.git" rev-parse main)

# several held at once (at most 2 listings on the pool, the rest queue): every one answered
for i in 1 2 3 4 5 6; do
	"$TOOLS/git_client" --url "$url" --branch main --workdir scripts ./process.sh >"$T/par.$i" 2>&1 &
	par_pids[$i]=$!
done
for i in 1 2 3 4 5 6; do
	wait "${par_pids[$i]}" || fail "parallel C API submit $i: $(cat "$T/par.$i")"
	assert_contains "$(db "select opts from jobs where id=$(cat "$T/par.$i")")" "\"commit\":\"$c2\"" "parallel submit $i's commit"
done

# ---- the C API: a branch that does not exist, a repository that cannot be reached ----
set +e
out=$("$TOOLS/git_client" --url "$url" --branch no-such-branch ./process.sh 2>&1); rc=$?
set -e
assert_eq 3 "$rc" "the C API's submit of a bad branch is refused"
assert_contains "$out" "branch 'no-such-branch' not found in repository $url" "a bad branch's reason (C API)"
set +e
out=$("$TOOLS/git_client" --url "file://$T/nowhere.git" --branch main true 2>&1); rc=$?
set -e
assert_eq 3 "$rc" "the C API's submit of an unreachable repository is refused"
assert_contains "$out" "cannot reach repository file://$T/nowhere.git" "an unreachable repository's reason (C API)"

# ---- order: frames after a held submit are handled after it ----
# one connection sends a submit naming a branch (held while it resolves),
# then a plain submit and a status: the answers come in the order sent,
# and the held submit's job got the lower id
out=$("$TOOLS/wire_peer" --ms 3000 "$MTSLURM_RUN_DIR" '{"t":"hello","client":"00112233445566778899aabbccddeeff"}' \
	"{\"t\":\"submit\",\"req\":1,\"jobs\":[{\"type\":\"exec\",\"input\":\"true\",\"git\":{\"url\":\"$url\",\"branch\":\"main\"}}]}" \
	'{"t":"submit","req":2,"jobs":[{"type":"echo","input":"after"}]}' '{"t":"status","req":3}')
reqs=$(echo "$out" | grep -o '"req":[0-9]*' | tr -d '"req:' | tr '\n' ' ')
assert_eq "1 2 3 " "$reqs" "answers in the order of the requests ($out)"
f1=$(echo "$out" | grep '"req":1' | grep -o '"first":[0-9]*' | cut -d: -f2)
f2=$(echo "$out" | grep '"req":2' | grep -o '"first":[0-9]*' | cut -d: -f2)
[ -n "$f1" ] && [ -n "$f2" ] && [ "$f1" -lt "$f2" ] || fail "the held submit was admitted after a later one: $out"
assert_contains "$(db "select opts from jobs where id=$f1")" "\"commit\":\"$c2\"" "the wire submit's resolved commit"

# ---- run-script over HTTP: a branch only, the worker busy, the branch moves ----
assert_eq null "$(mt_call register_worker_type \
	'{"worker_name":"rs","worker_class":"RunScriptWorker","worker_params":{},"job_type":"script"}')" "register RunScriptWorker"
mtslurm-worker --no-mpi --slots 1 --run-dir "$MTSLURM_RUN_DIR" --worker-type rs --http 127.0.0.1:0 --id tw-rs \
	>"$MTSLURM_RUN_DIR/logs/tw-rs.out" 2>&1 &
rs_pid=$!
started_pids+=($rs_pid)
wait_for 20 sh -c "mtslurm workers --json | grep -q tw-rs"
mt_call submit_job "$(mt_job rs-busy script "{\"environment\":{\"local\":{}},\"command\":\"sleep 2\"}")" >/dev/null
mt_call submit_job "$(mt_job rs-1 script "{\"environment\":{\"git\":{\"repo_url\":\"$url\",\"branch\":\"main\",\"working_dir\":\"scripts\"}},\"command\":\"./process.sh\"}")" >/dev/null
assert_contains "$(db "select input from jobs where id=(select id from jobmeta where ext='rs-1')")" \
	"\"commit\":\"$c2\"" "run-script over HTTP: the branch's commit recorded at submit"
push_version 3 # the branch moves while rs-1 waits for the busy worker
s=$(mt_final rs-1)
assert_eq completed "$(jget "$s" '$.status')" "run-script git by branch: $s"
assert_eq "v2 one" "$(jget "$s" '$.output.stdout' | tr -d '\n')" "run-script over HTTP ran the commit of submit time"
# a typed job's input on the wire (POST /api/v1/jobs): resolved too
r=$(mt_http api/v1/jobs "{\"jobtype\":\"script\",\"input\":{\"environment\":{\"git\":{\"repo_url\":\"$url\",\"branch\":\"main\",\"working_dir\":\"scripts\"}},\"command\":\"./process.sh\"}}")
assert_eq 200 "${r%% *}" "a typed job with a git branch over /api/v1/jobs ($r)"
c3=$(git -C "$T/repo.git" rev-parse main)
assert_contains "$(db "select input from jobs order by id desc limit 1")" "\"commit\":\"$c3\"" \
	"a typed job's input (the newest job): the branch's commit"
r=$(mt_http submit_job "$(mt_job rs-bad script "{\"environment\":{\"git\":{\"repo_url\":\"$url\",\"branch\":\"nope\"}},\"command\":\"true\"}")")
assert_eq 422 "${r%% *}" "run-script over HTTP with a bad branch: refused ($r)"
assert_contains "$r" "branch 'nope' not found in repository $url" "run-script over HTTP: a bad branch's reason"
r=$(mt_http get_job_status '{"job_id":"rs-bad"}')
assert_eq 404 "${r%% *}" "the refused run-script job was not stored ($r)"
# run-script: the job type's timeout covers the wait for the checkout's setup too
mt_call api/v1/call '{"t":"type_add","name":"script1s","worker_type":"rs","timeout":1}' >/dev/null
mt_call submit_job "$(printf '{"id":"rs-slow","name":"s","schema_name":"script1s","payload":{"environment":{"git":{"repo_url":"%s","commit":"%s","setup":"sleep 2.6"}},"command":"true"},"status":"queued","created_at":"2026-05-29T12:00:00.123456","started_at":null,"completed_at":null,"error":null,"entrypoint":null,"priority":null}' "$url" "$c1")" >/dev/null
s=$(mt_final rs-slow)
assert_eq failed "$(jget "$s" '$.status')" "run-script whose setup outlasts its timeout: $s"
assert_contains "$(db "select error from jobs where id=(select id from jobmeta where ext='rs-slow')")" \
	"timed out after 1 s waiting for its git checkout" "run-script: the timeout's reason"
kill "$rs_pid" && wait "$rs_pid" 2>/dev/null || true

# ---- --timeout covers the checkout's setup command and the run ----
slow=$(mtslurm submit --git "$url" --commit "$c1" --git-setup 'sleep 2.5' --timeout 1 --exec true)
set +e; mtslurm wait "$slow" --timeout 60 >/dev/null; set -e
assert_contains "$(db "select state || ' ' || error from jobs where id=$slow")" \
	"3 timed out after 1 s waiting for its git checkout" "a setup longer than the job's --timeout"
# a setup of 1.5 s and a run of 2 s do not fit a --timeout of 3 s (the run's deadline counts the wait)
both=$(mtslurm submit --git "$url" --commit "$c1" --git-setup 'sleep 1.5' --timeout 3 --exec 'sleep 2')
set +e; mtslurm wait "$both" --timeout 60 >/dev/null; set -e
assert_contains "$(db "select state || ' ' || error from jobs where id=$both")" "3 timed out after 3 s" \
	"checkout wait + run longer than --timeout"

# ---- a setup command past its bound: killed with its group, the jobs fail, the next job retries ----
touch "$T/slow"
setup="if [ -e $T/slow ]; then echo \$\$ > $T/sh.pid; sleep 60 & echo \$! > $T/bg.pid; echo fetching deps; wait; fi"
ids=$(printf 'cat data.txt\ncat data.txt\n' | mtslurm submit --git "$url" --commit "$c1" --workdir scripts \
	--git-setup "$setup" --exec --stdin)
set +e; mtslurm wait $ids --timeout 60 >/dev/null; set -e
for id in $ids; do
	e=$(db "select state || ' ' || error from jobs where id=$id")
	assert_contains "$e" "3 git: the setup command" "job $id of a setup past its bound"
	assert_contains "$e" "ran longer than its bound of 4 s (MTSLURM_GIT_SETUP_TIMEOUT) and was killed" "job $id: the reason"
	assert_contains "$e" "fetching deps" "job $id: the setup's output"
done
gone_within 5 "$(cat "$T/sh.pid")" "$(cat "$T/bg.pid")" || fail "the killed setup left processes running"
assert_eq 0 "$(find "$R/trees" -name '*.lock' | wc -l)" "locks left by the killed setup"
rm -f "$T/slow" # the same checkout again: its setup now quick
again=$(mtslurm submit --git "$url" --commit "$c1" --workdir scripts --git-setup "$setup" --exec 'cat data.txt')
mtslurm wait "$again" --timeout 60 >/dev/null || fail "the retry after a killed setup failed: $(db "select error from jobs where id=$again")"
assert_eq one "$(out_of "$again")" "the retry after a killed setup"
log ok
