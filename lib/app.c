/* app.c - the responder process's long-lived state. */
#include "app.h"

#include <stdlib.h>

#include "log.h"

struct cv_store *cv_app_store(struct cv_app *app)
{
	char *msg = NULL;

	if (app->store)
		return app->store;
	if (cv_store_open_factory(app->cfg.db_backend, app->cfg.db_path,
	    app->cfg.pg_dsn, &app->store, &msg) != CV_OK) {
		cv_log(CV_ERROR, "converge.api", "store unavailable: %s",
		    msg ? msg : "unknown error");
		free(msg);
		return NULL;
	}
	/* A responder answers first; its serve loop then does the upkeep. */
	cv_store_defer_upkeep(app->store);
	return app->store;
}

const char *cv_ctx_param(const struct cv_ctx *ctx, int i)
{
	if (!ctx->match || i < 0 || i >= ctx->match->nparams)
		return "";
	return ctx->match->params[i];
}
