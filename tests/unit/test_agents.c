/*
 * test_agents.c - domain.md 10.6 (V73-V82), the AgentPolicy defaults
 * (1.10) and the AgentPolicyBody rules of http-api.md 5.4, one table per
 * function.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents.h"
#include "cv.h"
#include "jsonx.h"

#define NOW "2026-06-01T00:00:00.000000+00:00"

static json_t *parse(const char *text)
{
	json_error_t err;
	json_t *v;

	if (!text)
		return NULL;
	if (!(v = json_loads(text, JSON_DECODE_ANY, &err)))
		fail_msg("bad JSON in test table: %s: %s", text, err.text);
	return v;
}

static void assert_json(const char *row, const json_t *got, const char *want)
{
	json_t *w = parse(want);

	if (!json_equal((json_t *)got, w)) {
		char *g = cv_json_dump(got);
		print_error("%s\n  got:  %s\n  want: %s\n", row, g, want);
		free(g);
		json_decref(w);
		fail();
	}
	json_decref(w);
}

/* The 12-key AgentPolicy with the given leading keys; the rest default. */
#define POLICY(agent, tenant, atl, risk, cov, human, dual, actions, over, exp) \
	"{\"agent_id\":\"" agent "\",\"tenant_id\":" tenant ",\"atl\":" atl \
	",\"max_risk_score\":" risk ",\"max_blast_severity\":\"low\"," \
	"\"min_test_coverage\":" cov ",\"require_compliance_pass\":true," \
	"\"require_human_approval\":" human \
	",\"require_dual_approval_on_critical\":" dual \
	",\"allow_actions\":" actions ",\"action_overrides\":" over \
	",\"expires_at\":" exp "}"
#define DEFAULT_POLICY(agent, tenant) POLICY(agent, tenant, "0", "30.0", \
	"0.0", "true", "true", "[\"analyze\"]", "{}", "null")

/* ---- defaults (1.10) ---- */

static const struct {
	const char *agent, *tenant, *want;
} default_rows[] = {
	{ "bot-1", NULL, DEFAULT_POLICY("bot-1", "null") },
	{ "bot-1", "", DEFAULT_POLICY("bot-1", "null") },
	{ "bot-1", "team-a", DEFAULT_POLICY("bot-1", "\"team-a\"") },
};

static void test_default_policy(void **state)
{
	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(default_rows); i++) {
		json_t *p = cv_agent_policy_default(default_rows[i].agent,
		    default_rows[i].tenant);

		assert_json(default_rows[i].agent, p, default_rows[i].want);
		json_decref(p);
	}
}

/* ---- AgentPolicyBody (http-api.md 5.4) ---- */

static const struct {
	const char *body;       /* NULL = no body */
	const char *tenant;     /* the principal's tenant */
	const char *err;        /* expected error, or NULL */
	const char *want;       /* expected policy when valid */
} body_rows[] = {
	{ "{}", NULL, "body.agent_id: Field required", NULL },
	{ "{\"atl\":99}", NULL, "body.agent_id: Field required", NULL },
	{ "{\"agent_id\":\"\"}", NULL,
	  "body.agent_id: String should have at least 1 character", NULL },
	{ "{\"agent_id\":5}", NULL,
	  "body.agent_id: Input should be a valid string", NULL },
	{ "{\"agent_id\":null}", NULL,
	  "body.agent_id: Input should be a valid string", NULL },
	{ "{\"agent_id\":\"a\",\"tenant_id\":7}", NULL,
	  "body.tenant_id: Input should be a valid string", NULL },
	{ "{\"agent_id\":\"a\",\"atl\":99}", NULL,
	  "body.atl: Input should be less than or equal to 3", NULL },
	{ "{\"agent_id\":\"a\",\"atl\":-1}", NULL,
	  "body.atl: Input should be greater than or equal to 0", NULL },
	{ "{\"agent_id\":\"a\",\"atl\":1.5}", NULL, "body.atl: Input should be "
	  "a valid integer, got a number with a fractional part", NULL },
	{ "{\"agent_id\":\"a\",\"atl\":\"2\"}", NULL,
	  "body.atl: Input should be a valid integer", NULL },
	{ "{\"agent_id\":\"a\",\"atl\":true}", NULL,
	  "body.atl: Input should be a valid integer", NULL },
	{ "{\"agent_id\":\"a\",\"max_risk_score\":\"x\"}", NULL,
	  "body.max_risk_score: Input should be a valid number", NULL },
	{ "{\"agent_id\":\"a\",\"max_blast_severity\":null}", NULL,
	  "body.max_blast_severity: Input should be a valid string", NULL },
	{ "{\"agent_id\":\"a\",\"min_test_coverage\":1.5}", NULL,
	  "body.min_test_coverage: Input should be less than or equal to 1",
	  NULL },
	{ "{\"agent_id\":\"a\",\"min_test_coverage\":-0.1}", NULL,
	  "body.min_test_coverage: Input should be greater than or equal to 0",
	  NULL },
	{ "{\"agent_id\":\"a\",\"require_human_approval\":\"yes\"}", NULL,
	  "body.require_human_approval: Input should be a valid boolean", NULL },
	{ "{\"agent_id\":\"a\",\"require_compliance_pass\":1}", NULL,
	  "body.require_compliance_pass: Input should be a valid boolean", NULL },
	{ "{\"agent_id\":\"a\",\"allow_actions\":\"merge\"}", NULL,
	  "body.allow_actions: Input should be a valid list", NULL },
	{ "{\"agent_id\":\"a\",\"allow_actions\":[\"merge\",3]}", NULL,
	  "body.allow_actions.1: Input should be a valid string", NULL },
	{ "{\"agent_id\":\"a\",\"action_overrides\":[]}", NULL,
	  "body.action_overrides: Input should be a valid dictionary", NULL },
	{ "{\"agent_id\":\"a\",\"action_overrides\":{\"merge\":1}}", NULL,
	  "body.action_overrides.merge: Input should be a valid dictionary",
	  NULL },
	{ "{\"agent_id\":\"a\",\"expires_at\":5}", NULL,
	  "body.expires_at: Input should be a valid string", NULL },
	{ NULL, NULL, "body: Field required", NULL },
	{ "[]", NULL, "body: Input should be a valid dictionary or object to "
	  "extract fields from", NULL },
	/* Valid bodies. */
	{ "{\"agent_id\":\"bot-1\"}", NULL, NULL,
	  DEFAULT_POLICY("bot-1", "null") },
	{ "{\"agent_id\":\"bot-1\",\"tenant_id\":null}", "team-a", NULL,
	  DEFAULT_POLICY("bot-1", "\"team-a\"") },
	{ "{\"agent_id\":\"bot-1\"}", "team-a", NULL,
	  DEFAULT_POLICY("bot-1", "\"team-a\"") },
	{ "{\"agent_id\":\"bot-1\",\"tenant_id\":\"team-b\"}", "team-a", NULL,
	  DEFAULT_POLICY("bot-1", "\"team-b\"") },
	{ "{\"agent_id\":\"bot-2\",\"atl\":2.0,\"max_risk_score\":50,"
	  "\"min_test_coverage\":1,\"allow_actions\":[\"analyze\",\"merge\"],"
	  "\"require_human_approval\":false,"
	  "\"require_dual_approval_on_critical\":false,"
	  "\"action_overrides\":{\"merge\":{\"max_risk_score\":20,\"x\":1}},"
	  "\"expires_at\":\"2030-01-01T00:00:00\",\"extra\":true}", NULL, NULL,
	  POLICY("bot-2", "null", "2", "50.0", "1.0", "false", "false",
	  "[\"analyze\",\"merge\"]",
	  "{\"merge\":{\"max_risk_score\":20,\"x\":1}}",
	  "\"2030-01-01T00:00:00\"") },
};

static void test_policy_body(void **state)
{
	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(body_rows); i++) {
		json_t *body = parse(body_rows[i].body);
		char err[256] = "";
		json_t *p = cv_agent_policy_from_body(body, body_rows[i].tenant,
		    err, sizeof err);

		if (body_rows[i].err) {
			assert_null(p);
			assert_string_equal(err, body_rows[i].err);
		} else {
			assert_json(body_rows[i].body, p, body_rows[i].want);
		}
		json_decref(p);
		json_decref(body);
	}
}

/* ---- stored records (8.1 get_policy) ---- */

static const struct {
	const char *stored, *want;
} stored_rows[] = {
	{ "{\"agent_id\":\"bot-1\",\"tenant_id\":\"team-a\"}",
	  DEFAULT_POLICY("bot-1", "\"team-a\"") },
	{ "{\"agent_id\":\"bot-1\",\"atl\":9,\"max_risk_score\":\"x\","
	  "\"allow_actions\":[\"merge\"],\"updated_at\":\"t\"}",
	  POLICY("bot-1", "null", "0", "30.0", "0.0", "true", "true",
	  "[\"merge\"]", "{}", "null") },
};

static void test_policy_stored(void **state)
{
	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(stored_rows); i++) {
		json_t *s = parse(stored_rows[i].stored);
		json_t *p = cv_agent_policy_from_stored(s);

		assert_json(stored_rows[i].stored, p, stored_rows[i].want);
		json_decref(p);
		json_decref(s);
	}
}

/* ---- authorize (8.2, vectors 10.6) ---- */

/* Setup A(risk, damage, level) of 10.6: intent agt-001, its risk payload,
 * and team-a's compliance report (one mergeable simulation: passing). */
#define INTENT(level) "{\"id\":\"agt-001\",\"source\":\"feature/x\"," \
	"\"target\":\"main\",\"status\":\"READY\",\"risk_level\":\"" level \
	"\",\"tenant_id\":\"team-a\"}"
#define RISK(r, d) "{\"intent_id\":\"agt-001\",\"risk_score\":" r \
	",\"damage_score\":" d "}"
#define PASSING "{\"mergeable_rate\":1.0,\"passed\":true}"
#define FAILING "{\"mergeable_rate\":0.25,\"passed\":false}"
#define BOT5 "{\"agent_id\":\"bot-5\",\"max_risk_score\":60.0," \
	"\"allow_actions\":[\"analyze\",\"automerge\"]," \
	"\"action_overrides\":{\"automerge\":{\"max_risk_score\":30.0}}," \
	"\"require_human_approval\":false}"

#define R_HUMAN "Human approval required but none provided"
#define R_BLAST_HIGH "Blast severity 'high' exceeds agent limit 'low'"

static const struct {
	const char *name;
	const char *policy;     /* NULL = the default policy of `agent` */
	const char *agent;
	const char *action;
	const char *intent, *risk, *compliance;
	int approvals;
	int allowed;
	const char *reasons;
	const char *limits;     /* expected effective_limits, or NULL */
	int atl;
} auth_rows[] = {
	{ "V73", NULL, "bot-1", "merge", INTENT("medium"), RISK("30.0", "20.0"),
	  PASSING, 0, 0, "[\"Action 'merge' not in allowed actions: "
	  "['analyze']\",\"" R_HUMAN "\"]", "{\"max_risk_score\":30.0,"
	  "\"max_blast_severity\":\"low\",\"min_test_coverage\":0.0}", 0 },
	{ "V74", "{\"agent_id\":\"bot-2\",\"atl\":2,\"max_risk_score\":50.0,"
	  "\"allow_actions\":[\"analyze\",\"merge\"],"
	  "\"require_human_approval\":false,"
	  "\"require_dual_approval_on_critical\":false}", "bot-2", "merge",
	  INTENT("medium"), RISK("20.0", "20.0"), PASSING, 0, 1, "[]", NULL, 2 },
	{ "V75", "{\"agent_id\":\"bot-3\",\"max_risk_score\":50.0,"
	  "\"allow_actions\":[\"merge\"],\"require_human_approval\":false}",
	  "bot-3", "merge", INTENT("medium"), RISK("80.0", "20.0"), PASSING, 0,
	  0, "[\"Risk score 80 > agent limit 50.0\"]", NULL, 0 },
	{ "V76 no approval", "{\"agent_id\":\"bot-4\","
	  "\"allow_actions\":[\"merge\"]}", "bot-4", "merge", INTENT("medium"),
	  RISK("10.0", "20.0"), PASSING, 0, 0, "[\"" R_HUMAN "\"]", NULL, 0 },
	{ "V76 one approval", "{\"agent_id\":\"bot-4\","
	  "\"allow_actions\":[\"merge\"]}", "bot-4", "merge", INTENT("medium"),
	  RISK("10.0", "20.0"), PASSING, 1, 1, "[]", NULL, 0 },
	{ "V77 analyze", BOT5, "bot-5", "analyze", INTENT("medium"),
	  RISK("45.0", "20.0"), PASSING, 0, 1, "[]", "{\"max_risk_score\":60.0,"
	  "\"max_blast_severity\":\"low\",\"min_test_coverage\":0.0}", 0 },
	{ "V77 automerge", BOT5, "bot-5", "automerge", INTENT("medium"),
	  RISK("45.0", "20.0"), PASSING, 0, 0,
	  "[\"Risk score 45 > agent limit 30.0\"]", "{\"max_risk_score\":30.0,"
	  "\"max_blast_severity\":\"low\",\"min_test_coverage\":0.0}", 0 },
	{ "V78", BOT5, "bot-5", "analyze", INTENT("critical"),
	  RISK("45.0", "55.0"), PASSING, 1, 0, "[\"" R_BLAST_HIGH "\","
	  "\"Critical risk requires 2 approvals, got 1\"]", NULL, 0 },
	{ "V79", BOT5, "bot-5", "automerge", INTENT("critical"),
	  RISK("45.0", "55.0"), PASSING, 1, 0,
	  "[\"Risk score 45 > agent limit 30.0\",\"" R_BLAST_HIGH "\","
	  "\"Critical risk requires 2 approvals, got 1\"]", NULL, 0 },
	{ "V80", "{\"agent_id\":\"bot-c\",\"allow_actions\":[\"merge\"],"
	  "\"require_human_approval\":false}", "bot-c", "merge",
	  INTENT("medium"), RISK("10.0", "20.0"), FAILING, 0, 0,
	  "[\"Compliance check not passing\"]", NULL, 0 },
	{ "V81", NULL, "bot-x", "analyze", NULL, NULL, FAILING, 0, 0,
	  "[\"" R_HUMAN "\"]", NULL, 0 },
	{ "V82", "{\"agent_id\":\"bot-e\",\"require_human_approval\":false,"
	  "\"expires_at\":\"2020-01-01T00:00:00+00:00\"}", "bot-e", "analyze",
	  NULL, NULL, NULL, 0, 0,
	  "[\"Policy expired at 2020-01-01T00:00:00+00:00\"]", NULL, 0 },
	/* B13: an offset-less expires_at is UTC, and reported as stored. */
	{ "B13 past", "{\"agent_id\":\"b\",\"require_human_approval\":false,"
	  "\"expires_at\":\"2026-05-31T23:59:59\"}", "b", "analyze", NULL, NULL,
	  NULL, 0, 0, "[\"Policy expired at 2026-05-31T23:59:59\"]", NULL, 0 },
	{ "B13 future", "{\"agent_id\":\"b\",\"require_human_approval\":false,"
	  "\"expires_at\":\"2026-06-01T00:00:01\"}", "b", "analyze", NULL, NULL,
	  NULL, 0, 1, "[]", NULL, 0 },
	{ "expires_at unparseable", "{\"agent_id\":\"b\","
	  "\"require_human_approval\":false,\"expires_at\":\"soon\"}", "b",
	  "analyze", NULL, NULL, NULL, 0, 1, "[]", NULL, 0 },
	/* A risk payload without an intent is not consulted. */
	{ "no intent, risk ignored", "{\"agent_id\":\"b\","
	  "\"require_human_approval\":false}", "b", "analyze", NULL,
	  RISK("99.0", "99.0"), FAILING, 0, 1, "[]", NULL, 0 },
	/* An intent without a risk evaluation: rules 5 and 6 skipped. */
	{ "intent, no risk", "{\"agent_id\":\"b\","
	  "\"require_human_approval\":false}", "b", "analyze",
	  INTENT("medium"), NULL, PASSING, 0, 1, "[]", NULL, 0 },
	{ "absent scores are 0", "{\"agent_id\":\"b\","
	  "\"require_human_approval\":false,\"max_risk_score\":0.0}", "b",
	  "analyze", INTENT("medium"), "{}", PASSING, 0, 1, "[]", NULL, 0 },
	/* Overrides keep their JSON types (num(30) is "30") and all keys. */
	{ "integer override", "{\"agent_id\":\"b\","
	  "\"require_human_approval\":false,\"action_overrides\":{\"analyze\":"
	  "{\"max_risk_score\":30,\"max_blast_severity\":\"critical\","
	  "\"note\":\"x\"}}}", "b", "analyze", INTENT("medium"),
	  RISK("31.0", "99.0"), PASSING, 0, 0,
	  "[\"Risk score 31 > agent limit 30\"]", "{\"max_risk_score\":30,"
	  "\"max_blast_severity\":\"critical\",\"min_test_coverage\":0.0,"
	  "\"note\":\"x\"}", 0 },
	/* 4.12 blast severity edges: 30 is medium, 75 critical. */
	{ "damage 29.9", "{\"agent_id\":\"b\",\"require_human_approval\":false}",
	  "b", "analyze", INTENT("low"), RISK("0.0", "29.9"), PASSING, 0, 1,
	  "[]", NULL, 0 },
	{ "damage 30", "{\"agent_id\":\"b\",\"require_human_approval\":false}",
	  "b", "analyze", INTENT("low"), RISK("0.0", "30.0"), PASSING, 0, 0,
	  "[\"Blast severity 'medium' exceeds agent limit 'low'\"]", NULL, 0 },
	{ "damage 74.9 vs high", "{\"agent_id\":\"b\","
	  "\"require_human_approval\":false,\"max_blast_severity\":\"high\"}",
	  "b", "analyze", INTENT("low"), RISK("0.0", "74.9"), PASSING, 0, 1,
	  "[]", NULL, 0 },
	{ "damage 75 vs high", "{\"agent_id\":\"b\","
	  "\"require_human_approval\":false,\"max_blast_severity\":\"high\"}",
	  "b", "analyze", INTENT("low"), RISK("0.0", "75.0"), PASSING, 0, 0,
	  "[\"Blast severity 'critical' exceeds agent limit 'high'\"]", NULL, 0 },
	{ "unknown limit ranks 0", "{\"agent_id\":\"b\","
	  "\"require_human_approval\":false,\"max_blast_severity\":\"huge\"}",
	  "b", "analyze", INTENT("low"), RISK("0.0", "40.0"), PASSING, 0, 0,
	  "[\"Blast severity 'medium' exceeds agent limit 'huge'\"]", NULL, 0 },
	/* Dual approval: two approvals satisfy it; disabled needs one. */
	{ "critical, 2 approvals", BOT5, "bot-5", "analyze", INTENT("critical"),
	  RISK("10.0", "10.0"), PASSING, 2, 1, "[]", NULL, 0 },
	{ "critical, no compliance rule", "{\"agent_id\":\"b\","
	  "\"require_compliance_pass\":false}", "b", "analyze",
	  INTENT("critical"), NULL, FAILING, 0, 0, "[\"" R_HUMAN "\","
	  "\"Critical risk requires 2 approvals, got 0\"]", NULL, 0 },
};

static json_t *row_policy(size_t i)
{
	return auth_rows[i].policy ? parse(auth_rows[i].policy) :
	    cv_agent_policy_default(auth_rows[i].agent, "team-a");
}

static void test_authorize(void **state)
{
	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(auth_rows); i++) {
		json_t *policy = row_policy(i);
		json_t *intent = parse(auth_rows[i].intent);
		json_t *risk = parse(auth_rows[i].risk);
		json_t *comp = parse(auth_rows[i].compliance);
		json_t *res = cv_agent_authorize(policy, auth_rows[i].action,
		    "agt-001", intent, risk, comp, auth_rows[i].approvals, NOW);

		assert_string_equal(cv_json_str(res, "agent_id", ""),
		    auth_rows[i].agent);
		assert_string_equal(cv_json_str(res, "action", ""),
		    auth_rows[i].action);
		if (cv_json_bool(res, "allowed", 0) != auth_rows[i].allowed)
			fail_msg("%s: allowed", auth_rows[i].name);
		assert_json(auth_rows[i].name, json_object_get(res, "reasons"),
		    auth_rows[i].reasons);
		if (auth_rows[i].limits)
			assert_json(auth_rows[i].name,
			    json_object_get(res, "effective_limits"),
			    auth_rows[i].limits);
		assert_int_equal(cv_json_int(res, "atl", -1), auth_rows[i].atl);
		assert_int_equal(cv_json_int(res, "human_approvals", -1),
		    auth_rows[i].approvals);
		json_decref(res);
		json_decref(comp);
		json_decref(risk);
		json_decref(intent);
		json_decref(policy);
	}
}

/* The whole result of V73, keys included. */
static void test_authorize_shape(void **state)
{
	json_t *policy = cv_agent_policy_default("bot-1", NULL);
	json_t *res = cv_agent_authorize(policy, "merge", "i-1", NULL, NULL,
	    NULL, 1, NOW);
	const char *key;
	json_t *v;
	static const char *const order[] = { "agent_id", "action", "intent_id",
		"allowed", "reasons", "atl", "effective_limits",
		"human_approvals", "timestamp" };
	size_t k = 0;

	(void)state;
	assert_json("http-api 5.4 example", res, "{\"agent_id\":\"bot-1\","
	    "\"action\":\"merge\",\"intent_id\":\"i-1\",\"allowed\":false,"
	    "\"reasons\":[\"Action 'merge' not in allowed actions: "
	    "['analyze']\"],\"atl\":0,\"effective_limits\":{\"max_risk_score\":"
	    "30.0,\"max_blast_severity\":\"low\",\"min_test_coverage\":0.0},"
	    "\"human_approvals\":1,\"timestamp\":\"" NOW "\"}");
	json_object_foreach(res, key, v)
		assert_string_equal(key, order[k++]);
	json_decref(res);
	json_decref(policy);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_policy),
		cmocka_unit_test(test_policy_body),
		cmocka_unit_test(test_policy_stored),
		cmocka_unit_test(test_authorize),
		cmocka_unit_test(test_authorize_shape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
