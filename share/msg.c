/* SPDX-License-Identifier: MIT */
/*
 * msg: the JSON layer, and the only file that includes cJSON. A `msg *` is a
 * `cJSON *` in disguise; the casts live here so that cJSON's ownership rules
 * (AddItemToObject takes ownership, GetObjectItem borrows, Print allocates)
 * are handled once, by code that knows them.
 */
#include "msg.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "msgpool.h"
#include "util.h"

#define J(m) ((cJSON *)(m))
#define CJ(m) ((const cJSON *)(m))
#define M(j) ((msg *)(j))

msg *msg_parse(const char *json, size_t len, char *err, size_t errlen)
{
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithLengthOpts(json, len, &end, 0);
	if (!j) {
		if (err && errlen) {
			size_t at = end && end >= json && end <= json + len ? (size_t)(end - json) : 0;
			char near[24];
			size_t n = len - at < sizeof near - 1 ? len - at : sizeof near - 1;
			for (size_t i = 0; i < n; i++) {
				unsigned char c = (unsigned char)json[at + i];
				near[i] = (c >= 32 && c < 127) ? (char)c : '?';
			}
			near[n] = '\0';
			snprintf(err, errlen, "bad JSON at byte %zu near '%s'", at, near);
		}
		return NULL;
	}
	/* Trailing bytes other than whitespace mean two values or garbage. */
	if (end) {
		while (end < json + len && (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t'))
			end++;
		if (end < json + len && *end != '\0') {
			if (err && errlen)
				snprintf(err, errlen, "bad JSON: trailing bytes at byte %zu", (size_t)(end - json));
			cJSON_Delete(j);
			return NULL;
		}
	}
	return M(j);
}

void msg_free(msg *m)
{
	if (m)
		cJSON_Delete(J(m));
}

msg *msg_new_object(void) { return M(cJSON_CreateObject()); }
msg *msg_new_array(void) { return M(cJSON_CreateArray()); }
msg *msg_new_str(const char *s) { return M(cJSON_CreateString(s ? s : "")); }
msg *msg_new_int(int64_t v) { return M(cJSON_CreateNumber((double)v)); }
msg *msg_new_raw(const char *json) { return M(cJSON_CreateRaw(json)); }

msg *msg_new_typed(const char *type)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	if (!cJSON_AddStringToObject(o, "t", type)) {
		cJSON_Delete(o);
		return NULL;
	}
	return M(o);
}

/* Set once, before any value exists, by msg_use_pool(). */
static int pool_on;

int msg_use_pool(void)
{
	if (pool_on)
		return 0;
	cJSON_Hooks h = {msgpool_alloc, msgpool_free};
	cJSON_InitHooks(&h);
	pool_on = 1;
	return 0;
}

char *msg_print(const msg *m)
{
	if (!m)
		return NULL;
	char *s = cJSON_PrintUnformatted(CJ(m));
	if (!s || !pool_on)
		return s;
	/* the caller frees with free(): hand out a malloc copy */
	char *c = strdup(s);
	cJSON_free(s);
	return c;
}

int msg_frame(const msg *m, struct buf *out)
{
	if (!m)
		return -1;
	char *s = cJSON_PrintUnformatted(CJ(m));
	if (!s)
		return -1;
	size_t n = strlen(s);
	unsigned char hdr[FRAME_HDR_BYTES];
	if (n > UINT32_MAX || buf_grow(out, FRAME_HDR_BYTES + n)) {
		cJSON_free(s);
		return -1;
	}
	frame_put_header(hdr, (uint32_t)n);
	buf_add(out, hdr, sizeof hdr);
	buf_add(out, s, n);
	cJSON_free(s);
	return 0;
}

msg *msg_get(const msg *m, const char *key)
{
	if (!m || !cJSON_IsObject(CJ(m)))
		return NULL;
	return M(cJSON_GetObjectItemCaseSensitive(CJ(m), key));
}

int msg_has(const msg *m, const char *key) { return msg_get(m, key) != NULL; }

const char *msg_get_str(const msg *m, const char *key)
{
	cJSON *v = J(msg_get(m, key));
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int msg_get_num(const msg *m, const char *key, double *out)
{
	cJSON *v = J(msg_get(m, key));
	if (!cJSON_IsNumber(v))
		return -1;
	*out = v->valuedouble;
	return 0;
}

int msg_to_int(const msg *m, int64_t *out)
{
	if (!msg_is_num(m))
		return -1;
	double d = CJ(m)->valuedouble;
	/* 2^63 is exact in a double; NaN fails every comparison */
	if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || d != floor(d))
		return -1;
	*out = (int64_t)d;
	return 0;
}

int msg_get_int(const msg *m, const char *key, int64_t *out)
{
	return msg_to_int(msg_get(m, key), out);
}

int msg_get_bool(const msg *m, const char *key, int dflt)
{
	cJSON *v = J(msg_get(m, key));
	if (!cJSON_IsBool(v))
		return dflt;
	return cJSON_IsTrue(v) ? 1 : 0;
}

const char *msg_type(const msg *m)
{
	const char *t = msg_get_str(m, "t");
	return t ? t : "";
}

int msg_is_object(const msg *m) { return m && cJSON_IsObject(CJ(m)); }
int msg_is_array(const msg *m) { return m && cJSON_IsArray(CJ(m)); }
int msg_is_str(const msg *m) { return m && cJSON_IsString(CJ(m)); }
int msg_is_num(const msg *m) { return m && cJSON_IsNumber(CJ(m)); }
const char *msg_str(const msg *m) { return msg_is_str(m) ? CJ(m)->valuestring : NULL; }
int64_t msg_int(const msg *m)
{
	int64_t v = 0;
	return msg_to_int(m, &v) == 0 ? v : 0;
}
double msg_num(const msg *m) { return msg_is_num(m) ? CJ(m)->valuedouble : 0; }
int msg_is_bool(const msg *m) { return m && cJSON_IsBool(CJ(m)); }
int msg_is_null(const msg *m) { return m && cJSON_IsNull(CJ(m)); }
int msg_bool(const msg *m) { return m && cJSON_IsTrue(CJ(m)); }

/* Objects compare as sets: every member of a has an equal one in b and the
 * sizes agree. O(n*m) per object, which is fine for the small values schemas
 * compare. Not cJSON_Compare: that one compares numbers with an epsilon
 * and objects with case-insensitive keys. */
static int equal_objects(const cJSON *a, const cJSON *b)
{
	if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b))
		return 0;
	for (const cJSON *x = a->child; x; x = x->next) {
		const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, x->string);
		if (!y || !msg_equal(M(x), M(y)))
			return 0;
	}
	return 1;
}

int msg_equal(const msg *a, const msg *b)
{
	if (!a || !b)
		return a == b;
	const cJSON *x = CJ(a), *y = CJ(b);
	if ((x->type & 0xFF) != (y->type & 0xFF))
		return 0;
	switch (x->type & 0xFF) {
	case cJSON_Number:
		return x->valuedouble == y->valuedouble;
	case cJSON_String:
	case cJSON_Raw:
		return x->valuestring && y->valuestring && strcmp(x->valuestring, y->valuestring) == 0;
	case cJSON_Array: {
		const cJSON *i = x->child, *j = y->child;
		for (; i && j; i = i->next, j = j->next)
			if (!msg_equal(M(i), M(j)))
				return 0;
		return !i && !j;
	}
	case cJSON_Object:
		return equal_objects(x, y);
	default: /* true, false, null: the type is the value */
		return 1;
	}
}

size_t msg_size(const msg *m)
{
	if (!m || !(cJSON_IsArray(CJ(m)) || cJSON_IsObject(CJ(m))))
		return 0;
	return (size_t)cJSON_GetArraySize(CJ(m));
}

msg *msg_at(const msg *m, size_t i)
{
	if (!m || i > (size_t)INT32_MAX)
		return NULL;
	return M(cJSON_GetArrayItem(CJ(m), (int)i));
}

msg *msg_child(const msg *m)
{
	if (!m || !(cJSON_IsArray(CJ(m)) || cJSON_IsObject(CJ(m))))
		return NULL;
	return M(CJ(m)->child);
}

msg *msg_next(const msg *m) { return m ? M(CJ(m)->next) : NULL; }
msg *msg_prev(const msg *m) { return m ? M(CJ(m)->prev) : NULL; }
const char *msg_key(const msg *m) { return m ? CJ(m)->string : NULL; }

/* Replace or add key -> item in object o; takes ownership of item. */
static int put(msg *m, const char *key, cJSON *item)
{
	if (!item)
		return -1;
	if (!m || !cJSON_IsObject(J(m))) {
		cJSON_Delete(item);
		return -1;
	}
	if (cJSON_GetObjectItemCaseSensitive(J(m), key))
		return cJSON_ReplaceItemInObjectCaseSensitive(J(m), key, item) ? 0 : (cJSON_Delete(item), -1);
	return cJSON_AddItemToObject(J(m), key, item) ? 0 : (cJSON_Delete(item), -1);
}

int msg_set_str(msg *m, const char *key, const char *v) { return put(m, key, cJSON_CreateString(v ? v : "")); }

int msg_set_strn(msg *m, const char *key, const char *v, size_t n)
{
	char *tmp = malloc(n + 1);
	if (!tmp)
		return -1;
	memcpy(tmp, v, n);
	tmp[n] = '\0';
	int r = msg_set_str(m, key, tmp);
	free(tmp);
	return r;
}

int msg_set_int(msg *m, const char *key, int64_t v) { return put(m, key, cJSON_CreateNumber((double)v)); }
int msg_set_num(msg *m, const char *key, double v) { return put(m, key, cJSON_CreateNumber(v)); }
int msg_set_bool(msg *m, const char *key, int v) { return put(m, key, cJSON_CreateBool(v)); }
int msg_set_null(msg *m, const char *key) { return put(m, key, cJSON_CreateNull()); }
int msg_set_raw(msg *m, const char *key, const char *json) { return put(m, key, cJSON_CreateRaw(json)); }
int msg_add(msg *m, const char *key, msg *child) { return child ? put(m, key, J(child)) : -1; }

int msg_push(msg *a, msg *child)
{
	if (!child)
		return -1;
	if (!a || !cJSON_IsArray(J(a))) {
		cJSON_Delete(J(child));
		return -1;
	}
	if (!cJSON_AddItemToArray(J(a), J(child))) {
		cJSON_Delete(J(child));
		return -1;
	}
	return 0;
}

msg *msg_take(msg *m, const char *key)
{
	if (!m || !cJSON_IsObject(J(m)))
		return NULL;
	return M(cJSON_DetachItemFromObjectCaseSensitive(J(m), key));
}

msg *msg_dup(const msg *m)
{
	return m ? M(cJSON_Duplicate(CJ(m), 1)) : NULL;
}
