/*
 * events.c - the events family: the event log, audit, policy decisions,
 * integration metrics and the decision export (http-api.md 5.6, 5.7).
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "eventlog.h"
#include "farm.h"
#include "insight.h"
#include "jsonx.h"
#include "page.h"
#include "projections.h"

/* GET /events: newest first, `limit` (default 100) per page; `after` (a
 * cursor from the Link header) continues where a page ended (page.h). */
static void events(struct cv_ctx *ctx)
{
	static const char *const keep[] = { "type", "intent_id", "agent_id",
	    "tenant_id", "since", NULL };
	struct cv_page pg;

	if (!cv_api_want_store(ctx) ||
	    !cv_api_want_page(ctx, "events", 2, 100, 10000, &pg))
		return;
	struct cv_event_filter f = {
		.event_type = cv_request_query(ctx->req, "type"),
		.intent_id = cv_request_query(ctx->req, "intent_id"),
		.agent_id = cv_request_query(ctx->req, "agent_id"),
		.tenant_id = cv_api_read_tenant(ctx),
		.since = cv_request_query(ctx->req, "since"),
	};
	cv_api_answer_events(ctx, "events", &f, &pg, keep);
}

/* The recent events of one type (NULL: all), paged like /events. */
static void typed_recent(struct cv_ctx *ctx, const char *kind,
    const char *type, long long def)
{
	static const char *const keep[] = { "tenant_id", NULL };
	struct cv_page pg;

	if (!cv_api_want_store(ctx) ||
	    !cv_api_want_page(ctx, kind, 2, def, 10000, &pg))
		return;
	struct cv_event_filter f = { .event_type = type,
	    .tenant_id = cv_api_read_tenant(ctx) };
	cv_api_answer_events(ctx, kind, &f, &pg, keep);
}

static void audit_recent(struct cv_ctx *ctx)
{
	typed_recent(ctx, "audit", NULL, 100);
}

static void policy_recent(struct cv_ctx *ctx)
{
	typed_recent(ctx, "policy", "policy.evaluated", 50);
}

static void integration_metrics(struct cv_ctx *ctx)
{
	struct cv_store *s = cv_api_want_store(ctx);
	json_t *out = NULL;

	if (!s)
		return;
	if (cv_insight_integration_metrics(s, cv_api_read_tenant(ctx), &out) !=
	    CV_OK)
		cv_api_fail(ctx, "integration metrics");
	else
		cv_response_json(ctx->resp, 200, out);
}

/* ---- export ------------------------------------------------------------ */

struct text {
	char *buf;
	size_t len, cap;
	int failed;
};

static void append(struct text *t, const char *s, size_t n)
{
	if (t->failed)
		return;
	if (t->len + n + 1 > t->cap) {
		size_t cap = (t->cap ? t->cap * 2 : 4096) + n;
		char *nb = realloc(t->buf, cap);
		if (!nb) {
			t->failed = 1;
			return;
		}
		t->buf = nb;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	t->buf[t->len] = '\0';
}

static void append_owned(struct text *t, char *s)
{
	if (!s) {
		t->failed = 1;
		return;
	}
	append(t, s, strlen(s));
	free(s);
}

static void export_jsonl(struct cv_ctx *ctx, const json_t *records)
{
	struct text t = { 0 };
	size_t i;
	json_t *r;

	json_array_foreach(records, i, r) {
		if (i)
			append(&t, "\n", 1);   /* no trailing newline (5.7) */
		append_owned(&t, cv_json_dump(r));
	}
	if (t.failed) {
		free(t.buf);
		cv_api_fail(ctx, "export");
		return;
	}
	cv_response_text(ctx->resp, 200, "application/x-ndjson",
	    t.buf ? t.buf : "", t.len);
	cv_response_header(ctx->resp, "Content-Disposition",
	    "attachment; filename=decisions.jsonl");
	free(t.buf);
}

static void export_csv(struct cv_ctx *ctx, const json_t *records)
{
	struct text t = { 0 };
	size_t i;
	json_t *r;

	if (json_array_size(records) == 0) {
		cv_response_text(ctx->resp, 200, "text/csv; charset=utf-8", "", 0);
		return;
	}
	append_owned(&t, cv_export_csv_header_build(25));
	append(&t, "\r\n", 2);
	json_array_foreach(records, i, r) {
		append_owned(&t, cv_export_csv_line_build(r, 25));
		append(&t, "\r\n", 2);
	}
	if (t.failed) {
		free(t.buf);
		cv_api_fail(ctx, "export");
		return;
	}
	cv_response_text(ctx->resp, 200, "text/csv; charset=utf-8", t.buf, t.len);
	cv_response_header(ctx->resp, "Content-Disposition",
	    "attachment; filename=decisions.csv");
	free(t.buf);
}

static void export_decisions(struct cv_ctx *ctx)
{
	struct cv_store *s = cv_api_want_store(ctx);
	const char *fmt = cv_request_query(ctx->req, "fmt");
	json_t *records = NULL;

	if (!s)
		return;
	if (cv_insight_export_records(s, cv_api_read_tenant(ctx), false,
	    &records) != CV_OK) {
		cv_api_fail(ctx, "export");
		return;
	}
	if (fmt && strcmp(fmt, "csv") == 0)
		export_csv(ctx, records);
	else
		export_jsonl(ctx, records);
	json_decref(records);
}

static const struct cv_route routes[] = {
	{ "GET", "/events", events, CV_ROUTE_PREFIXED, "viewer", "events.read" },
	{ "GET", "/audit/recent", audit_recent, CV_ROUTE_PREFIXED, "operator",
	    "events.read" },
	{ "GET", "/policy/recent", policy_recent, CV_ROUTE_PREFIXED, "viewer",
	    "events.read" },
	{ "GET", "/metrics/integration", integration_metrics, CV_ROUTE_PREFIXED,
	    "viewer", "events.read" },
	{ "GET", "/export/decisions", export_decisions, CV_ROUTE_PREFIXED,
	    "viewer", "events.read" },
};

const struct cv_family cv_family_events = {
	.name = "events",
	.routes = routes,
	.nroutes = CV_ARRAY_LEN(routes),
	.default_processes = 2,
};

#ifndef CV_FAMILY_NO_MAIN
int main(int argc, char **argv)
{
	return cv_farm_main(&cv_family_events, argc, argv);
}
#endif
