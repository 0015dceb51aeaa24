/*
 * test_route_tenants.c - tenant scoping generated from the router tables
 * (D-8): every route of every family is called by an admin key of
 * tenant team-b with the id of a team-a intent wherever a route could
 * take one (each path parameter, ?intent_id= and ?id=, and "intent_id"
 * and "id" in a JSON body). No route is listed by hand, so a route added
 * to a family's table is covered without editing this test.
 *
 * For every call: nothing about the victim is written (no event naming
 * it, no event of its tenant, its record unchanged), nothing of it is
 * shown (its source, semantic text and risk files never appear, and a
 * 2xx answer does not even name it), and a route whose path names an
 * intent answers 404 or 403. A control pass as the owner shows that the
 * generated requests do reach the intent.
 */
#include "famtest.h"

#include "auth.h"
#include "clock.h"
#include "intents.h"
#include "jsonx.h"
#include "uisession.h"

#include "families.h"

/* Authentication on, so that routes without a key role (the dashboard's
 * pages) identify the caller by its session cookie. */
static int setup(void **state)
{
	struct fam_fixture *f;
	char err[256];

	if (fam_setup(state) != 0)
		return -1;
	f = *state;
	f->app.cfg.auth_required = true;
	f->app.auth = cv_auth_new(&f->app.cfg, err, sizeof err);
	return f->app.auth ? 0 : -1;
}

static int teardown(void **state)
{
	struct fam_fixture *f = *state;

	cv_auth_free(f->app.auth);
	return fam_teardown(state);
}

/* "HTTP_COOKIE=cv_session=<token>" of a new dashboard session. */
static void session_cookie(struct cv_store *s, const char *principal,
    char *out, size_t size)
{
	char token[CV_UI_TOKEN_LEN], csrf[CV_UI_TOKEN_LEN];
	json_t *p = json_loads(principal, 0, NULL);

	assert_int_equal(cv_ui_session_open(s, p, cv_now_us(), token, csrf),
	    CV_OK);
	snprintf(out, size, "HTTP_COOKIE=cv_session=%s", token);
	json_decref(p);
}

/* One request as principal: a route with a role gets it as its
 * authenticated principal, any other route goes through the farm's own
 * dispatch with the principal's session cookie. */
static void request_as(const struct cv_family *fam, struct cv_app *app,
    const struct cv_route *r, const char *path, const char *body,
    const char *principal, const char *cookie, struct cv_response *resp)
{
	char m[32], uri[600], qs[] = "QUERY_STRING=intent_id=victim-1&id="
	    "victim-1", ct[] = "CONTENT_TYPE=application/json";
	char ck[128];
	char *env[] = { m, uri, qs, ct, ck, NULL };
	struct cv_request req;

	snprintf(m, sizeof m, "REQUEST_METHOD=%s", r->method);
	snprintf(uri, sizeof uri, "REQUEST_URI=%s", path);
	snprintf(ck, sizeof ck, "%s", cookie);
	cv_response_init(resp);
	assert_int_equal(cv_request_init(&req, env), CV_OK);
	if (body) {
		req.body = strdup(body);
		assert_non_null(req.body);
		req.body_len = strlen(body);
	}
	if (r->role)
		fam_call_as(fam, app, &req, resp, json_loads(principal, 0,
		    NULL));
	else
		cv_farm_dispatch(fam, app, &req, resp);
	cv_request_free(&req);
}

#define VICTIM "victim-1"
#define ATTACKER "{\"role\":\"admin\",\"actor\":\"mallory\"," \
	"\"tenant\":\"team-b\",\"scopes\":null,\"key_prefix\":null}"
#define OWNER "{\"role\":\"admin\",\"actor\":\"alice\"," \
	"\"tenant\":\"team-a\",\"scopes\":null,\"key_prefix\":null}"

/* What only the victim's records hold. */
static const char *const markers[] = { "secret-src-7f3a", "victim-secret-3b9",
    "victim-file-x.py" };

static void seed(struct cv_store *s)
{
	json_t *doc = json_pack("{s:s,s:s,s:s,s:{s:s},s:s,s:[s]}", "id", VICTIM,
	    "source", "secret-src-7f3a", "tenant_id", "team-a", "semantic",
	    "objective", "victim-secret-3b9", "status", "VALIDATED",
	    "dependencies", "own-1");
	const char *err = NULL;
	json_t *in = cv_intent_build(doc, false, NULL, &err);

	assert_non_null(in);
	assert_int_equal(cv_intent_upsert(s, in), CV_OK);
	json_decref(in);
	json_decref(doc);
	doc = json_pack("{s:s,s:s,s:s}", "id", "own-1", "source", "feature/b",
	    "tenant_id", "team-b");
	in = cv_intent_build(doc, false, NULL, &err);
	assert_int_equal(cv_intent_upsert(s, in), CV_OK);
	json_decref(in);
	json_decref(doc);
	assert_int_equal(cv_event_emit(s, "simulation.completed", VICTIM, NULL,
	    "team-a", NULL, json_pack("{s:b,s:[],s:[s],s:s,s:s}", "mergeable",
	    1, "conflicts", "files_changed", "victim-file-x.py", "source",
	    "secret-src-7f3a", "target", "main"), NULL), CV_OK);
	assert_int_equal(cv_event_emit(s, "risk.evaluated", VICTIM, NULL,
	    "team-a", NULL, json_pack("{s:f,s:f,s:[{s:s}],s:[]}", "risk_score",
	    42.0, "damage_score", 40.0, "impact_edges", "source",
	    "victim-file-x.py", "findings"), NULL), CV_OK);
}

/* The route's path with every parameter set to the victim's id. */
static void fill_path(const struct cv_route *r, char *out, size_t size)
{
	const char *p = r->pattern;
	size_t n = (size_t)snprintf(out, size, "%s",
	    (r->flags & CV_ROUTE_PREFIXED) ? "/v1" : "");

	while (*p && n + 1 < size) {
		if (*p == '{') {
			const char *end = strchr(p, '}');
			n += (size_t)snprintf(out + n, size - n, "%s", VICTIM);
			p = end ? end + 1 : p + strlen(p);
		} else {
			out[n++] = *p++;
			out[n] = '\0';
		}
	}
}

static long long count(struct cv_store *s, const char *column,
    const char *value)
{
	const char *names[] = { column };
	const char *values[] = { value };
	long long n = -1;

	assert_int_equal(cv_event_count(s, names, values, 1, &n, NULL), CV_OK);
	return n;
}

static json_t *victim(struct cv_store *s)
{
	json_t *in = NULL;

	assert_int_equal(cv_intent_get(s, VICTIM, &in), CV_OK);
	assert_non_null(in);
	return in;
}

/* True when body names the victim other than by echoing the caller's
 * own request body back (a stored policy keeps what was sent). */
static bool names_victim(const char *body)
{
	static const char echo[] = "\"intent_id\":\"" VICTIM "\",\"id\":\""
	    VICTIM "\"";
	char *copy = strdup(body), *p;

	assert_non_null(copy);
	while ((p = strstr(copy, echo)))
		memset(p, ' ', strlen(echo));
	p = strstr(copy, VICTIM);
	free(copy);
	return p != NULL;
}

static bool shows_marker(const char *body)
{
	for (size_t i = 0; i < CV_ARRAY_LEN(markers); i++)
		if (strstr(body, markers[i]))
			return true;
	return false;
}

static void call(struct fam_fixture *f, const struct cv_family *fam,
    const struct cv_route *r, const char *principal, const char *cookie,
    struct cv_response *resp, char *path, size_t size)
{
	static const char body[] = "{\"intent_id\":\"" VICTIM "\",\"id\":\""
	    VICTIM "\",\"agent_id\":\"bot-1\",\"action\":\"merge\","
	    "\"source\":\"feature/b\"}";
	bool has_body = strcmp(r->method, "GET") != 0 &&
	    strcmp(r->method, "HEAD") != 0 && strcmp(r->method, "DELETE") != 0;

	fill_path(r, path, size);
	request_as(fam, &f->app, r, path, has_body ? body : NULL, principal,
	    cookie, resp);
}

static void test_other_tenant_sees_and_writes_nothing(void **state)
{
	struct fam_fixture *f = *state;
	size_t routes = 0;
	char cookie[128];

	seed(f->app.store);
	session_cookie(f->app.store, ATTACKER, cookie, sizeof cookie);
	for (size_t k = 0; k < CV_ARRAY_LEN(families); k++)
		for (size_t i = 0; i < families[k]->nroutes; i++) {
			const struct cv_route *r = &families[k]->routes[i];
			struct cv_response resp;
			char path[512];
			long long by_id = count(f->app.store, "intent_id", VICTIM);
			long long by_t = count(f->app.store, "tenant_id", "team-a");
			json_t *before = victim(f->app.store), *after;

			call(f, families[k], r, ATTACKER, cookie, &resp,
			    path, sizeof path);
			const char *b = resp.body ? resp.body : "";
			print_message("%s %s -> %d\n", r->method, path,
			    resp.status);
			if (shows_marker(b) || (resp.status < 300 &&
			    names_victim(b)))
				fail_msg("%s %s (%s): team-b sees team-a's intent:"
				    " %d %.300s", r->method, path,
				    families[k]->name, resp.status, b);
			if (strstr(r->pattern, "{id}") && resp.status != 404 &&
			    resp.status != 403)
				fail_msg("%s %s: %d, want 404 or 403", r->method,
				    path, resp.status);
			if (count(f->app.store, "intent_id", VICTIM) != by_id ||
			    count(f->app.store, "tenant_id", "team-a") != by_t)
				fail_msg("%s %s: wrote an event about team-a's "
				    "intent", r->method, path);
			after = victim(f->app.store);
			if (!json_equal(before, after))
				fail_msg("%s %s: changed team-a's intent",
				    r->method, path);
			json_decref(before);
			json_decref(after);
			cv_response_free(&resp);
			routes++;
		}
	assert_true(routes >= 30);
}

/* The same requests as the owner: they do reach the intent, so the pass
 * above is not vacuous. */
static void test_owner_control(void **state)
{
	struct fam_fixture *f = *state;
	size_t reached = 0;
	char cookie[128];

	seed(f->app.store);
	session_cookie(f->app.store, OWNER, cookie, sizeof cookie);
	for (size_t k = 0; k < CV_ARRAY_LEN(families); k++)
		for (size_t i = 0; i < families[k]->nroutes; i++) {
			const struct cv_route *r = &families[k]->routes[i];
			struct cv_response resp;
			char path[512];

			if (strcmp(r->method, "GET") != 0)
				continue;
			call(f, families[k], r, OWNER, cookie, &resp, path,
			    sizeof path);
			if (resp.status == 200 && resp.body &&
			    shows_marker(resp.body))
				reached++;
			cv_response_free(&resp);
		}
	/* the intent, its events, its review, its change health, its page */
	assert_true(reached >= 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_other_tenant_sees_and_writes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_owner_control, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
