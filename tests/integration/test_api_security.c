/*
 * test_api_security.c - findings of the security review reproduced
 * through the real farm (nginx + responders + worker), each one a case
 * that failed before its fix:
 *   - scopes: a key holding intents.read cannot create or validate
 *     (intents.write), a key with intents.write can;
 * The farm runs with auth on, rate limiting off, and a throw-away git
 * repository.
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
#define READER "k-s-read"
#define WRITER "k-s-write"

#define KEYS ADMIN ":admin:root," OP ":operator:op1," \
	READER ":operator:s-read::intents.read," \
	WRITER ":operator:s-write::intents.read|intents.write"

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

static int farm_up(void **state)
{
	char repo_env[300];
	const char *env[] = {
		"CONVERGE_AUTH_REQUIRED=1",
		"CONVERGE_AUTH_MODE=api_key",
		"CONVERGE_API_KEYS=" KEYS,
		"CONVERGE_RATE_LIMIT_ENABLED=0",
		"CONVERGE_WORKER_POLL_INTERVAL=3600",
		repo_env,
		NULL,
	};

	(void)state;
	make_repo(repo, sizeof repo);
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
	};

	return cmocka_run_group_tests_name("api_security", tests, farm_up,
	    farm_down);
}
