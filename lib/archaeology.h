/*
 * archaeology.h - git history analysis (domain.md 9.1), the coupling data
 * provider of risk scoring (4.11) and the `converge archaeology` command
 * (operations.md 7.2).
 *
 * The computation is pure and works on commit entries, a JSON array of
 * {sha, author, date, subject, files}; only the *_load functions and
 * cv_arch_command_build run git or touch files.
 * Ownership follows cv.h: every json_t returned is the caller's.
 */
#ifndef CV_ARCHAEOLOGY_H
#define CV_ARCHAEOLOGY_H

#include <jansson.h>

#include "cv.h"

#define CV_ARCH_SEP "---CONVERGE_ENTRY---"
#define CV_ARCH_MAX_COMMITS 400
#define CV_ARCH_TOP 20
#define CV_ARCH_SNAPSHOT_PATH ".converge/archaeology_snapshot.json"
#define CV_ARCH_RISK_COMMITS 200     /* 4.11: history looked at for risk */
#define CV_ARCH_RISK_TOP 50          /* 4.11: pairs kept ... */
#define CV_ARCH_RISK_MIN_CO 2        /* ... then only those changed together twice */

/*
 * Entries from the text of `git log --format=SEP%n%H%n%an%n%aI%n%s
 * --name-only` (pure): blocks split on CV_ARCH_SEP, blank lines dropped,
 * lines trimmed, blocks under 4 lines skipped, files starting with "Merge"
 * dropped. text must be valid UTF-8. NULL only on allocation failure.
 */
json_t *cv_arch_log_parse_build(const char *text);

/*
 * The last max_commits entries of the repository at repo_dir (NULL: the
 * current directory), newest first. Any git failure gives an empty array;
 * NULL only on allocation failure.
 */
json_t *cv_arch_log_load(const char *repo_dir, int max_commits);

/*
 * Co-change pairs (pure): for each entry, every pair a < b of its distinct
 * files counts once; the top `top` pairs by count (ties: first seen),
 * then only those with co_changes >= min_co, as {file_a, file_b,
 * co_changes}. NULL only on allocation failure.
 */
json_t *cv_arch_coupling_build(const json_t *entries, int top, long long min_co);

/* Coupling for risk (4.11, pure): cv_arch_coupling_build(entries, 50, 2). */
json_t *cv_arch_risk_coupling_build(const json_t *entries);

/*
 * The archaeology report of entries (pure): {commits_analyzed, hotspots,
 * coupling, authors, bus_factor, timestamp = ts}; with no entries
 * {error: "No git history available", commits_analyzed: 0}.
 * NULL only on allocation failure.
 */
json_t *cv_arch_report_build(const json_t *entries, int top, const char *ts);

/*
 * Coupling data for validation (4.11): the `coupling` array of
 * work_dir/.converge/archaeology_snapshot.json (work_dir NULL: the current
 * directory) when that file is a JSON object holding such an array; else
 * computed from the last 200 commits of repo_dir; else (no history) [].
 * Callers that need deterministic numbers pass their own array instead.
 * NULL only on allocation failure.
 */
json_t *cv_arch_coupling_load(const char *work_dir, const char *repo_dir);

/*
 * Writes report as indented JSON to path, creating missing parent
 * directories; the file is replaced atomically (rename). Returns CV_OK,
 * or CV_EINVAL/CV_ENOMEM with *errmsg set (caller frees).
 */
enum cv_err cv_arch_snapshot_write(const json_t *report, const char *path,
    char **errmsg);

/*
 * `converge archaeology [--max-commits N] [--top K] [--write-snapshot P]`:
 * the report of the last max_commits commits of repo_dir, written to
 * snapshot_path when that is not NULL and there was history. ts NULL:
 * now. A failed snapshot write gives {error: "..."} instead.
 * NULL only on allocation failure.
 */
json_t *cv_arch_command_build(const char *repo_dir, int max_commits, int top,
    const char *snapshot_path, const char *ts);

#endif
