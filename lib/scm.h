/*
 * scm.h - git: merge simulation (domain.md 3.2) and the real merge used by
 * auto-confirm (domain.md 6.4). Every git call goes through cv_proc_run
 * (no shell), with LC_ALL=C so that git's messages parse the same on
 * every host.
 *
 * Refs that start with '-' are refused before git sees them: git would
 * read "--output=..." or "--upload-pack=..." as an option (argument
 * injection), and an intent's source/target come from API clients.
 *
 * Ownership follows cv.h: *_out and *errmsg are the caller's to free.
 */
#ifndef CV_SCM_H
#define CV_SCM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "cv.h"
#include "proc.h"

/* Limit on one git invocation. */
#define CV_SCM_TIMEOUT_MS (120 * 1000)

/* True when ref may be handed to git as a revision: non-empty and not
 * starting with '-'. */
bool cv_scm_ref_ok(const char *ref);

/* CV_OK when both refs pass cv_scm_ref_ok; CV_EINVAL otherwise, with
 * *errmsg = "invalid ref '<ref>'" (new string, caller frees; NULL when
 * out of memory). */
enum cv_err cv_scm_refs_check(const char *source, const char *target,
    char **errmsg);

/* True when ref is a plain name (letters, digits, "/_.+-", no "..") that
 * `git rev-parse a^{commit} b^{commit} ...` answers with exactly one line:
 * such refs can be resolved many in one child. Ranges, "@{...}", ":path"
 * and the like are resolved one at a time. */
bool cv_scm_ref_plain(const char *ref);

/*
 * Top level of the work tree containing repo_dir (NULL: the current
 * directory), from `git rev-parse --show-toplevel`.
 * Returns CV_OK and *top_out; else CV_EEXEC (not a repository, git
 * missing, directory missing) or CV_ETIMEOUT with *errmsg set to git's
 * message (one line, valid UTF-8).
 */
enum cv_err cv_scm_toplevel_dup(const char *repo_dir, char **top_out,
    char **errmsg);

/*
 * Simulates merging source into target (domain.md 3.2) without touching
 * the work tree or index: `git merge-tree --write-tree` then
 * `git diff-tree --name-only -r` of the two tips.
 * now_ts is the Simulation's timestamp (NULL: now).
 * Returns CV_OK and *sim_out = Simulation JSON {mergeable, conflicts,
 * files_changed, timestamp, source, target}. Otherwise *errmsg is set:
 *   CV_ENOTFOUND a ref names no commit: "Unknown ref: <ref>" (D-8);
 *   CV_EINVAL   a ref is empty or starts with '-';
 *   CV_EEXEC    not a repository / git missing (validate BLOCKs with
 *               "Simulation failed: <errmsg>");
 *   CV_ETIMEOUT a git call passed CV_SCM_TIMEOUT_MS;
 *   CV_ENOMEM.
 */
enum cv_err cv_scm_simulate(const char *repo_dir, const char *source,
    const char *target, const char *now_ts, json_t **sim_out, char **errmsg);

/*
 * The conflict list of domain.md 3.2 step 5 from merge-tree's output
 * streams (pure): 5a, every "CONFLICT ...: ... in <path>" in err, in order;
 * if none, 5b, the sorted unique second fields of the lines of out that
 * split on TAB into exactly two fields. Returns a new array, NULL only on
 * allocation failure.
 */
json_t *cv_scm_conflicts_build(const char *out, const char *err);

/*
 * Merges source into target for real (domain.md 6.4) in the top level of
 * repo_dir: `git checkout <target>`, `git merge --no-ff -m "converge: merge
 * <source> into <target>" <source>`, `git rev-parse HEAD`.
 * Returns CV_OK and *sha_out (the merge commit) only when git then says
 * the target contains the source (`git merge-base --is-ancestor`); on
 * any failure *errmsg says which step failed and why (the engine records
 * it as merge_failed, decisions.md D-8). A failed merge is aborted so the
 * work tree is usable for the next one.
 */
enum cv_err cv_scm_merge(const char *repo_dir, const char *source,
    const char *target, char **sha_out, char **errmsg);

/* The commit ref names in repo_dir (`git rev-parse --verify
 * <ref>^{commit}`), as a new hex string in *sha_out. CV_ENOTFOUND when
 * git knows no such commit, CV_EINVAL for an empty ref or one starting
 * with '-', CV_EEXEC/CV_ETIMEOUT when git cannot run. */
enum cv_err cv_scm_resolve_dup(const char *repo_dir, const char *ref,
    char **sha_out);

/* ---- for scmrun.c: the pieces a queue run's cache shares ---------------- */

/* Runs git with argv in dir, stdin fed in[0..in_len) (in NULL: none).
 * CV_OK when git ran to its end whatever its status; else *errmsg says
 * why it could not (git missing, dir missing, timeout). r is always
 * initialised and the caller's to free. */
enum cv_err cv_scm_git(const char *dir, const char *const argv[],
    const char *in, size_t in_len, struct cv_proc_result *r, char **errmsg);

/* The error text for a git call that ran and failed: git's own message,
 * else "<what> exited with status N". NULL on allocation failure. */
char *cv_scm_failure_dup(const char *what, const struct cv_proc_result *r);

/* The non-empty lines of text as a JSON array of strings (valid UTF-8).
 * NULL on allocation failure. */
json_t *cv_scm_lines_build(const char *text, size_t len);

/* A Simulation {mergeable, conflicts, files_changed, timestamp, source,
 * target}; takes both arrays (released on failure too). NULL on
 * allocation failure. */
json_t *cv_scm_simulation_new(bool mergeable, json_t *conflicts_take,
    json_t *files_take, const char *ts, const char *source,
    const char *target);

/* Writes "simulated-" + the first 8 characters of intent_id into buf. */
void cv_scm_simulated_sha(char *buf, size_t size, const char *intent_id);

#endif
