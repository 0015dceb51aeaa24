/* checks.c - check types as make targets, run with a time limit in a
 * sandbox: an allow-listed environment, scratch HOME and TMPDIR, their
 * own process group and resource limits. */
#include "checks.h"

#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/* Inherited names a check may see (allow-list); everything else of
 * Converge's environment (keys, secrets, the DSN) stays out. */
static const char *const passed_through[] = { "LANG", "LC_ALL" };

/* Names the sandbox sets itself: a repository setting cannot move them. */
static const char *const sandbox_names[] = { "PATH", "HOME", "TMPDIR",
    "LANG", "LC_ALL" };

#define CHECK_DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"
#define CHECK_ENV_MAX 64

struct sandbox {
	char dir[PATH_MAX];        /* scratch root, removed afterwards */
	char *env[CHECK_ENV_MAX + 1];
	size_t n;
};

const char *cv_check_make_target(const char *check_type)
{
	size_t i;

	for (i = 0; check_type != NULL && i < CV_ARRAY_LEN(check_table); i++)
		if (strcmp(check_table[i].check_type, check_type) == 0)
			return check_table[i].target;
	return NULL;
}

static bool name_in(const char *name, size_t len, const char *const *set,
    size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(set[i]) == len && strncmp(set[i], name, len) == 0)
			return true;
	return false;
}

bool cv_check_setting_allowed(const char *setting)
{
	size_t len = setting ? strcspn(setting, "=") : 0;

	if (len == 0 || setting[len] != '=')
		return false;
	if (strncmp(setting, "CONVERGE_", 9) == 0 || (len >= 8 &&
	    strncmp(setting, "CONVERGE", 8) == 0))
		return false;
	return !name_in(setting, len, sandbox_names,
	    CV_ARRAY_LEN(sandbox_names));
}

static bool sandbox_add(struct sandbox *sb, const char *name,
    const char *value)
{
	if (sb->n >= CHECK_ENV_MAX ||
	    asprintf(&sb->env[sb->n], "%s=%s", name, value) < 0)
		return false;
	sb->env[++sb->n] = NULL;
	return true;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	/* A check may leave read-only directories behind. */
	if (flag == FTW_DP || flag == FTW_D)
		chmod(path, 0700);
	return remove(path);
}

static void sandbox_free(struct sandbox *sb)
{
	for (size_t i = 0; i < sb->n; i++)
		free(sb->env[i]);
	sb->n = 0;
	if (sb->dir[0])
		nftw(sb->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	sb->dir[0] = '\0';
}

/*
 * The environment of one check: PATH, HOME and TMPDIR in a fresh scratch
 * directory, LANG/LC_ALL when set, then the repository's own settings
 * that pass cv_check_setting_allowed. false on a failure (sb freed).
 */
static bool sandbox_init(struct sandbox *sb, const char *const *repo_env)
{
	const char *tmp = getenv("TMPDIR"), *path = getenv("PATH");
	char sub[PATH_MAX + 8];
	bool ok;

	memset(sb, 0, sizeof(*sb));
	if (!tmp || *tmp != '/' || strlen(tmp) > PATH_MAX - 32)
		tmp = "/tmp";
	snprintf(sb->dir, sizeof(sb->dir), "%s/converge-check.XXXXXX", tmp);
	if (!mkdtemp(sb->dir)) {
		sb->dir[0] = '\0';
		return false;
	}
	snprintf(sub, sizeof(sub), "%s/home", sb->dir);
	ok = mkdir(sub, 0700) == 0 && sandbox_add(sb, "HOME", sub);
	snprintf(sub, sizeof(sub), "%s/tmp", sb->dir);
	ok = ok && mkdir(sub, 0700) == 0 && sandbox_add(sb, "TMPDIR", sub);
	ok = ok && sandbox_add(sb, "PATH", path && *path ? path :
	    CHECK_DEFAULT_PATH);
	for (size_t i = 0; ok && i < CV_ARRAY_LEN(passed_through); i++) {
		const char *v = getenv(passed_through[i]);

		if (v)
			ok = sandbox_add(sb, passed_through[i], v);
	}
	for (size_t i = 0; ok && repo_env && repo_env[i]; i++) {
		if (!cv_check_setting_allowed(repo_env[i]))
			continue;
		ok = sb->n < CHECK_ENV_MAX &&
		    (sb->env[sb->n] = strdup(repo_env[i])) != NULL;
		if (ok)
			sb->env[++sb->n] = NULL;
	}
	if (!ok)
		sandbox_free(sb);
	return ok;
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
	return cv_check_run_env(repo_dir, NULL, check_type, timeout_s,
	    result_out);
}

enum cv_err cv_check_run_env(const char *repo_dir,
    const char *const *repo_env, const char *check_type, int timeout_s,
    json_t **result_out)
{
	const char *target = cv_check_make_target(check_type);
	const char *argv[] = { "make", target, NULL };
	/* CPU time is bounded per process by the wall-clock limit too. */
	struct cv_proc_limits lim = { .cpu_s = timeout_s > 0 ? timeout_s + 5 :
	    0, .as_bytes = CV_CHECK_AS_BYTES, .fsize_bytes =
	    CV_CHECK_FSIZE_BYTES, .nproc = CV_CHECK_NPROC };
	struct sandbox sb;
	struct cv_proc_opts o = { .cwd = repo_dir, .timeout_ms = timeout_s *
	    1000, .env_only = true, .limits = &lim, .kill_group = true };
	struct cv_proc_result r;
	double t0 = cv_monotonic();
	char *details;
	enum cv_err e;
	int passed;

	*result_out = NULL;
	if (target == NULL)
		return CV_EINVAL;
	if (!sandbox_init(&sb, repo_env))
		return CV_ENOMEM;
	o.env = (const char *const *)sb.env;
	e = cv_proc_run(argv, &o, &r);
	sandbox_free(&sb);
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
	return cv_checks_run_env(repo_dir, NULL, check_types, timeout_s,
	    results_out);
}

enum cv_err cv_checks_run_env(const char *repo_dir,
    const char *const *repo_env, const json_t *check_types, int timeout_s,
    json_t **results_out)
{
	json_t *results = json_array(), *v, *one;
	size_t i;

	*results_out = NULL;
	if (results == NULL)
		return CV_ENOMEM;
	json_array_foreach(check_types, i, v) {
		enum cv_err e = cv_check_run_env(repo_dir, repo_env,
		    json_string_value(v), timeout_s, &one);

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
