/*
 * ratelimit.c - the shared per-bucket limit (http-api.md 4, D-2).
 *
 * The spec describes a sliding log: keep the time of every accepted
 * request, drop those 60 s old or older, refuse when RPM remain. A log
 * costs a row per request and a range scan per check; D-2 asks for one
 * indexed upsert. So each bucket keeps a fixed-size row instead:
 *
 *   window_start  start of the current 60 s window; a bucket that has
 *                 been idle for 120 s or more (or is new) starts a fresh
 *                 window at the request itself, else windows follow each
 *                 other back to back;
 *   hits          requests accepted in the current window (exact);
 *   prev_hits     requests accepted in the window before;
 *   prev_last     time of the last of those;
 *   last_at       time of the last accepted request.
 *
 * A request at time t is accepted when
 *
 *   hits + (t - prev_last >= 60 s ? 0 : prev_hits * (1 - (t - window_start) / 60 s))  < RPM
 *
 * and then counted (a refused request changes nothing but the window
 * roll). Against the log this is:
 *   - exact while all traffic of a burst lies within one window, which
 *     is always so for a burst into a fresh bucket shorter than 60 s:
 *     RPM requests pass and request RPM+1 gets 429;
 *   - exact when the budget comes back: 60 s after the last accepted
 *     request of the previous window, the previous window counts zero
 *     and the full budget is there again, as with the log;
 *   - in between (traffic straddling a window boundary), the previous
 *     window's requests are assumed spread evenly over it; the error is
 *     bounded by prev_hits and vanishes 60 s after prev_last.
 *
 * The row is updated by a single INSERT ... ON CONFLICT DO UPDATE ...
 * RETURNING whose SET expressions read only the conflicting row and the
 * proposed row ("excluded", which carries now and RPM), so concurrent
 * requests on the same bucket serialize on the row in both SQLite and
 * PostgreSQL and none is lost. cv_ratelimit_step is the same rule in C.
 *
 * A request may take a block of tokens instead of one (leases, see
 * ratelimit.h): the grant is counted in `hits` at once, so the rule above
 * holds for the tokens granted, and the requests served from them are
 * never more.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "db.h"
#include "jsonx.h"
#include "ratelimit.h"
#include "uisession.h"

bool cv_ratelimit_exempt(const char *path)
{
	static const char *const prefixes[] = { "/health", "/metrics",
	    "/integrations/github" };

	for (size_t i = 0; path && i < CV_ARRAY_LEN(prefixes); i++)
		if (strncmp(path, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return false;
}

/* ---- the rule in C ------------------------------------------------------- */

static void roll(struct cv_rl_state *st, int64_t now)
{
	if (st->window_start == 0 && st->last_at == 0) {
		memset(st, 0, sizeof *st);
		st->window_start = now;
	} else if (now >= st->window_start + 2 * CV_RL_WINDOW_MS) {
		st->window_start = now;
		st->hits = st->prev_hits = st->prev_last = 0;
	} else if (now >= st->window_start + CV_RL_WINDOW_MS) {
		st->prev_hits = st->hits;
		st->prev_last = st->last_at;
		st->window_start += CV_RL_WINDOW_MS;
		st->hits = 0;
	}
}

/*
 * What is left of the budget, in token-milliseconds: RPM minus the
 * estimate, times 60 000, so that the rule is exact integer arithmetic
 * in C, SQLite and PostgreSQL alike. A request fits while it is > 0.
 */
static int64_t room(const struct cv_rl_state *st, int rpm, int64_t now)
{
	int64_t elapsed = now < st->window_start ? 0 : now - st->window_start;
	int64_t r = (int64_t)rpm * CV_RL_WINDOW_MS - st->hits * CV_RL_WINDOW_MS;

	if (now - st->prev_last < CV_RL_WINDOW_MS)
		r -= st->prev_hits * (CV_RL_WINDOW_MS - elapsed);
	return r;
}

/* Tokens granted out of room r to a lease asking for want: at most an
 * eighth of what is left (rounded up), so that blocks shrink as the
 * budget runs out and the last tokens go one at a time. */
static int grant_of(int64_t r, int want)
{
	int64_t n;

	if (r <= 0 || want <= 0)
		return 0;
	n = (r + 8 * CV_RL_WINDOW_MS - 1) / (8 * CV_RL_WINDOW_MS);
	return n < want ? (int)n : want;
}

int cv_ratelimit_grant(struct cv_rl_state *st, int rpm, int want,
    int64_t now_ms)
{
	int n;

	roll(st, now_ms);
	if ((n = grant_of(room(st, rpm, now_ms), want)) == 0)
		return 0;
	st->hits += n;
	st->last_at = now_ms;
	return n;
}

bool cv_ratelimit_step(struct cv_rl_state *st, int rpm, int64_t now_ms)
{
	return cv_ratelimit_grant(st, rpm, 1, now_ms) > 0;
}

int cv_ratelimit_block(int rpm)
{
	int b = rpm / 100;

	return b < 1 ? 1 : b > CV_RL_BLOCK_MAX ? CV_RL_BLOCK_MAX : b;
}

int cv_ratelimit_retry_after(const struct cv_rl_state *st, int rpm,
    int64_t now_ms)
{
	for (int s = 1; s <= 2 * CV_RL_WINDOW_MS / 1000; s++) {
		struct cv_rl_state probe = *st;
		if (cv_ratelimit_step(&probe, rpm, now_ms + s * 1000LL))
			return s;
	}
	return CV_RL_WINDOW_MS / 1000;
}

/* ---- the rule in SQL ----------------------------------------------------- */

#define NOW "excluded.last_at"
#define STALE "(" NOW " >= w.window_start + 120000)"
#define NEXT "(" NOW " >= w.window_start + 60000)"
#define E_WS "(CASE WHEN " STALE " THEN " NOW " WHEN " NEXT \
	" THEN w.window_start + 60000 ELSE w.window_start END)"
#define E_HITS "(CASE WHEN " NEXT " THEN 0 ELSE w.hits END)"
#define E_PREV "(CASE WHEN " STALE " THEN 0 WHEN " NEXT \
	" THEN w.hits ELSE w.prev_hits END)"
#define E_PLAST "(CASE WHEN " STALE " THEN 0 WHEN " NEXT \
	" THEN w.last_at ELSE w.prev_last END)"
#define E_ELAPSED "(CASE WHEN " NOW " < " E_WS " THEN 0 ELSE " NOW " - " \
	E_WS " END)"
/* room() of the C rule; the casts keep PostgreSQL in 64-bit arithmetic */
#define E_ROOM "(CAST(excluded.limit_rpm AS BIGINT) * 60000 - CAST(" \
	E_HITS " AS BIGINT) * 60000 - CASE WHEN " NOW " - " E_PLAST \
	" >= 60000 THEN 0 ELSE " E_PREV " * (60000 - " E_ELAPSED ") END)"
/* grant_of(): excluded.hits carries the block asked for (see below) */
#define E_STEP "((" E_ROOM " + 479999) / 480000)"
#define E_GRANT "(CASE WHEN " E_ROOM " <= 0 THEN 0 WHEN " E_STEP \
	" < excluded.hits THEN " E_STEP " ELSE excluded.hits END)"

/*
 * A new bucket is inserted with the grant computed in C (hits = allowed =
 * min(want, RPM/8 rounded up)). On a conflict excluded.hits is that same
 * number, and serves as the block asked for: when it is below want, the
 * fresh-bucket grant RPM/8 was the smaller one, and no later grant can
 * exceed it, so min(excluded.hits, step) = min(want, step).
 */
static const char upsert_sql[] =
	"INSERT INTO rate_limit_windows AS w (bucket, window_start, hits,"
	" prev_hits, prev_last, last_at, allowed, limit_rpm)"
	" VALUES (?, ?, ?, 0, 0, ?, ?, ?)"
	" ON CONFLICT (bucket) DO UPDATE SET"
	" window_start = " E_WS ","
	" hits = " E_HITS " + " E_GRANT ","
	" prev_hits = " E_PREV ","
	" prev_last = " E_PLAST ","
	" last_at = CASE WHEN " E_GRANT " > 0 THEN " NOW " ELSE w.last_at END,"
	" allowed = " E_GRANT ","
	" limit_rpm = excluded.limit_rpm"
	" RETURNING allowed, window_start, hits, prev_hits, prev_last,"
	" last_at";

static int64_t cell(const json_t *row, size_t i)
{
	return (int64_t)json_integer_value(json_array_get(row, i));
}

enum cv_err cv_ratelimit_take(struct cv_store *s, const char *bucket,
    int rpm, int want, int64_t now_ms, int *granted, int *retry_after,
    struct cv_rl_state *state)
{
	struct cv_rl_state fresh = { 0 };
	int first = rpm > 0 ? cv_ratelimit_grant(&fresh, rpm, want, now_ms) : 0;
	struct cv_param p[] = { CV_TEXT(bucket), CV_INT(now_ms), CV_INT(first),
	    CV_INT(now_ms), CV_INT(first), CV_INT(rpm) };
	json_t *rows = NULL, *row;
	struct cv_rl_state st;
	enum cv_err err;

	*granted = 1;
	*retry_after = 0;
	err = cv_db_query(s, upsert_sql, p, (int)CV_ARRAY_LEN(p), &rows);
	if (err != CV_OK)
		return err;
	row = json_array_get(rows, 0);
	if (!row) {
		json_decref(rows);
		return CV_ESTORE;
	}
	st.window_start = cell(row, 1);
	st.hits = cell(row, 2);
	st.prev_hits = cell(row, 3);
	st.prev_last = cell(row, 4);
	st.last_at = cell(row, 5);
	*granted = (int)cell(row, 0);
	json_decref(rows);
	if (*granted == 0)
		*retry_after = cv_ratelimit_retry_after(&st, rpm, now_ms);
	if (state)
		*state = st;
	return CV_OK;
}

enum cv_err cv_ratelimit_hit(struct cv_store *s, const char *bucket,
    int rpm, int64_t now_ms, bool *allowed, int *retry_after,
    struct cv_rl_state *state)
{
	int granted;
	enum cv_err err = cv_ratelimit_take(s, bucket, rpm, 1, now_ms,
	    &granted, retry_after, state);

	*allowed = granted > 0;
	return err;
}

/* ---- leases -------------------------------------------------------------- */

static struct cv_rl_lease *lease_slot(struct cv_rl_leases *l,
    const char *bucket)
{
	struct cv_rl_lease *victim = &l->slot[0];

	for (size_t i = 0; i < CV_RL_LEASE_SLOTS; i++) {
		struct cv_rl_lease *x = &l->slot[i];

		if (x->key && strcmp(x->key, bucket) == 0)
			return x;
		if (!victim->key)
			continue;
		if (!x->key || x->used < victim->used)
			victim = x;
	}
	/* Evicting a slot drops its unused tokens: never more than the
	 * limit, only fewer (see the bound in ratelimit.h). */
	free(victim->key);
	memset(victim, 0, sizeof *victim);
	victim->key = strdup(bucket);
	return victim->key ? victim : NULL;
}

static int seconds_until(int64_t at, int64_t now)
{
	int64_t s = (at - now + 999) / 1000;

	return s < 1 ? 1 : s > CV_RL_WINDOW_MS / 1000 ? CV_RL_WINDOW_MS / 1000 :
	    (int)s;
}

enum cv_err cv_ratelimit_admit(struct cv_rl_leases *l, struct cv_store *s,
    const char *bucket, int rpm, int64_t now_ms, bool *allowed,
    int *retry_after)
{
	struct cv_rl_lease *x = lease_slot(l, bucket);
	struct cv_rl_state st;
	int granted;
	enum cv_err err;

	*allowed = true;
	*retry_after = 0;
	if (x == NULL)
		return CV_ENOMEM;
	x->used = ++l->clock;
	if (x->rpm == rpm && x->tokens > 0 && now_ms >= x->from &&
	    now_ms < x->expires) {
		x->tokens--;
		return CV_OK;
	}
	if (x->rpm == rpm && now_ms >= x->from && now_ms < x->refused_until) {
		*allowed = false;
		*retry_after = seconds_until(x->fit_at, now_ms);
		return CV_OK;
	}
	x->tokens = 0;
	x->rpm = rpm;
	x->refused_until = 0;
	l->db_writes++;
	err = cv_ratelimit_take(s, bucket, rpm, cv_ratelimit_block(rpm),
	    now_ms, &granted, retry_after, &st);
	if (err != CV_OK)
		return err;
	x->from = now_ms;
	if (granted > 0) {
		/* the tokens were counted in this window: spend them in it */
		x->tokens = granted - 1;
		x->expires = st.window_start + CV_RL_WINDOW_MS;
		return CV_OK;
	}
	/* Nothing fits before Retry-After's previous whole second, whatever
	 * other processes do (their requests only use budget up). */
	*allowed = false;
	x->fit_at = now_ms + (int64_t)*retry_after * 1000;
	x->refused_until = x->fit_at - 1000;
	return CV_OK;
}

void cv_rl_leases_free(struct cv_rl_leases *l)
{
	for (size_t i = 0; i < CV_RL_LEASE_SLOTS; i++)
		free(l->slot[i].key);
	memset(l, 0, sizeof *l);
}

/* ---- buckets ------------------------------------------------------------- */

static char *cat(const char *a, const char *b, const char *c, const char *d)
{
	char *out = NULL;

	if (asprintf(&out, "%s%s%s%s", a, b, c ? c : "", d ? d : "") < 0)
		return NULL;
	return out;
}

static enum cv_err set_bucket(struct cv_rl_bucket *out, char *key_take,
    char *label_take)
{
	out->key = key_take;
	out->label = label_take;
	if (out->key && out->label)
		return CV_OK;
	cv_rl_bucket_free(out);
	return CV_ENOMEM;
}

static enum cv_err principal_bucket(const struct cv_auth *a,
    struct cv_store *s, const struct cv_request *req,
    struct cv_rl_bucket *out)
{
	json_t *p = NULL;
	const char *reason, *tenant;
	enum cv_err err;

	cv_auth_identify(a, s, req, cv_now_us(), &p, &reason);
	/* A dashboard page carries no key but its session's cookie: it
	 * counts against the principal that signed in, not _anonymous. */
	if (!p)
		p = cv_ui_session_principal(s, req, cv_now_us());
	if (!p)
		return set_bucket(out, strdup("_anonymous"),
		    strdup("_anonymous"));
	tenant = cv_json_str(p, "tenant", "");
	err = set_bucket(out, cat("p:t:", tenant, "|a:",
	    cv_json_str(p, "actor", "")), strdup(*tenant ? tenant :
	    "_anonymous"));
	json_decref(p);
	return err;
}

enum cv_err cv_ratelimit_bucket(const struct cv_auth *a, struct cv_store *s,
    const struct cv_request *req, struct cv_rl_bucket *out)
{
	const char *tenant = cv_request_header(req, "X-Tenant-Id");
	const char *key = cv_request_header(req, "X-API-Key");
	char prefix_hex[CV_SHA256_HEX_LEN], key_hex[CV_SHA256_HEX_LEN];

	out->key = out->label = NULL;
	if (cv_auth_enabled(a))
		return principal_bucket(a, s, req, out);
	if (tenant)
		return set_bucket(out, cat("h:", tenant, NULL, NULL),
		    strdup(tenant));
	if (key && *key) {
		/* the bucket is the 8-character prefix, as in 0.1.0, but only
		 * its digest is stored, and the label digests the whole key */
		cv_sha256_hex(key, strnlen(key, 8), prefix_hex);
		cv_sha256_hex(key, strlen(key), key_hex);
		key_hex[8] = '\0';
		return set_bucket(out, cat("k:", prefix_hex, NULL, NULL),
		    cat("key:", key_hex, NULL, NULL));
	}
	return set_bucket(out, strdup("_anonymous"), strdup("_anonymous"));
}

void cv_rl_bucket_free(struct cv_rl_bucket *b)
{
	free(b->key);
	free(b->label);
	b->key = b->label = NULL;
}

void cv_ratelimit_respond(struct cv_response *resp, int rpm, int retry_after)
{
	char msg[80], secs[24];

	snprintf(msg, sizeof msg, "Rate limit exceeded (%d requests/min)", rpm);
	cv_response_error(resp, 429, msg);
	snprintf(secs, sizeof secs, "%d", retry_after > 0 ? retry_after : 1);
	cv_response_header(resp, "Retry-After", secs);
}
