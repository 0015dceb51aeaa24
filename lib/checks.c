/* checks.c - check types as make targets, run with a time limit. */
#include "checks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "proc.h"

static const struct {
	const char *check_type;
	const char *target;
} check_table[] = {
	{ "lint", "lint" },
	{ "unit_tests", "test" },
	{ "integration_tests", "test-integration" },
	{ "security_scan", "security-scan" },
	{ "contract_tests", "test-contract" },
};

/* A check's outcome must not depend on the make that started Converge:
 * an inherited jobserver would point at descriptors the runner closes. */
static const char *const make_env[] = { "MAKEFLAGS=", "MFLAGS=",
    "MAKELEVEL=", NULL };

const char *cv_check_make_target(const char *check_type)
{
	size_t i;

	for (i = 0; check_type != NULL && i < CV_ARRAY_LEN(check_table); i++)
		if (strcmp(check_table[i].check_type, check_type) == 0)
			return check_table[i].target;
	return NULL;
}

/* details for a run that ended: stdout if passed, stderr if not. */
static char *details_dup(enum cv_err e, const struct cv_proc_result *r,
    const char *target, int timeout_s, int passed)
{
	char *s = NULL;

	if (e == CV_ETIMEOUT) {
		if (asprintf(&s, "Command 'make %s' timed out after %d seconds",
		    target, timeout_s) < 0)
			s = NULL;
		return s;
	}
	if (e == CV_EEXEC)
		return strdup(r->error ? r->error : "cannot run make");
	if (passed)
		return cv_proc_text_dup(r->out, r->out_len, CV_CHECK_DETAILS_MAX);
	return cv_proc_text_dup(r->err, r->err_len, CV_CHECK_DETAILS_MAX);
}

static json_t *result_build(const char *check_type, int passed,
    const char *details, long long duration_ms)
{
	json_t *res = json_object();

	if (res == NULL)
		return NULL;
	if (json_object_set_new(res, "check_type", json_string(check_type)) < 0 ||
	    json_object_set_new(res, "passed", json_boolean(passed)) < 0 ||
	    json_object_set_new(res, "details", json_string(details)) < 0 ||
	    json_object_set_new(res, "duration_ms", json_integer(duration_ms)) < 0) {
		json_decref(res);
		return NULL;
	}
	return res;
}

enum cv_err cv_check_run(const char *repo_dir, const char *check_type,
    int timeout_s, json_t **result_out)
{
	const char *target = cv_check_make_target(check_type);
	const char *argv[] = { "make", target, NULL };
	struct cv_proc_opts o = { repo_dir, timeout_s * 1000, 0, make_env };
	struct cv_proc_result r;
	double t0 = cv_monotonic();
	char *details;
	enum cv_err e;
	int passed;

	*result_out = NULL;
	if (target == NULL)
		return CV_EINVAL;
	e = cv_proc_run(argv, &o, &r);
	if (e != CV_OK && e != CV_ETIMEOUT && e != CV_EEXEC) {
		cv_proc_result_free(&r);
		return e;
	}
	passed = e == CV_OK && r.exit_code == 0;
	details = details_dup(e, &r, target, timeout_s, passed);
	if (details != NULL)
		*result_out = result_build(check_type, passed, details,
		    (long long)((cv_monotonic() - t0) * 1000.0));
	free(details);
	cv_proc_result_free(&r);
	return *result_out ? CV_OK : CV_ENOMEM;
}

enum cv_err cv_checks_run(const char *repo_dir, const json_t *check_types,
    int timeout_s, json_t **results_out)
{
	json_t *results = json_array(), *v, *one;
	size_t i;

	*results_out = NULL;
	if (results == NULL)
		return CV_ENOMEM;
	json_array_foreach(check_types, i, v) {
		enum cv_err e = cv_check_run(repo_dir, json_string_value(v),
		    timeout_s, &one);

		if (e == CV_EINVAL)
			continue;
		if (e != CV_OK || json_array_append_new(results, one) < 0) {
			json_decref(results);
			return CV_ENOMEM;
		}
	}
	*results_out = results;
	return CV_OK;
}
