/*
 * checks.h - the required checks of domain.md 3.3: each check type is a
 * make target run in the repository directory, through cv_proc_run (no
 * shell), with a time limit.
 *
 * A check runs code from whoever wrote the branch, so it gets nothing of
 * Converge's environment: only PATH, HOME and TMPDIR in a scratch
 * directory made for the run (removed after it), LANG and LC_ALL when
 * set, and the repository's own settings; it runs in its own process
 * group (killed whole on a timeout, and of what it leaves behind) under
 * the CPU, address-space, file-size and process-count limits below.
 *
 * Ownership follows cv.h. Appending check.completed events is the
 * caller's job (one per result, in order); nothing here touches the store.
 */
#ifndef CV_CHECKS_H
#define CV_CHECKS_H

#include <stdbool.h>

#include <jansson.h>

#include "cv.h"

#define CV_CHECK_TIMEOUT_S 300     /* domain.md 3.3 */
#define CV_CHECK_DETAILS_MAX 2000  /* characters of output kept in details */

/* Resource limits of every process a check starts (setrlimit). */
#define CV_CHECK_AS_BYTES (4LL << 30)      /* address space */
#define CV_CHECK_FSIZE_BYTES (1LL << 30)   /* largest file written */
#define CV_CHECK_NPROC 1024                /* processes of the user */

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
 * cv_check_run with the repository's own settings: repo_env is NULL or
 * "NAME=value" strings ending in NULL (borrowed); those that
 * cv_check_setting_allowed refuses are left out.
 */
enum cv_err cv_check_run_env(const char *repo_dir,
    const char *const *repo_env, const char *check_type, int timeout_s,
    json_t **result_out);

/* True when a repository setting "NAME=value" may reach a check: not a
 * CONVERGE* name, and not one the sandbox sets (PATH, HOME, TMPDIR, LANG,
 * LC_ALL). */
bool cv_check_setting_allowed(const char *setting);

/*
 * Runs every supported check named in the array check_types, in order,
 * all of them (a failure does not stop the rest); unsupported names and
 * non-strings are skipped silently. *results_out = array of CheckResult.
 * Returns CV_OK or CV_ENOMEM (then *results_out is NULL).
 */
enum cv_err cv_checks_run(const char *repo_dir, const json_t *check_types,
    int timeout_s, json_t **results_out);

/* cv_checks_run with the repository's own settings (as cv_check_run_env). */
enum cv_err cv_checks_run_env(const char *repo_dir,
    const char *const *repo_env, const json_t *check_types, int timeout_s,
    json_t **results_out);

#endif
