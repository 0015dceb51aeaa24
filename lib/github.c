/*
 * github.c - GitHub App client over libcurl (http-api.md 8).
 *
 * Every HTTP call goes breaker -> retry -> one attempt with a hard
 * timeout, so a slow or failing GitHub costs the worker at most
 * max_attempts * timeout and then nothing at all while the breaker is
 * open.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>
#include <jwt.h>

#include "clock.h"
#include "github.h"
#include "jsonx.h"
#include "log.h"
#include "num.h"

#define DEFAULT_API "https://api.github.com"
#define TOKEN_TTL 3500             /* 8.1: response expires_at ignored */
#define TOKEN_MARGIN 60
#define MAX_REPLY (4 * 1024 * 1024)
#define MAX_KEY (64 * 1024)

struct token {
	long long installation_id;
	char *token;
	int64_t expires;
	struct token *next;
};

struct cv_github {
	char *api;
	char *app_id;
	char *key_path;
	char *key_pem;
	long long default_installation;
	long timeout_ms;
	long connect_timeout_ms;
	int max_attempts;
	double base_delay;
	double max_delay;
	struct cv_github_hooks hooks;
	struct cv_breaker breaker;
	struct token *tokens;
	CURL *curl;
	char err[512];
};

/* One HTTP exchange as seen by the retry loop. */
struct reply {
	long status;
	char *body;
	size_t len;
	double retry_after;        /* seconds; < 0 when absent */
};

static int curl_users;

/* ---- small helpers ------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

static int64_t wall_now(struct cv_github *gh)
{
	if (gh->hooks.wall)
		return gh->hooks.wall(gh->hooks.ctx);
	return (int64_t)time(NULL);
}

static double mono_now(struct cv_github *gh)
{
	if (gh->hooks.mono)
		return gh->hooks.mono(gh->hooks.ctx);
	return cv_monotonic();
}

static void pause_for(struct cv_github *gh, double secs)
{
	struct timespec t;

	if (secs <= 0)
		return;
	if (gh->hooks.sleep) {
		gh->hooks.sleep(gh->hooks.ctx, secs);
		return;
	}
	t.tv_sec = (time_t)secs;
	t.tv_nsec = (long)((secs - (double)t.tv_sec) * 1e9);
	while (nanosleep(&t, &t) == -1 && errno == EINTR)
		;
}

static enum cv_err fail(struct cv_github *gh, enum cv_err e,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static enum cv_err fail(struct cv_github *gh, enum cv_err e,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(gh->err, sizeof gh->err, fmt, ap);
	va_end(ap);
	return e;
}

/* A positive integer from "4242" or 4242; 0 when absent or not one. */
static long long parse_id(const char *s)
{
	char *end;
	long long v;

	if (!s || !*s)
		return 0;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v <= 0)
		return 0;
	return v;
}

/* owner/name with GitHub's name characters only, so that the text can go
 * into a URL path as it is. */
static bool repo_ok(const char *repo)
{
	const char *slash;

	if (!repo || !(slash = strchr(repo, '/')) || slash == repo ||
	    !slash[1] || strchr(slash + 1, '/'))
		return false;
	for (const char *p = repo; *p; p++)
		if (*p != '/' && !isalnum((unsigned char)*p) &&
		    !strchr("._-", *p))
			return false;
	return true;
}

static bool sha_ok(const char *sha)
{
	if (!sha || !*sha || strlen(sha) > 64)
		return false;
	for (const char *p = sha; *p; p++)
		if (!isalnum((unsigned char)*p))
			return false;
	return true;
}

/* Copies at most max UTF-8 characters of s into out (room for 4*max+1). */
static void utf8_prefix(char *out, const char *s, size_t max)
{
	size_t i = 0, chars = 0;

	while (s[i] && chars < max) {
		size_t n = 1;
		unsigned char c = (unsigned char)s[i];

		if (c >= 0xf0)
			n = 4;
		else if (c >= 0xe0)
			n = 3;
		else if (c >= 0xc0)
			n = 2;
		for (size_t k = 1; k < n; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				n = k;
		i += n;
		chars++;
	}
	memcpy(out, s, i);
	out[i] = '\0';
}

/* ---- client lifetime ----------------------------------------------------- */

struct cv_github *cv_github_new(const struct cv_github_options *o)
{
	struct cv_github *gh = calloc(1, sizeof *gh);
	const char *api = o->api_url && *o->api_url ? o->api_url : DEFAULT_API;

	if (!gh)
		return NULL;
	if (curl_users++ == 0)
		curl_global_init(CURL_GLOBAL_DEFAULT);
	gh->api = strdup(api);
	gh->app_id = dup_or_null(o->app_id);
	gh->key_path = dup_or_null(o->key_path);
	gh->key_pem = dup_or_null(o->key_pem);
	gh->curl = curl_easy_init();
	if (!gh->api || !gh->curl || (o->app_id && *o->app_id && !gh->app_id) ||
	    (o->key_path && *o->key_path && !gh->key_path) ||
	    (o->key_pem && *o->key_pem && !gh->key_pem)) {
		cv_github_free(gh);
		return NULL;
	}
	for (size_t n = strlen(gh->api); n > 0 && gh->api[n - 1] == '/'; n--)
		gh->api[n - 1] = '\0';
	gh->default_installation = parse_id(o->installation_id);
	gh->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 10000;
	gh->connect_timeout_ms = o->connect_timeout_ms > 0 ?
	    o->connect_timeout_ms :
	    (gh->timeout_ms < 5000 ? gh->timeout_ms : 5000);
	gh->max_attempts = o->max_attempts > 0 ? o->max_attempts : 3;
	gh->base_delay = o->base_delay > 0 ? o->base_delay : 0.5;
	gh->max_delay = o->max_delay > 0 ? o->max_delay : 30.0;
	gh->hooks = o->hooks;
	cv_breaker_init(&gh->breaker, "github");
	return gh;
}

struct cv_github *cv_github_client_from_config(const struct cv_config *c)
{
	struct cv_github_options o = {
		.api_url = c->github_api_url,
		.app_id = c->github_app_id,
		.key_path = c->github_key_path,
		.key_pem = c->github_key_pem,
		.installation_id = c->github_installation_id,
	};

	return cv_github_new(&o);
}

static void wipe_free(char *s)
{
	if (s) {
		memset(s, 0, strlen(s));
		free(s);
	}
}

void cv_github_free(struct cv_github *gh)
{
	struct token *t, *next;

	if (!gh)
		return;
	for (t = gh->tokens; t; t = next) {
		next = t->next;
		wipe_free(t->token);
		free(t);
	}
	if (gh->curl)
		curl_easy_cleanup(gh->curl);
	free(gh->api);
	free(gh->app_id);
	free(gh->key_path);
	wipe_free(gh->key_pem);
	free(gh);
	if (--curl_users == 0)
		curl_global_cleanup();
}

const char *cv_github_errmsg(const struct cv_github *gh)
{
	return gh->err;
}

struct cv_breaker *cv_github_breaker(struct cv_github *gh)
{
	return &gh->breaker;
}

/* ---- one HTTP attempt ---------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	size_t len = size * n;
	char *p;

	if (r->len + len > MAX_REPLY)
		return 0;
	if (!(p = realloc(r->body, r->len + len + 1)))
		return 0;
	memcpy(p + r->len, data, len);
	r->len += len;
	p[r->len] = '\0';
	r->body = p;
	return len;
}

/* Retry-After in its delta-seconds form; the HTTP-date form falls back to
 * our own back-off. */
static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	size_t len = size * n;
	static const char name[] = "retry-after:";
	char num[32];

	if (len > sizeof name - 1 && len < sizeof name + sizeof num - 2 &&
	    strncasecmp(data, name, sizeof name - 1) == 0) {
		size_t k = len - (sizeof name - 1);
		char *end;
		double v;

		memcpy(num, data + sizeof name - 1, k);
		num[k] = '\0';
		v = strtod(num, &end);
		while (*end && isspace((unsigned char)*end))
			end++;
		if (end != num && !*end && v >= 0)
			r->retry_after = v;
	}
	return len;
}

static enum cv_err http_once(struct cv_github *gh, const char *method,
    const char *url, const char *auth, const char *body, struct reply *r)
{
	struct curl_slist *h = NULL, *tmp;
	char authline[1024];
	CURL *c = gh->curl;
	CURLcode rc;
	enum cv_err e = CV_OK;

	snprintf(authline, sizeof authline, "Authorization: %s", auth);
	const char *lines[] = { authline, "Accept: application/vnd.github+json",
	    "User-Agent: " CV_GITHUB_USER_AGENT,
	    "X-GitHub-Api-Version: 2022-11-28",
	    "Content-Type: application/json", "Expect:" };
	for (size_t i = 0; i < CV_ARRAY_LEN(lines); i++) {
		if (!(tmp = curl_slist_append(h, lines[i]))) {
			curl_slist_free_all(h);
			return fail(gh, CV_ENOMEM, "out of memory");
		}
		h = tmp;
	}
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, gh->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, gh->connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	rc = curl_easy_perform(c);
	memset(authline, 0, sizeof authline);
	if (rc == CURLE_OPERATION_TIMEDOUT)
		e = fail(gh, CV_ETIMEOUT, "%s %s exceeded timeout of %gs",
		    method, url + strlen(gh->api), gh->timeout_ms / 1000.0);
	else if (rc != CURLE_OK)
		e = fail(gh, CV_ENET, "%s %s: %s", method,
		    url + strlen(gh->api), curl_easy_strerror(rc));
	else
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	/* The handle keeps pointers into h until the next reset. */
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(h);
	return e;
}

static void reply_clear(struct reply *r)
{
	free(r->body);
	memset(r, 0, sizeof *r);
	r->retry_after = -1;
}

/* ---- breaker + retry around http_once ------------------------------------ */

static bool retryable_status(long status)
{
	return status == 429 || status >= 500;
}

/* One attempt: CV_OK with a 2xx; *retry says whether another attempt
 * may help (network error, timeout, 5xx, 429). */
static enum cv_err attempt(struct cv_github *gh, const char *method,
    const char *url, const char *auth, const char *body, struct reply *r,
    bool *retry)
{
	enum cv_err e = http_once(gh, method, url, auth, body, r);

	*retry = e == CV_ENET || e == CV_ETIMEOUT;
	if (e != CV_OK)
		return e;
	if (r->status >= 200 && r->status < 300)
		return CV_OK;
	*retry = retryable_status(r->status);
	return fail(gh, r->status == 401 ? CV_EAUTH : CV_ENET,
	    "%s %s: HTTP %ld", method, url + strlen(gh->api), r->status);
}

/* The guarded, retried call. path starts with '/'; body_json may be NULL.
 * *resp (may be NULL) = decoded 2xx body ({} when empty). *status = the
 * last HTTP status (0 without one). */
static enum cv_err http_call(struct cv_github *gh, const char *method,
    const char *path, const char *auth, const json_t *body_json,
    json_t **resp, long *status)
{
	struct reply r = { 0, NULL, 0, -1 };
	double delay = gh->base_delay;
	char *url = NULL, *body = NULL;
	enum cv_err e;
	bool retry = false;

	*status = 0;
	if (!cv_breaker_allow(&gh->breaker, mono_now(gh))) {
		cv_breaker_open_message(&gh->breaker, gh->err, sizeof gh->err);
		return CV_ESTATE;
	}
	if (asprintf(&url, "%s%s", gh->api, path) < 0)
		return fail(gh, CV_ENOMEM, "out of memory");
	if (body_json && !(body = cv_json_dump(body_json))) {
		free(url);
		return fail(gh, CV_ENOMEM, "out of memory");
	}
	for (int n = 1;; n++) {
		reply_clear(&r);
		e = attempt(gh, method, url, auth, body, &r, &retry);
		*status = r.status;
		if (e == CV_OK || !retry || n >= gh->max_attempts)
			break;
		double wait = delay;
		if (r.retry_after >= 0)
			wait = r.retry_after < gh->max_delay ?
			    r.retry_after : gh->max_delay;
		pause_for(gh, wait);
		delay = delay * 2 < gh->max_delay ? delay * 2 : gh->max_delay;
	}
	/* Only an unhealthy GitHub (no answer, 5xx, 429) trips the breaker:
	 * a 4xx is a healthy service refusing this one request. */
	if (e == CV_OK)
		cv_breaker_record_success(&gh->breaker);
	else if (retry)
		cv_breaker_record_failure(&gh->breaker, mono_now(gh));
	if (e == CV_OK && resp) {
		*resp = r.len ? cv_json_loadb(r.body, r.len, 0, NULL) :
		    json_object();
		if (!*resp)
			e = fail(gh, CV_EJSON, "%s %s: reply is not JSON",
			    method, path);
	}
	if (e == CV_OK)
		gh->err[0] = '\0';
	reply_clear(&r);
	free(url);
	free(body);
	return e;
}

/* ---- App JWT and installation tokens (8.1) ------------------------------- */

static char *read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;

	if (!fp)
		return NULL;
	buf = malloc(MAX_KEY + 1);
	*len = buf ? fread(buf, 1, MAX_KEY, fp) : 0;
	fclose(fp);
	if (buf)
		buf[*len] = '\0';
	return buf;
}

/* The PEM, read afresh each time so that a rotated key file is used
 * without a restart. */
static enum cv_err load_key(struct cv_github *gh, char **pem, size_t *len)
{
	struct stat st;

	if (gh->key_path && stat(gh->key_path, &st) == 0) {
		if (!(*pem = read_file(gh->key_path, len)))
			return fail(gh, CV_EAUTH,
			    "GitHub App private key unreadable: %s",
			    gh->key_path);
		return CV_OK;
	}
	if (gh->key_pem) {
		if (!(*pem = strdup(gh->key_pem)))
			return fail(gh, CV_ENOMEM, "out of memory");
		*len = strlen(*pem);
		return CV_OK;
	}
	return fail(gh, CV_EAUTH, "GitHub App private key not configured");
}

enum cv_err cv_github_app_jwt_new(struct cv_github *gh, char **out)
{
	int64_t now = wall_now(gh);
	jwt_t *jwt = NULL;
	char *pem = NULL;
	size_t len = 0;
	enum cv_err e;

	*out = NULL;
	if (!gh->app_id)
		return fail(gh, CV_EAUTH, "GitHub App ID not configured");
	if ((e = load_key(gh, &pem, &len)) != CV_OK)
		return e;
	/* exp = now + 540, not 600: GitHub refuses exp over 10 minutes
	 * ahead of its own clock, so leave a minute for skew (8.1). */
	if (jwt_new(&jwt) != 0 ||
	    jwt_add_grant_int(jwt, "iat", (long)(now - 60)) != 0 ||
	    jwt_add_grant_int(jwt, "exp", (long)(now + 540)) != 0 ||
	    jwt_add_grant(jwt, "iss", gh->app_id) != 0)
		e = fail(gh, CV_ENOMEM, "out of memory");
	else if (jwt_set_alg(jwt, JWT_ALG_RS256, (unsigned char *)pem,
	    (int)len) != 0 || !(*out = jwt_encode_str(jwt)))
		e = fail(gh, CV_EAUTH,
		    "GitHub App private key is not a usable RSA key");
	jwt_free(jwt);
	memset(pem, 0, len);
	free(pem);
	return e;
}

static struct token *token_find(struct cv_github *gh, long long id)
{
	for (struct token *t = gh->tokens; t; t = t->next)
		if (t->installation_id == id)
			return t;
	return NULL;
}

void cv_github_token_forget(struct cv_github *gh, long long installation_id)
{
	for (struct token **pp = &gh->tokens; *pp; pp = &(*pp)->next) {
		struct token *t = *pp;

		if (t->installation_id == installation_id) {
			*pp = t->next;
			wipe_free(t->token);
			free(t);
			return;
		}
	}
}

static enum cv_err token_exchange(struct cv_github *gh, long long id,
    char **out)
{
	char path[96], *jwt = NULL, *auth = NULL;
	json_t *resp = NULL;
	long status;
	enum cv_err e;

	if ((e = cv_github_app_jwt_new(gh, &jwt)) != CV_OK)
		return e;
	snprintf(path, sizeof path, "/app/installations/%lld/access_tokens",
	    id);
	if (asprintf(&auth, "Bearer %s", jwt) < 0)
		auth = NULL;
	wipe_free(jwt);
	if (!auth)
		return fail(gh, CV_ENOMEM, "out of memory");
	e = http_call(gh, "POST", path, auth, NULL, &resp, &status);
	wipe_free(auth);
	if (e != CV_OK)
		return e;
	const char *tok = cv_json_str(resp, "token", "");
	if (!*tok)
		e = fail(gh, CV_EAUTH, "POST %s: no token in reply", path);
	else if (!(*out = strdup(tok)))
		e = fail(gh, CV_ENOMEM, "out of memory");
	json_decref(resp);
	return e;
}

enum cv_err cv_github_installation_token(struct cv_github *gh,
    long long installation_id, char **out)
{
	int64_t now = wall_now(gh);
	struct token *t;
	char *fresh = NULL;
	enum cv_err e;

	*out = NULL;
	if (installation_id <= 0)
		return fail(gh, CV_EINVAL, "GitHub installation id missing");
	t = token_find(gh, installation_id);
	if (t && t->expires > now + TOKEN_MARGIN) {
		*out = strdup(t->token);
		return *out ? CV_OK : fail(gh, CV_ENOMEM, "out of memory");
	}
	if ((e = token_exchange(gh, installation_id, &fresh)) != CV_OK)
		return e;
	if (!t) {
		if (!(t = calloc(1, sizeof *t))) {
			wipe_free(fresh);
			return fail(gh, CV_ENOMEM, "out of memory");
		}
		t->installation_id = installation_id;
		t->next = gh->tokens;
		gh->tokens = t;
	}
	wipe_free(t->token);
	t->token = fresh;
	t->expires = now + TOKEN_TTL;
	*out = strdup(fresh);
	return *out ? CV_OK : fail(gh, CV_ENOMEM, "out of memory");
}

/* ---- the repository calls (8.2) ------------------------------------------ */

/* A repos call with the installation token; a 401 drops the cached token
 * so that the next call exchanges a new one. */
static enum cv_err repo_call(struct cv_github *gh, long long inst,
    const char *method, const char *path, const json_t *body, json_t **resp)
{
	char *tok = NULL, *auth = NULL;
	json_t *r = NULL;
	long status;
	enum cv_err e;

	if (resp)
		*resp = NULL;
	if (inst <= 0)
		inst = gh->default_installation;
	if ((e = cv_github_installation_token(gh, inst, &tok)) != CV_OK)
		return e;
	if (asprintf(&auth, "token %s", tok) < 0)
		auth = NULL;
	wipe_free(tok);
	if (!auth)
		return fail(gh, CV_ENOMEM, "out of memory");
	e = http_call(gh, method, path, auth, body, &r, &status);
	wipe_free(auth);
	if (status == 401)
		cv_github_token_forget(gh, inst);
	if (resp && e == CV_OK)
		*resp = r;
	else
		json_decref(r);
	return e;
}

static json_t *output_new(const char *summary)
{
	json_t *o = json_object();

	json_object_set_new(o, "title", json_string(CV_GITHUB_CHECK_NAME));
	json_object_set_new(o, "summary", json_string(summary));
	return o;
}

static void set_opt(json_t *o, const char *key, const char *v)
{
	if (v && *v)
		json_object_set_new(o, key, json_string(v));
}

json_t *cv_github_check_run_body_new(const char *head_sha,
    const char *status, const char *conclusion, const char *summary,
    const char *details_url)
{
	json_t *b = json_object();

	json_object_set_new(b, "name", json_string(CV_GITHUB_CHECK_NAME));
	json_object_set_new(b, "head_sha", json_string(head_sha ? head_sha : ""));
	json_object_set_new(b, "status", json_string(status ? status : ""));
	set_opt(b, "conclusion", conclusion);
	if (summary && *summary)
		json_object_set_new(b, "output", output_new(summary));
	set_opt(b, "details_url", details_url);
	return b;
}

json_t *cv_github_status_body_new(const char *state,
    const char *description, const char *target_url)
{
	char desc[CV_GITHUB_DESC_MAX * 4 + 1];
	json_t *b = json_object();

	json_object_set_new(b, "state", json_string(state ? state : ""));
	json_object_set_new(b, "context", json_string(CV_GITHUB_STATUS_CONTEXT));
	if (description && *description) {
		utf8_prefix(desc, description, CV_GITHUB_DESC_MAX);
		json_object_set_new(b, "description", json_string(desc));
	}
	set_opt(b, "target_url", target_url);
	return b;
}

enum cv_err cv_github_check_run_create(struct cv_github *gh,
    long long installation_id, const char *repo, const char *head_sha,
    const char *status, const char *conclusion, const char *summary,
    const char *details_url, json_t **resp)
{
	char path[256];
	json_t *body;
	enum cv_err e;

	if (!repo_ok(repo) || !sha_ok(head_sha))
		return fail(gh, CV_EINVAL, "bad repository or head sha");
	snprintf(path, sizeof path, "/repos/%s/check-runs", repo);
	body = cv_github_check_run_body_new(head_sha, status, conclusion,
	    summary, details_url);
	e = repo_call(gh, installation_id, "POST", path, body, resp);
	json_decref(body);
	return e;
}

enum cv_err cv_github_check_run_update(struct cv_github *gh,
    long long installation_id, const char *repo, long long check_run_id,
    const char *status, const char *conclusion, const char *summary,
    json_t **resp)
{
	char path[256];
	json_t *body;
	enum cv_err e;

	if (!repo_ok(repo) || check_run_id <= 0)
		return fail(gh, CV_EINVAL, "bad repository or check run id");
	snprintf(path, sizeof path, "/repos/%s/check-runs/%lld", repo,
	    check_run_id);
	body = json_object();
	set_opt(body, "status", status);
	set_opt(body, "conclusion", conclusion);
	if (summary && *summary)
		json_object_set_new(body, "output", output_new(summary));
	e = repo_call(gh, installation_id, "PATCH", path, body, resp);
	json_decref(body);
	return e;
}

enum cv_err cv_github_status_create(struct cv_github *gh,
    long long installation_id, const char *repo, const char *sha,
    const char *state, const char *description, const char *target_url,
    json_t **resp)
{
	char path[256];
	json_t *body;
	enum cv_err e;

	if (!repo_ok(repo) || !sha_ok(sha))
		return fail(gh, CV_EINVAL, "bad repository or sha");
	snprintf(path, sizeof path, "/repos/%s/statuses/%s", repo, sha);
	body = cv_github_status_body_new(state, description, target_url);
	e = repo_call(gh, installation_id, "POST", path, body, resp);
	json_decref(body);
	return e;
}

/* ---- decision publication (8.3) ------------------------------------------ */

/* The score as the reference prints it: integers as integers, reals in
 * their shortest round-trip form. */
static void score_text(char *buf, size_t size, const json_t *score)
{
	if (json_is_integer(score))
		snprintf(buf, size, "%lld", (long long)json_integer_value(score));
	else
		cv_num(buf, size, json_is_number(score) ?
		    json_number_value(score) : 0.0);
}

void cv_github_publication_map(const char *decision, const json_t *risk_score,
    const char *reason, struct cv_github_publication *p)
{
	double score = json_is_number(risk_score) ?
	    json_number_value(risk_score) : 0.0;
	char num[64];

	decision = decision ? decision : "";
	if (strcmp(decision, "validated") == 0) {
		*p = (struct cv_github_publication){ "completed", "success",
		    "success", "" };
		cv_fmt(num, sizeof num, score, 1);
		snprintf(p->description, sizeof p->description,
		    "Validated (risk=%s)", num);
	} else if (strcmp(decision, "blocked") == 0 ||
	    strcmp(decision, "rejected") == 0) {
		*p = (struct cv_github_publication){ "completed", "failure",
		    "failure", "" };
		if (reason && *reason) {
			utf8_prefix(p->description, reason, CV_GITHUB_DESC_MAX);
		} else {
			score_text(num, sizeof num, risk_score);
			snprintf(p->description, sizeof p->description,
			    "Blocked (risk=%s)", num);
		}
	} else if (strcmp(decision, "merged") == 0) {
		/* DEVIATION D9: the reference leaves merged in progress. */
		*p = (struct cv_github_publication){ "completed", "success",
		    "success", "Merged" };
	} else {
		*p = (struct cv_github_publication){ "in_progress", NULL,
		    "pending", "Processing..." };
	}
}

char *cv_github_summary_new(const char *intent_id, const char *decision,
    double risk_score, const char *trace_id, const char *reason)
{
	char num[64], *s = NULL;
	bool trace = trace_id && *trace_id, why = reason && *reason;

	cv_fmt(num, sizeof num, risk_score, 1);
	if (asprintf(&s, "**Intent:** `%s`\n**Decision:** %s\n"
	    "**Risk score:** %s%s%s%s%s%s",
	    intent_id ? intent_id : "", decision ? decision : "", num,
	    trace ? "\n**Trace:** `" : "", trace ? trace_id : "",
	    trace ? "`" : "", why ? "\n**Reason:** " : "",
	    why ? reason : "") < 0)
		return NULL;
	return s;
}

/* installation_id of a request: integer, numeric string, or absent. */
static long long request_installation(const json_t *req)
{
	const json_t *v = json_object_get(req, "installation_id");

	if (json_is_integer(v))
		return json_integer_value(v) > 0 ? json_integer_value(v) : 0;
	if (json_is_string(v))
		return parse_id(json_string_value(v));
	return 0;
}

enum cv_err cv_github_request_check(const json_t *request)
{
	if (!json_is_object(request) ||
	    !repo_ok(cv_json_str(request, "repo", NULL)) ||
	    !sha_ok(cv_json_str(request, "head_sha", NULL)) ||
	    !*cv_json_str(request, "decision", ""))
		return CV_EINVAL;
	return CV_OK;
}

static json_t *publish_failed(struct cv_github *gh, const char *decision,
    const char *intent_id)
{
	json_t *r = json_object();

	cv_log_fields(CV_WARNING, "converge.github",
	    json_pack("{s:s, s:s}", "intent_id", intent_id,
	    "decision", decision), "GitHub publication failed: %s", gh->err);
	json_object_set_new(r, "error", json_string("publish_failed"));
	json_object_set_new(r, "decision", json_string(decision));
	return r;
}

json_t *cv_github_publish_decision(struct cv_github *gh,
    const json_t *request)
{
	const char *decision = cv_json_str(request, "decision", "");
	const char *intent_id = cv_json_str(request, "intent_id", "");
	const char *repo = cv_json_str(request, "repo", "");
	const char *sha = cv_json_str(request, "head_sha", "");
	const char *reason = cv_json_str(request, "reason", "");
	const json_t *score = json_object_get(request, "risk_score");
	long long inst = request_installation(request);
	struct cv_github_publication p;
	json_t *run = NULL, *r;
	char *summary;
	enum cv_err e;

	if (cv_github_request_check(request) != CV_OK) {
		fail(gh, CV_EINVAL, "malformed publication request");
		return publish_failed(gh, decision, intent_id);
	}
	cv_github_publication_map(decision, score, reason, &p);
	summary = cv_github_summary_new(intent_id, decision,
	    json_is_number(score) ? json_number_value(score) : 0.0,
	    cv_json_str(request, "trace_id", ""), reason);
	if (!summary) {
		fail(gh, CV_ENOMEM, "out of memory");
		return publish_failed(gh, decision, intent_id);
	}
	e = cv_github_check_run_create(gh, inst, repo, sha, p.status,
	    p.conclusion, summary, NULL, &run);
	free(summary);
	if (e == CV_OK)
		e = cv_github_status_create(gh, inst, repo, sha, p.state,
		    p.description, NULL, NULL);
	if (e != CV_OK) {
		json_decref(run);
		return publish_failed(gh, decision, intent_id);
	}
	r = json_object();
	json_object_set(r, "check_run_id", json_object_get(run, "id") ?
	    json_object_get(run, "id") : json_null());
	json_object_set_new(r, "commit_status_state", json_string(p.state));
	json_object_set_new(r, "decision", json_string(decision));
	json_decref(run);
	return r;
}
