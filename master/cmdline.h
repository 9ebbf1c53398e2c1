/* SPDX-License-Identifier: MIT */
/*
 * cmdline: mtslurm-master's command line. The options are a name-sorted
 * table (share/nametab.h) of name, whether it takes a value (the next
 * argument) and a setter that checks the value into a master_cfg; main.c
 * only reports the one-line error and exits. A unit test (test_call)
 * checks the table's order with cmdline_check().
 */
#ifndef MTS_CMDLINE_H
#define MTS_CMDLINE_H

#include <stddef.h>

#include "master.h"

struct cmdline {
	struct master_cfg cfg; /* the master's settings, defaults where no option set them */
	const char *run_dir;   /* --run-dir (borrowed from argv), NULL: the default run directory */
	const char *log_level; /* --log-level as given (borrowed), NULL: not given */
	int help;              /* --help or -h was met: the arguments after it were not read */
	char http_host[256];   /* --http's host; cfg.http_host points here */
};

/* The text of --help. */
extern const char cmdline_usage[];

/* Read argv[1..argc-1] into *cl, which must not move while cl->cfg is in
 * use (cfg.http_host points into it). 0, or -1 with one line in err that
 * names the option and what it wants (without the program's name); the
 * first bad argument stops the reading. */
int cmdline_parse(struct cmdline *cl, int argc, char **argv, char *err, size_t n);

/* 0 if the options table is sorted by name without duplicates, else the
 * index of the first entry out of order. */
size_t cmdline_check(void);

#endif
