/*
 * cli_health.c - `health now|trend|change|change-trend|entropy|predict`,
 * `metrics` and `predictions` (operations.md 7.2, 7.3; domain.md 7).
 * The projections live in lib/insight.c; these are their flags.
 */
#include "cli.h"
#include "insight.h"

/* An insight call's result, or NULL when it failed. A macro, because
 * the result must be read after the call (argument evaluation order is
 * unspecified). */
#define take(call, out) ((call) == CV_OK ? (out) : NULL)

#define TENANT(a) cli_str_nonempty((a), "tenant-id")
#define DAYS(a) ((int)cli_int((a), "days", 30))

static json_t *health_now(struct cli_ctx *ctx, const struct cli_args *a)
{
	json_t *out = NULL;

	return take(cv_insight_repo_health(ctx->store, TENANT(a), 24, &out), out);
}

static json_t *health_trend(struct cli_ctx *ctx, const struct cli_args *a)
{
	json_t *out = NULL;

	return take(cv_insight_health_trend(ctx->store, TENANT(a), DAYS(a), 0,
	    &out), out);
}

static json_t *health_change(struct cli_ctx *ctx, const struct cli_args *a)
{
	json_t *out = NULL;

	return take(cv_insight_change_health(ctx->store,
	    cli_str(a, "intent-id"), TENANT(a), &out), out);
}

static json_t *health_change_trend(struct cli_ctx *ctx,
    const struct cli_args *a)
{
	json_t *out = NULL;

	return take(cv_insight_change_health_trend(ctx->store, TENANT(a),
	    DAYS(a), 0, &out), out);
}

static json_t *health_entropy(struct cli_ctx *ctx, const struct cli_args *a)
{
	json_t *out = NULL;

	return take(cv_insight_entropy_trend(ctx->store, TENANT(a), DAYS(a), 0,
	    &out), out);
}

static json_t *health_predict(struct cli_ctx *ctx, const struct cli_args *a)
{
	json_t *out = NULL;

	return take(cv_insight_health_predict(ctx->store, TENANT(a),
	    (int)cli_int(a, "horizon-days", 7), 3, &out), out);
}

static json_t *metrics(struct cli_ctx *ctx, const struct cli_args *a)
{
	json_t *out = NULL;

	return take(cv_insight_integration_metrics(ctx->store, TENANT(a), &out),
	    out);
}

static json_t *predictions(struct cli_ctx *ctx, const struct cli_args *a)
{
	json_t *out = NULL;

	return take(cv_insight_predictions(ctx->store, TENANT(a), &out), out);
}

static const struct cli_flag tenant_flags[] = {
	{ "tenant-id", CLI_STR, false, NULL, 0, 0, "only this tenant" },
};

/* Day windows are capped so that now - days stays a valid time. */
static const struct cli_flag days_flags[] = {
	{ "tenant-id", CLI_STR, false, NULL, 0, 0, "only this tenant" },
	{ "days", CLI_INT, false, NULL, 1, 36500, "window in days (default 30)" },
};

static const struct cli_flag change_flags[] = {
	{ "intent-id", CLI_STR, true, NULL, 0, 0, "the intent" },
	{ "tenant-id", CLI_STR, false, NULL, 0, 0, "tenant" },
};

static const struct cli_flag predict_flags[] = {
	{ "tenant-id", CLI_STR, false, NULL, 0, 0, "only this tenant" },
	{ "horizon-days", CLI_INT, false, NULL, 1, 36500,
	    "prediction horizon in days (default 7)" },
};

static const struct cli_cmd health_cmds[] = {
	CLI_CMD("now", "Repository health of the last 24 hours; appends "
	    "health.snapshot.", tenant_flags, health_now),
	CLI_CMD("trend", "Health snapshots of the window, newest first.",
	    days_flags, health_trend),
	CLI_CMD("change", "Health of one change; appends "
	    "health.change_snapshot.", change_flags, health_change),
	CLI_CMD("change-trend", "Change-health snapshots of the window.",
	    days_flags, health_change_trend),
	CLI_CMD("entropy", "Entropy scores of the window.", days_flags,
	    health_entropy),
	CLI_CMD("predict", "Project health over the horizon from the "
	    "snapshots; appends health.prediction when there is enough data.",
	    predict_flags, health_predict),
};

const struct cli_group cli_health_group = { "health",
	"Repository and change health, trends and prediction.", health_cmds,
	CV_ARRAY_LEN(health_cmds), false };

static const struct cli_cmd metrics_cmds[] = {
	CLI_CMD("metrics", "Integration metrics (simulations, merges, "
	    "rejections, decisions).", tenant_flags, metrics),
};

const struct cli_group cli_metrics_group = { "metrics",
	"Integration metrics.", metrics_cmds, 1, true };

static const struct cli_cmd predictions_cmds[] = {
	CLI_CMD("predictions", "Issue prediction signals of the last 24 "
	    "hours.", tenant_flags, predictions),
};

const struct cli_group cli_predictions_group = { "predictions",
	"Issue prediction signals.", predictions_cmds, 1, true };
