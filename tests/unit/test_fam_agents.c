/* test_fam_agents.c - the agents family (http-api.md 5.4) through
 * dispatch. */
#include "famtest.h"

#include "eventlog.h"
#include "intents.h"
#include "jsonx.h"

extern const struct cv_family cv_family_agents;

#define OP_A "{\"role\":\"operator\",\"actor\":\"op-a\",\"tenant\":\"team-a\"}"
#define VIEW_B "{\"role\":\"viewer\",\"actor\":\"v-b\",\"tenant\":\"team-b\"}"
#define ADMIN_A "{\"role\":\"admin\",\"actor\":\"adm\",\"tenant\":\"team-a\"}"
#define OP_NONE "{\"role\":\"operator\",\"actor\":\"op\",\"tenant\":null}"

static void put_intent(struct cv_store *s, const char *id, const char *tenant,
    const char *level)
{
	json_t *doc = json_pack("{s:s,s:s,s:s,s:s,s:s}", "id", id, "source",
	    "feature/x", "status", "READY", "tenant_id", tenant, "risk_level",
	    level);
	const char *err = NULL;
	json_t *it = cv_intent_build(doc, false, NULL, &err);

	assert_non_null(it);
	assert_int_equal(cv_intent_upsert(s, it), CV_OK);
	json_decref(it);
	json_decref(doc);
}

/* i-1: critical, risk 50 and damage 80 (blast critical); i-2: low, no
 * risk evaluation. */
static void seed(struct cv_store *s)
{
	put_intent(s, "i-1", "team-a", "critical");
	put_intent(s, "i-2", "team-a", "low");
	assert_int_equal(cv_event_emit(s, "risk.evaluated", "i-1", NULL,
	    "team-a", NULL, json_pack("{s:f,s:f}", "risk_score", 50.0,
	    "damage_score", 80.0), NULL), CV_OK);
}

static const struct fam_row policies[] = {
	{ "GET", "/api/agent/policy", NULL, NULL, NULL, 200, "[]", NULL },
	{ "GET", "/agent/policy", NULL, NULL, NULL, 404, NULL, NULL },
	{ "PUT", "/v1/agent/policy", NULL, "{}", NULL, 405, NULL, NULL },
	{ "GET", "/v1/agent/authorize", NULL, NULL, NULL, 405, NULL, NULL },
	/* validation: 400, nothing stored */
	{ "POST", "/api/agent/policy", NULL, "{}", NULL, 400,
	    "{\"error\":\"body.agent_id: Field required\"}", NULL },
	{ "POST", "/api/agent/policy", NULL, NULL, NULL, 400,
	    "body: Field required", NULL },
	{ "POST", "/api/agent/policy", NULL, "[]", NULL, 400, "body", NULL },
	{ "POST", "/api/agent/policy", NULL, "{\"agent_id\":", NULL, 400,
	    "JSON decode error", NULL },
	{ "POST", "/v1/agent/policy", NULL, "{\"agent_id\":\"bot-1\",\"atl\":99}",
	    NULL, 400, "body.atl: Input should be less than or equal to 3",
	    NULL },
	{ "POST", "/v1/agent/policy", NULL, "{\"agent_id\":\"bot-1\",\"atl\":-1}",
	    NULL, 400, "body.atl", NULL },
	{ "POST", "/v1/agent/policy", NULL, "{\"agent_id\":\"\"}", NULL, 400,
	    "body.agent_id", NULL },
	{ "POST", "/v1/agent/policy", NULL, "{\"agent_id\":7}", NULL, 400,
	    "body.agent_id", NULL },
	{ "POST", "/v1/agent/policy", NULL,
	    "{\"agent_id\":\"bot-1\",\"min_test_coverage\":1.5}", NULL, 400,
	    "body.min_test_coverage", NULL },
	{ "POST", "/v1/agent/policy", NULL,
	    "{\"agent_id\":\"bot-1\",\"allow_actions\":\"merge\"}", NULL, 400,
	    "body.allow_actions", NULL },
	{ "POST", "/v1/agent/policy", NULL,
	    "{\"agent_id\":\"bot-1\",\"require_human_approval\":\"yes\"}", NULL,
	    400, "body.require_human_approval", NULL },
	{ "POST", "/v1/agent/policy", NULL,
	    "{\"agent_id\":\"bot-1\",\"max_risk_score\":\"x\"}", NULL, 400,
	    "body.max_risk_score", NULL },
	{ "GET", "/api/agent/policy", NULL, NULL, NULL, 200, "[]", NULL },
	/* accepted: the 12-key policy, extras dropped */
	{ "POST", "/v1/agent/policy", NULL,
	    "{\"agent_id\":\"bot-1\",\"allow_actions\":[\"analyze\",\"merge\"],"
	    "\"extra\":1}", NULL, 200,
	    "{\"agent_id\":\"bot-1\",\"tenant_id\":null,\"atl\":0,"
	    "\"max_risk_score\":30.0,\"max_blast_severity\":\"low\","
	    "\"min_test_coverage\":0.0,\"require_compliance_pass\":true,"
	    "\"require_human_approval\":true,"
	    "\"require_dual_approval_on_critical\":true,"
	    "\"allow_actions\":[\"analyze\",\"merge\"],\"action_overrides\":{},"
	    "\"expires_at\":null}", "extra" },
	/* D2: the principal's tenant by default, never another one */
	{ "POST", "/v1/agent/policy", NULL,
	    "{\"agent_id\":\"bot-2\",\"allow_actions\":[\"deploy\"]}", OP_A, 200,
	    "\"tenant_id\":\"team-a\"", NULL },
	{ "POST", "/v1/agent/policy", NULL,
	    "{\"agent_id\":\"bot-3\",\"tenant_id\":\"team-b\"}", OP_A, 403,
	    "{\"error\":\"Forbidden: cannot access another tenant\"}", NULL },
	{ "POST", "/v1/agent/policy", NULL,
	    "{\"agent_id\":\"bot-3\",\"tenant_id\":\"team-b\"}", ADMIN_A, 200,
	    "\"tenant_id\":\"team-b\"", NULL },
	{ "POST", "/api/agent/policy", NULL,
	    "{\"agent_id\":\"bot-4\",\"tenant_id\":\"team-b\",\"atl\":2}", OP_NONE,
	    200, "\"atl\":2", NULL },
	{ "POST", "/api/agent/policy", NULL,
	    "{\"agent_id\":\"bot-5\",\"atl\":\"high\"}", OP_A, 400, "body.atl",
	    NULL },
	/* lists: ordered by agent_id, tenant-filtered */
	{ "GET", "/api/agent/policy", NULL, NULL, NULL, 200,
	    "[{\"agent_id\":\"bot-1\"", NULL },
	{ "GET", "/api/agent/policy", NULL, NULL, NULL, 200,
	    "{\"agent_id\":\"bot-4\",\"tenant_id\":\"team-b\",\"atl\":2,", NULL },
	{ "GET", "/v1/agent/policy", "tenant_id=team-a", NULL, NULL, 200,
	    "[{\"agent_id\":\"bot-2\",\"tenant_id\":\"team-a\"", "bot-1" },
	{ "GET", "/v1/agent/policy", "tenant_id=team-a", NULL, VIEW_B, 200,
	    "[{\"agent_id\":\"bot-3\"", "bot-2" },
	{ "GET", "/v1/agent/policy", "tenant_id=nobody", NULL, NULL, 200, "[]",
	    NULL },
};

static void test_policies(void **state)
{
	struct fam_fixture *f = *state;

	fam_run_table(&cv_family_agents, &f->app, policies,
	    CV_ARRAY_LEN(policies));
	assert_int_equal(fam_count_events(f->app.store, "agent.policy_updated",
	    "agent_id", NULL), 4);
	assert_int_equal(fam_count_events(f->app.store, "agent.policy_updated",
	    "agent_id", "bot-3"), 1);
}

#define AUTH(fields) "{\"agent_id\":\"bot-1\",\"action\":\"merge\"," \
	"\"intent_id\":\"i-2\"" fields "}"

static const struct fam_row authorize[] = {
	/* body: required fields in order, types, ranges */
	{ "POST", "/v1/agent/authorize", NULL, "{}", NULL, 400,
	    "{\"error\":\"body.agent_id: Field required\"}", NULL },
	{ "POST", "/v1/agent/authorize", NULL, NULL, NULL, 400,
	    "body: Field required", NULL },
	{ "POST", "/v1/agent/authorize", NULL, "{\"agent_id\":\"bot-1\"}", NULL,
	    400, "body.action: Field required", NULL },
	{ "POST", "/v1/agent/authorize", NULL,
	    "{\"agent_id\":\"bot-1\",\"action\":\"merge\"}", NULL, 400,
	    "body.intent_id: Field required", NULL },
	{ "POST", "/v1/agent/authorize", NULL,
	    "{\"agent_id\":null,\"action\":\"merge\",\"intent_id\":\"i-2\"}",
	    NULL, 400, "body.agent_id: Input should be a valid string", NULL },
	{ "POST", "/v1/agent/authorize", NULL,
	    "{\"agent_id\":\"bot-1\",\"action\":\"\",\"intent_id\":\"i-2\"}",
	    NULL, 400, "body.action: String should have at least 1 character",
	    NULL },
	{ "POST", "/v1/agent/authorize", NULL,
	    "{\"agent_id\":\"bot-1\",\"action\":\"merge\",\"intent_id\":[]}",
	    NULL, 400, "body.intent_id", NULL },
	{ "POST", "/api/agent/authorize", NULL, AUTH(",\"tenant_id\":7"), NULL,
	    400, "body.tenant_id: Input should be a valid string", NULL },
	{ "POST", "/api/agent/authorize", NULL, AUTH(",\"human_approvals\":\"2\""),
	    NULL, 400, "body.human_approvals: Input should be a valid integer",
	    NULL },
	{ "POST", "/api/agent/authorize", NULL, AUTH(",\"human_approvals\":1.5"),
	    NULL, 400, "body.human_approvals", NULL },
	{ "POST", "/api/agent/authorize", NULL,
	    AUTH(",\"human_approvals\":99999999999"), NULL, 400,
	    "body.human_approvals: Input should be less than or equal to", NULL },
	{ "POST", "/api/agent/authorize", NULL, "[1]", NULL, 400,
	    "body: Input should be a valid dictionary", NULL },
	/* D-8: an unknown intent is 404 (it answers like another tenant's,
	 * which must not be computed on); the spec's example below runs on
	 * the existing i-2 instead of the unknown i-x */
	{ "POST", "/v1/agent/authorize", NULL,
	    "{\"agent_id\":\"bot-9\",\"action\":\"merge\",\"intent_id\":\"i-x\","
	    "\"human_approvals\":1}", NULL, 404, "Intent not found", NULL },
	{ "POST", "/v1/agent/authorize", NULL,
	    "{\"agent_id\":\"bot-9\",\"action\":\"merge\",\"intent_id\":\"i-2\","
	    "\"human_approvals\":1}", NULL, 200,
	    "{\"agent_id\":\"bot-9\",\"action\":\"merge\",\"intent_id\":\"i-2\","
	    "\"allowed\":false,\"reasons\":[\"Action 'merge' not in allowed "
	    "actions: ['analyze']\"],\"atl\":0,\"effective_limits\":"
	    "{\"max_risk_score\":30.0,\"max_blast_severity\":\"low\","
	    "\"min_test_coverage\":0.0},\"human_approvals\":1,\"timestamp\":",
	    NULL },
	/* the stored global bot-1 policy allows merge; i-2 is clean */
	{ "POST", "/v1/agent/authorize", NULL, AUTH(",\"human_approvals\":1"),
	    NULL, 200, "\"allowed\":true,\"reasons\":[]", NULL },
	/* human approval missing */
	{ "POST", "/v1/agent/authorize", NULL, AUTH(""), NULL, 200,
	    "\"allowed\":false,\"reasons\":[\"Human approval required", NULL },
	/* i-1: risk over the limit, blast critical, critical needs 2 */
	{ "POST", "/v1/agent/authorize", NULL,
	    "{\"agent_id\":\"bot-1\",\"action\":\"merge\",\"intent_id\":\"i-1\","
	    "\"human_approvals\":1}", NULL, 200,
	    "\"allowed\":false,\"reasons\":[\"Risk score 50 > agent limit 30.0\","
	    "\"Blast severity 'critical' exceeds agent limit 'low'\","
	    "\"Critical risk requires 2 approvals, got 1\"]", NULL },
	/* the tenant defaults to the principal's: bot-2 of team-a */
	{ "POST", "/v1/agent/authorize", NULL,
	    "{\"agent_id\":\"bot-2\",\"action\":\"deploy\",\"intent_id\":\"i-2\","
	    "\"human_approvals\":1}", ADMIN_A, 200, "\"allowed\":true", NULL },
	{ "POST", "/v1/agent/authorize", NULL,
	    "{\"agent_id\":\"bot-2\",\"action\":\"deploy\",\"intent_id\":\"i-2\","
	    "\"human_approvals\":1,\"tenant_id\":\"team-a\"}", NULL, 200,
	    "\"allowed\":true", NULL },
	{ "POST", "/v1/agent/authorize", NULL,
	    "{\"agent_id\":\"bot-2\",\"action\":\"deploy\",\"intent_id\":\"i-2\","
	    "\"human_approvals\":1}", NULL, 200, "\"allowed\":false", NULL },
};

static void test_authorize(void **state)
{
	struct fam_fixture *f = *state;

	seed(f->app.store);
	fam_run_table(&cv_family_agents, &f->app, policies,
	    CV_ARRAY_LEN(policies));
	fam_run_table(&cv_family_agents, &f->app, authorize,
	    CV_ARRAY_LEN(authorize));
	/* One agent.authorized per decision, none for refused bodies. */
	assert_int_equal(fam_count_events(f->app.store, "agent.authorized",
	    "agent_id", NULL), 7);
	assert_int_equal(fam_count_events(f->app.store, "agent.authorized",
	    "agent_id", "bot-2"), 3);
}

/* The event carries the result, the requested tenant and the evidence. */
static void test_authorized_event(void **state)
{
	struct fam_fixture *f = *state;
	struct fam_row r = { "POST", "/v1/agent/authorize", NULL,
	    "{\"agent_id\":\"bot-7\",\"action\":\"analyze\",\"intent_id\":\"i-9\","
	    "\"tenant_id\":\"team-c\",\"human_approvals\":1}", NULL, 200,
	    "\"allowed\":true", NULL };
	json_t *ev = NULL;

	put_intent(f->app.store, "i-9", "team-c", "low");
	fam_run_table(&cv_family_agents, &f->app, &r, 1);
	assert_int_equal(cv_event_latest(f->app.store, "agent.authorized",
	    "i-9", &ev), CV_OK);
	assert_non_null(ev);
	assert_string_equal(cv_json_str(ev, "agent_id", ""), "bot-7");
	assert_string_equal(cv_json_str(ev, "tenant_id", ""), "team-c");
	assert_true(cv_json_bool(cv_json_obj(ev, "evidence"), "allowed", false));
	assert_string_equal(cv_json_str(cv_json_obj(ev, "evidence"), "action",
	    ""), "analyze");
	assert_string_equal(cv_json_str(cv_json_obj(ev, "payload"), "intent_id",
	    ""), "i-9");
	json_decref(ev);
}

/* http-api.md 11, rows 16-18 (D1: operator for the policy write). */
static const struct cv_route agent_routes[] = {
	{ "GET", "/agent/policy", NULL, 0, "viewer", "agents.read" },
	{ "POST", "/agent/policy", NULL, 0, "operator", "agents.write" },
	{ "POST", "/agent/authorize", NULL, 0, "admin", "agents.admin" },
};

static void test_routes(void **state)
{
	(void)state;
	fam_check_routes(&cv_family_agents, agent_routes,
	    CV_ARRAY_LEN(agent_routes));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes),
		cmocka_unit_test_setup_teardown(test_policies, fam_setup,
		    fam_teardown),
		cmocka_unit_test_setup_teardown(test_authorize, fam_setup,
		    fam_teardown),
		cmocka_unit_test_setup_teardown(test_authorized_event, fam_setup,
		    fam_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
