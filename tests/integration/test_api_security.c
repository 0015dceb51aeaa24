/*
 * test_api_security.c - findings of the security review reproduced
 * through the real farm (nginx + responders + worker), each one a case
 * that failed before its fix:
 *   - publication: a request body's technical names no repository,
 *     commit or installation a decision is published to (finding 1);
 *   - scopes: a key holding intents.read cannot create or validate
 *     (intents.write), a key with intents.write can (finding 3);
 *   - checks: a lint target running `env` sees no secret (finding 2);
 *   - Idempotency-Key: concurrent duplicates create one intent and all
 *     get its answer (finding 6);
 *   - a stored simulation is reused only while source, target and their
 *     commits are the intent's current ones (finding 8);
 *   - metrics: made-up methods are "other", dropped series are counted
 *     (finding 9);
 *   - a path that is not UTF-8 is escaped in the access log and in
 *     access.denied, never dropped (finding 10).
 * The farm runs with auth on, rate limiting off, and a throw-away git
 * repository.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#include "harness.h"
#include "api_util.h"
#include "farm_db.h"

#define ADMIN "k-admin"
#define OP "k-op"
#define READER "k-s-read"
#define WRITER "k-s-write"
#define B_OP "k-b-op"

#define KEYS ADMIN ":admin:root," OP ":operator:op1," \
	READER ":operator:s-read::intents.read," \
	WRITER ":operator:s-write::intents.read|intents.write," \
	B_OP ":operator:b-op:tenant-b"

static char repo[256];

static void expect_status(const char *method, const char *path,
    const char *key, const char *body, long status, const char *error)
{
	struct http_resp r;

	api_call(method, path, key, body, &r);
	if (r.status != status)
		fail_msg("%s %s: %ld, want %ld: %s", method, path, r.status,
		    status, r.body);
	if (error && !strstr(error_of(&r), error))
		fail_msg("%s %s: error %s, want %s", method, path,
		    error_of(&r), error);
	http_resp_free(&r);
}

/* Finding 3: a key scoped to intents.read neither creates nor validates;
 * both routes name intents.write. */
static void test_read_scope_cannot_write(void **state)
{
	(void)state;
	expect_status("POST", "/v1/intents", READER,
	    "{\"id\":\"sec-scope-1\",\"source\":\"feature/ok\"}", 403,
	    "Missing scope: intents.write");
	expect_status("GET", "/v1/intents/sec-scope-1", ADMIN, NULL, 404, NULL);
	expect_status("POST", "/v1/intents", WRITER,
	    "{\"id\":\"sec-scope-1\",\"source\":\"feature/ok\"}", 200, NULL);
	expect_status("POST", "/v1/intents/sec-scope-1/validate", READER,
	    "{\"skip_checks\":true}", 403, "Missing scope: intents.write");
	expect_status("POST", "/api/intents/sec-scope-1/validate", READER,
	    "{\"skip_checks\":true}", 403, "Missing scope: intents.write");
	expect_status("POST", "/v1/intents/sec-scope-1/validate", WRITER,
	    "{\"skip_checks\":true}", 200, NULL);
	expect_status("GET", "/v1/intents/sec-scope-1", READER, NULL, 200,
	    NULL);
}

/* Finding 2: the lint check of a repository whose Makefile runs `env`
 * sees none of the farm's secrets (its key list, the webhook secret). */
static void test_check_sees_no_secret(void **state)
{
	json_t *evs;
	const char *details;

	(void)state;
	expect_status("POST", "/v1/intents", OP,
	    "{\"id\":\"sec-env-1\",\"source\":\"feature/ok\"}", 200, NULL);
	expect_status("POST", "/v1/intents/sec-env-1/validate", OP, "{}", 200,
	    NULL);
	evs = get_json("/v1/intents/sec-env-1/events", ADMIN);
	details = NULL;
	for (size_t i = 0; i < json_array_size(evs); i++) {
		json_t *e = json_array_get(evs, i);

		if (strcmp(json_string_value(json_object_get(e, "event_type")),
		    "check.completed") == 0)
			details = json_string_value(json_object_get(
			    json_object_get(e, "payload"), "details"));
	}
	if (!details)
		fail_msg("no check.completed event");
	if (!strstr(details, "PATH=") || !strstr(details, "HOME="))
		fail_msg("lint did not print its environment: %s", details);
	if (strstr(details, "CONVERGE") || strstr(details, ADMIN) ||
	    strstr(details, "whsec-sec-test"))
		fail_msg("a secret reached the check: %s", details);
	json_decref(evs);
}

/* Finding 1: with a GitHub App configured, a tenant-b operator names
 * another tenant's repository, commit and installation in `technical`
 * and validates with skip_checks: nothing is published there, and the
 * stored intent does not carry those fields. */
static void test_no_publication_target_from_body(void **state)
{
	json_t *in, *tech;

	(void)state;
	expect_status("POST", "/v1/intents", B_OP,
	    "{\"id\":\"sec-pub-1\",\"source\":\"feature/ok\","
	    "\"technical\":{\"repo\":\"victim-org/tenant-a-repo\","
	    "\"initial_base_commit\":\"0123456789abcdef0123456789abcdef01234567\","
	    "\"installation_id\":4242,\"pr_number\":9,"
	    "\"scope_hint\":[\"app.c\"]}}", 200, NULL);
	expect_status("POST", "/v1/intents/sec-pub-1/validate", B_OP,
	    "{\"skip_checks\":true}", 200, NULL);
	in = get_json("/v1/intents/sec-pub-1", ADMIN);
	tech = json_object_get(in, "technical");
	assert_non_null(tech);
	assert_null(json_object_get(tech, "repo"));
	assert_null(json_object_get(tech, "initial_base_commit"));
	assert_null(json_object_get(tech, "installation_id"));
	assert_null(json_object_get(tech, "pr_number"));
	assert_non_null(json_object_get(tech, "scope_hint"));
	json_decref(in);
	assert_int_equal(farm_db_int("SELECT count(*) FROM github_outbox WHERE"
	    " payload LIKE '%victim-org%' OR payload LIKE '%sec-pub-1%'",
	    NULL), 0);
}

/* simulation.completed events of an intent. */
static size_t simulations_of(const char *id)
{
	char path[256];
	json_t *evs;
	size_t n = 0;

	snprintf(path, sizeof path, "/v1/intents/%s/events", id);
	evs = get_json(path, ADMIN);
	for (size_t i = 0; i < json_array_size(evs); i++)
		n += strcmp(json_string_value(json_object_get(json_array_get(evs,
		    i), "event_type")), "simulation.completed") == 0;
	json_decref(evs);
	return n;
}

static const char *decision_of(const struct http_resp *r)
{
	const char *d = json_string_value(json_object_get(r->json,
	    "decision"));

	return d ? d : "";
}

/* Finding 8: a stored simulation is reused only for the intent's current
 * source and target at the commits they name now. */
static void test_stale_simulation_not_reused(void **state)
{
	struct http_resp r;

	(void)state;
	expect_status("POST", "/v1/intents", OP,
	    "{\"id\":\"stale-1\",\"source\":\"feature/ok\"}", 200, NULL);
	api_call("POST", "/v1/intents/stale-1/validate", OP,
	    "{\"skip_checks\":true}", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(decision_of(&r), "validated");
	http_resp_free(&r);
	assert_int_equal(simulations_of("stale-1"), 1);

	/* nothing moved: the stored simulation is reused */
	api_call("POST", "/v1/intents/stale-1/validate", OP,
	    "{\"skip_checks\":true,\"use_last_simulation\":true}", &r);
	assert_string_equal(decision_of(&r), "validated");
	http_resp_free(&r);
	assert_int_equal(simulations_of("stale-1"), 1);

	/* the source branch moved: simulated afresh */
	GIT(repo, "checkout", "-q", "feature/ok");
	write_file(repo, "feature2.c", "int feature2(void) { return 2; }\n");
	GIT(repo, "add", "feature2.c");
	GIT(repo, "commit", "-q", "-m", "feature moves");
	GIT(repo, "checkout", "-q", "main");
	api_call("POST", "/v1/intents/stale-1/validate", OP,
	    "{\"skip_checks\":true,\"use_last_simulation\":true}", &r);
	assert_string_equal(decision_of(&r), "validated");
	http_resp_free(&r);
	assert_int_equal(simulations_of("stale-1"), 2);

	/* another source that does not exist: never "validated" */
	api_call("POST", "/v1/intents/stale-1/validate", OP,
	    "{\"source\":\"refs/heads/does-not-exist\","
	    "\"use_last_simulation\":true,\"skip_checks\":true}", &r);
	assert_int_equal(r.status, 200);
	if (strcmp(decision_of(&r), "validated") == 0 ||
	    json_is_true(json_object_get(r.json, "mergeable")))
		fail_msg("stale simulation reused: %s", r.body);
	assert_non_null(strstr(r.body, "Unknown ref"));
	http_resp_free(&r);
}

/* Finding 9: made-up methods mint no metric series; they count as
 * method "other", and the dropped-series counter is exposed. */
static void test_metrics_closed_sets(void **state)
{
	char method[16], *text;
	struct http_resp r;

	(void)state;
	for (int i = 0; i < 40; i++) {
		/* letters only: nginx refuses other bytes in a method */
		snprintf(method, sizeof method, "ZZ%c%c", 'A' + i / 26,
		    'A' + i % 26);
		if (http_request(method, "/health", NULL, NULL, 0, &r) != 0)
			fail_msg("%s /health: no response", method);
		http_resp_free(&r);
	}
	text = metrics_text();
	if (strstr(text, "ZZ"))
		fail_msg("a made-up method became a label:\n%s", text);
	if (metric_sum(text, "converge_http_requests_total",
	    "method=\"other\"") < 40)
		fail_msg("no method=\"other\" series:\n%s", text);
	assert_non_null(strstr(text, "\nconverge_metrics_series_dropped_total "));
	free(text);
}

/* The first line of FILE containing both needles, or NULL (caller
 * frees). */
static char *line_with(const char *file, const char *a, const char *b)
{
	FILE *f = fopen(file, "r");
	char *line = NULL, *hit = NULL;
	size_t cap = 0;

	if (!f)
		return NULL;
	while (!hit && getline(&line, &cap, f) > 0)
		if (strstr(line, a) && strstr(line, b))
			hit = strdup(line);
	free(line);
	fclose(f);
	return hit;
}

/* Finding 10: a path that is not UTF-8 is escaped in the access log and
 * in its access.denied event, never dropped or emptied. */
static void test_invalid_utf8_path_logged(void **state)
{
	char log[512], *hit = NULL;
	json_t *evs;
	bool found = false;

	(void)state;
	expect_status("GET", "/v1/intents/%FF%FE", NULL, NULL, 401, NULL);
	expect_status("GET", "/v1/intents/%FF%FEok", ADMIN, NULL, 404, NULL);
	snprintf(log, sizeof log, "%s/log/intents.log", farm_var_dir());
	for (int i = 0; i < 50 && !hit; i++) {
		hit = line_with(log, "converge.access",
		    "\"path\":\"/v1/intents/%FF%FEok\"");
		if (!hit)
			usleep(100 * 1000);
	}
	if (!hit)
		fail_msg("no access log line for /v1/intents/%%FF%%FEok in %s",
		    log);
	free(hit);
	hit = line_with(log, "converge.access",
	    "\"path\":\"/v1/intents/%FF%FE\"");
	assert_non_null(hit);
	free(hit);
	evs = events_of(ADMIN, "access.denied");
	for (size_t i = 0; i < json_array_size(evs); i++) {
		const char *path = json_string_value(json_object_get(
		    json_object_get(json_array_get(evs, i), "payload"), "path"));

		found = found || (path && strcmp(path,
		    "/v1/intents/%FF%FE") == 0);
	}
	json_decref(evs);
	assert_true(found);
}

/* Finding 6: concurrent POSTs with one Idempotency-Key and body create
 * one intent, and every one of them gets the first answer. */
#define RACERS 8
#define ROUNDS 5

struct racer {
	pthread_barrier_t *go;
	const char *key_header;
	long status;
	char intent_id[128];
	int replayed;
};

static void *race_create(void *arg)
{
	struct racer *r = arg;
	struct http_resp resp;
	const char *hdrs[] = { "X-API-Key: " OP,
	    "Content-Type: application/json", r->key_header, NULL };
	static const char body[] = "{\"source\":\"feature/ok\","
	    "\"priority\":2}";
	const char *id;
	char *h;

	pthread_barrier_wait(r->go);
	if (http_request("POST", "/v1/intents", hdrs, body, strlen(body),
	    &resp) != 0)
		return NULL;
	r->status = resp.status;
	id = json_string_value(json_object_get(resp.json, "intent_id"));
	snprintf(r->intent_id, sizeof r->intent_id, "%s", id ? id : "");
	h = http_resp_header(&resp, "Idempotent-Replayed");
	r->replayed = h != NULL;
	free(h);
	http_resp_free(&resp);
	return NULL;
}

static void race_round(int round)
{
	pthread_t t[RACERS];
	pthread_barrier_t go;
	struct racer r[RACERS];
	char key[64];
	int replayed = 0;

	snprintf(key, sizeof key, "Idempotency-Key: sec-idem-race-%d", round);
	pthread_barrier_init(&go, NULL, RACERS);
	memset(r, 0, sizeof r);
	for (int i = 0; i < RACERS; i++) {
		r[i].go = &go;
		r[i].key_header = key;
		assert_int_equal(pthread_create(&t[i], NULL, race_create,
		    &r[i]), 0);
	}
	for (int i = 0; i < RACERS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&go);
	for (int i = 0; i < RACERS; i++) {
		if (r[i].status != 200)
			fail_msg("round %d racer %d: status %ld", round, i,
			    r[i].status);
		if (strcmp(r[i].intent_id, r[0].intent_id) != 0)
			fail_msg("round %d: racer %d created %s, racer 0 %s",
			    round, i, r[i].intent_id, r[0].intent_id);
		replayed += r[i].replayed;
	}
	assert_int_equal(replayed, RACERS - 1);
}

static void test_idempotency_race(void **state)
{
	json_t *before, *after;

	(void)state;
	before = get_json("/v1/intents", ADMIN);
	for (int round = 0; round < ROUNDS; round++)
		race_round(round);
	after = get_json("/v1/intents", ADMIN);
	assert_int_equal(json_array_size(after), json_array_size(before) +
	    ROUNDS);
	json_decref(before);
	json_decref(after);
}

static int farm_up(void **state)
{
	char repo_env[300];
	const char *env[] = {
		"CONVERGE_AUTH_REQUIRED=1",
		"CONVERGE_AUTH_MODE=api_key",
		"CONVERGE_API_KEYS=" KEYS,
		"CONVERGE_RATE_LIMIT_ENABLED=0",
		"CONVERGE_WORKER_POLL_INTERVAL=3600",
		"CONVERGE_GITHUB_WEBHOOK_SECRET=whsec-sec-test",
		/* publishing on, towards nowhere: only the outbox is read */
		"CONVERGE_GITHUB_APP_ID=1",
		"CONVERGE_GITHUB_INSTALLATION_ID=1",
		"CONVERGE_GITHUB_API_URL=http://127.0.0.1:9",
		repo_env,
		NULL,
	};

	(void)state;
	make_repo(repo, sizeof repo);
	write_file(repo, "Makefile", "lint:\n\t@env\n");
	GIT(repo, "add", "Makefile");
	GIT(repo, "commit", "-q", "-m", "lint prints its environment");
	snprintf(repo_env, sizeof repo_env, "CONVERGE_REPO_PATH=%s", repo);
	return farm_start(env) == 0 ? 0 : -1;
}

static int farm_down(void **state)
{
	(void)state;
	remove_tree(repo);
	return farm_stop();
}

int main(void)
{
	if (!farm_available())
		return 77;	/* automake: skipped */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_scope_cannot_write),
		cmocka_unit_test(test_no_publication_target_from_body),
		cmocka_unit_test(test_check_sees_no_secret),
		cmocka_unit_test(test_idempotency_race),
		cmocka_unit_test(test_stale_simulation_not_reused),
		cmocka_unit_test(test_metrics_closed_sets),
		cmocka_unit_test(test_invalid_utf8_path_logged),
	};

	return cmocka_run_group_tests_name("api_security", tests, farm_up,
	    farm_down);
}
