/* SPDX-License-Identifier: MIT */
/*
 * mjob: allocation of the master's in-memory job and small helpers shared by
 * the master modules (names of kinds and states, JSON string escaping).
 */
#include "mjob.h"

#include <stdlib.h>
#include <string.h>

struct mjob *mjob_new(const char *input, size_t input_len, const char *target, const char *cwd,
		      const char *env_json, uint32_t env_id, const char *opts_json)
{
	return mjob_new_res(input, input_len, target, cwd, env_json, env_id, opts_json, NULL);
}

struct mjob *mjob_new_res(const char *input, size_t input_len, const char *target, const char *cwd,
			  const char *env_json, uint32_t env_id, const char *opts_json, const struct mjob_res *res)
{
	size_t il = (env_id ? sizeof env_id : 0) + (res ? sizeof *res : 0);
	size_t tl = target ? strlen(target) + 1 : 0;
	size_t cl = cwd ? strlen(cwd) + 1 : 0;
	size_t el = env_json ? strlen(env_json) + 1 : 0;
	size_t ol = opts_json ? strlen(opts_json) + 1 : 0;
	if (!input)
		input_len = 0;
	if (input_len > UINT32_MAX - il - tl - cl - el - ol - 1)
		return NULL;
	struct mjob *j = malloc(sizeof *j + input_len + 1 + il + tl + cl + el + ol);
	if (!j)
		return NULL;
	memset(j, 0, sizeof *j);
	j->input_len = (uint32_t)input_len;
	if (input_len)
		memcpy(j->data, input, input_len);
	j->data[input_len] = '\0';
	size_t off = input_len + 1;
	if (env_id) {
		memcpy(j->data + off, &env_id, sizeof env_id);
		j->flags |= MJOB_F_ENV;
		off += sizeof env_id;
	}
	if (res) {
		memcpy(j->data + off, res, sizeof *res);
		j->flags |= MJOB_F_RES;
		off += sizeof *res;
	}
	const char *strs[] = {target, cwd, env_json, opts_json};
	const size_t lens[] = {tl, cl, el, ol};
	for (unsigned k = 0; k < 4; k++)
		if (lens[k]) {
			j->strs |= (uint8_t)(1u << k);
			memcpy(j->data + off, strs[k], lens[k]);
			off += lens[k];
		}
	return j;
}

const char *mjob_str(const struct mjob *j, unsigned which)
{
	if (!(j->strs & which))
		return NULL;
	const char *p = j->data + j->input_len + 1;
	if (j->flags & MJOB_F_ENV)
		p += sizeof(uint32_t);
	if (j->flags & MJOB_F_RES)
		p += sizeof(struct mjob_res);
	for (unsigned bit = 1; bit < which; bit <<= 1)
		if (j->strs & bit)
			p += strlen(p) + 1;
	return p;
}

void mjob_free(struct mjob *j)
{
	if (!j)
		return;
	free(j->dependents);
	free(j);
}

static const char *const kind_names[] = {"echo", "exec", "func", "typed"};
#define NKINDS (sizeof kind_names / sizeof kind_names[0])
static const char *const state_names[] = {"queued", "running", "completed", "failed", "cancelled"};

const char *mjob_kind_name(int kind)
{
	return kind >= 0 && kind < (int)NKINDS ? kind_names[kind] : "unknown";
}

int mjob_kind_parse(const char *type)
{
	for (int i = 0; type && i < (int)NKINDS; i++)
		if (strcmp(type, kind_names[i]) == 0)
			return i;
	return -1;
}

const char *mjob_state_name(int state)
{
	return state >= 0 && state < 5 ? state_names[state] : "unknown";
}

int mjob_state_parse(const char *name)
{
	for (int i = 0; name && i < 5; i++)
		if (strcmp(name, state_names[i]) == 0)
			return i;
	return -1;
}

