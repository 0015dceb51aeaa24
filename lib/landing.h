/*
 * landing.h - what the engine does differently for an intent of a
 * registered repository (decisions.md D-9), kept out of engine.c: open
 * the repository's mirror (fetching first), resolve the intent's target
 * and source to shas, build the candidate merge commit, run the checks
 * in a worktree of it, and push it as a fast-forward.
 *
 * The engine decides what the outcomes mean (block, retry, MERGED);
 * nothing here touches the store but the registry read in
 * cv_landing_open.
 */
#ifndef CV_LANDING_H
#define CV_LANDING_H

#include <jansson.h>
#include <stdbool.h>

#include "engine.h"
#include "mirror.h"

struct cv_landing {
	json_t *repo;              /* the registration */
	struct cv_mirror mirror;
	char *token;               /* installation token, or NULL */
	/* The queue's train (D-9): within one queue run, each candidate is
	 * built on the previous one (tip) and the engine pushes the last
	 * one for all of them. */
	char tip_branch[256];      /* branch whose tip is known, or "" */
	char tip[CV_SHA_LEN];      /* its tip as this run knows it */
	json_t *pending;           /* [{intent, decision}] not yet pushed */
	char *worktree;            /* checks' worktree, reused within a run */
	json_t *known;             /* full ref -> sha: what the mirror's
	                            * refs named when prefetched (the
	                            * mirror changes only by our pushes) */
	const json_t *heads_of;    /* intent whose heads are cached */
	char heads_t[CV_SHA_LEN], heads_s[CV_SHA_LEN];
};

/* The run now knows branch's tip is sha (a candidate built on it). */
void cv_landing_set_tip(struct cv_landing *l, const char *branch,
    const char *sha);

/*
 * The landing context of intent, with its mirror freshly fetched.
 * Returns CV_OK and *out (NULL when the intent has no registered
 * repository: the local behaviour applies); CV_ESTORE; or CV_EEXEC with
 * *reason = "Fetch failed: <git's message, URL redacted>".
 */
enum cv_err cv_landing_open(struct cv_engine *e, const json_t *intent,
    struct cv_landing **out, char **reason);

void cv_landing_free(struct cv_landing *l);

/* Resolves the targets and sources (or pinned heads) of intents on the
 * mirror together, one `git rev-parse` per 256 refs instead of one per
 * ref; cv_landing_heads then answers from that. Refs git cannot resolve
 * are left to be asked (and reported) one at a time. */
void cv_landing_prefetch(struct cv_landing *l, const json_t *intents);

/* The target and source of intent as shas on the mirror: the target
 * branch's tip (the run's known tip when set), and the source pinned to technical.head_sha when the
 * intent has one (a PR head), else the source ref's tip. CV_ENOTFOUND
 * with *reason "Unknown ref: <ref>". */
enum cv_err cv_landing_heads(struct cv_landing *l, const json_t *intent,
    char target_sha[CV_SHA_LEN], char source_sha[CV_SHA_LEN], char **reason);

/* The Simulation of the candidate: {mergeable, conflicts, files_changed,
 * timestamp, source, target, target_sha, source_sha, candidate_sha}.
 * CV_ENOTFOUND with *reason for an unknown ref; other codes with
 * *reason "Simulation failed: ...". */
enum cv_err cv_landing_simulate(struct cv_landing *l, const json_t *intent,
    json_t **sim_out, char **reason);

/* The checks of the intent: the repository's default checks, then
 * policy_required and the intent's checks_required, without repeats. */
json_t *cv_landing_required(const struct cv_landing *l, const json_t *intent,
    const json_t *policy_required);

/* Runs the checks in a temporary worktree of candidate_sha (one per
 * landing context, moved from candidate to candidate and removed by
 * cv_landing_free; a crashed run's is swept). *results_out as
 * cv_checks_run. */
enum cv_err cv_landing_checks(struct cv_landing *l, const char *candidate_sha,
    const json_t *checks, int timeout_s, json_t **results_out);

/* Lands candidate_sha on the remote target, fast-forward only:
 * CV_LAND_MERGED (*commit_out = candidate_sha), CV_LAND_RETRY (the target
 * moved: refused, nothing spent) or CV_LAND_FAILED (*error_out). */
enum cv_land cv_landing_push(struct cv_landing *l, const json_t *intent,
    const char *candidate_sha, char **commit_out, char **error_out);

/* Fetches the mirrors webhooks asked for (cv_gh_fetch_request), once
 * each; failures are logged and left to the next validation. */
void cv_landing_fetch_requested(struct cv_engine *e);

#endif
