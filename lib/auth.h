/*
 * auth.h - who is calling and may they (http-api.md 3, decisions.md D-1).
 *
 * A principal is the JSON object {"role","actor","tenant","scopes",
 * "key_prefix"}; with authentication disabled it is exactly
 * {"role":"admin","actor":"anonymous","tenant":null}.
 *
 * Credentials are API keys (X-API-Key, looked up by SHA-256 digest, never
 * by raw text) and, in jwt/hybrid mode, bearer tokens. Keys, tokens and
 * digests are never logged.
 */
#ifndef CV_AUTH_H
#define CV_AUTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "cv.h"
#include "http.h"
#include "store.h"

#define CV_SHA256_HEX_LEN 65       /* 64 hex characters and the NUL */
#define CV_GRACE_DEFAULT 3600
#define CV_GRACE_MIN 60
#define CV_GRACE_MAX 86400

struct cv_auth;

enum cv_auth_result {
	CV_AUTH_GRANTED = 0,
	CV_AUTH_DENIED               /* *status, error and reason are set */
};

/* Builds the registry from cfg (CONVERGE_API_KEYS parsed once, the JWT
 * key read from its PEM file). On failure returns NULL and writes a
 * one-line reason into err (never key material). Caller frees with
 * cv_auth_free. cfg is not kept. */
struct cv_auth *cv_auth_new(const struct cv_config *cfg, char *err,
    size_t errsize);
void cv_auth_free(struct cv_auth *a);

/* True when CONVERGE_AUTH_REQUIRED is "1". */
bool cv_auth_enabled(const struct cv_auth *a);

/* Number of registry entries (after duplicates collapsed). */
size_t cv_auth_key_count(const struct cv_auth *a);

/* Logs one warning (converge.auth) per non-admin key without a tenant
 * (http-api.md 3.7); names the actor only. */
void cv_auth_warn_untenanted(const struct cv_auth *a);

/* Lower-case hex SHA-256 of key into out. */
void cv_sha256_hex(const char *key, size_t len, char out[CV_SHA256_HEX_LEN]);

/* Role rank: viewer 0, operator 1, admin 2, anything else -1. */
int cv_role_rank(const char *role);

/* Scope rule of http-api.md 3.4: scopes NULL → allowed; "*"; the exact
 * scope; "<resource>.*"; for the dot-less "admin" also "admin.*". Tokens
 * are split on ',' and '|' and trimmed. required NULL → allowed only
 * for scopes NULL or "*": a key with scopes can do only what they name. */
bool cv_scope_allows(const char *scopes, const char *required);

/* The principal for a presented key: the primary registry, then (when
 * s is not NULL and use_grace) the api_key_grace table, deleting an
 * expired row found there. now_us is the wall clock. *out = new
 * reference or NULL when the key is unknown (CV_OK either way); a store
 * failure is CV_ESTORE and *out NULL. */
enum cv_err cv_auth_lookup_key(const struct cv_auth *a, struct cv_store *s,
    const char *key, bool use_grace, int64_t now_us, json_t **out);

/* Verifies a bearer token (D-1). *out = new principal reference, or NULL
 * and *reason = "invalid_token" / "expired_token". now_s is the epoch. */
void cv_auth_verify_token(const struct cv_auth *a, const char *token,
    int64_t now_s, json_t **out, const char **reason);

/* Resolves the caller's principal without deciding anything else and
 * without writing events: the cheap identification the rate limiter
 * needs. Auth disabled → the anonymous admin. *principal = new reference
 * or NULL (then *reason names why: no_api_key, invalid_key,
 * invalid_token, expired_token). */
void cv_auth_identify(const struct cv_auth *a, struct cv_store *s,
    const struct cv_request *req, int64_t now_us, json_t **principal,
    const char **reason);

/*
 * The check of a route (http-api.md 3.5): credential → role rank →
 * scope, in that order. min_role NULL means the route needs no
 * authentication (granted with the anonymous principal). On success
 * *principal_out = new reference. On denial: *status 401 or 403, error =
 * the body's message ("Unauthorized" or "Missing scope: <scope>"),
 * reason = the access.denied reason ("no_api_key", "invalid_key",
 * "invalid_token", "expired_token", "insufficient_role",
 * "missing_scope:<scope>"). When auth is enabled, writes access.denied
 * on each denial and access.granted on a granted non-GET request; a
 * failing write is ignored. s may be NULL (no grace table, no events).
 */
enum cv_auth_result cv_authorize(const struct cv_auth *a, struct cv_store *s,
    const struct cv_request *req, const char *min_role, const char *scope,
    json_t **principal_out, int *status, char *error, size_t errsize,
    char *reason, size_t reasonsize);

/* ---- tenants (http-api.md 3.7) ----------------------------------------- */

/* Effective tenant of a read: the principal's tenant when non-empty, else
 * query_tenant when non-empty, else NULL (no filter). Borrowed. */
const char *cv_tenant_effective_read(const json_t *principal,
    const char *query_tenant);

/* Enforcement for writes. requested = body tenant_id (or the caller's
 * fallback) or NULL. Returns 0 with *effective set (borrowed), or 400
 * ("tenant_id required") / 403 ("Forbidden: cannot access another
 * tenant") with the message in *error. */
int cv_tenant_enforce_write(const json_t *principal, const char *requested,
    const char **effective, const char **error);

/* ---- key rotation (http-api.md 3.8) ------------------------------------ */

/*
 * The handler of POST /auth/keys/rotate, run after cv_authorize granted
 * admin/admin. Validates the body (grace_period_seconds), re-checks the
 * presented key among the active keys (database and CONVERGE_API_KEYS,
 * not the grace table), stores a new key with the same actor, tenant and
 * scopes in api_keys (usable at once by every process), revokes the old
 * key and keeps its principal in api_key_grace until now+grace, appends
 * access.key_rotated and answers with the new key and its "id". *status and *body_out (new reference: the 200 object or
 * {"error":...}) are always set.
 */
void cv_auth_rotate_key(const struct cv_auth *a, struct cv_store *s,
    const struct cv_request *req, int64_t now_us, int *status,
    json_t **body_out);

/* What the rotation answer tells the caller to do. */
#define CV_ROTATION_NOTE "The new key works now, in every process. The " \
	"old key keeps working until the grace period ends, then is refused; " \
	"if it is listed in CONVERGE_API_KEYS, remove it from there."

/* The id naming a key in events and lists (never the key): the
 * principal's "key_id" for a key kept in the database, else "env-" and
 * the first 12 hex digits of the key's SHA-256 for a CONVERGE_API_KEYS
 * key; "" when key is NULL or empty and the principal has no id. */
void cv_auth_key_id(const char *key, const json_t *principal,
    char out[24]);

/* Writes a new random key (32 bytes, URL-safe base64 without padding, 43
 * characters) into out. Returns 0, or -1 when no randomness. */
int cv_auth_new_key(char out[44]);

#endif
