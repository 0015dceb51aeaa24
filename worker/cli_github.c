/* cli_github.c - `converge github publish`: sends the GitHub outbox once
 * (the worker does the same every cycle; this is for cron and for
 * operators who want a publication out now). */
#include <stdlib.h>

#include "cli.h"
#include "clock.h"
#include "config.h"
#include "github.h"
#include "outbox.h"

static json_t *publish(struct cli_ctx *ctx, const struct cli_args *a)
{
	struct cv_config cfg;
	struct cv_outbox_counts c = { 0 };
	struct cv_github *gh;
	char err[256];
	long long pending = 0;
	enum cv_err rc;

	if (cv_config_load(&cfg, err, sizeof err) != CV_OK)
		return cli_error("%s", err);
	if (!cv_config_github_enabled(&cfg)) {
		cv_config_free(&cfg);
		return cli_error("GitHub publishing is not configured (set "
		    "CONVERGE_GITHUB_APP_ID and CONVERGE_GITHUB_INSTALLATION_ID)");
	}
	gh = cv_github_client_from_config(&cfg);
	cv_config_free(&cfg);
	if (!gh)
		return cli_error("cannot create the GitHub client");
	rc = cv_outbox_process(ctx->store, gh, (int)cli_int(a, "limit", 50),
	    cv_now_us(), 0, &c);
	cv_github_free(gh);
	if (rc != CV_OK)
		return cli_error("outbox: %s", cv_store_errmsg(ctx->store));
	cv_outbox_pending(ctx->store, &pending);
	return json_pack("{s:i,s:i,s:i,s:I}", "sent", c.sent, "failed",
	    c.failed, "skipped", c.skipped, "pending", (json_int_t)pending);
}

static const struct cli_flag publish_flags[] = {
	{ "limit", CLI_INT, false, NULL, 1, 100000,
	    "rows to send at most (50)" },
};

static const struct cli_cmd github_cmds[] = {
	CLI_CMD("publish", "Send the pending GitHub publications (check runs "
	    "and commit statuses) of the outbox once.", publish_flags, publish),
};

const struct cli_group cli_github_group = { "github",
	"GitHub publication.", github_cmds, CV_ARRAY_LEN(github_cmds), false };
