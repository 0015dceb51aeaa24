/* test_queuestate.c - QueueState by aggregate queries against the pure
 * builder on the same intents, the pending cap, and the per-process
 * projection cache (versions, age, ETag and 304). Runs on SQLite and,
 * with CONVERGE_TEST_PG_DSN, on PostgreSQL too. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cursor.h"
#include "db.h"
#include "intents.h"
#include "jsonx.h"
#include "projections.h"
#include "queuestate.h"
#include "store.h"
#include "pgtest.h"
#include "viewcache.h"

static char pg_dsn[600];

static int setup(void **state)
{
	struct pgtest_store *f = pgtest_store_new(pg_dsn);

	if (!f)
		return -1;
	/* the PostgreSQL schema outlives a test: start each one empty */
	if (pg_dsn[0] && (cv_db_exec(f->s, "DELETE FROM intents", NULL, 0,
	    NULL) != CV_OK || cv_db_exec(f->s, "DELETE FROM events", NULL, 0,
	    NULL) != CV_OK))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	pgtest_store_free(*state);
	cv_view_reset();
	return 0;
}

static void put(struct cv_store *s, const char *id, const char *status,
    int priority, const char *tenant)
{
	json_t *doc = json_pack("{s:s,s:s,s:s,s:i,s:s?}", "id", id, "source",
	    "feature/x", "status", status, "priority", priority, "tenant_id",
	    tenant);
	const char *err = NULL;
	json_t *in = cv_intent_build(doc, false, "test", &err);

	assert_non_null(in);
	assert_int_equal(cv_intent_upsert(s, in), CV_OK);
	json_decref(in);
	json_decref(doc);
}

/* 250 pending over 5 priorities (more than the cap), other statuses, two
 * tenants: the SQL and the builder agree, whatever the tenant. */
static void test_against_builder(void **state)
{
	struct pgtest_store *f = *state;
	static const char *const statuses[] = { "READY", "VALIDATED", "QUEUED",
	    "MERGED", "REJECTED", "MERGED" };
	static const char *const tenants[] = { NULL, "team-a", "team-b" };
	char id[32];

	assert_int_equal(cv_store_begin(f->s), CV_OK);
	for (int i = 0; i < 400; i++) {
		snprintf(id, sizeof id, "qs-%03d", (i * 37) % 400);
		put(f->s, id, statuses[i < 250 ? i % 3 : 3 + i % 3], i % 5,
		    i % 7 == 0 ? "team-b" : "team-a");
	}
	assert_int_equal(cv_store_commit(f->s), CV_OK);
	for (size_t t = 0; t < CV_ARRAY_LEN(tenants); t++) {
		json_t *list = cv_intent_list(f->s, NULL, tenants[t], 10000);
		json_t *want = cv_queue_state_build(list), *got = NULL;

		assert_int_equal(cv_queue_state_load(f->s, tenants[t], &got),
		    CV_OK);
		if (!json_equal(want, got)) {
			char *a = cv_json_dump(want), *b = cv_json_dump(got);
			fail_msg("tenant %s:\nwant %.400s\ngot  %.400s",
			    tenants[t] ? tenants[t] : "(all)", a, b);
		}
		assert_true(json_array_size(json_object_get(got, "pending")) <=
		    CV_QUEUE_PENDING_CAP);
		if (!tenants[t]) {
			assert_int_equal(json_array_size(json_object_get(got,
			    "pending")), CV_QUEUE_PENDING_CAP);
			assert_int_equal(cv_json_int(got, "pending_count", 0),
			    250);
			assert_int_equal(cv_json_int(got, "total", 0), 400);
		}
		long long active = -1;
		assert_int_equal(cv_queue_active_count(f->s, tenants[t],
		    &active), CV_OK);
		assert_int_equal(active, cv_json_int(got, "pending_count", -1));
		json_decref(list);
		json_decref(want);
		json_decref(got);
	}
}

static void request_with(struct cv_request *r, char **env)
{
	assert_int_equal(cv_request_init(r, env), CV_OK);
}

static char *dup_text(const char *t)
{
	char *p = strdup(t);

	assert_non_null(p);
	return p;
}

/* Versions, age, keys; 200 with an ETag, then 304 for If-None-Match. */
static void test_cache(void **state)
{
	struct pgtest_store *f = *state;
	char *v1 = NULL, *v2 = NULL;
	const struct cv_view *v;
	char *env_plain[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/v1/summary",
	    NULL };
	char inm[80], *env_inm[] = { "REQUEST_METHOD=GET",
	    "REQUEST_URI=/v1/summary", inm, NULL };
	struct cv_request r;
	struct cv_response resp;

	assert_int_equal(cv_view_version(f->s, &v1), CV_OK);
	put(f->s, "cache-1", "READY", 1, NULL);
	assert_int_equal(cv_view_version(f->s, &v2), CV_OK);
	assert_string_not_equal(v1, v2);

	assert_non_null(cv_view_put("k", v1, dup_text("{\"a\":1}"), 7, 1000));
	assert_non_null(cv_view_get("k", v1, 1000 + CV_VIEW_MAX_AGE_MS - 1));
	assert_null(cv_view_get("k", v1, 1000 + CV_VIEW_MAX_AGE_MS));
	assert_null(cv_view_get("k", v2, 1001));
	assert_null(cv_view_get("other", v1, 1001));
	/* more keys than slots: the least recently used goes */
	for (int i = 0; i < CV_VIEW_SLOTS + 4; i++) {
		char key[16];
		snprintf(key, sizeof key, "k%d", i);
		assert_non_null(cv_view_put(key, v2, dup_text("[]"), 2, 2000));
	}
	assert_null(cv_view_get("k0", v2, 2001));
	assert_non_null(cv_view_get("k19", v2, 2001));

	v = cv_view_put("k", v2, dup_text("{\"a\":2}"), 7, 3000);
	assert_non_null(v);
	assert_int_equal(strlen(v->etag), 36);
	assert_int_equal(strncmp(v->etag, "W/\"", 3), 0);
	request_with(&r, env_plain);
	cv_response_init(&resp);
	cv_view_respond(v, &r, &resp);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.body_len, 7);
	assert_string_equal(cv_response_get_header(&resp, "ETag"), v->etag);
	cv_response_free(&resp);
	cv_request_free(&r);
	snprintf(inm, sizeof inm, "HTTP_IF_NONE_MATCH=W/\"x\", %s", v->etag);
	request_with(&r, env_inm);
	cv_response_init(&resp);
	cv_view_respond(v, &r, &resp);
	assert_int_equal(resp.status, 304);
	assert_int_equal(resp.body_len, 0);
	assert_string_equal(cv_response_get_header(&resp, "ETag"), v->etag);
	cv_response_free(&resp);
	cv_request_free(&r);
	snprintf(inm, sizeof inm, "HTTP_IF_NONE_MATCH=\"0000\"");
	request_with(&r, env_inm);
	cv_response_init(&resp);
	cv_view_respond(v, &r, &resp);
	assert_int_equal(resp.status, 200);
	cv_response_free(&resp);
	cv_request_free(&r);
	free(v1);
	free(v2);
}

static enum cv_err build_count(struct cv_store *s, const void *arg,
    json_t **out)
{
	int *calls = (int *)arg;

	(void)s;
	(*calls)++;
	*out = json_pack("{s:i}", "calls", *calls);
	return *out ? CV_OK : CV_ENOMEM;
}

/* cv_view_serve builds once per version. */
static void test_serve(void **state)
{
	struct pgtest_store *f = *state;
	char *env[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/v1/summary", NULL };
	struct cv_request r;
	struct cv_response resp;
	int calls = 0;

	request_with(&r, env);
	for (int i = 0; i < 3; i++) {
		cv_response_init(&resp);
		assert_int_equal(cv_view_serve(f->s, "serve", build_count,
		    &calls, &r, &resp), CV_OK);
		assert_int_equal(resp.status, 200);
		assert_string_equal(resp.body, "{\"calls\":1}");
		cv_response_free(&resp);
	}
	put(f->s, "serve-1", "QUEUED", 2, NULL);
	cv_response_init(&resp);
	assert_int_equal(cv_view_serve(f->s, "serve", build_count, &calls, &r,
	    &resp), CV_OK);
	assert_string_equal(resp.body, "{\"calls\":2}");
	cv_response_free(&resp);
	cv_request_free(&r);
}

/* Cursors: round trip, and garbage refused. */
static void test_cursor(void **state)
{
	static const char *const rows[][3] = {
		{ "3", "2026-11-26T10:00:00.000001+00:00", "acme/api:pr-7" },
		{ "0", "", "x" },
		{ "1000", "t", "id with spaces & ?=/+" },
	};
	static const char *const bad[] = { "", "!!", "a", "YQ", "YQo",
	    "YQpiCmMKZA", "Y Q", "%41" };
	const char *f[3];
	char *buf, *c;

	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		assert_non_null(c = cv_cursor_encode(rows[i], 3));
		assert_null(strpbrk(c, "+/=&?% "));
		assert_true(cv_cursor_decode(c, &buf, f, 3));
		for (int k = 0; k < 3; k++)
			assert_string_equal(f[k], rows[i][k]);
		free(buf);
		free(c);
	}
	for (size_t i = 0; i < CV_ARRAY_LEN(bad); i++) {
		assert_false(cv_cursor_decode(bad[i], &buf, f, 3));
		free(buf);
	}
	static const char *const keep[] = { "status", "tenant_id", NULL };
	const char *vals[] = { "READY", "team a&b", NULL };
	assert_non_null(c = cv_cursor_link("/v1/intents", keep, vals, 2, "QUJD"));
	assert_string_equal(c, "</v1/intents?status=READY&tenant_id=team%20a"
	    "%26b&limit=2&after=QUJD>; rel=\"next\"");
	free(c);
}

/* Paging with cv_intent_list_after visits the list once, in order. */
static void test_pages(void **state)
{
	struct pgtest_store *f = *state;
	char id[32];
	json_t *all, *page, *it;
	size_t seen = 0, i;
	struct cv_intent_key key;

	assert_int_equal(cv_store_begin(f->s), CV_OK);
	for (int n = 0; n < 57; n++) {
		snprintf(id, sizeof id, "pg-%02d", (n * 13) % 57);
		put(f->s, id, n % 2 ? "READY" : "MERGED", n % 4, NULL);
	}
	assert_int_equal(cv_store_commit(f->s), CV_OK);
	all = cv_intent_list(f->s, NULL, NULL, 200);
	assert_int_equal(json_array_size(all), 57);
	page = cv_intent_list_after(f->s, NULL, NULL, 10, NULL);
	while (json_array_size(page) > 0) {
		json_array_foreach(page, i, it)
			assert_string_equal(cv_json_str(it, "id", ""),
			    cv_json_str(json_array_get(all, seen + i), "id", "?"));
		seen += json_array_size(page);
		it = json_array_get(page, json_array_size(page) - 1);
		key.priority = cv_json_int(it, "priority", 0);
		key.created_at = cv_json_str(it, "created_at", "");
		key.id = cv_json_str(it, "id", "");
		json_t *next = cv_intent_list_after(f->s, NULL, NULL, 10, &key);
		json_decref(page);
		page = next;
	}
	json_decref(page);
	assert_int_equal(seen, 57);
	page = cv_intent_list_after(f->s, "READY", NULL, 5, NULL);
	assert_int_equal(json_array_size(page), 5);
	json_decref(page);
	json_decref(all);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_against_builder, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_serve, setup, teardown),
		cmocka_unit_test(test_cursor),
		cmocka_unit_test_setup_teardown(test_pages, setup, teardown),
	};
	const char *dsn = getenv("CONVERGE_TEST_PG_DSN");
	int failed = cmocka_run_group_tests_name("sqlite", tests, NULL, NULL);

	if (dsn && *dsn) {
		if (pgtest_schema(dsn, "cv_qs_test", pg_dsn, sizeof pg_dsn) != 0)
			return failed + 1;
		failed += cmocka_run_group_tests_name("postgres", tests, NULL,
		    NULL);
	}
	return failed;
}
