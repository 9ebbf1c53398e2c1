/* SPDX-License-Identifier: MIT */
/*
 * test_container: container runtimes as templates (share/runtime.c) and the
 * container step of the exec path (worker/container.c), without forking:
 * the built-in table, expansion of every placeholder (volumes read-only and
 * not, variables, working directory, a command with spaces and quotes that
 * stays one word each), bad templates and bad container objects with their
 * messages, a site file that adds a runtime, replaces a built-in and names
 * the default, and is re-read when it changes; the step's choices (none,
 * named, default, unknown, missing image).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "container.h"
#include "job.h"
#include "msg.h"
#include "runtime.h"

static char dir[64];

static msg *json(const char *text)
{
	char err[120];
	msg *m = msg_parse(text, strlen(text), err, sizeof err);
	assert_non_null(m);
	return m;
}

/* argv joined with '|' (to compare whole words at once). */
static char *joined(char **argv)
{
	static char out[2048];
	size_t m = 0;
	out[0] = '\0';
	for (size_t i = 0; argv[i]; i++)
		m += (size_t)snprintf(out + m, sizeof out - m, "%s%s", i ? "|" : "", argv[i]);
	return out;
}

static char *expand(const char *rt_name, const char *container, char *const *cmd, char *err, size_t n)
{
	msg *c = json(container);
	char why[300];
	assert_int_equal(runtime_container_check(c, why, sizeof why), 0);
	char **argv = runtime_expand(runtimes_find(NULL, rt_name), c, cmd, err, n);
	msg_free(c);
	if (!argv)
		return NULL;
	static char keep[2048];
	snprintf(keep, sizeof keep, "%s", joined(argv));
	free(argv);
	return keep;
}

static void test_builtins(void **state)
{
	(void)state;
	assert_int_equal(runtime_builtins_check(), 0);
	const char *order[] = {"apptainer", "singularity", "ch-run", "podman", "bwrap"};
	for (size_t i = 0; i < 5; i++)
		assert_string_equal(runtime_builtin(i)->name, order[i]);
	assert_null(runtime_builtin(5));
	assert_null(runtimes_find(NULL, "docker"));
	char names[200];
	runtimes_names(NULL, names, sizeof names);
	assert_string_equal(names, "apptainer, bwrap, ch-run, podman, singularity");
}

static void test_expand(void **state)
{
	(void)state;
	char *cmd[] = {"sh", "-c", "echo 'a b' \"$X\"; exit 3", NULL};
	char err[300];
	const char *c = "{\"image\":\"/img/x y\",\"workdir\":\"/app\",\"volumes\":{\"/h/d\":\"/data\","
			"\"/h/r\":{\"bind\":\"/ro\",\"mode\":\"ro\"}},\"env\":{\"K\":\"v w\",\"E\":\"\"}}";
	assert_string_equal(expand("apptainer", c, cmd, err, sizeof err),
			    "apptainer|exec|--pwd|/app|--bind|/h/d:/data|--bind|/h/r:/ro:ro|--env|K=v w|--env|E=|"
			    "/img/x y|sh|-c|echo 'a b' \"$X\"; exit 3");
	assert_string_equal(expand("bwrap", c, cmd, err, sizeof err),
			    "bwrap|--ro-bind|/img/x y|/|--dev|/dev|--proc|/proc|--tmpfs|/tmp|--unshare-pid|"
			    "--die-with-parent|--chdir|/app|--bind|/h/d|/data|--ro-bind|/h/r|/ro|--setenv|K|v w|"
			    "--setenv|E||sh|-c|echo 'a b' \"$X\"; exit 3");
	assert_string_equal(expand("podman", "{\"image\":\"alpine\"}", cmd, err, sizeof err),
			    "podman|run|--rm|--init|--cgroups=split|--network=host|-e|MTSLURM_JOB_ID|-e|MTSLURM_ATTEMPT|-e|"
			    "MTSLURM_WORKER|-e|MTSLURM_RUN_DIR|alpine|sh|-c|echo 'a b' \"$X\"; exit 3");
	char *direct[] = {"./sim", "--seed", "7", NULL};
	assert_string_equal(expand("ch-run", "{\"image\":\"/i\",\"env\":{\"A\":\"$B\"}}", direct, err, sizeof err),
			    "ch-run|--env-no-expand|--set-env=A=$B|/i|--|./sim|--seed|7");
	/* ch-run has no read-only bind: said, not silently read-write */
	assert_null(expand("ch-run", "{\"image\":\"/i\",\"volumes\":{\"/a\":{\"bind\":\"/b\",\"mode\":\"ro\"}}}",
			   direct, err, sizeof err));
	assert_string_equal(err, "runtime ch-run cannot mount a read-only volume (it has no volume_ro template)");
}

static void test_check_template(void **state)
{
	(void)state;
	char err[300];
	struct runtime r = {"t", "run {image} {command}", "-v {src}:{dst}", NULL, "-e {key}={value}", "-w {dir}"};
	assert_int_equal(runtime_check(&r, err, sizeof err), 0);
	r.command = "run {image} {command} {command}";
	assert_int_equal(runtime_check(&r, err, sizeof err), -1);
	assert_non_null(strstr(err, "exactly one {command}"));
	r.command = "run {command}";
	assert_int_equal(runtime_check(&r, err, sizeof err), -1);
	r.command = "run --x={volumes} {image} {command}";
	assert_int_equal(runtime_check(&r, err, sizeof err), -1);
	assert_non_null(strstr(err, "unknown placeholder {volumes}"));
	assert_non_null(strstr(err, "words of their own"));
	r.command = "run docker://{image} {command}";
	assert_int_equal(runtime_check(&r, err, sizeof err), 0);
	r.volume = "-v {src}:{dest}";
	assert_int_equal(runtime_check(&r, err, sizeof err), -1);
	assert_string_equal(err, "runtime t, template volume: unknown placeholder {dest} (known here: {src} {dst})");
	r.volume = "-v {src";
	assert_int_equal(runtime_check(&r, err, sizeof err), -1);
	assert_non_null(strstr(err, "unclosed {"));
}

static void test_check_container(void **state)
{
	(void)state;
	const struct {
		const char *c, *why;
	} bad[] = {
		{"\"x\"", "\"container\" must be an object"},
		{"{}", "\"container\" needs \"image\""},
		{"{\"image\":\"\"}", "\"container\" needs \"image\""},
		{"{\"image\":\"i\",\"workdir\":\"app\"}", "\"workdir\" must be an absolute path"},
		{"{\"image\":\"i\",\"runtime\":3}", "\"runtime\" must be a runtime's name"},
		{"{\"image\":\"i\",\"volumes\":{\"rel\":\"/d\"}}", "volume \"rel\""},
		{"{\"image\":\"i\",\"volumes\":{\"/a\":{\"bind\":\"/d\",\"mode\":\"rx\"}}}", "volume \"/a\""},
		{"{\"image\":\"i\",\"volumes\":[]}", "\"volumes\" must be an object"},
		{"{\"image\":\"i\",\"env\":{\"A=B\":\"c\"}}", "\"A=B\" does not"},
		{"{\"image\":\"i\",\"env\":{\"A\":1}}", "\"A\" does not"},
		{"{\"image\":\"i\",\"cwd\":\"/\"}", "unknown member \"cwd\""},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		msg *c = json(bad[i].c);
		char err[300] = "";
		assert_int_equal(runtime_container_check(c, err, sizeof err), -1);
		if (!strstr(err, bad[i].why))
			fail_msg("%s: got \"%s\", expected \"%s\"", bad[i].c, err, bad[i].why);
		msg_free(c);
	}
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_site(void **state)
{
	(void)state;
	char site[128], run[128], err[300];
	snprintf(site, sizeof site, "%s/site.json", dir);
	snprintf(run, sizeof run, "%s/runtimes.json", dir);
	struct runtimes *rt = runtimes_new(dir, site);
	assert_non_null(rt);
	assert_int_equal(runtimes_refresh(rt, err, sizeof err), 0); /* no files: built-ins only */
	assert_null(runtimes_default(rt));
	write_file(site, "{\"default\":\"bwrap\",\"runtimes\":{\"apptainer\":{\"command\":\"/opt/apptainer/bin/apptainer "
			 "exec --containall {image} {command}\"}}}");
	write_file(run, "{\"default\":\"mine\",\"runtimes\":{\"mine\":{\"command\":\"env A=1 run {env} {image} "
			"{command}\",\"env\":\"-e {key}\"}}}");
	assert_int_equal(runtimes_refresh(rt, err, sizeof err), 0);
	assert_string_equal(runtimes_default(rt), "mine"); /* RUN_DIR's file wins */
	assert_string_equal(runtimes_find(rt, "apptainer")->command,
			    "/opt/apptainer/bin/apptainer exec --containall {image} {command}");
	assert_non_null(runtimes_find(rt, "mine"));
	char names[200];
	runtimes_names(rt, names, sizeof names);
	assert_string_equal(names, "apptainer, bwrap, ch-run, podman, singularity, mine");
	/* a bad file: said once per refresh, the old definitions stay */
	sleep(0); /* mtime resolution is ns; the size changes anyway */
	write_file(run, "{\"runtimes\":{\"mine\":{\"command\":\"run {command}\"}}}");
	assert_int_equal(runtimes_refresh(rt, err, sizeof err), -1);
	assert_non_null(strstr(err, "runtimes.json: runtime mine, template command: needs {image}"));
	assert_non_null(runtimes_find(rt, "mine"));
	assert_int_equal(runtimes_refresh(rt, err, sizeof err), -1);
	write_file(run, "{\"runtimes\":{\"mine\":{\"command\":\"run {image} {command}\",\"mode\":\"x\"}}}");
	assert_int_equal(runtimes_refresh(rt, err, sizeof err), -1);
	assert_non_null(strstr(err, "\"mode\" is not one of command"));
	write_file(run, "not json");
	assert_int_equal(runtimes_refresh(rt, err, sizeof err), -1);
	assert_non_null(strstr(err, "is not JSON"));
	unlink(run);
	assert_int_equal(runtimes_refresh(rt, err, sizeof err), 0);
	assert_null(runtimes_find(rt, "mine"));
	assert_string_equal(runtimes_default(rt), "bwrap");
	runtimes_free(rt);
	unlink(site);
}

static struct job *job_with(const char *opts)
{
	msg *w = msg_new_object();
	msg_set_int(w, "id", 5);
	msg_set_str(w, "type", "exec");
	msg_set_str(w, "input", "true");
	if (opts)
		msg_add(w, "opts", json(opts));
	char err[100];
	struct job *j = job_new(w, NULL, err, sizeof err);
	msg_free(w);
	assert_non_null(j);
	return j;
}

static void test_step(void **state)
{
	(void)state;
	char site[128], why[400], opts[512];
	snprintf(site, sizeof site, "%s/none.json", dir);
	struct runtimes *rt = runtimes_new(dir, site);
	char *cmd[] = {"cat", "/etc/marker", NULL};
	char **argv;
	const char *name;
	struct job *j = job_with(NULL);
	assert_int_equal(container_wrap(rt, j, cmd, NULL, &argv, &name, why, sizeof why), 0);
	assert_null(argv);
	job_free(j);
	j = job_with("{\"res\":{\"note\":\"container\"}}"); /* the word, not the option */
	assert_int_equal(container_wrap(rt, j, cmd, NULL, &argv, &name, why, sizeof why), 0);
	assert_null(argv);
	job_free(j);
	snprintf(opts, sizeof opts, "{\"container\":{\"image\":\"%s\",\"runtime\":\"bwrap\"}}", dir);
	j = job_with(opts);
	assert_int_equal(container_wrap(rt, j, cmd, NULL, &argv, &name, why, sizeof why), 0);
	assert_string_equal(name, "bwrap");
	assert_string_equal(argv[0], "bwrap");
	assert_string_equal(argv[2], dir);
	free(argv);
	job_free(j);
	/* no runtime named, none on this PATH: said */
	snprintf(opts, sizeof opts, "{\"container\":{\"image\":\"%s\"}}", dir);
	j = job_with(opts);
	assert_int_equal(container_wrap(rt, j, cmd, "/nonexistent", &argv, &name, why, sizeof why), -1);
	assert_non_null(strstr(why, "no container runtime on this node"));
	/* ... and the first built-in that is on it */
	char bin[128], prog[160];
	snprintf(bin, sizeof bin, "%s/bin", dir);
	mkdir(bin, 0755);
	snprintf(prog, sizeof prog, "%s/podman", bin);
	write_file(prog, "#!/bin/sh\n");
	chmod(prog, 0755);
	snprintf(prog, sizeof prog, "%s/bwrap", bin);
	write_file(prog, "#!/bin/sh\n");
	chmod(prog, 0755);
	assert_int_equal(container_wrap(rt, j, cmd, bin, &argv, &name, why, sizeof why), 0);
	assert_string_equal(name, "podman");
	free(argv);
	job_free(j);
	j = job_with("{\"container\":{\"image\":\"/nonexistent/image\",\"runtime\":\"bwrap\"}}");
	assert_int_equal(container_wrap(rt, j, cmd, NULL, &argv, &name, why, sizeof why), -1);
	assert_string_equal(why, "container image /nonexistent/image: No such file or directory on this node");
	job_free(j);
	snprintf(opts, sizeof opts, "{\"container\":{\"image\":\"%s\",\"runtime\":\"docker\"}}", dir);
	j = job_with(opts);
	assert_int_equal(container_wrap(rt, j, cmd, NULL, &argv, &name, why, sizeof why), -1);
	assert_string_equal(why, "unknown container runtime \"docker\" (the job's \"runtime\"); known: apptainer, "
				 "bwrap, ch-run, podman, singularity");
	job_free(j);
	runtimes_free(rt);
}

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/test_container.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builtins),	cmocka_unit_test(test_expand),
		cmocka_unit_test(test_check_template), cmocka_unit_test(test_check_container),
		cmocka_unit_test(test_site),		cmocka_unit_test(test_step),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
