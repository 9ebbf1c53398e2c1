/* SPDX-License-Identifier: MIT */
/*
 * web: lookup of the embedded dashboard files (see web.h).
 */
#include "web.h"

#include <string.h>

const struct web_asset *web_find(const char *path)
{
	if (!path)
		return NULL;
	if (strcmp(path, "/") == 0)
		path = "/index.html";
	for (size_t i = 0; i < web_nassets; i++)
		if (strcmp(web_assets[i].path, path) == 0)
			return &web_assets[i];
	return NULL;
}
