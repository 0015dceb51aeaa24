/*
 * test_faults_http.c - the fault-injection loops of test_faults, through
 * nginx and the real farm (decisions.md D-8, reliability): one responder
 * of the webhooks (or intents) family, restarted with CONVERGE_FAULT=db:N
 * and then kill:N for N = 1, 2, ... until a request meets no fault, gets
 * one signed webhook delivery (or POST /v1/intents with an
 * Idempotency-Key) per N.  Each answer must be the API's JSON error
 * envelope (the responder's 4xx/5xx for db:N, nginx's 502 when the
 * process died for kill:N), never a hang; the database must hold all of
 * the request or none of it; and after the family is restarted without a
 * fault, the same delivery id / Idempotency-Key must succeed and leave
 * everything exactly once.
 *
 * A fault armed from the environment announces itself in the family's log
 * when it fires (lib/fault.c), which tells "the request met the fault"
 * from "it did not". The counter runs from process start: a fault that
 * fires before the first request (at start-up) is reported and the
 * request still checked (db); a responder killed at start-up is restarted
 * by its supervisor at the same step again and again, so that N is
 * checked to be visible in the log and no request is sent into it.
 *
 * Only in a build with --enable-fault-injection (scripts/check's sanitizer
 * build); elsewhere it exits 77 (skipped).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "fault.h"
#include "harness.h"
#include "api_util.h"
#include "webhook_util.h"
#include "farm_db.h"

#define SECRET "faults-it-secret"
#define ADMIN "adm-faults-0123456789"
#define MAX_N 400	/* a request of more steps than this is a bug */

/* ---- the family's log ------------------------------------------------------------ */

static long log_size(const char *family)
{
	char path[4200];
	struct stat st;

	snprintf(path, sizeof path, "%s/log/%s.log", farm_var_dir(), family);
	return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

/* True when the family's log has needle after byte offset from. */
static bool log_has(const char *family, long from, const char *needle)
{
	char path[4200], *buf;
	long size = log_size(family);
	bool found = false;
	FILE *f;

	snprintf(path, sizeof path, "%s/log/%s.log", farm_var_dir(), family);
	if (size <= from || !(f = fopen(path, "r")))
		return false;
	buf = malloc((size_t)(size - from) + 1);
	assert_non_null(buf);
	fseek(f, from, SEEK_SET);
	buf[fread(buf, 1, (size_t)(size - from), f)] = '\0';
	fclose(f);
	found = strstr(buf, needle) != NULL;
	free(buf);
	return found;
}

static bool fired_since(const char *family, long from)
{
	return log_has(family, from, "\"converge.fault\"");
}

static void restart(const char *family, const char *fault)
{
	char spec[64];
	const char *env[] = { spec, "CONVERGE_FCGI_PROCESSES=1", NULL };

	snprintf(spec, sizeof spec, "CONVERGE_FAULT=%s", fault ? fault : "");
	if (farm_restart_family(family, env) != 0)
		fail_msg("restarting %s with '%s' failed", family, spec);
}

/* ---- the two requests ------------------------------------------------------------ */

/* One request kind: what it sends and what of it the database holds. */
struct kind {
	const char *family;
	/* Sends attempt n's request (same n: same id and key). */
	void (*send)(int n, const char *fault, struct http_resp *r);
	/* Rows of attempt n: sets *whole to all of it, *none to nothing. */
	void (*rows)(int n, const char *fault, bool *whole, bool *none,
	    char *what, size_t size);
};

static char *delivery_body(int n, const char *fault)
{
	char path[4200], *out;
	json_t *doc;
	/* A PR number per fault kind and N: every attempt is new. */
	int pr = (fault[0] == 'd' ? 10000 : 20000) + n;

	snprintf(path, sizeof path, "%s/tests/fixtures/github-webhooks/"
	    "pull_request/opened.payload.json", CV_SRCDIR);
	if (!(doc = json_load_file(path, 0, NULL)))
		fail_msg("cannot load %s", path);
	json_object_set_new(doc, "number", json_integer(pr));
	json_object_set_new(json_object_get(doc, "pull_request"), "number",
	    json_integer(pr));
	out = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	assert_non_null(out);
	return out;
}

static void webhook_send(int n, const char *fault, struct http_resp *r)
{
	char *body = delivery_body(n, fault);
	char mac[72], dl[96], sh[120];
	const char *h[] = { "Content-Type: application/json",
	    "X-GitHub-Event: pull_request", dl, sh, NULL };

	webhook_sign(SECRET, body, strlen(body), mac);
	snprintf(dl, sizeof dl, "X-GitHub-Delivery: faults-%c-%d", fault[0], n);
	snprintf(sh, sizeof sh, "X-Hub-Signature-256: %s", mac);
	if (http_request("POST", "/integrations/github/webhook", h, body,
	    strlen(body), r) != 0)
		fail_msg("webhook %s: no answer (a hang or a cut connection)",
		    fault);
	free(body);
}

static void webhook_rows(int n, const char *fault, bool *whole, bool *none,
    char *what, size_t size)
{
	char did[64], iid[96];
	long long d, i, c;

	snprintf(did, sizeof did, "faults-%c-%d", fault[0], n);
	snprintf(iid, sizeof iid, "Codertocat/Hello-World:pr-%d",
	    (fault[0] == 'd' ? 10000 : 20000) + n);
	d = farm_db_int("SELECT COUNT(*) FROM webhook_deliveries WHERE "
	    "delivery_id = ?", did, NULL);
	i = farm_db_int("SELECT COUNT(*) FROM intents WHERE id = ?", iid, NULL);
	c = farm_db_int("SELECT COUNT(*) FROM events WHERE intent_id = ? AND "
	    "event_type = 'intent.created'", iid, NULL);
	*whole = d == 1 && i == 1 && c == 1;
	*none = d == 0 && i == 0 && c == 0;
	snprintf(what, size, "delivery %lld, intent %lld, intent.created %lld",
	    d, i, c);
}

static void intent_body(int n, const char *fault, char *body, size_t size)
{
	snprintf(body, size, "{\"id\":\"faults-%c-%d\",\"source\":"
	    "\"feature/f%d\",\"target\":\"main\"}", fault[0], n, n);
}

static void intent_send(int n, const char *fault, struct http_resp *r)
{
	char body[256], key[96];

	intent_body(n, fault, body, sizeof body);
	snprintf(key, sizeof key, "Idempotency-Key: faults-key-%c-%d", fault[0],
	    n);
	api_call2("POST", "/v1/intents", ADMIN, key, body, r);
}

static void intent_rows(int n, const char *fault, bool *whole, bool *none,
    char *what, size_t size)
{
	char iid[64], body[256], sha[65];
	unsigned char md[SHA256_DIGEST_LENGTH];
	long long i, c, k, claims;

	snprintf(iid, sizeof iid, "faults-%c-%d", fault[0], n);
	intent_body(n, fault, body, sizeof body);
	/* The key is stored as a digest with its caller's scope; the body's
	 * digest, stored beside it, finds the row. */
	SHA256((const unsigned char *)body, strlen(body), md);
	for (int j = 0; j < SHA256_DIGEST_LENGTH; j++)
		sprintf(sha + 2 * j, "%02x", md[j]);
	i = farm_db_int("SELECT COUNT(*) FROM intents WHERE id = ?", iid, NULL);
	c = farm_db_int("SELECT COUNT(*) FROM events WHERE intent_id = ? AND "
	    "event_type = 'intent.created'", iid, NULL);
	k = farm_db_int("SELECT COUNT(*) FROM idempotency_keys WHERE "
	    "body_sha256 = ? AND status <> 0", sha, NULL);
	/* A claim (status 0) of a request that died: no answer recorded. */
	claims = farm_db_int("SELECT COUNT(*) FROM idempotency_keys WHERE "
	    "body_sha256 = ? AND status = 0", sha, NULL);
	*whole = i == 1 && c == 1 && k == 1;
	*none = i == 0 && c == 0 && k == 0;
	snprintf(what, size, "intent %lld, intent.created %lld, idempotency "
	    "answer %lld, open claim %lld", i, c, k, claims);
}

static const struct kind webhook_kind = { "webhooks", webhook_send,
    webhook_rows };
static const struct kind intent_kind = { "intents", intent_send,
    intent_rows };

/* ---- the loop ---------------------------------------------------------------------- */

static bool ok_status(long s)
{
	return s >= 200 && s < 300;
}

/* The API's error envelope: a JSON object with an "error" string. */
static void assert_envelope(const struct http_resp *r, const char *ctx)
{
	if (!json_is_object(r->json) ||
	    !json_is_string(json_object_get(r->json, "error")))
		fail_msg("%s: %ld without the JSON error envelope: %.200s", ctx,
		    r->status, r->body ? r->body : "");
}

/* Attempt n under fault kind:n; returns true when the fault never fired
 * (the loop is over). */
static bool attempt(const struct kind *k, const char *kind, int n)
{
	char fault[32], ctx[96], what[160];
	struct http_resp r;
	bool whole, none, fired;
	long from;

	snprintf(fault, sizeof fault, "%s:%d", kind, n);
	snprintf(ctx, sizeof ctx, "%s %s", k->family, fault);
	from = log_size(k->family);
	restart(k->family, fault);
	if (fired_since(k->family, from) && strcmp(kind, "kill") == 0) {
		/* Killed at start-up: its supervisor restarts it (and it dies
		 * at the same step again); visible in the log. */
		sleep(1);
		if (!log_has(k->family, from, "restarting"))
			fail_msg("%s: killed at start-up, no restart logged", ctx);
		print_message("%s: fires at start-up (restarts logged)\n", ctx);
		restart(k->family, NULL);
		return false;
	}
	k->send(n, fault, &r);
	fired = fired_since(k->family, from);
	k->rows(n, fault, &whole, &none, what, sizeof what);
	if (!fired) {
		if (!ok_status(r.status))
			fail_msg("%s: no fault fired, yet %ld %.200s", ctx,
			    r.status, r.body);
		if (!whole)
			fail_msg("%s: answered %ld, stored %s", ctx, r.status,
			    what);
		http_resp_free(&r);
		return true;
	}
	if (!ok_status(r.status)) {
		assert_envelope(&r, ctx);
		if (strcmp(kind, "kill") == 0 && r.status != 502)
			fail_msg("%s: the process died, nginx answered %ld", ctx,
			    r.status);
		if (strcmp(kind, "db") == 0 && (r.status < 400 ||
		    r.status == 502 || r.status == 504))
			fail_msg("%s: %ld is not the responder's own error", ctx,
			    r.status);
	}
	/* All or nothing; a 2xx means all of it (a kill after the commit
	 * may leave all of it behind a 502). */
	if (!(whole || none) || (ok_status(r.status) && !whole))
		fail_msg("%s: answered %ld, half-written: %s", ctx, r.status,
		    what);
	print_message("%s: %ld %s, %s stored\n", ctx, r.status,
	    r.body_len < 60 ? r.body : "(long)", whole ? "all" : "nothing");
	http_resp_free(&r);

	/* The client's retry, same delivery id / key, on a restarted family. */
	restart(k->family, NULL);
	k->send(n, fault, &r);
	if (!ok_status(r.status))
		fail_msg("%s: the retry answered %ld %.200s", ctx, r.status,
		    r.body);
	k->rows(n, fault, &whole, &none, what, sizeof what);
	if (!whole)
		fail_msg("%s: after the retry, not exactly once: %s", ctx, what);
	http_resp_free(&r);
	return false;
}

static void fault_loop(const struct kind *k, const char *kind)
{
	int n;

	for (n = 1; n <= MAX_N; n++)
		if (attempt(k, kind, n))
			break;
	if (n > MAX_N)
		fail_msg("%s %s: still firing after %d steps", k->family, kind,
		    MAX_N);
	print_message("%s %s: %d step(s) failed in turn, then none\n",
	    k->family, kind, n - 1);
	/* The family as up started it, for the next loop. */
	restart(k->family, NULL);
}

static void test_webhook_db(void **state)
{
	(void)state;
	fault_loop(&webhook_kind, "db");
}

static void test_webhook_kill(void **state)
{
	(void)state;
	fault_loop(&webhook_kind, "kill");
}

static void test_intent_db(void **state)
{
	(void)state;
	fault_loop(&intent_kind, "db");
}

static void test_intent_kill(void **state)
{
	(void)state;
	fault_loop(&intent_kind, "kill");
}

static int group_setup(void **state)
{
	static const char *const env[] = {
		"CONVERGE_GITHUB_WEBHOOK_SECRET=" SECRET,
		"CONVERGE_API_KEYS=" ADMIN ":admin:faults",
		"CONVERGE_AUTH_REQUIRED=1",
		"CONVERGE_RATE_LIMIT_ENABLED=0",
		/* One process per family: a small farm, quick to start. */
		"CONVERGE_FCGI_PROCESSES=1",
		"CONVERGE_FAULT=",
		NULL
	};

	(void)state;
	return farm_start(env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_webhook_db),
		cmocka_unit_test(test_webhook_kill),
		cmocka_unit_test(test_intent_db),
		cmocka_unit_test(test_intent_kill),
	};

	if (!CV_FAULT_ENABLED) {
		fprintf(stderr, "test_faults_http: not a fault-injection build "
		    "(./configure --enable-fault-injection), skipped\n");
		return 77;
	}
	if (!farm_available())
		return 77;
	return cmocka_run_group_tests(tests, group_setup, farm_teardown);
}
