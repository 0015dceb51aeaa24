/* test_ratelimit.c - the shared limiter (http-api.md 4, D-2) against a real
 * SQLite file: the SQL upsert and the C rule must agree row for row. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth.h"
#include "db.h"
#include "ratelimit.h"
#include "store.h"
#include "pgtest.h"

/* With CONVERGE_TEST_PG_DSN (scripts/pg-scratch) the SQL cases run on
 * PostgreSQL too, in a schema of their own so that the store tests'
 * table drops on the same server cannot race them. */
static char pg_dsn[600];

static int setup(void **state)
{
	struct pgtest_store *f = pgtest_store_new(pg_dsn);

	*state = f;
	return f ? 0 : -1;
}

static int teardown(void **state)
{
	pgtest_store_free(*state);
	return 0;
}

static void test_exempt(void **state)
{
	static const struct { const char *path; bool exempt; } rows[] = {
		{ "/health", true }, { "/health/ready", true },
		{ "/healthz", true }, { "/metrics", true },
		{ "/integrations/github/webhook", true },
		{ "/api/health/repo/now", false }, { "/v1/intents", false },
		{ "/", false }, { "/metric", false },
	};

	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++)
		assert_int_equal(cv_ratelimit_exempt(rows[i].path),
		    rows[i].exempt);
}

#define T0 1900000000000LL   /* ms */
#define END { -1, false }

struct hit { int64_t at; bool allowed; };

/* Each scenario: one bucket, a limit, requests at T0+at with the expected
 * answer; the SQL and the C rule must both give it. */
static void test_sequences(void **state)
{
	struct pgtest_store *f = *state;
	static const struct {
		const char *bucket;
		int rpm;
		struct hit hits[16];
	} rows[] = {
		/* RPM pass, RPM+1 refused, refused not counted, budget back 60 s
		 * after the last accepted request */
		{ "seq-a", 3, { { 0, true }, { 1, true }, { 2, true },
		    { 3, false }, { 59999, false }, { 60000, false },
		    { 60001, true }, { 60002, true }, { 60003, true },
		    { 60004, false }, { 60005, false }, END } },
		/* a fresh bucket after two idle windows */
		{ "seq-b", 2, { { 0, true }, { 10, true }, { 20, false },
		    { 200000, true }, { 200001, true }, { 200002, false },
		    END } },
		/* straddling a window boundary: the previous window decays */
		{ "seq-c", 10, { { 0, true }, { 59000, true }, { 59001, true },
		    { 59002, true }, { 59003, true }, { 59004, true },
		    { 59005, true }, { 59006, true }, { 59007, true },
		    { 59008, true }, { 59500, false }, { 60000, false },
		    { 90000, true }, { 90001, true }, { 119008, true }, END } },
		/* another bucket is untouched by seq-a's exhaustion */
		{ "seq-d", 1, { { 3, true }, { 4, false }, END } },
	};

	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		struct cv_rl_state model = { 0 }, got;
		for (const struct hit *h = rows[i].hits; h->at >= 0; h++) {
			bool allowed, want_c;
			int retry;
			assert_int_equal(cv_ratelimit_hit(f->s, rows[i].bucket,
			    rows[i].rpm, T0 + h->at, &allowed, &retry, &got),
			    CV_OK);
			want_c = cv_ratelimit_step(&model, rows[i].rpm,
			    T0 + h->at);
			if (allowed != h->allowed || want_c != h->allowed)
				fail_msg("%s at %lld: sql %d c %d want %d",
				    rows[i].bucket, (long long)h->at, allowed,
				    want_c, h->allowed);
			assert_int_equal(got.hits, model.hits);
			assert_int_equal(got.window_start, model.window_start);
			assert_int_equal(got.prev_hits, model.prev_hits);
			assert_int_equal(got.last_at, model.last_at);
			assert_true(allowed ? retry == 0 : retry >= 1);
		}
	}
}

static void test_rpm_plus_one(void **state)
{
	struct pgtest_store *f = *state;
	/* RPM requests 10 ms apart, then three refused 30 s later; retry
	 * is when the first request fits again */
	static const struct { const char *bucket; int rpm, retry[3]; } rows[] = {
		{ "burst-120", 120, { 31, 30, 30 } },
		{ "burst-5", 5, { 31, 30, 30 } },
		{ "burst-1", 1, { 30, 30, 30 } },
	};

	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		bool allowed;
		int retry;
		for (int n = 0; n < rows[i].rpm; n++) {
			assert_int_equal(cv_ratelimit_hit(f->s, rows[i].bucket,
			    rows[i].rpm, T0 + n * 10, &allowed, &retry, NULL),
			    CV_OK);
			assert_true(allowed);
		}
		for (int n = 0; n < 3; n++) {
			assert_int_equal(cv_ratelimit_hit(f->s, rows[i].bucket,
			    rows[i].rpm, T0 + 30000 + n, &allowed, &retry,
			    NULL), CV_OK);
			assert_false(allowed);
			assert_int_equal(retry, rows[i].retry[n]);
		}
	}
}

static void test_retry_after(void **state)
{
	static const struct {
		struct cv_rl_state st;
		int rpm;
		int64_t now;
		int want;
	} rows[] = {
		/* full window started at T0, last hit at T0: back at T0+60 s */
		{ { T0, 5, 0, 0, T0 }, 5, T0 + 1000, 59 },
		{ { T0, 5, 0, 0, T0 + 500 }, 5, T0 + 1000, 60 },
		/* a full previous window decaying: a slot frees at once */
		{ { T0, 0, 10, T0 - 1, T0 - 1 }, 10, T0, 1 },
		{ { T0, 1, 0, 0, T0 }, 1, T0 + 59000, 1 },
	};

	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++)
		assert_int_equal(cv_ratelimit_retry_after(&rows[i].st,
		    rows[i].rpm, rows[i].now), rows[i].want);
}

/* ---- buckets ------------------------------------------------------------- */

static void test_buckets(void **state)
{
	struct pgtest_store *f = *state;
	struct cv_config on = { 0 }, off = { 0 };
	char err[128];
	on.auth_required = true;
	on.api_keys = (char *)"secret-key-1:viewer:vic:team-a,"
	    "secret-key-2:admin:ann,secret-key-3:viewer:val:team-a";
	off.api_keys = on.api_keys;
	struct cv_auth *a_on = cv_auth_new(&on, err, sizeof err);
	struct cv_auth *a_off = cv_auth_new(&off, err, sizeof err);
	char k1[CV_SHA256_HEX_LEN], p1[CV_SHA256_HEX_LEN], want_k[80],
	    want_l[80];
	cv_sha256_hex("abcdefgh-rest", 13, k1);
	cv_sha256_hex("abcdefgh", 8, p1);
	k1[8] = '\0';
	snprintf(want_l, sizeof want_l, "key:%s", k1);
	snprintf(want_k, sizeof want_k, "k:%s", p1);
	const struct {
		struct cv_auth *a;
		const char *env[3];
		const char *key, *label;
	} rows[] = {
		{ a_off, { "HTTP_X_TENANT_ID=tenant-A", "HTTP_X_API_KEY=zz" },
		    "h:tenant-A", "tenant-A" },
		{ a_off, { "HTTP_X_TENANT_ID=" }, "h:", "" },
		{ a_off, { "HTTP_X_API_KEY=abcdefgh-rest" }, want_k, want_l },
		{ a_off, { "HTTP_X_API_KEY=" }, "_anonymous", "_anonymous" },
		{ a_off, { NULL }, "_anonymous", "_anonymous" },
		{ a_on, { "HTTP_X_API_KEY=secret-key-1",
		    "HTTP_X_TENANT_ID=evil" }, "p:t:team-a|a:vic", "team-a" },
		{ a_on, { "HTTP_X_API_KEY=secret-key-3" }, "p:t:team-a|a:val",
		    "team-a" },
		{ a_on, { "HTTP_X_API_KEY=secret-key-2" }, "p:t:|a:ann",
		    "_anonymous" },
		{ a_on, { "HTTP_X_API_KEY=wrong" }, "_anonymous", "_anonymous" },
		{ a_on, { "HTTP_X_TENANT_ID=team-a" }, "_anonymous",
		    "_anonymous" },
	};

	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		char *env[6] = { (char *)"REQUEST_METHOD=GET",
		    (char *)"DOCUMENT_URI=/v1/intents" };
		int n = 2;
		for (int j = 0; j < 3 && rows[i].env[j]; j++)
			env[n++] = (char *)rows[i].env[j];
		struct cv_request r;
		struct cv_rl_bucket b;
		assert_int_equal(cv_request_init(&r, env), CV_OK);
		assert_int_equal(cv_ratelimit_bucket(rows[i].a, f->s, &r, &b),
		    CV_OK);
		assert_string_equal(b.key, rows[i].key);
		assert_string_equal(b.label, rows[i].label);
		assert_null(strstr(b.key, "secret"));
		assert_null(strstr(b.label, "abcdefgh"));
		cv_rl_bucket_free(&b);
		cv_request_free(&r);
	}
	cv_auth_free(a_on);
	cv_auth_free(a_off);
}

static void test_respond(void **state)
{
	static const struct { int rpm, retry; const char *body, *after; } rows[] = {
		{ 120, 7, "{\"error\": \"Rate limit exceeded (120 requests/min)\"}",
		    "7" },
		{ 5, 0, "{\"error\": \"Rate limit exceeded (5 requests/min)\"}",
		    "1" },
	};

	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		struct cv_response resp;
		cv_response_init(&resp);
		cv_ratelimit_respond(&resp, rows[i].rpm, rows[i].retry);
		assert_int_equal(resp.status, 429);
		json_t *got = json_loadb(resp.body, resp.body_len, 0, NULL);
		json_t *want = json_loads(rows[i].body, 0, NULL);
		assert_true(json_equal(got, want));
		json_decref(got);
		json_decref(want);
		assert_string_equal(cv_response_get_header(&resp,
		    "Retry-After"), rows[i].after);
		cv_response_free(&resp);
	}
}

/* Blocks: the SQL and the C rule grant the same, never past RPM, at most
 * an eighth of what is left, the last tokens one by one. */
static void test_grants(void **state)
{
	struct pgtest_store *f = *state;
	static const struct {
		const char *bucket;
		int rpm, want;
		int64_t at[8];
		int granted[8];
	} rows[] = {
		{ "g-a", 1000, 10, { 0, 1, 2, -1 }, { 10, 10, 10 } },
		{ "g-b", 16, 10, { 0, 1, 2, 3, 4, 5, 6, -1 },
		    { 2, 2, 2, 2, 1, 1, 1 } },
		{ "g-c", 3, 5, { 0, 1, 2, 3, 60001, -1 }, { 1, 1, 1, 0, 1 } },
		{ "g-d", 100, 64, { 0, 1, 2, -1 }, { 13, 11, 10 } },
	};

	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		struct cv_rl_state model = { 0 }, got;
		for (int k = 0; rows[i].at[k] >= 0; k++) {
			int n, c, retry;
			int64_t t = T0 + rows[i].at[k];
			assert_int_equal(cv_ratelimit_take(f->s, rows[i].bucket,
			    rows[i].rpm, rows[i].want, t, &n, &retry, &got),
			    CV_OK);
			c = cv_ratelimit_grant(&model, rows[i].rpm,
			    rows[i].want, t);
			if (n != rows[i].granted[k] || c != n)
				fail_msg("%s #%d: sql %d c %d want %d",
				    rows[i].bucket, k, n, c,
				    rows[i].granted[k]);
			assert_int_equal(got.hits, model.hits);
			assert_true(got.hits <= rows[i].rpm);
		}
	}
}

static void test_block_size(void **state)
{
	static const struct { int rpm, block; } rows[] = {
		{ 1, 1 }, { 120, 1 }, { 199, 1 }, { 200, 2 }, { 1000, 10 },
		{ 6400, 64 }, { 1000000, 64 },
	};

	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++)
		assert_int_equal(cv_ratelimit_block(rows[i].rpm),
		    rows[i].block);
}

/* One process: a lease answers most requests without the DB (D-2: ten
 * times fewer writes at least), refusals are cached until Retry-After
 * could have changed, and the budget comes back after the window. */
static void test_leases(void **state)
{
	struct pgtest_store *f = *state;
	struct cv_rl_leases l = { 0 };
	int ok = 0, retry = 0;
	bool allowed;

	for (int n = 0; n < 6400; n++) {
		assert_int_equal(cv_ratelimit_admit(&l, f->s, "lease-a", 6400,
		    T0 + n, &allowed, &retry), CV_OK);
		ok += allowed;
	}
	assert_int_equal(ok, 6400);
	assert_true(l.db_writes * 10 <= 6400);
	uint64_t w = l.db_writes;
	for (int n = 0; n < 100; n++) {
		assert_int_equal(cv_ratelimit_admit(&l, f->s, "lease-a", 6400,
		    T0 + 7000 + n, &allowed, &retry), CV_OK);
		assert_false(allowed);
		assert_true(retry >= 1 && retry <= 60);
	}
	assert_true(l.db_writes <= w + 1);
	assert_int_equal(cv_ratelimit_admit(&l, f->s, "lease-a", 6400,
	    T0 + 60000 + 6400, &allowed, &retry), CV_OK);
	assert_true(allowed);
	/* more buckets than slots: evicted leases only cost writes */
	for (int n = 0; n < 3 * CV_RL_LEASE_SLOTS; n++) {
		char b[32];
		snprintf(b, sizeof b, "lease-many-%d", n);
		assert_int_equal(cv_ratelimit_admit(&l, f->s, b, 1000,
		    T0 + n, &allowed, &retry), CV_OK);
		assert_true(allowed);
	}
	cv_rl_leases_free(&l);
}

/* Several processes, each with its own connection, share one budget.
 * Children report through a pipe: under valgrind their exit status
 * reflects the leak check of the memory they inherited. */
static int child_hits(const char *path, const char *bucket, int tries,
    int rpm, bool leased)
{
	struct cv_store *s;
	struct cv_store_options o = pgtest_store_opts(path, pg_dsn);
	struct cv_rl_leases l = { 0 };
	int ok = 0;

	if (cv_store_open(&o, &s, NULL) != CV_OK)
		return -1;
	for (int n = 0; n < tries; n++) {
		bool allowed;
		int retry;
		enum cv_err e = leased ? cv_ratelimit_admit(&l, s, bucket, rpm,
		    T0 + n, &allowed, &retry) : cv_ratelimit_hit(s, bucket, rpm,
		    T0 + n, &allowed, &retry, NULL);
		if (e != CV_OK) {
			ok = -1;
			break;
		}
		ok += allowed;
	}
	cv_rl_leases_free(&l);
	cv_store_close(s);
	return ok;
}

static void test_processes_share_budget(void **state)
{
	struct pgtest_store *f = *state;
	/* with leases, each process may leave one block unused */
	static const struct { int procs, tries, rpm; bool leased; } rows[] = {
		{ 4, 40, 100, false }, { 3, 10, 30, false }, { 2, 50, 7, false },
		{ 4, 40, 100, true }, { 4, 700, 2000, true },
		{ 3, 2000, 5000, true }, { 2, 100, 150, true },
	};

	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		char bucket[32];
		pid_t pids[8];
		int fds[2], total = 0, got;
		snprintf(bucket, sizeof bucket, "shared-%zu", i);
		assert_int_equal(pipe(fds), 0);
		for (int p = 0; p < rows[i].procs; p++) {
			if ((pids[p] = fork()) == 0) {
				got = child_hits(f->path, bucket,
				    rows[i].tries, rows[i].rpm, rows[i].leased);
				if (write(fds[1], &got, sizeof got) !=
				    (ssize_t)sizeof got)
					_exit(2);
				_exit(0);
			}
		}
		close(fds[1]);
		for (int p = 0; p < rows[i].procs; p++) {
			assert_int_equal(read(fds[0], &got, sizeof got),
			    sizeof got);
			assert_true(got >= 0);
			total += got;
		}
		close(fds[0]);
		for (int p = 0; p < rows[i].procs; p++)
			waitpid(pids[p], NULL, 0);
		int want = rows[i].procs * rows[i].tries < rows[i].rpm ?
		    rows[i].procs * rows[i].tries : rows[i].rpm;
		int slack = rows[i].leased ? rows[i].procs *
		    cv_ratelimit_block(rows[i].rpm) : 0;
		if (total > want || total < want - slack)
			fail_msg("row %zu: %d accepted, want %d (slack %d)", i,
			    total, want, slack);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exempt),
		cmocka_unit_test(test_sequences),
		cmocka_unit_test(test_rpm_plus_one),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_buckets),
		cmocka_unit_test(test_respond),
		cmocka_unit_test(test_processes_share_budget),
		cmocka_unit_test(test_grants),
		cmocka_unit_test(test_block_size),
		cmocka_unit_test(test_leases),
	};

	const struct CMUnitTest sql_tests[] = {
		cmocka_unit_test(test_sequences),
		cmocka_unit_test(test_rpm_plus_one),
		cmocka_unit_test(test_processes_share_budget),
		cmocka_unit_test(test_grants),
		cmocka_unit_test(test_leases),
	};
	const char *dsn = getenv("CONVERGE_TEST_PG_DSN");
	int failed = cmocka_run_group_tests_name("sqlite", tests, setup,
	    teardown);

	if (dsn && *dsn) {
		if (pgtest_schema(dsn, "cv_rl_test", pg_dsn, sizeof pg_dsn) != 0)
			return failed + 1;
		failed += cmocka_run_group_tests_name("postgres", sql_tests,
		    setup, teardown);
	}
	return failed;
}
