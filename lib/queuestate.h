/*
 * queuestate.h - QueueState (domain.md 7.8) computed by the database
 * instead of from every intent: per-status counts by GROUP BY and the
 * pending list by index, so its cost does not grow with the queue.
 *
 * `pending` is capped at CV_QUEUE_PENDING_CAP entries (READY, VALIDATED
 * and QUEUED intents sorted by priority, then id); `pending_count` says
 * how many there are in all. `total` and `by_status` cover at most 10,000
 * intents in view order, as the spec's projection reads.
 */
#ifndef CV_QUEUESTATE_H
#define CV_QUEUESTATE_H

#include <jansson.h>

#include "cv.h"
#include "store.h"

#define CV_QUEUE_PENDING_CAP 200
#define CV_QUEUE_WINDOW 10000   /* intents the projection reads */

/* *out = new {pending, pending_count, total, by_status} of tenant_id's
 * intents (NULL or "": all). CV_ESTORE on a store failure. */
enum cv_err cv_queue_state_load(struct cv_store *s, const char *tenant_id,
    json_t **out);

/* READY + VALIDATED + QUEUED among the same intents (the health
 * snapshot's active_intents). */
enum cv_err cv_queue_active_count(struct cv_store *s, const char *tenant_id,
    long long *out);

#endif
