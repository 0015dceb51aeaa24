/* apikeys.c - API keys in the database (see apikeys.h). */
#include "apikeys.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "clock.h"
#include "db.h"
#include "jsonx.h"

static enum cv_err new_id(char id[CV_APIKEY_ID_LEN])
{
	unsigned char raw[8];

	if (cv_random_bytes(raw, sizeof raw) != 0)
		return CV_ESTORE;
	memcpy(id, "key_", 4);
	for (size_t i = 0; i < sizeof raw; i++)
		snprintf(id + 4 + 2 * i, 3, "%02x", raw[i]);
	return CV_OK;
}

static enum cv_err new_key(char key[CV_APIKEY_LEN])
{
	char body[44];

	if (cv_auth_new_key(body) != 0)
		return CV_ESTORE;
	snprintf(key, CV_APIKEY_LEN, "%s%s", CV_APIKEY_PREFIX, body);
	OPENSSL_cleanse(body, sizeof body);
	return CV_OK;
}

static const char *cell(const json_t *row, size_t i)
{
	return json_string_value(json_array_get(row, i));
}

static enum cv_err insert(struct cv_store *s, const char *id,
    const char *hex, const char *prefix, const struct cv_apikey_spec *sp,
    const char *created, const char *expires, const char *revoked)
{
	struct cv_param p[] = { CV_TEXT(id), CV_TEXT(hex), CV_TEXT(prefix),
	    CV_TEXT(sp->role), CV_TEXT(sp->actor), CV_TEXT(sp->tenant),
	    CV_TEXT(sp->scopes), CV_TEXT(created), CV_TEXT(expires),
	    CV_TEXT(revoked) };

	return cv_db_exec(s, "INSERT INTO api_keys (id, key_sha256, prefix,"
	    " role, actor, tenant_id, scopes, created_at, expires_at,"
	    " revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", p, 10, NULL);
}

static enum cv_err create_with(struct cv_store *s,
    const struct cv_apikey_spec *spec, const char *expires, int64_t now_us,
    char id[CV_APIKEY_ID_LEN], char key[CV_APIKEY_LEN])
{
	char hex[CV_SHA256_HEX_LEN], now[CV_TS_LEN], prefix[12];
	enum cv_err err;

	if ((err = new_id(id)) != CV_OK || (err = new_key(key)) != CV_OK)
		return err;
	cv_sha256_hex(key, strlen(key), hex);
	snprintf(prefix, sizeof prefix, "%.8s", key);
	cv_ts_from_us(now, now_us);
	err = insert(s, id, hex, prefix, spec, now, expires, NULL);
	OPENSSL_cleanse(hex, sizeof hex);
	if (err != CV_OK)
		OPENSSL_cleanse(key, CV_APIKEY_LEN);
	return err;
}

enum cv_err cv_apikey_create(struct cv_store *s,
    const struct cv_apikey_spec *spec, int64_t now_us,
    char id[CV_APIKEY_ID_LEN], char key[CV_APIKEY_LEN])
{
	char expires[CV_TS_LEN];

	if (spec->expires_us)
		cv_ts_from_us(expires, spec->expires_us);
	return create_with(s, spec, spec->expires_us ? expires : NULL, now_us,
	    id, key);
}

static const char *status_of(const char *expires, const char *revoked,
    const char *now)
{
	if (revoked)
		return "revoked";
	if (expires && strcmp(expires, now) <= 0)
		return "expired";
	return "active";
}

json_t *cv_apikey_list(struct cv_store *s, int64_t now_us)
{
	static const char *const names[] = { "id", "prefix", "role", "actor",
	    "tenant", "scopes", "created_at", "expires_at", "revoked_at" };
	char now[CV_TS_LEN];
	json_t *rows = NULL, *out, *row;
	size_t i;

	if (cv_db_query(s, "SELECT id, prefix, role, actor, tenant_id, scopes,"
	    " created_at, expires_at, revoked_at FROM api_keys ORDER BY"
	    " created_at DESC, id", NULL, 0, &rows) != CV_OK)
		return NULL;
	cv_ts_from_us(now, now_us);
	out = json_array();
	json_array_foreach(rows, i, row) {
		json_t *k = json_object();
		for (size_t c = 0; c < CV_ARRAY_LEN(names); c++)
			json_object_set(k, names[c], json_array_get(row, c));
		json_object_set_new(k, "status", json_string(status_of(
		    cell(row, 7), cell(row, 8), now)));
		json_array_append_new(out, k);
	}
	json_decref(rows);
	return out;
}

enum cv_err cv_apikey_revoke(struct cv_store *s, const char *id,
    int64_t now_us, bool *found)
{
	char now[CV_TS_LEN];
	long long n = 0, graced = 0;
	struct cv_param p[] = { CV_TEXT(NULL), CV_TEXT(id) };
	struct cv_param g[] = { CV_TEXT(id) };
	enum cv_err err;

	*found = false;
	cv_ts_from_us(now, now_us);
	p[0] = CV_TEXT(now);
	if ((err = cv_store_begin(s)) != CV_OK)
		return err;
	if ((err = cv_db_exec(s, "UPDATE api_keys SET revoked_at = ? WHERE"
	    " id = ? AND revoked_at IS NULL", p, 2, &n)) == CV_OK)
		err = cv_db_exec(s, "DELETE FROM api_key_grace WHERE key_sha256"
		    " IN (SELECT key_sha256 FROM api_keys WHERE id = ?)", g, 1,
		    &graced);
	if (err != CV_OK) {
		cv_store_rollback(s);
		return err;
	}
	/* a rotated key still in its grace period is ended too */
	*found = n > 0 || graced > 0;
	return cv_store_commit(s);
}

enum cv_err cv_apikey_revoke_row(struct cv_store *s, const char *id,
    int64_t now_us, bool *found)
{
	char now[CV_TS_LEN];
	long long n = 0;
	enum cv_err err;

	cv_ts_from_us(now, now_us);
	struct cv_param p[] = { CV_TEXT(now), CV_TEXT(id) };
	err = cv_db_exec(s, "UPDATE api_keys SET revoked_at = ? WHERE id = ?"
	    " AND revoked_at IS NULL", p, 2, &n);
	*found = n > 0;
	return err;
}

static json_t *principal_of(const json_t *row, size_t at)
{
	/* row[at..]: role, actor, tenant_id, scopes, prefix, id */
	json_t *p = json_object();
	static const char *const names[] = { "role", "actor", "tenant",
	    "scopes", "key_prefix", "key_id" };

	for (size_t i = 0; i < CV_ARRAY_LEN(names); i++)
		json_object_set(p, names[i], json_array_get(row, at + i));
	return p;
}

static enum cv_err rotate_locked(struct cv_store *s, const char *id,
    long long grace_s, int64_t now_us, char new_id[CV_APIKEY_ID_LEN],
    char new_key[CV_APIKEY_LEN], bool *found)
{
	char now[CV_TS_LEN], until[CV_TS_LEN];
	struct cv_param q[] = { CV_TEXT(id) };
	json_t *rows = NULL, *row, *principal;
	struct cv_apikey_spec spec;
	enum cv_err err;
	char *text;

	cv_ts_from_us(now, now_us);
	if ((err = cv_db_query(s, "SELECT key_sha256, expires_at, role, actor,"
	    " tenant_id, scopes, prefix, id FROM api_keys WHERE id = ? AND"
	    " revoked_at IS NULL", q, 1, &rows)) != CV_OK)
		return err;
	row = json_array_get(rows, 0);
	if (!row || (cell(row, 1) && strcmp(cell(row, 1), now) <= 0)) {
		json_decref(rows);
		return CV_OK;
	}
	*found = true;
	spec = (struct cv_apikey_spec){ cell(row, 2), cell(row, 3),
	    cell(row, 4), cell(row, 5), 0 };
	err = create_with(s, &spec, cell(row, 1), now_us, new_id, new_key);
	struct cv_param r[] = { CV_TEXT(now), CV_TEXT(id) };
	if (err == CV_OK)
		err = cv_db_exec(s, "UPDATE api_keys SET revoked_at = ? WHERE"
		    " id = ?", r, 2, NULL);
	if (err == CV_OK && grace_s > 0) {
		principal = principal_of(row, 2);
		text = cv_json_dump(principal);
		json_decref(principal);
		cv_ts_from_us(until, now_us + grace_s * 1000000);
		struct cv_param g[] = { CV_TEXT(cell(row, 0)), CV_TEXT(text),
		    CV_TEXT(until) };
		err = text ? cv_db_exec(s, "INSERT INTO api_key_grace"
		    " (key_sha256, principal, expires_at) VALUES (?, ?, ?)"
		    " ON CONFLICT (key_sha256) DO UPDATE SET principal ="
		    " excluded.principal, expires_at = excluded.expires_at", g,
		    3, NULL) : CV_ENOMEM;
		free(text);
	}
	json_decref(rows);
	return err;
}

enum cv_err cv_apikey_rotate(struct cv_store *s, const char *id,
    long long grace_s, int64_t now_us, char new_id[CV_APIKEY_ID_LEN],
    char new_key[CV_APIKEY_LEN], bool *found)
{
	enum cv_err err;

	*found = false;
	if ((err = cv_store_begin(s)) != CV_OK)
		return err;
	err = rotate_locked(s, id, grace_s, now_us, new_id, new_key, found);
	if (err != CV_OK || !*found) {
		cv_store_rollback(s);
		if (*found)
			OPENSSL_cleanse(new_key, CV_APIKEY_LEN);
		*found = false;
		return err;
	}
	if ((err = cv_store_commit(s)) != CV_OK)
		OPENSSL_cleanse(new_key, CV_APIKEY_LEN);
	return err;
}

enum cv_err cv_apikey_find(struct cv_store *s, const char *sha256_hex,
    int64_t now_us, json_t **principal, bool *known)
{
	char now[CV_TS_LEN];
	struct cv_param p[] = { CV_TEXT(sha256_hex) };
	json_t *rows = NULL, *row;
	enum cv_err err;

	*principal = NULL;
	*known = false;
	if ((err = cv_db_query(s, "SELECT expires_at, revoked_at, role, actor,"
	    " tenant_id, scopes, prefix, id FROM api_keys WHERE key_sha256 = ?",
	    p, 1, &rows)) != CV_OK)
		return err;
	if ((row = json_array_get(rows, 0))) {
		cv_ts_from_us(now, now_us);
		*known = true;
		if (strcmp(status_of(cell(row, 0), cell(row, 1), now),
		    "active") == 0)
			*principal = principal_of(row, 2);
	}
	json_decref(rows);
	return CV_OK;
}

enum cv_err cv_apikey_revoke_digest(struct cv_store *s,
    const char *sha256_hex, const char *id, const json_t *principal,
    int64_t now_us)
{
	char now[CV_TS_LEN];
	struct cv_param p[] = { CV_TEXT(id), CV_TEXT(sha256_hex),
	    CV_TEXT(cv_json_str(principal, "key_prefix", "")),
	    CV_TEXT(cv_json_str(principal, "role", "")),
	    CV_TEXT(cv_json_str(principal, "actor", "")),
	    CV_TEXT(cv_json_str(principal, "tenant", NULL)),
	    CV_TEXT(cv_json_str(principal, "scopes", NULL)), CV_TEXT(NULL),
	    CV_TEXT(NULL) };

	cv_ts_from_us(now, now_us);
	p[7] = p[8] = CV_TEXT(now);
	/* One statement, so that a second rotation of the same key is not
	 * an error (which would abort a PostgreSQL transaction). */
	return cv_db_exec(s, "INSERT INTO api_keys (id, key_sha256, prefix,"
	    " role, actor, tenant_id, scopes, created_at, revoked_at) VALUES"
	    " (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key_sha256) DO UPDATE"
	    " SET revoked_at = COALESCE(api_keys.revoked_at,"
	    " excluded.revoked_at)", p, 9, NULL);
}

enum cv_err cv_apikey_id_of(struct cv_store *s, const char *sha256_hex,
    char id[CV_APIKEY_ID_LEN])
{
	struct cv_param p[] = { CV_TEXT(sha256_hex) };
	json_t *rows = NULL;
	enum cv_err err = cv_db_query(s, "SELECT id FROM api_keys WHERE"
	    " key_sha256 = ?", p, 1, &rows);

	snprintf(id, CV_APIKEY_ID_LEN, "%s", err == CV_OK &&
	    cell(json_array_get(rows, 0), 0) ?
	    cell(json_array_get(rows, 0), 0) : "");
	json_decref(rows);
	return err;
}

enum cv_err cv_apikey_count_active(struct cv_store *s, int64_t now_us,
    long long *n)
{
	char now[CV_TS_LEN];
	struct cv_param p[] = { CV_TEXT(NULL) };

	cv_ts_from_us(now, now_us);
	p[0] = CV_TEXT(now);
	return cv_db_scalar_int(s, "SELECT COUNT(*) FROM api_keys WHERE"
	    " revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)",
	    p, 1, n);
}
