/*
 * uisession.h - dashboard sessions (table ui_sessions) and the throttle
 * on failed dashboard logins.
 *
 * The cookie carries a random token; the table keeps only its SHA-256,
 * the principal the key resolved to at login, a CSRF token for the
 * session's forms, and the expiry. A session ends at its expiry, at
 * logout, or as soon as the key it was opened with stops working: revoked
 * (once out of a rotation's grace period) or expired.
 */
#ifndef CV_UISESSION_H
#define CV_UISESSION_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "cv.h"
#include "http.h"
#include "store.h"

#define CV_UI_TOKEN_LEN 44           /* 43 characters and the NUL */
#define CV_UI_SESSION_COOKIE "cv_session"
#define CV_UI_SESSION_SECONDS 28800  /* 8 hours */
#define CV_UI_LOGIN_FAILURES 5       /* per client and minute */

/* Opens a session for principal; writes the cookie token and the CSRF
 * token. Expired sessions are deleted on the way. */
enum cv_err cv_ui_session_open(struct cv_store *s, const json_t *principal,
    int64_t now_us, char token[CV_UI_TOKEN_LEN], char csrf[CV_UI_TOKEN_LEN]);

/* *principal = new reference and csrf filled when token names a live
 * session, else NULL. */
enum cv_err cv_ui_session_find(struct cv_store *s, const char *token,
    int64_t now_us, json_t **principal, char csrf[CV_UI_TOKEN_LEN]);

/* The session cookie's token of req copied into out ("" when none). */
const char *cv_ui_session_cookie(const struct cv_request *req,
    char out[CV_UI_TOKEN_LEN]);

/* The principal of req's live session (new reference), or NULL: what the
 * rate limiter counts a dashboard request against. */
json_t *cv_ui_session_principal(struct cv_store *s,
    const struct cv_request *req, int64_t now_us);

/* Ends the session of token (no error when there is none). */
enum cv_err cv_ui_session_close(struct cv_store *s, const char *token);

/* Whether client (an address) may try to log in now: false after
 * CV_UI_LOGIN_FAILURES failures within the last minute; *retry_after
 * then says in how many seconds. Fails open on a store error. */
bool cv_ui_login_allowed(struct cv_store *s, const char *client,
    int64_t now_ms, int *retry_after);

/* Counts one failed login of client. */
void cv_ui_login_failed(struct cv_store *s, const char *client,
    int64_t now_ms);

#endif
