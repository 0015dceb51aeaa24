/* test_pagination.c - lists and summaries at scale, through their route
 * families: keyset pages (`limit`, `after`, the rel="next" Link) give
 * every row once, in the list's order, while rows are being added;
 * cursors of another list or tenant and malformed ones are refused with
 * 400; the cached summaries' ETag depends on the data only. Runs on
 * SQLite and, with CONVERGE_TEST_PG_DSN, on PostgreSQL too. */
#include "famtest.h"

#include "clock.h"
#include "db.h"
#include "fault.h"
#include "eventlog.h"
#include "intents.h"
#include "jsonx.h"
#include "pgtest.h"
#include "repos.h"
#include "viewcache.h"

extern const struct cv_family cv_family_events;
extern const struct cv_family cv_family_intents;
extern const struct cv_family cv_family_risk;
extern const struct cv_family cv_family_queue;
extern const struct cv_family cv_family_agents;
extern const struct cv_family cv_family_compliance;
extern const struct cv_family cv_family_dashboard;

#define ADMIN_A "{\"role\":\"admin\",\"actor\":\"adm-a\",\"tenant\":\"team-a\"}"
#define ADMIN_B "{\"role\":\"admin\",\"actor\":\"adm-b\",\"tenant\":\"team-b\"}"
#define ADMIN "{\"role\":\"admin\",\"actor\":\"adm\",\"tenant\":null}"
#define VIEW "{\"role\":\"viewer\",\"actor\":\"v\",\"tenant\":null}"

#define VIEW_A "{\"role\":\"viewer\",\"actor\":\"v-a\",\"tenant\":\"team-a\"}"
#define VIEW_B "{\"role\":\"viewer\",\"actor\":\"v-b\",\"tenant\":\"team-b\"}"
#define OP_A "{\"role\":\"operator\",\"actor\":\"op-a\",\"tenant\":\"team-a\"}"

static char pg_dsn[600];

struct fixture {
	struct pgtest_store *t;
	struct cv_app app;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	static const char *const wipe[] = { "DELETE FROM events",
	    "DELETE FROM intents", "DELETE FROM agent_policies",
	    "DELETE FROM repositories", "DELETE FROM risk_policies",
	    "DELETE FROM compliance_thresholds" };

	if (!f || !(f->t = pgtest_store_new(pg_dsn)))
		return -1;
	cv_view_reset();
	/* the PostgreSQL schema outlives a test: start each one empty */
	for (size_t i = 0; pg_dsn[0] && i < CV_ARRAY_LEN(wipe); i++)
		if (cv_db_exec(f->t->s, wipe[i], NULL, 0, NULL) != CV_OK)
			return -1;
	f->app.store = f->t->s;
	f->app.family = "test";
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	pgtest_store_free(f->t);
	free(f);
	return 0;
}

/* An event of type at ts (NULL: now) with payload {"n": n}. */
static void put_event(struct cv_store *s, const char *type, const char *intent,
    const char *tenant, const char *ts, int n)
{
	json_t *ev = cv_event_new(type, intent, NULL, tenant, NULL,
	    json_pack("{s:i}", "n", n), NULL);

	assert_non_null(ev);
	if (ts)
		json_object_set_new(ev, "timestamp", json_string(ts));
	assert_int_equal(cv_event_append(s, ev), CV_OK);
	json_decref(ev);
}

/* *path_out and *query_out (new strings) from `<path?query>; rel="next"`;
 * false when there is no Link. */
static bool next_link(const struct cv_response *resp, char **path_out,
    char **query_out)
{
	const char *link = cv_response_get_header(resp, "Link");
	const char *q, *end;

	if (!link)
		return false;
	assert_int_equal(link[0], '<');
	assert_non_null(strstr(link, ">; rel=\"next\""));
	assert_non_null(q = strchr(link, '?'));
	end = strchr(q, '>');
	*path_out = strndup(link + 1, (size_t)(q - link - 1));
	*query_out = strndup(q + 1, (size_t)(end - q - 1));
	return true;
}

/* Follows the Links from path?query and returns every row of every page
 * (new array). between(i) runs after page i (NULL: nothing). */
static json_t *walk(const struct cv_family *fam, struct fixture *f,
    const char *path, const char *query, const char *principal,
    const char *list_key, void (*between)(struct fixture *, int),
    int *pages)
{
	json_t *all = json_array(), *body, *rows, *row;
	char *p = strdup(path), *q = strdup(query ? query : "");
	struct cv_response resp;
	size_t i;

	for (*pages = 0;; (*pages)++) {
		fam_request(fam, &f->app, "GET", p, q, NULL, 0, principal,
		    &resp);
		if (resp.status != 200)
			fail_msg("%s?%s -> %d %s", p, q, resp.status,
			    resp.body ? resp.body : "");
		assert_non_null(body = json_loads(resp.body, 0, NULL));
		rows = list_key ? json_object_get(body, list_key) : body;
		json_array_foreach(rows, i, row)
			json_array_append(all, row);
		json_decref(body);
		free(p);
		free(q);
		if (!next_link(&resp, &p, &q)) {
			cv_response_free(&resp);
			break;
		}
		cv_response_free(&resp);
		if (between)
			between(f, *pages);
	}
	(*pages)++;
	return all;
}

/* 45 events of team-a (several sharing one timestamp), 5 of team-b. */
static void seed_events(struct cv_store *s)
{
	char ts[40];

	for (int n = 0; n < 45; n++) {
		/* ties: three events per timestamp */
		snprintf(ts, sizeof ts, "2026-11-26T10:00:%02d.000000+00:00",
		    n / 3);
		put_event(s, n % 2 ? "risk.evaluated" : "intent.created",
		    "i-1", "team-a", ts, n);
	}
	for (int n = 0; n < 5; n++)
		put_event(s, "risk.evaluated", "i-1", "team-b", NULL, 100 + n);
}

/* New events while a client pages: newer than everything, so before the
 * first page of the list and never inside a later one. */
static void add_events(struct fixture *f, int page)
{
	put_event(f->app.store, "risk.evaluated", "i-1", "team-a", NULL,
	    1000 + page);
	put_event(f->app.store, "intent.created", "i-1", "team-a", NULL,
	    2000 + page);
}

/* Each n of want[0..nwant) once, in the order the unpaged list gives. */
static void same_rows(const json_t *paged, const json_t *whole)
{
	size_t i;
	json_t *row;

	assert_int_equal(json_array_size(paged), json_array_size(whole));
	json_array_foreach(whole, i, row)
		assert_string_equal(cv_json_str(row, "id", "a"),
		    cv_json_str(json_array_get(paged, i), "id", "b"));
}

static json_t *get_json(struct fixture *f, const struct cv_family *fam,
    const char *path, const char *query, const char *principal,
    int status)
{
	struct cv_response resp;
	json_t *j;

	fam_request(fam, &f->app, "GET", path, query, NULL, 0, principal,
	    &resp);
	if (resp.status != status)
		fail_msg("%s?%s -> %d %s", path, query ? query : "", resp.status,
		    resp.body ? resp.body : "");
	j = json_loads(resp.body ? resp.body : "null", JSON_DECODE_ANY, NULL);
	cv_response_free(&resp);
	return j;
}

/* GET /events: pages of 7 give the whole list once, in order, also while
 * events are added; the filters travel in the Link. */
static void test_events(void **state)
{
	struct fixture *f = *state;
	json_t *whole, *paged;
	int pages;

	seed_events(f->app.store);
	whole = get_json(f, &cv_family_events, "/v1/events", "limit=1000",
	    VIEW_A, 200);
	assert_int_equal(json_array_size(whole), 45);
	paged = walk(&cv_family_events, f, "/v1/events", "limit=7", VIEW_A,
	    NULL, add_events, &pages);
	assert_int_equal(pages, 7);
	same_rows(paged, whole);
	json_decref(paged);
	json_decref(whole);

	/* a filter: risk.evaluated of team-a only, with the added ones */
	whole = get_json(f, &cv_family_events, "/v1/events",
	    "type=risk.evaluated&limit=1000", VIEW_A, 200);
	paged = walk(&cv_family_events, f, "/v1/events",
	    "type=risk.evaluated&limit=4", VIEW_A, NULL, NULL, &pages);
	same_rows(paged, whole);
	for (size_t i = 0; i < json_array_size(paged); i++)
		assert_string_equal(cv_json_str(json_array_get(paged, i),
		    "event_type", ""), "risk.evaluated");
	json_decref(paged);
	json_decref(whole);

	/* the default page is still 100 and the last page has no Link */
	paged = walk(&cv_family_events, f, "/v1/events", NULL, VIEW_A, NULL,
	    NULL, &pages);
	assert_int_equal(pages, 1);
	json_decref(paged);
}

/* A cursor is one list's and one tenant's: another tenant's, another
 * list's, and garbage are 400 with the error envelope. */
static void test_refused(void **state)
{
	struct fixture *f = *state;
	struct cv_response resp;
	char *p = NULL, *q = NULL, query[700];
	json_t *j;

	seed_events(f->app.store);
	fam_request(&cv_family_events, &f->app, "GET", "/v1/events", "limit=2",
	    NULL, 0, VIEW_A, &resp);
	assert_int_equal(resp.status, 200);
	assert_true(next_link(&resp, &p, &q));
	cv_response_free(&resp);
	assert_string_equal(p, "/v1/events");
	/* the same query as team-b: refused, nothing of either answered */
	j = get_json(f, &cv_family_events, "/v1/events", q, VIEW_B, 400);
	assert_non_null(strstr(cv_json_str(j, "error", ""), "query.after"));
	json_decref(j);
	/* team-a's cursor of /events on /audit/recent and /risk/recent */
	json_decref(get_json(f, &cv_family_events, "/v1/audit/recent", q, OP_A,
	    400));
	json_decref(get_json(f, &cv_family_risk, "/v1/risk/recent", q, VIEW_A,
	    400));
	/* and where it belongs */
	json_decref(get_json(f, &cv_family_events, "/v1/events", q, VIEW_A,
	    200));
	static const char *const bad[] = { "after=", "after=%21%21",
	    "after=YQ", "after=ZXZlbnRzCnRlYW0tYQp4CnJvd2lk",
	    "limit=2&after=ZXZlbnRzCnRlYW0tYQ" };
	for (size_t i = 0; i < CV_ARRAY_LEN(bad); i++) {
		j = get_json(f, &cv_family_events, "/v1/events", bad[i], VIEW_A,
		    400);
		assert_non_null(strstr(cv_json_str(j, "error", ""),
		    "query.after"));
		json_decref(j);
	}
	/* a bad limit is still the integer error */
	snprintf(query, sizeof query, "%s&limit=x", q);
	j = get_json(f, &cv_family_events, "/v1/events", query, VIEW_A, 400);
	assert_non_null(strstr(cv_json_str(j, "error", ""), "query.limit"));
	json_decref(j);
	free(p);
	free(q);
}

/* The other event lists page the same way. */
static void test_event_lists(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const struct cv_family *fam;
		const char *path, *principal;
		size_t want;
	} lists[] = {
		{ &cv_family_events, "/v1/audit/recent", OP_A, 45 },
		{ &cv_family_risk, "/v1/risk/recent", VIEW_A, 22 },
		{ &cv_family_intents, "/v1/intents/i-1/events", VIEW_A, 45 },
	};
	json_t *doc = json_pack("{s:s,s:s,s:s,s:s}", "id", "i-1", "source",
	    "feature/x", "status", "READY", "tenant_id", "team-a");
	const char *err = NULL;
	json_t *it = cv_intent_build(doc, false, NULL, &err), *whole, *paged;
	int pages;

	assert_non_null(it);
	assert_int_equal(cv_intent_upsert(f->app.store, it), CV_OK);
	json_decref(it);
	json_decref(doc);
	seed_events(f->app.store);
	for (size_t i = 0; i < CV_ARRAY_LEN(lists); i++) {
		whole = get_json(f, lists[i].fam, lists[i].path, "limit=1000",
		    lists[i].principal, 200);
		/* intent.created of i-1 itself is not among the seeded */
		assert_true(json_array_size(whole) >= lists[i].want);
		paged = walk(lists[i].fam, f, lists[i].path, "limit=5",
		    lists[i].principal, NULL, NULL, &pages);
		same_rows(paged, whole);
		assert_true(pages > 1);
		json_decref(paged);
		json_decref(whole);
	}
}

/* Rows of the keyed lists: n of each, named so that their order is not
 * the order they are written in. */
static void put_keyed(struct cv_store *s, int n, const char *tenant)
{
	char name[64], url[128];

	for (int i = 0; i < n; i++) {
		int k = (i * 7) % n;
		const char *err = NULL;
		json_t *doc;

		snprintf(name, sizeof name, "%s-%02d", tenant, k);
		doc = json_pack("{s:s,s:s}", "agent_id", name, "tenant_id",
		    tenant);
		assert_int_equal(cv_agent_policy_upsert(s, doc), CV_OK);
		json_object_set_new(doc, "tenant_id", json_string("team-z"));
		assert_int_equal(cv_agent_policy_upsert(s, doc), CV_OK);
		json_decref(doc);
		doc = json_pack("{s:i}", "max_risk_score", k);
		assert_int_equal(cv_risk_policy_upsert(s, name, doc, NULL), CV_OK);
		assert_int_equal(cv_compliance_thresholds_upsert(s, name, doc),
		    CV_OK);
		json_decref(doc);
		snprintf(name, sizeof name, "acme/%s-%02d", tenant, k);
		snprintf(url, sizeof url, "https://example.com/%s.git", name);
		doc = cv_repo_build(name, url, NULL, NULL, tenant, "test", &err);
		assert_non_null(doc);
		assert_int_equal(cv_repo_add(s, doc), CV_OK);
		json_decref(doc);
	}
}

/* Rows written while a client pages through a keyed list: some sort
 * before the page it is on, some after. */
static void add_keyed(struct fixture *f, int page)
{
	static int added;
	char tenant[32], name[64], url[128];
	const char *err = NULL;
	json_t *doc;

	snprintf(tenant, sizeof tenant, "%s-new%d", page % 2 ? "team-a" :
	    "team-0", added++);
	put_keyed(f->app.store, 1, tenant);
	/* and in team-a, between its rows */
	snprintf(name, sizeof name, "team-a-05-%d", added);
	doc = json_pack("{s:s,s:s}", "agent_id", name, "tenant_id", "team-a");
	assert_int_equal(cv_agent_policy_upsert(f->app.store, doc), CV_OK);
	json_decref(doc);
	snprintf(name, sizeof name, "acme/team-a-05-%d", added);
	snprintf(url, sizeof url, "https://example.com/%s.git", name);
	doc = cv_repo_build(name, url, NULL, NULL, "team-a", "test", &err);
	assert_int_equal(cv_repo_add(f->app.store, doc), CV_OK);
	json_decref(doc);
}

/* The value of key in row, "" for null. */
static const char *key_of(const json_t *row, const char *key)
{
	return cv_json_str(row, key, "");
}

/* paged holds every row of before once, no row twice, and is ordered by
 * (k1, k2). */
static void keyed_rows(const json_t *paged, const json_t *before,
    const char *k1, const char *k2)
{
	size_t i, j, found;

	for (i = 1; i < json_array_size(paged); i++) {
		const json_t *a = json_array_get(paged, i - 1);
		const json_t *b = json_array_get(paged, i);
		int c = strcmp(key_of(a, k1), key_of(b, k1));

		if (c == 0 && k2)
			c = strcmp(key_of(a, k2), key_of(b, k2));
		if (c >= 0)
			fail_msg("rows %zu, %zu out of order: %s %s", i - 1, i,
			    key_of(a, k1), key_of(b, k1));
	}
	for (i = 0; i < json_array_size(before); i++) {
		const json_t *want = json_array_get(before, i);

		for (j = 0, found = 0; j < json_array_size(paged); j++) {
			const json_t *got = json_array_get(paged, j);
			if (!strcmp(key_of(got, k1), key_of(want, k1)) &&
			    (!k2 || !strcmp(key_of(got, k2), key_of(want, k2))))
				found++;
		}
		if (found != 1)
			fail_msg("%s seen %zu times", key_of(want, k1), found);
	}
}

/* The lists without a limit in 0.1.0: whole without `limit`/`after`,
 * in pages with them, every row once while rows are added. */
static void test_keyed_lists(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const struct cv_family *fam;
		const char *path, *principal, *list_key, *k1, *k2;
	} lists[] = {
		{ &cv_family_agents, "/v1/agent/policy", VIEW, NULL, "agent_id",
		    "tenant_id" },
		{ &cv_family_agents, "/v1/agent/policy", VIEW_A, NULL, "agent_id",
		    NULL },
		{ &cv_family_risk, "/v1/risk/policy", VIEW, NULL, "tenant_id",
		    NULL },
		{ &cv_family_compliance, "/v1/compliance/thresholds", VIEW, NULL,
		    "tenant_id", NULL },
		{ &cv_family_queue, "/v1/repos", ADMIN, "repositories", "name",
		    NULL },
		{ &cv_family_queue, "/v1/repos", ADMIN_A, "repositories", "name",
		    NULL },
	};
	json_t *whole, *rows, *paged;
	int pages;

	put_keyed(f->app.store, 11, "team-a");
	put_keyed(f->app.store, 4, "team-b");
	for (size_t i = 0; i < CV_ARRAY_LEN(lists); i++) {
		whole = get_json(f, lists[i].fam, lists[i].path, NULL,
		    lists[i].principal, 200);
		rows = lists[i].list_key ? json_object_get(whole,
		    lists[i].list_key) : whole;
		assert_true(json_array_size(rows) >= 11);
		paged = walk(lists[i].fam, f, lists[i].path, "limit=3",
		    lists[i].principal, lists[i].list_key, add_keyed, &pages);
		assert_true(pages >= 4);
		keyed_rows(paged, rows, lists[i].k1, lists[i].k2);
		json_decref(paged);
		json_decref(whole);
	}
}

/* A keyed list's cursor: not another tenant's, not another list's. */
static void test_keyed_refused(void **state)
{
	struct fixture *f = *state;
	struct cv_response resp;
	char *p = NULL, *q = NULL;

	put_keyed(f->app.store, 5, "team-a");
	put_keyed(f->app.store, 5, "team-b");
	fam_request(&cv_family_queue, &f->app, "GET", "/v1/repos", "limit=2",
	    NULL, 0, ADMIN_A, &resp);
	assert_int_equal(resp.status, 200);
	assert_true(next_link(&resp, &p, &q));
	assert_null(strstr(resp.body, "team-b"));
	cv_response_free(&resp);
	json_decref(get_json(f, &cv_family_queue, "/v1/repos", q, ADMIN_B,
	    400));
	json_decref(get_json(f, &cv_family_queue, "/v1/repos", q, ADMIN, 400));
	json_decref(get_json(f, &cv_family_agents, "/v1/agent/policy", q,
	    VIEW_A, 400));
	json_decref(get_json(f, &cv_family_queue, "/v1/repos", q, ADMIN_A,
	    200));
	json_decref(get_json(f, &cv_family_queue, "/v1/repos", "after=x",
	    ADMIN_A, 400));
	free(p);
	free(q);
}

static void put_intent(struct cv_store *s, const char *id, int priority,
    const char *tenant)
{
	json_t *doc = json_pack("{s:s,s:s,s:s,s:i,s:s}", "id", id, "source",
	    "feature/x", "status", "READY", "priority", priority, "tenant_id",
	    tenant);
	const char *err = NULL;
	json_t *it = cv_intent_build(doc, false, NULL, &err);

	assert_non_null(it);
	assert_int_equal(cv_intent_upsert(s, it), CV_OK);
	json_decref(it);
	json_decref(doc);
}

static void add_intents(struct fixture *f, int page)
{
	char id[32];

	snprintf(id, sizeof id, "new-a-%d", page);
	put_intent(f->app.store, id, page % 4, "team-a");
	snprintf(id, sizeof id, "new-b-%d", page);
	put_intent(f->app.store, id, page % 4, "team-b");
}

/* GET /intents: the tenant's list once, in order, while intents are
 * added; its cursor is refused for another tenant and another list. */
static void test_intents(void **state)
{
	struct fixture *f = *state;
	json_t *whole, *paged;
	char id[32], *p = NULL, *q = NULL;
	struct cv_response resp;
	size_t i, j = 0;
	int pages;

	for (int n = 0; n < 23; n++) {
		snprintf(id, sizeof id, "i-%02d", (n * 5) % 23);
		put_intent(f->app.store, id, n % 4, n % 5 ? "team-a" : "team-b");
	}
	whole = get_json(f, &cv_family_intents, "/v1/intents", NULL, VIEW_A,
	    200);
	paged = walk(&cv_family_intents, f, "/v1/intents", "limit=4", VIEW_A,
	    NULL, add_intents, &pages);
	assert_true(pages >= 5);
	/* the first list, in its order, within the paged one; no id twice */
	for (i = 0; i < json_array_size(paged); i++) {
		const char *got = cv_json_str(json_array_get(paged, i), "id", "");
		assert_string_equal(cv_json_str(json_array_get(paged, i),
		    "tenant_id", ""), "team-a");
		for (size_t k = 0; k < i; k++)
			assert_string_not_equal(got, cv_json_str(json_array_get(
			    paged, k), "id", ""));
		if (j < json_array_size(whole) && !strcmp(got, cv_json_str(
		    json_array_get(whole, j), "id", "")))
			j++;
	}
	assert_int_equal(j, json_array_size(whole));
	json_decref(paged);
	json_decref(whole);

	fam_request(&cv_family_intents, &f->app, "GET", "/v1/intents",
	    "limit=2", NULL, 0, VIEW_A, &resp);
	assert_true(next_link(&resp, &p, &q));
	cv_response_free(&resp);
	json_decref(get_json(f, &cv_family_intents, "/v1/intents", q, VIEW_B,
	    400));
	json_decref(get_json(f, &cv_family_events, "/v1/events", q, VIEW_A,
	    400));
	json_decref(get_json(f, &cv_family_intents, "/v1/intents", q, VIEW_A,
	    200));
	free(p);
	free(q);
}

/* The trends answer their spec's bound (500 here) as before, with a
 * Link to the older ones; the pages together are every row once. */
static void test_trends(void **state)
{
	struct fixture *f = *state;
	char ts[40];
	json_t *page, *rest;
	char *p = NULL, *q = NULL;
	struct cv_response resp;

	assert_int_equal(cv_store_begin(f->app.store), CV_OK);
	for (int n = 0; n < 520; n++) {
		/* pairs share a timestamp, the 500th and 501st too */
		int64_t us = cv_now_us() - (int64_t)((n + 1) / 2) * 1000000;
		json_t *ev = cv_event_new("risk.evaluated", "i-1", NULL,
		    "team-a", NULL, json_pack("{s:i}", "entropy_score", n), NULL);

		cv_ts_from_us(ts, us);
		json_object_set_new(ev, "timestamp", json_string(ts));
		assert_int_equal(cv_event_append(f->app.store, ev), CV_OK);
		json_decref(ev);
	}
	assert_int_equal(cv_store_commit(f->app.store), CV_OK);
	fam_request(&cv_family_dashboard, &f->app, "GET",
	    "/v1/health/entropy/trend", "limit=3", NULL, 0, VIEW_A, &resp);
	assert_int_equal(resp.status, 200);
	assert_non_null(page = json_loads(resp.body, 0, NULL));
	assert_int_equal(json_array_size(page), 500);
	assert_true(next_link(&resp, &p, &q));
	cv_response_free(&resp);
	assert_non_null(strstr(q, "limit=500"));
	rest = get_json(f, &cv_family_dashboard, p, q, VIEW_A, 200);
	assert_int_equal(json_array_size(rest), 20);
	/* every event once: the scores are 0..519 */
	bool seen[520] = { false };
	json_array_extend(page, rest);
	for (size_t i = 0; i < json_array_size(page); i++) {
		long long n = (long long)json_number_value(json_object_get(
		    json_array_get(page, i), "entropy_score"));
		assert_true(n >= 0 && n < 520 && !seen[n]);
		seen[n] = true;
	}
	json_decref(get_json(f, &cv_family_dashboard, p, q, VIEW_B, 400));
	json_decref(page);
	json_decref(rest);
	free(p);
	free(q);
	page = get_json(f, &cv_family_dashboard, "/v1/health/repo/trend", NULL,
	    VIEW_A, 200);
	assert_int_equal(json_array_size(page), 0);
	json_decref(page);
}

/* GET path as principal; *etag_out: its ETag (new string). The status. */
static int get_tagged(struct fixture *f, const struct cv_family *fam,
    const char *path, const char *inm, char **etag_out)
{
	char m[] = "REQUEST_METHOD=GET", uri[256], h[128];
	char *env[] = { m, uri, h, NULL };
	struct cv_request req;
	struct cv_response resp;
	const char *etag;
	int status;

	snprintf(uri, sizeof uri, "REQUEST_URI=%s", path);
	snprintf(h, sizeof h, "HTTP_IF_NONE_MATCH=%s", inm ? inm : "");
	if (!inm)
		env[2] = NULL;
	assert_int_equal(cv_request_init(&req, env), CV_OK);
	cv_response_init(&resp);
	cv_farm_dispatch(fam, &f->app, &req, &resp);
	status = resp.status;
	assert_non_null(etag = cv_response_get_header(&resp, "ETag"));
	*etag_out = strdup(etag);
	cv_response_free(&resp);
	cv_request_free(&req);
	return status;
}

/* The summary's ETag is the data's: recomputed over the same data (the
 * cache emptied, as in another responder process) it is the same, so
 * If-None-Match still gets 304, though the snapshot's timestamp moved;
 * changed data gives another. The queue state's likewise. */
static void test_summary_etag(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const struct cv_family *fam;
		const char *path;
	} views[] = {
		{ &cv_family_intents, "/v1/summary" },
		{ &cv_family_queue, "/v1/queue/state" },
	};
	char *e1, *e2, *e3, *e4;

	put_event(f->app.store, "risk.evaluated", "i-1", NULL, NULL, 1);
	for (size_t i = 0; i < CV_ARRAY_LEN(views); i++) {
		cv_view_reset();
		assert_int_equal(get_tagged(f, views[i].fam, views[i].path, NULL,
		    &e1), 200);
		assert_int_equal(strncmp(e1, "W/\"", 3), 0);
		/* the clock moves on: a snapshot of another microsecond */
		usleep(2000);
		cv_view_reset();
		assert_int_equal(get_tagged(f, views[i].fam, views[i].path, NULL,
		    &e2), 200);
		assert_string_equal(e1, e2);
		cv_view_reset();
		assert_int_equal(get_tagged(f, views[i].fam, views[i].path, e1,
		    &e3), 304);
		assert_string_equal(e1, e3);
		/* new data: another tag, and the old one gets the body */
		json_t *doc = json_pack("{s:s,s:s,s:s}", "id", views[i].path,
		    "source", "feature/x", "status", "READY");
		const char *err = NULL;
		json_t *it = cv_intent_build(doc, false, NULL, &err);
		assert_int_equal(cv_intent_upsert(f->app.store, it), CV_OK);
		json_decref(it);
		json_decref(doc);
		assert_int_equal(get_tagged(f, views[i].fam, views[i].path, e1,
		    &e4), 200);
		assert_string_not_equal(e1, e4);
		free(e1);
		free(e2);
		free(e3);
		free(e4);
	}
}

#if CV_FAULT_ENABLED
/* One GET through the family with auth off; the harness's own
 * allocations are not counted. The status; *clean: a JSON error. */
static int faulty_get(struct fixture *f, const struct cv_family *fam,
    const char *uri, bool *clean)
{
	char m[] = "REQUEST_METHOD=GET", u[700];
	char *env[] = { m, u, NULL };
	struct cv_request req;
	struct cv_response resp;
	int status;

	snprintf(u, sizeof u, "REQUEST_URI=%s", uri);
	cv_fault_pause(true);
	cv_response_init(&resp);
	assert_int_equal(cv_request_init(&req, env), CV_OK);
	cv_fault_pause(false);
	cv_farm_dispatch(fam, &f->app, &req, &resp);
	cv_fault_pause(true);
	status = resp.status;
	json_t *j = resp.body ? json_loadb(resp.body, resp.body_len, 0, NULL) :
	    NULL;
	*clean = json_is_string(json_object_get(j, "error"));
	json_decref(j);
	cv_request_free(&req);
	cv_response_free(&resp);
	cv_fault_pause(false);
	return status;
}

/* A failure at every allocation and statement of a paged read or of a
 * summary: a 200 or a clear error, never a crash; then it works. */
static void test_faults(void **state)
{
	struct fixture *f = *state;
	struct cv_response resp;
	char *p = NULL, *q = NULL, next[700];
	static const char *const kinds[] = { "alloc", "db" };

	seed_events(f->app.store);
	put_keyed(f->app.store, 3, "team-a");
	fam_request(&cv_family_events, &f->app, "GET", "/v1/events", "limit=2",
	    NULL, 0, NULL, &resp);
	assert_true(next_link(&resp, &p, &q));
	cv_response_free(&resp);
	snprintf(next, sizeof next, "%s?%s", p, q);
	const struct {
		const struct cv_family *fam;
		const char *uri;
	} reqs[] = {
		{ &cv_family_events, next },
		{ &cv_family_queue, "/v1/repos?limit=1" },
		{ &cv_family_agents, "/v1/agent/policy?limit=1" },
		{ &cv_family_intents, "/v1/intents?limit=1" },
		{ &cv_family_intents, "/v1/summary" },
		{ &cv_family_dashboard, "/v1/health/entropy/trend" },
	};
	for (size_t i = 0; i < CV_ARRAY_LEN(reqs); i++)
		for (size_t k = 0; k < CV_ARRAY_LEN(kinds); k++)
			for (int n = 1; n < 5000; n++) {
				char spec[32];
				bool clean = false, fired;
				int status;

				cv_view_reset();
				snprintf(spec, sizeof spec, "%s:%d", kinds[k], n);
				assert_int_equal(cv_fault_arm(spec), 0);
				status = faulty_get(f, reqs[i].fam, reqs[i].uri,
				    &clean);
				fired = cv_fault_fired();
				cv_fault_arm(NULL);
				if (!fired) {
					assert_int_equal(status, 200);
					break;
				}
				if (status != 200 && !(status >= 400 && clean))
					fail_msg("%s %s: %d", reqs[i].uri, spec,
					    status);
			}
	free(p);
	free(q);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_lists, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_summary_etag, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_keyed_lists, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_intents, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trends, setup, teardown),
#if CV_FAULT_ENABLED
		cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
#endif
		cmocka_unit_test_setup_teardown(test_keyed_refused, setup,
		    teardown),
	};
	const char *dsn = getenv("CONVERGE_TEST_PG_DSN");
	int failed = cmocka_run_group_tests_name("sqlite", tests, NULL, NULL);

	if (dsn && *dsn) {
		if (pgtest_schema(dsn, "cv_page_test", pg_dsn,
		    sizeof pg_dsn) != 0)
			return failed + 1;
		failed += cmocka_run_group_tests_name("postgres", tests, NULL,
		    NULL);
	}
	return failed;
}
