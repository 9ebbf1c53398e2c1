#!/usr/bin/env bash
# Jobs in git checkouts (docs/user-guide.md, "Environments: git"): 200 jobs
# of one repository and commit on 4 workers make exactly one clone and one
# checkout in RUN_DIR/git/ (counted, and the cache's log says so), and every
# job sees the commit's files; a second commit gets a second checkout from
# the same clone (a fetch, no new clone); a branch moved after submit does
# not change what the queued jobs run; the setup command runs once per
# checkout and its failure fails the jobs with its output; a bad URL and a
# bad branch are refused at submit with libgit2's reason; a URL that breaks
# after submit fails the job with libgit2's reason; `mtslurm git gc` frees
# the unused checkouts. The repositories are made here with the git CLI.
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/gitlib.sh"

mtslurm -n 4 --local start
R=$MTSLURM_RUN_DIR/git

# ---- 200 jobs, one commit: one clone, one checkout ----
ids=$(for i in $(seq 1 200); do echo "./process.sh"; done |
	mtslurm submit --git "$url" --branch main --workdir scripts --exec --stdin)
assert_eq 200 "$(echo "$ids" | grep -c .)" "ids printed"
mtslurm wait --all --timeout 120 >/dev/null || fail "the 200 jobs did not all complete: $(mtslurm status)"
assert_eq 200 "$(db "select count(*) from jobs where state=2")" "completed jobs"
assert_eq 200 "$(db "select count(*) from jobs where state=2 and rtrim(output,char(10))='v1 one'")" "jobs that saw the commit's files"
assert_eq 1 "$(ls -d "$R"/repos/*.git | wc -l)" "clones in RUN_DIR/git/repos"
assert_eq 1 "$(find "$R/trees" -mindepth 1 -maxdepth 1 -type d | wc -l)" "checkouts in RUN_DIR/git/trees"
assert_eq 1 "$(grep -c ' clone ' "$R/log")" "clones in the cache's log"
assert_eq 1 "$(grep -c ' checkout ' "$R/log")" "checkouts in the cache's log"
assert_eq 4 "$(db "select count(distinct worker) from jobs")" "workers that ran the jobs"
# the job records the commit the branch named at submit
assert_contains "$(db "select opts from jobs limit 1")" "\"commit\":\"$c1\"" "the job's git option"

# ---- a moving branch after submit: queued jobs keep their commit ----
# the first job holds the only slots' worth of time, so the rest queue
sed -i 's/v1/v2/' "$G/scripts/process.sh"
git -C "$G" commit -qam two
c2=$(git -C "$G" rev-parse HEAD)
hold=$(for i in 1 2 3 4; do echo "sleep 2"; done | mtslurm submit --exec --stdin)
queued=$(for i in $(seq 1 8); do echo "./process.sh"; done |
	mtslurm submit --git "$url" --branch main --workdir scripts --exec --stdin)
git -C "$G" push -q "$T/repo.git" main  # the branch moves to c2 while they wait
mtslurm wait $hold $queued --timeout 60 >/dev/null || fail "the queued jobs did not complete"
assert_eq 8 "$(db "select count(*) from jobs where id in ($(echo $queued | tr ' ' ,)) and rtrim(output,char(10))='v1 one'")" \
	"queued jobs ran the commit of submit time"

# ---- a second commit: a second checkout, from the same clone ----
two=$(mtslurm submit --git "$url" --branch main --workdir scripts --exec './process.sh')
mtslurm wait "$two" --timeout 60 >/dev/null || fail "the job on the second commit failed: $(mtslurm jobs $two)"
assert_eq "v2 one" "$(db "select rtrim(output,char(10)) from jobs where id=$two")" "the second commit's files"
assert_eq 2 "$(find "$R/trees" -mindepth 1 -maxdepth 1 -type d | wc -l)" "checkouts after a second commit"
assert_eq 1 "$(ls -d "$R"/repos/*.git | wc -l)" "clones after a second commit"
assert_eq 1 "$(grep -c ' fetch ' "$R/log")" "fetches for the second commit"
# --commit wins over --branch
old=$(mtslurm submit --git "$url" --branch main --commit "$c1" --workdir scripts --exec './process.sh')
mtslurm wait "$old" --timeout 60 >/dev/null || fail "the --commit job failed"
assert_eq "v1 one" "$(db "select rtrim(output,char(10)) from jobs where id=$old")" "--commit wins over --branch"

# ---- the setup command: once per checkout, under the lock ----
sids=$(for i in $(seq 1 12); do echo 'cat ../setup-ran'; done |
	mtslurm submit --git "$url" --commit "$c1" --workdir scripts --git-setup 'echo "$MTSLURM_GIT_COMMIT" >> setup-ran' --exec --stdin)
mtslurm wait $sids --timeout 60 >/dev/null || fail "the jobs with a setup command failed"
assert_eq 12 "$(db "select count(*) from jobs where id in ($(echo $sids | tr ' ' ,)) and rtrim(output,char(10))='$c1'")" \
	"jobs that saw one setup run"
bad_setup=$(mtslurm submit --git "$url" --commit "$c1" --git-setup 'echo resolving deps; echo no such package >&2; exit 7' --exec 'true')
set +e; mtslurm wait "$bad_setup" --timeout 60 >/dev/null; set -e
assert_eq failed "$(db "select case state when 3 then 'failed' else state end from jobs where id=$bad_setup")" "a failed setup's job"
err=$(db "select error from jobs where id=$bad_setup")
assert_contains "$err" "exit status 7" "a failed setup's reason"
assert_contains "$err" "no such package" "a failed setup's output"

# ---- bad input: refused at submit with libgit2's reason ----
set +e
out=$(mtslurm submit --git "file://$T/nowhere.git" --exec true 2>&1); rc=$?
set -e
assert_eq 2 "$rc" "exit status of a submit with a bad URL"
assert_contains "$out" "cannot reach repository file://$T/nowhere.git" "a bad URL's message"
assert_contains "$out" "nowhere.git" "libgit2's reason for a bad URL"
set +e
out=$(mtslurm submit --git "$url" --branch no-such-branch --exec true 2>&1); rc=$?
set -e
assert_eq 2 "$rc" "exit status of a submit with a bad branch"
assert_contains "$out" "branch 'no-such-branch' not found" "a bad branch's message"
set +e
out=$(mtslurm submit --git "$url" --commit 1234 --exec true 2>&1); rc=$?
set -e
assert_eq 2 "$rc" "exit status of a submit with a short commit"
assert_contains "$out" "40 hexadecimal digits" "a short commit's message"
# a repository that goes away between submit and run: the job fails with libgit2's reason
cp -r "$T/repo.git" "$T/gone.git"
c3=$(git -C "$T/gone.git" rev-parse main)
sed -i 's/v2/v3/' "$G/scripts/process.sh" && git -C "$G" commit -qam three && git -C "$G" push -q "$T/gone.git" main
c3=$(git -C "$T/gone.git" rev-parse main)
hold=$(mtslurm submit --exec 'sleep 1')
gone=$(mtslurm submit --after "$hold" --git "file://$T/gone.git" --commit "$c3" --exec true)
rm -rf "$T/gone.git"
set +e; mtslurm wait "$gone" --timeout 60 >/dev/null; set -e
err=$(db "select error from jobs where id=$gone")
assert_contains "$err" "git: cannot fetch file://$T/gone.git" "a vanished repository's reason"

# ---- run-script (mindtrace's RunScriptWorker) with a git environment, over HTTP ----
assert_eq null "$(mt_call register_worker_type \
	'{"worker_name":"rs","worker_class":"RunScriptWorker","worker_params":{},"job_type":"script"}')" "register RunScriptWorker"
mtslurm-worker --no-mpi --run-dir "$MTSLURM_RUN_DIR" --worker-type rs --http 127.0.0.1:0 --id tw-rs \
	>"$MTSLURM_RUN_DIR/logs/tw-rs.out" 2>&1 &
rs_pid=$!
started_pids+=($rs_pid)
wait_for 20 sh -c "mtslurm workers --json | grep -q tw-rs"
# branch and commit both given: the commit wins (mindtrace gets that backwards)
mt_call submit_job "$(mt_job rs-1 script "{\"environment\":{\"git\":{\"repo_url\":\"$url\",\"branch\":\"main\",\"commit\":\"$c1\",\"working_dir\":\"scripts\"}},\"command\":\"./process.sh; echo err >&2\"}")" >/dev/null
s=$(mt_final rs-1)
assert_eq completed "$(jget "$s" '$.status')" "run-script git: $s"
assert_eq "v1 one" "$(jget "$s" '$.output.stdout' | tr -d '\n')" "run-script git: stdout in the checkout of the commit"
assert_eq "err" "$(jget "$s" '$.output.stderr' | tr -d '\n')" "run-script git: stderr"
# only a branch (over HTTP the master resolves it at submit; t0842 moves the branch)
mt_call submit_job "$(mt_job rs-2 script "{\"environment\":{\"git\":{\"repo_url\":\"$url\",\"branch\":\"main\",\"working_dir\":\"scripts\"}},\"command\":\"./process.sh\"}")" >/dev/null
s=$(mt_final rs-2)
assert_eq "v2 one" "$(jget "$s" '$.output.stdout' | tr -d '\n')" "run-script git: the branch's commit"
# a bad branch: refused at submit (422) with the reason, nothing stored
s=$(mt_http submit_job "$(mt_job rs-3 script "{\"environment\":{\"git\":{\"repo_url\":\"$url\",\"branch\":\"nope\"}},\"command\":\"true\"}")")
assert_eq 422 "${s%% *}" "run-script git, bad branch: $s"
assert_contains "$s" "branch 'nope' not found" "run-script git, bad branch: the reason"
# mtslurm submit --type resolves a payload's branch at submit: the job records the commit
tid=$(mtslurm submit --type script "{\"environment\":{\"git\":{\"repo_url\":\"$url\",\"branch\":\"main\",\"working_dir\":\"scripts\"}},\"command\":\"./process.sh\"}")
assert_contains "$(db "select input from jobs where id=$tid")" "\"commit\":\"$c2\"" "submit --type: the branch's commit recorded"
mtslurm wait "$tid" --timeout 60 >/dev/null || fail "the run-script job from submit --type failed"
kill "$rs_pid" && wait "$rs_pid" 2>/dev/null || true

# ---- gc: every unused checkout goes (the workers hold theirs for a while, so stop first) ----
mtslurm stop >/dev/null
before=$(find "$R/trees" -mindepth 1 -maxdepth 1 -type d | wc -l)
[ "$before" -ge 3 ] || fail "expected at least 3 checkouts before gc, got $before"
out=$(mtslurm git gc)
assert_contains "$out" "freed" "gc's summary"
assert_eq 0 "$(find "$R/trees" -mindepth 1 -maxdepth 1 -type d | wc -l)" "checkouts after gc"
assert_eq 0 "$(ls "$R"/repos | grep -c '\.git$' || true)" "clones after gc"
assert_eq "$before" "$(echo "$out" | grep -c 'removed checkout')" "checkouts gc says it removed"
log ok
