#!/usr/bin/env bash
# `make install PREFIX=P` gives an installation that works with nothing else
# set, and `make uninstall` takes it away again. From the build under test
# ($MTS_BUILD; the ASan one installs with SANITIZE=1), into a temporary
# prefix with DESTDIR unset: P/bin/mtslurm starts a local cluster whose
# master and workers are the installed binaries; a client compiled with
# `pkg-config --cflags --libs mtslurm` from P alone runs against it without
# LD_LIBRARY_PATH (the .pc's runpath) and gets its callbacks and results; a man page for
# every function of the installed mtslurm.h, mtslurm(3) listing them, and
# mtslurm(1) covering every command and option of the help texts exist and
# render without warnings;
# uninstall leaves no file of mtslurm and nothing else removed. Then the same
# with DESTDIR: the staged files name PREFIX, never the staging directory.
. "$(dirname "$0")/lib.sh"

build=$(cd "$MTS_BUILD" && pwd)
case $build in "$top"/*) bdir=${build#"$top"/} ;; *) bdir=$build ;; esac
mk=(make -C "$top" --no-print-directory BUILD="$bdir")
san=
# (grep reads a here-string, never a pipe: under pipefail, grep -q quitting
# early can fail the writer with SIGPIPE.)
if grep -q libasan <<< "$(ldd "$build/libmtslurm.so")"; then
	mk+=(SANITIZE=1)
	san="-fsanitize=address,undefined"
fi
P=$T/prefix
# Something of another package in the prefix, which uninstall must not touch.
mkdir -p "$P/bin" "$P/share/man/man3"
echo other > "$P/bin/other-tool"
echo other > "$P/share/man/man3/other.3"

log "make install PREFIX=$P (from $bdir)"
env -u DESTDIR "${mk[@]}" PREFIX="$P" install > "$T/install.log" 2>&1 ||
	{ tail -n 30 "$T/install.log"; fail "make install failed"; }

# Only what a user's shell has: no build dir on PATH, no LD_LIBRARY_PATH,
# no MTSLURM_LIBEXEC (the sanitizer settings of the ASan run pass through).
clean=(env -i HOME="$HOME" PATH=/usr/bin:/bin MTSLURM_RUN_DIR="$MTSLURM_RUN_DIR")
for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
	[ -n "${!v:-}" ] && clean+=("$v=${!v}")
done

# The files, the library's soname links, and no runpath into the source tree.
for f in bin/mtslurm bin/mtslurm-master bin/mtslurm-worker include/mtslurm.h \
	lib/pkgconfig/mtslurm.pc share/man/man1/mtslurm.1; do
	[ -f "$P/$f" ] || fail "make install did not install $f"
done
real=$(readlink -f "$P/lib/libmtslurm.so")
[ -f "$real" ] && [ "$(dirname "$real")" = "$P/lib" ] || fail "lib/libmtslurm.so does not lead to a library in $P/lib"
soname=$(readelf -d "$real" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
assert_eq libmtslurm.so.1 "$soname" "the library's soname"
[ -L "$P/lib/libmtslurm.so.1" ] && [ "$(readlink -f "$P/lib/libmtslurm.so.1")" = "$real" ] ||
	fail "lib/libmtslurm.so.1 is not a link to $real"
for f in "$P"/bin/mtslurm* "$real"; do
	rp=$(readelf -d "$f" | grep -E 'R(UN)?PATH' || true)
	case $rp in *"$top"*) fail "$f has a runpath into the source tree: $rp" ;; esac
done
if grep -F -- "$top" "$P/lib/pkgconfig/mtslurm.pc"; then fail "mtslurm.pc names the source tree"; fi

"${clean[@]}" "$P/bin/mtslurm" --help > "$T/help.txt" || fail "$P/bin/mtslurm --help failed"
grep -q '^usage: mtslurm' "$T/help.txt" || fail "mtslurm --help: $(head -n3 "$T/help.txt")"

# A cluster of the installed binaries.
"${clean[@]}" "$P/bin/mtslurm" -n 2 --local start
mp=$(master_pid)
assert_eq "$P/bin/mtslurm-master" "$(readlink "/proc/$mp/exe")" "the master's executable"
wpids=$("${clean[@]}" "$P/bin/mtslurm" workers --json |
	jsql "select json_extract(value, '\$.pid') from json_each(readfile('/dev/stdin'));")
assert_eq 2 "$(echo "$wpids" | wc -w)" "workers of the installed cluster"
for w in $wpids; do
	assert_eq "$P/bin/mtslurm-worker" "$(readlink "/proc/$w/exe")" "worker $w's executable"
done

# A client built from the installation alone (its flags from P's
# mtslurm.pc): 20 echo jobs with callbacks carrying their user pointers, an
# exec job through a future, a C function through mts_map. (No timing in it:
# api_check's scheduling checks are t0300's business.)
cat > "$T/client.c" <<'C'
#include <mtslurm.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define N 20
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int ncb, nbad;

static void done(const mts_result *r, void *arg)
{
	char want[32];
	(void)arg;
	snprintf(want, sizeof want, "msg-%d", (int)(intptr_t)r->user);
	pthread_mutex_lock(&mu);
	ncb++;
	if (r->state != MTS_COMPLETED || !r->output || !strstr(r->output, want))
		nbad++;
	pthread_mutex_unlock(&mu);
}

int main(int argc, char **argv)
{
	mts_client *c;
	mts_options o = MTS_OPTIONS_INIT;
	o.on_done = done;
	if (argc != 2 || mts_connect(&c, NULL, &o) != MTS_OK) {
		fprintf(stderr, "connect: %s\n", argc == 2 ? mts_errmsg(c) : "usage: client LIBSWEEP.so");
		return 1;
	}
	mts_job jobs[N];
	char msgs[N][16];
	for (int i = 0; i < N; i++) {
		mts_job j = MTS_JOB_INIT;
		snprintf(msgs[i], sizeof msgs[i], "msg-%d", i);
		j.type = "echo";
		j.input = msgs[i];
		j.user = (void *)(intptr_t)i;
		jobs[i] = j;
	}
	if (mts_submit_batch(NULL, c, jobs, N) != MTS_OK || mts_wait_all(c, 60000) != MTS_OK) {
		fprintf(stderr, "echo jobs: %s\n", mts_errmsg(c));
		return 1;
	}
	if (ncb != N || nbad != 0) {
		fprintf(stderr, "%d callbacks, %d wrong\n", ncb, nbad);
		return 1;
	}
	printf("callbacks %d\n", ncb);
	mts_job e = MTS_JOB_INIT;
	e.type = "exec";
	e.input = "echo from-exec";
	mts_future *f;
	if (mts_submit_future(&f, c, &e) != MTS_OK || mts_future_wait(f, 60000) != MTS_OK ||
	    mts_future_result(f)->state != MTS_COMPLETED) {
		fprintf(stderr, "exec job: %s\n", mts_errmsg(c));
		return 1;
	}
	printf("exec %s", mts_future_result(f)->output);
	mts_future_free(f);
	char target[4200];
	snprintf(target, sizeof target, "%s:simulate", argv[1]);
	const char *args[] = {"{\"t\":3}"};
	mts_result *res;
	if (mts_map(&res, c, target, args, 1, 60000) != MTS_OK || res[0].state != MTS_COMPLETED) {
		fprintf(stderr, "map: %s\n", mts_errmsg(c));
		return 1;
	}
	printf("func %s\n", res[0].output);
	mts_map_free(res, 1);
	mts_close(c);
	return 0;
}
C
flags=$(env -i PATH=/usr/bin:/bin PKG_CONFIG_PATH="$P/lib/pkgconfig" pkg-config --cflags --libs mtslurm) ||
	fail "pkg-config does not find mtslurm in $P/lib/pkgconfig"
log "cc client.c $flags"
cc $san -std=c11 -Wall -Wextra -Werror -o "$T/client" "$T/client.c" $flags -lpthread
"${clean[@]}" "$T/client" "$TOOLS/libsweep.so" > "$T/client.out" 2>&1 ||
	{ cat "$T/client.out"; fail "the client built against the installation failed"; }
lib=$(ldd "$T/client" | awk '$1 == "libmtslurm.so.1" { print $3 }')
assert_eq "$real" "$(readlink -f "$lib")" "the library the client loads"
assert_eq "$(printf 'callbacks 20\nexec from-exec\nfunc {"t":3,"y":9}')" "$(cat "$T/client.out")" "the client's results"
"${clean[@]}" "$P/bin/mtslurm" stop
! alive "$mp" || fail "the installed master (pid $mp) still runs after stop"

# Man pages: one per function of the installed header, each with its
# prototype; all render without a warning.
render() { groff -man -t -Tutf8 -rHY=0 -rLL=200n -P-cbou "$1" 2> "$T/groff.err"; }
fns=$(grep -o 'MTS_API[^(]*\bmts_[a-z_]*(' "$P/include/mtslurm.h" | grep -o 'mts_[a-z_]*($' | tr -d '(')
[ "$(echo "$fns" | wc -w)" -ge 20 ] || fail "found only $(echo "$fns" | wc -w) functions in mtslurm.h"
for fn in $fns; do
	page=$P/share/man/man3/$fn.3
	[ -f "$page" ] || fail "no man page $fn(3) for the function $fn of mtslurm.h"
	txt=$(render "$page")
	[ ! -s "$T/groff.err" ] || fail "$fn.3 renders with warnings: $(cat "$T/groff.err")"
	assert_contains "$txt" "$fn - " "$fn(3)'s NAME line"
	assert_contains "$txt" "$fn(" "$fn(3)'s synopsis"
	for s in NAME SYNOPSIS DESCRIPTION "RETURN VALUE"; do
		assert_contains "$txt" "$s" "$fn(3)'s sections"
	done
done
# mtslurm(3), the library's overview, names every function's page.
txt=$(render "$P/share/man/man3/mtslurm.3")
[ ! -s "$T/groff.err" ] || fail "mtslurm.3 renders with warnings: $(cat "$T/groff.err")"
for fn in $fns; do assert_contains "$txt" "$fn(3)" "mtslurm(3)'s list of functions"; done
txt=$(render "$P/share/man/man1/mtslurm.1")
[ ! -s "$T/groff.err" ] || fail "mtslurm.1 renders with warnings: $(cat "$T/groff.err")"
assert_contains "$txt" "mtslurm - " "mtslurm(1)'s NAME line"
cmds=$(awk '/^commands:/ { on = 1; next } on && /^[^ ]/ { on = 0 } on && /^  [a-z]/ { print $1 }' "$T/help.txt")
[ "$(echo "$cmds" | wc -w)" -ge 8 ] || fail "mtslurm --help lists only: $cmds"
for c in $cmds; do
	grep -qx "   $c" <<< "$txt" || fail "mtslurm(1) has no section for the command $c"
	for o in $("${clean[@]}" "$P/bin/mtslurm" "$c" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
		assert_contains "$txt" "$o" "mtslurm(1), option $o of $c"
	done
done

log "make uninstall PREFIX=$P"
env -u DESTDIR "${mk[@]}" PREFIX="$P" uninstall > "$T/uninstall.log" 2>&1 ||
	{ cat "$T/uninstall.log"; fail "make uninstall failed"; }
left=$(cd "$P" && find . ! -type d | sort)
assert_eq "$(printf './bin/other-tool\n./share/man/man3/other.3')" "$left" "files in the prefix after uninstall"

# Staged: DESTDIR only moves where the files go; they name PREFIX.
S=$T/stage
"${mk[@]}" DESTDIR="$S" PREFIX=/opt/mtslurm-t0600 install > "$T/install.log" 2>&1 ||
	{ tail -n 30 "$T/install.log"; fail "make install DESTDIR=... failed"; }
pc=$S/opt/mtslurm-t0600/lib/pkgconfig/mtslurm.pc
[ -f "$pc" ] || fail "nothing staged at $pc"
grep -qx 'prefix=/opt/mtslurm-t0600' "$pc" || fail "staged mtslurm.pc: $(cat "$pc")"
grep -q -- '-Wl,-rpath,${libdir}' "$pc" || fail "staged mtslurm.pc has no runpath: $(cat "$pc")"
if grep -rl -F -- "$S" "$S"; then fail "staged files name the staging directory $S"; fi
"${mk[@]}" DESTDIR="$S" PREFIX=/opt/mtslurm-t0600 uninstall > "$T/uninstall.log" 2>&1 ||
	{ cat "$T/uninstall.log"; fail "make uninstall DESTDIR=... failed"; }
assert_eq "" "$(find "$S" ! -type d)" "staged files after uninstall"
log ok
