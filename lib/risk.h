/*
 * risk.h - risk scoring of a merge intent (domain.md section 4).
 *
 * Pure: no I/O, no store. The caller fetches the intent, the simulation
 * and the coupling data (4.11) and passes them in as JSON shaped as in the
 * spec. Ownership follows cv.h: _evaluate and _build return a new
 * reference the caller json_decref()s; every parameter is borrowed.
 */
#ifndef CV_RISK_H
#define CV_RISK_H

#include <jansson.h>

/* Files of a simulation that enter the risk graph (the first ones, in
 * files_changed order); all of them still count as F. Keeps one
 * evaluation's cost bounded however large a branch is. */
#define CV_RISK_GRAPH_FILES_MAX 256

/*
 * Scores intent against simulation (4.1-4.9) and returns the RiskEval
 * JSON of 1.9 in its key order.
 *   intent:     Intent JSON (id, source, target, risk_level, dependencies,
 *               technical.scope_hint, tenant_id are read);
 *   simulation: {mergeable, conflicts[], files_changed[]};
 *   coupling:   array of {file_a, file_b, co_changes}, or NULL for none;
 *   now_ts:     timestamp to stamp, or NULL for now.
 * Returns NULL on allocation failure.
 */
json_t *cv_risk_evaluate(const json_t *intent, const json_t *simulation,
    const json_t *coupling, const char *now_ts);

/*
 * Diagnostics of 4.10 for a RiskEval JSON and a simulation: an array of
 * {severity, code, explanation, recommendation}, stable-sorted by
 * severity rank. Missing numbers count 0, except a missing
 * containment_score which counts 1.0 and a missing mergeable which counts
 * true (9.3, B14), so a RiskEval rebuilt from a stored payload behaves as
 * the original. Returns NULL on allocation failure.
 */
json_t *cv_risk_diagnostics_build(const json_t *risk,
    const json_t *simulation);

/* Blast severity of a damage score (4.12): low, medium, high, critical.
 * Returns a static string. */
const char *cv_blast_severity(double damage_score);

/* Sort rank of a severity: critical 0, high 1, medium 2, low 3; unknown
 * or NULL 3. */
int cv_severity_rank(const char *sev);

/* Health colour of a score (4.12): green, yellow or red (static). */
const char *cv_health_colour(double score);

/* Learning level of a score (4.12): strong, acceptable or fragile. */
const char *cv_learning_level(double score);

#endif
