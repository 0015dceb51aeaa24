/*
 * test_cli.c - the converge CLI (operations.md 7) run as a program: every
 * command, every exit code, the error texts of 7.2, against a temporary
 * database and a real temporary git repository.
 *
 * The binary is CV_BUILDDIR/worker/converge, or $CONVERGE_BIN_DIR/converge.
 * Rows run in order against one database: later rows see what earlier
 * rows created. In the table, "@D" in an argument or in the environment
 * is replaced by the scratch directory (files, scripts, second DB).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include <jansson.h>

#include "gitrepo.h"

#ifndef CV_BUILDDIR
#define CV_BUILDDIR "."
#endif

static char *repo;              /* the git repository, cwd of every run */
static char *scratch;           /* files, scripts, the database */
static char bin[4096];
static char db[4200];

#define A(...) ((const char *const[]){ __VA_ARGS__, NULL })

struct row {
	const char *const *argv;        /* after "converge" */
	int exit_code;
	const char *out;                /* substring of stdout, or NULL */
	const char *err;                /* substring of stderr, or NULL */
	const char *env;                /* one NAME=value, or NULL */
};

static void subst(const char *in, char *out, size_t size)
{
	const char *at = strstr(in, "@D");

	if (at)
		snprintf(out, size, "%.*s%s%s", (int)(at - in), in, scratch,
		    at + 2);
	else
		snprintf(out, size, "%s", in);
}

/* Runs converge with args in the repository; returns the exit code and
 * the captured streams (caller frees). */
static int run_cli(const char *const *args, const char *env, char **out,
    char **err)
{
	static char buf[32][4400];
	const char *argv[34], *envp[3] = { NULL, NULL, NULL };
	char envbuf[4400];
	struct cv_proc_opts o = { .cwd = repo, .timeout_ms = 120000,
	    .env = envp };
	struct cv_proc_result r;
	size_t n = 0;
	int code;

	argv[n++] = bin;
	for (; args && args[n - 1] && n < 33; n++) {
		subst(args[n - 1], buf[n], sizeof buf[n]);
		argv[n] = buf[n];
	}
	argv[n] = NULL;
	if (env) {
		subst(env, envbuf, sizeof envbuf);
		envp[0] = envbuf;
	}
	assert_int_equal(cv_proc_run(argv, &o, &r), CV_OK);
	assert_int_equal(r.term_signal, 0);     /* never dies on a signal */
	code = r.exit_code;
	*out = r.out;
	*err = r.err;
	r.out = r.err = NULL;
	cv_proc_result_free(&r);
	return code;
}

static void check_row(const struct row *w)
{
	char *out, *err;
	int code = run_cli(w->argv, w->env, &out, &err);

	if (code != w->exit_code || (w->out && !strstr(out, w->out)) ||
	    (w->err && !strstr(err, w->err))) {
		fprintf(stderr, "row: converge");
		for (size_t i = 0; w->argv && w->argv[i]; i++)
			fprintf(stderr, " %s", w->argv[i]);
		fprintf(stderr, "\n exit %d (want %d)\n stdout: %.2000s\n "
		    "stderr: %.1000s\n", code, w->exit_code, out, err);
		fail();
	}
	/* Every stdout of a command that ran is one JSON document. */
	if (code != 2 && out[0] != 'u') {
		json_t *doc = json_loads(out, 0, NULL);
		if (!doc)
			fprintf(stderr, "not JSON: %.300s\n", out);
		assert_non_null(doc);
		json_decref(doc);
	}
	free(out);
	free(err);
}

static void write_file(const char *rel, const char *text, int mode)
{
	char path[4200];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", scratch, rel);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
	chmod(path, (mode_t)mode);
}

/*
 * The repository: main with a Makefile whose lint passes; feature/ok adds
 * a file; feature/conflict edits README.md, which main edits too.
 */
static int setup(void **state)
{
	const char *dir = getenv("CONVERGE_BIN_DIR");
	char path[4200];

	(void)state;
	repo_env();
	if (dir && *dir)
		snprintf(bin, sizeof bin, "%s/converge", dir);
	else
		snprintf(bin, sizeof bin, "%s/worker/converge", CV_BUILDDIR);
	repo = repo_new();
	scratch = repo_tmpdir();
	repo_write(repo, "Makefile", "lint:\n\t@echo lint ok\n");
	repo_write(repo, "README.md", "# demo\n");
	repo_write(repo, ".gitignore", ".converge/\n");
	repo_commit(repo, "base");
	repo_branch(repo, "feature/ok", "src/hello.c",
	    "int hello(void) { return 1; }\n", "hello");
	repo_branch(repo, "feature/conflict", "README.md", "# feature\n",
	    "feature readme");
	repo_write(repo, "README.md", "# main moved\n");
	repo_commit(repo, "main readme");

	snprintf(db, sizeof db, "%s/state.db", scratch);
	setenv("CONVERGE_DB_PATH", db, 1);
	unsetenv("CONVERGE_DB_BACKEND");
	unsetenv("CONVERGE_REPO_PATH");
	unsetenv("CONVERGE_TRACE_ID");
	unsetenv("CONVERGE_PG_DSN");
	unsetenv("CONVERGE_SCRIPTS_DIR");
	write_file("intent.json", "{\"intent_id\":\"file-1\",\"technical\":"
	    "{\"source_ref\":\"feature/none\"},\"tenant_id\":\"acme\","
	    "\"risk_level\":\"low\"}", 0644);
	write_file("noid.json", "{\"source\":\"feature/ok\"}", 0644);
	write_file("badstatus.json", "{\"id\":\"x-1\",\"status\":\"DONE\"}", 0644);
	write_file("broken.json", "{\"id\": \"x-2\",", 0644);
	write_file("array.json", "[1, 2]", 0644);
	/* D-8: an id but no source is refused, nothing stored */
	write_file("nosource.json", "{\"id\":\"nosrc-1\"}", 0644);
	write_file("bigprio.json", "{\"id\":\"prio-1\",\"source\":\"f\","
	    "\"priority\":-1000000}", 0644);
	snprintf(path, sizeof path, "%s/scripts", scratch);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/badscripts", scratch);
	mkdir(path, 0755);
	write_file("scripts/up", "#!/bin/sh\necho \"$CONVERGE_HOST:"
	    "$CONVERGE_PORT\" > \"$(dirname \"$0\")/up.ran\"\n", 0755);
	write_file("scripts/down", "#!/bin/sh\ntouch \"$(dirname \"$0\")/"
	    "down.ran\"\n", 0755);
	write_file("badscripts/up", "#!/bin/sh\nexit 1\n", 0755);
	write_file("badscripts/down", "#!/bin/sh\nexit 0\n", 0755);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	repo_remove(repo);
	repo_remove(scratch);
	return 0;
}

/* The command tree, in an order where each row sees the state it needs. */
static const struct row rows[] = {
	/* exit 1: no command, group without subcommand (help on stdout) */
	{ NULL, 1, "usage: converge", NULL, NULL },
	{ A("intent"), 1, "subcommands:", NULL, NULL },
	{ A("queue"), 1, "inspect", NULL, NULL },
	{ A("--help"), 0, "policy eval", NULL, NULL },
	{ A("intent", "create", "--help"), 0, "--from-branch", NULL, NULL },
	/* exit 2: argument errors, usage on stderr */
	{ A("bogus"), 2, NULL, "invalid choice: 'bogus'", NULL },
	{ A("intent", "bogus"), 2, NULL, "invalid choice: 'bogus'", NULL },
	{ A("intent", "list", "--db", "x"), 2, NULL, "unrecognized", NULL },
	{ A("intent", "status", "--intent-id", "x"), 2, NULL,
	    "the following arguments are required: --status", NULL },
	{ A("intent", "list", "--status", "DONE"), 2, NULL,
	    "invalid choice: 'DONE'", NULL },
	{ A("intent", "create", "--from-branch", "b", "--risk-level", "huge"), 2,
	    NULL, "invalid choice", NULL },
	{ A("queue", "run", "--limit", "ten"), 2, NULL, "invalid int value",
	    NULL },
	{ A("queue", "run", "--auto-confirm=yes"), 2, NULL, "explicit", NULL },
	{ A("queue", "reset"), 2, NULL, "--intent-id", NULL },
	{ A("risk", "policy-set", "--tenant-id", "t", "--mode", "strict"), 2,
	    NULL, "invalid choice", NULL },
	{ A("risk", "policy-set", "--tenant-id", "t", "--max-risk-score",
	    "nan"), 2, NULL, "invalid float value", NULL },
	{ A("agent", "policy-set", "--agent-id", "a", "--atl", "4"), 2, NULL,
	    "invalid choice", NULL },
	{ A("agent", "policy-set", "--agent-id", "a",
	    "--require-human-approval", "yes"), 2, NULL, "invalid choice", NULL },
	{ A("agent", "policy-set", "--agent-id", "a",
	    "--action-overrides-json", "{bad"), 2, NULL, "JSON object", NULL },
	{ A("export", "decisions", "--format", "xml"), 2, NULL,
	    "invalid choice", NULL },
	{ A("simulate", "--source", "a"), 2, NULL, "--target", NULL },
	{ A("intent", "create", "--from-branch", "\xff\xfe"), 2, NULL,
	    "UTF-8", NULL },
	{ A("--db", "", "intent", "list"), 2, NULL, "empty path", NULL },
	{ A("intent", "list", "--status"), 2, NULL, "expected one argument",
	    NULL },
	/* intents */
	{ A("intent", "create"), 1,
	    "\"error\": \"Either --file or --from-branch is required\"", NULL,
	    NULL },
	{ A("intent", "create", "--file", "@D/missing.json"), 1,
	    "Cannot read intent file", NULL, NULL },
	{ A("intent", "create", "--file", "@D/broken.json"), 1,
	    "Cannot read intent file", NULL, NULL },
	{ A("intent", "create", "--file", "@D/array.json"), 1,
	    "expected a JSON object", NULL, NULL },
	{ A("intent", "create", "--file", "@D/noid.json"), 1,
	    "intent_id or id is required", NULL, NULL },
	{ A("intent", "create", "--file", "@D/badstatus.json"), 1,
	    "Invalid intent: status", NULL, NULL },
	{ A("intent", "create", "--file", "@D/nosource.json"), 1,
	    "Invalid intent: source: source is required", NULL, NULL },
	{ A("intent", "create", "--file", "@D/bigprio.json"), 1,
	    "Invalid intent: priority: Input should be between 0 and 1000",
	    NULL, NULL },
	{ A("intent", "create", "--from-branch", "feature/ok", "--intent-id",
	    "ok-1", "--priority", "0"), 0, "\"intent_id\": \"ok-1\"", NULL,
	    NULL },
	{ A("intent", "list"), 0, "\"priority\": 0,", NULL, NULL },
	{ A("--actor", "alice", "intent", "create", "--file",
	    "@D/intent.json"), 0, "\"intent_id\": \"file-1\"", NULL, NULL },
	{ A("intent", "list", "--tenant-id", "acme"), 0,
	    "\"created_by\": \"alice\"", NULL, NULL },
	{ A("intent", "list", "--tenant-id", "acme"), 0,
	    "\"source\": \"feature/none\"", NULL, NULL },
	{ A("intent", "create", "--from-branch", "feature/conflict",
	    "--intent-id", "conf-1", "--risk-level", "high"), 0,
	    "\"status\": \"READY\"", NULL, NULL },
	{ A("intent", "create", "--from-branch", "feature/ok"), 0,
	    "\"intent_id\": \"branch-", NULL, NULL },
	{ A("intent", "status", "--intent-id", "nope", "--status", "READY"), 1,
	    "\"error\": \"Intent nope not found\"", NULL, NULL },
	{ A("intent", "status", "--intent-id", "file-1", "--status", "QUEUED"),
	    0, "\"status\": \"QUEUED\"", NULL, NULL },
	/* simulate, validate, policy eval */
	{ A("simulate", "--source", "feature/ok", "--target", "main",
	    "--intent-id", "ok-1"), 0, "\"mergeable\": true", NULL, NULL },
	{ A("simulate", "--source", "feature/conflict", "--target", "main"), 0,
	    "\"mergeable\": false", NULL, NULL },
	{ A("validate", "--intent-id", "nope"), 1,
	    "\"error\": \"Intent nope not found\"", NULL, NULL },
	{ A("policy", "eval", "--intent-id", "conf-1"), 0,
	    "Merge conflicts: README.md", NULL, NULL },
	{ A("validate", "--intent-id", "ok-1", "--use-last-simulation",
	    "--skip-checks"), 0, "\"decision\": \"validated\"", NULL, NULL },
	{ A("validate", "--intent-id", "ok-1"), 0, "\"decision\": \"validated\"",
	    NULL, NULL },
	/* risk */
	{ A("risk", "eval", "--intent-id", "nope"), 1, "Intent nope not found",
	    NULL, NULL },
	{ A("risk", "eval", "--intent-id", "ok-1", "--tenant-id", "acme"), 0,
	    "\"risk_score\"", NULL, NULL },
	{ A("risk", "shadow", "--intent-id", "file-1"), 1,
	    "No risk evaluation found. Run 'converge risk eval' first.", NULL,
	    NULL },
	{ A("risk", "policy-set", "--tenant-id", "acme", "--max-risk-score",
	    "1", "--mode", "enforce"), 0, "\"ok\": true", NULL, NULL },
	{ A("risk", "policy-get", "--tenant-id", "acme"), 0, "\"version\": 1",
	    NULL, NULL },
	{ A("risk", "policy-get", "--tenant-id", "other"), 0,
	    "No risk policy configured for this tenant", NULL, NULL },
	/* O9: a partial tenant policy; mode forced to shadow */
	{ A("risk", "shadow", "--intent-id", "ok-1", "--tenant-id", "acme"), 0,
	    "\"would_block\": true", NULL, NULL },
	{ A("risk", "shadow", "--intent-id", "ok-1", "--tenant-id", "acme"), 0,
	    "\"mode\": \"shadow\"", NULL, NULL },
	{ A("risk", "gate"), 0, "\"total_evaluations\": 2", NULL, NULL },
	{ A("risk", "review", "--intent-id", "ok-1"), 0, "\"decision_history\"",
	    NULL, NULL },
	{ A("risk", "review", "--intent-id", "nope"), 1,
	    "Intent nope not found", NULL, NULL },
	/* health, metrics, predictions */
	{ A("health", "now"), 0, "\"repo_health_score\"", NULL, NULL },
	{ A("health", "trend", "--days", "1"), 0, "\"repo_health_score\"",
	    NULL, NULL },
	{ A("health", "change", "--intent-id", "ok-1"), 0, "\"health_score\"",
	    NULL, NULL },
	{ A("health", "change-trend"), 0, "\"intent_id\": \"ok-1\"", NULL,
	    NULL },
	{ A("health", "entropy", "--days=7"), 0, "\"entropy_score\"", NULL,
	    NULL },
	{ A("health", "predict"), 0, "need 3+", NULL, NULL },
	{ A("metrics"), 0, "\"total_simulations\"", NULL, NULL },
	{ A("predictions"), 0, "[", NULL, NULL },
	/* compliance: exit 3 with --fail-on-alert */
	{ A("compliance", "report"), 0, "\"mergeable_rate\"", NULL, NULL },
	{ A("compliance", "threshold-set", "--tenant-id", "acme",
	    "--max-queue-tracked", "0"), 0, "\"tenant_id\": \"acme\"", NULL,
	    NULL },
	{ A("compliance", "threshold-get", "--tenant-id", "acme"), 0,
	    "\"max_queue_tracked\": 0", NULL, NULL },
	{ A("compliance", "threshold-get", "--tenant-id", "other"), 0,
	    "No thresholds configured for this tenant", NULL, NULL },
	{ A("compliance", "threshold-list"), 0, "\"tenant_id\": \"acme\"",
	    NULL, NULL },
	{ A("compliance", "alerts", "--tenant-id", "acme"), 0,
	    "\"passed\": false", NULL, NULL },
	{ A("compliance", "alerts", "--tenant-id", "acme", "--fail-on-alert"),
	    3, "SLO breach: queue_tracked", NULL, NULL },
	{ A("compliance", "alerts", "--tenant-id", "nobody", "--fail-on-alert"),
	    0, "\"passed\": true", NULL, NULL },
	{ A("compliance", "alerts", "--fail-on-alert"), 3, "conflict_rate",
	    NULL, NULL },
	/* agents */
	{ A("agent", "policy-get", "--agent-id", "bot"), 0,
	    "\"allow_actions\": [\n    \"analyze\"", NULL, NULL },
	{ A("agent", "policy-set", "--agent-id", "bot", "--tenant-id", "nobody",
	    "--atl", "2",
	    "--allow-actions", "merge, analyze", "--require-human-approval",
	    "false", "--action-overrides-json",
	    "{\"merge\":{\"max_risk_score\":90,"
	    "\"max_blast_severity\":\"critical\"}}"), 0, "\"atl\": 2", NULL, NULL },
	{ A("agent", "policy-list"), 0, "\"agent_id\": \"bot\"", NULL, NULL },
	{ A("agent", "authorize", "--agent-id", "bot", "--action", "merge",
	    "--intent-id", "ok-1", "--tenant-id", "nobody"), 0,
	    "\"allowed\": true", NULL, NULL },
	{ A("agent", "authorize", "--agent-id", "bot", "--action", "deploy",
	    "--intent-id", "ok-1", "--tenant-id", "nobody"), 0, "\"allowed\": false", NULL, NULL },
	/* queue, merge */
	{ A("queue", "inspect", "--only-actionable"), 0,
	    "\"intent_id\": \"ok-1\"", NULL, NULL },
	{ A("queue", "inspect", "--status", "QUEUED"), 0,
	    "\"intent_id\": \"file-1\"", NULL, NULL },
	{ A("queue", "run", "--auto-confirm", "--skip-checks"), 0,
	    "\"decision\": \"merged\"", NULL, NULL },
	{ A("intent", "list", "--status", "MERGED"), 0, "\"id\": \"ok-1\"",
	    NULL, NULL },
	{ A("merge", "confirm", "--intent-id", "ok-1"), 1,
	    "Intent ok-1 is MERGED, expected QUEUED or VALIDATED", NULL, NULL },
	{ A("merge", "confirm", "--intent-id", "nope"), 1,
	    "Intent nope not found", NULL, NULL },
	{ A("merge", "confirm", "--intent-id", "file-1"), 0,
	    "\"merged_commit\": \"confirmed-file-1\"", NULL, NULL },
	{ A("queue", "reset", "--intent-id", "any", "--clear-lock"), 1,
	    "Intent any not found", NULL, NULL },
	{ A("queue", "reset", "--intent-id", "conf-1", "--set-status",
	    "VALIDATED"), 0, "\"retries\": 0", NULL, NULL },
	{ A("queue", "run", "--max-retries", "1", "--skip-checks"), 0,
	    "\"decision\": \"blocked\"", NULL, NULL },
	{ A("intent", "list", "--status", "REJECTED"), 0, "\"id\": \"conf-1\"",
	    NULL, NULL },
	/* policy, audit, export, archaeology */
	{ A("policy", "calibrate", "--output", "@D/cal.json"), 0,
	    "\"data_points\": ", NULL, NULL },
	{ A("audit", "events", "--intent-id", "ok-1", "--type",
	    "intent.merged"), 0, "\"merged_commit\"", NULL, NULL },
	{ A("audit", "events", "--limit", "1"), 0, "\"event_type\"", NULL,
	    NULL },
	{ A("audit", "prune", "--dry-run"), 0, "\"dry_run\": true", NULL, NULL },
	{ A("audit", "prune", "--retention-days", "30"), 0, "\"pruned\": 0",
	    NULL, NULL },
	{ A("export", "decisions", "--output", "@D/d.jsonl"), 0,
	    "\"format\": \"jsonl\"", NULL, NULL },
	{ A("export", "decisions", "--format", "csv", "--output", "@D/d.csv"),
	    0, "\"records\": 4", NULL, NULL },
	{ A("archaeology", "--top", "3", "--write-snapshot", "@D/snap.json"),
	    0, "\"commits_analyzed\": ", NULL, NULL },
	{ A("archaeology"), 1, "No git history available", NULL,
	    "CONVERGE_REPO_PATH=/nonexistent" },
	/* invalid settings stop the CLI at start too (D-8): {"error"}
	 * naming the variable on stdout, exit 1 */
	{ A("intent", "list"), 1, "CONVERGE_DB_BACKEND must be sqlite or "
	    "postgres", NULL, "CONVERGE_DB_BACKEND=oracle" },
	{ A("intent", "list"), 1, "CONVERGE_PG_DSN", NULL,
	    "CONVERGE_DB_BACKEND=postgres" },
	{ A("intent", "list"), 1, "CONVERGE_API_KEYS entry 1: unknown role",
	    NULL, "CONVERGE_API_KEYS=k1:superuser:alice" },
	/* serve whose scripts/up fails */
	{ A("serve", "--port", "9999"), 1, "up failed (exit 1)", NULL,
	    "CONVERGE_SCRIPTS_DIR=@D/badscripts" },
	{ A("serve", "--port", "70000"), 2, NULL, "out of range", NULL },
	/* one worker cycle on the --db store */
	{ A("worker", "--once"), 0, "\"worker_stopped\"", NULL, NULL },
};

static void test_command_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		check_row(&rows[i]);
}

/* FNV-1a of a file's bytes (0 when missing). */
static uint64_t file_hash(const char *path)
{
	uint64_t h = 1469598103934665603ULL;
	FILE *f = fopen(path, "rb");
	int c;

	if (!f)
		return 0;
	while ((c = fgetc(f)) != EOF)
		h = (h ^ (uint64_t)c) * 1099511628211ULL;
	fclose(f);
	return h;
}

static size_t event_count(void)
{
	char *out, *err;
	json_t *doc;
	size_t n;

	assert_int_equal(run_cli(A("audit", "events", "--limit", "1000000"),
	    NULL, &out, &err), 0);
	assert_non_null(doc = json_loads(out, 0, NULL));
	n = json_array_size(doc);
	json_decref(doc);
	free(out);
	free(err);
	return n;
}

/* Bad input of every kind leaves the database as it was. */
static const struct row bad_rows[] = {
	{ A("intent", "create", "--file", "@D/broken.json"), 1, NULL, NULL, NULL },
	{ A("intent", "create", "--file", "@D/badstatus.json"), 1, NULL, NULL,
	    NULL },
	{ A("intent", "create", "--file", "@D/noid.json"), 1, NULL, NULL, NULL },
	{ A("intent", "create", "--file", "@D/nosource.json"), 1, NULL, NULL,
	    NULL },
	{ A("intent", "create", "--file", "@D/bigprio.json"), 1, NULL, NULL,
	    NULL },
	{ A("intent", "create", "--from-branch", "x", "--priority", "x"), 2,
	    NULL, NULL, NULL },
	{ A("intent", "status", "--intent-id", "nope", "--status", "MERGED"), 1,
	    NULL, NULL, NULL },
	{ A("validate", "--intent-id", "nope", "--source", "x"), 1, NULL, NULL,
	    NULL },
	{ A("validate", "--intent-id", "ok-1", "--source", "x"), 1,
	    "is MERGED, cannot validate", NULL, NULL },
	{ A("merge", "confirm", "--intent-id", "ok-1"), 1, NULL, NULL, NULL },
	{ A("risk", "shadow", "--intent-id", "file-1"), 1, NULL, NULL, NULL },
	{ A("agent", "policy-set", "--agent-id", "z", "--atl", "-1"), 2, NULL,
	    NULL, NULL },
	{ A("nosuch", "command"), 2, NULL, NULL, NULL },
	{ A("risk", "eval"), 2, NULL, NULL, NULL },
	{ A("queue", "reset", "--intent-id", "nope"), 1, NULL, NULL, NULL },
};

static void test_bad_input_leaves_db(void **state)
{
	size_t before = event_count();
	uint64_t h = file_hash(db);

	(void)state;
	for (size_t i = 0; i < sizeof bad_rows / sizeof bad_rows[0]; i++)
		check_row(&bad_rows[i]);
	assert_true(h == file_hash(db));
	assert_int_equal(event_count(), before);
}

/* O7: CONVERGE_DB_PATH is the --db default; --db wins over it. */
static void test_db_path(void **state)
{
	char other[4400], flag[4400], *out, *err;
	struct stat st;

	(void)state;
	snprintf(other, sizeof other, "CONVERGE_DB_PATH=%s/env/other.db",
	    scratch);
	assert_int_equal(run_cli(A("intent", "list"), other, &out, &err), 0);
	free(out);
	free(err);
	snprintf(other, sizeof other, "%s/env/other.db", scratch);
	assert_int_equal(stat(other, &st), 0);
	snprintf(flag, sizeof flag, "%s/flag.db", scratch);
	assert_int_equal(run_cli(A("--db", flag, "intent", "list"), NULL, &out,
	    &err), 0);
	assert_string_equal(out, "[]\n");
	free(out);
	free(err);
	assert_int_equal(stat(flag, &st), 0);
}

/* keys (D-10): create prints the key once, list never shows it, revoke
 * takes the id as a word, init-admin writes a 0600 file only when no key
 * exists, and never prints the key. */
static void test_keys(void **state)
{
	char *out, *err, id[64], key[64], file[4400];
	struct stat st;
	json_t *doc;

	(void)state;
	assert_int_equal(run_cli(A("keys", "create", "--role", "viewer",
	    "--actor", "vic", "--tenant", "t1", "--expires-days", "2"), NULL,
	    &out, &err), 0);
	doc = json_loads(out, 0, NULL);
	assert_int_equal(json_object_size(doc), 2);
	snprintf(id, sizeof id, "%s", json_string_value(json_object_get(doc,
	    "id")));
	snprintf(key, sizeof key, "%s", json_string_value(json_object_get(doc,
	    "key")));
	assert_int_equal(strncmp(key, "cvk_", 4), 0);
	json_decref(doc);
	free(out);
	free(err);
	assert_int_equal(run_cli(A("keys", "list"), NULL, &out, &err), 0);
	assert_non_null(strstr(out, id));
	assert_null(strstr(out, key + 8));
	free(out);
	free(err);
	/* with a key in the database, no first-run key */
	snprintf(file, sizeof file, "%s/admin.key", scratch);
	assert_int_equal(run_cli(A("keys", "init-admin", "--file", "@D/admin.key"),
	    NULL, &out, &err), 0);
	assert_non_null(strstr(out, "\"created\": false"));
	assert_int_not_equal(stat(file, &st), 0);
	free(out);
	free(err);
	assert_int_equal(run_cli(A("keys", "revoke", id), NULL, &out, &err), 0);
	assert_non_null(strstr(out, "\"revoked\": true"));
	free(out);
	free(err);
	/* both changes are events naming the id, never the key */
	assert_int_equal(run_cli(A("audit", "events", "--type",
	    "access.key_revoked"), NULL, &out, &err), 0);
	assert_non_null(strstr(out, id));
	free(out);
	free(err);
	assert_int_equal(run_cli(A("audit", "events", "--type",
	    "access.key_created"), NULL, &out, &err), 0);
	assert_non_null(strstr(out, id));
	assert_null(strstr(out, key + 4));
	free(out);
	free(err);
	assert_int_equal(run_cli(A("keys", "revoke", id), NULL, &out, &err), 1);
	free(out);
	free(err);
	assert_int_equal(run_cli(A("keys", "create", "--role", "boss",
	    "--actor", "x"), NULL, &out, &err), 2);
	free(out);
	free(err);
	/* none active now: the first-run key, in a 0600 file, not printed */
	assert_int_equal(run_cli(A("keys", "init-admin", "--file",
	    "@D/admin.key"), "CONVERGE_API_KEYS=", &out, &err), 0);
	assert_non_null(strstr(out, "\"created\": true"));
	assert_null(strstr(out, "cvk_"));
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	free(out);
	free(err);
	unlink(file);
}

/* The queue run's merge is a real merge commit on main. */
static void test_real_merge(void **state)
{
	char *parents = repo_run(repo, "git", "log", "-1", "--format=%P",
	    "main", (char *)NULL);
	char *head = repo_run(repo, "git", "rev-parse", "main", (char *)NULL);
	char *out, *err;

	(void)state;
	assert_non_null(strchr(parents, ' '));  /* two parents */
	head[strcspn(head, "\n")] = '\0';
	assert_int_equal(run_cli(A("audit", "events", "--intent-id", "ok-1",
	    "--type", "intent.merged"), NULL, &out, &err), 0);
	assert_non_null(strstr(out, head));
	free(out);
	free(err);
	free(parents);
	free(head);
}

/* D-8 through the CLI on the real repository, in order. */
static const struct row d8_rows[] = {
	/* a merge git refuses (uncommitted edit of a file it touches) */
	{ A("intent", "create", "--from-branch", "feature/d8touch",
	    "--intent-id", "d8-touch"), 0, "\"status\": \"READY\"", NULL,
	    NULL },
	{ A("validate", "--intent-id", "d8-touch", "--skip-checks"), 0,
	    "\"decision\": \"validated\"", NULL, NULL },
	{ A("queue", "run", "--auto-confirm", "--skip-checks"), 0,
	    "\"decision\": \"merge_failed\"", NULL, NULL },
	{ A("intent", "list", "--status", "VALIDATED"), 0,
	    "\"id\": \"d8-touch\"", NULL, NULL },
	{ A("audit", "events", "--intent-id", "d8-touch", "--type",
	    "intent.merge_failed"), 0, "local changes", NULL, NULL },
	/* the tree is clean again (before this row): merged for real */
	{ A("queue", "run", "--auto-confirm", "--skip-checks"), 0,
	    "\"decision\": \"merged\"", NULL, NULL },
	/* dependencies wait, without spending a retry */
	{ A("intent", "create", "--from-branch", "feature/ok", "--intent-id",
	    "d8-dep-a"), 0, NULL, NULL, NULL },
	{ A("intent", "create", "--file", "@D/dep.json"), 0,
	    "\"intent_id\": \"d8-dep-b\"", NULL, NULL },
	{ A("validate", "--intent-id", "d8-dep-b", "--skip-checks"), 0,
	    "\"decision\": \"validated\"", NULL, NULL },
	{ A("queue", "run", "--auto-confirm", "--skip-checks"), 0,
	    "Dependencies not merged: d8-dep-a", NULL, NULL },
	{ A("queue", "inspect", "--status", "VALIDATED"), 0,
	    "\"retries\": 0", NULL, NULL },
	/* a ref that exists nowhere */
	{ A("validate", "--intent-id", "d8-dep-a", "--source",
	    "refs/heads/does-not-exist", "--skip-checks"), 0,
	    "\"reason\": \"Unknown ref: refs/heads/does-not-exist\"", NULL,
	    NULL },
	{ A("simulate", "--source", "nope", "--target", "main"), 1,
	    "Unknown ref: nope", NULL, NULL },
	/* the tenant's risk policy gates its validations */
	{ A("risk", "policy-set", "--tenant-id", "team-d8", "--max-risk-score",
	    "0", "--mode", "enforce", "--enforce-ratio", "1"), 0, NULL, NULL,
	    NULL },
	{ A("intent", "create", "--from-branch", "feature/ok", "--intent-id",
	    "d8-risk", "--tenant-id", "team-d8"), 0, NULL, NULL, NULL },
	{ A("validate", "--intent-id", "d8-risk", "--skip-checks"), 0,
	    "Risk gate enforced", NULL, NULL },
	/* 0.1.0 behaviour on request: the dependency is not waited for */
	{ A("queue", "run", "--auto-confirm", "--skip-checks"), 0,
	    "\"decision\": \"merged\"", NULL,
	    "CONVERGE_QUEUE_ENFORCE_DEPENDENCIES=0" },
};

static void test_d8_cli(void **state)
{
	char *out, *err;

	(void)state;
	repo_write(repo, "notes.txt", "v1\n");
	repo_commit(repo, "notes");
	repo_branch(repo, "feature/d8touch", "notes.txt", "v2\n", "touch notes");
	repo_write(repo, "notes.txt", "uncommitted edit\n");
	write_file("dep.json", "{\"id\":\"d8-dep-b\",\"source\":"
	    "\"feature/ok\",\"dependencies\":[\"d8-dep-a\"]}", 0644);
	for (size_t i = 0; i < sizeof d8_rows / sizeof d8_rows[0]; i++) {
		/* the dirty tree goes once merge_failed is seen */
		if (i == 5)
			repo_git(repo, "checkout", "-q", "--", "notes.txt");
		check_row(&d8_rows[i]);
	}
	assert_int_equal(run_cli(A("intent", "list", "--status", "MERGED"),
	    NULL, &out, &err), 0);
	assert_non_null(strstr(out, "\"id\": \"d8-touch\""));
	assert_non_null(strstr(out, "\"id\": \"d8-dep-b\""));
	free(out);
	free(err);
}

/* serve runs scripts/up, prints server_started, waits for SIGTERM, then
 * runs scripts/down and exits 0. */
static void test_serve(void **state)
{
	char dir[4400], path[4500], buf[4096];
	int fds[2], status;
	ssize_t n, len = 0;
	pid_t pid;
	struct stat st;

	(void)state;
	snprintf(dir, sizeof dir, "%s/scripts", scratch);
	assert_int_equal(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		setenv("CONVERGE_SCRIPTS_DIR", dir, 1);
		if (chdir(repo) != 0)
			_exit(126);
		execl(bin, bin, "serve", "--host", "127.0.0.2", "--port", "9123",
		    (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	while (len < (ssize_t)sizeof buf - 1 && !memchr(buf, '}', (size_t)len) &&
	    (n = read(fds[0], buf + len, sizeof buf - 1 - (size_t)len)) > 0)
		len += n;
	buf[len] = '\0';
	assert_non_null(strstr(buf, "\"event\": \"server_started\""));
	assert_non_null(strstr(buf, "\"port\": 9123"));
	kill(pid, SIGTERM);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(fds[0]);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	snprintf(path, sizeof path, "%s/down.ran", dir);
	assert_int_equal(stat(path, &st), 0);
	snprintf(path, sizeof path, "%s/up.ran", dir);
	assert_int_equal(stat(path, &st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_command_table),
		cmocka_unit_test(test_bad_input_leaves_db),
		cmocka_unit_test(test_db_path),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_real_merge),
		cmocka_unit_test(test_d8_cli),
		cmocka_unit_test(test_serve),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
