/*
 * test_api_d8.c - "correct before compatible" (D-8) through nginx, the
 * farm and the worker on a throw-away git repository:
 *   - one validation of intent documents: refusals name the field and
 *     store nothing; caps; priority range; an HTTP intent is created
 *     READY; ids up to 255 bytes are created and reachable;
 *   - a ref that exists nowhere is "Unknown ref: <ref>";
 *   - tenant scoping: change health, risk review and agent authorization
 *     of another tenant's intent are 404 and compute and record nothing;
 *     authorize cannot pick another tenant's policy; an intent's events
 *     are read by (intent, tenant);
 *   - the tenant's stored risk policy governs the risk gate;
 *   - the worker waits for dependencies (no retry spent) and never
 *     reports a merge git refused: merge_failed, retries + 1, VALIDATED;
 *   - an unknown role in the key list stops scripts/up at once.
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

#include "harness.h"
#include "api_util.h"

#define ADMIN "k-admin"
#define A_OP "k-a-op"
#define A_ADM "k-a-adm"
#define B_VIEW "k-b-view"
#define B_ADM "k-b-adm"

#define KEYS ADMIN ":admin:root," A_OP ":operator:a-op:team-a," \
	A_ADM ":admin:a-adm:team-a," B_VIEW ":viewer:b-view:team-b," \
	B_ADM ":admin:b-adm:team-b"

static char repo[256];

static json_t *call(const char *method, const char *path, const char *key,
    const char *body, long status, const char *error)
{
	struct http_resp r;
	json_t *out;

	api_call(method, path, key, body, &r);
	if (r.status != status)
		fail_msg("%s %s: %ld, want %ld: %.400s", method, path, r.status,
		    status, r.body);
	if (error && !strstr(error_of(&r), error))
		fail_msg("%s %s: error '%s', want '%s'", method, path,
		    error_of(&r), error);
	out = r.json ? json_incref(r.json) : NULL;
	http_resp_free(&r);
	return out;
}

static void expect(const char *method, const char *path, const char *key,
    const char *body, long status, const char *error)
{
	json_decref(call(method, path, key, body, status, error));
}

static size_t n_events(const char *type)
{
	json_t *evs = events_of(ADMIN, type);
	size_t n = json_array_size(evs);

	json_decref(evs);
	return n;
}

/* The newest event of type in the intent's timeline (new reference),
 * waiting up to timeout_s for the worker; NULL when none came. */
static json_t *wait_event(const char *id, const char *type, int timeout_s)
{
	char path[512];
	time_t end = time(NULL) + timeout_s;

	snprintf(path, sizeof path, "/v1/intents/%s/events", id);
	do {
		json_t *evs = get_json(path, ADMIN), *e;
		size_t i;

		json_array_foreach(evs, i, e)
			if (strcmp(json_string_value(json_object_get(e,
			    "event_type")), type) == 0) {
				json_incref(e);
				json_decref(evs);
				return e;
			}
		json_decref(evs);
		usleep(200 * 1000);
	} while (time(NULL) < end);
	return NULL;
}

static const char *status_of(const char *id, long long *retries)
{
	static char buf[32];
	char path[512];
	json_t *in;

	snprintf(path, sizeof path, "/v1/intents/%s", id);
	in = get_json(path, ADMIN);
	snprintf(buf, sizeof buf, "%s", json_string_value(json_object_get(in,
	    "status")));
	if (retries)
		*retries = json_integer_value(json_object_get(in, "retries"));
	json_decref(in);
	return buf;
}

/* ---- one validation -------------------------------------------------------- */

static void test_create_refusals(void **state)
{
	static const struct { const char *body, *error; } rows[] = {
		/* the CLI's words too: "source: source is required" */
		{ "{\"id\":\"d8-nosrc\"}", "body.source: source is required" },
		{ "{\"source\":\"feature/ok\",\"status\":\"VALIDATED\"}",
		  "body.status: an intent is created READY" },
		{ "{\"source\":\"feature/ok\",\"priority\":-1000000}",
		  "body.priority: Input should be between 0 and 1000" },
		{ "{\"source\":\"-x\"}", "body.source" },
		{ "{\"source\":\"feature/ok\",\"dependencies\":[\"a\",3]}",
		  "body.dependencies[1]" },
		{ "{\"source\":\"feature/ok\",\"checks_required\":[\"\"]}",
		  "body.checks_required[0]" },
		{ "{\"source\":\"feature/ok\",\"technical\":{\"scope_hint\":"
		  "\"x\"}}", "body.technical.scope_hint" },
	};
	char big[8192];
	size_t n0, n;
	json_t *list;

	(void)state;
	list = get_json("/v1/intents", ADMIN);
	n0 = json_array_size(list);
	json_decref(list);
	for (size_t i = 0; i < ARRAY_LEN(rows); i++)
		expect("POST", "/v1/intents", A_OP, rows[i].body, 400,
		    rows[i].error);
	/* caps: 101 dependencies, a 5000-byte objective */
	n = (size_t)snprintf(big, sizeof big, "{\"source\":\"feature/ok\","
	    "\"dependencies\":[");
	for (int i = 0; i <= 100; i++)
		n += (size_t)snprintf(big + n, sizeof big - n, "%s\"d-%d\"",
		    i ? "," : "", i);
	snprintf(big + n, sizeof big - n, "]}");
	expect("POST", "/v1/intents", A_OP, big, 400,
	    "body.dependencies: List should have at most 100 items");
	n = (size_t)snprintf(big, sizeof big, "{\"source\":\"feature/ok\","
	    "\"semantic\":{\"objective\":\"");
	memset(big + n, 'o', 5000);
	snprintf(big + n + 5000, sizeof big - n - 5000, "\"}}");
	expect("POST", "/v1/intents", A_OP, big, 400, "body.semantic.objective");
	list = get_json("/v1/intents", ADMIN);
	assert_int_equal(json_array_size(list), n0);    /* nothing stored */
	json_decref(list);
}

/* Issue-9 finding 10: one id limit (255 bytes) everywhere, so whatever
 * is created can be read and validated; over HTTP always READY. */
static void test_ids_and_ready(void **state)
{
	char id[300], body[700], path[400];
	json_t *d;

	(void)state;
	memset(id, 'i', 255);
	id[255] = '\0';
	snprintf(body, sizeof body, "{\"id\":\"%s\",\"source\":\"feature/ok\","
	    "\"status\":\"READY\"}", id);
	d = call("POST", "/v1/intents", A_OP, body, 200, NULL);
	assert_string_equal(json_string_value(json_object_get(d, "status")),
	    "READY");
	json_decref(d);
	snprintf(path, sizeof path, "/v1/intents/%s", id);
	expect("GET", path, A_OP, NULL, 200, NULL);
	/* D-8: a ref that exists nowhere says so, never "Merge conflicts" */
	snprintf(path, sizeof path, "/v1/intents/%s/validate", id);
	d = call("POST", path, A_OP, "{\"source\":\"refs/heads/does-not-exist\","
	    "\"skip_checks\":true}", 200, NULL);
	assert_string_equal(json_string_value(json_object_get(d, "decision")),
	    "blocked");
	assert_string_equal(json_string_value(json_object_get(d, "reason")),
	    "Unknown ref: refs/heads/does-not-exist");
	json_decref(d);
	/* what validate saves into the intent follows the create rules */
	expect("POST", path, A_OP, "{\"source\":\"-x\"}", 400, "body.source");
	id[255] = 'i';
	id[256] = '\0';
	snprintf(body, sizeof body, "{\"id\":\"%s\",\"source\":\"feature/ok\"}",
	    id);
	expect("POST", "/v1/intents", A_OP, body, 400,
	    "body.id: String should have at most 255 characters");
}

/* ---- tenant scoping --------------------------------------------------------- */

static void test_tenant_reads(void **state)
{
	size_t snaps, auths;
	json_t *evs, *e;
	size_t i;

	(void)state;
	expect("POST", "/v1/intents", A_OP, "{\"id\":\"d8-ta\",\"source\":"
	    "\"feature/ok\"}", 200, NULL);
	expect("POST", "/v1/intents/d8-ta/validate", A_OP,
	    "{\"source\":\"feature/clash\",\"skip_checks\":true}", 200, NULL);
	snaps = n_events("health.change_snapshot");
	auths = n_events("agent.authorized");
	/* tenant-b sees nothing of it, and nothing is computed */
	expect("GET", "/v1/health/change?intent_id=d8-ta", B_VIEW, NULL, 404,
	    "Intent not found");
	expect("GET", "/v1/risk/review?intent_id=d8-ta", B_VIEW, NULL, 404,
	    "Intent d8-ta not found");
	expect("GET", "/v1/intents/d8-ta/events", B_VIEW, NULL, 404, NULL);
	expect("POST", "/v1/agent/authorize", B_ADM, "{\"agent_id\":\"bot\","
	    "\"action\":\"merge\",\"intent_id\":\"d8-ta\"}", 404,
	    "Intent not found");
	assert_int_equal(n_events("health.change_snapshot"), snaps);
	assert_int_equal(n_events("agent.authorized"), auths);
	/* a tenant admin cannot pick another tenant's agent policy */
	expect("POST", "/v1/agent/authorize", A_ADM, "{\"agent_id\":\"bot\","
	    "\"action\":\"merge\",\"intent_id\":\"d8-ta\",\"tenant_id\":"
	    "\"team-b\"}", 403, NULL);
	/* the owner still can */
	expect("GET", "/v1/health/change?intent_id=d8-ta", A_OP, NULL, 200,
	    NULL);
	expect("POST", "/v1/agent/authorize", A_ADM, "{\"agent_id\":\"bot\","
	    "\"action\":\"merge\",\"intent_id\":\"d8-ta\"}", 200, NULL);
	/* a global admin acting for team-b on team-a's intent: the event is
	 * team-b's, so it is not part of d8-ta's (team-a) timeline */
	expect("POST", "/v1/agent/authorize", ADMIN, "{\"agent_id\":\"bot\","
	    "\"action\":\"merge\",\"intent_id\":\"d8-ta\",\"tenant_id\":"
	    "\"team-b\"}", 200, NULL);
	evs = get_json("/v1/intents/d8-ta/events", A_OP);
	json_array_foreach(evs, i, e) {
		const char *t = json_string_value(json_object_get(e,
		    "tenant_id"));
		if (!t || strcmp(t, "team-a") != 0)
			fail_msg("event of tenant %s in team-a's timeline",
			    t ? t : "null");
	}
	json_decref(evs);
}

/* The tenant's stored policy governs the gate in validation. */
static void test_tenant_risk_policy(void **state)
{
	json_t *d;

	(void)state;
	expect("POST", "/v1/intents", A_OP, "{\"id\":\"d8-risk\",\"source\":"
	    "\"feature/ok\"}", 200, NULL);
	expect("POST", "/v1/risk/policy", A_OP, "{\"tenant_id\":\"team-a\","
	    "\"max_risk_score\":0,\"mode\":\"enforce\",\"enforce_ratio\":1.0}",
	    200, NULL);
	d = call("POST", "/v1/intents/d8-risk/validate", A_OP,
	    "{\"skip_checks\":true}", 200, NULL);
	assert_string_equal(json_string_value(json_object_get(d, "decision")),
	    "blocked");
	assert_non_null(strstr(json_string_value(json_object_get(d, "reason")),
	    "Risk gate enforced"));
	json_decref(d);
	expect("POST", "/v1/risk/policy", A_OP, "{\"tenant_id\":\"team-a\","
	    "\"mode\":\"shadow\"}", 200, NULL);
}

/* ---- the worker --------------------------------------------------------------- */

static void test_dependencies_wait(void **state)
{
	json_t *ev;
	long long retries;

	(void)state;
	expect("POST", "/v1/intents", ADMIN, "{\"id\":\"d8-dep-a\",\"source\":"
	    "\"feature/ok\"}", 200, NULL);
	expect("POST", "/v1/intents", ADMIN, "{\"id\":\"d8-dep-b\",\"source\":"
	    "\"feature/ok\",\"dependencies\":[\"d8-dep-a\"]}", 200, NULL);
	expect("POST", "/v1/intents", ADMIN, "{\"id\":\"d8-dep-c\",\"source\":"
	    "\"feature/ok\",\"dependencies\":[\"ghost\"]}", 200, NULL);
	expect("POST", "/v1/intents/d8-dep-b/validate", ADMIN,
	    "{\"skip_checks\":true}", 200, NULL);
	expect("POST", "/v1/intents/d8-dep-c/validate", ADMIN,
	    "{\"skip_checks\":true}", 200, NULL);
	ev = wait_event("d8-dep-b", "intent.blocked", 15);
	assert_non_null(ev);
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    ev, "payload"), "reason")), "Dependencies not merged: d8-dep-a");
	json_decref(ev);
	ev = wait_event("d8-dep-c", "intent.blocked", 15);
	assert_non_null(ev);
	assert_non_null(strstr(json_string_value(json_object_get(
	    json_object_get(ev, "payload"), "reason")), "unknown intent: ghost"));
	json_decref(ev);
	usleep(1500 * 1000);            /* another cycle or two */
	assert_string_equal(status_of("d8-dep-b", &retries), "VALIDATED");
	assert_int_equal(retries, 0);
	assert_null(wait_event("d8-dep-b", "intent.merged", 0));
}

/* main's commit, from the loose ref a fresh repository keeps. */
static void main_tip(char *out, size_t size)
{
	char path[400];
	FILE *f;

	snprintf(path, sizeof path, "%s/.git/refs/heads/main", repo);
	assert_non_null(f = fopen(path, "r"));
	assert_non_null(fgets(out, (int)size, f));
	fclose(f);
}

/* The scenario: the work tree holds an uncommitted edit of a
 * file the merge touches, so git refuses; nothing may say merged. */
static void test_merge_failed(void **state)
{
	char before[64], after[64], *p;
	json_t *ev;
	long long retries;

	(void)state;
	GIT(repo, "checkout", "-q", "-b", "feature/touch");
	write_file(repo, "app.c", "int main(void) { return 2; }\n");
	GIT(repo, "commit", "-q", "-am", "touch app.c");
	GIT(repo, "checkout", "-q", "main");
	write_file(repo, "app.c", "int main(void) { return 3; } /* local */\n");
	main_tip(before, sizeof before);
	expect("POST", "/v1/intents", ADMIN, "{\"id\":\"d8-touch\",\"source\":"
	    "\"feature/touch\"}", 200, NULL);
	expect("POST", "/v1/intents/d8-touch/validate", ADMIN,
	    "{\"skip_checks\":true}", 200, NULL);
	ev = wait_event("d8-touch", "intent.merge_failed", 15);
	assert_non_null(ev);
	p = (char *)json_string_value(json_object_get(json_object_get(ev,
	    "payload"), "error"));
	assert_non_null(p);
	assert_non_null(strstr(p, "local changes"));
	json_decref(ev);
	assert_null(wait_event("d8-touch", "intent.merged", 0));
	assert_string_equal(status_of("d8-touch", &retries), "VALIDATED");
	assert_true(retries >= 1);
	main_tip(after, sizeof after);
	assert_string_equal(before, after);
	/* a clean tree: the next cycle merges for real */
	GIT(repo, "checkout", "-q", "--", "app.c");
	ev = wait_event("d8-touch", "intent.merged", 15);
	assert_non_null(ev);
	json_decref(ev);
	assert_string_equal(status_of("d8-touch", NULL), "MERGED");
}

static int farm_up(void **state)
{
	const char *env[] = {
		"CONVERGE_AUTH_REQUIRED=1",
		"CONVERGE_AUTH_MODE=api_key",
		"CONVERGE_API_KEYS=" KEYS,
		"CONVERGE_RATE_LIMIT_ENABLED=0",
		"CONVERGE_WORKER_POLL_INTERVAL=1",
		"CONVERGE_WORKER_AUTO_CONFIRM=1",
		"CONVERGE_WORKER_MAX_RETRIES=1000",
		NULL,
	};

	(void)state;
	make_repo(repo, sizeof repo);
	return farm_start_on_repo(repo, env) == 0 ? 0 : -1;
}

static int farm_down(void **state)
{
	(void)state;
	return farm_stop_off_repo(repo);
}

/* ---- configuration -------------------------------------------------------------- */

/* A typo'd role, or postgres without its DSN, stops scripts/up at once
 * (it used to wait its whole readiness timeout, and answer 401s). The
 * readiness timeout is set far above the bound checked, so that a busy
 * machine's slow start cannot pass for, or be mistaken for, that wait. */
static void test_bad_config_fails_fast(void **state)
{
	static const char *const bad[][4] = {
		{ "CONVERGE_API_KEYS=k1:superuser:alice",
		  "CONVERGE_UP_TIMEOUT=120", NULL, NULL },
		{ "CONVERGE_API_KEYS=k1:viewer:a:t:intents.raed",
		  "CONVERGE_UP_TIMEOUT=120", NULL, NULL },
		{ "CONVERGE_DB_BACKEND=postgres", "CONVERGE_PG_DSN=",
		  "CONVERGE_UP_TIMEOUT=120", NULL },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		time_t t0 = time(NULL);

		assert_int_equal(farm_start(bad[i]), -1);
		assert_true(time(NULL) - t0 < 60);
		assert_int_equal(farm_stop(), 0);
	}
}

int main(void)
{
	if (!farm_available())
		return 77;	/* automake: skipped */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_refusals),
		cmocka_unit_test(test_ids_and_ready),
		cmocka_unit_test(test_tenant_reads),
		cmocka_unit_test(test_tenant_risk_policy),
		cmocka_unit_test(test_dependencies_wait),
		cmocka_unit_test(test_merge_failed),
	};
	const struct CMUnitTest config_tests[] = {
		cmocka_unit_test(test_bad_config_fails_fast),
	};
	int rc = cmocka_run_group_tests_name("api_d8", tests, farm_up,
	    farm_down);

	return rc | cmocka_run_group_tests_name("api_d8_config", config_tests,
	    NULL, NULL);
}
