/*
 * scmrun.h - one queue run's view of a local repository: the simulations
 * and merges of scm.h (domain.md 3.2, 6.4) with fewer git children, for
 * `converge queue run` over many intents (docs/performance.md "Child
 * processes"). What the run learns once, it keeps:
 *
 *  - the top level and git directory: one `git rev-parse` per run;
 *  - the commits refs name: the refs the run expects (its intents'
 *    sources and targets) are resolved together in one `git rev-parse`,
 *    and forgotten at every merge (a merge moves its target and HEAD;
 *    other refs may name them). A run therefore sees each ref as it was
 *    when first resolved after the last merge: a snapshot, not a live
 *    view, and the shas recorded with each simulation say which;
 *  - the files two commits differ in, keyed by their shas (so never
 *    stale): one `git diff-tree --stdin` lists them for the target
 *    against every expected source at once.
 *
 * A merge merges the commit its simulation resolved (the one tested, not
 * whatever the source names by then), checks out the target only when
 * HEAD is on another branch, runs git with automatic maintenance off,
 * and counts only when the target contains the source (D-8): proven by
 * the one `git rev-parse` that reads the new HEAD (HEAD is the target's
 * tip and its second parent is the source), else asked of
 * `git merge-base --is-ancestor` as before.
 *
 * Not thread-safe; one run, one thread. Ownership follows cv.h.
 */
#ifndef CV_SCMRUN_H
#define CV_SCMRUN_H

#include <jansson.h>

#include "cv.h"

struct cv_scm_run;

/* A run over the repository containing repo_dir (NULL: "."); nothing is
 * asked of git yet. NULL on allocation failure. */
struct cv_scm_run *cv_scm_run_new(const char *repo_dir);

void cv_scm_run_free(struct cv_scm_run *s);

/* The run will simulate source into target: both refs are resolved with
 * the next batch, and source is diffed with the others against target.
 * Invalid refs (cv_scm_ref_ok) are ignored. */
void cv_scm_run_expect(struct cv_scm_run *s, const char *source,
    const char *target);

/* As cv_scm_resolve_dup, from the run's cache. */
enum cv_err cv_scm_run_resolve(struct cv_scm_run *s, const char *ref,
    char **sha_out);

/* As cv_scm_simulate; the Simulation also carries source_sha and
 * target_sha, the commits simulated. */
enum cv_err cv_scm_run_simulate(struct cv_scm_run *s, const char *source,
    const char *target, const char *now_ts, json_t **sim_out,
    char **errmsg);

/* As cv_scm_merge (same errors, same D-8 guarantee), merging the commit
 * the run resolved for source. */
enum cv_err cv_scm_run_merge(struct cv_scm_run *s, const char *source,
    const char *target, char **sha_out, char **errmsg);

#endif
