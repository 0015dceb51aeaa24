/*
 * store_pg.c - the PostgreSQL backend: one connection per process,
 * statements prepared once per connection, the same SQL as SQLite with
 * '?N' placeholders numbered to '$N'.
 *
 * Reconnect rule (operations.md 8.3): a statement that fails because the
 * connection is gone is retried once on a fresh connection, unless it ran
 * inside a transaction (then the caller's transaction is lost and the
 * error is reported).
 */
#include <ctype.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "store_impl.h"

#define PG_CACHE 128
#define OID_BOOL 16
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_TEXT 25
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_NUMERIC 1700

struct pg_stmt {
	const char *sql;
	char name[16];
};

struct pg_backend {
	PGconn *conn;
	char listening[64];        /* channel to re-LISTEN after a reconnect */
	char *dsn;
	struct pg_stmt cache[PG_CACHE];
	int ncache;
	int next_name;
};

static struct pg_backend *be(struct cv_store *s)
{
	return s->backend;
}

/* SQLSTATE 53100 disk_full: the server has no room for the write; the
 * HTTP layer answers 503 with Retry-After rather than 500. */
static bool disk_full(PGresult *r)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	return state && strcmp(state, "53100") == 0;
}

static enum cv_err fail(struct cv_store *s, const char *what, PGresult *r)
{
	const char *msg = r ? PQresultErrorMessage(r) : NULL;

	s->full = disk_full(r);

	if (!msg || !*msg)
		msg = PQerrorMessage(be(s)->conn);
	snprintf(s->errmsg, sizeof s->errmsg, "%s: %s", what, msg);
	/* strip libpq's trailing newline */
	size_t n = strlen(s->errmsg);
	while (n > 0 && isspace((unsigned char)s->errmsg[n - 1]))
		s->errmsg[--n] = '\0';
	return s->full ? CV_EFULL : CV_ESTORE;
}

/* '?N' and bare '?' become '$N'; rowid becomes ctid (the append order of
 * a heap table that is never updated). Caller frees. */
static char *translate(const char *sql)
{
	size_t n = strlen(sql);
	char *out = malloc(n * 2 + 16), *o = out;
	int next = 1;

	if (!out)
		return NULL;
	for (const char *p = sql; *p;) {
		if (*p == '?') {
			p++;
			if (isdigit((unsigned char)*p)) {
				*o++ = '$';
				while (isdigit((unsigned char)*p))
					*o++ = *p++;
			} else
				o += sprintf(o, "$%d", next++);
			continue;
		}
		if (strncmp(p, "rowid", 5) == 0 && (p == sql ||
		    !isalnum((unsigned char)p[-1])) && !isalnum((unsigned char)
		    p[5]) && p[5] != '_') {
			memcpy(o, "ctid", 4);
			o += 4;
			p += 5;
			continue;
		}
		*o++ = *p++;
	}
	*o = '\0';
	return out;
}

static void listen_again(struct pg_backend *b);

/* After PQreset the server forgot our prepared statements and LISTENs. */
static void forget_statements(struct pg_backend *b)
{
	b->ncache = 0;
	listen_again(b);
}

static const char *prepare(struct cv_store *s, const char *sql,
    const struct cv_param *p, int np)
{
	struct pg_backend *b = be(s);
	Oid types[32];
	char *text;
	PGresult *r;

	for (int i = 0; i < b->ncache; i++)
		if (b->cache[i].sql == sql)
			return b->cache[i].name;
	if (b->ncache >= PG_CACHE || np > 32)
		return NULL;
	for (int i = 0; i < np; i++)
		types[i] = p[i].type == CV_PT_INT ? OID_INT8 :
		    p[i].type == CV_PT_REAL ? OID_FLOAT8 : OID_TEXT;
	if (!(text = translate(sql)))
		return NULL;
	struct pg_stmt *st = &b->cache[b->ncache];
	snprintf(st->name, sizeof st->name, "cv%d", b->next_name++);
	r = PQprepare(b->conn, st->name, text, np, types);
	free(text);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		fail(s, "prepare", r);
		PQclear(r);
		return NULL;
	}
	PQclear(r);
	st->sql = sql;
	b->ncache++;
	return st->name;
}

static json_t *cell(PGresult *r, int row, int col)
{
	const char *v;

	if (PQgetisnull(r, row, col))
		return json_null();
	v = PQgetvalue(r, row, col);
	switch (PQftype(r, col)) {
	case OID_INT2: case OID_INT4: case OID_INT8:
		return json_integer(strtoll(v, NULL, 10));
	case OID_FLOAT4: case OID_FLOAT8: case OID_NUMERIC:
		return json_real(strtod(v, NULL));
	case OID_BOOL:
		return json_boolean(*v == 't');
	}
	return cv_json_stored_text(v, strlen(v));
}

/* The rows of r appended to rows; CV_ENOMEM when any part could not be
 * allocated (a row with a value missing would be read as another row). */
static enum cv_err rows_append(PGresult *r, json_t *rows)
{
	for (int i = 0; i < PQntuples(r); i++) {
		json_t *row = json_array();

		if (!row || json_array_append_new(rows, row) != 0)
			return CV_ENOMEM;
		for (int c = 0; c < PQnfields(r); c++)
			if (json_array_append_new(row, cell(r, i, c)) != 0)
				return CV_ENOMEM;
	}
	return CV_OK;
}

static PGresult *execute(struct cv_store *s, const char *sql,
    const struct cv_param *p, int np)
{
	char nums[32][32];
	const char *values[32];
	const char *name;

	if (np > 32)
		return NULL;
	for (int i = 0; i < np; i++) {
		switch (p[i].type) {
		case CV_PT_NULL:
			values[i] = NULL;
			break;
		case CV_PT_TEXT:
			values[i] = p[i].s;
			break;
		case CV_PT_INT:
			snprintf(nums[i], sizeof nums[i], "%lld", p[i].i);
			values[i] = nums[i];
			break;
		case CV_PT_REAL:
			snprintf(nums[i], sizeof nums[i], "%.17g", p[i].d);
			values[i] = nums[i];
			break;
		}
	}
	if (!(name = prepare(s, sql, p, np)))
		return NULL;
	return PQexecPrepared(be(s)->conn, name, np, values, NULL, NULL, 0);
}

static enum cv_err run(struct cv_store *s, const char *sql,
    const struct cv_param *p, int np, json_t *rows, long long *changes)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		PGresult *r = execute(s, sql, p, np);
		ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
		if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
			enum cv_err err = rows ? rows_append(r, rows) : CV_OK;
			if (err != CV_OK)
				snprintf(s->errmsg, sizeof s->errmsg,
				    "row: out of memory");
			if (changes)
				*changes = strtoll(PQcmdTuples(r), NULL, 10);
			PQclear(r);
			return err;
		}
		const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) :
		    NULL;
		enum cv_err err = fail(s, "statement", r);
		if (state && strcmp(state, "23505") == 0)
			err = CV_EEXIST;
		PQclear(r);
		if (PQstatus(be(s)->conn) != CONNECTION_BAD || s->in_tx ||
		    attempt > 0)
			return err;
		PQreset(be(s)->conn);
		forget_statements(be(s));
		if (PQstatus(be(s)->conn) != CONNECTION_OK)
			return CV_ESTORE;
	}
	return CV_ESTORE;
}

static enum cv_err pg_exec(struct cv_store *s, const char *sql,
    const struct cv_param *p, int np, long long *changes)
{
	return run(s, sql, p, np, NULL, changes);
}

static enum cv_err pg_query(struct cv_store *s, const char *sql,
    const struct cv_param *p, int np, json_t **rows)
{
	json_t *r = json_array();
	enum cv_err err;

	if (!r)
		return CV_ENOMEM;
	if ((err = run(s, sql, p, np, r, NULL)) != CV_OK) {
		json_decref(r);
		return err;
	}
	*rows = r;
	return CV_OK;
}

static enum cv_err plain(struct cv_store *s, const char *sql)
{
	PGresult *r = PQexec(be(s)->conn, sql);
	enum cv_err err = CV_OK;

	if (PQresultStatus(r) != PGRES_COMMAND_OK &&
	    PQresultStatus(r) != PGRES_TUPLES_OK)
		err = fail(s, sql, r);
	PQclear(r);
	return err;
}

static enum cv_err pg_begin(struct cv_store *s)
{
	if (PQstatus(be(s)->conn) == CONNECTION_BAD) {
		PQreset(be(s)->conn);
		forget_statements(be(s));
	}
	enum cv_err err = plain(s, "BEGIN");
	if (err != CV_OK)
		return err;
	s->in_tx = 1;
	return CV_OK;
}

static enum cv_err pg_commit(struct cv_store *s)
{
	enum cv_err err = plain(s, "COMMIT");

	s->in_tx = 0;
	return err;
}

static void pg_rollback(struct cv_store *s)
{
	if (!s->in_tx)
		return;
	plain(s, "ROLLBACK");
	s->in_tx = 0;
}

static void pg_close(struct cv_store *s)
{
	struct pg_backend *b = be(s);

	if (!b)
		return;
	PQfinish(b->conn);
	free(b->dsn);
	free(b);
	s->backend = NULL;
}

static void listen_again(struct pg_backend *b)
{
	char sql[96];
	PGresult *r;

	if (!b->listening[0] || PQstatus(b->conn) != CONNECTION_OK)
		return;
	/* The channel name is one of our own identifiers, never input. */
	snprintf(sql, sizeof sql, "LISTEN %s", b->listening);
	r = PQexec(b->conn, sql);
	PQclear(r);
}

static enum cv_err pg_listen(struct cv_store *s, const char *channel)
{
	struct pg_backend *b = be(s);

	for (const char *c = channel; *c; c++)
		if (!(islower((unsigned char)*c) || *c == '_'))
			return CV_EINVAL;
	snprintf(b->listening, sizeof b->listening, "%s", channel);
	listen_again(b);
	return PQstatus(b->conn) == CONNECTION_OK ? CV_OK : CV_ESTORE;
}

static int pg_notify_fd(struct cv_store *s)
{
	return be(s)->listening[0] ? PQsocket(be(s)->conn) : -1;
}

static int pg_notifications(struct cv_store *s)
{
	PGnotify *n;
	int count = 0;

	if (!PQconsumeInput(be(s)->conn)) {
		/* The connection dropped; the next statement reconnects. */
		return 0;
	}
	while ((n = PQnotifies(be(s)->conn))) {
		PQfreemem(n);
		count++;
	}
	return count;
}

static const struct cv_store_ops pg_ops = {
	pg_exec, pg_query, pg_begin, pg_commit, pg_rollback, pg_close, "ctid",
	pg_listen, pg_notify_fd, pg_notifications, NULL, NULL
};

/* Concurrent first starts of several processes would race on CREATE
 * TABLE IF NOT EXISTS (catalog unique violations), so the schema is
 * applied under an advisory lock. */
static enum cv_err migrate(struct cv_store *s)
{
	enum cv_err err;
	char sql[160];

	if ((err = plain(s, "SELECT pg_advisory_lock(72620261)")) != CV_OK)
		return err;
	err = plain(s, "CREATE TABLE IF NOT EXISTS schema_migrations ("
	    " version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)");
	for (int m = 0; err == CV_OK && m < cv_migration_count; m++) {
		for (const char *const *q = cv_migrations[m].statements;
		    err == CV_OK && *q; q++)
			err = plain(s, *q);
		snprintf(sql, sizeof sql, "INSERT INTO schema_migrations VALUES"
		    " (%d, NOW()::TEXT) ON CONFLICT DO NOTHING",
		    cv_migrations[m].version);
		if (err == CV_OK)
			err = plain(s, sql);
	}
	plain(s, "SELECT pg_advisory_unlock(72620261)");
	return err;
}

enum cv_err cv_pg_open(const struct cv_store_options *opt,
    struct cv_store *s)
{
	struct pg_backend *b = calloc(1, sizeof *b);

	if (!b)
		return CV_ENOMEM;
	s->backend = b;
	s->ops = &pg_ops;
	b->dsn = strdup(opt->pg_dsn ? opt->pg_dsn : "");
	b->conn = PQconnectdb(b->dsn ? b->dsn : "");
	if (!b->conn || PQstatus(b->conn) != CONNECTION_OK) {
		/* libpq's message never contains the password. */
		snprintf(s->errmsg, sizeof s->errmsg, "PostgreSQL connection "
		    "failed: %s", b->conn ? PQerrorMessage(b->conn) : "no memory");
		return CV_ESTORE;
	}
	plain(s, "SET client_min_messages = warning");
	return migrate(s);
}
