/*
 * dashboard.c - the dashboard family: the dashboard, its alerts and the
 * project-health projections under /api/health and /v1/health
 * (http-api.md 5.6, 5.7). Unrelated to the unauthenticated /health probes.
 */
#include "api.h"
#include "jsonx.h"
#include "farm.h"
#include "insight.h"

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

typedef enum cv_err (*trend_fn)(struct cv_store *, const char *, int, int,
    json_t **);

/* days=0 means "since now": an empty window, not the default. */
static void trend(struct cv_ctx *ctx, trend_fn fn, const char *what)
{
	struct cv_store *s = cv_api_want_store(ctx);
	long long days;
	json_t *out = NULL;

	if (!s || !cv_api_want_int(ctx, "days", 30, 0, 3650, &days))
		return;
	if (days == 0) {
		cv_response_json(ctx->resp, 200, json_array());
		return;
	}
	answer(ctx, fn(s, cv_api_read_tenant(ctx), (int)days, 0, &out), &out,
	    what);
}

static void repo_trend(struct cv_ctx *ctx)
{
	trend(ctx, cv_insight_health_trend, "health trend");
}

static void change_trend(struct cv_ctx *ctx)
{
	trend(ctx, cv_insight_change_health_trend, "change trend");
}

static void entropy_trend(struct cv_ctx *ctx)
{
	trend(ctx, cv_insight_entropy_trend, "entropy trend");
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
