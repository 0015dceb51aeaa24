/*
 * db.h - the one SQL layer every store module speaks (private to lib/).
 *
 * SQL is written once with '?' placeholders and bound parameters (never
 * string interpolation of values); each backend translates what it must
 * (PostgreSQL numbers them $1..$n). Rows come back as jansson arrays:
 * TEXT -> string, INTEGER -> integer, REAL -> real, NULL -> null.
 *
 * `sql` must be a string literal (or otherwise live for the process): the
 * SQLite backend caches the prepared statement under that pointer.
 */
#ifndef CV_DB_H
#define CV_DB_H

#include <jansson.h>

#include "cv.h"
#include "store.h"

enum cv_param_type { CV_PT_NULL, CV_PT_TEXT, CV_PT_INT, CV_PT_REAL };

struct cv_param {
	enum cv_param_type type;
	const char *s;
	long long i;
	double d;
};

/* Parameter constructors; a NULL text binds SQL NULL. */
static inline struct cv_param cv_p_text(const char *v)
{
	return (struct cv_param){ v ? CV_PT_TEXT : CV_PT_NULL, v, 0, 0 };
}

static inline struct cv_param cv_p_int(long long v)
{
	return (struct cv_param){ CV_PT_INT, NULL, v, 0 };
}

#define CV_TEXT(v) cv_p_text(v)
#define CV_INT(v) cv_p_int(v)

/* Runs a statement that returns no rows. *changes (may be NULL) = rows
 * written. Writes outside cv_store_begin/commit are serialized with the
 * other writers of the database and commit on their own. */
enum cv_err cv_db_exec(struct cv_store *s, const char *sql,
    const struct cv_param *p, int np, long long *changes);

/* Runs a query; *rows = new array of row arrays (caller decrefs). */
enum cv_err cv_db_query(struct cv_store *s, const char *sql,
    const struct cv_param *p, int np, json_t **rows);

/* First column of the first row as integer (0 when no row). */
enum cv_err cv_db_scalar_int(struct cv_store *s, const char *sql,
    const struct cv_param *p, int np, long long *out);

/* The column that orders rows of a table by insertion ("rowid" in
 * SQLite); used for the event log's tie-break. */
const char *cv_db_append_order(const struct cv_store *s);

/* Parses JSON text from a row cell; {} / [] (per want_array) when the
 * cell is NULL, empty or not valid JSON. New reference. */
json_t *cv_db_json_cell(const json_t *cell, int want_array);

#endif
