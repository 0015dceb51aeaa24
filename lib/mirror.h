/*
 * mirror.h - the bare mirror of a registered repository (decisions.md
 * D-9) and what the queue does with it: fetch, resolve refs, build the
 * candidate merge commit without a work tree, check it out in a temporary
 * detached worktree, and push it to the remote as a fast-forward.
 *
 * Layout under $CONVERGE_VAR_DIR/repos/: <owner>/<name>.git (the bare
 * mirror, a cache: deleted, it is rebuilt by the next cv_mirror_sync),
 * <owner>/<name>.lock (the flock that makes fetches of one repository
 * one at a time across processes and hosts sharing the directory), and
 * <owner>/<name>.wt/<pid>-<random> (worktrees of checks; those of dead
 * processes are swept by cv_mirror_sweep).
 *
 * Every git call goes through cv_proc_run with an argv. The remote URL is
 * passed on the command line of fetch and push (never stored in the
 * mirror's config); a token (a GitHub App installation token) only ever
 * travels in the environment of the git child, as an http.extraHeader set
 * through GIT_CONFIG_COUNT/KEY/VALUE: never argv, URL, log or config.
 *
 * Ownership follows cv.h: *errmsg and *_out strings are the caller's.
 */
#ifndef CV_MIRROR_H
#define CV_MIRROR_H

#include <jansson.h>
#include <stdbool.h>

#include "cv.h"

#define CV_SHA_LEN 41              /* 40 hex digits and the NUL */

struct cv_mirror {
	char dir[2048];            /* the bare mirror */
	char lock[2048];           /* its lock file */
	char wt_root[2048];        /* where check worktrees go */
	const char *url;           /* borrowed */
	const char *token;         /* borrowed, or NULL */
	int timeout_ms;            /* per git call; 0 = 600 s */
};

/* Fills m for repository name ("owner/name", already validated) under
 * var_dir (NULL: $CONVERGE_VAR_DIR, else "./var"). CV_EINVAL when the
 * paths do not fit. url and token are borrowed for m's life. */
enum cv_err cv_mirror_init(struct cv_mirror *m, const char *var_dir,
    const char *name, const char *url, const char *token);

/* The environment entries that hand token to git as an HTTP
 * Authorization header (Basic, user x-access-token), NULL-terminated,
 * in env[0..4). The strings live in buf (size >= 2 * token length + 128).
 * With token NULL, env[0] = NULL. Exposed for the hygiene test. */
void cv_mirror_token_env(const char *token, const char *env[4], char *buf,
    size_t size);

/* Creates the mirror when missing (or broken), then fetches
 * every branch (refs/heads/) and the pull heads (refs/pull/N/head), under
 * the lock. */
enum cv_err cv_mirror_sync(struct cv_mirror *m, char **errmsg);

/* ref (a branch name, "refs/...", or a sha) to the commit sha on the
 * mirror. CV_ENOTFOUND when git does not know it, CV_EINVAL for a ref
 * starting with '-'. */
enum cv_err cv_mirror_resolve(struct cv_mirror *m, const char *ref,
    char sha[CV_SHA_LEN], char **errmsg);

/* Many refs as cv_mirror_resolve takes them, in one `git rev-parse`:
 * shas[i] is the commit of refs[i], or "" when git did not answer it (git
 * stops at the first ref it cannot resolve; ask those one at a time).
 * Refs that are not plain (cv_scm_ref_plain) are not sent and stay "".
 * CV_EEXEC/CV_ETIMEOUT with *errmsg when git could not run. */
enum cv_err cv_mirror_resolve_many(struct cv_mirror *m,
    const char *const refs[], size_t n, char (*shas)[CV_SHA_LEN],
    char **errmsg);

/*
 * The candidate merge commit of source_sha into target_sha (merge-tree
 * --write-tree, commit-tree; no work tree). *out = {mergeable,
 * conflicts:[paths], files_changed:[paths], target_sha, source_sha,
 * candidate_sha (null when not mergeable)}.
 */
enum cv_err cv_mirror_candidate(struct cv_mirror *m, const char *target_sha,
    const char *source_sha, const char *message, json_t **out,
    char **errmsg);

/* A detached worktree of sha under wt_root; *path_out is its directory.
 * Always pair with cv_mirror_worktree_remove. */
enum cv_err cv_mirror_worktree_add(struct cv_mirror *m, const char *sha,
    char **path_out, char **errmsg);

/* Moves an existing worktree of this process to sha, with nothing left
 * of what ran in it before (untracked and ignored files removed): the
 * same result as a fresh worktree, at the cost of the files that differ. */
enum cv_err cv_mirror_worktree_reset(struct cv_mirror *m, const char *path,
    const char *sha, char **errmsg);

/* Removes the worktree (and its registration); best effort, no error. */
void cv_mirror_worktree_remove(struct cv_mirror *m, const char *path);

/* Removes the worktrees left by processes that no longer run (a crash or
 * a kill during checks) and prunes their registrations. */
void cv_mirror_sweep(struct cv_mirror *m);

/* true in *yes when commit a is an ancestor of (or equal to) commit b. */
enum cv_err cv_mirror_is_ancestor(struct cv_mirror *m, const char *a,
    const char *b, bool *yes, char **errmsg);

/* Pushes sha to refs/heads/<branch> of the URL, never forced. CV_OK and
 * *refused false: the remote's branch is sha now. CV_OK and *refused true:
 * the remote refused a non-fast-forward (the target moved). */
enum cv_err cv_mirror_push(struct cv_mirror *m, const char *sha,
    const char *branch, bool *refused, char **errmsg);

#endif
