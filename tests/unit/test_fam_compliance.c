/* test_fam_compliance.c - the compliance family (http-api.md 5.5)
 * through dispatch. */
#include "famtest.h"

#include "eventlog.h"
#include "jsonx.h"

extern const struct cv_family cv_family_compliance;

#define OP_A "{\"role\":\"operator\",\"actor\":\"op-a\",\"tenant\":\"team-a\"}"
#define VIEW_B "{\"role\":\"viewer\",\"actor\":\"v-b\",\"tenant\":\"team-b\"}"
#define ADMIN_A "{\"role\":\"admin\",\"actor\":\"adm\",\"tenant\":\"team-a\"}"
#define OP_NONE "{\"role\":\"operator\",\"actor\":\"op\",\"tenant\":null}"

/* team-a: 3 of 4 simulations mergeable (0.75 < 0.8: one alert);
 * team-b: all mergeable. */
static void seed(struct cv_store *s)
{
	static const struct { const char *tenant; int mergeable; } sims[] = {
		{ "team-a", 1 }, { "team-a", 1 }, { "team-a", 1 },
		{ "team-a", 0 }, { "team-b", 1 },
	};

	for (size_t i = 0; i < CV_ARRAY_LEN(sims); i++)
		assert_int_equal(cv_event_emit(s, "simulation.completed", NULL,
		    NULL, sims[i].tenant, NULL, json_pack("{s:b}", "mergeable",
		    sims[i].mergeable), NULL), CV_OK);
}

static const struct fam_row rows[] = {
	{ "GET", "/compliance/report", NULL, NULL, NULL, 404, NULL, NULL },
	{ "DELETE", "/api/compliance/thresholds", NULL, NULL, NULL, 405, NULL,
	    NULL },
	{ "POST", "/api/compliance/report", NULL, "{}", NULL, 405, NULL, NULL },
	/* report and alerts, per read tenant */
	{ "GET", "/api/compliance/report", "tenant_id=team-a", NULL, NULL, 200,
	    "{\"mergeable_rate\":0.75,\"conflict_rate\":0.25,\"retries_total\":0,"
	    "\"queue_tracked\":0,\"checks\":[", NULL },
	{ "GET", "/v1/compliance/report", "tenant_id=team-a", NULL, NULL, 200,
	    "\"passed\":false,\"alerts\":[{\"alert\":\"SLO breach: "
	    "mergeable_rate\"", NULL },
	{ "GET", "/v1/compliance/report", NULL, NULL, NULL, 200,
	    "{\"mergeable_rate\":0.8,", "\"tenant_id\":\"" },
	{ "GET", "/v1/compliance/report", "tenant_id=team-a", NULL, VIEW_B, 200,
	    "\"passed\":true,\"alerts\":[]", NULL },
	{ "GET", "/v1/compliance/report", NULL, NULL, VIEW_B, 200,
	    "\"tenant_id\":\"team-b\"}", NULL },
	{ "GET", "/api/compliance/alerts", "tenant_id=team-a", NULL, NULL, 200,
	    "[{\"alert\":\"SLO breach: mergeable_rate\",\"name\":"
	    "\"mergeable_rate\",\"value\":0.75,\"threshold\":0.8,\"op\":\">=\","
	    "\"passed\":false},{\"alert\":\"SLO breach: conflict_rate\"", NULL },
	{ "GET", "/v1/compliance/alerts", "tenant_id=team-b", NULL, NULL, 200,
	    "[]", NULL },
	{ "GET", "/v1/compliance/alerts", "tenant_id=%c0%af", NULL, NULL, 400,
	    NULL, NULL },
	/* thresholds: validation first, nothing stored */
	{ "GET", "/v1/compliance/thresholds", NULL, NULL, NULL, 200, "[]",
	    NULL },
	{ "POST", "/v1/compliance/thresholds", NULL,
	    "{\"tenant_id\":\"team-a\",\"mergeable_rate\":\"high\"}", NULL, 400,
	    "body.mergeable_rate: Input should be a valid number", NULL },
	{ "POST", "/v1/compliance/thresholds", NULL,
	    "{\"tenant_id\":\"team-a\",\"conflict_rate\":false}", NULL, 400,
	    "body.conflict_rate", NULL },
	{ "POST", "/v1/compliance/thresholds", NULL,
	    "{\"tenant_id\":\"team-a\",\"max_retries\":2.5}", NULL, 400,
	    "body.max_retries: Input should be a valid integer", NULL },
	{ "POST", "/v1/compliance/thresholds", NULL,
	    "{\"tenant_id\":\"team-a\",\"max_retries\":\"3\"}", NULL, 400,
	    "body.max_retries", NULL },
	{ "POST", "/v1/compliance/thresholds", NULL, "{\"tenant_id\":[]}", NULL,
	    400, "body.tenant_id: Input should be a valid string", NULL },
	{ "POST", "/v1/compliance/thresholds", NULL, "7", NULL, 400,
	    "body: Input should be a valid dictionary", NULL },
	{ "POST", "/v1/compliance/thresholds", NULL, NULL, NULL, 400,
	    "body: Field required", NULL },
	{ "POST", "/v1/compliance/thresholds", NULL, "{", NULL, 400,
	    "JSON decode error", NULL },
	/* no query fallback for the tenant */
	{ "POST", "/v1/compliance/thresholds", "tenant_id=team-a",
	    "{\"min_mergeable_rate\":0.5}", NULL, 400,
	    "{\"error\":\"tenant_id required\"}", NULL },
	{ "POST", "/v1/compliance/thresholds", NULL,
	    "{\"tenant_id\":\"team-b\"}", OP_A, 403,
	    "{\"error\":\"Forbidden: cannot access another tenant\"}", NULL },
	{ "GET", "/v1/compliance/thresholds", NULL, NULL, NULL, 200, "[]",
	    NULL },
	/* canonical names, then the documented (alias) names */
	{ "POST", "/api/compliance/thresholds", NULL,
	    "{\"tenant_id\":\"team-a\",\"min_mergeable_rate\":0.7,"
	    "\"max_conflict_rate\":0.3}", NULL, 200,
	    "{\"ok\":true,\"tenant_id\":\"team-a\"}", NULL },
	{ "GET", "/api/compliance/report", "tenant_id=team-a", NULL, NULL, 200,
	    "\"passed\":true,\"alerts\":[]", NULL },
	{ "POST", "/api/compliance/thresholds", NULL,
	    "{\"mergeable_rate\":0.9,\"max_retries\":5,\"note\":null}", OP_A, 200,
	    "{\"ok\":true,\"tenant_id\":\"team-a\"}", NULL },
	{ "GET", "/api/compliance/alerts", "tenant_id=team-a", NULL, NULL, 200,
	    "\"threshold\":0.9", NULL },
	{ "POST", "/api/compliance/thresholds", NULL,
	    "{\"tenant_id\":\"team-b\",\"conflict_rate\":0.1}", ADMIN_A, 200,
	    "\"tenant_id\":\"team-b\"", NULL },
	{ "POST", "/api/compliance/thresholds", NULL,
	    "{\"tenant_id\":\"team-c\"}", OP_NONE, 200, "\"tenant_id\":\"team-c\"",
	    NULL },
	/* lists */
	{ "GET", "/v1/compliance/thresholds", NULL, NULL, NULL, 200,
	    "[{\"mergeable_rate\":0.9,\"max_retries\":5,\"tenant_id\":\"team-a\"},"
	    "{\"tenant_id\":\"team-b\",\"conflict_rate\":0.1},"
	    "{\"tenant_id\":\"team-c\"}]", "note" },
	{ "GET", "/v1/compliance/thresholds", "tenant_id=team-b", NULL, NULL,
	    200, "[{\"tenant_id\":\"team-b\",\"conflict_rate\":0.1}]", NULL },
	{ "GET", "/v1/compliance/thresholds", "tenant_id=team-b", NULL, OP_A,
	    200, "[{\"mergeable_rate\":0.9", "team-b" },
	/* history: newest first, tenant-filtered */
	{ "GET", "/v1/compliance/thresholds/history", NULL, NULL, NULL, 200,
	    "[{\"id\":", NULL },
	{ "GET", "/v1/compliance/thresholds/history", NULL, NULL, NULL, 200,
	    "\"event_type\":\"compliance.thresholds_updated\",\"intent_id\":null,"
	    "\"agent_id\":null,\"tenant_id\":\"team-c\"", NULL },
	{ "GET", "/api/compliance/thresholds/history", "tenant_id=team-a", NULL,
	    NULL, 200, "\"payload\":{\"mergeable_rate\":0.9,\"max_retries\":5}",
	    "team-b" },
	{ "GET", "/api/compliance/thresholds/history", NULL, NULL, VIEW_B, 200,
	    "\"payload\":{\"tenant_id\":\"team-b\",\"conflict_rate\":0.1}",
	    "team-a" },
	{ "GET", "/api/compliance/thresholds/history", "limit=x", NULL, NULL,
	    200, NULL, NULL },
};

static void test_compliance(void **state)
{
	struct fam_fixture *f = *state;
	const char *names[] = { "event_type" };
	const char *values[] = { "compliance.thresholds_updated" };
	long long n = -1;

	seed(f->app.store);
	fam_run_table(&cv_family_compliance, &f->app, rows, CV_ARRAY_LEN(rows));
	assert_int_equal(cv_event_count(f->app.store, names, values, 1, &n,
	    NULL), CV_OK);
	assert_int_equal(n, 4);
}

/* History holds at most 50 events a page; the Link names the next. */
static void test_history_cap(void **state)
{
	struct fam_fixture *f = *state;
	struct cv_response resp;
	json_t *list;

	for (int i = 0; i < 60; i++)
		assert_int_equal(cv_event_emit(f->app.store,
		    "compliance.thresholds_updated", NULL, NULL, "team-a", NULL,
		    NULL, NULL), CV_OK);
	fam_request(&cv_family_compliance, &f->app, "GET",
	    "/v1/compliance/thresholds/history", NULL, NULL, 0, NULL, &resp);
	assert_int_equal(resp.status, 200);
	list = json_loads(resp.body, 0, NULL);
	assert_int_equal(json_array_size(list), 50);
	json_decref(list);
	/* the rest on the next page, named by the Link */
	const char *link = cv_response_get_header(&resp, "Link");
	assert_non_null(link);
	const char *q = strchr(link, '?') + 1;
	char *query = strndup(q, (size_t)(strchr(q, '>') - q));
	cv_response_free(&resp);
	fam_request(&cv_family_compliance, &f->app, "GET",
	    "/v1/compliance/thresholds/history", query, NULL, 0, NULL, &resp);
	assert_int_equal(resp.status, 200);
	assert_null(cv_response_get_header(&resp, "Link"));
	list = json_loads(resp.body, 0, NULL);
	assert_int_equal(json_array_size(list), 10);
	json_decref(list);
	cv_response_free(&resp);
	free(query);
}

/* http-api.md 11, rows 19-23 (D1: operator for the write). */
static const struct cv_route compliance_routes[] = {
	{ "GET", "/compliance/report", NULL, 0, "viewer", "compliance.read" },
	{ "GET", "/compliance/alerts", NULL, 0, "viewer", "compliance.read" },
	{ "GET", "/compliance/thresholds", NULL, 0, "viewer",
	    "compliance.read" },
	{ "POST", "/compliance/thresholds", NULL, 0, "operator",
	    "compliance.write" },
	{ "GET", "/compliance/thresholds/history", NULL, 0, "operator",
	    "compliance.read" },
};

static void test_routes(void **state)
{
	(void)state;
	fam_check_routes(&cv_family_compliance, compliance_routes,
	    CV_ARRAY_LEN(compliance_routes));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes),
		cmocka_unit_test_setup_teardown(test_compliance, fam_setup,
		    fam_teardown),
		cmocka_unit_test_setup_teardown(test_history_cap, fam_setup,
		    fam_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
