/*
 * test_repos_http.c - registered repositories end to end (decisions.md
 * D-9), through nginx and the farm, against a bare remote on disk: PR
 * webhooks make intents pinned to the PR head, validation over the API
 * tests the candidate merge commit, and the worker lands it by a
 * fast-forward push.
 *
 * The farm's worker polls hourly, so each landing step is one
 * `converge-worker --once` run by the test (the same loop), which also
 * lets one run be killed right after its push.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "api_util.h"
#include "webhook_util.h"
#include "farm_db.h"
#include "../unit/gitrepo.h"

#define SECRET "repos-it-secret"
#define ADMIN "adm-key-0123456789"
#define VIEWER "view-key-0123456789"

static char *bare, *work;

/* ---- the remote ----------------------------------------------------------------- */

static const char makefile[] =
    "lint:\n\t@true\n"
    "test:\n\t@if [ -e fail.txt ]; then echo failing >&2; exit 1; fi\n"
    "\t@if [ -e x.txt ] && [ -e y.txt ]; then echo broken together >&2;"
    " exit 1; fi\n";

static char *tip_of(const char *dir, const char *ref)
{
	char *out = repo_run(dir, "git", "rev-parse", ref, (char *)NULL);

	out[strcspn(out, "\n")] = '\0';
	return out;
}

/* PR n: a branch off main writing file, pushed as GitHub keeps it
 * (refs/pull/<n>/head). Returns the head sha (caller frees). */
static char *pr_push(int n, const char *file, const char *content)
{
	char branch[32], spec[64];

	snprintf(branch, sizeof branch, "pr%d", n);
	snprintf(spec, sizeof spec, "%s:refs/pull/%d/head", branch, n);
	repo_git(work, "fetch", "-q", "origin", "main");
	repo_git(work, "checkout", "-q", "-B", branch, "origin/main");
	repo_write(work, file, content);
	repo_commit(work, branch);
	repo_git(work, "push", "-q", "-f", "origin", spec);
	return tip_of(work, branch);
}

static bool is_ancestor(const char *a, const char *b)
{
	const char *argv[] = { "git", "merge-base", "--is-ancestor", a, b, NULL };
	struct cv_proc_opts o = { .cwd = bare, .timeout_ms = 30000 };
	struct cv_proc_result r;
	bool yes;

	assert_int_equal(cv_proc_run(argv, &o, &r), CV_OK);
	yes = r.exit_code == 0;
	cv_proc_result_free(&r);
	return yes;
}

/* ---- deliveries and the API ----------------------------------------------------- */

static void deliver(const char *event, const char *id, const char *body,
    struct http_resp *r)
{
	char mac[72], ev[64], dl[128], sh[120];
	const char *h[] = { "Content-Type: application/json", ev, dl, sh, NULL };

	webhook_sign(SECRET, body, strlen(body), mac);
	snprintf(ev, sizeof ev, "X-GitHub-Event: %s", event);
	snprintf(dl, sizeof dl, "X-GitHub-Delivery: %s", id);
	snprintf(sh, sizeof sh, "X-Hub-Signature-256: %s", mac);
	assert_int_equal(http_request("POST", "/integrations/github/webhook", h,
	    body, strlen(body), r), 0);
}

/* The PR's opened delivery; returns the intent id. */
static void pr_opened(int n, const char *head_sha, char *id, size_t size)
{
	char body[1024], did[64];
	struct http_resp r;

	snprintf(body, sizeof body, "{\"action\":\"opened\",\"number\":%d,"
	    "\"repository\":{\"full_name\":\"acme/w\"},\"pull_request\":"
	    "{\"number\":%d,\"title\":\"PR %d\",\"head\":{\"ref\":\"pr%d\","
	    "\"sha\":\"%s\"},\"base\":{\"ref\":\"main\"}}}", n, n, n, n,
	    head_sha);
	snprintf(did, sizeof did, "repos-it-%d-%ld", n, (long)getpid());
	deliver("pull_request", did, body, &r);
	if (r.status != 200)
		fail_msg("PR %d opened: %ld %s", n, r.status, r.body);
	snprintf(id, size, "%s", json_string_value(json_object_get(r.json,
	    "intent_id")));
	http_resp_free(&r);
}

static json_t *validate(const char *id)
{
	char path[256];
	struct http_resp r;
	json_t *d;

	snprintf(path, sizeof path, "/v1/intents/acme%%2Fw:%s/validate",
	    strchr(id, ':') + 1);
	api_call("POST", path, ADMIN, "{}", &r);
	if (r.status != 200)
		fail_msg("validate %s: %ld %s", id, r.status, r.body);
	d = json_incref(r.json);
	http_resp_free(&r);
	return d;
}

static json_t *intent(const char *id)
{
	char path[256];

	snprintf(path, sizeof path, "/v1/intents/acme%%2Fw:%s",
	    strchr(id, ':') + 1);
	return get_json(path, ADMIN);
}

static long long merged_events(const char *id, const char *type)
{
	return farm_db_int("SELECT COUNT(*) FROM events WHERE intent_id = ?"
	    " AND event_type = ?", id, type, NULL);
}

static const char *status_of(const char *id, char *buf, size_t size)
{
	json_t *in = intent(id);

	snprintf(buf, size, "%s", json_string_value(json_object_get(in,
	    "status")));
	json_decref(in);
	return buf;
}

/* One worker cycle over the farm's database; returns its wait status. */
static int worker_once(bool kill_after_push)
{
	char bin[4096], var[4200], db[4200];
	const char *argv[] = { bin, "--once", NULL };
	const char *env[] = { var, db, kill_after_push ?
	    "CONVERGE_TEST_KILL_AFTER_PUSH=1" : "CONVERGE_TEST_KILL_AFTER_PUSH=",
	    "CONVERGE_WORKER_MAX_RETRIES=3", "CONVERGE_WORKER_LOCK_TTL=2",
	    NULL };
	struct cv_proc_opts o = { .timeout_ms = 120000, .env = env };
	struct cv_proc_result r;
	int st;

	snprintf(bin, sizeof bin, "%s/worker/converge-worker", CV_BUILDDIR);
	snprintf(var, sizeof var, "CONVERGE_VAR_DIR=%s", farm_var_dir());
	snprintf(db, sizeof db, "CONVERGE_DB_PATH=%s", farm_db_path());
	assert_int_equal(cv_proc_run(argv, &o, &r), CV_OK);
	st = r.term_signal ? -r.term_signal : r.exit_code;
	cv_proc_result_free(&r);
	return st;
}

static const char *cand_of(const json_t *d)
{
	return json_string_value(json_object_get(json_object_get(d,
	    "simulation"), "candidate_sha"));
}

/* ---- tests ----------------------------------------------------------------------- */

static void test_registry_routes(void **state)
{
	char body[1024];
	struct http_resp r;

	(void)state;
	snprintf(body, sizeof body, "{\"name\":\"acme/w\",\"url\":\"%s\","
	    "\"checks\":[\"unit_tests\"]}", bare);
	assert_int_equal(api_status("POST", "/v1/repos", VIEWER, body), 401);
	api_call("POST", "/v1/repos", ADMIN, body, &r);
	if (r.status != 201)
		fail_msg("POST /v1/repos: %ld %s", r.status, r.body);
	http_resp_free(&r);
	assert_int_equal(api_status("POST", "/api/repos", ADMIN, body), 409);
	assert_int_equal(api_status("POST", "/v1/repos", ADMIN,
	    "{\"name\":\"nope\",\"url\":\"/x\"}"), 400);
	assert_int_equal(api_status("POST", "/v1/repos", ADMIN,
	    "{\"name\":\"acme/tmp\",\"url\":\"https://u:s3cret@h/x.git\"}"),
	    201);
	api_call("GET", "/v1/repos/acme/tmp", ADMIN, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(json_string_value(json_object_get(r.json, "url")),
	    "https://***@h/x.git");
	http_resp_free(&r);
	api_call("GET", "/v1/repos", ADMIN, NULL, &r);
	assert_int_equal(json_array_size(json_object_get(r.json,
	    "repositories")), 2);
	assert_null(strstr(r.body, "s3cret"));
	http_resp_free(&r);
	assert_int_equal(api_status("DELETE", "/v1/repos/acme%2Ftmp", ADMIN,
	    NULL), 200);
	assert_int_equal(api_status("GET", "/v1/repos/acme/tmp", ADMIN, NULL),
	    404);
	assert_int_equal(api_status("GET", "/v1/repos", VIEWER, NULL), 401);
}

static void test_pr_lands_and_failing_never(void **state)
{
	char id[128], bad[128], buf[32];
	json_t *d, *in;

	(void)state;
	char *head = pr_push(1, "c.txt", "three\n");
	pr_opened(1, head, id, sizeof id);
	in = intent(id);
	assert_string_equal(json_string_value(json_object_get(in, "source")),
	    "refs/pull/1/head");
	json_decref(in);
	d = validate(id);
	assert_string_equal(json_string_value(json_object_get(d, "decision")),
	    "validated");
	char cand[64];
	snprintf(cand, sizeof cand, "%s", cand_of(d));
	json_decref(d);
	char *failing = pr_push(2, "fail.txt", "no\n");
	pr_opened(2, failing, bad, sizeof bad);
	d = validate(bad);
	assert_string_equal(json_string_value(json_object_get(d, "decision")),
	    "blocked");
	json_decref(d);
	assert_int_equal(worker_once(false), 0);
	assert_string_equal(status_of(id, buf, sizeof buf), "MERGED");
	char *tip = tip_of(bare, "main");
	assert_string_equal(tip, cand);
	assert_true(is_ancestor(head, tip));
	assert_false(is_ancestor(failing, tip));
	assert_int_equal(merged_events(bad, "intent.merged"), 0);
	free(tip);
	free(head);
	free(failing);
}

static void test_two_prs_break_together(void **state)
{
	char px[128], py[128], buf[32];

	(void)state;
	char *x = pr_push(3, "x.txt", "x\n"), *y = pr_push(4, "y.txt", "y\n");
	pr_opened(3, x, px, sizeof px);
	pr_opened(4, y, py, sizeof py);
	json_t *dx = validate(px), *dy = validate(py);
	assert_string_equal(json_string_value(json_object_get(dx, "decision")),
	    "validated");
	assert_string_equal(json_string_value(json_object_get(dy, "decision")),
	    "validated");
	assert_int_equal(worker_once(false), 0);
	assert_string_equal(status_of(px, buf, sizeof buf), "MERGED");
	assert_string_not_equal(status_of(py, buf, sizeof buf), "MERGED");
	char *tip = tip_of(bare, "main");
	assert_string_equal(tip, cand_of(dx));
	assert_false(is_ancestor(y, tip));
	free(tip);
	json_decref(dx);
	json_decref(dy);
	free(x);
	free(y);
}

static void test_target_moves_and_conflict(void **state)
{
	char id[128], c1[128], c2[128], buf[32];

	(void)state;
	char *head = pr_push(5, "e.txt", "e\n");
	pr_opened(5, head, id, sizeof id);
	json_decref(validate(id));
	/* Somebody pushes to main between validation and landing. */
	repo_git(work, "fetch", "-q", "origin", "main");
	repo_git(work, "checkout", "-q", "-B", "direct", "origin/main");
	repo_write(work, "direct.txt", "pushed by hand\n");
	repo_commit(work, "direct push");
	repo_git(work, "push", "-q", "origin", "direct:main");
	char *moved = tip_of(work, "direct");
	assert_int_equal(worker_once(false), 0);
	json_t *in = intent(id);
	assert_string_equal(json_string_value(json_object_get(in, "status")),
	    "MERGED");
	assert_int_equal(json_integer_value(json_object_get(in, "retries")), 0);
	json_decref(in);
	char *tip = tip_of(bare, "main");
	assert_true(is_ancestor(moved, tip));   /* kept: never forced */
	assert_true(is_ancestor(head, tip));
	free(tip);
	free(moved);
	free(head);
	/* Two PRs editing the same line: the second is blocked, path named. */
	char *a = pr_push(6, "a.txt", "six\n"), *b = pr_push(7, "a.txt", "seven\n");
	pr_opened(6, a, c1, sizeof c1);
	pr_opened(7, b, c2, sizeof c2);
	json_decref(validate(c1));
	json_decref(validate(c2));
	assert_int_equal(worker_once(false), 0);
	assert_string_equal(status_of(c1, buf, sizeof buf), "MERGED");
	json_t *d = validate(c2);
	assert_string_equal(json_string_value(json_object_get(d, "reason")),
	    "Merge conflicts: a.txt");
	json_decref(d);
	free(a);
	free(b);
}

static void test_kill_after_push(void **state)
{
	char id[128], buf[32];

	(void)state;
	char *head = pr_push(8, "k.txt", "k\n");
	pr_opened(8, head, id, sizeof id);
	json_t *d = validate(id);
	char cand[64];
	snprintf(cand, sizeof cand, "%s", cand_of(d));
	json_decref(d);
	assert_int_equal(worker_once(true), -SIGKILL);
	char *tip = tip_of(bare, "main");
	assert_string_equal(tip, cand);           /* pushed... */
	assert_string_not_equal(status_of(id, buf, sizeof buf), "MERGED");
	sleep(3);   /* the dead worker's queue lock expires (TTL 2 s) */
	assert_int_equal(worker_once(false), 0);  /* ...recorded once */
	assert_int_equal(worker_once(false), 0);
	assert_string_equal(status_of(id, buf, sizeof buf), "MERGED");
	assert_int_equal(merged_events(id, "intent.merged"), 1);
	free(tip);
	free(head);
}

static void test_mirror_rebuilt_and_shapes(void **state)
{
	char id[128], mirror[4200], head_file[4300];
	struct http_resp r;

	(void)state;
	snprintf(mirror, sizeof mirror, "%s/repos/acme/w.git", farm_var_dir());
	free(repo_run("/", "rm", "-rf", mirror, (char *)NULL));
	char *head = pr_push(9, "m.txt", "m\n");
	pr_opened(9, head, id, sizeof id);
	json_t *d = validate(id);
	assert_string_equal(json_string_value(json_object_get(d, "decision")),
	    "validated");
	json_decref(d);
	snprintf(head_file, sizeof head_file, "%s/HEAD", mirror);
	assert_int_equal(access(head_file, F_OK), 0);
	free(head);
	/* A signed delivery without the event's shape: 400 naming the
	 * field, nothing created, and its redelivery answered the same. */
	const char *broken = "{\"action\":\"opened\",\"number\":10,"
	    "\"repository\":{\"full_name\":\"acme/w\"},\"pull_request\":"
	    "{\"number\":10,\"head\":{\"ref\":\"x\"}}}";
	for (int i = 0; i < 2; i++) {
		deliver("pull_request", "repos-it-broken", broken, &r);
		assert_int_equal(r.status, 400);
		assert_non_null(strstr(r.body, "pull_request.base.ref"));
		http_resp_free(&r);
	}
	assert_int_equal(api_status("GET", "/v1/intents/acme%2Fw:pr-10", ADMIN,
	    NULL), 404);
}

static int up(void **state)
{
	static char repo_env_path[4200];
	const char *env[] = { "CONVERGE_GITHUB_WEBHOOK_SECRET=" SECRET,
	    "CONVERGE_API_KEYS=" ADMIN ":admin:root," VIEWER ":viewer:v",
	    "CONVERGE_RATE_LIMIT_ENABLED=0", "CONVERGE_WORKER_POLL_INTERVAL=3600",
	    repo_env_path, NULL };

	(void)state;
	repo_env();
	bare = repo_tmpdir();
	work = repo_new();
	repo_git(bare, "init", "-q", "--bare", "-b", "main");
	repo_write(work, "a.txt", "one\n");
	repo_write(work, "Makefile", makefile);
	repo_commit(work, "base");
	repo_git(work, "remote", "add", "origin", bare);
	repo_git(work, "push", "-q", "origin", "main");
	snprintf(repo_env_path, sizeof repo_env_path, "CONVERGE_REPO_PATH=%s",
	    work);
	return farm_start(env) == 0 ? 0 : -1;
}

static int down(void **state)
{
	int rc;

	(void)state;
	rc = farm_stop();
	repo_remove(bare);
	repo_remove(work);
	return rc;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry_routes),
		cmocka_unit_test(test_pr_lands_and_failing_never),
		cmocka_unit_test(test_two_prs_break_together),
		cmocka_unit_test(test_target_moves_and_conflict),
		cmocka_unit_test(test_kill_after_push),
		cmocka_unit_test(test_mirror_rebuilt_and_shapes),
	};

	if (!farm_available())
		return 77;
	return cmocka_run_group_tests(tests, up, down);
}
