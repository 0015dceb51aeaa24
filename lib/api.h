/*
 * api.h - what every business route shares once routing and
 * authentication are done: the store or a 500, integer query parameters
 * with the spec's 400, the effective tenant (http-api.md 3.7), and body
 * field checks that answer with the validation envelope of section 10.
 *
 * Functions named cv_api_want_* either return the value or write the
 * error response into ctx->resp and return false/NULL; the handler then
 * simply returns.
 */
#ifndef CV_API_H
#define CV_API_H

#include <jansson.h>
#include <stdbool.h>

#include "app.h"
#include "cv.h"

/* The store, or NULL after answering 500 (the detail is logged). */
struct cv_store *cv_api_want_store(struct cv_ctx *ctx);

/* Answers 500 {"error":"Internal server error"}; logs what failed. When
 * the store ran out of room: 503 {"error":"Storage full, retry later"}
 * with Retry-After (seconds), nothing having been written. */
#define CV_API_FULL_RETRY_AFTER "30"
void cv_api_fail(struct cv_ctx *ctx, const char *what);

/* Integer query parameter: absent → def; clamped into [min, max] (D12);
 * not an integer → 400 "query.<name>: Input should be a valid integer,
 * unable to parse string as an integer". */
bool cv_api_want_int(struct cv_ctx *ctx, const char *name, long long def,
    long long min, long long max, long long *out);

/* The principal's tenant when it has one, else the query's tenant_id,
 * else NULL (all tenants). A principal bound to a tenant can never widen
 * it through the query string. */
const char *cv_api_read_tenant(const struct cv_ctx *ctx);

/* The principal's tenant or NULL. */
const char *cv_api_principal_tenant(const struct cv_ctx *ctx);
const char *cv_api_principal_role(const struct cv_ctx *ctx);
const char *cv_api_principal_actor(const struct cv_ctx *ctx);

/* Write enforcement (3.7): effective = requested or the principal's
 * tenant; none → 400 "tenant_id required"; a tenant-bound non-admin
 * asking for another tenant → 403. *effective is borrowed from the
 * arguments or the principal. */
bool cv_api_want_write_tenant(struct cv_ctx *ctx, const char *requested,
    const char **effective);

/* Like cv_api_want_write_tenant, but no tenant at all is allowed
 * (*effective NULL): creating an intent without a tenant is legal. */
bool cv_api_want_write_tenant_optional(struct cv_ctx *ctx,
    const char *requested, const char **effective);

/* True when the intent is visible to the caller: no tenant applies, or
 * the intent's tenant equals the effective tenant. */
bool cv_api_intent_visible(const struct cv_ctx *ctx, const json_t *intent);

/*
 * The one tenant-checked intent lookup (D-8), for every route that reads
 * or computes something about a named intent: returns the intent (new
 * reference) when it exists and is visible to the caller. Otherwise
 * answers and returns NULL: 404 {"error": not_found} for a missing intent
 * and for another tenant's (which does not exist for the caller), so
 * nothing is computed and no event is written; 500 on a store failure.
 * not_found NULL means "Intent not found".
 */
json_t *cv_api_want_intent(struct cv_ctx *ctx, struct cv_store *s,
    const char *id, const char *not_found);

/* The events of a visible intent, newest first: only those recorded
 * under the intent's own tenant (an event another tenant wrote about
 * this id is not part of its timeline). New reference; NULL on failure. */
json_t *cv_api_intent_events(struct cv_store *s, const json_t *intent,
    int limit);

/* The JSON body as an object. Missing body → 400 "body: Field required"
 * (when required) or an empty object; anything else than an object →
 * 400 "body: Input should be a valid dictionary". Borrowed from the
 * request. */
json_t *cv_api_want_body(struct cv_ctx *ctx, bool required);

/* Optional typed body fields: absent/null is fine (returns true and
 * leaves *out untouched); a wrong type answers 400
 * "body.<name>: Input should be a valid <type>". */
bool cv_api_want_str(struct cv_ctx *ctx, const json_t *body,
    const char *name, const char **out);
bool cv_api_want_num(struct cv_ctx *ctx, const json_t *body,
    const char *name, double *out);
/* A required non-empty string field: absent → "Field required", null or
 * another type → "Input should be a valid string", "" → "String should
 * have at least 1 character" (all 400 "body.<name>: ..."). */
bool cv_api_want_required_str(struct cv_ctx *ctx, const json_t *body,
    const char *name, const char **out);
bool cv_api_want_int_field(struct cv_ctx *ctx, const json_t *body,
    const char *name, long long *out);
bool cv_api_want_bool(struct cv_ctx *ctx, const json_t *body,
    const char *name, bool *out);

/* A copy of a free-form body document with its null-valued top-level
 * fields removed (the stored form of RiskPolicyBody and
 * ComplianceThresholdsBody, http-api 5.3/5.5). Caller owns it; NULL on
 * ENOMEM. */
json_t *cv_api_doc_without_nulls(const json_t *body);

/* Answers 400 with "<loc>: <msg>". */
void cv_api_invalid(struct cv_ctx *ctx, const char *loc, const char *msg);

#endif
