/*
 * checks.h - the required checks of domain.md 3.3: each check type is a
 * make target run in the repository directory, through cv_proc_run (no
 * shell), with a time limit.
 *
 * Ownership follows cv.h. Appending check.completed events is the
 * caller's job (one per result, in order); nothing here touches the store.
 */
#ifndef CV_CHECKS_H
#define CV_CHECKS_H

#include <jansson.h>

#include "cv.h"

#define CV_CHECK_TIMEOUT_S 300     /* domain.md 3.3 */
#define CV_CHECK_DETAILS_MAX 2000  /* characters of output kept in details */

/* The make target for a check type ("lint" -> "lint", "unit_tests" ->
 * "test", ...), or NULL when the type is not supported. */
const char *cv_check_make_target(const char *check_type);

/*
 * Runs one check (`make <target>` in repo_dir, NULL: current directory)
 * with a limit of timeout_s seconds and sets *result_out to a CheckResult
 * {check_type, passed, details, duration_ms}: passed = exit status 0;
 * details = the first 2000 characters of stdout if passed, of stderr if
 * not; a timeout or a missing make gives passed false and an error text.
 * Returns CV_OK, CV_EINVAL for an unsupported type (nothing is run), or
 * CV_ENOMEM.
 */
enum cv_err cv_check_run(const char *repo_dir, const char *check_type,
    int timeout_s, json_t **result_out);

/*
 * Runs every supported check named in the array check_types, in order,
 * all of them (a failure does not stop the rest); unsupported names and
 * non-strings are skipped silently. *results_out = array of CheckResult.
 * Returns CV_OK or CV_ENOMEM (then *results_out is NULL).
 */
enum cv_err cv_checks_run(const char *repo_dir, const json_t *check_types,
    int timeout_s, json_t **results_out);

#endif
