/* test_auth.c - key registry, scopes, the route check and its audit events,
 * tenants, the grace table, key rotation and bearer tokens (http-api.md 3,
 * decisions.md D-1), against a real SQLite file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apikeys.h"
#include "auth.h"
#include "clock.h"
#include "db.h"
#include "eventlog.h"
#include "jsonx.h"
#include "store.h"

#define KEYS "k-admin:admin:alice:team-a," \
	" k-view:viewer:victor:team-a:risk.read ," \
	"k-op:operator:otto::risk.*,k-short:viewer," \
	"k-multi:operator:mia:team-b:risk.read|agents.write," \
	"k-adm2:admin:root,k-dup:viewer:first,k-dup:operator:second," \
	"k-star:viewer:sam:team-c:*,k-adm3:admin:ada:team-z:admin.*"

#define SECRET "0123456789abcdef0123456789abcdef-secret"

struct fixture {
	char dir[64];
	char path[128];
	char pem_rsa[128];
	char pem_ec[128];
	struct cv_store *s;
	struct cv_auth *a;
	EVP_PKEY *rsa;
	EVP_PKEY *ec;
};

static struct fixture *F;

static void write_pubkey(EVP_PKEY *k, const char *path)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(PEM_write_PUBKEY(f, k), 1);
	fclose(f);
}

static struct cv_auth *auth_with(const char *keys, bool enabled,
    enum cv_auth_mode mode, const char *secret, const char *pem)
{
	struct cv_config c = { 0 };
	char err[256];
	struct cv_auth *a;

	c.auth_required = enabled;
	c.api_keys = (char *)keys;
	c.auth_mode = mode;
	c.jwt_secret = (char *)secret;
	c.jwt_public_key_path = (char *)pem;
	c.jwt_issuer = (char *)"https://idp.example";
	c.jwt_audience = (char *)"converge";
	c.jwt_leeway = 60;
	a = cv_auth_new(&c, err, sizeof err);
	assert_non_null(a);
	return a;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);

	snprintf(f->dir, sizeof f->dir, "/tmp/cv-auth-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof f->path, "%s/state.db", f->dir);
	snprintf(f->pem_rsa, sizeof f->pem_rsa, "%s/rsa.pem", f->dir);
	snprintf(f->pem_ec, sizeof f->pem_ec, "%s/ec.pem", f->dir);
	struct cv_store_options o = { CV_BACKEND_SQLITE, f->path, NULL, 0 };
	if (cv_store_open(&o, &f->s, NULL) != CV_OK)
		return -1;
	f->rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	f->ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	write_pubkey(f->rsa, f->pem_rsa);
	write_pubkey(f->ec, f->pem_ec);
	f->a = auth_with(KEYS, true, CV_AUTH_API_KEY, NULL, NULL);
	F = f;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char p[256];

	cv_auth_free(f->a);
	cv_store_close(f->s);
	EVP_PKEY_free(f->rsa);
	EVP_PKEY_free(f->ec);
	static const char *suffix[] = { "", "-wal", "-shm", ".lock" };
	for (size_t i = 0; i < 4; i++) {
		snprintf(p, sizeof p, "%s%s", f->path, suffix[i]);
		unlink(p);
	}
	unlink(f->pem_rsa);
	unlink(f->pem_ec);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* A request from CGI variables; env must outlive it. */
struct req {
	char *env[8];
	char buf[8][2048];
	struct cv_request r;
};

static void req_init(struct req *q, const char *method, const char *path,
    const char *key, const char *authz, const char *body)
{
	int n = 0;

	memset(q, 0, sizeof *q);
	snprintf(q->buf[n], sizeof q->buf[n], "REQUEST_METHOD=%s", method);
	q->env[n] = q->buf[n], n++;
	snprintf(q->buf[n], sizeof q->buf[n], "DOCUMENT_URI=%s", path);
	q->env[n] = q->buf[n], n++;
	if (key) {
		snprintf(q->buf[n], sizeof q->buf[n], "HTTP_X_API_KEY=%s", key);
		q->env[n] = q->buf[n], n++;
	}
	if (authz) {
		snprintf(q->buf[n], sizeof q->buf[n], "HTTP_AUTHORIZATION=%s",
		    authz);
		q->env[n] = q->buf[n], n++;
	}
	assert_int_equal(cv_request_init(&q->r, q->env), CV_OK);
	if (body) {
		q->r.body = strdup(body);
		q->r.body_len = strlen(body);
		assert_int_equal(cv_request_parse_json(&q->r), CV_OK);
	}
}

static void assert_json_eq(const json_t *got, const char *want)
{
	json_t *w = json_loads(want, JSON_DECODE_ANY, NULL);
	char *g = cv_json_dump(got);

	assert_non_null(w);
	if (!json_equal(w, (json_t *)got))
		fail_msg("got %s, want %s", g ? g : "NULL", want);
	free(g);
	json_decref(w);
}

static long long count_events(const char *type)
{
	const char *names[] = { "event_type" };
	const char *values[] = { type };
	long long n = -1;

	assert_int_equal(cv_event_count(F->s, names, values, 1, &n, NULL),
	    CV_OK);
	return n;
}

/* ---- registry ------------------------------------------------------------ */

static void test_registry(void **state)
{
	struct fixture *f = *state;
	static const struct { const char *key, *want; } rows[] = {
		{ "k-admin", "{\"role\":\"admin\",\"actor\":\"alice\","
		    "\"tenant\":\"team-a\",\"scopes\":null,\"key_prefix\":\"k-ad\"}" },
		{ "k-view", "{\"role\":\"viewer\",\"actor\":\"victor\","
		    "\"tenant\":\"team-a\",\"scopes\":\"risk.read\","
		    "\"key_prefix\":\"k-vi\"}" },
		{ "k-op", "{\"role\":\"operator\",\"actor\":\"otto\","
		    "\"tenant\":\"\",\"scopes\":\"risk.*\",\"key_prefix\":\"k-op\"}" },
		{ "k-multi", "{\"role\":\"operator\",\"actor\":\"mia\","
		    "\"tenant\":\"team-b\",\"scopes\":\"risk.read|agents.write\","
		    "\"key_prefix\":\"k-mu\"}" },
		{ "k-adm2", "{\"role\":\"admin\",\"actor\":\"root\","
		    "\"tenant\":null,\"scopes\":null,\"key_prefix\":\"k-ad\"}" },
		{ "k-dup", "{\"role\":\"operator\",\"actor\":\"second\","
		    "\"tenant\":null,\"scopes\":null,\"key_prefix\":\"k-du\"}" },
		{ "k-short", NULL },          /* fewer than 3 parts: skipped */
		{ "k-admin:admin:alice", NULL },
		{ "nope", NULL },
		{ "K-ADMIN", NULL },
	};

	assert_int_equal(cv_auth_key_count(f->a), 8);
	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		json_t *p = NULL;
		assert_int_equal(cv_auth_lookup_key(f->a, f->s, rows[i].key,
		    true, cv_now_us(), &p), CV_OK);
		if (!rows[i].want)
			assert_null(p);
		else
			assert_json_eq(p, rows[i].want);
		json_decref(p);
	}
}

static void test_role_rank(void **state)
{
	static const struct { const char *role; int rank; } rows[] = {
		{ "viewer", 0 }, { "operator", 1 }, { "admin", 2 },
		{ "Admin", -1 }, { "", -1 }, { NULL, -1 }, { "root", -1 },
	};

	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++)
		assert_int_equal(cv_role_rank(rows[i].role), rows[i].rank);
}

static void test_scopes(void **state)
{
	static const struct { const char *have, *need; bool ok; } rows[] = {
		{ NULL, "risk.read", true },
		{ "*", "admin", true },
		{ "risk.read", "risk.read", true },
		{ "risk.read", "risk.write", false },
		{ "risk.*", "risk.write", true },
		{ "risk.*", "riskx.write", false },
		{ "agents.*", "agents.admin", true },
		{ "admin.*", "admin", true },
		{ "admin", "admin", true },
		{ "admin", "agents.admin", false },
		{ "risk.read,risk.write", "risk.write", true },
		{ "risk.read|agents.write", "agents.write", true },
		{ " risk.read | queue.read ", "queue.read", true },
		{ "", "risk.read", false },
		{ "risk", "risk.read", false },
		{ "intents.read", NULL, false },
		{ "*", NULL, true },
		{ NULL, NULL, true },
		{ "intents.read", "intents.write", false },
		{ "intents.*", "intents.write", true },
		{ "risk.read*", "risk.read", false },
	};

	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++)
		if (cv_scope_allows(rows[i].have, rows[i].need) != rows[i].ok)
			fail_msg("row %zu: %s vs %s", i, rows[i].have,
			    rows[i].need);
}

/* ---- the route check ----------------------------------------------------- */

static void test_authorize(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *method, *path, *key, *role, *scope;
		int status;
		const char *error, *reason, *event, *tenant;
	} rows[] = {
		{ "GET", "/v1/intents", NULL, "viewer", NULL, 401,
		    "Unauthorized", "no_api_key", "access.denied", NULL },
		{ "GET", "/v1/intents", "", "viewer", NULL, 401,
		    "Unauthorized", "no_api_key", "access.denied", NULL },
		{ "GET", "/api/intents", "wrong", "viewer", NULL, 401,
		    "Unauthorized", "invalid_key", "access.denied", NULL },
		{ "POST", "/v1/risk/policy", "k-view", "operator", "risk.write",
		    401, "Unauthorized", "insufficient_role", "access.denied",
		    "team-a" },
		{ "GET", "/v1/risk/score", "k-view", "viewer", "risk.read", 200,
		    "", "", NULL, NULL },
		{ "GET", "/v1/queue/state", "k-view", "viewer", "queue.read",
		    403, "Missing scope: queue.read", "missing_scope:queue.read",
		    "access.denied", "team-a" },
		{ "POST", "/v1/risk/policy", "k-op", "operator", "risk.write",
		    200, "", "", "access.granted", "" },
		{ "POST", "/v1/agents/x/policy", "k-multi", "operator",
		    "agents.write", 200, "", "", "access.granted", "team-b" },
		{ "POST", "/v1/auth/keys/rotate", "k-adm3", "admin", "admin",
		    200, "", "", "access.granted", "team-z" },
		{ "POST", "/v1/auth/keys/rotate", "k-star", "admin", "admin",
		    401, "Unauthorized", "insufficient_role", "access.denied",
		    "team-c" },
		{ "GET", "/v1/compliance/report", "k-star", "viewer",
		    "compliance.read", 200, "", "", NULL, NULL },
		{ "GET", "/v1/anything", "k-admin", "admin", "admin", 200, "",
		    "", NULL, NULL },
	};

	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		struct req q;
		json_t *p = NULL, *last;
		int status;
		char error[128], reason[128];
		long long before = rows[i].event ? count_events(rows[i].event)
		    : 0;
		long long granted = count_events("access.granted");
		long long denied = count_events("access.denied");

		req_init(&q, rows[i].method, rows[i].path, rows[i].key, NULL,
		    NULL);
		enum cv_auth_result r = cv_authorize(f->a, f->s, &q.r,
		    rows[i].role, rows[i].scope, &p, &status, error,
		    sizeof error, reason, sizeof reason);
		assert_int_equal(r, rows[i].status == 200 ? CV_AUTH_GRANTED :
		    CV_AUTH_DENIED);
		assert_int_equal(status, rows[i].status);
		assert_string_equal(error, rows[i].error);
		assert_string_equal(reason, rows[i].reason);
		assert_int_equal(p != NULL, rows[i].status == 200);
		if (!rows[i].event) {
			assert_int_equal(count_events("access.granted"),
			    granted);
			assert_int_equal(count_events("access.denied"), denied);
		} else {
			struct cv_event_filter flt = { .event_type =
			    rows[i].event, .limit = 1 };
			assert_int_equal(count_events(rows[i].event),
			    before + 1);
			json_t *evs = cv_event_query(f->s, &flt);
			last = json_array_get(evs, 0);
			json_t *pl = json_object_get(last, "payload");
			assert_string_equal(cv_json_str(pl, "method", "?"),
			    rows[i].method);
			assert_string_equal(cv_json_str(pl, "path", "?"),
			    rows[i].path);
			assert_string_equal(cv_json_str(pl, "reason", "?"),
			    rows[i].reason);
			/* a key that matched is named by its id, never by
			 * its text */
			const char *kid = cv_json_str(pl, "key_id", NULL);
			assert_int_equal(json_object_size(pl), kid ? 6 : 5);
			if (kid) {
				assert_int_equal(strncmp(kid, "env-", 4), 0);
				assert_null(strstr(kid, rows[i].key));
			}
			if (rows[i].tenant)
				assert_string_equal(cv_json_str(last,
				    "tenant_id", "?"), rows[i].tenant);
			else
				assert_true(json_is_null(json_object_get(last,
				    "tenant_id")));
			if (!p && !rows[i].tenant) {
				assert_string_equal(cv_json_str(pl, "actor",
				    "?"), "");
				assert_string_equal(cv_json_str(pl, "role",
				    "?"), "");
			}
			json_decref(evs);
		}
		json_decref(p);
		cv_request_free(&q.r);
	}
}

static void test_auth_disabled(void **state)
{
	struct fixture *f = *state;
	struct cv_auth *a = auth_with(KEYS, false, CV_AUTH_API_KEY, NULL, NULL);
	static const struct { const char *method, *key, *role, *scope; } rows[] = {
		{ "GET", NULL, "viewer", NULL },
		{ "POST", "bogus", "admin", "admin" },
		{ "POST", "k-view", "operator", "risk.write" },
	};
	long long before = count_events("access.granted") +
	    count_events("access.denied");

	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		struct req q;
		json_t *p;
		int status;
		char error[64], reason[64];
		req_init(&q, rows[i].method, "/v1/x", rows[i].key, NULL, NULL);
		assert_int_equal(cv_authorize(a, f->s, &q.r, rows[i].role,
		    rows[i].scope, &p, &status, error, sizeof error, reason,
		    sizeof reason), CV_AUTH_GRANTED);
		assert_json_eq(p, "{\"role\":\"admin\",\"actor\":\"anonymous\","
		    "\"tenant\":null}");
		json_decref(p);
		cv_request_free(&q.r);
	}
	assert_int_equal(count_events("access.granted") +
	    count_events("access.denied"), before);
	cv_auth_free(a);
}

/* ---- tenants ------------------------------------------------------------- */

static void test_tenant_read(void **state)
{
	static const struct { const char *principal, *query, *want; } rows[] = {
		{ "{\"tenant\":\"team-a\"}", "team-b", "team-a" },
		{ "{\"tenant\":\"team-a\"}", NULL, "team-a" },
		{ "{\"tenant\":\"\"}", "team-b", "team-b" },
		{ "{\"tenant\":null}", "team-b", "team-b" },
		{ "{\"tenant\":null}", NULL, NULL },
		{ "{\"tenant\":null}", "", NULL },
		{ "{\"role\":\"admin\",\"tenant\":\"t\"}", "u", "t" },
	};

	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		json_t *p = json_loads(rows[i].principal, 0, NULL);
		const char *got = cv_tenant_effective_read(p, rows[i].query);
		if (!rows[i].want)
			assert_null(got);
		else
			assert_string_equal(got, rows[i].want);
		json_decref(p);
	}
}

static void test_tenant_write(void **state)
{
	static const struct {
		const char *principal, *requested;
		int code;
		const char *effective, *error;
	} rows[] = {
		{ "{\"role\":\"operator\",\"tenant\":\"a\"}", NULL, 0, "a", NULL },
		{ "{\"role\":\"operator\",\"tenant\":\"a\"}", "a", 0, "a", NULL },
		{ "{\"role\":\"operator\",\"tenant\":\"a\"}", "b", 403, "b",
		    "Forbidden: cannot access another tenant" },
		{ "{\"role\":\"admin\",\"tenant\":\"a\"}", "b", 0, "b", NULL },
		{ "{\"role\":\"operator\",\"tenant\":null}", NULL, 400, NULL,
		    "tenant_id required" },
		{ "{\"role\":\"operator\",\"tenant\":\"\"}", "", 400, NULL,
		    "tenant_id required" },
		{ "{\"role\":\"viewer\",\"tenant\":null}", "z", 0, "z", NULL },
		{ "{\"role\":\"admin\",\"actor\":\"anonymous\",\"tenant\":null}",
		    "z", 0, "z", NULL },
	};

	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		json_t *p = json_loads(rows[i].principal, 0, NULL);
		const char *eff, *err;
		assert_int_equal(cv_tenant_enforce_write(p, rows[i].requested,
		    &eff, &err), rows[i].code);
		if (rows[i].effective)
			assert_string_equal(eff, rows[i].effective);
		else
			assert_null(eff);
		if (rows[i].error)
			assert_string_equal(err, rows[i].error);
		else
			assert_null(err);
		json_decref(p);
	}
}

/* ---- rotation and the grace table ---------------------------------------- */

static void test_new_key(void **state)
{
	char k1[44], k2[44];

	(void)state;
	assert_int_equal(cv_auth_new_key(k1), 0);
	assert_int_equal(cv_auth_new_key(k2), 0);
	assert_int_equal(strlen(k1), 43);
	assert_int_equal(strspn(k1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
	    "opqrstuvwxyz0123456789-_"), 43);
	assert_string_not_equal(k1, k2);
}

static void test_rotate_validation(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *key, *body;
		int status;
		const char *error;
	} rows[] = {
		{ "k-adm2", NULL, 400, "body: Field required" },
		{ "k-adm2", "[]", 400, "body: Input should be a valid dictionary "
		    "or object to extract fields from" },
		{ "k-adm2", "{\"grace_period_seconds\":59}", 400,
		    "body.grace_period_seconds: Input should be greater than or "
		    "equal to 60" },
		{ "k-adm2", "{\"grace_period_seconds\":86401}", 400,
		    "body.grace_period_seconds: Input should be less than or "
		    "equal to 86400" },
		{ "k-adm2", "{\"grace_period_seconds\":\"x\"}", 400,
		    "body.grace_period_seconds: Input should be a valid integer" },
		{ "k-adm2", "{\"grace_period_seconds\":90.5}", 400,
		    "body.grace_period_seconds: Input should be a valid integer" },
		{ NULL, "{}", 401, "Unauthorized" },
		{ "unknown", "{}", 401, "Unauthorized" },
		{ "k-op", "{}", 403, "Only admin can rotate keys" },
	};

	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		struct req q;
		json_t *body;
		int status;
		req_init(&q, "POST", "/v1/auth/keys/rotate", rows[i].key, NULL,
		    rows[i].body);
		cv_auth_rotate_key(f->a, f->s, &q.r, cv_now_us(), &status,
		    &body);
		assert_int_equal(status, rows[i].status);
		assert_string_equal(cv_json_str(body, "error", "?"),
		    rows[i].error);
		json_decref(body);
		cv_request_free(&q.r);
	}
}

static void test_rotate_and_grace(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *body;
		long long grace;
		int64_t probe_s;   /* seconds after rotation */
		bool valid;
	} rows[] = {
		{ "{}", 3600, 3599, true },
		{ "{}", 3600, 3600, false },
		{ "{\"grace_period_seconds\":60}", 60, 30, true },
		{ "{\"grace_period_seconds\":60.0}", 60, 61, false },
		{ "{\"grace_period_seconds\":86400}", 86400, 86399, true },
	};
	/* The registry after the operator's restart: the old key is gone. */
	struct cv_auth *after = auth_with("k-new:viewer:nobody", true,
	    CV_AUTH_API_KEY, NULL, NULL);
	const int64_t t0 = 1900000000LL * 1000000;

	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		struct req q;
		json_t *body, *p = NULL;
		int status;
		long long before = count_events("access.key_rotated");

		/* each row rotates the environment key afresh */
		assert_int_equal(cv_db_exec(f->s, "DELETE FROM api_keys", NULL,
		    0, NULL), CV_OK);
		req_init(&q, "POST", "/v1/auth/keys/rotate", "k-adm3", NULL,
		    rows[i].body);
		cv_auth_rotate_key(f->a, f->s, &q.r, t0, &status, &body);
		assert_int_equal(status, 200);
		assert_int_equal(strlen(cv_json_str(body, "new_key", "")), 47);
		assert_int_equal(strncmp(cv_json_str(body, "new_key", ""),
		    "cvk_", 4), 0);
		/* the new key works at once, in this registry too */
		assert_int_equal(cv_auth_lookup_key(f->a, f->s, cv_json_str(body,
		    "new_key", ""), false, t0, &p), CV_OK);
		assert_non_null(p);
		assert_string_equal(cv_json_str(p, "key_id", ""),
		    cv_json_str(body, "id", "-"));
		json_decref(p);
		p = NULL;
		json_object_del(body, "new_key");
		json_object_del(body, "id");
		char want[1024];
		snprintf(want, sizeof want, "{\"actor\":\"ada\",\"role\":\"admin\","
		    "\"tenant\":\"team-z\",\"scopes\":\"admin.*\","
		    "\"grace_period_seconds\":%lld,\"note\":\"%s\"}",
		    rows[i].grace, CV_ROTATION_NOTE);
		assert_json_eq(body, want);
		assert_int_equal(count_events("access.key_rotated"), before + 1);
		json_decref(body);
		cv_request_free(&q.r);

		/* the grace table authenticates the old key */
		assert_int_equal(cv_auth_lookup_key(after, f->s, "k-adm3", true,
		    t0 + rows[i].probe_s * 1000000, &p), CV_OK);
		assert_int_equal(p != NULL, rows[i].valid);
		if (p)
			assert_json_eq(p, "{\"role\":\"admin\",\"actor\":\"ada\","
			    "\"tenant\":\"team-z\",\"scopes\":\"admin.*\","
			    "\"key_prefix\":\"k-ad\"}");
		json_decref(p);
		long long rowsleft = -1;
		assert_int_equal(cv_db_scalar_int(f->s, "SELECT COUNT(*) FROM"
		    " api_key_grace", NULL, 0, &rowsleft), CV_OK);
		assert_int_equal(rowsleft, rows[i].valid ? 1 : 0);
		/* but never the primary-only re-check of a rotation */
		req_init(&q, "POST", "/v1/auth/keys/rotate", "k-adm3", NULL,
		    "{}");
		cv_auth_rotate_key(after, f->s, &q.r, t0, &status, &body);
		assert_int_equal(status, 401);
		json_decref(body);
		cv_request_free(&q.r);
	}
	cv_auth_free(after);
}

/* ---- bearer tokens ------------------------------------------------------- */

enum signer { SIGN_SECRET, SIGN_RSA, SIGN_EC, SIGN_PEM_AS_SECRET, SIGN_NONE,
    SIGN_OTHER_SECRET };

static char *private_pem(EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *out;
	long n;

	PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
	n = BIO_get_mem_data(b, &data);
	out = strndup(data, (size_t)n);
	BIO_free(b);
	return out;
}

static char *file_text(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 8192);
	size_t n = fread(buf, 1, 8191, f);

	buf[n] = '\0';
	fclose(f);
	return buf;
}

static char *make_token(enum signer how, jwt_alg_t alg, const char *claims)
{
	jwt_t *jwt = NULL;
	char *key = NULL, *tok;
	const char *k = NULL;

	assert_int_equal(jwt_new(&jwt), 0);
	assert_int_equal(jwt_add_grants_json(jwt, claims), 0);
	switch (how) {
	case SIGN_SECRET: k = SECRET; break;
	case SIGN_OTHER_SECRET: k = "another-secret-of-at-least-32-bytes!!"; break;
	case SIGN_RSA: k = key = private_pem(F->rsa); break;
	case SIGN_EC: k = key = private_pem(F->ec); break;
	case SIGN_PEM_AS_SECRET: k = key = file_text(F->pem_rsa); break;
	case SIGN_NONE: k = NULL; break;
	}
	assert_int_equal(jwt_set_alg(jwt, alg, (const unsigned char *)k,
	    k ? (int)strlen(k) : 0), 0);
	tok = jwt_encode_str(jwt);
	assert_non_null(tok);
	jwt_free(jwt);
	free(key);
	return tok;
}

/* Claims with times relative to now; a NULL offset leaves the claim out. */
static void claims_at(char *out, size_t n, int64_t now, const int *exp,
    const int *nbf, const int *iat, const char *rest)
{
	int o = snprintf(out, n, "{%s", rest);

	if (exp)
		o += snprintf(out + o, n - (size_t)o, ",\"exp\":%lld",
		    (long long)(now + *exp));
	if (nbf)
		o += snprintf(out + o, n - (size_t)o, ",\"nbf\":%lld",
		    (long long)(now + *nbf));
	if (iat)
		o += snprintf(out + o, n - (size_t)o, ",\"iat\":%lld",
		    (long long)(now + *iat));
	snprintf(out + o, n - (size_t)o, "}");
}

#define STD "\"sub\":\"svc-1\",\"role\":\"operator\",\"tenant\":\"team-a\"," \
	"\"scope\":\"risk.read risk.write\",\"iss\":\"https://idp.example\"," \
	"\"aud\":\"converge\""
#define STD_P "{\"role\":\"operator\",\"actor\":\"svc-1\",\"tenant\":\"team-a\"," \
	"\"scopes\":\"risk.read risk.write\",\"key_prefix\":null}"

static const int P300 = 300, M30 = -30, M59 = -59, M61 = -61, P30 = 30,
    P90 = 90, M10 = -10;

static void test_tokens(void **state)
{
	struct fixture *f = *state;
	struct cv_auth *hs = auth_with(NULL, true, CV_AUTH_JWT, SECRET, NULL);
	struct cv_auth *rs = auth_with(NULL, true, CV_AUTH_JWT, NULL,
	    f->pem_rsa);
	struct cv_auth *es = auth_with(NULL, true, CV_AUTH_JWT, NULL,
	    f->pem_ec);
	struct cv_auth *both = auth_with(NULL, true, CV_AUTH_JWT, SECRET,
	    f->pem_rsa);
	static const struct {
		int verifier;              /* 0 hs, 1 rs, 2 es, 3 both */
		enum signer how;
		jwt_alg_t alg;
		const int *exp, *nbf, *iat;
		const char *rest;
		const char *want;          /* principal JSON or a reason */
	} rows[] = {
		{ 0, SIGN_SECRET, JWT_ALG_HS256, &P300, NULL, &M10, STD, STD_P },
		{ 1, SIGN_RSA, JWT_ALG_RS256, &P300, NULL, NULL, STD, STD_P },
		{ 2, SIGN_EC, JWT_ALG_ES256, &P300, NULL, NULL, STD, STD_P },
		{ 3, SIGN_SECRET, JWT_ALG_HS256, &P300, NULL, NULL, STD, STD_P },
		{ 3, SIGN_RSA, JWT_ALG_RS256, &P300, NULL, NULL, STD, STD_P },
		/* algorithm confusion and downgrades */
		{ 1, SIGN_PEM_AS_SECRET, JWT_ALG_HS256, &P300, NULL, NULL, STD,
		    "invalid_token" },
		{ 3, SIGN_PEM_AS_SECRET, JWT_ALG_HS256, &P300, NULL, NULL, STD,
		    "invalid_token" },
		{ 0, SIGN_NONE, JWT_ALG_NONE, &P300, NULL, NULL, STD,
		    "invalid_token" },
		{ 1, SIGN_NONE, JWT_ALG_NONE, &P300, NULL, NULL, STD,
		    "invalid_token" },
		{ 0, SIGN_RSA, JWT_ALG_RS256, &P300, NULL, NULL, STD,
		    "invalid_token" },
		{ 1, SIGN_EC, JWT_ALG_ES256, &P300, NULL, NULL, STD,
		    "invalid_token" },
		{ 2, SIGN_RSA, JWT_ALG_RS256, &P300, NULL, NULL, STD,
		    "invalid_token" },
		{ 0, SIGN_SECRET, JWT_ALG_HS512, &P300, NULL, NULL, STD,
		    "invalid_token" },
		{ 0, SIGN_OTHER_SECRET, JWT_ALG_HS256, &P300, NULL, NULL, STD,
		    "invalid_token" },
		/* times, with 60 s leeway */
		{ 0, SIGN_SECRET, JWT_ALG_HS256, NULL, NULL, NULL, STD,
		    "invalid_token" },
		{ 0, SIGN_SECRET, JWT_ALG_HS256, &M30, NULL, NULL, STD, STD_P },
		{ 0, SIGN_SECRET, JWT_ALG_HS256, &M59, NULL, NULL, STD, STD_P },
		{ 0, SIGN_SECRET, JWT_ALG_HS256, &M61, NULL, NULL, STD,
		    "expired_token" },
		{ 0, SIGN_SECRET, JWT_ALG_HS256, &P300, &P30, NULL, STD, STD_P },
		{ 0, SIGN_SECRET, JWT_ALG_HS256, &P300, &P90, NULL, STD,
		    "invalid_token" },
		{ 0, SIGN_SECRET, JWT_ALG_HS256, &P300, NULL, &P90, STD,
		    "invalid_token" },
		/* issuer, audience, subject */
		{ 0, SIGN_SECRET, JWT_ALG_HS256, &P300, NULL, NULL,
		    "\"sub\":\"s\",\"role\":\"viewer\",\"iss\":\"https://idp."
		    "example\",\"aud\":[\"other\",\"converge\"]",
		    "{\"role\":\"viewer\",\"actor\":\"s\",\"tenant\":null,"
		    "\"scopes\":null,\"key_prefix\":null}" },
		{ 0, SIGN_SECRET, JWT_ALG_HS256, &P300, NULL, NULL,
		    "\"sub\":\"s\",\"iss\":\"https://idp.example\","
		    "\"aud\":[\"other\"]", "invalid_token" },
		{ 0, SIGN_SECRET, JWT_ALG_HS256, &P300, NULL, NULL,
		    "\"sub\":\"s\",\"iss\":\"https://evil.example\","
		    "\"aud\":\"converge\"", "invalid_token" },
		{ 0, SIGN_SECRET, JWT_ALG_HS256, &P300, NULL, NULL,
		    "\"sub\":\"s\",\"aud\":\"converge\"", "invalid_token" },
		{ 0, SIGN_SECRET, JWT_ALG_HS256, &P300, NULL, NULL,
		    "\"role\":\"admin\",\"iss\":\"https://idp.example\","
		    "\"aud\":\"converge\"", "invalid_token" },
	};
	struct cv_auth *v[] = { hs, rs, es, both };
	int64_t now = (int64_t)time(NULL);

	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		char claims[1024];
		json_t *p = NULL;
		const char *reason = NULL;
		claims_at(claims, sizeof claims, now, rows[i].exp, rows[i].nbf,
		    rows[i].iat, rows[i].rest);
		char *tok = make_token(rows[i].how, rows[i].alg, claims);
		cv_auth_verify_token(v[rows[i].verifier], tok, now, &p,
		    &reason);
		if (rows[i].want[0] == '{') {
			if (!p)
				fail_msg("row %zu refused: %s", i, reason);
			assert_json_eq(p, rows[i].want);
		} else {
			if (p)
				fail_msg("row %zu accepted", i);
			assert_string_equal(reason, rows[i].want);
		}
		json_decref(p);
		free(tok);
	}
	/* garbage */
	static const char *junk[] = { "", "a.b", "a.b.c.d", "!!.??.xx",
	    "eyJhbGciOiJIUzI1NiJ9.e30.", "e30.e30.e30" };
	for (size_t i = 0; i < CV_ARRAY_LEN(junk); i++) {
		json_t *p = NULL;
		const char *reason = NULL;
		cv_auth_verify_token(hs, junk[i], now, &p, &reason);
		assert_null(p);
		assert_string_equal(reason, "invalid_token");
	}
	for (size_t i = 0; i < CV_ARRAY_LEN(v); i++)
		cv_auth_free(v[i]);
}

static void test_modes(void **state)
{
	struct fixture *f = *state;
	int p300 = 300;
	char claims[512];
	claims_at(claims, sizeof claims, (int64_t)time(NULL), &p300, NULL, NULL,
	    STD);
	char *tok = make_token(SIGN_SECRET, JWT_ALG_HS256, claims);
	char bearer[1024];
	snprintf(bearer, sizeof bearer, "Bearer %s", tok);
	struct cv_auth *m[] = {
		auth_with(KEYS, true, CV_AUTH_API_KEY, SECRET, NULL),
		auth_with(KEYS, true, CV_AUTH_JWT, SECRET, NULL),
		auth_with(KEYS, true, CV_AUTH_HYBRID, SECRET, NULL),
	};
	static const struct {
		int mode;
		const char *key;
		bool bearer;
		const char *actor;        /* NULL: refused */
		const char *reason;
	} rows[] = {
		{ 0, NULL, true, NULL, "no_api_key" },   /* Authorization ignored */
		{ 0, "k-op", true, "otto", NULL },
		{ 1, "k-op", false, NULL, "invalid_token" },
		{ 1, NULL, true, "svc-1", NULL },
		{ 2, "k-op", true, "otto", NULL },       /* key wins */
		{ 2, "bad", true, NULL, "invalid_key" },
		{ 2, NULL, true, "svc-1", NULL },
		{ 2, NULL, false, NULL, "no_api_key" },
	};

	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		struct req q;
		json_t *p;
		const char *reason;
		req_init(&q, "GET", "/v1/whoami", rows[i].key,
		    rows[i].bearer ? bearer : NULL, NULL);
		cv_auth_identify(m[rows[i].mode], f->s, &q.r, cv_now_us(), &p,
		    &reason);
		if (rows[i].actor) {
			assert_non_null(p);
			assert_string_equal(cv_json_str(p, "actor", ""),
			    rows[i].actor);
			assert_null(reason);
		} else {
			assert_null(p);
			assert_string_equal(reason, rows[i].reason);
		}
		json_decref(p);
		cv_request_free(&q.r);
	}
	for (size_t i = 0; i < CV_ARRAY_LEN(m); i++)
		cv_auth_free(m[i]);
	free(tok);
}

/* ---- keys in the database (D-10) ---------------------------------------- */

/* The principal a key gets from a fresh registry (another process), or
 * NULL. */
static json_t *lookup_elsewhere(const char *key, int64_t now)
{
	struct cv_auth *other = auth_with("k-x:viewer:x", true,
	    CV_AUTH_API_KEY, NULL, NULL);
	json_t *p = NULL;

	assert_int_equal(cv_auth_lookup_key(other, F->s, key, true, now, &p),
	    CV_OK);
	cv_auth_free(other);
	return p;
}

static void test_db_keys(void **state)
{
	struct fixture *f = *state;
	const int64_t t0 = 1950000000LL * 1000000;
	struct cv_apikey_spec spec = { "operator", "olga", "team-o",
	    "intents.read|events.read", t0 + 86400LL * 1000000 };
	char id[CV_APIKEY_ID_LEN], key[CV_APIKEY_LEN];
	char id2[CV_APIKEY_ID_LEN], key2[CV_APIKEY_LEN], *text;
	json_t *p, *list;
	bool found;
	long long n;

	assert_int_equal(cv_db_exec(f->s, "DELETE FROM api_keys", NULL, 0,
	    NULL), CV_OK);
	assert_int_equal(cv_apikey_create(f->s, &spec, t0, id, key), CV_OK);
	assert_int_equal(strncmp(key, "cvk_", 4), 0);
	assert_int_equal(strlen(key), 47);
	assert_int_equal(strncmp(id, "key_", 4), 0);
	/* the digest only: the key's text is nowhere in the table */
	list = cv_apikey_list(f->s, t0);
	text = json_dumps(list, 0);
	assert_null(strstr(text, key + 8));
	assert_non_null(strstr(text, "\"status\": \"active\""));
	free(text);
	json_decref(list);
	assert_int_equal(cv_db_scalar_int(f->s, "SELECT COUNT(*) FROM api_keys"
	    " WHERE key_sha256 LIKE '%' || ? || '%'", (struct cv_param[]){
	    CV_TEXT(key + 4) }, 1, &n), CV_OK);
	assert_int_equal(n, 0);

	p = lookup_elsewhere(key, t0);
	assert_non_null(p);
	assert_string_equal(cv_json_str(p, "role", ""), "operator");
	assert_string_equal(cv_json_str(p, "tenant", ""), "team-o");
	assert_string_equal(cv_json_str(p, "key_id", ""), id);
	json_decref(p);
	/* expiry */
	assert_null(lookup_elsewhere(key, t0 + 86401LL * 1000000));

	/* rotation: the new key at once, the old one during the grace */
	assert_int_equal(cv_apikey_rotate(f->s, id, 60, t0, id2, key2,
	    &found), CV_OK);
	assert_true(found);
	p = lookup_elsewhere(key2, t0);
	assert_string_equal(cv_json_str(p, "actor", ""), "olga");
	json_decref(p);
	p = lookup_elsewhere(key, t0 + 30 * 1000000);
	assert_string_equal(cv_json_str(p, "key_id", ""), id);
	json_decref(p);
	assert_null(lookup_elsewhere(key, t0 + 61 * 1000000));
	/* a rotated key cannot rotate again */
	assert_int_equal(cv_apikey_rotate(f->s, id, 60, t0, id2, key,
	    &found), CV_OK);
	assert_false(found);

	/* revocation: refused at once, by every registry */
	assert_int_equal(cv_apikey_revoke(f->s, id2, t0, &found), CV_OK);
	assert_true(found);
	assert_null(lookup_elsewhere(key2, t0));
	assert_int_equal(cv_apikey_revoke(f->s, id2, t0, &found), CV_OK);
	assert_false(found);

	/* the refusal names the key's id, never the key */
	struct req q;
	json_t *pr = NULL;
	int status;
	char error[128], reason[128];
	req_init(&q, "GET", "/v1/intents", key2, NULL, NULL);
	assert_int_equal(cv_authorize(f->a, f->s, &q.r, "viewer", NULL, &pr,
	    &status, error, sizeof error, reason, sizeof reason),
	    CV_AUTH_DENIED);
	struct cv_event_filter flt = { .event_type = "access.denied",
	    .limit = 1 };
	json_t *evs = cv_event_query(f->s, &flt);
	json_t *pl = json_object_get(json_array_get(evs, 0), "payload");
	assert_string_equal(cv_json_str(pl, "key_id", ""), id2);
	text = json_dumps(evs, 0);
	assert_null(strstr(text, key2));
	free(text);
	json_decref(evs);
	cv_request_free(&q.r);
	assert_int_equal(cv_apikey_count_active(f->s, t0, &n), CV_OK);
	assert_int_equal(n, 0);
	assert_int_equal(cv_db_exec(f->s, "DELETE FROM api_keys", NULL, 0,
	    NULL), CV_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_role_rank),
		cmocka_unit_test(test_scopes),
		cmocka_unit_test(test_authorize),
		cmocka_unit_test(test_auth_disabled),
		cmocka_unit_test(test_tenant_read),
		cmocka_unit_test(test_tenant_write),
		cmocka_unit_test(test_new_key),
		cmocka_unit_test(test_rotate_validation),
		cmocka_unit_test(test_rotate_and_grace),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_modes),
		cmocka_unit_test(test_db_keys),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
