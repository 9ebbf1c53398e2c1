/* SPDX-License-Identifier: MIT */
/*
 * jsregex: the regular expressions of JSON Schema's "pattern" and
 * "patternProperties", which are ECMA-262 (JavaScript) syntax, run on POSIX
 * <regex.h>. The ECMA text is translated into a POSIX extended expression
 * that matches the same strings, or refused with a reason when it uses
 * something POSIX cannot do the same way (lookaround, backreferences, named
 * groups, Unicode property escapes); a refused pattern is better than one
 * that silently matches other strings. Matching is an unanchored search, as
 * JSON Schema requires ("a+" matches "xay"), and works on code points of
 * UTF-8 text: "." and negated classes consume one whole character.
 *
 * Translated: literals and escaped punctuation, ".", classes [a-z] and [^..]
 * with escapes inside, \d \D \w \W \s \S (ASCII meanings, as ECMA without the
 * u flag; \s without the Unicode spaces), \b \B, \n \r \t \v \f \cX \xHH
 * \uHHHH, groups ( ) and (?: ), alternation, anchors ^ $, quantifiers
 * * + ? {n} {n,} {n,m} and their lazy forms (same match/no-match answer),
 * a "{" that starts no quantifier as a literal (ECMA Annex B).
 * Refused: (?= (?! (?<= (?<! (?<name>, \1..\9, \k, \p \P, \0, other letter
 * escapes, non-ASCII characters inside classes, \D \W \S inside classes,
 * the empty class [], quantifiers over nothing, {n,m} above 1000, more than
 * 32 nested groups, and patterns whose repetitions expand past 2000 atoms
 * (glibc's regcomp copies a{1000} a thousand times).
 */
#ifndef MTS_JSREGEX_H
#define MTS_JSREGEX_H

#include <locale.h>
#include <regex.h>
#include <stddef.h>

#include "buf.h"

struct jsregex {
	regex_t re;
	/* regcomp/regexec read the current locale; the translation assumes
	 * single bytes ("C"), so both run under this one, whatever
	 * setlocale() the program did. */
	locale_t c_locale;
};

/* Translate ECMA-262 pattern text into POSIX ERE text appended to out.
 * 0, or -1 with the reason in err ("lookbehind (?<= is not supported").
 * Exposed for tests; jsregex_compile() calls it. */
int jsregex_translate(struct buf *out, const char *ecma, char *err, size_t n);

/* Compile ecma into re (caller-allocated). 0, or -1 with the reason in err
 * (translation refused, regcomp's error, out of memory); on -1 there is
 * nothing to free. */
int jsregex_compile(struct jsregex *re, const char *ecma, char *err, size_t n);

/* 1 if the pattern occurs anywhere in s (a NUL-terminated UTF-8 string),
 * 0 if not. Thread-safe on one re. */
int jsregex_search(const struct jsregex *re, const char *s);

/* Release what jsregex_compile() allocated. */
void jsregex_free(struct jsregex *re);

#endif
