/*
 * test_full_disk.c - a database that runs out of room, through nginx.
 *
 * The farm runs with CONVERGE_TEST_SQLITE_MAX_PAGES, which caps the SQLite
 * file the way a full file system would (SQLITE_FULL). The test fills the
 * database from its own connection with a filler table, then checks that
 *   - a webhook delivery gets 503 with Retry-After and is not recorded
 *     (no delivery row, no payload, no event);
 *   - reads keep working and /health/ready answers 503 "storage full";
 *   - once the filler is dropped (room returns) the same delivery is
 *     accepted as new, and readiness is back to 200;
 *   - no responder process died on the way.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#include "harness.h"

#define MAX_PAGES "3000"

static sqlite3 *open_db(void)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open_v2(farm_db_path(), &db,
	    SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	assert_int_equal(sqlite3_exec(db, "PRAGMA max_page_count = " MAX_PAGES,
	    NULL, NULL, NULL), SQLITE_OK);
	return db;
}

static long long count(sqlite3 *db, const char *sql, const char *arg)
{
	sqlite3_stmt *st;
	long long n = -1;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* Inserts blobs of shrinking size until not even one page fits. */
static void fill(sqlite3 *db)
{
	sqlite3_stmt *st;
	int size = 256 * 1024, rc;

	assert_int_equal(sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS "
	    "test_filler (b BLOB)", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO test_filler (b)"
	    " VALUES (zeroblob(?))", -1, &st, NULL), SQLITE_OK);
	while (size >= 64) {
		sqlite3_bind_int(st, 1, size);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc == SQLITE_FULL)
			size /= 2;
		else
			assert_int_equal(rc, SQLITE_DONE);
	}
	sqlite3_finalize(st);
}

/* A signed-free (development mode) ping carrying kilobytes of padding,
 * so that its payload needs fresh pages. */
static void deliver(const char *id, struct http_resp *r)
{
	char hdr[128];
	const char *hdrs[] = { "Content-Type: application/json",
	    "X-GitHub-Event: ping", hdr, NULL };
	size_t pad = 48 * 1024;
	char *body = malloc(pad + 64);

	assert_non_null(body);
	snprintf(hdr, sizeof hdr, "X-GitHub-Delivery: %s", id);
	int n = snprintf(body, 64, "{\"zen\":\"full\",\"padding\":\"");
	memset(body + n, 'p', pad);
	strcpy(body + n + pad, "\"}");
	assert_int_equal(http_request("POST", "/integrations/github/webhook",
	    hdrs, body, strlen(body), r), 0);
	free(body);
}

static void expect_status(const char *path, long status)
{
	struct http_resp r;

	assert_int_equal(http_request("GET", path, NULL, NULL, 0, &r), 0);
	if (r.status != status)
		fail_msg("GET %s: %ld %s, want %ld", path, r.status, r.body,
		    status);
	http_resp_free(&r);
}

/* No responder exited: the supervisors log every restart. */
static void expect_no_restart(void)
{
	char pattern[512], line[4096];
	glob_t g;

	snprintf(pattern, sizeof pattern, "%s/log/*.log", farm_var_dir());
	assert_int_equal(glob(pattern, 0, NULL, &g), 0);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		FILE *f = fopen(g.gl_pathv[i], "r");
		while (f && fgets(line, sizeof line, f))
			if (strstr(line, "exited (status"))
				fail_msg("%s: %s", g.gl_pathv[i], line);
		if (f)
			fclose(f);
	}
	globfree(&g);
}

static void test_full_then_room(void **state)
{
	const char *id = "full-disk-1";
	struct http_resp r;
	char *retry;
	sqlite3 *db;

	(void)state;
	deliver("before-full", &r);
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	db = open_db();
	fill(db);

	deliver(id, &r);
	if (r.status != 503)
		fail_msg("delivery on a full database: %ld %s", r.status, r.body);
	retry = http_resp_header(&r, "Retry-After");
	assert_non_null(retry);
	assert_true(atoi(retry) > 0);
	free(retry);
	assert_string_equal(json_string_value(json_object_get(r.json, "error")),
	    "Storage full, retry later");
	http_resp_free(&r);
	/* not acknowledged, so nothing of it may be kept */
	assert_int_equal(count(db, "SELECT COUNT(*) FROM webhook_deliveries "
	    "WHERE delivery_id = ?", id), 0);
	assert_int_equal(count(db, "SELECT COUNT(*) FROM webhook_payloads "
	    "WHERE delivery_id = ?", id), 0);

	/* reads keep working; readiness says why it is not ready */
	expect_status("/v1/intents", 200);
	expect_status("/health/live", 200);
	assert_int_equal(http_request("GET", "/health/ready", NULL, NULL, 0, &r),
	    0);
	assert_int_equal(r.status, 503);
	assert_string_equal(json_string_value(json_object_get(r.json, "status")),
	    "unavailable");
	assert_string_equal(json_string_value(json_object_get(r.json, "error")),
	    "storage full");
	http_resp_free(&r);
	/* a second attempt while full: still a clean 503 */
	deliver(id, &r);
	assert_int_equal(r.status, 503);
	http_resp_free(&r);

	/* room returns: the operator deleted data */
	assert_int_equal(sqlite3_exec(db, "DROP TABLE test_filler", NULL, NULL,
	    NULL), SQLITE_OK);
	expect_status("/health/ready", 200);
	deliver(id, &r);
	if (r.status != 200)
		fail_msg("delivery after room returned: %ld %s", r.status,
		    r.body);
	assert_true(json_object_get(r.json, "duplicate") == NULL ||
	    !json_is_true(json_object_get(r.json, "duplicate")));
	http_resp_free(&r);
	assert_int_equal(count(db, "SELECT COUNT(*) FROM webhook_deliveries "
	    "WHERE delivery_id = ?", id), 1);
	sqlite3_close(db);
	expect_no_restart();
}

static int farm_up(void **state)
{
	const char *env[] = { "CONVERGE_AUTH_REQUIRED=0",
	    "CONVERGE_GITHUB_WEBHOOK_SECRET=",
	    "CONVERGE_TEST_SQLITE_MAX_PAGES=" MAX_PAGES, NULL };

	(void)state;
	return farm_start(env) == 0 ? 0 : -1;
}

int main(void)
{
	if (!farm_available())
		return 77;	/* automake: skipped */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_then_room),
	};

	return cmocka_run_group_tests_name("full_disk", tests, farm_up,
	    farm_teardown);
}
