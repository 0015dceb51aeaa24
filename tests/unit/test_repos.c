/* test_repos.c - the registry of repositories and the bare mirror
 * (decisions.md D-9) against bare remotes on disk. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db.h"
#include "engine.h"
#include "ghevents.h"
#include "gitrepo.h"
#include "github.h"
#include "../fakegithub/harness.h"
#include "intents.h"
#include "jsonx.h"
#include "log.h"
#include "policy.h"
#include "mirror.h"
#include "repos.h"
#include "store.h"

/* ---- registry ---------------------------------------------------------------- */

static void test_names(void **state)
{
	static const struct { const char *name; bool ok; } t[] = {
		{ "acme/widgets", true }, { "a/b", true },
		{ "Acme-1/w_i.dg-ets", true }, { "acme", false },
		{ "/widgets", false }, { "acme/", false }, { "a/b/c", false },
		{ "-a/b", false }, { "a/.b", false }, { "a b/c", false },
		{ "", false }, { NULL, false }, { "a/b;rm", false },
	};

	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(t); i++)
		assert_int_equal(cv_repo_name_valid(t[i].name), t[i].ok);
}

static void test_urls(void **state)
{
	static const struct { const char *url, *shown; bool ok; } t[] = {
		{ "/srv/git/w.git", "/srv/git/w.git", true },
		{ "file:///srv/w.git", "file:///srv/w.git", true },
		{ "https://github.com/a/b.git", "https://github.com/a/b.git",
		    true },
		{ "https://x:s3cret@github.com/a/b.git",
		    "https://***@github.com/a/b.git", true },
		{ "https://tok@host:8443/p?q=@", "https://***@host:8443/p?q=@",
		    true },
		{ "ssh://git@host/a/b.git", "ssh://***@host/a/b.git", true },
		{ "git@github.com:a/b.git", "git@github.com:a/b.git", true },
		{ "--upload-pack=x", NULL, false }, { "a b", NULL, false },
		{ "", NULL, false },
	};

	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(t); i++) {
		assert_int_equal(cv_repo_url_valid(t[i].url), t[i].ok);
		if (!t[i].shown)
			continue;
		char *s = cv_repo_url_redact_dup(t[i].url);
		assert_string_equal(s, t[i].shown);
		free(s);
	}
}

static void test_build(void **state)
{
	static const struct {
		const char *name, *url, *target, *checks, *err;
	} t[] = {
		{ "a/b", "/x", NULL, NULL, NULL },
		{ "a/b", "/x", "release/1.0", "[\"lint\",\"unit_tests\"]", NULL },
		{ "ab", "/x", NULL, NULL, "name:" },
		{ "a/b", "-x", NULL, NULL, "url:" },
		{ "a/b", "/x", "-f", NULL, "target:" },
		{ "a/b", "/x", "a..b", NULL, "target:" },
		{ "a/b", "/x", "x.lock", NULL, "target:" },
		{ "a/b", "/x", NULL, "[\"make me\"]", "checks:" },
		{ "a/b", "/x", NULL, "{}", "checks:" },
	};

	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(t); i++) {
		json_t *checks = t[i].checks ? json_loads(t[i].checks, 0, NULL) :
		    NULL;
		const char *err = NULL;
		json_t *r = cv_repo_build(t[i].name, t[i].url, t[i].target,
		    checks, NULL, "tester", &err);
		if (t[i].err) {
			assert_null(r);
			assert_true(strncmp(err, t[i].err, strlen(t[i].err)) == 0);
		} else {
			assert_non_null(r);
			assert_string_equal(cv_json_str(r, "target", ""),
			    t[i].target ? t[i].target : "main");
		}
		json_decref(r);
		json_decref(checks);
	}
}

static void test_store(void **state)
{
	char *dir = repo_tmpdir(), path[256];
	struct cv_store *s = NULL;
	const char *err = NULL;
	json_t *a, *b, *got = NULL, *list, *intent;
	bool removed;

	(void)state;
	snprintf(path, sizeof path, "%s/state.db", dir);
	struct cv_store_options so = { CV_BACKEND_SQLITE, path, NULL, 0 };
	assert_int_equal(cv_store_open(&so, &s, NULL), CV_OK);
	json_t *lint = json_pack("[s]", "lint");
	a = cv_repo_build("acme/w", "https://u:p@h/w.git", NULL, lint,
	    "team-a", "alice", &err);
	json_decref(lint);
	b = cv_repo_build("acme/v", "/srv/v.git", "trunk", NULL, NULL, NULL,
	    &err);
	assert_int_equal(cv_repo_add(s, a), CV_OK);
	assert_int_equal(cv_repo_add(s, a), CV_EEXIST);
	assert_int_equal(cv_repo_add(s, b), CV_OK);
	assert_int_equal(cv_repo_get(s, "acme/w", &got), CV_OK);
	assert_string_equal(cv_json_str(got, "url", ""), "https://u:p@h/w.git");
	assert_string_equal(cv_json_str(got, "tenant_id", ""), "team-a");
	assert_string_equal(cv_json_str(json_array_get(cv_json_arr(got,
	    "checks"), 0), NULL, "lint"), "lint");
	json_decref(got);
	list = cv_repo_list(s, NULL);
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(cv_json_str(json_array_get(list, 0), "name", ""),
	    "acme/v");
	assert_true(json_is_null(json_object_get(json_array_get(list, 0),
	    "tenant_id")));
	json_decref(list);
	list = cv_repo_list(s, "team-a");
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
	intent = json_pack("{s:{s:s}}", "technical", "repo", "acme/v");
	assert_int_equal(cv_repo_of_intent(s, intent, &got), CV_OK);
	assert_non_null(got);
	json_decref(got);
	json_object_set_new(cv_json_obj(intent, "technical"), "repo",
	    json_string("other/x"));
	assert_int_equal(cv_repo_of_intent(s, intent, &got), CV_OK);
	assert_null(got);
	json_decref(intent);
	/* a tenant's registration belongs to its own intents only */
	intent = json_pack("{s:s,s:{s:s}}", "tenant_id", "team-b",
	    "technical", "repo", "acme/w");
	assert_int_equal(cv_repo_of_intent(s, intent, &got), CV_OK);
	assert_null(got);
	json_object_set_new(intent, "tenant_id", json_string("team-a"));
	assert_int_equal(cv_repo_of_intent(s, intent, &got), CV_OK);
	assert_non_null(got);
	json_decref(got);
	json_decref(intent);
	assert_int_equal(cv_repo_remove(s, "acme/w", &removed), CV_OK);
	assert_true(removed);
	assert_int_equal(cv_repo_remove(s, "acme/w", &removed), CV_OK);
	assert_false(removed);
	json_decref(a);
	json_decref(b);
	cv_store_close(s);
	repo_remove(dir);
}

/* ---- mirror ------------------------------------------------------------------ */

struct remote {
	char *bare;        /* the "remote": a bare repository */
	char *work;        /* a clone used to push commits to it */
	char *var;         /* CONVERGE_VAR_DIR of the mirror */
};

static char *head_of(const char *dir, const char *ref)
{
	char *out = repo_run(dir, "git", "rev-parse", ref, (char *)NULL);

	out[strcspn(out, "\n")] = '\0';
	return out;
}

static void remote_new(struct remote *r)
{
	r->bare = repo_tmpdir();
	r->work = repo_new();
	r->var = repo_tmpdir();
	repo_git(r->bare, "init", "-q", "--bare", "-b", "main");
	repo_write(r->work, "a.txt", "one\n");
	repo_write(r->work, "b.txt", "two\n");
	repo_commit(r->work, "base");
	repo_git(r->work, "remote", "add", "origin", r->bare);
	repo_git(r->work, "push", "-q", "origin", "main");
}

static void remote_free(struct remote *r)
{
	repo_remove(r->bare);
	repo_remove(r->work);
	repo_remove(r->var);
}

/* A branch off main changing file to content, pushed; returns its sha. */
static char *branch_push(struct remote *r, const char *branch,
    const char *file, const char *content)
{
	repo_git(r->work, "checkout", "-q", "-B", branch, "main");
	repo_write(r->work, file, content);
	repo_commit(r->work, branch);
	repo_git(r->work, "push", "-q", "-f", "origin", branch);
	repo_git(r->work, "checkout", "-q", "main");
	return head_of(r->work, branch);
}

static void test_mirror_candidate_and_push(void **state)
{
	struct remote r;
	struct cv_mirror m;
	char tsha[CV_SHA_LEN], ssha[CV_SHA_LEN], *msg = NULL, *feature, *tip;
	json_t *cand = NULL;
	bool refused, yes;

	(void)state;
	remote_new(&r);
	feature = branch_push(&r, "feature", "c.txt", "three\n");
	assert_int_equal(cv_mirror_init(&m, r.var, "acme/w", r.bare, NULL),
	    CV_OK);
	assert_int_equal(cv_mirror_sync(&m, &msg), CV_OK);
	assert_int_equal(cv_mirror_resolve(&m, "refs/heads/main", tsha, &msg),
	    CV_OK);
	assert_int_equal(cv_mirror_resolve(&m, "refs/heads/feature", ssha,
	    &msg), CV_OK);
	assert_string_equal(ssha, feature);
	assert_int_equal(cv_mirror_resolve(&m, "refs/heads/nope", ssha, &msg),
	    CV_ENOTFOUND);
	assert_int_equal(cv_mirror_resolve(&m, "--output=x", ssha, &msg),
	    CV_EINVAL);
	assert_int_equal(cv_mirror_resolve(&m, "feature", ssha, &msg), CV_OK);
	assert_int_equal(cv_mirror_candidate(&m, tsha, ssha, "converge: test",
	    &cand, &msg), CV_OK);
	assert_true(cv_json_bool(cand, "mergeable", false));
	assert_string_equal(cv_json_str(json_array_get(cv_json_arr(cand,
	    "files_changed"), 0), NULL, "c.txt"), "c.txt");
	const char *csha = cv_json_str(cand, "candidate_sha", "");
	assert_int_equal(strlen(csha), 40);
	/* The worktree holds the candidate: both sides' files. */
	char *wt = NULL, p[4200];
	assert_int_equal(cv_mirror_worktree_add(&m, csha, &wt, &msg), CV_OK);
	snprintf(p, sizeof p, "%s/c.txt", wt);
	assert_int_equal(access(p, F_OK), 0);
	cv_mirror_worktree_remove(&m, wt);
	assert_int_not_equal(access(wt, F_OK), 0);
	free(wt);
	/* Fast-forward push lands the candidate; the feature is in it. */
	assert_int_equal(cv_mirror_push(&m, csha, "main", &refused, &msg),
	    CV_OK);
	assert_false(refused);
	tip = head_of(r.bare, "main");
	assert_string_equal(tip, csha);
	free(tip);
	/* The mirror's commit-graph now holds the candidate: the next
	 * candidate's merge base is found without reading loose commits. */
	char graph[2200];
	snprintf(graph, sizeof graph, "%s/objects/info/commit-graph", m.dir);
	assert_int_equal(access(graph, F_OK), 0);
	char *listed = repo_run(m.dir, "git", "commit-graph", "verify",
	    (char *)NULL);
	free(listed);
	assert_int_equal(cv_mirror_is_ancestor(&m, feature, csha, &yes, &msg),
	    CV_OK);
	assert_true(yes);
	/* The old candidate against a moved target is refused, not forced. */
	char *other = branch_push(&r, "other", "d.txt", "four\n");
	assert_int_equal(cv_mirror_sync(&m, &msg), CV_OK);
	json_t *c2 = NULL;
	assert_int_equal(cv_mirror_candidate(&m, tsha, other, "converge: 2",
	    &c2, &msg), CV_OK);
	assert_int_equal(cv_mirror_push(&m, cv_json_str(c2, "candidate_sha",
	    ""), "main", &refused, &msg), CV_OK);
	assert_true(refused);
	tip = head_of(r.bare, "main");
	assert_string_equal(tip, csha);
	free(tip);
	json_decref(c2);
	json_decref(cand);
	free(other);
	free(feature);
	remote_free(&r);
}

static void test_mirror_conflict_rebuild_sweep(void **state)
{
	struct remote r;
	struct cv_mirror m;
	char tsha[CV_SHA_LEN], ssha[CV_SHA_LEN], *msg = NULL, *x, *y, p[4200];
	json_t *cand = NULL;

	(void)state;
	remote_new(&r);
	x = branch_push(&r, "x", "a.txt", "x-side\n");
	y = branch_push(&r, "y", "a.txt", "y-side\n");
	assert_int_equal(cv_mirror_init(&m, r.var, "acme/w", r.bare, NULL),
	    CV_OK);
	assert_int_equal(cv_mirror_sync(&m, &msg), CV_OK);
	assert_int_equal(cv_mirror_resolve(&m, x, tsha, &msg), CV_OK);
	assert_int_equal(cv_mirror_resolve(&m, y, ssha, &msg), CV_OK);
	assert_int_equal(cv_mirror_candidate(&m, tsha, ssha, "m", &cand, &msg),
	    CV_OK);
	assert_false(cv_json_bool(cand, "mergeable", true));
	assert_true(json_is_null(json_object_get(cand, "candidate_sha")));
	assert_string_equal(cv_json_str(json_array_get(cv_json_arr(cand,
	    "conflicts"), 0), NULL, "a.txt"), "a.txt");
	json_decref(cand);
	/* Deleted mirror: the next sync rebuilds it. */
	char cmd_dir[2100];
	snprintf(cmd_dir, sizeof cmd_dir, "%s", m.dir);
	free(repo_run("/", "rm", "-rf", cmd_dir, (char *)NULL));
	assert_int_not_equal(access(m.dir, F_OK), 0);
	assert_int_equal(cv_mirror_sync(&m, &msg), CV_OK);
	assert_int_equal(cv_mirror_resolve(&m, "refs/heads/y", ssha, &msg),
	    CV_OK);
	/* A worktree left by a dead process is swept; ours stays. */
	pid_t child = fork();
	if (child == 0) {
		/* exec, not exit: the copy of our heap is not a leak. */
		execlp("true", "true", (char *)NULL);
		_exit(0);
	}
	waitpid(child, NULL, 0);
	char *mine = NULL;
	assert_int_equal(cv_mirror_worktree_add(&m, ssha, &mine, &msg), CV_OK);
	snprintf(p, sizeof p, "%s/%ld-deadbeef0000", m.wt_root, (long)child);
	mkdir(m.wt_root, 0755);
	mkdir(p, 0755);
	cv_mirror_sweep(&m);
	assert_int_not_equal(access(p, F_OK), 0);
	assert_int_equal(access(mine, F_OK), 0);
	cv_mirror_worktree_remove(&m, mine);
	free(mine);
	free(x);
	free(y);
	remote_free(&r);
}

/* ---- token hygiene --------------------------------------------------------- */

/* A stand-in for git, first in PATH: records its argv and the part of
 * its environment that may carry the header, then runs the real git. */
static void fake_git(const char *bin, const char *log, const char *real)
{
	char path[4200];
	FILE *f;

	snprintf(path, sizeof path, "%s/git", bin);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\nprintf 'ARGV %%s\\n' \"$*\" >> '%s'\n"
	    "printf 'ENV %%s\\n' \"$GIT_CONFIG_VALUE_0\" >> '%s'\n"
	    "exec '%s' \"$@\"\n", log, log, real);
	fclose(f);
	chmod(path, 0755);
}

static bool file_contains(const char *path, const char *needle)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = fopen(path, "r");
	bool found;

	if (!f)
		return false;
	found = getdelim(&buf, &n, '\0', f) > 0 && strstr(buf, needle);
	free(buf);
	fclose(f);
	return found;
}

static void test_token_hygiene(void **state)
{
	static const char token[] = "ghs_TESTTOKEN0123456789abcdef";
	const char *env[4];
	char buf[512], *msg = NULL, *real, log[4200], cfg[4200];
	char *bin = repo_tmpdir(), *old_path = strdup(getenv("PATH"));
	struct remote r;
	struct cv_mirror m;

	(void)state;
	/* The header: Basic base64("x-access-token:" token). */
	cv_mirror_token_env(token, env, buf, sizeof buf);
	assert_string_equal(env[0], "GIT_CONFIG_COUNT=1");
	assert_string_equal(env[1], "GIT_CONFIG_KEY_0=http.extraHeader");
	assert_string_equal(env[2], "GIT_CONFIG_VALUE_0=Authorization: Basic "
	    "eC1hY2Nlc3MtdG9rZW46Z2hzX1RFU1RUT0tFTjAxMjM0NTY3ODlhYmNkZWY=");
	assert_null(env[3]);
	cv_mirror_token_env(NULL, env, buf, sizeof buf);
	assert_null(env[0]);

	remote_new(&r);
	real = repo_run("/", "sh", "-c", "command -v git", (char *)NULL);
	real[strcspn(real, "\n")] = '\0';
	snprintf(log, sizeof log, "%s/git.log", bin);
	fake_git(bin, log, real);
	char newpath[8192];
	snprintf(newpath, sizeof newpath, "%s:%s", bin, old_path);
	setenv("PATH", newpath, 1);
	assert_int_equal(cv_mirror_init(&m, r.var, "acme/w", r.bare, token),
	    CV_OK);
	assert_int_equal(cv_mirror_sync(&m, &msg), CV_OK);
	setenv("PATH", old_path, 1);
	/* git got the header through its environment... */
	assert_true(file_contains(log, "ENV Authorization: Basic "));
	/* ...and never the token in argv or a URL, nor the mirror's config. */
	assert_false(file_contains(log, token));
	snprintf(cfg, sizeof cfg, "%s/config", m.dir);
	assert_false(file_contains(cfg, token));
	assert_false(file_contains(cfg, "extraHeader"));
	assert_false(file_contains(cfg, "Basic"));
	free(real);
	free(old_path);
	repo_remove(bin);
	remote_free(&r);
}


/* ---- the engine on a registered repository (D-9) ------------------------------ */

/* The remote's tests: fail.txt fails them; x.txt and y.txt fail them
 * together (each passes alone). */
static const char makefile[] =
    "lint:\n\t@true\n"
    "test:\n\t@if [ -e fail.txt ]; then echo failing >&2; exit 1; fi\n"
    "\t@if [ -e x.txt ] && [ -e y.txt ]; then echo broken together >&2;"
    " exit 1; fi\n";

struct qfix {
	struct remote r;
	char *dbdir;
	struct cv_store *s;
	json_t *config;
	struct cv_engine e;
};

static void qfix_new(struct qfix *f)
{
	char path[256];
	const char *err = NULL;
	json_t *checks = json_pack("[s]", "unit_tests"), *repo;

	memset(f, 0, sizeof *f);
	remote_new(&f->r);
	repo_write(f->r.work, "Makefile", makefile);
	repo_commit(f->r.work, "tests");
	repo_git(f->r.work, "push", "-q", "origin", "main");
	f->dbdir = repo_tmpdir();
	snprintf(path, sizeof path, "%s/state.db", f->dbdir);
	struct cv_store_options so = { CV_BACKEND_SQLITE, path, NULL, 0 };
	assert_int_equal(cv_store_open(&so, &f->s, NULL), CV_OK);
	repo = cv_repo_build("acme/w", f->r.bare, "main", checks, NULL, NULL,
	    &err);
	assert_int_equal(cv_repo_add(f->s, repo), CV_OK);
	json_decref(repo);
	json_decref(checks);
	f->config = cv_policy_defaults();
	f->e.store = f->s;
	f->e.config = f->config;
	f->e.coupling_injected = true;
	f->e.var_dir = f->r.var;
	f->e.check_timeout_s = 30;
}

static void qfix_free(struct qfix *f)
{
	cv_store_close(f->s);
	json_decref(f->config);
	repo_remove(f->dbdir);
	remote_free(&f->r);
}

static void intent_add(struct qfix *f, const char *id, const char *source)
{
	const char *err = NULL;
	json_t *doc = json_pack("{s:s,s:s,s:s,s:s,s:{s:s}}", "id", id, "source",
	    source, "target", "main", "status", "READY", "technical", "repo",
	    "acme/w");
	json_t *in = cv_intent_build(doc, false, "tester", &err);

	assert_non_null(in);
	assert_int_equal(cv_engine_intent_create(&f->e, in, false), CV_OK);
	json_decref(in);
	json_decref(doc);
}

/* validate(id); returns the decision (caller decrefs). */
static json_t *validate(struct qfix *f, const char *id)
{
	struct cv_validate_opts o = { NULL, false, false };
	json_t *d = cv_engine_validate(&f->e, id, &o);

	assert_non_null(d);
	return d;
}

/* One queue run; returns the result of intent id (caller decrefs). */
static json_t *queue_for(struct qfix *f, const char *id)
{
	struct cv_queue_opts o = { .max_retries = 3, .use_last_simulation = true,
	    .skip_checks = true };
	json_t *res = cv_engine_queue_run(&f->e, &o), *r, *out = NULL;
	size_t i;

	assert_non_null(res);
	json_array_foreach(res, i, r)
		if (strcmp(cv_json_str(r, "intent_id", ""), id) == 0)
			out = json_incref(r);
	json_decref(res);
	return out;
}

static const char *status_of(struct qfix *f, const char *id, char *buf,
    size_t size)
{
	json_t *in = NULL;

	cv_intent_get(f->s, id, &in);
	snprintf(buf, size, "%s", cv_json_str(in, "status", ""));
	json_decref(in);
	return buf;
}

static long long events_of(struct qfix *f, const char *id, const char *type)
{
	long long n = -1;
	struct cv_param p[] = { CV_TEXT(id), CV_TEXT(type) };

	cv_db_scalar_int(f->s, "SELECT COUNT(*) FROM events WHERE intent_id = ?"
	    " AND event_type = ?", p, 2, &n);
	return n;
}

static void test_engine_lands_candidate(void **state)
{
	struct qfix f;
	char buf[32];
	bool yes = false;
	char *msg = NULL;

	(void)state;
	qfix_new(&f);
	char *head = branch_push(&f.r, "feature", "c.txt", "three\n");
	intent_add(&f, "pr-1", "feature");
	json_t *d = validate(&f, "pr-1");
	assert_string_equal(cv_json_str(d, "decision", ""), "validated");
	char cand[CV_SHA_LEN];
	snprintf(cand, sizeof cand, "%s", cv_json_str(cv_json_obj(d,
	    "simulation"), "candidate_sha", ""));
	assert_int_equal(strlen(cand), 40);
	json_decref(d);
	json_t *res = queue_for(&f, "pr-1");
	assert_string_equal(cv_json_str(res, "decision", ""), "merged");
	assert_string_equal(cv_json_str(res, "merged_commit", ""), cand);
	json_decref(res);
	char *tip = head_of(f.r.bare, "main");
	assert_string_equal(tip, cand);
	struct cv_mirror m;
	cv_mirror_init(&m, f.r.var, "acme/w", f.r.bare, NULL);
	assert_int_equal(cv_mirror_is_ancestor(&m, head, tip, &yes, &msg),
	    CV_OK);
	assert_true(yes);
	assert_string_equal(status_of(&f, "pr-1", buf, sizeof buf), "MERGED");
	assert_int_equal(events_of(&f, "pr-1", "intent.merged"), 1);
	free(tip);
	free(head);
	qfix_free(&f);
}

static void test_engine_failing_and_together(void **state)
{
	struct qfix f;
	char buf[32];

	(void)state;
	qfix_new(&f);
	char *base = head_of(f.r.bare, "main");
	free(branch_push(&f.r, "bad", "fail.txt", "no\n"));
	free(branch_push(&f.r, "x", "x.txt", "x\n"));
	free(branch_push(&f.r, "y", "y.txt", "y\n"));
	intent_add(&f, "bad", "bad");
	intent_add(&f, "px", "x");
	intent_add(&f, "py", "y");
	json_t *d = validate(&f, "bad");
	assert_string_equal(cv_json_str(d, "decision", ""), "blocked");
	assert_non_null(strstr(cv_json_str(d, "reason", ""), "unit_tests"));
	json_decref(d);
	d = validate(&f, "px");
	assert_string_equal(cv_json_str(d, "decision", ""), "validated");
	json_decref(d);
	d = validate(&f, "py");
	assert_string_equal(cv_json_str(d, "decision", ""), "validated");
	json_decref(d);
	struct cv_queue_opts o = { .max_retries = 3, .skip_checks = true };
	json_t *res = cv_engine_queue_run(&f.e, &o);
	assert_int_equal(json_array_size(res), 2);
	assert_string_equal(cv_json_str(json_array_get(res, 0), "decision", ""),
	    "merged");
	assert_string_equal(cv_json_str(json_array_get(res, 1), "decision", ""),
	    "blocked");
	assert_non_null(strstr(cv_json_str(json_array_get(res, 1), "reason",
	    ""), "Checks failed"));
	char *tip = head_of(f.r.bare, "main");
	assert_string_equal(tip, cv_json_str(json_array_get(res, 0),
	    "merged_commit", ""));
	assert_string_not_equal(tip, base);
	json_decref(res);
	assert_string_equal(status_of(&f, "py", buf, sizeof buf), "READY");
	assert_string_equal(status_of(&f, "bad", buf, sizeof buf), "READY");
	assert_int_equal(events_of(&f, "py", "intent.merged"), 0);
	free(tip);
	free(base);
	qfix_free(&f);
}

/*
 * The run resolves its intents' refs together (cv_landing_prefetch): git
 * stops at an unknown source, the refs after it are asked one at a time,
 * and the unknown one is still named as before. Direct: what
 * cv_mirror_resolve_many answers, and what it leaves to the caller.
 */
static void test_engine_prefetch_unknown_between(void **state)
{
	struct qfix f;
	char buf[32], *msg = NULL, shas[5][CV_SHA_LEN];
	struct cv_mirror m;

	(void)state;
	qfix_new(&f);
	/* x.txt and y.txt together fail the fixture's checks: w.txt. */
	char *x = branch_push(&f.r, "x", "x.txt", "x\n");
	free(branch_push(&f.r, "y", "w.txt", "w\n"));
	intent_add(&f, "px", "x");
	intent_add(&f, "pgone", "gone");
	intent_add(&f, "py", "y");
	for (const char *const *id = (const char *const[]){ "px", "pgone", "py",
	    NULL }; *id; id++)
		assert_int_equal(cv_intent_update_status(f.s, *id, "VALIDATED",
		    -1), CV_OK);
	struct cv_queue_opts o = { .max_retries = 3, .skip_checks = true };
	json_t *res = cv_engine_queue_run(&f.e, &o);
	assert_int_equal(json_array_size(res), 3);
	assert_string_equal(cv_json_str(json_array_get(res, 1), "reason", ""),
	    "Unknown ref: gone");
	json_decref(res);
	assert_string_equal(status_of(&f, "px", buf, sizeof buf), "MERGED");
	assert_string_equal(status_of(&f, "py", buf, sizeof buf), "MERGED");
	assert_string_equal(status_of(&f, "pgone", buf, sizeof buf), "READY");

	assert_int_equal(cv_mirror_init(&m, f.r.var, "acme/w", f.r.bare, NULL),
	    CV_OK);
	const char *refs[] = { "refs/heads/x", "refs/heads/main..x",
	    "refs/heads/gone", "refs/heads/y", x };
	assert_int_equal(cv_mirror_resolve_many(&m, refs, 5, shas, &msg), CV_OK);
	assert_null(msg);
	assert_string_equal(shas[0], x);
	assert_string_equal(shas[1], "");   /* not plain: not sent */
	assert_string_equal(shas[2], "");   /* unknown: git stops here */
	assert_string_equal(shas[3], "");
	assert_string_equal(shas[4], "");
	free(x);
	qfix_free(&f);
}

static void test_engine_target_moved_conflict(void **state)
{
	struct qfix f;
	char buf[32], *msg = NULL;
	bool yes = false;

	(void)state;
	qfix_new(&f);
	free(branch_push(&f.r, "feature", "c.txt", "three\n"));
	free(branch_push(&f.r, "one", "a.txt", "one side\n"));
	free(branch_push(&f.r, "two", "a.txt", "two side\n"));
	intent_add(&f, "pr-f", "feature");
	json_t *d = validate(&f, "pr-f");
	json_decref(d);
	/* Somebody pushes to main after the validation. */
	repo_write(f.r.work, "other.txt", "meanwhile\n");
	repo_commit(f.r.work, "meanwhile");
	repo_git(f.r.work, "push", "-q", "origin", "main");
	char *moved = head_of(f.r.work, "main");
	json_t *res = queue_for(&f, "pr-f");
	assert_string_equal(cv_json_str(res, "decision", ""), "merged");
	char *tip = head_of(f.r.bare, "main");
	assert_string_equal(tip, cv_json_str(res, "merged_commit", ""));
	struct cv_mirror m;
	cv_mirror_init(&m, f.r.var, "acme/w", f.r.bare, NULL);
	assert_int_equal(cv_mirror_is_ancestor(&m, moved, tip, &yes, &msg),
	    CV_OK);
	assert_true(yes);      /* kept: no force */
	json_t *in = NULL;
	cv_intent_get(f.s, "pr-f", &in);
	assert_int_equal(cv_json_int(in, "retries", -1), 0);
	json_decref(in);
	json_decref(res);
	free(tip);
	free(moved);
	/* Two PRs on the same lines: the second is blocked, paths named. */
	intent_add(&f, "p1", "one");
	intent_add(&f, "p2", "two");
	json_decref(validate(&f, "p1"));
	json_decref(validate(&f, "p2"));
	res = queue_for(&f, "p2");
	assert_string_equal(cv_json_str(res, "decision", ""), "blocked");
	assert_string_equal(cv_json_str(res, "reason", ""),
	    "Merge conflicts: a.txt");
	json_decref(res);
	assert_string_equal(status_of(&f, "p1", buf, sizeof buf), "MERGED");
	qfix_free(&f);
}

static void test_engine_crash_after_push(void **state)
{
	struct qfix f;
	char buf[32], *msg = NULL;
	bool refused;

	(void)state;
	qfix_new(&f);
	free(branch_push(&f.r, "feature", "c.txt", "three\n"));
	intent_add(&f, "pr-c", "feature");
	json_t *d = validate(&f, "pr-c");
	char cand[CV_SHA_LEN];
	snprintf(cand, sizeof cand, "%s", cv_json_str(cv_json_obj(d,
	    "simulation"), "candidate_sha", ""));
	json_decref(d);
	/* The push happened, the database never heard of it. */
	struct cv_mirror m;
	cv_mirror_init(&m, f.r.var, "acme/w", f.r.bare, NULL);
	assert_int_equal(cv_mirror_push(&m, cand, "main", &refused, &msg),
	    CV_OK);
	assert_false(refused);
	json_t *res = queue_for(&f, "pr-c");
	assert_string_equal(cv_json_str(res, "decision", ""), "merged");
	assert_string_equal(cv_json_str(res, "merged_commit", ""), cand);
	json_decref(res);
	res = queue_for(&f, "pr-c");
	assert_null(res);
	assert_int_equal(events_of(&f, "pr-c", "intent.merged"), 1);
	assert_string_equal(status_of(&f, "pr-c", buf, sizeof buf), "MERGED");
	/* A deleted mirror is rebuilt by the next validation. */
	free(branch_push(&f.r, "later", "d.txt", "four\n"));
	intent_add(&f, "pr-d", "later");
	free(repo_run("/", "rm", "-rf", m.dir, (char *)NULL));
	d = validate(&f, "pr-d");
	assert_string_equal(cv_json_str(d, "decision", ""), "validated");
	json_decref(d);
	char head[2100];
	snprintf(head, sizeof head, "%s/HEAD", m.dir);
	assert_int_equal(access(head, F_OK), 0);
	/* An unknown source is named, not a conflict. */
	intent_add(&f, "pr-u", "nope");
	d = validate(&f, "pr-u");
	assert_string_equal(cv_json_str(d, "reason", ""), "Unknown ref: nope");
	json_decref(d);
	qfix_free(&f);
}


/* ---- the GitHub mapping (pure) ------------------------------------------------ */

static bool only_acme_w(void *arg, const char *name)
{
	(void)arg;
	return strcmp(name, "acme/w") == 0;
}

#define PR(extra) "{\"action\":\"opened\",\"number\":7,\"repository\":" \
	"{\"full_name\":\"acme/w\"},\"pull_request\":{\"number\":7,\"title\":" \
	"\"T\",\"head\":{\"ref\":\"feat\",\"sha\":\"" \
	"1111111111111111111111111111111111111111\"},\"base\":{\"ref\":" \
	"\"main\"}" extra "}}"

static void test_plan_table(void **state)
{
	static const struct {
		const char *event, *body, *do_, *field, *source;
	} t[] = {
		/* a registered repository: the pinned pull head */
		{ "pull_request", PR(""), "create", NULL, "refs/pull/7/head" },
		{ "pull_request", "{\"action\":\"opened\",\"number\":7,"
		    "\"repository\":{\"full_name\":\"other/x\"},\"pull_request\":"
		    "{\"number\":7,\"head\":{\"ref\":\"feat\"},\"base\":{\"ref\":"
		    "\"main\"}}}", "create", NULL, "feat" },
		{ "pull_request", "{\"action\":\"closed\",\"number\":7,"
		    "\"repository\":{\"full_name\":\"acme/w\"},\"pull_request\":"
		    "{\"number\":7,\"merged\":true,\"head\":{\"ref\":\"f\"},"
		    "\"base\":{\"ref\":\"main\"}}}", "close", NULL, NULL },
		{ "pull_request", "{\"action\":\"labeled\",\"number\":7,"
		    "\"repository\":{\"full_name\":\"acme/w\"},\"pull_request\":"
		    "{\"number\":7,\"head\":{\"ref\":\"f\"},\"base\":{\"ref\":"
		    "\"main\"}}}", "ignore", NULL, NULL },
		/* D-8 shapes: 400 naming the field */
		{ "pull_request", "{\"action\":\"opened\",\"pull_request\":\"x\"}",
		    NULL, "pull_request", NULL },
		{ "pull_request", "{\"action\":\"opened\",\"pull_request\":{}}",
		    NULL, "repository.full_name", NULL },
		{ "pull_request", "{\"action\":\"opened\",\"repository\":"
		    "{\"full_name\":\"a/b\"},\"pull_request\":{\"number\":0}}", NULL,
		    "pull_request.number", NULL },
		{ "pull_request", "{\"action\":\"opened\",\"repository\":"
		    "{\"full_name\":\"a/b\"},\"pull_request\":{\"number\":\"7\"}}",
		    NULL, "pull_request.number", NULL },
		{ "pull_request", "{\"action\":\"opened\",\"repository\":"
		    "{\"full_name\":\"a/b\"},\"pull_request\":{\"number\":7,"
		    "\"base\":{\"ref\":\"main\"}}}", NULL, "pull_request.head.ref",
		    NULL },
		{ "pull_request", "{\"action\":\"closed\",\"repository\":"
		    "{\"full_name\":\"a/b\"},\"pull_request\":{\"number\":7,"
		    "\"head\":{\"ref\":\"x\"}}}", NULL, "pull_request.base.ref",
		    NULL },
		{ "push", "{\"repository\":{\"full_name\":\"acme/w\"}}", NULL,
		    "ref", NULL },
		{ "push", "{\"ref\":\"refs/heads/main\",\"after\":\"ab\"}", NULL,
		    "repository.full_name", NULL },
		{ "push", "{\"ref\":\"refs/heads/main\",\"after\":\"ab\","
		    "\"repository\":{\"full_name\":\"acme/w\"}}", "revalidate", NULL,
		    NULL },
		{ "push", "{\"ref\":\"refs/tags/v1\",\"repository\":"
		    "{\"full_name\":\"acme/w\"}}", "ignore", NULL, NULL },
		{ "merge_group", "{\"action\":\"checks_requested\",\"repository\":"
		    "{\"full_name\":\"acme/w\"},\"merge_group\":{}}", NULL,
		    "merge_group.head_sha", NULL },
		{ "ping", "{\"zen\":\"x\"}", "ignore", NULL, NULL },
	};
	struct cv_gh_opts o = { NULL, "2026-01-01T00:00:00+00:00", only_acme_w,
	    NULL };

	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(t); i++) {
		json_t *body = json_loads(t[i].body, 0, NULL), *plan = NULL;
		struct cv_field_error fe = { "", "" };
		enum cv_err err;

		assert_non_null(body);
		err = cv_gh_plan_build(t[i].event, body, &o, &plan, &fe);
		if (t[i].field) {
			assert_int_equal(err, CV_EINVAL);
			assert_null(plan);
			assert_string_equal(fe.field, t[i].field);
		} else {
			assert_int_equal(err, CV_OK);
			assert_string_equal(cv_json_str(plan, "do", ""), t[i].do_);
			if (t[i].source)
				assert_string_equal(cv_json_str(cv_json_obj(plan,
				    "intent"), "source", ""), t[i].source);
		}
		json_decref(plan);
		json_decref(body);
	}
}

static void test_plan_pins_head(void **state)
{
	struct cv_gh_opts o = { "team", "2026-01-01T00:00:00+00:00",
	    only_acme_w, NULL };
	json_t *body = json_loads(PR(""), 0, NULL), *plan = NULL, *in;
	struct cv_field_error fe;

	(void)state;
	assert_int_equal(cv_gh_plan_build("pull_request", body, &o, &plan, &fe),
	    CV_OK);
	in = cv_json_obj(plan, "intent");
	assert_string_equal(cv_json_str(in, "id", ""), "acme/w:pr-7");
	assert_string_equal(cv_json_str(cv_json_obj(in, "technical"),
	    "head_sha", ""), "1111111111111111111111111111111111111111");
	assert_string_equal(cv_json_str(in, "tenant_id", ""), "team");
	assert_string_equal(cv_json_str(plan, "fetch", ""), "acme/w");
	json_decref(plan);
	/* An unregistered repository keeps the branch and pins nothing. */
	o.registered = NULL;
	assert_int_equal(cv_gh_plan_build("pull_request", body, &o, &plan, &fe),
	    CV_OK);
	in = cv_json_obj(plan, "intent");
	assert_string_equal(cv_json_str(in, "source", ""), "feat");
	assert_null(json_object_get(cv_json_obj(in, "technical"), "head_sha"));
	assert_true(json_is_null(json_object_get(plan, "fetch")));
	json_decref(plan);
	json_decref(body);
}


/* ---- https through git http-backend (nginx + fcgiwrap) ------------------------ */

static bool have(const char *path)
{
	return access(path, X_OK) == 0;
}

/* A free loopback TCP port. */
static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof a;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void kill_pidfile(const char *path)
{
	FILE *f = fopen(path, "r");
	long pid = 0;

	if (f && fscanf(f, "%ld", &pid) == 1 && pid > 0)
		kill((pid_t)pid, SIGTERM);
	if (f)
		fclose(f);
}

/* The remote is served over https by git's own http-backend behind
 * nginx, which lets through only requests carrying the fake GitHub's
 * installation token (user x-access-token) as Basic credentials. The
 * queue must fetch, validate and push with it, and the token must not
 * appear in argv, a URL (nginx's access log), or the mirror's config. */
static void test_https_token(void **state)
{
	struct fake_github fake;
	char *dir, conf[8192], path[4200], url[256], log[4200], cfg[4200];
	int port;

	(void)state;
	if (!have("/usr/sbin/nginx") || !have("/usr/sbin/fcgiwrap") ||
	    !have("/usr/bin/spawn-fcgi") ||
	    !have("/usr/lib/git-core/git-http-backend") ||
	    !have("/usr/bin/openssl")) {
		print_message("nginx, spawn-fcgi, fcgiwrap or openssl missing: "
		    "skipped\n");
		skip();
	}
	assert_int_equal(fake_github_start(&fake), 0);
	dir = repo_tmpdir();
	port = free_port();
	assert_true(port > 0);
	snprintf(path, sizeof path, "%s/tmp", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/srv", dir);
	mkdir(path, 0755);
	free(repo_run(dir, "openssl", "req", "-x509", "-newkey", "rsa:2048",
	    "-nodes", "-keyout", "k.pem", "-out", "c.pem", "-days", "1", "-subj",
	    "/CN=127.0.0.1", (char *)NULL));
	/* As root, nginx's workers would run as nobody and could not reach
	 * the sockets in our 0700 directory. */
	snprintf(conf, sizeof conf, "%s"
	    "worker_processes 1;\npid %s/nginx.pid;\nerror_log %s/error.log;\n"
	    "events { worker_connections 64; }\nhttp {\n"
	    " access_log %s/access.log;\n client_body_temp_path %s/tmp;\n"
	    " fastcgi_temp_path %s/tmp;\n proxy_temp_path %s/tmp;\n"
	    " scgi_temp_path %s/tmp;\n uwsgi_temp_path %s/tmp;\n"
	    " server {\n  listen 127.0.0.1:%d ssl;\n"
	    "  ssl_certificate %s/c.pem;\n  ssl_certificate_key %s/k.pem;\n"
	    "  client_max_body_size 0;\n  location / {\n"
	    "   if ($http_authorization !~ \"^Basic eC1hY2Nlc3MtdG9rZW46Z2hzX2Zha2Vf\")"
	    " { return 401; }\n"
	    "   fastcgi_pass unix:%s/fcgiwrap.sock;\n"
	    "   fastcgi_param SCRIPT_FILENAME /usr/lib/git-core/git-http-backend;\n"
	    "   fastcgi_param GIT_PROJECT_ROOT %s/srv;\n"
	    "   fastcgi_param GIT_HTTP_EXPORT_ALL 1;\n"
	    "   fastcgi_param PATH_INFO $uri;\n"
	    "   fastcgi_param REMOTE_USER x-access-token;\n"
	    "   fastcgi_param REQUEST_METHOD $request_method;\n"
	    "   fastcgi_param QUERY_STRING $query_string;\n"
	    "   fastcgi_param CONTENT_TYPE $content_type;\n"
	    "   fastcgi_param CONTENT_LENGTH $content_length;\n"
	    "  }\n }\n}\n", geteuid() == 0 ? "user root;\n" : "", dir, dir, dir,
	    dir, dir, dir, dir, dir, port, dir, dir, dir, dir);
	snprintf(path, sizeof path, "%s/nginx.conf", dir);
	write_file(path, conf);
	snprintf(path, sizeof path, "%s/fcgiwrap.sock", dir);
	snprintf(cfg, sizeof cfg, "%s/fcgiwrap.pid", dir);
	free(repo_run(dir, "/usr/bin/spawn-fcgi", "-s", path, "-P", cfg, "--",
	    "/usr/sbin/fcgiwrap", (char *)NULL));
	snprintf(path, sizeof path, "%s/nginx.conf", dir);
	free(repo_run(dir, "/usr/sbin/nginx", "-c", path, "-p", dir,
	    (char *)NULL));

	/* The remote, pushable over http (a REMOTE_USER is set). */
	struct remote r;
	remote_new(&r);
	char srv[4200];
	snprintf(srv, sizeof srv, "%s/srv/app.git", dir);
	free(repo_run("/", "cp", "-r", r.bare, srv, (char *)NULL));
	repo_git(srv, "config", "http.receivepack", "true");
	free(branch_push(&r, "feature", "c.txt", "three\n"));
	repo_git(r.work, "push", "-q", srv, "feature");

	/* The queue, with the App's installation token from the fake. */
	struct cv_github_options go = { .api_url = fake.url, .app_id =
	    FAKE_APP_ID, .key_path = fake.key_pkcs8, .installation_id = "4242" };
	struct cv_github *gh = cv_github_new(&go);
	assert_non_null(gh);
	char dbdir_path[256], *dbdir = repo_tmpdir();
	struct cv_store *s = NULL;
	snprintf(dbdir_path, sizeof dbdir_path, "%s/state.db", dbdir);
	struct cv_store_options so = { CV_BACKEND_SQLITE, dbdir_path, NULL, 0 };
	assert_int_equal(cv_store_open(&so, &s, NULL), CV_OK);
	snprintf(url, sizeof url, "https://127.0.0.1:%d/app.git", port);
	const char *err = NULL;
	json_t *repo = cv_repo_build("acme/w", url, "main", NULL, NULL, NULL,
	    &err), *config = cv_policy_defaults();
	json_object_set_new(cv_json_obj(cv_json_obj(config, "profiles"),
	    "medium"), "checks", json_array());
	assert_int_equal(cv_repo_add(s, repo), CV_OK);
	json_decref(repo);
	struct cv_engine e = { .store = s, .config = config,
	    .coupling_injected = true, .var_dir = r.var, .github = gh,
	    .installation_id = 4242 };
	const char *ierr = NULL;
	json_t *doc = json_pack("{s:s,s:s,s:s,s:{s:s}}", "id", "tls", "source",
	    "feature", "target", "main", "technical", "repo", "acme/w");
	json_t *in = cv_intent_build(doc, false, "t", &ierr);
	assert_int_equal(cv_engine_intent_create(&e, in, false), CV_OK);
	json_decref(in);
	json_decref(doc);

	/* Every git call through a recording wrapper. */
	char *bin = repo_tmpdir(), *old_path = strdup(getenv("PATH")), *real;
	char newpath[8192];
	real = repo_run("/", "sh", "-c", "command -v git", (char *)NULL);
	real[strcspn(real, "\n")] = '\0';
	snprintf(log, sizeof log, "%s/git.log", bin);
	fake_git(bin, log, real);
	snprintf(newpath, sizeof newpath, "%s:%s", bin, old_path);
	setenv("PATH", newpath, 1);
	setenv("GIT_SSL_NO_VERIFY", "1", 1);

	/* Our own log lines, at their most talkative, go to a file
	 * (the refused fetch below writes one). */
	char ourlog[4200];
	snprintf(ourlog, sizeof ourlog, "%s/converge.log", bin);
	int saved_err = dup(2), logfd = open(ourlog,
	    O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(saved_err >= 0 && logfd >= 0);
	fflush(stderr);
	dup2(logfd, 2);
	close(logfd);
	cv_log_set_level(CV_DEBUG);
	/* Without the token, the remote refuses: the token opens it. */
	e.github = NULL;
	struct cv_validate_opts vo = { NULL, false, false };
	json_t *d = cv_engine_validate(&e, "tls", &vo);
	assert_non_null(strstr(cv_json_str(d, "reason", ""), "Fetch failed"));
	json_decref(d);
	e.github = gh;
	d = cv_engine_validate(&e, "tls", &vo);
	assert_string_equal(cv_json_str(d, "decision", ""), "validated");
	char cand[64];
	snprintf(cand, sizeof cand, "%s", cv_json_str(cv_json_obj(d,
	    "simulation"), "candidate_sha", ""));
	json_decref(d);
	struct cv_queue_opts qo = { .max_retries = 3, .skip_checks = true };
	json_t *res = cv_engine_queue_run(&e, &qo);
	assert_string_equal(cv_json_str(json_array_get(res, 0), "decision", ""),
	    "merged");
	json_decref(res);
	fflush(stderr);
	dup2(saved_err, 2);
	close(saved_err);
	cv_log_set_level(CV_INFO);
	setenv("PATH", old_path, 1);
	unsetenv("GIT_SSL_NO_VERIFY");
	char *tip = head_of(srv, "main");
	assert_string_equal(tip, cand);      /* landed over https */
	free(tip);

	/* Hygiene: argv, URLs (nginx's log), our log lines and events, the
	 * mirror's config. */
	assert_true(file_contains(log, "ENV Authorization: Basic "));
	assert_false(file_contains(log, "ghs_fake"));
	assert_true(file_contains(ourlog, "\"level\""));  /* it did log */
	assert_false(file_contains(ourlog, "ghs_fake"));
	assert_false(file_contains(ourlog, "Basic "));
	json_t *events = NULL;
	assert_int_equal(cv_db_query(s, "SELECT payload FROM events", NULL, 0,
	    &events), CV_OK);
	char *dump = json_dumps(events, JSON_COMPACT);
	assert_non_null(dump);
	assert_null(strstr(dump, "ghs_fake"));
	assert_null(strstr(dump, "Basic "));
	free(dump);
	json_decref(events);
	snprintf(path, sizeof path, "%s/access.log", dir);
	assert_true(file_contains(path, "git-receive-pack"));
	assert_false(file_contains(path, "ghs_fake"));
	snprintf(path, sizeof path, "%s/repos/acme/w.git/config", r.var);
	assert_false(file_contains(path, "ghs_fake"));
	assert_false(file_contains(path, "extraHeader"));
	assert_false(file_contains(path, "127.0.0.1"));

	snprintf(path, sizeof path, "%s/nginx.pid", dir);
	kill_pidfile(path);
	snprintf(path, sizeof path, "%s/fcgiwrap.pid", dir);
	kill_pidfile(path);
	usleep(200000);
	cv_store_close(s);
	cv_github_free(gh);
	json_decref(config);
	free(real);
	free(old_path);
	repo_remove(bin);
	repo_remove(dbdir);
	remote_free(&r);
	repo_remove(dir);
	fake_github_stop(&fake);
}

static int setup(void **state)
{
	(void)state;
	repo_env();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_store),
		cmocka_unit_test(test_mirror_candidate_and_push),
		cmocka_unit_test(test_mirror_conflict_rebuild_sweep),
		cmocka_unit_test(test_token_hygiene),
		cmocka_unit_test(test_plan_table),
		cmocka_unit_test(test_plan_pins_head),
		cmocka_unit_test(test_engine_lands_candidate),
		cmocka_unit_test(test_engine_failing_and_together),
		cmocka_unit_test(test_engine_prefetch_unknown_between),
		cmocka_unit_test(test_engine_target_moved_conflict),
		cmocka_unit_test(test_engine_crash_after_push),
		cmocka_unit_test(test_https_token),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
