#!/usr/bin/env bash
# The C API end to end: callbacks, rejections, futures, map, poll mode,
# cancel, dependencies, fair share between clients, submitting from a
# callback, and the error when no cluster runs (tests/tools/api_check.c).
. "$(dirname "$0")/lib.sh"

mtslurm -n 2 --local start
"$TOOLS/api_check" "$TOOLS/libsweep.so"
# The library exports only its API.
bad=$(nm -D --defined-only "$MTS_BUILD/libmtslurm.so" | awk '{print $3}' | grep -v '^mts_' || true)
[ -z "$bad" ] || fail "libmtslurm exports more than mts_*: $bad"
# pkg-config finds it from the build tree, and a program builds with it.
flags=$(PKG_CONFIG_PATH=$MTS_BUILD/pkgconfig pkg-config --cflags --libs mtslurm)
cat > "$T/prog.c" <<'C'
#include <mtslurm.h>
#include <stdio.h>
int main(void)
{
	mts_client *c;
	if (mts_connect(&c, NULL, NULL) != MTS_OK) { fprintf(stderr, "%s\n", mts_errmsg(c)); return 1; }
	mts_job j = MTS_JOB_INIT;
	j.type = "echo"; j.input = "from-pkg-config";
	mts_future *f;
	if (mts_submit_future(&f, c, &j) || mts_future_wait(f, 20000)) return 1;
	printf("%s\n", mts_future_result(f)->output);
	mts_future_free(f);
	mts_close(c);
	return 0;
}
C
san=
grep -q libasan <<< "$(ldd "$MTS_BUILD/libmtslurm.so")" && san="-fsanitize=address,undefined" # not a pipe: grep -q quitting early + pipefail = SIGPIPE
cc $san -o "$T/prog" "$T/prog.c" $flags
assert_eq from-pkg-config "$("$T/prog")" "program built with pkg-config"
mtslurm stop
log ok
