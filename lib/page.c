/* page.c - `limit`/`after` parsing and the rel="next" Link (page.h). */
#include "page.h"

#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "cursor.h"
#include "http.h"

static const char *tenant_of(const struct cv_ctx *ctx)
{
	const char *t = cv_api_read_tenant(ctx);

	return t ? t : "";
}

static bool refuse(struct cv_ctx *ctx, struct cv_page *pg)
{
	cv_page_free(pg);
	cv_api_invalid(ctx, "query.after", "Not a cursor of this list");
	return false;
}

bool cv_api_want_page(struct cv_ctx *ctx, const char *kind, size_t nkey,
    long long def, long long max, struct cv_page *pg)
{
	const char *after = cv_request_query(ctx->req, "after");
	const char *f[CV_PAGE_MAX_KEY + 2];

	memset(pg, 0, sizeof *pg);
	if (nkey > CV_PAGE_MAX_KEY)
		return false;
	if (max <= 0)   /* a fixed page: `limit` is not this list's */
		pg->limit = def;
	else if (!cv_api_want_int(ctx, "limit", def > 0 ? def :
	    CV_PAGE_DEFAULT, 1, max, &pg->limit))
		return false;
	pg->paged = def > 0 || after || cv_request_query(ctx->req, "limit");
	if (!after)
		return true;
	if (!cv_cursor_decode(after, &pg->buf, f, nkey + 2) ||
	    strcmp(f[0], kind) != 0 || strcmp(f[1], tenant_of(ctx)) != 0)
		return refuse(ctx, pg);
	for (size_t i = 0; i < nkey; i++)
		pg->key[i] = f[i + 2];
	pg->has_after = true;
	return true;
}

void cv_page_free(struct cv_page *pg)
{
	free(pg->buf);
	pg->buf = NULL;
}

void cv_api_page_link(struct cv_ctx *ctx, const char *kind,
    const char *const *key, size_t nkey, const char *const *keep,
    long long limit)
{
	const char *f[CV_PAGE_MAX_KEY + 2];
	const char *names[16], *values[16];
	char *after, *link;
	size_t i;

	if (nkey > CV_PAGE_MAX_KEY)
		return;
	f[0] = kind;
	f[1] = tenant_of(ctx);
	for (i = 0; i < nkey; i++)
		f[i + 2] = key[i];
	for (i = 0; keep[i] && i < 15; i++) {
		names[i] = keep[i];
		values[i] = cv_request_query(ctx->req, keep[i]);
	}
	names[i] = values[i] = NULL;
	if (!(after = cv_cursor_encode(f, nkey + 2)))
		return;
	if ((link = cv_cursor_link(ctx->req->path, names, values, limit,
	    after)))
		cv_response_header(ctx->resp, "Link", link);
	free(link);
	free(after);
}

void cv_api_answer_events(struct cv_ctx *ctx, const char *kind,
    struct cv_event_filter *f, struct cv_page *pg,
    const char *const *keep)
{
	json_t *events = NULL, *pos = NULL;
	enum cv_err e;
	size_t n;

	/* One more than the page: whether a next page exists. */
	f->limit = (int)pg->limit + 1;
	e = cv_event_page(cv_app_store(ctx->app), f,
	    pg->has_after ? pg->key[0] : NULL,
	    pg->has_after ? pg->key[1] : NULL, &events, &pos);
	if (e == CV_EINVAL) {
		refuse(ctx, pg);
		return;
	}
	if (e != CV_OK) {
		cv_page_free(pg);
		cv_api_fail(ctx, "event query");
		return;
	}
	if ((n = json_array_size(events)) > (size_t)pg->limit) {
		json_t *last = json_array_get(events, (size_t)pg->limit - 1);
		const char *key[2] = { json_string_value(json_object_get(last,
		    "timestamp")), json_string_value(json_array_get(pos,
		    (size_t)pg->limit - 1)) };

		json_array_remove(events, (size_t)pg->limit);
		if (key[0] && key[1])
			cv_api_page_link(ctx, kind, key, 2, keep, pg->limit);
	}
	json_decref(pos);
	cv_page_free(pg);
	cv_response_json(ctx->resp, 200, events);
}

const json_t *cv_page_cut(const struct cv_page *pg, json_t *list)
{
	if (!pg->paged || json_array_size(list) <= (size_t)pg->limit)
		return NULL;
	while (json_array_size(list) > (size_t)pg->limit)
		json_array_remove(list, json_array_size(list) - 1);
	return json_array_get(list, (size_t)pg->limit - 1);
}
