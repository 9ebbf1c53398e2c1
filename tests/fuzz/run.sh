#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run each libFuzzer target for a bounded time on a scratch copy of its
# committed corpus (so new inputs do not pile up in git; add a finding to
# tests/fuzz/NAME/ by hand as a regression seed). One line per target:
#   fuzz: NAME execs=N crashes=K secs=S
# Exit 1 if any target crashed; the crashing input is left in FB/crashes-NAME/.
# Usage: run.sh FUZZ_BUILD_DIR SECONDS NAME...
set -u
fb=$1 secs=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
rc=0
for name in "$@"; do
	work="$fb/corpus-$name" crashes="$fb/crashes-$name"
	rm -rf "$work" "$crashes" && mkdir -p "$work" "$crashes"
	cp "$here/$name"/* "$work"/ 2>/dev/null
	log="$fb/fuzz-$name.log"
	"$fb/fuzz_$name" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
		-artifact_prefix="$crashes/" -print_final_stats=1 "$work" >"$log" 2>&1
	status=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	ncrash=$(find "$crashes" -type f | wc -l)
	echo "fuzz: $name execs=${execs:-0} crashes=$ncrash secs=$secs"
	if [ "$status" -ne 0 ] || [ "$ncrash" -ne 0 ]; then
		echo "fuzz: $name FAILED (exit $status); see $log and $crashes/" >&2
		rc=1
	fi
done
exit $rc
