/*
 * test_store_full.c - a SQLite store at its size limit
 * (CONVERGE_TEST_SQLITE_MAX_PAGES): writes fail with CV_EFULL and keep
 * nothing, the reason survives the rollback, cv_store_room says so, reads
 * keep working, and writes work again once room returns.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "store.h"

static char dir[] = "/tmp/cv-full-XXXXXX";
static char path[64];

static struct cv_store *open_capped(const char *pages)
{
	struct cv_store_options o = { CV_BACKEND_SQLITE, path, NULL, 0 };
	struct cv_store *s = NULL;

	setenv("CONVERGE_TEST_SQLITE_MAX_PAGES", pages, 1);
	assert_int_equal(cv_store_open(&o, &s, NULL), CV_OK);
	unsetenv("CONVERGE_TEST_SQLITE_MAX_PAGES");
	return s;
}

/* Inserts 16 KiB rows until one does not fit. */
static enum cv_err fill(struct cv_store *s, int *rows)
{
	enum cv_err err = CV_OK;

	for (*rows = 0; *rows < 100000 && err == CV_OK; (*rows)++)
		err = cv_db_exec(s, "INSERT INTO test_fill (b) VALUES "
		    "(zeroblob(16384))", NULL, 0, NULL);
	return err;
}

static void test_full(void **state)
{
	struct cv_store *s;
	long long n = -1;
	int rows;

	(void)state;
	s = open_capped("400");
	assert_int_equal(cv_db_exec(s, "CREATE TABLE IF NOT EXISTS test_fill "
	    "(b BLOB)", NULL, 0, NULL), CV_OK);
	assert_int_equal(cv_store_room(s), CV_OK);
	assert_int_equal(fill(s, &rows), CV_EFULL);
	assert_true(cv_store_full(s));
	assert_int_equal(cv_store_room(s), CV_EFULL);
	assert_non_null(strstr(cv_store_errmsg(s), "size limit"));

	/* in a transaction: SQLite rolls back itself; ours keeps the reason */
	assert_int_equal(cv_db_scalar_int(s, "SELECT COUNT(*) FROM test_fill",
	    NULL, 0, &n), CV_OK);
	assert_int_equal(cv_store_begin(s), CV_OK);
	assert_int_equal(cv_db_exec(s, "INSERT INTO test_fill (b) VALUES "
	    "(zeroblob(1))", NULL, 0, NULL), CV_OK);
	assert_int_equal(fill(s, &rows), CV_EFULL);
	cv_store_rollback(s);
	assert_true(cv_store_full(s));
	assert_null(strstr(cv_store_errmsg(s), "cannot rollback"));
	long long after = -1;
	assert_int_equal(cv_db_scalar_int(s, "SELECT COUNT(*) FROM test_fill",
	    NULL, 0, &after), CV_OK);
	assert_int_equal(after, n);   /* nothing of the transaction kept */

	/* a new request forgets; another error is not "full" */
	cv_store_forget_error(s);
	assert_false(cv_store_full(s));
	assert_int_not_equal(cv_db_exec(s, "INSERT INTO no_such_table "
	    "VALUES (1)", NULL, 0, NULL), CV_OK);
	assert_false(cv_store_full(s));

	/* room returns */
	assert_int_equal(cv_db_exec(s, "DELETE FROM test_fill", NULL, 0, NULL),
	    CV_OK);
	assert_int_equal(cv_store_room(s), CV_OK);
	assert_int_equal(cv_db_exec(s, "INSERT INTO test_fill (b) VALUES "
	    "(zeroblob(16384))", NULL, 0, NULL), CV_OK);
	cv_store_close(s);
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof path, "%s/state.db", dir);
	return 0;
}

static int teardown(void **state)
{
	static const char *const sfx[] = { "", "-wal", "-shm", ".lock" };
	char p[96];

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		snprintf(p, sizeof p, "%s%s", path, sfx[i]);
		unlink(p);
	}
	rmdir(dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
	};

	return cmocka_run_group_tests_name("store_full", tests, setup, teardown);
}
