/*
 * cli.h - what the command files of the converge CLI share: the context
 * a command runs in, the command tables, and small helpers.
 *
 * A command returns the JSON document to print (caller owns it), or NULL
 * when something failed below it (the store, memory); cli.c turns NULL
 * into {"error": ...}. The exit code follows from the document
 * (operations.md 7.1) unless the command sets ctx->exit_code.
 */
#ifndef CV_CLI_H
#define CV_CLI_H

#include <jansson.h>

#include "cli_args.h"
#include "engine.h"
#include "store.h"

struct cli_ctx {
	struct cv_store *store;
	const char *db_path;       /* SQLite path given to the factory */
	const char *actor;         /* --actor, "system" by default */
	const char *repo_dir;      /* CONVERGE_REPO_PATH, or NULL = "." */
	int exit_code;             /* non-zero forces this exit code */
	bool printed;              /* the command wrote stdout itself */
};

struct cli_cmd {
	const char *name;          /* subcommand, or the command itself */
	const char *help;
	const struct cli_flag *flags;
	size_t nflags;
	json_t *(*run)(struct cli_ctx *ctx, const struct cli_args *a);
	const char *positional;    /* flag a leading bare word fills, or NULL
	                            * (`repo show NAME` = `repo show --name NAME`) */
};

#define CLI_CMD(name, help, flags, run) \
	{ name, help, flags, CV_ARRAY_LEN(flags), run, NULL }
#define CLI_CMD0(name, help, run) { name, help, NULL, 0, run, NULL }
#define CLI_CMD_POS(name, help, flags, run, pos) \
	{ name, help, flags, CV_ARRAY_LEN(flags), run, pos }

struct cli_group {
	const char *name;
	const char *help;
	const struct cli_cmd *cmds;
	size_t ncmds;
	bool single;               /* no subcommand: cmds[0] is the command */
};

/* The command groups, one per file (cli_<group>.c). */
extern const struct cli_group cli_intent_group, cli_simulate_group,
    cli_validate_group, cli_merge_group, cli_queue_group, cli_policy_group,
    cli_risk_group, cli_health_group, cli_compliance_group, cli_agent_group,
    cli_audit_group, cli_metrics_group, cli_archaeology_group,
    cli_export_group, cli_predictions_group, cli_serve_group,
    cli_worker_group, cli_github_group, cli_keys_group;
extern const struct cli_group cli_repo_group;

/* Enumerations of operations.md 7.1, NULL-terminated. */
extern const char *const cli_statuses[];
extern const char *const cli_levels[];
extern const char *const cli_booleans[];

/* {"error": text} (printf format). New reference. */
json_t *cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* An engine over the context's store, repository and working directory. */
void cli_engine(struct cli_ctx *ctx, struct cv_engine *e);

/* Releases what cli_engine loaded (once, at exit). */
void cli_engine_done(void);

/* Flags of validate, shared with `policy eval`. */
#define CLI_VALIDATE_NFLAGS 5
extern const struct cli_flag cli_validate_flags[CLI_VALIDATE_NFLAGS];

/* The validate command, shared by `validate` and `policy eval` (O14). */
json_t *cli_validate_run(struct cli_ctx *ctx, const struct cli_args *a);

/* Runs fn between begin and commit; rolls back when fn fails. */
enum cv_err cli_atomic(struct cv_store *s,
    enum cv_err (*fn)(struct cv_store *s, void *arg), void *arg);

#endif
