/* test_engine.c - validation and queue vectors V42-V54 (domain.md 10.4)
 * against a real SQLite store, plus runs on real git repositories. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "db.h"
#include "engine.h"
#include "eventlog.h"
#include "gitrepo.h"
#include "intents.h"
#include "jsonx.h"
#include "policy.h"
#include "store.h"

struct fx {
	char *dir;                 /* temp dir: DB, also a non-repository */
	char db[256];
	struct cv_store *s;
	struct cv_engine e;
	json_t *config;
	json_t *coupling;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);

	repo_env();
	unsetenv("CONVERGE_TRACE_ID");
	f->dir = repo_tmpdir();
	snprintf(f->db, sizeof f->db, "%s/state.db", f->dir);
	struct cv_store_options o = { CV_BACKEND_SQLITE, f->db, NULL, 0 };
	if (cv_store_open(&o, &f->s, NULL) != CV_OK)
		return -1;
	f->config = cv_policy_defaults();
	f->coupling = json_array();
	f->e.store = f->s;
	f->e.repo_dir = f->dir;     /* not a git repository (V47) */
	f->e.work_dir = f->dir;
	f->e.config = f->config;
	f->e.coupling = f->coupling;
	f->e.coupling_injected = true;
	f->e.check_timeout_s = 5;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	cv_store_close(f->s);
	json_decref(f->config);
	json_decref(f->coupling);
	repo_remove(f->dir);
	free(f);
	return 0;
}

/* Builds doc into an intent and stores it; takes doc's reference. */
static void upsert_doc(struct fx *f, json_t *doc)
{
	const char *err = NULL;
	json_t *in = cv_intent_build(doc, false, NULL, &err);

	if (!in)
		fail_msg("intent build: %s", err ? err : "?");
	assert_int_equal(cv_intent_upsert(f->s, in), CV_OK);
	json_decref(in);
	json_decref(doc);
}

static void add_intent(struct fx *f, const char *id, const char *level,
    const char *status, int prio, int retries, const char *created)
{
	json_t *doc = json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:i,s:s}", "id", id,
	    "source", "feature/x", "target", "main", "risk_level", level,
	    "status", status, "priority", prio, "retries", retries,
	    "created_at", created ? created : "2026-01-01T00:00:00.000000+00:00");
	upsert_doc(f, doc);
}

/* Points stored intent id at another source branch. */
static void set_source(struct fx *f, const char *id, const char *source)
{
	json_t *in = NULL;

	assert_int_equal(cv_intent_get(f->s, id, &in), CV_OK);
	json_object_set_new(in, "source", json_string(source));
	assert_int_equal(cv_intent_upsert(f->s, in), CV_OK);
	json_decref(in);
}

static void add_sim(struct fx *f, const char *id, bool ok, const char *conf,
    const char *files)
{
	json_t *p = json_pack("{s:b,s:o,s:o,s:s,s:s}", "mergeable", ok,
	    "conflicts", json_loads(conf, 0, NULL), "files_changed",
	    json_loads(files, 0, NULL), "source", "feature/x", "target", "main");
	assert_int_equal(cv_event_emit(f->s, "simulation.completed", id, NULL,
	    NULL, NULL, p, NULL), CV_OK);
}

/* Event types appended since `mark` (an event count), oldest first. */
static json_t *types_since(struct fx *f, size_t mark)
{
	struct cv_event_filter all = { .limit = 10000 };
	json_t *list = cv_event_query(f->s, &all), *out = json_array();
	size_t n = json_array_size(list);

	for (size_t i = n - mark; i-- > 0;)
		json_array_append(out, json_object_get(json_array_get(list, i),
		    "event_type"));
	json_decref(list);
	return out;
}

static size_t event_count(struct fx *f)
{
	struct cv_event_filter all = { .limit = 10000 };
	json_t *list = cv_event_query(f->s, &all);
	size_t n = json_array_size(list);

	json_decref(list);
	return n;
}

static void assert_types(json_t *types, const char *expected_json)
{
	json_t *want = json_loads(expected_json, 0, NULL);

	if (!json_equal(types, want)) {
		char *got = json_dumps(types, JSON_COMPACT);
		fail_msg("events %s, expected %s", got, expected_json);
	}
	json_decref(want);
	json_decref(types);
}

static const char *status_of(struct fx *f, const char *id, long long *retries)
{
	static char buf[32];
	json_t *in = NULL;

	assert_int_equal(cv_intent_get(f->s, id, &in), CV_OK);
	snprintf(buf, sizeof buf, "%s", cv_json_str(in, "status", ""));
	if (retries)
		*retries = cv_json_int(in, "retries", -1);
	json_decref(in);
	return buf;
}

/* V42-V45: validate with a given simulation, as a table. */
static void test_validate_table(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *id, *level, *sim, *decision, *reason, *events;
		double risk;
		const char *status;
	} rows[] = {
		{ "eng-001", "medium", "{\"mergeable\":true,\"conflicts\":[],"
		  "\"files_changed\":[\"a.py\"]}", "validated", NULL,
		  "[\"risk.evaluated\",\"policy.evaluated\",\"intent.validated\"]",
		  14.2, "VALIDATED" },
		{ "c-1", "medium", "{\"mergeable\":false,\"conflicts\":[\"x.py\"],"
		  "\"files_changed\":[]}", "blocked", "Merge conflicts: x.py",
		  "[\"intent.blocked\"]", -1, "READY" },
		{ "big-1", "medium", "{\"mergeable\":true,\"conflicts\":[],"
		  "\"files_changed\":[\"f0.py\",\"f1.py\",\"f2.py\",\"f3.py\","
		  "\"f4.py\",\"f5.py\",\"f6.py\",\"f7.py\",\"f8.py\",\"f9.py\","
		  "\"f10.py\",\"f11.py\",\"f12.py\",\"f13.py\",\"f14.py\","
		  "\"f15.py\",\"f16.py\",\"f17.py\",\"f18.py\",\"f19.py\"]}",
		  "blocked", "Policy blocked: gates ['containment', 'entropy']",
		  "[\"risk.evaluated\",\"policy.evaluated\",\"intent.blocked\"]",
		  -1, "READY" },
		{ "v-1", "high", "{\"mergeable\":true,\"conflicts\":[],"
		  "\"files_changed\":[\"a.py\"]}", "validated", NULL,
		  "[\"risk.evaluated\",\"policy.evaluated\",\"intent.validated\"]",
		  16.7, "VALIDATED" },
	};

	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		json_t *sim = json_loads(rows[i].sim, 0, NULL);
		struct cv_validate_opts o = { sim, false, true };
		size_t mark;
		json_t *d;

		add_intent(f, rows[i].id, rows[i].level, "READY", 3, 0, NULL);
		mark = event_count(f);
		d = cv_engine_validate(&f->e, rows[i].id, &o);
		assert_non_null(d);
		assert_string_equal(cv_json_str(d, "decision", ""),
		    rows[i].decision);
		assert_memory_equal(cv_json_str(d, "trace_id", ""), "trace-", 6);
		if (rows[i].reason)
			assert_string_equal(cv_json_str(d, "reason", ""),
			    rows[i].reason);
		if (rows[i].risk >= 0)
			assert_true(cv_json_num(cv_json_obj(d, "risk"),
			    "risk_score", -1) == rows[i].risk);
		assert_types(types_since(f, mark), rows[i].events);
		assert_string_equal(status_of(f, rows[i].id, NULL),
		    rows[i].status);
		/* Every event of the run carries the decision's trace id. */
		struct cv_event_filter fl = { .intent_id = rows[i].id };
		json_t *evs = cv_event_query(f->s, &fl), *ev;
		size_t k;
		json_array_foreach(evs, k, ev)
			assert_string_equal(cv_json_str(ev, "trace_id", ""),
			    cv_json_str(d, "trace_id", ""));
		json_decref(evs);
		json_decref(d);
		json_decref(sim);
	}
	/* V45 second half: the given sim recorded nothing to reuse. */
	struct cv_validate_opts last = { NULL, true, true };
	json_t *d = cv_engine_validate(&f->e, "v-1", &last);
	assert_string_equal(cv_json_str(d, "reason", ""),
	    "No previous simulation found");
	json_decref(d);
}

/* B4: terminal intents cannot be validated; nothing is written. */
static void test_validate_terminal(void **state)
{
	struct fx *f = *state;
	struct cv_validate_opts o = { NULL, true, true };
	size_t mark;
	json_t *d;

	add_intent(f, "done-1", "medium", "MERGED", 3, 0, NULL);
	mark = event_count(f);
	d = cv_engine_validate(&f->e, "done-1", &o);
	assert_string_equal(cv_json_str(d, "error", ""),
	    "Intent done-1 is MERGED, cannot validate");
	assert_int_equal(event_count(f), mark);
	json_decref(d);
	d = cv_engine_validate(&f->e, "ghost", &o);
	assert_string_equal(cv_json_str(d, "error", ""), "Intent ghost not found");
	json_decref(d);
}

/* V47 and V48. */
static void test_queue_run_v47(void **state)
{
	struct fx *f = *state;
	struct cv_queue_opts o = { .limit = 20, .target = "main",
	    .auto_confirm = true, .max_retries = 3, .use_last_simulation = true,
	    .skip_checks = true };
	size_t mark;
	json_t *res;
	long long retries;

	add_intent(f, "q-bad", "medium", "VALIDATED", 1, 2,
	    "2026-01-01T00:00:00.000000+00:00");
	add_intent(f, "q-new", "medium", "VALIDATED", 1, 0,
	    "2026-01-01T00:00:01.000000+00:00");
	add_intent(f, "q-ok", "medium", "VALIDATED", 2, 0, NULL);
	add_sim(f, "q-bad", false, "[\"x.py\"]", "[]");
	add_sim(f, "q-new", false, "[\"x.py\",\"y.py\"]", "[]");
	add_sim(f, "q-ok", true, "[]", "[\"a.py\"]");
	mark = event_count(f);
	res = cv_engine_queue_run(&f->e, &o);
	assert_int_equal(json_array_size(res), 3);
	json_t *r0 = json_array_get(res, 0), *r1 = json_array_get(res, 1),
	    *r2 = json_array_get(res, 2);
	assert_string_equal(cv_json_str(r0, "reason", ""), "Merge conflicts: x.py");
	assert_int_equal(cv_json_int(r0, "retries", 0), 3);
	assert_string_equal(cv_json_str(r1, "reason", ""),
	    "Merge conflicts: x.py, y.py");
	assert_int_equal(cv_json_int(r1, "retries", 0), 1);
	/* D-8 (was B8): the directory is no repository, so the merge did
	 * not happen: merge_failed, never MERGED with a simulated- sha. */
	assert_string_equal(cv_json_str(r2, "decision", ""), "merge_failed");
	assert_null(json_object_get(r2, "merged_commit"));
	assert_non_null(strstr(cv_json_str(r2, "error", ""), "not a git"));
	assert_int_equal(cv_json_int(r2, "retries", 0), 1);
	json_t *gate = json_object_get(r2, "risk_gate");
	json_t *want = json_loads("{\"would_block\":false,\"enforced\":false,"
	    "\"mode\":\"shadow\",\"enforce_ratio\":1.0,\"rollout_bucket\":0.2966,"
	    "\"in_enforcement_group\":true,\"breaches\":[]}", 0, NULL);
	assert_true(json_equal(gate, want));
	json_decref(want);
	assert_string_equal(status_of(f, "q-bad", &retries), "REJECTED");
	assert_int_equal(retries, 3);
	assert_string_equal(status_of(f, "q-new", &retries), "READY");
	assert_int_equal(retries, 1);
	assert_string_equal(status_of(f, "q-ok", &retries), "VALIDATED");
	assert_int_equal(retries, 1);
	assert_types(types_since(f, mark), "[\"intent.blocked\",\"intent.rejected\","
	    "\"intent.blocked\",\"intent.requeued\",\"risk.evaluated\","
	    "\"policy.evaluated\",\"intent.validated\",\"intent.merge_failed\","
	    "\"queue.processed\"]");
	json_decref(res);
	/* V48: forced back to VALIDATED without a reset. */
	assert_int_equal(cv_intent_update_status(f->s, "q-bad", "VALIDATED", -1),
	    CV_OK);
	res = cv_engine_queue_run(&f->e, &o);
	assert_int_equal(json_array_size(res), 2);
	assert_string_equal(cv_json_str(json_array_get(res, 0), "reason", ""),
	    "max_retries_exceeded");
	assert_string_equal(status_of(f, "q-bad", NULL), "REJECTED");
	assert_string_equal(cv_json_str(json_array_get(res, 1), "decision", ""),
	    "merge_failed");
	json_decref(res);
	/* D-8: the third failed merge rejects, naming the count and git's
	 * message. */
	res = cv_engine_queue_run(&f->e, &o);
	assert_int_equal(json_array_size(res), 1);
	assert_string_equal(cv_json_str(json_array_get(res, 0), "decision", ""),
	    "rejected");
	assert_memory_equal(cv_json_str(json_array_get(res, 0), "reason", ""),
	    "Merge failed 3 times: ", 22);
	assert_string_equal(status_of(f, "q-ok", &retries), "REJECTED");
	assert_int_equal(retries, 3);
	json_decref(res);
	struct cv_event_filter rej = { .event_type = "intent.rejected",
	    .intent_id = "q-bad", .limit = 1 };
	json_t *evs = cv_event_query(f->s, &rej);
	assert_string_equal(cv_json_str(json_object_get(json_array_get(evs, 0),
	    "payload"), "reason", ""), "Max retries (3) exceeded");
	json_decref(evs);
}

/* V49: lock held elsewhere → one error element, no events. */
static void test_queue_lock_busy(void **state)
{
	struct fx *f = *state;
	struct cv_queue_opts o = { .max_retries = 3 };
	bool ok;
	size_t mark;
	json_t *res;

	assert_int_equal(cv_lock_acquire(f->s, "queue", 99999, 300, &ok), CV_OK);
	mark = event_count(f);
	res = cv_engine_queue_run(&f->e, &o);
	assert_int_equal(json_array_size(res), 1);
	assert_non_null(json_object_get(json_array_get(res, 0), "error"));
	assert_non_null(json_object_get(json_array_get(res, 0), "lock"));
	assert_int_equal(event_count(f), mark);
	json_decref(res);
}

/* V51-V53 and T11. */
static void test_confirm_reset_inspect(void **state)
{
	struct fx *f = *state;
	json_t *r;
	static const struct { const char *id, *status, *commit, *want_commit,
	    *want_error; } confirm[] = {
		{ "m-001", "QUEUED", "abc123", "abc123", NULL },
		{ "m-002", "VALIDATED", NULL, "confirmed-m-002", NULL },
		{ "m-long-identifier", "QUEUED", NULL, "confirmed-m-long-i", NULL },
		{ "m-003", "MERGED", NULL, NULL,
		  "Intent m-003 is MERGED, expected QUEUED or VALIDATED" },
		{ "m-404", NULL, NULL, NULL, "Intent m-404 not found" },
	};

	for (size_t i = 0; i < CV_ARRAY_LEN(confirm); i++) {
		if (confirm[i].status)
			add_intent(f, confirm[i].id, "medium", confirm[i].status,
			    3, 0, NULL);
		r = cv_engine_confirm_merge(&f->e, confirm[i].id,
		    confirm[i].commit);
		if (confirm[i].want_error)
			assert_string_equal(cv_json_str(r, "error", ""),
			    confirm[i].want_error);
		else {
			assert_string_equal(cv_json_str(r, "merged_commit", ""),
			    confirm[i].want_commit);
			assert_string_equal(status_of(f, confirm[i].id, NULL),
			    "MERGED");
		}
		json_decref(r);
	}
	add_intent(f, "r-1", "medium", "READY", 3, 5, NULL);
	r = cv_engine_queue_reset(&f->e, "r-1", "VALIDATED", false);
	assert_string_equal(cv_json_str(r, "status", ""), "VALIDATED");
	assert_int_equal(cv_json_int(r, "retries", -1), 0);
	json_decref(r);
	r = cv_engine_queue_reset(&f->e, "any", NULL, true);
	assert_string_equal(cv_json_str(r, "error", ""), "Intent any not found");
	json_decref(r);
	add_intent(f, "i-001", "medium", "READY", 3, 0, NULL);
	add_intent(f, "i-002", "medium", "VALIDATED", 3, 0, NULL);
	r = cv_engine_queue_inspect(&f->e, NULL, -1, true, 100);
	char *text = json_dumps(r, JSON_COMPACT);
	assert_non_null(strstr(text, "i-001"));
	assert_non_null(strstr(text, "i-002"));
	assert_null(strstr(text, "m-001"));
	free(text);
	json_decref(r);
	r = cv_engine_set_status(&f->e, "i-001", "QUEUED");
	assert_string_equal(cv_json_str(r, "status", ""), "QUEUED");
	json_decref(r);
	r = cv_engine_set_status(&f->e, "i-001", "DONE");
	assert_non_null(json_object_get(r, "error"));
	json_decref(r);
}

/* A trigger that refuses the writes `what` names, and its removal. Both
 * texts are literals: the store keeps prepared statements by their SQL. */
#define REFUSE(f, name, what) assert_int_equal(cv_db_exec((f)->s, \
    "CREATE TRIGGER " name " BEFORE " what " BEGIN SELECT RAISE(ABORT," \
    " 'refused'); END", NULL, 0, NULL), CV_OK)
#define ALLOW(f, name) assert_int_equal(cv_db_exec((f)->s, \
    "DROP TRIGGER " name, NULL, 0, NULL), CV_OK)

/* A queue cycle whose step for its one intent failed (an error in the
 * answer) and left that intent at status. */
static void cycle_failed(struct fx *f, const struct cv_queue_opts *o,
    const char *id, const char *status)
{
	json_t *res = cv_engine_queue_run(&f->e, o);

	assert_non_null(json_object_get(json_array_get(res, 0), "error"));
	json_decref(res);
	assert_string_equal(status_of(f, id, NULL), status);
}

/* A landing whose outcome cannot be recorded goes back to VALIDATED; when
 * even that write fails, its in-flight mark must stay, so that the next
 * cycle puts it back in line instead of leaving it QUEUED for good. Both
 * writes are refused by triggers, then the triggers are dropped. */
static void test_landing_not_stranded(void **state)
{
	struct fx *f = *state;
	struct cv_queue_opts o = { .limit = 20, .target = "main",
	    .auto_confirm = true, .max_retries = 3, .use_last_simulation = true,
	    .skip_checks = true };
	json_t *res;
	long long retries;

	add_intent(f, "s-1", "medium", "VALIDATED", 2, 0, NULL);
	add_sim(f, "s-1", true, "[]", "[\"a.py\"]");
	REFUSE(f, "no_outcome", "INSERT ON events WHEN NEW.event_type ="
	    " 'intent.merge_failed'");
	REFUSE(f, "no_reset", "UPDATE OF status ON intents WHEN OLD.status ="
	    " 'QUEUED' AND NEW.status = 'VALIDATED'");
	cycle_failed(f, &o, "s-1", "QUEUED");
	ALLOW(f, "no_outcome");
	ALLOW(f, "no_reset");
	/* The next cycle puts it back in line (after listing its own), the
	 * one after lands it: the directory is no repository, so the landing
	 * fails, and that is recorded. */
	json_decref(cv_engine_queue_run(&f->e, &o));
	assert_string_equal(status_of(f, "s-1", NULL), "VALIDATED");
	res = cv_engine_queue_run(&f->e, &o);
	assert_string_equal(cv_json_str(json_array_get(res, 0), "decision", ""),
	    "merge_failed");
	json_decref(res);
	assert_string_equal(status_of(f, "s-1", &retries), "VALIDATED");
	assert_int_equal(retries, 1);
}

/* Without auto-confirm a validated intent is marked QUEUED; when that
 * write is refused the cycle says the step failed, never that it queued
 * an intent still VALIDATED. */
static void test_queued_mark_refused(void **state)
{
	struct fx *f = *state;
	struct cv_queue_opts o = { .limit = 20, .target = "main",
	    .max_retries = 3, .use_last_simulation = true, .skip_checks = true };
	json_t *res;

	add_intent(f, "m-1", "medium", "VALIDATED", 2, 0, NULL);
	add_sim(f, "m-1", true, "[]", "[\"a.py\"]");
	REFUSE(f, "no_queue", "UPDATE OF status ON intents WHEN NEW.status ="
	    " 'QUEUED'");
	cycle_failed(f, &o, "m-1", "VALIDATED");
	ALLOW(f, "no_queue");
	res = cv_engine_queue_run(&f->e, &o);
	assert_null(json_object_get(json_array_get(res, 0), "error"));
	json_decref(res);
	assert_string_equal(status_of(f, "m-1", NULL), "QUEUED");
}

/* A real repository: fresh simulation, conflict, and auto-confirm merge. */
static void test_real_repo_flow(void **state)
{
	struct fx *f = *state;
	char *repo = repo_new();
	struct cv_validate_opts fresh = { NULL, false, true };
	struct cv_queue_opts q = { .auto_confirm = true, .max_retries = 3,
	    .use_last_simulation = true, .skip_checks = true };
	json_t *d, *res;

	repo_write(repo, "src/app.py", "print('v1')\n");
	repo_commit(repo, "base");
	repo_branch(repo, "feature/clean", "src/new_feature.py", "x = 1\n",
	    "clean");
	repo_branch(repo, "feature/conflict", "src/app.py", "print('branch')\n",
	    "conflict side");
	repo_write(repo, "src/app.py", "print('main')\n");
	repo_commit(repo, "main moves");
	f->e.repo_dir = repo;

	json_t *doc = json_pack("{s:s,s:s,s:s,s:s}", "id", "clean", "source",
	    "feature/clean", "target", "main", "risk_level", "low");
	const char *err;
	json_t *in = cv_intent_build(doc, false, NULL, &err);
	assert_int_equal(cv_engine_intent_create(&f->e, in, false), CV_OK);
	assert_int_equal(cv_engine_intent_create(&f->e, in, false), CV_EEXIST);
	json_decref(in);
	json_object_set_new(doc, "id", json_string("conflict"));
	json_object_set_new(doc, "source", json_string("feature/conflict"));
	in = cv_intent_build(doc, false, NULL, &err);
	assert_int_equal(cv_engine_intent_create(&f->e, in, false), CV_OK);
	json_decref(in);
	json_decref(doc);

	d = cv_engine_validate(&f->e, "conflict", &fresh);
	assert_string_equal(cv_json_str(d, "reason", ""),
	    "Merge conflicts: src/app.py");
	json_decref(d);
	/* D-8: a ref that exists nowhere is said, never "Merge conflicts". */
	add_intent(f, "ghost-ref", "low", "READY", 3, 0, NULL);
	set_source(f, "ghost-ref", "refs/heads/nowhere");
	d = cv_engine_validate(&f->e, "ghost-ref", &fresh);
	assert_string_equal(cv_json_str(d, "decision", ""), "blocked");
	assert_string_equal(cv_json_str(d, "reason", ""),
	    "Unknown ref: refs/heads/nowhere");
	json_decref(d);
	d = cv_engine_simulate(&f->e, "feature/clean", "nope", NULL);
	assert_string_equal(cv_json_str(d, "error", ""), "Unknown ref: nope");
	json_decref(d);
	d = cv_engine_validate(&f->e, "clean", &fresh);
	assert_string_equal(cv_json_str(d, "decision", ""), "validated");
	json_t *files = json_object_get(json_object_get(d, "simulation"),
	    "files_changed");
	assert_int_equal(json_array_size(files), 2);
	json_decref(d);
	res = cv_engine_queue_run(&f->e, &q);
	assert_int_equal(json_array_size(res), 1);
	json_t *r0 = json_array_get(res, 0);
	assert_string_equal(cv_json_str(r0, "decision", ""), "merged");
	assert_null(json_object_get(r0, "merge_note"));
	assert_int_equal(strlen(cv_json_str(r0, "merged_commit", "")), 40);
	json_decref(res);
	char *log = repo_run(repo, "git", "log", "-1", "--format=%s", NULL);
	assert_non_null(strstr(log, "converge: merge feature/clean into main"));
	free(log);
	/* Not a repository → Simulation failed, no simulation event. */
	f->e.repo_dir = f->dir;
	add_intent(f, "norepo", "medium", "READY", 3, 0, NULL);
	size_t mark = event_count(f);
	d = cv_engine_validate(&f->e, "norepo", &fresh);
	assert_memory_equal(cv_json_str(d, "reason", ""), "Simulation failed: ", 19);
	assert_types(types_since(f, mark), "[\"intent.blocked\"]");
	json_decref(d);
	repo_remove(repo);
}

/* D-8 on a real repository: an uncommitted edit of a file the merge
 * touches makes git refuse; the target does not move, the intent stays
 * VALIDATED with retries 1 and intent.merge_failed, never intent.merged.
 * Once the tree is clean the next cycle lands it. */
static void test_real_merge_failed(void **state)
{
	struct fx *f = *state;
	char *repo = repo_new(), *before, *after;
	struct cv_queue_opts q = { .auto_confirm = true, .max_retries = 3,
	    .skip_checks = true };
	json_t *res, *r0;
	long long retries;

	repo_write(repo, "src/app.py", "print('v1')\n");
	repo_commit(repo, "base");
	repo_branch(repo, "feature/touch", "src/app.py", "print('v2')\n", "touch");
	repo_write(repo, "src/app.py", "print('local edit')\n");
	f->e.repo_dir = repo;
	add_intent(f, "touch", "low", "VALIDATED", 3, 0, NULL);
	set_source(f, "touch", "feature/touch");
	before = repo_run(repo, "git", "rev-parse", "main", NULL);
	size_t mark = event_count(f);
	res = cv_engine_queue_run(&f->e, &q);
	r0 = json_array_get(res, 0);
	assert_string_equal(cv_json_str(r0, "decision", ""), "merge_failed");
	assert_non_null(strstr(cv_json_str(r0, "error", ""),
	    "local changes"));
	assert_null(json_object_get(r0, "merged_commit"));
	json_decref(res);
	after = repo_run(repo, "git", "rev-parse", "main", NULL);
	assert_string_equal(before, after);
	free(after);
	assert_string_equal(status_of(f, "touch", &retries), "VALIDATED");
	assert_int_equal(retries, 1);
	json_t *types = types_since(f, mark);
	char *dump = json_dumps(types, JSON_COMPACT);
	assert_non_null(strstr(dump, "\"intent.merge_failed\""));
	assert_null(strstr(dump, "\"intent.merged\""));
	free(dump);
	json_decref(types);
	/* Clean tree: the next cycle merges for real. */
	repo_git(repo, "checkout", "-q", "--", "src/app.py");
	res = cv_engine_queue_run(&f->e, &q);
	r0 = json_array_get(res, 0);
	assert_string_equal(cv_json_str(r0, "decision", ""), "merged");
	after = repo_run(repo, "git", "rev-parse", "main", NULL);
	after[strcspn(after, "\n")] = '\0';
	assert_string_equal(cv_json_str(r0, "merged_commit", ""), after);
	assert_string_not_equal(before, after);
	free(after);
	free(before);
	json_decref(res);
	assert_string_equal(status_of(f, "touch", NULL), "MERGED");
	repo_remove(repo);
}

static void set_deps(struct fx *f, const char *id, const char *deps_json,
    const char *tenant)
{
	json_t *in = NULL;

	assert_int_equal(cv_intent_get(f->s, id, &in), CV_OK);
	json_object_set_new(in, "dependencies", json_loads(deps_json, 0, NULL));
	if (tenant)
		json_object_set_new(in, "tenant_id", json_string(tenant));
	assert_int_equal(cv_intent_upsert(f->s, in), CV_OK);
	json_decref(in);
}

/* D-8 (was B12 parity): dependencies are enforced by default. */
static void test_dependencies_enforced(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *deps, *tenant;
		bool ignore;
		const char *decision, *reason;
	} rows[] = {
		{ "[\"dep-a\"]", NULL, false, "dependency_blocked",
		  "Dependencies not merged: dep-a" },
		{ "[\"dep-m\",\"ghost\"]", NULL, false, "dependency_blocked",
		  "Dependencies not merged: ghost (unknown intent: ghost)" },
		/* another tenant's intent does not exist for this one */
		{ "[\"dep-m\"]", "team-b", false, "dependency_blocked",
		  "Dependencies not merged: dep-m (unknown intent: dep-m)" },
		{ "[\"dep-m\"]", NULL, false, "validated", NULL },
		/* CONVERGE_QUEUE_ENFORCE_DEPENDENCIES=0: 0.1.0 */
		{ "[\"dep-a\"]", NULL, true, "validated", NULL },
	};

	add_intent(f, "dep-a", "medium", "READY", 3, 0, NULL);
	add_intent(f, "dep-m", "medium", "MERGED", 3, 0, NULL);
	set_deps(f, "dep-m", "[]", "team-a");
	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		struct cv_queue_opts o = { .max_retries = 3,
		    .use_last_simulation = true, .skip_checks = true,
		    .ignore_dependencies = rows[i].ignore };
		char id[16];
		long long retries;

		snprintf(id, sizeof id, "dep-b%zu", i);
		add_intent(f, id, "medium", "VALIDATED", 3, 0, NULL);
		set_deps(f, id, rows[i].deps, rows[i].tenant);
		add_sim(f, id, true, "[]", "[\"a.py\"]");
		for (int run = 0; run < 2; run++) {
			size_t mark = event_count(f);
			json_t *res = cv_engine_queue_run(&f->e, &o);
			json_t *r = json_array_get(res, 0);
			assert_int_equal(json_array_size(res), 1);
			assert_string_equal(cv_json_str(r, "decision", ""),
			    rows[i].decision);
			if (rows[i].reason) {
				assert_string_equal(cv_json_str(r, "reason", ""),
				    rows[i].reason);
				assert_true(json_array_size(json_object_get(r,
				    "blocked_by")) > 0);
				/* the event once, not once per cycle */
				assert_types(types_since(f, mark), run == 0 ?
				    "[\"intent.blocked\",\"queue.processed\"]" :
				    "[\"queue.processed\"]");
			}
			json_decref(res);
			if (!rows[i].reason)
				break;
			/* no retry spent, status unchanged */
			assert_string_equal(status_of(f, id, &retries),
			    "VALIDATED");
			assert_int_equal(retries, 0);
		}
		assert_int_equal(cv_intent_update_status(f->s, id, "MERGED", -1),
		    CV_OK);
	}
}

/* D-8: the tenant's stored risk policy governs the gate in validation;
 * tenants without one keep the policy file's section (shadow). */
static void test_tenant_risk_policy_gates(void **state)
{
	struct fx *f = *state;
	struct cv_validate_opts o = { NULL, true, true };
	json_t *pol = json_pack("{s:f,s:s,s:f}", "max_risk_score", 0.0, "mode",
	    "enforce", "enforce_ratio", 1.0);
	json_t *d;

	assert_int_equal(cv_risk_policy_upsert(f->s, "team-a", pol, NULL),
	    CV_OK);
	json_decref(pol);
	add_intent(f, "tp-a", "medium", "READY", 3, 0, NULL);
	set_deps(f, "tp-a", "[]", "team-a");
	add_sim(f, "tp-a", true, "[]", "[\"a.py\",\"b.py\"]");
	add_intent(f, "tp-b", "medium", "READY", 3, 0, NULL);
	set_deps(f, "tp-b", "[]", "team-b");
	add_sim(f, "tp-b", true, "[]", "[\"a.py\",\"b.py\"]");
	d = cv_engine_validate(&f->e, "tp-a", &o);
	assert_string_equal(cv_json_str(d, "decision", ""), "blocked");
	assert_memory_equal(cv_json_str(d, "reason", ""), "Risk gate enforced: ",
	    20);
	json_decref(d);
	d = cv_engine_validate(&f->e, "tp-b", &o);
	assert_string_equal(cv_json_str(d, "decision", ""), "validated");
	assert_string_equal(cv_json_str(json_object_get(d, "risk_gate"), "mode",
	    ""), "shadow");
	json_decref(d);
}

/* V46 through the engine: checks run, one fails. */
static void test_checks_block(void **state)
{
	struct fx *f = *state;
	char *repo = repo_new();
	struct cv_validate_opts o = { NULL, false, false };
	json_t *d;

	repo_write(repo, "Makefile", "lint:\n\t@echo ok\ntest:\n\t@echo test "
	    "failure >&2; exit 1\n");
	repo_commit(repo, "base");
	repo_git(repo, "branch", "feature/x");
	f->e.repo_dir = repo;
	add_intent(f, "chk", "high", "READY", 3, 0, NULL);
	size_t mark = event_count(f);
	d = cv_engine_validate(&f->e, "chk", &o);
	assert_string_equal(cv_json_str(d, "reason", ""),
	    "Checks failed: ['unit_tests']");
	assert_types(types_since(f, mark), "[\"simulation.completed\","
	    "\"check.completed\",\"check.completed\",\"intent.blocked\"]");
	json_decref(d);
	repo_remove(repo);
}

/* The soak's finding: the worker landed an intent while a validation of
 * it ran; the validation wrote VALIDATED over MERGED and the next cycle
 * landed the same change again. Here the check itself plays the worker
 * (it marks the intent MERGED in the database): the validation records
 * nothing and answers as for a MERGED intent. */
static void test_validate_race_with_landing(void **state)
{
	struct fx *f = *state;
	char *repo, mk[1024];
	struct cv_validate_opts o = { NULL, false, false };
	json_t *d, *got;

	if (access("/usr/bin/sqlite3", X_OK) != 0)
		skip();
	repo = repo_new();
	snprintf(mk, sizeof mk, "lint:\n\t@/usr/bin/sqlite3 %s \"UPDATE intents"
	    " SET status = 'MERGED' WHERE id = 'race'\"\ntest:\n\t@echo ok\n",
	    f->db);
	repo_write(repo, "Makefile", mk);
	repo_commit(repo, "base");
	repo_git(repo, "branch", "feature/x");
	f->e.repo_dir = repo;
	add_intent(f, "race", "high", "READY", 3, 0, NULL);
	size_t mark = event_count(f);
	d = cv_engine_validate(&f->e, "race", &o);
	assert_non_null(d);
	assert_string_equal(cv_json_str(d, "error", ""),
	    "Intent race is MERGED, cannot validate");
	json_decref(d);
	assert_types(types_since(f, mark), "[\"simulation.completed\","
	    "\"check.completed\",\"check.completed\",\"risk.evaluated\","
	    "\"policy.evaluated\"]");
	assert_int_equal(cv_intent_get(f->s, "race", &got), CV_OK);
	assert_string_equal(cv_json_str(got, "status", ""), "MERGED");
	json_decref(got);
	repo_remove(repo);
}

/* A VALIDATED intent of tenant (NULL: none) at priority and time. */
static void add_tenant_intent(struct fx *f, const char *id,
    const char *tenant, int prio, const char *created)
{
	json_t *doc = json_pack("{s:s,s:s,s:s,s:s,s:i,s:s,s:s?}", "id", id,
	    "source", "feature/x", "target", "main", "status", "VALIDATED",
	    "priority", prio, "created_at", created, "tenant_id", tenant);
	upsert_doc(f, doc);
}

/* Issue 9 finding 7: a 200-intent backlog of tenant-b at the best
 * priority, older than tenant-a's one intent at the worst: tenant-a's
 * intent is processed in the first cycle. */
static void test_queue_tenants_take_turns(void **state)
{
	struct fx *f = *state;
	struct cv_queue_opts o = { .limit = 20, .target = "main",
	    .max_retries = 3, .use_last_simulation = true, .skip_checks = true };
	char id[32], ts[40];
	json_t *list, *res;
	bool seen = false;
	size_t i;

	for (int k = 0; k < 200; k++) {
		snprintf(id, sizeof id, "b-%03d", k);
		snprintf(ts, sizeof ts, "2026-01-01T00:%02d:%02d.000000+00:00",
		    k / 60, k % 60);
		add_tenant_intent(f, id, "tenant-b", 0, ts);
	}
	add_tenant_intent(f, "a-late", "tenant-a", 1000,
	    "2026-01-02T00:00:00.000000+00:00");
	add_tenant_intent(f, "none-1", NULL, 5,
	    "2026-01-03T00:00:00.000000+00:00");
	list = cv_intent_list_fair(f->s, "VALIDATED", 20);
	assert_int_equal(json_array_size(list), 20);
	/* turns by oldest waiting work: b, a, no tenant, then b again */
	assert_string_equal(cv_json_str(json_array_get(list, 0), "id", ""),
	    "b-000");
	assert_string_equal(cv_json_str(json_array_get(list, 1), "id", ""),
	    "a-late");
	assert_string_equal(cv_json_str(json_array_get(list, 2), "id", ""),
	    "none-1");
	assert_string_equal(cv_json_str(json_array_get(list, 3), "id", ""),
	    "b-001");
	json_decref(list);
	res = cv_engine_queue_run(&f->e, &o);
	assert_non_null(res);
	json_array_foreach(res, i, list)
		seen = seen || strcmp(cv_json_str(list, "intent_id", ""),
		    "a-late") == 0;
	assert_true(seen);
	json_decref(res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_validate_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_validate_terminal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_run_v47, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_tenants_take_turns,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_lock_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_landing_not_stranded, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_queued_mark_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_confirm_reset_inspect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_real_repo_flow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_validate_race_with_landing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_checks_block, setup, teardown),
		cmocka_unit_test_setup_teardown(test_real_merge_failed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_dependencies_enforced, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tenant_risk_policy_gates,
		    setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
