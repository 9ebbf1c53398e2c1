/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for share/jschema (JSON Schema draft 7) and share/jsregex (its
 * ECMA-262 patterns on POSIX regex): hand-written cases for every keyword,
 * the compile refusals and the error texts, the depth and step budgets, and
 * a run of the official JSON-Schema-Test-Suite's draft 7 files (Debian's
 * json-schema-test-suite package) with an explicit list of the groups that
 * are expected to be refused and why.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>

#include "buf.h"
#include "jschema.h"
#include "jsregex.h"
#include "msg.h"

#define SUITE_DIR "/usr/share/json-schema-test-suite/tests/draft7"

static msg *parse(const char *json)
{
	char err[128];
	msg *m = msg_parse(json, strlen(json), err, sizeof err);
	if (!m)
		fail_msg("test JSON does not parse: %s: %s", err, json);
	return m;
}

static struct jschema *compile(const char *schema_json)
{
	char err[512];
	msg *m = parse(schema_json);
	struct jschema *s = jschema_compile(m, err, sizeof err);
	msg_free(m); /* the compiled schema keeps its own copy */
	if (!s)
		fail_msg("schema refused: %s: %s", err, schema_json);
	return s;
}

/* Validate instance against schema; want_err NULL: must be valid; else the
 * exact error line. */
static void check(const char *schema_json, const char *instance_json, const char *want_err)
{
	struct jschema *s = compile(schema_json);
	msg *inst = parse(instance_json);
	char err[512] = "untouched";
	int rc = jschema_validate(s, inst, err, sizeof err);
	if (!want_err && rc != 0)
		fail_msg("%s against %s: unexpected error: %s", instance_json, schema_json, err);
	if (want_err && rc != -1)
		fail_msg("%s against %s: valid, expected: %s", instance_json, schema_json, want_err);
	if (want_err && strcmp(err, want_err) != 0)
		fail_msg("%s against %s:\n   got: %s\n  want: %s", instance_json, schema_json, err, want_err);
	msg_free(inst);
	jschema_free(s);
}

/* The schema must be refused with exactly want_err (or, when want_err ends
 * in "...", with text starting with what precedes it). */
static void refused(const char *schema_json, const char *want_err)
{
	char err[2048] = "";
	msg *m = parse(schema_json);
	struct jschema *s = jschema_compile(m, err, sizeof err);
	msg_free(m);
	if (s) {
		jschema_free(s);
		fail_msg("schema accepted, expected refusal: %s: %s", want_err, schema_json);
	}
	size_t n = strlen(want_err);
	int prefix = n > 3 && strcmp(want_err + n - 3, "...") == 0;
	if (prefix ? strncmp(err, want_err, n - 3) != 0 : strcmp(err, want_err) != 0)
		fail_msg("refusal of %s:\n   got: %s\n  want: %s", schema_json, err, want_err);
	if (strchr(err, '\n'))
		fail_msg("refusal is not one line: %s", err);
}

static void test_brief_examples(void **state)
{
	(void)state;
	const char *img = "{\"type\":\"object\",\"required\":[\"path\"],\"properties\":{"
			  "\"path\":{\"type\":\"string\",\"minLength\":1},"
			  "\"width\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":2048},"
			  "\"tags\":{\"type\":\"array\",\"items\":{\"enum\":[\"a\",\"b\"]}}},"
			  "\"additionalProperties\":false}";
	check(img, "{\"path\":\"a.png\",\"width\":128,\"tags\":[\"a\",\"b\"]}", NULL);
	check(img, "{\"path\":\"a.png\",\"width\":3000}", "at /width: 3000 is more than the maximum 2048");
	check(img, "{\"width\":3}", "at /: missing required property \"path\"");
	check(img, "{\"path\":\"p\",\"tags\":[\"a\",\"b\",\"x\"]}",
	      "at /tags/2: \"x\" is not one of the allowed values");
	check(img, "{\"path\":\"p\",\"width\":1.5}", "at /width: 1.5 is not an integer");
	check(img, "{\"path\":\"p\",\"width\":128.0}", NULL); /* 128.0 is an integer */
	check(img, "{\"path\":\"p\",\"height\":1}",
	      "at /: property \"height\" is not allowed (additionalProperties is false)");
	check(img, "{\"path\":\"\"}", "at /path: \"\" is shorter than the minimum length 1");
	check(img, "[]", "at /: [] is not of type object");
	refused("{\"properties\":{\"width\":{\"type\":\"integer\",\"format\":\"int32\"}}}",
		"schema at /properties/width: unknown keyword \"format\" (supported: type, enum, const, ...");
	refused("{\"properties\":{\"width\":{\"minimum\":\"x\"}}}",
		"schema at /properties/width: \"minimum\" must be a number");
}

static void test_type(void **state)
{
	(void)state;
	check("{\"type\":\"integer\"}", "1.0", NULL);
	check("{\"type\":\"integer\"}", "-7", NULL);
	check("{\"type\":\"integer\"}", "\"1\"", "at /: \"1\" is not of type integer");
	check("{\"type\":\"number\"}", "1.5", NULL);
	check("{\"type\":\"number\"}", "true", "at /: true is not of type number");
	check("{\"type\":\"null\"}", "null", NULL);
	check("{\"type\":\"null\"}", "0", "at /: 0 is not of type null");
	check("{\"type\":\"boolean\"}", "false", NULL);
	check("{\"type\":\"boolean\"}", "0", "at /: 0 is not of type boolean");
	check("{\"type\":[\"integer\",\"string\"]}", "\"x\"", NULL);
	check("{\"type\":[\"integer\",\"string\"]}", "2.5", "at /: 2.5 is not of type string or integer");
	check("{\"type\":[\"integer\",\"null\"]}", "{}", "at /: {} is not of type null or integer");
	check("{\"type\":\"string\"}", "\"a\\nb\\\"c\"", NULL);
	check("{\"type\":\"number\"}", "\"a\\nb\"",
	      "at /: \"a\\nb\" is not of type number"); /* escaped: one line */
	refused("{\"type\":\"float\"}",
		"schema at /: \"type\" must name null, boolean, object, array, number, string or integer");
	refused("{\"type\":[]}", "schema at /: \"type\" must not be an empty array");
}

static void test_enum_const(void **state)
{
	(void)state;
	check("{\"enum\":[1,\"a\",null,[1,2],{\"k\":1}]}", "1.0", NULL);
	check("{\"enum\":[1,\"a\",null,[1,2],{\"k\":1}]}", "null", NULL);
	check("{\"enum\":[1,\"a\",null,[1,2],{\"k\":1}]}", "[1,2.0]", NULL);
	check("{\"enum\":[1,\"a\",null,[1,2],{\"k\":1}]}", "{\"k\":1}", NULL);
	check("{\"enum\":[1,\"a\",null,[1,2],{\"k\":1}]}", "[2,1]",
	      "at /: [2,1] is not one of the allowed values");
	check("{\"enum\":[false]}", "0", "at /: 0 is not one of the allowed values");
	check("{\"const\":{\"a\":[1,{\"b\":null}],\"c\":2}}", "{\"c\":2.0,\"a\":[1,{\"b\":null}]}", NULL);
	check("{\"const\":\"x\"}", "\"y\"", "at /: \"y\" is not the required value \"x\"");
	check("{\"const\":null}", "false", "at /: false is not the required value null");
	check("{\"const\":{\"a\":[1,\"x\\ny\"]}}", "{\"a\":[1]}",
	      "at /: {\"a\":[1]} is not the required value {\"a\":[1,\"x\\ny\"]}");
	check("{\"const\":0}",
	      "[\"0123456789\",\"0123456789\",\"0123456789\",\"0123456789\",\"0123456789\",\"0123456789\"]",
	      "at /: [\"0123456789\",\"0123456789\",\"0123456789\",\"0123456789\",\"012345... is not the "
	      "required value 0");
	refused("{\"enum\":1}", "schema at /: \"enum\" must be an array");
}

static void test_numbers(void **state)
{
	(void)state;
	check("{\"minimum\":2}", "2", NULL);
	check("{\"minimum\":2}", "1.5", "at /: 1.5 is less than the minimum 2");
	check("{\"maximum\":2.5}", "2.5", NULL);
	check("{\"exclusiveMinimum\":2}", "2", "at /: 2 is not more than the exclusive minimum 2");
	check("{\"exclusiveMinimum\":2}", "2.0001", NULL);
	check("{\"exclusiveMaximum\":3}", "3", "at /: 3 is not less than the exclusive maximum 3");
	check("{\"exclusiveMaximum\":3}", "2.9", NULL);
	check("{\"maximum\":3}", "\"9\"", NULL); /* numeric keywords skip other types */
	check("{\"multipleOf\":0.01}", "19.99", NULL);
	check("{\"multipleOf\":2}", "7", "at /: 7 is not a multiple of 2");
	check("{\"multipleOf\":0.1}", "0.30000000000000004", NULL);
	check("{\"type\":\"integer\",\"multipleOf\":0.123456789}", "1e308",
	      "at /: 1e+308 is not a multiple of 0.123456789");
	refused("{\"multipleOf\":0}", "schema at /: \"multipleOf\" must be more than 0");
	refused("{\"maximum\":null}", "schema at /: \"maximum\" must be a number");
	refused("{\"exclusiveMaximum\":true}",
		"schema at /: \"exclusiveMaximum\" must be a number"); /* draft 4's form */
}

static void test_strings(void **state)
{
	(void)state;
	/* code points, not bytes: e-acute is 2 bytes, the emoji 4 */
	check("{\"maxLength\":1}", "\"\\u00e9\"", NULL);
	check("{\"maxLength\":1}", "\"\xf0\x9f\x92\xa9\"", NULL);
	check("{\"minLength\":2}", "\"\xf0\x9f\x92\xa9\"",
	      "at /: \"\xf0\x9f\x92\xa9\" is shorter than the minimum length 2");
	check("{\"maxLength\":2}", "\"abc\"", "at /: \"abc\" is longer than the maximum length 2");
	check("{\"pattern\":\"^[a-z]+\\\\.png$\"}", "\"cat.png\"", NULL);
	check("{\"pattern\":\"^[a-z]+\\\\.png$\"}", "\"catXpng\"",
	      "at /: \"catXpng\" does not match the pattern \"^[a-z]+\\\\.png$\"");
	check("{\"pattern\":\"b+\"}", "\"abbc\"", NULL);     /* unanchored search */
	check("{\"pattern\":\"^.$\"}", "\"\\u00e9\"", NULL); /* . is one character */
	check("{\"pattern\":\"^\\\\d{3}-\\\\w+$\"}", "\"123-ab_9\"", NULL);
	check("{\"pattern\":\"^\\\\d{3}-\\\\w+$\"}", "\"12a-ab\"",
	      "at /: \"12a-ab\" does not match the pattern \"^\\\\d{3}-\\\\w+$\"");
	refused("{\"minLength\":-1}", "schema at /: \"minLength\" must be a non-negative integer");
	refused("{\"minLength\":1.5}", "schema at /: \"minLength\" must be a non-negative integer");
	refused("{\"properties\":{\"a\":{\"pattern\":\"(?<=x)y\"}}}",
		"schema at /properties/a: \"pattern\" \"(?<=x)y\" cannot be used: lookbehind (?<= is not "
		"supported");
	refused(
	    "{\"pattern\":\"(a)\\\\1\"}",
	    "schema at /: \"pattern\" \"(a)\\\\1\" cannot be used: backreferences (\\1) are not supported");
	refused("{\"pattern\":\"(\"}", "schema at /: \"pattern\" \"(\" cannot be used: unclosed group (");
	refused("{\"pattern\":7}", "schema at /: \"pattern\" must be a string");
}

static void test_arrays(void **state)
{
	(void)state;
	check("{\"items\":{\"type\":\"integer\"}}", "[1,2,\"3\"]", "at /2: \"3\" is not of type integer");
	check("{\"items\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}", "[\"a\",1,{}]", NULL);
	check("{\"items\":[{\"type\":\"string\"}],\"additionalItems\":false}", "[\"a\",1]",
	      "at /: has 2 items, at most 1 allowed (additionalItems is false)");
	check("{\"items\":[{\"type\":\"string\"}],\"additionalItems\":{\"type\":\"integer\"}}",
	      "[\"a\",1,true]", "at /2: true is not of type integer");
	check("{\"additionalItems\":false}", "[1,2]", NULL); /* no items array: draft 7 ignores it */
	check("{\"minItems\":2}", "[1]", "at /: has 1 items, fewer than the minimum 2");
	check("{\"maxItems\":1}", "[1,2]", "at /: has 2 items, more than the maximum 1");
	check("{\"uniqueItems\":true}", "[1,{\"a\":1},1.0]",
	      "at /: items 0 and 2 are equal, but uniqueItems is true");
	check("{\"uniqueItems\":true}", "[1,true,\"1\",[1],{\"a\":1},{\"a\":2}]", NULL);
	check("{\"contains\":{\"const\":3}}", "[1,2,3]", NULL);
	check("{\"contains\":{\"const\":3}}", "[]", "at /: no item matches the schema under contains");
	check("{\"items\":{\"items\":{\"minimum\":0}}}", "[[0],[1,-1]]",
	      "at /1/1: -1 is less than the minimum 0");
	refused("{\"items\":[{},5]}", "schema at /items/1: a schema must be an object or a boolean");
	refused("{\"uniqueItems\":1}", "schema at /: \"uniqueItems\" must be true or false");
}

static void test_objects(void **state)
{
	(void)state;
	const char *s = "{\"properties\":{\"a~b/"
			"c\":{\"type\":\"string\"}},\"patternProperties\":{\"^x-\":{\"type\":\"integer\"}},"
			"\"additionalProperties\":{\"type\":\"boolean\"}}";
	check(s, "{\"a~b/c\":\"s\",\"x-1\":1,\"other\":true}", NULL);
	check(s, "{\"a~b/c\":1}", "at /a~0b~1c: 1 is not of type string");
	check(s, "{\"x-1\":\"no\"}", "at /x-1: \"no\" is not of type integer");
	check(s, "{\"y\":1}", "at /y: 1 is not of type boolean");
	check("{\"minProperties\":1}", "{}", "at /: has 0 properties, fewer than the minimum 1");
	check("{\"maxProperties\":1}", "{\"a\":1,\"b\":2}",
	      "at /: has 2 properties, more than the maximum 1");
	check("{\"propertyNames\":{\"maxLength\":3}}", "{\"abc\":1,\"abcd\":2}",
	      "at /: property name \"abcd\" does not match propertyNames (at /: \"abcd\" is longer than the "
	      "maximum length 3)");
	check("{\"dependencies\":{\"a\":[\"b\"],\"c\":{\"required\":[\"d\"]}}}",
	      "{\"a\":1,\"b\":2,\"c\":3,\"d\":4}", NULL);
	check("{\"dependencies\":{\"a\":[\"b\"]}}", "{\"a\":1}",
	      "at /: property \"b\" is required when \"a\" is present");
	check("{\"dependencies\":{\"c\":{\"required\":[\"d\"]}}}", "{\"c\":1}",
	      "at /: missing required property \"d\"");
	check("{\"required\":[\"a\"]}", "[1]", NULL); /* object keywords skip other types */
	refused("{\"required\":[1]}", "schema at /: \"required\" must be an array of strings");
	refused("{\"patternProperties\":{\"[\\\\D]\":{}}}",
		"schema at /: \"patternProperties\" regex \"[\\\\D]\" cannot be used: \\D inside a class "
		"[...] is not supported");
	refused("{\"properties\":[]}", "schema at /: \"properties\" must be an object of schemas");
	/* what the schema or the instance holds never breaks the one line */
	refused("{\"properties\":{\"a\\nb\":{\"typ\\ne\":1}}}",
		"schema at /properties/a%0Ab: unknown keyword \"typ\\ne\" (supported: ...");
	check("{\"properties\":{\"a\\nb\":{\"required\":[\"x\\ty\"]}}}", "{\"a\\nb\":{}}",
	      "at /a%0Ab: missing required property \"x\\ty\"");
}

static void test_logic(void **state)
{
	(void)state;
	check("{\"allOf\":[{\"minimum\":1},{\"maximum\":3}]}", "4", "at /: 4 is more than the maximum 3");
	check("{\"anyOf\":[{\"type\":\"string\"},{\"minimum\":3}]}", "5", NULL);
	check("{\"anyOf\":[{\"type\":\"string\"},{\"minimum\":3}]}", "1",
	      "at /: matches none of the 2 schemas of anyOf (the first says: at /: 1 is not of type string)");
	check("{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":3}]}", "5",
	      "at /: matches 2 of the schemas of oneOf (#0 and #1), exactly one is allowed");
	check("{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":3}]}", "2", NULL);
	check("{\"not\":{\"type\":\"string\"}}", "\"s\"",
	      "at /: matches the schema under not, which it must not");
	check("{\"if\":{\"minimum\":10},\"then\":{\"multipleOf\":10},\"else\":{\"maximum\":5}}", "20", NULL);
	check("{\"if\":{\"minimum\":10},\"then\":{\"multipleOf\":10},\"else\":{\"maximum\":5}}", "15",
	      "at /: 15 is not a multiple of 10");
	check("{\"if\":{\"minimum\":10},\"then\":{\"multipleOf\":10},\"else\":{\"maximum\":5}}", "7",
	      "at /: 7 is more than the maximum 5");
	check("true", "{\"anything\":[1]}", NULL);
	check("false", "1", "at /: no value is allowed here (the schema is false)");
	check("{\"properties\":{\"a\":false}}", "{\"a\":1}",
	      "at /a: no value is allowed here (the schema is false)");
	refused("{\"anyOf\":[]}", "schema at /: \"anyOf\" must be a non-empty array of schemas");
	refused("{\"not\":\"x\"}", "schema at /not: a schema must be an object or a boolean");
}

static void test_refs(void **state)
{
	(void)state;
	const char *tree = "{\"type\":\"object\",\"properties\":{\"v\":{\"type\":\"integer\"},"
			   "\"kids\":{\"type\":\"array\",\"items\":{\"$ref\":\"#\"}}}}";
	check(tree, "{\"v\":1,\"kids\":[{\"v\":2,\"kids\":[]},{\"v\":3}]}", NULL);
	check(tree, "{\"v\":1,\"kids\":[{\"v\":2,\"kids\":[{\"v\":\"x\"}]}]}",
	      "at /kids/0/kids/0/v: \"x\" is not of type integer");
	/* pointer escapes: ~0 ~1 and %-encoding */
	const char *esc =
	    "{\"definitions\":{\"tilda~field\":{\"type\":\"integer\"},\"slash/field\":{\"type\":\"string\"},"
	    "\"percent%field\":{\"type\":\"boolean\"}},\"properties\":{"
	    "\"t\":{\"$ref\":\"#/definitions/tilda~0field\"},\"s\":{\"$ref\":\"#/definitions/slash~1field\"},"
	    "\"p\":{\"$ref\":\"#/definitions/percent%25field\"}}}";
	check(esc, "{\"t\":1,\"s\":\"x\",\"p\":true}", NULL);
	check(esc, "{\"p\":1}", "at /p: 1 is not of type boolean");
	check("{\"items\":[{\"type\":\"integer\"},{\"$ref\":\"#/items/0\"}]}", "[1,\"x\"]",
	      "at /1: \"x\" is not of type integer");
	check("{\"$ref\":\"#/definitions/"
	      "c\",\"definitions\":{\"a\":{\"type\":\"integer\"},\"b\":{\"$ref\":\"#/definitions/a\"},"
	      "\"c\":{\"$ref\":\"#/definitions/b\"}}}",
	      "\"a\"", "at /: \"a\" is not of type integer");
	check("{\"$ref\":\"#/definitions/f\",\"definitions\":{\"f\":false}}", "1",
	      "at /: no value is allowed here (the schema is false)");
	refused("{\"$ref\":\"other.json#/x\"}", "schema at /: $ref \"other.json#/x\" is not local (only refs "
						"into this schema, \"#...\", are supported)");
	refused("{\"properties\":{\"a\":{\"$ref\":\"#/definitions/nope\"}}}",
		"schema at /properties/a: $ref \"#/definitions/nope\" does not resolve");
	refused("{\"$ref\":\"#foo\"}", "schema at /: $ref \"#foo\" is not a JSON pointer (\"#\", "
				       "\"#/definitions/x\"; %-escapes and ~0 ~1 allowed)");
	refused("{\"$ref\":\"#/a~2\",\"definitions\":{}}",
		"schema at /: $ref \"#/a~2\": '~' must be followed by 0 or 1");
	refused(
	    "{\"$ref\":\"#/required\",\"required\":[]}",
	    "schema at /: \"required\" beside \"$ref\" would be ignored in draft 7; put both under allOf");
	refused("{\"definitions\":{\"r\":[\"x\"]},\"$ref\":\"#/definitions/r\"}",
		"schema at /definitions/r: a schema must be an object or a boolean");
	refused("{\"properties\":{\"a\":{\"$id\":\"#a\"}}}",
		"schema at /properties/a: \"$id\" is accepted only at the root (sub-schema base URIs are not "
		"supported)");
	refused("{\"definitions\":{\"unused\":{\"minimum\":\"x\"}}}",
		"schema at /definitions/unused: \"minimum\" must be a number");
	/* a $ref may reach a location the walk does not compile: it is compiled then, strictly */
	refused("{\"default\":{\"format\":1},\"$ref\":\"#/default\"}",
		"schema at /default: unknown keyword \"format\"...");
}

static void test_annotations_and_misc_refusals(void **state)
{
	(void)state;
	check("{\"$schema\":\"http://json-schema.org/draft-07/schema#\",\"$id\":\"http://example.com/"
	      "s\",\"title\":\"t\","
	      "\"description\":\"d\",\"$comment\":\"c\",\"default\":{\"x\":1},\"examples\":[1],"
	      "\"definitions\":{}}",
	      "1", NULL);
	refused("{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\"}",
		"schema at /: \"$schema\" must be \"http://json-schema.org/draft-07/schema#\": only draft 7 "
		"is supported");
	refused("{\"title\":1}", "schema at /: \"title\" must be a string");
	refused("{\"type\":\"string\",\"type\":\"integer\"}", "schema at /: keyword \"type\" appears twice");
	refused("\"string\"", "schema at /: a schema must be an object or a boolean");
	refused("{\"properties\":{\"a\":{\"$schema\":\"http://json-schema.org/draft-07/schema#\"}}}",
		"schema at /properties/a: \"$schema\" is accepted only at the root");
	char err[64];
	assert_null(jschema_compile(NULL, err, sizeof err));
	assert_string_equal(err, "schema at /: no schema (NULL)");
	struct jschema *s = compile("{}");
	assert_int_equal(jschema_validate(s, NULL, err, sizeof err), -1);
	assert_string_equal(err, "at /: no value");
	jschema_free(s);
	jschema_free(NULL);
	/* the unknown-keyword list is the whole table, cut to the buffer */
	char small[40];
	msg *m = parse("{\"format\":\"x\"}");
	assert_null(jschema_compile(m, small, sizeof small));
	assert_int_equal(strlen(small), sizeof small - 1);
	msg_free(m);
}

/* Cycles and exponential schemas end in an error, never a crash or a hang,
 * and "not" does not turn giving up into success. */
static void test_budgets(void **state)
{
	(void)state;
	check("{\"$ref\":\"#\"}", "1",
	      "at /: validation gave up: sub-schemas nested deeper than 64 levels (a $ref cycle?)");
	check("{\"not\":{\"$ref\":\"#\"}}", "1",
	      "at /: validation gave up: sub-schemas nested deeper than 64 levels (a $ref cycle?)");
	struct buf deep = BUF_INIT;
	for (int i = 0; i < 200; i++)
		buf_adds(&deep, "{\"a\":");
	buf_adds(&deep, "1");
	for (int i = 0; i < 200; i++)
		buf_adds(&deep, "}");
	struct jschema *s = compile("{\"properties\":{\"a\":{\"$ref\":\"#\"}}}");
	msg *inst = parse(deep.p);
	char err[256];
	assert_int_equal(jschema_validate(s, inst, err, sizeof err), -1);
	assert_non_null(strstr(err, "validation gave up: sub-schemas nested deeper than 64 levels"));
	assert_int_equal(strncmp(err, "at /a/a/a/", 10), 0);
	msg_free(inst);
	jschema_free(s);
	buf_release(&deep);
	/* 2^25 paths through allOf, 50 levels deep: the step budget stops it */
	struct buf sch = BUF_INIT;
	buf_adds(&sch, "{\"$ref\":\"#/definitions/d0\",\"definitions\":{");
	for (int i = 0; i < 25; i++)
		buf_addf(&sch,
			 "\"d%d\":{\"allOf\":[{\"$ref\":\"#/definitions/d%d\"},{\"$ref\":\"#/definitions/"
			 "d%d\"}]},",
			 i, i + 1, i + 1);
	buf_adds(&sch, "\"d25\":{\"type\":\"integer\"}}}");
	s = compile(sch.p);
	inst = parse("1");
	assert_int_equal(jschema_validate(s, inst, err, sizeof err), -1);
	assert_string_equal(
	    err, "at /: validation gave up after 1000000 steps (the schema is too costly for this input)");
	msg_free(inst);
	jschema_free(s);
	buf_release(&sch);
}

/* ECMA-262 pattern, subject, expected answer. */
static const struct {
	const char *re, *s;
	int match;
} regex_cases[] = {
    {"a+", "xaay", 1},
    {"^a+$", "xaay", 0},
    {"^$", "", 1},
    {"\\d", "x5", 1},
    {"\\d", "x", 0},
    {"^\\D+$", "ab\xc3\xa9", 1},
    {"^\\D+$", "a1", 0},
    {"^\\w+$", "a_Z9", 1},
    {"^\\w+$", "a-b", 0},
    {"^\\W$", "\xc3\xa9", 1},
    {"\\s", "a b", 1},
    {"\\s", "ab", 0},
    {"^\\S+$", "ab", 1},
    {"^\\S+$", "a\tb", 0},
    {"^[^a]$", "\xc3\xa9", 1},
    {"^[^a]$", "a", 0},
    {"^[^a]$", "\n", 1},
    {"^.$", "\xe2\x82\xac", 1},
    {"^.$", "\n", 0},
    {"^..$", "\xc3\xa9", 0},
    {"^[\\]]$", "]", 1},
    {"^[\\^]$", "^", 1},
    {"^[\\^]$", "a", 0},
    {"^[a^]$", "^", 1},
    {"^[-a]$", "-", 1},
    {"^[a-]$", "-", 1},
    {"^[\\-]$", "-", 1},
    {"^[a\\-z]$", "b", 0},
    {"^[[]$", "[", 1},
    {"^[[:]+$", ":[", 1},
    {"^[[:alpha:]]$", "a]", 1},
    {"^[[:alpha:]]$", "b]", 0},
    {"^[[:alpha:]]$", "a", 0},
    {"^[\\d.]+$", "1.5", 1},
    {"^[\\d.]+$", "1,5", 0},
    {"^[\\\\]$", "\\", 1},
    {"^[^\\]^-]$", "x", 1},
    {"^[^\\]^-]$", "^", 0},
    {"^[^\\]^-]$", "-", 0},
    {"^[^\\]^-]$", "]", 0},
    {"^[\\x41-\\x43]+$", "ABC", 1},
    {"^\\u00e9+$", "\xc3\xa9\xc3\xa9", 1},
    {"^\xc3\xa9+$", "\xc3\xa9\xc3\xa9", 1},
    {"^\xc3\xa9+$", "\xc3\xa9\xa9", 0},
    {"(?:ab)+c", "ababc", 1},
    {"^(a|b)*?c$", "abac", 1},
    {"^a{2,3}$", "aaa", 1},
    {"^a{2,3}$", "aaaa", 0},
    {"^a{2}$", "aa", 1},
    {"^a{,2}$", "a{,2}", 1},
    {"^x{$", "x{", 1},
    {"^}$", "}", 1},
    {"^]$", "]", 1},
    {"\\bfoo\\b", "a foo", 1},
    {"\\bfoo\\b", "afoo", 0},
    {"\\Bfoo", "afoo", 1},
    {"^\\.\\*\\+\\?\\(\\)\\[\\{\\|\\^\\$\\/$", ".*+?()[{|^$/", 1},
    {"^\\t\\n$", "\t\n", 1},
    {"^\\cJ$", "\n", 1},
    {"^a|b$", "xb", 1},
    {"^(|a)$", "", 1},
    {"[\\b]", "\b", 1},
    {"^(\\w{40}){47}$", "x", 0}, /* just under the size limit */
    {"^a{1000}$", "a", 0},
    {"^[\\s]$", "\v", 1},
};

static const struct {
	const char *re, *why;
} regex_refusals[] = {
    {"(?=a)", "lookahead (?= is not supported"},
    {"(?!a)", "lookahead (?! is not supported"},
    {"(?<!a)b", "lookbehind (?<! is not supported"},
    {"(?<n>a)", "named groups (?<name> are not supported"},
    {"(a)\\1", "backreferences (\\1) are not supported"},
    {"\\k<n>", "named backreferences (\\k) are not supported"},
    {"\\p{L}", "Unicode property escapes (\\p) are not supported"},
    {"\\0", "\\0 (NUL) is not supported"},
    {"\\a", "unknown escape \\a"},
    {"[\\W]", "\\W inside a class [...] is not supported"},
    {"[\xc3\xa9]", "non-ASCII characters inside a class [...] are not supported"},
    {"[]", "the empty class [] never matches"},
    {"[ab", "unterminated character class ["},
    {"*a", "the quantifier * follows nothing it could repeat"},
    {"a**", "the quantifier * follows nothing it could repeat"},
    {"a{3,2}", "the quantifier {3,2} is out of order"},
    {"a{1001}", "repeat counts above 1000 are not supported"},
    {"((a{100}){100}){100}", "the pattern is too large once its repetitions are expanded"},
    {"(\\w{98}){99}", "the pattern is too large once its repetitions are expanded"},
    {"a)", "unmatched )"},
    {"(a", "unclosed group ("},
    {"a\\", "the pattern ends in a lone backslash"},
    {"[z-a]", "range out of order in [...]"},
    {"[\\d-z]", "a class escape cannot end a range in [...]"},
    {"\\x4", "\\x needs 2 hex digits"},
    {"\\ud83d", "surrogate escapes \\uD83D are not supported"},
    {"\xff", "the pattern is not valid UTF-8"},
    {"(?i)a", "(? must be followed by :"},
};

static void test_regex(void **state)
{
	(void)state;
	char err[256];
	for (size_t i = 0; i < sizeof regex_cases / sizeof regex_cases[0]; i++) {
		struct jsregex re;
		if (jsregex_compile(&re, regex_cases[i].re, err, sizeof err))
			fail_msg("pattern %s refused: %s", regex_cases[i].re, err);
		int got = jsregex_search(&re, regex_cases[i].s);
		jsregex_free(&re);
		if (got != regex_cases[i].match)
			fail_msg("pattern %s on \"%s\": %s, expected %s", regex_cases[i].re, regex_cases[i].s,
				 got ? "match" : "no match", regex_cases[i].match ? "match" : "no match");
	}
	for (size_t i = 0; i < sizeof regex_refusals / sizeof regex_refusals[0]; i++) {
		struct jsregex re;
		err[0] = '\0';
		if (jsregex_compile(&re, regex_refusals[i].re, err, sizeof err) == 0) {
			jsregex_free(&re);
			fail_msg("pattern %s accepted, expected: %s", regex_refusals[i].re,
				 regex_refusals[i].why);
		}
		if (strcmp(err, regex_refusals[i].why) != 0)
			fail_msg("pattern %s:\n   got: %s\n  want: %s", regex_refusals[i].re, err,
				 regex_refusals[i].why);
	}
	/* the translation of a class puts POSIX's special members where they are literal */
	struct buf out = BUF_INIT;
	assert_int_equal(jsregex_translate(&out, "[-\\]a-d^[]", err, sizeof err), 0);
	assert_string_equal(out.p, "([]a-d[-]|\\^)");
	buf_release(&out);
}

/* ---- the official test suite ---- */

/* Groups of the suite's draft 7 files that jschema refuses to compile, and
 * why; each must still be refused (a group that starts compiling has to be
 * moved out of this list, and its cases then count). */
static const struct {
	const char *file, *group, *why;
} suite_refused[] = {
    {"definitions.json", "valid definition", "remote $ref to the draft 7 meta-schema"},
    {"definitions.json", "invalid definition", "remote $ref to the draft 7 meta-schema"},
    {"ref.json", "escaped pointer ref",
     "its root has members \"tilda~field\" etc. that are no keywords "
     "(the same pointers are tested in test_refs under definitions)"},
    {"ref.json", "ref overrides any sibling keywords",
     "maxItems beside $ref (draft 7 ignores it; we refuse)"},
    {"ref.json", "remote ref, containing refs itself", "remote $ref"},
    {"ref.json", "Recursive references between schemas", "$id in a sub-schema and a relative $ref"},
    {"refRemote.json", "remote ref", "remote $ref"},
    {"refRemote.json", "fragment within remote ref", "remote $ref"},
    {"refRemote.json", "ref within remote ref", "remote $ref"},
    {"refRemote.json", "base URI change", "$id in a sub-schema, remote $ref"},
    {"refRemote.json", "base URI change - change folder", "remote $ref"},
    {"refRemote.json", "base URI change - change folder in subschema", "remote $ref"},
    {"refRemote.json", "root ref in remote ref", "remote $ref"},
};

struct suite_count {
	int files, cases, passed, groups_refused, cases_refused, problems;
};

static int expected_refusal(const char *file, const char *group)
{
	for (size_t i = 0; i < sizeof suite_refused / sizeof suite_refused[0]; i++)
		if (strcmp(suite_refused[i].file, file) == 0 && strcmp(suite_refused[i].group, group) == 0)
			return 1;
	return 0;
}

static void suite_group(struct suite_count *sc, const char *file, const msg *g)
{
	const char *desc = msg_get_str(g, "description");
	char err[512];
	struct jschema *s = jschema_compile(msg_get(g, "schema"), err, sizeof err);
	int want_refusal = expected_refusal(file, desc);
	if (!s) {
		sc->groups_refused++;
		sc->cases_refused += (int)msg_size(msg_get(g, "tests"));
		if (!want_refusal) {
			printf("PROBLEM %s / %s: refused: %s\n", file, desc, err);
			sc->problems++;
		}
		return;
	}
	if (want_refusal) {
		printf("PROBLEM %s / %s: compiles, but is listed as refused\n", file, desc);
		sc->problems++;
	}
	for (const msg *t = msg_child(msg_get(g, "tests")); t; t = msg_next(t)) {
		int want_valid = msg_get_bool(t, "valid", -1);
		int valid = jschema_validate(s, msg_get(t, "data"), err, sizeof err) == 0;
		sc->cases++;
		if (valid == want_valid) {
			sc->passed++;
		} else {
			printf("PROBLEM %s / %s / %s: %s, expected %s (%s)\n", file, desc,
			       msg_get_str(t, "description"), valid ? "valid" : "invalid",
			       want_valid ? "valid" : "invalid", valid ? "" : err);
			sc->problems++;
		}
	}
	jschema_free(s);
}

static void suite_file(struct suite_count *sc, const char *dir, const char *name)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	struct buf b = BUF_INIT;
	char chunk[4096];
	size_t got;
	while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_add(&b, chunk, got);
	fclose(f);
	char err[128];
	msg *groups = msg_parse(b.p, b.len, err, sizeof err);
	buf_release(&b);
	if (!groups)
		fail_msg("%s: %s", path, err);
	sc->files++;
	for (const msg *g = msg_child(groups); g; g = msg_next(g))
		suite_group(sc, name, g);
	msg_free(groups);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_official_suite(void **state)
{
	(void)state;
	DIR *d = opendir(SUITE_DIR);
	if (!d)
		fail_msg("%s is missing: install Debian's json-schema-test-suite (bash tests/deps.sh)",
			 SUITE_DIR);
	char *names[256];
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL && n < 256) {
		size_t len = strlen(de->d_name);
		if (len > 5 &&
		    strcmp(de->d_name + len - 5, ".json") == 0) /* optional/ is a directory: skipped */
			names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof names[0], name_cmp);
	struct suite_count sc = {0};
	for (size_t i = 0; i < n; i++) {
		suite_file(&sc, SUITE_DIR, names[i]);
		free(names[i]);
	}
	/* of optional/, the files whose keywords we fully support; the others
	 * test "format" and "content*", which are refused */
	suite_file(&sc, SUITE_DIR, "optional/bignum.json");
	suite_file(&sc, SUITE_DIR, "optional/zeroTerminatedFloats.json");
	printf("jschema: draft7 %d of %d cases passed in %d files (%d groups with %d cases refused: "
	       "remote or sibling $ref, $id below the root, non-keyword members)\n",
	       sc.passed, sc.cases, sc.files, sc.groups_refused, sc.cases_refused);
	assert_int_equal(sc.problems, 0);
	assert_true(sc.files >= 30 && sc.cases >= 380); /* the suite was really there */
	assert_int_equal(sc.groups_refused, (int)(sizeof suite_refused / sizeof suite_refused[0]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_brief_examples), cmocka_unit_test(test_type),
	    cmocka_unit_test(test_enum_const),	   cmocka_unit_test(test_numbers),
	    cmocka_unit_test(test_strings),	   cmocka_unit_test(test_arrays),
	    cmocka_unit_test(test_objects),	   cmocka_unit_test(test_logic),
	    cmocka_unit_test(test_refs),	   cmocka_unit_test(test_annotations_and_misc_refusals),
	    cmocka_unit_test(test_budgets),	   cmocka_unit_test(test_regex),
	    cmocka_unit_test(test_official_suite),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
