/*
 * app.h - what a responder process holds for its whole life (config, the
 * store connection) and what one request carries through the handlers.
 */
#ifndef CV_APP_H
#define CV_APP_H

#include <jansson.h>

#include "config.h"
#include "http.h"
#include "router.h"
#include "store.h"

struct cv_auth;
struct cv_metrics;

struct cv_app {
	struct cv_config cfg;
	struct cv_auth *auth;      /* key registry and JWT keys, built once */
	struct cv_metrics *metrics; /* shared counters; NULL disables them */
	struct cv_store *store;    /* NULL while the database is unreachable */
	const char *family;        /* "health", "intents", ... */
	void *family_state;        /* owned by the family's init/fini */
};

struct cv_ctx {
	struct cv_app *app;
	struct cv_request *req;
	struct cv_response *resp;
	struct cv_route_match *match;
	json_t *principal;         /* set by authentication, owned by ctx */
};

/* The process's store, reopened when the previous open failed; NULL (with
 * the reason logged) when the database is still unavailable. */
struct cv_store *cv_app_store(struct cv_app *app);

/* Path parameter i of the matched route ("" when absent). */
const char *cv_ctx_param(const struct cv_ctx *ctx, int i);

#endif
