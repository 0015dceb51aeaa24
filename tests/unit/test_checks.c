/* test_checks.c - domain.md 3.3 checks as make targets (V46), run in a real
 * temporary git repository with a Makefile. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "checks.h"
#include "gitrepo.h"

static const char makefile[] =
    "lint:\n\t@echo lint ok\n"
    "test:\n\t@echo running; echo test failure >&2; exit 1\n"
    "test-integration:\n\t@sleep 5\n"
    "test-contract:\n\t@i=0; while [ $$i -lt 300 ]; do printf xxxxxxxxxx; i=$$((i+1)); done\n";

static char *repo;
static char *plain;

/* The name of a "NAME=value" string (static buffer). */
static const char *strndup_name(const char *setting)
{
	static char name[128];

	snprintf(name, sizeof(name), "%.*s", (int)strcspn(setting, "="),
	    setting);
	return name;
}

static int setup(void **state)
{
	(void)state;
	repo_env();
	repo = repo_new();
	repo_write(repo, "Makefile", makefile);
	repo_commit(repo, "makefile");
	plain = repo_tmpdir();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	repo_remove(repo);
	repo_remove(plain);
	return 0;
}

struct target_row {
	const char *check_type;
	const char *target;
};

static const struct target_row target_rows[] = {
	{ "lint", "lint" },
	{ "unit_tests", "test" },
	{ "integration_tests", "test-integration" },
	{ "security_scan", "security-scan" },
	{ "contract_tests", "test-contract" },
	{ "bogus", NULL },
	{ "", NULL },
	{ NULL, NULL },
};

static void test_target_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < CV_ARRAY_LEN(target_rows); i++) {
		const char *t = cv_check_make_target(target_rows[i].check_type);

		if (target_rows[i].target == NULL)
			assert_null(t);
		else
			assert_string_equal(t, target_rows[i].target);
	}
}

struct run_row {
	const char *name;
	int in_plain_dir;
	const char *check_type;
	int timeout_s;
	enum cv_err want;
	int passed;
	const char *details;       /* exact, or NULL */
	const char *details_sub;   /* substring, or NULL */
	size_t details_len;        /* 0: not checked */
	long long min_ms, max_ms;
};

static const struct run_row run_rows[] = {
	{ "passing target", 0, "lint", 300, CV_OK, 1, "lint ok\n", NULL, 0, 0, 5000 },
	/* V46: details from stderr when failed, not stdout. */
	{ "failing target", 0, "unit_tests", 300, CV_OK, 0, NULL, "test failure\n",
	  0, 0, 5000 },
	{ "timeout", 0, "integration_tests", 1, CV_OK, 0,
	  "Command 'make test-integration' timed out after 1 seconds", NULL, 0,
	  900, 3000 },
	{ "missing target", 0, "security_scan", 300, CV_OK, 0, NULL,
	  "No rule to make target 'security-scan'", 0, 0, 5000 },
	{ "details capped at 2000", 0, "contract_tests", 300, CV_OK, 1, NULL,
	  "xxxx", 2000, 0, 5000 },
	{ "no Makefile", 1, "lint", 300, CV_OK, 0, NULL, "No rule to make target",
	  0, 0, 5000 },
	/* V46: an unknown name runs nothing. */
	{ "unsupported", 0, "bogus", 300, CV_EINVAL, 0, NULL, NULL, 0, 0, 0 },
};

static void test_run_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < CV_ARRAY_LEN(run_rows); i++) {
		const struct run_row *w = &run_rows[i];
		json_t *res = NULL;
		const char *details;
		long long ms;

		print_message("row %zu: %s\n", i, w->name);
		assert_int_equal(cv_check_run(w->in_plain_dir ? plain : repo,
		    w->check_type, w->timeout_s, &res), w->want);
		if (w->want != CV_OK) {
			assert_null(res);
			continue;
		}
		assert_string_equal(json_string_value(json_object_get(res,
		    "check_type")), w->check_type);
		assert_int_equal(json_is_true(json_object_get(res, "passed")), w->passed);
		details = json_string_value(json_object_get(res, "details"));
		assert_non_null(details);
		if (w->details)
			assert_string_equal(details, w->details);
		if (w->details_sub)
			assert_non_null(strstr(details, w->details_sub));
		/* stdout of a failed check never leaks into details */
		if (!w->passed)
			assert_null(strstr(details, "running"));
		if (w->details_len)
			assert_int_equal(strlen(details), w->details_len);
		assert_true(json_is_integer(json_object_get(res, "duration_ms")));
		ms = json_integer_value(json_object_get(res, "duration_ms"));
		assert_true(ms >= w->min_ms && ms <= w->max_ms);
		assert_int_equal(json_object_size(res), 4);
		json_decref(res);
	}
}

/* make itself missing: passed false, details is the error text. */
static void test_make_missing(void **state)
{
	char *path = strdup(getenv("PATH"));
	json_t *res = NULL;

	(void)state;
	setenv("PATH", "/nonexistent-cv", 1);
	assert_int_equal(cv_check_run(repo, "lint", 300, &res), CV_OK);
	setenv("PATH", path, 1);
	free(path);
	assert_false(json_is_true(json_object_get(res, "passed")));
	assert_non_null(strstr(json_string_value(json_object_get(res, "details")),
	    "not found"));
	json_decref(res);
}

/* V46: all requested checks run in order, unknown names are skipped. */
static void test_checks_run(void **state)
{
	json_t *types = json_pack("[ssss]", "lint", "bogus", "unit_tests", "lint");
	json_t *results = NULL;
	const char *want_types[] = { "lint", "unit_tests", "lint" };
	const int want_passed[] = { 1, 0, 1 };
	size_t i;

	(void)state;
	assert_int_equal(cv_checks_run(repo, types, 300, &results), CV_OK);
	assert_int_equal(json_array_size(results), 3);
	for (i = 0; i < 3; i++) {
		json_t *r = json_array_get(results, i);

		assert_string_equal(json_string_value(json_object_get(r, "check_type")),
		    want_types[i]);
		assert_int_equal(json_is_true(json_object_get(r, "passed")), want_passed[i]);
	}
	json_decref(results);
	json_decref(types);
	assert_int_equal(cv_checks_run(repo, NULL, 300, &results), CV_OK);
	assert_int_equal(json_array_size(results), 0);
	json_decref(results);
}

/* The value of "NAME=" at the start of a line of text, up to the line's
 * end, copied into out; false when absent. */
static bool line_value(const char *text, const char *name, char *out,
    size_t size)
{
	size_t n = strlen(name);

	for (const char *p = text; p && *p; p = strchr(p, '\n'),
	    p = p ? p + 1 : NULL)
		if (strncmp(p, name, n) == 0) {
			snprintf(out, size, "%.*s", (int)strcspn(p + n, "\n"),
			    p + n);
			return true;
		}
	return false;
}

/*
 * A check runs code from the branch: a lint target that prints its
 * environment sees no secret of Converge's (CONVERGE_*, the DSN), a
 * scratch HOME and TMPDIR that are gone afterwards, the repository's own
 * settings, its own process group and the resource limits.
 */
static void test_sandbox(void **state)
{
	static const char mk[] = "lint:\n\t@env; "
	    "echo pgid=$$(cut -d' ' -f5 /proc/$$$$/stat); "
	    "grep -E 'Max (cpu time|file size|processes|address space)' "
	    "/proc/self/limits\n";
	static const char *const secrets[] = {
	    "CONVERGE_API_KEYS=k-root:admin:root",
	    "CONVERGE_GITHUB_WEBHOOK_SECRET=whsec-leak",
	    "CONVERGE_PG_DSN=postgresql://u:pw@db/converge",
	    "AWS_SECRET_ACCESS_KEY=aws-leak",
	};
	const char *repo_settings[] = { "REPO_MODE=strict",
	    "CONVERGE_API_KEYS=from-repo", "HOME=/root", NULL };
	char *dir = repo_tmpdir(), home[512], tmp[512], pgid[32], pathv[4096];
	json_t *res = NULL;
	const char *d;
	struct stat st;

	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(secrets); i++)
		putenv((char *)secrets[i]);
	repo_write(dir, "Makefile", mk);
	assert_int_equal(cv_check_run_env(dir, repo_settings, "lint", 60,
	    &res), CV_OK);
	for (size_t i = 0; i < CV_ARRAY_LEN(secrets); i++)
		unsetenv(strndup_name(secrets[i]));
	d = json_string_value(json_object_get(res, "details"));
	assert_true(json_is_true(json_object_get(res, "passed")));
	assert_null(strstr(d, "CONVERGE"));
	assert_null(strstr(d, "leak"));
	assert_null(strstr(d, "pw@db"));
	assert_non_null(strstr(d, "REPO_MODE=strict\n"));
	assert_null(strstr(d, "HOME=/root"));
	assert_true(line_value(d, "PATH=", pathv, sizeof(pathv)));
	assert_true(line_value(d, "HOME=", home, sizeof(home)));
	assert_true(line_value(d, "TMPDIR=", tmp, sizeof(tmp)));
	assert_non_null(strstr(home, "/converge-check."));
	assert_non_null(strstr(tmp, "/converge-check."));
	assert_int_not_equal(stat(home, &st), 0);	/* removed after the run */
	assert_true(line_value(d, "pgid=", pgid, sizeof(pgid)));
	assert_true(atol(pgid) > 0 && atol(pgid) != (long)getpgrp());
	assert_non_null(strstr(d, "Max cpu time              65 "));
	assert_non_null(strstr(d, "Max processes             1024 "));
	json_decref(res);
	repo_remove(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sandbox),
		cmocka_unit_test(test_target_table),
		cmocka_unit_test(test_run_table),
		cmocka_unit_test(test_make_missing),
		cmocka_unit_test(test_checks_run),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
