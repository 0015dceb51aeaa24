/*
 * cli_misc.c - `archaeology`, `serve` and `worker` (operations.md 7.2;
 * decisions.md D-4, D-7; domain.md 9.1).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "archaeology.h"
#include "cli.h"
#include "clock.h"
#include "config.h"

#ifndef CV_SCRIPTS_DIR
#define CV_SCRIPTS_DIR "scripts"
#endif

/* ---- archaeology -------------------------------------------------------------- */

static json_t *archaeology(struct cli_ctx *ctx, const struct cli_args *a)
{
	return cv_arch_command_build(ctx->repo_dir,
	    (int)cli_int(a, "max-commits", CV_ARCH_MAX_COMMITS),
	    (int)cli_int(a, "top", CV_ARCH_TOP),
	    cli_str_nonempty(a, "write-snapshot"), NULL);
}

static const struct cli_flag arch_flags[] = {
	{ "max-commits", CLI_INT, false, NULL, 1, 1000000,
	    "commits analysed, newest first (default 400)" },
	{ "top", CLI_INT, false, NULL, 1, 1000000,
	    "rows per list (default 20)" },
	{ "write-snapshot", CLI_STR, false, NULL, 0, 0,
	    "also save the report there (risk reads "
	    ".converge/archaeology_snapshot.json)" },
};

static const struct cli_cmd arch_cmds[] = {
	CLI_CMD("archaeology", "Hotspots, co-change coupling and authors from "
	    "the git history of the current repository.", arch_flags,
	    archaeology),
};

const struct cli_group cli_archaeology_group = { "archaeology",
	"Git history analysis.", arch_cmds, 1, true };

/* ---- serve (D-7) ---------------------------------------------------------------- */

/* Runs dir/name with no arguments, signals unblocked in the child;
 * returns its exit status, or -1 when it could not run. */
static int run_script(const char *dir, const char *name,
    const sigset_t *child_mask)
{
	char path[4096];
	int status;
	pid_t pid;

	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >=
	    sizeof path)
		return -1;
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		char *argv[] = { path, NULL };
		/* stdout carries serve's own JSON; the scripts' chatter goes to
		 * stderr. */
		dup2(2, 1);
		signal(SIGPIPE, SIG_DFL);
		sigprocmask(SIG_SETMASK, child_mask, NULL);
		execv(path, argv);
		fprintf(stderr, "converge serve: cannot run %s: %s\n", path,
		    strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The environment scripts/up reads (D-4), from the flags. */
static void serve_env(const struct cli_ctx *ctx, const struct cli_args *a,
    const char *host, long long port)
{
	char p[16];

	snprintf(p, sizeof p, "%lld", port);
	setenv("CONVERGE_HOST", host, 1);
	setenv("CONVERGE_PORT", p, 1);
	setenv("CONVERGE_DB_PATH", ctx->db_path, 1);
	if (cli_str_nonempty(a, "secret"))
		setenv("CONVERGE_GITHUB_WEBHOOK_SECRET", cli_str(a, "secret"), 1);
}

/* Where the farm scripts are: $CONVERGE_SCRIPTS_DIR, else the installed
 * copy under the package data directory, else the source tree this
 * program was built from. */
static const char *scripts_dir(void)
{
	const char *env = getenv("CONVERGE_SCRIPTS_DIR");

	if (env && *env)
		return env;
#ifdef CV_PKGDATA_SCRIPTS
	if (access(CV_PKGDATA_SCRIPTS "/up", X_OK) == 0)
		return CV_PKGDATA_SCRIPTS;
#endif
	return CV_SCRIPTS_DIR;
}

/* The responders sit next to this program once installed (one bin dir)
 * or in ../fcgi of a build tree; up is told which unless the caller
 * already said. */
static void locate_programs(void)
{
	char exe[4096], probe[4200];
	ssize_t n;

	if (getenv("CONVERGE_BIN_DIR") && *getenv("CONVERGE_BIN_DIR"))
		return;
	if ((n = readlink("/proc/self/exe", exe, sizeof exe - 1)) <= 0)
		return;
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (!slash)
		return;
	*slash = '\0';
	snprintf(probe, sizeof probe, "%s/converge-health", exe);
	if (access(probe, X_OK) == 0) {
		setenv("CONVERGE_BIN_DIR", exe, 1);
		return;
	}
	snprintf(probe, sizeof probe, "%s/../fcgi/converge-health", exe);
	if (access(probe, X_OK) == 0) {
		snprintf(probe, sizeof probe, "%s/..", exe);
		setenv("CONVERGE_BIN_DIR", probe, 1);
	}
}

static json_t *serve(struct cli_ctx *ctx, const struct cli_args *a)
{
	const char *dir = scripts_dir();
	const char *host = cli_str_nonempty(a, "host") ? cli_str(a, "host") :
	    "127.0.0.1";
	long long port = cli_int(a, "port", 9876);
	sigset_t stop, old;
	char ts[CV_TS_LEN];
	json_t *started;
	int rc, sig;

	/* Blocked from here, so a signal that arrives while the farm starts
	 * still stops it once it is up. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGHUP);
	sigprocmask(SIG_BLOCK, &stop, &old);
	serve_env(ctx, a, host, port);
	locate_programs();
	if ((rc = run_script(dir, "up", &old)) != 0) {
		run_script(dir, "down", &old);
		sigprocmask(SIG_SETMASK, &old, NULL);
		return cli_error("%s/up failed (exit %d)", dir, rc);
	}
	cv_now_ts(ts);
	started = json_pack("{s:s,s:s,s:I,s:s}", "event", "server_started",
	    "host", host, "port", (json_int_t)port, "timestamp", ts);
	if (started) {
		char *text = json_dumps(started, JSON_INDENT(2));
		if (text)
			printf("%s\n", text);
		fflush(stdout);
		free(text);
		json_decref(started);
	}
	ctx->printed = true;
	sigwait(&stop, &sig);
	rc = run_script(dir, "down", &old);
	sigprocmask(SIG_SETMASK, &old, NULL);
	ctx->exit_code = rc == 0 ? 0 : 1;
	return NULL;
}

static const struct cli_flag serve_flags[] = {
	{ "host", CLI_STR, false, NULL, 0, 0, "listen address (default 127.0.0.1)" },
	{ "port", CLI_INT, false, NULL, 1, 65535, "listen port (default 9876)" },
	{ "secret", CLI_STR, false, NULL, 0, 0,
	    "GitHub webhook secret (overrides CONVERGE_GITHUB_WEBHOOK_SECRET)" },
};

static const struct cli_cmd serve_cmds[] = {
	CLI_CMD("serve", "Run the farm (web server, responders, worker) as "
	    "scripts/up does, in the foreground until SIGTERM or SIGINT, then "
	    "stop it with scripts/down.", serve_flags, serve),
};

const struct cli_group cli_serve_group = { "serve",
	"Run the HTTP API farm in the foreground.", serve_cmds, 1, true };

/* ---- worker ------------------------------------------------------------------- */

#ifdef CV_HAVE_WORKER_LOOP
#include "worker_loop.h"
#endif

static json_t *worker(struct cli_ctx *ctx, const struct cli_args *a)
{
	/* The same loop as converge-worker, on the store opened from --db;
	 * its log lines go to stderr, one JSON summary to stdout at the end. */
#ifdef CV_HAVE_WORKER_LOOP
	struct cv_config cfg;
	char err[256];
	int rc;

	if (cv_config_load(&cfg, err, sizeof err) != CV_OK)
		return cli_error("%s", err);
	rc = cv_worker_main(&cfg, ctx->store, cli_given(a, "once"));
	cv_config_free(&cfg);
	ctx->exit_code = rc;
	return json_pack("{s:s,s:i}", "event", "worker_stopped", "exit_code",
	    rc);
#else
	(void)ctx;
	(void)a;
	return cli_error("worker not built");
#endif
}

static const struct cli_flag worker_flags[] = {
	{ "once", CLI_SWITCH, false, NULL, 0, 0,
	    "run one cycle and exit (for cron)" },
};

static const struct cli_cmd worker_cmds[] = {
	CLI_CMD("worker", "Run the queue worker on the --db store until "
	    "SIGTERM.", worker_flags, worker),
};

const struct cli_group cli_worker_group = { "worker",
	"Run the queue worker.", worker_cmds, 1, true };
