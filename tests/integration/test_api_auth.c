/*
 * test_api_auth.c - authentication and authorization through the real
 * farm (http-api.md §3, decisions.md D-1):
 *   - the API-key matrix: no key, bad key, unknown role, each role against
 *     routes needing each (401 for a rank too low), each scope form (one
 *     scope, "*", "<resource>.*", "a|b"; 403 "Missing scope: ..."), and
 *     the access.denied / access.granted events they write;
 *   - tenant isolation on every route that takes or returns tenant data;
 *   - key rotation: the grace table is shared, so after a restart without
 *     the old key every process still takes it until the grace expires;
 *   - JWT: HS256 (valid, expired, nbf ahead, forged, alg none, wrong
 *     iss/aud), RS256 against a public key file (a pair made here with
 *     OpenSSL; an HS256 token signed with the public key is refused), and
 *     hybrid mode.
 * Each part (re)starts the farm with the environment it needs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sqlite3.h>

#include "harness.h"
#include "api_util.h"

#define ADMIN "k-admin"
#define OP "k-op"
#define VIEW "k-view"
#define WEIRD "k-weird"
#define A_VIEW "k-a-view"
#define A_OP "k-a-op"
#define A_ADM "k-a-adm"
#define B_OP "k-b-op"
#define S_RISK "k-s-risk"
#define S_STAR "k-s-star"
#define S_RES "k-s-res"
#define S_MULTI "k-s-multi"
#define S_ADMIN "k-s-admin"
#define OLD "k-old-rotated"

#define KEYS_A \
	ADMIN ":admin:root," OP ":operator:op1," VIEW ":viewer:view1," \
	A_VIEW ":viewer:a-view:team-a," A_OP ":operator:a-op:team-a," \
	A_ADM ":admin:a-adm:team-a," B_OP ":operator:b-op:team-b," \
	S_RISK ":admin:s-risk::risk.read," S_STAR ":admin:s-star::*," \
	S_RES ":admin:s-res::risk.*," S_MULTI ":admin:s-multi::risk.read|queue.read," \
	S_ADMIN ":admin:s-admin::admin"

#define JWT_SECRET "an-hs256-secret-of-more-than-32-bytes!!"
#define ISS "converge-it"
#define AUD "converge-api"

static char dbdir[128];		/* a DB that outlives one farm (rotation) */
static char dbpath[256];

static int restart(const char *const *env)
{
	if (farm_stop() != 0)
		return -1;
	return farm_start(env);
}

static void expect(const char *method, const char *path, const char *key,
    const char *body, long status, const char *error)
{
	struct http_resp r;

	api_call(method, path, key, body, &r);
	if (r.status != status)
		fail_msg("%s %s key %s: %ld, want %ld: %.300s", method, path,
		    key ? key : "-", r.status, status, r.body);
	if (error) {
		assert_json_ct(&r);
		if (strcmp(error_of(&r), error) != 0)
			fail_msg("%s %s key %s: error \"%s\", want \"%s\"", method,
			    path, key ? key : "-", error_of(&r), error);
	}
	http_resp_free(&r);
}

/* ---- API keys: roles and scopes ------------------------------------------ */

struct access_row {
	const char *key;
	const char *method;
	const char *path;
	const char *body;
	long status;
	const char *error;	/* exact error text, NULL: not checked */
};

#define UNAUTH "Unauthorized"

static const struct access_row role_rows[] = {
	{ NULL, "GET", "/v1/intents", NULL, 401, UNAUTH },
	{ "", "GET", "/v1/intents", NULL, 401, UNAUTH },
	{ "no-such-key", "GET", "/v1/intents", NULL, 401, UNAUTH },
	{ "K-ADMIN", "GET", "/v1/intents", NULL, 401, UNAUTH },
	/* a key with an unknown role ("superuser") no longer exists: the
	 * farm refuses to start with it (D-8, test_api_d8) */
	{ WEIRD, "GET", "/v1/intents", NULL, 401, UNAUTH },
	{ NULL, "POST", "/api/risk/policy", "{\"tenant_id\":\"t\"}", 401, UNAUTH },
	/* viewer routes */
	{ VIEW, "GET", "/v1/intents", NULL, 200, NULL },
	{ VIEW, "GET", "/api/queue/state", NULL, 200, NULL },
	{ VIEW, "GET", "/v1/risk/recent", NULL, 200, NULL },
	{ VIEW, "GET", "/v1/agent/policy", NULL, 200, NULL },
	{ VIEW, "GET", "/v1/compliance/report", NULL, 200, NULL },
	{ VIEW, "GET", "/v1/events", NULL, 200, NULL },
	{ VIEW, "GET", "/v1/dashboard/alerts", NULL, 200, NULL },
	{ VIEW, "GET", "/v1/export/decisions", NULL, 200, NULL },
	/* operator routes: a viewer is 401, not 403 (§3.5) */
	{ VIEW, "GET", "/v1/audit/recent", NULL, 401, UNAUTH },
	{ VIEW, "GET", "/v1/compliance/thresholds/history", NULL, 401, UNAUTH },
	{ VIEW, "POST", "/v1/risk/policy", "{\"tenant_id\":\"t\"}", 401, UNAUTH },
	{ VIEW, "POST", "/v1/compliance/thresholds", "{\"tenant_id\":\"t\"}",
	  401, UNAUTH },
	{ VIEW, "POST", "/v1/agent/policy", "{\"agent_id\":\"a\"}", 401, UNAUTH },
	{ VIEW, "POST", "/v1/intents", "{\"source\":\"s\"}", 401, UNAUTH },
	{ VIEW, "POST", "/v1/intents/x/validate", "{}", 401, UNAUTH },
	{ OP, "GET", "/v1/audit/recent", NULL, 200, NULL },
	{ OP, "GET", "/api/compliance/thresholds/history", NULL, 200, NULL },
	{ OP, "POST", "/v1/risk/policy", "{\"tenant_id\":\"t\"}", 200, NULL },
	{ OP, "POST", "/v1/compliance/thresholds", "{\"tenant_id\":\"t\"}", 200,
	  NULL },
	{ OP, "POST", "/v1/agent/policy", "{\"agent_id\":\"a\"}", 200, NULL },
	{ OP, "GET", "/v1/intents", NULL, 200, NULL },
	/* admin routes */
	{ OP, "POST", "/v1/agent/authorize", "{\"agent_id\":\"a\","
	  "\"action\":\"merge\",\"intent_id\":\"i\"}", 401, UNAUTH },
	{ OP, "POST", "/v1/auth/keys/rotate", "{}", 401, UNAUTH },
	{ VIEW, "POST", "/api/auth/keys/rotate", "{}", 401, UNAUTH },
	/* past the role check; intent i does not exist: 404 (D-8) */
	{ ADMIN, "POST", "/v1/agent/authorize", "{\"agent_id\":\"a\","
	  "\"action\":\"merge\",\"intent_id\":\"i\"}", 404, NULL },
	{ ADMIN, "GET", "/v1/audit/recent", NULL, 200, NULL },
	{ ADMIN, "GET", "/v1/intents", NULL, 200, NULL },
};

static const struct access_row scope_rows[] = {
	{ S_RISK, "GET", "/v1/risk/recent", NULL, 200, NULL },
	{ S_RISK, "GET", "/v1/risk/policy", NULL, 200, NULL },
	{ S_RISK, "GET", "/v1/impact/edges", NULL, 200, NULL },
	{ S_RISK, "GET", "/v1/intents", NULL, 403, "Missing scope: intents.read" },
	{ S_RISK, "POST", "/v1/risk/policy", "{\"tenant_id\":\"t\"}", 403,
	  "Missing scope: risk.write" },
	{ S_RISK, "GET", "/api/events", NULL, 403, "Missing scope: events.read" },
	{ S_RISK, "POST", "/v1/auth/keys/rotate", "{}", 403,
	  "Missing scope: admin" },
	{ S_STAR, "GET", "/v1/intents", NULL, 200, NULL },
	{ S_STAR, "GET", "/v1/events", NULL, 200, NULL },
	{ S_STAR, "POST", "/v1/agent/authorize", "{\"agent_id\":\"a\","
	  "\"action\":\"x\",\"intent_id\":\"i\"}", 404, NULL },
	{ S_RES, "GET", "/v1/risk/recent", NULL, 200, NULL },
	{ S_RES, "POST", "/v1/risk/policy", "{\"tenant_id\":\"t\"}", 200, NULL },
	{ S_RES, "GET", "/v1/queue/state", NULL, 403, "Missing scope: queue.read" },
	{ S_RES, "GET", "/v1/agent/policy", NULL, 403,
	  "Missing scope: agents.read" },
	{ S_MULTI, "GET", "/v1/risk/recent", NULL, 200, NULL },
	{ S_MULTI, "GET", "/v1/queue/state", NULL, 200, NULL },
	{ S_MULTI, "GET", "/api/queue/summary", NULL, 200, NULL },
	{ S_MULTI, "POST", "/v1/risk/policy", "{\"tenant_id\":\"t\"}", 403,
	  "Missing scope: risk.write" },
	{ S_MULTI, "GET", "/v1/compliance/report", NULL, 403,
	  "Missing scope: compliance.read" },
	{ S_ADMIN, "GET", "/v1/intents", NULL, 403, "Missing scope: intents.read" },
	{ S_ADMIN, "POST", "/v1/auth/keys/rotate", "{}", 200, NULL },
};

static void run_rows(const struct access_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		print_message("%s %s %s\n", rows[i].key ? rows[i].key : "-",
		    rows[i].method, rows[i].path);
		expect(rows[i].method, rows[i].path, rows[i].key, rows[i].body,
		    rows[i].status, rows[i].error);
	}
}

static void test_roles(void **state)
{
	(void)state;
	run_rows(role_rows, ARRAY_LEN(role_rows));
}

static void test_scopes(void **state)
{
	json_t *who;

	(void)state;
	run_rows(scope_rows, ARRAY_LEN(scope_rows));
	/* whoami reports the scopes exactly as written (§3.2) */
	who = get_json("/v1/auth/whoami", S_STAR);
	assert_string_equal(json_string_value(json_object_get(who, "scopes")),
	    "*");
	json_decref(who);
	expect("GET", "/v1/auth/whoami", S_MULTI, NULL, 403,
	    "Missing scope: intents.read");
}

/* True when events holds an access event with this reason and path. */
static bool has_access(const json_t *events, const char *reason,
    const char *path, const char *method)
{
	size_t i;
	json_t *e;

	json_array_foreach(events, i, e) {
		json_t *p = json_object_get(e, "payload");

		assert_keys(p, "method path actor role reason ?key_id", "access payload");
		if (strcmp(json_string_value(json_object_get(p, "reason")),
		    reason) == 0 &&
		    strcmp(json_string_value(json_object_get(p, "path")),
		    path) == 0 &&
		    strcmp(json_string_value(json_object_get(p, "method")),
		    method) == 0)
			return true;
	}
	return false;
}

struct event_row {
	const char *key;
	const char *method;
	const char *path;
	const char *body;
	const char *type;
	const char *reason;
};

static const struct event_row event_rows[] = {
	{ NULL, "GET", "/v1/queue/state?x=1", NULL, "access.denied",
	  "no_api_key" },
	{ "nope", "GET", "/api/queue/summary", NULL, "access.denied",
	  "invalid_key" },
	{ VIEW, "GET", "/v1/audit/recent", NULL, "access.denied",
	  "insufficient_role" },
	{ S_RISK, "GET", "/v1/predictions", NULL, "access.denied",
	  "missing_scope:intents.read" },
	{ OP, "POST", "/v1/agent/policy", "{\"agent_id\":\"ev\"}",
	  "access.granted", "" },
	{ ADMIN, "POST", "/api/compliance/thresholds", "{\"tenant_id\":\"t\"}",
	  "access.granted", "" },
};

/* Each denial writes access.denied, each granted non-GET access.granted,
 * a granted GET nothing (§3.6). */
static void test_access_events(void **state)
{
	json_t *granted, *denied, *after;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(event_rows); i++)
		api_status(event_rows[i].method, event_rows[i].path,
		    event_rows[i].key, event_rows[i].body);
	denied = events_of(ADMIN, "access.denied");
	granted = events_of(ADMIN, "access.granted");
	for (size_t i = 0; i < ARRAY_LEN(event_rows); i++) {
		const struct event_row *row = &event_rows[i];
		char path[128];

		snprintf(path, sizeof path, "%.*s", (int)strcspn(row->path, "?"),
		    row->path);
		print_message("%s %s -> %s %s\n", row->method, path, row->type,
		    row->reason);
		assert_true(has_access(strcmp(row->type, "access.denied") == 0 ?
		    denied : granted, row->reason, path, row->method));
	}
	/* the viewer's denial names it; the anonymous one has "" and null */
	{
		size_t i;
		json_t *e;
		bool seen_view = false, seen_anon = false;

		json_array_foreach(denied, i, e) {
			json_t *p = json_object_get(e, "payload");
			const char *actor = json_string_value(json_object_get(p,
			    "actor"));

			if (strcmp(actor, "view1") == 0)
				seen_view = strcmp(json_string_value(
				    json_object_get(p, "role")), "viewer") == 0;
			if (*actor == '\0' && json_is_null(json_object_get(e,
			    "tenant_id")))
				seen_anon = true;
		}
		assert_true(seen_view);
		assert_true(seen_anon);
	}
	api_status("GET", "/v1/intents", OP, NULL);
	after = events_of(ADMIN, "access.granted");
	assert_int_equal(json_array_size(after), json_array_size(granted));
	json_decref(after);
	json_decref(granted);
	json_decref(denied);
}

/* ---- tenant isolation ------------------------------------------------------ */

static void seed_tenants(void)
{
	static const char *const calls[][2] = {
		{ "/v1/intents", "{\"id\":\"ta-1\",\"source\":\"fa\",\"tenant_id\":\"team-a\"}" },
		{ "/v1/intents", "{\"id\":\"ta-2\",\"source\":\"fa2\",\"tenant_id\":\"team-a\"}" },
		{ "/v1/intents", "{\"id\":\"tb-1\",\"source\":\"fb\",\"tenant_id\":\"team-b\"}" },
		{ "/v1/intents", "{\"id\":\"tn-1\",\"source\":\"fn\"}" },
		{ "/v1/intents/ta-1/validate", "{}" },
		{ "/v1/intents/tb-1/validate", "{}" },
		{ "/v1/risk/policy", "{\"tenant_id\":\"team-a\",\"max_risk_score\":10}" },
		{ "/v1/risk/policy", "{\"tenant_id\":\"team-b\",\"max_risk_score\":20}" },
		{ "/v1/compliance/thresholds", "{\"tenant_id\":\"team-a\",\"max_retries\":1}" },
		{ "/v1/compliance/thresholds", "{\"tenant_id\":\"team-b\",\"max_retries\":2}" },
		{ "/v1/agent/policy", "{\"agent_id\":\"bot\",\"tenant_id\":\"team-a\"}" },
		{ "/v1/agent/policy", "{\"agent_id\":\"bot\",\"tenant_id\":\"team-b\"}" },
	};

	for (size_t i = 0; i < ARRAY_LEN(calls); i++) {
		struct http_resp r;

		api_call("POST", calls[i][0], ADMIN, calls[i][1], &r);
		if (r.status != 200)
			fail_msg("seed %s: %ld %s", calls[i][0], r.status, r.body);
		http_resp_free(&r);
	}
	/* health snapshots for both tenants, for the trend routes */
	json_decref(get_json("/v1/health/repo/now?tenant_id=team-a", ADMIN));
	json_decref(get_json("/v1/health/repo/now?tenant_id=team-b", ADMIN));
	json_decref(get_json("/v1/health/change?intent_id=tb-1&tenant_id=team-b",
	    ADMIN));
}

/* Where the tenant shows in a route's answer. */
enum tshape {
	T_LIST,		/* array of objects with "tenant_id" */
	T_LIST_ID,	/* array of objects with "id" of team-a intents */
	T_FIELD,	/* object with "tenant_id" */
	T_HEALTH_QUEUE,	/* summary: health.tenant_id, queue of team-a only */
	T_QUEUE,	/* QueueState: pending of team-a only */
	T_NDJSON,	/* export records with "tenant_id" */
	T_REVIEW_NF,	/* {"error":"Intent tb-1 not found"} */
};

struct tenant_row {
	const char *key;
	const char *path;
	enum tshape shape;
};

static const struct tenant_row tenant_rows[] = {
	{ A_VIEW, "/v1/intents", T_LIST },
	{ A_VIEW, "/v1/intents?tenant_id=team-b", T_LIST },
	{ A_ADM, "/v1/intents?tenant_id=team-b", T_LIST },
	{ A_VIEW, "/api/intents?status=READY&tenant_id=team-b", T_LIST },
	{ A_VIEW, "/v1/events", T_LIST },
	{ A_VIEW, "/v1/events?tenant_id=team-b", T_LIST },
	{ A_VIEW, "/v1/events?intent_id=tb-1", T_LIST },
	{ A_ADM, "/v1/events?tenant_id=team-b", T_LIST },
	{ A_OP, "/v1/audit/recent?tenant_id=team-b", T_LIST },
	{ A_VIEW, "/v1/policy/recent?tenant_id=team-b", T_LIST },
	{ A_VIEW, "/v1/risk/recent?tenant_id=team-b", T_LIST },
	{ A_VIEW, "/v1/risk/shadow/recent?tenant_id=team-b", T_LIST },
	{ A_VIEW, "/v1/risk/policy", T_LIST },
	{ A_VIEW, "/v1/risk/policy?tenant_id=team-b", T_LIST },
	{ A_VIEW, "/v1/compliance/thresholds?tenant_id=team-b", T_LIST },
	{ A_OP, "/v1/compliance/thresholds/history?tenant_id=team-b", T_LIST },
	{ A_VIEW, "/v1/agent/policy?tenant_id=team-b", T_LIST },
	{ A_VIEW, "/v1/health/repo/trend?tenant_id=team-b", T_LIST },
	{ A_VIEW, "/v1/health/change/trend?tenant_id=team-b", T_LIST },
	{ A_VIEW, "/v1/summary?tenant_id=team-b", T_HEALTH_QUEUE },
	{ A_VIEW, "/v1/queue/state?tenant_id=team-b", T_QUEUE },
	{ A_VIEW, "/v1/compliance/report?tenant_id=team-b", T_FIELD },
	{ A_VIEW, "/v1/metrics/integration?tenant_id=team-b", T_FIELD },
	{ A_VIEW, "/v1/health/repo/now?tenant_id=team-b", T_FIELD },
	{ A_VIEW, "/v1/export/decisions?tenant_id=team-b", T_NDJSON },
	{ A_VIEW, "/v1/risk/review?intent_id=tb-1", T_REVIEW_NF },
	{ A_VIEW, "/v1/risk/review?intent_id=tb-1&tenant_id=team-b", T_REVIEW_NF },
	{ A_ADM, "/api/risk/review?intent_id=tb-1&tenant_id=team-b", T_REVIEW_NF },
};

static void assert_team_a(const json_t *v, const char *what)
{
	const char *t = json_string_value(json_object_get(v, "tenant_id"));

	if (!t || strcmp(t, "team-a") != 0) {
		char *s = json_dumps(v, JSON_COMPACT);

		fail_msg("%s: foreign tenant in %.300s", what, s ? s : "?");
	}
}

static void assert_queue_team_a(const json_t *q, const char *what)
{
	size_t i;
	json_t *p;

	json_array_foreach(json_object_get(q, "pending"), i, p) {
		const char *id = json_string_value(json_object_get(p, "intent_id"));

		if (strncmp(id, "ta-", 3) != 0)
			fail_msg("%s: foreign intent %s in the queue", what, id);
	}
	assert_int_equal(json_integer_value(json_object_get(q, "total")), 2);
}

static void check_tenant_row(const struct tenant_row *row)
{
	struct http_resp r;
	size_t i, n = 0;
	json_t *e;

	print_message("%s %s\n", row->key, row->path);
	api_call("GET", row->path, row->key, NULL, &r);
	/* D-8: another tenant's intent is 404 (0.1.0: 200 with an error
	 * body); every other row answers 200 */
	if (r.status != (row->shape == T_REVIEW_NF ? 404 : 200))
		fail_msg("%s: %ld %s", row->path, r.status, r.body);
	switch (row->shape) {
	case T_LIST:
		json_array_foreach(r.json, i, e)
			assert_team_a(e, row->path);
		break;
	case T_LIST_ID:
		break;
	case T_FIELD:
		assert_team_a(r.json, row->path);
		break;
	case T_HEALTH_QUEUE:
		assert_team_a(json_object_get(r.json, "health"), row->path);
		assert_queue_team_a(json_object_get(r.json, "queue"), row->path);
		break;
	case T_QUEUE:
		assert_queue_team_a(r.json, row->path);
		break;
	case T_NDJSON: {
		char *copy = strdup(r.body), *line, *save = NULL;

		for (line = strtok_r(copy, "\n", &save); line;
		    line = strtok_r(NULL, "\n", &save), n++) {
			json_t *rec = json_loads(line, 0, NULL);

			assert_team_a(rec, row->path);
			json_decref(rec);
		}
		free(copy);
		assert_int_equal(n, 2);
		break;
	}
	case T_REVIEW_NF:
		assert_string_equal(error_of(&r), "Intent tb-1 not found");
		break;
	}
	http_resp_free(&r);
}

struct write_row {
	const char *key;
	const char *method;
	const char *path;
	const char *body;
	long status;
	const char *error;
};

#define FORBIDDEN "Forbidden: cannot access another tenant"

static const struct write_row tenant_writes[] = {
	{ A_OP, "POST", "/v1/risk/policy", "{\"tenant_id\":\"team-b\","
	  "\"max_risk_score\":99}", 403, FORBIDDEN },
	{ A_OP, "POST", "/api/risk/policy?tenant_id=team-b",
	  "{\"max_risk_score\":99}", 403, FORBIDDEN },
	{ A_OP, "POST", "/v1/compliance/thresholds", "{\"tenant_id\":\"team-b\","
	  "\"max_retries\":99}", 403, FORBIDDEN },
	{ A_OP, "POST", "/v1/agent/policy", "{\"agent_id\":\"bot\","
	  "\"tenant_id\":\"team-b\",\"atl\":3}", 403, FORBIDDEN },
	{ A_OP, "POST", "/v1/intents", "{\"source\":\"x\",\"id\":\"sneak\","
	  "\"tenant_id\":\"team-b\"}", 403, NULL },
	{ A_OP, "POST", "/v1/intents/tb-1/validate", "{}", 404,
	  "Intent not found" },
	{ A_VIEW, "GET", "/v1/intents/tb-1", NULL, 404, "Intent not found" },
	{ A_VIEW, "GET", "/api/intents/tb-1/events", NULL, 404,
	  "Intent not found" },
	{ A_VIEW, "GET", "/v1/intents/tn-1", NULL, 404, "Intent not found" },
	{ A_VIEW, "GET", "/v1/intents/ta-1", NULL, 200, NULL },
	{ A_VIEW, "GET", "/v1/intents/ta-1/events", NULL, 200, NULL },
	/* own tenant, or none given: the principal's */
	{ A_OP, "POST", "/v1/risk/policy", "{\"max_risk_score\":11}", 200, NULL },
	{ A_OP, "POST", "/v1/compliance/thresholds", "{\"max_retries\":3}", 200,
	  NULL },
	{ A_OP, "POST", "/v1/agent/policy", "{\"agent_id\":\"bot2\"}", 200,
	  NULL },
	{ A_OP, "POST", "/v1/intents", "{\"source\":\"x\",\"id\":\"ta-3\"}",
	  200, NULL },
	/* an admin bound to a tenant may write another (§3.7) */
	{ A_ADM, "POST", "/v1/compliance/thresholds", "{\"tenant_id\":\"team-c\"}",
	  200, NULL },
};

/* The stored team-b documents, to prove refused writes changed nothing. */
static json_t *team_b_state(void)
{
	return json_pack("{s:o,s:o,s:o,s:o}",
	    "risk", get_json("/v1/risk/policy?tenant_id=team-b", B_OP),
	    "thr", get_json("/v1/compliance/thresholds?tenant_id=team-b", B_OP),
	    "agents", get_json("/v1/agent/policy?tenant_id=team-b", B_OP),
	    "intents", get_json("/v1/intents", B_OP));
}

static void test_tenant_isolation(void **state)
{
	json_t *before, *after, *list, *who;
	struct http_resp r;

	(void)state;
	seed_tenants();
	for (size_t i = 0; i < ARRAY_LEN(tenant_rows); i++)
		check_tenant_row(&tenant_rows[i]);
	before = team_b_state();
	for (size_t i = 0; i < ARRAY_LEN(tenant_writes); i++) {
		const struct write_row *w = &tenant_writes[i];

		print_message("%s %s %s\n", w->key, w->method, w->path);
		expect(w->method, w->path, w->key, w->body, w->status, w->error);
	}
	after = team_b_state();
	assert_true(json_equal(before, after));
	/* the team-a writes without tenant_id landed in team-a */
	api_call("GET", "/v1/intents/ta-3", A_VIEW, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_team_a(r.json, "ta-3");
	http_resp_free(&r);
	list = get_json("/v1/agent/policy", A_VIEW);
	assert_int_equal(json_array_size(list), 2);	/* bot and bot2 */
	json_decref(list);
	/* a team-b principal sees its own, never team-a's */
	list = get_json("/v1/intents?tenant_id=team-a", B_OP);
	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(list, 0), "id")), "tb-1");
	json_decref(list);
	/* a principal without tenant sees every tenant (§3.7 note) */
	list = get_json("/v1/intents", VIEW);
	assert_true(json_array_size(list) >= 5);
	json_decref(list);
	who = get_json("/v1/auth/whoami", A_VIEW);
	assert_string_equal(json_string_value(json_object_get(who, "tenant")),
	    "team-a");
	json_decref(who);
	json_decref(before);
	json_decref(after);
}

/* ---- key rotation ------------------------------------------------------------ */

static void expire_grace(void)
{
	sqlite3 *db;
	char *err = NULL;

	assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, "UPDATE api_key_grace SET expires_at ="
	    " '2000-01-01T00:00:00.000000+00:00'", NULL, NULL, &err) != SQLITE_OK)
		fail_msg("expire grace: %s", err);
	assert_true(sqlite3_changes(db) >= 1);
	sqlite3_close(db);
}

/*
 * Rotation writes the old key into the shared grace table.  The farm is
 * then restarted without the old key in CONVERGE_API_KEYS (same DB): every
 * process of several families must still take the old key, as the same
 * principal, until the grace entry expires; the new key works; a key in
 * grace cannot rotate again.
 */
static void test_key_rotation(void **state)
{
	static const char *const paths[] = { "/v1/intents", "/v1/events",
	    "/api/queue/state", "/v1/risk/policy", "/v1/summary" };
	char keys_env[512], db_env[300], *new_key;
	const char *env1[] = { "CONVERGE_API_KEYS=" OLD ":admin:rotator:team-r,"
	    ADMIN ":admin:root", "CONVERGE_RATE_LIMIT_ENABLED=0", db_env, NULL };
	const char *env2[] = { keys_env, "CONVERGE_RATE_LIMIT_ENABLED=0", db_env,
	    NULL };
	struct http_resp r;
	json_t *who;

	(void)state;
	snprintf(db_env, sizeof db_env, "CONVERGE_DB_PATH=%s", dbpath);
	assert_int_equal(restart(env1), 0);
	api_call("POST", "/v1/auth/keys/rotate", OLD,
	    "{\"grace_period_seconds\":600}", &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_integer_value(json_object_get(r.json,
	    "grace_period_seconds")), 600);
	assert_string_equal(json_string_value(json_object_get(r.json, "tenant")),
	    "team-r");
	new_key = strdup(json_string_value(json_object_get(r.json, "new_key")));
	assert_int_equal(strlen(new_key), 47);
	http_resp_free(&r);
	snprintf(keys_env, sizeof keys_env, "CONVERGE_API_KEYS=%s:admin:rotator"
	    ":team-r," ADMIN ":admin:root", new_key);
	assert_int_equal(restart(env2), 0);
	for (int i = 0; i < 30; i++)
		expect("GET", paths[i % ARRAY_LEN(paths)], OLD, NULL, 200, NULL);
	for (int i = 0; i < 10; i++)
		expect("GET", "/v1/intents", new_key, NULL, 200, NULL);
	who = get_json("/v1/auth/whoami", OLD);
	assert_string_equal(json_string_value(json_object_get(who, "actor")),
	    "rotator");
	assert_string_equal(json_string_value(json_object_get(who, "tenant")),
	    "team-r");
	json_decref(who);
	/* only the primary registry may rotate (§3.8) */
	expect("POST", "/v1/auth/keys/rotate", OLD, "{}", 401, UNAUTH);
	expire_grace();
	for (int i = 0; i < 8; i++)
		expect("GET", paths[i % ARRAY_LEN(paths)], OLD, NULL, 401, UNAUTH);
	expect("GET", "/v1/intents", new_key, NULL, 200, NULL);
	free(new_key);
}

/* ---- JWT (D-1) ----------------------------------------------------------------- */

struct claims {
	const char *sub, *role, *tenant, *scope, *iss, *aud;
	long exp_in, nbf_in;	/* seconds from now; exp 0 = no exp */
	int has_nbf;
};

/* A token with these claims signed with alg and key (caller frees). */
static char *make_token(const struct claims *c, jwt_alg_t alg,
    const unsigned char *key, int keylen)
{
	time_t now = time(NULL);
	jwt_t *j = NULL;
	char *tok;

	assert_int_equal(jwt_new(&j), 0);
	if (c->sub)
		jwt_add_grant(j, "sub", c->sub);
	if (c->role)
		jwt_add_grant(j, "role", c->role);
	if (c->tenant)
		jwt_add_grant(j, "tenant", c->tenant);
	if (c->scope)
		jwt_add_grant(j, "scope", c->scope);
	if (c->iss)
		jwt_add_grant(j, "iss", c->iss);
	if (c->aud)
		jwt_add_grant(j, "aud", c->aud);
	jwt_add_grant_int(j, "iat", (long)now);
	if (c->exp_in)
		jwt_add_grant_int(j, "exp", (long)now + c->exp_in);
	if (c->has_nbf)
		jwt_add_grant_int(j, "nbf", (long)now + c->nbf_in);
	assert_int_equal(jwt_set_alg(j, alg, key, keylen), 0);
	tok = jwt_encode_str(j);
	assert_non_null(tok);
	jwt_free(j);
	return tok;
}

static long bearer_status(const char *token, const char *path,
    json_t **body)
{
	char h[8192];
	const char *hdrs[] = { h, NULL };
	struct http_resp r;
	long st;

	snprintf(h, sizeof h, "Authorization: Bearer %s", token);
	if (http_request("GET", path, hdrs, NULL, 0, &r) != 0)
		fail_msg("GET %s: no response", path);
	st = r.status;
	if (body)
		*body = json_incref(r.json);
	http_resp_free(&r);
	return st;
}

static const struct claims good = { "alice", "viewer", "team-a",
    "intents.read events.read", ISS, AUD, 600, 0, 0 };

struct token_row {
	const char *name;
	struct claims c;
	int sign;		/* 0 the farm's key, 1 another key, 2 alg none */
	long status;
	const char *reason;	/* access.denied reason */
};

static const struct token_row hs_rows[] = {
	{ "valid", { "alice", "viewer", "team-a", "intents.read events.read",
	  ISS, AUD, 600, 0, 0 }, 0, 200, NULL },
	{ "expired", { "alice", "viewer", "team-a", NULL, ISS, AUD, -3600, 0, 0 },
	  0, 401, "expired_token" },
	{ "nbf ahead", { "alice", "viewer", "team-a", NULL, ISS, AUD, 7200,
	  3600, 1 }, 0, 401, "invalid_token" },
	{ "forged", { "alice", "admin", NULL, NULL, ISS, AUD, 600, 0, 0 }, 1,
	  401, "invalid_token" },
	{ "alg none", { "alice", "admin", NULL, NULL, ISS, AUD, 600, 0, 0 }, 2,
	  401, "invalid_token" },
	{ "wrong iss", { "alice", "viewer", NULL, NULL, "someone-else", AUD, 600,
	  0, 0 }, 0, 401, "invalid_token" },
	{ "wrong aud", { "alice", "viewer", NULL, NULL, ISS, "other-api", 600,
	  0, 0 }, 0, 401, "invalid_token" },
	{ "no exp", { "alice", "viewer", NULL, NULL, ISS, AUD, 0, 0, 0 }, 0,
	  401, "invalid_token" },
	{ "scope too narrow", { "alice", "viewer", NULL, "risk.read", ISS, AUD,
	  600, 0, 0 }, 0, 403, "missing_scope:intents.read" },
	{ "role unknown", { "alice", "root", NULL, NULL, ISS, AUD, 600, 0, 0 },
	  0, 401, "insufficient_role" },
};

static char *sign_row(const struct token_row *row, jwt_alg_t alg,
    const unsigned char *key, int keylen, const unsigned char *other,
    int otherlen)
{
	if (row->sign == 2)
		return make_token(&row->c, JWT_ALG_NONE, NULL, 0);
	if (row->sign == 1)
		return make_token(&row->c, alg, other, otherlen);
	return make_token(&row->c, alg, key, keylen);
}

static void run_token_rows(jwt_alg_t alg, const unsigned char *key,
    int keylen, const unsigned char *other, int otherlen,
    const char *admin_token)
{
	json_t *denied, *body = NULL;

	for (size_t i = 0; i < ARRAY_LEN(hs_rows); i++) {
		char *tok = sign_row(&hs_rows[i], alg, key, keylen, other,
		    otherlen);
		long st;

		print_message("token %s\n", hs_rows[i].name);
		st = bearer_status(tok, "/v1/auth/whoami", &body);
		if (st != hs_rows[i].status)
			fail_msg("token %s: %ld, want %ld", hs_rows[i].name, st,
			    hs_rows[i].status);
		if (st == 200) {
			json_t *want = json_pack("{s:s,s:s,s:s,s:s,s:n}", "role",
			    "viewer", "actor", "alice", "tenant", "team-a",
			    "scopes", "intents.read events.read", "key_prefix");

			assert_true(json_equal(body, want));
			json_decref(want);
		} else if (st == 401) {
			assert_string_equal(json_string_value(json_object_get(body,
			    "error")), "Unauthorized");
		}
		json_decref(body);
		body = NULL;
		free(tok);
	}
	/* the reasons are in the audit log */
	assert_int_equal(bearer_status(admin_token,
	    "/v1/events?type=access.denied&limit=10000", &denied), 200);
	for (size_t i = 0; i < ARRAY_LEN(hs_rows); i++)
		if (hs_rows[i].reason)
			assert_true(has_access(denied, hs_rows[i].reason,
			    "/v1/auth/whoami", "GET"));
	json_decref(denied);
}

static void test_jwt_hs256(void **state)
{
	const char *env[] = { "CONVERGE_AUTH_MODE=jwt",
	    "CONVERGE_JWT_SECRET=" JWT_SECRET, "CONVERGE_JWT_ISSUER=" ISS,
	    "CONVERGE_JWT_AUDIENCE=" AUD, "CONVERGE_API_KEYS=" ADMIN ":admin:root",
	    "CONVERGE_RATE_LIMIT_ENABLED=0", NULL };
	static const char other[] = "another-secret-that-is-32-bytes-long!!";
	struct claims adm = { "boss", "admin", NULL, NULL, ISS, AUD, 600, 0, 0 };
	char *admin_token;
	json_t *list;

	(void)state;
	assert_int_equal(restart(env), 0);
	admin_token = make_token(&adm, JWT_ALG_HS256,
	    (const unsigned char *)JWT_SECRET, (int)strlen(JWT_SECRET));
	run_token_rows(JWT_ALG_HS256, (const unsigned char *)JWT_SECRET,
	    (int)strlen(JWT_SECRET), (const unsigned char *)other,
	    (int)strlen(other), admin_token);
	/* jwt mode: an API key is not a credential */
	expect("GET", "/v1/intents", ADMIN, NULL, 401, UNAUTH);
	/* a token's tenant binds like a key's */
	assert_int_equal(bearer_status(admin_token, "/v1/intents", &list), 200);
	json_decref(list);
	{
		char *tok = make_token(&good, JWT_ALG_HS256,
		    (const unsigned char *)JWT_SECRET, (int)strlen(JWT_SECRET));

		assert_int_equal(bearer_status(tok,
		    "/v1/events?tenant_id=team-b", &list), 200);
		for (size_t i = 0; i < json_array_size(list); i++)
			assert_team_a(json_array_get(list, i), "jwt events");
		json_decref(list);
		free(tok);
	}
	free(admin_token);
}

/* PEM text of a new RSA key: the private key (returned, caller frees) and
 * the public key written to pub_path. */
static char *rsa_pair(const char *pub_path)
{
	EVP_PKEY *k = EVP_RSA_gen(2048);
	BIO *mem = BIO_new(BIO_s_mem());
	FILE *f;
	char *data, *pem;
	long n;

	assert_non_null(k);
	assert_int_equal(PEM_write_bio_PrivateKey(mem, k, NULL, NULL, 0, NULL,
	    NULL), 1);
	n = BIO_get_mem_data(mem, &data);
	pem = strndup(data, (size_t)n);
	BIO_free(mem);
	if (pub_path) {
		assert_non_null(f = fopen(pub_path, "w"));
		assert_int_equal(PEM_write_PUBKEY(f, k), 1);
		fclose(f);
	}
	EVP_PKEY_free(k);
	return pem;
}

static void test_jwt_rs256(void **state)
{
	char pub[256], pub_env[300], *priv, *other, *pubpem;
	const char *env[] = { "CONVERGE_AUTH_MODE=jwt", pub_env,
	    "CONVERGE_JWT_ISSUER=" ISS, "CONVERGE_JWT_AUDIENCE=" AUD,
	    "CONVERGE_RATE_LIMIT_ENABLED=0", "CONVERGE_API_KEYS=", NULL };
	struct claims adm = { "boss", "admin", NULL, NULL, ISS, AUD, 600, 0, 0 };
	char *admin_token, *confused;
	FILE *f;
	long n;

	(void)state;
	snprintf(pub, sizeof pub, "%s/rs256.pub.pem", dbdir);
	snprintf(pub_env, sizeof pub_env, "CONVERGE_JWT_PUBLIC_KEY_PATH=%s", pub);
	priv = rsa_pair(pub);
	other = rsa_pair(NULL);
	assert_int_equal(restart(env), 0);
	admin_token = make_token(&adm, JWT_ALG_RS256, (unsigned char *)priv,
	    (int)strlen(priv));
	run_token_rows(JWT_ALG_RS256, (unsigned char *)priv, (int)strlen(priv),
	    (unsigned char *)other, (int)strlen(other), admin_token);
	/* algorithm confusion: HS256 keyed with the public key's PEM text */
	assert_non_null(f = fopen(pub, "r"));
	pubpem = calloc(1, 8192);
	n = (long)fread(pubpem, 1, 8191, f);
	fclose(f);
	assert_true(n > 0);
	confused = make_token(&adm, JWT_ALG_HS256, (unsigned char *)pubpem,
	    (int)n);
	assert_int_equal(bearer_status(confused, "/v1/intents", NULL), 401);
	free(confused);
	free(pubpem);
	free(admin_token);
	free(priv);
	free(other);
}

/* Hybrid: X-API-Key when sent (and then only it), else the bearer token. */
static void test_hybrid(void **state)
{
	const char *env[] = { "CONVERGE_AUTH_MODE=hybrid",
	    "CONVERGE_JWT_SECRET=" JWT_SECRET, "CONVERGE_API_KEYS=" VIEW
	    ":viewer:view1," ADMIN ":admin:root", "CONVERGE_RATE_LIMIT_ENABLED=0",
	    NULL };
	struct claims adm = { "boss", "admin", NULL, NULL, NULL, NULL, 600, 0, 0 };
	char *tok, auth[2048];
	const char *both_bad[] = { auth, "X-API-Key: wrong", NULL };
	const char *both_view[] = { auth, "X-API-Key: " VIEW, NULL };
	struct http_resp r;
	json_t *who;

	(void)state;
	assert_int_equal(restart(env), 0);
	tok = make_token(&adm, JWT_ALG_HS256, (const unsigned char *)JWT_SECRET,
	    (int)strlen(JWT_SECRET));
	snprintf(auth, sizeof auth, "Authorization: Bearer %s", tok);
	expect("GET", "/v1/intents", VIEW, NULL, 200, NULL);
	assert_int_equal(bearer_status(tok, "/v1/audit/recent", NULL), 200);
	assert_int_equal(bearer_status("not.a.token", "/v1/intents", NULL), 401);
	expect("GET", "/v1/intents", NULL, NULL, 401, UNAUTH);
	/* a key present wins, even a bad one next to a good token */
	assert_int_equal(http_request("GET", "/v1/intents", both_bad, NULL, 0,
	    &r), 0);
	assert_int_equal(r.status, 401);
	http_resp_free(&r);
	assert_int_equal(http_request("GET", "/v1/auth/whoami", both_view, NULL,
	    0, &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(json_string_value(json_object_get(r.json, "actor")),
	    "view1");
	http_resp_free(&r);
	assert_int_equal(bearer_status(tok, "/v1/auth/whoami", &who), 200);
	assert_string_equal(json_string_value(json_object_get(who, "actor")),
	    "boss");
	assert_true(json_is_null(json_object_get(who, "key_prefix")));
	json_decref(who);
	free(tok);
}

static int setup(void **state)
{
	const char *env[] = { "CONVERGE_AUTH_REQUIRED=1",
	    "CONVERGE_AUTH_MODE=api_key", "CONVERGE_API_KEYS=" KEYS_A,
	    "CONVERGE_RATE_LIMIT_ENABLED=0",
	    "CONVERGE_WORKER_POLL_INTERVAL=3600", NULL };

	(void)state;
	snprintf(dbdir, sizeof dbdir, "/tmp/converge-itauth.XXXXXX");
	if (!mkdtemp(dbdir))
		return -1;
	snprintf(dbpath, sizeof dbpath, "%s/state.db", dbdir);
	return farm_start(env) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	int rc;

	(void)state;
	rc = farm_stop();
	remove_tree(dbdir);
	return rc;
}

int main(void)
{
	if (!farm_available())
		return 77;	/* automake: skipped */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_scopes),
		cmocka_unit_test(test_access_events),
		cmocka_unit_test(test_tenant_isolation),
		cmocka_unit_test(test_key_rotation),
		cmocka_unit_test(test_jwt_hs256),
		cmocka_unit_test(test_jwt_rs256),
		cmocka_unit_test(test_hybrid),
	};

	return cmocka_run_group_tests_name("api_auth", tests, setup, teardown);
}
