#!/usr/bin/env bash
# Jobs run as submitted (issue 9, item 4): an exec job sees the submitting
# shell's environment and working directory (CLI, and the C API with cwd
# NULL), --export NONE / a NAME list / --cwd change that, every job gets
# MTSLURM_JOB_ID, MTSLURM_ATTEMPT, MTSLURM_WORKER and MTSLURM_RUN_DIR, and
# nothing mtslurm or an MPI launcher set for its own processes reaches a job
# (start's OMPI_MCA_btl..., mpirun's PMIX_*/OMPI_COMM_WORLD_* -- of the
# workers, and of a submitter that is itself an MPI rank), while a user's own
# OMPI_MCA_* does. A user MPI program (mpirun -n 2) works as an exec job.
# The store holds one environment row for the many jobs of one submit, and
# a v4 store is upgraded in place to the current schema (9).
. "$(dirname "$0")/lib.sh"

MPIRUN=(mpirun --oversubscribe --allow-run-as-root)
mtslurm -n 2 --local start
rd=$(cd "$MTSLURM_RUN_DIR" && pwd -P)

# The workers really carry what the test says must not leak: start's
# OMPI_MCA_btl and mpirun's PMIX_* (else the checks below prove nothing).
wpid=$(mtslurm workers --json | jsql "select json_extract(value,'\$.pid') from json_each(readfile('/dev/stdin'),'\$.workers') limit 1")
[ -n "$wpid" ] || wpid=$(mtslurm workers --json | jsql "select json_extract(value,'\$.pid') from json_each(readfile('/dev/stdin')) limit 1")
wenv=$(tr '\0' '\n' < "/proc/$wpid/environ")
assert_contains "$wenv" "OMPI_MCA_btl=" "the worker's environment (start's MPI settings)"
assert_contains "$wenv" "PMIX_" "the worker's environment (its launcher's variables)"

# logs_of ID: the job's stdout.
logs_of() { mtslurm logs "$1" --stream out; }
has() { grep -qx -- "$2" <<<"$1" || fail "$3: no line '$2' in the job's environment"; }
hasnt() { ! grep -q -E -- "$2" <<<"$1" || fail "$3: $(grep -E -- "$2" <<<"$1" | head -n 3 | tr '\n' ' ')"; }

mkdir -p "$T/sub/deeper" "$T/other" "$T/capi"
cd "$T/sub"
export MTS_T_VAR="from the shell" OTHER_T_VAR=other OMPI_MCA_btl_tcp_if_include=lo
# what a submitter that is an MPI rank has; never exported
export OMPI_COMM_WORLD_RANK=3 PMIX_NAMESPACE=fake-ns OMPI_MCA_ess_base_jobid=77 PRTE_FAKE=1

log "default (--export ALL): the shell's environment and directory"
a=$(mtslurm submit --exec 'sh -c "env; echo cwd=\$(pwd)"')
mtslurm wait "$a" --timeout 30 >/dev/null
out=$(logs_of "$a")
has "$out" "MTS_T_VAR=from the shell" "default export"
has "$out" "OTHER_T_VAR=other" "default export"
has "$out" "cwd=$T/sub" "the submitter's working directory"
has "$out" "PWD=$T/sub" "PWD"
has "$out" "MTSLURM_JOB_ID=$a" "MTSLURM_JOB_ID is the id submit printed"
has "$out" "MTSLURM_ATTEMPT=1" "MTSLURM_ATTEMPT"
has "$out" "MTSLURM_RUN_DIR=$rd" "MTSLURM_RUN_DIR"
w=$(mtslurm jobs "$a" --json | jsql "select json_extract(value,'\$.worker') from json_each(readfile('/dev/stdin'))")
has "$out" "MTSLURM_WORKER=$w" "MTSLURM_WORKER is the worker jobs shows"
has "$out" "OMPI_MCA_btl_tcp_if_include=lo" "a user's own OMPI_MCA_* passes through"
hasnt "$out" "^OMPI_MCA_(btl|oob_tcp_if_include|orte_|mpi_warn_on_fork)=" "start's OMPI_MCA_* reached the job"
hasnt "$out" "^(PMIX_|PRTE_|OMPI_COMM_WORLD_|OMPI_MCA_ess)" "launcher variables reached the job"

log "function jobs: MTSLURM_* of their job in the long-lived function host"
# four calls on two workers: hosts serve more than one job
fs=$(printf '{}\n{}\n{}\n{}\n' | mtslurm submit --func "$TOOLS/libsweep.so:jobenv" --stdin)
mtslurm wait $fs --timeout 30 >/dev/null
for f in $fs; do
	js=$(mtslurm jobs "$f" --json | jsql "select json_extract(value,'\$.output') from json_each(readfile('/dev/stdin'))")
	assert_eq "$f" "$(jget "$js" '$.job')" "func: MTSLURM_JOB_ID"
	assert_eq 1 "$(jget "$js" '$.attempt')" "func: MTSLURM_ATTEMPT"
	assert_eq "$rd" "$(jget "$js" '$.run_dir')" "func: MTSLURM_RUN_DIR"
	fw=$(mtslurm jobs "$f" --json | jsql "select json_extract(value,'\$.worker') from json_each(readfile('/dev/stdin'))")
	assert_eq "$fw" "$(jget "$js" '$.worker')" "func: MTSLURM_WORKER"
done

log "--export NONE, --export NAME list, --cwd"
b=$(mtslurm submit --export NONE --exec 'env')
c=$(mtslurm submit --export MTS_T_VAR,GIVEN=value,UNSET_T_VAR --cwd ../other --exec 'sh -c "env; echo cwd=\$(pwd)"')
d=$(mtslurm submit --export ALL,GIVEN=value --cwd "$T/sub/deeper" --env MTS_T_VAR=overridden --env MTSLURM_JOB_ID=0 --exec 'sh -c "env; echo cwd=\$(pwd)"')
mtslurm wait "$b" "$c" "$d" --timeout 30 >/dev/null
out=$(logs_of "$b")
has "$out" "PATH=/usr/local/bin:/usr/bin:/bin" "NONE: PATH"
has "$out" "HOME=$(getent passwd "$(id -un)" | cut -d: -f6)" "NONE: HOME"
has "$out" "USER=$(id -un)" "NONE: USER"
has "$out" "LOGNAME=$(id -un)" "NONE: LOGNAME"
has "$out" "MTSLURM_JOB_ID=$b" "NONE: MTSLURM_JOB_ID"
hasnt "$out" "^(MTS_T_VAR|OTHER_T_VAR|OMPI_MCA_)" "NONE exported a variable of the shell"
n=$(grep -c -v -E '^(PATH|HOME|USER|LOGNAME|SHELL|PWD|MTSLURM_(JOB_ID|ATTEMPT|WORKER|RUN_DIR))=' <<<"$out" || true)
assert_eq 0 "$n" "NONE: variables beyond the minimal set"
out=$(logs_of "$c")
has "$out" "MTS_T_VAR=from the shell" "NAME list: NAME from the shell"
has "$out" "GIVEN=value" "NAME list: NAME=VALUE"
has "$out" "PATH=/usr/local/bin:/usr/bin:/bin" "NAME list: the minimal base"
has "$out" "cwd=$T/other" "--cwd relative to the submitting shell"
hasnt "$out" "^(OTHER_T_VAR|UNSET_T_VAR)=" "NAME list exported a variable not named"
out=$(logs_of "$d")
has "$out" "MTS_T_VAR=overridden" "--env wins over --export"
has "$out" "GIVEN=value" "ALL,NAME=VALUE"
has "$out" "OTHER_T_VAR=other" "ALL,NAME=VALUE keeps the rest"
has "$out" "cwd=$T/sub/deeper" "--cwd absolute"
has "$out" "MTSLURM_JOB_ID=$d" "MTSLURM_JOB_ID cannot be overridden by --env"
hasnt "$out" "^MTSLURM_JOB_ID=0" "--env MTSLURM_JOB_ID"
set +e
err=$(mtslurm submit --export 'ALL,=x' --exec true 2>&1); rc=$?
set -e
[ $rc -ne 0 ] || fail "--export with an empty name was accepted"
assert_contains "$err" '"=x" is not NAME or NAME=VALUE' "bad --export says what is wrong"

log "C API: cwd NULL is the caller's directory, export_env NULL is ALL"
cd "$T/capi"
out=$("$TOOLS/env_submit" 'sh -c "echo cwd=\$(pwd); echo X=\$MTS_T_VAR"')
has "$out" "cwd=$T/capi" "C API cwd NULL"
has "$out" "X=from the shell" "C API export_env NULL"
out=$("$TOOLS/env_submit" --export NONE 'sh -c "echo X=\$MTS_T_VAR"')
has "$out" "X=" "C API export_env NONE"

log "a submitter that is an MPI rank: its launcher's variables stay behind"
unset OMPI_COMM_WORLD_RANK PMIX_NAMESPACE OMPI_MCA_ess_base_jobid PRTE_FAKE
out=$("${MPIRUN[@]}" -n 1 "$TOOLS/env_submit" env)
hasnt "$out" "^(PMIX_|PRTE_|OMPI_COMM_WORLD_|OMPI_MCA_ess|OMPI_MCA_orte_|OMPI_MCA_pmix|OMPI_FILE_LOCATION|OMPI_UNIVERSE_SIZE|OMPI_APP_CTX_|OMPI_NUM_APP_CTX|OMPI_FIRST_RANKS|OMPI_ARGV|OMPI_COMMAND)" \
	"the submitting rank's launcher variables reached the job"
has "$out" "MTS_T_VAR=from the shell" "an MPI-rank submitter still exports the rest"
out=$("${MPIRUN[@]}" -n 1 "$TOOLS/env_submit" "${MPIRUN[*]} -n 2 $TOOLS/mpi_hello")
assert_contains "$out" "rank 0 of 2" "mpirun in a job submitted by an MPI rank: rank 0"
assert_contains "$out" "rank 1 of 2" "mpirun in a job submitted by an MPI rank: rank 1"

log "a user MPI program as an exec job"
cd "$T/sub"
m=$(mtslurm submit --exec "${MPIRUN[*]} -n 2 $TOOLS/mpi_hello")
mtslurm wait "$m" --timeout 60 >/dev/null || { mtslurm jobs "$m"; fail "the MPI job failed"; }
out=$(logs_of "$m")
assert_contains "$out" "rank 0 of 2" "MPI job rank 0"
assert_contains "$out" "rank 1 of 2" "MPI job rank 1"

log "one environment row for the many jobs of one submit"
ids=$(seq 1 200 | sed 's/^/echo /' | mtslurm submit --exec --stdin)
first=$(head -n1 <<<"$ids"); last=$(tail -n1 <<<"$ids")
mtslurm wait $ids --timeout 60 >/dev/null
assert_eq 1 "$(db "select count(distinct envid) from jobs where id between $first and $last")" "snapshots of one submit"
assert_eq 0 "$(db "select count(*) from jobs where id between $first and $last and envid is null")" "jobs without a snapshot"
# the same shell, another submit: the same row
e=$(mtslurm submit --exec true)
mtslurm wait "$e" --timeout 30 >/dev/null
assert_eq "$(db "select envid from jobs where id=$first")" "$(db "select envid from jobs where id=$e")" "a second submit from the same shell"
assert_eq 0 "$(db "select count(*) from (select key from envs group by key having count(*)>1)")" "an environment stored twice"
assert_eq 9 "$(db "select value from meta where key='schema_version'")" "schema version"
echo_env=$(db "select count(*) from jobs where type='echo' and envid is not null")
assert_eq 0 "$echo_env" "echo jobs with a snapshot"

log "forget removes a snapshot no job uses and no client sent for a day"
g=$(mtslurm submit --export NONE,GC_T_VAR=1 --exec true)
mtslurm wait "$g" --timeout 30 >/dev/null
gid=$(db "select envid from jobs where id=$g")
[ -n "$gid" ] || fail "job $g has no snapshot"
db "update envs set t=t-2*86400 where id=$gid"
mtslurm wait "$(mtslurm submit --echo newest)" --timeout 30 >/dev/null # forget keeps the newest row
mtslurm forget "$g" >/dev/null
assert_eq 0 "$(db "select count(*) from envs where id=$gid")" "the unused old snapshot after forget"
assert_eq 1 "$(db "select count(*) from envs where id=(select envid from jobs where id=$e)")" "a snapshot in use after forget"

log "the protocol: a snapshot must match its key; a job must name a known one"
H='"t":"hello","client":"envpeer"'
good=$(printf 'none\0A=1\0' | sha256sum | cut -d' ' -f1)
out=$("$TOOLS/wire_peer" --ms 1500 "$MTSLURM_RUN_DIR" "{$H}" \
	"{\"t\":\"env\",\"key\":\"$good\",\"base\":\"none\",\"vars\":[\"A=2\"]}" \
	"{\"t\":\"submit\",\"req\":1,\"jobs\":[{\"type\":\"exec\",\"input\":\"env\",\"envk\":\"$good\"}]}" \
	"{\"t\":\"env\",\"key\":\"$good\",\"base\":\"none\",\"vars\":[\"A=1\"]}" \
	"{\"t\":\"submit\",\"req\":2,\"jobs\":[{\"type\":\"exec\",\"input\":\"env\",\"envk\":\"$good\"}]}" \
	"{\"t\":\"env\",\"key\":\"xyz\",\"base\":\"all\",\"vars\":[]}" \
	"{\"t\":\"env\",\"key\":\"$good\",\"base\":\"some\",\"vars\":[]}" \
	"{\"t\":\"env\",\"key\":\"$good\",\"base\":\"none\",\"vars\":[\"noequals\"]}")
assert_contains "$out" 'env: \"key\" is not the SHA-256 of the snapshot' "a snapshot whose key does not match"
assert_contains "$out" 'job 0: unknown environment' "a job naming a refused snapshot"
assert_contains "$out" '"t":"submitted","req":2' "a job naming a good snapshot"
assert_contains "$out" '64 lowercase hex digits' "a malformed key"
assert_contains "$out" '\"base\" must be \"all\" or \"none\"' "a bad base"
assert_contains "$out" 'must be an array of \"K=V\" strings' "a variable without ="
pid=$(sed -n 's/.*"t":"submitted","req":2,"first":\([0-9]*\).*/\1/p' <<<"$out")
[ -n "$pid" ] || fail "no id for the wire job: $out"
mtslurm wait "$pid" --timeout 30 >/dev/null
out=$(logs_of "$pid")
has "$out" "A=1" "the snapshot a raw client sent"
has "$out" "PATH=/usr/local/bin:/usr/bin:/bin" "a none snapshot from a raw client"
hasnt "$out" "^(MTS_T_VAR|OMPI_MCA_)" "a none snapshot from a raw client"

log "a queued job keeps its environment across a restart of the master"
q=$(mtslurm submit --after "$(mtslurm submit --exec 'sleep 2')" --exec 'sh -c "echo X=\$MTS_T_VAR; pwd"')
mtslurm stop >/dev/null
# the sleep was running on a worker that is gone: requeue it soon
MTSLURM_MASTER_ARGS="--orphan-grace-ms 500" mtslurm -n 2 --local start >/dev/null
mtslurm wait "$q" --timeout 60 >/dev/null || { mtslurm jobs "$q"; fail "the queued job failed after the restart"; }
out=$(logs_of "$q")
has "$out" "X=from the shell" "the environment after a restart"
has "$out" "$T/sub" "the working directory after a restart"

log "a v4 store is upgraded in place to the current schema (9)"
mtslurm stop >/dev/null
# what a v4 store lacks: jobs.opts, jobs.envid and envs (v5-v7), and the
# client keys of v9 (each row's client back in jobs.client)
db "update jobs set client=(select name from clients where id=ckey) where ckey is not null;
alter table jobs drop column ckey; drop table clients;
alter table jobs drop column opts; drop index jobs_env; alter table jobs drop column envid; drop table envs; update meta set value='4' where key='schema_version'"
mtslurm -n 2 --local start >/dev/null
assert_eq 9 "$(db "select value from meta where key='schema_version'")" "schema after the upgrade"
assert_eq 1 "$(db "select count(*) from pragma_table_info('jobs') where name='envid'")" "jobs.envid after the upgrade"
assert_eq 1 "$(db "select count(*) from pragma_table_info('jobs') where name='ckey'")" "jobs.ckey after the upgrade"
u=$(mtslurm submit --exec 'sh -c "echo X=\$MTS_T_VAR"')
mtslurm wait "$u" --timeout 30 >/dev/null
has "$(logs_of "$u")" "X=from the shell" "a job after the upgrade"
assert_eq 1 "$(db "select count(*) from envs")" "environments after the upgrade"
log "ok"
