/* test_store.c - the SQLite store, event log and intents view against a
 * real database file in a temporary directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"
#include "eventlog.h"
#include "intents.h"
#include "jsonx.h"
#include "sqlite_mapread.h"
#include "store.h"

struct fixture {
	char dir[64];
	char path[128];
	struct cv_store *s;
};

/* The same tests run on SQLite and, when CONVERGE_TEST_PG_DSN names a
 * scratch server (scripts/pg-scratch), on PostgreSQL. */
static const char *pg_dsn;

static const char *const all_tables[] = { "events", "intents",
    "agent_policies", "compliance_thresholds", "risk_policies",
    "queue_locks", "webhook_deliveries", "api_key_grace", "github_outbox",
    "rate_limit_hits", "idempotency_keys", "schema_migrations" };

static int open_pg_fresh(struct fixture *f)
{
	struct cv_store_options o = { CV_BACKEND_POSTGRES, NULL, pg_dsn, 0 };
	char sql[128];

	if (cv_store_open(&o, &f->s, NULL) != CV_OK)
		return -1;
	for (size_t i = 0; i < CV_ARRAY_LEN(all_tables); i++) {
		/* The DROP text must outlive the store's statement cache. */
		static char stmts[CV_ARRAY_LEN(all_tables)][128];
		snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s", all_tables[i]);
		memcpy(stmts[i], sql, sizeof sql);
		cv_db_exec(f->s, stmts[i], NULL, 0, NULL);
	}
	cv_store_close(f->s);
	return cv_store_open(&o, &f->s, NULL) == CV_OK ? 0 : -1;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);

	snprintf(f->dir, sizeof f->dir, "/tmp/cv-store-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof f->path, "%s/sub/state.db", f->dir);
	*state = f;
	if (pg_dsn)
		return open_pg_fresh(f);
	struct cv_store_options o = { CV_BACKEND_SQLITE, f->path, NULL, 0 };
	if (cv_store_open(&o, &f->s, NULL) != CV_OK)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char p[256];

	cv_store_close(f->s);
	static const char *suffix[] = { "", "-wal", "-shm", ".lock" };
	for (size_t i = 0; i < 4; i++) {
		snprintf(p, sizeof p, "%s%s", f->path, suffix[i]);
		unlink(p);
	}
	snprintf(p, sizeof p, "%s/sub", f->dir);
	rmdir(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

static json_t *ev_at(const char *type, const char *intent, const char *tenant,
    const char *ts)
{
	json_t *ev = cv_event_new(type, intent, NULL, tenant, NULL,
	    json_pack("{s:s}", "k", type), NULL);
	json_object_set_new(ev, "timestamp", json_string(ts));
	return ev;
}

static void test_event_append_query(void **state)
{
	struct fixture *f = *state;
	static const struct { const char *type, *intent, *tenant, *ts; } evs[] = {
		{ "intent.created", "i-1", "t-a", "2026-01-01T00:00:00.000000+00:00" },
		{ "risk.evaluated", "i-1", "t-a", "2026-01-02T00:00:00.000000+00:00" },
		{ "risk.evaluated", "i-2", "t-b", "2026-01-02T00:00:00.000000+00:00" },
		{ "intent.created", "i-2", "t-b", "2026-01-03T00:00:00.000000+00:00" },
	};
	static const struct { struct cv_event_filter f; size_t n;
	    const char *first_intent; } rows[] = {
		{ { 0 }, 4, "i-2" },
		{ { .event_type = "risk.evaluated" }, 2, "i-2" },
		{ { .intent_id = "i-1" }, 2, "i-1" },
		{ { .tenant_id = "t-a" }, 2, "i-1" },
		{ { .tenant_id = "" }, 4, "i-2" },
		{ { .since = "2026-01-02T00:00:00.000000+00:00" }, 3, "i-2" },
		{ { .until = "2026-01-01T23:00:00.000000+00:00" }, 1, "i-1" },
		{ { .limit = 1 }, 1, "i-2" },
		{ { .event_type = "nope" }, 0, NULL },
	};

	for (size_t i = 0; i < CV_ARRAY_LEN(evs); i++) {
		json_t *ev = ev_at(evs[i].type, evs[i].intent, evs[i].tenant,
		    evs[i].ts);
		assert_int_equal(cv_event_append(f->s, ev), CV_OK);
		assert_int_equal(strlen(cv_json_str(ev, "id", "")), 12);
		assert_memory_equal(cv_json_str(ev, "trace_id", ""), "trace-", 6);
		json_decref(ev);
	}
	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		json_t *list = cv_event_query(f->s, &rows[i].f);
		assert_non_null(list);
		assert_int_equal(json_array_size(list), rows[i].n);
		if (rows[i].first_intent)
			assert_string_equal(cv_json_str(json_array_get(list, 0),
			    "intent_id", ""), rows[i].first_intent);
		json_decref(list);
	}
	/* Equal timestamps: the later-appended event comes first (2.2). */
	struct cv_event_filter tie = { .event_type = "risk.evaluated" };
	json_t *list = cv_event_query(f->s, &tie);
	assert_string_equal(cv_json_str(json_array_get(list, 0), "intent_id",
	    ""), "i-2");
	json_t *payload = json_object_get(json_array_get(list, 0), "payload");
	assert_string_equal(cv_json_str(payload, "k", ""), "risk.evaluated");
	json_decref(list);
}

static void test_event_count_prune(void **state)
{
	struct fixture *f = *state;
	const char *names[] = { "event_type" };
	const char *values[] = { "x" };
	const char *bad[] = { "payload" };
	long long n = -1;
	char *msg = NULL;

	for (int i = 0; i < 3; i++) {
		json_t *ev = ev_at("x", NULL, i ? "t" : NULL, i ?
		    "2026-01-05T00:00:00.000000+00:00" :
		    "2025-01-05T00:00:00.000000+00:00");
		assert_int_equal(cv_event_append(f->s, ev), CV_OK);
		json_decref(ev);
	}
	assert_int_equal(cv_event_count(f->s, names, values, 1, &n, NULL), CV_OK);
	assert_int_equal(n, 3);
	assert_int_equal(cv_event_count(f->s, bad, values, 1, &n, &msg),
	    CV_EINVAL);
	assert_string_equal(msg, "Invalid filter column: payload");
	free(msg);
	assert_int_equal(cv_event_prune(f->s, "2026-01-01T00:00:00.000000+00:00",
	    NULL, true, &n), CV_OK);
	assert_int_equal(n, 1);
	assert_int_equal(cv_event_prune(f->s, "2026-02-01T00:00:00.000000+00:00",
	    "t", false, &n), CV_OK);
	assert_int_equal(n, 2);
	assert_int_equal(cv_event_count(f->s, names, values, 1, &n, NULL), CV_OK);
	assert_int_equal(n, 1);
}

/* V86: the event log vector of domain.md 10.7. */
static void test_v86(void **state)
{
	struct fixture *f = *state;
	static const struct { const char *type, *tenant, *intent; } evs[] = {
		{ "simulation.completed", "team-a", "i-1" },
		{ "simulation.completed", "team-a", "i-2" },
		{ "simulation.completed", "team-b", "i-3" },
		{ "check.completed", "team-a", "i-4" },
		{ "check.completed", "team-a", "i-5" },
	};
	const char *names[] = { "event_type" }, *other[] = { "other" };
	const char *bad[] = { "nope" };
	long long n;
	char *msg = NULL;

	for (size_t i = 0; i < CV_ARRAY_LEN(evs); i++)
		assert_int_equal(cv_event_emit(f->s, evs[i].type, evs[i].intent,
		    NULL, evs[i].tenant, NULL, NULL, NULL), CV_OK);
	struct cv_event_filter by_type = { .event_type = "simulation.completed" };
	struct cv_event_filter by_tenant = { .tenant_id = "team-a" };
	struct cv_event_filter by_intent = { .intent_id = "i-3" };
	const struct cv_event_filter *fs[] = { &by_type, &by_tenant, &by_intent };
	const size_t want[] = { 3, 4, 1 };
	for (size_t i = 0; i < 3; i++) {
		json_t *l = cv_event_query(f->s, fs[i]);
		assert_int_equal(json_array_size(l), want[i]);
		json_decref(l);
	}
	assert_int_equal(cv_event_count(f->s, names, other, 1, &n, NULL), CV_OK);
	assert_int_equal(n, 0);
	assert_int_equal(cv_event_count(f->s, bad, other, 1, &n, &msg), CV_EINVAL);
	assert_non_null(strstr(msg, "Invalid filter column"));
	free(msg);
	/* prune(before 2023-01-01) with one 2020 event among current ones */
	json_t *old = ev_at("x", NULL, NULL, "2020-06-01T00:00:00.000000+00:00");
	assert_int_equal(cv_event_append(f->s, old), CV_OK);
	json_decref(old);
	assert_int_equal(cv_event_prune(f->s, "2023-01-01T00:00:00.000000+00:00",
	    NULL, true, &n), CV_OK);
	assert_int_equal(n, 1);
	assert_int_equal(cv_event_prune(f->s, "2023-01-01T00:00:00.000000+00:00",
	    NULL, false, &n), CV_OK);
	assert_int_equal(n, 1);
	assert_int_equal(cv_event_prune(f->s, "2023-01-01T00:00:00.000000+00:00",
	    NULL, true, &n), CV_OK);
	assert_int_equal(n, 0);
}

static void test_intent_build_table(void **state)
{
	static const struct { const char *doc; int ok; const char *source,
	    *target; long long prio; } rows[] = {
		{ "{\"id\":\"a\",\"source\":\"f\"}", 1, "f", "main", 3 },
		{ "{\"id\":\"a\",\"technical\":{\"source_ref\":\"s\","
		  "\"target_ref\":\"dev\"}}", 1, "s", "dev", 3 },
		{ "{\"id\":\"a\",\"source\":\"f\",\"priority\":0}", 1, "f", "main", 0 },
		{ "{\"id\":\"a\",\"status\":\"DONE\"}", 0, NULL, NULL, 0 },
		{ "{\"id\":\"a\",\"risk_level\":\"extreme\"}", 0, NULL, NULL, 0 },
		{ "{\"id\":\"a\",\"priority\":\"high\"}", 0, NULL, NULL, 0 },
		{ "{\"id\":\"a\",\"priority\":1.5}", 0, NULL, NULL, 0 },
		{ "{\"id\":\"a\",\"dependencies\":[1]}", 0, NULL, NULL, 0 },
		{ "{\"id\":\"a\",\"semantic\":[]}", 0, NULL, NULL, 0 },
		{ "[]", 0, NULL, NULL, 0 },
	};

	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		json_t *doc = json_loads(rows[i].doc, JSON_DECODE_ANY, NULL);
		const char *err = NULL;
		json_t *in = cv_intent_build(doc, false, "tester", &err);
		if (!rows[i].ok) {
			assert_null(in);
			assert_non_null(err);
		} else {
			assert_non_null(in);
			assert_int_equal(json_object_size(in), 14);
			assert_string_equal(cv_json_str(in, "source", ""),
			    rows[i].source);
			assert_string_equal(cv_json_str(in, "target", ""),
			    rows[i].target);
			assert_int_equal(cv_json_int(in, "priority", -1),
			    rows[i].prio);
			assert_string_equal(cv_json_str(in, "created_by", ""),
			    "tester");
		}
		json_decref(in);
		json_decref(doc);
	}
}

static json_t *mk_intent(const char *id, int prio, const char *created,
    const char *tenant)
{
	json_t *doc = json_pack("{s:s,s:s,s:i,s:s}", "id", id, "source", "f",
	    "priority", prio, "created_at", created);
	const char *err;
	if (tenant)
		json_object_set_new(doc, "tenant_id", json_string(tenant));
	json_t *in = cv_intent_build(doc, false, NULL, &err);
	json_decref(doc);
	return in;
}

static void test_intents_view(void **state)
{
	struct fixture *f = *state;
	json_t *a = mk_intent("b", 2, "2026-01-01T00:00:00.000000+00:00", "t");
	json_t *b = mk_intent("a", 2, "2026-01-01T00:00:00.000000+00:00", NULL);
	json_t *c = mk_intent("c", 1, "2026-01-02T00:00:00.000000+00:00", "t");
	json_t *got = NULL, *list;

	assert_int_equal(cv_intent_upsert(f->s, a), CV_OK);
	assert_int_equal(cv_intent_upsert(f->s, b), CV_OK);
	assert_int_equal(cv_intent_insert(f->s, c), CV_OK);
	assert_int_equal(cv_intent_insert(f->s, c), CV_EEXIST);
	list = cv_intent_list(f->s, NULL, NULL, 0);
	assert_int_equal(json_array_size(list), 3);
	assert_string_equal(cv_json_str(json_array_get(list, 0), "id", ""), "c");
	assert_string_equal(cv_json_str(json_array_get(list, 1), "id", ""), "a");
	assert_string_equal(cv_json_str(json_array_get(list, 2), "id", ""), "b");
	json_decref(list);
	list = cv_intent_list(f->s, NULL, "t", 0);
	assert_int_equal(json_array_size(list), 2);
	json_decref(list);
	/* Upsert keeps created_at / created_by, overwrites the rest. */
	json_object_set_new(a, "created_at",
	    json_string("2030-01-01T00:00:00.000000+00:00"));
	json_object_set_new(a, "created_by", json_string("someone"));
	json_object_set_new(a, "status", json_string("VALIDATED"));
	assert_int_equal(cv_intent_upsert(f->s, a), CV_OK);
	assert_int_equal(cv_intent_get(f->s, "b", &got), CV_OK);
	assert_string_equal(cv_json_str(got, "created_at", ""),
	    "2026-01-01T00:00:00.000000+00:00");
	assert_string_equal(cv_json_str(got, "created_by", ""), "system");
	assert_string_equal(cv_json_str(got, "status", ""), "VALIDATED");
	assert_true(json_equal(json_object_get(got, "semantic"),
	    json_object_get(a, "semantic")));
	json_decref(got);
	assert_int_equal(cv_intent_update_status(f->s, "b", "QUEUED", 2), CV_OK);
	assert_int_equal(cv_intent_update_status(f->s, "zz", "QUEUED", 2), CV_OK);
	assert_int_equal(cv_intent_get(f->s, "b", &got), CV_OK);
	assert_string_equal(cv_json_str(got, "status", ""), "QUEUED");
	assert_int_equal(cv_json_int(got, "retries", -1), 2);
	json_decref(got);
	assert_int_equal(cv_intent_get(f->s, "nope", &got), CV_OK);
	assert_null(got);
	list = cv_intent_list(f->s, "QUEUED", NULL, 0);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
	/* An upsert sets the keyed columns (status, priority, tenant) only
	 * when one differs: each change still lands, with its indexes. */
	json_object_set_new(a, "source", json_string("g"));
	assert_int_equal(cv_intent_upsert(f->s, a), CV_OK);
	assert_int_equal(cv_intent_get(f->s, "b", &got), CV_OK);
	assert_string_equal(cv_json_str(got, "source", ""), "g");
	assert_string_equal(cv_json_str(got, "status", ""), "VALIDATED");
	assert_string_equal(cv_json_str(got, "tenant_id", ""), "t");
	json_decref(got);
	list = cv_intent_list(f->s, "QUEUED", NULL, 0);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	json_object_set_new(a, "tenant_id", json_null());
	json_object_set_new(a, "priority", json_integer(5));
	assert_int_equal(cv_intent_upsert(f->s, a), CV_OK);
	list = cv_intent_list(f->s, NULL, "t", 0);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
	list = cv_intent_list(f->s, NULL, NULL, 0);
	assert_string_equal(cv_json_str(json_array_get(list, 2), "id", ""), "b");
	assert_int_equal(cv_json_int(json_array_get(list, 2), "priority", 0), 5);
	assert_true(json_is_null(json_object_get(json_array_get(list, 2),
	    "tenant_id")));
	json_decref(list);
	json_object_set_new(a, "tenant_id", json_string("u"));
	assert_int_equal(cv_intent_upsert(f->s, a), CV_OK);
	list = cv_intent_list(f->s, NULL, "u", 0);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
	json_decref(a);
	json_decref(b);
	json_decref(c);
}

static void test_lock(void **state)
{
	struct fixture *f = *state;
	bool ok;
	json_t *info = NULL;

	assert_int_equal(cv_lock_acquire(f->s, "queue", 11, 300, &ok), CV_OK);
	assert_true(ok);
	assert_int_equal(cv_lock_acquire(f->s, "queue", 11, 300, &ok), CV_OK);
	assert_false(ok);   /* not re-entrant */
	assert_int_equal(cv_lock_acquire(f->s, "queue", 22, 300, &ok), CV_OK);
	assert_false(ok);
	assert_int_equal(cv_lock_info(f->s, "queue", &info), CV_OK);
	assert_int_equal(cv_json_int(info, "holder_pid", 0), 11);
	json_decref(info);
	assert_int_equal(cv_lock_heartbeat(f->s, "queue", 22, 300, &ok), CV_OK);
	assert_false(ok);
	assert_int_equal(cv_lock_heartbeat(f->s, "queue", 11, 300, &ok), CV_OK);
	assert_true(ok);
	assert_int_equal(cv_lock_release(f->s, "queue", 22, &ok), CV_OK);
	assert_false(ok);
	assert_int_equal(cv_lock_release(f->s, "queue", 11, &ok), CV_OK);
	assert_true(ok);
	/* ttl 0: expired at once, so the next acquire clears it. */
	assert_int_equal(cv_lock_acquire(f->s, "queue", 33, 0, &ok), CV_OK);
	assert_true(ok);
	usleep(2000);
	assert_int_equal(cv_lock_acquire(f->s, "queue", 44, 300, &ok), CV_OK);
	assert_true(ok);
	assert_int_equal(cv_lock_force_release(f->s, "queue", &ok), CV_OK);
	assert_true(ok);
	assert_int_equal(cv_lock_info(f->s, "queue", &info), CV_OK);
	assert_null(info);
}

static void test_deliveries_and_policies(void **state)
{
	struct fixture *f = *state;
	bool claimed, seen;
	long long v = 0;
	json_t *doc = json_pack("{s:i}", "max_risk_score", 50), *got, *list;

	assert_int_equal(cv_delivery_claim(f->s, "d-1", &claimed), CV_OK);
	assert_true(claimed);
	assert_int_equal(cv_delivery_claim(f->s, "d-1", &claimed), CV_OK);
	assert_false(claimed);
	assert_int_equal(cv_delivery_seen(f->s, "d-1", &seen), CV_OK);
	assert_true(seen);
	assert_int_equal(cv_risk_policy_upsert(f->s, "t", doc, &v), CV_OK);
	assert_int_equal(v, 1);
	assert_int_equal(cv_risk_policy_upsert(f->s, "t", doc, &v), CV_OK);
	assert_int_equal(v, 2);
	assert_int_equal(cv_risk_policy_get(f->s, "t", &got), CV_OK);
	assert_int_equal(cv_json_int(got, "version", 0), 2);
	assert_int_equal(cv_json_int(got, "max_risk_score", 0), 50);
	json_decref(got);
	list = cv_risk_policy_list(f->s, NULL);
	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(cv_json_str(json_array_get(list, 0), "tenant_id",
	    ""), "t");
	json_decref(list);
	assert_int_equal(cv_compliance_thresholds_upsert(f->s, "t", doc), CV_OK);
	assert_int_equal(cv_compliance_thresholds_get(f->s, "t", &got), CV_OK);
	assert_null(json_object_get(got, "tenant_id"));
	json_decref(got);
	json_t *ap = json_pack("{s:s,s:n}", "agent_id", "bot", "tenant_id");
	assert_int_equal(cv_agent_policy_upsert(f->s, ap), CV_OK);
	assert_int_equal(cv_agent_policy_get(f->s, "bot", NULL, &got), CV_OK);
	assert_string_equal(cv_json_str(got, "agent_id", ""), "bot");
	json_decref(got);
	assert_int_equal(cv_agent_policy_get(f->s, "bot", "x", &got), CV_OK);
	assert_null(got);
	json_decref(ap);
	json_decref(doc);
}

static long long count_in(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	long long n = -1;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* The page size of the database at path, read by a connection of its own. */
static long page_size_of(const char *path)
{
	sqlite3 *db = NULL;
	long n;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
	    SQLITE_OK);
	n = (long)count_in(db, "PRAGMA page_size");
	sqlite3_close(db);
	return n;
}

/* The frames between two checkpoints: 4 MB of WAL (store_sqlite.c). */
static long ckpt_frames_of(long page)
{
	return (4L << 20) / page;
}

/* One small event in a transaction of its own; *st: the WAL after it. */
static void commit_event(struct cv_store *s, const char *prefix, int i,
    const char *wal, struct stat *st)
{
	char id[32];

	snprintf(id, sizeof id, "%s-%d", prefix, i);
	assert_int_equal(cv_store_begin(s), CV_OK);
	assert_int_equal(cv_event_emit(s, "intent.created", id, NULL, NULL,
	    NULL, json_pack("{s:s}", "pad", "padding"), NULL), CV_OK);
	assert_int_equal(cv_store_commit(s), CV_OK);
	assert_int_equal(stat(wal, st), 0);
}

/* Checkpoints run after the writers' lock is released, not inside COMMIT
 * (store_sqlite.c): a steady stream of commits must still keep the WAL
 * bounded. 2,000 commits of a few pages each would leave a WAL of tens of
 * megabytes without them. */
static void test_wal_bounded(void **state)
{
	struct fixture *f = *state;
	char wal[160];
	struct stat st;
	off_t most = 0;

	if (pg_dsn)
		skip();
	snprintf(wal, sizeof wal, "%s-wal", f->path);
	for (int i = 0; i < 2000; i++) {
		commit_event(f->s, "wal", i, wal, &st);
		if (st.st_size > most)
			most = st.st_size;
	}
	/* 4 MB of frames between checkpoints, a few frames of the commit that
	 * crossed the line. */
	long page = page_size_of(f->path), n = ckpt_frames_of(page);
	assert_true(most < (n + n / 10) * (page + 24) + 32);
}

/* A farm answers before the checkpoint its commit made due
 * (cv_store_defer_upkeep): past 4 MB of WAL frames nothing is copied back
 * into the database file until cv_store_upkeep, which then does it. */
static void test_upkeep_deferred(void **state)
{
	struct fixture *f = *state;
	char wal[160];
	struct stat st;
	off_t db_size, past;

	if (pg_dsn)
		skip();
	long page = page_size_of(f->path), n = ckpt_frames_of(page);
	past = (off_t)((n + n / 10) * (page + 24));
	snprintf(wal, sizeof wal, "%s-wal", f->path);
	cv_store_defer_upkeep(f->s);
	assert_int_equal(stat(f->path, &st), 0);
	db_size = st.st_size;
	for (int i = 0; i < 10000; i++) {
		commit_event(f->s, "late", i, wal, &st);
		if (st.st_size > past)
			break;
	}
	assert_true(st.st_size > past);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_size, db_size);
	cv_store_upkeep(f->s);
	assert_int_equal(stat(f->path, &st), 0);
	assert_true(st.st_size > db_size);
}

/* A new database gets 2 KB pages (fewer bytes written per transaction,
 * store_sqlite.c); one made with another page size keeps it, and the
 * store reads and writes it as before. */
static void test_page_size(void **state)
{
	struct fixture *f = *state;
	struct cv_store_options o = { CV_BACKEND_SQLITE, NULL, NULL, 0 };
	char old[160], wal[170];
	struct cv_store *s = NULL;
	sqlite3 *db = NULL;
	struct stat st;
	json_t *got = NULL;

	if (pg_dsn)
		skip();
	assert_int_equal(page_size_of(f->path), 2048);
	snprintf(old, sizeof old, "%s/old.db", f->dir);
	assert_int_equal(sqlite3_open(old, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA page_size=4096;"
	    " PRAGMA journal_mode=WAL; CREATE TABLE kept (x)", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	o.sqlite_path = old;
	assert_int_equal(cv_store_open(&o, &s, NULL), CV_OK);
	snprintf(wal, sizeof wal, "%s-wal", old);
	commit_event(s, "old", 1, wal, &st);
	assert_int_equal(cv_event_latest(s, "intent.created", "old-1", &got),
	    CV_OK);
	assert_non_null(got);
	json_decref(got);
	cv_store_close(s);
	assert_int_equal(page_size_of(old), 4096);
	static const char *const suffix[] = { "", "-wal", "-shm", ".lock" };
	for (size_t i = 0; i < CV_ARRAY_LEN(suffix); i++) {
		snprintf(wal, sizeof wal, "%s%s", old, suffix[i]);
		unlink(wal);
	}
}

static void copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	char buf[65536];
	size_t n;

	assert_non_null(in);
	assert_non_null(out);
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	assert_int_equal(fclose(out), 0);
}

/* The store writes a transaction's WAL frames together (sqlite_walbuf.c):
 * each commit must be in the file when it returns, for another
 * connection at once, and for recovery from the files alone (what a
 * kill -9 leaves): a copy of the database and its WAL without the
 * shared memory is recovered frame by frame, checksums checked. The big
 * transaction spills pages to the WAL before its commit and rewrites
 * some, so SQLite recomputes frame checksums after the commit frame. */
static void test_wal_frames_written(void **state)
{
	static const char tbl[] = "CREATE TABLE IF NOT EXISTS wb_rows (k INTEGER"
	    " PRIMARY KEY, v BLOB)";
	static const char ins[] = "INSERT INTO wb_rows (v) VALUES"
	    " (randomblob(3000))";
	static const char small[] = "PRAGMA cache_size = 10";
	static const char upd[] = "UPDATE wb_rows SET v = randomblob(3000)"
	    " WHERE k > 100 AND k <= 200";
	struct fixture *f = *state;
	char wal[160], copy[160], copy_wal[170];
	sqlite3 *other = NULL;

	if (pg_dsn)
		skip();
	assert_int_equal(cv_db_exec(f->s, tbl, NULL, 0, NULL), CV_OK);
	assert_int_equal(sqlite3_open_v2(f->path, &other, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	for (int i = 1; i <= 50; i++) {
		assert_int_equal(cv_store_begin(f->s), CV_OK);
		assert_int_equal(cv_db_exec(f->s, ins, NULL, 0, NULL), CV_OK);
		assert_int_equal(cv_db_exec(f->s, ins, NULL, 0, NULL), CV_OK);
		assert_int_equal(cv_store_commit(f->s), CV_OK);
		assert_int_equal(count_in(other, "SELECT count(*) FROM wb_rows"),
		    2 * i);
	}
	assert_int_equal(cv_db_exec(f->s, small, NULL, 0, NULL), CV_OK);
	assert_int_equal(cv_store_begin(f->s), CV_OK);
	for (int i = 0; i < 300; i++)
		assert_int_equal(cv_db_exec(f->s, ins, NULL, 0, NULL), CV_OK);
	/* pages spilled above, changed again: their frames are rewritten */
	assert_int_equal(cv_db_exec(f->s, upd, NULL, 0, NULL), CV_OK);
	assert_int_equal(cv_store_commit(f->s), CV_OK);
	assert_int_equal(count_in(other, "SELECT count(*) FROM wb_rows"), 400);
	sqlite3_close(other);

	snprintf(wal, sizeof wal, "%s-wal", f->path);
	snprintf(copy, sizeof copy, "%s.copy", f->path);
	snprintf(copy_wal, sizeof copy_wal, "%s-wal", copy);
	copy_file(f->path, copy);
	copy_file(wal, copy_wal);
	assert_int_equal(sqlite3_open_v2(copy, &other, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	assert_int_equal(count_in(other, "SELECT count(*) FROM wb_rows"), 400);
	assert_int_equal(count_in(other, "SELECT count(*) FROM"
	    " pragma_integrity_check WHERE integrity_check <> 'ok'"), 0);
	sqlite3_close(other);
	unlink(copy);
	unlink(copy_wal);
	snprintf(copy_wal, sizeof copy_wal, "%s-shm", copy);
	unlink(copy_wal);
}

/* The store's page reads are copies out of a mapping of the files
 * (sqlite_mapread.c): served from it here, so the build's SQLite still
 * lays out its unix files the way the mapping relies on, and exactly
 * what another connection committed, also after it cut the WAL to
 * nothing and wrote it again from the start. */
static void test_reads_mapped(void **state)
{
	static const char tbl[] = "CREATE TABLE IF NOT EXISTS mr_rows (k INTEGER"
	    " PRIMARY KEY, v TEXT)";
	struct fixture *f = *state;
	unsigned long long before = cv_mapread_served();
	sqlite3 *other = NULL;
	long long n = 0;

	if (pg_dsn)
		skip();
	assert_int_equal(cv_db_exec(f->s, tbl, NULL, 0, NULL), CV_OK);
	assert_int_equal(sqlite3_open_v2(f->path, &other, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	for (int round = 1; round <= 6; round++) {
		for (int i = 0; i < 40 * round; i++)
			assert_int_equal(sqlite3_exec(other, "INSERT INTO mr_rows (v)"
			    " VALUES (hex(randomblob(200)))", NULL, NULL, NULL),
			    SQLITE_OK);
		assert_int_equal(cv_db_scalar_int(f->s, "SELECT count(*) FROM"
		    " mr_rows", NULL, 0, &n), CV_OK);
		assert_int_equal(n, 20 * round * (round + 1));
		if (round % 2 == 0)
			assert_int_equal(sqlite3_exec(other, "PRAGMA"
			    " wal_checkpoint(TRUNCATE)", NULL, NULL, NULL), SQLITE_OK);
	}
	assert_int_equal(cv_db_scalar_int(f->s, "SELECT count(*) FROM"
	    " pragma_integrity_check WHERE integrity_check <> 'ok'", NULL, 0, &n),
	    CV_OK);
	assert_int_equal(n, 0);
	assert_true(cv_mapread_served() > before);
	sqlite3_close(other);
}

/* D-6: a notification from one connection wakes another; SQLite has no
 * channel and says so. */
static void test_notify(void **state)
{
	struct fixture *f = *state;
	struct cv_store *other = NULL;
	struct pollfd p;

	if (!pg_dsn) {
		assert_int_equal(cv_store_listen(f->s, "converge_queue"), CV_EINVAL);
		assert_int_equal(cv_store_notify_fd(f->s), -1);
		assert_int_equal(cv_store_notify(f->s, "converge_queue"), CV_OK);
		return;
	}
	struct cv_store_options o = { CV_BACKEND_POSTGRES, NULL, pg_dsn, 0 };
	assert_int_equal(cv_store_open(&o, &other, NULL), CV_OK);
	assert_int_equal(cv_store_listen(f->s, "Bad;Name"), CV_EINVAL);
	assert_int_equal(cv_store_listen(f->s, "converge_queue"), CV_OK);
	assert_true(cv_store_notify_fd(f->s) >= 0);
	/* Inside a transaction the notification waits for the commit. */
	assert_int_equal(cv_store_begin(other), CV_OK);
	assert_int_equal(cv_store_notify(other, "converge_queue"), CV_OK);
	p = (struct pollfd){ cv_store_notify_fd(f->s), POLLIN, 0 };
	assert_int_equal(poll(&p, 1, 200), 0);
	assert_int_equal(cv_store_commit(other), CV_OK);
	p = (struct pollfd){ cv_store_notify_fd(f->s), POLLIN, 0 };
	assert_int_equal(poll(&p, 1, 5000), 1);
	assert_int_equal(cv_store_notifications(f->s), 1);
	assert_int_equal(cv_store_notifications(f->s), 0);
	cv_store_close(other);
}

static void test_factory_errors(void **state)
{
	struct cv_store *s = NULL;
	char *msg = NULL;

	(void)state;
	assert_int_equal(cv_store_open_factory("mysql", NULL, NULL, &s, &msg),
	    CV_EINVAL);
	assert_non_null(strstr(msg, "Unknown backend"));
	free(msg);
	unsetenv("CONVERGE_PG_DSN");
	assert_int_equal(cv_store_open_factory("POSTGRES", NULL, NULL, &s, &msg),
	    CV_EINVAL);
	assert_non_null(strstr(msg, "DSN"));
	free(msg);
	assert_null(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_event_append_query, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_count_prune, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v86, setup, teardown),
		cmocka_unit_test(test_intent_build_table),
		cmocka_unit_test_setup_teardown(test_intents_view, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deliveries_and_policies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wal_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upkeep_deferred, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_page_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reads_mapped, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_wal_frames_written, setup,
		    teardown),
		cmocka_unit_test(test_factory_errors),
	};
	int failed = cmocka_run_group_tests_name("sqlite", tests, NULL, NULL);

	pg_dsn = getenv("CONVERGE_TEST_PG_DSN");
	if (pg_dsn && *pg_dsn)
		failed += cmocka_run_group_tests_name("postgres", tests, NULL,
		    NULL);
	return failed;
}
