/*
 * viewcache.h - rendered projections kept per process (the summary, the
 * queue state), so that a read that grows with the data is computed once
 * per change rather than once per request.
 *
 * An entry is valid while the data version it was computed at is still
 * the database's (cv_view_version: the newest timestamps of the event
 * types the projections read and of any intent change, each one index
 * lookup) and for at most CV_VIEW_MAX_AGE_MS, which bounds what a version
 * cannot see: a write committed after a newer one, events leaving a time
 * window, a prune. Every answer carries a weak ETag: a digest of the body
 * without its clock (the members named "timestamp" outside arrays, e.g.
 * the HealthSnapshot's time of computation), so that recomputing
 * unchanged data, in this process or another, gives the same tag, and
 * changed data a new one. A request whose If-None-Match names it gets
 * 304 without a body.
 *
 * The cache is process-wide state of this module, CV_VIEW_SLOTS entries,
 * least recently used replaced. Entries are owned by the cache: a
 * returned pointer is valid until the next cv_view_put or cv_view_reset.
 */
#ifndef CV_VIEWCACHE_H
#define CV_VIEWCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cv.h"
#include "http.h"
#include "store.h"

#define CV_VIEW_SLOTS 16
#define CV_VIEW_MAX_AGE_MS 2000
#define CV_VIEW_ETAG_LEN 40

struct cv_view {
	char *key;              /* e.g. "summary|<tenant>" */
	char *version;
	char *body;             /* JSON text */
	size_t len;
	char etag[CV_VIEW_ETAG_LEN];  /* W/"<32 hex>" */
	int64_t at_ms;          /* when it was computed */
	uint64_t used;
};

/* *out = the current data version (a new string the caller frees). */
enum cv_err cv_view_version(struct cv_store *s, char **out);

/* The entry of key computed at version, no older than the maximum age at
 * now_ms; NULL when there is none. */
const struct cv_view *cv_view_get(const char *key, const char *version,
    int64_t now_ms);

/* Keeps body_take (JSON text of len bytes, malloc'd) as key's entry at
 * version. Returns the entry, or NULL when out of memory (body_take is
 * freed either way). A NULL version stores nothing and returns NULL. */
const struct cv_view *cv_view_put(const char *key, const char *version,
    char *body_take, size_t len, int64_t now_ms);

/* out = the weak ETag of the projection doc (see above); false when out
 * of memory. */
bool cv_view_etag(const json_t *doc, char out[CV_VIEW_ETAG_LEN]);

/* Like cv_view_put with the ETag given (cv_view_etag of the document
 * body_take is the text of); cv_view_put computes it from the text. */
const struct cv_view *cv_view_put_tagged(const char *key,
    const char *version, char *body_take, size_t len, const char *etag,
    int64_t now_ms);

/* The answer from v: 304 with its ETag when the request's If-None-Match
 * names it (or is "*"), else 200 with the body and the ETag. */
void cv_view_respond(const struct cv_view *v, const struct cv_request *req,
    struct cv_response *resp);

/* Computes a projection: *out = new JSON (caller of build frees it). */
typedef enum cv_err (*cv_view_build_fn)(struct cv_store *s, const void *arg,
    json_t **out);

/*
 * Answers key: from the cache when its entry is current, else by calling
 * build(s, arg) and caching the result (with its ETag). CV_OK when resp
 * holds the answer (200 or 304); otherwise build's error, or CV_ENOMEM,
 * and resp is untouched.
 */
enum cv_err cv_view_serve(struct cv_store *s, const char *key,
    cv_view_build_fn build, const void *arg, const struct cv_request *req,
    struct cv_response *resp);

/* Frees every entry. */
void cv_view_reset(void);

#endif
