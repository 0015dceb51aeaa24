/*
 * publish.h - turning decisions into GitHub publication requests in the
 * outbox (http-api.md 7.7, 8.3; operations.md 4.4; decisions.md D-5).
 *
 * Publication is enabled only when both CONVERGE_GITHUB_APP_ID and
 * CONVERGE_GITHUB_INSTALLATION_ID are set; otherwise every call here is a
 * no-op returning CV_OK. Calls only INSERT, so they join the caller's
 * transaction.
 */
#ifndef CV_PUBLISH_H
#define CV_PUBLISH_H

#include <jansson.h>

#include "config.h"
#include "cv.h"
#include "store.h"

/* Enqueues a publication of `decision` for the intent on head_sha.
 * installation: the event's or intent's value (integer, numeric string or
 * NULL → the configured default). Repos not of the form owner/name and an
 * empty head sha are skipped (CV_OK). */
enum cv_err cv_publish_enqueue(struct cv_store *s,
    const struct cv_config *cfg, const char *repo, const char *head_sha,
    const json_t *installation, const char *intent_id, const char *decision,
    const char *trace_id, double risk_score, const char *reason);

/* The engine's decision hook (struct cv_engine.on_decision): publishes a
 * result about an intent to its cv_publish_target, if it has one. arg is
 * the struct cv_config. */
void cv_publish_decision_hook(void *arg, struct cv_store *s,
    const json_t *intent, const json_t *result);

/*
 * Publication targets. The repository, commit and App installation a
 * decision is published to come only from a verified GitHub delivery (or
 * a registered repository), never from a request body: a caller's
 * technical object is not a source.
 */

/* Removes from a caller's technical object (may be NULL) the fields
 * that name a GitHub repository, commit, pull request or installation:
 * only the webhook mapping sets them. */
void cv_publish_strip_routing(json_t *technical);

/* Records (or replaces) the target of intent_id from a verified delivery
 * (the webhook path only): repo "owner/name", head_sha, installation as
 * in the delivery (integer, numeric string or NULL). Joins the caller's
 * transaction. */
enum cv_err cv_publish_target_record(struct cv_store *s,
    const char *intent_id, const char *repo, const char *head_sha,
    const json_t *installation);

/* A verified push moved the head of intent_id's branch in repo: the
 * recorded target follows it. Nothing happens when the intent has no
 * target in that repository (a branch name alone binds nothing). */
enum cv_err cv_publish_target_move(struct cv_store *s, const char *intent_id,
    const char *repo, const char *head_sha);

/*
 * Where decisions about intent are published: *out = new object
 * {"repo","head_sha","installation_id" (string, "" = the configured
 * default),"source" ("webhook")}, or NULL when the intent has no
 * target (CV_OK either way). Sources, in order: the target recorded from
 * a verified delivery; the intent's registered repository (decisions.md
 * D-9; head_sha = the source_sha of its newest simulation, "source":
 * "registered").
 */
enum cv_err cv_publish_target(struct cv_store *s, const json_t *intent,
    json_t **out);

#endif
