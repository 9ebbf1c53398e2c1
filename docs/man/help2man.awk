# SPDX-License-Identifier: MIT
# help2man.awk: turns the text of `mtslurm CMD --help` into man(7) source
# for one command of mtslurm(1), so that the page says exactly what the
# program accepts. The help text's shape: "usage: ..." lines (and lines
# indented under them that start with "mtslurm") become the synopsis; an
# indented line whose term and description are separated by two or more
# spaces ("  --prio P        higher runs first") becomes a .TP item, and a
# more deeply indented line without such a term (or whose "term" starts
# with "[" or "(", a wrapped synopsis) continues the item above;
# other lines are running text. Plain POSIX awk under LC_ALL=C.
#
# Variables (-v): cmd, the command's name, printed as the .SS heading
# (empty: no heading, for the overview of `mtslurm --help`, whose items
# are command names and get a wider indent).
BEGIN {
	if (cmd != "") print ".SS \"" esc(cmd) "\""
	width = cmd == "" ? " 14" : ""
	state = ""
}

function esc(s) {
	gsub(/\\/, "\\e", s)
	gsub(/-/, "\\-", s)
	if (s ~ /^[.']/) s = "\\&" s
	return s
}

# Options and their arguments in bold, the rest as it is.
function term(s) {
	return "\\fB" esc(s) "\\fR"
}

/^usage: / || (state == "usage" && /^ +mtslurm /) {
	s = $0; sub(/^usage: +/, "", s); sub(/^ +/, "", s)
	if (state != "usage") { print ".PP"; print ".nf" }
	print term(s)
	state = "usage"
	next
}
state == "usage" { print ".fi"; state = "" }
/^[ \t]*$/ { state = ""; next }
/^ +[^ ].*[^ ]  +[^ ]/ && match($0, /^ +[^ ]([^ ]| [^ ])*  +/) {
	t = substr($0, 1, RLENGTH); d = substr($0, RLENGTH + 1)
	sub(/^ +/, "", t); sub(/ +$/, "", t)
	if (t ~ /^[[(]/ && state == "item") { s = $0; sub(/^ +/, "", s); print esc(s); next }
	print ".TP" width
	print term(t)
	print esc(d)
	state = "item"
	next
}
# An option whose description follows after one space only ("--env-pass
# NAME exec: ..."): the term is the option and its upper-case arguments.
/^ +-/ && match($0, /^ +/) && RLENGTH <= 4 {
	n = split($0, w, " ")
	t = w[1]
	for (k = 2; k <= n && w[k] ~ /^([A-Z][A-Z0-9_=,.:|]*|-.*)$/; k++) t = t " " w[k]
	d = ""
	for (; k <= n; k++) d = d (d == "" ? "" : " ") w[k]
	print ".TP" width
	print term(t)
	print esc(d)
	state = "item"
	next
}
/^ +[^ ]/ && state == "item" {
	s = $0; sub(/^ +/, "", s)
	print esc(s)
	next
}
{
	s = $0; sub(/^ +/, "", s)
	if (state != "text") print ".PP"
	print esc(s)
	state = "text"
}
END {
	if (state == "usage") print ".fi"
}
