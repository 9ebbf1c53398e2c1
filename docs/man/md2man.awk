# SPDX-License-Identifier: MIT
# md2man.awk: turns the small Markdown subset of docs/ (## headings,
# paragraphs, ``` code blocks, "- " and "1. " lists, | tables, `code`,
# **bold**, *italic*, [links](x.md)) into man(7) source. Plain POSIX awk
# (Debian's default mawk runs it), run under LC_ALL=C so that it sees bytes:
# every non-ASCII character becomes a \[uXXXX] escape, so the page is pure
# ASCII and renders the same with groff, mandoc or man-db's preconv.
#
# Variables (-v): title, section, date, source, manual: the .TH line; header=0
# leaves out the .TH line (a fragment spliced into a page); skip_title=1
# drops a leading "# title" line (it duplicates NAME); demote=1 turns ##
# into .SS (a chapter included inside another section). Links to mts_*.md
# become "mts_x(3)" references, other links their text.
BEGIN {
	for (i = 1; i < 256; i++)
		ord[sprintf("%c", i)] = i
	if (header != "0")
		printf "'\\\" t\n.TH \"%s\" \"%s\" \"%s\" \"%s\" \"%s\"\n", title, section, date, source, manual
	incode = 0; intable = 0; inlist = 0; para = 0; ntab = 0
}

# Bytes of the UTF-8 sequence at s[i..] as one \[uXXXX] escape; sets utf_len.
function utf8_escape(s, i,    c, n, cp, k) {
	c = ord[substr(s, i, 1)]
	if (c >= 240) { n = 4; cp = c - 240 } else if (c >= 224) { n = 3; cp = c - 224 } \
	else if (c >= 192) { n = 2; cp = c - 192 } else { utf_len = 1; return "?" }
	for (k = 1; k < n; k++)
		cp = cp * 64 + (ord[substr(s, i + k, 1)] - 128)
	utf_len = n
	return sprintf("\\[u%04X]", cp)
}

# Text escaped for roff: backslashes, hyphens (\- stays ASCII in UTF-8
# output, so options can be copied), non-ASCII characters.
function esc(s,    out, i, ch) {
	out = ""
	for (i = 1; i <= length(s); i++) {
		ch = substr(s, i, 1)
		if (ch == "\\") out = out "\\e"
		else if (ch == "-") out = out "\\-"
		else if (ord[ch] >= 128) { out = out utf8_escape(s, i); i += utf_len - 1 }
		else out = out ch
	}
	return out
}

# A line of roff text must not start with a control character.
function safe(s) {
	if (s ~ /^[.']/) return "\\&" s
	return s
}

# Inline Markdown to roff: `code` bold, **x** bold, *x* italic, [t](u) t.
function inline(s,    out, i, ch, j, t, u, rest) {
	out = ""
	i = 1
	while (i <= length(s)) {
		ch = substr(s, i, 1)
		rest = substr(s, i)
		if (ch == "`" && (j = index(substr(s, i + 1), "`")) > 0) {
			out = out "\\fB" esc(substr(s, i + 1, j - 1)) "\\fR"
			i += j + 1
		} else if (substr(rest, 1, 2) == "**" && (j = index(substr(s, i + 2), "**")) > 1) {
			out = out "\\fB" inline(substr(s, i + 2, j - 1)) "\\fR"
			i += j + 3
		} else if (ch == "*" && substr(rest, 2, 1) !~ /[ *]/ && (j = index(substr(s, i + 1), "*")) > 1 &&
			   substr(s, i + j - 1, 1) != " ") {
			out = out "\\fI" inline(substr(s, i + 1, j - 1)) "\\fR"
			i += j + 1
		} else if (ch == "[" && match(rest, /^\[[^]]*\]\([^)]*\)/)) {
			t = substr(rest, 2, index(rest, "]") - 2)
			u = substr(rest, index(rest, "](") + 2, RLENGTH - index(rest, "](") - 2)
			if (u ~ /^mts_[a-z_]*\.md$/) {
				sub(/\.md$/, "", u)
				out = out "\\fB" esc(u) "\\fR(3)"
			} else {
				out = out inline(t)
			}
			i += RLENGTH
		} else {
			if (ord[ch] >= 128) { out = out utf8_escape(s, i); i += utf_len }
			else { out = out esc(ch); i++ }
		}
	}
	return out
}

# About how many characters a cell shows: without link targets and marks.
function shown_length(s) {
	gsub(/\]\([^)]*\)/, "", s)
	gsub(/[][`*]/, "", s)
	return length(s)
}

# A table for tbl: a column whose cells are all short is sized to fit them;
# the others share the rest of the line, their cells as text blocks (T{ T})
# that wrap.
function flush_table(    r, c, n, cells, wide, fmt, line, cell) {
	if (!intable) return
	ncol = 0
	for (r = 1; r <= ntab; r++) {
		n = split(tab[r], cells, "\t")
		if (n > ncol) ncol = n
		for (c = 1; c <= n; c++) if (shown_length(cells[c]) > 24) wide[c] = 1
	}
	print ".PP"
	print ".TS"
	print "tab(\t);"
	fmt = ""
	for (c = 1; c <= ncol; c++) fmt = fmt (c > 1 ? " " : "") (wide[c] ? "lbx" : "lb")
	print fmt
	fmt = ""
	for (c = 1; c <= ncol; c++) fmt = fmt (c > 1 ? " " : "") (wide[c] ? "lx" : "l")
	print fmt "."
	for (r = 1; r <= ntab; r++) {
		n = split(tab[r], cells, "\t")
		line = ""
		for (c = 1; c <= n; c++) {
			cell = inline(cells[c])
			if (wide[c]) cell = "T{\n" safe(cell) "\nT}"
			else if (cell ~ /^[.']/) cell = "\\&" cell
			line = line (c > 1 ? "\t" : "") cell
		}
		print line
		if (r == 1) print "_"
	}
	print ".TE"
	intable = 0; ntab = 0
}

# The running text gathered so far (a paragraph or a list item, whose
# `code` and **bold** may span lines), converted and printed.
function flush_text(    n, k, lines) {
	if (text == "") return
	n = split(inline(text), lines, "\n")
	for (k = 1; k <= n; k++) print safe(lines[k])
	text = ""
}

function end_block() {
	flush_text()
	flush_table()
	para = 0
	inlist = 0
}

# Tabs in code expanded to stops of 4: the code in docs/ indents with one
# tab per level and aligns with spaces after it, so any width keeps the
# alignment, and 4 keeps the lines within a terminal.
function expand(s,    out, i, ch) {
	out = ""
	for (i = 1; i <= length(s); i++) {
		ch = substr(s, i, 1)
		if (ch == "\t") { do out = out " "; while (length(out) % 4) }
		else out = out ch
	}
	return out
}

incode {
	if ($0 ~ /^```/) { print ".fi"; print ".RE"; incode = 0; next }
	print safe(esc(expand($0)))
	next
}
/^```/ { end_block(); fresh = 0; print ".PP"; print ".RS 4"; print ".nf"; incode = 1; next }
/^# / && skip_title == "1" && NR == 1 { next }
/^#+ / {
	end_block()
	h = $0; sub(/^#+ +/, "", h)
	if ($0 ~ /^## / && demote != "1") print ".SH \"" toupper(esc(h)) "\""
	else print ".SS \"" esc(h) "\""
	fresh = 1
	next
}
/^[ \t]*$/ { end_block(); next }
/^\|/ {
	flush_text()
	para = 0
	if ($0 ~ /^\|[-:| ]+\|[ \t]*$/) next
	row = $0
	gsub(/\t/, " ", row)
	sub(/^\| */, "", row); sub(/ *\| *$/, "", row)
	gsub(/ *\| */, "\t", row)
	tab[++ntab] = row; intable = 1; fresh = 0
	next
}
/^[-*] / {
	flush_text(); flush_table()
	t = $0; sub(/^[-*] +/, "", t)
	fresh = 0
	print ".IP \\(bu 2"
	text = t
	inlist = 1; para = 1
	next
}
/^[0-9]+\. / {
	flush_text(); flush_table()
	t = $0; n = t; sub(/\. .*/, "", n); sub(/^[0-9]+\. +/, "", t)
	fresh = 0
	print ".IP " n ". 4"
	text = t
	inlist = 1; para = 1
	next
}
incomment { if ($0 ~ /-->/) incomment = 0; next }
/^<!--/ { if ($0 !~ /-->/) incomment = 1; next }
{
	flush_table()
	t = $0; sub(/^[ \t]+/, "", t)
	if (!para && !fresh) print ".PP"
	para = 1; fresh = 0
	text = text (text == "" ? "" : "\n") t
}
END {
	flush_text()
	flush_table()
	if (incode) { print ".fi"; print ".RE" }
}
