/*
 * cli_compliance.c - `compliance report|alerts|threshold-set|
 * threshold-get|threshold-list` (operations.md 7.2; domain.md 7.4).
 */
#include "cli.h"
#include "eventlog.h"
#include "insight.h"
#include "jsonx.h"

static json_t *report(struct cli_ctx *ctx, const struct cli_args *a)
{
	json_t *out = NULL;

	if (cv_insight_compliance(ctx->store, cli_str_nonempty(a, "tenant-id"),
	    NULL, &out) != CV_OK)
		return NULL;
	return out;
}

/* Exit 3 with --fail-on-alert when there is at least one alert; the JSON
 * is printed all the same (7.1). */
static json_t *alerts(struct cli_ctx *ctx, const struct cli_args *a)
{
	json_t *rep = report(ctx, a), *out, *list;

	if (!rep)
		return NULL;
	list = cv_json_arr(rep, "alerts");
	out = json_pack("{s:o,s:b}", "alerts", list ? json_incref(list) :
	    json_array(), "passed", cv_json_bool(rep, "passed", true));
	if (out && cli_given(a, "fail-on-alert") && json_array_size(list) > 0)
		ctx->exit_code = 3;
	json_decref(rep);
	return out;
}

struct thresholds_write {
	const char *tenant;
	const json_t *doc;
};

static enum cv_err write_thresholds(struct cv_store *s, void *arg)
{
	struct thresholds_write *w = arg;
	enum cv_err err = cv_compliance_thresholds_upsert(s, w->tenant, w->doc);

	return err != CV_OK ? err : cv_event_emit(s,
	    "compliance.thresholds_updated", NULL, NULL, w->tenant, NULL,
	    json_deep_copy(w->doc), NULL);
}

static json_t *threshold_set(struct cli_ctx *ctx, const struct cli_args *a)
{
	struct thresholds_write w = { cli_str(a, "tenant-id"), NULL };
	json_t *doc = json_object();

	if (cli_given(a, "min-mergeable-rate"))
		json_object_set_new(doc, "min_mergeable_rate",
		    json_real(cli_num(a, "min-mergeable-rate", 0)));
	if (cli_given(a, "max-conflict-rate"))
		json_object_set_new(doc, "max_conflict_rate",
		    json_real(cli_num(a, "max-conflict-rate", 0)));
	if (cli_given(a, "max-retries-total"))
		json_object_set_new(doc, "max_retries_total",
		    json_integer(cli_int(a, "max-retries-total", 0)));
	if (cli_given(a, "max-queue-tracked"))
		json_object_set_new(doc, "max_queue_tracked",
		    json_integer(cli_int(a, "max-queue-tracked", 0)));
	w.doc = doc;
	if (cli_atomic(ctx->store, write_thresholds, &w) != CV_OK) {
		json_decref(doc);
		return NULL;
	}
	json_decref(doc);
	return json_pack("{s:b,s:s}", "ok", 1, "tenant_id", w.tenant);
}

static json_t *threshold_get(struct cli_ctx *ctx, const struct cli_args *a)
{
	json_t *doc = NULL;

	if (cv_compliance_thresholds_get(ctx->store, cli_str(a, "tenant-id"),
	    &doc) != CV_OK)
		return NULL;
	return doc ? doc : json_pack("{s:s}", "message",
	    "No thresholds configured for this tenant");
}

static json_t *threshold_list(struct cli_ctx *ctx, const struct cli_args *a)
{
	(void)a;
	return cv_compliance_thresholds_list(ctx->store, NULL);
}

static const struct cli_flag report_flags[] = {
	{ "tenant-id", CLI_STR, false, NULL, 0, 0, "only this tenant" },
};

static const struct cli_flag alerts_flags[] = {
	{ "tenant-id", CLI_STR, false, NULL, 0, 0, "only this tenant" },
	{ "fail-on-alert", CLI_SWITCH, false, NULL, 0, 0,
	    "exit 3 when there is at least one alert" },
};

static const struct cli_flag set_flags[] = {
	{ "tenant-id", CLI_STR, true, NULL, 0, 0, "the tenant" },
	{ "min-mergeable-rate", CLI_NUM, false, NULL, 0, 0,
	    "lowest acceptable mergeable rate (0..1)" },
	{ "max-conflict-rate", CLI_NUM, false, NULL, 0, 0,
	    "highest acceptable conflict rate (0..1)" },
	{ "max-retries-total", CLI_INT, false, NULL, 0, 0,
	    "highest acceptable total of retries" },
	{ "max-queue-tracked", CLI_INT, false, NULL, 0, 0,
	    "highest acceptable number of tracked intents" },
};

static const struct cli_flag get_flags[] = {
	{ "tenant-id", CLI_STR, true, NULL, 0, 0, "the tenant" },
};

static const struct cli_cmd compliance_cmds[] = {
	CLI_CMD("report", "Compliance report against the tenant's "
	    "thresholds.", report_flags, report),
	CLI_CMD("alerts", "The report's alerts and verdict.", alerts_flags,
	    alerts),
	CLI_CMD("threshold-set", "Store a tenant's thresholds (replaces "
	    "them); appends compliance.thresholds_updated.", set_flags,
	    threshold_set),
	CLI_CMD("threshold-get", "Show a tenant's thresholds.", get_flags,
	    threshold_get),
	CLI_CMD0("threshold-list", "Every tenant's thresholds.",
	    threshold_list),
};

const struct cli_group cli_compliance_group = { "compliance",
	"Compliance report, alerts and thresholds.", compliance_cmds,
	CV_ARRAY_LEN(compliance_cmds), false };
