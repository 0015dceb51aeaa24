/*
 * farm_db.h - reading a number straight from the running farm's SQLite
 * file (harness.h farm_db_path()), for tests that check what a request
 * stored.  static inline: include it once, after cmocka.h; the program
 * links SQLite.
 */
#ifndef CV_FARM_DB_H
#define CV_FARM_DB_H

#include <stdarg.h>
#include <sqlite3.h>

#include "harness.h"

/*
 * The first column of the first row of sql, read-only, its ?s bound in
 * order to the text arguments that follow (NULL-terminated); -1 when there
 * is no row.  Fails the test when sql does not prepare.
 */
static inline long long farm_db_int(const char *sql, ...)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	long long v = -1;
	const char *p;
	va_list ap;
	int i = 1;

	assert_int_equal(sqlite3_open_v2(farm_db_path(), &db,
	    SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	va_start(ap, sql);
	while ((p = va_arg(ap, const char *)) != NULL)
		sqlite3_bind_text(st, i++, p, -1, SQLITE_TRANSIENT);
	va_end(ap);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

#endif
