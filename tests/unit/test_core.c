/* test_core.c - clock, num, config, http decoding and the router. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "dbpath.h"
#include "http.h"
#include "jsonx.h"
#include "log.h"
#include "num.h"
#include "router.h"

/* CONVERGE_LOG_LEVEL's names, and a level above INFO keeps INFO lines
 * (such as the access line of every request) off stderr. */
static void test_log_level(void **state)
{
	char path[] = "/tmp/cv-test-log.XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	struct stat st;

	(void)state;
	assert_int_equal(cv_log_level_parse("DEBUG", CV_INFO), CV_DEBUG);
	assert_int_equal(cv_log_level_parse("warning", CV_INFO), CV_WARNING);
	assert_int_equal(cv_log_level_parse("Error", CV_INFO), CV_ERROR);
	assert_int_equal(cv_log_level_parse("INFO", CV_ERROR), CV_INFO);
	assert_int_equal(cv_log_level_parse("loud", CV_INFO), CV_INFO);
	assert_int_equal(cv_log_level_parse(NULL, CV_WARNING), CV_WARNING);
	assert_true(fd >= 0 && saved >= 0);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	cv_log_set_level(CV_WARNING);
	cv_log(CV_INFO, "converge.access", "dropped");
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 0);
	cv_log(CV_WARNING, "converge.test", "kept");
	cv_log_set_level(CV_INFO);
	assert_int_equal(fstat(fd, &st), 0);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
	unlink(path);
	assert_true(st.st_size > 0);
}

static void test_ts_format(void **state)
{
	static const struct { int64_t us; const char *want; } rows[] = {
		{ 0, "1970-01-01T00:00:00.000000+00:00" },
		{ 1795728130000000LL, "2026-11-26T21:22:10.000000+00:00" },
		{ 1795728130123456LL, "2026-11-26T21:22:10.123456+00:00" },
		{ 1795728130000001LL, "2026-11-26T21:22:10.000001+00:00" },
	};
	char ts[CV_TS_LEN];

	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		int64_t back;
		cv_ts_from_us(ts, rows[i].us);
		assert_string_equal(ts, rows[i].want);
		assert_int_equal(cv_ts_parse(ts, &back), 0);
		assert_int_equal(back, rows[i].us);
	}
	cv_now_ts(ts);
	assert_int_equal(strlen(ts), 32);
	assert_string_equal(ts + 26, "+00:00");
}

static void test_ts_parse_table(void **state)
{
	static const struct { const char *in; int ok; int64_t us; } rows[] = {
		{ "2026-11-26T21:22:10Z", 0, 1795728130000000LL },
		{ "2026-11-26T21:22:10", 0, 1795728130000000LL },
		{ "2026-11-26T23:22:10+02:00", 0, 1795728130000000LL },
		{ "2026-11-26T21:22:10.5+00:00", 0, 1795728130500000LL },
		{ "2026-11-26", -1, 0 },
		{ "2026-13-26T21:22:10", -1, 0 },
		{ "not a time at all!!", -1, 0 },
		{ "2026-11-26T21:22:10+0200", -1, 0 },
		{ "", -1, 0 },
	};

	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		int64_t us = 0;
		assert_int_equal(cv_ts_parse(rows[i].in, &us), rows[i].ok);
		if (rows[i].ok == 0)
			assert_int_equal(us, rows[i].us);
	}
}

static void test_ids(void **state)
{
	char a[CV_ID12_LEN], b[CV_ID12_LEN], t[CV_TRACE_LEN];

	(void)state;
	cv_id12(a);
	cv_id12(b);
	assert_int_equal(strlen(a), 12);
	assert_int_equal(strspn(a, "0123456789abcdef"), 12);
	assert_string_not_equal(a, b);
	unsetenv("CONVERGE_TRACE_ID");
	cv_trace_flow(t);
	assert_int_equal(strlen(t), 22);
	assert_memory_equal(t, "trace-", 6);
	cv_trace_generic(t);
	assert_int_equal(strlen(t), 18);
	setenv("CONVERGE_TRACE_ID", "trace-pinned", 1);
	cv_trace_flow(t);
	assert_string_equal(t, "trace-pinned");
	unsetenv("CONVERGE_TRACE_ID");
}

static void test_rounding(void **state)
{
	static const struct { double x; int n; const char *fmt; } rows[] = {
		{ 23.55, 1, "23.6" }, { 86.5, 0, "86" }, { 87.5, 0, "88" },
		{ 0.125, 2, "0.12" }, { 0.41195, 4, "0.4119" },
		{ 64.4, 1, "64.4" }, { -0.0, 1, "-0.0" },
	};
	char buf[64];

	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		cv_fmt(buf, sizeof buf, rows[i].x, rows[i].n);
		assert_string_equal(buf, rows[i].fmt);
		assert_true(cv_round(rows[i].x, rows[i].n) == strtod(rows[i].fmt,
		    NULL));
	}
	cv_num(buf, sizeof buf, 30.0);
	assert_string_equal(buf, "30.0");
	cv_num(buf, sizeof buf, 0.1);
	assert_string_equal(buf, "0.1");
	cv_num(buf, sizeof buf, 64.4);
	assert_string_equal(buf, "64.4");
}

static void test_url_decode_table(void **state)
{
	static const struct { const char *in; int plus; int err;
	    const char *out; } rows[] = {
		{ "abc", 1, CV_OK, "abc" },
		{ "a+b", 1, CV_OK, "a b" },
		{ "a+b", 0, CV_OK, "a+b" },
		{ "%41%42", 1, CV_OK, "AB" },
		{ "%e2%82%ac", 1, CV_OK, "\xe2\x82\xac" },
		{ "100%25", 1, CV_OK, "100%" },
		{ "%zz", 1, CV_EINVAL, NULL },
		{ "%", 1, CV_EINVAL, NULL },
		{ "abc%", 1, CV_EINVAL, NULL },
		{ "%a", 1, CV_EINVAL, NULL },
		{ "%4", 1, CV_EINVAL, NULL },
		{ "%00", 1, CV_EINVAL, NULL },
		{ "", 1, CV_OK, "" },
	};

	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		char *out = NULL;
		assert_int_equal(cv_url_decode(rows[i].in, strlen(rows[i].in),
		    rows[i].plus, &out), rows[i].err);
		if (rows[i].out)
			assert_string_equal(out, rows[i].out);
		else
			assert_null(out);
		free(out);
	}
}

static void test_query_table(void **state)
{
	static const struct { const char *qs; int err; const char *name;
	    const char *want; size_t n; } rows[] = {
		{ "limit=5", CV_OK, "limit", "5", 1 },
		{ "limit=5&limit=7", CV_OK, "limit", "7", 2 },
		{ "a=1&&b=2", CV_OK, "b", "2", 2 },
		{ "tenant_id=team%20a", CV_OK, "tenant_id", "team a", 1 },
		{ "flag", CV_OK, "flag", "", 1 },
		{ "x=%zz", CV_EINVAL, NULL, NULL, 0 },
		{ "", CV_OK, "missing", NULL, 0 },
	};

	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		struct cv_request r;
		memset(&r, 0, sizeof r);
		assert_int_equal(cv_query_parse(rows[i].qs, &r.params,
		    &r.nparams), rows[i].err);
		if (rows[i].err != CV_OK)
			continue;
		assert_int_equal(r.nparams, rows[i].n);
		const char *v = cv_request_query(&r, rows[i].name);
		if (rows[i].want)
			assert_string_equal(v, rows[i].want);
		else
			assert_null(v);
		cv_query_free(r.params, r.nparams);
	}
}

static void test_query_int_table(void **state)
{
	static const struct { const char *qs; int err; long long want; } rows[] = {
		{ "", CV_OK, 50 },
		{ "limit=10", CV_OK, 10 },
		{ "limit=0", CV_OK, 1 },
		{ "limit=-5", CV_OK, 1 },
		{ "limit=999999", CV_OK, 10000 },
		{ "limit=99999999999999999999", CV_OK, 10000 },
		{ "limit=abc", CV_EINVAL, 50 },
		{ "limit=1.5", CV_EINVAL, 50 },
		{ "limit=", CV_EINVAL, 50 },
	};

	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		struct cv_request r;
		long long v;
		memset(&r, 0, sizeof r);
		assert_int_equal(cv_query_parse(rows[i].qs, &r.params,
		    &r.nparams), CV_OK);
		assert_int_equal(cv_request_query_int(&r, "limit", 50, 1, 10000,
		    &v), rows[i].err);
		assert_int_equal(v, rows[i].want);
		cv_query_free(r.params, r.nparams);
	}
}

static void test_request_init(void **state)
{
	char *env[] = { "REQUEST_METHOD=POST", "REQUEST_URI=/v1/intents?x=1",
	    "QUERY_STRING=x=1", "CONTENT_TYPE=application/json",
	    "HTTP_X_API_KEY=k-1", NULL };
	struct cv_request r;

	(void)state;
	assert_int_equal(cv_request_init(&r, env), CV_OK);
	assert_string_equal(r.method, "POST");
	assert_string_equal(r.path, "/v1/intents");
	assert_string_equal(cv_request_query(&r, "x"), "1");
	assert_string_equal(cv_request_header(&r, "x-api-key"), "k-1");
	assert_null(cv_request_header(&r, "Authorization"));
	r.body = strdup("{\"a\":");
	r.body_len = strlen(r.body);
	assert_int_equal(cv_request_parse_json(&r), CV_EJSON);
	free(r.body);
	r.body = strdup("{\"a\":1}");
	r.body_len = strlen(r.body);
	assert_int_equal(cv_request_parse_json(&r), CV_OK);
	assert_true(json_is_object(r.json));
	cv_request_free(&r);
}

static void h(struct cv_ctx *ctx) { (void)ctx; }

static void test_router_table(void **state)
{
	static const struct cv_route routes[] = {
		{ "GET", "/intents", h, CV_ROUTE_PREFIXED, "viewer", NULL },
		{ "POST", "/intents", h, CV_ROUTE_PREFIXED, "operator", NULL },
		{ "GET", "/intents/{id}", h, CV_ROUTE_PREFIXED, "viewer", NULL },
		{ "GET", "/intents/{id}/events", h, CV_ROUTE_PREFIXED, "viewer", NULL },
		{ "GET", "/health", h, 0, NULL, NULL },
	};
	static const struct { const char *method, *path; int res;
	    const char *param, *allow; } rows[] = {
		{ "GET", "/v1/intents", CV_ROUTE_FOUND, NULL, NULL },
		{ "GET", "/api/intents", CV_ROUTE_FOUND, NULL, NULL },
		{ "POST", "/v1/intents", CV_ROUTE_FOUND, NULL, NULL },
		{ "DELETE", "/v1/intents", CV_ROUTE_BAD_METHOD, NULL, "GET, POST" },
		{ "GET", "/v1/intents/acme:pr-1", CV_ROUTE_FOUND, "acme:pr-1", NULL },
		{ "GET", "/v1/intents/x/events", CV_ROUTE_FOUND, "x", NULL },
		/* paths arrive still encoded; parameters come out decoded */
		{ "GET", "/v1/intents/acme%2Fapp%3Apr-1", CV_ROUTE_FOUND,
		  "acme/app:pr-1", NULL },
		{ "GET", "/v1/intents/acme%2fapp/events", CV_ROUTE_FOUND,
		  "acme/app", NULL },
		{ "GET", "/v1/intents/a%20b%zz", CV_ROUTE_FOUND, "a b%zz", NULL },
		{ "GET", "/v1/intents/nul%00", CV_ROUTE_NOT_FOUND, NULL, NULL },
		{ "GET", "/v1/intents/acme/app:pr-1", CV_ROUTE_NOT_FOUND, NULL, NULL },
		{ "GET", "/v1/intents/", CV_ROUTE_NOT_FOUND, NULL, NULL },
		{ "GET", "/intents", CV_ROUTE_NOT_FOUND, NULL, NULL },
		{ "GET", "/v2/intents", CV_ROUTE_NOT_FOUND, NULL, NULL },
		{ "GET", "/health", CV_ROUTE_FOUND, NULL, NULL },
		{ "HEAD", "/health", CV_ROUTE_BAD_METHOD, NULL, "GET" },
		{ "OPTIONS", "/health", CV_ROUTE_BAD_METHOD, NULL, "GET" },
		{ "GET", "/api/health", CV_ROUTE_NOT_FOUND, NULL, NULL },
		{ "GET", "/v1", CV_ROUTE_NOT_FOUND, NULL, NULL },
	};

	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		struct cv_route_match m;
		int res = cv_route_find(routes, CV_ARRAY_LEN(routes),
		    rows[i].method, rows[i].path, &m);
		assert_int_equal(res, rows[i].res);
		if (rows[i].param)
			assert_string_equal(m.params[0], rows[i].param);
		if (rows[i].allow)
			assert_string_equal(m.allow, rows[i].allow);
	}
}

static void test_config_table(void **state)
{
	static const struct { const char *name, *value; int err; } rows[] = {
		{ "CONVERGE_PORT", "9999", CV_OK },
		{ "CONVERGE_PORT", "abc", CV_EINVAL },
		{ "CONVERGE_PORT", "70000", CV_EINVAL },
		{ "CONVERGE_RATE_LIMIT_RPM", "0", CV_EINVAL },
		{ "CONVERGE_WORKER_POLL_INTERVAL", "5x", CV_EINVAL },
		{ "CONVERGE_AUTH_MODE", "magic", CV_EINVAL },
		{ "CONVERGE_JWT_SECRET", "short", CV_EINVAL },
		{ "CONVERGE_DB_BACKEND", "SQLite", CV_OK },
		/* D-8: what used to start with a warning stops the process */
		{ "CONVERGE_DB_BACKEND", "postgres", CV_EINVAL },
		{ "CONVERGE_DB_BACKEND", "mysql", CV_EINVAL },
		{ "CONVERGE_API_KEYS", "k1:superuser:alice", CV_EINVAL },
		{ "CONVERGE_API_KEYS", "k1:admin", CV_EINVAL },
		{ "CONVERGE_API_KEYS", "k1:viewer:a:t:intents.raed", CV_EINVAL },
		{ "CONVERGE_API_KEYS", "k1:viewer:a:t:intent.read", CV_EINVAL },
		{ "CONVERGE_API_KEYS", "k1:viewer:a:t:intents.read|risk.*, "
		  "k2:admin:b::*,k3:admin:c::admin,,k4:operator:d", CV_OK },
		{ "CONVERGE_QUEUE_ENFORCE_DEPENDENCIES", "yes", CV_EINVAL },
		{ "CONVERGE_QUEUE_ENFORCE_DEPENDENCIES", "0", CV_OK },
	};
	struct cv_config c;
	char err[256];

	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		setenv(rows[i].name, rows[i].value, 1);
		assert_int_equal(cv_config_load(&c, err, sizeof err), rows[i].err);
		if (rows[i].err == CV_OK)
			cv_config_free(&c);
		else
			assert_non_null(strstr(err, rows[i].name));
		unsetenv(rows[i].name);
	}
	setenv("CONVERGE_AUTH_REQUIRED", "true", 1);   /* only "1" is true */
	setenv("CONVERGE_GITHUB_API_URL", "https://ghe.local/api/v3//", 1);
	/* the message names the variable, never the key */
	setenv("CONVERGE_API_KEYS", "secret-key-1:superuser:alice", 1);
	assert_int_equal(cv_config_load(&c, err, sizeof err), CV_EINVAL);
	assert_non_null(strstr(err, "unknown role 'superuser'"));
	assert_null(strstr(err, "secret-key-1"));
	unsetenv("CONVERGE_API_KEYS");
	assert_int_equal(cv_config_load(&c, err, sizeof err), CV_OK);
	assert_false(c.auth_required);
	assert_string_equal(c.github_api_url, "https://ghe.local/api/v3");
	assert_string_equal(c.db_backend, "sqlite");
	assert_int_equal(c.port, 9876);
	cv_config_free(&c);
	unsetenv("CONVERGE_AUTH_REQUIRED");
	unsetenv("CONVERGE_GITHUB_API_URL");
}

/* The one database rule (dbpath.h), run in an empty scratch directory. */
static void test_dbpath_table(void **state)
{
	static const struct {
		const char *flag, *db_env, *var_env;
		enum cv_dbpath_who who;
		bool make_var_db;
		const char *want;   /* "@" = the scratch directory */
	} rows[] = {
		{ "x.db", "/e.db", NULL, CV_DBPATH_CLI, false, "x.db" },
		{ NULL, "/e.db", "/v", CV_DBPATH_FARM, false, "/e.db" },
		{ NULL, NULL, NULL, CV_DBPATH_CLI, false, ".converge/state.db" },
		{ NULL, NULL, NULL, CV_DBPATH_FARM, false, "@/var/state.db" },
		{ NULL, NULL, NULL, CV_DBPATH_CLI, true, "@/var/state.db" },
		{ NULL, NULL, "/srv/cv", CV_DBPATH_CLI, false, "/srv/cv/state.db" },
		{ NULL, NULL, "./run/v", CV_DBPATH_CLI, false, "@/run/v/state.db" },
	};
	char tmpl[] = "/tmp/cv-dbpath-XXXXXX", old[4096], got[4200], want[4200];
	char *dir = mkdtemp(tmpl), path[4200];

	(void)state;
	assert_non_null(dir);
	assert_non_null(getcwd(old, sizeof old));
	assert_int_equal(chdir(dir), 0);
	assert_non_null(getcwd(dir, sizeof tmpl));
	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		rows[i].db_env ? setenv("CONVERGE_DB_PATH", rows[i].db_env, 1) :
		    unsetenv("CONVERGE_DB_PATH");
		rows[i].var_env ? setenv("CONVERGE_VAR_DIR", rows[i].var_env, 1)
		    : unsetenv("CONVERGE_VAR_DIR");
		snprintf(path, sizeof path, "%s/var/state.db", dir);
		if (rows[i].make_var_db) {
			mkdir("var", 0700);
			fclose(fopen(path, "w"));
		}
		assert_int_equal(cv_dbpath_resolve(rows[i].flag, rows[i].who,
		    got, sizeof got), 0);
		snprintf(want, sizeof want, "%s%s", rows[i].want[0] == '@' ?
		    dir : "", rows[i].want + (rows[i].want[0] == '@'));
		assert_string_equal(got, want);
		unlink(path);
		rmdir("var");
	}
	unsetenv("CONVERGE_DB_PATH");
	unsetenv("CONVERGE_VAR_DIR");
	assert_int_equal(chdir(old), 0);
	rmdir(dir);
}

/* Request bytes in logs and events: valid UTF-8 kept, invalid bytes as
 * %XX, nothing dropped. */
static void test_text_escape_table(void **state)
{
	static const struct { const char *in, *want; } rows[] = {
		{ "/v1/intents/abc", "/v1/intents/abc" },
		{ "/v1/intents/\xff\xfe", "/v1/intents/%FF%FE" },
		{ "caf\xc3\xa9", "caf\xc3\xa9" },
		{ "\xc3", "%C3" },
		{ "\xed\xa0\x80x", "%ED%A0%80x" },
		{ "\xe2\x82\xac\xe2\x82", "\xe2\x82\xac%E2%82" },
		{ "", "" },
		{ NULL, "" },
	};

	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		char *got = cv_text_escape_dup(rows[i].in);
		json_t *j = cv_json_string_escaped(rows[i].in);

		assert_string_equal(got, rows[i].want);
		assert_non_null(j);
		assert_string_equal(json_string_value(j), rows[i].want);
		json_decref(j);
		free(got);
	}
}

static json_t *twice(const json_t *v)
{
	return json_integer(2 * json_integer_value(v));
}

/* cv_json_map_take: each element mapped, in order; the input released
 * (valgrind sees a leak otherwise); NULL in, NULL out. */
static void test_json_map_take(void **state)
{
	json_t *out;

	(void)state;
	out = cv_json_map_take(json_pack("[i,i,i]", 1, 2, 3), twice);
	assert_non_null(out);
	assert_int_equal(json_array_size(out), 3);
	assert_int_equal(json_integer_value(json_array_get(out, 0)), 2);
	assert_int_equal(json_integer_value(json_array_get(out, 2)), 6);
	json_decref(out);
	out = cv_json_map_take(json_array(), twice);
	assert_int_equal(json_array_size(out), 0);
	json_decref(out);
	assert_null(cv_json_map_take(NULL, twice));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ts_format),
		cmocka_unit_test(test_ts_parse_table),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_rounding),
		cmocka_unit_test(test_url_decode_table),
		cmocka_unit_test(test_query_table),
		cmocka_unit_test(test_query_int_table),
		cmocka_unit_test(test_request_init),
		cmocka_unit_test(test_router_table),
		cmocka_unit_test(test_config_table),
		cmocka_unit_test(test_dbpath_table),
		cmocka_unit_test(test_text_escape_table),
		cmocka_unit_test(test_json_map_take),
		cmocka_unit_test(test_log_level),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
