/* test_scm.c - merge simulation (domain.md 3.2, V55) and real merges (6.4)
 * against real temporary git repositories. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>

#include "gitrepo.h"
#include "jsonx.h"
#include "scm.h"
#include "scmrun.h"

#define L(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NONE ((const char *const[]){ NULL })
#define TS "2026-01-02T03:04:05.000000+00:00"

/*
 * The fixture of V55, plus a large branch:
 *   base:  README.md, src/app.py, src/utils.py
 *   feature/conflict (from base): edits src/app.py
 *   feature/clean    (from base): adds src/new_feature.py
 *   feature/large    (from base): adds big/f00.txt .. big/f59.txt
 *   main: base, then edits src/app.py differently (the target moved)
 */
static char *fixture;

static int setup(void **state)
{
	char name[32];
	int i;

	(void)state;
	repo_env();
	fixture = repo_new();
	repo_write(fixture, "README.md", "# demo\n");
	repo_write(fixture, "src/app.py", "def main():\n    return 1\n");
	repo_write(fixture, "src/utils.py", "def util():\n    return 2\n");
	repo_commit(fixture, "base");
	repo_branch(fixture, "feature/conflict", "src/app.py",
	    "def main():\n    return 'feature'\n", "feature edit");
	repo_branch(fixture, "feature/clean", "src/new_feature.py",
	    "def feature():\n    pass\n", "new feature");
	repo_git(fixture, "checkout", "-q", "-b", "feature/large", "main");
	for (i = 0; i < 60; i++) {
		snprintf(name, sizeof(name), "big/f%02d.txt", i);
		repo_write(fixture, name, name);
	}
	repo_commit(fixture, "sixty files");
	repo_git(fixture, "checkout", "-q", "main");
	repo_write(fixture, "src/app.py", "def main():\n    return 'main'\n");
	repo_commit(fixture, "main edit");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	repo_remove(fixture);
	return 0;
}

enum dir_kind { DIR_REPO, DIR_REPO_SUB, DIR_PLAIN, DIR_MISSING };

struct sim_row {
	const char *name;
	enum dir_kind dir;
	const char *source;
	const char *target;
	enum cv_err want;
	int mergeable;
	const char *const *conflicts;
	const char *const *files;       /* NULL: only the count is checked */
	size_t n_files;
	const char *errmsg_sub;         /* for errors */
};

static const struct sim_row sim_rows[] = {
	/* V55 row 1: both sides edit src/app.py. */
	{ "conflict", DIR_REPO, "feature/conflict", "main", CV_OK, 0,
	  L("src/app.py"), L("src/app.py"), 1, NULL },
	/* V55 row 2: clean branch, target moved after the branch point: the
	 * two-tip diff lists main's change too (B7 parity). */
	{ "clean, moved target", DIR_REPO, "feature/clean", "main", CV_OK, 1,
	  NONE, L("src/app.py", "src/new_feature.py"), 2, NULL },
	/* V55 row 3, changed by D-8: an unknown ref is said, not reported
	 * as an unmergeable simulation with no conflicts. */
	{ "unknown source ref", DIR_REPO, "feature/nope", "main", CV_ENOTFOUND,
	  0, NULL, NULL, 0, "Unknown ref: feature/nope" },
	{ "unknown target ref", DIR_REPO, "feature/clean", "nope", CV_ENOTFOUND,
	  0, NULL, NULL, 0, "Unknown ref: nope" },
	{ "large change", DIR_REPO, "feature/large", "main", CV_OK, 1,
	  NONE, NULL, 61, NULL },
	{ "same ref", DIR_REPO, "main", "main", CV_OK, 1, NONE, NONE, 0, NULL },
	{ "from a subdirectory", DIR_REPO_SUB, "feature/conflict", "main", CV_OK, 0,
	  L("src/app.py"), L("src/app.py"), 1, NULL },
	{ "not a repository", DIR_PLAIN, "feature/clean", "main", CV_EEXEC, 0,
	  NULL, NULL, 0, "not a git repository" },
	{ "missing directory", DIR_MISSING, "feature/clean", "main", CV_EEXEC, 0,
	  NULL, NULL, 0, "/tmp/cv-test-missing-dir" },
	{ "option as source", DIR_REPO, "--output=/tmp/x", "main", CV_EINVAL, 0,
	  NULL, NULL, 0, "invalid ref" },
	{ "option as target", DIR_REPO, "feature/clean", "-p", CV_EINVAL, 0,
	  NULL, NULL, 0, "invalid ref" },
	{ "empty ref", DIR_REPO, "", "main", CV_EINVAL, 0, NULL, NULL, 0, NULL },
};

static void assert_strings(const json_t *arr, const char *const *want)
{
	size_t i = 0;

	assert_true(json_is_array(arr));
	for (i = 0; want[i] != NULL; i++)
		assert_string_equal(json_string_value(json_array_get(arr, i)), want[i]);
	assert_int_equal(json_array_size(arr), i);
}

static void check_sim(const struct sim_row *w, const json_t *sim)
{
	const char *keys[] = { "mergeable", "conflicts", "files_changed",
	    "timestamp", "source", "target" };
	void *it = json_object_iter((json_t *)sim);
	size_t k;

	for (k = 0; k < CV_ARRAY_LEN(keys); k++, it = json_object_iter_next((json_t *)sim, it))
		assert_string_equal(json_object_iter_key(it), keys[k]);
	assert_null(it);
	assert_int_equal(json_is_true(json_object_get(sim, "mergeable")), w->mergeable);
	assert_strings(json_object_get(sim, "conflicts"), w->conflicts);
	if (w->files)
		assert_strings(json_object_get(sim, "files_changed"), w->files);
	assert_int_equal(json_array_size(json_object_get(sim, "files_changed")), w->n_files);
	assert_string_equal(json_string_value(json_object_get(sim, "timestamp")), TS);
	assert_string_equal(json_string_value(json_object_get(sim, "source")), w->source);
	assert_string_equal(json_string_value(json_object_get(sim, "target")), w->target);
}

static void test_simulate_table(void **state)
{
	char *plain = repo_tmpdir(), sub[4200];
	size_t i;

	(void)state;
	snprintf(sub, sizeof(sub), "%s/src", fixture);
	for (i = 0; i < CV_ARRAY_LEN(sim_rows); i++) {
		const struct sim_row *w = &sim_rows[i];
		const char *dirs[] = { fixture, sub, plain, "/tmp/cv-test-missing-dir" };
		json_t *sim = NULL;
		char *err = NULL;
		enum cv_err e;

		print_message("row %zu: %s\n", i, w->name);
		e = cv_scm_simulate(dirs[w->dir], w->source, w->target, TS, &sim, &err);
		assert_int_equal(e, w->want);
		if (e == CV_OK) {
			assert_null(err);
			check_sim(w, sim);
		} else {
			assert_null(sim);
			assert_non_null(err);
			if (w->errmsg_sub)
				assert_non_null(strstr(err, w->errmsg_sub));
		}
		json_decref(sim);
		free(err);
	}
	repo_remove(plain);
}

/*
 * A queue run's cache (scmrun.h) answers every row of the table as
 * cv_scm_simulate does, whether all rows were expected (answered from
 * one rev-parse and one diff-tree --stdin, an unknown ref among them)
 * or none were (asked one by one), plus the shas it simulated.
 */
static void test_run_simulate_table(void **state)
{
	char *plain = repo_tmpdir(), sub[4200];

	(void)state;
	snprintf(sub, sizeof(sub), "%s/src", fixture);
	for (int expect = 0; expect < 2; expect++) {
		const char *dirs[] = { fixture, sub, plain,
		    "/tmp/cv-test-missing-dir" };
		struct cv_scm_run *runs[4];

		for (size_t d = 0; d < 4; d++)
			assert_non_null(runs[d] = cv_scm_run_new(dirs[d]));
		for (size_t i = 0; expect && i < CV_ARRAY_LEN(sim_rows); i++)
			cv_scm_run_expect(runs[sim_rows[i].dir], sim_rows[i].source,
			    sim_rows[i].target);
		for (size_t i = 0; i < CV_ARRAY_LEN(sim_rows); i++) {
			const struct sim_row *w = &sim_rows[i];
			json_t *sim = NULL, *old = NULL;
			char *err = NULL, *oerr = NULL, *sha;
			enum cv_err e;

			print_message("expect %d, row %zu: %s\n", expect, i, w->name);
			e = cv_scm_run_simulate(runs[w->dir], w->source, w->target,
			    TS, &sim, &err);
			assert_int_equal(e, w->want);
			assert_int_equal(cv_scm_simulate(dirs[w->dir], w->source,
			    w->target, TS, &old, &oerr), e);
			if (e != CV_OK) {
				assert_null(sim);
				assert_string_equal(err, oerr);
				free(err);
				free(oerr);
				continue;
			}
			sha = repo_run(fixture, "git", "rev-parse", w->source,
			    (char *)NULL);
			assert_memory_equal(cv_json_str(sim, "source_sha", ""), sha, 40);
			free(sha);
			sha = repo_run(fixture, "git", "rev-parse", w->target,
			    (char *)NULL);
			assert_memory_equal(cv_json_str(sim, "target_sha", ""), sha, 40);
			free(sha);
			json_object_del(sim, "source_sha");
			json_object_del(sim, "target_sha");
			check_sim(w, sim);
			assert_true(json_equal(sim, old));
			json_decref(sim);
			json_decref(old);
		}
		for (size_t d = 0; d < 4; d++)
			cv_scm_run_free(runs[d]);
	}
	repo_remove(plain);
}

/* Simulation never touches the work tree, the index or HEAD. */
static void test_simulate_leaves_repo_alone(void **state)
{
	json_t *sim = NULL;
	char *err = NULL, *status, *head;

	(void)state;
	assert_int_equal(cv_scm_simulate(fixture, "feature/conflict", "main", NULL,
	    &sim, &err), CV_OK);
	assert_int_equal(strlen(json_string_value(json_object_get(sim, "timestamp"))), 32);
	status = repo_run(fixture, "git", "status", "--porcelain", (char *)NULL);
	head = repo_run(fixture, "git", "symbolic-ref", "HEAD", (char *)NULL);
	assert_string_equal(status, "");
	assert_string_equal(head, "refs/heads/main\n");
	free(status);
	free(head);
	json_decref(sim);
}

struct conflict_row {
	const char *out;
	const char *err;
	const char *const *want;
};

static const struct conflict_row conflict_rows[] = {
	/* 5b: git 2.39 output of a content conflict. */
	{ "86554444\n100644 422c 1\tsrc/app.py\n100644 53db 2\tsrc/app.py\n"
	  "100644 61c5 3\tsrc/app.py\n\nAuto-merging src/app.py\n"
	  "CONFLICT (content): Merge conflict in src/app.py\n", "", L("src/app.py") },
	/* 5b: sorted unique over several files. */
	{ "t\n100644 a 2\tz.c\n100644 b 3\tz.c\n100644 c 1\ta.c\n", "",
	  L("a.c", "z.c") },
	/* 5b: lines with three fields do not count. */
	{ "x\ty\tz\nmode sha 1\tok.c\n", "", L("ok.c") },
	/* 5a wins over 5b, in order, duplicates kept. */
	{ "t\n100644 a 1\tother.c\n",
	  "CONFLICT (content): Merge conflict in b.c\n"
	  "CONFLICT (add/add): Merge conflict in a.c\n"
	  "CONFLICT (content): Merge conflict in b.c\n", L("b.c", "a.c", "b.c") },
	/* 5a: the first "in" after the colon, wherever it is. */
	{ "", "CONFLICT (modify/delete): gone.c deleted in HEAD and modified in x.\n",
	  L("HEAD") },
	/* 5a needs whitespace after the colon and after "in". */
	{ "", "CONFLICT:nospace in a.c\nCONFLICT (x): within\n", NONE },
	/* bad ref: message on stderr, nothing on stdout. */
	{ "", "merge-tree: nope - not something we can merge\n", NONE },
	{ "", "", NONE },
};

static void test_conflicts_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < CV_ARRAY_LEN(conflict_rows); i++) {
		json_t *c = cv_scm_conflicts_build(conflict_rows[i].out,
		    conflict_rows[i].err);

		print_message("row %zu\n", i);
		assert_strings(c, conflict_rows[i].want);
		json_decref(c);
	}
}

/* 6.4: a clean merge makes a --no-ff merge commit; a conflicting one fails
 * with a message and leaves a clean work tree. Uses its own repository. */
static void test_merge(void **state)
{
	char *dir, *sha = NULL, *err = NULL, *parents, *subject, *status;
	char sim[32];

	(void)state;
	dir = repo_new();
	repo_write(dir, "a.txt", "one\n");
	repo_commit(dir, "base");
	repo_branch(dir, "feature/x", "b.txt", "two\n", "feature");
	repo_branch(dir, "feature/bad", "a.txt", "bad\n", "bad");
	repo_write(dir, "a.txt", "main\n");
	repo_commit(dir, "main edit");

	assert_int_equal(cv_scm_merge(dir, "feature/x", "main", &sha, &err), CV_OK);
	assert_null(err);
	assert_int_equal(strlen(sha), 40);
	parents = repo_run(dir, "git", "rev-list", "--parents", "-n1", "HEAD", (char *)NULL);
	subject = repo_run(dir, "git", "log", "-1", "--format=%s", (char *)NULL);
	assert_int_equal(strlen(parents), 3 * 40 + 2 + 1);
	assert_memory_equal(parents, sha, 40);
	assert_string_equal(subject, "converge: merge feature/x into main\n");
	free(parents);
	free(subject);
	free(sha);

	assert_int_equal(cv_scm_merge(dir, "feature/bad", "main", &sha, &err), CV_EEXEC);
	assert_null(sha);
	assert_non_null(strstr(err, "git merge failed"));
	status = repo_run(dir, "git", "status", "--porcelain", (char *)NULL);
	assert_string_equal(status, "");
	free(status);
	free(err);

	assert_int_equal(cv_scm_merge(dir, "feature/x", "nope", &sha, &err), CV_EEXEC);
	assert_non_null(strstr(err, "git checkout failed"));
	free(err);
	assert_int_equal(cv_scm_merge(dir, "-x", "main", &sha, &err), CV_EINVAL);
	free(err);
	repo_remove(dir);

	cv_scm_simulated_sha(sim, sizeof(sim), "q-ok");
	assert_string_equal(sim, "simulated-q-ok");
	cv_scm_simulated_sha(sim, sizeof(sim), "0123456789abcdef");
	assert_string_equal(sim, "simulated-01234567");
}

/*
 * The run's merge: the commit simulated is the one merged, even when the
 * source moves on after the simulation; HEAD on another branch is
 * checked out; the merge counts only when the target contains the
 * source (D-8), also when nothing was left to merge; a refused merge
 * leaves a clean tree and says why.
 */
static void test_run_merge(void **state)
{
	char *dir, *sha = NULL, *err = NULL, *parents, *tested, *status;
	struct cv_scm_run *run;
	json_t *sim = NULL;

	(void)state;
	dir = repo_new();
	repo_write(dir, "a.txt", "one\n");
	repo_commit(dir, "base");
	repo_branch(dir, "feature/x", "b.txt", "two\n", "feature");
	repo_branch(dir, "feature/bad", "a.txt", "bad\n", "bad");
	repo_git(dir, "branch", "-q", "old", "main");
	repo_write(dir, "a.txt", "main\n");
	repo_commit(dir, "main edit");
	assert_non_null(run = cv_scm_run_new(dir));
	cv_scm_run_expect(run, "feature/x", "main");
	cv_scm_run_expect(run, "feature/bad", "main");

	assert_int_equal(cv_scm_run_simulate(run, "feature/x", "main", TS, &sim,
	    &err), CV_OK);
	tested = strdup(cv_json_str(sim, "source_sha", ""));
	json_decref(sim);
	/* The source moves on after the simulation, HEAD goes elsewhere. */
	repo_git(dir, "checkout", "-q", "feature/x");
	repo_write(dir, "c.txt", "untested\n");
	repo_commit(dir, "untested");
	repo_git(dir, "checkout", "-q", "feature/bad");
	assert_int_equal(cv_scm_run_merge(run, "feature/x", "main", &sha, &err),
	    CV_OK);
	assert_null(err);
	parents = repo_run(dir, "git", "rev-list", "--parents", "-n1", "main",
	    (char *)NULL);
	assert_int_equal(strlen(parents), 3 * 40 + 2 + 1);
	assert_memory_equal(parents, sha, 40);
	assert_memory_equal(parents + 82, tested, 40);
	free(parents);
	free(tested);
	free(sha);
	status = repo_run(dir, "git", "symbolic-ref", "HEAD", (char *)NULL);
	assert_string_equal(status, "refs/heads/main\n");
	free(status);

	/* Nothing left to merge ("Already up to date"): no merge commit, and
	 * merge-base still says main contains old. */
	assert_int_equal(cv_scm_run_merge(run, "old", "main", &sha, &err), CV_OK);
	free(sha);

	assert_int_equal(cv_scm_run_merge(run, "feature/bad", "main", &sha, &err),
	    CV_EEXEC);
	assert_null(sha);
	assert_non_null(strstr(err, "git merge failed"));
	free(err);
	status = repo_run(dir, "git", "status", "--porcelain", (char *)NULL);
	assert_string_equal(status, "");
	free(status);
	assert_int_equal(cv_scm_run_merge(run, "nope", "main", &sha, &err),
	    CV_ENOTFOUND);
	assert_string_equal(err, "git merge failed: Unknown ref: nope");
	free(err);
	assert_int_equal(cv_scm_run_merge(run, "feature/x", "nope", &sha, &err),
	    CV_EEXEC);
	assert_non_null(strstr(err, "git checkout failed"));
	free(err);
	/* A tag as target: HEAD is detached there, the tag does not move, so
	 * the merge does not count (D-8). */
	repo_git(dir, "tag", "v1", "old");
	repo_git(dir, "branch", "-q", "feature/y", "old");
	repo_git(dir, "checkout", "-q", "feature/y");
	repo_write(dir, "d.txt", "y\n");
	repo_commit(dir, "y");
	assert_int_equal(cv_scm_run_merge(run, "feature/y", "v1", &sha, &err),
	    CV_EEXEC);
	assert_null(sha);
	assert_non_null(strstr(err, "v1 does not contain feature/y"));
	free(err);
	cv_scm_run_free(run);
	repo_remove(dir);
}

/* The run's simulation of source into target in dir is what
 * cv_scm_simulate says now, at the commits the refs name now. */
static void check_run_sim(struct cv_scm_run *run, const char *dir,
    const char *source, const char *target, int mergeable)
{
	json_t *sim = NULL, *old = NULL;
	char *err = NULL, *sha;

	print_message("%s into %s\n", source, target);
	assert_int_equal(cv_scm_run_simulate(run, source, target, TS, &sim,
	    &err), CV_OK);
	assert_null(err);
	assert_int_equal(cv_scm_simulate(dir, source, target, TS, &old, &err),
	    CV_OK);
	sha = repo_run(dir, "git", "rev-parse", source, (char *)NULL);
	assert_memory_equal(cv_json_str(sim, "source_sha", ""), sha, 40);
	free(sha);
	sha = repo_run(dir, "git", "rev-parse", target, (char *)NULL);
	assert_memory_equal(cv_json_str(sim, "target_sha", ""), sha, 40);
	free(sha);
	json_object_del(sim, "source_sha");
	json_object_del(sim, "target_sha");
	assert_true(json_equal(sim, old));
	assert_int_equal(json_is_true(json_object_get(sim, "mergeable")),
	    mergeable);
	json_decref(sim);
	json_decref(old);
}

/*
 * Merges in a row, as a queue run does them: after each merge the run
 * asks for the next source alone on the new target, from the second
 * question on that target for all the rest; pairs simulated already are
 * not asked again after a merge. Every answer is still what git says at
 * that moment: a branch that merged cleanly before the merges conflicts
 * after them, the files changed are against the new target, and a
 * simulated source is resolved again when asked.
 */
static void test_run_merges_in_a_row(void **state)
{
	char *dir, *sha = NULL, *err = NULL, *want;
	struct cv_scm_run *run;
	json_t *sim = NULL;

	(void)state;
	dir = repo_new();
	repo_write(dir, "a.txt", "one\n");
	repo_commit(dir, "base");
	repo_branch(dir, "b1", "b1.txt", "b1\n", "b1");
	repo_git(dir, "checkout", "-q", "-b", "b2", "b1");
	repo_write(dir, "a.txt", "two\n");
	repo_commit(dir, "b2");
	repo_branch(dir, "c", "a.txt", "three\n", "c");
	repo_branch(dir, "d", "d.txt", "d\n", "d");
	repo_branch(dir, "e", "e.txt", "e\n", "e");
	repo_git(dir, "checkout", "-q", "main");
	assert_non_null(run = cv_scm_run_new(dir));
	cv_scm_run_expect(run, "b1", "main");
	cv_scm_run_expect(run, "b2", "main");
	cv_scm_run_expect(run, "c", "main");
	cv_scm_run_expect(run, "d", "main");
	cv_scm_run_expect(run, "e", "main");
	cv_scm_run_expect(run, "e", "main");     /* two intents, one pair */

	/* Before any merge c merges cleanly (one batch for all). */
	assert_int_equal(cv_scm_run_simulate(run, "c", "main", TS, &sim, &err),
	    CV_OK);
	assert_true(json_is_true(json_object_get(sim, "mergeable")));
	json_decref(sim);
	check_run_sim(run, dir, "b1", "main", 1);
	assert_int_equal(cv_scm_run_merge(run, "b1", "main", &sha, &err), CV_OK);
	free(sha);
	check_run_sim(run, dir, "b2", "main", 1);
	assert_int_equal(cv_scm_run_merge(run, "b2", "main", &sha, &err), CV_OK);
	free(sha);
	/* On the target b2 made: c alone first, then d and e together. */
	check_run_sim(run, dir, "c", "main", 0);
	check_run_sim(run, dir, "d", "main", 1);
	check_run_sim(run, dir, "e", "main", 1);
	check_run_sim(run, dir, "e", "main", 1);
	/* b1 was simulated: not resolved again after the merges, but when
	 * asked. */
	repo_git(dir, "branch", "-f", "b1", "d");
	assert_int_equal(cv_scm_run_resolve(run, "b1", &sha), CV_OK);
	want = repo_run(dir, "git", "rev-parse", "d", (char *)NULL);
	assert_memory_equal(sha, want, 40);
	free(want);
	free(sha);
	check_run_sim(run, dir, "b1", "main", 1);
	cv_scm_run_free(run);
	repo_remove(dir);
}

static void test_merge_not_a_repo(void **state)
{
	char *dir = repo_tmpdir(), *sha = NULL, *err = NULL;

	(void)state;
	assert_int_equal(cv_scm_merge(dir, "a", "main", &sha, &err), CV_EEXEC);
	assert_null(sha);
	assert_non_null(strstr(err, "not a git repository"));
	free(err);
	repo_remove(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simulate_table),
		cmocka_unit_test(test_simulate_leaves_repo_alone),
		cmocka_unit_test(test_conflicts_table),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_merge_not_a_repo),
		cmocka_unit_test(test_run_simulate_table),
		cmocka_unit_test(test_run_merge),
		cmocka_unit_test(test_run_merges_in_a_row),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
