/*
 * agents.c - the agents family (http-api.md 5.4, domain.md 8): agent
 * policies and the authorization of an agent's action on an intent.
 * Validation and the decision rules live in lib/agents.c; this file reads
 * what they need from the store and records what they return.
 */
#include <jansson.h>
#include <limits.h>
#include <string.h>

#include "agents.h"
#include "api.h"
#include "eventlog.h"
#include "farm.h"
#include "insight.h"
#include "intents.h"
#include "jsonx.h"
#include "page.h"
#include "store.h"

/* ---- policies (8.1) --------------------------------------------------------- */

/* The stored policies of the read tenant, page by page when `limit` or
 * `after` is given (page.h), else all of them as in 0.1.0. */
static json_t *stored_policies(struct cv_ctx *ctx, struct cv_store *s,
    const struct cv_page *pg)
{
	static const char *const keep[] = { "tenant_id", NULL };
	const char *tenant = cv_api_read_tenant(ctx);
	const json_t *last;
	json_t *stored;

	if (!pg->paged)
		return cv_agent_policy_list(s, tenant);
	stored = cv_agent_policy_page(s, tenant, pg->key[0], pg->key[1],
	    (int)pg->limit + 1);
	if (stored && (last = cv_page_cut(pg, stored))) {
		const char *key[2] = { cv_json_str(last, "agent_id", ""),
		    cv_json_str(last, "tenant_id", "") };
		cv_api_page_link(ctx, "agent-policies", key, 2, keep, pg->limit);
	}
	return stored;
}

static void policy_list(struct cv_ctx *ctx)
{
	struct cv_store *s = cv_api_want_store(ctx);
	json_t *stored, *out, *doc;
	struct cv_page pg;
	size_t i;

	if (!s || !cv_api_want_page(ctx, "agent-policies", 2, 0, 10000, &pg))
		return;
	stored = stored_policies(ctx, s, &pg);
	cv_page_free(&pg);
	if (!stored) {
		cv_api_fail(ctx, "agent policy list");
		return;
	}
	out = json_array();
	json_array_foreach(stored, i, doc) {
		if (!out || json_array_append_new(out,
		    cv_agent_policy_from_stored(doc)) == -1) {
			json_decref(out);
			out = NULL;
			break;
		}
	}
	json_decref(stored);
	/* NULL (allocation failed) becomes the generic 500. */
	cv_response_json(ctx->resp, 200, out);
}

/* Upsert and its event together, or neither. */
static enum cv_err store_policy(struct cv_store *s, const json_t *policy)
{
	enum cv_err e;

	if ((e = cv_store_begin(s)))
		return e;
	if ((e = cv_agent_policy_upsert(s, policy)) ||
	    (e = cv_event_emit(s, "agent.policy_updated", NULL,
	    cv_json_str(policy, "agent_id", NULL),
	    cv_json_str(policy, "tenant_id", NULL), NULL,
	    json_deep_copy(policy), NULL)) ||
	    (e = cv_store_commit(s))) {
		cv_store_rollback(s);
		return e;
	}
	return CV_OK;
}

static void policy_set(struct cv_ctx *ctx)
{
	char err[256] = "";
	const char *tenant, *effective;
	struct cv_store *s;
	json_t *body, *policy;

	if (!(body = cv_api_want_body(ctx, true)))
		return;
	/* A missing tenant becomes the principal's (D2). */
	policy = cv_agent_policy_from_body(body, cv_api_principal_tenant(ctx),
	    err, sizeof err);
	if (!policy) {
		if (err[0])
			cv_response_error(ctx->resp, 400, err);
		else
			cv_api_fail(ctx, "agent policy: out of memory");
		return;
	}
	/* Still null here means a global policy written by a caller without
	 * a tenant, which 3.7 allows; a named tenant must be the caller's. */
	tenant = cv_json_str(policy, "tenant_id", NULL);
	if ((tenant && !cv_api_want_write_tenant(ctx, tenant, &effective)) ||
	    !(s = cv_api_want_store(ctx))) {
		json_decref(policy);
		return;
	}
	if (store_policy(s, policy) != CV_OK) {
		json_decref(policy);
		cv_api_fail(ctx, "agent policy upsert");
		return;
	}
	cv_response_json(ctx->resp, 200, policy);
}

/* ---- authorize (8.2) ------------------------------------------------------------ */

struct authorize_req {
	const char *agent_id;
	const char *action;
	const char *intent_id;
	const char *tenant_id;      /* NULL = none */
	int human_approvals;
};

/* AgentAuthorizeBody, checked in the order of its fields. */
static bool want_authorize_req(struct cv_ctx *ctx, struct authorize_req *r)
{
	json_t *body = cv_api_want_body(ctx, true);
	long long approvals = 0;

	if (!body ||
	    !cv_api_want_required_str(ctx, body, "agent_id", &r->agent_id) ||
	    !cv_api_want_required_str(ctx, body, "action", &r->action) ||
	    !cv_api_want_required_str(ctx, body, "intent_id", &r->intent_id) ||
	    !cv_api_want_str(ctx, body, "tenant_id", &r->tenant_id) ||
	    !cv_api_want_int_field(ctx, body, "human_approvals", &approvals))
		return false;
	if (approvals < INT_MIN || approvals > INT_MAX) {
		cv_api_invalid(ctx, "body.human_approvals", approvals > 0 ?
		    "Input should be less than or equal to 2147483647" :
		    "Input should be greater than or equal to -2147483648");
		return false;
	}
	r->human_approvals = (int)approvals;
	/* D-8: a key bound to a tenant authorizes within it; only a global
	 * admin (a key without tenant) may name another tenant's policy. */
	const char *own = cv_api_principal_tenant(ctx);
	if (own && r->tenant_id && *r->tenant_id &&
	    strcmp(r->tenant_id, own) != 0) {
		cv_response_error(ctx->resp, 403,
		    "Forbidden: cannot access another tenant");
		return false;
	}
	if (!r->tenant_id || !*r->tenant_id)
		r->tenant_id = own;
	return true;
}

/* The policy for (agent, tenant): the stored one completed with
 * defaults, or the defaults. */
static enum cv_err load_policy(struct cv_store *s,
    const struct authorize_req *r, json_t **out)
{
	json_t *stored = NULL;
	enum cv_err e;

	if ((e = cv_agent_policy_get(s, r->agent_id, r->tenant_id, &stored)))
		return e;
	*out = stored ? cv_agent_policy_from_stored(stored) :
	    cv_agent_policy_default(r->agent_id, r->tenant_id);
	json_decref(stored);
	return *out ? CV_OK : CV_ENOMEM;
}

/* Reads what the decision needs and decides; *out is the result. */
static enum cv_err decide(struct cv_store *s, const struct authorize_req *r,
    const json_t *intent, json_t **out)
{
	json_t *policy = NULL, *risk = NULL, *report = NULL;
	enum cv_err e;

	*out = NULL;
	if ((e = load_policy(s, r, &policy)) ||
	    (e = cv_event_latest_of(s, "risk.evaluated", r->intent_id,
	    cv_json_str(intent, "tenant_id", NULL), &risk)))
		goto done;
	/* The report is only consulted for an existing intent whose policy
	 * asks for it; skip its queries otherwise. */
	if (intent && cv_json_bool(policy, "require_compliance_pass", true) &&
	    (e = cv_insight_compliance(s, r->tenant_id, NULL, &report)))
		goto done;
	*out = cv_agent_authorize(policy, r->action, r->intent_id, intent,
	    cv_json_obj(risk, "payload"), report, r->human_approvals, NULL);
	if (!*out)
		e = CV_ENOMEM;
done:
	json_decref(policy);
	json_decref(risk);
	json_decref(report);
	return e;
}

static void authorize(struct cv_ctx *ctx)
{
	struct authorize_req r = { 0 };
	struct cv_store *s;
	json_t *result = NULL, *intent;
	enum cv_err e;

	if (!want_authorize_req(ctx, &r) || !(s = cv_api_want_store(ctx)))
		return;
	/* D-8: another tenant's intent is missing for the caller: 404, no
	 * risk read, no event. */
	if (!(intent = cv_api_want_intent(ctx, s, r.intent_id, NULL)))
		return;
	e = decide(s, &r, intent, &result);
	json_decref(intent);
	if (e != CV_OK) {
		cv_api_fail(ctx, "agent authorize");
		return;
	}
	if (cv_event_emit(s, "agent.authorized", r.intent_id, r.agent_id,
	    r.tenant_id, NULL, json_deep_copy(result), json_pack("{s:O,s:s}",
	    "allowed", json_object_get(result, "allowed"), "action",
	    r.action)) != CV_OK) {
		json_decref(result);
		cv_api_fail(ctx, "agent authorize: event");
		return;
	}
	cv_response_json(ctx->resp, 200, result);
}

static const struct cv_route routes[] = {
	{ "GET", "/agent/policy", policy_list, CV_ROUTE_PREFIXED, "viewer",
	    "agents.read" },
	/* D1: operator, not the reference's viewer. */
	{ "POST", "/agent/policy", policy_set, CV_ROUTE_PREFIXED, "operator",
	    "agents.write" },
	{ "POST", "/agent/authorize", authorize, CV_ROUTE_PREFIXED, "admin",
	    "agents.admin" },
};

const struct cv_family cv_family_agents = {
	.name = "agents",
	.routes = routes,
	.nroutes = sizeof routes / sizeof routes[0],
	.default_processes = 2,
};

#ifndef CV_FAMILY_NO_MAIN
int main(int argc, char **argv)
{
	return cv_farm_main(&cv_family_agents, argc, argv);
}
#endif
