/*
 * ui.c - the dashboard family under /ui/ (decisions.md D-10): server-
 * rendered HTML pages over the same store as the API, usable without
 * JavaScript.
 *
 * Sign-in is a form posting an API key to /ui/login; the key is checked
 * like X-API-Key (database keys, CONVERGE_API_KEYS, the grace table) and
 * opens a session kept in the database (uisession.h). The session cookie
 * is HttpOnly and SameSite=Strict, Secure when the request came over
 * https; every POST form also carries a token (double-submit on the
 * login form, the session's token on logout). Pages are tenant-scoped
 * like the API: a principal with a tenant sees only that tenant.
 */
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "apikeys.h"
#include "auth.h"
#include "clock.h"
#include "eventlog.h"
#include "farm.h"
#include "intents.h"
#include "insight.h"
#include "jsonx.h"
#include "log.h"
#include "ui.h"
#include "uisession.h"

#define SESSION_COOKIE CV_UI_SESSION_COOKIE
#define LOGIN_COOKIE "cv_login"
#define QUEUE_ROWS_MAX 300

/* Event types that record a decision about an intent. */
static const char *const decision_types[] = { "intent.validated",
    "intent.blocked", "intent.merged", "intent.rejected",
    "intent.merge_failed", "intent.requeued" };

static const char *const active_statuses[] = { "READY", "VALIDATED",
    "QUEUED", "BLOCKED" };

/* ---- request helpers ----------------------------------------------------- */

/* The value of cookie name, copied into out ("" when absent). */
static const char *cookie(const struct cv_request *req, const char *name,
    char *out, size_t size)
{
	const char *h = cv_request_header(req, "Cookie");
	size_t n = strlen(name);

	out[0] = '\0';
	while (h && *h) {
		while (*h == ' ' || *h == ';')
			h++;
		if (strncmp(h, name, n) == 0 && h[n] == '=') {
			size_t len = strcspn(h + n + 1, ";");
			if (len < size) {
				memcpy(out, h + n + 1, len);
				out[len] = '\0';
			}
			return out;
		}
		h = strchr(h, ';');
	}
	return out;
}

static bool over_https(const struct cv_request *req)
{
	const char *https = cv_request_var(req, "HTTPS");
	const char *fwd = cv_request_header(req, "X-Forwarded-Proto");

	return (https && strcasecmp(https, "on") == 0) ||
	    (fwd && strcasecmp(fwd, "https") == 0);
}

static void set_cookie(struct cv_ctx *ctx, const char *name,
    const char *value, int max_age)
{
	char c[256];

	snprintf(c, sizeof c, "%s=%s; Path=/ui/; Max-Age=%d; HttpOnly; "
	    "SameSite=Strict%s", name, value, max_age,
	    over_https(ctx->req) ? "; Secure" : "");
	cv_response_header_add(ctx->resp, "Set-Cookie", c);
}

/* The value of form field name in the urlencoded body, or NULL. */
static char *form_field(const struct cv_request *req, const char *name)
{
	struct cv_query_param *p = NULL;
	size_t n = 0;
	char *out = NULL;

	if (!req->body || cv_query_parse(req->body, &p, &n) != CV_OK)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strcmp(p[i].name, name) == 0) {
			free(out);
			out = strdup(p[i].value);
		}
	cv_query_free(p, n);
	return out;
}

static bool tokens_equal(const char *a, const char *b)
{
	size_t n = strlen(a);

	return n > 0 && n == strlen(b) && CRYPTO_memcmp(a, b, n) == 0;
}

/* ---- responses ----------------------------------------------------------- */

static void send_html(struct cv_ctx *ctx, int status, struct cv_html *h)
{
	if (h->oom) {
		cv_html_free(h);
		cv_response_error(ctx->resp, 500, "Internal server error");
		return;
	}
	cv_response_header(ctx->resp, "Content-Security-Policy", cv_ui_csp());
	cv_response_header(ctx->resp, "Cache-Control", "no-store");
	cv_response_header(ctx->resp, "X-Frame-Options", "DENY");
	cv_response_header(ctx->resp, "Referrer-Policy", "same-origin");
	cv_response_text(ctx->resp, status, "text/html; charset=utf-8", h->buf,
	    h->len);
	cv_html_free(h);
}

static void redirect(struct cv_ctx *ctx, const char *location)
{
	cv_response_header(ctx->resp, "Location", location);
	cv_response_header(ctx->resp, "Cache-Control", "no-store");
	cv_response_text(ctx->resp, 303, "text/plain; charset=utf-8", "", 0);
}

static void store_down(struct cv_ctx *ctx)
{
	cv_response_error(ctx->resp, 503, "store unavailable");
}

/* ---- sessions -------------------------------------------------------------- */

struct session {
	json_t *principal;
	char csrf[CV_UI_TOKEN_LEN];
	char token[CV_UI_TOKEN_LEN];
};

/* The caller's session, or false after answering with the way to the
 * login form. With authentication off, everyone is the anonymous admin. */
static bool need_session(struct cv_ctx *ctx, struct session *ss)
{
	struct cv_store *s = cv_app_store(ctx->app);

	memset(ss, 0, sizeof *ss);
	if (!s) {
		store_down(ctx);
		return false;
	}
	if (!ctx->app->auth || !cv_auth_enabled(ctx->app->auth)) {
		ss->principal = json_pack("{s:s,s:s,s:n}", "role", "admin",
		    "actor", "anonymous", "tenant");
		return true;
	}
	cv_ui_session_cookie(ctx->req, ss->token);
	if (cv_ui_session_find(s, ss->token, cv_now_us(), &ss->principal,
	    ss->csrf) != CV_OK) {
		store_down(ctx);
		return false;
	}
	if (!ss->principal) {
		redirect(ctx, "/ui/login");
		return false;
	}
	return true;
}

static void session_done(struct session *ss)
{
	json_decref(ss->principal);
	OPENSSL_cleanse(ss->token, sizeof ss->token);
}

static const char *tenant_of(const struct session *ss)
{
	return cv_tenant_effective_read(ss->principal, NULL);
}

static void page_begin(struct cv_html *h, const struct session *ss,
    const char *title, const char *active, bool refresh)
{
	struct cv_ui_page p = { title, active, cv_json_str(ss->principal,
	    "actor", "?"), tenant_of(ss), ss->csrf, refresh };

	cv_ui_begin(h, &p);
}

/* ---- login and logout ----------------------------------------------------------- */

static void login_form(struct cv_ctx *ctx, int status, const char *error)
{
	struct cv_html h = { 0 };
	struct cv_ui_page p = { "Sign in", NULL, NULL, NULL, NULL, false };
	char token[CV_UI_TOKEN_LEN];

	if (cv_auth_new_key(token) != 0) {
		cv_response_error(ctx->resp, 500, "Internal server error");
		return;
	}
	set_cookie(ctx, LOGIN_COOKIE, token, 600);
	cv_ui_begin(&h, &p);
	cv_html_raw(&h, "<h1>Sign in</h1>");
	if (error) {
		cv_html_raw(&h, "<p class=\"err\" role=\"alert\">");
		cv_html_text(&h, error);
		cv_html_raw(&h, "</p>");
	}
	cv_html_raw(&h, "<form class=\"login box\" method=\"post\" "
	    "action=\"/ui/login\"><input type=\"hidden\" name=\"csrf\" "
	    "value=\"");
	cv_html_text(&h, token);
	cv_html_raw(&h, "\"><label for=\"api_key\">API key</label>"
	    "<input type=\"password\" id=\"api_key\" name=\"api_key\" "
	    "autocomplete=\"current-password\" required autofocus>"
	    "<input type=\"submit\" value=\"Sign in\"></form>"
	    "<p class=\"muted\">The first start of the farm leaves an admin "
	    "key in <code>var/admin.key</code>; <code>converge keys create"
	    "</code> makes more.</p>");
	cv_ui_end(&h);
	send_html(ctx, status, &h);
}

static void login_page(struct cv_ctx *ctx)
{
	struct session ss = { 0 };
	char token[CV_UI_TOKEN_LEN];
	struct cv_store *s = cv_app_store(ctx->app);

	/* Signed in already: straight to the queue. */
	cv_ui_session_cookie(ctx->req, token);
	if (s && token[0] && cv_ui_session_find(s, token, cv_now_us(),
	    &ss.principal, ss.csrf) == CV_OK && ss.principal) {
		json_decref(ss.principal);
		redirect(ctx, "/ui/");
		return;
	}
	login_form(ctx, 200, NULL);
}

/* access.granted / access.denied of a login, naming the key by id. */
static void login_event(struct cv_store *s, const char *type,
    const json_t *principal, const char *key, const char *reason)
{
	char id[CV_APIKEY_ID_LEN] = "", hex[CV_SHA256_HEX_LEN];
	json_t *payload;

	if (principal)
		cv_auth_key_id(key, principal, id);
	else if (key && *key) {
		cv_sha256_hex(key, strlen(key), hex);
		cv_apikey_id_of(s, hex, id);
	}
	payload = json_pack("{s:s,s:s,s:s,s:s,s:s}", "method", "POST", "path",
	    "/ui/login", "actor", cv_json_str(principal, "actor", ""), "role",
	    cv_json_str(principal, "role", ""), "reason", reason);
	if (payload && id[0])
		json_object_set_new(payload, "key_id", json_string(id));
	if (cv_event_emit(s, type, NULL, NULL, cv_json_str(principal,
	    "tenant", NULL), NULL, payload, NULL) != CV_OK)
		cv_log(CV_WARNING, "converge.auth", "could not record %s", type);
}

/* The session keeps the key's id (never the key), so that it ends when
 * that key is revoked, also a CONVERGE_API_KEYS key rotated over HTTP. */
static void name_the_key(json_t *principal, const char *key)
{
	char id[CV_APIKEY_ID_LEN];

	cv_auth_key_id(key, principal, id);
	if (id[0] && !json_object_get(principal, "key_id"))
		json_object_set_new(principal, "key_id", json_string(id));
}

static void login(struct cv_ctx *ctx)
{
	struct cv_store *s = cv_app_store(ctx->app);
	const char *client = cv_request_var(ctx->req, "REMOTE_ADDR");
	char want[CV_UI_TOKEN_LEN], token[CV_UI_TOKEN_LEN],
	    csrf[CV_UI_TOKEN_LEN];
	char *key = form_field(ctx->req, "api_key");
	char *given = form_field(ctx->req, "csrf");
	int64_t now = cv_now_us();
	json_t *p = NULL;
	int retry = 0;

	cookie(ctx->req, LOGIN_COOKIE, want, sizeof want);
	if (!s) {
		store_down(ctx);
	} else if (!given || !tokens_equal(given, want)) {
		login_form(ctx, 400, "The sign-in form expired; please try "
		    "again.");
	} else if (!cv_ui_login_allowed(s, client, now / 1000, &retry)) {
		char ra[16];
		snprintf(ra, sizeof ra, "%d", retry);
		cv_response_header(ctx->resp, "Retry-After", ra);
		login_event(s, "access.denied", NULL, NULL, "rate_limited");
		login_form(ctx, 429, "Too many failed sign-ins; wait a minute "
		    "and try again.");
	} else if (!key || !*key || cv_auth_lookup_key(ctx->app->auth, s, key,
	    true, now, &p) != CV_OK || !p) {
		cv_ui_login_failed(s, client, now / 1000);
		login_event(s, "access.denied", NULL, key, key && *key ?
		    "invalid_key" : "no_api_key");
		cv_log(CV_INFO, "converge.auth", "dashboard sign-in refused");
		login_form(ctx, 401, "That key was not accepted.");
	} else if (name_the_key(p, key), cv_ui_session_open(s, p, now, token,
	    csrf) != CV_OK) {
		cv_response_error(ctx->resp, 500, "Internal server error");
	} else {
		login_event(s, "access.granted", p, key, "");
		set_cookie(ctx, SESSION_COOKIE, token, CV_UI_SESSION_SECONDS);
		set_cookie(ctx, LOGIN_COOKIE, "", 0);
		redirect(ctx, "/ui/");
	}
	json_decref(p);
	if (key)
		OPENSSL_cleanse(key, strlen(key));
	free(key);
	free(given);
	OPENSSL_cleanse(token, sizeof token);
}

static void logout(struct cv_ctx *ctx)
{
	struct session ss;
	char *given;

	if (!need_session(ctx, &ss))
		return;
	given = form_field(ctx->req, "csrf");
	if (ss.token[0] && (!given || !tokens_equal(given, ss.csrf))) {
		cv_response_error(ctx->resp, 403, "Forbidden: bad form token");
	} else {
		cv_ui_session_close(cv_app_store(ctx->app), ss.token);
		set_cookie(ctx, SESSION_COOKIE, "", 0);
		redirect(ctx, "/ui/login");
	}
	free(given);
	session_done(&ss);
}

static void to_queue(struct cv_ctx *ctx)
{
	redirect(ctx, "/ui/");
}

/* ---- shared bits of the pages ------------------------------------------------- */

static bool is_decision(const char *type)
{
	for (size_t i = 0; i < CV_ARRAY_LEN(decision_types); i++)
		if (strcmp(type, decision_types[i]) == 0)
			return true;
	return false;
}

/* The repository an intent belongs to: technical.repo, else the part of
 * an "owner/repo:pr-1" id before the colon, else this repository. */
static void repo_of(const json_t *intent, char *out, size_t size)
{
	const char *r = cv_json_str(cv_json_obj(intent, "technical"), "repo",
	    NULL);
	const char *id = cv_json_str(intent, "id", "");
	const char *colon = strchr(id, ':');

	if (r && *r)
		snprintf(out, size, "%s", r);
	else if (colon && memchr(id, '/', (size_t)(colon - id)))
		snprintf(out, size, "%.*s", (int)(colon - id), id);
	else
		snprintf(out, size, "(this repository)");
}

static void status_badge(struct cv_html *h, const char *status)
{
	cv_html_raw(h, "<span class=\"st st-");
	for (const char *p = status; *p; p++)   /* class from a closed set */
		if ((*p >= 'A' && *p <= 'Z') || *p == '_')
			cv_html_fmt(h, "%c", *p);
	cv_html_raw(h, "\">");
	cv_html_text(h, status);
	cv_html_raw(h, "</span>");
}

static void intent_link(struct cv_html *h, const char *id)
{
	char *enc = NULL;
	size_t n = strlen(id), o = 0;

	/* The id goes into the path percent-encoded, then HTML-escaped. */
	if ((enc = malloc(n * 3 + 1))) {
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)id[i];
			if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			    (c >= '0' && c <= '9') || strchr("-_.~", c))
				enc[o++] = (char)c;
			else
				o += (size_t)sprintf(enc + o, "%%%02X", c);
		}
		enc[o] = '\0';
	}
	cv_html_raw(h, "<a href=\"/ui/intents/");
	cv_html_text(h, enc ? enc : "");
	cv_html_raw(h, "\">");
	cv_html_text(h, id);
	cv_html_raw(h, "</a>");
	free(enc);
}

static void age(struct cv_html *h, const char *ts, int64_t now)
{
	int64_t us;
	char d[32];

	if (!ts || cv_ts_parse(ts, &us) != 0) {
		cv_html_raw(h, "—");
		return;
	}
	cv_ui_duration((long long)((now - us) / 1000000), d, sizeof d);
	cv_html_text(h, d);
}

/* A payload as indented JSON text, cut at 4000 characters. */
static void json_pre(struct cv_html *h, const json_t *v)
{
	char *text = json_dumps(v, JSON_INDENT(1) | JSON_ENCODE_ANY |
	    JSON_SORT_KEYS);

	cv_html_raw(h, "<pre>");
	if (text && strlen(text) > 4000)
		memcpy(text + 3990, " …", sizeof " …");  /* within the 4000 */
	cv_html_text(h, text ? text : "");
	cv_html_raw(h, "</pre>");
	free(text);
}

/* ---- /ui/: the queue ------------------------------------------------------------ */

struct row {
	json_t *intent;      /* borrowed from the list */
	char repo[256];
};

static int row_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	int c = strcmp(x->repo, y->repo);

	if (!c)
		c = strcmp(cv_json_str(x->intent, "target", ""),
		    cv_json_str(y->intent, "target", ""));
	if (!c)
		c = (int)(cv_json_int(x->intent, "priority", 3) -
		    cv_json_int(y->intent, "priority", 3));
	if (!c)
		c = strcmp(cv_json_str(x->intent, "created_at", ""),
		    cv_json_str(y->intent, "created_at", ""));
	if (!c)
		c = strcmp(cv_json_str(x->intent, "id", ""),
		    cv_json_str(y->intent, "id", ""));
	return c;
}

/* The newest decision and the newest risk score of an intent. */
static void queue_cells(struct cv_html *h, struct cv_store *s,
    const json_t *intent)
{
	struct cv_event_filter f = { .intent_id = cv_json_str(intent, "id", ""),
	    .limit = 50 };
	json_t *evs = cv_event_query(s, &f), *ev, *decision = NULL, *risk = NULL;
	size_t i;

	json_array_foreach(evs, i, ev) {
		const char *type = cv_json_str(ev, "event_type", "");
		if (!decision && is_decision(type))
			decision = ev;
		if (!risk && strcmp(type, "risk.evaluated") == 0)
			risk = ev;
	}
	cv_html_raw(h, "<td>");
	cv_html_text(h, cv_json_str(intent, "risk_level", ""));
	if (risk)
		cv_html_fmt(h, " <span class=\"muted\">(%.1f)</span>",
		    cv_json_num(cv_json_obj(risk, "payload"), "risk_score", 0));
	cv_html_raw(h, "</td><td class=\"hide-s\">");
	age(h, cv_json_str(intent, "created_at", NULL), cv_now_us());
	cv_html_raw(h, "</td><td>");
	if (decision) {
		const json_t *pl = cv_json_obj(decision, "payload");
		cv_html_text(h, cv_json_str(decision, "event_type", ""));
		cv_html_raw(h, " <span class=\"muted\">");
		age(h, cv_json_str(decision, "timestamp", NULL), cv_now_us());
		cv_html_raw(h, " ago</span>");
		if (cv_json_str(pl, "reason", NULL)) {
			cv_html_raw(h, "<br><span class=\"muted\">");
			cv_html_text(h, cv_json_str(pl, "reason", ""));
			cv_html_raw(h, "</span>");
		}
	} else {
		cv_html_raw(h, "<span class=\"muted\">none yet</span>");
	}
	cv_html_raw(h, "</td>");
	json_decref(evs);
}

static void queue_table_head(struct cv_html *h, const struct row *r)
{
	cv_html_raw(h, "<h2>");
	cv_html_text(h, r->repo);
	cv_html_raw(h, " → ");
	cv_html_text(h, cv_json_str(r->intent, "target", ""));
	cv_html_raw(h, "</h2><div class=\"box\"><table><thead><tr><th>#</th>"
	    "<th>Intent</th><th>Status</th><th>Risk</th><th class=\"hide-s\">"
	    "In queue</th><th>Last decision</th></tr></thead><tbody>");
}

static void queue_page(struct cv_ctx *ctx)
{
	struct cv_store *s;
	struct session ss;
	struct cv_html h = { 0 };
	json_t *all = json_array();
	struct row *rows = NULL;
	size_t n = 0, pos = 0;
	long long active = 0;

	if (!need_session(ctx, &ss)) {
		json_decref(all);
		return;
	}
	s = cv_app_store(ctx->app);
	for (size_t i = 0; i < CV_ARRAY_LEN(active_statuses); i++) {
		json_t *l = cv_intent_list(s, active_statuses[i], tenant_of(&ss),
		    500);
		long long count = 0;

		/* The lists stop at 500 each; the heading counts them all. */
		if (cv_intent_count(s, active_statuses[i], tenant_of(&ss),
		    &count) == CV_OK)
			active += count;
		json_array_extend(all, l);
		json_decref(l);
	}
	n = json_array_size(all);
	rows = calloc(n ? n : 1, sizeof *rows);
	for (size_t i = 0; rows && i < n; i++) {
		rows[i].intent = json_array_get(all, i);
		repo_of(rows[i].intent, rows[i].repo, sizeof rows[i].repo);
	}
	if (rows)
		qsort(rows, n, sizeof *rows, row_cmp);
	page_begin(&h, &ss, "Queue", "queue", true);
	if (active < (long long)n)
		active = (long long)n;   /* a count that failed */
	cv_html_fmt(&h, "<h1>Queue</h1><p class=\"muted\">%lld active intent%s "
	    "(READY, VALIDATED, QUEUED, BLOCKED), in the order the queue takes "
	    "them. The page refreshes every 30 s.</p>", active,
	    active == 1 ? "" : "s");
	/* One event query per row: a page shows the head of a long queue. */
	if (active > QUEUE_ROWS_MAX)
		cv_html_fmt(&h, "<p class=\"muted\">Showing the first %d; "
		    "<code>GET /v1/queue/state</code> lists the rest.</p>",
		    QUEUE_ROWS_MAX);
	for (size_t i = 0; rows && i < n && i < QUEUE_ROWS_MAX; i++) {
		if (i == 0 || strcmp(rows[i].repo, rows[i - 1].repo) != 0 ||
		    strcmp(cv_json_str(rows[i].intent, "target", ""),
		    cv_json_str(rows[i - 1].intent, "target", "")) != 0) {
			if (i)
				cv_html_raw(&h, "</tbody></table></div>");
			queue_table_head(&h, &rows[i]);
			pos = 0;
		}
		cv_html_fmt(&h, "<tr><td>%zu</td><td>", ++pos);
		intent_link(&h, cv_json_str(rows[i].intent, "id", ""));
		cv_html_raw(&h, "<br><span class=\"muted\">");
		cv_html_text(&h, cv_json_str(rows[i].intent, "source", ""));
		cv_html_raw(&h, "</span></td><td>");
		status_badge(&h, cv_json_str(rows[i].intent, "status", ""));
		cv_html_raw(&h, "</td>");
		queue_cells(&h, s, rows[i].intent);
		cv_html_raw(&h, "</tr>");
	}
	if (n)
		cv_html_raw(&h, "</tbody></table></div>");
	else
		cv_html_raw(&h, "<div class=\"box\">Nothing is waiting. Create "
		    "an intent with <code>POST /v1/intents</code> or <code>"
		    "converge intent create</code>.</div>");
	cv_ui_end(&h);
	send_html(ctx, 200, &h);
	free(rows);
	json_decref(all);
	session_done(&ss);
}

/* ---- /ui/intents/{id} ------------------------------------------------------------- */

static void simulation_section(struct cv_html *h, const json_t *ev)
{
	const json_t *pl = cv_json_obj(ev, "payload");
	json_t *v;
	size_t i;

	cv_html_raw(h, "<h2>Simulation</h2><div class=\"box\">");
	if (!ev) {
		cv_html_raw(h, "<span class=\"muted\">not simulated yet</span>"
		    "</div>");
		return;
	}
	cv_html_raw(h, json_is_true(json_object_get(pl, "mergeable")) ?
	    "<p>Merges cleanly" : "<p><b>Conflicts</b>");
	cv_html_raw(h, " <span class=\"muted\">(");
	cv_html_text(h, cv_json_str(ev, "timestamp", ""));
	cv_html_raw(h, ")</span></p>");
	json_array_foreach(json_object_get(pl, "conflicts"), i, v) {
		cv_html_raw(h, i ? ", " : "<p>Conflicts: ");
		cv_html_text(h, json_string_value(v));
	}
	cv_html_raw(h, "<p>Files changed: ");
	json_array_foreach(json_object_get(pl, "files_changed"), i, v) {
		cv_html_raw(h, i ? ", <code>" : "<code>");
		cv_html_text(h, json_string_value(v));
		cv_html_raw(h, "</code>");
	}
	if (!json_array_size(json_object_get(pl, "files_changed")))
		cv_html_raw(h, "<span class=\"muted\">none</span>");
	cv_html_raw(h, "</p></div>");
}

static void checks_section(struct cv_html *h, const json_t *evs)
{
	json_t *ev;
	size_t i, n = 0;

	cv_html_raw(h, "<h2>Checks</h2><div class=\"box\">");
	json_array_foreach(evs, i, ev) {
		const json_t *pl = cv_json_obj(ev, "payload");
		if (strcmp(cv_json_str(ev, "event_type", ""),
		    "check.completed") != 0)
			continue;
		n++;
		cv_html_raw(h, "<p><b>");
		cv_html_text(h, cv_json_str(pl, "check_type", "?"));
		cv_html_raw(h, json_is_true(json_object_get(pl, "passed")) ?
		    "</b> passed" : "</b> <b>failed</b>");
		cv_html_raw(h, " <span class=\"muted\">");
		cv_html_text(h, cv_json_str(ev, "timestamp", ""));
		cv_html_raw(h, "</span></p>");
		json_pre(h, json_object_get(pl, "details"));
	}
	if (!n)
		cv_html_raw(h, "<span class=\"muted\">no check has run</span>");
	cv_html_raw(h, "</div>");
}

static void risk_section(struct cv_html *h, const json_t *ev)
{
	const json_t *pl = cv_json_obj(ev, "payload");
	static const char *const scores[] = { "risk_score", "damage_score",
	    "entropy_score", "propagation_score", "containment_score" };
	const char *k;
	json_t *v;
	size_t i;

	cv_html_raw(h, "<h2>Risk</h2><div class=\"box\">");
	if (!ev) {
		cv_html_raw(h, "<span class=\"muted\">not evaluated yet</span>"
		    "</div>");
		return;
	}
	cv_html_raw(h, "<table><tbody>");
	for (i = 0; i < CV_ARRAY_LEN(scores); i++)
		if (json_is_number(json_object_get(pl, scores[i])))
			cv_html_fmt(h, "<tr><th>%s</th><td>%.2f</td></tr>",
			    scores[i], json_number_value(json_object_get(pl,
			    scores[i])));
	json_object_foreach(cv_json_obj(pl, "signals"), k, v) {
		cv_html_raw(h, "<tr><th>signal ");
		cv_html_text(h, k);
		cv_html_fmt(h, "</th><td>%.2f</td></tr>", json_number_value(v));
	}
	cv_html_raw(h, "</tbody></table>");
	json_array_foreach(json_object_get(pl, "findings"), i, v) {
		cv_html_raw(h, i ? "<li>" : "<ul><li>");
		cv_html_text(h, cv_json_str(v, "severity", ""));
		cv_html_raw(h, ": ");
		cv_html_text(h, cv_json_str(v, "message", ""));
		cv_html_raw(h, " <code>");
		cv_html_text(h, cv_json_str(v, "code", ""));
		cv_html_raw(h, "</code></li>");
	}
	if (json_array_size(json_object_get(pl, "findings")))
		cv_html_raw(h, "</ul>");
	cv_html_raw(h, "</div>");
}

static const json_t *newest(const json_t *evs, const char *type)
{
	json_t *ev;
	size_t i;

	json_array_foreach(evs, i, ev)
		if (strcmp(cv_json_str(ev, "event_type", ""), type) == 0)
			return ev;
	return NULL;
}

static void field_row(struct cv_html *h, const char *name, const char *v)
{
	cv_html_raw(h, "<tr><th>");
	cv_html_text(h, name);
	cv_html_raw(h, "</th><td>");
	cv_html_text(h, v);
	cv_html_raw(h, "</td></tr>");
}

static void intent_page(struct cv_ctx *ctx)
{
	const char *id = cv_ctx_param(ctx, 0);
	const char *tenant;
	struct cv_store *s;
	struct session ss;
	struct cv_html h = { 0 };
	json_t *intent = NULL, *evs, *ev;
	size_t i;
	char prio[32];

	if (!need_session(ctx, &ss))
		return;
	s = cv_app_store(ctx->app);
	tenant = tenant_of(&ss);
	if (cv_intent_get(s, id, &intent) != CV_OK) {
		store_down(ctx);
		session_done(&ss);
		return;
	}
	/* Another tenant's intent does not exist for this principal. */
	if (intent && tenant && strcmp(cv_json_str(intent, "tenant_id", ""),
	    tenant) != 0) {
		json_decref(intent);
		intent = NULL;
	}
	page_begin(&h, &ss, intent ? id : "Intent not found", "queue", false);
	if (!intent) {
		cv_html_raw(&h, "<h1>Intent not found</h1><p><a href=\"/ui/\">"
		    "Back to the queue</a></p>");
		cv_ui_end(&h);
		send_html(ctx, 404, &h);
		session_done(&ss);
		return;
	}
	/* Events by (intent, tenant), as the API reads them (D-8). */
	struct cv_event_filter f = { .intent_id = id, .tenant_id =
	    cv_json_str(intent, "tenant_id", NULL), .limit = 500 };
	evs = cv_event_query(s, &f);
	cv_html_raw(&h, "<h1>");
	cv_html_text(&h, id);
	cv_html_raw(&h, " ");
	status_badge(&h, cv_json_str(intent, "status", ""));
	cv_html_raw(&h, "</h1><div class=\"box\"><table><tbody>");
	field_row(&h, "source", cv_json_str(intent, "source", ""));
	field_row(&h, "target", cv_json_str(intent, "target", ""));
	field_row(&h, "risk level", cv_json_str(intent, "risk_level", ""));
	snprintf(prio, sizeof prio, "%lld", cv_json_int(intent, "priority", 3));
	field_row(&h, "priority", prio);
	field_row(&h, "created by", cv_json_str(intent, "created_by", ""));
	field_row(&h, "created at", cv_json_str(intent, "created_at", ""));
	field_row(&h, "tenant", cv_json_str(intent, "tenant_id", "—"));
	cv_html_raw(&h, "</tbody></table>");
	if (json_object_size(cv_json_obj(intent, "semantic"))) {
		cv_html_raw(&h, "<p class=\"muted\">semantic</p>");
		json_pre(&h, cv_json_obj(intent, "semantic"));
	}
	cv_html_raw(&h, "</div>");
	simulation_section(&h, newest(evs, "simulation.completed"));
	checks_section(&h, evs);
	risk_section(&h, newest(evs, "risk.evaluated"));
	cv_html_fmt(&h, "<h2>Events</h2><div class=\"box\"><ol class=\"tl\">");
	json_array_foreach(evs, i, ev) {
		cv_html_raw(&h, "<li><b>");
		cv_html_text(&h, cv_json_str(ev, "event_type", ""));
		cv_html_raw(&h, "</b> <span class=\"muted\">");
		cv_html_text(&h, cv_json_str(ev, "timestamp", ""));
		cv_html_raw(&h, "</span>");
		json_pre(&h, json_object_get(ev, "payload"));
		cv_html_raw(&h, "</li>");
	}
	if (!json_array_size(evs))
		cv_html_raw(&h, "<li class=\"muted\">no events</li>");
	cv_html_raw(&h, "</ol></div>");
	cv_ui_end(&h);
	send_html(ctx, 200, &h);
	json_decref(evs);
	json_decref(intent);
	session_done(&ss);
}

/* ---- /ui/decisions ----------------------------------------------------------------- */

static int newer_first(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;

	return strcmp(cv_json_str(y, "timestamp", ""),
	    cv_json_str(x, "timestamp", ""));
}

static void decisions_page(struct cv_ctx *ctx)
{
	struct cv_store *s;
	struct session ss;
	struct cv_html h = { 0 };
	json_t *all = json_array(), **v = NULL;
	size_t n;

	if (!need_session(ctx, &ss)) {
		json_decref(all);
		return;
	}
	s = cv_app_store(ctx->app);
	for (size_t i = 0; i < CV_ARRAY_LEN(decision_types); i++) {
		struct cv_event_filter f = { .event_type = decision_types[i],
		    .tenant_id = tenant_of(&ss), .limit = 100 };
		json_t *l = cv_event_query(s, &f);
		json_array_extend(all, l);
		json_decref(l);
	}
	n = json_array_size(all);
	if (n && (v = calloc(n, sizeof *v))) {
		for (size_t i = 0; i < n; i++)
			v[i] = json_array_get(all, i);
		qsort(v, n, sizeof *v, newer_first);
	}
	if (n > 100)
		n = 100;
	page_begin(&h, &ss, "Decisions", "decisions", true);
	cv_html_raw(&h, "<h1>Recent decisions</h1><div class=\"box\"><table>"
	    "<thead><tr><th>When</th><th>Intent</th><th>Decision</th>"
	    "<th>Why</th></tr></thead><tbody>");
	for (size_t i = 0; v && i < n; i++) {
		const json_t *pl = cv_json_obj(v[i], "payload");
		cv_html_raw(&h, "<tr><td>");
		age(&h, cv_json_str(v[i], "timestamp", NULL), cv_now_us());
		cv_html_raw(&h, " ago</td><td>");
		intent_link(&h, cv_json_str(v[i], "intent_id", ""));
		cv_html_raw(&h, "</td><td>");
		cv_html_text(&h, cv_json_str(v[i], "event_type", ""));
		cv_html_raw(&h, "</td><td>");
		cv_html_text(&h, cv_json_str(pl, "reason", cv_json_str(pl,
		    "merged_commit", "")));
		cv_html_raw(&h, "</td></tr>");
	}
	if (!n)
		cv_html_raw(&h, "<tr><td colspan=\"4\" class=\"muted\">No "
		    "decision yet.</td></tr>");
	cv_html_raw(&h, "</tbody></table></div>");
	cv_ui_end(&h);
	send_html(ctx, 200, &h);
	free(v);
	json_decref(all);
	session_done(&ss);
}

/* ---- /ui/health ---------------------------------------------------------------------- */

static void health_page(struct cv_ctx *ctx)
{
	struct cv_store *s;
	struct session ss;
	struct cv_html h = { 0 };
	json_t *trend = NULL, *snap;
	double *vals = NULL;
	size_t n, i;

	if (!need_session(ctx, &ss))
		return;
	s = cv_app_store(ctx->app);
	if (cv_insight_health_trend(s, tenant_of(&ss), 30, 0, &trend) != CV_OK)
		trend = json_array();
	n = json_array_size(trend);
	vals = calloc(n ? n : 1, sizeof *vals);
	/* The trend is newest first; the chart runs oldest to newest. */
	for (i = 0; vals && i < n; i++)
		vals[n - 1 - i] = cv_json_num(json_array_get(trend, i),
		    "repo_health_score", 0);
	page_begin(&h, &ss, "Health", "health", true);
	cv_html_fmt(&h, "<h1>Repository health, last 30 days</h1>"
	    "<div class=\"box\">");
	if (n && vals) {
		cv_ui_svg_trend(&h, vals, n, cv_json_str(json_array_get(trend,
		    n - 1), "timestamp", ""), cv_json_str(json_array_get(trend,
		    0), "timestamp", ""));
		cv_html_fmt(&h, "<p class=\"muted\">%zu snapshot%s; newest "
		    "score %.1f.</p>", n, n == 1 ? "" : "s", vals[n - 1]);
	} else {
		cv_ui_svg_trend(&h, NULL, 0, "", "");
		cv_html_raw(&h, "<p class=\"muted\">No health snapshot yet: "
		    "<code>GET /v1/health/repo/now</code> or <code>converge "
		    "health now</code> records one.</p>");
	}
	cv_html_raw(&h, "</div><h2>Newest snapshots</h2><div class=\"box\">"
	    "<table><thead><tr><th>When</th><th>Score</th><th>Status</th>"
	    "<th class=\"hide-s\">Mergeable</th><th class=\"hide-s\">Active"
	    "</th></tr></thead><tbody>");
	json_array_foreach(trend, i, snap) {
		if (i >= 10)
			break;
		cv_html_raw(&h, "<tr><td>");
		cv_html_text(&h, cv_json_str(snap, "timestamp", ""));
		cv_html_fmt(&h, "</td><td>%.1f</td><td>", cv_json_num(snap,
		    "repo_health_score", 0));
		cv_html_text(&h, cv_json_str(snap, "status", ""));
		cv_html_fmt(&h, "</td><td class=\"hide-s\">%.0f%%</td><td "
		    "class=\"hide-s\">%lld</td></tr>", 100 * cv_json_num(snap,
		    "mergeable_rate", 0), cv_json_int(snap, "active_intents", 0));
	}
	cv_html_raw(&h, "</tbody></table></div>");
	cv_ui_end(&h);
	send_html(ctx, 200, &h);
	free(vals);
	json_decref(trend);
	session_done(&ss);
}

/* No route here needs a key: each page checks the session itself. */
static const struct cv_route routes[] = {
	{ "GET", "/ui", to_queue, 0, NULL, NULL },
	{ "GET", "/ui/", queue_page, 0, NULL, NULL },
	{ "GET", "/ui/login", login_page, 0, NULL, NULL },
	{ "POST", "/ui/login", login, 0, NULL, NULL },
	{ "POST", "/ui/logout", logout, 0, NULL, NULL },
	{ "GET", "/ui/intents/{id}", intent_page, 0, NULL, NULL },
	{ "GET", "/ui/decisions", decisions_page, 0, NULL, NULL },
	{ "GET", "/ui/health", health_page, 0, NULL, NULL },
};

const struct cv_family cv_family_ui = {
	.name = "ui",
	.routes = routes,
	.nroutes = CV_ARRAY_LEN(routes),
	.default_processes = 2,
};

#ifndef CV_FAMILY_NO_MAIN
int main(int argc, char **argv)
{
	return cv_farm_main(&cv_family_ui, argc, argv);
}
#endif
