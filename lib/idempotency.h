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

/* Records a response for the key (first writer wins). */
enum cv_err cv_idem_record(struct cv_store *s, const char *scope,
    const char *key, const void *body, size_t len, int status,
    const char *response);

#endif
