#!/usr/bin/env bash
# A client submits A and B (B after A) and exits; A then fails or is
# cancelled. Finalizing A finalizes B, the disconnected client's last job:
# the master once freed that client twice (ASan: heap-use-after-free; a
# production build aborted with "double free" after ~13 such DAGs). Now the
# master lives through 15 of each, every B fails naming its dependency, and
# (ASan build) no sanitizer report appears in its output.
. "$(dirname "$0")/lib.sh"

mtslurm -n 2 --local start
mp=$(master_pid)
ids=()
for i in $(seq 1 15); do
	ids+=("$("$TOOLS/dag_exit" fail)")
	ids+=("$("$TOOLS/dag_exit" hold)")
done
# Cancel every held A (its client is gone): the same path through cancel.
holds=$(for k in $(seq 1 2 29); do echo "${ids[$k]}" | cut -d' ' -f1; done)
mtslurm cancel $holds > /dev/null
all_final() { [ "$(db "select count(*) from jobs where state<2")" = 0 ]; }
wait_for 60 all_final
alive "$mp" || fail "the master died"
for k in $(seq 0 29); do
	a=${ids[$k]% *} b=${ids[$k]#* }
	want=3; [ $((k % 2)) = 1 ] && want=4
	assert_eq "$want" "$(db "select state from jobs where id=$a")" "job $a (A of DAG $k)"
	assert_eq "3|dependency $a failed" "$(db "select state, error from jobs where id=$b")" "job $b (B after $a)"
done
# The master still serves.
id=$(mtslurm submit --echo still-here)
mtslurm wait "$id" --timeout 20
assert_eq still-here "$(db "select output from jobs where id=$id")" "a job after the DAGs"
alive "$mp" || fail "the master died"
mtslurm stop
log ok
