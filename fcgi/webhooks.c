/*
 * webhooks.c - the webhooks family: POST /integrations/github/webhook
 * (http-api.md 7, decisions.md D-5, D-8, D-9).
 *
 * HTTP glue only: verify the signature, map the delivery to a plan
 * (lib/ghevents, pure), then claim, store and apply the plan in ONE
 * transaction before the answer: either all of its effects land or none
 * do (and then GitHub's redelivery is not mistaken for a duplicate).
 * Nothing here talks to GitHub or to a git remote; publications go to the
 * outbox and mirror fetches to the worker.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "clock.h"
#include "db.h"
#include "eventlog.h"
#include "farm.h"
#include "ghevents.h"
#include "jsonx.h"
#include "log.h"
#include "webhook_sig.h"

struct delivery {
	struct cv_ctx *ctx;
	struct cv_store *s;
	const struct cv_config *cfg;
	const char *event, *id;
	json_t *plan;              /* what the delivery does, owned */
	json_t *reply;             /* the 200 body, owned */
};

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

/* The delivery's plan into d->plan. A payload without its event's shape
 * (D-8) is CV_EINVAL with *fe naming the field. Built before the
 * delivery's transaction, so that the JSON work and the one read (is the
 * repository registered?) are not done while every other writer waits
 * on the lock. The read may then be older than the transaction: that is
 * the delivery ordered before a registration that commits meanwhile,
 * which writes no intent. */
static enum cv_err plan(struct delivery *d, struct cv_field_error *fe)
{
	char ts[CV_TS_LEN];
	struct cv_gh_opts o = { d->cfg->github_default_tenant, ts,
	    cv_gh_registered_in_store, d->s };

	cv_now_ts(ts);
	return cv_gh_plan_build(d->event, d->ctx->req->json, &o, &d->plan, fe);
}

/* A payload refused by its plan creates nothing and writes no event, but
 * its delivery id is recorded as seen; a redelivery maps the same way,
 * so it gets the same answer (400 naming the field). */
static void refuse(struct delivery *d, const struct cv_field_error *fe)
{
	char text[300];
	bool claimed;

	if (*d->id && cv_store_begin(d->s) == CV_OK) {
		if (cv_delivery_claim(d->s, d->id, &claimed) == CV_OK)
			cv_store_commit(d->s);
		else
			cv_store_rollback(d->s);
	}
	cv_field_error_text(fe, "payload.", text, sizeof text);
	cv_log(CV_WARNING, "converge.webhooks", "%s delivery refused: %s",
	    d->event, text);
	cv_response_error(d->ctx->resp, 400, text);
}

/* What the delivery's transaction appends, made before the writers' lock
 * is taken so that the lock covers only the writes: webhook.received
 * and what the plan appends. */
struct ready_rows {
	struct cv_event_row received;
	struct cv_gh_ready plan;
};

/* Leaves r for free_ready whatever it returns. */
static enum cv_err make_ready(struct delivery *d, struct ready_rows *r)
{
	enum cv_err err;

	memset(r, 0, sizeof *r);
	err = cv_event_row_make(&r->received, "webhook.received", NULL, NULL,
	    NULL, NULL, json_pack("{s:s,s:s,s:s}", "github_event", d->event,
	    "delivery_id", d->id, "action", cv_json_str(d->ctx->req->json,
	    "action", "")), json_pack("{s:s}", "delivery_id", d->id));
	return err == CV_OK ? cv_gh_plan_ready(d->plan, &r->plan) : err;
}

static void free_ready(struct ready_rows *r)
{
	cv_event_row_free(&r->received);
	cv_gh_ready_free(&r->plan);
}

/* Claim, store, record and dispatch in one transaction: all or nothing.
 * *duplicate when the delivery id was claimed before. */
static enum cv_err record(struct delivery *d, const struct ready_rows *r,
    bool *duplicate)
{
	bool claimed = true;
	enum cv_err err = cv_store_begin(d->s);

	if (err != CV_OK)
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
		err = cv_event_row_append(d->s, &r->received);
	if (err == CV_OK)
		err = cv_gh_plan_apply(d->s, d->cfg, d->plan, &r->plan, d->id,
		    &d->reply);
	if (err != CV_OK) {
		cv_store_rollback(d->s);
		return err;
	}
	return cv_store_commit(d->s);
}

/* Plan, then record. *refused when the plan refused the payload (the
 * 400 is written). */
static enum cv_err process(struct delivery *d, bool *duplicate,
    bool *refused)
{
	struct cv_field_error fe;
	struct ready_rows r;
	enum cv_err err;

	*duplicate = *refused = false;
	if ((err = plan(d, &fe)) == CV_EINVAL) {
		*refused = true;
		refuse(d, &fe);
		return CV_OK;
	}
	if (err != CV_OK)
		return err;
	if ((err = make_ready(d, &r)) == CV_OK)
		err = record(d, &r, duplicate);
	free_ready(&r);
	return err;
}

static void webhook(struct cv_ctx *ctx)
{
	struct delivery d = { .ctx = ctx, .cfg = &ctx->app->cfg };
	json_error_t jerr;
	bool duplicate, refused;
	enum cv_err err;

	if (!verified(ctx))
		return;
	d.event = cv_request_header(ctx->req, "X-GitHub-Event");
	d.id = cv_request_header(ctx->req, "X-GitHub-Delivery");
	d.event = d.event ? d.event : "";
	d.id = d.id ? d.id : "";
	/* Both end up in events, whose JSON can hold UTF-8 only. */
	if (strlen(d.id) > 200 || strlen(d.event) > 100 ||
	    !cv_utf8_text(d.id) || !cv_utf8_text(d.event)) {
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
	if (!(d.s = cv_api_want_store(ctx)))
		return;
	err = process(&d, &duplicate, &refused);
	json_decref(d.plan);
	if (err != CV_OK) {
		json_decref(d.reply);
		cv_api_fail(ctx, "webhook");
		return;
	}
	if (refused)
		return;
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
