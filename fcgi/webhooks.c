/*
 * webhooks.c - the webhooks family: POST /integrations/github/webhook
 * (http-api.md 7, decisions.md D-5).
 *
 * A verified delivery is claimed, stored with its body, and dispatched in
 * ONE transaction before the answer: either all of its effects land or
 * none do (and then GitHub's redelivery is not mistaken for a duplicate).
 * Nothing here talks to GitHub; publications go to the outbox.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "clock.h"
#include "db.h"
#include "engine.h"
#include "eventlog.h"
#include "farm.h"
#include "intents.h"
#include "jsonx.h"
#include "log.h"
#include "publish.h"
#include "webhook_sig.h"

struct delivery {
	struct cv_ctx *ctx;
	struct cv_store *s;
	const struct cv_config *cfg;
	const char *event, *id;
	json_t *body;              /* borrowed from the request */
	json_t *reply;             /* the 200 body, owned */
};

/* Sub-objects that are null or missing read as empty (D5). */
static json_t *sub(const json_t *o, const char *key)
{
	json_t *v = cv_json_obj(o, key);

	return v ? v : NULL;
}

static const char *repo_name(const json_t *body)
{
	return cv_json_str(sub(body, "repository"), "full_name", "");
}

static void pr_intent_id(const json_t *body, char *out, size_t size)
{
	json_t *pr = sub(body, "pull_request");
	long long n = cv_json_int(pr, "number", cv_json_int(body, "number", 0));
	const char *repo = repo_name(body);

	if (*repo)
		snprintf(out, size, "%s:pr-%lld", repo, n);
	else
		snprintf(out, size, "pr-%lld", n);
}

/* ---- pull_request --------------------------------------------------------- */

static json_t *pr_intent(struct delivery *d, const char *id)
{
	json_t *pr = sub(d->body, "pull_request");
	json_t *head = sub(pr, "head"), *base = sub(pr, "base");
	json_t *inst = json_object_get(sub(d->body, "installation"), "id");
	const char *title = cv_json_str(pr, "title", "");
	const char *err = NULL;
	char ts[CV_TS_LEN];

	cv_now_ts(ts);
	json_t *doc = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i,"
	    "s:{s:s,s:s},s:{s:s,s:s,s:s,s:s,s:I,s:O},s:[],s:[],s:i,s:o}",
	    "id", id, "source", cv_json_str(head, "ref", ""),
	    "target", cv_json_str(base, "ref", "main"), "status", "READY",
	    "created_at", ts, "created_by", "github-webhook",
	    "risk_level", "medium", "priority", 3,
	    "semantic", "problem_statement", title, "objective", title,
	    "technical", "source_ref", cv_json_str(head, "ref", ""),
	    "target_ref", cv_json_str(base, "ref", "main"),
	    "initial_base_commit", cv_json_str(head, "sha", ""),
	    "repo", repo_name(d->body), "pr_number",
	    (json_int_t)cv_json_int(pr, "number", cv_json_int(d->body, "number",
	    0)), "installation_id", inst && !json_is_null(inst) ? inst :
	    json_null(), "checks_required", "dependencies", "retries", 0,
	    "tenant_id", cv_json_str_or_null(d->cfg->github_default_tenant));
	json_t *intent = doc ? cv_intent_build(doc, false, "github-webhook",
	    &err) : NULL;

	json_decref(doc);
	return intent;
}

static enum cv_err pr_opened(struct delivery *d)
{
	char id[600];
	json_t *intent;
	enum cv_err err;

	pr_intent_id(d->body, id, sizeof id);
	if (!(intent = pr_intent(d, id)))
		return CV_ENOMEM;
	err = cv_intent_upsert(d->s, intent);
	if (err == CV_OK)
		err = cv_event_emit(d->s, "intent.created", id, NULL,
		    cv_json_str(intent, "tenant_id", NULL), NULL,
		    json_deep_copy(intent), NULL);
	json_t *tech = cv_json_obj(intent, "technical");
	/* The verified delivery is where decisions about it are published. */
	if (err == CV_OK)
		err = cv_publish_target_record(d->s, id, cv_json_str(tech,
		    "repo", NULL), cv_json_str(tech, "initial_base_commit",
		    NULL), json_object_get(tech, "installation_id"));
	if (err == CV_OK)
		err = cv_publish_enqueue(d->s, d->cfg, cv_json_str(tech, "repo",
		    NULL), cv_json_str(tech, "initial_base_commit", NULL),
		    json_object_get(tech, "installation_id"), id, "pending", NULL,
		    0, NULL);
	json_decref(intent);
	d->reply = json_pack("{s:b,s:s,s:s}", "ok", 1, "intent_id", id,
	    "action", "created");
	return err;
}

/* GitHub ended an intent's life (T13): MERGED or REJECTED with the
 * matching event; extra_take (stolen) adds the trigger's own keys to the
 * payload {source, target, merged}. */
static enum cv_err close_intent(struct delivery *d, const json_t *intent,
    bool merged, json_t *extra_take)
{
	const char *id = cv_json_str(intent, "id", "");
	json_t *payload = json_pack("{s:O,s:O,s:b}", "source",
	    json_object_get(intent, "source"), "target",
	    json_object_get(intent, "target"), "merged", merged);
	enum cv_err err;

	json_object_update(payload, extra_take);
	json_decref(extra_take);
	err = cv_intent_update_status(d->s, id, merged ? "MERGED" : "REJECTED",
	    -1);
	if (err == CV_OK)
		return cv_event_emit(d->s, merged ? "intent.merged" :
		    "intent.rejected", id, NULL, cv_json_str(intent, "tenant_id",
		    NULL), NULL, payload, NULL);
	json_decref(payload);
	return err;
}

static enum cv_err pr_closed(struct delivery *d)
{
	json_t *pr = sub(d->body, "pull_request"), *intent = NULL;
	bool merged = cv_json_bool(pr, "merged", false);
	char id[600];
	enum cv_err err;

	pr_intent_id(d->body, id, sizeof id);
	if ((err = cv_intent_get(d->s, id, &intent)) != CV_OK)
		return err;
	if (!intent) {
		d->reply = json_pack("{s:b,s:s,s:s,s:s}", "ok", 1, "intent_id",
		    id, "action", "ignored", "reason", "unknown_intent");
		return CV_OK;
	}
	err = close_intent(d, intent, merged, json_pack("{s:s,s:s}",
	    "merge_commit_sha", cv_json_str(pr, "merge_commit_sha", ""),
	    "trigger", "github_pr_closed"));
	if (err == CV_OK)
		err = cv_publish_enqueue(d->s, d->cfg, repo_name(d->body),
		    cv_json_str(sub(pr, "head"), "sha", ""), json_object_get(
		    sub(d->body, "installation"), "id"), id,
		    merged ? "merged" : "rejected", NULL, 0, merged ? "PR merged" :
		    "PR closed");
	d->reply = json_pack("{s:b,s:s,s:s}", "ok", 1, "intent_id", id,
	    "action", merged ? "merged" : "rejected");
	json_decref(intent);
	return err;
}

/* ---- push ----------------------------------------------------------------- */

static enum cv_err revalidate(struct delivery *d, json_t *intent,
    const char *branch, const char *head, json_t *ids)
{
	const char *id = cv_json_str(intent, "id", "");
	json_t *tech = cv_json_obj(intent, "technical");
	enum cv_err err;

	if (!tech) {
		json_object_set_new(intent, "technical", json_object());
		tech = cv_json_obj(intent, "technical");
	}
	json_object_set_new(tech, "initial_base_commit", json_string(head));
	json_object_set_new(intent, "status", json_string("READY"));
	if ((err = cv_intent_upsert(d->s, intent)) != CV_OK)
		return err;
	err = cv_event_emit(d->s, "intent.requeued", id, NULL,
	    cv_json_str(intent, "tenant_id", NULL), NULL, json_pack(
	    "{s:s,s:s,s:s}", "trigger", "push_revalidation", "branch", branch,
	    "new_head_sha", head), NULL);
	/* Only a target a verified delivery bound to this repository moves;
	 * a branch name alone does not make an intent publishable here. */
	if (err == CV_OK)
		err = cv_publish_target_move(d->s, id, repo_name(d->body), head);
	json_t *t = NULL;
	if (err == CV_OK && (err = cv_publish_target(d->s, intent, &t)) ==
	    CV_OK && t)
		err = cv_publish_enqueue(d->s, d->cfg, cv_json_str(t, "repo",
		    NULL), cv_json_str(t, "head_sha", NULL), json_object_get(t,
		    "installation_id"), id, "pending", NULL, 0,
		    "Re-push detected, revalidating");
	json_decref(t);
	json_array_append_new(ids, json_string(id));
	return err;
}

static enum cv_err push(struct delivery *d)
{
	static const char *const statuses[] = { "READY", "VALIDATED" };
	const char *ref = cv_json_str(d->body, "ref", "");
	const char *repo = repo_name(d->body);
	const char *head = cv_json_str(d->body, "after", "");
	json_t *ids, *list, *in;
	enum cv_err err = CV_OK;
	size_t i;

	if (strncmp(ref, "refs/heads/", 11) != 0) {
		d->reply = json_pack("{s:b,s:s,s:s}", "ok", 1, "action",
		    "ignored", "reason", "not_branch_push");
		return CV_OK;
	}
	ids = json_array();
	for (size_t k = 0; k < 2 && err == CV_OK; k++) {
		/* No 200 cap here (D19): every matching intent is revalidated. */
		if (!(list = cv_intent_list(d->s, statuses[k], NULL, 1000000))) {
			err = CV_ESTORE;
			break;
		}
		json_array_foreach(list, i, in) {
			const char *r = cv_json_str(cv_json_obj(in, "technical"),
			    "repo", "");
			if (strcmp(cv_json_str(in, "source", ""), ref + 11) != 0 ||
			    (*r && strcmp(r, repo) != 0))
				continue;
			if ((err = revalidate(d, in, ref + 11, head, ids)) != CV_OK)
				break;
		}
		json_decref(list);
	}
	d->reply = json_pack("{s:b,s:s,s:o}", "ok", 1, "action",
	    "push_processed", "revalidated", ids);
	return err;
}

/* ---- merge_group (D-5) ------------------------------------------------------- */

static const char *branch_of(const char *ref)
{
	return strncmp(ref, "refs/heads/", 11) == 0 ? ref + 11 : ref;
}

static void group_intent_id(const json_t *body, char *out, size_t size)
{
	const char *sha = cv_json_str(sub(body, "merge_group"), "head_sha", "");
	const char *repo = repo_name(body);

	snprintf(out, size, "%s%smg-%.12s", repo, *repo ? ":" : "", sha);
}

/* checks_requested: the group's head becomes one READY intent flagged
 * technical.merge_group; the worker validates it and the outbox carries
 * the result to a check run on head_sha. */
static enum cv_err group_requested(struct delivery *d)
{
	json_t *mg = sub(d->body, "merge_group");
	json_t *inst = json_object_get(sub(d->body, "installation"), "id");
	const char *sha = cv_json_str(mg, "head_sha", "");
	const char *err = NULL;
	char id[600], ts[CV_TS_LEN];
	enum cv_err rc;

	group_intent_id(d->body, id, sizeof id);
	cv_now_ts(ts);
	json_t *doc = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:{s:s,s:s},"
	    "s:{s:s,s:s,s:s,s:s,s:s,s:O,s:b},s:o}", "id", id,
	    "source", branch_of(cv_json_str(mg, "head_ref", "")),
	    "target", branch_of(cv_json_str(mg, "base_ref", "main")),
	    "status", "READY", "created_at", ts, "created_by", "github-webhook",
	    "semantic", "problem_statement", "merge group", "objective",
	    cv_json_str(sub(mg, "head_commit"), "message", ""),
	    "technical", "source_ref", cv_json_str(mg, "head_ref", ""),
	    "target_ref", cv_json_str(mg, "base_ref", ""),
	    "initial_base_commit", sha, "base_sha", cv_json_str(mg, "base_sha",
	    ""), "repo", repo_name(d->body), "installation_id",
	    inst && !json_is_null(inst) ? inst : json_null(), "merge_group", 1,
	    "tenant_id", cv_json_str_or_null(d->cfg->github_default_tenant));
	json_t *intent = doc ? cv_intent_build(doc, false, "github-webhook",
	    &err) : NULL;

	json_decref(doc);
	if (!intent)
		return CV_ENOMEM;
	rc = cv_intent_upsert(d->s, intent);
	if (rc == CV_OK)
		rc = cv_event_emit(d->s, "intent.created", id, NULL,
		    cv_json_str(intent, "tenant_id", NULL), NULL,
		    json_deep_copy(intent), NULL);
	if (rc == CV_OK)
		rc = cv_publish_target_record(d->s, id, repo_name(d->body), sha,
		    inst);
	if (rc == CV_OK)
		rc = cv_publish_enqueue(d->s, d->cfg, repo_name(d->body), sha,
		    inst, id, "pending", NULL, 0, NULL);
	json_decref(intent);
	d->reply = json_pack("{s:b,s:s,s:s,s:s}", "ok", 1, "delivery_id", d->id,
	    "intent_id", id, "action", "validation_queued");
	return rc;
}

/* destroyed: the group left the queue; merged when GitHub merged it,
 * rejected otherwise (invalidated, dequeued). */
static enum cv_err group_destroyed(struct delivery *d)
{
	const char *reason = cv_json_str(d->body, "reason", "");
	bool merged = strcmp(reason, "merged") == 0;
	json_t *intent = NULL;
	char id[600];
	enum cv_err err;

	group_intent_id(d->body, id, sizeof id);
	if ((err = cv_intent_get(d->s, id, &intent)) != CV_OK)
		return err;
	if (!intent || cv_status_terminal(cv_json_str(intent, "status", ""))) {
		d->reply = json_pack("{s:b,s:s,s:s,s:s}", "ok", 1, "intent_id",
		    id, "action", "ignored", "reason", intent ? "terminal" :
		    "unknown_intent");
		json_decref(intent);
		return CV_OK;
	}
	err = close_intent(d, intent, merged, json_pack("{s:s,s:s}", "reason",
	    reason, "trigger", "merge_group_destroyed"));
	d->reply = json_pack("{s:b,s:s,s:s}", "ok", 1, "intent_id", id,
	    "action", merged ? "merged" : "destroyed");
	json_decref(intent);
	return err;
}

/* ---- the delivery ---------------------------------------------------------- */

static enum cv_err dispatch(struct delivery *d)
{
	const char *action = cv_json_str(d->body, "action", "");

	if (strcmp(d->event, "pull_request") == 0) {
		if (!strcmp(action, "opened") || !strcmp(action, "synchronize") ||
		    !strcmp(action, "reopened"))
			return pr_opened(d);
		if (!strcmp(action, "closed"))
			return pr_closed(d);
	} else if (strcmp(d->event, "push") == 0) {
		return push(d);
	} else if (strcmp(d->event, "merge_group") == 0) {
		if (!strcmp(action, "checks_requested"))
			return group_requested(d);
		if (!strcmp(action, "destroyed"))
			return group_destroyed(d);
	}
	d->reply = json_pack("{s:b,s:s}", "ok", 1, "delivery_id", d->id);
	return CV_OK;
}

static enum cv_err store_payload(struct delivery *d)
{
	char ts[CV_TS_LEN], gen[CV_ID12_LEN + 12], id12[CV_ID12_LEN];
	const char *id = d->id;

	if (!*id) {
		/* No delivery id: kept, but under a name of its own. */
		cv_id12(id12);
		snprintf(gen, sizeof gen, "undelivered-%s", id12);
		id = gen;
	}
	cv_now_ts(ts);
	struct cv_param p[] = { CV_TEXT(id),
	    CV_TEXT(d->cfg->github_default_tenant ?
	    d->cfg->github_default_tenant : ""), CV_TEXT(d->event), CV_TEXT(ts),
	    CV_TEXT(d->ctx->req->body) };
	return cv_db_exec(d->s, "INSERT INTO webhook_payloads (delivery_id,"
	    " tenant_id, github_event, received_at, body) VALUES (?, ?, ?, ?, ?)"
	    " ON CONFLICT DO NOTHING", p, 5, NULL);
}

/* Claim, store, record and dispatch: all or nothing. *duplicate when the
 * delivery id was claimed before. */
static enum cv_err process(struct delivery *d, bool *duplicate)
{
	bool claimed = true;
	enum cv_err err;

	*duplicate = false;
	if ((err = cv_store_begin(d->s)) != CV_OK)
		return err;
	if (*d->id)
		err = cv_delivery_claim(d->s, d->id, &claimed);
	if (err == CV_OK && !claimed) {
		*duplicate = true;
		cv_store_rollback(d->s);
		return CV_OK;
	}
	if (err == CV_OK)
		err = store_payload(d);
	if (err == CV_OK)
		err = cv_event_emit(d->s, "webhook.received", NULL, NULL, NULL,
		    NULL, json_pack("{s:s,s:s,s:s}", "github_event", d->event,
		    "delivery_id", d->id, "action", cv_json_str(d->body, "action",
		    "")), json_pack("{s:s}", "delivery_id", d->id));
	if (err == CV_OK)
		err = dispatch(d);
	if (err != CV_OK) {
		cv_store_rollback(d->s);
		return err;
	}
	return cv_store_commit(d->s);
}

/* Signature rules of 7.2. Returns true when the delivery may proceed. */
static bool verified(struct cv_ctx *ctx)
{
	const struct cv_config *cfg = &ctx->app->cfg;
	const char *sig = cv_request_header(ctx->req, "X-Hub-Signature-256");

	if (!cfg->webhook_secret) {
		if (!cfg->auth_required)
			return true;   /* development mode */
		cv_response_error(ctx->resp, 403, "Webhook signature "
		    "verification not configured");
		return false;
	}
	if (!cv_github_signature_valid(cfg->webhook_secret, ctx->req->body,
	    ctx->req->body_len, sig)) {
		cv_log(CV_WARNING, "converge.webhooks", "invalid signature "
		    "(delivery %s)", cv_request_header(ctx->req,
		    "X-GitHub-Delivery") ? "given" : "missing");
		cv_response_error(ctx->resp, 401, "Invalid signature");
		return false;
	}
	return true;
}

static void webhook(struct cv_ctx *ctx)
{
	struct delivery d = { .ctx = ctx, .cfg = &ctx->app->cfg };
	json_error_t jerr;
	bool duplicate;
	enum cv_err err;

	if (!verified(ctx))
		return;
	d.event = cv_request_header(ctx->req, "X-GitHub-Event");
	d.id = cv_request_header(ctx->req, "X-GitHub-Delivery");
	d.event = d.event ? d.event : "";
	d.id = d.id ? d.id : "";
	if (strlen(d.id) > 200 || strlen(d.event) > 100) {
		cv_response_error(ctx->resp, 400, "Invalid delivery headers");
		return;
	}
	/* Parsed before anything is stored, so a broken body changes
	 * nothing and its redelivery is not a duplicate. */
	ctx->req->json = cv_json_loadb(ctx->req->body, ctx->req->body_len, 0,
	    &jerr);
	if (!json_is_object(ctx->req->json)) {
		cv_response_error(ctx->resp, 400, "Invalid JSON body");
		return;
	}
	d.body = ctx->req->json;
	if (!(d.s = cv_api_want_store(ctx)))
		return;
	err = process(&d, &duplicate);
	if (err != CV_OK) {
		json_decref(d.reply);
		cv_api_fail(ctx, "webhook");
		return;
	}
	if (duplicate)
		cv_response_json(ctx->resp, 200, json_pack("{s:b,s:s,s:b}", "ok",
		    1, "delivery_id", d.id, "duplicate", 1));
	else
		cv_response_json(ctx->resp, 200, d.reply);
}

static const struct cv_route routes[] = {
	{ "POST", "/integrations/github/webhook", webhook, 0, NULL, NULL },
};

const struct cv_family cv_family_webhooks = {
	.name = "webhooks",
	.routes = routes,
	.nroutes = CV_ARRAY_LEN(routes),
	.webhook_body = true,
	.default_processes = 4,
};

#ifndef CV_FAMILY_NO_MAIN
int main(int argc, char **argv)
{
	return cv_farm_main(&cv_family_webhooks, argc, argv);
}
#endif
