#!/bin/sh
# SPDX-License-Identifier: MIT
# gen.sh: generates the man pages from docs/, so they never drift from it:
# one section-3 page per docs/api/mts_*.md, mtslurm(3) from their index
# docs/api/README.md, and mtslurm(1) from
# docs/man/mtslurm.1.md, whose "man:" comments pull in the help texts of
# the built `mtslurm` (what the program really accepts) and chapters of
# docs/user-guide.md. Plain sh and awk (md2man.awk, help2man.awk), no
# pandoc: it runs on any Debian. Each page is written to a temporary file
# and renamed, so a failed run leaves no half page for make to trust.
#
#   gen.sh api VERSION OUTDIR PAGE.md...   -> OUTDIR/mts_x.3 for each page
#   gen.sh index VERSION OUT README.md     -> OUT (mtslurm.3), the API overview
#   gen.sh cli VERSION OUT MTSLURM         -> OUT (mtslurm.1), MTSLURM the binary
#
# $MAN_DATE, if set, is the date in the pages' footer.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
docs=$(dirname "$here")
guide=$docs/user-guide.md
LC_ALL=C
export LC_ALL

die() { echo "gen.sh: $*" >&2; exit 1; }

# md2man TITLE SECTION MANUAL [awk -v settings...] < markdown
md2man() {
	t=$1 s=$2 m=$3
	shift 3
	awk -v title="$t" -v section="$s" -v date="${MAN_DATE:-}" -v source="mtslurm $version" \
		-v manual="$m" "$@" -f "$here/md2man.awk"
}

gen_api() {
	outdir=$1
	shift
	mkdir -p "$outdir"
	for page in "$@"; do
		name=$(basename "$page" .md)
		case $name in mts_*) ;; *) die "$page: not an API page (mts_NAME.md)" ;; esac
		head -n1 "$page" | grep -qx "# $name" || die "$page: first line must be '# $name'"
		grep -q '^## NAME' "$page" || die "$page: no '## NAME' section"
		upper=$(echo "$name" | tr 'a-z' 'A-Z')
		partial=$outdir/$name.3.tmp
		md2man "$upper" 3 "libmtslurm manual" -v skip_title=1 < "$page" > "$outdir/$name.3.tmp"
		mv "$outdir/$name.3.tmp" "$outdir/$name.3"
	done
}

# mtslurm(3): the library's overview, from the index docs/api/README.md,
# under a NAME and SYNOPSIS of its own.
gen_index() {
	out=$1 index=$2
	grep -q '^| \[`mts_' "$index" || die "$index: no table of functions"
	partial=$out.tmp
	{
		printf '## NAME\n\nmtslurm - the C library libmtslurm: submit jobs to an mtslurm cluster and get their results\n\n'
		printf '## SYNOPSIS\n\n```c\n#include <mtslurm.h>\n```\n\n'
		printf 'Link with `pkg-config --cflags --libs mtslurm`.\n\n## DESCRIPTION\n\n'
		tail -n +2 "$index"
		printf '\n## SEE ALSO\n\n**mtslurm**(1)\n'
	} | md2man MTSLURM 3 "libmtslurm manual" > "$out.tmp"
	mv "$out.tmp" "$out"
}

# The user guide's first paragraph (after its title).
guide_intro() {
	awk 'NR > 1 && /^[^ \t]/ { p = 1 } p && /^[ \t]*$/ { exit } p' "$guide"
}

# The body of the user guide's chapter "## [N. ]TITLE", without its heading.
guide_chapter() {
	awk -v want="$1" '
		/^## / { h = $0; sub(/^## +([0-9]+\. +)?/, "", h); if (on) exit; on = (h == want); next }
		on' "$guide" > "$tmp.chapter"
	[ -s "$tmp.chapter" ] || die "$guide has no chapter '## $1' (docs/man/mtslurm.1.md includes it)"
	md2man x 1 x -v header=0 -v demote=1 < "$tmp.chapter"
}

# The commands listed in `mtslurm --help`: the words indented by two spaces
# under "commands:".
cli_commands() {
	"$bin" --help | awk '/^commands:/ { on = 1; next } on && /^[^ ]/ { on = 0 } on && /^  [a-z]/ { print $1 }'
}

cli_commands_man() {
	cmds=$(cli_commands)
	[ -n "$cmds" ] || die "'$bin --help' lists no commands under 'commands:'"
	"$bin" --help > "$tmp.overview"
	for c in $cmds; do
		"$bin" "$c" --help > "$tmp.cmd" || die "'$bin $c --help' failed"
		# A command without its own help text gets only its overview line.
		cmp -s "$tmp.cmd" "$tmp.overview" && continue
		awk -v cmd="$c" -f "$here/help2man.awk" < "$tmp.cmd"
	done
}

# Markdown lines of the template gathered so far, converted and emptied.
flush() {
	if [ -s "$tmp.md" ]; then
		md2man x 1 x -v header=0 < "$tmp.md"
	fi
	: > "$tmp.md"
}

gen_cli() {
	out=$1 bin=$2
	[ -x "$bin" ] || die "$bin: not an executable (build it first)"
	usage_line=$("$bin" --help | head -n1)
	case $usage_line in "usage: "*) ;; *) die "'$bin --help' does not start with 'usage: '" ;; esac
	: > "$tmp.md"
	partial=$out.tmp
	{
		md2man MTSLURM 1 "mtslurm manual" -v header=1 < /dev/null
		tail -n +2 "$here/mtslurm.1.md" | while IFS= read -r line; do
			case $line in
			"<!-- man: usage -->") flush; echo "$usage_line" | awk -f "$here/help2man.awk" ;;
			"<!-- man: intro -->") guide_intro >> "$tmp.md" ;;
			"<!-- man: overview -->") flush; "$bin" --help | tail -n +2 | awk -f "$here/help2man.awk" ;;
			"<!-- man: commands -->") flush; cli_commands_man ;;
			"<!-- man: chapter "*" -->")
				flush
				c=${line#"<!-- man: chapter "}
				guide_chapter "${c%" -->"}" ;;
			"<!-- man:"*) die "mtslurm.1.md: unknown directive: $line" ;;
			*) printf '%s\n' "$line" >> "$tmp.md" ;;
			esac
		done
		flush
	} > "$out.tmp"
	mv "$out.tmp" "$out"
}

[ $# -ge 3 ] || die "usage: gen.sh api VERSION OUTDIR PAGE.md... | gen.sh index VERSION OUT README.md | gen.sh cli VERSION OUT MTSLURM"
mode=$1 version=$2
shift 2
tmp=$(mktemp "${TMPDIR:-/tmp}/mtslurm-man.XXXXXX")
partial=
trap 'rm -f "$tmp" "$tmp".* ${partial:+"$partial"}' EXIT
case $mode in
api) gen_api "$@" ;;
index) [ $# -eq 2 ] || die "usage: gen.sh index VERSION OUT README.md"; gen_index "$@" ;;
cli) [ $# -eq 2 ] || die "usage: gen.sh cli VERSION OUT MTSLURM"; gen_cli "$@" ;;
*) die "unknown mode '$mode' (api or cli)" ;;
esac
