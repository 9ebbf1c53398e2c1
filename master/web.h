/* SPDX-License-Identifier: MIT */
/*
 * web: the dashboard's static files (master/web/: index.html, app.js,
 * style.css), compiled into the master. The build turns each file into a C
 * array (master/web/embed.sh writes $(BUILD)/gen/webassets.c, which defines
 * web_assets), so the binary serves the page with nothing read from disk
 * and nothing fetched from anywhere else.
 */
#ifndef MTS_WEB_H
#define MTS_WEB_H

#include <stddef.h>

struct web_asset {
	const char *path; /* "/index.html" */
	const char *type; /* Content-Type */
	const unsigned char *data;
	size_t len;
};

/* Defined by the generated webassets.c, sorted by path. */
extern const struct web_asset web_assets[];
extern const size_t web_nassets;

/* The file served at URL path path ("/" is "/index.html"), or NULL. */
const struct web_asset *web_find(const char *path);

#endif
