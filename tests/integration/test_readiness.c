/*
 * test_readiness.c - the recovery scenarios and availability probes of
 * the Converge 0.1.0 readiness report (spec/READINESS_REPORT_S8.md
 * sections 3 and 4), held against the real farm:
 *   - acknowledged writes survive a kill -9 of every process;
 *   - a crashed worker's lock is reclaimed after its TTL, a stale lock is
 *     cleared by `queue reset --clear-lock`, a stopped worker releases
 *     its own lock at once and records worker.stopped;
 *   - the store factory refuses an unreachable PostgreSQL (no silent
 *     fallback) while SQLite keeps working;
 *   - on PostgreSQL: the farm serves, readiness turns 503 while the server
 *     is down and 200 again once it is back (reconnect);
 *   - probes and API reads stay 100 % successful under background load,
 *     and mixed reads + webhook writes give no 5xx.
 * Durations are printed for the closing notes; nothing is timed as a pass
 * condition except the generous bounds the report itself states (< 30 s).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "itutil.h"

#define CV_ARRAY_LEN_T(a) (sizeof(a) / sizeof((a)[0]))

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static char *cli_path(void)
{
	static char path[4096];

	snprintf(path, sizeof path, "%s/worker/converge", CV_BUILDDIR);
	return path;
}

static long get_status(const char *path, const char *const *hdrs)
{
	struct http_resp r = { 0 };
	long st;

	if (http_request("GET", path, hdrs, NULL, 0, &r) != 0)
		return -1;
	st = r.status;
	http_resp_free(&r);
	return st;
}

static long post_json(const char *path, const char *body,
    const char *const *hdrs)
{
	struct http_resp r = { 0 };
	long st;

	if (http_request("POST", path, hdrs, body, strlen(body), &r) != 0)
		return -1;
	st = r.status;
	http_resp_free(&r);
	return st;
}

static const char *const json_hdr[] = { "Content-Type: application/json",
    NULL };

/* ---- durability: kill -9 of everything ------------------------------------- */

static void kill9_farm(const char *var)
{
	char run_dir[4096], path[4400];
	DIR *d;
	struct dirent *e;

	snprintf(run_dir, sizeof run_dir, "%s/run", var);
	if (!(d = opendir(run_dir)))
		return;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n < 5 || strcmp(e->d_name + n - 4, ".pid") != 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", run_dir, e->d_name);
		FILE *f = fopen(path, "r");
		long pid = 0;
		if (f && fscanf(f, "%ld", &pid) == 1 && pid > 1) {
			pid_t pgid = getpgid((pid_t)pid);
			if (pgid > 1 && pgid != getpgrp())
				kill(-pgid, SIGKILL);
			kill((pid_t)pid, SIGKILL);
		}
		if (f)
			fclose(f);
	}
	closedir(d);
	usleep(300000);
}

static void test_writes_survive_kill9(void **state)
{
	char dir[] = "/tmp/cv-durable-XXXXXX", db_env[256], id[64], body[256];
	const char *env[4];
	enum { N = 60 };
	struct http_resp r = { 0 };

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(db_env, sizeof db_env, "CONVERGE_DB_PATH=%s/state.db", dir);
	env[0] = "CONVERGE_AUTH_REQUIRED=0";
	env[1] = db_env;
	env[2] = "CONVERGE_RATE_LIMIT_ENABLED=0";
	env[3] = NULL;
	assert_int_equal(farm_start(env), 0);
	for (int i = 0; i < N; i++) {
		snprintf(body, sizeof body, "{\"id\":\"durable-%d\",\"source\":"
		    "\"feature/%d\"}", i, i);
		assert_int_equal(post_json("/v1/intents", body, json_hdr), 200);
	}
	/* Every process of the farm dies without a chance to flush. */
	kill9_farm(farm_var_dir());
	assert_int_equal(farm_stop(), 0);
	assert_int_equal(farm_start(env), 0);
	for (int i = 0; i < N; i++) {
		snprintf(id, sizeof id, "/v1/intents/durable-%d", i);
		assert_int_equal(get_status(id, NULL), 200);
	}
	assert_int_equal(http_request("GET", "/v1/events?type=intent.created"
	    "&limit=1000", NULL, NULL, 0, &r), 0);
	assert_int_equal(json_array_size(r.json), N);
	http_resp_free(&r);
	assert_int_equal(farm_stop(), 0);
	printf("durability: %d acknowledged intents, all present after "
	    "kill -9 of every process\n", N);
	snprintf(id, sizeof id, "%s/state.db", dir);
	unlink(id);
	snprintf(id, sizeof id, "%s/state.db-wal", dir);
	unlink(id);
	snprintf(id, sizeof id, "%s/state.db-shm", dir);
	unlink(id);
	snprintf(id, sizeof id, "%s/state.db.lock", dir);
	unlink(id);
	rmdir(dir);
}

/* ---- the queue lock ------------------------------------------------------- */

static void plant_lock(const char *db, long holder, int ttl_s)
{
	sqlite3 *h;
	char sql[512], acq[40], exp[40];
	time_t now = time(NULL), later = now + ttl_s;
	struct tm a, b;

	gmtime_r(&now, &a);
	gmtime_r(&later, &b);
	strftime(acq, sizeof acq, "%Y-%m-%dT%H:%M:%S.000000+00:00", &a);
	strftime(exp, sizeof exp, "%Y-%m-%dT%H:%M:%S.000000+00:00", &b);
	snprintf(sql, sizeof sql, "INSERT INTO queue_locks VALUES ('queue', %ld,"
	    " '%s', '%s')", holder, acq, exp);
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	sqlite3_busy_timeout(h, 5000);
	assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
}

static int queue_run_busy(const char *db)
{
	char *argv[] = { cli_path(), "--db", (char *)db, "queue", "run", NULL };
	char *out = NULL;
	int busy;

	assert_int_equal(it_run(argv, NULL, &out), 0);
	busy = strstr(out, "Queue lock held") != NULL;
	free(out);
	return busy;
}

static void test_lock_recovery(void **state)
{
	char dir[] = "/tmp/cv-lock-XXXXXX", db[256];
	double t0, waited;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof db, "%s/state.db", dir);
	char *init[] = { cli_path(), "--db", db, "intent", "list", NULL };
	assert_int_equal(it_run(init, NULL, NULL), 0);

	/* A worker that died holding the lock with a 2 s TTL. */
	plant_lock(db, 424242, 2);
	assert_true(queue_run_busy(db));
	t0 = now_s();
	while (queue_run_busy(db) && now_s() - t0 < 30)
		usleep(200000);
	waited = now_s() - t0;
	assert_true(waited < 30);
	printf("expired lock: reclaimed %.1f s after the crash (TTL 2 s)\n",
	    waited);

	/* A stale lock with a long TTL: the runbook's force release. */
	plant_lock(db, 535353, 3600);
	assert_true(queue_run_busy(db));
	char *reset[] = { cli_path(), "--db", db, "queue", "reset",
	    "--intent-id", "any", "--clear-lock", NULL };
	assert_int_equal(it_run(reset, NULL, NULL), 1);   /* unknown intent */
	assert_false(queue_run_busy(db));
	printf("stale lock: cleared at once by queue reset --clear-lock\n");

	/* A stopped worker releases its own lock and says so. */
	char db_env[300];
	snprintf(db_env, sizeof db_env, "CONVERGE_DB_PATH=%s", db);
	const char *wenv[] = { db_env, "CONVERGE_WORKER_POLL_INTERVAL=3600",
	    NULL };
	char worker[4200];
	snprintf(worker, sizeof worker, "%s/worker/converge-worker", CV_BUILDDIR);
	pid_t pid = fork();
	if (pid == 0) {
		for (size_t i = 0; wenv[i]; i++)
			putenv((char *)wenv[i]);
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 2);
		execl(worker, worker, (char *)NULL);
		_exit(127);
	}
	usleep(700000);
	t0 = now_s();
	kill(pid, SIGTERM);
	int status;
	waitpid(pid, &status, 0);
	waited = now_s() - t0;
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(waited < 5);   /* the poll sleep is interruptible (O12) */
	char *events[] = { cli_path(), "--db", db, "audit", "events", "--type",
	    "worker.stopped", NULL };
	char *out = NULL;
	assert_int_equal(it_run(events, NULL, &out), 0);
	assert_non_null(strstr(out, "worker.stopped"));
	free(out);
	assert_false(queue_run_busy(db));
	printf("worker SIGTERM: stopped in %.2f s, lock free, worker.stopped "
	    "recorded\n", waited);
	char p[320];
	const char *suffix[] = { "", "-wal", "-shm", ".lock" };
	for (size_t i = 0; i < 4; i++) {
		snprintf(p, sizeof p, "%s%s", db, suffix[i]);
		unlink(p);
	}
	rmdir(dir);
}

/* ---- store factory and PostgreSQL -------------------------------------------- */

static void test_factory_no_fallback(void **state)
{
	char *argv[] = { cli_path(), "--db", "/tmp/cv-factory-test.db", "intent",
	    "list", NULL };
	const char *bad_pg[] = { "CONVERGE_DB_BACKEND=postgres",
	    "CONVERGE_PG_DSN=host=/nonexistent-socket-dir user=x dbname=y",
	    NULL };
	const char *no_dsn[] = { "CONVERGE_DB_BACKEND=postgres",
	    "CONVERGE_PG_DSN=", NULL };
	char *out = NULL;

	(void)state;
	assert_int_equal(it_run(argv, bad_pg, &out), 1);
	assert_non_null(strstr(out, "PostgreSQL connection failed"));
	free(out);
	assert_int_equal(it_run(argv, no_dsn, &out), 1);
	assert_non_null(strstr(out, "DSN"));
	free(out);
	assert_int_equal(it_run(argv, NULL, &out), 0);   /* SQLite still works */
	free(out);
	unlink("/tmp/cv-factory-test.db");
	unlink("/tmp/cv-factory-test.db-wal");
	unlink("/tmp/cv-factory-test.db-shm");
	unlink("/tmp/cv-factory-test.db.lock");
}

/* A git repository with main and feature/wake (one new file): what the
 * validation in the PostgreSQL farm simulates. */
static void make_repo(const char *dir)
{
	static const char *const steps[][8] = {
		{ "git", "init", "-q", "-b", "main", NULL },
		{ "git", "commit", "-q", "--allow-empty", "-m", "base", NULL },
		{ "git", "checkout", "-q", "-b", "feature/wake", NULL },
		{ "git", "commit", "-q", "--allow-empty", "-m", "wake", NULL },
		{ "git", "checkout", "-q", "main", NULL },
	};
	const char *const env[] = { "GIT_AUTHOR_NAME=t",
	    "GIT_AUTHOR_EMAIL=t@example.invalid", "GIT_COMMITTER_NAME=t",
	    "GIT_COMMITTER_EMAIL=t@example.invalid", "GIT_CONFIG_GLOBAL=/dev/null",
	    NULL };

	for (size_t i = 0; i < CV_ARRAY_LEN_T(steps); i++) {
		char *argv[12] = { "/usr/bin/git", "-C", (char *)dir };
		size_t k = 3;
		for (size_t j = 1; j < 8 && steps[i][j] && k < 11; j++)
			argv[k++] = (char *)steps[i][j];
		argv[k] = NULL;
		assert_int_equal(it_run(argv, env, NULL), 0);
	}
}

/* The scratch server of test_postgres_farm, stopped by its teardown even
 * when an assertion ended the test early. */
static char pg_dir[64];

static void test_postgres_farm(void **state)
{
	char *dir = pg_dir, dsn[400], dsn_env[512];
	char repo[] = "/tmp/cv-pgrepo-XXXXXX", repo_env[300];
	struct http_resp r = { 0 };
	double t0;

	(void)state;
	if (!getenv("CONVERGE_TEST_PG_DSN")) {
		/* scripts/check always provides a server; a bare `make check`
		 * without PostgreSQL installed skips only this case. */
		skip();
	}
	snprintf(pg_dir, sizeof pg_dir, "/tmp/cv-pgfarm-XXXXXX");
	assert_non_null(mkdtemp(dir));
	rmdir(dir);
	assert_int_equal(it_pg_scratch("start", dir, dsn, sizeof dsn), 0);
	snprintf(dsn_env, sizeof dsn_env, "CONVERGE_PG_DSN=%s", dsn);
	assert_non_null(mkdtemp(repo));
	make_repo(repo);
	snprintf(repo_env, sizeof repo_env, "CONVERGE_REPO_PATH=%s", repo);
	/* A worker that would poll only hourly: it must be woken (D-6). */
	const char *env[] = { "CONVERGE_DB_BACKEND=postgres", dsn_env,
	    "CONVERGE_AUTH_REQUIRED=0", repo_env,
	    "CONVERGE_WORKER_POLL_INTERVAL=3600", NULL };
	assert_int_equal(farm_start(env), 0);
	assert_int_equal(get_status("/health/ready", NULL), 200);
	assert_int_equal(post_json("/v1/intents", "{\"id\":\"pg-1\",\"source\":"
	    "\"feature/pg\"}", json_hdr), 200);
	assert_int_equal(http_request("GET", "/v1/intents/pg-1", NULL, NULL, 0,
	    &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(json_string_value(json_object_get(r.json,
	    "source")), "feature/pg");
	http_resp_free(&r);

	/* D-6: a validation NOTIFYs and the sleeping worker queues it now. */
	assert_int_equal(post_json("/v1/intents", "{\"id\":\"wake-1\","
	    "\"source\":\"feature/wake\"}", json_hdr), 200);
	usleep(500000);   /* the worker's first cycle is over; it sleeps */
	assert_int_equal(post_json("/v1/intents/wake-1/validate",
	    "{\"skip_checks\":true}", json_hdr), 200);
	t0 = now_s();
	const char *status = "";
	while (now_s() - t0 < 20) {
		assert_int_equal(http_request("GET", "/v1/intents/wake-1", NULL,
		    NULL, 0, &r), 0);
		status = json_string_value(json_object_get(r.json, "status"));
		bool queued = status && strcmp(status, "QUEUED") == 0;
		http_resp_free(&r);
		if (queued)
			break;
		usleep(100000);
	}
	printf("postgres NOTIFY: validated intent queued by the worker %.2f s "
	    "later (poll interval 3600 s)\n", now_s() - t0);
	assert_true(now_s() - t0 < 20);

	/* Outage: readiness says so; data routes fail cleanly. */
	assert_int_equal(it_pg_scratch("pause", dir, NULL, 0), 0);
	assert_int_equal(get_status("/health/ready", NULL), 503);
	assert_int_equal(get_status("/health/live", NULL), 200);
	assert_int_equal(it_pg_scratch("resume", dir, NULL, 0), 0);
	t0 = now_s();
	while (get_status("/health/ready", NULL) != 200 && now_s() - t0 < 30)
		usleep(100000);
	printf("postgres outage: ready again %.2f s after the server returned\n",
	    now_s() - t0);
	assert_int_equal(get_status("/health/ready", NULL), 200);
	/* Every process reconnects, not only the one that answered. */
	for (int i = 0; i < 20; i++)
		assert_int_equal(get_status("/v1/intents/pg-1", NULL), 200);

	/* The SQLite → PostgreSQL copy tool (operations.md 8.4); a second
	 * run copies nothing and still verifies. */
	char lite[256], tool[4200], *out = NULL;
	snprintf(lite, sizeof lite, "%s/lite.db", farm_var_dir());
	char *create[] = { cli_path(), "--db", lite, "intent", "create",
	    "--from-branch", "feature/bf", "--intent-id", "bf-1", NULL };
	assert_int_equal(it_run(create, NULL, NULL), 0);
	snprintf(tool, sizeof tool, "%s/worker/converge-backfill", CV_BUILDDIR);
	char *backfill[] = { tool, "--sqlite-path", lite, "--pg-dsn", dsn,
	    "--verify", NULL };
	assert_int_equal(it_run(backfill, NULL, &out), 0);
	assert_non_null(strstr(out, "skipped"));
	free(out);
	assert_int_equal(it_run(backfill, NULL, &out), 0);
	assert_non_null(strstr(out, "copied 0"));
	free(out);
	assert_int_equal(get_status("/v1/intents/bf-1", NULL), 200);
	assert_int_equal(farm_stop(), 0);
	char *rm[] = { "/bin/rm", "-rf", repo, NULL };
	it_run(rm, NULL, NULL);
}

/* ---- availability under load ------------------------------------------------ */

static volatile int load_running;
static int load_5xx;
static int load_done;
static pthread_mutex_t load_mu = PTHREAD_MUTEX_INITIALIZER;

static void *background_load(void *arg)
{
	(void)arg;
	while (load_running) {
		long st = get_status("/v1/intents", NULL);
		pthread_mutex_lock(&load_mu);
		load_done++;
		if (st < 0 || st >= 500)
			load_5xx++;
		pthread_mutex_unlock(&load_mu);
	}
	return NULL;
}

struct probe {
	const char *path;
	int count;
	int ok;
};

static void *probe_thread(void *arg)
{
	struct probe *p = arg;

	for (int i = 0; i < p->count; i++)
		if (get_status(p->path, NULL) == 200)
			__atomic_fetch_add(&p->ok, 1, __ATOMIC_RELAXED);
	return NULL;
}

static void test_probes_under_load(void **state)
{
	const char *env[] = { "CONVERGE_AUTH_REQUIRED=0",
	    "CONVERGE_RATE_LIMIT_ENABLED=0", NULL };
	pthread_t bg[5], pt[5];
	struct probe probes[] = {
		{ "/health/live", 20, 0 }, { "/health/ready", 20, 0 },
		{ "/health", 15, 0 }, { "/metrics", 10, 0 },
		{ "/api/intents", 15, 0 },
	};

	(void)state;
	assert_int_equal(farm_start(env), 0);
	load_running = 1;
	for (int i = 0; i < 5; i++)
		pthread_create(&bg[i], NULL, background_load, NULL);
	for (size_t i = 0; i < 5; i++)
		pthread_create(&pt[i], NULL, probe_thread, &probes[i]);
	for (size_t i = 0; i < 5; i++)
		pthread_join(pt[i], NULL);
	/* Mixed: reads and webhook writes together. */
	for (int i = 0; i < 15; i++) {
		char body[256], delivery[64];
		snprintf(body, sizeof body, "{\"action\":\"opened\",\"number\":%d,"
		    "\"repository\":{\"full_name\":\"acme/load\"},"
		    "\"pull_request\":{\"number\":%d,\"title\":\"t\",\"head\":"
		    "{\"ref\":\"f%d\",\"sha\":\"abc\"},\"base\":{\"ref\":\"main\"}}}",
		    i + 1, i + 1, i);   /* PR numbers are positive (D-8) */
		snprintf(delivery, sizeof delivery, "X-GitHub-Delivery: mixed-%d", i);
		const char *h[] = { "Content-Type: application/json",
		    "X-GitHub-Event: pull_request", delivery, NULL };
		long st = post_json("/integrations/github/webhook", body, h);
		assert_true(st == 200);
		assert_true(get_status("/v1/intents", NULL) == 200);
	}
	load_running = 0;
	for (int i = 0; i < 5; i++)
		pthread_join(bg[i], NULL);
	for (size_t i = 0; i < 5; i++) {
		printf("probe %-14s %d/%d ok under 5-thread load\n",
		    probes[i].path, probes[i].ok, probes[i].count);
		assert_int_equal(probes[i].ok, probes[i].count);
	}
	printf("background load: %d requests, %d 5xx\n", load_done, load_5xx);
	assert_int_equal(load_5xx, 0);
	assert_int_equal(farm_stop(), 0);
}

static int stop_pg_farm(void **state)
{
	(void)state;
	return farm_stop_with_pg(pg_dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_writes_survive_kill9, farm_teardown),
		cmocka_unit_test(test_lock_recovery),
		cmocka_unit_test(test_factory_no_fallback),
		cmocka_unit_test_teardown(test_postgres_farm, stop_pg_farm),
		cmocka_unit_test_teardown(test_probes_under_load, farm_teardown),
	};

	if (!farm_available()) {
		fprintf(stderr, "test_readiness: nginx or spawn-fcgi missing\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
