/*
 * pgtest.h - unit tests whose SQL cases run on SQLite and, with
 * CONVERGE_TEST_PG_DSN (scripts/pg-scratch), on PostgreSQL too: each test
 * program in a schema of its own, so that the store tests' table drops on
 * the same server cannot race it.  static inline: include it once.
 */
#ifndef CV_TEST_PGTEST_H
#define CV_TEST_PGTEST_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "db.h"
#include "store.h"

/* One attempt of pgtest_schema_sql; *why: the server's reason. */
static inline int pgtest_schema_once(const char *dsn, const char *drop,
    const char *create, char *why, size_t size)
{
	struct cv_store_options o = { CV_BACKEND_POSTGRES, NULL, dsn, 0 };
	struct cv_store *s;
	char *msg = NULL;
	enum cv_err e;

	if (cv_store_open(&o, &s, &msg) != CV_OK) {
		snprintf(why, size, "open: %s", msg ? msg : "?");
		free(msg);
		return -1;
	}
	e = cv_db_exec(s, drop, NULL, 0, NULL);
	if (e == CV_OK)
		e = cv_db_exec(s, create, NULL, 0, NULL);
	snprintf(why, size, "%s", cv_store_errmsg(s));
	cv_store_close(s);
	return e == CV_OK ? 0 : -1;
}

/* pgtest_schema()'s work; drop and create are its two statements. The
 * store's migrations run in the public schema, where other test programs
 * on the same server drop tables meanwhile: a refusal is tried again, and
 * said on stderr when it stays. */
static inline int pgtest_schema_sql(const char *dsn, const char *drop,
    const char *create, const char *schema, char *out, size_t size)
{
	char why[512] = "";
	int rc = -1;

	for (int attempt = 0; attempt < 5 && rc != 0; attempt++) {
		if (attempt)
			usleep(200 * 1000);
		rc = pgtest_schema_once(dsn, drop, create, why, sizeof why);
	}
	if (rc != 0)
		fprintf(stderr, "pgtest: schema %s on %s: %s\n", schema, dsn, why);
	snprintf(out, size, "%s options='-c search_path=%s'", dsn, schema);
	return rc;
}

/*
 * Drops and recreates the schema named by the string literal `schema` on
 * the server of dsn and writes into out (size bytes) a DSN whose
 * search_path is that schema.  Returns 0, or -1 when the server refused.
 * A macro because cv_db_exec() wants SQL that lives for the process.
 */
#define pgtest_schema(dsn, schema, out, size) \
	pgtest_schema_sql((dsn), "DROP SCHEMA IF EXISTS " schema " CASCADE", \
	    "CREATE SCHEMA " schema, (schema), (out), (size))

/* Options for the SQLite file at path, or for pg_dsn when it is not "". */
static inline struct cv_store_options pgtest_store_opts(const char *path,
    const char *pg_dsn)
{
	struct cv_store_options o = { CV_BACKEND_SQLITE, path, NULL, 0 };

	if (pg_dsn[0]) {
		o.backend = CV_BACKEND_POSTGRES;
		o.sqlite_path = NULL;
		o.pg_dsn = pg_dsn;
	}
	return o;
}

/* A store for one test: a SQLite file in a fresh /tmp directory, or the
 * schema of pg_dsn when that is not "". */
struct pgtest_store {
	char dir[64];
	char path[128];		/* the SQLite file (unused on PostgreSQL) */
	struct cv_store *s;
};

/* Opens a new one (caller frees with pgtest_store_free); NULL on failure. */
static inline struct pgtest_store *pgtest_store_new(const char *pg_dsn)
{
	struct pgtest_store *t = calloc(1, sizeof *t);
	struct cv_store_options o;

	if (!t)
		return NULL;
	snprintf(t->dir, sizeof t->dir, "/tmp/cv-pgt-XXXXXX");
	if (!mkdtemp(t->dir)) {
		free(t);
		return NULL;
	}
	snprintf(t->path, sizeof t->path, "%s/state.db", t->dir);
	o = pgtest_store_opts(t->path, pg_dsn);
	if (cv_store_open(&o, &t->s, NULL) != CV_OK) {
		rmdir(t->dir);
		free(t);
		return NULL;
	}
	return t;
}

/* Closes the store, removes its SQLite files and directory, frees t. */
static inline void pgtest_store_free(struct pgtest_store *t)
{
	static const char *const suffix[] = { "", "-wal", "-shm", ".lock" };
	char p[256];

	cv_store_close(t->s);
	for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
		snprintf(p, sizeof p, "%s%s", t->path, suffix[i]);
		unlink(p);
	}
	rmdir(t->dir);
	free(t);
}

#endif
