/* uisession.c - dashboard sessions and the login throttle (uisession.h). */
#include "uisession.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "clock.h"
#include "db.h"
#include "jsonx.h"
#include "ratelimit.h"

enum cv_err cv_ui_session_open(struct cv_store *s, const json_t *principal,
    int64_t now_us, char token[CV_UI_TOKEN_LEN], char csrf[CV_UI_TOKEN_LEN])
{
	char hex[CV_SHA256_HEX_LEN], now[CV_TS_LEN], until[CV_TS_LEN], *text;
	enum cv_err err;

	if (cv_auth_new_key(token) != 0 || cv_auth_new_key(csrf) != 0)
		return CV_ESTORE;
	cv_sha256_hex(token, strlen(token), hex);
	cv_ts_from_us(now, now_us);
	cv_ts_from_us(until, now_us + CV_UI_SESSION_SECONDS * 1000000LL);
	struct cv_param old[] = { CV_TEXT(now) };
	cv_db_exec(s, "DELETE FROM ui_sessions WHERE expires_at <= ?", old, 1,
	    NULL);
	if (!(text = cv_json_dump(principal)))
		return CV_ENOMEM;
	struct cv_param p[] = { CV_TEXT(hex), CV_TEXT(text), CV_TEXT(csrf),
	    CV_TEXT(now), CV_TEXT(until) };
	err = cv_db_exec(s, "INSERT INTO ui_sessions (id_sha256, principal,"
	    " csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)", p, 5,
	    NULL);
	free(text);
	return err;
}

/* False when the key the session was opened with has stopped working
 * since: revoked (and out of its rotation grace period) or expired. A key
 * with no row in api_keys (CONVERGE_API_KEYS, never rotated) stays. */
static bool key_still_valid(struct cv_store *s, const json_t *principal,
    const char *now)
{
	const char *id = cv_json_str(principal, "key_id", NULL);
	struct cv_param p[] = { CV_TEXT(id) };
	json_t *rows = NULL, *row;
	bool ok = true;

	if (!id)
		return true;
	if (cv_db_query(s, "SELECT revoked_at, expires_at, key_sha256 FROM"
	    " api_keys WHERE id = ?", p, 1, &rows) != CV_OK)
		return false;
	if ((row = json_array_get(rows, 0))) {
		const char *exp = json_string_value(json_array_get(row, 1));
		ok = !exp || strcmp(exp, now) > 0;
		if (ok && !json_is_null(json_array_get(row, 0))) {
			long long n = 0;
			struct cv_param g[] = { CV_TEXT(json_string_value(
			    json_array_get(row, 2))), CV_TEXT(now) };
			ok = cv_db_scalar_int(s, "SELECT COUNT(*) FROM"
			    " api_key_grace WHERE key_sha256 = ? AND"
			    " expires_at > ?", g, 2, &n) == CV_OK && n > 0;
		}
	}
	json_decref(rows);
	return ok;
}

enum cv_err cv_ui_session_find(struct cv_store *s, const char *token,
    int64_t now_us, json_t **principal, char csrf[CV_UI_TOKEN_LEN])
{
	char hex[CV_SHA256_HEX_LEN], now[CV_TS_LEN];
	json_t *rows = NULL, *row;
	enum cv_err err;

	*principal = NULL;
	csrf[0] = '\0';
	if (!token || strlen(token) != CV_UI_TOKEN_LEN - 1)
		return CV_OK;
	cv_sha256_hex(token, strlen(token), hex);
	cv_ts_from_us(now, now_us);
	struct cv_param p[] = { CV_TEXT(hex), CV_TEXT(now) };
	if ((err = cv_db_query(s, "SELECT principal, csrf FROM ui_sessions"
	    " WHERE id_sha256 = ? AND expires_at > ?", p, 2, &rows)) != CV_OK)
		return err;
	if ((row = json_array_get(rows, 0))) {
		json_t *pr = cv_db_json_cell(json_array_get(row, 0), 0);
		if (key_still_valid(s, pr, now)) {
			*principal = pr;
			snprintf(csrf, CV_UI_TOKEN_LEN, "%s", json_string_value(
			    json_array_get(row, 1)) ? json_string_value(
			    json_array_get(row, 1)) : "");
		} else {
			json_decref(pr);
		}
	}
	json_decref(rows);
	return CV_OK;
}

const char *cv_ui_session_cookie(const struct cv_request *req,
    char out[CV_UI_TOKEN_LEN])
{
	const char *h = cv_request_header(req, "Cookie");
	size_t n = strlen(CV_UI_SESSION_COOKIE);

	out[0] = '\0';
	while (h && *h) {
		while (*h == ' ' || *h == ';')
			h++;
		if (strncmp(h, CV_UI_SESSION_COOKIE, n) == 0 && h[n] == '=') {
			size_t len = strcspn(h + n + 1, ";");
			if (len < CV_UI_TOKEN_LEN) {
				memcpy(out, h + n + 1, len);
				out[len] = '\0';
			}
			return out;
		}
		h = strchr(h, ';');
	}
	return out;
}

json_t *cv_ui_session_principal(struct cv_store *s,
    const struct cv_request *req, int64_t now_us)
{
	char token[CV_UI_TOKEN_LEN], csrf[CV_UI_TOKEN_LEN];
	json_t *p = NULL;

	if (!s || !*cv_ui_session_cookie(req, token))
		return NULL;
	if (cv_ui_session_find(s, token, now_us, &p, csrf) != CV_OK)
		p = NULL;
	OPENSSL_cleanse(token, sizeof token);
	OPENSSL_cleanse(csrf, sizeof csrf);
	return p;
}

enum cv_err cv_ui_session_close(struct cv_store *s, const char *token)
{
	char hex[CV_SHA256_HEX_LEN];

	if (!token || !*token)
		return CV_OK;
	cv_sha256_hex(token, strlen(token), hex);
	struct cv_param p[] = { CV_TEXT(hex) };
	return cv_db_exec(s, "DELETE FROM ui_sessions WHERE id_sha256 = ?", p,
	    1, NULL);
}

static void bucket(const char *client, char *out, size_t n)
{
	snprintf(out, n, "ui-login:%s", client && *client ? client : "-");
}

bool cv_ui_login_allowed(struct cv_store *s, const char *client,
    int64_t now_ms, int *retry_after)
{
	char b[160];
	json_t *rows = NULL, *row;
	struct cv_rl_state st = { 0 };
	bool ok = true;

	*retry_after = 0;
	bucket(client, b, sizeof b);
	struct cv_param p[] = { CV_TEXT(b) };
	if (cv_db_query(s, "SELECT window_start, hits, prev_hits, prev_last,"
	    " last_at FROM rate_limit_windows WHERE bucket = ?", p, 1, &rows) !=
	    CV_OK)
		return true;
	if ((row = json_array_get(rows, 0))) {
		st.window_start = json_integer_value(json_array_get(row, 0));
		st.hits = json_integer_value(json_array_get(row, 1));
		st.prev_hits = json_integer_value(json_array_get(row, 2));
		st.prev_last = json_integer_value(json_array_get(row, 3));
		st.last_at = json_integer_value(json_array_get(row, 4));
		struct cv_rl_state probe = st;
		/* would one more failure still fit? */
		if (!(ok = cv_ratelimit_step(&probe, CV_UI_LOGIN_FAILURES,
		    now_ms)))
			*retry_after = cv_ratelimit_retry_after(&st,
			    CV_UI_LOGIN_FAILURES, now_ms);
	}
	json_decref(rows);
	return ok;
}

void cv_ui_login_failed(struct cv_store *s, const char *client,
    int64_t now_ms)
{
	char b[160];
	bool allowed;
	int retry;

	bucket(client, b, sizeof b);
	cv_ratelimit_hit(s, b, CV_UI_LOGIN_FAILURES, now_ms, &allowed, &retry,
	    NULL);
}
