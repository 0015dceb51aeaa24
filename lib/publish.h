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

/* The engine's decision hook (struct cv_engine.on_decision) for the
 * worker: publishes a result about an intent that carries technical.repo
 * and technical.initial_base_commit. arg is the struct cv_config. */
void cv_publish_decision_hook(void *arg, struct cv_store *s,
    const json_t *intent, const json_t *result);

#endif
