/*
 * test_api_routes.c - every business route of the inventory (http-api.md
 * §11 rows 1-35) under both /api and /v1, plus the intent routes of
 * decisions.md D-3, through the real farm: status, Content-Type and the
 * key set of the body (§2, §5), 404 and 405 with Allow (§1, §10),
 * clamping of limit/days and the query.limit integer error (§5, D12),
 * malformed JSON answered 400 before authentication (§1.2), and
 * Idempotency-Key replay and 422 (D-3).
 *
 * The farm runs with auth on (an admin, an operator and a viewer key, no
 * tenants), rate limiting off, and a throw-away git repository so that
 * validations produce simulation, risk and policy events for the list
 * routes to show.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "api_util.h"

#define ADMIN "k-admin"
#define OP "k-op"
#define VIEW "k-view"
/* A rotation revokes the key it rotates (after its grace period): each
 * rotation row has an admin key of its own, per prefix (ROT1 under /api,
 * ROT1 "-v1" under /v1). */
#define ROT1 "k-rot1"
#define ROT2 "k-rot2"

/* Key sets of the spec's shapes (http-api.md §2, §5). */
#define INTENT "id source target status created_at created_by risk_level " \
	"priority semantic technical checks_required dependencies retries " \
	"tenant_id"
#define EVENT "id trace_id timestamp event_type intent_id agent_id " \
	"tenant_id payload evidence"
#define HEALTH "repo_health_score entropy_score mergeable_rate " \
	"conflict_rate active_intents merged_last_24h rejected_last_24h " \
	"status timestamp tenant_id learning"
#define LEARNING "summary level lessons next_actions"
#define QUEUE "pending pending_count total by_status"
#define COMPLIANCE "mergeable_rate conflict_rate retries_total " \
	"queue_tracked checks passed alerts timestamp tenant_id"
#define CHECK "name value threshold op passed"
#define ALERT "alert name value threshold op passed"
#define SIGNAL "signal severity message recommendation"
#define IMETRICS "total_simulations mergeable mergeable_rate total_merged " \
	"total_rejected total_blocked decision_distribution tenant_id timestamp"
#define CHANGE "intent_id health_score risk_score entropy_score mergeable " \
	"policy_verdict status timestamp tenant_id learning"
#define AGENT_POLICY "agent_id tenant_id atl max_risk_score " \
	"max_blast_severity min_test_coverage require_compliance_pass " \
	"require_human_approval require_dual_approval_on_critical " \
	"allow_actions action_overrides expires_at"
#define AUTHZ "agent_id action intent_id allowed reasons atl " \
	"effective_limits human_approvals timestamp"
#define REVIEW "intent_id intent risk simulation policy diagnostics " \
	"compliance decision_history timestamp tenant_id ?learning"
#define ROTATE "id new_key actor role tenant scopes grace_period_seconds note"
#define EXPORT "intent_id source target status risk_level priority retries " \
	"tenant_id created_at mergeable conflict_count files_changed_count " \
	"risk_score damage_score entropy_score propagation_score " \
	"containment_score entropic_load contextual_value complexity_delta " \
	"path_dependence bomb_count bomb_types policy_verdict policy_profile"
#define EXPORT_CSV_HEADER "intent_id,source,target,status,risk_level," \
	"priority,retries,tenant_id,created_at,mergeable,conflict_count," \
	"files_changed_count,risk_score,damage_score,entropy_score," \
	"propagation_score,containment_score,entropic_load,contextual_value," \
	"complexity_delta,path_dependence,bomb_count,bomb_types," \
	"policy_verdict,policy_profile"

enum kind {
	OBJ,		/* object with exactly `keys` */
	HAS,		/* object with at least `keys` (no optional ones listed) */
	ARR,		/* array; each element has exactly `keys` (when given) */
	ARR_FULL,	/* ARR and not empty */
	ARR_EMPTY,	/* [] */
	ARR_ONE,	/* exactly one element (clamped limit) */
	ERR,		/* {"error": text containing `keys`} */
	NDJSON,		/* /export/decisions as JSON lines */
	CSV,		/* /export/decisions?fmt=csv */
};

struct row {
	const char *method;
	const char *path;	/* without /api or /v1 */
	const char *key;
	const char *body;
	long status;
	enum kind kind;
	const char *keys;
	const char *sub[2][2];	/* {member, its exact key set} */
};

static const struct row rows[] = {
	/* 5.1 intents, summary, auth, predictions */
	{ "GET", "/intents", VIEW, NULL, 200, ARR_FULL, INTENT, { { 0 } } },
	{ "GET", "/intents?status=READY", VIEW, NULL, 200, ARR_FULL, INTENT,
	  { { 0 } } },
	{ "GET", "/intents?status=NOPE", VIEW, NULL, 200, ARR_EMPTY, NULL,
	  { { 0 } } },
	{ "GET", "/summary", VIEW, NULL, 200, OBJ, "health queue",
	  { { "health", HEALTH }, { "queue", QUEUE } } },
	{ "GET", "/auth/whoami", VIEW, NULL, 200, OBJ,
	  "role actor tenant scopes key_prefix", { { 0 } } },
	{ "GET", "/predictions", VIEW, NULL, 200, ARR, SIGNAL, { { 0 } } },
	{ "POST", "/auth/keys/rotate", ROT1, "{\"grace_period_seconds\":120}",
	  200, OBJ, ROTATE, { { 0 } } },
	{ "POST", "/auth/keys/rotate", ROT2, "{}", 200, OBJ, ROTATE,
	  { { 0 } } },
	{ "POST", "/auth/keys/rotate", ADMIN, "{\"grace_period_seconds\":5}",
	  400, ERR, "grace_period_seconds", { { 0 } } },
	{ "POST", "/auth/keys/rotate", ADMIN, NULL, 400, ERR, "body",
	  { { 0 } } },
	{ "POST", "/auth/keys/rotate", OP, "{}", 401, ERR, "Unauthorized",
	  { { 0 } } },
	/* 5.2 queue */
	{ "GET", "/queue/state", VIEW, NULL, 200, OBJ, QUEUE, { { 0 } } },
	{ "GET", "/queue/summary", VIEW, NULL, 200, OBJ,
	  "total by_status pending_count", { { 0 } } },
	{ "POST", "/queue/reset", ADMIN, "{}", 404, ERR, "Not Found",
	  { { 0 } } },
	/* 5.3 risk, impact, diagnostics */
	{ "GET", "/risk/recent", VIEW, NULL, 200, ARR_FULL, EVENT, { { 0 } } },
	{ "GET", "/risk/recent?limit=abc", VIEW, NULL, 400, ERR,
	  "query.limit", { { 0 } } },
	{ "GET", "/risk/recent?limit=0", VIEW, NULL, 200, ARR_ONE, EVENT,
	  { { 0 } } },
	{ "GET", "/risk/review?intent_id=it-ok2", VIEW, NULL, 200, OBJ, REVIEW,
	  { { "intent", INTENT }, { "compliance", COMPLIANCE } } },
	{ "GET", "/risk/review", VIEW, NULL, 400, ERR, "intent_id required",
	  { { 0 } } },
	{ "GET", "/risk/review?intent_id=", VIEW, NULL, 400, ERR,
	  "intent_id required", { { 0 } } },
	/* D-8: 404 (0.1.0: 200), as for another tenant's intent */
	{ "GET", "/risk/review?intent_id=nope", VIEW, NULL, 404, ERR,
	  "Intent nope not found", { { 0 } } },
	{ "GET", "/risk/shadow/recent", VIEW, NULL, 200, ARR, EVENT,
	  { { 0 } } },
	{ "GET", "/risk/shadow/recent?limit=x", VIEW, NULL, 400, ERR,
	  "query.limit", { { 0 } } },
	{ "GET", "/risk/gate/report", VIEW, NULL, 200, OBJ,
	  "total_evaluations total_blocked block_rate recent_blocks",
	  { { 0 } } },
	{ "GET", "/risk/policy", VIEW, NULL, 200, ARR_FULL,
	  "tenant_id max_risk_score ?mode version", { { 0 } } },
	{ "POST", "/risk/policy", OP,
	  "{\"tenant_id\":\"team-a\",\"max_risk_score\":50,\"mode\":\"enforce\"}",
	  200, OBJ, "ok tenant_id", { { 0 } } },
	{ "POST", "/risk/policy?tenant_id=team-q", OP, "{\"max_risk_score\":5}",
	  200, OBJ, "ok tenant_id", { { 0 } } },
	{ "POST", "/risk/policy", OP, "{\"max_risk_score\":50}", 400, ERR,
	  "tenant_id required", { { 0 } } },
	{ "POST", "/risk/policy", OP,
	  "{\"tenant_id\":\"team-a\",\"max_risk_score\":\"high\"}", 400, ERR,
	  "max_risk_score", { { 0 } } },
	{ "POST", "/risk/policy", VIEW, "{\"tenant_id\":\"team-a\"}", 401, ERR,
	  "Unauthorized", { { 0 } } },
	{ "GET", "/impact/edges", VIEW, NULL, 200, ARR_FULL,
	  "source target type weight", { { 0 } } },
	{ "GET", "/impact/edges?intent_id=it-ok2", VIEW, NULL, 200, ARR_FULL,
	  "source target type weight", { { 0 } } },
	{ "GET", "/impact/edges?intent_id=nope", VIEW, NULL, 200, ARR_EMPTY,
	  NULL, { { 0 } } },
	{ "GET", "/diagnostics/recent", VIEW, NULL, 200, ARR_FULL,
	  "code severity message", { { 0 } } },
	{ "GET", "/diagnostics/recent?intent_id=nope", VIEW, NULL, 200,
	  ARR_EMPTY, NULL, { { 0 } } },
	/* 5.4 agents */
	{ "GET", "/agent/policy", VIEW, NULL, 200, ARR_FULL, AGENT_POLICY,
	  { { 0 } } },
	{ "POST", "/agent/policy", OP,
	  "{\"agent_id\":\"bot-2\",\"tenant_id\":\"team-a\",\"atl\":2,"
	  "\"extra\":1}", 200, OBJ, AGENT_POLICY, { { 0 } } },
	{ "POST", "/agent/policy", OP, "{}", 400, ERR, "body.agent_id",
	  { { 0 } } },
	{ "POST", "/agent/policy", OP, "{\"agent_id\":\"b\",\"atl\":99}", 400,
	  ERR, "body.atl", { { 0 } } },
	{ "POST", "/agent/policy", OP, "{\"agent_id\":\"b\","
	  "\"min_test_coverage\":1.5}", 400, ERR, "min_test_coverage",
	  { { 0 } } },
	{ "POST", "/agent/policy", VIEW, "{\"agent_id\":\"b\"}", 401, ERR,
	  "Unauthorized", { { 0 } } },
	{ "POST", "/agent/authorize", ADMIN,
	  "{\"agent_id\":\"bot-1\",\"action\":\"merge\",\"intent_id\":\"it-ok2\","
	  "\"human_approvals\":1}", 200, OBJ, AUTHZ, { { 0 } } },
	{ "POST", "/agent/authorize", ADMIN,
	  "{\"agent_id\":\"bot-1\",\"action\":\"merge\"}", 400, ERR,
	  "intent_id", { { 0 } } },
	{ "POST", "/agent/authorize", OP, "{\"agent_id\":\"bot-1\","
	  "\"action\":\"merge\",\"intent_id\":\"x\"}", 401, ERR,
	  "Unauthorized", { { 0 } } },
	/* 5.5 compliance */
	{ "GET", "/compliance/report", VIEW, NULL, 200, OBJ, COMPLIANCE,
	  { { 0 } } },
	{ "GET", "/compliance/alerts", VIEW, NULL, 200, ARR, ALERT, { { 0 } } },
	{ "GET", "/compliance/thresholds", VIEW, NULL, 200, ARR_FULL,
	  "tenant_id min_mergeable_rate", { { 0 } } },
	{ "POST", "/compliance/thresholds", OP,
	  "{\"tenant_id\":\"team-a\",\"min_mergeable_rate\":0.9}", 200, OBJ,
	  "ok tenant_id", { { 0 } } },
	{ "POST", "/compliance/thresholds", OP, "{\"min_mergeable_rate\":0.9}",
	  400, ERR, "tenant_id required", { { 0 } } },
	{ "POST", "/compliance/thresholds", OP,
	  "{\"tenant_id\":\"team-a\",\"max_retries\":\"lots\"}", 400, ERR,
	  "max_retries", { { 0 } } },
	{ "POST", "/compliance/thresholds", VIEW, "{\"tenant_id\":\"team-a\"}",
	  401, ERR, "Unauthorized", { { 0 } } },
	{ "GET", "/compliance/thresholds/history", OP, NULL, 200, ARR_FULL,
	  EVENT, { { 0 } } },
	{ "GET", "/compliance/thresholds/history", VIEW, NULL, 401, ERR,
	  "Unauthorized", { { 0 } } },
	/* 5.6 events, audit, policy, metrics, project health */
	{ "GET", "/events", VIEW, NULL, 200, ARR_FULL, EVENT, { { 0 } } },
	{ "GET", "/events?type=intent.created&limit=1", VIEW, NULL, 200,
	  ARR_ONE, EVENT, { { 0 } } },
	{ "GET", "/events?limit=0", VIEW, NULL, 200, ARR_ONE, EVENT,
	  { { 0 } } },
	{ "GET", "/events?limit=-7", VIEW, NULL, 200, ARR_ONE, EVENT,
	  { { 0 } } },
	{ "GET", "/events?limit=99999999999", VIEW, NULL, 200, ARR_FULL, EVENT,
	  { { 0 } } },
	{ "GET", "/events?limit=1.5", VIEW, NULL, 400, ERR, "query.limit",
	  { { 0 } } },
	{ "GET", "/events?limit=", VIEW, NULL, 400, ERR, "query.limit",
	  { { 0 } } },
	{ "GET", "/events?type=no.such.type", VIEW, NULL, 200, ARR_EMPTY, NULL,
	  { { 0 } } },
	{ "GET", "/audit/recent", OP, NULL, 200, ARR_FULL, EVENT, { { 0 } } },
	{ "GET", "/audit/recent?limit=0", OP, NULL, 200, ARR_ONE, EVENT,
	  { { 0 } } },
	{ "GET", "/audit/recent", VIEW, NULL, 401, ERR, "Unauthorized",
	  { { 0 } } },
	{ "GET", "/policy/recent", VIEW, NULL, 200, ARR_FULL, EVENT, { { 0 } } },
	{ "GET", "/policy/recent?limit=zz", VIEW, NULL, 400, ERR, "query.limit",
	  { { 0 } } },
	{ "GET", "/metrics/integration", VIEW, NULL, 200, OBJ, IMETRICS,
	  { { 0 } } },
	{ "GET", "/health/repo/now", VIEW, NULL, 200, OBJ, HEALTH,
	  { { "learning", LEARNING }, { 0 } } },
	{ "GET", "/health/repo/trend", VIEW, NULL, 200, ARR_FULL, HEALTH,
	  { { 0 } } },
	{ "GET", "/health/repo/trend?days=99999999", VIEW, NULL, 200, ARR_FULL,
	  HEALTH, { { 0 } } },
	{ "GET", "/health/repo/trend?days=-5", VIEW, NULL, 200, ARR_EMPTY, NULL,
	  { { 0 } } },
	{ "GET", "/health/repo/trend?days=x", VIEW, NULL, 400, ERR,
	  "query.days", { { 0 } } },
	{ "GET", "/health/change?intent_id=it-ok2", VIEW, NULL, 200, OBJ,
	  CHANGE, { { "learning", LEARNING }, { 0 } } },
	/* D-8: nothing is computed for an intent the caller cannot see */
	{ "GET", "/health/change?intent_id=unknown", VIEW, NULL, 404, ERR,
	  "Intent not found", { { 0 } } },
	{ "GET", "/health/change", VIEW, NULL, 400, ERR, "intent_id required",
	  { { 0 } } },
	{ "GET", "/health/change/trend", VIEW, NULL, 200, ARR_FULL, CHANGE,
	  { { 0 } } },
	{ "GET", "/health/change/trend?days=q", VIEW, NULL, 400, ERR,
	  "query.days", { { 0 } } },
	{ "GET", "/health/entropy/trend", VIEW, NULL, 200, ARR_FULL,
	  "timestamp intent_id entropy_score", { { 0 } } },
	{ "GET", "/health/entropy/trend?days=-1", VIEW, NULL, 200, ARR_EMPTY,
	  NULL, { { 0 } } },
	/* 5.7 dashboard and export */
	{ "GET", "/dashboard", VIEW, NULL, 200, OBJ,
	  "health queue compliance risk_trend predictions metrics",
	  { { "health", HEALTH },
	    { "compliance", "passed alerts checks mergeable_rate conflict_rate" } } },
	{ "GET", "/dashboard?risk_trend_days=abc", VIEW, NULL, 400, ERR,
	  "query.risk_trend_days", { { 0 } } },
	{ "GET", "/dashboard/alerts", VIEW, NULL, 200, OBJ,
	  "compliance_passed alerts total", { { 0 } } },
	{ "GET", "/export/decisions", VIEW, NULL, 200, NDJSON, EXPORT,
	  { { 0 } } },
	{ "GET", "/export/decisions?fmt=xml", VIEW, NULL, 200, NDJSON, EXPORT,
	  { { 0 } } },
	{ "GET", "/export/decisions?fmt=csv", VIEW, NULL, 200, CSV, NULL,
	  { { 0 } } },
	/* D-3 intents over HTTP */
	{ "POST", "/intents", OP, "{\"source\":\"feature/ok\"}", 200, OBJ,
	  "ok intent_id status", { { 0 } } },
	{ "POST", "/intents", OP, "{\"technical\":{\"source_ref\":\"feature/ok\"},"
	  "\"priority\":1,\"risk_level\":\"low\"}", 200, OBJ,
	  "ok intent_id status", { { 0 } } },
	{ "POST", "/intents", OP, "{}", 400, ERR, "source is required",
	  { { 0 } } },
	{ "POST", "/intents", OP, NULL, 400, ERR, "body", { { 0 } } },
	{ "POST", "/intents", OP, "{\"id\":\"it-ok2\",\"source\":\"x\"}", 409,
	  ERR, "it-ok2", { { 0 } } },
	{ "POST", "/intents", OP, "{\"source\":\"x\",\"priority\":\"high\"}",
	  400, ERR, "priority", { { 0 } } },
	{ "POST", "/intents", OP, "{\"source\":\"x\",\"status\":\"BOGUS\"}",
	  400, ERR, "status", { { 0 } } },
	{ "POST", "/intents", VIEW, "{\"source\":\"x\"}", 401, ERR,
	  "Unauthorized", { { 0 } } },
	{ "GET", "/intents/it-ok2", VIEW, NULL, 200, OBJ, INTENT, { { 0 } } },
	{ "GET", "/intents/nope", VIEW, NULL, 404, ERR, "Intent not found",
	  { { 0 } } },
	{ "GET", "/intents/it-ok2/events", VIEW, NULL, 200, ARR_FULL, EVENT,
	  { { 0 } } },
	{ "GET", "/intents/nope/events", VIEW, NULL, 404, ERR,
	  "Intent not found", { { 0 } } },
	{ "POST", "/intents/it-clash/validate", OP, "{}", 200, HAS,
	  "decision intent_id", { { 0 } } },
	{ "POST", "/intents/it-clash/validate", OP, NULL, 200, HAS,
	  "decision intent_id", { { 0 } } },
	{ "POST", "/intents/it-clash/validate", OP, "{\"skip_checks\":\"no\"}",
	  400, ERR, "skip_checks", { { 0 } } },
	{ "POST", "/intents/nope/validate", OP, "{}", 404, ERR,
	  "Intent not found", { { 0 } } },
	{ "POST", "/intents/it-clash/validate", VIEW, "{}", 401, ERR,
	  "Unauthorized", { { 0 } } },
	/* 404 inside the families */
	{ "GET", "/intents/a/b/c", VIEW, NULL, 404, ERR, "Not Found",
	  { { 0 } } },
	{ "GET", "/risk/nothing", VIEW, NULL, 404, ERR, "Not Found", { { 0 } } },
	{ "GET", "/agent", VIEW, NULL, 404, ERR, "Not Found", { { 0 } } },
	{ "GET", "/compliance", VIEW, NULL, 404, ERR, "Not Found", { { 0 } } },
	{ "GET", "/eventsx", VIEW, NULL, 404, ERR, "Not Found", { { 0 } } },
	{ "GET", "/dashboard/nope", VIEW, NULL, 404, ERR, "Not Found",
	  { { 0 } } },
};

static void check_array(const struct row *row, const json_t *body,
    const char *what)
{
	size_t i;
	json_t *e;

	if (!json_is_array(body))
		fail_msg("%s: not an array", what);
	if (row->kind == ARR_FULL && json_array_size(body) == 0)
		fail_msg("%s: empty array", what);
	if (row->kind == ARR_EMPTY && json_array_size(body) != 0)
		fail_msg("%s: expected []", what);
	if (row->kind == ARR_ONE && json_array_size(body) != 1)
		fail_msg("%s: expected one element, got %zu", what,
		    json_array_size(body));
	if (row->keys)
		json_array_foreach(body, i, e)
			assert_keys(e, row->keys, what);
}

static void check_export(const struct row *row, const struct http_resp *r,
    const char *what)
{
	char *disp = http_resp_header(r, "Content-Disposition");
	char *line, *save = NULL, *copy;

	assert_non_null(disp);
	if (row->kind == CSV) {
		assert_true(has_content_type(r, "text/csv; charset=utf-8"));
		assert_string_equal(disp, "attachment; filename=decisions.csv");
		assert_true(strncmp(r->body, EXPORT_CSV_HEADER "\r\n",
		    strlen(EXPORT_CSV_HEADER) + 2) == 0);
		free(disp);
		return;
	}
	assert_true(has_content_type(r, "application/x-ndjson"));
	assert_string_equal(disp, "attachment; filename=decisions.jsonl");
	free(disp);
	assert_true(r->body_len > 0);
	assert_true(r->body[r->body_len - 1] != '\n');	/* no trailing newline */
	copy = strdup(r->body);
	for (line = strtok_r(copy, "\n", &save); line;
	    line = strtok_r(NULL, "\n", &save)) {
		json_t *rec = json_loads(line, 0, NULL);

		assert_non_null(rec);
		assert_keys(rec, row->keys, what);
		json_decref(rec);
	}
	free(copy);
}

static void check_row(const struct row *row, const char *prefix)
{
	char path[512], what[600], key[64];
	struct http_resp r;

	snprintf(path, sizeof path, "%s%s", prefix, row->path);
	snprintf(what, sizeof what, "%s %s", row->method, path);
	snprintf(key, sizeof key, "%s%s", row->key ? row->key : "",
	    row->key && strncmp(row->key, "k-rot", 5) == 0 &&
	    strcmp(prefix, "/v1") == 0 ? "-v1" : "");
	print_message("%s\n", what);
	api_call(row->method, path, row->key ? key : NULL, row->body, &r);
	if (r.status != row->status)
		fail_msg("%s: status %ld, want %ld: %.400s", what, r.status,
		    row->status, r.body);
	if (row->kind == NDJSON || row->kind == CSV) {
		check_export(row, &r, what);
		http_resp_free(&r);
		return;
	}
	assert_json_ct(&r);
	switch (row->kind) {
	case OBJ:
		assert_keys(r.json, row->keys, what);
		for (int i = 0; i < 2 && row->sub[i][0]; i++)
			assert_keys(json_object_get(r.json, row->sub[i][0]),
			    row->sub[i][1], row->sub[i][0]);
		break;
	case HAS: {
		char buf[256], *tok, *save = NULL;

		snprintf(buf, sizeof buf, "%s", row->keys);
		for (tok = strtok_r(buf, " ", &save); tok;
		    tok = strtok_r(NULL, " ", &save))
			if (!json_object_get(r.json, tok))
				fail_msg("%s: no key %s", what, tok);
		break;
	}
	case ERR:
		if (!strstr(error_of(&r), row->keys))
			fail_msg("%s: error \"%s\" lacks \"%s\"", what,
			    error_of(&r), row->keys);
		break;
	default:
		check_array(row, r.json, what);
	}
	http_resp_free(&r);
}

static void test_inventory(void **state)
{
	static const char *const prefixes[] = { "/api", "/v1" };

	(void)state;
	for (size_t p = 0; p < ARRAY_LEN(prefixes); p++)
		for (size_t i = 0; i < ARRAY_LEN(rows); i++)
			check_row(&rows[i], prefixes[p]);
}

/* Both prefixes answer the same document (timestamps aside). */
static void test_prefixes_agree(void **state)
{
	static const char *const paths[] = { "/intents", "/intents/it-ok2",
	    "/queue/state", "/risk/policy", "/agent/policy",
	    "/compliance/thresholds", "/auth/whoami", "/impact/edges",
	    "/diagnostics/recent", "/events?type=intent.created" };
	char a[256], b[256];

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(paths); i++) {
		json_t *x, *y;

		snprintf(a, sizeof a, "/api%s", paths[i]);
		snprintf(b, sizeof b, "/v1%s", paths[i]);
		x = get_json(a, VIEW);
		y = get_json(b, VIEW);
		if (!json_equal(x, y))
			fail_msg("%s and %s differ", a, b);
		json_decref(x);
		json_decref(y);
	}
}

struct method_row {
	const char *method;
	const char *path;
	const char *allow;	/* the exact Allow header */
};

static const struct method_row bad_methods[] = {
	{ "DELETE", "/intents", "GET, POST" },
	{ "PUT", "/summary", "GET" },
	{ "HEAD", "/dashboard", "GET" },
	{ "OPTIONS", "/events", "GET" },
	{ "GET", "/auth/keys/rotate", "POST" },
	{ "POST", "/auth/whoami", "GET" },
	{ "GET", "/agent/authorize", "POST" },
	{ "DELETE", "/risk/policy", "GET, POST" },
	{ "PATCH", "/intents/it-ok2", "GET" },
	{ "GET", "/intents/it-ok2/validate", "POST" },
	{ "PUT", "/compliance/thresholds", "GET, POST" },
	{ "POST", "/queue/state", "GET" },
	{ "POST", "/export/decisions", "GET" },
	{ "DELETE", "/health/repo/now", "GET" },
};

/* 405 with Allow (and no auth needed to learn it), JSON envelope. */
static void test_method_not_allowed(void **state)
{
	static const char *const prefixes[] = { "/api", "/v1" };

	(void)state;
	for (size_t p = 0; p < ARRAY_LEN(prefixes); p++) {
		for (size_t i = 0; i < ARRAY_LEN(bad_methods); i++) {
			const struct method_row *m = &bad_methods[i];
			char path[256], *allow;
			struct http_resp r;

			snprintf(path, sizeof path, "%s%s", prefixes[p], m->path);
			print_message("%s %s\n", m->method, path);
			api_call(m->method, path, VIEW, NULL, &r);
			assert_int_equal(r.status, 405);
			allow = http_resp_header(&r, "Allow");
			assert_non_null(allow);
			assert_string_equal(allow, m->allow);
			free(allow);
			if (strcmp(m->method, "HEAD") != 0) {
				assert_json_ct(&r);
				assert_string_equal(json_string_value(
				    json_object_get(r.json, "detail")),
				    "Method Not Allowed");
			}
			http_resp_free(&r);
		}
	}
}

struct malformed_row {
	const char *path;
	const char *body;
};

static const struct malformed_row malformed[] = {
	{ "/v1/risk/policy", "{oops" },
	{ "/api/risk/policy", "{\"tenant_id\":" },
	{ "/v1/intents", "[1," },
	{ "/v1/agent/authorize", "{" },
	{ "/v1/agent/policy", "{\"agent_id\":\"x\",}" },
	{ "/v1/compliance/thresholds", "nul" },
	{ "/v1/auth/keys/rotate", "{\"grace_period_seconds\":60" },
	{ "/v1/intents/it-ok2/validate", "}" },
};

/* Malformed JSON is 400 before authentication (http-api.md 1.2): no key,
 * a bad key and a viewer key on an admin route all get 400. */
static void test_malformed_json_before_auth(void **state)
{
	static const char *const keys[] = { NULL, "wrong-key", VIEW };

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(malformed); i++) {
		for (size_t k = 0; k < ARRAY_LEN(keys); k++) {
			struct http_resp r;

			print_message("POST %s %s\n", malformed[i].path,
			    malformed[i].body);
			api_call("POST", malformed[i].path, keys[k],
			    malformed[i].body, &r);
			assert_int_equal(r.status, 400);
			assert_json_ct(&r);
			assert_true(strncmp(error_of(&r), "body", 4) == 0);
			http_resp_free(&r);
		}
	}
}

/* Idempotency-Key (D-3): same key and body → the first answer replayed
 * (one intent created); same key, other body → 422; a new key creates. */
static void test_idempotency_key(void **state)
{
	static const char body1[] = "{\"source\":\"feature/ok\",\"priority\":2}";
	static const char body2[] = "{\"source\":\"feature/ok\",\"priority\":1}";
	struct http_resp r1, r2, r3, r4;
	json_t *before, *after;

	(void)state;
	before = get_json("/v1/intents?limit=10000", ADMIN);
	api_call2("POST", "/v1/intents", OP, "Idempotency-Key: idem-1", body1,
	    &r1);
	assert_int_equal(r1.status, 200);
	assert_keys(r1.json, "ok intent_id status", "first");
	api_call2("POST", "/api/intents", OP, "Idempotency-Key: idem-1", body1,
	    &r2);
	assert_int_equal(r2.status, 200);
	assert_json_ct(&r2);
	assert_true(json_equal(r1.json, r2.json));
	api_call2("POST", "/v1/intents", OP, "Idempotency-Key: idem-1", body2,
	    &r3);
	assert_int_equal(r3.status, 422);
	assert_json_ct(&r3);
	assert_true(*error_of(&r3) != '\0');
	api_call2("POST", "/v1/intents", OP, "Idempotency-Key: idem-2", body1,
	    &r4);
	assert_int_equal(r4.status, 200);
	assert_false(json_equal(json_object_get(r1.json, "intent_id"),
	    json_object_get(r4.json, "intent_id")));
	after = get_json("/v1/intents?limit=10000", ADMIN);
	assert_int_equal(json_array_size(after), json_array_size(before) + 2);
	json_decref(before);
	json_decref(after);
	http_resp_free(&r1);
	http_resp_free(&r2);
	http_resp_free(&r3);
	http_resp_free(&r4);
}

/* GET /intents returns at most 200 (§5.1) however many exist. */
static void test_intent_list_cap(void **state)
{
	json_t *list;
	char body[128];

	(void)state;
	list = get_json("/v1/intents", ADMIN);
	for (size_t i = json_array_size(list); i <= 205; i++) {
		snprintf(body, sizeof body, "{\"source\":\"feature/bulk-%zu\"}", i);
		assert_int_equal(api_status("POST", "/v1/intents", OP, body), 200);
	}
	json_decref(list);
	list = get_json("/v1/intents", VIEW);
	assert_int_equal(json_array_size(list), 200);
	json_decref(list);
}

static char repo[256];

static void seed(void)
{
	static const char *const calls[][3] = {
		{ "/v1/intents", "{\"id\":\"it-ok\",\"source\":\"feature/ok\"}" },
		{ "/v1/intents", "{\"id\":\"it-ok2\",\"source\":\"feature/ok\"}" },
		{ "/v1/intents", "{\"id\":\"it-clash\",\"source\":\"feature/clash\"}" },
		{ "/v1/intents/it-ok/validate", "{}" },
		{ "/v1/intents/it-ok2/validate", "{\"skip_checks\":true}" },
		{ "/v1/intents/it-clash/validate", "{}" },
		{ "/v1/risk/policy", "{\"tenant_id\":\"team-a\","
		  "\"max_risk_score\":50,\"mode\":\"enforce\"}" },
		{ "/v1/compliance/thresholds", "{\"tenant_id\":\"team-a\","
		  "\"min_mergeable_rate\":0.9}" },
		{ "/v1/agent/policy", "{\"agent_id\":\"bot-1\"}" },
	};

	for (size_t i = 0; i < ARRAY_LEN(calls); i++) {
		struct http_resp r;

		api_call("POST", calls[i][0], ADMIN, calls[i][1], &r);
		if (r.status != 200)
			fail_msg("seed %s: %ld %s", calls[i][0], r.status, r.body);
		http_resp_free(&r);
	}
}

static int farm_up(void **state)
{
	const char *env[] = {
		"CONVERGE_AUTH_REQUIRED=1",
		"CONVERGE_AUTH_MODE=api_key",
		"CONVERGE_API_KEYS=" ADMIN ":admin:root," OP ":operator:op1,"
		    VIEW ":viewer:view1," ROT1 ":admin:rot1," ROT2 ":admin:rot2,"
		    ROT1 "-v1:admin:rot1," ROT2 "-v1:admin:rot2",
		"CONVERGE_RATE_LIMIT_ENABLED=0",
		/* the worker's one cycle at start sees no intent: statuses
		 * stay as the validations left them */
		"CONVERGE_WORKER_POLL_INTERVAL=3600",
		NULL,
	};

	(void)state;
	make_repo(repo, sizeof repo);
	if (farm_start_on_repo(repo, env) != 0)
		return -1;
	seed();
	return 0;
}

static int farm_down(void **state)
{
	(void)state;
	return farm_stop_off_repo(repo);
}

int main(void)
{
	if (!farm_available())
		return 77;	/* automake: skipped */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inventory),
		cmocka_unit_test(test_prefixes_agree),
		cmocka_unit_test(test_method_not_allowed),
		cmocka_unit_test(test_malformed_json_before_auth),
		cmocka_unit_test(test_idempotency_key),
		cmocka_unit_test(test_intent_list_cap),
	};

	return cmocka_run_group_tests_name("api_routes", tests, farm_up,
	    farm_down);
}
