#!/usr/bin/env bash
# A damaged or replaced state.db is refused with what to do, and nothing of
# it is overwritten: an empty file where the run directory had a database
# (once, a truncated state.db started empty and job ids restarted at 1), a
# database with garbage pages, another run directory's database, and a
# read-only one. Put back, the right database starts and ids go on.
. "$(dirname "$0")/lib.sh"

start_fails() { # what-the-message-says
	set +e
	out=$(mtslurm -n 1 --local start 2>&1)
	rc=$?
	set -e
	assert_eq 1 "$rc" "start with $1"
	assert_contains "$out" "$1" "start's message"
	alive "$(master_pid)" && fail "a master runs on $1" || true
}

mtslurm -n 1 --local start
seq 1 50 | mtslurm submit --echo --stdin > /dev/null
mtslurm wait --all --timeout 30
mtslurm stop
id=$(cat "$MTSLURM_RUN_DIR/store.id")
[[ "$id" =~ ^[0-9a-f]{32}$ ]] || fail "store.id holds '$id'"
cp "$MTSLURM_RUN_DIR/state.db" "$T/good.db"

# Truncated to nothing: refused, and the file is left empty.
: > "$MTSLURM_RUN_DIR/state.db"
start_fails "state.db is empty, but this run directory had a database (store.id $id)"
assert_eq 0 "$(stat -c %s "$MTSLURM_RUN_DIR/state.db")" "the empty file is left as it was"
# Deleted: the same.
rm -f "$MTSLURM_RUN_DIR"/state.db*
start_fails "state.db is empty, but this run directory had a database"
rm -f "$MTSLURM_RUN_DIR"/state.db*

# Garbage pages in the middle: quick_check finds them.
cp "$T/good.db" "$MTSLURM_RUN_DIR/state.db"
head -c 12288 /dev/urandom | dd of="$MTSLURM_RUN_DIR/state.db" bs=4096 seek=2 conv=notrunc 2>/dev/null
sum=$(md5sum < "$MTSLURM_RUN_DIR/state.db")
start_fails "state.db is damaged (Page"
assert_eq "$sum" "$(md5sum < "$MTSLURM_RUN_DIR/state.db")" "the damaged file is not written"
rm -f "$MTSLURM_RUN_DIR"/state.db*

# Another run directory's database.
(
	export MTSLURM_RUN_DIR=$T/other
	mtslurm -n 1 --local start > /dev/null
	mtslurm stop > /dev/null
)
cp "$T/other/state.db" "$MTSLURM_RUN_DIR/state.db"
start_fails "is not the database this run directory had (its id is $(cat "$T/other/store.id"), store.id says $id)"
rm -f "$MTSLURM_RUN_DIR"/state.db*

# Read-only (root ignores file modes; the immutable flag binds root too).
cp "$T/good.db" "$MTSLURM_RUN_DIR/state.db"
chattr +i "$MTSLURM_RUN_DIR/state.db" || fail "chattr +i is needed to make a file read-only for root"
start_fails "state.db is read-only"
chattr -i "$MTSLURM_RUN_DIR/state.db"

# The right database again: its 50 jobs are there and ids go on from 51.
mtslurm -n 1 --local start
assert_eq 51 "$(mtslurm submit --echo again)" "the next id"
assert_eq 50 "$(db "select count(*) from jobs where state=2 and id<=50")" "the 50 jobs"
mtslurm wait --all --timeout 20
mtslurm stop
log ok
