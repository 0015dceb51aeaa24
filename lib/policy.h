/*
 * policy.h - policy configuration, the three gates, the risk gate and
 * profile calibration (domain.md 1.8, 1.12, 5.1-5.5, 9.2).
 *
 * Ownership: the cv.h rule holds, and in addition every function below
 * that returns json_t * or char * hands the caller a new reference / a
 * malloc'd string, except cv_policy_profile(), which lends a part of the
 * config it was given.
 *
 * Everything here is pure except cv_policy_load*() (reads one file) and
 * cv_policy_write_profiles() (writes one file).
 */
#ifndef CV_POLICY_H
#define CV_POLICY_H

#include <jansson.h>

/*
 * The built-in PolicyConfig (5.1, 1.12):
 *   {"profiles": {"low","medium","high","critical": {entropy_budget,
 *     containment_min, blast_limit, checks}},
 *    "queue": {max_retries, default_target},
 *    "risk": {max_risk_score, max_damage_score, max_propagation_score,
 *     mode, enforce_ratio}}
 * Caller owns the result; NULL only when allocation fails.
 */
json_t *cv_policy_defaults(void);

/*
 * Merges a parsed policy file over a config (5.2): each profile named in
 * doc.profiles replaces the whole profile of that name (profiles the
 * defaults do not know are added); doc.queue and doc.risk are merged key
 * by key. Other top-level keys, and sections of the wrong JSON type, are
 * ignored; a doc that is not an object leaves the config unchanged.
 * Neither argument is modified. Caller owns the result; NULL on ENOMEM.
 */
json_t *cv_policy_merge(const json_t *defaults, const json_t *doc);

/*
 * Loads the configuration (5.2). Candidates, first existing wins and only
 * it is read: explicit_path (if non-NULL), <dir>/.converge/policy.json,
 * <dir>/policy.json, <dir>/policy.default.json; dir NULL = the working
 * directory. No file -> the defaults.
 *
 * A file that exists but is not a JSON object is an error (the spec reads
 * only the first existing file, so falling back to a later candidate or
 * to the defaults would silently run with a policy nobody wrote): returns
 * NULL and, when errmsg is non-NULL, sets *errmsg to a malloc'd text
 * naming the file (caller frees). Also NULL, with *errmsg NULL, when
 * allocation fails. Caller owns the returned config.
 */
json_t *cv_policy_load_path(const char *explicit_path, const char *dir,
    char **errmsg);

/* cv_policy_load_path(NULL, dir, errmsg). */
json_t *cv_policy_load(const char *dir, char **errmsg);

/*
 * profile_for(level) (5.1): config.profiles[level], or the medium profile
 * when the level is unknown or NULL. Borrowed from config; NULL when the
 * config has neither (callers then use per-key defaults).
 */
json_t *cv_policy_profile(const json_t *config, const char *risk_level);

/*
 * Required checks for an intent of this level (3.3): the profile's
 * `checks` array, or ["lint"] when the profile has none. Caller owns the
 * returned array (a copy); NULL on ENOMEM.
 */
json_t *cv_policy_required_checks(const json_t *config,
    const char *risk_level);

/*
 * The three gates (5.3) for risk_level. checks_passed is an array of
 * check names (NULL = none). config NULL = the built-in defaults.
 * Returns the PolicyEvaluation (1.8):
 *   {verdict, gates[verification, containment, entropy], risk_level,
 *    profile_used}
 * where profile_used is the requested string and risk_level the requested
 * level when it is one of the four, else "medium".
 * Caller owns the result; NULL on ENOMEM.
 */
json_t *cv_policy_evaluate(const json_t *config, const char *risk_level,
    const json_t *checks_passed, double entropy_delta, double containment);

/*
 * rollout_bucket(s) (5.4): the first 32 bits of SHA-256(s), big-endian,
 * divided by 4294967295.0 (so the bucket can reach 1.0, B20). Unrounded.
 * Empty or NULL s gives 0.0.
 */
double cv_rollout_bucket(const char *intent_id);

/*
 * The risk gate (5.4). risk_section is the config's "risk" object (or a
 * tenant risk policy); NULL or missing keys fall back per key to
 * 65.0 / 60.0 / 55.0, mode "shadow", enforce_ratio 1.0. intent_id NULL or
 * "" gives bucket 0.0. Returns
 *   {would_block, enforced, mode, enforce_ratio, rollout_bucket (round4),
 *    in_enforcement_group, breaches[{metric, value, limit}]}.
 * Caller owns the result; NULL on ENOMEM.
 */
json_t *cv_risk_gate_evaluate(const json_t *risk_section, double risk_score,
    double damage_score, double propagation_score, const char *intent_id);

/*
 * The gate report (5.4) over policy_events, the newest <= 1000
 * policy.evaluated events of the tenant, newest first, as the caller
 * queried them (NULL = none). Returns
 *   {total_evaluations, total_blocked (payload.verdict == "BLOCK"),
 *    block_rate (round3 of blocked / max(total, 1)),
 *    recent_blocks (the first 20 blocked events, as given)}.
 * Caller owns the result; NULL on ENOMEM.
 */
json_t *cv_risk_gate_report_build(const json_t *policy_events);

/* How many policy.evaluated events the gate report reads. */
#define CV_GATE_REPORT_EVENTS 1000

/*
 * calibrate_profiles (5.5): a copy of base_profiles (a "profiles" object)
 * with the entropy_budget of low/medium/high/critical recomputed from the
 * entropy_score percentiles of history. history is an array whose
 * elements are risk.evaluated payloads (RiskEval JSON) or whole
 * risk.evaluated events (their "payload" is used); entropy_score absent
 * or not a number counts as 0. Empty or NULL history returns an unchanged
 * copy; a profile missing from base stays missing.
 * Caller owns the result; NULL on ENOMEM.
 */
json_t *cv_policy_calibrate(const json_t *base_profiles,
    const json_t *history);

/*
 * The calibration run's result (9.2) without its I/O:
 *   {calibrated_profiles, data_points, timestamp, output_path}
 * The caller must pass as history the payloads of the newest 10000
 * risk.evaluated events of all tenants (no tenant filter), as base the
 * loaded configuration (cv_policy_load) or NULL for the defaults, the
 * current ts as now_ts, and output_path NULL for the default
 * ".converge/calibrated_profiles.json". The caller then writes
 * calibrated_profiles (cv_policy_write_profiles) and appends
 * calibration.completed with this result as payload and evidence
 * {data_points}. Caller owns the result; NULL on ENOMEM.
 */
json_t *cv_calibration_build(const json_t *config, const json_t *history,
    const char *now_ts, const char *output_path);

#define CV_CALIBRATION_DEFAULT_PATH ".converge/calibrated_profiles.json"

/*
 * Writes profiles as JSON to path, creating missing parent directories.
 * Returns 0, or -1 with errno set.
 */
int cv_policy_write_profiles(const char *path, const json_t *profiles);

/*
 * list(xs) of domain.md section 0: "['lint', 'unit_tests']", "[]" when
 * empty or NULL; strings quoted the way Python's repr() quotes them,
 * other values as compact JSON. Caller frees; NULL on ENOMEM.
 */
char *cv_list_fmt(const json_t *names);

#endif
