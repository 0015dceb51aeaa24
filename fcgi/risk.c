/*
 * risk.c - the risk family (http-api.md 5.3): risk evaluations and their
 * review, shadow evaluations, the risk-gate report, per-tenant risk
 * policies, impact edges and diagnostics. Thin responders: the queries
 * and the computations live in lib/.
 */
#include <jansson.h>
#include <string.h>

#include "api.h"
#include "eventlog.h"
#include "farm.h"
#include "insight.h"
#include "intents.h"
#include "jsonx.h"
#include "page.h"
#include "risk.h"
#include "store.h"

#define LIMIT_DEFAULT 50
#define LIMIT_MAX 10000           /* D12 */

/* Answers the newest events of one type for the read tenant, a page of
 * the query's `limit` (default 50, clamped into 1..10000) continued by
 * `after` (page.h). */
static void send_events(struct cv_ctx *ctx, const char *kind,
    const char *type)
{
	static const char *const keep[] = { "tenant_id", NULL };
	struct cv_event_filter f = { 0 };
	struct cv_page pg;

	if (!cv_api_want_page(ctx, kind, 2, LIMIT_DEFAULT, LIMIT_MAX, &pg))
		return;
	if (!cv_api_want_store(ctx)) {
		cv_page_free(&pg);
		return;
	}
	f.event_type = type;
	f.tenant_id = cv_api_read_tenant(ctx);
	cv_api_answer_events(ctx, kind, &f, &pg, keep);
}

static void risk_recent(struct cv_ctx *ctx)
{
	send_events(ctx, "risk", "risk.evaluated");
}

static void shadow_recent(struct cv_ctx *ctx)
{
	send_events(ctx, "shadow", "risk.shadow_evaluated");
}

/* ---- review (9.3) ------------------------------------------------------- */

/* The risk module's 4.10 diagnostics in the shape insight.h expects. */
static json_t *diagnose(const json_t *intent, const json_t *riskeval,
    const json_t *simulation)
{
	(void)intent;
	return cv_risk_diagnostics_build(riskeval, simulation);
}

static void risk_review(struct cv_ctx *ctx)
{
	const char *id = cv_request_query(ctx->req, "intent_id");
	struct cv_store *s;
	json_t *intent, *out = NULL;
	char nf[400];

	if (!id || !*id) {
		cv_response_error(ctx->resp, 400, "intent_id required");
		return;
	}
	if (!(s = cv_api_want_store(ctx)))
		return;
	/* D-8: a missing intent and another tenant's answer the same 404
	 * (0.1.0 answered 200 with this body), so existence does not leak. */
	snprintf(nf, sizeof nf, "Intent %.300s not found", id);
	if (!(intent = cv_api_want_intent(ctx, s, id, nf)))
		return;
	if (cv_insight_risk_review(s, id, cv_json_str(intent, "tenant_id",
	    NULL), diagnose, &out) != CV_OK) {
		json_decref(intent);
		cv_api_fail(ctx, "risk review");
		return;
	}
	json_decref(intent);
	cv_response_json(ctx->resp, 200, out);
}

/* ---- gate report (domain 5.4) -------------------------------------------- */

static void gate_report(struct cv_ctx *ctx)
{
	struct cv_store *s = cv_api_want_store(ctx);
	json_t *out = NULL;

	if (!s)
		return;
	if (cv_insight_risk_gate_report(s, cv_api_read_tenant(ctx), &out) !=
	    CV_OK) {
		cv_api_fail(ctx, "risk gate report");
		return;
	}
	cv_response_json(ctx->resp, 200, out);
}

/* ---- policies -------------------------------------------------------------- */

/* By tenant_id; page by page when `limit` or `after` is given. */
static void policy_list(struct cv_ctx *ctx)
{
	static const char *const keep[] = { "tenant_id", NULL };
	struct cv_store *s = cv_api_want_store(ctx);
	const char *tenant = cv_api_read_tenant(ctx);
	const json_t *last;
	struct cv_page pg;
	json_t *list;

	if (!s || !cv_api_want_page(ctx, "risk-policies", 1, 0, LIMIT_MAX,
	    &pg))
		return;
	list = pg.paged ? cv_risk_policy_page(s, tenant, pg.key[0],
	    (int)pg.limit + 1) : cv_risk_policy_list(s, tenant);
	if (list && (last = cv_page_cut(&pg, list))) {
		const char *key[1] = { cv_json_str(last, "tenant_id", "") };
		cv_api_page_link(ctx, "risk-policies", key, 1, keep, pg.limit);
	}
	cv_page_free(&pg);
	if (!list) {
		cv_api_fail(ctx, "risk policy list");
		return;
	}
	cv_response_json(ctx->resp, 200, list);
}

/* RiskPolicyBody (5.3): the known fields typed, anything else free. */
static bool valid_policy_body(struct cv_ctx *ctx, const json_t *body,
    const char **tenant)
{
	const char *sev = NULL;
	double num;

	return cv_api_want_str(ctx, body, "tenant_id", tenant) &&
	    cv_api_want_num(ctx, body, "max_risk_score", &num) &&
	    cv_api_want_str(ctx, body, "max_blast_severity", &sev) &&
	    cv_api_want_num(ctx, body, "entropy_budget", &num);
}

/* Upsert (version + 1) and the D18 event in one transaction: a policy
 * change without its audit record must not happen. */
static enum cv_err store_policy(struct cv_store *s, const char *tenant,
    const json_t *doc)
{
	enum cv_err e;

	if ((e = cv_store_begin(s)))
		return e;
	if ((e = cv_risk_policy_upsert(s, tenant, doc, NULL)) ||
	    (e = cv_event_emit(s, "risk.policy_updated", NULL, NULL, tenant,
	    NULL, json_deep_copy(doc), NULL)) ||
	    (e = cv_store_commit(s))) {
		cv_store_rollback(s);
		return e;
	}
	return CV_OK;
}

static void policy_set(struct cv_ctx *ctx)
{
	const char *requested = NULL, *tenant;
	struct cv_store *s;
	json_t *body, *doc;

	if (!(body = cv_api_want_body(ctx, true)) ||
	    !valid_policy_body(ctx, body, &requested))
		return;
	/* 3.7: body tenant, else the query's, else the principal's. */
	if (!requested || !*requested)
		requested = cv_request_query(ctx->req, "tenant_id");
	if (!cv_api_want_write_tenant(ctx, requested, &tenant) ||
	    !(s = cv_api_want_store(ctx)))
		return;
	if (!(doc = cv_api_doc_without_nulls(body))) {
		cv_api_fail(ctx, "risk policy: out of memory");
		return;
	}
	if (store_policy(s, tenant, doc) != CV_OK) {
		json_decref(doc);
		cv_api_fail(ctx, "risk policy upsert");
		return;
	}
	json_decref(doc);
	cv_response_json(ctx->resp, 200, json_pack("{s:b,s:s}", "ok", 1,
	    "tenant_id", tenant));
}

/* ---- impact edges and diagnostics ------------------------------------------- */

/* Answers payload[key] of the newest risk.evaluated event (of intent_id
 * when given) within the read tenant, or [] when there is none. */
static void latest_risk_part(struct cv_ctx *ctx, const char *key)
{
	struct cv_event_filter f = { 0 };
	struct cv_store *s = cv_api_want_store(ctx);
	json_t *evs, *part;

	if (!s)
		return;
	f.event_type = "risk.evaluated";
	f.intent_id = cv_request_query(ctx->req, "intent_id");
	f.tenant_id = cv_api_read_tenant(ctx);
	f.limit = 1;
	if (!(evs = cv_event_query(s, &f))) {
		cv_api_fail(ctx, key);
		return;
	}
	part = cv_json_arr(cv_json_obj(json_array_get(evs, 0), "payload"),
	    key);
	cv_response_json(ctx->resp, 200, part ? json_incref(part) :
	    json_array());
	json_decref(evs);
}

static void impact_edges(struct cv_ctx *ctx)
{
	latest_risk_part(ctx, "impact_edges");
}

static void diagnostics_recent(struct cv_ctx *ctx)
{
	latest_risk_part(ctx, "findings");
}

static const struct cv_route routes[] = {
	{ "GET", "/risk/recent", risk_recent, CV_ROUTE_PREFIXED, "viewer",
	    "risk.read" },
	{ "GET", "/risk/review", risk_review, CV_ROUTE_PREFIXED, "viewer",
	    "risk.read" },
	{ "GET", "/risk/shadow/recent", shadow_recent, CV_ROUTE_PREFIXED,
	    "viewer", "risk.read" },
	{ "GET", "/risk/gate/report", gate_report, CV_ROUTE_PREFIXED, "viewer",
	    "risk.read" },
	{ "GET", "/risk/policy", policy_list, CV_ROUTE_PREFIXED, "viewer",
	    "risk.read" },
	/* D1: operator, not the reference's viewer. */
	{ "POST", "/risk/policy", policy_set, CV_ROUTE_PREFIXED, "operator",
	    "risk.write" },
	{ "GET", "/impact/edges", impact_edges, CV_ROUTE_PREFIXED, "viewer",
	    "risk.read" },
	{ "GET", "/diagnostics/recent", diagnostics_recent, CV_ROUTE_PREFIXED,
	    "viewer", "risk.read" },
};

const struct cv_family cv_family_risk = {
	.name = "risk",
	.routes = routes,
	.nroutes = sizeof routes / sizeof routes[0],
	.default_processes = 2,
};

#ifndef CV_FAMILY_NO_MAIN
int main(int argc, char **argv)
{
	return cv_farm_main(&cv_family_risk, argc, argv);
}
#endif
