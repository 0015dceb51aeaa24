/*
 * health.c - the health family: the operational probes of http-api.md 6
 * (no authentication, never rate limited), the OpenAPI document at
 * /openapi.json, and the catch-all that answers
 * every path no other family owns with the JSON 404.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "clock.h"
#include "farm.h"
#include "log.h"
#include "metrics.h"
#include "store.h"

static json_t *status_ok(void)
{
	char ts[CV_TS_LEN];

	cv_now_ts(ts);
	return json_pack("{s:s,s:s}", "status", "ok", "timestamp", ts);
}

static void health(struct cv_ctx *ctx)
{
	cv_response_json(ctx->resp, 200, status_ok());
}

static void live(struct cv_ctx *ctx)
{
	/* Liveness never touches the store: a slow DB must not get the
	 * process restarted. */
	cv_response_json(ctx->resp, 200, json_pack("{s:s}", "status", "ok"));
}

static void ready(struct cv_ctx *ctx)
{
	struct cv_store *s = cv_app_store(ctx->app);
	char ts[CV_TS_LEN];

	if (s && cv_store_ping(s) == CV_OK) {
		if (cv_store_room(s) != CV_EFULL) {
			cv_response_json(ctx->resp, 200, status_ok());
			return;
		}
		/* Reads still work; writes would get 503 until room returns. */
		cv_log(CV_ERROR, "converge.api", "not ready: %s",
		    cv_store_errmsg(s));
		cv_now_ts(ts);
		cv_response_json(ctx->resp, 503, json_pack("{s:s,s:s,s:s}",
		    "status", "unavailable", "error", "storage full",
		    "timestamp", ts));
		cv_response_header(ctx->resp, "Retry-After",
		    CV_API_FULL_RETRY_AFTER);
		return;
	}
	/* The detail goes to the log only: it can name files and hosts. */
	cv_log(CV_ERROR, "converge.api", "readiness failed: %s",
	    s ? cv_store_errmsg(s) : "store not open");
	cv_now_ts(ts);
	cv_response_json(ctx->resp, 503, json_pack("{s:s,s:s,s:s}", "status",
	    "unavailable", "error", "store unavailable", "timestamp", ts));
}

/* Prometheus text of the whole instance: the counters live in shared
 * memory, so any process of any family renders everyone's traffic. */
static void metrics(struct cv_ctx *ctx)
{
	char *text = cv_metrics_render(ctx->app->metrics);

	if (!text) {
		cv_response_error(ctx->resp, 500, "Internal server error");
		return;
	}
	cv_response_text(ctx->resp, 200, "text/plain; charset=utf-8", text,
	    strlen(text));
	free(text);
}

/* docs/openapi.json, compiled in line by line (fcgi/openapi_doc.c, made
 * by make): the document needs no file at run time. */
extern const char *const cv_openapi_lines[];

static void openapi(struct cv_ctx *ctx)
{
	static char *doc;
	static size_t len;

	if (!doc) {
		size_t n = 0;
		for (size_t i = 0; cv_openapi_lines[i]; i++)
			n += strlen(cv_openapi_lines[i]);
		if (!(doc = malloc(n + 1))) {
			cv_response_error(ctx->resp, 500,
			    "Internal server error");
			return;
		}
		for (size_t i = 0; cv_openapi_lines[i]; i++) {
			size_t k = strlen(cv_openapi_lines[i]);
			memcpy(doc + len, cv_openapi_lines[i], k);
			len += k;
		}
		doc[len] = '\0';
	}
	cv_response_text(ctx->resp, 200, "application/json", doc, len);
}

static const struct cv_route routes[] = {
	{ "GET", "/health", health, 0, NULL, NULL },
	{ "GET", "/health/ready", ready, 0, NULL, NULL },
	{ "GET", "/health/live", live, 0, NULL, NULL },
	{ "GET", "/metrics", metrics, 0, NULL, NULL },
	{ "GET", "/openapi.json", openapi, 0, NULL, NULL },
};

const struct cv_family cv_family_health = {
	.name = "health",
	.routes = routes,
	.nroutes = CV_ARRAY_LEN(routes),
	.default_processes = 2,
};

#ifndef CV_FAMILY_NO_MAIN
int main(int argc, char **argv)
{
	return cv_farm_main(&cv_family_health, argc, argv);
}
#endif
