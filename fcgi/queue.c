/* queue.c - the queue family: read-only views of the queue
 * (http-api.md 5.2). Queue administration stays in the CLI (S8). */
#include "api.h"
#include "farm.h"
#include "insight.h"
#include "intents.h"
#include "projections.h"

static void state(struct cv_ctx *ctx)
{
	struct cv_store *s = cv_api_want_store(ctx);
	json_t *out = NULL;

	if (!s)
		return;
	if (cv_insight_queue_state(s, cv_api_read_tenant(ctx), &out) != CV_OK)
		cv_api_fail(ctx, "queue state");
	else
		cv_response_json(ctx->resp, 200, out);
}

static void summary(struct cv_ctx *ctx)
{
	struct cv_store *s = cv_api_want_store(ctx);
	json_t *intents, *out;

	if (!s)
		return;
	if (!(intents = cv_intent_brief_list(s, NULL, cv_api_read_tenant(ctx),
	    10000))) {
		cv_api_fail(ctx, "queue summary");
		return;
	}
	out = cv_queue_summary_build(intents);
	json_decref(intents);
	if (!out)
		cv_api_fail(ctx, "queue summary");
	else
		cv_response_json(ctx->resp, 200, out);
}

static const struct cv_route routes[] = {
	{ "GET", "/queue/state", state, CV_ROUTE_PREFIXED, "viewer",
	    "queue.read" },
	{ "GET", "/queue/summary", summary, CV_ROUTE_PREFIXED, "viewer",
	    "queue.read" },
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
