/*
 * famtest.h - drives a route family without a web server, for the
 * test_fam_*.c tests: a fresh SQLite store in a temporary directory, a
 * request built from CGI variables, and one table row = one request with
 * its expected status and body fragments.
 *
 * A row without a principal goes through cv_farm_dispatch with a zeroed
 * configuration (authentication disabled); a row with one is routed the
 * same way and its handler is called with ctx.principal set, which is how
 * tenant enforcement is exercised without the authentication layer.
 */
#ifndef CV_FAMTEST_H
#define CV_FAMTEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eventlog.h"
#include "farm.h"
#include "store.h"

struct fam_row {
	const char *method;
	const char *path;        /* without the query */
	const char *query;       /* raw query string, NULL = none */
	const char *body;        /* NULL = no body */
	const char *principal;   /* principal JSON, NULL = auth disabled */
	int status;
	const char *expect;      /* must occur in the body, NULL = any */
	const char *absent;      /* must not occur in the body, NULL = none */
};

struct fam_fixture {
	char dir[64];
	char path[96];
	struct cv_app app;
};

static inline int fam_setup(void **state)
{
	struct fam_fixture *f = calloc(1, sizeof *f);
	struct cv_store_options o = { CV_BACKEND_SQLITE, NULL, NULL, 0 };

	if (!f)
		return -1;
	snprintf(f->dir, sizeof f->dir, "/tmp/cv-fam-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof f->path, "%s/state.db", f->dir);
	o.sqlite_path = f->path;
	f->app.family = "test";
	*state = f;
	return cv_store_open(&o, &f->app.store, NULL) == CV_OK ? 0 : -1;
}

static inline int fam_teardown(void **state)
{
	struct fam_fixture *f = *state;
	static const char *const suffixes[] = { "", "-wal", "-shm",
	    "-journal", ".lock" };
	char p[128];

	cv_store_close(f->app.store);
	for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
		snprintf(p, sizeof p, "%s%s", f->path, suffixes[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Routes and runs the handler with ctx.principal = principal (stolen). */
static inline void fam_call_as(const struct cv_family *fam, struct cv_app *app,
    struct cv_request *req, struct cv_response *resp, json_t *principal)
{
	struct cv_route_match m;
	struct cv_ctx ctx = { app, req, resp, &m, principal };

	assert_int_equal(cv_route_find(fam->routes, fam->nroutes, req->method,
	    req->path, &m), CV_ROUTE_FOUND);
	assert_int_equal(cv_request_parse_json(req), CV_OK);
	m.route->handler(&ctx);
	json_decref(ctx.principal);
}

/* One request; resp is initialised here and freed by the caller. */
static inline void fam_request(const struct cv_family *fam, struct cv_app *app,
    const char *method, const char *path, const char *query,
    const char *body, size_t body_len, const char *principal,
    struct cv_response *resp)
{
	char m[32], uri[512], *qs = NULL;
	char ct[] = "CONTENT_TYPE=application/json";
	char *env[] = { m, uri, NULL, ct, NULL };
	struct cv_request req;

	snprintf(m, sizeof m, "REQUEST_METHOD=%s", method);
	snprintf(uri, sizeof uri, "REQUEST_URI=%s", path);
	assert_true(asprintf(&qs, "QUERY_STRING=%s", query ? query : "") > 0);
	env[2] = qs;
	cv_response_init(resp);
	if (cv_request_init(&req, env) != CV_OK) {
		/* What the farm answers before dispatch. */
		cv_response_error(resp, 400, "query: malformed percent-encoding");
	} else {
		if (body) {
			req.body = malloc(body_len + 1);
			assert_non_null(req.body);
			memcpy(req.body, body, body_len);
			req.body[body_len] = '\0';
			req.body_len = body_len;
		}
		if (principal) {
			json_t *p = json_loads(principal, 0, NULL);
			assert_non_null(p);
			fam_call_as(fam, app, &req, resp, p);
		} else {
			cv_farm_dispatch(fam, app, &req, resp);
		}
	}
	cv_request_free(&req);
	free(qs);
}

static inline void fam_check(const struct fam_row *r, size_t i,
    const struct cv_response *resp)
{
	const char *body = resp->body ? resp->body : "";

	if (resp->status != r->status ||
	    (r->expect && !strstr(body, r->expect)) ||
	    (r->absent && strstr(body, r->absent)))
		fail_msg("row %zu: %s %s?%s -> %d %s (want %d, '%s')", i,
		    r->method, r->path, r->query ? r->query : "", resp->status,
		    body, r->status, r->expect ? r->expect : "");
}

/* Runs the rows in order against one store: later rows see earlier
 * writes, so a table can check that a refused write changed nothing. */
static inline void fam_run_table(const struct cv_family *fam, struct cv_app *app,
    const struct fam_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct fam_row *r = &rows[i];
		struct cv_response resp;

		fam_request(fam, app, r->method, r->path, r->query, r->body,
		    r->body ? strlen(r->body) : 0, r->principal, &resp);
		fam_check(r, i, &resp);
		cv_response_free(&resp);
	}
}

/* The family declares exactly these routes (handler ignored), each under
 * both prefixes, with the role and scope of http-api.md 11. */
static inline void fam_check_routes(const struct cv_family *fam,
    const struct cv_route *want, size_t n)
{
	assert_int_equal(fam->nroutes, n);
	for (size_t i = 0; i < n; i++) {
		const struct cv_route *got = &fam->routes[i];

		assert_string_equal(got->method, want[i].method);
		assert_string_equal(got->pattern, want[i].pattern);
		assert_int_equal(got->flags, CV_ROUTE_PREFIXED);
		assert_string_equal(got->role, want[i].role);
		assert_string_equal(got->scope, want[i].scope);
	}
}

/* Events of type whose column (agent_id, tenant_id, ...) equals value
 * (NULL: any). */
static inline long long fam_count_events(struct cv_store *s, const char *type,
    const char *column, const char *value)
{
	const char *names[] = { "event_type", column };
	const char *values[] = { type, value };
	long long n = -1;

	assert_int_equal(cv_event_count(s, names, values, 2, &n, NULL), CV_OK);
	return n;
}

#endif
