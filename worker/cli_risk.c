/*
 * cli_risk.c - `risk eval|shadow|gate|review|policy-set|policy-get` and
 * `policy eval|calibrate` (operations.md 7.2; domain.md 3.5, 5.4, 5.5,
 * 9.2, 9.3).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clock.h"
#include "eventlog.h"
#include "insight.h"
#include "jsonx.h"
#include "num.h"
#include "policy.h"
#include "risk.h"

static const char *const risk_modes[] = { "shadow", "enforce", NULL };

static json_t *risk_eval(struct cli_ctx *ctx, const struct cli_args *a)
{
	struct cv_engine e;

	cli_engine(ctx, &e);
	return cv_engine_risk_eval(&e, cli_str(a, "intent-id"),
	    cli_str_nonempty(a, "tenant-id"));
}

/* The thresholds for shadow mode: the tenant's stored policy when there
 * is one (missing keys fall back per key inside the gate, O9), with the
 * mode forced to shadow. New reference, NULL on a store failure. */
static json_t *shadow_section(struct cli_ctx *ctx, const char *tenant)
{
	json_t *doc = NULL;

	if (tenant && cv_risk_policy_get(ctx->store, tenant, &doc) != CV_OK)
		return NULL;
	if (!doc)
		doc = json_object();
	json_object_set_new(doc, "mode", json_string("shadow"));
	return doc;
}

static json_t *risk_shadow(struct cli_ctx *ctx, const struct cli_args *a)
{
	const char *id = cli_str(a, "intent-id");
	const char *tenant = cli_str_nonempty(a, "tenant-id");
	json_t *ev = NULL, *p, *section, *gate;

	if (cv_event_latest(ctx->store, "risk.evaluated", id, &ev) != CV_OK)
		return NULL;
	if (!ev)
		return cli_error("No risk evaluation found. Run 'converge risk "
		    "eval' first.");
	p = json_object_get(ev, "payload");
	if (!(section = shadow_section(ctx, tenant))) {
		json_decref(ev);
		return NULL;
	}
	gate = cv_risk_gate_evaluate(section, cv_json_num(p, "risk_score", 0),
	    cv_json_num(p, "damage_score", 0),
	    cv_json_num(p, "propagation_score", 0), NULL);
	json_decref(section);
	json_decref(ev);
	if (!gate)
		return NULL;
	json_object_set_new(gate, "intent_id", json_string(id));
	if (cv_event_emit(ctx->store, "risk.shadow_evaluated", id, NULL, tenant,
	    NULL, json_deep_copy(gate), NULL) != CV_OK) {
		json_decref(gate);
		return NULL;
	}
	return gate;
}

/* Gate report of 5.4 over the newest 1000 policy.evaluated events. */
static json_t *risk_gate(struct cli_ctx *ctx, const struct cli_args *a)
{
	struct cv_event_filter f = { .event_type = "policy.evaluated",
	    .tenant_id = cli_str_nonempty(a, "tenant-id"), .limit = 1000 };
	json_t *evs = cv_event_query(ctx->store, &f), *recent, *ev;
	size_t i, total, blocked = 0;

	if (!evs)
		return NULL;
	recent = json_array();
	json_array_foreach(evs, i, ev) {
		if (strcmp(cv_json_str(json_object_get(ev, "payload"), "verdict",
		    ""), "BLOCK") != 0)
			continue;
		if (blocked++ < 20)
			json_array_append(recent, ev);
	}
	total = json_array_size(evs);
	json_decref(evs);
	return json_pack("{s:I,s:I,s:f,s:o}", "total_evaluations",
	    (json_int_t)total, "total_blocked", (json_int_t)blocked,
	    "block_rate", cv_round((double)blocked / (double)(total ? total : 1),
	    3), "recent_blocks", recent);
}

static json_t *diagnose(const json_t *intent, const json_t *riskeval,
    const json_t *simulation)
{
	(void)intent;
	return cv_risk_diagnostics_build(riskeval, simulation);
}

static json_t *risk_review(struct cli_ctx *ctx, const struct cli_args *a)
{
	json_t *out = NULL;

	cv_insight_risk_review(ctx->store, cli_str(a, "intent-id"),
	    cli_str_nonempty(a, "tenant-id"), diagnose, &out);
	return out;
}

struct policy_write {
	const char *tenant;
	const json_t *doc;
};

static enum cv_err write_risk_policy(struct cv_store *s, void *arg)
{
	struct policy_write *w = arg;
	enum cv_err err = cv_risk_policy_upsert(s, w->tenant, w->doc, NULL);

	return err != CV_OK ? err : cv_event_emit(s, "risk.policy_updated",
	    NULL, NULL, w->tenant, NULL, json_deep_copy(w->doc), NULL);
}

/* Only the keys given are stored; the stored doc is replaced (7.2). */
static json_t *risk_policy_set(struct cli_ctx *ctx, const struct cli_args *a)
{
	static const char *const nums[] = { "max-risk-score",
	    "max-damage-score", "max-propagation-score" };
	struct policy_write w = { cli_str(a, "tenant-id"), NULL };
	json_t *doc = json_object();
	char key[64];

	for (size_t i = 0; i < CV_ARRAY_LEN(nums); i++) {
		if (!cli_given(a, nums[i]))
			continue;
		snprintf(key, sizeof key, "%s", nums[i]);
		for (char *p = key; *p; p++)
			*p = *p == '-' ? '_' : *p;
		json_object_set_new(doc, key, json_real(cli_num(a, nums[i], 0)));
	}
	if (cli_given(a, "mode"))
		json_object_set_new(doc, "mode", json_string(cli_str(a, "mode")));
	if (cli_given(a, "enforce-ratio"))
		json_object_set_new(doc, "enforce_ratio",
		    json_real(cli_num(a, "enforce-ratio", 1.0)));
	w.doc = doc;
	if (cli_atomic(ctx->store, write_risk_policy, &w) != CV_OK) {
		json_decref(doc);
		return NULL;
	}
	json_decref(doc);
	return json_pack("{s:b,s:s}", "ok", 1, "tenant_id", w.tenant);
}

static json_t *risk_policy_get(struct cli_ctx *ctx, const struct cli_args *a)
{
	json_t *doc = NULL;

	if (cv_risk_policy_get(ctx->store, cli_str(a, "tenant-id"), &doc) !=
	    CV_OK)
		return NULL;
	return doc ? doc : json_pack("{s:s}", "message",
	    "No risk policy configured for this tenant");
}

static const struct cli_flag intent_tenant_flags[] = {
	{ "intent-id", CLI_STR, true, NULL, 0, 0, "the intent" },
	{ "tenant-id", CLI_STR, false, NULL, 0, 0, "tenant" },
};

static const struct cli_flag tenant_flags[] = {
	{ "tenant-id", CLI_STR, false, NULL, 0, 0, "only this tenant" },
};

static const struct cli_flag tenant_req_flags[] = {
	{ "tenant-id", CLI_STR, true, NULL, 0, 0, "the tenant" },
};

static const struct cli_flag policy_set_flags[] = {
	{ "tenant-id", CLI_STR, true, NULL, 0, 0, "the tenant" },
	{ "max-risk-score", CLI_NUM, false, NULL, 0, 0, "risk score limit" },
	{ "max-damage-score", CLI_NUM, false, NULL, 0, 0, "damage score limit" },
	{ "max-propagation-score", CLI_NUM, false, NULL, 0, 0,
	    "propagation score limit" },
	{ "mode", CLI_CHOICE, false, risk_modes, 0, 0, "gate mode" },
	{ "enforce-ratio", CLI_NUM, false, NULL, 0, 0,
	    "share of intents the gate enforces on (0..1)" },
};

static const struct cli_cmd risk_cmds[] = {
	CLI_CMD("eval", "Score an intent against its newest simulation; "
	    "appends risk.evaluated.", intent_tenant_flags, risk_eval),
	CLI_CMD("shadow", "Run the risk gate in shadow mode on the newest "
	    "risk evaluation; appends risk.shadow_evaluated.",
	    intent_tenant_flags, risk_shadow),
	CLI_CMD("gate", "Block statistics of the newest 1000 policy "
	    "evaluations.", tenant_flags, risk_gate),
	CLI_CMD("review", "Everything known about an intent's risk, with "
	    "diagnostics.", intent_tenant_flags, risk_review),
	CLI_CMD("policy-set", "Store a tenant's risk policy (replaces it); "
	    "appends risk.policy_updated.", policy_set_flags, risk_policy_set),
	CLI_CMD("policy-get", "Show a tenant's risk policy.", tenant_req_flags,
	    risk_policy_get),
};

const struct cli_group cli_risk_group = { "risk",
	"Risk scoring, the shadow gate, reviews and tenant risk policies.",
	risk_cmds, CV_ARRAY_LEN(risk_cmds), false };

/* ---- policy ------------------------------------------------------------------- */

static json_t *calibrate(struct cli_ctx *ctx, const struct cli_args *a)
{
	struct cv_event_filter f = { .event_type = "risk.evaluated",
	    .limit = 10000 };
	const char *path = cli_str(a, "output") ? cli_str(a, "output") :
	    CV_CALIBRATION_DEFAULT_PATH;
	char ts[CV_TS_LEN], *msg = NULL;
	json_t *config, *hist, *res;

	if (!(config = cv_policy_load(NULL, &msg))) {
		res = msg ? cli_error("%s", msg) : NULL;
		free(msg);
		return res;
	}
	hist = cv_event_query(ctx->store, &f);
	cv_now_ts(ts);
	res = hist ? cv_calibration_build(config, hist, ts, path) : NULL;
	json_decref(config);
	json_decref(hist);
	if (!res)
		return NULL;
	if (cv_policy_write_profiles(path, json_object_get(res,
	    "calibrated_profiles")) != 0) {
		int e = errno;
		json_decref(res);
		return cli_error("Cannot write %s: %s", path, strerror(e));
	}
	if (cv_event_emit(ctx->store, "calibration.completed", NULL, NULL, NULL,
	    NULL, json_deep_copy(res), json_pack("{s:O}", "data_points",
	    json_object_get(res, "data_points"))) != CV_OK) {
		json_decref(res);
		return NULL;
	}
	return res;
}

static const struct cli_flag calibrate_flags[] = {
	{ "output", CLI_STR, false, NULL, 0, 0,
	    "profiles file (default .converge/calibrated_profiles.json)" },
};

static const struct cli_cmd policy_cmds[] = {
	{ "eval", "Same as 'converge validate' (0.1.0 compatibility): despite "
	    "the old description it changes state exactly like validate (status "
	    "and events).", cli_validate_flags, CLI_VALIDATE_NFLAGS,
	    cli_validate_run, NULL },
	CLI_CMD("calibrate", "Recompute the profiles' entropy budgets from "
	    "risk history and write them to a file; appends "
	    "calibration.completed.", calibrate_flags, calibrate),
};

const struct cli_group cli_policy_group = { "policy",
	"Policy evaluation (alias of validate) and profile calibration.",
	policy_cmds, CV_ARRAY_LEN(policy_cmds), false };
