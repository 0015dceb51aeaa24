/*
 * test_faults.c - a failure injected at every step (fault.h; needs
 * ./configure --enable-fault-injection, skipped otherwise).
 *
 * For each operation and each fault kind (DB statement, allocation: our
 * own in lib/ and fcgi/ and jansson's, external command) the loop arms
 * the fault at N = 1, 2, ... and runs the operation on a fresh copy of
 * the same database (and repository) until it completes without the
 * fault firing. After every injected failure:
 *   - the answer is a clear error (an HTTP status >= 400 with a JSON
 *     "error", or the engine's NULL / {"error"}), never a crash or a hang
 *     (a SIGALRM watchdog);
 *   - nothing is half-written: the database dump equals the one before
 *     (the landing may instead record a complete merge_failed);
 *   - the same operation, retried with no fault, succeeds.
 * The operations: a webhook delivery and an intent creation through their
 * route families, a validation of an intent over the API, a queue
 * landing on a local repository, and a worker cycle landing on a
 * registered repository (D-9): the mirror fetched from a bare remote in
 * the scratch directory, the intent validated again on the target that
 * moved since its validation (merge-tree, commit-tree, the lint check in
 * a worktree), the candidate pushed to the remote (db, proc, alloc).
 * For that one an invariant is checked after every run, failed or not:
 * the remote's main is as before or exactly the candidate the last
 * validation tested (its parents the old main and the source head: never
 * another commit, never two landings); the intent is MERGED iff one
 * intent.merged names that commit (a push not yet recorded is allowed,
 * and the next cycle records it); no landing is left marked.
 *
 * Allocations fail one by one for the first two, every 17th
 * (validation), 31st (landing) or 37th (registered landing) for the
 * others, whose thousand or so allocations each take a run of git
 * commands; FAULT_ALLOC_STRIDE=1 in the environment fails every one.
 *
 * Then kill -9 at every step (kill:N, in a forked child): after the
 * "restart" (the operation again, as GitHub's redelivery or the next
 * worker cycle would do) each acknowledged action exists exactly once,
 * for the registered repository once on the remote and in the events.
 *
 * CV_FAULT_ONLY=PATTERN (cmocka's test filter) runs the matching tests.
 * CV_FAULT_PART=I/N runs part I of the N in `parts` below: make check
 * runs the program once per part (tests/unit/test_faults_I), so that
 * make -j2 spreads the loops over both cores.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "eventlog.h"
#include "fault.h"
#include "farm.h"
#include "intents.h"
#include "jsonx.h"
#include "mirror.h"
#include "policy.h"
#include "repos.h"
#include "store.h"
#include "gitrepo.h"

extern const struct cv_family cv_family_intents, cv_family_webhooks;

#define MAX_N 20000
#define WATCHDOG_S 120

struct fx {
	char *dir;               /* scratch directory */
	char base[256];          /* the pristine database */
	char work[256];          /* the copy an iteration runs on */
	char *repo;              /* pristine repository (NULL: none) */
	char repo_work[256];     /* its copy for one iteration */
	bool need_repo;          /* the operation uses the repository */
	/* The registered repository (D-9): a bare remote and the mirrors
	 * root, each with a pristine copy, and a database of its own. */
	char rbase[256];         /* pristine database: repository, r-1 */
	char remote[256], remote0[256];
	char var[256], var0[256];
	char no_local[256];      /* repo_dir of the registered op: absent */
	char moved[CV_SHA_LEN];  /* remote main after the validation */
	char head[CV_SHA_LEN];   /* the source branch's head */
	bool need_remote;        /* the operation lands on the remote */
	struct cv_app app;
};

static struct fx fx;

/* ---- files ----------------------------------------------------------------- */

static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	ssize_t n;
	int in = open(from, O_RDONLY), out;

	assert_true(in >= 0);
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(out >= 0);
	while ((n = read(in, buf, sizeof buf)) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
}

static void remove_db(const char *path)
{
	static const char *const sfx[] = { "", "-wal", "-shm", ".lock" };
	char p[300];

	for (size_t i = 0; i < 4; i++) {
		snprintf(p, sizeof p, "%s%s", path, sfx[i]);
		unlink(p);
	}
}

static struct cv_store *open_store(const char *path)
{
	struct cv_store_options o = { CV_BACKEND_SQLITE, path, NULL, 0 };
	struct cv_store *s = NULL;
	char *msg = NULL;

	if (cv_store_open(&o, &s, &msg) != CV_OK)
		fail_msg("open %s: %s", path, msg ? msg : "?");
	return s;
}

/* Every row of every table, in a stable order, as text. */
static char *dump(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *t, *q;
	char *text = NULL, sql[256];
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master"
	    " WHERE type = 'table' ORDER BY name", -1, &t, NULL), SQLITE_OK);
	while (sqlite3_step(t) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(t, 0);
		snprintf(sql, sizeof sql, "SELECT * FROM \"%s\" ORDER BY 1", name);
		fprintf(out, "[%s]\n", name);
		if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
			continue;
		while (sqlite3_step(q) == SQLITE_ROW) {
			for (int c = 0; c < sqlite3_column_count(q); c++) {
				const unsigned char *v = sqlite3_column_text(q, c);
				fprintf(out, "%s|", v ? (const char *)v : "NULL");
			}
			fputc('\n', out);
		}
		sqlite3_finalize(q);
	}
	sqlite3_finalize(t);
	sqlite3_close(db);
	fclose(out);
	return text;
}

/* ---- requests --------------------------------------------------------------- */

struct req {
	const struct cv_family *family;
	const char *method, *uri;
	const char *headers[4];   /* CGI names: "HTTP_X_GITHUB_EVENT=push" */
	const char *body;
};

/* Status of the answer; *json_error set when the body is a JSON object
 * with an "error" (or "detail") text. */
static int dispatch(const struct req *r, bool *json_error, char **body_out)
{
	char m[32], uri[512];
	char *env[8];
	size_t ne = 0;
	struct cv_request req;
	struct cv_response resp;
	int status;

	snprintf(m, sizeof m, "REQUEST_METHOD=%s", r->method);
	snprintf(uri, sizeof uri, "REQUEST_URI=%s", r->uri);
	env[ne++] = m;
	env[ne++] = uri;
	for (size_t i = 0; i < 4 && r->headers[i]; i++)
		env[ne++] = (char *)r->headers[i];
	env[ne] = NULL;
	/* The request as the farm has read it (its reading is not under
	 * test here) and the reading of the answer are the harness's own
	 * allocations: not counted. */
	cv_fault_pause(true);
	cv_response_init(&resp);
	if (cv_request_init(&req, env) != CV_OK)
		fail_msg("request init");
	req.body = strdup(r->body ? r->body : "");
	req.body_len = strlen(req.body);
	cv_fault_pause(false);
	cv_farm_dispatch(r->family, &fx.app, &req, &resp);
	cv_fault_pause(true);
	status = resp.status;
	json_t *j = resp.body ? json_loadb(resp.body, resp.body_len, 0, NULL) :
	    NULL;
	*json_error = json_is_string(json_object_get(j, "error")) ||
	    json_is_string(json_object_get(j, "detail"));
	json_decref(j);
	if (body_out)
		*body_out = resp.body ? strndup(resp.body, resp.body_len) : NULL;
	cv_request_free(&req);
	cv_response_free(&resp);
	cv_fault_pause(false);
	return status;
}

/* ---- the loop ----------------------------------------------------------------- */

struct op {
	const char *name;
	/* Runs once on fx.work (and fx.repo_work); true when it succeeded.
	 * *clean_error: it failed with a clear error. */
	bool (*run)(const struct op *op, bool *clean_error);
	const struct req *req;
	int want_status;
	const char *want_text;    /* must occur in a successful answer */
	/* After a failure: true when the state is acceptable although the
	 * dump differs (a complete outcome recorded, e.g. merge_failed). */
	bool (*complete_outcome)(void);
	/* What must hold after every run, failed or not (NULL: nothing
	 * more): NULL when it does, else what does not. */
	const char *(*invariant)(void);
	/* Queue locks a worker killed mid-cycle leaves to their TTL; the
	 * kill loop's restart finds them run out (NULL-terminated). */
	const char *const *locks;
};

static bool run_request(const struct op *op, bool *clean_error)
{
	bool json_error = false;
	char *body = NULL;
	int status = dispatch(op->req, &json_error, &body);
	bool ok = status == op->want_status && body &&
	    (!op->want_text || strstr(body, op->want_text));

	*clean_error = !ok && status >= 400 && json_error;
	/* A command that could not run is a recorded decision, not a
	 * crash: validation blocks the intent and says why. */
	if (!ok && status == 200 && body && strstr(body, "\"blocked\"") &&
	    strstr(body, "injected fault"))
		*clean_error = true;
	if (!ok && !*clean_error)
		fprintf(stderr, "%s: answer %d %s\n", op->name, status,
		    body ? body : "(none)");
	free(body);
	return ok;
}

/* dir := a copy of pristine (cp -a), whatever dir held before. */
static void copy_tree(const char *pristine, const char *dir)
{
	const char *rm[] = { "rm", "-rf", dir, NULL };
	const char *cp[] = { "cp", "-a", pristine, dir, NULL };
	struct cv_proc_result r;

	cv_proc_run(rm, NULL, &r);
	cv_proc_result_free(&r);
	assert_int_equal(cv_proc_run(cp, NULL, &r), CV_OK);
	assert_int_equal(r.exit_code, 0);
	cv_proc_result_free(&r);
}

static void fresh_copy(void)
{
	remove_db(fx.work);
	copy_file(fx.need_remote ? fx.rbase : fx.base, fx.work);
	if (fx.repo && fx.need_repo)
		copy_tree(fx.repo, fx.repo_work);
	if (fx.need_remote) {
		copy_tree(fx.remote0, fx.remote);
		copy_tree(fx.var0, fx.var);
	}
}

/* The line of b where a and b first differ (for the failure message). */
static const char *first_difference(const char *a, const char *b)
{
	size_t i = 0, line = 0;

	for (; a[i] && a[i] == b[i]; i++)
		if (a[i] == '\n')
			line = i + 1;
	return b + line;
}

/* The events of path as "type count" lines (a new string). */
static char *event_counts(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *q;
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT event_type, COUNT(*) "
	    "FROM events GROUP BY event_type ORDER BY event_type", -1, &q,
	    NULL), SQLITE_OK);
	while (sqlite3_step(q) == SQLITE_ROW)
		fprintf(out, "%s %d\n", (const char *)sqlite3_column_text(q, 0),
		    sqlite3_column_int(q, 1));
	sqlite3_finalize(q);
	sqlite3_close(db);
	fclose(out);
	return text;
}

/* The events a run without any fault records, from a fresh copy. */
static char *clean_run_events(const struct op *op)
{
	bool clean;
	char *events;

	fresh_copy();
	fx.app.store = open_store(fx.work);
	if (!op->run(op, &clean))
		fail_msg("%s: failed with no fault armed", op->name);
	cv_store_close(fx.app.store);
	fx.app.store = NULL;
	events = event_counts(fx.work);
	return events;
}

static void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "test_faults: an operation hung\n";
	(void)!write(2, msg, sizeof msg - 1);
	abort();
}

static void check_invariant(const struct op *op, const char *spec,
    const char *when)
{
	const char *why = op->invariant ? op->invariant() : NULL;

	if (why)
		fail_msg("%s: %s: %s: %s", op->name, spec, when, why);
}

static bool landed_once(const struct op *op);

/* Runs op with fault KIND:n for n = 1, 2, ... (every `stride`th n);
 * returns how many faults were injected. */
static int fault_loop(const struct op *op, const char *kind, int stride)
{
	char spec[32];
	int injected = 0;
	/* A run that succeeds although a fault fired must have recorded
	 * every event a run without one does: an audit event lost on the
	 * way is a failure that was not reported. */
	char *want_events = clean_run_events(op);

	for (int n = 1; n < MAX_N; n += stride) {
		bool clean = false, ok;
		char *before, *after;

		fresh_copy();
		before = dump(fx.work);
		/* opened before arming: a process opens its store at start */
		fx.app.store = open_store(fx.work);
		snprintf(spec, sizeof spec, "%s:%d", kind, n);
		alarm(WATCHDOG_S);
		assert_int_equal(cv_fault_arm(spec), 0);
		ok = op->run(op, &clean);
		bool fired = cv_fault_fired();
		cv_fault_arm(NULL);
		alarm(0);
		if (!fired) {
			cv_store_close(fx.app.store);
			fx.app.store = NULL;
			if (!ok)
				fail_msg("%s: failed with no fault left (%s)",
				    op->name, spec);
			free(before);
			free(want_events);
			return injected;
		}
		injected++;
		if (ok) {
			char *got = event_counts(fx.work);
			if (strcmp(got, want_events) != 0)
				fail_msg("%s: %s: succeeded without its events:"
				    "\n%swhere a run without fault records\n%s",
				    op->name, spec, got, want_events);
			free(got);
		}
		if (!ok) {
			if (!clean)
				fail_msg("%s: %s: not a clear error", op->name,
				    spec);
			after = dump(fx.work);
			if (strcmp(before, after) != 0 &&
			    !(op->complete_outcome && op->complete_outcome()))
				fail_msg("%s: %s: half-written state: %s",
				    op->name, spec, first_difference(before,
				    after));
			free(after);
			check_invariant(op, spec, "after the failure");
			/* the same operation again, no fault: it succeeds (a
			 * landing recorded before its answer could be built
			 * has nothing left to land: it holds exactly once) */
			if (!op->run(op, &clean) && !landed_once(op))
				fail_msg("%s: %s: the retry failed", op->name, spec);
		}
		check_invariant(op, spec, "at the end");
		cv_store_close(fx.app.store);
		fx.app.store = NULL;
		free(before);
	}
	fail_msg("%s: more than %d %s points", op->name, MAX_N, kind);
	return injected;
}

/* ---- the operations ----------------------------------------------------------- */

static char *fixture_body;

static const struct req webhook_req = {
	NULL, "POST", "/integrations/github/webhook",
	{ "HTTP_X_GITHUB_EVENT=pull_request", "HTTP_X_GITHUB_DELIVERY=fault-1",
	  "CONTENT_TYPE=application/json", NULL }, NULL,
};

static const struct req create_req = {
	NULL, "POST", "/v1/intents", { "CONTENT_TYPE=application/json",
	    "HTTP_IDEMPOTENCY_KEY=fault-create-1", NULL },
	"{\"id\":\"fi-1\",\"source\":\"feature/x\",\"target\":\"main\","
	"\"priority\":2,\"dependencies\":[\"a\"],\"technical\":{\"k\":\"v\"}}",
};

static const struct req validate_req = {
	NULL, "POST", "/v1/intents/v-1/validate",
	{ "CONTENT_TYPE=application/json", NULL }, "{\"skip_checks\":true}",
};

static struct req wh, cr, va;

static void requests_init(void)
{
	wh = webhook_req;
	wh.family = &cv_family_webhooks;
	wh.body = fixture_body;
	cr = create_req;
	cr.family = &cv_family_intents;
	va = validate_req;
	va.family = &cv_family_intents;
}

static long long scalar(const char *sql);

/* The landing: one queue cycle with auto-confirm on the local repository. */
static bool run_landing(const struct op *op, bool *clean_error)
{
	struct cv_store *s = fx.app.store;
	json_t *config = cv_policy_defaults();
	struct cv_engine e = { .store = s, .repo_dir = fx.repo_work,
	    .work_dir = fx.repo_work, .config = config,
	    .coupling_injected = true, .check_timeout_s = 5 };
	struct cv_queue_opts q = { .auto_confirm = true, .max_retries = 3,
	    .use_last_simulation = false, .skip_checks = true, .holder = 4242 };
	json_t *res;

	/* A simulation git could not run blocked the intent and sent it
	 * back to READY (intent.requeued): it is validated again first. */
	if (scalar("SELECT COUNT(*) FROM intents WHERE id = 'l-1' AND "
	    "status = 'READY'") == 1) {
		struct cv_validate_opts vo = { NULL, false, true };
		json_decref(cv_engine_validate(&e, "l-1", &vo));
	}
	res = cv_engine_queue_run(&e, &q);
	const char *decision = cv_json_str(json_array_get(res, 0), "decision",
	    "");
	bool ok = strcmp(decision, "merged") == 0;

	(void)op;
	*clean_error = !ok;   /* NULL, an error or a recorded outcome */
	if (!ok && getenv("CV_FAULT_VERBOSE")) {
		char *t = res ? json_dumps(res, JSON_COMPACT) : NULL;
		fprintf(stderr, "landing: %s\n", t ? t : "NULL");
		free(t);
	}
	json_decref(res);
	json_decref(config);
	return ok;
}

static long long scalar(const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	long long v = -1;

	assert_int_equal(sqlite3_open_v2(fx.work, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* A landing that failed left the intent where the next cycle takes it
 * up again (VALIDATED or QUEUED), requeued to READY by a simulation that
 * could not run (validated again before the retry), or MERGED; extra
 * audit events of the
 * validation it ran (simulation, policy) are allowed. */
static bool landing_complete(void)
{
	return scalar("SELECT COUNT(*) FROM intents WHERE id = 'l-1' AND "
	    "status IN ('READY', 'VALIDATED', 'QUEUED', 'MERGED')") == 1;
}

/* A validation that failed recorded a whole decision (blocked by a
 * simulation git could not run) or left the intent as it was. */
static bool validation_complete(void)
{
	return scalar("SELECT COUNT(*) FROM intents WHERE id = 'v-1' AND "
	    "status IN ('READY', 'BLOCKED', 'VALIDATED')") == 1;
}

/* All or nothing: a delivery that failed after its commit (the answer
 * could not be built) is whole: claim, payload, event and intent. */
static bool webhook_complete(void)
{
	return scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE "
	    "delivery_id = 'fault-1'") == 1 &&
	    scalar("SELECT COUNT(*) FROM webhook_payloads WHERE "
	    "delivery_id = 'fault-1'") == 1 &&
	    scalar("SELECT COUNT(*) FROM events WHERE event_type = "
	    "'webhook.received'") == 1 &&
	    scalar("SELECT COUNT(*) FROM intents WHERE id LIKE '%:pr-%'") == 1 &&
	    scalar("SELECT COUNT(*) FROM events WHERE event_type = "
	    "'intent.created' AND intent_id LIKE '%:pr-%'") == 1;
}

static bool create_complete(void)
{
	return scalar("SELECT COUNT(*) FROM intents WHERE id = 'fi-1'") == 1 &&
	    scalar("SELECT COUNT(*) FROM events WHERE event_type = "
	    "'intent.created' AND intent_id = 'fi-1'") == 1;
}

static const struct op op_webhook = { "webhook delivery", run_request, &wh,
    200, "\"ok\":true", webhook_complete, NULL, NULL };
static const struct op op_create = { "intent creation", run_request, &cr,
    200, "fi-1", create_complete, NULL, NULL };
static const struct op op_validate = { "validation", run_request, &va, 200,
    "\"validated\"", validation_complete, NULL,
    NULL };
static const char *const local_locks[] = { "queue", NULL };

static const struct op op_landing = { "queue landing", run_landing, NULL, 0,
    NULL, landing_complete, NULL, local_locks };

/* ---- the landing on a registered repository (D-9) ---------------------------- */

static const char *const registered_locks[] = { "queue", "queue:acme/w@main",
    NULL };

/* The remote's main (a new string): its loose ref read as a file, as
 * no git may run while a fault is armed (git writes pushed refs loose;
 * the fixture's are loose too). */
static char *remote_main(void)
{
	char path[300], sha[CV_SHA_LEN] = "";
	FILE *f;

	snprintf(path, sizeof path, "%s/refs/heads/main", fx.remote);
	assert_non_null(f = fopen(path, "r"));
	assert_non_null(fgets(sha, sizeof sha, f));
	fclose(f);
	sha[strcspn(sha, "\n")] = '\0';
	return strdup(sha);
}

static const char *status_of(const char *id, char *buf, size_t size)
{
	struct cv_store *s = open_store(fx.work);
	json_t *in = NULL;

	cv_intent_get(s, id, &in);
	snprintf(buf, size, "%s", cv_json_str(in, "status", ""));
	json_decref(in);
	cv_store_close(s);
	return buf;
}

/* The payload's key of the newest event of type for r-1, or "". */
static void latest_of(const char *type, const char *key, char *buf,
    size_t size)
{
	struct cv_store *s = open_store(fx.work);
	json_t *ev = NULL;

	assert_int_equal(cv_event_latest(s, type, "r-1", &ev), CV_OK);
	snprintf(buf, size, "%s", cv_json_str(json_object_get(ev, "payload"),
	    key, ""));
	json_decref(ev);
	cv_store_close(s);
}

/*
 * What holds after any run, failed, killed or not (D-9):
 *   - the remote's main is the one before the cycle, or exactly the
 *     candidate the last validation tested: a merge of that main and the
 *     source head (never another commit, never a second landing);
 *   - r-1 is MERGED iff intent.merged is recorded, once, naming that
 *     candidate, which is then the remote's main (a push not yet
 *     recorded is allowed: the next cycle records it);
 *   - r-1 is otherwise where a cycle takes it up (VALIDATED, or READY
 *     when a revalidation could not run git), and no landing is marked.
 */
static const char *registered_invariant(void)
{
	static char why[400];
	char status[32], tested[CV_SHA_LEN], merged[CV_SHA_LEN], parents[100];
	char *tip = remote_main(), *p = NULL;
	long long n = scalar("SELECT COUNT(*) FROM events WHERE event_type = "
	    "'intent.merged' AND intent_id = 'r-1'");

	status_of("r-1", status, sizeof status);
	latest_of("intent.validated", "candidate_sha", tested, sizeof tested);
	latest_of("intent.merged", "merged_commit", merged, sizeof merged);
	snprintf(parents, sizeof parents, "%s %s\n", fx.moved, fx.head);
	why[0] = '\0';
	if (strcmp(tip, fx.moved) != 0) {
		p = repo_run(fx.remote, "git", "log", "-1", "--format=%P", "main",
		    (char *)NULL);
		if (strcmp(tip, tested) != 0)
			snprintf(why, sizeof why, "the remote holds %s, not the "
			    "tested %s", tip, tested);
		else if (strcmp(p, parents) != 0)
			snprintf(why, sizeof why, "the landed %s has parents %s",
			    tip, p);
	}
	if (!why[0] && strcmp(status, "MERGED") == 0 && (n != 1 ||
	    strcmp(merged, tested) != 0 || strcmp(tip, tested) != 0))
		snprintf(why, sizeof why, "MERGED with %lld intent.merged (%s), "
		    "remote %s, tested %s", n, merged, tip, tested);
	if (!why[0] && strcmp(status, "MERGED") != 0 && (n != 0 ||
	    (strcmp(status, "VALIDATED") != 0 && strcmp(status, "READY") != 0)))
		snprintf(why, sizeof why, "%s with %lld intent.merged", status, n);
	if (!why[0] && scalar("SELECT COUNT(*) FROM queue_landings") != 0)
		snprintf(why, sizeof why, "a landing left marked");
	free(p);
	free(tip);
	return why[0] ? why : NULL;
}

/* Landed exactly once: MERGED (with the invariant: one intent.merged
 * naming the remote's main, the tested candidate, one landing on it). */
static bool registered_once(void)
{
	char status[32];

	return strcmp(status_of("r-1", status, sizeof status), "MERGED") == 0 &&
	    !registered_invariant();
}

/* A result that says what went wrong: the engine's NULL or {"error"},
 * or the intent's decision naming an outcome other than a landing. */
static bool registered_clear(const json_t *res, const json_t *r)
{
	static const char *const failed[] = { "merge_failed", "merge_deferred",
	    "fetch_failed", "blocked" };
	const char *d = cv_json_str(r, "decision", "");

	if (!res || json_object_get(json_array_get(res, 0), "error") ||
	    json_object_get(r, "error"))
		return true;
	for (size_t i = 0; i < CV_ARRAY_LEN(failed); i++)
		if (strcmp(d, failed[i]) == 0)
			return true;
	return false;
}

/* One worker cycle on the registered repository: fetch into the mirror,
 * validate again on the moved target (merge-tree, commit-tree, the lint
 * check in a worktree), push the candidate to the bare remote, record. */
static bool run_registered(const struct op *op, bool *clean_error)
{
	json_t *config, *res, *r = NULL, *x;

	/* The harness's own allocations (the worker's configuration, the
	 * reading of the outcome) are not counted: alloc:N fails the
	 * cycle's. */
	cv_fault_pause(true);
	config = cv_policy_defaults();
	cv_fault_pause(false);
	/* no local repository: an intent taken for a local one fails there
	 * instead of merging in whatever repository the cwd is in */
	struct cv_engine e = { .store = fx.app.store, .repo_dir = fx.no_local,
	    .work_dir = fx.no_local, .config = config,
	    .coupling_injected = true, .var_dir = fx.var,
	    .check_timeout_s = 30 };
	struct cv_queue_opts q = { .auto_confirm = true, .max_retries = 3,
	    .holder = 4242 };
	size_t i;

	(void)op;
	/* sent back to READY by a revalidation that could not run git: the
	 * client validates it again */
	if (scalar("SELECT COUNT(*) FROM intents WHERE id = 'r-1' AND "
	    "status = 'READY'") == 1) {
		struct cv_validate_opts vo = { NULL, false, false };
		json_decref(cv_engine_validate(&e, "r-1", &vo));
	}
	res = cv_engine_queue_run(&e, &q);
	cv_fault_pause(true);
	json_array_foreach(res, i, x)
		if (strcmp(cv_json_str(x, "intent_id", ""), "r-1") == 0)
			r = x;
	char *tip = remote_main();
	bool ok = strcmp(cv_json_str(r, "decision", ""), "merged") == 0 &&
	    strcmp(cv_json_str(r, "merged_commit", ""), tip) == 0 &&
	    scalar("SELECT COUNT(*) FROM intents WHERE id = 'r-1' AND "
	    "status = 'MERGED'") == 1;

	*clean_error = !ok && registered_clear(res, r);
	/* [] is the restart's answer when the killed cycle had recorded
	 * the landing: nothing left to do (the kill loop checks that). */
	if (!ok && ((!*clean_error && json_array_size(res)) ||
	    getenv("CV_FAULT_VERBOSE"))) {
		char *t = res ? json_dumps(res, JSON_COMPACT) : NULL;
		fprintf(stderr, "registered landing: %s\n", t ? t : "NULL");
		free(t);
	}
	free(tip);
	json_decref(res);
	json_decref(config);
	cv_fault_pause(false);
	return ok;
}

static bool registered_complete(void)
{
	return !registered_invariant();
}

static const struct op op_registered = { "registered landing",
    run_registered, NULL, 0, NULL, registered_complete, registered_invariant,
    registered_locks };

/* ---- fixtures ------------------------------------------------------------------ */

static void add_intent(struct cv_store *s, const char *id, const char *status)
{
	const char *err = NULL;
	json_t *doc = json_pack("{s:s,s:s,s:s,s:s}", "id", id, "source",
	    "feature/x", "target", "main", "risk_level", "low");
	json_t *in = cv_intent_build(doc, false, NULL, &err);
	struct cv_engine e = { .store = s };

	assert_non_null(in);
	json_object_set_new(in, "status", json_string(status));
	assert_int_equal(cv_engine_intent_create(&e, in, false), CV_OK);
	json_decref(in);
	json_decref(doc);
}

/* The copies of each iteration live in memory when the machine allows:
 * thousands of SQLite opens and closes are then not disk syncs. */
static char *scratch_dir(void)
{
	char *dir = strdup("/dev/shm/cv-test-XXXXXX");

	if (dir && mkdtemp(dir))
		return dir;
	free(dir);
	return repo_tmpdir();
}

static void scratch_remove(char *dir)
{
	if (!dir || strncmp(dir, "/dev/shm/cv-test-", 17) != 0) {
		repo_remove(dir);   /* frees it */
		return;
	}
	nftw(dir, repo_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

static void run_git(const char *dir, const char *const argv[])
{
	struct cv_proc_opts o = { .cwd = dir, .timeout_ms = 30000 };
	struct cv_proc_result r;

	assert_int_equal(cv_proc_run(argv, &o, &r), CV_OK);
	if (r.exit_code != 0)
		fail_msg("%s %s: %s", argv[0], argv[1], r.err ? r.err : "");
	cv_proc_result_free(&r);
}

/* The registered repository's fixture: a bare remote with main and
 * feature/r, the repository registered, r-1 validated (its mirror
 * fetched, its candidate tested), then main moved by somebody else: the
 * cycle fetches, merges again, checks, pushes. Pristine copies of the
 * remote and of the mirrors root are taken for the iterations. */
static void setup_registered(void)
{
	char *clone = repo_new(), *out;
	const char *err = NULL;
	json_t *repo, *doc, *in, *config = cv_policy_defaults(), *d;

	snprintf(fx.rbase, sizeof fx.rbase, "%s/registered.db", fx.dir);
	snprintf(fx.remote, sizeof fx.remote, "%s/remote.git", fx.dir);
	snprintf(fx.remote0, sizeof fx.remote0, "%s/remote0.git", fx.dir);
	snprintf(fx.var, sizeof fx.var, "%s/var", fx.dir);
	snprintf(fx.var0, sizeof fx.var0, "%s/var0", fx.dir);
	snprintf(fx.no_local, sizeof fx.no_local, "%s/no-local-repo", fx.dir);
	const char *init[] = { "git", "init", "-q", "--bare", "-b", "main",
	    fx.remote, NULL };
	run_git(fx.dir, init);
	repo_write(clone, "Makefile", "lint:\n\t@true\n");
	repo_write(clone, "src/app.c", "int main(void) { return 0; }\n");
	repo_commit(clone, "base");
	repo_git(clone, "remote", "add", "origin", fx.remote);
	repo_branch(clone, "feature/r", "src/r.c", "int r;\n", "feature");
	repo_git(clone, "push", "-q", "origin", "main", "feature/r");
	out = repo_run(clone, "git", "rev-parse", "feature/r", (char *)NULL);
	snprintf(fx.head, sizeof fx.head, "%.40s", out);
	free(out);

	struct cv_store *s = open_store(fx.rbase);
	repo = cv_repo_build("acme/w", fx.remote, "main", NULL, NULL, NULL,
	    &err);
	assert_non_null(repo);
	assert_int_equal(cv_repo_add(s, repo), CV_OK);
	doc = json_pack("{s:s,s:s,s:s,s:s,s:{s:s}}", "id", "r-1", "source",
	    "feature/r", "target", "main", "status", "READY", "technical",
	    "repo", "acme/w");
	assert_non_null(in = cv_intent_build(doc, false, NULL, &err));
	struct cv_engine e = { .store = s, .repo_dir = fx.no_local,
	    .work_dir = fx.no_local, .config = config,
	    .coupling_injected = true, .var_dir = fx.var,
	    .check_timeout_s = 30 };
	assert_int_equal(cv_engine_intent_create(&e, in, false), CV_OK);
	struct cv_validate_opts vo = { NULL, false, false };
	d = cv_engine_validate(&e, "r-1", &vo);
	assert_string_equal(cv_json_str(d, "decision", ""), "validated");
	json_decref(d);
	cv_store_close(s);

	repo_write(clone, "docs/other.md", "meanwhile\n");
	repo_commit(clone, "meanwhile");
	repo_git(clone, "push", "-q", "origin", "main");
	out = repo_run(clone, "git", "rev-parse", "main", (char *)NULL);
	snprintf(fx.moved, sizeof fx.moved, "%.40s", out);
	free(out);
	copy_tree(fx.remote, fx.remote0);
	copy_tree(fx.var, fx.var0);
	json_decref(in);
	json_decref(doc);
	json_decref(repo);
	json_decref(config);
	repo_remove(clone);
}

static int setup(void **state)
{
	char path[512];
	FILE *f;
	long n;

	(void)state;
	if (!CV_FAULT_ENABLED)
		return 0;
	repo_env();
	signal(SIGALRM, on_alarm);
	fx.dir = scratch_dir();
	snprintf(fx.base, sizeof fx.base, "%s/base.db", fx.dir);
	snprintf(fx.work, sizeof fx.work, "%s/work.db", fx.dir);
	snprintf(path, sizeof path, "%s/tests/fixtures/github-webhooks/"
	    "pull_request/opened.payload.json", CV_SRCDIR);
	assert_non_null(f = fopen(path, "rb"));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	fixture_body = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(fixture_body, 1, (size_t)n, f), (size_t)n);
	fclose(f);

	/* the repository: main and feature/x, a clean merge */
	fx.repo = repo_new();
	snprintf(fx.repo_work, sizeof fx.repo_work, "%s/repo", fx.dir);
	repo_write(fx.repo, "src/app.c", "int main(void) { return 0; }\n");
	repo_commit(fx.repo, "base");
	repo_branch(fx.repo, "feature/x", "src/feature.c", "int feature;\n",
	    "feature");

	struct cv_store *s = open_store(fx.base);
	add_intent(s, "v-1", "READY");
	add_intent(s, "l-1", "VALIDATED");
	cv_store_close(s);
	setup_registered();
	fx.app.family = "test";
	fx.app.cfg.repo_path = fx.repo_work;
	requests_init();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (!CV_FAULT_ENABLED)
		return 0;
	free(fixture_body);
	repo_remove(fx.repo);
	scratch_remove(fx.dir);
	return 0;
}

/* ---- kill -9 at every step ------------------------------------------------------ */

static void report(const char *op, const char *kind, int n);

static bool webhook_once(void)
{
	return webhook_complete();
}

static bool create_once(void)
{
	return create_complete();
}

/* Landed exactly once: MERGED, one intent.merged, one merge on main. */
static bool landing_once(void)
{
	char *merges = repo_run(fx.repo_work, "git", "rev-list", "--count",
	    "--merges", "main", NULL);
	bool one = atoi(merges) == 1;

	free(merges);
	return one && scalar("SELECT COUNT(*) FROM intents WHERE id = 'l-1' "
	    "AND status = 'MERGED'") == 1 && scalar("SELECT COUNT(*) FROM "
	    "events WHERE event_type = 'intent.merged' AND intent_id = "
	    "'l-1'") == 1;
}

static bool landed_once(const struct op *op)
{
	return (op == &op_landing && landing_once()) ||
	    (op == &op_registered && registered_once());
}

/* Runs op in a child that SIGKILLs itself at step N (a DB statement or
 * an external command), for N = 1, 2, ... until the child finishes; after
 * each death the operation runs again (GitHub's redelivery, the client's
 * retry, the worker's next cycle) and must then hold exactly once.
 * Returns the number of deaths. */
static int kill_loop(const struct op *op, bool (*once)(void))
{
	char spec[32];
	int deaths = 0;

	for (int n = 1; n < MAX_N; n++) {
		bool clean;
		int status;
		pid_t pid;
		const char *why;

		fresh_copy();
		snprintf(spec, sizeof spec, "kill:%d", n);
		alarm(WATCHDOG_S);
		if ((pid = fork()) == 0) {
			fx.app.store = open_store(fx.work);
			cv_fault_arm(spec);
			op->run(op, &clean);
			cv_fault_arm(NULL);
			cv_store_close(fx.app.store);
			_exit(0);
		}
		assert_true(pid > 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
		if (!killed && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
			fail_msg("%s: %s: the child ended with status %d",
			    op->name, spec, status);
		/* the restart: the same operation once more, no fault */
		fx.app.store = open_store(fx.work);
		if (killed && op->invariant && (why = op->invariant()))
			fail_msg("%s: killed at %s: %s", op->name, spec, why);
		/* The dead worker's queue locks are leases: the next worker
		 * waits for their TTL; here it has run out. */
		for (size_t i = 0; killed && op->locks && op->locks[i]; i++) {
			bool released;
			assert_int_equal(cv_lock_force_release(fx.app.store,
			    op->locks[i], &released), CV_OK);
		}
		bool ok = op->run(op, &clean);
		/* a landing left marked is put back by that cycle, landed by
		 * the next one */
		if (!ok && killed && op->locks && !once())
			ok = op->run(op, &clean);
		cv_store_close(fx.app.store);
		fx.app.store = NULL;
		alarm(0);
		/* a landing recorded before the kill: nothing left to land */
		if (!ok && op->locks && once())
			ok = true;
		if (!ok)
			fail_msg("%s: after kill at %s the operation failed",
			    op->name, spec);
		if (!once())
			fail_msg("%s: after kill at %s: not exactly once",
			    op->name, spec);
		if (!killed)
			return deaths;
		deaths++;
	}
	fail_msg("%s: more than %d steps", op->name, MAX_N);
	return deaths;
}

static void test_kill_webhook(void **state)
{
	(void)state;
	if (!CV_FAULT_ENABLED)
		skip();
	fx.need_repo = false;
	fx.need_remote = false;
	report("", "start", 0);
	report(op_webhook.name, "kill", kill_loop(&op_webhook, webhook_once));
}

static void test_kill_create(void **state)
{
	(void)state;
	if (!CV_FAULT_ENABLED)
		skip();
	fx.need_repo = false;
	fx.need_remote = false;
	report("", "start", 0);
	report(op_create.name, "kill", kill_loop(&op_create, create_once));
}

static void test_kill_landing(void **state)
{
	(void)state;
	if (!CV_FAULT_ENABLED)
		skip();
	fx.need_repo = true;
	fx.need_remote = false;
	report("", "start", 0);
	report(op_landing.name, "kill", kill_loop(&op_landing, landing_once));
}

static void test_kill_registered(void **state)
{
	(void)state;
	if (!CV_FAULT_ENABLED)
		skip();
	fx.need_repo = false;
	fx.need_remote = true;
	report("", "start", 0);
	report(op_registered.name, "kill", kill_loop(&op_registered,
	    registered_once));
	fx.need_remote = false;
}

/* ---- the tests -------------------------------------------------------------------- */

static void report(const char *op, const char *kind, int n)
{
	static struct timespec last;
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	fprintf(stderr, "faults: %-17s %-5s %5d injected (%.1f s)\n", op, kind,
	    n, last.tv_sec ? (double)(now.tv_sec - last.tv_sec) +
	    (double)(now.tv_nsec - last.tv_nsec) / 1e9 : 0.0);
	last = now;
}

/* alloc_stride: every allocation of the operation fails in turn (1),
 * every alloc_stride-th (a cycle with its git commands takes a second or
 * two and has thousands), or none (0). FAULT_ALLOC_STRIDE=1 in the
 * environment: every one, where there is an alloc loop. */
/* The loop kinds of this run's part: NULL for all of them. */
static const char *part_kinds;

/* listed: WORD is one of the space-separated words of LIST. */
static bool listed(const char *list, const char *word)
{
	size_t len = strlen(word);

	for (const char *p = list; *p; p += strspn(p, " ")) {
		size_t n = strcspn(p, " ");

		if (n == len && strncmp(p, word, n) == 0)
			return true;
		p += n;
	}
	return false;
}

static bool kind_on(const char *kind)
{
	return !part_kinds || listed(part_kinds, kind);
}

static void loops(const struct op *op, int alloc_stride, bool procs)
{
	const char *env = getenv("FAULT_ALLOC_STRIDE");

	if (!CV_FAULT_ENABLED)
		skip();
	if (alloc_stride && env && atoi(env) > 0)
		alloc_stride = atoi(env);
	fx.need_repo = procs && op != &op_registered;
	fx.need_remote = op == &op_registered;
	report("", "start", 0);
	if (kind_on("db"))
		report(op->name, "db", fault_loop(op, "db", 1));
	if (procs && kind_on("proc"))
		report(op->name, "proc", fault_loop(op, "proc", 1));
	if (alloc_stride && kind_on("alloc"))
		report(op->name, "alloc", fault_loop(op, "alloc", alloc_stride));
}

static void test_webhook(void **state)
{
	(void)state;
	loops(&op_webhook, 1, false);
}

static void test_create(void **state)
{
	(void)state;
	loops(&op_create, 1, false);
}

static void test_validate(void **state)
{
	(void)state;
	loops(&op_validate, 17, true);
}

static void test_landing(void **state)
{
	(void)state;
	loops(&op_landing, 31, true);
}

/* A prime: the failures fall on every kind of step in turn. */
#define REGISTERED_ALLOC_STRIDE 37

static void test_registered(void **state)
{
	(void)state;
	loops(&op_registered, REGISTERED_ALLOC_STRIDE, true);
	fx.need_remote = false;
}

/* The parts make check runs as separate programs, about equally long
 * (in the sanitizer build, the longest first): tests named by a part and,
 * when `kinds` is set, only those loops of theirs. The last part runs
 * every test no other part names, so a new test is never left out; a test
 * split by kinds must have db, proc and alloc in its parts (part_check). */
struct part {
	const char *tests;
	const char *kinds;
};

static const struct part parts[] = {
	{ "test_validate", NULL },
	{ "test_landing", NULL },
	{ "test_registered", "db proc" },
	{ "test_registered", "alloc" },
	{ "test_kill_registered", NULL },
	{ NULL, NULL },  /* webhook, create and the other kill loops */
};
#define N_PARTS (sizeof parts / sizeof parts[0])

/* part_named: a part before the last one names TEST; with KIND, in a
 * part that runs that kind of loop. */
static bool part_named(const char *test, const char *kind)
{
	for (size_t i = 0; i + 1 < N_PARTS; i++)
		if (listed(parts[i].tests, test) && (!kind ||
		    !parts[i].kinds || listed(parts[i].kinds, kind)))
			return true;
	return false;
}

/* part_check: every loop of a test split by kinds (a part with kinds
 * names that one test) is in some part. */
static bool part_check(void)
{
	static const char *const kinds[] = { "db", "proc", "alloc" };

	for (size_t i = 0; i + 1 < N_PARTS; i++)
		for (size_t k = 0; k < 3 && parts[i].kinds; k++)
			if (!part_named(parts[i].tests, kinds[k])) {
				fprintf(stderr, "test_faults: no part runs the "
				    "%s loops of %s\n", kinds[k], parts[i].tests);
				return false;
			}
	return true;
}

/* select_part: copies into RUN the tests of part SPEC ("I/N", 1-based)
 * and sets part_kinds; returns their count, or -1 when SPEC is not one
 * of this program's parts (N: how many test_faults_I Makefile.am runs). */
static int select_part(const char *spec, const struct CMUnitTest *all,
    size_t n_all, struct CMUnitTest *run)
{
	unsigned i, n;
	int count = 0;
	char end;

	if (sscanf(spec, "%u/%u%c", &i, &n, &end) != 2 || n != N_PARTS ||
	    i < 1 || i > n) {
		fprintf(stderr, "test_faults: CV_FAULT_PART=%s: there are %zu "
		    "parts (FAULT_TESTS in Makefile.am)\n", spec, N_PARTS);
		return -1;
	}
	if (!part_check())
		return -1;
	const struct part *p = &parts[i - 1];
	for (size_t t = 0; t < n_all; t++)
		if (p->tests ? listed(p->tests, all[t].name) :
		    !part_named(all[t].name, NULL))
			run[count++] = all[t];
	part_kinds = p->kinds;
	fprintf(stderr, "faults: part %u/%u: %s%s%s\n", i, n,
	    p->tests ? p->tests : "every test the other parts leave",
	    p->kinds ? ", loops: " : "", p->kinds ? p->kinds : "");
	return count;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_webhook),
		cmocka_unit_test(test_create),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_landing),
		cmocka_unit_test(test_registered),
		cmocka_unit_test(test_kill_webhook),
		cmocka_unit_test(test_kill_create),
		cmocka_unit_test(test_kill_landing),
		cmocka_unit_test(test_kill_registered),
	};

	const size_t n_tests = sizeof tests / sizeof tests[0];
	struct CMUnitTest run[sizeof tests / sizeof tests[0]];
	const char *part = getenv("CV_FAULT_PART");
	int n_run = (int)n_tests;

	if (part && (n_run = select_part(part, tests, n_tests, run)) < 0)
		return 1;
	/* CV_FAULT_ONLY=test_registered (a pattern) runs those alone. */
	if (getenv("CV_FAULT_ONLY"))
		cmocka_set_test_filter(getenv("CV_FAULT_ONLY"));
	/* The macro cmocka_run_group_tests_name, with a count. */
	return _cmocka_run_group_tests("faults", part ? run : tests,
	    (size_t)n_run, setup, teardown);
}
