# SPDX-License-Identifier: MIT
# Shared helpers for the numbered system scenarios (tests/sys/tNNNN-*.sh).
# Each scenario gets its own run directory under a fresh temp dir, drives the
# real binaries from $MTS_BUILD (default: build/), and on exit stops exactly
# the processes it started, by PID.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${MTS_BUILD:=$top/build}"
export PATH="$MTS_BUILD:$PATH"
T=$(mktemp -d /tmp/mts-sys.XXXXXX)
export MTSLURM_RUN_DIR=$T/run
export TOOLS=$MTS_BUILD/tests
started_pids=()

# alive PID: the process exists and is not a zombie (an init that does not
# reap leaves dead children as zombies, which kill -0 still finds).
alive() {
	[ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
	local st
	st=$(sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
	[ "$st" != Z ] && [ "$st" != X ]
}
log() { echo "[$(date +%T.%3N)] $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

assert_eq() { # expected actual what
	[ "$1" = "$2" ] || fail "$3: expected '$1', got '$2'"
}
assert_contains() { # haystack needle what
	case "$1" in *"$2"*) ;; *) fail "$3: '$2' not in: $1" ;; esac
}

# wait_for SECONDS CMD...: run CMD every 0.1 s until it succeeds; fail after SECONDS.
wait_for() {
	local limit=$1; shift
	local end=$(($(date +%s%N) + limit * 1000000000))
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s%N)" -lt "$end" ] || fail "timed out after ${limit}s waiting for: $*"
		sleep 0.1
	done
}

# Job processes (t0155, t0158):
gone_within() { # SECONDS PID...: every PID dead (or a zombie) within SECONDS
	local limit=$1 p
	shift
	for p in "$@"; do
		for _ in $(seq 1 $((limit * 10))); do alive "$p" || break; sleep 0.1; done
		alive "$p" && { ps -o pid,ppid,pgid,sid,stat,args -p "$p" >&2; return 1; }
	done
	return 0
}
pids_in_log() { # ID N: wait until the job's log shows N numbers, print them
	local out
	for _ in $(seq 1 100); do
		out=$(mtslurm logs "$1" 2>/dev/null | grep -E '^[0-9]+$' || true)
		[ "$(echo "$out" | grep -c .)" -ge "$2" ] && { echo "$out"; return 0; }
		sleep 0.1
	done
	fail "job $1 did not print $2 pids: $(mtslurm logs "$1" 2>&1)"
}

# json_get FILE KEY: a top-level number or string from a small JSON file.
json_get() { sed -n "s/.*\"$2\":\"\{0,1\}\([^,\"}]*\).*/\1/p" "$1" | head -n1; }

master_pid() { [ -f "$MTSLURM_RUN_DIR/master.json" ] && json_get "$MTSLURM_RUN_DIR/master.json" pid || true; }
mpirun_pid() { [ -f "$MTSLURM_RUN_DIR/launch.json" ] && json_get "$MTSLURM_RUN_DIR/launch.json" mpirun_pid || true; }

db() { sqlite3 -cmd '.timeout 5000' "$MTSLURM_RUN_DIR/state.db" "$@"; }

# Every process whose command line names our run directory (read-only ps).
our_procs() { ps -eo pid=,args= | grep -F -- "$MTSLURM_RUN_DIR" | grep -v -e grep -e "ps -eo" || true; }

cleanup() {
	local rc=$?
	set +e
	local mp=$(master_pid) rp=$(mpirun_pid)
	timeout 20 mtslurm stop --timeout 10 >/dev/null 2>&1
	for p in $mp $rp "${started_pids[@]}"; do
		alive "$p" && kill -9 "$p" 2>/dev/null
	done
	# Anything else still naming our run dir was started by this test.
	for p in $(our_procs | awk '{print $1}'); do kill -9 "$p" 2>/dev/null; done
	# Sanitizer reports from the daemons (ASan build) fail the scenario.
	if [ -d "$MTSLURM_RUN_DIR/logs" ] && grep -l -E "ERROR: (Address|Leak)Sanitizer|runtime error:" \
		"$MTSLURM_RUN_DIR"/logs/*.out >/dev/null 2>&1; then
		echo "FAIL: a sanitizer report in the daemons' output:"
		grep -h -A20 -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$MTSLURM_RUN_DIR"/logs/*.out | head -n 60
		[ $rc -eq 0 ] && rc=1
	fi
	# A killed mpirun leaves its session directory behind.
	[ -n "$rp" ] && rm -rf /tmp/ompi.*/pid."$rp" 2>/dev/null
	if [ $rc -ne 0 ] && [ -d "$MTSLURM_RUN_DIR/logs" ]; then
		echo "--- logs of the failed scenario ---"
		tail -n 15 "$MTSLURM_RUN_DIR"/logs/*.log "$MTSLURM_RUN_DIR"/logs/*.out 2>/dev/null
	fi
	rm -rf "$T"
	exit $rc
}
trap cleanup EXIT

# jsql SQL: run SQL in an in-memory SQLite where readfile('/dev/stdin') is
# what came in on stdin (SQLite cannot read a pipe itself).
jsql() {
	local f
	f=$(mktemp "$T/j.XXXXXX")
	cat > "$f"
	sqlite3 :memory: "${1//\/dev\/stdin/$f}"
	rm -f "$f"
}

# jget JSON PATH: a value out of JSON text with SQLite's json_extract
# (sqlite3 is a test dependency anyway), e.g. jget "$out" '$.jobs.completed'.
jget() { printf '%s' "$1" | jsql "select json_extract(readfile('/dev/stdin'), '$2');"; }
# jlen JSON PATH: length of the array at PATH.
jlen() { printf '%s' "$1" | jsql "select json_array_length(readfile('/dev/stdin'), '$2');"; }

# slurm_up: use the local test Slurm cluster (tests/slurm/cluster.sh),
# starting it if it is not up; the master binds loopback.
slurm_up() {
	export MTSLURM_SLURM_DIR=${MTSLURM_SLURM_DIR:-/tmp/mtslurm-slurm}
	export SLURM_CONF=$MTSLURM_SLURM_DIR/slurm.conf
	export MTSLURM_MASTER_HOST=127.0.0.1
	bash "$top/tests/slurm/cluster.sh" up "$MTSLURM_SLURM_DIR" >/dev/null
}
# slurm_state ID: Slurm's state of a job (PENDING, RUNNING, COMPLETED, ...;
# "" once Slurm forgot it).
slurm_state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'; }
# assert_slurm_jobs_ended ID...: after stop, each job ended (COMPLETED or
# CANCELLED, or already forgotten) and is out of squeue.
assert_slurm_jobs_ended() {
	local id st
	for id in "$@"; do
		st=$(slurm_state "$id")
		case "$st" in COMPLETED | CANCELLED | "") ;; *) fail "Slurm job $id still $st after stop" ;; esac
		[ -z "$(squeue -h -j "$id" 2>/dev/null)" ] || fail "Slurm job $id still in squeue"
	done
}
# slurm_ours: our Slurm jobs still in squeue (the ids in slurm.json).
slurm_jobs_of_run() { [ -f "$MTSLURM_RUN_DIR/slurm.json" ] && grep -o '"id":[0-9]*\|"master_job":[0-9]*' \
	"$MTSLURM_RUN_DIR/slurm.json" | grep -o '[0-9]*$' || true; }

# pbs_jobs_of_run: the PBS job ids in pbs.json (master first), as start --backend pbs recorded them.
pbs_jobs_of_run() { [ -f "$MTSLURM_RUN_DIR/pbs.json" ] && grep -o '"id":"*[0-9][^,}"]*\|"master_job":"*[0-9][^,}"]*' \
	"$MTSLURM_RUN_DIR/pbs.json" | sed 's/.*:"*//' || true; }
# pbs_state ID: qstat's job_state letter (Q, R, C, ...; "" once forgotten).
pbs_state() { qstat -f "$1" 2>/dev/null | sed -n 's/^[[:space:]]*job_state = \([A-Z]\).*/\1/p'; }

# ---- mindtrace's HTTP API on this test's master (its token and URL read
# from the run directory on each call, so they follow a restart) ----
# mt_http PATH JSON: POST it; prints "CODE BODY".
mt_http() {
	local body tok url
	tok=$(cat "$MTSLURM_RUN_DIR/token") url=$(json_get "$MTSLURM_RUN_DIR/master.json" http)
	body=$(curl -sS -m 70 -o - -w '\n%{http_code}' -H "Authorization: Bearer $tok" \
		-H 'Content-Type: application/json' -X POST "$url/$1" -d "$2") || fail "POST $1: curl failed"
	printf '%s %s' "${body##*$'\n'}" "${body%$'\n'*}"
}
# mt_call PATH JSON: the body of a 200 answer (anything else fails the test).
mt_call() {
	local r
	r=$(mt_http "$1" "$2")
	[ "${r%% *}" = 200 ] || fail "POST /$1 $2: HTTP $r"
	printf '%s' "${r#* }"
}
# mt_job ID TYPE PAYLOAD: a mindtrace Job as its client sends it.
mt_job() {
	printf '{"id":"%s","name":"%s","schema_name":"%s","payload":%s,"status":"queued","created_at":"2026-05-29T12:00:00.123456","started_at":null,"completed_at":null,"error":null,"entrypoint":null,"priority":null}' \
		"$1" "$2" "$2" "$3"
}
# mt_final ID [SECONDS]: poll get_job_status every 20 ms until the job is
# final (at most SECONDS, default 60); its JobStatus.
mt_final() {
	local st
	for _ in $(seq 1 $((${2:-60} * 50))); do
		st=$(mt_call get_job_status "{\"job_id\":\"$1\"}")
		case "$(jget "$st" '$.status')" in completed | failed | error) printf '%s\n' "$st"; return 0 ;; esac
		sleep 0.02
	done
	fail "job $1 not final within ${2:-60} s: $st"
}
