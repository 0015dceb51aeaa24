/*
 * apikeys.h - API keys kept in the database (decisions.md D-10): table
 * api_keys, one row per key, holding the SHA-256 digest of the key and
 * never the key itself, with the key's role, actor, tenant, scopes,
 * expiry and revocation.
 *
 * Every lookup reads the table, so a key created, revoked or rotated by
 * any process (the CLI, another responder, another host on PostgreSQL)
 * counts from the next request on; nothing is cached.
 *
 * A key is "cvk_" and 43 URL-safe base64 characters (256 random bits):
 * the prefix lets secret scanners find leaked keys. An id is "key_" and
 * 16 hex characters; ids, not keys, appear in lists, events and logs.
 */
#ifndef CV_APIKEYS_H
#define CV_APIKEYS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "cv.h"
#include "store.h"

#define CV_APIKEY_PREFIX "cvk_"
#define CV_APIKEY_LEN 48          /* "cvk_" + 43 characters + NUL */
#define CV_APIKEY_ID_LEN 24       /* "key_" + 16 hex (or "env-" + 12) + NUL */

struct cv_apikey_spec {
	const char *role;         /* viewer, operator or admin */
	const char *actor;
	const char *tenant;       /* NULL: every tenant */
	const char *scopes;       /* NULL: every scope; "a|b" or "a,b" */
	int64_t expires_us;       /* 0: never */
};

/* Creates a key: writes its id and the key (shown once, never stored).
 * The caller cleanses key when done. */
enum cv_err cv_apikey_create(struct cv_store *s,
    const struct cv_apikey_spec *spec, int64_t now_us,
    char id[CV_APIKEY_ID_LEN], char key[CV_APIKEY_LEN]);

/* Every key, newest first, without secrets: id, prefix, role, actor,
 * tenant, scopes, created_at, expires_at, revoked_at, status ("active",
 * "expired", "revoked"). New reference, or NULL on a store failure. */
json_t *cv_apikey_list(struct cv_store *s, int64_t now_us);

/* Revokes key id at once, and ends its grace period when it was
 * rotated. *found false when no such key or nothing was left to end. */
enum cv_err cv_apikey_revoke(struct cv_store *s, const char *id,
    int64_t now_us, bool *found);

/* The same inside the caller's transaction, without touching the grace
 * table. */
enum cv_err cv_apikey_revoke_row(struct cv_store *s, const char *id,
    int64_t now_us, bool *found);

/* Replaces key id by a new key with the same role, actor, tenant, scopes
 * and expiry: the old key is revoked and keeps working for grace_s
 * seconds through the grace table (0: stops now). *found false when no
 * such active key. Runs in one transaction. */
enum cv_err cv_apikey_rotate(struct cv_store *s, const char *id,
    long long grace_s, int64_t now_us, char new_id[CV_APIKEY_ID_LEN],
    char new_key[CV_APIKEY_LEN], bool *found);

/*
 * The row of a key digest (64 lower-case hex). *principal = new
 * {"role","actor","tenant","scopes","key_prefix","key_id"} when the key
 * is active, else NULL; *known true when a row exists at all (active,
 * expired or revoked): a known inactive key must not be looked up
 * anywhere else but the grace table.
 */
enum cv_err cv_apikey_find(struct cv_store *s, const char *sha256_hex,
    int64_t now_us, json_t **principal, bool *known);

/* Marks a key that lives outside the table (CONVERGE_API_KEYS) as
 * revoked, so that rotating it over HTTP takes effect in every process.
 * principal gives its role, actor, tenant and scopes. */
enum cv_err cv_apikey_revoke_digest(struct cv_store *s,
    const char *sha256_hex, const char *id, const json_t *principal,
    int64_t now_us);

/* The id of the row of a key digest, or "" when none (any status). */
enum cv_err cv_apikey_id_of(struct cv_store *s, const char *sha256_hex,
    char id[CV_APIKEY_ID_LEN]);

/* Number of active keys. */
enum cv_err cv_apikey_count_active(struct cv_store *s, int64_t now_us,
    long long *n);

#endif
