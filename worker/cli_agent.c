/*
 * cli_agent.c - `agent policy-set|policy-get|policy-list|authorize`
 * (operations.md 7.2; domain.md 8; http-api.md 5.4).
 */
#include <string.h>

#include "agents.h"
#include "cli.h"
#include "eventlog.h"
#include "insight.h"
#include "intents.h"
#include "jsonx.h"

static const char *const atl_levels[] = { "0", "1", "2", "3", NULL };

/* "a, b,,c" -> ["a","b","c"]: blanks trimmed, empty names dropped. */
static json_t *split_actions(const char *list)
{
	json_t *out = json_array();
	const char *p = list;

	while (out && *p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		while (len && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len)
			json_array_append_new(out, json_stringn(p, len));
		p = end ? end + 1 : p + strlen(p);
	}
	return out;
}

/* The AgentPolicyBody of the given flags; from_body fills the rest. */
static json_t *policy_body(const struct cli_args *a)
{
	json_t *b = json_pack("{s:s}", "agent_id", cli_str(a, "agent-id"));
	const char *v;

	if (!b)
		return NULL;
	if ((v = cli_str_nonempty(a, "tenant-id")))
		json_object_set_new(b, "tenant_id", json_string(v));
	if ((v = cli_str(a, "atl")))
		json_object_set_new(b, "atl", json_integer(v[0] - '0'));
	if (cli_given(a, "max-risk-score"))
		json_object_set_new(b, "max_risk_score",
		    json_real(cli_num(a, "max-risk-score", 30.0)));
	if ((v = cli_str(a, "max-blast-severity")))
		json_object_set_new(b, "max_blast_severity", json_string(v));
	json_object_set_new(b, "min_test_coverage", json_real(0.0));
	json_object_set_new(b, "require_compliance_pass", json_true());
	if ((v = cli_str(a, "require-human-approval")))
		json_object_set_new(b, "require_human_approval",
		    json_boolean(strcmp(v, "true") == 0));
	if ((v = cli_str(a, "require-dual-approval-on-critical")))
		json_object_set_new(b, "require_dual_approval_on_critical",
		    json_boolean(strcmp(v, "true") == 0));
	if ((v = cli_str(a, "allow-actions")))
		json_object_set_new(b, "allow_actions", split_actions(v));
	if ((v = cli_str(a, "action-overrides-json")))
		json_object_set_new(b, "action_overrides", json_loads(v,
		    JSON_DECODE_ANY, NULL));
	if ((v = cli_str_nonempty(a, "expires-at")))
		json_object_set_new(b, "expires_at", json_string(v));
	return b;
}

static enum cv_err write_policy(struct cv_store *s, void *arg)
{
	const json_t *p = arg;
	enum cv_err err = cv_agent_policy_upsert(s, p);

	return err != CV_OK ? err : cv_event_emit(s, "agent.policy_updated",
	    NULL, cv_json_str(p, "agent_id", ""), cv_json_str(p, "tenant_id",
	    NULL), NULL, json_deep_copy(p), NULL);
}

static json_t *policy_set(struct cli_ctx *ctx, const struct cli_args *a)
{
	json_t *body = policy_body(a), *policy;
	char err[256];

	if (!body)
		return NULL;
	policy = cv_agent_policy_from_body(body, NULL, err, sizeof err);
	json_decref(body);
	if (!policy)
		return cli_error("%s", err);
	if (cli_atomic(ctx->store, write_policy, policy) != CV_OK) {
		json_decref(policy);
		return NULL;
	}
	return policy;
}

static json_t *policy_get(struct cli_ctx *ctx, const struct cli_args *a)
{
	const char *agent = cli_str(a, "agent-id");
	const char *tenant = cli_str_nonempty(a, "tenant-id");
	json_t *stored = NULL, *out;

	if (cv_agent_policy_get(ctx->store, agent, tenant, &stored) != CV_OK)
		return NULL;
	if (!stored)
		return cv_agent_policy_default(agent, tenant);
	out = cv_agent_policy_from_stored(stored);
	json_decref(stored);
	return out;
}

static json_t *policy_list(struct cli_ctx *ctx, const struct cli_args *a)
{
	(void)a;
	return cv_agent_policy_list(ctx->store, NULL);
}

/* What authorize (8.2) reads, gathered from the store. */
struct auth_inputs {
	json_t *policy, *intent, *risk_ev, *compliance;
};

static enum cv_err auth_load(struct cli_ctx *ctx, const char *agent,
    const char *intent_id, const char *tenant, struct auth_inputs *in)
{
	enum cv_err err;

	if ((err = cv_agent_policy_get(ctx->store, agent, tenant, &in->policy)))
		return err;
	if (!in->policy && !(in->policy = cv_agent_policy_default(agent, tenant)))
		return CV_ENOMEM;
	if ((err = cv_intent_get(ctx->store, intent_id, &in->intent)) ||
	    (err = cv_event_latest(ctx->store, "risk.evaluated", intent_id,
	    &in->risk_ev)))
		return err;
	/* The report is only consulted for an existing intent (8.2 #7). */
	if (in->intent)
		return cv_insight_compliance(ctx->store, tenant, NULL,
		    &in->compliance);
	return CV_OK;
}

static json_t *authorize(struct cli_ctx *ctx, const struct cli_args *a)
{
	const char *agent = cli_str(a, "agent-id");
	const char *action = cli_str(a, "action");
	const char *id = cli_str(a, "intent-id");
	const char *tenant = cli_str_nonempty(a, "tenant-id");
	struct auth_inputs in = { 0 };
	json_t *res = NULL;

	if (auth_load(ctx, agent, id, tenant, &in) == CV_OK)
		res = cv_agent_authorize(in.policy, action, id, in.intent,
		    json_object_get(in.risk_ev, "payload"), in.compliance,
		    (int)cli_int(a, "human-approvals", 0), NULL);
	if (res && cv_event_emit(ctx->store, "agent.authorized", id, agent,
	    tenant, NULL, json_deep_copy(res), json_pack("{s:O,s:s}",
	    "allowed", json_object_get(res, "allowed"), "action", action)) !=
	    CV_OK) {
		json_decref(res);
		res = NULL;
	}
	json_decref(in.policy);
	json_decref(in.intent);
	json_decref(in.risk_ev);
	json_decref(in.compliance);
	return res;
}

static const struct cli_flag set_flags[] = {
	{ "agent-id", CLI_STR, true, NULL, 0, 0, "the agent" },
	{ "tenant-id", CLI_STR, false, NULL, 0, 0, "tenant (default none)" },
	{ "atl", CLI_CHOICE, false, atl_levels, 0, 0,
	    "autonomy trust level 0..3 (default 0)" },
	{ "max-risk-score", CLI_NUM, false, NULL, 0, 0,
	    "highest risk score allowed (default 30.0)" },
	{ "max-blast-severity", CLI_CHOICE, false, cli_levels, 0, 0,
	    "highest blast severity allowed (default low)" },
	{ "require-human-approval", CLI_CHOICE, false, cli_booleans, 0, 0,
	    "need one human approval (default true)" },
	{ "require-dual-approval-on-critical", CLI_CHOICE, false, cli_booleans,
	    0, 0, "need two approvals for critical intents (default true)" },
	{ "allow-actions", CLI_STR, false, NULL, 0, 0,
	    "comma-separated actions (default analyze)" },
	{ "action-overrides-json", CLI_JSONOBJ, false, NULL, 0, 0,
	    "JSON object: action -> limits" },
	{ "expires-at", CLI_STR, false, NULL, 0, 0,
	    "ISO timestamp after which the policy denies everything" },
};

static const struct cli_flag get_flags[] = {
	{ "agent-id", CLI_STR, true, NULL, 0, 0, "the agent" },
	{ "tenant-id", CLI_STR, false, NULL, 0, 0, "tenant" },
};

static const struct cli_flag authorize_flags[] = {
	{ "agent-id", CLI_STR, true, NULL, 0, 0, "the agent" },
	{ "action", CLI_STR, true, NULL, 0, 0, "the action (e.g. merge)" },
	{ "intent-id", CLI_STR, true, NULL, 0, 0, "the intent" },
	{ "tenant-id", CLI_STR, false, NULL, 0, 0, "tenant" },
	{ "human-approvals", CLI_INT, false, NULL, 0, 1000000,
	    "approvals given (default 0)" },
};

static const struct cli_cmd agent_cmds[] = {
	CLI_CMD("policy-set", "Store an agent policy (unset flags take the "
	    "defaults); appends agent.policy_updated.", set_flags, policy_set),
	CLI_CMD("policy-get", "Show an agent policy (the default one when none "
	    "is stored).", get_flags, policy_get),
	CLI_CMD0("policy-list", "Every stored agent policy.", policy_list),
	CLI_CMD("authorize", "Decide whether an agent may act on an intent; "
	    "appends agent.authorized.", authorize_flags, authorize),
};

const struct cli_group cli_agent_group = { "agent",
	"Agent policies and authorization.", agent_cmds,
	CV_ARRAY_LEN(agent_cmds), false };
