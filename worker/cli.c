/*
 * cli.c - `converge`, the admin CLI (operations.md 7): global flags, the
 * command tree, help and usage, and the one JSON document on stdout.
 *
 * Everything the commands need is parsed and checked before the store is
 * opened, so an argument error (exit 2) never creates or touches the
 * database.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "config.h"
#include "dbpath.h"
#include "publish.h"
#include "cv.h"

const char *const cli_statuses[] = { "READY", "VALIDATED", "QUEUED",
    "MERGED", "REJECTED", NULL };
const char *const cli_levels[] = { "low", "medium", "high", "critical",
    NULL };
const char *const cli_booleans[] = { "true", "false", NULL };

static const struct cli_group *const groups[] = {
	&cli_intent_group, &cli_simulate_group, &cli_validate_group,
	&cli_merge_group, &cli_queue_group, &cli_policy_group,
	&cli_risk_group, &cli_health_group, &cli_compliance_group,
	&cli_agent_group, &cli_audit_group, &cli_metrics_group,
	&cli_archaeology_group, &cli_export_group, &cli_predictions_group,
	&cli_serve_group, &cli_worker_group, &cli_github_group,
	&cli_repo_group, &cli_keys_group,
};

static const struct cli_flag global_flags[] = {
	{ "db", CLI_STR, false, NULL, 0, 0,
	    "SQLite file (default: $CONVERGE_DB_PATH, else the farm's "
	    "$CONVERGE_VAR_DIR/state.db when a farm is set up here, else "
	    ".converge/state.db)" },
	{ "actor", CLI_STR, false, NULL, 0, 0,
	    "acting user recorded by intent create (default: system)" },
};

/* ---- helpers shared by the command files --------------------------------- */

json_t *cli_error(const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	/* Texts from git or the store may carry invalid UTF-8, which JSON
	 * cannot hold: keep the message readable rather than lose it. */
	if (!cli_utf8_valid(msg))
		for (char *p = msg; *p; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
	return json_pack("{s:s}", "error", msg);
}

/* The environment's GitHub settings, read on first use: decisions the
 * CLI makes about GitHub intents are published like the worker's. */
static struct cv_config publish_cfg;
static bool publish_loaded;

void cli_engine(struct cli_ctx *ctx, struct cv_engine *e)
{
	char err[256];

	memset(e, 0, sizeof *e);
	e->store = ctx->store;
	e->repo_dir = ctx->repo_dir;
	e->work_dir = NULL;             /* policy config from the cwd */
	if (!publish_loaded && getenv("CONVERGE_GITHUB_APP_ID") &&
	    cv_config_load(&publish_cfg, err, sizeof err) == CV_OK)
		publish_loaded = true;
	if (publish_loaded && cv_config_github_enabled(&publish_cfg)) {
		e->on_decision = cv_publish_decision_hook;
		e->on_decision_arg = &publish_cfg;
	}
}

void cli_engine_done(void)
{
	if (publish_loaded)
		cv_config_free(&publish_cfg);
	publish_loaded = false;
}

enum cv_err cli_atomic(struct cv_store *s,
    enum cv_err (*fn)(struct cv_store *s, void *arg), void *arg)
{
	enum cv_err err = cv_store_begin(s);

	if (err != CV_OK)
		return err;
	if ((err = fn(s, arg)) != CV_OK) {
		cv_store_rollback(s);
		return err;
	}
	return cv_store_commit(s);
}

/* ---- help and usage -------------------------------------------------------- */

static void metavar(const char *name, char *buf, size_t size)
{
	size_t i;

	for (i = 0; name[i] && i + 1 < size; i++)
		buf[i] = name[i] == '-' ? '_' :
		    (name[i] >= 'a' && name[i] <= 'z' ? name[i] - 32 : name[i]);
	buf[i] = '\0';
}

static void flag_synopsis(FILE *f, const struct cli_flag *fl)
{
	char mv[64];

	metavar(fl->name, mv, sizeof mv);
	fprintf(f, " %s--%s", fl->required ? "" : "[", fl->name);
	if (fl->kind == CLI_CHOICE) {
		fputs(" {", f);
		for (size_t i = 0; fl->choices[i]; i++)
			fprintf(f, "%s%s", i ? "," : "", fl->choices[i]);
		fputc('}', f);
	} else if (fl->kind != CLI_SWITCH)
		fprintf(f, " %s", mv);
	if (!fl->required)
		fputc(']', f);
}

static void usage_line(FILE *f, const struct cli_group *g,
    const struct cli_cmd *c)
{
	fprintf(f, "usage: converge [--db PATH] [--actor NAME] %s", g->name);
	if (!g->single)
		fprintf(f, " %s", c->name);
	for (size_t i = 0; i < c->nflags; i++)
		flag_synopsis(f, &c->flags[i]);
	fputc('\n', f);
}

static void cmd_help(const struct cli_group *g, const struct cli_cmd *c)
{
	usage_line(stdout, g, c);
	printf("\n%s\n", c->help);
	if (c->nflags)
		printf("\nflags:\n");
	for (size_t i = 0; i < c->nflags; i++)
		printf("  --%-36s %s%s\n", c->flags[i].name, c->flags[i].help,
		    c->flags[i].required ? " (required)" : "");
}

static void group_help(const struct cli_group *g)
{
	printf("usage: converge [--db PATH] [--actor NAME] %s <subcommand> "
	    "[flags]\n\n%s\n\nsubcommands:\n", g->name, g->help);
	for (size_t i = 0; i < g->ncmds; i++)
		printf("  %-16s %s\n", g->cmds[i].name, g->cmds[i].help);
	printf("\n'converge %s <subcommand> --help' lists the flags.\n",
	    g->name);
}

static void top_help(void)
{
	printf("usage: converge [--db PATH] [--actor NAME] <command> "
	    "[<subcommand>] [flags]\n\n"
	    "Converge admin CLI. Every command prints one JSON document on "
	    "stdout.\nExit codes: 0 success, 1 an {\"error\"} result or no "
	    "command, 2 argument error,\n3 compliance alerts with "
	    "--fail-on-alert.\n\nglobal flags (before the command):\n");
	for (size_t i = 0; i < CV_ARRAY_LEN(global_flags); i++)
		printf("  --%-8s %s\n", global_flags[i].name,
		    global_flags[i].help);
	printf("\ncommands:\n");
	for (size_t i = 0; i < CV_ARRAY_LEN(groups); i++)
		printf("  %-14s %s\n", groups[i]->name, groups[i]->help);
	printf("\nNote: 'policy eval' is the same command as 'validate': it "
	    "runs the full\nvalidation and records its events and status "
	    "change (kept for 0.1.0 scripts).\n");
}

static int usage_error(const struct cli_group *g, const struct cli_cmd *c,
    const char *msg)
{
	char prog[128];

	if (c)
		usage_line(stderr, g, c);
	else if (g)
		fprintf(stderr, "usage: converge [--db PATH] [--actor NAME] %s "
		    "<subcommand> [flags]\n", g->name);
	else
		fprintf(stderr, "usage: converge [--db PATH] [--actor NAME] "
		    "<command> [<subcommand>] [flags]\n");
	snprintf(prog, sizeof prog, "converge%s%s%s%s", g ? " " : "",
	    g ? g->name : "", c && !g->single ? " " : "",
	    c && !g->single ? c->name : "");
	fprintf(stderr, "%s: error: %s\n", prog, msg);
	return 2;
}

static int invalid_choice(const struct cli_group *g, const char *what,
    const char *got)
{
	char msg[1024], q[64];
	size_t n, i;

	for (i = 0; got[i] && i < sizeof q - 4; i++)
		q[i] = (unsigned char)got[i] < 0x20 ? '?' : got[i];
	q[i] = '\0';
	if (got[i])
		memcpy(q + i, "...", 4);   /* room kept by the loop bound */
	n = (size_t)snprintf(msg, sizeof msg, "argument %s: invalid choice: "
	    "'%s' (choose from ", what, q);
	if (g)
		for (i = 0; i < g->ncmds && n < sizeof msg; i++)
			n += (size_t)snprintf(msg + n, sizeof msg - n, "%s'%s'",
			    i ? ", " : "", g->cmds[i].name);
	else
		for (i = 0; i < CV_ARRAY_LEN(groups) && n < sizeof msg; i++)
			n += (size_t)snprintf(msg + n, sizeof msg - n, "%s'%s'",
			    i ? ", " : "", groups[i]->name);
	if (n < sizeof msg)
		snprintf(msg + n, sizeof msg - n, ")");
	return usage_error(g, NULL, msg);
}

/* ---- dispatch -------------------------------------------------------------- */

static const struct cli_group *find_group(const char *name)
{
	for (size_t i = 0; i < CV_ARRAY_LEN(groups); i++)
		if (strcmp(groups[i]->name, name) == 0)
			return groups[i];
	return NULL;
}

static const struct cli_cmd *find_cmd(const struct cli_group *g,
    const char *name)
{
	for (size_t i = 0; i < g->ncmds; i++)
		if (strcmp(g->cmds[i].name, name) == 0)
			return &g->cmds[i];
	return NULL;
}

/* Prints the document; returns false when stdout failed. */
static bool print_json(const json_t *out)
{
	char *text = json_dumps(out, JSON_INDENT(2) | JSON_ENCODE_ANY |
	    JSON_REAL_PRECISION(15));
	bool ok;

	if (!text)
		text = strdup("{\"error\": \"output could not be rendered\"}");
	ok = text && fputs(text, stdout) >= 0 && fputc('\n', stdout) != EOF &&
	    fflush(stdout) == 0;
	free(text);
	return ok;
}

static int run_command(const struct cli_args *g, const struct cli_group *grp,
    const struct cli_cmd *c, const struct cli_args *a)
{
	const char *repo = getenv("CONVERGE_REPO_PATH");
	struct cli_ctx ctx = { 0 };
	char *msg = NULL, db[4200], cfg_err[256];
	struct cv_config cfg;
	json_t *out;
	int code;

	/* An invalid setting stops this program too (D-8), with the same
	 * one line as the farm and the worker. */
	if (cv_config_load(&cfg, cfg_err, sizeof cfg_err) != CV_OK) {
		out = cli_error("%s", cfg_err);
		print_json(out);
		json_decref(out);
		return 1;
	}
	cv_config_free(&cfg);

	/* serve starts the farm: it uses the farm's database, never the
	 * 0.1.0 fallback (dbpath.h). */
	if (cv_dbpath_resolve(cli_str(g, "db"), grp == &cli_serve_group ?
	    CV_DBPATH_FARM : CV_DBPATH_CLI, db, sizeof db) != 0) {
		out = cli_error("database path too long");
		print_json(out);
		json_decref(out);
		return 1;
	}
	ctx.db_path = db;
	ctx.actor = cli_str_nonempty(g, "actor") ? cli_str(g, "actor") :
	    "system";
	ctx.repo_dir = repo && *repo ? repo : NULL;
	if (cv_store_open_factory(NULL, ctx.db_path, NULL, &ctx.store, &msg) !=
	    CV_OK) {
		out = cli_error("%s", msg ? msg : "cannot open the store");
		free(msg);
		print_json(out);
		json_decref(out);
		return 1;
	}
	out = c->run(&ctx, a);
	if (ctx.printed) {
		json_decref(out);
		cv_store_close(ctx.store);
		cli_engine_done();
		return ctx.exit_code;
	}
	if (!out) {
		const char *why = cv_store_errmsg(ctx.store);
		out = why && *why ? cli_error("operation failed: %s", why) :
		    cli_error("operation failed");
	}
	code = ctx.exit_code ? ctx.exit_code : (json_is_object(out) &&
	    json_object_get(out, "error")) ? 1 : 0;
	if (!print_json(out))
		code = 1;
	json_decref(out);
	cv_store_close(ctx.store);
	cli_engine_done();
	return code;
}

int main(int argc, char **argv)
{
	struct cli_args g, a;
	const struct cli_group *grp;
	const struct cli_cmd *c;
	char err[1024];
	int k;

	/* A reader that went away (converge ... | head) must give a write
	 * error, not kill us; programs we run get SIGPIPE back (proc.c). */
	signal(SIGPIPE, SIG_IGN);
	switch (cli_args_parse(global_flags, CV_ARRAY_LEN(global_flags), argc,
	    argv, 1, true, &g, err, sizeof err)) {
	case CLI_PARSE_HELP:
		top_help();
		return 0;
	case CLI_PARSE_ERROR:
		return usage_error(NULL, NULL, err);
	default:
		break;
	}
	if (cli_given(&g, "db") && !*cli_str(&g, "db"))
		return usage_error(NULL, NULL, "argument --db: empty path");
	if ((k = g.next) >= argc) {
		top_help();
		return 1;
	}
	if (!(grp = find_group(argv[k])))
		return invalid_choice(NULL, "command", argv[k]);
	if (grp->single) {
		c = &grp->cmds[0];
	} else {
		if (++k >= argc) {
			group_help(grp);
			return 1;
		}
		if (strcmp(argv[k], "-h") == 0 || strcmp(argv[k], "--help") == 0) {
			group_help(grp);
			return 0;
		}
		if (!(c = find_cmd(grp, argv[k])))
			return invalid_choice(grp, "subcommand", argv[k]);
	}
	/* A leading bare word is the command's positional flag (NAME). */
	const char *pos = NULL;
	if (c->positional && k + 1 < argc && argv[k + 1][0] != '-')
		pos = argv[++k];
	switch (cli_args_parse(c->flags, c->nflags, argc, argv, k + 1, false,
	    &a, err, sizeof err)) {
	case CLI_PARSE_HELP:
		cmd_help(grp, c);
		return 0;
	case CLI_PARSE_ERROR:
		return usage_error(grp, c, err);
	default:
		break;
	}
	for (size_t f = 0; pos && f < c->nflags; f++)
		if (strcmp(c->flags[f].name, c->positional) == 0 && !a.set[f]) {
			a.val[f] = pos;
			a.set[f] = true;
		}
	return run_command(&g, grp, c, &a);
}
