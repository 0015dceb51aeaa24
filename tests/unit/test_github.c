/* test_github.c - the GitHub App client (http-api.md 8) against
 * tests/fakegithub, with the clocks and the back-off sleep driven by the
 * test. */
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

#include "../fakegithub/harness.h"
#include "github.h"
#include "jsonx.h"

static struct fake_github fake;

/* The test's clocks. wall = real now + offset (the fake checks exp
 * against its real clock, so offsets only go forward). */
static struct {
	int64_t base, offset;
	double mono;
	double slept[16];
	int nslept;
} clk;

static int64_t t_wall(void *ctx) { (void)ctx; return clk.base + clk.offset; }
static double t_mono(void *ctx) { (void)ctx; return clk.mono; }
static void t_sleep(void *ctx, double s)
{
	(void)ctx;
	if (clk.nslept < 16)
		clk.slept[clk.nslept++] = s;
}

static struct cv_github *client(long timeout_ms)
{
	struct cv_github_options o = {
		.api_url = fake.url, .app_id = FAKE_APP_ID,
		.key_pem = fake.pem_pkcs1, .installation_id = "4242",
		.timeout_ms = timeout_ms,
		.hooks = { t_wall, t_mono, t_sleep, NULL },
	};

	memset(&clk, 0, sizeof clk);
	clk.base = (int64_t)time(NULL);
	clk.mono = 1000;
	fake_github_reset(&fake);
	fake_github_mode(&fake, "ok", 0, -1);
	return cv_github_new(&o);
}

static json_t *request(const char *decision, double score, const char *reason)
{
	return json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:f, s:s}",
	    "repo", "acme/backend", "head_sha", "abc123",
	    "installation_id", 4242, "intent_id", "acme/backend:pr-42",
	    "decision", decision, "trace_id", "trace-00112233aabbccdd",
	    "risk_score", score, "reason", reason);
}

/* ---- pure parts ---------------------------------------------------------- */

static void test_publication_map(void **state)
{
	static const struct {
		const char *decision;
		const char *score;     /* JSON text */
		const char *reason;
		const char *status, *conclusion, *cstate, *desc;
	} rows[] = {
		{ "validated", "23.64", "", "completed", "success", "success", "Validated (risk=23.6)" },
		{ "validated", "0", NULL, "completed", "success", "success", "Validated (risk=0.0)" },
		{ "validated", "49.95", "ignored", "completed", "success", "success", "Validated (risk=50.0)" },
		{ "blocked", "71.5", "Policy blocked: gates [risk]", "completed", "failure", "failure", "Policy blocked: gates [risk]" },
		{ "blocked", "71.5", "", "completed", "failure", "failure", "Blocked (risk=71.5)" },
		{ "blocked", "50.0", NULL, "completed", "failure", "failure", "Blocked (risk=50.0)" },
		{ "blocked", "0", NULL, "completed", "failure", "failure", "Blocked (risk=0)" },
		{ "rejected", "0", "PR closed", "completed", "failure", "failure", "PR closed" },
		{ "merged", "12.0", "PR merged", "completed", "success", "success", "Merged" },
		{ "pending", "0", "Re-push detected, revalidating", "in_progress", NULL, "pending", "Processing..." },
		{ "weird", "0", NULL, "in_progress", NULL, "pending", "Processing..." },
		{ "", "0", NULL, "in_progress", NULL, "pending", "Processing..." },
	};
	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		struct cv_github_publication p;
		json_t *score = json_loads(rows[i].score, JSON_DECODE_ANY, NULL);

		cv_github_publication_map(rows[i].decision, score,
		    rows[i].reason, &p);
		assert_string_equal(p.status, rows[i].status);
		if (rows[i].conclusion)
			assert_string_equal(p.conclusion, rows[i].conclusion);
		else
			assert_null(p.conclusion);
		assert_string_equal(p.state, rows[i].cstate);
		assert_string_equal(p.description, rows[i].desc);
		json_decref(score);
	}
}

static void test_description_truncation(void **state)
{
	char reason[400], want[200];
	struct cv_github_publication p;

	(void)state;
	memset(reason, 'x', 300);
	reason[300] = '\0';
	memset(want, 'x', 140);
	want[140] = '\0';
	cv_github_publication_map("blocked", NULL, reason, &p);
	assert_string_equal(p.description, want);
	/* 150 two-byte characters: 140 characters are 280 bytes. */
	for (int i = 0; i < 150; i++)
		memcpy(reason + 2 * i, "\xc3\xa9", 2);
	reason[300] = '\0';
	cv_github_publication_map("rejected", NULL, reason, &p);
	assert_int_equal(strlen(p.description), 280);
	json_t *b = cv_github_status_body_new("failure", reason, NULL);
	assert_int_equal(strlen(cv_json_str(b, "description", "")), 280);
	json_decref(b);
}

static void test_summary(void **state)
{
	static const struct {
		const char *trace, *reason;
		double score;
		const char *want;
	} rows[] = {
		{ "trace-1", "PR merged", 12.34,
		  "**Intent:** `i-1`\n**Decision:** d\n**Risk score:** 12.3\n"
		  "**Trace:** `trace-1`\n**Reason:** PR merged" },
		{ NULL, NULL, 0,
		  "**Intent:** `i-1`\n**Decision:** d\n**Risk score:** 0.0" },
		{ "", "why", 99.96,
		  "**Intent:** `i-1`\n**Decision:** d\n**Risk score:** 100.0\n"
		  "**Reason:** why" },
		{ "trace-2", "", 5,
		  "**Intent:** `i-1`\n**Decision:** d\n**Risk score:** 5.0\n"
		  "**Trace:** `trace-2`" },
	};
	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		char *s = cv_github_summary_new("i-1", "d", rows[i].score,
		    rows[i].trace, rows[i].reason);
		assert_string_equal(s, rows[i].want);
		free(s);
	}
}

static void test_bodies(void **state)
{
	static const struct {
		const char *status, *conclusion, *summary, *details;
		const char *want;
	} rows[] = {
		{ "in_progress", NULL, "s", NULL,
		  "{\"name\":\"Converge Risk Gate\",\"head_sha\":\"abc\",\"status\":\"in_progress\","
		  "\"output\":{\"title\":\"Converge Risk Gate\",\"summary\":\"s\"}}" },
		{ "completed", "success", "", "https://x/y",
		  "{\"name\":\"Converge Risk Gate\",\"head_sha\":\"abc\",\"status\":\"completed\","
		  "\"conclusion\":\"success\",\"details_url\":\"https://x/y\"}" },
		{ "completed", "failure", "s", "",
		  "{\"name\":\"Converge Risk Gate\",\"head_sha\":\"abc\",\"status\":\"completed\","
		  "\"conclusion\":\"failure\",\"output\":{\"title\":\"Converge Risk Gate\",\"summary\":\"s\"}}" },
	};
	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		json_t *b = cv_github_check_run_body_new("abc", rows[i].status,
		    rows[i].conclusion, rows[i].summary, rows[i].details);
		char *t = cv_json_dump(b);
		assert_string_equal(t, rows[i].want);
		free(t);
		json_decref(b);
	}
	json_t *s = cv_github_status_body_new("pending", "Processing...", NULL);
	char *t = cv_json_dump(s);
	assert_string_equal(t, "{\"state\":\"pending\",\"context\":\"converge/risk-gate\","
	    "\"description\":\"Processing...\"}");
	free(t);
	json_decref(s);
}

/* ---- App JWT ------------------------------------------------------------- */

static void test_app_jwt(void **state)
{
	struct {
		const char *name;
		const char *path;      /* "1", "8" = the fake's key files */
		const char *pem;       /* "1" = PKCS#1 text */
		const char *app_id;
		enum cv_err want;
	} rows[] = {
		{ "PKCS#1 from PEM text", NULL, "1", FAKE_APP_ID, CV_OK },
		{ "PKCS#1 from file", "1", NULL, FAKE_APP_ID, CV_OK },
		{ "PKCS#8 from file", "8", NULL, FAKE_APP_ID, CV_OK },
		{ "file wins over text", "8", "garbage", FAKE_APP_ID, CV_OK },
		{ "missing file: text", "/nonexistent/key.pem", "1", FAKE_APP_ID, CV_OK },
		{ "no key at all", "/nonexistent/key.pem", NULL, FAKE_APP_ID, CV_EAUTH },
		{ "not a key", NULL, "-----BEGIN NOTHING-----", FAKE_APP_ID, CV_EAUTH },
		{ "no app id", NULL, "1", NULL, CV_EAUTH },
	};
	char pub[4096] = "";
	FILE *fp = fopen(fake.pub, "r");

	(void)state;
	assert_non_null(fp);
	assert_true(fread(pub, 1, sizeof pub - 1, fp) > 0);
	fclose(fp);
	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		const char *path = rows[i].path;
		const char *pem = rows[i].pem;
		if (path && strcmp(path, "1") == 0)
			path = fake.key_pkcs1;
		else if (path && strcmp(path, "8") == 0)
			path = fake.key_pkcs8;
		if (pem && strcmp(pem, "1") == 0)
			pem = fake.pem_pkcs1;
		struct cv_github_options o = { .api_url = fake.url,
		    .app_id = rows[i].app_id, .key_path = path, .key_pem = pem,
		    .hooks = { t_wall, NULL, NULL, NULL } };
		clk.base = 1700000000;
		clk.offset = 0;
		struct cv_github *gh = cv_github_new(&o);
		char *tok = NULL;
		enum cv_err e = cv_github_app_jwt_new(gh, &tok);

		if (e != rows[i].want)
			fail_msg("%s: %s (%s)", rows[i].name, cv_strerror(e),
			    cv_github_errmsg(gh));
		if (e == CV_EAUTH && !rows[i].app_id)
			assert_string_equal(cv_github_errmsg(gh),
			    "GitHub App ID not configured");
		else if (e == CV_EAUTH && !pem)
			assert_string_equal(cv_github_errmsg(gh),
			    "GitHub App private key not configured");
		if (e == CV_OK) {
			jwt_t *j = NULL;
			assert_int_equal(jwt_decode(&j, tok, (unsigned char *)pub,
			    (int)strlen(pub)), 0);
			assert_int_equal(jwt_get_alg(j), JWT_ALG_RS256);
			assert_string_equal(jwt_get_header(j, "typ"), "JWT");
			assert_string_equal(jwt_get_grant(j, "iss"), FAKE_APP_ID);
			assert_int_equal(jwt_get_grant_int(j, "iat"), 1700000000 - 60);
			assert_int_equal(jwt_get_grant_int(j, "exp"), 1700000000 + 540);
			jwt_free(j);
		}
		free(tok);
		cv_github_free(gh);
	}
}

/* ---- against the fake ---------------------------------------------------- */

static void test_publish_recorded(void **state)
{
	struct cv_github *gh = client(0);
	json_t *req = request("validated", 23.64, "");
	json_t *res = cv_github_publish_decision(gh, req);
	json_t *seen = fake_github_requests(&fake);
	char *t = cv_json_dump(res);

	(void)state;
	assert_string_equal(t, "{\"check_run_id\":1,\"commit_status_state\":"
	    "\"success\",\"decision\":\"validated\"}");
	assert_int_equal(json_array_size(seen), 3);
	assert_int_equal(fake_github_count(seen, "POST",
	    "/app/installations/4242/access_tokens", 201), 1);
	assert_int_equal(fake_github_count(seen, "POST",
	    "/repos/acme/backend/check-runs", 201), 1);
	assert_int_equal(fake_github_count(seen, "POST",
	    "/repos/acme/backend/statuses/abc123", 201), 1);
	json_t *run = json_array_get(seen, 1), *st = json_array_get(seen, 2);
	assert_string_equal(cv_json_str(run, "auth", ""), "token");
	assert_string_equal(cv_json_str(run, "user_agent", ""), "converge/0.1.0");
	assert_string_equal(cv_json_str(run, "accept", ""), "application/vnd.github+json");
	assert_string_equal(cv_json_str(run, "api_version", ""), "2022-11-28");
	free(t);
	t = cv_json_dump(json_object_get(run, "body"));
	assert_string_equal(t, "{\"name\":\"Converge Risk Gate\",\"head_sha\":\"abc123\","
	    "\"status\":\"completed\",\"conclusion\":\"success\",\"output\":"
	    "{\"title\":\"Converge Risk Gate\",\"summary\":\"**Intent:** "
	    "`acme/backend:pr-42`\\n**Decision:** validated\\n**Risk score:** 23.6\\n"
	    "**Trace:** `trace-00112233aabbccdd`\"}}");
	free(t);
	t = cv_json_dump(json_object_get(st, "body"));
	assert_string_equal(t, "{\"state\":\"success\",\"context\":"
	    "\"converge/risk-gate\",\"description\":\"Validated (risk=23.6)\"}");
	free(t);
	json_decref(seen);
	json_decref(res);
	json_decref(req);
	cv_github_free(gh);
}

static void test_token_cache(void **state)
{
	static const struct {
		int64_t offset;        /* wall clock seconds after the first */
		long long inst;
		size_t exchanges;      /* token calls so far */
	} rows[] = {
		{ 0, 4242, 1 }, { 10, 4242, 1 }, { 3439, 4242, 1 },
		{ 3439, 77, 2 },       /* another installation, its own token */
		{ 3440, 4242, 3 },     /* 60 s left: exchanged again */
		{ 3500, 4242, 3 }, { 3500, 77, 3 },
		{ 0, 0, 3 },           /* 0 = the configured default (4242) */
	};
	struct cv_github *gh = client(0);

	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		char *tok = NULL;
		clk.offset = rows[i].offset;
		json_t *req = request("pending", 0, "");
		json_object_set_new(req, "installation_id",
		    json_integer(rows[i].inst));
		json_t *res = cv_github_publish_decision(gh, req);
		json_t *seen = fake_github_requests(&fake);

		assert_null(json_object_get(res, "error"));
		if (fake_github_count(seen, "POST", "/access_tokens", 201) !=
		    rows[i].exchanges)
			fail_msg("row %zu: %zu exchanges", i, fake_github_count(
			    seen, "POST", "/access_tokens", 201));
		assert_int_equal(cv_github_installation_token(gh, 4242, &tok),
		    CV_OK);
		free(tok);
		json_decref(seen);
		json_decref(res);
		json_decref(req);
	}
	cv_github_free(gh);
}

/* Injected failures on the check-run call (the token is fetched first so
 * that the failure lands on the repos call). */
static void test_retries(void **state)
{
	static const struct {
		const char *mode;
		long count, retry_after;
		long timeout_ms;
		bool ok;
		size_t check_run_attempts;
		int nslept;
		double slept[2];
	} rows[] = {
		{ "500", 1, -1, 0, true, 2, 1, { 0.5 } },
		{ "502", 2, -1, 0, true, 3, 2, { 0.5, 1.0 } },
		{ "500", 3, -1, 0, false, 3, 2, { 0.5, 1.0 } },
		{ "429", 1, 7, 0, true, 2, 1, { 7 } },
		{ "429", 1, 100, 0, true, 2, 1, { 30 } },      /* capped */
		{ "429", 1, -1, 0, true, 2, 1, { 0.5 } },      /* no header */
		{ "422", 1, -1, 0, false, 1, 0, { 0 } },       /* not retried */
		{ "404", 1, -1, 0, false, 1, 0, { 0 } },
		{ "hang", 1, -1, 300, true, 2, 1, { 0.5 } },
		{ "hang", 3, -1, 300, false, 3, 2, { 0.5, 1.0 } },
	};
	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		struct cv_github *gh = client(rows[i].timeout_ms);
		char *tok = NULL;
		json_t *req = request("blocked", 50, "");

		assert_int_equal(cv_github_installation_token(gh, 4242, &tok),
		    CV_OK);
		free(tok);
		fake_github_mode(&fake, rows[i].mode, rows[i].count,
		    rows[i].retry_after);
		json_t *res = cv_github_publish_decision(gh, req);
		json_t *seen = fake_github_requests(&fake);
		size_t n = fake_github_count(seen, "POST", "/check-runs", -1);

		if (n != rows[i].check_run_attempts ||
		    !json_object_get(res, "error") != rows[i].ok ||
		    clk.nslept != rows[i].nslept)
			fail_msg("row %zu (%s x%ld): %zu attempts, slept %d, %s",
			    i, rows[i].mode, rows[i].count, n, clk.nslept,
			    cv_github_errmsg(gh));
		for (int k = 0; k < clk.nslept; k++)
			assert_true(clk.slept[k] == rows[i].slept[k]);
		if (strcmp(rows[i].mode, "hang") == 0 && !rows[i].ok)
			assert_non_null(strstr(cv_github_errmsg(gh),
			    "exceeded timeout of 0.3s"));
		if (rows[i].ok) {
			assert_string_equal(cv_json_str(res,
			    "commit_status_state", ""), "failure");
			assert_int_equal(fake_github_count(seen, "POST",
			    "/statuses/abc123", 201), 1);
		} else {
			assert_string_equal(cv_json_str(res, "error", ""),
			    "publish_failed");
			assert_string_equal(cv_json_str(res, "decision", ""),
			    "blocked");
		}
		json_decref(seen);
		json_decref(res);
		json_decref(req);
		cv_github_free(gh);
	}
}

static void test_breaker(void **state)
{
	struct cv_github *gh = client(0);
	json_t *req = request("validated", 1, "");
	json_t *res, *seen;
	char *tok = NULL;

	(void)state;
	assert_int_equal(cv_github_installation_token(gh, 4242, &tok), CV_OK);
	free(tok);
	fake_github_mode(&fake, "503", 0, -1);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(cv_breaker_state(cv_github_breaker(gh),
		    clk.mono), CV_BREAKER_CLOSED);
		res = cv_github_publish_decision(gh, req);
		assert_non_null(json_object_get(res, "error"));
		json_decref(res);
	}
	assert_int_equal(cv_breaker_state(cv_github_breaker(gh), clk.mono),
	    CV_BREAKER_OPEN);
	seen = fake_github_requests(&fake);
	assert_int_equal(fake_github_count(seen, NULL, "/check-runs", 503), 15);
	json_decref(seen);
	/* Open: fails fast, GitHub sees nothing. */
	fake_github_mode(&fake, "ok", 0, -1);
	clk.mono += 29.9;
	res = cv_github_publish_decision(gh, req);
	assert_string_equal(cv_json_str(res, "error", ""), "publish_failed");
	assert_string_equal(cv_github_errmsg(gh),
	    "Circuit breaker 'github' is open");
	json_decref(res);
	seen = fake_github_requests(&fake);
	assert_int_equal(fake_github_count(seen, NULL, "/check-runs", -1), 15);
	json_decref(seen);
	/* 30 s after the last failure: half open; check run + status are the
	 * two successes that close it. */
	clk.mono += 0.1;
	res = cv_github_publish_decision(gh, req);
	assert_null(json_object_get(res, "error"));
	assert_int_equal(cv_breaker_state(cv_github_breaker(gh), clk.mono),
	    CV_BREAKER_CLOSED);
	json_decref(res);
	json_decref(req);
	cv_github_free(gh);
}

static void test_unauthorized_forgets_token(void **state)
{
	struct cv_github *gh = client(0);
	json_t *req = request("pending", 0, "");
	json_t *res, *seen;

	(void)state;
	res = cv_github_publish_decision(gh, req);
	json_decref(res);
	fake_github_mode(&fake, "401", 1, -1);
	res = cv_github_publish_decision(gh, req);
	assert_non_null(json_object_get(res, "error"));
	json_decref(res);
	res = cv_github_publish_decision(gh, req);
	assert_null(json_object_get(res, "error"));
	json_decref(res);
	seen = fake_github_requests(&fake);
	assert_int_equal(fake_github_count(seen, "POST", "/access_tokens", 201), 2);
	json_decref(seen);
	json_decref(req);
	cv_github_free(gh);
}

static void test_bad_requests(void **state)
{
	static const char *const rows[] = {
		"{\"repo\":\"acme\",\"head_sha\":\"abc\",\"decision\":\"pending\"}",
		"{\"repo\":\"acme/backend/x\",\"head_sha\":\"abc\",\"decision\":\"pending\"}",
		"{\"repo\":\"/backend\",\"head_sha\":\"abc\",\"decision\":\"pending\"}",
		"{\"repo\":\"acme/../x\",\"head_sha\":\"abc\",\"decision\":\"pending\"}",
		"{\"repo\":\"acme/backend\",\"head_sha\":\"\",\"decision\":\"pending\"}",
		"{\"repo\":\"acme/backend\",\"head_sha\":\"ab/c\",\"decision\":\"pending\"}",
		"{\"repo\":\"acme/backend\",\"head_sha\":\"abc\",\"decision\":\"\"}",
		"[]",
	};
	struct cv_github *gh = client(0);

	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		json_t *req = json_loads(rows[i], 0, NULL);
		assert_int_equal(cv_github_request_check(req), CV_EINVAL);
		json_t *res = cv_github_publish_decision(gh, req);
		assert_string_equal(cv_json_str(res, "error", ""), "publish_failed");
		json_decref(res);
		json_decref(req);
	}
	json_t *seen = fake_github_requests(&fake);
	assert_int_equal(json_array_size(seen), 0);
	json_decref(seen);
	cv_github_free(gh);
}

static void test_check_run_update(void **state)
{
	struct cv_github *gh = client(0);
	json_t *resp = NULL, *seen;
	char *t;

	(void)state;
	assert_int_equal(cv_github_check_run_update(gh, 4242, "acme/backend",
	    7, "completed", "success", NULL, &resp), CV_OK);
	assert_int_equal(json_integer_value(json_object_get(resp, "id")), 7);
	seen = fake_github_requests(&fake);
	t = cv_json_dump(json_object_get(json_array_get(seen, 1), "body"));
	assert_string_equal(t, "{\"status\":\"completed\",\"conclusion\":\"success\"}");
	assert_int_equal(fake_github_count(seen, "PATCH",
	    "/repos/acme/backend/check-runs/7", 200), 1);
	free(t);
	json_decref(seen);
	json_decref(resp);
	cv_github_free(gh);
}

static int group_setup(void **state)
{
	(void)state;
	return fake_github_start(&fake);
}

static int group_teardown(void **state)
{
	(void)state;
	fake_github_stop(&fake);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_publication_map),
		cmocka_unit_test(test_description_truncation),
		cmocka_unit_test(test_summary),
		cmocka_unit_test(test_bodies),
		cmocka_unit_test(test_app_jwt),
		cmocka_unit_test(test_publish_recorded),
		cmocka_unit_test(test_token_cache),
		cmocka_unit_test(test_retries),
		cmocka_unit_test(test_breaker),
		cmocka_unit_test(test_unauthorized_forgets_token),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_check_run_update),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
