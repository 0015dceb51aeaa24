/* test_fam_risk.c - the risk family (http-api.md 5.3) through dispatch. */
#include "famtest.h"

#include "eventlog.h"
#include "intents.h"

extern const struct cv_family cv_family_risk;

#define OP_A "{\"role\":\"operator\",\"actor\":\"op-a\",\"tenant\":\"team-a\"}"
#define VIEW_B "{\"role\":\"viewer\",\"actor\":\"v-b\",\"tenant\":\"team-b\"}"
#define ADMIN_A "{\"role\":\"admin\",\"actor\":\"adm\",\"tenant\":\"team-a\"}"
#define OP_NONE "{\"role\":\"operator\",\"actor\":\"op\",\"tenant\":null}"

static void put_intent(struct cv_store *s, const char *id, const char *tenant)
{
	json_t *doc = json_pack("{s:s,s:s,s:s,s:o}", "id", id, "source",
	    "feature/x", "status", "READY", "tenant_id",
	    tenant ? json_string(tenant) : json_null());
	const char *err = NULL;
	json_t *it = cv_intent_build(doc, false, NULL, &err);

	assert_non_null(it);
	assert_int_equal(cv_intent_upsert(s, it), CV_OK);
	json_decref(it);
	json_decref(doc);
}

static void emit(struct cv_store *s, const char *type, const char *intent,
    const char *tenant, const char *payload)
{
	json_t *p = json_loads(payload, 0, NULL);

	assert_non_null(p);
	assert_int_equal(cv_event_emit(s, type, intent, NULL, tenant, NULL, p,
	    NULL), CV_OK);
}

/* Oldest first: i-1 (team-a) is evaluated before i-3 (no tenant). */
static void seed(struct cv_store *s)
{
	put_intent(s, "i-1", "team-a");
	put_intent(s, "i-3", NULL);
	emit(s, "simulation.completed", "i-1", "team-a",
	    "{\"mergeable\":true,\"conflicts\":[],\"files_changed\":[\"a.c\"]}");
	emit(s, "risk.evaluated", "i-1", "team-a",
	    "{\"risk_score\":72.5,\"damage_score\":40,\"entropy_score\":12,"
	    "\"propagation_score\":10,\"containment_score\":0.2,"
	    "\"findings\":[{\"code\":\"f-one\"}],"
	    "\"impact_edges\":[{\"source\":\"a.c\",\"target\":\"b.c\"}]}");
	emit(s, "policy.evaluated", "i-1", "team-a", "{\"verdict\":\"BLOCK\"}");
	emit(s, "policy.evaluated", "i-1", "team-a", "{\"verdict\":\"ALLOW\"}");
	emit(s, "risk.evaluated", "i-3", NULL,
	    "{\"risk_score\":5,\"findings\":[{\"code\":\"f-three\"}],"
	    "\"impact_edges\":[{\"source\":\"x.c\",\"target\":\"y.c\"}]}");
	emit(s, "policy.evaluated", "i-3", NULL, "{\"verdict\":\"BLOCK\"}");
	emit(s, "risk.shadow_evaluated", "i-3", NULL, "{\"would_block\":false}");
}

static const struct fam_row reads[] = {
	/* routing: both prefixes, nothing unprefixed */
	{ "GET", "/api/risk/recent", NULL, NULL, NULL, 200, "\"i-3\"", NULL },
	{ "GET", "/v1/risk/recent", NULL, NULL, NULL, 200, "\"i-1\"", NULL },
	{ "GET", "/risk/recent", NULL, NULL, NULL, 404, "Not Found", NULL },
	{ "DELETE", "/v1/risk/policy", NULL, NULL, NULL, 405, NULL, NULL },
	{ "GET", "/api/risk/nothing", NULL, NULL, NULL, 404, NULL, NULL },
	/* limit: default, clamped, refused */
	{ "GET", "/v1/risk/recent", "limit=1", NULL, NULL, 200, "\"i-3\"",
	    "\"i-1\"" },
	{ "GET", "/v1/risk/recent", "limit=0", NULL, NULL, 200, "\"i-3\"",
	    "\"i-1\"" },
	{ "GET", "/v1/risk/recent", "limit=-7", NULL, NULL, 200, "\"i-3\"",
	    "\"i-1\"" },
	{ "GET", "/v1/risk/recent", "limit=99999999", NULL, NULL, 200,
	    "\"i-1\"", NULL },
	{ "GET", "/api/risk/recent", "limit=ten", NULL, NULL, 400,
	    "query.limit: Input should be a valid integer", NULL },
	{ "GET", "/api/risk/recent", "limit=1.5", NULL, NULL, 400,
	    "query.limit", NULL },
	{ "GET", "/api/risk/recent", "limit=%zz", NULL, NULL, 400, NULL, NULL },
	/* read tenant: the query, unless the principal has one */
	{ "GET", "/v1/risk/recent", "tenant_id=team-a", NULL, NULL, 200,
	    "\"i-1\"", "\"i-3\"" },
	{ "GET", "/v1/risk/recent", "tenant_id=team-b", NULL, NULL, 200, "[]",
	    NULL },
	{ "GET", "/v1/risk/recent", "tenant_id=team-a", NULL, VIEW_B, 200,
	    "[]", NULL },
	{ "GET", "/v1/risk/recent", "tenant_id=%ff%fe", NULL, NULL, 400, NULL,
	    NULL },
	/* review */
	{ "GET", "/api/risk/review", NULL, NULL, NULL, 400,
	    "{\"error\":\"intent_id required\"}", NULL },
	{ "GET", "/v1/risk/review", "intent_id=", NULL, NULL, 400,
	    "intent_id required", NULL },
	{ "GET", "/v1/risk/review", "intent_id=i-1", NULL, NULL, 200,
	    "{\"intent_id\":\"i-1\",\"intent\":{\"id\":\"i-1\"", NULL },
	{ "GET", "/v1/risk/review", "intent_id=i-1", NULL, NULL, 200,
	    "\"code\":\"diag.", NULL },
	{ "GET", "/v1/risk/review", "intent_id=i-1", NULL, NULL, 200,
	    "\"learning\":", NULL },
	{ "GET", "/api/risk/review", "intent_id=i-3", NULL, NULL, 200,
	    "\"simulation\":null,\"policy\":{\"verdict\":\"BLOCK\"},"
	    "\"diagnostics\":[]", NULL },
	/* D-8: 404 (was 200 with this body), like another tenant's intent */
	{ "GET", "/api/risk/review", "intent_id=nope", NULL, NULL, 404,
	    "{\"error\":\"Intent nope not found\"}", NULL },
	/* D3: another tenant's intent is not found */
	{ "GET", "/api/risk/review", "intent_id=i-1&tenant_id=team-b", NULL,
	    NULL, 404, "{\"error\":\"Intent i-1 not found\"}", NULL },
	{ "GET", "/api/risk/review", "intent_id=i-1", NULL, VIEW_B, 404,
	    "{\"error\":\"Intent i-1 not found\"}", NULL },
	{ "GET", "/api/risk/review", "intent_id=i-3", NULL, VIEW_B, 404,
	    "{\"error\":\"Intent i-3 not found\"}", NULL },
	{ "GET", "/api/risk/review", "intent_id=i-1", NULL, ADMIN_A, 200,
	    "\"intent_id\":\"i-1\",\"intent\":", NULL },
	/* shadow and gate report */
	{ "GET", "/v1/risk/shadow/recent", NULL, NULL, NULL, 200,
	    "\"event_type\":\"risk.shadow_evaluated\"", "risk.evaluated" },
	{ "GET", "/v1/risk/shadow/recent", "tenant_id=team-a", NULL, NULL, 200,
	    "[]", NULL },
	{ "GET", "/v1/risk/shadow/recent", "limit=x", NULL, NULL, 400,
	    "query.limit", NULL },
	{ "GET", "/v1/risk/gate/report", NULL, NULL, NULL, 200,
	    "{\"total_evaluations\":3,\"total_blocked\":2,\"block_rate\":0.667,"
	    "\"recent_blocks\":[{", NULL },
	{ "GET", "/api/risk/gate/report", "tenant_id=team-a", NULL, NULL, 200,
	    "{\"total_evaluations\":2,\"total_blocked\":1,\"block_rate\":0.5,",
	    NULL },
	{ "GET", "/api/risk/gate/report", NULL, NULL, VIEW_B, 200,
	    "{\"total_evaluations\":0,\"total_blocked\":0,\"block_rate\":0.0,"
	    "\"recent_blocks\":[]}", NULL },
	/* impact edges and diagnostics: the newest risk.evaluated */
	{ "GET", "/v1/impact/edges", NULL, NULL, NULL, 200,
	    "[{\"source\":\"x.c\",\"target\":\"y.c\"}]", NULL },
	{ "GET", "/v1/impact/edges", "intent_id=i-1", NULL, NULL, 200,
	    "[{\"source\":\"a.c\",\"target\":\"b.c\"}]", NULL },
	{ "GET", "/api/impact/edges", "tenant_id=team-a", NULL, NULL, 200,
	    "a.c", NULL },
	{ "GET", "/api/impact/edges", "intent_id=i-1", NULL, VIEW_B, 200, "[]",
	    NULL },
	{ "GET", "/api/impact/edges", "intent_id=zzz", NULL, NULL, 200, "[]",
	    NULL },
	{ "GET", "/v1/diagnostics/recent", NULL, NULL, NULL, 200,
	    "[{\"code\":\"f-three\"}]", NULL },
	{ "GET", "/v1/diagnostics/recent", "intent_id=i-1", NULL, NULL, 200,
	    "[{\"code\":\"f-one\"}]", NULL },
	{ "GET", "/api/diagnostics/recent", "tenant_id=team-b", NULL, NULL, 200,
	    "[]", NULL },
	{ "POST", "/api/diagnostics/recent", NULL, "{}", NULL, 405, NULL, NULL },
};

static void test_reads(void **state)
{
	struct fam_fixture *f = *state;

	seed(f->app.store);
	fam_run_table(&cv_family_risk, &f->app, reads, CV_ARRAY_LEN(reads));
}

static const struct fam_row policies[] = {
	{ "GET", "/api/risk/policy", NULL, NULL, NULL, 200, "[]", NULL },
	/* the spec's example */
	{ "POST", "/api/risk/policy", "tenant_id=team-a",
	    "{\"max_risk_score\": 50, \"mode\": \"enforce\"}", NULL, 200,
	    "{\"ok\":true,\"tenant_id\":\"team-a\"}", NULL },
	{ "GET", "/api/risk/policy", NULL, NULL, NULL, 200,
	    "[{\"max_risk_score\":50,\"mode\":\"enforce\",\"tenant_id\":"
	    "\"team-a\",\"version\":1}]", NULL },
	/* body tenant wins over the query; nulls are not stored */
	{ "POST", "/v1/risk/policy", "tenant_id=team-z",
	    "{\"tenant_id\":\"team-a\",\"max_risk_score\":40.5,\"note\":null,"
	    "\"entropy_budget\":7,\"max_blast_severity\":\"high\"}", NULL, 200,
	    "{\"ok\":true,\"tenant_id\":\"team-a\"}", NULL },
	{ "GET", "/v1/risk/policy", "tenant_id=team-a", NULL, NULL, 200,
	    "[{\"tenant_id\":\"team-a\",\"max_risk_score\":40.5,"
	    "\"entropy_budget\":7,\"max_blast_severity\":\"high\","
	    "\"version\":2}]", "note" },
	/* validation: 400 and nothing stored */
	{ "POST", "/v1/risk/policy", "tenant_id=team-a",
	    "{\"max_risk_score\":\"high\"}", NULL, 400,
	    "body.max_risk_score: Input should be a valid number", NULL },
	{ "POST", "/v1/risk/policy", "tenant_id=team-a",
	    "{\"entropy_budget\":true}", NULL, 400, "body.entropy_budget", NULL },
	{ "POST", "/v1/risk/policy", "tenant_id=team-a",
	    "{\"entropy_budget\":[1]}", NULL, 400, "body.entropy_budget", NULL },
	{ "POST", "/v1/risk/policy", NULL, "{\"tenant_id\":5}", NULL, 400,
	    "body.tenant_id: Input should be a valid string", NULL },
	{ "POST", "/v1/risk/policy", "tenant_id=team-a",
	    "{\"max_blast_severity\":{}}", NULL, 400, "body.max_blast_severity",
	    NULL },
	{ "POST", "/v1/risk/policy", "tenant_id=team-a", "[1,2]", NULL, 400,
	    "body: Input should be a valid dictionary", NULL },
	{ "POST", "/v1/risk/policy", "tenant_id=team-a", "\"x\"", NULL, 400,
	    "body: Input should be a valid dictionary", NULL },
	{ "POST", "/v1/risk/policy", "tenant_id=team-a", NULL, NULL, 400,
	    "body: Field required", NULL },
	{ "POST", "/v1/risk/policy", "tenant_id=team-a", "{\"a\":", NULL, 400,
	    "JSON decode error", NULL },
	{ "POST", "/v1/risk/policy", "tenant_id=team-a", "{\"a\":1e999}", NULL,
	    400, "JSON decode error", NULL },
	{ "POST", "/v1/risk/policy", "tenant_id=team-a",
	    "{\"a\":\"\\u0000\"}", NULL, 400, "JSON decode error", NULL },
	{ "POST", "/v1/risk/policy", NULL, "{\"max_risk_score\":1}", NULL, 400,
	    "{\"error\":\"tenant_id required\"}", NULL },
	{ "POST", "/v1/risk/policy", "tenant_id=", "{\"tenant_id\":\"\"}", NULL,
	    400, "tenant_id required", NULL },
	{ "POST", "/v1/risk/policy", "tenant_id=team-a", "{}", OP_NONE, 200,
	    "\"tenant_id\":\"team-a\"", NULL },
	/* 3.7 write enforcement */
	{ "POST", "/v1/risk/policy", NULL, "{\"tenant_id\":\"team-b\"}", OP_A,
	    403, "{\"error\":\"Forbidden: cannot access another tenant\"}",
	    NULL },
	{ "POST", "/v1/risk/policy", "tenant_id=team-b", "{}", OP_A, 403,
	    "cannot access another tenant", NULL },
	{ "POST", "/v1/risk/policy", NULL, "{\"tenant_id\":\"team-b\"}",
	    ADMIN_A, 200, "{\"ok\":true,\"tenant_id\":\"team-b\"}", NULL },
	{ "POST", "/api/risk/policy", NULL, "{\"max_risk_score\":10}", OP_A,
	    200, "{\"ok\":true,\"tenant_id\":\"team-a\"}", NULL },
	/* four successful writes to team-a, one to team-b */
	{ "GET", "/api/risk/policy", NULL, NULL, NULL, 200,
	    "[{\"max_risk_score\":10,\"tenant_id\":\"team-a\",\"version\":4},"
	    "{\"tenant_id\":\"team-b\",\"version\":1}]", NULL },
	{ "GET", "/api/risk/policy", "tenant_id=team-a", NULL, VIEW_B, 200,
	    "[{\"tenant_id\":\"team-b\",\"version\":1}]", NULL },
};

static void test_policies(void **state)
{
	struct fam_fixture *f = *state;

	fam_run_table(&cv_family_risk, &f->app, policies,
	    CV_ARRAY_LEN(policies));
	/* D18: one risk.policy_updated per accepted write, none otherwise. */
	assert_int_equal(fam_count_events(f->app.store, "risk.policy_updated",
	    "tenant_id", "team-a"), 4);
	assert_int_equal(fam_count_events(f->app.store, "risk.policy_updated",
	    "tenant_id", NULL), 5);
}

/* A huge or odd string is data like any other: stored, echoed, no 5xx. */
static void test_odd_strings(void **state)
{
	struct fam_fixture *f = *state;
	size_t big = 900 * 1024;
	char *body = malloc(big + 64);
	struct cv_response resp;

	assert_non_null(body);
	strcpy(body, "{\"tenant_id\":\"t\",\"blob\":\"");
	memset(body + strlen(body), 'x', big);
	strcpy(body + strlen("{\"tenant_id\":\"t\",\"blob\":\"") + big, "\"}");
	fam_request(&cv_family_risk, &f->app, "POST", "/v1/risk/policy", NULL,
	    body, strlen(body), NULL, &resp);
	assert_int_equal(resp.status, 200);
	cv_response_free(&resp);
	free(body);

	static const char unicode[] = "{\"tenant_id\":\"\xf0\x9f\x90\x99-"
	    "\\ud83d\\ude00-\xe2\x80\xae\",\"max_risk_score\":1}";
	fam_request(&cv_family_risk, &f->app, "POST", "/v1/risk/policy", NULL,
	    unicode, strlen(unicode), NULL, &resp);
	assert_int_equal(resp.status, 200);
	assert_non_null(strstr(resp.body, "\"ok\":true"));
	cv_response_free(&resp);

	/* Not UTF-8: refused by the JSON parser, nothing written. */
	static const char raw[] = "{\"tenant_id\":\"\xff\xfe\"}";
	fam_request(&cv_family_risk, &f->app, "POST", "/v1/risk/policy", NULL,
	    raw, strlen(raw), NULL, &resp);
	assert_int_equal(resp.status, 400);
	cv_response_free(&resp);
	assert_int_equal(fam_count_events(f->app.store, "risk.policy_updated",
	    "tenant_id", NULL), 2);
}

/* http-api.md 11, rows 8-15 (D1: operator for the write). */
static const struct cv_route risk_routes[] = {
	{ "GET", "/risk/recent", NULL, 0, "viewer", "risk.read" },
	{ "GET", "/risk/review", NULL, 0, "viewer", "risk.read" },
	{ "GET", "/risk/shadow/recent", NULL, 0, "viewer", "risk.read" },
	{ "GET", "/risk/gate/report", NULL, 0, "viewer", "risk.read" },
	{ "GET", "/risk/policy", NULL, 0, "viewer", "risk.read" },
	{ "POST", "/risk/policy", NULL, 0, "operator", "risk.write" },
	{ "GET", "/impact/edges", NULL, 0, "viewer", "risk.read" },
	{ "GET", "/diagnostics/recent", NULL, 0, "viewer", "risk.read" },
};

static void test_routes(void **state)
{
	(void)state;
	fam_check_routes(&cv_family_risk, risk_routes,
	    CV_ARRAY_LEN(risk_routes));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes),
		cmocka_unit_test_setup_teardown(test_reads, fam_setup,
		    fam_teardown),
		cmocka_unit_test_setup_teardown(test_policies, fam_setup,
		    fam_teardown),
		cmocka_unit_test_setup_teardown(test_odd_strings, fam_setup,
		    fam_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
