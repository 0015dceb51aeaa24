/*
 * inflight.h - landings in flight: the auto-confirm queue marks an intent
 * before it lands and unmarks it once the outcome is recorded, so that a
 * cycle that dies in between (kill -9, a failed write) does not strand
 * the intent in QUEUED, where the queue never looks (domain.md 1.4 note:
 * the queue selects VALIDATED only).
 *
 * Only the holder of the queue lock calls these: a mark found by the
 * next holder belongs to a dead cycle.
 */
#ifndef CV_INFLIGHT_H
#define CV_INFLIGHT_H

#include "store.h"

/* QUEUED and marked, in one transaction. */
enum cv_err cv_inflight_begin(struct cv_store *s, const char *intent_id,
    long long holder);

/* Removes the mark (the outcome is recorded, or the intent is back in
 * VALIDATED). */
enum cv_err cv_inflight_end(struct cv_store *s, const char *intent_id);

/* Puts every marked intent still QUEUED back to VALIDATED and removes
 * all marks; *count (may be NULL) = intents put back. */
enum cv_err cv_inflight_recover(struct cv_store *s, int *count);

#endif
