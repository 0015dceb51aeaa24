/*
 * outbox.h - GitHub publications through the github_outbox table
 * (decisions.md D-5): the decision and its publication request are
 * written in one transaction; the worker sends them later, with retry,
 * and never drops one.
 *
 * A request is {"repo":"owner/name","head_sha","installation_id",
 * "intent_id","decision","trace_id","risk_score","reason"}; its key is
 * (intent_id, decision, head_sha), so the same decision about the same
 * commit is published once however often it is enqueued.
 */
#ifndef CV_OUTBOX_H
#define CV_OUTBOX_H

#include <jansson.h>
#include <stdint.h>

#include "cv.h"
#include "github.h"
#include "store.h"

#define CV_OUTBOX_ID_LEN 65        /* 64 hex characters and the NUL */
#define CV_OUTBOX_LEASE 120        /* s a row is held while being sent */
#define CV_OUTBOX_MAX_DELAY 600    /* s, cap of the retry back-off */

/* cv_outbox_process flags. */
#define CV_OUTBOX_EVENTS 0x1       /* append github.decision_published */

struct cv_outbox_counts {
	int sent;                  /* published and marked done */
	int failed;                /* kept, attempts + 1, retried later */
	int skipped;               /* claimed meanwhile by another worker */
};

/* The row id: lowercase hex SHA-256 of "intent_id|decision|head_sha". */
void cv_outbox_id(const json_t *request, char out[CV_OUTBOX_ID_LEN]);

/* Inserts the request, due now; a second enqueue of the same key is a
 * no-op (CV_OK). Only an INSERT, so it joins the caller's transaction
 * when called between cv_store_begin and cv_store_commit. CV_EINVAL when
 * the request cannot ever be published (cv_github_request_check). */
enum cv_err cv_outbox_enqueue(struct cv_store *s, const json_t *request);

/* Sends up to limit rows due at now_us (next_attempt_at <= now, not
 * done), oldest first. Each row is first leased (next_attempt_at moved
 * CV_OUTBOX_LEASE s ahead) so two workers never send the same row at
 * once; then success sets done_at, failure sets attempts + 1 and
 * next_attempt_at = now + min(5 s * 2^attempts, 10 min). counts may be
 * NULL. Returns CV_ESTORE when the table cannot be read or written. */
enum cv_err cv_outbox_process(struct cv_store *s, struct cv_github *gh,
    int limit, int64_t now_us, unsigned flags,
    struct cv_outbox_counts *counts);

/* Rows not yet published (done_at NULL), in *count. */
enum cv_err cv_outbox_pending(struct cv_store *s, long long *count);

/* The back-off after the attempts-th failure (0-based), in seconds. */
int cv_outbox_delay(long long attempts);

#endif
