/*
 * test_fam_ui.c - the dashboard family without a web server: sign-in
 * (form token, wrong keys, the throttle on failures), the session cookie's
 * attributes, tenant scoping of the pages, sign-out with its form token,
 * and a session ending when its database key is revoked.
 */
#include "famtest.h"

#include "apikeys.h"
#include "auth.h"
#include "clock.h"
#include "intents.h"
#include "ratelimit.h"
#include "uisession.h"

extern const struct cv_family cv_family_ui;

#define KEYS "k-team-a:viewer:ann:team-a,k-admin:admin:root"

struct ui_resp {
	int status;
	char *body;
	char cookies[1024];    /* every Set-Cookie, joined by " | " */
	char location[256];
	char csp[512];
	char retry[16];
};

static struct cv_auth *auth_for_tests(void)
{
	struct cv_config c = { 0 };
	char err[256];

	c.auth_required = true;
	c.api_keys = (char *)KEYS;
	c.auth_mode = CV_AUTH_API_KEY;
	return cv_auth_new(&c, err, sizeof err);
}

/* One request with a cookie header, a client address and a form body. */
static void ui_call(struct cv_app *app, const char *method, const char *path,
    const char *cookie, const char *addr, bool https, const char *form,
    struct ui_resp *out)
{
	char m[32], uri[512], ck[600], ra[64], hs[16] = "HTTPS=on";
	char ct[] = "CONTENT_TYPE=application/x-www-form-urlencoded";
	char qs[] = "QUERY_STRING=";
	char *env[8] = { m, uri, qs, ct, ra, NULL, NULL, NULL };
	struct cv_request req;
	struct cv_response resp;
	int n = 5;

	snprintf(m, sizeof m, "REQUEST_METHOD=%s", method);
	snprintf(uri, sizeof uri, "REQUEST_URI=%s", path);
	snprintf(ra, sizeof ra, "REMOTE_ADDR=%s", addr);
	if (cookie) {
		snprintf(ck, sizeof ck, "HTTP_COOKIE=%s", cookie);
		env[n++] = ck;
	}
	if (https)
		env[n++] = hs;
	memset(out, 0, sizeof *out);
	cv_response_init(&resp);
	assert_int_equal(cv_request_init(&req, env), CV_OK);
	if (form) {
		req.body = strdup(form);
		req.body_len = strlen(form);
	}
	cv_farm_dispatch(&cv_family_ui, app, &req, &resp);
	out->status = resp.status;
	out->body = strndup(resp.body ? resp.body : "", resp.body_len);
	for (size_t i = 0; i < resp.nheaders; i++) {
		const char *name = resp.headers[i].name;
		const char *v = resp.headers[i].value;
		if (strcmp(name, "Set-Cookie") == 0) {
			strncat(out->cookies, v, sizeof out->cookies -
			    strlen(out->cookies) - 4);
			strcat(out->cookies, " | ");
		} else if (strcmp(name, "Location") == 0)
			snprintf(out->location, sizeof out->location, "%s", v);
		else if (strcmp(name, "Content-Security-Policy") == 0)
			snprintf(out->csp, sizeof out->csp, "%s", v);
		else if (strcmp(name, "Retry-After") == 0)
			snprintf(out->retry, sizeof out->retry, "%s", v);
	}
	cv_request_free(&req);
	cv_response_free(&resp);
}

/* The value of cookie name in a Set-Cookie list, copied into out. */
static const char *cookie_value(const char *cookies, const char *name,
    char *out, size_t size)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof pat, "%s=", name);
	out[0] = '\0';
	if ((p = strstr(cookies, pat))) {
		p += strlen(pat);
		snprintf(out, size, "%.*s", (int)strcspn(p, ";"), p);
	}
	return out;
}

/* The login form's token: its cookie and hidden field, as a browser has
 * them after GET /ui/login. */
static void login_token(struct cv_app *app, char *token, size_t size)
{
	struct ui_resp r;

	ui_call(app, "GET", "/ui/login", NULL, "10.0.0.1", false, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "name=\"api_key\""));
	assert_non_null(strstr(r.csp, "default-src 'none'"));
	cookie_value(r.cookies, "cv_login", token, size);
	assert_int_equal(strlen(token), 43);
	assert_non_null(strstr(r.body, token));
	free(r.body);
}

/* Signs in with key from addr; returns the session token ("" when none)
 * and the response. */
static void sign_in(struct cv_app *app, const char *key, const char *addr,
    bool https, char *session, size_t size, struct ui_resp *r)
{
	char token[64], cookie[128], form[256];

	login_token(app, token, sizeof token);
	snprintf(cookie, sizeof cookie, "cv_login=%s", token);
	snprintf(form, sizeof form, "api_key=%s&csrf=%s", key, token);
	ui_call(app, "POST", "/ui/login", cookie, addr, https, form, r);
	cookie_value(r->cookies, "cv_session", session, size);
}

static long long events_of(struct cv_store *s, const char *type)
{
	const char *names[] = { "event_type" };
	const char *values[] = { type };
	long long n = 0;

	assert_int_equal(cv_event_count(s, names, values, 1, &n, NULL), CV_OK);
	return n;
}

static void add_intent(struct cv_store *s, const char *id, const char *tenant)
{
	json_t *i = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i}", "id", id,
	    "source", "feature/x", "target", "main", "status", "READY",
	    "created_at", "2026-01-01T00:00:00.000000+00:00", "created_by",
	    "t", "risk_level", "low", "priority", 3);

	json_object_set_new(i, "tenant_id", json_string(tenant));
	json_object_set_new(i, "semantic", json_object());
	json_object_set_new(i, "technical", json_object());
	json_object_set_new(i, "checks_required", json_array());
	json_object_set_new(i, "dependencies", json_array());
	json_object_set_new(i, "retries", json_integer(0));
	assert_int_equal(cv_intent_upsert(s, i), CV_OK);
	json_decref(i);
}

static void test_sign_in_and_pages(void **state)
{
	struct fam_fixture *f = *state;
	struct ui_resp r;
	char session[64], cookie[128], form[128], csrf[64];
	const char *p;

	f->app.auth = auth_for_tests();
	add_intent(f->app.store, "a-1", "team-a");
	add_intent(f->app.store, "b-1", "team-b");

	/* no session: to the form */
	ui_call(&f->app, "GET", "/ui/", NULL, "10.0.0.1", false, NULL, &r);
	assert_int_equal(r.status, 303);
	assert_string_equal(r.location, "/ui/login");
	free(r.body);

	/* a form without its token opens nothing */
	ui_call(&f->app, "POST", "/ui/login", "cv_login=abc", "10.0.0.1",
	    false, "api_key=k-team-a&csrf=xyz", &r);
	assert_int_equal(r.status, 400);
	assert_null(strstr(r.cookies, "cv_session="));
	free(r.body);

	/* a wrong key: 401, access.denied, no session */
	long long denied = events_of(f->app.store, "access.denied");
	sign_in(&f->app, "nope", "10.0.0.1", false, session, sizeof session,
	    &r);
	assert_int_equal(r.status, 401);
	assert_string_equal(session, "");
	assert_int_equal(events_of(f->app.store, "access.denied"), denied + 1);
	free(r.body);

	/* the tenant key: a session cookie with the right attributes */
	sign_in(&f->app, "k-team-a", "10.0.0.2", false, session,
	    sizeof session, &r);
	assert_int_equal(r.status, 303);
	assert_string_equal(r.location, "/ui/");
	assert_int_equal(strlen(session), 43);
	p = strstr(r.cookies, "cv_session=");
	assert_non_null(strstr(p, "HttpOnly"));
	assert_non_null(strstr(p, "SameSite=Strict"));
	assert_null(strstr(r.cookies, "Secure"));
	free(r.body);

	/* tenant-scoped pages */
	snprintf(cookie, sizeof cookie, "other=1; cv_session=%s", session);

	/* the rate limiter counts a page against the signed-in principal,
	 * a made-up cookie against _anonymous */
	for (int fake = 0; fake < 2; fake++) {
		char ck[200], m[] = "REQUEST_METHOD=GET", u[] = "REQUEST_URI=/ui/";
		char *env[] = { m, u, ck, NULL };
		struct cv_request q;
		struct cv_rl_bucket bk = { 0 };
		snprintf(ck, sizeof ck, "HTTP_COOKIE=cv_session=%s", fake ?
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" : session);
		assert_int_equal(cv_request_init(&q, env), CV_OK);
		assert_int_equal(cv_ratelimit_bucket(f->app.auth, f->app.store,
		    &q, &bk), CV_OK);
		assert_string_equal(bk.key, fake ? "_anonymous" :
		    "p:t:team-a|a:ann");
		cv_rl_bucket_free(&bk);
		cv_request_free(&q);
	}
	ui_call(&f->app, "GET", "/ui/", cookie, "10.0.0.2", false, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "a-1"));
	assert_null(strstr(r.body, "b-1"));
	p = strstr(r.body, "name=\"csrf\" value=\"");
	assert_non_null(p);
	snprintf(csrf, sizeof csrf, "%.43s", p + strlen("name=\"csrf\" value=\""));
	free(r.body);
	ui_call(&f->app, "GET", "/ui/intents/b-1", cookie, "10.0.0.2", false,
	    NULL, &r);
	assert_int_equal(r.status, 404);
	free(r.body);
	ui_call(&f->app, "GET", "/ui/intents/a-1", cookie, "10.0.0.2", false,
	    NULL, &r);
	assert_int_equal(r.status, 200);
	free(r.body);
	for (size_t i = 0; i < 2; i++) {
		ui_call(&f->app, "GET", i ? "/ui/health" : "/ui/decisions",
		    cookie, "10.0.0.2", false, NULL, &r);
		assert_int_equal(r.status, 200);
		free(r.body);
	}

	/* sign-out needs the session's form token */
	ui_call(&f->app, "POST", "/ui/logout", cookie, "10.0.0.2", false,
	    "csrf=wrong", &r);
	assert_int_equal(r.status, 403);
	free(r.body);
	snprintf(form, sizeof form, "csrf=%s", csrf);
	ui_call(&f->app, "POST", "/ui/logout", cookie, "10.0.0.2", false,
	    form, &r);
	assert_int_equal(r.status, 303);
	assert_non_null(strstr(r.cookies, "cv_session=; "));
	free(r.body);
	ui_call(&f->app, "GET", "/ui/", cookie, "10.0.0.2", false, NULL, &r);
	assert_int_equal(r.status, 303);
	free(r.body);

	/* over https the cookie is Secure */
	sign_in(&f->app, "k-admin", "10.0.0.3", true, session, sizeof session,
	    &r);
	assert_int_equal(r.status, 303);
	assert_non_null(strstr(strstr(r.cookies, "cv_session="), "Secure"));
	free(r.body);
	cv_auth_free(f->app.auth);
	f->app.auth = NULL;
}

/* A queue longer than one list: the heading counts every active intent
 * of the tenant, though the lists stop at 500 and the page shows 300. */
static void test_long_queue_count(void **state)
{
	struct fam_fixture *f = *state;
	struct ui_resp r;
	char session[64], cookie[128], id[32];

	f->app.auth = auth_for_tests();
	for (int i = 0; i < 560; i++) {
		snprintf(id, sizeof id, "long-%03d", i);
		add_intent(f->app.store, id, "team-a");
	}
	add_intent(f->app.store, "other-1", "team-b");
	sign_in(&f->app, "k-team-a", "10.0.0.4", false, session,
	    sizeof session, &r);
	assert_int_equal(r.status, 303);
	free(r.body);
	snprintf(cookie, sizeof cookie, "cv_session=%s", session);
	ui_call(&f->app, "GET", "/ui/", cookie, "10.0.0.4", false, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "560 active intents"));
	assert_non_null(strstr(r.body, "Showing the first 300"));
	assert_non_null(strstr(r.body, "long-000"));
	assert_null(strstr(r.body, "other-1"));
	free(r.body);
	cv_auth_free(f->app.auth);
	f->app.auth = NULL;
}

static void test_throttle_and_revocation(void **state)
{
	struct fam_fixture *f = *state;
	struct cv_apikey_spec spec = { "viewer", "dora", NULL, NULL, 0 };
	char id[CV_APIKEY_ID_LEN], key[CV_APIKEY_LEN], session[64],
	    cookie[128];
	struct ui_resp r;
	bool found;

	f->app.auth = auth_for_tests();
	/* five failures from one address, then 429 even for a good key */
	for (int i = 0; i < CV_UI_LOGIN_FAILURES; i++) {
		sign_in(&f->app, "bad", "10.9.9.9", false, session,
		    sizeof session, &r);
		assert_int_equal(r.status, 401);
		free(r.body);
	}
	sign_in(&f->app, "k-admin", "10.9.9.9", false, session, sizeof session,
	    &r);
	assert_int_equal(r.status, 429);
	assert_true(atoi(r.retry) >= 1);
	assert_string_equal(session, "");
	free(r.body);
	/* another address is not affected */
	sign_in(&f->app, "k-admin", "10.9.9.8", false, session, sizeof session,
	    &r);
	assert_int_equal(r.status, 303);
	free(r.body);

	/* a session ends when its database key is revoked */
	assert_int_equal(cv_apikey_create(f->app.store, &spec, cv_now_us(), id,
	    key), CV_OK);
	sign_in(&f->app, key, "10.9.9.7", false, session, sizeof session, &r);
	assert_int_equal(r.status, 303);
	free(r.body);
	snprintf(cookie, sizeof cookie, "cv_session=%s", session);
	ui_call(&f->app, "GET", "/ui/", cookie, "10.9.9.7", false, NULL, &r);
	assert_int_equal(r.status, 200);
	free(r.body);
	/* rotated: the session lasts as long as the grace period */
	char id2[CV_APIKEY_ID_LEN], key2[CV_APIKEY_LEN];
	assert_int_equal(cv_apikey_rotate(f->app.store, id, 600, cv_now_us(),
	    id2, key2, &found), CV_OK);
	assert_true(found);
	ui_call(&f->app, "GET", "/ui/", cookie, "10.9.9.7", false, NULL, &r);
	assert_int_equal(r.status, 200);
	free(r.body);
	/* revoked (which ends the grace period): the session ends */
	assert_int_equal(cv_apikey_revoke(f->app.store, id, cv_now_us(),
	    &found), CV_OK);
	assert_true(found);
	ui_call(&f->app, "GET", "/ui/", cookie, "10.9.9.7", false, NULL, &r);
	assert_int_equal(r.status, 303);
	free(r.body);

	/* a CONVERGE_API_KEYS key revoked in the table ends its sessions */
	sign_in(&f->app, "k-admin", "10.9.9.6", false, session, sizeof session,
	    &r);
	assert_int_equal(r.status, 303);
	free(r.body);
	snprintf(cookie, sizeof cookie, "cv_session=%s", session);
	char hex[CV_SHA256_HEX_LEN], eid[CV_APIKEY_ID_LEN];
	json_t *pr = json_pack("{s:s,s:s}", "role", "admin", "actor", "root");
	cv_sha256_hex("k-admin", 7, hex);
	cv_auth_key_id("k-admin", pr, eid);
	assert_int_equal(cv_apikey_revoke_digest(f->app.store, hex, eid, pr,
	    cv_now_us()), CV_OK);
	json_decref(pr);
	ui_call(&f->app, "GET", "/ui/", cookie, "10.9.9.6", false, NULL, &r);
	assert_int_equal(r.status, 303);
	free(r.body);
	cv_auth_free(f->app.auth);
	f->app.auth = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sign_in_and_pages,
		    fam_setup, fam_teardown),
		cmocka_unit_test_setup_teardown(test_long_queue_count,
		    fam_setup, fam_teardown),
		cmocka_unit_test_setup_teardown(test_throttle_and_revocation,
		    fam_setup, fam_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
