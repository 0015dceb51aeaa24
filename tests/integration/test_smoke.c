/*
 * test_smoke.c - the HTTP smoke suite every front must pass: probes,
 * authentication (API key and bearer token reach the app), a signed
 * webhook delivery, the JSON 404/405/413 envelopes, and a burst of 1,000
 * webhook deliveries on 1,000 connections at once in which every
 * acknowledged delivery is stored.
 *
 * Built once per front (CV_SMOKE_FRONT: nginx, apache, lighttpd,
 * apache-fcgid; see scripts/fronts.sh): the farm is started by scripts/up
 * with CONVERGE_HTTPD set to it, and every request goes to its base URL.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "webhook_util.h"
#include "farm_db.h"

#ifndef CV_SMOKE_FRONT
#define CV_SMOKE_FRONT "nginx"
#endif

#define SECRET "smoke-webhook-secret"
#define KEY "smoke-admin-key-0123456789"
#define JWT_SECRET "smoke-jwt-secret-that-is-32-bytes-or-more"
#define MIB (1024 * 1024)
#define BURST 1000

static const char NOT_FOUND[] = "{\"detail\":\"Not Found\",\"error\":\"Not Found\"}";
static const char TOO_LARGE[] = "{\"error\":\"Request body too large\"}";

/* ---- helpers ------------------------------------------------------------------ */

/* A pull_request "opened" delivery body for PR n of repo (caller frees). */
static char *pr_body(const char *repo, int n)
{
	json_t *doc = json_pack("{s:s,s:i,s:{s:I},s:{s:s},s:{s:i,s:s,s:{s:s,s:s},"
	    "s:{s:s},s:b}}", "action", "opened", "number", n, "installation",
	    "id", (json_int_t)4242, "repository", "full_name", repo,
	    "pull_request", "number", n, "title", "smoke", "head", "ref",
	    "feat/smoke", "sha", "cafe", "base", "ref", "main", "merged", 0);
	char *body = json_dumps(doc, JSON_COMPACT);

	json_decref(doc);
	assert_non_null(body);
	return body;
}

static void expect_json_type(const struct http_resp *r)
{
	char *type = http_resp_header(r, "Content-Type");

	if (type == NULL || strncmp(type, "application/json", 16) != 0)
		fail_msg("Content-Type %s, want application/json (body %s)",
		    type ? type : "(none)", r->body);
	free(type);
}

/* The body equals want (exact) or holds want's keys with their values. */
static void expect_body(const struct http_resp *r, const char *want_text,
    int exact)
{
	json_t *want = json_loads(want_text, 0, NULL), *v;
	const char *key;

	assert_non_null(want);
	if (r->json == NULL)
		fail_msg("body is not JSON: %s", r->body);
	if (exact && !json_equal(r->json, want))
		fail_msg("body %s, want %s", r->body, want_text);
	json_object_foreach(want, key, v)
		if (!json_equal(json_object_get(r->json, key), v))
			fail_msg("body %s, want %s", r->body, want_text);
	json_decref(want);
}

/* ---- probes and error envelopes -------------------------------------------------- */

struct row {
	const char *method, *path;
	size_t body_size;	/* bytes of spaces sent; 0 with body: empty */
	int with_body;
	long status;
	const char *body;	/* expected JSON (keys), NULL: any JSON */
	int exact;
	const char *allow;	/* an Allow header naming this method */
};

static const struct row rows[] = {
	{ "GET", "/health", 0, 0, 200, "{\"status\":\"ok\"}", 0, NULL },
	{ "GET", "/health/live", 0, 0, 200, "{\"status\":\"ok\"}", 1, NULL },
	{ "GET", "/health/ready", 0, 0, 200, "{\"status\":\"ok\"}", 0, NULL },
	{ "GET", "/no/such/route", 0, 0, 404, NOT_FOUND, 1, NULL },
	{ "GET", "/v1/no-such-route", 0, 0, 404, NOT_FOUND, 1, NULL },
	{ "GET", "/api/no-such-route?x=1", 0, 0, 404, NOT_FOUND, 1, NULL },
	/* Content-Length: 0 (lighttpd refuses a POST without one: 411) */
	{ "POST", "/health", 0, 1, 405, "{\"detail\":\"Method Not Allowed\"}", 0, "GET" },
	{ "DELETE", "/health/live", 0, 0, 405, "{\"detail\":\"Method Not Allowed\"}", 0, "GET" },
	{ "POST", "/v1/intents", 2 * MIB, 1, 413, TOO_LARGE, 1, NULL },
	{ "POST", "/api/intents", 2 * MIB, 1, 413, TOO_LARGE, 1, NULL },
	{ "POST", "/v1/agent/policy", 2 * MIB, 1, 413, TOO_LARGE, 1, NULL },
	{ "POST", "/integrations/github/webhook", 26 * MIB, 1, 413, TOO_LARGE, 1, NULL },
	/* under the webhook's 25 MiB: it reaches the app, unsigned */
	{ "POST", "/integrations/github/webhook", 2 * MIB, 1, 401,
	  "{\"error\":\"Invalid signature\"}", 1, NULL },
};

static void test_probes_and_envelopes(void **state)
{
	const char *hdrs[] = { "Content-Type: application/json", NULL };
	char *spaces = malloc(26 * MIB);

	(void)state;
	assert_non_null(spaces);
	memset(spaces, ' ', 26 * MIB);
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const struct row *w = &rows[i];
		struct http_resp r;
		char *allow;

		print_message("%s %s (%zu bytes)\n", w->method, w->path, w->body_size);
		assert_int_equal(http_request(w->method, w->path, hdrs,
		    w->with_body ? spaces : NULL, w->body_size, &r), 0);
		if (r.status != w->status)
			fail_msg("%s %s: %ld %s, want %ld", w->method, w->path,
			    r.status, r.body, w->status);
		expect_json_type(&r);
		if (w->body)
			expect_body(&r, w->body, w->exact);
		if (w->allow) {
			allow = http_resp_header(&r, "Allow");
			assert_non_null(allow);
			assert_non_null(strstr(allow, w->allow));
			free(allow);
		}
		http_resp_free(&r);
	}
	free(spaces);
}

/* A request line or header over the front's limits: its own 4xx, in the
 * JSON envelope.  Not for apache-fcgid: Apache refuses these before it
 * reads any .htaccess, so the host's own (HTML) pages answer there. */
static void test_oversized_request(void **state)
{
	char *path, *hdr;
	const char *hdrs[2] = { NULL, NULL };
	struct http_resp r;

	(void)state;
	if (strcmp(CV_SMOKE_FRONT, "apache-fcgid") == 0)
		skip();
	path = malloc(20050);
	hdrs[0] = hdr = malloc(20050);
	assert_non_null(path);
	assert_non_null(hdr);
	strcpy(path, "/v1/intents?q=");
	memset(path + 14, 'a', 20000);
	path[20014] = '\0';
	strcpy(hdr, "X-Big: ");
	memset(hdr + 7, 'a', 20000);
	hdr[20007] = '\0';
	for (int i = 0; i < 2; i++) {
		assert_int_equal(http_request("GET", i ? "/health" : path,
		    i ? hdrs : NULL, NULL, 0, &r), 0);
		print_message("%s: %ld %s\n", i ? "20 KB header" : "20 KB URI",
		    r.status, r.body);
		assert_true(r.status == 400 || r.status == 414 || r.status == 431);
		expect_json_type(&r);
		assert_non_null(json_string_value(json_object_get(r.json, "error")));
		http_resp_free(&r);
	}
	free(path);
	free(hdr);
}

/* /ui reaches the dashboard family (its sign-in), not the JSON 404. */
static void test_dashboard_routed(void **state)
{
	static const char *const paths[] = { "/ui", "/ui/" };
	struct http_resp r;

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(http_request("GET", paths[i], NULL, NULL, 0, &r), 0);
		if (r.status < 200 || r.status >= 400)
			fail_msg("GET %s: %ld %s", paths[i], r.status, r.body);
		http_resp_free(&r);
	}
}

static void test_metrics(void **state)
{
	struct http_resp r;

	(void)state;
	assert_int_equal(http_request("GET", "/metrics", NULL, NULL, 0, &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "converge_"));
	http_resp_free(&r);
}

/* ---- authentication -------------------------------------------------------------- */

static char *admin_token(void)
{
	jwt_t *j = NULL;
	char *tok;

	assert_int_equal(jwt_new(&j), 0);
	jwt_add_grant(j, "sub", "smoke");
	jwt_add_grant(j, "role", "admin");
	jwt_add_grant_int(j, "iat", (long)time(NULL));
	jwt_add_grant_int(j, "exp", (long)time(NULL) + 600);
	assert_int_equal(jwt_set_alg(j, JWT_ALG_HS256,
	    (const unsigned char *)JWT_SECRET, (int)strlen(JWT_SECRET)), 0);
	tok = jwt_encode_str(j);
	jwt_free(j);
	assert_non_null(tok);
	return tok;
}

/* Every credential travels through the front (Apache withholds
 * Authorization unless told otherwise). */
static void test_auth(void **state)
{
	char *tok = admin_token(), bearer[1024];
	const struct {
		const char *header;
		long status;
	} cases[] = {
		{ NULL, 401 },
		{ "X-API-Key: " KEY, 200 },
		{ "X-API-Key: not-the-key", 401 },
		{ bearer, 200 },
		{ "Authorization: Bearer not.a.token", 401 },
	};

	(void)state;
	snprintf(bearer, sizeof bearer, "Authorization: Bearer %s", tok);
	free(tok);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *hdrs[] = { cases[i].header, NULL };
		struct http_resp r;

		print_message("GET /v1/intents, credential %zu\n", i);
		assert_int_equal(http_request("GET", "/v1/intents",
		    cases[i].header ? hdrs : NULL, NULL, 0, &r), 0);
		if (r.status != cases[i].status)
			fail_msg("case %zu: %ld %s, want %ld", i, r.status, r.body,
			    cases[i].status);
		expect_json_type(&r);
		if (r.status == 401)
			assert_non_null(json_string_value(json_object_get(r.json, "error")));
		http_resp_free(&r);
	}
}

/* ---- a webhook delivery ---------------------------------------------------------- */

static void post_delivery(const char *id, const char *body, const char *mac,
    struct http_resp *r)
{
	char dl[128], sh[128];
	const char *hdrs[] = { "Content-Type: application/json",
	    "X-GitHub-Event: pull_request", dl, mac ? sh : NULL, NULL };

	snprintf(dl, sizeof dl, "X-GitHub-Delivery: %s", id);
	snprintf(sh, sizeof sh, "X-Hub-Signature-256: %s", mac ? mac : "");
	assert_int_equal(http_request("POST", "/integrations/github/webhook",
	    hdrs, body, strlen(body), r), 0);
}

static void test_webhook(void **state)
{
	char *body = pr_body("acme/smoke", 1), mac[72];
	const char *key[] = { "X-API-Key: " KEY, NULL };
	struct http_resp r;

	(void)state;
	post_delivery("smoke-unsigned", body, NULL, &r);
	assert_int_equal(r.status, 401);
	expect_body(&r, "{\"error\":\"Invalid signature\"}", 1);
	http_resp_free(&r);

	webhook_sign(SECRET, body, strlen(body), mac);
	post_delivery("smoke-one", body, mac, &r);
	if (r.status != 200)
		fail_msg("signed delivery: %ld %s", r.status, r.body);
	expect_body(&r, "{\"intent_id\":\"acme/smoke:pr-1\"}", 0);
	http_resp_free(&r);
	free(body);
	assert_int_equal(farm_db_int("SELECT count(*) FROM webhook_deliveries"
	    " WHERE delivery_id = ?", "smoke-one", NULL), 1);
	assert_int_equal(farm_db_int("SELECT count(*) FROM webhook_deliveries"
	    " WHERE delivery_id = ?", "smoke-unsigned", NULL), 0);

	/* The intent it made, read back through the intents family. */
	assert_int_equal(http_request("GET", "/v1/intents/acme%2Fsmoke%3Apr-1",
	    key, NULL, 0, &r), 0);
	if (r.status != 200)
		fail_msg("GET intent: %ld %s", r.status, r.body);
	http_resp_free(&r);
}

/* ---- the burst --------------------------------------------------------------------- */

/* 1,000 distinct deliveries, each on its own connection, all at once. */
static void test_burst(void **state)
{
	struct shot *shots = calloc(BURST, sizeof *shots);
	char url[128];
	int acked = 0, shown = 0;
	struct timespec t0, t1;

	(void)state;
	assert_non_null(shots);
	snprintf(url, sizeof url, "%s/integrations/github/webhook", farm_base_url());
	for (int i = 0; i < BURST; i++) {
		shots[i].body = pr_body("acme/burst", i + 1);
		snprintf(shots[i].delivery, sizeof shots[i].delivery,
		    "smoke-burst-%d", i + 1);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	shots_fire(shots, BURST, url, "pull_request", SECRET);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	for (int i = 0; i < BURST; i++) {
		if (shots[i].status >= 200 && shots[i].status < 300)
			acked++;
		else if (shown++ < 5)	/* name the first few */
			print_message("delivery %d: %ld %s\n", i + 1,
			    shots[i].status, shots[i].reply ? shots[i].reply : "");
	}
	print_message("%s: %d deliveries on %d connections in %.2f s, %d acknowledged\n",
	    CV_SMOKE_FRONT, BURST, BURST, (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, acked);
	/* Every acknowledged delivery is stored; none refused either. */
	for (int i = 0; i < BURST; i++)
		if (shots[i].status >= 200 && shots[i].status < 300 &&
		    farm_db_int("SELECT count(*) FROM webhook_deliveries WHERE"
		    " delivery_id = ?", shots[i].delivery, NULL) != 1)
			fail_msg("delivery %s acknowledged but not stored",
			    shots[i].delivery);
	shots_free(shots, BURST);
	assert_int_equal(acked, BURST);
}

/* A family whose responder is gone: the front's own 5xx, in the JSON
 * envelope (nginx 502, Apache and lighttpd 503).  Not for apache-fcgid,
 * where Apache starts the responders on demand. */
static void test_family_down(void **state)
{
	char path[256];
	struct http_resp r;
	FILE *f;
	long pid = 0;

	(void)state;
	if (strcmp(CV_SMOKE_FRONT, "apache-fcgid") == 0)
		skip();
	snprintf(path, sizeof path, "%s/run/queue.pid", farm_var_dir());
	assert_non_null(f = fopen(path, "r"));
	assert_int_equal(fscanf(f, "%ld", &pid), 1);
	fclose(f);
	/* SIGTERM to the supervisor: it stops its children and exits. */
	assert_int_equal(kill((pid_t)pid, SIGTERM), 0);
	for (int i = 0; i < 200 && kill((pid_t)pid, 0) == 0; i++)
		usleep(50 * 1000);
	assert_int_equal(http_request("GET", "/v1/queue/state", NULL, NULL, 0, &r), 0);
	if (r.status < 500 || r.status > 504)
		fail_msg("queue down: %ld %s", r.status, r.body);
	expect_json_type(&r);
	assert_non_null(json_string_value(json_object_get(r.json, "error")));
	http_resp_free(&r);
}

/* The real uid of process pid, -1 if unknown. */
static long uid_of(long pid)
{
	char path[64], line[256];
	long uid = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "Uid: %ld", &uid) == 1)
			break;
	fclose(f);
	return uid;
}

/* Shared hosting: no spawn-fcgi (no responder pid files), Apache started
 * the responders, and nothing of the account runs as root (when the suite
 * runs as root, the account is www-data). */
static void test_shared_hosting_shape(void **state)
{
	static const char *const families[] = { "health", "intents", "webhooks" };
	char path[256];
	FILE *f;
	long pid = 0;

	(void)state;
	if (strcmp(CV_SMOKE_FRONT, "apache-fcgid") != 0)
		skip();
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "%s/run/%s.pid", farm_var_dir(), families[i]);
		assert_int_not_equal(access(path, F_OK), 0);
	}
	snprintf(path, sizeof path, "%s/run/apache.pid", farm_var_dir());
	assert_non_null(f = fopen(path, "r"));
	assert_int_equal(fscanf(f, "%ld", &pid), 1);
	fclose(f);
	assert_true(uid_of(pid) > 0);
	snprintf(path, sizeof path, "%s/run/worker.pid", farm_var_dir());
	assert_non_null(f = fopen(path, "r"));
	assert_int_equal(fscanf(f, "%ld", &pid), 1);
	fclose(f);
	assert_true(uid_of(pid) > 0);
	/* The SQLite file is the account's. */
	struct stat st;
	assert_int_equal(stat(farm_db_path(), &st), 0);
	assert_true(st.st_uid > 0 || geteuid() != 0);
}

/* Last: scripts/down stops everything the front started (for apache-fcgid
 * also the responders mod_fcgid spawned). */
static void test_down_leaves_nothing(void **state)
{
	(void)state;
	assert_int_equal(farm_stop(), 0);
}

static int farm_up(void **state)
{
	const char *env[] = { "CONVERGE_HTTPD=" CV_SMOKE_FRONT,
	    "CONVERGE_AUTH_REQUIRED=1", "CONVERGE_AUTH_MODE=hybrid",
	    "CONVERGE_API_KEYS=" KEY ":admin:smoke",
	    "CONVERGE_JWT_SECRET=" JWT_SECRET, "CONVERGE_JWT_ISSUER=",
	    "CONVERGE_JWT_AUDIENCE=", "CONVERGE_RATE_LIMIT_ENABLED=0",
	    "CONVERGE_GITHUB_WEBHOOK_SECRET=" SECRET, "CONVERGE_GITHUB_APP_ID=",
	    "CONVERGE_GITHUB_INSTALLATION_ID=", "CONVERGE_LOG_LEVEL=WARNING",
	    NULL };

	(void)state;
	return farm_start(env) == 0 ? 0 : -1;
}

/* 1,000 client connections need more descriptors than a default 1024. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096) {
		rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probes_and_envelopes),
		cmocka_unit_test(test_oversized_request),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_dashboard_routed),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_webhook),
		cmocka_unit_test(test_burst),
		cmocka_unit_test(test_family_down),
		cmocka_unit_test(test_shared_hosting_shape),
		cmocka_unit_test(test_down_leaves_nothing),
	};

	if (!farm_front_available(CV_SMOKE_FRONT))
		return 77;	/* automake: skipped */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 99;
	raise_fd_limit();
	return cmocka_run_group_tests_name("smoke_" CV_SMOKE_FRONT, tests,
	    farm_up, farm_teardown);
}
