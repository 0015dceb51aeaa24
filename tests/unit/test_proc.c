/* test_proc.c - the program runner: exit codes, capture, caps, timeouts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "proc.h"

#define A(...) ((const char *const[]){ __VA_ARGS__, NULL })

struct run_row {
	const char *name;
	const char *const *argv;
	const char *cwd;
	int timeout_ms;
	size_t cap;
	const char *const *env;
	enum cv_err want;
	int want_exit;             /* checked when want == CV_OK */
	const char *want_out;      /* exact stdout, NULL: not checked */
	const char *want_err_sub;  /* substring of stderr, NULL: not checked */
	const char *want_error_sub;/* substring of res.error (CV_EEXEC) */
	size_t want_out_len;       /* 0: not checked */
	int truncated;             /* expect both streams truncated */
	double max_seconds;        /* 0: not checked */
};

static const struct run_row run_rows[] = {
	{ "stdout", A("echo", "hello"), NULL, 0, 0, NULL,
	  CV_OK, 0, "hello\n", NULL, NULL, 0, 0, 0 },
	{ "exit status and stderr",
	  A("sh", "-c", "echo out; echo oops >&2; exit 3"), NULL, 0, 0, NULL,
	  CV_OK, 3, "out\n", "oops", NULL, 0, 0, 0 },
	{ "working directory", A("pwd"), "/tmp", 0, 0, NULL,
	  CV_OK, 0, "/tmp\n", NULL, NULL, 0, 0, 0 },
	{ "stdin is /dev/null", A("cat"), NULL, 5000, 0, NULL,
	  CV_OK, 0, "", NULL, NULL, 0, 0, 2 },
	{ "environment addition", A("sh", "-c", "echo \"$CV_T1\"-\"$HOME\""),
	  NULL, 0, 0, A("CV_T1=yes", "HOME=/nowhere"),
	  CV_OK, 0, "yes-/nowhere\n", NULL, NULL, 0, 0, 0 },
	{ "missing program", A("cv-no-such-program-xyz", "arg"), NULL, 0, 0, NULL,
	  CV_EEXEC, -1, NULL, NULL, "not found", 0, 0, 0 },
	{ "missing directory", A("true"), "/nonexistent/cv-dir", 0, 0, NULL,
	  CV_EEXEC, -1, NULL, NULL, "/nonexistent/cv-dir", 0, 0, 0 },
	{ "timeout", A("sleep", "5"), NULL, 300, 0, NULL,
	  CV_ETIMEOUT, -1, "", NULL, NULL, 0, 0, 2 },
	/* Both pipes far over the cap at once: must neither deadlock nor grow. */
	{ "caps on both streams",
	  A("sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' a & "
	    "head -c 3000000 /dev/zero | tr '\\0' b >&2; wait"),
	  NULL, 20000, 1000000, NULL,
	  CV_OK, 0, NULL, NULL, NULL, 1000000, 1, 10 },
};

static void test_run_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < CV_ARRAY_LEN(run_rows); i++) {
		const struct run_row *w = &run_rows[i];
		struct cv_proc_opts o = { .cwd = w->cwd,
		    .timeout_ms = w->timeout_ms, .cap = w->cap, .env = w->env };
		struct cv_proc_result r;
		double t0 = cv_monotonic();
		enum cv_err e = cv_proc_run(w->argv, &o, &r);

		print_message("row %zu: %s\n", i, w->name);
		assert_int_equal(e, w->want);
		if (e == CV_OK)
			assert_int_equal(r.exit_code, w->want_exit);
		if (w->want_out)
			assert_string_equal(r.out, w->want_out);
		if (w->want_err_sub)
			assert_non_null(strstr(r.err, w->want_err_sub));
		if (w->want_error_sub) {
			assert_non_null(r.error);
			assert_non_null(strstr(r.error, w->want_error_sub));
		} else {
			assert_null(r.error);
		}
		if (w->want_out_len) {
			assert_int_equal(r.out_len, w->want_out_len);
			assert_int_equal(r.err_len, w->want_out_len);
			assert_int_equal(strlen(r.out), w->want_out_len);
		}
		assert_int_equal(r.out_truncated, w->truncated);
		assert_int_equal(r.err_truncated, w->truncated);
		if (w->max_seconds > 0)
			assert_true(cv_monotonic() - t0 < w->max_seconds);
		cv_proc_result_free(&r);
	}
}

/* A descriptor the caller left open without CLOEXEC must not reach the child. */
static void test_fds_closed(void **state)
{
	const char *const *argv = A("sh", "-c",
	    "if [ -e /proc/self/fd/57 ]; then echo leaked; else echo closed; fi");
	struct cv_proc_result r;
	int fd = open("/dev/null", O_RDONLY);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(dup2(fd, 57), 57);
	assert_int_equal(cv_proc_run(argv, NULL, &r), CV_OK);
	assert_string_equal(r.out, "closed\n");
	cv_proc_result_free(&r);
	close(57);
	close(fd);
}

static char proc_state(long pid)
{
	char path[64], buf[256], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return 'X';
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (p == NULL || (p = strrchr(buf, ')')) == NULL)
		return '?';
	return p[2];
}

/* A timeout kills the whole group, grandchildren included. */
static void test_timeout_kills_group(void **state)
{
	const char *const *argv = A("sh", "-c", "sleep 30 & echo $!; wait");
	struct cv_proc_opts o = { .timeout_ms = 300 };
	struct cv_proc_result r;
	struct timespec ts = { 0, 100 * 1000000 };
	long pid;
	char st;

	(void)state;
	assert_int_equal(cv_proc_run(argv, &o, &r), CV_ETIMEOUT);
	pid = strtol(r.out, NULL, 10);
	assert_true(pid > 0);
	nanosleep(&ts, NULL);
	st = proc_state(pid);
	assert_true(st == 'X' || st == 'Z');
	cv_proc_result_free(&r);
}

/* A caller that ignores SIGCHLD still gets the exit status, and keeps its
 * disposition. */
static void test_sigchld_ignored(void **state)
{
	struct cv_proc_result r;
	struct sigaction ign, now;

	(void)state;
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigaction(SIGCHLD, &ign, NULL);
	assert_int_equal(cv_proc_run(A("sh", "-c", "exit 4"), NULL, &r), CV_OK);
	assert_int_equal(r.exit_code, 4);
	cv_proc_result_free(&r);
	sigaction(SIGCHLD, NULL, &now);
	assert_true(now.sa_handler == SIG_IGN);
	ign.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &ign, NULL);
}

struct text_row {
	const char *in;
	size_t len;
	size_t max;
	const char *want;
};

static const struct text_row text_rows[] = {
	{ "hello", 5, 100, "hello" },
	{ "hello", 5, 3, "hel" },
	{ "h\xc3\xa9llo", 6, 2, "h\xc3\xa9" },
	{ "a\xffz", 3, 10, "a\xef\xbf\xbdz" },
	{ "a\0b", 3, 10, "a\xef\xbf\xbd" "b" },
	{ "\xe2\x82", 2, 10, "\xef\xbf\xbd\xef\xbf\xbd" },
	{ "\xed\xa0\x80", 3, 10, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
	{ "", 0, 10, "" },
};

static void test_text_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < CV_ARRAY_LEN(text_rows); i++) {
		char *t = cv_proc_text_dup(text_rows[i].in, text_rows[i].len,
		    text_rows[i].max);

		assert_string_equal(t, text_rows[i].want);
		free(t);
	}
}

static void test_trim(void **state)
{
	char *t = cv_proc_text_trim_dup("fatal: x\n\n", 10, 100);

	(void)state;
	assert_string_equal(t, "fatal: x");
	free(t);
	assert_int_equal(cv_proc_run(A(NULL), NULL, &(struct cv_proc_result){0}),
	    CV_EINVAL);
}

/* env_only: the child sees exactly the list given, nothing inherited. */
static void test_env_only(void **state)
{
	struct cv_proc_opts o = { .env = A("CV_ONLY=1"), .env_only = true };
	struct cv_proc_result r;

	(void)state;
	setenv("CV_INHERITED_SECRET", "leak", 1);
	assert_int_equal(cv_proc_run(A("env"), &o, &r), CV_OK);
	unsetenv("CV_INHERITED_SECRET");
	assert_string_equal(r.out, "CV_ONLY=1\n");
	cv_proc_result_free(&r);
}

/* opts.in: the child reads exactly those bytes, then EOF; a child that
 * never reads them does not hang us; more than CV_PROC_IN_MAX is refused
 * before anything runs. */
static void test_stdin_bytes(void **state)
{
	static char big[CV_PROC_IN_MAX + 1];
	struct cv_proc_opts o = { .in = "a\nb\0c", .in_len = 5,
	    .timeout_ms = 10000 };
	struct cv_proc_result r;

	(void)state;
	assert_int_equal(cv_proc_run(A("od", "-An", "-c"), &o, &r), CV_OK);
	assert_non_null(strstr(r.out, "a  \\n   b  \\0   c"));
	cv_proc_result_free(&r);
	assert_int_equal(cv_proc_run(A("true"), &o, &r), CV_OK);
	assert_int_equal(r.exit_code, 0);
	cv_proc_result_free(&r);
	memset(big, 'x', sizeof(big));
	o.in = big;
	o.in_len = CV_PROC_IN_MAX;
	assert_int_equal(cv_proc_run(A("wc", "-c"), &o, &r), CV_OK);
	assert_int_equal(atol(r.out), (long)CV_PROC_IN_MAX);
	cv_proc_result_free(&r);
	o.in_len = sizeof(big);
	assert_int_equal(cv_proc_run(A("wc", "-c"), &o, &r), CV_EINVAL);
	cv_proc_result_free(&r);
}

/* The soft limit on the /proc/<pid>/limits line named name, or -2. */
static long long limit_of(const char *limits, const char *name)
{
	const char *line = strstr(limits, name);
	char word[32];

	if (!line || sscanf(line + strlen(name), "%31s", word) != 1)
		return -2;
	return strcmp(word, "unlimited") == 0 ? -1 : atoll(word);
}

/* Limits are set in the child before exec. */
static void test_limits(void **state)
{
	struct cv_proc_limits lim = { .cpu_s = 7, .as_bytes = 1LL << 31,
	    .fsize_bytes = 1 << 20, .nproc = 500 };
	struct cv_proc_opts o = { .limits = &lim };
	struct cv_proc_result r;

	(void)state;
	assert_int_equal(cv_proc_run(A("cat", "/proc/self/limits"), &o, &r),
	    CV_OK);
	assert_int_equal(limit_of(r.out, "Max cpu time"), 7);
	assert_int_equal(limit_of(r.out, "Max address space"), 1LL << 31);
	assert_int_equal(limit_of(r.out, "Max file size"), 1 << 20);
	assert_int_equal(limit_of(r.out, "Max processes"), 500);
	cv_proc_result_free(&r);
}

/* kill_group: what the program left running in its group dies with it. */
static void test_kill_group_leftovers(void **state)
{
	const char *const *argv = A("sh", "-c",
	    "sleep 30 >/dev/null 2>&1 & echo $!");
	struct cv_proc_opts o = { .timeout_ms = 10000, .kill_group = true };
	struct cv_proc_result r;
	struct timespec ts = { 0, 20 * 1000000 };
	long pid;
	char st = '?';

	(void)state;
	assert_int_equal(cv_proc_run(argv, &o, &r), CV_OK);
	pid = strtol(r.out, NULL, 10);
	assert_true(pid > 0);
	for (int i = 0; i < 100; i++) {
		st = proc_state(pid);
		if (st == 'X' || st == 'Z')
			break;
		nanosleep(&ts, NULL);
	}
	assert_true(st == 'X' || st == 'Z');
	cv_proc_result_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_env_only),
		cmocka_unit_test(test_stdin_bytes),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_kill_group_leftovers),
		cmocka_unit_test(test_run_table),
		cmocka_unit_test(test_fds_closed),
		cmocka_unit_test(test_timeout_kills_group),
		cmocka_unit_test(test_sigchld_ignored),
		cmocka_unit_test(test_text_table),
		cmocka_unit_test(test_trim),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
