/*
 * cli_queue.c - `queue run|reset|inspect` and `merge confirm`
 * (operations.md 7.2; domain.md 6).
 */
#include <stdint.h>

#include "cli.h"
#include "clock.h"
#include "config.h"

/* A random lock holder id (O3): process ids repeat across containers
 * (every one is PID 1), so they cannot tell two runners apart. */
static long long holder_id(void)
{
	uint32_t r = 0;

	if (cv_random_bytes(&r, sizeof r) != 0 || (r & 0x7fffffff) == 0)
		return 0;               /* the engine then uses the pid */
	return (long long)(r & 0x7fffffff);
}

static json_t *queue_run(struct cli_ctx *ctx, const struct cli_args *a)
{
	struct cv_queue_opts o = { 0 };
	struct cv_engine e;

	o.limit = (int)cli_int(a, "limit", 20);
	o.target = cli_str(a, "target") ? cli_str(a, "target") : "main";
	o.auto_confirm = cli_given(a, "auto-confirm");
	o.max_retries = (int)cli_int(a, "max-retries", 3);
	o.use_last_simulation = cli_given(a, "use-last-simulation");
	o.skip_checks = cli_given(a, "skip-checks");
	o.holder = holder_id();
	o.ignore_dependencies = !cv_config_enforce_dependencies();
	cli_engine(ctx, &e);
	return cv_engine_queue_run(&e, &o);
}

static json_t *queue_reset(struct cli_ctx *ctx, const struct cli_args *a)
{
	struct cv_engine e;

	cli_engine(ctx, &e);
	return cv_engine_queue_reset(&e, cli_str(a, "intent-id"),
	    cli_str(a, "set-status"), cli_given(a, "clear-lock"));
}

static json_t *queue_inspect(struct cli_ctx *ctx, const struct cli_args *a)
{
	struct cv_engine e;

	cli_engine(ctx, &e);
	return cv_engine_queue_inspect(&e, cli_str(a, "status"),
	    (int)cli_int(a, "min-retries", -1), cli_given(a, "only-actionable"),
	    (int)cli_int(a, "limit", 100));
}

static const struct cli_flag run_flags[] = {
	{ "limit", CLI_INT, false, NULL, 0, 1000000,
	    "intents processed in this run (default 20)" },
	{ "target", CLI_STR, false, NULL, 0, 0,
	    "target branch recorded in queue.processed (default main)" },
	{ "auto-confirm", CLI_SWITCH, false, NULL, 0, 0,
	    "merge each intent that passes revalidation (git merge --no-ff)" },
	{ "max-retries", CLI_INT, false, NULL, 0, 1000000,
	    "blocked revalidations before rejection (default 3)" },
	{ "use-last-simulation", CLI_SWITCH, false, NULL, 0, 0,
	    "reuse each intent's newest simulation" },
	{ "skip-checks", CLI_SWITCH, false, NULL, 0, 0,
	    "do not run the required checks" },
};

static const struct cli_flag reset_flags[] = {
	{ "intent-id", CLI_STR, true, NULL, 0, 0, "the intent" },
	{ "set-status", CLI_CHOICE, false, cli_statuses, 0, 0,
	    "new status (default: keep the current one)" },
	{ "clear-lock", CLI_SWITCH, false, NULL, 0, 0,
	    "force-release the queue lock first (even if the intent is unknown)" },
};

static const struct cli_flag inspect_flags[] = {
	{ "status", CLI_CHOICE, false, cli_statuses, 0, 0, "only this status" },
	{ "min-retries", CLI_INT, false, NULL, 0, 0,
	    "only intents with at least this many retries" },
	{ "only-actionable", CLI_SWITCH, false, NULL, 0, 0,
	    "READY, then VALIDATED, then QUEUED intents" },
	{ "limit", CLI_INT, false, NULL, 0, 1000000,
	    "at most this many rows (default 100)" },
};

static const struct cli_cmd queue_cmds[] = {
	CLI_CMD("run", "Process VALIDATED intents under the queue lock: "
	    "revalidate, queue, merge with --auto-confirm.", run_flags,
	    queue_run),
	CLI_CMD("reset", "Set an intent's retries to 0 (and its status); "
	    "appends queue.reset.", reset_flags, queue_reset),
	CLI_CMD("inspect", "List queue entries.", inspect_flags,
	    queue_inspect),
};

const struct cli_group cli_queue_group = { "queue",
	"Run, reset and inspect the merge queue.", queue_cmds,
	CV_ARRAY_LEN(queue_cmds), false };

/* ---- merge confirm ---------------------------------------------------------- */

static json_t *merge_confirm(struct cli_ctx *ctx, const struct cli_args *a)
{
	struct cv_engine e;

	cli_engine(ctx, &e);
	return cv_engine_confirm_merge(&e, cli_str(a, "intent-id"),
	    cli_str_nonempty(a, "merged-commit"));
}

static const struct cli_flag confirm_flags[] = {
	{ "intent-id", CLI_STR, true, NULL, 0, 0, "a QUEUED or VALIDATED intent" },
	{ "merged-commit", CLI_STR, false, NULL, 0, 0,
	    "the merge commit (default confirmed-<first 8 of the id>)" },
};

static const struct cli_cmd merge_cmds[] = {
	CLI_CMD("confirm", "Record that an intent was merged outside "
	    "Converge; appends intent.merged.", confirm_flags, merge_confirm),
};

const struct cli_group cli_merge_group = { "merge",
	"Confirm merges made outside the queue.", merge_cmds, 1, false };
