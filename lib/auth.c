/*
 * auth.c - API-key registry, grace table, bearer tokens, the per-route
 * check and its audit events (http-api.md 3, decisions.md D-1).
 */
#include <ctype.h>
#include <jwt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "apikeys.h"
#include "auth.h"
#include "clock.h"
#include "db.h"
#include "eventlog.h"
#include "jsonx.h"
#include "log.h"

struct key_entry {
	unsigned char digest[SHA256_DIGEST_LENGTH];
	json_t *principal;
};

struct cv_auth {
	bool enabled;
	enum cv_auth_mode mode;
	struct key_entry *keys;
	size_t nkeys;
	char *jwt_secret;
	unsigned char *pem;        /* public key PEM text, NUL-terminated */
	size_t pem_len;
	jwt_alg_t pem_alg;         /* RS256 or ES256, by the key's type */
	char *issuer;
	char *audience;
	int leeway;
};

/* ---- small helpers ------------------------------------------------------- */

void cv_sha256_hex(const char *key, size_t len, char out[CV_SHA256_HEX_LEN])
{
	unsigned char d[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)key, len, d);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

int cv_role_rank(const char *role)
{
	static const char *const ranks[] = { "viewer", "operator", "admin" };

	for (int i = 0; role && i < (int)CV_ARRAY_LEN(ranks); i++)
		if (strcmp(role, ranks[i]) == 0)
			return i;
	return -1;
}

/* A JSON string of s, or "" when s is not valid UTF-8. */
static json_t *jstr(const char *s)
{
	json_t *v = json_string(s);

	return v ? v : json_string("");
}

static json_t *jstr_or_null(const char *s)
{
	return s ? jstr(s) : json_null();
}

static json_t *anonymous_principal(void)
{
	return json_pack("{s:s, s:s, s:n}", "role", "admin", "actor",
	    "anonymous", "tenant");
}

static json_t *principal_new(const char *role, const char *actor,
    const char *tenant, const char *scopes, const char *key_prefix)
{
	json_t *p = json_object();

	json_object_set_new(p, "role", jstr(role));
	json_object_set_new(p, "actor", jstr(actor));
	json_object_set_new(p, "tenant", jstr_or_null(tenant));
	json_object_set_new(p, "scopes", jstr_or_null(scopes));
	json_object_set_new(p, "key_prefix", jstr_or_null(key_prefix));
	return p;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* The first four characters of key (UTF-8 aware, as the reference counts
 * characters). */
static void key_prefix(const char *key, char out[32])
{
	size_t i = 0;
	int chars = 0;

	while (key[i] && chars < 4) {
		i++;
		while (((unsigned char)key[i] & 0xC0) == 0x80 && i < 16)
			i++;
		chars++;
	}
	memcpy(out, key, i);
	out[i] = '\0';
}

/* ---- the registry -------------------------------------------------------- */

static void registry_put(struct cv_auth *a, const unsigned char *d,
    json_t *principal_take)
{
	for (size_t i = 0; i < a->nkeys; i++)
		if (memcmp(a->keys[i].digest, d, SHA256_DIGEST_LENGTH) == 0) {
			/* later duplicates win */
			json_decref(a->keys[i].principal);
			a->keys[i].principal = principal_take;
			return;
		}
	struct key_entry *k = realloc(a->keys, (a->nkeys + 1) * sizeof *k);
	if (!k) {
		json_decref(principal_take);
		return;
	}
	a->keys = k;
	memcpy(k[a->nkeys].digest, d, SHA256_DIGEST_LENGTH);
	k[a->nkeys++].principal = principal_take;
}

/* One entry "key:role:actor[:tenant[:scopes]]"; fewer than 3 parts is
 * skipped, parts past the fifth are ignored. */
static void registry_add_entry(struct cv_auth *a, char *entry)
{
	char *part[5] = { 0 };
	int n = 0;
	char *p = trim(entry), *colon;
	char prefix[32];
	unsigned char d[SHA256_DIGEST_LENGTH];

	while (n < 5) {
		part[n++] = p;
		if (!(colon = strchr(p, ':')))
			break;
		*colon = '\0';
		p = colon + 1;
	}
	if (n < 3)
		return;
	key_prefix(part[0], prefix);
	SHA256((const unsigned char *)part[0], strlen(part[0]), d);
	registry_put(a, d, principal_new(part[1], part[2],
	    n > 3 ? part[3] : NULL, n > 4 ? part[4] : NULL, prefix));
	OPENSSL_cleanse(d, sizeof d);
}

static void registry_load(struct cv_auth *a, const char *spec)
{
	char *copy, *entry, *comma;

	if (!spec || !(copy = strdup(spec)))
		return;
	for (entry = copy; entry; entry = comma ? comma + 1 : NULL) {
		if ((comma = strchr(entry, ',')))
			*comma = '\0';
		registry_add_entry(a, entry);
	}
	OPENSSL_cleanse(copy, strlen(spec));
	free(copy);
}

/* Reads the PEM public key and picks the one algorithm it may verify. */
static int load_public_key(struct cv_auth *a, const char *path, char *err,
    size_t errsize)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k;
	long n;

	if (!f) {
		snprintf(err, errsize, "CONVERGE_JWT_PUBLIC_KEY_PATH: cannot "
		    "open %s", path);
		return -1;
	}
	k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	if (k && EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA)
		a->pem_alg = JWT_ALG_RS256;
	else if (k && EVP_PKEY_get_base_id(k) == EVP_PKEY_EC)
		a->pem_alg = JWT_ALG_ES256;
	EVP_PKEY_free(k);
	if (a->pem_alg == JWT_ALG_NONE || fseek(f, 0, SEEK_END) != 0 ||
	    (n = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) != 0 ||
	    !(a->pem = calloc(1, (size_t)n + 1)) ||
	    fread(a->pem, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		snprintf(err, errsize, "CONVERGE_JWT_PUBLIC_KEY_PATH: %s is not "
		    "an RSA or EC public key in PEM form", path);
		return -1;
	}
	a->pem_len = (size_t)n;
	fclose(f);
	return 0;
}

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

struct cv_auth *cv_auth_new(const struct cv_config *cfg, char *err,
    size_t errsize)
{
	struct cv_auth *a = calloc(1, sizeof *a);

	if (!a) {
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	a->enabled = cfg->auth_required;
	a->mode = cfg->auth_mode;
	a->leeway = cfg->jwt_leeway;
	a->pem_alg = JWT_ALG_NONE;
	registry_load(a, cfg->api_keys);
	a->jwt_secret = dup_or_null(cfg->jwt_secret);
	a->issuer = dup_or_null(cfg->jwt_issuer);
	a->audience = dup_or_null(cfg->jwt_audience);
	if (cfg->jwt_public_key_path && *cfg->jwt_public_key_path &&
	    load_public_key(a, cfg->jwt_public_key_path, err, errsize) != 0) {
		cv_auth_free(a);
		return NULL;
	}
	return a;
}

void cv_auth_free(struct cv_auth *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->nkeys; i++)
		json_decref(a->keys[i].principal);
	free(a->keys);
	if (a->jwt_secret) {
		OPENSSL_cleanse(a->jwt_secret, strlen(a->jwt_secret));
		free(a->jwt_secret);
	}
	free(a->pem);
	free(a->issuer);
	free(a->audience);
	free(a);
}

bool cv_auth_enabled(const struct cv_auth *a)
{
	return a->enabled;
}

size_t cv_auth_key_count(const struct cv_auth *a)
{
	return a->nkeys;
}

void cv_auth_warn_untenanted(const struct cv_auth *a)
{
	for (size_t i = 0; i < a->nkeys; i++) {
		const json_t *p = a->keys[i].principal;
		if (strcmp(cv_json_str(p, "role", ""), "admin") == 0 ||
		    *cv_json_str(p, "tenant", ""))
			continue;
		cv_log(CV_WARNING, "converge.auth", "API key of actor %s (role "
		    "%s) has no tenant and sees every tenant",
		    cv_json_str(p, "actor", ""), cv_json_str(p, "role", ""));
	}
}

/* ---- scopes -------------------------------------------------------------- */

static bool scope_token_allows(const char *tok, size_t n, const char *req)
{
	const char *dot = strchr(req, '.');
	size_t res = dot ? (size_t)(dot - req) : strlen(req);

	if (n == strlen(req) && memcmp(tok, req, n) == 0)
		return true;
	/* "<resource>.*"; for the dot-less "admin" this is "admin.*" */
	return n == res + 2 && memcmp(tok, req, res) == 0 &&
	    tok[res] == '.' && tok[res + 1] == '*';
}

bool cv_scope_allows(const char *scopes, const char *required)
{
	const char *p = scopes;

	if (!scopes)
		return true;
	/* A key with scopes can do only what they name: a route that names
	 * none is open to it only through "*". */
	while (*p) {
		size_t n;
		while (*p && (isspace((unsigned char)*p) || *p == ',' ||
		    *p == '|'))
			p++;
		n = strcspn(p, ",| \t\r\n");
		if (n == 1 && *p == '*')
			return true;
		if (n > 0 && required && scope_token_allows(p, n, required))
			return true;
		p += n;
	}
	return false;
}

/* ---- keys ---------------------------------------------------------------- */

/* Every entry is compared, so the time taken does not tell which entry
 * (or whether any) matched. */
static const json_t *registry_find(const struct cv_auth *a,
    const unsigned char *d)
{
	const json_t *hit = NULL;

	for (size_t i = 0; i < a->nkeys; i++)
		if (CRYPTO_memcmp(a->keys[i].digest, d,
		    SHA256_DIGEST_LENGTH) == 0)
			hit = a->keys[i].principal;
	return hit;
}

static enum cv_err grace_find(struct cv_store *s, const char *hex,
    int64_t now_us, json_t **out)
{
	char now[CV_TS_LEN];
	json_t *rows = NULL, *row;
	struct cv_param p[] = { CV_TEXT(hex) };
	enum cv_err err = cv_db_query(s, "SELECT principal, expires_at FROM"
	    " api_key_grace WHERE key_sha256 = ?", p, 1, &rows);

	if (err != CV_OK)
		return err;
	row = json_array_get(rows, 0);
	cv_ts_from_us(now, now_us);
	if (row && strcmp(json_string_value(json_array_get(row, 1)) ?
	    json_string_value(json_array_get(row, 1)) : "", now) > 0) {
		*out = cv_db_json_cell(json_array_get(row, 0), 0);
	} else if (row) {
		struct cv_param d[] = { CV_TEXT(hex), CV_TEXT(now) };
		cv_db_exec(s, "DELETE FROM api_key_grace WHERE key_sha256 = ?"
		    " AND expires_at <= ?", d, 2, NULL);
	}
	json_decref(rows);
	return CV_OK;
}

enum cv_err cv_auth_lookup_key(const struct cv_auth *a, struct cv_store *s,
    const char *key, bool use_grace, int64_t now_us, json_t **out)
{
	unsigned char d[SHA256_DIGEST_LENGTH];
	char hex[CV_SHA256_HEX_LEN];
	const json_t *hit;
	bool known = false;

	*out = NULL;
	SHA256((const unsigned char *)key, strlen(key), d);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	/* The table first, on every request: a key created, revoked or
	 * rotated anywhere counts at once (D-10). A revoked or expired row
	 * also overrides CONVERGE_API_KEYS (a rotated environment key). */
	if (s && cv_apikey_find(s, hex, now_us, out, &known) != CV_OK)
		cv_log(CV_ERROR, "converge.auth", "api_keys lookup failed: %s",
		    cv_store_errmsg(s));
	if (*out)
		return CV_OK;
	if (!known && (hit = registry_find(a, d))) {
		*out = json_deep_copy(hit);
		return CV_OK;
	}
	if (!use_grace || !s)
		return CV_OK;
	return grace_find(s, hex, now_us, out);
}

void cv_auth_key_id(const char *key, const json_t *principal,
    char out[CV_APIKEY_ID_LEN])
{
	char hex[CV_SHA256_HEX_LEN];
	const char *id = cv_json_str(principal, "key_id", NULL);

	if (id) {
		snprintf(out, CV_APIKEY_ID_LEN, "%s", id);
		return;
	}
	out[0] = '\0';
	if (!key || !*key)
		return;
	cv_sha256_hex(key, strlen(key), hex);
	snprintf(out, CV_APIKEY_ID_LEN, "env-%.12s", hex);
}

/* ---- bearer tokens (D-1) ------------------------------------------------- */

/* Decodes base64url (no padding) into a new NUL-terminated buffer. */
static unsigned char *b64url_decode(const char *s, size_t n, size_t *outlen)
{
	unsigned char *out = malloc(n * 3 / 4 + 4);
	unsigned int acc = 0;
	int bits = 0;
	size_t o = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		int v;
		char c = s[i];
		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '-')
			v = 62;
		else if (c == '_')
			v = 63;
		else {
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (unsigned)v;
		if ((bits += 6) >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

/* The "alg" of the token's header, read before any verification so that
 * the algorithm is chosen by the server's key, never by the token. */
static jwt_alg_t header_alg(const char *token)
{
	const char *dot = strchr(token, '.');
	unsigned char *raw;
	size_t n;
	json_t *h;
	jwt_alg_t alg = JWT_ALG_INVAL;

	if (!dot || !strchr(dot + 1, '.') || strchr(strchr(dot + 1, '.') + 1,
	    '.'))
		return JWT_ALG_INVAL;
	if (!(raw = b64url_decode(token, (size_t)(dot - token), &n)))
		return JWT_ALG_INVAL;
	h = cv_json_loadb((const char *)raw, n, 0, NULL);
	free(raw);
	if (json_is_string(json_object_get(h, "alg")))
		alg = jwt_str_alg(json_string_value(json_object_get(h, "alg")));
	json_decref(h);
	return alg;
}

static bool aud_matches(const json_t *aud, const char *want)
{
	size_t i;
	json_t *v;

	if (json_is_string(aud))
		return strcmp(json_string_value(aud), want) == 0;
	json_array_foreach(aud, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), want) == 0)
			return true;
	return false;
}

/* Time and issuer/audience claims; NULL when acceptable, else a reason. */
static const char *check_claims(const struct cv_auth *a, const json_t *c,
    int64_t now)
{
	const json_t *exp = json_object_get(c, "exp");
	const json_t *nbf = json_object_get(c, "nbf");
	const json_t *iat = json_object_get(c, "iat");

	if (!json_is_number(exp) || (nbf && !json_is_number(nbf)) ||
	    (iat && !json_is_number(iat)))
		return "invalid_token";
	if (json_number_value(exp) <= (double)(now - a->leeway))
		return "expired_token";
	if (nbf && json_number_value(nbf) > (double)(now + a->leeway))
		return "invalid_token";
	if (iat && json_number_value(iat) > (double)(now + a->leeway))
		return "invalid_token";
	if (a->issuer && strcmp(cv_json_str(c, "iss", ""), a->issuer) != 0)
		return "invalid_token";
	if (a->audience && !aud_matches(json_object_get(c, "aud"),
	    a->audience))
		return "invalid_token";
	if (!json_is_string(json_object_get(c, "sub")) ||
	    !*json_string_value(json_object_get(c, "sub")))
		return "invalid_token";
	return NULL;
}

static json_t *token_principal(const json_t *c)
{
	const json_t *t = json_object_get(c, "tenant");
	const json_t *sc = json_object_get(c, "scope");

	return principal_new(cv_json_str(c, "role", ""),
	    cv_json_str(c, "sub", ""),
	    json_is_string(t) ? json_string_value(t) : NULL,
	    json_is_string(sc) ? json_string_value(sc) : NULL, NULL);
}

void cv_auth_verify_token(const struct cv_auth *a, const char *token,
    int64_t now_s, json_t **out, const char **reason)
{
	jwt_alg_t alg = header_alg(token);
	const unsigned char *key = NULL;
	int keylen = 0;
	jwt_t *jwt = NULL;
	char *claims;
	json_t *c;

	*out = NULL;
	*reason = "invalid_token";
	if (alg == JWT_ALG_HS256 && a->jwt_secret) {
		key = (const unsigned char *)a->jwt_secret;
		keylen = (int)strlen(a->jwt_secret);
	} else if (alg != JWT_ALG_NONE && alg == a->pem_alg) {
		key = a->pem;
		keylen = (int)a->pem_len;
	}
	if (!key || jwt_decode(&jwt, token, key, keylen) != 0 || !jwt)
		return;
	if (jwt_get_alg(jwt) != alg) {    /* belt and braces */
		jwt_free(jwt);
		return;
	}
	claims = jwt_get_grants_json(jwt, NULL);
	jwt_free(jwt);
	c = claims ? cv_json_loadb(claims, strlen(claims), 0, NULL) : NULL;
	free(claims);
	if (json_is_object(c) && !(*reason = check_claims(a, c, now_s)))
		*out = token_principal(c);
	json_decref(c);
}

/* ---- identification and the check --------------------------------------- */

static const char *bearer_token(const struct cv_request *req)
{
	const char *h = cv_request_header(req, "Authorization");

	if (!h)
		return NULL;
	while (isspace((unsigned char)*h))
		h++;
	if (strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (isspace((unsigned char)*h))
		h++;
	return *h ? h : NULL;
}

void cv_auth_identify(const struct cv_auth *a, struct cv_store *s,
    const struct cv_request *req, int64_t now_us, json_t **principal,
    const char **reason)
{
	const char *key = cv_request_header(req, "X-API-Key");
	const char *token;

	*principal = NULL;
	*reason = NULL;
	if (!a->enabled) {
		*principal = anonymous_principal();
		return;
	}
	if (key && !*key)
		key = NULL;
	if (a->mode == CV_AUTH_JWT || (a->mode == CV_AUTH_HYBRID && !key)) {
		if ((token = bearer_token(req))) {
			cv_auth_verify_token(a, token, now_us / 1000000,
			    principal, reason);
			return;
		}
		*reason = a->mode == CV_AUTH_JWT ? "invalid_token" :
		    "no_api_key";
		return;
	}
	if (!key) {
		*reason = "no_api_key";
		return;
	}
	if (cv_auth_lookup_key(a, s, key, true, now_us, principal) != CV_OK)
		cv_log(CV_ERROR, "converge.auth", "grace table lookup failed: "
		    "%s", s ? cv_store_errmsg(s) : "no store");
	if (!*principal)
		*reason = "invalid_key";
}

/* access.* event; never fails the request. */
static void access_event(struct cv_store *s, const char *type,
    const struct cv_request *req, const json_t *principal,
    const char *reason)
{
	const char *tenant = cv_json_str(principal, "tenant", NULL);
	json_t *payload = json_object();

	if (!s) {
		json_decref(payload);
		return;
	}
	json_object_set_new(payload, "method",
	    cv_json_string_escaped(req->method));
	/* escaped, never emptied: the event must say what was asked for */
	json_object_set_new(payload, "path", cv_json_string_escaped(req->path));
	json_object_set_new(payload, "actor",
	    jstr(cv_json_str(principal, "actor", "")));
	json_object_set_new(payload, "role",
	    jstr(cv_json_str(principal, "role", "")));
	json_object_set_new(payload, "reason", jstr(reason));
	/* The key's id, never the key: a key that matched, or a revoked or
	 * expired key of the table. */
	{
		char id[CV_APIKEY_ID_LEN] = "", hex[CV_SHA256_HEX_LEN];
		const char *key = cv_request_header(req, "X-API-Key");
		if (principal)
			cv_auth_key_id(key, principal, id);
		else if (key && *key) {
			cv_sha256_hex(key, strlen(key), hex);
			cv_apikey_id_of(s, hex, id);
		}
		if (id[0])
			json_object_set_new(payload, "key_id", jstr(id));
	}
	if (cv_event_emit(s, type, NULL, NULL, tenant, NULL, payload, NULL) !=
	    CV_OK)
		cv_log(CV_WARNING, "converge.auth", "could not record %s",
		    type);
}

static enum cv_auth_result deny(struct cv_store *s,
    const struct cv_request *req, json_t *principal_take, int code,
    const char *why, int *status, char *error, size_t errsize,
    char *reason, size_t reasonsize)
{
	*status = code;
	if (code == 403)
		snprintf(error, errsize, "Missing scope: %s", why +
		    strlen("missing_scope:"));
	else
		snprintf(error, errsize, "Unauthorized");
	snprintf(reason, reasonsize, "%s", why);
	access_event(s, "access.denied", req, principal_take, reason);
	json_decref(principal_take);
	return CV_AUTH_DENIED;
}

enum cv_auth_result cv_authorize(const struct cv_auth *a, struct cv_store *s,
    const struct cv_request *req, const char *min_role, const char *scope,
    json_t **principal_out, int *status, char *error, size_t errsize,
    char *reason, size_t reasonsize)
{
	json_t *p = NULL;
	const char *why = NULL;
	char scope_reason[160];

	*principal_out = NULL;
	*status = 200;
	error[0] = reason[0] = '\0';
	if (!a->enabled || !min_role) {
		*principal_out = anonymous_principal();
		return CV_AUTH_GRANTED;
	}
	cv_auth_identify(a, s, req, cv_now_us(), &p, &why);
	if (!p)
		return deny(s, req, NULL, 401, why, status, error, errsize,
		    reason, reasonsize);
	if (cv_role_rank(cv_json_str(p, "role", "")) < cv_role_rank(min_role))
		return deny(s, req, p, 401, "insufficient_role", status, error,
		    errsize, reason, reasonsize);
	if (!cv_scope_allows(cv_json_str(p, "scopes", NULL), scope)) {
		snprintf(scope_reason, sizeof scope_reason, "missing_scope:%s",
		    scope);
		return deny(s, req, p, 403, scope_reason, status, error,
		    errsize, reason, reasonsize);
	}
	if (req->method && strcmp(req->method, "GET") != 0)
		access_event(s, "access.granted", req, p, "");
	*principal_out = p;
	return CV_AUTH_GRANTED;
}

/* ---- tenants ------------------------------------------------------------- */

const char *cv_tenant_effective_read(const json_t *principal,
    const char *query_tenant)
{
	const char *t = cv_json_str(principal, "tenant", NULL);

	if (t && *t)
		return t;
	return query_tenant && *query_tenant ? query_tenant : NULL;
}

int cv_tenant_enforce_write(const json_t *principal, const char *requested,
    const char **effective, const char **error)
{
	const char *own = cv_json_str(principal, "tenant", NULL);
	const char *eff = requested && *requested ? requested :
	    (own && *own ? own : NULL);

	*effective = eff;
	*error = NULL;
	if (!eff) {
		*error = "tenant_id required";
		return 400;
	}
	if (own && *own && strcmp(eff, own) != 0 &&
	    strcmp(cv_json_str(principal, "role", ""), "admin") != 0) {
		*error = "Forbidden: cannot access another tenant";
		return 403;
	}
	return 0;
}

/* ---- key rotation -------------------------------------------------------- */

int cv_auth_new_key(char out[44])
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char raw[33] = { 0 };  /* one spare zero byte pads the tail */
	size_t o = 0;

	if (cv_random_bytes(raw, 32) != 0)
		return -1;
	/* 32 bytes = 10 groups of 3 (40 chars) + 2 bytes (3 chars). */
	for (size_t i = 0; i < 33; i += 3) {
		unsigned int v = (unsigned)raw[i] << 16 |
		    (unsigned)raw[i + 1] << 8 | (i + 2 < 33 ? raw[i + 2] : 0);
		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
		if (i + 2 < 32)
			out[o++] = alphabet[v & 63];
	}
	out[43] = '\0';
	OPENSSL_cleanse(raw, sizeof raw);
	return 0;
}

/* grace_period_seconds from the body; 0 or a 400 message in msg. */
static int grace_period(const struct cv_request *req, long long *out,
    char *msg, size_t msgsize)
{
	const json_t *v;
	double d;

	*out = CV_GRACE_DEFAULT;
	if (!req->json) {
		snprintf(msg, msgsize, "body: Field required");
		return -1;
	}
	if (!json_is_object(req->json)) {
		snprintf(msg, msgsize, "body: Input should be a valid "
		    "dictionary or object to extract fields from");
		return -1;
	}
	if (!(v = json_object_get(req->json, "grace_period_seconds")))
		return 0;
	d = json_is_real(v) ? json_real_value(v) : 0.5;
	if (json_is_integer(v))
		*out = json_integer_value(v);
	else if (d > -1e15 && d < 1e15 && d == (double)(long long)d)
		*out = (long long)d;   /* 3600.0 is an integer */
	else {
		snprintf(msg, msgsize, "body.grace_period_seconds: Input should "
		    "be a valid integer");
		return -1;
	}
	if (*out < CV_GRACE_MIN || *out > CV_GRACE_MAX) {
		snprintf(msg, msgsize, "body.grace_period_seconds: Input should "
		    "be %s %d", *out < CV_GRACE_MIN ? "greater than or equal to"
		    : "less than or equal to", *out < CV_GRACE_MIN ?
		    CV_GRACE_MIN : CV_GRACE_MAX);
		return -1;
	}
	return 0;
}

static json_t *error_body(const char *msg)
{
	return json_pack("{s:s}", "error", msg);
}

static void rotation_event(struct cv_store *s, const json_t *p,
    long long grace)
{
	char reason[48];

	snprintf(reason, sizeof reason, "grace_period=%llds", grace);
	json_t *payload = json_pack("{s:s, s:s, s:o, s:s, s:s}", "method",
	    "POST", "path", "/auth/keys/rotate", "actor",
	    jstr(cv_json_str(p, "actor", "")), "role", "admin", "reason",
	    reason);
	if (cv_event_emit(s, "access.key_rotated", NULL, NULL,
	    cv_json_str(p, "tenant", NULL), NULL, payload, NULL) != CV_OK)
		cv_log(CV_WARNING, "converge.auth", "could not record "
		    "access.key_rotated");
}

/* Stores the old key's principal until now+grace. */
static enum cv_err grace_store(struct cv_store *s, const char *key,
    const json_t *p, int64_t until_us)
{
	char hex[CV_SHA256_HEX_LEN], until[CV_TS_LEN];
	char *text = cv_json_dump(p);
	enum cv_err err;

	if (!text)
		return CV_ENOMEM;
	cv_sha256_hex(key, strlen(key), hex);
	cv_ts_from_us(until, until_us);
	struct cv_param prm[] = { CV_TEXT(hex), CV_TEXT(text), CV_TEXT(until) };
	err = cv_db_exec(s, "INSERT INTO api_key_grace (key_sha256, principal,"
	    " expires_at) VALUES (?, ?, ?) ON CONFLICT (key_sha256) DO UPDATE"
	    " SET principal = excluded.principal, expires_at ="
	    " excluded.expires_at", prm, 3, NULL);
	free(text);
	return err;
}

static json_t *rotation_body(const char *new_id, const char *new_key,
    const json_t *p, long long grace)
{
	json_t *b = json_object();

	json_object_set_new(b, "id", json_string(new_id));
	json_object_set_new(b, "new_key", json_string(new_key));
	json_object_set_new(b, "actor", jstr(cv_json_str(p, "actor", "")));
	json_object_set_new(b, "role", json_string("admin"));
	json_object_set_new(b, "tenant", json_deep_copy(
	    json_object_get(p, "tenant")));
	json_object_set_new(b, "scopes", json_deep_copy(
	    json_object_get(p, "scopes")));
	json_object_set_new(b, "grace_period_seconds", json_integer(grace));
	json_object_set_new(b, "note", json_string(CV_ROTATION_NOTE));
	return b;
}

static const char *nonempty(const char *s)
{
	return s && *s ? s : NULL;
}

/* In one transaction: the new key into api_keys, the old one revoked
 * (a CONVERGE_API_KEYS key gets a revoked row of its own) and kept in
 * the grace table until until_us. */
static enum cv_err rotate_store(struct cv_store *s, const char *key,
    const json_t *p, int64_t now_us, int64_t until_us,
    char new_id[CV_APIKEY_ID_LEN], char new_key[CV_APIKEY_LEN])
{
	struct cv_apikey_spec spec = { "admin", cv_json_str(p, "actor", ""),
	    nonempty(cv_json_str(p, "tenant", NULL)),
	    nonempty(cv_json_str(p, "scopes", NULL)), 0 };
	char hex[CV_SHA256_HEX_LEN], old_id[CV_APIKEY_ID_LEN];
	enum cv_err err;
	bool found = true;

	cv_sha256_hex(key, strlen(key), hex);
	cv_auth_key_id(key, p, old_id);
	if ((err = cv_store_begin(s)) != CV_OK)
		return err;
	err = cv_apikey_create(s, &spec, now_us, new_id, new_key);
	if (err == CV_OK && cv_json_str(p, "key_id", NULL))
		err = cv_apikey_revoke_row(s, old_id, now_us, &found);
	else if (err == CV_OK)
		err = cv_apikey_revoke_digest(s, hex, old_id, p, now_us);
	if (err == CV_OK)
		err = grace_store(s, key, p, until_us);
	if (err == CV_OK && !found)
		err = CV_ESTATE;   /* revoked meanwhile by someone else */
	if (err != CV_OK) {
		cv_store_rollback(s);
		return err;
	}
	return cv_store_commit(s);
}

void cv_auth_rotate_key(const struct cv_auth *a, struct cv_store *s,
    const struct cv_request *req, int64_t now_us, int *status,
    json_t **body_out)
{
	const char *key = cv_request_header(req, "X-API-Key");
	char msg[160], new_key[CV_APIKEY_LEN], new_id[CV_APIKEY_ID_LEN];
	long long grace;
	json_t *p = NULL;

	if (grace_period(req, &grace, msg, sizeof msg) != 0) {
		*status = 400;
		*body_out = error_body(msg);
		return;
	}
	/* Active keys only: a key living on in the grace table may not
	 * rotate again. */
	if (key && *key)
		cv_auth_lookup_key(a, s, key, false, now_us, &p);
	if (!p) {
		*status = 401;
		*body_out = error_body("Unauthorized");
		return;
	}
	if (strcmp(cv_json_str(p, "role", ""), "admin") != 0) {
		json_decref(p);
		*status = 403;
		*body_out = error_body("Only admin can rotate keys");
		return;
	}
	if (!s || rotate_store(s, key, p, now_us, now_us + grace * 1000000,
	    new_id, new_key) != CV_OK) {
		json_decref(p);
		*status = 500;
		*body_out = error_body("Internal server error");
		return;
	}
	rotation_event(s, p, grace);
	*status = 200;
	*body_out = rotation_body(new_id, new_key, p, grace);
	OPENSSL_cleanse(new_key, sizeof new_key);
	json_decref(p);
}
