/*
 * store_sqlite.c - the SQLite backend: one connection per process, WAL,
 * prepared statements cached for the life of the process.
 *
 * Writers are serialized with an exclusive flock on "<db>.lock" before
 * BEGIN IMMEDIATE: SQLite's own busy retry sleeps in steps of up to
 * 100 ms, which under a burst of writers shows as half-second latencies;
 * the kernel lock hands the database over as soon as it is free
 * (PERFORMANCE.md, "SQLite writers").
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "files.h"
#include "jsonx.h"
#include "sqlite_walbuf.h"
#include "store_impl.h"

#define STMT_CACHE 96

/* WAL checkpoints outside the writers' lock (docs/performance.md, "Where
 * a webhook's time goes"). SQLite's automatic checkpoint runs inside the
 * COMMIT that crosses its threshold, so the pages it copied and its two
 * fsyncs were paid while every other writer waited on the flock: about
 * half of the time a delivery held it. Instead, the wal hook notes the
 * WAL's size at each commit, and once WAL_CKPT_BYTES of frames have piled
 * up since this connection's last checkpoint, a PASSIVE checkpoint runs
 * after the flock is released, beside the next writers.
 *
 * SQLite starts the WAL over at a writer's first write only when every
 * frame has been copied back; a checkpoint that ran beside writers leaves
 * the frames they added. So once the WAL holds WAL_RESTART_BYTES, the
 * next transaction first finishes the copy inside the flock (only what
 * was written since the last checkpoint) and its write starts the WAL
 * over: it stays bounded under a steady stream of writes. */
#define WAL_CKPT_BYTES (4L << 20)
#define WAL_RESTART_BYTES (32L << 20)

/* A new database gets 2 KB pages, not SQLite's 4 KB (docs/performance.md,
 * "Smaller pages: less written per delivery"). A transaction writes each
 * page it changes whole, to the WAL and again when a checkpoint copies it
 * back, and a webhook delivery changes about twenty pages to add one small
 * index entry to most of them: with 4 KB pages the disk took ~100 KB per
 * delivery, and the farm slowed down as that traffic went on. An existing
 * database keeps its page size (changing it takes a VACUUM). */
#define NEW_DB_PAGE_SIZE "2048"

struct cached_stmt {
	const char *sql;
	sqlite3_stmt *stmt;
};

/* Below this much room a write is likely to fail: readiness says so. */
#define ROOM_MIN_BYTES (256 * 1024LL)
#define DISK_MIN_BYTES (1024 * 1024LL)

struct sqlite_backend {
	sqlite3 *db;
	char dir[PATH_MAX];        /* the directory of the database file */
	int lock_fd;
	int busy_ms;
	struct cached_stmt cache[STMT_CACHE];
	int ncache;
	int wal_frames;            /* the WAL's size after our last commit */
	int ckpt_done;             /* frames copied by our last checkpoint */
	int ckpt_frames;           /* WAL_CKPT_BYTES in this file's frames */
	int restart_frames;        /* WAL_RESTART_BYTES in frames */
	bool restart;              /* finish the copy before the next write */
};

static struct sqlite_backend *be(struct cv_store *s)
{
	return s->backend;
}

/* SQLITE_FULL (disk or max_page_count) and I/O errors (a write that the
 * file system refused) mean "no room": the caller may retry later. */
static bool no_room(int code)
{
	code &= 0xff;
	return code == SQLITE_FULL || code == SQLITE_IOERR;
}

static enum cv_err fail(struct cv_store *s, const char *what)
{
	sqlite3 *db = be(s)->db;

	snprintf(s->errmsg, sizeof s->errmsg, "%s: %s", what,
	    db ? sqlite3_errmsg(db) : "no database");
	s->full = db && no_room(sqlite3_extended_errcode(db));
	return s->full ? CV_EFULL : CV_ESTORE;
}

/* Short sleeps instead of SQLite's coarse back-off: the flock already
 * orders writers, so a busy database frees up within milliseconds. */
static int busy_handler(void *arg, int count)
{
	struct sqlite_backend *b = arg;

	if (count * 1 >= b->busy_ms)
		return 0;
	usleep(count < 10 ? 200 : 1000);
	return 1;
}

static sqlite3_stmt *prepare(struct cv_store *s, const char *sql)
{
	struct sqlite_backend *b = be(s);
	sqlite3_stmt *st = NULL;

	for (int i = 0; i < b->ncache; i++)
		if (b->cache[i].sql == sql)
			return b->cache[i].stmt;
	if (sqlite3_prepare_v2(b->db, sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	if (b->ncache < STMT_CACHE) {
		b->cache[b->ncache].sql = sql;
		b->cache[b->ncache++].stmt = st;
	}
	return st;
}

static void release(struct cv_store *s, sqlite3_stmt *st)
{
	struct sqlite_backend *b = be(s);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	for (int i = 0; i < b->ncache; i++)
		if (b->cache[i].stmt == st)
			return;
	sqlite3_finalize(st);
}

static int bind_all(sqlite3_stmt *st, const struct cv_param *p, int np)
{
	int rc = SQLITE_OK;

	for (int i = 0; i < np && rc == SQLITE_OK; i++) {
		switch (p[i].type) {
		case CV_PT_NULL:
			rc = sqlite3_bind_null(st, i + 1);
			break;
		case CV_PT_TEXT:
			/* Not copied: every value outlives the statement's run,
			 * and release() clears the bindings before returning. */
			rc = sqlite3_bind_text(st, i + 1, p[i].s, -1,
			    SQLITE_STATIC);
			break;
		case CV_PT_INT:
			rc = sqlite3_bind_int64(st, i + 1, p[i].i);
			break;
		case CV_PT_REAL:
			rc = sqlite3_bind_double(st, i + 1, p[i].d);
			break;
		}
	}
	return rc;
}

/* sqlite3_wal_hook: called after each commit with the WAL's frames. */
static int wal_noted(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct sqlite_backend *b = arg;

	(void)db;
	(void)name;
	if (frames < b->ckpt_done)
		b->ckpt_done = 0;  /* the WAL was started over */
	b->wal_frames = frames;
	return SQLITE_OK;
}

/* After the flock is released: a PASSIVE checkpoint once enough frames
 * piled up. It never waits for readers or writers; if another process is
 * checkpointing it returns at once. A failed checkpoint loses nothing,
 * the frames stay in the WAL for the next one. */
static void checkpoint_due(struct sqlite_backend *b)
{
	int log = 0, done = 0;

	if (b->wal_frames - b->ckpt_done < b->ckpt_frames)
		return;
	if (sqlite3_wal_checkpoint_v2(b->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
	    &log, &done) != SQLITE_OK)
		done = b->wal_frames;
	b->ckpt_done = done;
	b->restart = log >= b->restart_frames;
}

/* Inside the flock, before BEGIN: finish copying a long WAL, so that the
 * transaction's first write starts it over (see WAL_RESTART_BYTES). */
static void restart_wal(struct sqlite_backend *b)
{
	int log = 0, done = 0;

	if (!b->restart)
		return;
	b->restart = false;
	sqlite3_wal_checkpoint_v2(b->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log,
	    &done);
	b->ckpt_done = 0;
}

static int writer_lock(struct cv_store *s, int op)
{
	int fd = be(s)->lock_fd;

	if (fd < 0)
		return 0;
	while (flock(fd, op) != 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

/* The current row of st appended to rows as an array; CV_ENOMEM when
 * any part of it could not be allocated (a row with a value missing
 * would be read as another row). */
static enum cv_err row_append(sqlite3_stmt *st, json_t *rows)
{
	int n = sqlite3_column_count(st);
	json_t *row = json_array();

	if (!row || json_array_append_new(rows, row) != 0)
		return CV_ENOMEM;
	for (int i = 0; i < n; i++) {
		json_t *v;
		switch (sqlite3_column_type(st, i)) {
		case SQLITE_INTEGER:
			v = json_integer(sqlite3_column_int64(st, i));
			break;
		case SQLITE_FLOAT:
			v = json_real(sqlite3_column_double(st, i));
			break;
		case SQLITE_NULL:
			v = json_null();
			break;
		default:
			v = cv_json_stored_text((const char *)
			    sqlite3_column_text(st, i),
			    (size_t)sqlite3_column_bytes(st, i));
		}
		if (json_array_append_new(row, v) != 0)
			return CV_ENOMEM;
	}
	return CV_OK;
}

static enum cv_err run(struct cv_store *s, const char *sql,
    const struct cv_param *p, int np, json_t *rows, long long *changes)
{
	sqlite3_stmt *st = prepare(s, sql);
	enum cv_err err = CV_OK;
	int rc;

	if (!st)
		return fail(s, "prepare");
	/* A write outside a transaction (an INSERT ... RETURNING counts)
	 * takes the writers' lock like a transaction would: waiting on the
	 * flock wakes the moment it is free, SQLite's busy retry sleeps. */
	bool locked = !s->in_tx && !sqlite3_stmt_readonly(st);
	if (locked && writer_lock(s, LOCK_EX) != 0) {
		release(s, st);
		return fail(s, "flock");
	}
	if (bind_all(st, p, np) != SQLITE_OK) {
		release(s, st);
		if (locked)
			writer_lock(s, LOCK_UN);
		return fail(s, "bind");
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (rows && (err = row_append(st, rows)) != CV_OK)
			break;
	}
	if (err == CV_ENOMEM)
		snprintf(s->errmsg, sizeof s->errmsg, "row: out of memory");
	else if (rc != SQLITE_DONE)
		err = rc == SQLITE_CONSTRAINT ? CV_EEXIST : fail(s, "step");
	if (err == CV_EEXIST)
		fail(s, "constraint");
	if (changes)
		*changes = sqlite3_changes(be(s)->db);
	release(s, st);
	if (locked) {
		writer_lock(s, LOCK_UN);
		checkpoint_due(be(s));
	}
	return err;
}

static enum cv_err sq_exec(struct cv_store *s, const char *sql,
    const struct cv_param *p, int np, long long *changes)
{
	return run(s, sql, p, np, NULL, changes);
}

static enum cv_err sq_query(struct cv_store *s, const char *sql,
    const struct cv_param *p, int np, json_t **rows)
{
	enum cv_err err;
	json_t *r = json_array();

	if (!r)
		return CV_ENOMEM;
	err = run(s, sql, p, np, r, NULL);
	if (err != CV_OK) {
		json_decref(r);
		return err;
	}
	*rows = r;
	return CV_OK;
}

static enum cv_err plain(struct cv_store *s, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(be(s)->db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		snprintf(s->errmsg, sizeof s->errmsg, "%s: %s", sql,
		    msg ? msg : "error");
		sqlite3_free(msg);
		s->full = no_room(rc);
		return s->full ? CV_EFULL : CV_ESTORE;
	}
	return CV_OK;
}

/* Transaction control as cached statements: through sqlite3_exec each
 * BEGIN and COMMIT was parsed and prepared again, inside the flock. */
static const char SQL_BEGIN[] = "BEGIN IMMEDIATE";
static const char SQL_COMMIT[] = "COMMIT";
static const char SQL_ROLLBACK[] = "ROLLBACK";

static enum cv_err control(struct cv_store *s, const char *sql)
{
	sqlite3 *db = be(s)->db;
	sqlite3_stmt *st = prepare(s, sql);
	int rc;

	if (!st)
		return plain(s, sql);
	if ((rc = sqlite3_step(st)) == SQLITE_DONE) {
		release(s, st);
		return CV_OK;
	}
	rc = sqlite3_extended_errcode(db);
	snprintf(s->errmsg, sizeof s->errmsg, "%s: %s", sql,
	    sqlite3_errmsg(db));
	release(s, st);
	s->full = no_room(rc);
	return s->full ? CV_EFULL : CV_ESTORE;
}

/* After SQLITE_FULL or an I/O error SQLite may have rolled the
 * transaction back itself; a ROLLBACK then fails and would overwrite the
 * real error text, so it is sent only while a transaction is open. */
static void end_tx(struct cv_store *s)
{
	char why[sizeof s->errmsg];
	bool full = s->full;

	memcpy(why, s->errmsg, sizeof why);
	if (!sqlite3_get_autocommit(be(s)->db))
		control(s, SQL_ROLLBACK);
	memcpy(s->errmsg, why, sizeof why);
	s->full = full;
	s->in_tx = 0;
	writer_lock(s, LOCK_UN);
}

static enum cv_err sq_begin(struct cv_store *s)
{
	if (writer_lock(s, LOCK_EX) != 0)
		return fail(s, "flock");
	restart_wal(be(s));
	enum cv_err err = control(s, SQL_BEGIN);
	if (err != CV_OK) {
		writer_lock(s, LOCK_UN);
		return err;
	}
	s->in_tx = 1;
	return CV_OK;
}

static enum cv_err sq_commit(struct cv_store *s)
{
	enum cv_err err = control(s, SQL_COMMIT);

	if (err != CV_OK) {
		end_tx(s);
		return err;
	}
	s->in_tx = 0;
	writer_lock(s, LOCK_UN);
	/* Deferred, but not past four checkpoints' worth: a long request
	 * committing all along still keeps the WAL bounded. */
	if (!s->defer_upkeep || be(s)->wal_frames - be(s)->ckpt_done >=
	    4 * be(s)->ckpt_frames)
		checkpoint_due(be(s));
	return CV_OK;
}

static void sq_rollback(struct cv_store *s)
{
	if (s->in_tx)
		end_tx(s);
}

/* Room left for writes: inside the size cap (max_page_count, free pages
 * included) and on the file system holding the database and its WAL. */
static enum cv_err sq_room(struct cv_store *s)
{
	static const char sql[] = "SELECT max_page_count - page_count + "
	    "freelist_count, page_size FROM pragma_max_page_count(), "
	    "pragma_page_count(), pragma_freelist_count(), pragma_page_size()";
	struct statvfs vfs;
	json_t *rows = NULL, *row;
	enum cv_err err;

	if ((err = sq_query(s, sql, NULL, 0, &rows)) != CV_OK)
		return err;
	row = json_array_get(rows, 0);
	long long pages = json_integer_value(json_array_get(row, 0));
	long long size = json_integer_value(json_array_get(row, 1));
	json_decref(rows);
	if (pages * size < ROOM_MIN_BYTES) {
		snprintf(s->errmsg, sizeof s->errmsg, "database at its size "
		    "limit (%lld bytes left)", pages * size);
		s->full = true;
		return CV_EFULL;
	}
	if (statvfs(be(s)->dir, &vfs) == 0 &&
	    (long long)vfs.f_bavail * (long long)vfs.f_frsize < DISK_MIN_BYTES) {
		snprintf(s->errmsg, sizeof s->errmsg, "the file system of the "
		    "database is full (%lld bytes left)",
		    (long long)vfs.f_bavail * (long long)vfs.f_frsize);
		s->full = true;
		return CV_EFULL;
	}
	return CV_OK;
}

static void sq_close(struct cv_store *s)
{
	struct sqlite_backend *b = be(s);

	if (!b)
		return;
	for (int i = 0; i < b->ncache; i++)
		sqlite3_finalize(b->cache[i].stmt);
	sqlite3_close(b->db);
	if (b->lock_fd >= 0)
		close(b->lock_fd);
	free(b);
	s->backend = NULL;
}

static void sq_upkeep(struct cv_store *s)
{
	checkpoint_due(be(s));
}

static const struct cv_store_ops sqlite_ops = {
	sq_exec, sq_query, sq_begin, sq_commit, sq_rollback, sq_close, "rowid",
	NULL, NULL, NULL, sq_room, sq_upkeep
};

static enum cv_err migrate(struct cv_store *s)
{
	json_t *rows = NULL;
	long long have = 0;
	enum cv_err err;

	if (sq_query(s, "PRAGMA user_version", NULL, 0, &rows) != CV_OK)
		return CV_ESTORE;
	have = json_integer_value(json_array_get(json_array_get(rows, 0), 0));
	json_decref(rows);
	/* Every step is IF NOT EXISTS, so applying them all on each open also
	 * repairs a database whose tables were dropped by hand. */
	if ((err = sq_begin(s)) != CV_OK)
		return err;
	for (int m = 0; m < cv_migration_count; m++)
		for (const char *const *q = cv_migrations[m].statements; *q; q++)
			if ((err = plain(s, *q)) != CV_OK) {
				sq_rollback(s);
				return err;
			}
	if (have < cv_migrations[cv_migration_count - 1].version) {
		char pragma[64];
		snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d",
		    cv_migrations[cv_migration_count - 1].version);
		if ((err = plain(s, pragma)) != CV_OK) {
			sq_rollback(s);
			return err;
		}
	}
	return sq_commit(s);
}

static void remember_dir(struct sqlite_backend *b, const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(b->dir, sizeof b->dir, ".");
	else
		snprintf(b->dir, sizeof b->dir, "%.*s", slash == path ? 1 :
		    (int)(slash - path), path);
}

/* The checkpoint thresholds in frames of this database's page size (its
 * own once the journal mode is set: a new database's first write fixes
 * it), so that the WAL's bound in bytes is the same for every size. */
static enum cv_err wal_bounds(struct cv_store *s)
{
	struct sqlite_backend *b = be(s);
	json_t *rows = NULL;
	long page;

	if (sq_query(s, "PRAGMA page_size", NULL, 0, &rows) != CV_OK)
		return CV_ESTORE;
	page = (long)json_integer_value(json_array_get(json_array_get(rows, 0),
	    0));
	json_decref(rows);
	if (page < 512)
		page = 4096;
	b->ckpt_frames = (int)(WAL_CKPT_BYTES / page);
	b->restart_frames = (int)(WAL_RESTART_BYTES / page);
	return CV_OK;
}

/* For tests only: CONVERGE_TEST_SQLITE_MAX_PAGES caps the database at that
 * many pages (PRAGMA max_page_count, per connection), so a full disk can
 * be played without a small file system. */
static enum cv_err test_size_cap(struct cv_store *s)
{
	const char *env = getenv("CONVERGE_TEST_SQLITE_MAX_PAGES");
	char pragma[64];
	char *end;
	long long n;

	if (!env || !*env)
		return CV_OK;
	n = strtoll(env, &end, 10);
	if (*end || n < 1)
		return CV_OK;
	snprintf(pragma, sizeof pragma, "PRAGMA max_page_count = %lld", n);
	return plain(s, pragma);
}

enum cv_err cv_sqlite_open(const struct cv_store_options *opt,
    struct cv_store *s)
{
	struct sqlite_backend *b = calloc(1, sizeof *b);
	char lockpath[PATH_MAX];

	if (!b)
		return CV_ENOMEM;
	s->backend = b;
	s->ops = &sqlite_ops;
	b->lock_fd = -1;
	b->busy_ms = opt->busy_timeout_ms > 0 ? opt->busy_timeout_ms : 5000;
	if (cv_mkdir_parents(opt->sqlite_path) != 0) {
		snprintf(s->errmsg, sizeof s->errmsg, "cannot create the "
		    "directory of %s: %s", opt->sqlite_path, strerror(errno));
		return CV_ESTORE;
	}
	/* cv-walbuf: a transaction's WAL frames in one write, not two per
	 * frame (sqlite_walbuf.c); the default VFS if it is missing. */
	if (sqlite3_open_v2(opt->sqlite_path, &b->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, cv_sqlite_walbuf_vfs()) !=
	    SQLITE_OK)
		return fail(s, "open");
	sqlite3_busy_handler(b->db, busy_handler, b);
	/* Replaces the automatic checkpoint (see WAL_CKPT_BYTES). */
	sqlite3_wal_hook(b->db, wal_noted, b);
	remember_dir(b, opt->sqlite_path);
	if (snprintf(lockpath, sizeof lockpath, "%s.lock", opt->sqlite_path) <
	    (int)sizeof lockpath)
		b->lock_fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	/* WAL + NORMAL: durable against a kill -9 of any process; FULL would
	 * add power-loss durability at about five times the write cost.
	 * No memory-mapped reads: after another process's commit SQLite
	 * unmaps the whole file at the next read transaction and every page
	 * touched faults in again; with several writing processes that cost
	 * more than the pread it saves (docs/performance.md). */
	if (plain(s, "PRAGMA page_size=" NEW_DB_PAGE_SIZE) != CV_OK ||
	    plain(s, "PRAGMA journal_mode=WAL") != CV_OK ||
	    plain(s, "PRAGMA synchronous=NORMAL") != CV_OK ||
	    wal_bounds(s) != CV_OK || test_size_cap(s) != CV_OK)
		return CV_ESTORE;
	return migrate(s);
}
