/* landing.c - registered repositories in the validation pipeline and the
 * queue (decisions.md D-9): mirror, candidate, worktree checks, push. */
#include "landing.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks.h"
#include "clock.h"
#include "ghevents.h"
#include "github.h"
#include "jsonx.h"
#include "log.h"
#include "repos.h"
#include "scm.h"

/* "<what>: <msg>" with any credentials of a quoted URL removed. */
static char *reason_dup(const char *what, const char *msg)
{
	char *clean = cv_repo_url_redact_dup(msg ? msg : "unknown error");
	char *out = NULL;

	if (asprintf(&out, "%s: %s", what, clean ? clean : "") < 0)
		out = NULL;
	free(clean);
	return out;
}

/* The installation token for an https remote, when an App is set. */
static char *token_dup(struct cv_engine *e, const json_t *intent,
    const char *url)
{
	json_t *inst = json_object_get(cv_json_obj(intent, "technical"),
	    "installation_id");
	long long id = json_is_integer(inst) ? json_integer_value(inst) :
	    e->installation_id;
	char *token = NULL;

	if (!e->github || id <= 0 || strncmp(url, "https://", 8) != 0)
		return NULL;
	if (cv_github_installation_token(e->github, id, &token) != CV_OK) {
		cv_log(CV_WARNING, "converge.landing", "no installation token "
		    "for installation %lld; fetching without one", id);
		return NULL;
	}
	return token;
}

enum cv_err cv_landing_open(struct cv_engine *e, const json_t *intent,
    struct cv_landing **out, char **reason)
{
	struct cv_landing *l;
	json_t *repo = NULL;
	char *msg = NULL;
	enum cv_err err;

	*out = NULL;
	*reason = NULL;
	if ((err = cv_repo_of_intent(e->store, intent, &repo)) != CV_OK ||
	    !repo)
		return err;
	if (!(l = calloc(1, sizeof *l))) {
		json_decref(repo);
		return CV_ENOMEM;
	}
	l->repo = repo;
	l->pending = json_array();
	l->token = token_dup(e, intent, cv_json_str(repo, "url", ""));
	if ((err = cv_mirror_init(&l->mirror, e->var_dir, cv_json_str(repo,
	    "name", ""), cv_json_str(repo, "url", ""), l->token)) != CV_OK) {
		*reason = strdup("Fetch failed: mirror path too long");
		cv_landing_free(l);
		return CV_EEXEC;
	}
	cv_mirror_sweep(&l->mirror);
	if ((err = cv_mirror_sync(&l->mirror, &msg)) != CV_OK) {
		*reason = reason_dup("Fetch failed", msg);
		free(msg);
		cv_log(CV_WARNING, "converge.landing", "%s (%s)", *reason ?
		    *reason : "fetch failed", cv_json_str(repo, "name", ""));
		cv_landing_free(l);
		return CV_EEXEC;
	}
	*out = l;
	return CV_OK;
}

void cv_landing_free(struct cv_landing *l)
{
	if (!l)
		return;
	if (l->worktree) {
		cv_mirror_worktree_remove(&l->mirror, l->worktree);
		free(l->worktree);
	}
	json_decref(l->repo);
	json_decref(l->pending);
	json_decref(l->known);
	if (l->token) {
		explicit_bzero(l->token, strlen(l->token));
		free(l->token);
	}
	free(l);
}

/* A branch name as the mirror's full ref; refs/... and shas as given. */
static void full_ref(const char *ref, char *buf, size_t size)
{
	if (strncmp(ref, "refs/", 5) == 0 || (strlen(ref) == 40 &&
	    strspn(ref, "0123456789abcdef") == 40))
		snprintf(buf, size, "%s", ref);
	else
		snprintf(buf, size, "refs/heads/%s", ref);
}

static enum cv_err resolve(struct cv_landing *l, const char *ref,
    char sha[CV_SHA_LEN], char **reason)
{
	char full[1100], *msg = NULL;
	enum cv_err err;

	full_ref(ref, full, sizeof full);
	const char *k = json_string_value(json_object_get(l->known, full));
	if (k) {
		snprintf(sha, CV_SHA_LEN, "%s", k);
		return CV_OK;
	}
	err = cv_mirror_resolve(&l->mirror, full, sha, &msg);
	if (err == CV_ENOTFOUND || err == CV_EINVAL) {
		if (asprintf(reason, "Unknown ref: %s", ref) < 0)
			*reason = NULL;
		err = CV_ENOTFOUND;
	} else if (err != CV_OK)
		*reason = reason_dup("Simulation failed", msg);
	free(msg);
	return err;
}

enum cv_err cv_landing_heads(struct cv_landing *l, const json_t *intent,
    char target_sha[CV_SHA_LEN], char source_sha[CV_SHA_LEN], char **reason)
{
	const char *pinned = cv_json_str(cv_json_obj(intent, "technical"),
	    "head_sha", "");
	enum cv_err err;

	const char *target = cv_json_str(intent, "target", "main");

	*reason = NULL;
	if (l->heads_of == intent) {
		memcpy(target_sha, l->heads_t, CV_SHA_LEN);
		memcpy(source_sha, l->heads_s, CV_SHA_LEN);
		return CV_OK;
	}
	if (l->tip[0] && strcmp(l->tip_branch, target) == 0)
		memcpy(target_sha, l->tip, CV_SHA_LEN);
	else if ((err = resolve(l, target, target_sha, reason)) != CV_OK)
		return err;
	/* A PR intent lands exactly the head it was created for; a newer
	 * head comes with its own webhook and voids the validation. */
	if ((err = resolve(l, *pinned ? pinned : cv_json_str(intent, "source",
	    ""), source_sha, reason)) != CV_OK)
		return err;
	l->heads_of = intent;
	memcpy(l->heads_t, target_sha, CV_SHA_LEN);
	memcpy(l->heads_s, source_sha, CV_SHA_LEN);
	return CV_OK;
}

#define PREFETCH_CHUNK 256

/* Resolves refs[0..n) in one child and keeps what git answered. */
static void prefetch_chunk(struct cv_landing *l, const char *const *refs,
    size_t n)
{
	char (*shas)[CV_SHA_LEN] = calloc(n, CV_SHA_LEN), *msg = NULL;

	if (shas && cv_mirror_resolve_many(&l->mirror, refs, n, shas, &msg) ==
	    CV_OK)
		for (size_t i = 0; i < n; i++)
			if (shas[i][0])
				json_object_set_new(l->known, refs[i],
				    json_string(shas[i]));
	free(msg);
	free(shas);
}

void cv_landing_prefetch(struct cv_landing *l, const json_t *intents)
{
	const char *refs[PREFETCH_CHUNK];
	char (*full)[1100] = calloc(PREFETCH_CHUNK, sizeof(*full));
	json_t *seen = json_object(), *it;
	size_t i, n = 0;

	if (!l->known)
		l->known = json_object();
	if (!full || !seen || !l->known)
		goto out;
	json_array_foreach(intents, i, it) {
		const char *pinned = cv_json_str(cv_json_obj(it, "technical"),
		    "head_sha", "");
		const char *two[] = { cv_json_str(it, "target", "main"),
		    *pinned ? pinned : cv_json_str(it, "source", "") };

		for (size_t j = 0; j < 2; j++) {
			if (!cv_scm_ref_ok(two[j]) || strlen(two[j]) > 1000)
				continue;
			full_ref(two[j], full[n], sizeof full[n]);
			if (json_object_get(seen, full[n]) ||
			    json_object_get(l->known, full[n]))
				continue;
			json_object_set_new(seen, full[n], json_true());
			refs[n] = full[n];
			if (++n == PREFETCH_CHUNK) {
				prefetch_chunk(l, refs, n);
				n = 0;
			}
		}
	}
	if (n)
		prefetch_chunk(l, refs, n);
out:
	json_decref(seen);
	free(full);
}

void cv_landing_set_tip(struct cv_landing *l, const char *branch,
    const char *sha)
{
	snprintf(l->tip_branch, sizeof l->tip_branch, "%s", branch ? branch :
	    "");
	snprintf(l->tip, sizeof l->tip, "%s", sha ? sha : "");
	l->heads_of = NULL;
}

enum cv_err cv_landing_simulate(struct cv_landing *l, const json_t *intent,
    json_t **sim_out, char **reason)
{
	char t[CV_SHA_LEN], s[CV_SHA_LEN], msg_buf[1200], ts[CV_TS_LEN];
	const char *src = cv_json_str(intent, "source", "");
	const char *dst = cv_json_str(intent, "target", "main");
	char *msg = NULL;
	json_t *c = NULL;
	enum cv_err err;

	*sim_out = NULL;
	if ((err = cv_landing_heads(l, intent, t, s, reason)) != CV_OK)
		return err;
	snprintf(msg_buf, sizeof msg_buf, "converge: merge %s into %s\n\n"
	    "Intent: %s", src, dst, cv_json_str(intent, "id", ""));
	if ((err = cv_mirror_candidate(&l->mirror, t, s, msg_buf, &c, &msg)) !=
	    CV_OK) {
		*reason = reason_dup("Simulation failed", msg);
		free(msg);
		return err;
	}
	cv_now_ts(ts);
	json_object_set_new(c, "timestamp", json_string(ts));
	json_object_set_new(c, "source", json_string(src));
	json_object_set_new(c, "target", json_string(dst));
	*sim_out = c;
	return CV_OK;
}

static void add_unique(json_t *out, const json_t *list)
{
	json_t *v, *w;
	size_t i, j;

	json_array_foreach(list, i, v) {
		bool seen = !json_is_string(v);
		json_array_foreach(out, j, w)
			if (!seen && json_equal(v, w))
				seen = true;
		if (!seen)
			json_array_append(out, v);
	}
}

json_t *cv_landing_required(const struct cv_landing *l, const json_t *intent,
    const json_t *policy_required)
{
	json_t *out = json_array();

	add_unique(out, json_object_get(l->repo, "checks"));
	add_unique(out, policy_required);
	add_unique(out, json_object_get(intent, "checks_required"));
	return out;
}

enum cv_err cv_landing_checks(struct cv_landing *l, const char *candidate_sha,
    const json_t *checks, int timeout_s, json_t **results_out)
{
	char *wt = NULL, *msg = NULL;
	enum cv_err err;

	*results_out = NULL;
	if (json_array_size(checks) == 0) {
		*results_out = json_array();
		return *results_out ? CV_OK : CV_ENOMEM;
	}
	/* One worktree per context: moving it costs the files that differ,
	 * a fresh one costs the whole tree. */
	if (l->worktree && cv_mirror_worktree_reset(&l->mirror, l->worktree,
	    candidate_sha, &msg) != CV_OK) {
		free(msg);
		msg = NULL;
		cv_mirror_worktree_remove(&l->mirror, l->worktree);
		free(l->worktree);
		l->worktree = NULL;
	}
	if (l->worktree)
		wt = l->worktree;
	else if ((err = cv_mirror_worktree_add(&l->mirror, candidate_sha, &wt,
	    &msg)) != CV_OK) {
		/* Every check fails, with the reason: nothing was tested. */
		json_t *res = json_array(), *c;
		size_t i;
		char *why = reason_dup("worktree", msg);
		json_array_foreach(checks, i, c)
			json_array_append_new(res, json_pack("{s:O,s:b,s:s,s:i}",
			    "check_type", c, "passed", 0, "details", why ? why :
			    "worktree failed", "duration_ms", 0));
		free(why);
		free(msg);
		*results_out = res;
		return CV_OK;
	}
	l->worktree = wt;
	return cv_checks_run(wt, checks, timeout_s, results_out);
}

enum cv_land cv_landing_push(struct cv_landing *l, const json_t *intent,
    const char *candidate_sha, char **commit_out, char **error_out)
{
	const char *target = cv_json_str(intent, "target", "main");
	char *msg = NULL;
	bool refused = false;
	enum cv_err err;

	*commit_out = NULL;
	*error_out = NULL;
	err = cv_mirror_push(&l->mirror, candidate_sha, target, &refused, &msg);
	/* The push moved the target, or found it moved: ask the mirror. */
	if (l->known) {
		char full[1100];

		full_ref(target, full, sizeof full);
		json_object_del(l->known, full);
	}
	if (err != CV_OK) {
		*error_out = reason_dup("git push", msg);
		free(msg);
		return CV_LAND_FAILED;
	}
	if (refused) {
		*error_out = strdup("Target moved: revalidating against the "
		    "new target");
		return CV_LAND_RETRY;
	}
	/* Test hook: die as a crash would, after the push and before the
	 * database records it (the landing must then be recorded once by
	 * the next cycle). */
	const char *hook = getenv("CONVERGE_TEST_KILL_AFTER_PUSH");
	if (hook && strcmp(hook, "1") == 0)
		raise(SIGKILL);
	*commit_out = strdup(candidate_sha);
	return CV_LAND_MERGED;
}

void cv_landing_fetch_requested(struct cv_engine *e)
{
	json_t *repos = NULL, *name;
	size_t i;

	if (cv_gh_fetch_take(e->store, &repos) != CV_OK)
		return;
	json_array_foreach(repos, i, name) {
		json_t *repo = NULL;
		struct cv_mirror m;
		char *token, *msg = NULL;

		if (cv_repo_get(e->store, json_string_value(name), &repo) !=
		    CV_OK || !repo)
			continue;
		token = token_dup(e, NULL, cv_json_str(repo, "url", ""));
		if (cv_mirror_init(&m, e->var_dir, cv_json_str(repo, "name", ""),
		    cv_json_str(repo, "url", ""), token) == CV_OK &&
		    cv_mirror_sync(&m, &msg) != CV_OK) {
			char *why = reason_dup("Fetch failed", msg);
			cv_log(CV_WARNING, "converge.landing", "%s (%s)", why ? why :
			    "fetch failed", json_string_value(name));
			free(why);
		}
		free(msg);
		if (token) {
			explicit_bzero(token, strlen(token));
			free(token);
		}
		json_decref(repo);
	}
	json_decref(repos);
}
