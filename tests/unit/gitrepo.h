/*
 * gitrepo.h - throw-away git repositories for the tests of modules that
 * run git (scm, checks, archaeology). Each repository lives in a mkdtemp
 * directory under /tmp and is removed by repo_remove. Git runs through
 * cv_proc_run with a fixed identity and no user or system configuration.
 * Included by one test file each, so everything here is static.
 */
#ifndef CV_TEST_GITREPO_H
#define CV_TEST_GITREPO_H

#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc.h"

static void repo_env(void)
{
	setenv("GIT_AUTHOR_NAME", "Converge Test", 1);
	setenv("GIT_AUTHOR_EMAIL", "test@converge.invalid", 1);
	setenv("GIT_COMMITTER_NAME", "Converge Test", 1);
	setenv("GIT_COMMITTER_EMAIL", "test@converge.invalid", 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
}

/* Runs a command (NULL-terminated varargs) in dir; aborts the test unless
 * it exits 0. Returns its stdout (caller frees). */
static char *repo_run(const char *dir, const char *arg0, ...)
{
	const char *argv[32];
	struct cv_proc_opts o = { .cwd = dir, .timeout_ms = 30000 };
	struct cv_proc_result r;
	va_list ap;
	size_t n = 0;
	char *out;

	argv[n++] = arg0;
	va_start(ap, arg0);
	while (n < 31 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	if (cv_proc_run(argv, &o, &r) != CV_OK || r.exit_code != 0) {
		fprintf(stderr, "repo_run %s %s failed: %s%s\n", arg0, argv[1],
		    r.err ? r.err : "", r.error ? r.error : "");
		abort();
	}
	out = r.out;
	r.out = NULL;
	cv_proc_result_free(&r);
	return out;
}

#define repo_git(dir, ...) free(repo_run((dir), "git", __VA_ARGS__, (char *)NULL))

/* Writes content to dir/rel, creating parent directories. */
static void repo_write(const char *dir, const char *rel, const char *content)
{
	char path[4096], *slash;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	for (slash = strchr(path + strlen(dir) + 1, '/'); slash != NULL;
	    slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0755);
		*slash = '/';
	}
	if ((f = fopen(path, "w")) == NULL)
		abort();
	fputs(content, f);
	fclose(f);
}

static void repo_commit(const char *dir, const char *msg)
{
	repo_git(dir, "add", "-A");
	repo_git(dir, "commit", "-q", "-m", msg);
}

/* A branch off main with one commit writing content to rel; main is
 * checked out again.  inline: not every includer makes branches. */
static inline void repo_branch(const char *dir, const char *branch,
    const char *rel, const char *content, const char *msg)
{
	repo_git(dir, "checkout", "-q", "-b", branch, "main");
	repo_write(dir, rel, content);
	repo_commit(dir, msg);
	repo_git(dir, "checkout", "-q", "main");
}

/* A new empty directory under /tmp (caller frees the name). */
static char *repo_tmpdir(void)
{
	char *dir = strdup("/tmp/cv-test-XXXXXX");

	if (dir == NULL || mkdtemp(dir) == NULL)
		abort();
	return dir;
}

/* A new repository with branch main and no commits. */
static char *repo_new(void)
{
	char *dir = repo_tmpdir();

	repo_git(dir, "init", "-q", "-b", "main");
	return dir;
}

static int repo_rm_one(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* Removes dir and everything below it, then frees the name. */
static void repo_remove(char *dir)
{
	if (dir != NULL && strncmp(dir, "/tmp/cv-test-", 13) == 0)
		nftw(dir, repo_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

#endif
