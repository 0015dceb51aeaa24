/*
 * compliance.c - the compliance family (http-api.md 5.5, domain.md 7.4):
 * the SLO report and its alerts, and the per-tenant thresholds with their
 * change history. The report itself is computed in lib/.
 */
#include <jansson.h>
#include <string.h>

#include "api.h"
#include "eventlog.h"
#include "farm.h"
#include "insight.h"
#include "jsonx.h"
#include "page.h"
#include "store.h"

#define HISTORY_LIMIT 50

/* The ComplianceReport of the read tenant, or NULL after answering. */
static json_t *want_report(struct cv_ctx *ctx)
{
	struct cv_store *s = cv_api_want_store(ctx);
	json_t *report = NULL;

	if (!s)
		return NULL;
	if (cv_insight_compliance(s, cv_api_read_tenant(ctx), NULL, &report) !=
	    CV_OK) {
		cv_api_fail(ctx, "compliance report");
		return NULL;
	}
	return report;
}

static void report(struct cv_ctx *ctx)
{
	json_t *r = want_report(ctx);

	if (r)
		cv_response_json(ctx->resp, 200, r);
}

static void alerts(struct cv_ctx *ctx)
{
	json_t *r = want_report(ctx), *a;

	if (!r)
		return;
	a = cv_json_arr(r, "alerts");
	cv_response_json(ctx->resp, 200, a ? json_incref(a) : json_array());
	json_decref(r);
}

/* By tenant_id; page by page when `limit` or `after` is given. */
static void thresholds_list(struct cv_ctx *ctx)
{
	static const char *const keep[] = { "tenant_id", NULL };
	struct cv_store *s = cv_api_want_store(ctx);
	const char *tenant = cv_api_read_tenant(ctx);
	const json_t *last;
	struct cv_page pg;
	json_t *list;

	if (!s || !cv_api_want_page(ctx, "thresholds", 1, 0, 10000, &pg))
		return;
	list = pg.paged ? cv_compliance_thresholds_page(s, tenant, pg.key[0],
	    (int)pg.limit + 1) : cv_compliance_thresholds_list(s, tenant);
	if (list && (last = cv_page_cut(&pg, list))) {
		const char *key[1] = { cv_json_str(last, "tenant_id", "") };
		cv_api_page_link(ctx, "thresholds", key, 1, keep, pg.limit);
	}
	cv_page_free(&pg);
	if (!list) {
		cv_api_fail(ctx, "compliance thresholds list");
		return;
	}
	cv_response_json(ctx->resp, 200, list);
}

/* ComplianceThresholdsBody (5.5): the documented fields typed, anything
 * else stored as given. */
static bool valid_thresholds_body(struct cv_ctx *ctx, const json_t *body,
    const char **tenant)
{
	double rate;
	long long retries;

	return cv_api_want_str(ctx, body, "tenant_id", tenant) &&
	    cv_api_want_num(ctx, body, "mergeable_rate", &rate) &&
	    cv_api_want_num(ctx, body, "conflict_rate", &rate) &&
	    cv_api_want_int_field(ctx, body, "max_retries", &retries);
}

/* Upsert and its event together, or neither. */
static enum cv_err store_thresholds(struct cv_store *s, const char *tenant,
    const json_t *doc)
{
	enum cv_err e;

	if ((e = cv_store_begin(s)))
		return e;
	if ((e = cv_compliance_thresholds_upsert(s, tenant, doc)) ||
	    (e = cv_event_emit(s, "compliance.thresholds_updated", NULL, NULL,
	    tenant, NULL, json_deep_copy(doc), NULL)) ||
	    (e = cv_store_commit(s))) {
		cv_store_rollback(s);
		return e;
	}
	return CV_OK;
}

static void thresholds_set(struct cv_ctx *ctx)
{
	const char *requested = NULL, *tenant;
	struct cv_store *s;
	json_t *body, *doc;

	/* 3.7: the tenant comes from the body or the principal, never from
	 * the query string. */
	if (!(body = cv_api_want_body(ctx, true)) ||
	    !valid_thresholds_body(ctx, body, &requested) ||
	    !cv_api_want_write_tenant(ctx, requested, &tenant) ||
	    !(s = cv_api_want_store(ctx)))
		return;
	if (!(doc = cv_api_doc_without_nulls(body))) {
		cv_api_fail(ctx, "compliance thresholds: out of memory");
		return;
	}
	if (store_thresholds(s, tenant, doc) != CV_OK) {
		json_decref(doc);
		cv_api_fail(ctx, "compliance thresholds upsert");
		return;
	}
	json_decref(doc);
	cv_response_json(ctx->resp, 200, json_pack("{s:b,s:s}", "ok", 1,
	    "tenant_id", tenant));
}

/* The newest changes first, HISTORY_LIMIT per page (page.h). */
static void thresholds_history(struct cv_ctx *ctx)
{
	static const char *const keep[] = { "tenant_id", NULL };
	struct cv_event_filter f = { 0 };
	struct cv_page pg;

	/* at most 50 a page, whatever `limit` says (http-api 5.5) */
	if (!cv_api_want_store(ctx) || !cv_api_want_page(ctx,
	    "thresholds-history", 2, HISTORY_LIMIT, 0, &pg))
		return;
	f.event_type = "compliance.thresholds_updated";
	f.tenant_id = cv_api_read_tenant(ctx);
	cv_api_answer_events(ctx, "thresholds-history", &f, &pg, keep);
}

static const struct cv_route routes[] = {
	{ "GET", "/compliance/report", report, CV_ROUTE_PREFIXED, "viewer",
	    "compliance.read" },
	{ "GET", "/compliance/alerts", alerts, CV_ROUTE_PREFIXED, "viewer",
	    "compliance.read" },
	{ "GET", "/compliance/thresholds", thresholds_list, CV_ROUTE_PREFIXED,
	    "viewer", "compliance.read" },
	/* D1: operator, not the reference's viewer. */
	{ "POST", "/compliance/thresholds", thresholds_set, CV_ROUTE_PREFIXED,
	    "operator", "compliance.write" },
	{ "GET", "/compliance/thresholds/history", thresholds_history,
	    CV_ROUTE_PREFIXED, "operator", "compliance.read" },
};

const struct cv_family cv_family_compliance = {
	.name = "compliance",
	.routes = routes,
	.nroutes = sizeof routes / sizeof routes[0],
	.default_processes = 2,
};

#ifndef CV_FAMILY_NO_MAIN
int main(int argc, char **argv)
{
	return cv_farm_main(&cv_family_compliance, argc, argv);
}
#endif
