/* api.c - shared pieces of the business routes. */
#include "api.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "eventlog.h"
#include "intents.h"
#include "jsonx.h"
#include "log.h"

void cv_api_fail(struct cv_ctx *ctx, const char *what)
{
	bool full = ctx->app->store && cv_store_full(ctx->app->store);

	cv_log_fields(CV_ERROR, "converge.api", json_pack("{s:s,s:o}",
	    "request_id", ctx->req->request_id, "path",
	    cv_json_string_escaped(ctx->req->path)),
	    "%s: %s", what, ctx->app->store ?
	    cv_store_errmsg(ctx->app->store) : "store unavailable");
	if (!full) {
		cv_response_error(ctx->resp, 500, "Internal server error");
		return;
	}
	/* Nothing was written: the client may send the same request again
	 * once the operator has made room. */
	cv_response_error(ctx->resp, 503, "Storage full, retry later");
	cv_response_header(ctx->resp, "Retry-After", CV_API_FULL_RETRY_AFTER);
}

struct cv_store *cv_api_want_store(struct cv_ctx *ctx)
{
	struct cv_store *s = cv_app_store(ctx->app);

	if (!s)
		cv_api_fail(ctx, "store");
	return s;
}

void cv_api_invalid(struct cv_ctx *ctx, const char *loc, const char *msg)
{
	char text[512];

	snprintf(text, sizeof text, "%s: %s", loc, msg);
	cv_response_error(ctx->resp, 400, text);
}

bool cv_api_want_int(struct cv_ctx *ctx, const char *name, long long def,
    long long min, long long max, long long *out)
{
	char loc[96];

	if (cv_request_query_int(ctx->req, name, def, min, max, out) == CV_OK)
		return true;
	snprintf(loc, sizeof loc, "query.%s", name);
	cv_api_invalid(ctx, loc, "Input should be a valid integer, unable to "
	    "parse string as an integer");
	return false;
}

const char *cv_api_principal_tenant(const struct cv_ctx *ctx)
{
	const char *t = cv_json_str(ctx->principal, "tenant", NULL);

	return t && *t ? t : NULL;
}

const char *cv_api_principal_role(const struct cv_ctx *ctx)
{
	return ctx->principal ? cv_json_str(ctx->principal, "role", "") : "admin";
}

const char *cv_api_principal_actor(const struct cv_ctx *ctx)
{
	return ctx->principal ? cv_json_str(ctx->principal, "actor", "") :
	    "anonymous";
}

const char *cv_api_read_tenant(const struct cv_ctx *ctx)
{
	const char *t = cv_api_principal_tenant(ctx);
	const char *q;

	if (t)
		return t;
	q = cv_request_query(ctx->req, "tenant_id");
	return q && *q ? q : NULL;
}

bool cv_api_want_write_tenant(struct cv_ctx *ctx, const char *requested,
    const char **effective)
{
	const char *own = cv_api_principal_tenant(ctx);
	const char *eff = requested && *requested ? requested : own;

	if (!eff) {
		cv_response_error(ctx->resp, 400, "tenant_id required");
		return false;
	}
	if (own && strcmp(eff, own) != 0 &&
	    strcmp(cv_api_principal_role(ctx), "admin") != 0) {
		cv_response_error(ctx->resp, 403,
		    "Forbidden: cannot access another tenant");
		return false;
	}
	*effective = eff;
	return true;
}

bool cv_api_want_write_tenant_optional(struct cv_ctx *ctx,
    const char *requested, const char **effective)
{
	const char *own = cv_api_principal_tenant(ctx);
	const char *eff = requested && *requested ? requested : own;

	if (own && eff && strcmp(eff, own) != 0 &&
	    strcmp(cv_api_principal_role(ctx), "admin") != 0) {
		cv_response_error(ctx->resp, 403,
		    "Forbidden: cannot access another tenant");
		return false;
	}
	*effective = eff;
	return true;
}

bool cv_api_intent_visible(const struct cv_ctx *ctx, const json_t *intent)
{
	const char *t = cv_api_read_tenant(ctx);
	const char *it = cv_json_str(intent, "tenant_id", NULL);

	return !t || (it && strcmp(t, it) == 0);
}

json_t *cv_api_want_intent(struct cv_ctx *ctx, struct cv_store *s,
    const char *id, const char *not_found)
{
	json_t *in = NULL;

	if (!id || !*id || cv_intent_get(s, id, &in) == CV_OK) {
		if (in && cv_api_intent_visible(ctx, in))
			return in;
		json_decref(in);
		cv_response_error(ctx->resp, 404, not_found ? not_found :
		    "Intent not found");
		return NULL;
	}
	cv_api_fail(ctx, "intent lookup");
	return NULL;
}

json_t *cv_api_intent_events(struct cv_store *s, const json_t *intent,
    int limit)
{
	struct cv_event_filter f = { .intent_id = cv_json_str(intent, "id", ""),
	    .tenant_id = cv_json_str(intent, "tenant_id", NULL),
	    .limit = limit };

	return cv_event_query(s, &f);
}

json_t *cv_api_want_body(struct cv_ctx *ctx, bool required)
{
	json_t *b = ctx->req->json;

	if (!b || json_is_null(b)) {
		if (required && ctx->req->body_len == 0) {
			cv_api_invalid(ctx, "body", "Field required");
			return NULL;
		}
		if (!b && ctx->req->body_len > 0) {
			/* A body that was not declared as JSON. */
			cv_api_invalid(ctx, "body", "Input should be a valid "
			    "dictionary");
			return NULL;
		}
		if (required) {
			cv_api_invalid(ctx, "body", "Field required");
			return NULL;
		}
		if (!ctx->req->json)
			ctx->req->json = json_object();
		else {
			json_decref(ctx->req->json);
			ctx->req->json = json_object();
		}
		return ctx->req->json;
	}
	if (!json_is_object(b)) {
		cv_api_invalid(ctx, "body", "Input should be a valid dictionary");
		return NULL;
	}
	return b;
}

static bool wrong_type(struct cv_ctx *ctx, const char *name, const char *type)
{
	char loc[160], msg[64];

	snprintf(loc, sizeof loc, "body.%s", name);
	snprintf(msg, sizeof msg, "Input should be a valid %s", type);
	cv_api_invalid(ctx, loc, msg);
	return false;
}

bool cv_api_want_str(struct cv_ctx *ctx, const json_t *body,
    const char *name, const char **out)
{
	json_t *v = json_object_get(body, name);

	if (!v || json_is_null(v))
		return true;
	if (!json_is_string(v))
		return wrong_type(ctx, name, "string");
	*out = json_string_value(v);
	return true;
}

bool cv_api_want_required_str(struct cv_ctx *ctx, const json_t *body,
    const char *name, const char **out)
{
	json_t *v = json_object_get(body, name);
	char loc[160];

	snprintf(loc, sizeof loc, "body.%s", name);
	if (!v) {
		cv_api_invalid(ctx, loc, "Field required");
		return false;
	}
	if (!json_is_string(v))
		return wrong_type(ctx, name, "string");
	if (json_string_length(v) == 0) {
		cv_api_invalid(ctx, loc, "String should have at least 1 "
		    "character");
		return false;
	}
	*out = json_string_value(v);
	return true;
}

bool cv_api_want_num(struct cv_ctx *ctx, const json_t *body,
    const char *name, double *out)
{
	json_t *v = json_object_get(body, name);

	if (!v || json_is_null(v))
		return true;
	if (!json_is_number(v) || !isfinite(json_number_value(v)))
		return wrong_type(ctx, name, "number");
	*out = json_number_value(v);
	return true;
}

bool cv_api_want_int_field(struct cv_ctx *ctx, const json_t *body,
    const char *name, long long *out)
{
	json_t *v = json_object_get(body, name);

	if (!v || json_is_null(v))
		return true;
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return true;
	}
	if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v))
	    && fabs(json_real_value(v)) < 9e15) {
		*out = (long long)json_real_value(v);
		return true;
	}
	return wrong_type(ctx, name, "integer");
}

bool cv_api_want_bool(struct cv_ctx *ctx, const json_t *body,
    const char *name, bool *out)
{
	json_t *v = json_object_get(body, name);

	if (!v || json_is_null(v))
		return true;
	if (!json_is_boolean(v))
		return wrong_type(ctx, name, "boolean");
	*out = json_is_true(v);
	return true;
}

json_t *cv_api_doc_without_nulls(const json_t *body)
{
	json_t *doc = json_object(), *v;
	const char *k;

	if (!doc)
		return NULL;
	json_object_foreach((json_t *)body, k, v) {
		if (json_is_null(v))
			continue;
		if (json_object_set(doc, k, v) == -1) {
			json_decref(doc);
			return NULL;
		}
	}
	return doc;
}
