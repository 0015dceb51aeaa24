/*
 * idempotency.h - replay of POSTs carrying an Idempotency-Key
 * (decisions.md D-3): the same key with the same body within 24 h gets the
 * first response again; with another body it is refused (422).
 *
 * Keys are scoped by the caller (actor and tenant), so one client cannot
 * replay, or probe, another's responses.
 */
#ifndef CV_IDEMPOTENCY_H
#define CV_IDEMPOTENCY_H

#include <jansson.h>
#include <stddef.h>

#include "cv.h"
#include "store.h"

enum cv_idem_state {
	CV_IDEM_NEW,        /* no usable record: handle the request */
	CV_IDEM_REPLAY,     /* same body seen: status and response are filled */
	CV_IDEM_CONFLICT    /* same key, other body: answer 422 */
};

/* Looks the key up. *response (on REPLAY) is a new string the caller
 * frees. */
enum cv_err cv_idem_check(struct cv_store *s, const char *scope,
    const char *key, const void *body, size_t len, enum cv_idem_state *state,
    int *status, char **response);

/*
 * cv_idem_check that also claims a new key, for callers inside a
 * transaction (cv_store_begin): on CV_IDEM_NEW a placeholder row now
 * holds the key, so a concurrent request with the same key waits for
 * this transaction (the write lock in SQLite, the unique key in
 * PostgreSQL) and then replays what it recorded. The caller records the
 * answer with cv_idem_record before committing, or rolls back, which
 * releases the claim.
 */
enum cv_err cv_idem_claim(struct cv_store *s, const char *scope,
    const char *key, const void *body, size_t len, enum cv_idem_state *state,
    int *status, char **response);

/* Records a response for the key (first writer wins; a claim made by
 * cv_idem_claim is filled in). */
enum cv_err cv_idem_record(struct cv_store *s, const char *scope,
    const char *key, const void *body, size_t len, int status,
    const char *response);

#endif
