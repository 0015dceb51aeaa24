/*
 * github.h - the GitHub App client (http-api.md 8): App JWT, installation
 * tokens, check runs, commit statuses and the decision publication, with
 * retry, per-request timeout and a circuit breaker (8.4, domain.md
 * Appendix A) around every HTTP call.
 *
 * One client per process (tokens are cached in it per installation id);
 * not thread-safe. Ownership follows cv.h. Errors come back as enum
 * cv_err; the text of the last one is cv_github_errmsg() and never holds
 * a secret (no key, JWT or token).
 */
#ifndef CV_GITHUB_H
#define CV_GITHUB_H

#include <jansson.h>
#include <stdint.h>

#include "breaker.h"
#include "config.h"
#include "cv.h"

#define CV_GITHUB_CHECK_NAME "Converge Risk Gate"
#define CV_GITHUB_STATUS_CONTEXT "converge/risk-gate"
#define CV_GITHUB_USER_AGENT "converge/0.1.0"
#define CV_GITHUB_DESC_MAX 140     /* characters (code points) */

/* Time seams: tests drive the clocks and make sleeping free. Any NULL
 * member uses the real thing. */
struct cv_github_hooks {
	int64_t (*wall)(void *ctx);            /* epoch seconds: JWT, tokens */
	double (*mono)(void *ctx);             /* monotonic seconds: breaker */
	void (*sleep)(void *ctx, double secs); /* retry back-off */
	void *ctx;
};

struct cv_github_options {
	const char *api_url;          /* NULL/"" → https://api.github.com */
	const char *app_id;           /* CONVERGE_GITHUB_APP_ID */
	const char *key_path;         /* ..._PRIVATE_KEY_PATH (used if it exists) */
	const char *key_pem;          /* ..._PRIVATE_KEY */
	const char *installation_id;  /* default when a request names none */
	long timeout_ms;              /* whole request; 0 → 10000 */
	long connect_timeout_ms;      /* 0 → min(5000, timeout_ms) */
	int max_attempts;             /* 0 → 3 (the first one included) */
	double base_delay;            /* 0 → 0.5 s, then doubled */
	double max_delay;             /* 0 → 30 s; also caps Retry-After */
	struct cv_github_hooks hooks;
};

struct cv_github;

/* A client; strings are copied. Returns NULL on allocation failure. */
struct cv_github *cv_github_new(const struct cv_github_options *o);

/* A client from the process configuration (api url, app id, key path/PEM,
 * default installation id), real clocks, 10 s timeout. NULL on
 * allocation failure. Callers check cv_config_github_enabled() first. */
struct cv_github *cv_github_client_from_config(const struct cv_config *c);

void cv_github_free(struct cv_github *gh);

/* Text of the last failure (borrowed, never NULL, "" after success). */
const char *cv_github_errmsg(const struct cv_github *gh);

/* The client's breaker, named "github" (borrowed; for tests, metrics). */
struct cv_breaker *cv_github_breaker(struct cv_github *gh);

/* The App JWT (RS256; iat = now - 60, exp = now + 540, iss = app id as a
 * string); *out is the caller's. CV_EAUTH when the app id or the key is
 * missing ("GitHub App private key not configured") or the key is not an
 * RSA private key. */
enum cv_err cv_github_app_jwt_new(struct cv_github *gh, char **out);

/* The installation token for id (> 0), from the cache while it has more
 * than 60 s left, else exchanged and cached for 3500 s. *out is a copy
 * the caller frees. */
enum cv_err cv_github_installation_token(struct cv_github *gh,
    long long installation_id, char **out);

/* Forgets the cached token of id (after a 401, or a key rotation). */
void cv_github_token_forget(struct cv_github *gh, long long installation_id);

/* ---- request bodies of 8.2 (pure) ---------------------------------------- */

/* {"name","head_sha","status","conclusion"?,"output"?{"title","summary"},
 * "details_url"?}: optional members omitted when NULL or "". */
json_t *cv_github_check_run_body_new(const char *head_sha,
    const char *status, const char *conclusion, const char *summary,
    const char *details_url);

/* {"state","context","description"? (first 140 characters),
 * "target_url"?}. */
json_t *cv_github_status_body_new(const char *state,
    const char *description, const char *target_url);

/* ---- calls of 8.2 ---------------------------------------------------------
 * repo is "owner/name". On success *resp (may be NULL) = the decoded
 * response ({} when empty), the caller's. */

enum cv_err cv_github_check_run_create(struct cv_github *gh,
    long long installation_id, const char *repo, const char *head_sha,
    const char *status, const char *conclusion, const char *summary,
    const char *details_url, json_t **resp);

/* Any of status / conclusion / summary (NULL = leave unchanged). */
enum cv_err cv_github_check_run_update(struct cv_github *gh,
    long long installation_id, const char *repo, long long check_run_id,
    const char *status, const char *conclusion, const char *summary,
    json_t **resp);

enum cv_err cv_github_status_create(struct cv_github *gh,
    long long installation_id, const char *repo, const char *sha,
    const char *state, const char *description, const char *target_url,
    json_t **resp);

/* ---- decision publication (8.3) ----------------------------------------- */

/* How a decision shows on GitHub (8.3 table with the C mapping of D9). */
struct cv_github_publication {
	const char *status;        /* check run: completed / in_progress */
	const char *conclusion;    /* success / failure / NULL (omitted) */
	const char *state;         /* commit status: success/failure/pending */
	char description[CV_GITHUB_DESC_MAX * 4 + 1];
};

/* Fills p for decision. risk_score is a JSON number (integer or real;
 * NULL = 0) because "Blocked (risk=<score>)" prints it as given. */
void cv_github_publication_map(const char *decision, const json_t *risk_score,
    const char *reason, struct cv_github_publication *p);

/* The check-run summary (Markdown lines joined by "\n"); trace_id and
 * reason lines only when non-empty. Caller frees; NULL on ENOMEM. */
char *cv_github_summary_new(const char *intent_id, const char *decision,
    double risk_score, const char *trace_id, const char *reason);

/* Checks a publication request {"repo","head_sha","installation_id",
 * "intent_id","decision","trace_id","risk_score","reason"}: repo must be
 * owner/name, head_sha and decision non-empty. CV_OK or CV_EINVAL. */
enum cv_err cv_github_request_check(const json_t *request);

/* Publishes the decision of request: check run, then commit status.
 * Returns (new) {"check_run_id","commit_status_state","decision"}, or
 * {"error":"publish_failed","decision"} on any failure (logged, with the
 * reason in cv_github_errmsg). Never NULL unless out of memory. */
json_t *cv_github_publish_decision(struct cv_github *gh,
    const json_t *request);

#endif
