/* SPDX-License-Identifier: MIT */
/*
 * libbadfunc: functions that misbehave, for the tests of function hosts
 * (tests/sys/t0150-func-isolation.sh, tests/unit/test_func.c). Each has the
 * func executor's signature int fn(const char *input_json, char **output_json).
 *
 * segv      writes through a NULL pointer (SIGSEGV)
 * aborts    calls abort() (SIGABRT)
 * exits3    calls exit(3)
 * sleeps    sleeps the number of seconds in its input ("2" or {"s":2}), then
 *           returns 0 with output {"slept":S}
 * says      prints "hello from says <input>" on stdout and "warn from says"
 *           on stderr, returns 0 with output {"said":true}
 * forks     starts a child that sleeps 300 s (its pid is the output
 *           {"child":PID}) and returns 0: the host's group outlives the call
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int segv(const char *in, char **out);
int aborts(const char *in, char **out);
int exits3(const char *in, char **out);
int sleeps(const char *in, char **out);
int says(const char *in, char **out);
int forks(const char *in, char **out);

/* a real SIGSEGV also in the sanitizer build (UBSan would report the NULL
 * store and exit instead) */
__attribute__((no_sanitize("undefined"))) int segv(const char *in, char **out)
{
	(void)out;
	volatile int *p = NULL;
	*p = in ? (int)strlen(in) : 1;
	return 0;
}

int aborts(const char *in, char **out)
{
	(void)in;
	(void)out;
	fprintf(stderr, "aborts: giving up\n");
	abort();
}

int exits3(const char *in, char **out)
{
	(void)in;
	(void)out;
	exit(3);
}

static double number_in(const char *in)
{
	const char *p = in;
	while (*p && !(*p >= '0' && *p <= '9') && *p != '.')
		p++;
	return atof(p);
}

int sleeps(const char *in, char **out)
{
	double s = number_in(in ? in : "");
	usleep((useconds_t)(s * 1e6));
	char b[64];
	snprintf(b, sizeof b, "{\"slept\":%g}", s);
	*out = strdup(b);
	return 0;
}

int says(const char *in, char **out)
{
	printf("hello from says %s\n", in ? in : "");
	fprintf(stderr, "warn from says\n");
	*out = strdup("{\"said\":true}");
	return 0;
}

int forks(const char *in, char **out)
{
	(void)in;
	pid_t p = fork();
	if (p == 0) {
		execlp("sleep", "sleep", "300", (char *)NULL);
		_exit(127);
	}
	char b[64];
	snprintf(b, sizeof b, "{\"child\":%ld}", (long)p);
	*out = strdup(b);
	return 0;
}
