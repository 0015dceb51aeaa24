/*
 * page.h - keyset pagination for the list routes: `limit` and `after`
 * in, `Link: <...>; rel="next"` out (cursor.h encodes the cursors).
 *
 * A cursor names the list it belongs to (kind, e.g. "events") and the
 * effective tenant of the request that minted it (http-api.md 3.7, ""
 * for none), then the sort key of the page's last row. A cursor of
 * another list or another tenant is refused like any malformed one
 * (400 "query.after: ..."), so a cursor never carries one tenant's
 * position into another's list. The list query itself always filters
 * by the caller's tenant: a forged cursor can only move within it.
 */
#ifndef CV_PAGE_H
#define CV_PAGE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "app.h"
#include "eventlog.h"

#define CV_PAGE_MAX_KEY 4

struct cv_page {
	long long limit;          /* rows per page */
	bool paged;               /* limit or after given, or def > 0 */
	bool has_after;           /* key[] holds the previous page's end */
	const char *key[CV_PAGE_MAX_KEY];  /* point into buf */
	char *buf;                /* owned; cv_page_free */
};

/*
 * Reads `limit` and `after` for list kind with nkey key fields. def is
 * the list's default page size (0: the list had no limit in 0.1.0; it
 * stays whole unless `limit` or `after` is given, and then pages of
 * CV_PAGE_DEFAULT). limit is clamped into 1..max (D12); max 0: pages
 * are def rows whatever `limit` says (a list whose size the spec fixes
 * and whose `limit` 0.1.0 ignored). Returns false
 * after answering 400 (bad integer, or a cursor that is not one of this
 * list and tenant); *pg then needs no free.
 */
#define CV_PAGE_DEFAULT 100
bool cv_api_want_page(struct cv_ctx *ctx, const char *kind, size_t nkey,
    long long def, long long max, struct cv_page *pg);

void cv_page_free(struct cv_page *pg);

/*
 * Sets the rel="next" Link: the request's own path with the query
 * parameters named in keep (NULL-terminated, at most 15) as the request
 * gave them, limit, and after = the cursor of key (nkey fields: the sort
 * key of the page's last row). The caller fetches limit + 1 rows and
 * calls this (dropping the extra row) only when there is a next page.
 */
void cv_api_page_link(struct cv_ctx *ctx, const char *kind,
    const char *const *key, size_t nkey, const char *const *keep,
    long long limit);

/* When list (a page fetched with pg->limit + 1 rows) has a next page:
 * cuts it to pg->limit rows and returns the last one (borrowed from
 * list), whose key the caller hands to cv_api_page_link. Else NULL. */
const json_t *cv_page_cut(const struct cv_page *pg, json_t *list);

/*
 * Answers an event list (f: its filters; f->limit is set here) with the
 * page pg of kind, newest first, and its Link when a next page exists.
 * Frees pg. The cursor key is the last event's timestamp and position
 * (cv_event_page); a position that is not one answers 400.
 */
void cv_api_answer_events(struct cv_ctx *ctx, const char *kind,
    struct cv_event_filter *f, struct cv_page *pg,
    const char *const *keep);

#endif
