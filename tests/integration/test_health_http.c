/*
 * test_health_http.c - the farm end to end: nginx routing, the health
 * responder's probes (http-api.md §6), the JSON 404/405 (§1, §10), body
 * caps and their JSON 413 (§1), readiness following the store, and
 * scripts/down leaving no process behind.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#include "harness.h"

#define MIB (1024 * 1024)

/* A ts is exactly "YYYY-MM-DDTHH:MM:SS.ffffff+00:00" (http-api.md preamble). */
static int is_ts(const char *s)
{
	static const char form[] = "dddd-dd-ddTdd:dd:dd.dddddd+00:00";

	if (s == NULL || strlen(s) != sizeof form - 1)
		return 0;
	for (size_t i = 0; form[i]; i++) {
		if (form[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != form[i])
			return 0;
	}
	return 1;
}

static void assert_json_type(const struct http_resp *r)
{
	char *type = http_resp_header(r, "Content-Type");

	assert_non_null(type);
	assert_true(strncmp(type, "application/json", 16) == 0);
	free(type);
}

/* The response body without its "timestamp" (checked to be a ts). */
static json_t *body_without_ts(const struct http_resp *r)
{
	json_t *copy;

	assert_non_null(r->json);
	assert_true(is_ts(json_string_value(json_object_get(r->json, "timestamp"))));
	copy = json_deep_copy(r->json);
	json_object_del(copy, "timestamp");
	return copy;
}

struct route_row {
	const char *method;
	const char *path;
	long status;
	const char *body;	/* expected JSON object */
	int exact;		/* body must equal it, else contain its keys */
	int has_ts;		/* plus a ts "timestamp" key */
	const char *allow;	/* an Allow header naming this method */
};

static const struct route_row routes[] = {
	{ "GET", "/health", 200, "{\"status\":\"ok\"}", 1, 1, NULL },
	{ "GET", "/health/live", 200, "{\"status\":\"ok\"}", 1, 0, NULL },
	{ "GET", "/health/ready", 200, "{\"status\":\"ok\"}", 1, 1, NULL },
	{ "GET", "/no/such/route", 404,
	  "{\"detail\":\"Not Found\",\"error\":\"Not Found\"}", 1, 0, NULL },
	{ "GET", "/v1/no-such-route", 404,
	  "{\"detail\":\"Not Found\",\"error\":\"Not Found\"}", 1, 0, NULL },
	{ "GET", "/api/no-such-route", 404,
	  "{\"detail\":\"Not Found\",\"error\":\"Not Found\"}", 1, 0, NULL },
	{ "POST", "/health", 405, "{\"detail\":\"Method Not Allowed\"}", 0, 0, "GET" },
	{ "DELETE", "/health/live", 405, "{\"detail\":\"Method Not Allowed\"}", 0, 0, "GET" },
};

static void check_body(const struct route_row *row, const struct http_resp *r)
{
	json_t *want = json_loads(row->body, 0, NULL), *got;
	const char *key;
	json_t *v;

	assert_non_null(want);
	got = row->has_ts ? body_without_ts(r) : json_incref(r->json);
	assert_non_null(got);
	if (row->exact) {
		assert_true(json_equal(got, want));
	} else {
		json_object_foreach(want, key, v)
			assert_true(json_equal(json_object_get(got, key), v));
	}
	json_decref(got);
	json_decref(want);
}

static void test_routes(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		const struct route_row *row = &routes[i];
		struct http_resp r;
		char *allow;

		print_message("%s %s\n", row->method, row->path);
		assert_int_equal(http_request(row->method, row->path, NULL, NULL, 0, &r), 0);
		assert_int_equal(r.status, row->status);
		assert_json_type(&r);
		check_body(row, &r);
		if (row->allow) {
			allow = http_resp_header(&r, "Allow");
			assert_non_null(allow);
			assert_non_null(strstr(allow, row->allow));
			free(allow);
		}
		http_resp_free(&r);
	}
}

struct cap_row {
	const char *path;
	size_t size;
	int too_large;		/* nginx must refuse it with the JSON 413 */
};

static const struct cap_row caps[] = {
	{ "/v1/intents", 2 * MIB, 1 },
	{ "/api/intents", 2 * MIB, 1 },
	{ "/v1/agent/policy", 2 * MIB, 1 },
	{ "/integrations/github/webhook", 26 * MIB, 1 },
	{ "/integrations/github/webhook", 2 * MIB, 0 },
};

static void test_body_caps(void **state)
{
	const char *hdrs[] = { "Content-Type: application/json", NULL };
	char *body = malloc(26 * MIB);

	(void)state;
	assert_non_null(body);
	memset(body, ' ', 26 * MIB);
	for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
		struct http_resp r;
		json_t *want;

		print_message("POST %s, %zu bytes\n", caps[i].path, caps[i].size);
		assert_int_equal(http_request("POST", caps[i].path, hdrs, body,
		    caps[i].size, &r), 0);
		if (!caps[i].too_large) {
			assert_true(r.status != 413);
			http_resp_free(&r);
			continue;
		}
		assert_int_equal(r.status, 413);
		assert_json_type(&r);
		want = json_pack("{s:s}", "error", "Request body too large");
		assert_true(json_equal(r.json, want));
		json_decref(want);
		http_resp_free(&r);
	}
	free(body);
}

static void exec_sql(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err ? err : "?");
	sqlite3_free(err);
}

/* Saves the DDL of table events and its indexes/triggers, table first. */
static json_t *events_ddl(sqlite3 *db)
{
	json_t *ddl = json_array();
	sqlite3_stmt *st;

	assert_int_equal(sqlite3_prepare_v2(db,
	    "SELECT sql FROM sqlite_master WHERE tbl_name = 'events'"
	    " AND sql IS NOT NULL ORDER BY type <> 'table'", -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(ddl,
		    json_string((const char *)sqlite3_column_text(st, 0)));
	sqlite3_finalize(st);
	assert_true(json_array_size(ddl) > 0);
	return ddl;
}

static void expect_ready(long status)
{
	struct http_resp r;
	json_t *rest, *want;

	assert_int_equal(http_request("GET", "/health/ready", NULL, NULL, 0, &r), 0);
	assert_int_equal(r.status, status);
	assert_json_type(&r);
	rest = body_without_ts(&r);
	if (status == 200) {
		want = json_pack("{s:s}", "status", "ok");
		assert_true(json_equal(rest, want));
		json_decref(want);
	} else {
		assert_string_equal(json_string_value(json_object_get(rest, "status")),
		    "unavailable");
		assert_non_null(json_string_value(json_object_get(rest, "error")));
		assert_int_equal(json_object_size(rest), 2);
	}
	json_decref(rest);
	http_resp_free(&r);
}

/*
 * The responder opens the DB once and keeps it, so the store is broken
 * under it: table events is dropped from another connection, which the
 * responder's next statement sees.  Then the DDL is put back.
 */
static void test_ready_follows_store(void **state)
{
	sqlite3 *db;
	json_t *ddl, *sql;
	size_t i;

	(void)state;
	expect_ready(200);
	assert_int_equal(sqlite3_open_v2(farm_db_path(), &db, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	ddl = events_ddl(db);
	exec_sql(db, "DROP TABLE events");
	expect_ready(503);
	expect_ready(503);
	json_array_foreach(ddl, i, sql)
		exec_sql(db, json_string_value(sql));
	expect_ready(200);
	json_decref(ddl);
	sqlite3_close(db);
}

/* Last: scripts/down must stop everything (farm_stop checks every pid,
 * process group, command line and environment). */
static void test_down_leaves_nothing(void **state)
{
	(void)state;
	assert_int_equal(farm_stop(), 0);
}

static int farm_up(void **state)
{
	(void)state;
	return farm_start(NULL) == 0 ? 0 : -1;
}

static int farm_down(void **state)
{
	(void)state;
	return farm_stop();
}

int main(void)
{
	if (!farm_available())
		return 77;	/* automake: skipped */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_body_caps),
		cmocka_unit_test(test_ready_follows_store),
		cmocka_unit_test(test_down_leaves_nothing),
	};

	return cmocka_run_group_tests_name("health_http", tests, farm_up, farm_down);
}
