/*
 * dashboard.c - the dashboard family: the dashboard, its alerts and the
 * project-health projections under /api/health and /v1/health
 * (http-api.md 5.6, 5.7). Unrelated to the unauthenticated /health probes.
 */
#include "api.h"
#include "clock.h"
#include "eventlog.h"
#include "jsonx.h"
#include "farm.h"
#include "insight.h"
#include "page.h"
#include "projections.h"

/* out is passed by address: callers compute err in the same call
 * expression, and the order in which C evaluates arguments is unspecified
 * (GCC read a still-NULL out first, so every route here answered 500). */
static void answer(struct cv_ctx *ctx, enum cv_err err, json_t **out,
    const char *what)
{
	if (err != CV_OK)
		cv_api_fail(ctx, what);
	else
		cv_response_json(ctx->resp, 200, *out);
}

static void dashboard(struct cv_ctx *ctx)
{
	struct cv_store *s = cv_api_want_store(ctx);
	long long days;
	json_t *out = NULL;

	if (!s || !cv_api_want_int(ctx, "risk_trend_days", 30, 0, 3650, &days))
		return;
	answer(ctx, cv_insight_dashboard(s, cv_api_read_tenant(ctx),
	    days > 0 ? (int)days : 0, &out), &out, "dashboard");
}

static void alerts(struct cv_ctx *ctx)
{
	struct cv_store *s = cv_api_want_store(ctx);
	json_t *out = NULL;

	if (s)
		answer(ctx, cv_insight_dashboard_alerts(s,
		    cv_api_read_tenant(ctx), &out), &out, "dashboard alerts");
}

static void repo_now(struct cv_ctx *ctx)
{
	struct cv_store *s = cv_api_want_store(ctx);
	json_t *out = NULL;

	if (s)
		answer(ctx, cv_insight_repo_health(s, cv_api_read_tenant(ctx),
		    24, &out), &out, "repo health");
}

/* A trend (http-api 5.6): the newest events of type since now − days,
 * cap of them a page (the spec's bound, so `limit` is not read), each
 * built into a row by build; `after` (page.h) continues with older ones. */
struct trend_list {
	const char *kind;
	const char *type;
	long long cap;
	json_t *(*build)(const json_t *events);
};

/* The page's events (*evs, new) after pg, with the Link when more
 * follow; false after answering. */
static bool trend_events(struct cv_ctx *ctx, const struct trend_list *t,
    long long days, struct cv_page *pg, json_t **evs)
{
	static const char *const keep[] = { "days", "tenant_id", NULL };
	struct cv_event_filter f = { 0 };
	char since[CV_TS_LEN];
	json_t *pos = NULL;
	enum cv_err e;

	cv_ts_from_us(since, cv_now_us() - days * 24 * 3600 * 1000000LL);
	f.event_type = t->type;
	f.tenant_id = cv_api_read_tenant(ctx);
	f.since = since;
	f.limit = (int)t->cap + 1;   /* one more: whether a next page exists */
	e = cv_event_page(cv_app_store(ctx->app), &f,
	    pg->has_after ? pg->key[0] : NULL,
	    pg->has_after ? pg->key[1] : NULL, evs, &pos);
	if (e == CV_EINVAL) {
		cv_api_invalid(ctx, "query.after", "Not a cursor of this list");
		return false;
	}
	if (e != CV_OK) {
		cv_api_fail(ctx, t->type);
		return false;
	}
	if (json_array_size(*evs) > (size_t)t->cap) {
		json_t *last = json_array_get(*evs, (size_t)t->cap - 1);
		const char *key[2] = { cv_json_str(last, "timestamp", ""),
		    json_string_value(json_array_get(pos, (size_t)t->cap - 1)) };

		json_array_remove(*evs, (size_t)t->cap);
		if (key[1])
			cv_api_page_link(ctx, t->kind, key, 2, keep, t->cap);
	}
	json_decref(pos);
	return true;
}

/* days=0 means "since now": an empty window, not the default. */
static void trend(struct cv_ctx *ctx, const struct trend_list *t)
{
	struct cv_store *s = cv_api_want_store(ctx);
	struct cv_page pg;
	long long days;
	json_t *evs = NULL, *out;

	if (!s || !cv_api_want_int(ctx, "days", 30, 0, 3650, &days) ||
	    !cv_api_want_page(ctx, t->kind, 2, t->cap, 0, &pg))
		return;
	if (days == 0) {
		cv_page_free(&pg);
		cv_response_json(ctx->resp, 200, json_array());
		return;
	}
	if (trend_events(ctx, t, days, &pg, &evs)) {
		if (!(out = t->build(evs)))
			cv_api_fail(ctx, t->type);
		else
			cv_response_json(ctx->resp, 200, out);
	}
	json_decref(evs);
	cv_page_free(&pg);
}

static void repo_trend(struct cv_ctx *ctx)
{
	static const struct trend_list t = { "health-trend",
	    "health.snapshot", 200, cv_payload_trend_build };

	trend(ctx, &t);
}

static void change_trend(struct cv_ctx *ctx)
{
	static const struct trend_list t = { "change-trend",
	    "health.change_snapshot", 500, cv_payload_trend_build };

	trend(ctx, &t);
}

static void entropy_trend(struct cv_ctx *ctx)
{
	static const struct trend_list t = { "entropy-trend",
	    "risk.evaluated", 500, cv_entropy_trend_build };

	trend(ctx, &t);
}

static void change(struct cv_ctx *ctx)
{
	struct cv_store *s = cv_api_want_store(ctx);
	const char *id = cv_request_query(ctx->req, "intent_id");
	json_t *out = NULL;

	if (!s)
		return;
	json_t *in;

	if (!id || !*id) {
		cv_response_error(ctx->resp, 400, "intent_id required");
		return;
	}
	/* D-8: nothing is computed (nor recorded) for an intent the caller
	 * cannot see. */
	if (!(in = cv_api_want_intent(ctx, s, id, NULL)))
		return;
	answer(ctx, cv_insight_change_health(s, id, cv_json_str(in,
	    "tenant_id", NULL), &out), &out, "change health");
	json_decref(in);
}

static const struct cv_route routes[] = {
	{ "GET", "/dashboard", dashboard, CV_ROUTE_PREFIXED, "viewer",
	    "intents.read" },
	{ "GET", "/dashboard/alerts", alerts, CV_ROUTE_PREFIXED, "viewer",
	    "compliance.read" },
	{ "GET", "/health/repo/now", repo_now, CV_ROUTE_PREFIXED, "viewer",
	    "intents.read" },
	{ "GET", "/health/repo/trend", repo_trend, CV_ROUTE_PREFIXED, "viewer",
	    "intents.read" },
	{ "GET", "/health/change", change, CV_ROUTE_PREFIXED, "viewer",
	    "intents.read" },
	{ "GET", "/health/change/trend", change_trend, CV_ROUTE_PREFIXED,
	    "viewer", "intents.read" },
	{ "GET", "/health/entropy/trend", entropy_trend, CV_ROUTE_PREFIXED,
	    "viewer", "intents.read" },
};

const struct cv_family cv_family_dashboard = {
	.name = "dashboard",
	.routes = routes,
	.nroutes = CV_ARRAY_LEN(routes),
	.default_processes = 2,
};

#ifndef CV_FAMILY_NO_MAIN
int main(int argc, char **argv)
{
	return cv_farm_main(&cv_family_dashboard, argc, argv);
}
#endif
