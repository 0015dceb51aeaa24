/* test_outbox.c - the GitHub outbox (decisions.md D-5) on a real SQLite
 * store, publishing to tests/fakegithub. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../fakegithub/harness.h"
#include "clock.h"
#include "db.h"
#include "eventlog.h"
#include "jsonx.h"
#include "outbox.h"
#include "publish.h"
#include "store.h"

static struct fake_github fake;

struct fixture {
	char dir[64];
	char path[128];
	struct cv_store *s;
	struct cv_github *gh;
};

static void no_sleep(void *ctx, double s)
{
	(void)ctx;
	(void)s;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	struct cv_github_options o = {
		.api_url = fake.url, .app_id = FAKE_APP_ID,
		.key_path = fake.key_pkcs8, .installation_id = "4242",
		.hooks = { NULL, NULL, no_sleep, NULL },
	};

	snprintf(f->dir, sizeof f->dir, "/tmp/cv-outbox-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof f->path, "%s/state.db", f->dir);
	struct cv_store_options so = { CV_BACKEND_SQLITE, f->path, NULL, 0 };
	if (cv_store_open(&so, &f->s, NULL) != CV_OK ||
	    !(f->gh = cv_github_new(&o)))
		return -1;
	fake_github_reset(&fake);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	static const char *suffix[] = { "", "-wal", "-shm", ".lock" };
	char p[256];

	cv_github_free(f->gh);
	cv_store_close(f->s);
	for (size_t i = 0; i < CV_ARRAY_LEN(suffix); i++) {
		snprintf(p, sizeof p, "%s%s", f->path, suffix[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static json_t *request(const char *intent, const char *decision,
    const char *sha)
{
	return json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:f, s:s}",
	    "repo", "acme/backend", "head_sha", sha, "installation_id", 4242,
	    "intent_id", intent, "decision", decision, "trace_id", "trace-1",
	    "risk_score", 12.5, "reason", "");
}

/* Rows as [id, attempts, next_attempt_at, done_at]. */
static json_t *rows_of(struct cv_store *s)
{
	json_t *rows = NULL;

	assert_int_equal(cv_db_query(s, "SELECT id, attempts, next_attempt_at,"
	    " done_at FROM github_outbox ORDER BY created_at, id", NULL, 0,
	    &rows), CV_OK);
	return rows;
}

static void test_delay(void **state)
{
	static const struct { long long attempts; int delay; } rows[] = {
		{ 0, 5 }, { 1, 10 }, { 2, 20 }, { 3, 40 }, { 6, 320 },
		{ 7, 600 }, { 8, 600 }, { 1000000, 600 },
	};
	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++)
		assert_int_equal(cv_outbox_delay(rows[i].attempts),
		    rows[i].delay);
}

static void test_id(void **state)
{
	static const struct { const char *i, *d, *s, *want; } rows[] = {
		{ "acme/backend:pr-42", "validated", "abc123",
		  "a0369d854a2f4c6cd152a3bf21a28f11487b599e8a6ee6a3ef91d5be2900c0d8" },
		{ "", "", "",
		  "565d240f5343e625ae579a4d45a770f1f02c6368b5ed4d06da4fbe6f47c28866" },
	};
	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		char id[CV_OUTBOX_ID_LEN];
		json_t *r = request(rows[i].i, rows[i].d, rows[i].s);
		cv_outbox_id(r, id);
		assert_string_equal(id, rows[i].want);
		json_decref(r);
	}
}

static void test_enqueue(void **state)
{
	static const struct {
		const char *intent, *decision, *sha;
		char tx;               /* 0 = none, 'c' commit, 'r' rollback */
		enum cv_err want;
		size_t rows;
	} rows[] = {
		{ "acme/backend:pr-1", "validated", "abc", 0, CV_OK, 1 },
		{ "acme/backend:pr-1", "validated", "abc", 0, CV_OK, 1 },
		{ "acme/backend:pr-1", "validated", "abc", 'c', CV_OK, 1 },
		{ "acme/backend:pr-1", "merged", "abc", 'r', CV_OK, 1 },
		{ "acme/backend:pr-1", "merged", "abc", 'c', CV_OK, 2 },
		{ "acme/backend:pr-1", "validated", "def", 0, CV_OK, 3 },
		{ "acme/backend:pr-2", "validated", "abc", 0, CV_OK, 4 },
		{ "acme/backend:pr-3", "validated", "", 0, CV_EINVAL, 4 },
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		json_t *r = request(rows[i].intent, rows[i].decision,
		    rows[i].sha);
		if (rows[i].tx)
			assert_int_equal(cv_store_begin(f->s), CV_OK);
		assert_int_equal(cv_outbox_enqueue(f->s, r), rows[i].want);
		if (rows[i].tx == 'c')
			assert_int_equal(cv_store_commit(f->s), CV_OK);
		else if (rows[i].tx == 'r')
			cv_store_rollback(f->s);
		json_t *all = rows_of(f->s);
		if (json_array_size(all) != rows[i].rows)
			fail_msg("row %zu: %zu rows", i, json_array_size(all));
		json_decref(all);
		json_decref(r);
	}
}

/* Payloads of the outbox rows, oldest first (new reference). */
static json_t *payloads_of(struct cv_store *s)
{
	json_t *rows = NULL, *out = json_array(), *row;
	size_t i;

	assert_int_equal(cv_db_query(s, "SELECT payload FROM github_outbox"
	    " ORDER BY created_at, id", NULL, 0, &rows), CV_OK);
	json_array_foreach(rows, i, row)
		json_array_append_new(out, json_loads(json_string_value(
		    json_array_get(row, 0)), 0, NULL));
	json_decref(rows);
	return out;
}

/*
 * Publication targets come from verified deliveries only: an intent whose
 * technical names a repository, commit and installation (as a request
 * body could) publishes nothing; one recorded from a delivery publishes
 * there, follows a push of its own repository, and ignores a push of
 * another.
 */
static void test_publish_target(void **state)
{
	struct fixture *f = *state;
	struct cv_config cfg;
	json_t *forged = json_pack("{s:s,s:{s:s,s:s,s:i}}", "id", "api-forged",
	    "technical", "repo", "victim-org/repo", "initial_base_commit",
	    "abc", "installation_id", 4242);
	json_t *pr = json_pack("{s:s,s:{}}", "id", "acme/backend:pr-5",
	    "technical");
	json_t *decision = json_pack("{s:s,s:s}", "decision", "validated",
	    "trace_id", "t-1");
	json_t *t = NULL, *all, *inst = json_integer(77);

	memset(&cfg, 0, sizeof cfg);
	cfg.github_app_id = (char *)"1";
	cfg.github_installation_id = (char *)"4242";
	assert_int_equal(cv_publish_target(f->s, forged, &t), CV_OK);
	assert_null(t);
	cv_publish_decision_hook(&cfg, f->s, forged, decision);
	all = payloads_of(f->s);
	assert_int_equal(json_array_size(all), 0);
	json_decref(all);

	assert_int_equal(cv_publish_target_record(f->s, "acme/backend:pr-5",
	    "acme/backend", "aaa111", inst), CV_OK);
	assert_int_equal(cv_publish_target_move(f->s, "acme/backend:pr-5",
	    "other/repo", "ccc333"), CV_OK);
	assert_int_equal(cv_publish_target(f->s, pr, &t), CV_OK);
	assert_non_null(t);
	assert_string_equal(cv_json_str(t, "repo", ""), "acme/backend");
	assert_string_equal(cv_json_str(t, "head_sha", ""), "aaa111");
	assert_string_equal(cv_json_str(t, "installation_id", ""), "77");
	json_decref(t);
	assert_int_equal(cv_publish_target_move(f->s, "acme/backend:pr-5",
	    "acme/backend", "bbb222"), CV_OK);
	cv_publish_decision_hook(&cfg, f->s, pr, decision);
	all = payloads_of(f->s);
	assert_int_equal(json_array_size(all), 1);
	assert_string_equal(cv_json_str(json_array_get(all, 0), "repo", ""),
	    "acme/backend");
	assert_string_equal(cv_json_str(json_array_get(all, 0), "head_sha",
	    ""), "bbb222");
	json_decref(all);

	/* the routing fields a caller may not set */
	json_t *tech = json_pack("{s:s,s:s,s:i,s:s,s:b,s:s}", "repo", "x/y",
	    "initial_base_commit", "abc", "installation_id", 1, "head_sha",
	    "abc", "merge_group", 1, "scope_hint", "keep");
	cv_publish_strip_routing(tech);
	assert_int_equal(json_object_size(tech), 1);
	assert_non_null(json_object_get(tech, "scope_hint"));
	json_decref(tech);
	json_decref(inst);
	json_decref(forged);
	json_decref(pr);
	json_decref(decision);
}

/* One row through failures and a late success; times are seconds after
 * the enqueue. */
static void test_process(void **state)
{
	static const struct {
		const char *mode;      /* fake mode before the run */
		double at;
		int sent, failed;
		long long attempts;
		double next;           /* next_attempt_at - t0, when not done */
		bool done;
	} steps[] = {
		{ "500", 1, 0, 1, 1, 6, false },
		{ "500", 3, 0, 0, 1, 6, false },     /* not due yet */
		{ "500", 6, 0, 1, 2, 16, false },
		{ "ok", 15.9, 0, 0, 2, 16, false },
		{ "ok", 16, 1, 0, 2, 0, true },
		{ "ok", 100, 0, 0, 2, 0, true },     /* done rows stay done */
	};
	struct fixture *f = *state;
	json_t *r = request("acme/backend:pr-42", "validated", "abc123");
	int64_t t0 = cv_now_us();

	assert_int_equal(cv_outbox_enqueue(f->s, r), CV_OK);
	for (size_t i = 0; i < CV_ARRAY_LEN(steps); i++) {
		struct cv_outbox_counts c;
		int64_t at = t0 + (int64_t)(steps[i].at * 1e6);

		fake_github_mode(&fake, steps[i].mode, 0, -1);
		assert_int_equal(cv_outbox_process(f->s, f->gh, 10, at,
		    CV_OUTBOX_EVENTS, &c), CV_OK);
		json_t *all = rows_of(f->s);
		json_t *row = json_array_get(all, 0);
		assert_int_equal(json_array_size(all), 1);
		if (c.sent != steps[i].sent || c.failed != steps[i].failed ||
		    json_integer_value(json_array_get(row, 1)) !=
		    steps[i].attempts)
			fail_msg("step %zu: sent %d failed %d attempts %lld", i,
			    c.sent, c.failed, (long long)json_integer_value(
			    json_array_get(row, 1)));
		assert_int_equal(json_is_string(json_array_get(row, 3)),
		    steps[i].done);
		if (!steps[i].done) {
			char want[CV_TS_LEN];
			cv_ts_from_us(want, t0 + (int64_t)(steps[i].next * 1e6));
			assert_string_equal(json_string_value(
			    json_array_get(row, 2)), want);
		}
		json_decref(all);
	}
	/* The success was published once and logged once. */
	json_t *seen = fake_github_requests(&fake);
	assert_int_equal(fake_github_count(seen, "POST", "/statuses/abc123",
	    201), 1);
	json_decref(seen);
	struct cv_event_filter ef = { .event_type = "github.decision_published" };
	json_t *evs = cv_event_query(f->s, &ef);
	assert_int_equal(json_array_size(evs), 1);
	json_t *ev = json_array_get(evs, 0);
	assert_string_equal(cv_json_str(ev, "intent_id", ""), "acme/backend:pr-42");
	assert_string_equal(cv_json_str(ev, "trace_id", ""), "trace-1");
	char *t = cv_json_dump(json_object_get(ev, "payload"));
	assert_string_equal(t, "{\"check_run_id\":1,\"commit_status_state\":"
	    "\"success\",\"decision\":\"validated\"}");
	free(t);
	json_decref(evs);
	json_decref(r);
}

/* Rows beyond limit wait for the next run; sent rows are never sent
 * again; events only with CV_OUTBOX_EVENTS. */
static void test_lease_and_limit(void **state)
{
	struct fixture *f = *state;
	const char *shas[] = { "a1", "a2", "a3" };
	struct cv_outbox_counts c;
	int64_t t0 = cv_now_us();

	for (size_t i = 0; i < 3; i++) {
		json_t *r = request("acme/backend:pr-7", "pending", shas[i]);
		assert_int_equal(cv_outbox_enqueue(f->s, r), CV_OK);
		json_decref(r);
	}
	assert_int_equal(cv_outbox_process(f->s, f->gh, 2, t0 + 1000000, 0,
	    &c), CV_OK);
	assert_int_equal(c.sent, 2);
	assert_int_equal(cv_outbox_process(f->s, f->gh, 2, t0 + 1000000, 0,
	    &c), CV_OK);
	assert_int_equal(c.sent, 1);
	assert_int_equal(cv_outbox_process(f->s, f->gh, 2, t0 + 1000000, 0,
	    &c), CV_OK);
	assert_int_equal(c.sent + c.failed + c.skipped, 0);
	struct cv_event_filter ef = { .event_type = "github.decision_published" };
	json_t *evs = cv_event_query(f->s, &ef);
	assert_int_equal(json_array_size(evs), 0);     /* flag not given */
	json_decref(evs);
}

static int group_setup(void **state)
{
	(void)state;
	return fake_github_start(&fake);
}

static int group_teardown(void **state)
{
	(void)state;
	fake_github_stop(&fake);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delay),
		cmocka_unit_test(test_id),
		cmocka_unit_test_setup_teardown(test_enqueue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_publish_target, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lease_and_limit, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
