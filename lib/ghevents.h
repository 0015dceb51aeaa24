/*
 * ghevents.h - what a GitHub delivery does (http-api.md 7, decisions.md
 * D-5, D-8, D-9), in two steps so that the webhook responder is only HTTP
 * glue (verify, claim, call these, answer) and the worker, the CLI and a
 * fuzzer can reach the mapping:
 *
 *   cv_gh_plan_build   pure: event name + payload in, a plan out (or the
 *                      payload's first missing/ill-typed field);
 *   cv_gh_plan_apply   carries a plan out on the store, inside the
 *                      caller's transaction.
 *
 * A plan is a JSON object {"do": what, ...}:
 *   "create"      {intent, repo, head_sha, installation, fetch}: a PR was
 *                 opened/reopened/synchronized; (re)create its intent READY
 *                 (a moved head voids an earlier validation);
 *   "close"       {intent_id, merged, extra, repo, head_sha, installation,
 *                 publish}: GitHub ended the PR or merge group;
 *   "revalidate"  {repo, branch, head_sha, fetch}: a branch push;
 *   "group"       {intent, repo, head_sha, installation}: merge_group
 *                 checks_requested;
 *   "ignore"      {reply}: nothing to do but answer.
 * "fetch" names a registered repository whose mirror the worker fetches
 * (never the webhook's answer), or is null.
 *
 * Ownership follows cv.h.
 */
#ifndef CV_GHEVENTS_H
#define CV_GHEVENTS_H

#include <jansson.h>
#include <stdbool.h>

#include "config.h"
#include "cv.h"
#include "eventlog.h"
#include "intent_check.h"
#include "store.h"

struct cv_gh_opts {
	const char *default_tenant;   /* tenant of created intents, or NULL */
	const char *now_ts;           /* their created_at */
	/* true when name is a registered repository (D-9); NULL: none is */
	bool (*registered)(void *arg, const char *name);
	void *arg;
};

/*
 * The plan for one delivery. Pure: reads only event, body and o.
 * CV_OK and *plan_out; CV_EINVAL when a handled event's payload lacks its
 * shape (D-8): *err names the field ("repository.full_name",
 * "pull_request.number", ...) and nothing may be created; CV_ENOMEM.
 */
enum cv_err cv_gh_plan_build(const char *event, const json_t *body,
    const struct cv_gh_opts *o, json_t **plan_out,
    struct cv_field_error *err);

/* What applying a plan appends that can be made before the writers'
 * lock is taken: the intent.created event of "create" and "group". */
struct cv_gh_ready {
	bool has_created;
	struct cv_event_row created;   /* owned when has_created */
};

/* Fills *out for plan (pure, no store). CV_ENOMEM leaves it for
 * cv_gh_ready_free. */
enum cv_err cv_gh_plan_ready(const json_t *plan, struct cv_gh_ready *out);
void cv_gh_ready_free(struct cv_gh_ready *r);

/*
 * Applies plan on s (inside the caller's transaction): intents and their
 * events, publication targets and outbox rows, mirror fetch requests.
 * ready: what cv_gh_plan_ready made of this plan, or NULL to make it
 * here. *reply_out = the 200 body. Returns CV_OK or the store's error
 * (then the caller rolls back).
 */
enum cv_err cv_gh_plan_apply(struct cv_store *s, const struct cv_config *cfg,
    const json_t *plan, const struct cv_gh_ready *ready,
    const char *delivery_id, json_t **reply_out);

/* The registered-repository test of cv_gh_opts over a store (arg). */
bool cv_gh_registered_in_store(void *arg, const char *name);

/* Asks the worker to fetch the mirror of repo (one row per repository;
 * joins the caller's transaction). */
enum cv_err cv_gh_fetch_request(struct cv_store *s, const char *repo);

/* Takes the pending fetch requests: *repos_out = array of names (rows
 * removed). */
enum cv_err cv_gh_fetch_take(struct cv_store *s, json_t **repos_out);

#endif
