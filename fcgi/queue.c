/* queue.c - the queue family: read-only views of the queue
 * (http-api.md 5.2; queue administration stays in the CLI, S8) and the
 * registry of repositories the queue lands on (decisions.md D-9). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "farm.h"
#include "jsonx.h"
#include "log.h"
#include "page.h"
#include "repos.h"
#include "insight.h"
#include "intents.h"
#include "projections.h"
#include "queuestate.h"
#include "viewcache.h"

static enum cv_err build_state(struct cv_store *s, const void *tenant,
    json_t **out)
{
	return cv_insight_queue_state(s, tenant, out);
}

/* Cached per process until the queue changes (viewcache.h), with ETag. */
static void state(struct cv_ctx *ctx)
{
	struct cv_store *s = cv_api_want_store(ctx);
	const char *t = cv_api_read_tenant(ctx);
	char key[512];

	if (!s)
		return;
	snprintf(key, sizeof key, "queue/state|%s", t ? t : "");
	if (cv_view_serve(s, key, build_state, t, ctx->req, ctx->resp) != CV_OK)
		cv_api_fail(ctx, "queue state");
}

/* {total, by_status, pending_count}: the queue state's counts, computed
 * by the database. */
static void summary(struct cv_ctx *ctx)
{
	struct cv_store *s = cv_api_want_store(ctx);
	json_t *st = NULL;

	if (!s)
		return;
	if (cv_queue_state_load(s, cv_api_read_tenant(ctx), &st) != CV_OK) {
		cv_api_fail(ctx, "queue summary");
		return;
	}
	cv_response_json(ctx->resp, 200, json_pack("{s:O,s:O,s:O}", "total",
	    json_object_get(st, "total"), "by_status",
	    json_object_get(st, "by_status"), "pending_count",
	    json_object_get(st, "pending_count")));
	json_decref(st);
}

/* ---- repositories (decisions.md D-9), admin only ------------------------- */

/* By name; page by page when `limit` or `after` is given (page.h). */
static void repos_list(struct cv_ctx *ctx)
{
	static const char *const keep[] = { "tenant_id", NULL };
	struct cv_store *s = cv_api_want_store(ctx);
	const char *tenant = cv_api_read_tenant(ctx);
	const json_t *last;
	struct cv_page pg;
	json_t *list, *out;

	if (!s || !cv_api_want_page(ctx, "repos", 1, 0, 10000, &pg))
		return;
	list = pg.paged ? cv_repo_page(s, tenant, pg.key[0],
	    (int)pg.limit + 1) : cv_repo_list(s, tenant);
	if (list && (last = cv_page_cut(&pg, list))) {
		const char *key[1] = { cv_json_str(last, "name", "") };
		cv_api_page_link(ctx, "repos", key, 1, keep, pg.limit);
	}
	cv_page_free(&pg);
	if (!(out = cv_json_map_take(list, cv_repo_view_new))) {
		cv_api_fail(ctx, "repository list");
		return;
	}
	cv_response_json(ctx->resp, 200, json_pack("{s:o}", "repositories",
	    out));
}

static void repos_add(struct cv_ctx *ctx)
{
	const char *name = NULL, *url = NULL, *target = NULL, *tenant = NULL;
	const char *requested = NULL, *why = NULL;
	json_t *body = cv_api_want_body(ctx, true), *repo;
	struct cv_store *s;
	enum cv_err err;

	if (!body || !cv_api_want_required_str(ctx, body, "name", &name) ||
	    !cv_api_want_required_str(ctx, body, "url", &url) ||
	    !cv_api_want_str(ctx, body, "target", &target) ||
	    !cv_api_want_str(ctx, body, "tenant_id", &requested) ||
	    !cv_api_want_write_tenant_optional(ctx, requested, &tenant))
		return;
	if (!(repo = cv_repo_build(name, url, target, json_object_get(body,
	    "checks"), tenant, cv_api_principal_actor(ctx), &why))) {
		char loc[64];
		snprintf(loc, sizeof loc, "body.%.*s", (int)strcspn(why, ":"),
		    why);
		cv_api_invalid(ctx, loc, why + strcspn(why, ":") + 2);
		return;
	}
	if (!(s = cv_api_want_store(ctx))) {
		json_decref(repo);
		return;
	}
	err = cv_repo_add(s, repo);
	if (err == CV_EEXIST)
		cv_response_error(ctx->resp, 409, "Repository already registered");
	else if (err != CV_OK)
		cv_api_fail(ctx, "repository add");
	else {
		cv_log(CV_INFO, "converge.repos", "repository %s registered",
		    name);
		cv_response_json(ctx->resp, 201, json_pack("{s:b,s:o}", "ok", 1,
		    "repository", cv_repo_view_new(repo)));
	}
	json_decref(repo);
}

/* The name from the path: /repos/{owner}/{name}, or one segment holding
 * "owner%2Fname". */
static void path_name(const struct cv_ctx *ctx, char *out, size_t size)
{
	if (ctx->match->nparams >= 2)
		snprintf(out, size, "%s/%s", cv_ctx_param(ctx, 0),
		    cv_ctx_param(ctx, 1));
	else
		snprintf(out, size, "%s", cv_ctx_param(ctx, 0));
}

/* The registration named by the path when the caller may see it; else
 * answers 404 (another tenant's repository is missing) and NULL. */
static json_t *want_repo(struct cv_ctx *ctx, struct cv_store *s,
    const char *name)
{
	const char *tenant = cv_api_read_tenant(ctx);
	json_t *repo = NULL;

	if (cv_repo_get(s, name, &repo) != CV_OK) {
		cv_api_fail(ctx, "repository get");
		return NULL;
	}
	if (repo && tenant && strcmp(cv_json_str(repo, "tenant_id", ""),
	    tenant) != 0) {
		json_decref(repo);
		repo = NULL;
	}
	if (!repo)
		cv_response_error(ctx->resp, 404, "Repository not found");
	return repo;
}

static void repos_show(struct cv_ctx *ctx)
{
	struct cv_store *s = cv_api_want_store(ctx);
	char name[600];
	json_t *repo;

	path_name(ctx, name, sizeof name);
	if (!s || !(repo = want_repo(ctx, s, name)))
		return;
	cv_response_json(ctx->resp, 200, cv_repo_view_new(repo));
	json_decref(repo);
}

static void repos_remove(struct cv_ctx *ctx)
{
	struct cv_store *s = cv_api_want_store(ctx);
	char name[600];
	json_t *repo;
	bool removed = false;

	path_name(ctx, name, sizeof name);
	if (!s || !(repo = want_repo(ctx, s, name)))
		return;
	json_decref(repo);
	if (cv_repo_remove(s, name, &removed) != CV_OK) {
		cv_api_fail(ctx, "repository remove");
		return;
	}
	cv_log(CV_INFO, "converge.repos", "repository %s removed", name);
	cv_response_json(ctx->resp, 200, json_pack("{s:b,s:s,s:b}", "ok", 1,
	    "name", name, "removed", removed));
}

static const struct cv_route routes[] = {
	{ "GET", "/queue/state", state, CV_ROUTE_PREFIXED, "viewer",
	    "queue.read" },
	{ "GET", "/queue/summary", summary, CV_ROUTE_PREFIXED, "viewer",
	    "queue.read" },
	{ "GET", "/repos", repos_list, CV_ROUTE_PREFIXED, "admin", "admin" },
	{ "POST", "/repos", repos_add, CV_ROUTE_PREFIXED, "admin", "admin" },
	{ "GET", "/repos/{name}", repos_show, CV_ROUTE_PREFIXED, "admin",
	    "admin" },
	{ "DELETE", "/repos/{name}", repos_remove, CV_ROUTE_PREFIXED, "admin",
	    "admin" },
	{ "GET", "/repos/{owner}/{name}", repos_show, CV_ROUTE_PREFIXED,
	    "admin", "admin" },
	{ "DELETE", "/repos/{owner}/{name}", repos_remove, CV_ROUTE_PREFIXED,
	    "admin", "admin" },
};

const struct cv_family cv_family_queue = {
	.name = "queue",
	.routes = routes,
	.nroutes = CV_ARRAY_LEN(routes),
	.default_processes = 2,
};

#ifndef CV_FAMILY_NO_MAIN
int main(int argc, char **argv)
{
	return cv_farm_main(&cv_family_queue, argc, argv);
}
#endif
