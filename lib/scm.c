/* scm.c - merge simulation and real merges through the git program. */
#include "scm.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "proc.h"

/* Git's messages are parsed (CONFLICT lines), so they must not be translated. */
static const char *const git_env[] = { "LC_ALL=C", "GIT_TERMINAL_PROMPT=0", NULL };

/* Longest git message carried into an error text. */
#define MSG_MAX 500

bool cv_scm_ref_ok(const char *ref)
{
	return ref != NULL && ref[0] != '\0' && ref[0] != '-';
}

bool cv_scm_ref_plain(const char *ref)
{
	size_t n = ref ? strlen(ref) : 0;

	if (n == 0 || n > 255 || ref[0] == '-' || ref[0] == '/' ||
	    ref[0] == '.' || ref[n - 1] == '.' || ref[n - 1] == '/' ||
	    strstr(ref, "..") != NULL)
		return false;
	return strspn(ref, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789/_.+-") == n;
}

/* A JSON string of s[0..n), made valid UTF-8. NULL on allocation failure. */
static json_t *text_json(const char *s, size_t n)
{
	char *t = cv_proc_text_dup(s, n, (size_t)-1);
	json_t *v;

	if (t == NULL)
		return NULL;
	v = json_string(t);
	free(t);
	return v;
}

/*
 * The error text for a git call that ran but failed: git's own message
 * (stderr, else stdout) when it said something, else the exit status.
 */
char *cv_scm_failure_dup(const char *what, const struct cv_proc_result *r)
{
	const char *msg = r->err_len ? r->err : r->out;
	size_t len = r->err_len ? r->err_len : r->out_len;
	char *t = cv_proc_text_trim_dup(msg, len, MSG_MAX);
	char *s = NULL;

	if (t == NULL)
		return NULL;
	if (t[0] != '\0')
		s = strdup(t);
	else if (asprintf(&s, "%s exited with status %d", what, r->exit_code) < 0)
		s = NULL;
	free(t);
	return s;
}

/*
 * Runs git with argv in dir. CV_OK when git ran to its end (whatever its
 * exit status: callers decide what a non-zero status means); otherwise
 * *errmsg explains (git missing, dir missing, timeout).
 */
enum cv_err cv_scm_git(const char *dir, const char *const argv[],
    const char *in, size_t in_len, struct cv_proc_result *r, char **errmsg)
{
	struct cv_proc_opts o = { .cwd = dir, .timeout_ms = CV_SCM_TIMEOUT_MS,
	    .env = git_env, .in = in, .in_len = in_len };
	enum cv_err e = cv_proc_run(argv, &o, r);
	const char *what = argv[1];

	/* "git -c k=v ... merge": name the command, not the option. */
	for (size_t i = 1; argv[i] && argv[i + 1] && strcmp(argv[i], "-c") == 0;
	    i += 2)
		what = argv[i + 2];
	if (e == CV_ETIMEOUT) {
		if (asprintf(errmsg, "git %s timed out after %d seconds",
		    what ? what : "", CV_SCM_TIMEOUT_MS / 1000) < 0)
			*errmsg = NULL;
	} else if (e == CV_EEXEC) {
		*errmsg = strdup(r->error ? r->error : "cannot run git");
	}
	return e;
}

static enum cv_err git_run(const char *dir, const char *const argv[],
    struct cv_proc_result *r, char **errmsg)
{
	return cv_scm_git(dir, argv, NULL, 0, r, errmsg);
}

enum cv_err cv_scm_toplevel_dup(const char *repo_dir, char **top_out,
    char **errmsg)
{
	const char *argv[] = { "git", "rev-parse", "--show-toplevel", NULL };
	struct cv_proc_result r;
	enum cv_err e;

	*top_out = NULL;
	*errmsg = NULL;
	e = git_run(repo_dir, argv, &r, errmsg);
	if (e == CV_OK && r.exit_code != 0) {
		*errmsg = cv_scm_failure_dup("git rev-parse --show-toplevel", &r);
		e = CV_EEXEC;
	}
	if (e == CV_OK) {
		r.out[strcspn(r.out, "\r\n")] = '\0';
		if ((*top_out = strdup(r.out)) == NULL)
			e = CV_ENOMEM;
	}
	cv_proc_result_free(&r);
	return e;
}

/*
 * Step 5a: one match of "CONFLICT" .*? ":" \s+ .*? "in" \s+ (\S+) starting
 * at p, where "." does not cross a line end but "\s" does. Returns the
 * path and its length, and where scanning resumes; NULL if no match.
 */
static const char *conflict_match(const char *p, size_t *plen, const char **next)
{
	const char *c, *q, *in;

	for (c = p + strlen("CONFLICT"); *c != '\0' && *c != '\n'; c++) {
		if (c[0] != ':' || !isspace((unsigned char)c[1]))
			continue;
		for (q = c + 1; isspace((unsigned char)*q); q++)
			;
		for (in = q; *in != '\0' && *in != '\n'; in++) {
			const char *path;

			if (in[0] != 'i' || in[1] != 'n' || !isspace((unsigned char)in[2]))
				continue;
			for (path = in + 2; isspace((unsigned char)*path); path++)
				;
			if (*path == '\0')
				continue;
			*plen = strcspn(path, " \t\n\r\f\v");
			*next = path + *plen;
			return path;
		}
	}
	return NULL;
}

static int append_text(json_t *arr, const char *s, size_t n)
{
	json_t *v = text_json(s, n);

	return v == NULL ? -1 : json_array_append_new(arr, v);
}

static int conflicts_from_err(json_t *arr, const char *err)
{
	const char *p = err, *path, *next;
	size_t n;

	while ((p = strstr(p, "CONFLICT")) != NULL) {
		if ((path = conflict_match(p, &n, &next)) == NULL) {
			p += strlen("CONFLICT");
			continue;
		}
		if (append_text(arr, path, n) < 0)
			return -1;
		p = next;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Step 5b: second fields of two-field TAB lines, sorted, unique. */
static int conflicts_from_out(json_t *arr, const char *out)
{
	char *copy = strdup(out), *line, *save = NULL, **paths = NULL;
	size_t n = 0, i;
	int rc = -1;

	if (copy == NULL)
		return -1;
	if ((paths = calloc(strlen(out) / 2 + 1, sizeof(*paths))) == NULL)
		goto out;
	for (line = strtok_r(copy, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char *tab = strchr(line, '\t');

		if (tab != NULL && strchr(tab + 1, '\t') == NULL)
			paths[n++] = tab + 1;
	}
	qsort(paths, n, sizeof(*paths), cmp_str);
	for (i = 0; i < n; i++)
		if ((i == 0 || strcmp(paths[i], paths[i - 1]) != 0) &&
		    append_text(arr, paths[i], strlen(paths[i])) < 0)
			goto out;
	rc = 0;
out:
	free(paths);
	free(copy);
	return rc;
}

json_t *cv_scm_conflicts_build(const char *out, const char *err)
{
	json_t *arr = json_array();

	if (arr == NULL)
		return NULL;
	if (conflicts_from_err(arr, err ? err : "") < 0 ||
	    (json_array_size(arr) == 0 &&
	    conflicts_from_out(arr, out ? out : "") < 0)) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}

json_t *cv_scm_lines_build(const char *text, size_t len)
{
	json_t *arr = json_array();
	const char *p = text, *end = text + len;

	while (arr != NULL && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (n > 0 && append_text(arr, p, n) < 0) {
			json_decref(arr);
			return NULL;
		}
		p += n + 1;
	}
	return arr;
}

json_t *cv_scm_simulation_new(bool mergeable, json_t *conflicts_take,
    json_t *files_take, const char *ts, const char *source,
    const char *target)
{
	json_t *sim = json_object();

	if (sim == NULL || conflicts_take == NULL || files_take == NULL) {
		json_decref(conflicts_take);
		json_decref(files_take);
		json_decref(sim);
		return NULL;
	}
	/* All or nothing: a simulation without "mergeable" would read as
	 * a conflict and block the intent ("|", not "||": each call takes
	 * its value, even when it fails). */
	if (json_object_set_new(sim, "mergeable", json_boolean(mergeable)) |
	    json_object_set_new(sim, "conflicts", conflicts_take) |
	    json_object_set_new(sim, "files_changed", files_take) |
	    json_object_set_new(sim, "timestamp", json_string(ts)) |
	    json_object_set_new(sim, "source", text_json(source,
	    strlen(source))) |
	    json_object_set_new(sim, "target", text_json(target,
	    strlen(target)))) {
		json_decref(sim);
		return NULL;
	}
	return sim;
}

enum cv_err cv_scm_refs_check(const char *source, const char *target,
    char **errmsg)
{
	const char *bad = !cv_scm_ref_ok(source) ? source : target;

	if (cv_scm_ref_ok(source) && cv_scm_ref_ok(target))
		return CV_OK;
	if (asprintf(errmsg, "invalid ref '%s'", bad ? bad : "") < 0)
		*errmsg = NULL;
	return CV_EINVAL;
}

/* CV_OK when both refs name commits; CV_ENOTFOUND with "Unknown ref:
 * <ref>" otherwise. */
static enum cv_err refs_exist(const char *top, const char *source,
    const char *target, char **errmsg)
{
	const char *refs[] = { source, target };
	enum cv_err e = CV_OK;

	for (size_t i = 0; i < 2 && e == CV_OK; i++) {
		char *spec = NULL;
		struct cv_proc_result r;

		if (asprintf(&spec, "%s^{commit}", refs[i]) < 0)
			return CV_ENOMEM;
		const char *argv[] = { "git", "rev-parse", "--verify", "--quiet",
		    "--end-of-options", spec, NULL };
		e = git_run(top, argv, &r, errmsg);
		if (e == CV_OK && r.exit_code != 0) {
			if (asprintf(errmsg, "Unknown ref: %s", refs[i]) < 0)
				*errmsg = NULL;
			e = CV_ENOTFOUND;
		}
		cv_proc_result_free(&r);
		free(spec);
	}
	return e;
}

enum cv_err cv_scm_resolve_dup(const char *repo_dir, const char *ref,
    char **sha_out)
{
	struct cv_proc_result r;
	char *spec = NULL, *msg = NULL;
	enum cv_err e;

	*sha_out = NULL;
	if (!cv_scm_ref_ok(ref))
		return CV_EINVAL;
	if (asprintf(&spec, "%s^{commit}", ref) < 0)
		return CV_ENOMEM;
	const char *argv[] = { "git", "rev-parse", "--verify", "--quiet",
	    "--end-of-options", spec, NULL };
	e = git_run(repo_dir, argv, &r, &msg);
	if (e == CV_OK && r.exit_code != 0)
		e = CV_ENOTFOUND;
	if (e == CV_OK && (*sha_out = cv_proc_text_trim_dup(r.out, r.out_len,
	    64)) == NULL)
		e = CV_ENOMEM;
	cv_proc_result_free(&r);
	free(spec);
	free(msg);
	return e;
}

enum cv_err cv_scm_simulate(const char *repo_dir, const char *source,
    const char *target, const char *now_ts, json_t **sim_out, char **errmsg)
{
	const char *merge_argv[] = { "git", "merge-tree", "--write-tree",
	    target, source, NULL };
	const char *diff_argv[] = { "git", "diff-tree", "--no-commit-id",
	    "--name-only", "-r", target, source, NULL };
	struct cv_proc_result mr, dr;
	char ts[CV_TS_LEN], *top = NULL;
	json_t *conflicts;
	enum cv_err e;

	*sim_out = NULL;
	*errmsg = NULL;
	memset(&mr, 0, sizeof(mr));
	memset(&dr, 0, sizeof(dr));
	if ((e = cv_scm_refs_check(source, target, errmsg)) != CV_OK)
		return e;
	if ((e = cv_scm_toplevel_dup(repo_dir, &top, errmsg)) != CV_OK)
		return e;
	/* A non-zero merge-tree status is the answer (conflict, bad ref),
	 * not a failure; diff-tree failing on a bad ref just lists nothing. */
	if ((e = git_run(top, merge_argv, &mr, errmsg)) != CV_OK ||
	    (e = git_run(top, diff_argv, &dr, errmsg)) != CV_OK)
		goto out;
	if (now_ts == NULL)
		cv_now_ts(ts);
	else
		snprintf(ts, sizeof(ts), "%s", now_ts);
	conflicts = mr.exit_code == 0 ? json_array() :
	    cv_scm_conflicts_build(mr.out, mr.err);
	/* A refusal without conflicts may be a ref that does not exist:
	 * say so (D-8), never "Merge conflicts" with none. */
	if (conflicts && mr.exit_code != 0 && json_array_size(conflicts) == 0 &&
	    (e = refs_exist(top, source, target, errmsg)) != CV_OK) {
		json_decref(conflicts);
		goto out;
	}
	*sim_out = cv_scm_simulation_new(mr.exit_code == 0, conflicts,
	    dr.exit_code == 0 ? cv_scm_lines_build(dr.out, dr.out_len) : json_array(),
	    ts, source, target);
	e = *sim_out ? CV_OK : CV_ENOMEM;
out:
	cv_proc_result_free(&mr);
	cv_proc_result_free(&dr);
	free(top);
	return e;
}

/* One merge step: git ran and exited 0, else *errmsg names the step. */
static enum cv_err merge_step(const char *top, const char *const argv[],
    struct cv_proc_result *r, char **errmsg)
{
	char what[32];
	enum cv_err e = git_run(top, argv, r, errmsg);
	char *msg;

	if (e != CV_OK || r->exit_code == 0)
		return e;
	snprintf(what, sizeof(what), "git %s", argv[1]);
	if ((msg = cv_scm_failure_dup(what, r)) == NULL)
		return CV_ENOMEM;
	if (asprintf(errmsg, "%s failed: %s", what, msg) < 0)
		*errmsg = NULL;
	free(msg);
	return CV_EEXEC;
}

/* CV_OK when `git merge-base --is-ancestor source target` says yes. */
static enum cv_err contains_check(const char *top, const char *source,
    const char *target, char **errmsg)
{
	const char *argv[] = { "git", "merge-base", "--is-ancestor", source,
	    target, NULL };
	struct cv_proc_result r;
	enum cv_err e = git_run(top, argv, &r, errmsg);

	if (e == CV_OK && r.exit_code != 0) {
		if (asprintf(errmsg, "%s does not contain %s after the merge",
		    target, source) < 0)
			*errmsg = NULL;
		e = CV_EEXEC;
	}
	cv_proc_result_free(&r);
	return e;
}

enum cv_err cv_scm_merge(const char *repo_dir, const char *source,
    const char *target, char **sha_out, char **errmsg)
{
	const char *abort_argv[] = { "git", "merge", "--abort", NULL };
	const char *head_argv[] = { "git", "rev-parse", "HEAD", NULL };
	const char *checkout_argv[] = { "git", "checkout", target, "--", NULL };
	const char *merge_argv[] = { "git", "merge", "--no-ff", "-m", NULL,
	    source, NULL };
	struct cv_proc_result r;
	char *top = NULL, *msg = NULL;
	enum cv_err e;

	*sha_out = NULL;
	*errmsg = NULL;
	memset(&r, 0, sizeof(r));
	if ((e = cv_scm_refs_check(source, target, errmsg)) != CV_OK)
		return e;
	if ((e = cv_scm_toplevel_dup(repo_dir, &top, errmsg)) != CV_OK)
		return e;
	if (asprintf(&msg, "converge: merge %s into %s", source, target) < 0) {
		free(top);
		return CV_ENOMEM;
	}
	merge_argv[4] = msg;
	if ((e = merge_step(top, checkout_argv, &r, errmsg)) != CV_OK)
		goto out;
	cv_proc_result_free(&r);
	if ((e = merge_step(top, merge_argv, &r, errmsg)) != CV_OK) {
		/* Best effort: a conflicted index would make every later
		 * checkout, hence every later merge, fail too. */
		struct cv_proc_result ar;
		char *ignored = NULL;

		git_run(top, abort_argv, &ar, &ignored);
		cv_proc_result_free(&ar);
		free(ignored);
		goto out;
	}
	cv_proc_result_free(&r);
	if ((e = merge_step(top, head_argv, &r, errmsg)) != CV_OK)
		goto out;
	r.out[strcspn(r.out, "\r\n")] = '\0';
	if ((*sha_out = strdup(r.out)) == NULL) {
		e = CV_ENOMEM;
		goto out;
	}
	/* Exit 0 is not proof enough: the merge counts only when git says
	 * the target now contains the source (D-8). */
	if ((e = contains_check(top, source, target, errmsg)) != CV_OK) {
		free(*sha_out);
		*sha_out = NULL;
	}
out:
	cv_proc_result_free(&r);
	free(msg);
	free(top);
	return e;
}

void cv_scm_simulated_sha(char *buf, size_t size, const char *intent_id)
{
	snprintf(buf, size, "simulated-%.8s", intent_id ? intent_id : "");
}
