/*
 * intents.c - the intents family: intents over HTTP (decisions.md D-3),
 * the summary, whoami, predictions and key rotation (http-api.md 5.1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "github.h"
#include "auth.h"
#include "clock.h"
#include "engine.h"
#include "eventlog.h"
#include "farm.h"
#include "idempotency.h"
#include "insight.h"
#include "intent_check.h"
#include "intents.h"
#include "jsonx.h"
#include "log.h"
#include "page.h"
#include "repos.h"
#include "publish.h"
#include "viewcache.h"

/* ---- GET /intents ------------------------------------------------------- */

/* The rel="next" link after the page's last intent. */
static void link_next(struct cv_ctx *ctx, const json_t *last,
    long long limit)
{
	static const char *const keep[] = { "status", "tenant_id", NULL };
	char prio[32];
	const char *key[3] = { prio, cv_json_str(last, "created_at", ""),
	    cv_json_str(last, "id", "") };

	snprintf(prio, sizeof prio, "%lld", cv_json_int(last, "priority", 3));
	cv_api_page_link(ctx, "intents", key, 3, keep, limit);
}

/* GET /intents: at most 200 per page (`limit`), in the list's order;
 * `after` (a cursor from the Link header, page.h) continues where a page
 * ended. */
static void list_intents(struct cv_ctx *ctx)
{
	struct cv_store *s = cv_api_want_store(ctx);
	const char *status = cv_request_query(ctx->req, "status");
	struct cv_intent_key key, *from = NULL;
	struct cv_page pg;
	char *end;
	json_t *list;

	if (!s || !cv_api_want_page(ctx, "intents", 3, 200, 200, &pg))
		return;
	if (status && !cv_status_valid(status)) {
		/* An unknown status matches nothing (http-api 5.1). */
		cv_page_free(&pg);
		cv_response_json(ctx->resp, 200, json_array());
		return;
	}
	if (pg.has_after) {
		key.priority = strtoll(pg.key[0], &end, 10);
		if (*end || !*pg.key[0]) {
			cv_page_free(&pg);
			cv_api_invalid(ctx, "query.after", "Not a cursor of "
			    "this list");
			return;
		}
		key.created_at = pg.key[1];
		key.id = pg.key[2];
		from = &key;
	}
	/* One more than the page: whether a next page exists. */
	list = cv_intent_list_after(s, status, cv_api_read_tenant(ctx),
	    (int)pg.limit + 1, from);
	cv_page_free(&pg);
	if (!list) {
		cv_api_fail(ctx, "intent list");
		return;
	}
	if (json_array_size(list) > (size_t)pg.limit) {
		json_array_remove(list, (size_t)pg.limit);
		link_next(ctx, json_array_get(list, (size_t)pg.limit - 1),
		    pg.limit);
	}
	cv_response_json(ctx->resp, 200, list);
}

/* ---- POST /intents -------------------------------------------------------- */

/* The document cv_intent_build understands, from the D-3 body. New. */
static json_t *intent_doc(struct cv_ctx *ctx, json_t *body,
    const char *tenant)
{
	json_t *doc = json_deep_copy(body), *tech;
	char id[CV_ID12_LEN + 8], suffix[CV_ID12_LEN];
	const char *given = cv_json_str(body, "intent_id", NULL);

	if (!given || !*given)
		given = cv_json_str(body, "id", NULL);
	if (!given || !*given) {
		cv_id12(suffix);
		snprintf(id, sizeof id, "api-%s", suffix);
		given = id;
	}
	json_object_set_new(doc, "id", json_string(given));
	json_object_del(doc, "intent_id");
	json_object_del(doc, "retries");
	json_object_del(doc, "created_at");
	json_object_set_new(doc, "created_by",
	    json_string(cv_api_principal_actor(ctx)));
	json_object_set_new(doc, "tenant_id", tenant ? json_string(tenant) :
	    json_null());
	if (!(tech = cv_json_obj(doc, "technical"))) {
		tech = json_object();
		if (!json_object_get(doc, "technical") ||
		    json_is_null(json_object_get(doc, "technical")))
			json_object_set_new(doc, "technical", tech);
		else
			json_decref(tech);
	}
	/* plan_id and origin_type have no column: they travel in technical.
	 * Where decisions are published is never the caller's to say. */
	if ((tech = cv_json_obj(doc, "technical"))) {
		cv_publish_strip_routing(tech);
		json_object_set_new(tech, "origin_type", json_string(
		    cv_json_str(body, "origin_type", "api")));
		if (cv_json_str(body, "plan_id", NULL))
			json_object_set(tech, "plan_id",
			    json_object_get(body, "plan_id"));
		/* D-9: the registered repository the intent lands on. */
		if (cv_json_str(body, "repo", NULL))
			json_object_set(tech, "repo", json_object_get(body,
			    "repo"));
	}
	json_object_del(doc, "origin_type");
	json_object_del(doc, "plan_id");
	json_object_del(doc, "repo");
	return doc;
}

/* The shared intent validation (D-8: the same rules and words as the
 * CLI), then the tenant rule of D-3. */
static bool check_create_body(struct cv_ctx *ctx, json_t *body,
    const char **tenant)
{
	struct cv_field_error fe;
	char text[300];

	if (!cv_intent_check(body, CV_INTENT_HTTP, &fe)) {
		cv_field_error_text(&fe, "body.", text, sizeof text);
		cv_response_error(ctx->resp, 400, text);
		return false;
	}
	/* D-9: the repository an intent lands on, as GitHub names it. */
	json_t *repo = json_object_get(body, "repo");
	if (repo && !json_is_null(repo) &&
	    !cv_repo_name_valid(json_string_value(repo))) {
		cv_api_invalid(ctx, "body.repo", "expected owner/name");
		return false;
	}
	return cv_api_want_write_tenant_optional(ctx,
	    cv_json_str(body, "tenant_id", NULL), tenant);
}

/* in_tx: inside create_intent_once's transaction, which commits. */
static void create_intent(struct cv_ctx *ctx, bool in_tx)
{
	json_t *body = cv_api_want_body(ctx, true), *doc, *intent;
	struct cv_store *s;
	const char *tenant = NULL, *err = NULL;
	char msg[640];

	if (!body || !check_create_body(ctx, body, &tenant) ||
	    !(s = cv_api_want_store(ctx)))
		return;
	doc = intent_doc(ctx, body, tenant);
	intent = cv_intent_build(doc, false, cv_api_principal_actor(ctx), &err);
	json_decref(doc);
	if (!intent && !err) {
		cv_api_fail(ctx, "create intent: out of memory");
		return;
	}
	if (!intent) {
		snprintf(msg, sizeof msg, "body.%s", err);
		cv_response_error(ctx->resp, 400, msg);
		return;
	}
	struct cv_engine e = { .store = s };
	enum cv_err rc = in_tx ? cv_engine_intent_create_in_tx(&e, intent,
	    false) : cv_engine_intent_create(&e, intent, false);
	if (rc == CV_EEXIST) {
		snprintf(msg, sizeof msg, "Intent %s already exists",
		    cv_json_str(intent, "id", ""));
		cv_response_error(ctx->resp, 409, msg);
	} else if (rc != CV_OK) {
		cv_api_fail(ctx, "intent create");
	} else {
		cv_response_json(ctx->resp, 200, json_pack("{s:b,s:O,s:O}", "ok",
		    1, "intent_id", json_object_get(intent, "id"), "status",
		    json_object_get(intent, "status")));
	}
	json_decref(intent);
}

/* Idempotency-Key (D-3): replays the first answer to the same key and
 * body for 24 h; the same key with another body is a 422. Claiming the
 * key, creating the intent and recording the answer are one transaction,
 * so concurrent duplicates wait for the first and get its answer. */
static void create_intent_once(struct cv_ctx *ctx)
{
	const char *key = cv_request_header(ctx->req, "Idempotency-Key");
	const char *tenant = cv_api_principal_tenant(ctx);
	struct cv_store *s;
	enum cv_idem_state st;
	char scope[512], *replay = NULL;
	int status = 0;

	if (!key || !*key) {
		create_intent(ctx, false);
		return;
	}
	if (strlen(key) > 255) {
		cv_api_invalid(ctx, "header.Idempotency-Key", "String should "
		    "have at most 255 characters");
		return;
	}
	if (!(s = cv_api_want_store(ctx)))
		return;
	snprintf(scope, sizeof scope, "POST /intents|%s|%s",
	    cv_api_principal_actor(ctx), tenant ? tenant : "");
	if (cv_store_begin(s) != CV_OK) {
		cv_api_fail(ctx, "idempotency begin");
		return;
	}
	if (cv_idem_claim(s, scope, key, ctx->req->body, ctx->req->body_len,
	    &st, &status, &replay) != CV_OK) {
		cv_api_fail(ctx, "idempotency check");
		cv_store_rollback(s);
		return;
	}
	if (st != CV_IDEM_NEW)
		cv_store_rollback(s);
	if (st == CV_IDEM_REPLAY) {
		cv_response_text(ctx->resp, status, "application/json", replay,
		    strlen(replay));
		cv_response_header(ctx->resp, "Idempotent-Replayed", "true");
		free(replay);
		return;
	}
	if (st == CV_IDEM_CONFLICT) {
		cv_response_error(ctx->resp, 422, "Idempotency-Key was already "
		    "used with a different body");
		return;
	}
	create_intent(ctx, true);
	if (ctx->resp->status >= 300) {
		/* Nothing was created: the claim goes with the rollback. */
		cv_store_rollback(s);
		return;
	}
	if (cv_idem_record(s, scope, key, ctx->req->body, ctx->req->body_len,
	    ctx->resp->status, ctx->resp->body ? ctx->resp->body : "") != CV_OK ||
	    cv_store_commit(s) != CV_OK) {
		cv_api_fail(ctx, "idempotency record");
		cv_store_rollback(s);
	}
}

/* ---- GET /intents/{id}, /events, POST /validate ----------------------------- */

/* The intent named by the path, through the one tenant-checked lookup. */
static json_t *visible_intent(struct cv_ctx *ctx, struct cv_store *s)
{
	return cv_api_want_intent(ctx, s, cv_ctx_param(ctx, 0), NULL);
}

static void get_intent(struct cv_ctx *ctx)
{
	struct cv_store *s = cv_api_want_store(ctx);
	json_t *in;

	if (s && (in = visible_intent(ctx, s)))
		cv_response_json(ctx->resp, 200, in);
}

/* GET /intents/{id}/events: newest first, `limit` (default 200) per
 * page, `after` from the Link header (page.h). */
static void intent_events(struct cv_ctx *ctx)
{
	static const char *const keep[] = { "tenant_id", NULL };
	struct cv_store *s = cv_api_want_store(ctx);
	struct cv_page pg;
	json_t *in;

	if (!s || !cv_api_want_page(ctx, "intent-events", 2, 200, 10000, &pg))
		return;
	if (!(in = visible_intent(ctx, s))) {
		cv_page_free(&pg);
		return;
	}
	/* Events by (intent, tenant): another tenant's event about this id
	 * is not part of this intent's timeline (D-8). */
	struct cv_event_filter f = { .intent_id = cv_json_str(in, "id", ""),
	    .tenant_id = cv_json_str(in, "tenant_id", NULL) };
	cv_api_answer_events(ctx, "intent-events", &f, &pg, keep);
	json_decref(in);
}

static bool save_refs(struct cv_ctx *ctx, struct cv_store *s, json_t *in,
    const char *source, const char *target)
{
	if (!source && !target)
		return true;
	if (source && *source)
		json_object_set_new(in, "source", json_string(source));
	if (target && *target)
		json_object_set_new(in, "target", json_string(target));
	if (cv_intent_upsert(s, in) != CV_OK) {
		cv_api_fail(ctx, "intent refs");
		return false;
	}
	return true;
}

static void validate_intent(struct cv_ctx *ctx)
{
	struct cv_store *s = cv_api_want_store(ctx);
	json_t *body, *in, *d;
	const char *source = NULL, *target = NULL;
	bool last = false, skip = false;

	if (!s || !(body = cv_api_want_body(ctx, false)) ||
	    !cv_api_want_str(ctx, body, "source", &source) ||
	    !cv_api_want_str(ctx, body, "target", &target) ||
	    !cv_api_want_bool(ctx, body, "use_last_simulation", &last) ||
	    !cv_api_want_bool(ctx, body, "skip_checks", &skip) ||
	    !(in = visible_intent(ctx, s)))
		return;
	struct cv_field_error fe;
	if (!cv_intent_check_refs(source, target, &fe)) {
		char text[300];
		cv_field_error_text(&fe, "body.", text, sizeof text);
		cv_response_error(ctx->resp, 400, text);
		json_decref(in);
		return;
	}
	if (!save_refs(ctx, s, in, source, target)) {
		json_decref(in);
		return;
	}
	/* The decision is published to GitHub (outbox, same transaction)
	 * when the intent came from GitHub and publishing is configured. */
	struct cv_engine e = { .store = s, .repo_dir = ctx->app->cfg.repo_path,
	    .work_dir = ctx->app->cfg.repo_path,
	    .on_decision = cv_publish_decision_hook,
	    .on_decision_arg = &ctx->app->cfg };
	struct cv_validate_opts o = { NULL, last, skip };
	/* A registered repository's mirror (D-9) lives under the var dir;
	 * its https remote takes the App's installation token. */
	e.var_dir = ctx->app->cfg.var_dir;
	if (cv_config_github_enabled(&ctx->app->cfg)) {
		e.github = cv_github_client_from_config(&ctx->app->cfg);
		e.installation_id = atoll(ctx->app->cfg.github_installation_id);
	}
	d = cv_engine_validate(&e, cv_json_str(in, "id", ""), &o);
	cv_github_free(e.github);
	json_decref(in);
	if (!d)
		cv_api_fail(ctx, "validate");
	else if (json_object_get(d, "error"))
		/* A terminal intent cannot be validated (domain.md 1.4). */
		cv_response_json(ctx->resp, 409, d);
	else
		cv_response_json(ctx->resp, 200, d);
}

/* ---- summary, whoami, predictions --------------------------------------------- */

static enum cv_err build_summary(struct cv_store *s, const void *tenant,
    json_t **out)
{
	json_t *health = NULL, *queue = NULL;
	enum cv_err e;

	*out = NULL;
	if ((e = cv_insight_repo_health(s, tenant, 24, &health)) != CV_OK ||
	    (e = cv_insight_queue_state(s, tenant, &queue)) != CV_OK) {
		json_decref(health);
		return e;
	}
	*out = json_pack("{s:o,s:o}", "health", health, "queue", queue);
	return *out ? CV_OK : CV_ENOMEM;
}

/* Cached per process until the data changes (viewcache.h): a cached
 * answer computes no snapshot, so it appends no health.snapshot. */
static void summary(struct cv_ctx *ctx)
{
	struct cv_store *s = cv_api_want_store(ctx);
	const char *t = cv_api_read_tenant(ctx);
	char key[512];

	if (!s)
		return;
	snprintf(key, sizeof key, "summary|%s", t ? t : "");
	if (cv_view_serve(s, key, build_summary, t, ctx->req, ctx->resp) !=
	    CV_OK)
		cv_api_fail(ctx, "summary");
}

static void whoami(struct cv_ctx *ctx)
{
	if (ctx->principal)
		cv_response_json(ctx->resp, 200, json_incref(ctx->principal));
	else
		cv_response_json(ctx->resp, 200, json_pack("{s:s,s:s,s:n}",
		    "role", "admin", "actor", "anonymous", "tenant"));
}

static void predictions(struct cv_ctx *ctx)
{
	struct cv_store *s = cv_api_want_store(ctx);
	json_t *out = NULL;

	if (!s)
		return;
	if (cv_insight_predictions(s, cv_api_read_tenant(ctx), &out) != CV_OK)
		cv_api_fail(ctx, "predictions");
	else
		cv_response_json(ctx->resp, 200, out);
}

/* POST /auth/keys/rotate (3.8): the presented key is re-checked against
 * the primary registry by the auth module, which also owns the grace
 * table. */
static void rotate_key(struct cv_ctx *ctx)
{
	json_t *body = NULL;
	int status = 500;

	cv_auth_rotate_key(ctx->app->auth, cv_app_store(ctx->app), ctx->req,
	    cv_now_us(), &status, &body);
	cv_response_json(ctx->resp, status, body);
}

static const struct cv_route routes[] = {
	{ "GET", "/intents", list_intents, CV_ROUTE_PREFIXED, "viewer",
	    "intents.read" },
	{ "POST", "/intents", create_intent_once, CV_ROUTE_PREFIXED, "operator",
	    "intents.write" },
	{ "GET", "/intents/{id}", get_intent, CV_ROUTE_PREFIXED, "viewer",
	    "intents.read" },
	{ "GET", "/intents/{id}/events", intent_events, CV_ROUTE_PREFIXED,
	    "viewer", "intents.read" },
	{ "POST", "/intents/{id}/validate", validate_intent, CV_ROUTE_PREFIXED,
	    "operator", "intents.write" },
	{ "GET", "/summary", summary, CV_ROUTE_PREFIXED, "viewer",
	    "intents.read" },
	{ "GET", "/auth/whoami", whoami, CV_ROUTE_PREFIXED, "viewer",
	    "intents.read" },
	{ "GET", "/predictions", predictions, CV_ROUTE_PREFIXED, "viewer",
	    "intents.read" },
	{ "POST", "/auth/keys/rotate", rotate_key, CV_ROUTE_PREFIXED, "admin",
	    "admin" },
};

const struct cv_family cv_family_intents = {
	.name = "intents",
	.routes = routes,
	.nroutes = CV_ARRAY_LEN(routes),
	.default_processes = 4,
};

#ifndef CV_FAMILY_NO_MAIN
int main(int argc, char **argv)
{
	return cv_farm_main(&cv_family_intents, argc, argv);
}
#endif
