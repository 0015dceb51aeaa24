/*
 * test_health_http.c - the farm end to end: readiness following the store
 * (http-api.md §6), and scripts/down leaving no process behind.  The
 * probes, 404/405 and body caps are test_smoke.c's, through every front.
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
#include "itutil.h"


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

/* The probes, the JSON 404/405 and the body caps' JSON 413 through nginx
 * are the smoke suite's (test_smoke.c, run through every front). */

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

/*
 * The var dir is moved away under a running farm (as a cleanup removing it
 * would): nginx answers its JSON 502 (the sockets' names are gone), and
 * scripts/down, without any pid file, still stops every process of the
 * farm (farm_stop checks command lines and environments too).
 */
static void test_down_after_var_vanished(void **state)
{
	char gone[512];
	struct http_resp r;

	(void)state;
	assert_int_equal(farm_start(NULL), 0);
	snprintf(gone, sizeof gone, "%s.gone", farm_var_dir());
	assert_int_equal(rename(farm_var_dir(), gone), 0);
	assert_int_equal(http_request("GET", "/health", NULL, NULL, 0, &r), 0);
	assert_int_equal(r.status, 502);
	assert_non_null(r.json);
	assert_string_equal(json_string_value(json_object_get(r.json, "error")),
	    "Bad gateway");
	http_resp_free(&r);
	assert_int_equal(farm_stop(), 0);
	it_remove_tree(gone);
}

static int farm_up(void **state)
{
	(void)state;
	return farm_start(NULL) == 0 ? 0 : -1;
}

int main(void)
{
	if (!farm_available())
		return 77;	/* automake: skipped */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ready_follows_store),
		cmocka_unit_test(test_down_leaves_nothing),
		cmocka_unit_test_teardown(test_down_after_var_vanished,
		    farm_teardown),
	};

	return cmocka_run_group_tests_name("health_http", tests, farm_up, farm_teardown);
}
