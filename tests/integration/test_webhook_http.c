/*
 * test_webhook_http.c - POST /integrations/github/webhook end to end
 * (http-api.md 7 and 8, decisions.md D-5, operations.md 4.4): the real
 * farm (nginx, the webhooks responder, the worker) with the fake GitHub
 * behind CONVERGE_GITHUB_API_URL.
 *
 * Three farms, one after the other, each a cmocka group:
 *   signed    secret set, API auth off (GET /v1/intents readable), GitHub
 *             publishing on (the fake), worker polling every second over
 *             a real git repository holding the merge group's branch;
 *   locked    secret unset, auth on: every delivery is refused (403);
 *   devmode   secret unset, auth off: deliveries accepted unverified.
 * What a delivery left behind is read from the farm's SQLite file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include "webhook_util.h"
#include "farm_db.h"
#include "itgit.h"
#include "itutil.h"
#include "../fakegithub/harness.h"

#define SECRET "it-webhook-secret"
#define MIB (1024 * 1024)
#define CONCURRENCY 120

/* The merge group fixture's branches; the repo under test has both. */
#define MG_FIXTURE "merge_group/checks_requested.payload.json"
#define MG_HEAD_REF "gh-readonly-queue/main/pr-104-929f8209d40f77f4abc622a499c93a83babdbe64"

static struct fake_github gh;
static char repo_dir[PATH_MAX];

/* ---- small helpers ---------------------------------------------------------- */

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1))) {
		*len = fread(buf, 1, (size_t)n, f);
		buf[*len] = '\0';
	}
	fclose(f);
	return buf;
}

static json_t *fixture(const char *rel)
{
	char path[PATH_MAX];
	json_t *j;

	snprintf(path, sizeof path, "%s/tests/fixtures/github-webhooks/%s",
	    CV_SRCDIR, rel);
	j = json_load_file(path, 0, NULL);
	if (j == NULL)
		fail_msg("cannot load fixture %s", path);
	return j;
}

/* A delivery id no other test uses. */
static void new_delivery(char *out, size_t size)
{
	static unsigned n;

	snprintf(out, size, "it-%ld-%u-%ld", (long)getpid(), ++n,
	    (long)time(NULL));
}

enum sig { SIG_VALID, SIG_NONE, SIG_WRONG, SIG_UPPER, SIG_BARE, SIG_OTHER_BODY };

/* Sends one delivery; sig says how it is signed. */
static void deliver(const char *event, const char *id, const char *body,
    size_t len, enum sig sig, struct http_resp *r)
{
	char ev[160], dl[300], sh[120], mac[72];
	const char *hdrs[6];
	size_t n = 0;

	webhook_sign(SECRET, body, len, mac);
	if (sig == SIG_WRONG)
		mac[7] = mac[7] == '0' ? '1' : '0';
	if (sig == SIG_UPPER)
		for (char *p = mac + 7; *p; p++)
			*p = (char)(*p >= 'a' && *p <= 'f' ? *p - 32 : *p);
	if (sig == SIG_OTHER_BODY)
		webhook_sign(SECRET, "{}", 2, mac);
	hdrs[n++] = "Content-Type: application/json";
	if (event) {
		snprintf(ev, sizeof ev, "X-GitHub-Event: %s", event);
		hdrs[n++] = ev;
	}
	if (id) {
		snprintf(dl, sizeof dl, "X-GitHub-Delivery: %s", id);
		hdrs[n++] = dl;
	}
	if (sig != SIG_NONE) {
		snprintf(sh, sizeof sh, "X-Hub-Signature-256: %s",
		    sig == SIG_BARE ? mac + 7 : mac);
		hdrs[n++] = sh;
	}
	hdrs[n] = NULL;
	assert_int_equal(http_request("POST", "/integrations/github/webhook",
	    hdrs, body, len, r), 0);
}

/* Sends a JSON document as a delivery, validly signed. */
static void deliver_json(const char *event, const char *id, const json_t *doc,
    struct http_resp *r)
{
	char *body = json_dumps(doc, JSON_COMPACT);

	assert_non_null(body);
	deliver(event, id, body, strlen(body), SIG_VALID, r);
	free(body);
}

static void expect_body(const struct http_resp *r, const char *want_text)
{
	json_t *want = json_loads(want_text, 0, NULL);

	assert_non_null(want);
	if (r->json == NULL || !json_equal(r->json, want))
		fail_msg("body %s, want %s", r->body, want_text);
	json_decref(want);
}

/* Holds (or frees) the queue lock under the farm's worker, so a test that
 * makes VALIDATED intents sees them as it left them: the worker, polling
 * every second, would otherwise revalidate them in the middle. */
static void hold_queue(bool hold)
{
	sqlite3 *db;
	const char *sql = hold ? "INSERT INTO queue_locks VALUES ('queue', 1,"
	    " '2000-01-01T00:00:00.000000+00:00',"
	    " '2999-01-01T00:00:00.000000+00:00')" :
	    "DELETE FROM queue_locks WHERE holder_pid = 1";

	assert_int_equal(sqlite3_open(farm_db_path(), &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	/* The worker may hold it for a cycle right now: retry briefly. */
	for (int i = 0; i < 100; i++) {
		if (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK)
			break;
		usleep(100 * 1000);
	}
	sqlite3_close(db);
}

static long long events_of(const char *type, const char *intent_id)
{
	return farm_db_int("SELECT count(*) FROM events WHERE event_type = ?"
	    " AND intent_id = ?", type, intent_id, NULL);
}

static long long received_events(const char *delivery)
{
	return farm_db_int("SELECT count(*) FROM events WHERE event_type ="
	    " 'webhook.received' AND json_extract(payload, '$.delivery_id') = ?",
	    delivery, NULL);
}

/* Everything a delivery id can leave in the store. */
static long long traces_of_delivery(const char *delivery)
{
	return farm_db_int("SELECT count(*) FROM webhook_deliveries WHERE"
	    " delivery_id = ?", delivery, NULL) +
	    farm_db_int("SELECT count(*) FROM webhook_payloads WHERE delivery_id = ?",
	    delivery, NULL) + received_events(delivery);
}

/* The newest event payload of that type about the intent (owned). */
static json_t *last_event_payload(const char *type, const char *intent_id)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	json_t *j = NULL;

	assert_int_equal(sqlite3_open_v2(farm_db_path(), &db,
	    SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT payload FROM events"
	    " WHERE event_type = ? AND intent_id = ? ORDER BY rowid DESC"
	    " LIMIT 1", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, intent_id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		j = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
	sqlite3_finalize(st);
	sqlite3_close(db);
	if (j == NULL)
		fail_msg("no %s event for %s", type, intent_id);
	return j;
}

/* GET /v1/intents/{id} (the id percent-encoded); the intent, owned, or
 * NULL on 404. */
static json_t *get_intent(const char *id)
{
	char path[1024], *esc;
	struct http_resp r;
	json_t *in = NULL;
	CURL *c = curl_easy_init();

	assert_non_null(c);
	esc = curl_easy_escape(c, id, 0);
	snprintf(path, sizeof path, "/v1/intents/%s", esc);
	curl_free(esc);
	curl_easy_cleanup(c);
	assert_int_equal(http_request("GET", path, NULL, NULL, 0, &r), 0);
	if (r.status == 200) {
		in = json_incref(r.json);
		/* Some builds wrap the intent; the spec's shape is the object. */
		if (json_object_get(in, "intent") && !json_object_get(in, "id")) {
			json_t *inner = json_incref(json_object_get(in, "intent"));
			json_decref(in);
			in = inner;
		}
	} else if (r.status != 404) {
		fail_msg("GET %s: %ld %s", path, r.status, r.body);
	}
	http_resp_free(&r);
	return in;
}

static const char *status_of(const json_t *intent)
{
	return json_string_value(json_object_get(intent, "status"));
}

/* A pull_request delivery body; NULL strings leave the key out. */
struct pr {
	const char *action;
	const char *repo;
	long long number;
	const char *title, *head_ref, *head_sha, *base_ref;
	long long installation;   /* 0: no installation object */
	int merged;
	const char *merge_sha;
};

static json_t *pr_doc(const struct pr *p)
{
	json_t *doc = json_object(), *pr = json_object();
	json_t *head = json_object(), *base = json_object();

	json_object_set_new(doc, "action", json_string(p->action));
	json_object_set_new(doc, "number", json_integer(p->number));
	if (p->installation)
		json_object_set_new(doc, "installation", json_pack("{s:I}", "id",
		    (json_int_t)p->installation));
	if (p->repo)
		json_object_set_new(doc, "repository", json_pack("{s:s}",
		    "full_name", p->repo));
	json_object_set_new(pr, "number", json_integer(p->number));
	if (p->title)
		json_object_set_new(pr, "title", json_string(p->title));
	if (p->head_ref)
		json_object_set_new(head, "ref", json_string(p->head_ref));
	if (p->head_sha)
		json_object_set_new(head, "sha", json_string(p->head_sha));
	if (p->base_ref)
		json_object_set_new(base, "ref", json_string(p->base_ref));
	json_object_set_new(pr, "head", head);
	json_object_set_new(pr, "base", base);
	json_object_set_new(pr, "merged", json_boolean(p->merged));
	if (p->merge_sha)
		json_object_set_new(pr, "merge_commit_sha",
		    json_string(p->merge_sha));
	json_object_set_new(doc, "pull_request", pr);
	return doc;
}

/* Delivers a pull_request event and expects 200. */
static void deliver_pr(const struct pr *p, struct http_resp *r)
{
	char id[64];
	json_t *doc = pr_doc(p);

	new_delivery(id, sizeof id);
	deliver_json("pull_request", id, doc, r);
	json_decref(doc);
	if (r->status != 200)
		fail_msg("pull_request %s: %ld %s", p->action, r->status, r->body);
}

/* A git repository with main and the merge group's head branch, one
 * clean change apart, so the worker's simulation succeeds. */
static int make_repo(void)
{
	snprintf(repo_dir, sizeof repo_dir, "/tmp/cv-it-repo-XXXXXX");
	if (mkdtemp(repo_dir) == NULL)
		return -1;
	GIT(repo_dir, "init", "-q", "-b", "main", ".");
	write_file(repo_dir, "README.md", "base\n");
	/* the merge group's checks (lint, unit_tests) are make targets */
	write_file(repo_dir, "Makefile", "lint:\n\t@true\ntest:\n\t@true\n");
	GIT(repo_dir, "add", "-A");
	GIT(repo_dir, "commit", "-q", "-m", "base");
	GIT(repo_dir, "checkout", "-q", "-b", MG_HEAD_REF);
	write_file(repo_dir, "queued.txt", "from the merge queue\n");
	GIT(repo_dir, "add", "-A");
	GIT(repo_dir, "commit", "-q", "-m", "queued change");
	GIT(repo_dir, "checkout", "-q", "main");
	return 0;
}

static void remove_repo(void)
{
	it_remove_tree(repo_dir);
}

/* ---- concurrent deliveries (libcurl multi) ---------------------------------- */

/* Sends every shot at once as a pull_request delivery (webhook_util.h). */
static void fire(struct shot *shots, size_t n)
{
	char url[128];

	snprintf(url, sizeof url, "%s/integrations/github/webhook",
	    farm_base_url());
	shots_fire(shots, n, url, "pull_request", SECRET);
}

/* ---- signed farm: signatures ------------------------------------------------ */

struct sig_row {
	const char *name;
	enum sig sig;
	long status;
	const char *body;	/* expected, NULL: any 200 answer */
};

static const struct sig_row sig_rows[] = {
	{ "valid", SIG_VALID, 200, NULL },
	{ "missing", SIG_NONE, 401, "{\"error\":\"Invalid signature\"}" },
	{ "one hex digit off", SIG_WRONG, 401, "{\"error\":\"Invalid signature\"}" },
	{ "uppercase hex", SIG_UPPER, 401, "{\"error\":\"Invalid signature\"}" },
	{ "no sha256= prefix", SIG_BARE, 401, "{\"error\":\"Invalid signature\"}" },
	{ "signature of another body", SIG_OTHER_BODY, 401,
	  "{\"error\":\"Invalid signature\"}" },
};

static void test_signatures(void **state)
{
	const char *body = "{\"zen\":\"Keep it logically awesome.\",\"hook_id\":1}";

	(void)state;
	for (size_t i = 0; i < sizeof sig_rows / sizeof sig_rows[0]; i++) {
		const struct sig_row *row = &sig_rows[i];
		struct http_resp r;
		char id[64];

		print_message("signature: %s\n", row->name);
		new_delivery(id, sizeof id);
		deliver("ping", id, body, strlen(body), row->sig, &r);
		assert_int_equal(r.status, row->status);
		if (row->body) {
			expect_body(&r, row->body);
			assert_int_equal(traces_of_delivery(id), 0);
		} else {
			assert_true(json_is_true(json_object_get(r.json, "ok")));
			assert_int_equal(received_events(id), 1);
		}
		http_resp_free(&r);
	}
}

/* ---- signed farm: every fixture is acknowledged -------------------------- */

static void test_fixtures(void **state)
{
	char dir[PATH_MAX], sub[PATH_MAX * 2], file[PATH_MAX * 3];
	struct dirent *e, *f;
	DIR *dp, *sp;
	int seen = 0;

	(void)state;
	snprintf(dir, sizeof dir, "%s/tests/fixtures/github-webhooks", CV_SRCDIR);
	assert_non_null(dp = opendir(dir));
	while ((e = readdir(dp)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
		if ((sp = opendir(sub)) == NULL)
			continue;	/* README.md */
		while ((f = readdir(sp)) != NULL) {
			struct http_resp r;
			size_t len = 0;
			char id[64], *body;

			if (strstr(f->d_name, ".json") == NULL)
				continue;
			snprintf(file, sizeof file, "%s/%s", sub, f->d_name);
			assert_non_null(body = slurp(file, &len));
			new_delivery(id, sizeof id);
			print_message("fixture %s/%s\n", e->d_name, f->d_name);
			deliver(e->d_name, id, body, len, SIG_VALID, &r);
			if (r.status < 200 || r.status > 299)
				fail_msg("%s/%s: %ld %s", e->d_name, f->d_name,
				    r.status, r.body);
			assert_true(json_is_true(json_object_get(r.json, "ok")));
			assert_int_equal(received_events(id), 1);
			assert_int_equal(farm_db_int("SELECT count(*) FROM"
			    " webhook_payloads WHERE delivery_id = ? AND body = ?",
			    id, body, NULL), 1);
			http_resp_free(&r);
			free(body);
			seen++;
		}
		closedir(sp);
	}
	closedir(dp);
	assert_true(seen >= 10);
}

/* ---- signed farm: duplicates ---------------------------------------------- */

static void test_duplicate_delivery(void **state)
{
	struct pr p = { "opened", "acme/dup", 7, "Dup", "feat/dup", "d0d0",
	    "main", 4242, 0, NULL };
	json_t *doc = pr_doc(&p);
	struct http_resp r;
	char id[64], want[200];

	(void)state;
	new_delivery(id, sizeof id);
	deliver_json("pull_request", id, doc, &r);
	assert_int_equal(r.status, 200);
	expect_body(&r, "{\"ok\":true,\"intent_id\":\"acme/dup:pr-7\","
	    "\"action\":\"created\"}");
	http_resp_free(&r);
	for (int again = 0; again < 2; again++) {
		deliver_json("pull_request", id, doc, &r);
		assert_int_equal(r.status, 200);
		snprintf(want, sizeof want, "{\"ok\":true,\"delivery_id\":\"%s\","
		    "\"duplicate\":true}", id);
		expect_body(&r, want);
		http_resp_free(&r);
	}
	json_decref(doc);
	assert_int_equal(received_events(id), 1);
	assert_int_equal(events_of("intent.created", "acme/dup:pr-7"), 1);
	assert_int_equal(farm_db_int("SELECT count(*) FROM intents WHERE id = ?",
	    "acme/dup:pr-7", NULL), 1);
}

/* 120 identical deliveries at once: exactly one is processed. */
static void test_concurrent_same_delivery(void **state)
{
	struct pr p = { "opened", "acme/race", 1, "Race", "feat/race", "abab",
	    "main", 4242, 0, NULL };
	struct shot *shots = calloc(CONCURRENCY, sizeof *shots);
	json_t *doc = pr_doc(&p);
	char id[64];
	int fresh = 0, dup = 0;

	(void)state;
	new_delivery(id, sizeof id);
	for (size_t i = 0; i < CONCURRENCY; i++) {
		shots[i].body = json_dumps(doc, JSON_COMPACT);
		snprintf(shots[i].delivery, sizeof shots[i].delivery, "%s", id);
	}
	json_decref(doc);
	fire(shots, CONCURRENCY);
	for (size_t i = 0; i < CONCURRENCY; i++) {
		json_t *j = json_loads(shots[i].reply ? shots[i].reply : "", 0, NULL);

		if (shots[i].status != 200)
			fail_msg("shot %zu: %ld %s", i, shots[i].status,
			    shots[i].reply ? shots[i].reply : "");
		if (json_is_true(json_object_get(j, "duplicate")))
			dup++;
		else {
			assert_string_equal(json_string_value(json_object_get(j,
			    "intent_id")), "acme/race:pr-1");
			fresh++;
		}
		json_decref(j);
	}
	shots_free(shots, CONCURRENCY);
	assert_int_equal(fresh, 1);
	assert_int_equal(dup, CONCURRENCY - 1);
	assert_int_equal(received_events(id), 1);
	assert_int_equal(events_of("intent.created", "acme/race:pr-1"), 1);
	assert_int_equal(farm_db_int("SELECT count(*) FROM webhook_deliveries WHERE"
	    " delivery_id = ?", id, NULL), 1);
}

/* 120 different pull requests at once: 120 intents. */
static void test_concurrent_distinct_prs(void **state)
{
	struct shot *shots = calloc(CONCURRENCY, sizeof *shots);

	(void)state;
	for (size_t i = 0; i < CONCURRENCY; i++) {
		struct pr p = { "opened", "acme/many", (long long)i + 1, "Many",
		    "feat/many", "cafe", "main", 4242, 0, NULL };
		json_t *doc = pr_doc(&p);

		shots[i].body = json_dumps(doc, JSON_COMPACT);
		json_decref(doc);
		new_delivery(shots[i].delivery, sizeof shots[i].delivery);
	}
	fire(shots, CONCURRENCY);
	for (size_t i = 0; i < CONCURRENCY; i++) {
		json_t *j = json_loads(shots[i].reply ? shots[i].reply : "", 0, NULL);
		char want[64];

		if (shots[i].status != 200)
			fail_msg("shot %zu: %ld %s", i, shots[i].status,
			    shots[i].reply ? shots[i].reply : "");
		snprintf(want, sizeof want, "acme/many:pr-%zu", i + 1);
		assert_string_equal(json_string_value(json_object_get(j,
		    "intent_id")), want);
		json_decref(j);
	}
	shots_free(shots, CONCURRENCY);
	assert_int_equal(farm_db_int("SELECT count(*) FROM intents WHERE id LIKE"
	    " 'acme/many:pr-%'", NULL), CONCURRENCY);
	assert_int_equal(farm_db_int("SELECT count(*) FROM events WHERE event_type ="
	    " 'intent.created' AND intent_id LIKE 'acme/many:pr-%'", NULL),
	    CONCURRENCY);
}

/* ---- signed farm: pull_request field mapping (7.4) -------------------------- */

struct map_row {
	struct pr pr;
	const char *id;
	const char *want;	/* the intent minus created_at/updated_at */
};

static const struct map_row map_rows[] = {
	{ { "opened", "acme/backend", 42, "Add feature", "feature/x", "abc123",
	    "main", 4242, 0, NULL }, "acme/backend:pr-42",
	  "{\"id\":\"acme/backend:pr-42\",\"source\":\"feature/x\","
	  "\"target\":\"main\",\"status\":\"READY\","
	  "\"created_by\":\"github-webhook\",\"risk_level\":\"medium\","
	  "\"priority\":3,\"semantic\":{\"problem_statement\":\"Add feature\","
	  "\"objective\":\"Add feature\"},\"technical\":{\"source_ref\":"
	  "\"feature/x\",\"target_ref\":\"main\",\"initial_base_commit\":"
	  "\"abc123\",\"repo\":\"acme/backend\",\"pr_number\":42,"
	  "\"installation_id\":4242},\"checks_required\":[],"
	  "\"dependencies\":[],\"retries\":0,\"tenant_id\":null}" },
	/* reopened to another base, no installation */
	{ { "reopened", "acme/backend", 43, "Fix", "fix/y", "def456",
	    "release/1.2", 0, 0, NULL }, "acme/backend:pr-43",
	  "{\"id\":\"acme/backend:pr-43\",\"source\":\"fix/y\","
	  "\"target\":\"release/1.2\",\"status\":\"READY\","
	  "\"created_by\":\"github-webhook\",\"risk_level\":\"medium\","
	  "\"priority\":3,\"semantic\":{\"problem_statement\":\"Fix\","
	  "\"objective\":\"Fix\"},\"technical\":{\"source_ref\":\"fix/y\","
	  "\"target_ref\":\"release/1.2\",\"initial_base_commit\":\"def456\","
	  "\"repo\":\"acme/backend\",\"pr_number\":43,\"installation_id\":null},"
	  "\"checks_required\":[],\"dependencies\":[],\"retries\":0,"
	  "\"tenant_id\":null}" },
	/* defaults: no title, head sha (repository and refs are required,
	 * D-8: without them the delivery is a 400) */
	{ { "synchronize", "acme/bare", 44, NULL, "bare", NULL, "main", 0, 0,
	    NULL }, "acme/bare:pr-44",
	  "{\"id\":\"acme/bare:pr-44\",\"source\":\"bare\",\"target\":"
	  "\"main\",\"status\":\"READY\",\"created_by\":\"github-webhook\","
	  "\"risk_level\":\"medium\",\"priority\":3,\"semantic\":"
	  "{\"problem_statement\":\"\",\"objective\":\"\"},\"technical\":"
	  "{\"source_ref\":\"bare\",\"target_ref\":\"main\","
	  "\"initial_base_commit\":\"\",\"repo\":\"acme/bare\",\"pr_number\":44,"
	  "\"installation_id\":null},\"checks_required\":[],"
	  "\"dependencies\":[],\"retries\":0,\"tenant_id\":null}" },
};

/* Compares every key the spec names; fails naming the first difference. */
static void expect_fields(const json_t *got, const json_t *want)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)want, key, v) {
		json_t *g = json_object_get(got, key);

		if (!json_equal(g, v)) {
			char *a = json_dumps(g, JSON_COMPACT | JSON_ENCODE_ANY);
			char *b = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			fail_msg("field %s: got %s, want %s", key, a ? a : "(none)", b);
		}
	}
}

static void test_pr_field_mapping(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof map_rows / sizeof map_rows[0]; i++) {
		const struct map_row *row = &map_rows[i];
		json_t *want = json_loads(row->want, 0, NULL), *got, *ev;
		struct http_resp r;
		char reply[256];

		print_message("mapping %s\n", row->id);
		assert_non_null(want);
		deliver_pr(&row->pr, &r);
		snprintf(reply, sizeof reply, "{\"ok\":true,\"intent_id\":\"%s\","
		    "\"action\":\"created\"}", row->id);
		expect_body(&r, reply);
		http_resp_free(&r);
		assert_non_null(got = get_intent(row->id));
		expect_fields(got, want);
		assert_non_null(json_string_value(json_object_get(got,
		    "created_at")));
		/* intent.created carries the intent as built */
		ev = last_event_payload("intent.created", row->id);
		expect_fields(ev, want);
		json_decref(ev);
		json_decref(got);
		json_decref(want);
	}
}

/* synchronize on a closed intent: READY again, retries 0, created_at and
 * created_by kept (7.4 upsert rule). */
static void test_pr_synchronize_reopens(void **state)
{
	struct pr open = { "opened", "acme/sync", 5, "S", "feat/s", "1111",
	    "main", 4242, 0, NULL };
	struct pr closed = { "closed", "acme/sync", 5, "S", "feat/s", "1111",
	    "main", 4242, 0, NULL };
	struct pr sync = { "synchronize", "acme/sync", 5, "S2", "feat/s", "2222",
	    "main", 4242, 0, NULL };
	struct http_resp r;
	json_t *before, *after;

	(void)state;
	deliver_pr(&open, &r);
	http_resp_free(&r);
	assert_non_null(before = get_intent("acme/sync:pr-5"));
	deliver_pr(&closed, &r);
	http_resp_free(&r);
	after = get_intent("acme/sync:pr-5");
	assert_string_equal(status_of(after), "REJECTED");
	json_decref(after);
	deliver_pr(&sync, &r);
	http_resp_free(&r);
	after = get_intent("acme/sync:pr-5");
	assert_string_equal(status_of(after), "READY");
	assert_int_equal(json_integer_value(json_object_get(after, "retries")), 0);
	assert_true(json_equal(json_object_get(after, "created_at"),
	    json_object_get(before, "created_at")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    after, "technical"), "initial_base_commit")), "2222");
	json_decref(before);
	json_decref(after);
}

/* ---- signed farm: pull_request closed (7.5) --------------------------------- */

struct close_row {
	long long number;
	int exists;
	int merged;
	const char *reply_action;
	const char *status;	/* NULL: no intent */
	const char *event;
};

static const struct close_row close_rows[] = {
	{ 60, 1, 1, "merged", "MERGED", "intent.merged" },
	{ 61, 1, 0, "rejected", "REJECTED", "intent.rejected" },
	{ 62, 0, 1, "ignored", NULL, NULL },
};

static void test_pr_closed(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof close_rows / sizeof close_rows[0]; i++) {
		const struct close_row *row = &close_rows[i];
		struct pr p = { "opened", "acme/close", row->number, "C",
		    "feat/close", "3333", "main", 4242, 0, NULL };
		struct http_resp r;
		char id[64], want[256];
		json_t *in, *ev, *wev;

		print_message("closed pr-%lld merged=%d\n", row->number, row->merged);
		snprintf(id, sizeof id, "acme/close:pr-%lld", row->number);
		if (row->exists) {
			deliver_pr(&p, &r);
			http_resp_free(&r);
		}
		p.action = "closed";
		p.merged = row->merged;
		p.merge_sha = row->merged ? "feedbeef" : NULL;
		deliver_pr(&p, &r);
		if (row->status)
			snprintf(want, sizeof want, "{\"ok\":true,\"intent_id\":"
			    "\"%s\",\"action\":\"%s\"}", id, row->reply_action);
		else
			snprintf(want, sizeof want, "{\"ok\":true,\"intent_id\":"
			    "\"%s\",\"action\":\"ignored\",\"reason\":"
			    "\"unknown_intent\"}", id);
		expect_body(&r, want);
		http_resp_free(&r);
		in = get_intent(id);
		if (!row->status) {
			assert_null(in);
			assert_int_equal(farm_db_int("SELECT count(*) FROM events WHERE"
			    " intent_id = ?", id, NULL), 0);
			continue;
		}
		assert_string_equal(status_of(in), row->status);
		assert_int_equal(json_integer_value(json_object_get(in, "retries")), 0);
		ev = last_event_payload(row->event, id);
		wev = json_pack("{s:s,s:s,s:b,s:s,s:s}", "source", "feat/close",
		    "target", "main", "merged", row->merged, "merge_commit_sha",
		    row->merged ? "feedbeef" : "", "trigger", "github_pr_closed");
		if (!json_equal(ev, wev)) {
			char *a = json_dumps(ev, JSON_COMPACT);
			fail_msg("%s payload %s", row->event, a);
		}
		json_decref(wev);
		json_decref(ev);
		json_decref(in);
	}
}

/* ---- signed farm: push revalidation (7.6) ----------------------------------- */

struct push_row {
	const char *id;
	const char *status;	/* set on creation */
	const char *source;
	const char *repo;	/* NULL: no technical.repo */
	int revalidated;
};

static const struct push_row push_rows[] = {
	{ "push-ready", "READY", "feat/push", "acme/push", 1 },
	{ "push-validated", "VALIDATED", "feat/push", "acme/push", 1 },
	{ "push-norepo", "READY", "feat/push", NULL, 1 },
	{ "push-otherrepo", "READY", "feat/push", "acme/other", 0 },
	{ "push-queued", "QUEUED", "feat/push", "acme/push", 0 },
	{ "push-merged", "MERGED", "feat/push", "acme/push", 0 },
	{ "push-otherbranch", "READY", "feat/other", "acme/push", 0 },
};
#define NPUSH (sizeof push_rows / sizeof push_rows[0])

/* Creates the row's intent with the admin CLI on the farm's database:
 * over HTTP an intent is always created READY and its technical names
 * no repository (only a verified delivery does), while these rows need
 * other statuses and repositories. */
static void create_intent(const struct push_row *row)
{
	json_t *doc = json_pack("{s:s,s:s,s:s,s:s,s:{s:s}}", "id", row->id,
	    "source", row->source, "target", "main", "status", row->status,
	    "technical", "initial_base_commit", "0000");
	const char *bin = getenv("CONVERGE_BIN_DIR");
	char file[PATH_MAX], cli[PATH_MAX];
	char *argv[] = { cli, "intent", "create", "--file", file, NULL };

	if (row->repo)
		json_object_set_new(json_object_get(doc, "technical"), "repo",
		    json_string(row->repo));
	snprintf(file, sizeof file, "%s/%s.json", farm_var_dir(), row->id);
	snprintf(cli, sizeof cli, "%s/worker/converge", bin && *bin ? bin :
	    CV_BUILDDIR);
	assert_int_equal(json_dump_file(doc, file, JSON_COMPACT), 0);
	json_decref(doc);
	setenv("CONVERGE_DB_PATH", farm_db_path(), 1);
	run_in(farm_var_dir(), (const char *const *)argv);
	unsetenv("CONVERGE_DB_PATH");
	unlink(file);
}

static void test_push_revalidates(void **state)
{
	json_t *before[NPUSH], *ids, *doc, *ev;
	struct http_resp r;
	char id[64];

	(void)state;
	hold_queue(true);
	for (size_t i = 0; i < NPUSH; i++) {
		create_intent(&push_rows[i]);
		assert_non_null(before[i] = get_intent(push_rows[i].id));
		assert_string_equal(status_of(before[i]), push_rows[i].status);
	}
	/* A tag is not a branch. */
	doc = json_pack("{s:s,s:s,s:{s:s}}", "ref", "refs/tags/feat/push",
	    "after", "beef", "repository", "full_name", "acme/push");
	new_delivery(id, sizeof id);
	deliver_json("push", id, doc, &r);
	json_decref(doc);
	expect_body(&r, "{\"ok\":true,\"action\":\"ignored\",\"reason\":"
	    "\"not_branch_push\"}");
	http_resp_free(&r);

	doc = json_pack("{s:s,s:s,s:s,s:{s:s}}", "ref", "refs/heads/feat/push",
	    "before", "0000", "after", "beefcafe", "repository", "full_name",
	    "acme/push");
	new_delivery(id, sizeof id);
	deliver_json("push", id, doc, &r);
	json_decref(doc);
	assert_int_equal(r.status, 200);
	assert_true(json_is_true(json_object_get(r.json, "ok")));
	assert_string_equal(json_string_value(json_object_get(r.json, "action")),
	    "push_processed");
	ids = json_object_get(r.json, "revalidated");
	assert_true(json_is_array(ids));
	/* READY ones come first, then VALIDATED (7.6 step 3). */
	assert_string_equal(json_string_value(json_array_get(ids,
	    json_array_size(ids) - 1)), "push-validated");
	for (size_t i = 0; i < NPUSH; i++) {
		const struct push_row *row = &push_rows[i];
		json_t *after = get_intent(row->id), *v;
		int listed = 0;
		size_t k;

		print_message("push: %s\n", row->id);
		json_array_foreach(ids, k, v)
			listed += strcmp(json_string_value(v), row->id) == 0;
		assert_int_equal(listed, row->revalidated);
		if (!row->revalidated) {
			/* untouched, to the byte */
			assert_true(json_equal(after, before[i]));
			assert_int_equal(events_of("intent.requeued", row->id), 0);
		} else {
			assert_string_equal(status_of(after), "READY");
			assert_string_equal(json_string_value(json_object_get(
			    json_object_get(after, "technical"),
			    "initial_base_commit")), "beefcafe");
			assert_true(json_equal(json_object_get(after, "retries"),
			    json_object_get(before[i], "retries")));
			ev = last_event_payload("intent.requeued", row->id);
			json_t *want = json_pack("{s:s,s:s,s:s}", "trigger",
			    "push_revalidation", "branch", "feat/push",
			    "new_head_sha", "beefcafe");
			assert_true(json_equal(ev, want));
			json_decref(want);
			json_decref(ev);
		}
		json_decref(after);
		json_decref(before[i]);
	}
	assert_int_equal(json_array_size(ids), 3);
	http_resp_free(&r);
	hold_queue(false);
}

/* ---- signed farm: malformed bodies and the size cap ------------------------- */

struct bad_row {
	const char *name;
	const char *body;	/* NULL: the truncated fixture */
};

static const struct bad_row bad_rows[] = {
	{ "truncated fixture", NULL },
	{ "open brace", "{" },
	{ "trailing garbage", "{\"action\":\"opened\"} x" },
	{ "array", "[1,2,3]" },
	{ "string", "\"opened\"" },
	{ "null", "null" },
	{ "number", "42" },
	{ "empty", "" },
	{ "not JSON at all", "action=opened&number=1" },
};

static void test_malformed_bodies(void **state)
{
	char path[PATH_MAX], *fix;
	size_t flen = 0;

	(void)state;
	snprintf(path, sizeof path, "%s/tests/fixtures/github-webhooks/"
	    "pull_request/opened.payload.json", CV_SRCDIR);
	assert_non_null(fix = slurp(path, &flen));
	for (size_t i = 0; i < sizeof bad_rows / sizeof bad_rows[0]; i++) {
		const char *body = bad_rows[i].body ? bad_rows[i].body : fix;
		size_t len = bad_rows[i].body ? strlen(body) : flen / 2;
		long long intents = farm_db_int("SELECT count(*) FROM intents", NULL);
		struct http_resp r;
		char id[64];

		print_message("malformed: %s\n", bad_rows[i].name);
		new_delivery(id, sizeof id);
		deliver("pull_request", id, body, len, SIG_VALID, &r);
		assert_int_equal(r.status, 400);
		expect_body(&r, "{\"error\":\"Invalid JSON body\"}");
		http_resp_free(&r);
		assert_int_equal(traces_of_delivery(id), 0);
		assert_int_equal(farm_db_int("SELECT count(*) FROM intents", NULL),
		    intents);
		/* Nothing was claimed: the corrected redelivery is processed. */
		if (i == 0) {
			deliver("pull_request", id, fix, flen, SIG_VALID, &r);
			assert_int_equal(r.status, 200);
			assert_null(json_object_get(r.json, "duplicate"));
			assert_int_equal(received_events(id), 1);
			http_resp_free(&r);
		}
	}
	free(fix);
}

static void test_body_too_large(void **state)
{
	size_t len = 26 * MIB;
	char *body = malloc(len), id[64];
	struct http_resp r;

	(void)state;
	assert_non_null(body);
	memset(body, ' ', len);
	body[0] = '{';
	body[len - 1] = '}';
	new_delivery(id, sizeof id);
	deliver("pull_request", id, body, len, SIG_VALID, &r);
	free(body);
	assert_int_equal(r.status, 413);
	expect_body(&r, "{\"error\":\"Request body too large\"}");
	http_resp_free(&r);
	assert_int_equal(traces_of_delivery(id), 0);
}

/* ---- signed farm: merge groups and GitHub publishing ------------------------ */

/* The check runs for head_sha the fake GitHub answered 201 with a
 * conclusion; *conclusion gets the last one's (borrowed from reqs). */
static size_t check_runs_for(const json_t *reqs, const char *sha,
    const char **conclusion)
{
	size_t i, n = 0;
	json_t *q;

	json_array_foreach(reqs, i, q) {
		const char *path = json_string_value(json_object_get(q, "path"));
		json_t *b = json_object_get(q, "body");
		const char *c = json_string_value(json_object_get(b, "conclusion"));

		if (path == NULL || strstr(path, "/check-runs") == NULL ||
		    json_integer_value(json_object_get(q, "status")) != 201 ||
		    strcmp(json_string_value(json_object_get(b, "head_sha")) ?
		    json_string_value(json_object_get(b, "head_sha")) : "", sha) ||
		    c == NULL)
			continue;
		*conclusion = c;
		n++;
	}
	return n;
}

/* Polls the fake for a completed check run on sha, up to limit_s seconds;
 * returns the seconds it took, or fails. */
static int wait_check_run(const char *sha, int limit_s, const char *want)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		json_t *reqs = fake_github_requests(&gh);
		const char *c = NULL;
		size_t n = check_runs_for(reqs, sha, &c);

		if (n > 0) {
			assert_string_equal(c, want);
			assert_int_equal(n, 1);
			json_decref(reqs);
			break;
		}
		json_decref(reqs);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > limit_s)
			fail_msg("no completed check run for %s within %d s", sha,
			    limit_s);
		usleep(200 * 1000);
	}
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int)(t.tv_sec - t0.tv_sec);
}

/* A merge_group checks_requested delivery for head_sha (the fixture's
 * branches); returns the intent id the webhook answered. */
static char *deliver_merge_group(const char *sha)
{
	json_t *doc = fixture(MG_FIXTURE);
	struct http_resp r;
	char id[64], *intent;

	json_object_set_new(json_object_get(doc, "merge_group"), "head_sha",
	    json_string(sha));
	new_delivery(id, sizeof id);
	deliver_json("merge_group", id, doc, &r);
	json_decref(doc);
	if (r.status != 200)
		fail_msg("merge_group: %ld %s", r.status, r.body);
	intent = strdup(json_string_value(json_object_get(r.json, "intent_id")));
	http_resp_free(&r);
	return intent;
}

static void wait_outbox_drained(int limit_s)
{
	for (int i = 0; i < limit_s * 5; i++) {
		if (farm_db_int("SELECT count(*) FROM github_outbox WHERE done_at IS"
		    " NULL", NULL) == 0)
			return;
		usleep(200 * 1000);
	}
	fail_msg("outbox not drained in %d s", limit_s);
}

static void test_merge_group_round_trip(void **state)
{
	/* Not the fixture's own sha: test_fixtures delivered that one. */
	const char *sha = "5eed5eed159f6b6c47a24e778fb9ef40cf6b1c7d";
	char *intent;
	json_t *in;
	int took;

	(void)state;
	intent = deliver_merge_group(sha);
	assert_string_equal(intent, "octo-org/octo-repo:mg-5eed5eed159f");
	assert_non_null(in = get_intent(intent));
	assert_string_equal(json_string_value(json_object_get(in, "source")),
	    MG_HEAD_REF);
	json_decref(in);
	took = wait_check_run(sha, 20, "success");
	print_message("check run for %s after %d s\n", sha, took);
	assert_true(events_of("intent.validated", intent) >= 1);
	assert_non_null(in = get_intent(intent));
	assert_string_equal(status_of(in), "QUEUED");
	json_decref(in);
	free(intent);
}

/* A pull request end to end: the webhook makes the intent and publishes
 * `pending` (an in-progress check run on the head sha); validating it
 * over the API records a decision that reaches GitHub as a completed
 * check run. */
static void test_pr_decision_published(void **state)
{
	const char *sha = "feedfacefeedfacefeedfacefeedfacefeedface";
	const struct pr p = { "opened", "acme/published", 77, "Publish me",
	    MG_HEAD_REF, sha, "main", 4242, 0, NULL };
	const char *const hdrs[] = { "Content-Type: application/json", NULL };
	struct http_resp r;
	json_t *reqs;
	size_t i, pending = 0;
	json_t *q;
	int took;

	(void)state;
	deliver_pr(&p, &r);
	assert_string_equal(json_string_value(json_object_get(r.json,
	    "intent_id")), "acme/published:pr-77");
	http_resp_free(&r);
	for (int tries = 0; tries < 100 && pending == 0; tries++) {
		usleep(200 * 1000);
		reqs = fake_github_requests(&gh);
		json_array_foreach(reqs, i, q) {
			json_t *b = json_object_get(q, "body");
			const char *st = json_string_value(json_object_get(b,
			    "status"));
			const char *hs = json_string_value(json_object_get(b,
			    "head_sha"));
			if (hs && !strcmp(hs, sha) && st &&
			    !strcmp(st, "in_progress"))
				pending++;
		}
		json_decref(reqs);
	}
	assert_true(pending >= 1);
	assert_int_equal(http_request("POST",
	    "/v1/intents/acme%2Fpublished:pr-77/validate", hdrs,
	    "{\"skip_checks\":true}", 20, &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(json_string_value(json_object_get(r.json,
	    "decision")), "validated");
	http_resp_free(&r);
	took = wait_check_run(sha, 20, "success");
	print_message("PR decision reached GitHub %d s after validation\n", took);
}

/* GitHub failing (500): the decision is recorded at once; the check run
 * arrives once GitHub is back (outbox retry, first back-off 5 s). */
static void test_github_down_then_back(void **state)
{
	const char *sha = "0badc0de0badc0de0badc0de0badc0de0badc0de";
	const char *c = NULL;
	size_t failed_before;
	json_t *reqs;
	char *intent;
	int took, tries;

	(void)state;
	/* Earlier publications settled, so only this one meets the failing
	 * GitHub (and the breaker stays closed). */
	wait_outbox_drained(30);
	reqs = fake_github_requests(&gh);
	failed_before = fake_github_count(reqs, NULL, NULL, 500);
	json_decref(reqs);
	assert_int_equal(fake_github_mode(&gh, "500", 0, -1), 0);
	intent = deliver_merge_group(sha);
	/* the worker validates and records, whatever GitHub does */
	for (tries = 0; tries < 100 && events_of("intent.validated", intent) == 0;
	    tries++)
		usleep(100 * 1000);
	assert_int_equal(events_of("intent.validated", intent), 1);
	/* and it did try to publish that decision, in vain */
	for (tries = 0; tries < 200; tries++) {
		reqs = fake_github_requests(&gh);
		size_t failed = fake_github_count(reqs, NULL, NULL, 500);
		json_decref(reqs);
		/* the row is marked failed once the client gave up */
		if (failed > failed_before && farm_db_int("SELECT count(*) FROM"
		    " github_outbox WHERE done_at IS NULL AND attempts > 0"
		    " AND json_extract(payload, '$.head_sha') = ? AND"
		    " json_extract(payload, '$.decision') = 'validated'", sha,
		    NULL) == 1)
			break;
		usleep(100 * 1000);
	}
	assert_true(tries < 200);
	reqs = fake_github_requests(&gh);
	assert_int_equal(check_runs_for(reqs, sha, &c), 0);
	json_decref(reqs);
	assert_int_equal(fake_github_mode(&gh, "ok", 0, -1), 0);
	took = wait_check_run(sha, 30, "success");
	print_message("check run delivered %d s after GitHub came back\n", took);
	wait_outbox_drained(30);
	free(intent);
}

/* ---- the locked farm: no secret, auth on ------------------------------------ */

static void test_locked_refuses(void **state)
{
	static const enum sig sigs[] = { SIG_VALID, SIG_NONE, SIG_WRONG };
	const char *body = "{\"zen\":\"x\"}";

	(void)state;
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		struct http_resp r;
		char id[64];

		new_delivery(id, sizeof id);
		deliver("ping", id, body, strlen(body), sigs[i], &r);
		assert_int_equal(r.status, 403);
		expect_body(&r, "{\"error\":\"Webhook signature verification not"
		    " configured\"}");
		http_resp_free(&r);
		assert_int_equal(traces_of_delivery(id), 0);
	}
}

/* ---- the development farm: no secret, auth off ------------------------------- */

static void test_devmode_accepts(void **state)
{
	static const enum sig sigs[] = { SIG_NONE, SIG_WRONG, SIG_VALID };

	(void)state;
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		struct pr p = { "opened", "acme/dev", (long long)i + 1, "Dev",
		    "feat/dev", "9999", "main", 0, 0, NULL };
		json_t *doc = pr_doc(&p), *in;
		char *body = json_dumps(doc, JSON_COMPACT), id[64], iid[64];
		struct http_resp r;

		json_decref(doc);
		new_delivery(id, sizeof id);
		deliver("pull_request", id, body, strlen(body), sigs[i], &r);
		free(body);
		assert_int_equal(r.status, 200);
		snprintf(iid, sizeof iid, "acme/dev:pr-%zu", i + 1);
		assert_string_equal(json_string_value(json_object_get(r.json,
		    "intent_id")), iid);
		http_resp_free(&r);
		assert_int_equal(received_events(id), 1);
		/* CONVERGE_GITHUB_DEFAULT_TENANT names the tenant (7.4) */
		assert_non_null(in = get_intent(iid));
		assert_string_equal(json_string_value(json_object_get(in,
		    "tenant_id")), "tenant-gh");
		json_decref(in);
	}
}

/* ---- farms -------------------------------------------------------------------- */

static int signed_up(void **state)
{
	char key[200], url[120];
	const char *env[] = {
		"CONVERGE_GITHUB_WEBHOOK_SECRET=" SECRET,
		"CONVERGE_AUTH_REQUIRED=0",
		"CONVERGE_RATE_LIMIT_ENABLED=0",
		"CONVERGE_GITHUB_APP_ID=" FAKE_APP_ID,
		"CONVERGE_GITHUB_INSTALLATION_ID=777",
		key, url,
		"CONVERGE_GITHUB_DEFAULT_TENANT=",
		"CONVERGE_WORKER_POLL_INTERVAL=1",
		NULL, NULL
	};
	char repo[PATH_MAX + 32];

	(void)state;
	if (make_repo() != 0)
		return -1;
	snprintf(key, sizeof key, "CONVERGE_GITHUB_APP_PRIVATE_KEY_PATH=%s",
	    gh.key_pkcs1);
	snprintf(url, sizeof url, "CONVERGE_GITHUB_API_URL=%s", gh.url);
	snprintf(repo, sizeof repo, "CONVERGE_REPO_PATH=%s", repo_dir);
	env[9] = repo;
	return farm_start(env) == 0 ? 0 : -1;
}

static int signed_down(void **state)
{
	(void)state;
	remove_repo();
	return farm_stop();
}

static int locked_up(void **state)
{
	const char *env[] = { "CONVERGE_GITHUB_WEBHOOK_SECRET=",
	    "CONVERGE_AUTH_REQUIRED=1", "CONVERGE_API_KEYS=", NULL };

	(void)state;
	return farm_start(env) == 0 ? 0 : -1;
}

static int devmode_up(void **state)
{
	const char *env[] = { "CONVERGE_GITHUB_WEBHOOK_SECRET=",
	    "CONVERGE_AUTH_REQUIRED=0", "CONVERGE_RATE_LIMIT_ENABLED=0",
	    "CONVERGE_GITHUB_DEFAULT_TENANT=tenant-gh", NULL };

	(void)state;
	return farm_start(env) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest signed_tests[] = {
		cmocka_unit_test(test_signatures),
		cmocka_unit_test(test_fixtures),
		cmocka_unit_test(test_duplicate_delivery),
		cmocka_unit_test(test_concurrent_same_delivery),
		cmocka_unit_test(test_concurrent_distinct_prs),
		cmocka_unit_test(test_pr_field_mapping),
		cmocka_unit_test(test_pr_synchronize_reopens),
		cmocka_unit_test(test_pr_closed),
		cmocka_unit_test(test_push_revalidates),
		cmocka_unit_test(test_malformed_bodies),
		cmocka_unit_test(test_body_too_large),
		cmocka_unit_test(test_merge_group_round_trip),
		cmocka_unit_test(test_pr_decision_published),
		cmocka_unit_test(test_github_down_then_back),
	};
	const struct CMUnitTest locked_tests[] = {
		cmocka_unit_test(test_locked_refuses),
	};
	const struct CMUnitTest devmode_tests[] = {
		cmocka_unit_test(test_devmode_accepts),
	};
	int failed = 0;

	if (!farm_available())
		return 77;	/* automake: skipped */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    fake_github_start(&gh) != 0)
		return 99;
	failed += cmocka_run_group_tests_name("webhook_signed", signed_tests,
	    signed_up, signed_down);
	failed += cmocka_run_group_tests_name("webhook_locked", locked_tests,
	    locked_up, farm_teardown);
	failed += cmocka_run_group_tests_name("webhook_devmode", devmode_tests,
	    devmode_up, farm_teardown);
	fake_github_stop(&gh);
	return failed ? 1 : 0;
}
