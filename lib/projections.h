/*
 * projections.h - the read models of domain.md section 7 (health, change
 * health, health prediction, compliance, learning, issue predictions,
 * trends, integration metrics, queue state, agent performance) and the
 * record assembly of 9.3 (risk review) and 9.4 (decision export).
 *
 * Every function here is pure: it takes rows the caller already read from
 * the event log and the intents view, plus `now`, and returns a new JSON
 * value. No store, no clock, no event is appended: where the spec says a
 * projection appends an event (health.snapshot, health.change_snapshot,
 * health.prediction), the caller appends the returned object as payload.
 *
 * Conventions for every input below:
 *   - "events" are JSON arrays of Event objects (domain.md 1.5) as
 *     cv_event_query() returns them: newest first, payload decoded. A NULL
 *     array is treated as empty.
 *   - "intents" are JSON arrays of Intent objects in view order, as
 *     cv_intent_list() returns them.
 *   - The tenant filter (section 0: NULL or "" = all tenants) is the
 *     caller's job: pass it as tenant_id to every query. The functions only
 *     echo tenant_id in their output ("" echoes as null).
 *   - Event type and row limits are the caller's job too. Time windows are
 *     applied by the query (`since`), and re-applied here where the function
 *     is given the window, so a wider set is harmless there.
 *   - now_us is microseconds since the epoch (cv_now_us()); output
 *     `timestamp` is its ts form.
 *
 * Ownership follows cv.h: *_build returns a new reference (or a malloc'd
 * string) the caller owns; NULL means an allocation failed. Every pointer
 * parameter is borrowed.
 */
#ifndef CV_PROJECTIONS_H
#define CV_PROJECTIONS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* The classifications of domain.md 4.12 (cv_health_colour,
 * cv_learning_level) live in risk.h with the other levels. */
#include "risk.h"

/* ---- 7.5 learning ---------------------------------------------------------- */

/* Health learning {summary, level, lessons, next_actions}. score is the
 * rounded repo health score; mergeable_rate and avg_entropy unrounded;
 * rejected the rejected count of the window. */
json_t *cv_learning_repo_build(double score, double mergeable_rate,
    double avg_entropy, long long rejected);

/* Change learning {summary, level, lessons, next_actions}; score is the
 * rounded change health score. */
json_t *cv_learning_change_build(double score, double risk, double entropy,
    bool mergeable);

/* Review learning {lessons, summary} of 9.3 from the risk payload's
 * risk_score and the review's diagnostics array (NULL = none). */
json_t *cv_learning_review_build(double risk_score,
    const json_t *diagnostics);

/* ---- 7.1 repo health ------------------------------------------------------- */

/*
 * What the caller queries, with since = ts(now - window_hours) and the
 * requested tenant:
 *   sims     simulation.completed, since, limit 10000
 *   risks    risk.evaluated,       since, limit 10000
 *   merged   intent.merged,        since, limit 10000
 *   rejected intent.rejected,      since, limit 10000
 *   intents  cv_intent_list(store, NULL, tenant, 10000) (any status; the
 *            function counts READY/VALIDATED/QUEUED)
 * Events older than since are ignored here as well.
 */
struct cv_repo_health_in {
	const json_t *sims;
	const json_t *risks;
	const json_t *merged;
	const json_t *rejected;
	const json_t *intents;
	const char *tenant_id;
	int window_hours;          /* <= 0 means 24 */
	int64_t now_us;
	long long active_count;    /* used when intents is NULL (the count
	                            * came from cv_queue_active_count) */
};

/* HealthSnapshot (domain.md 1.11, 7.1) with its learning object. The
 * caller appends it as the payload of `health.snapshot` (tenant_id =
 * requested tenant) on every call (B18). */
json_t *cv_health_repo_build(const struct cv_repo_health_in *in);

/* ---- 7.2 change health ----------------------------------------------------- */

/*
 * risk_ev, sim_ev, policy_ev: the latest risk.evaluated,
 * simulation.completed and policy.evaluated events of intent_id
 * (cv_event_latest; NOT tenant-filtered), each NULL when absent.
 * Returns {intent_id, health_score, risk_score, entropy_score, mergeable,
 * policy_verdict, status, timestamp, tenant_id, learning}; the caller
 * appends it as payload of `health.change_snapshot` (intent_id, tenant).
 */
json_t *cv_health_change_build(const char *intent_id, const json_t *risk_ev,
    const json_t *sim_ev, const json_t *policy_ev, const char *tenant_id,
    int64_t now_us);

/* ---- 7.3 health prediction ------------------------------------------------- */

/*
 * snapshots: health.snapshot events, tenant, since = ts(now -
 * 2*horizon_days days), limit 500, newest first (as queried). They are put
 * in ascending time order here (ties keep append order).
 */
struct cv_health_predict_in {
	const json_t *snapshots;
	const char *tenant_id;
	int horizon_days;          /* <= 0 means 7 */
	int min_snapshots;         /* <= 0 means 3 */
	int64_t now_us;
};

/* The prediction of 7.3, or the "unknown" object when there are fewer than
 * min_snapshots snapshots. *append (may be NULL) tells whether the caller
 * must append the result as payload of `health.prediction` (only when there
 * was enough data). */
json_t *cv_health_predict_build(const struct cv_health_predict_in *in,
    bool *append);

/* ---- 7.4 compliance -------------------------------------------------------- */

/*
 * Effective thresholds {min_mergeable_rate, max_conflict_rate,
 * max_retries_total, max_queue_tracked}: the defaults (0.8, 0.2, 200,
 * 1000); when tenant_id is non-empty and stored is a non-empty object,
 * overlaid with stored (arg then ignored); else overlaid with arg (may be
 * NULL). Overlay reads the canonical key, or its alias when the canonical
 * key is absent (http-api 2.5 DEVIATION): mergeable_rate,
 * conflict_rate, max_retries. Non-numeric values are ignored.
 */
json_t *cv_compliance_thresholds_build(const json_t *arg,
    const json_t *stored, const char *tenant_id);

/*
 * What the caller queries (all time, requested tenant):
 *   sims      simulation.completed, limit 10000
 *   resets    queue.reset,          limit 10000
 *   requeued  intent.requeued,      limit 10000
 *   intents   cv_intent_list(store, NULL, tenant, 10000)
 *   stored    cv_compliance_thresholds_get(store, tenant) (NULL if none or
 *             no tenant)
 *   thresholds the caller's explicit thresholds object, or NULL
 */
struct cv_compliance_in {
	const json_t *sims;
	const json_t *resets;
	const json_t *requeued;
	const json_t *intents;
	const json_t *thresholds;
	const json_t *stored;
	const char *tenant_id;
	int64_t now_us;
};

/* ComplianceReport {mergeable_rate, conflict_rate, retries_total,
 * queue_tracked, checks, passed, alerts, timestamp, tenant_id}. No event. */
json_t *cv_compliance_report_build(const struct cv_compliance_in *in);

/* ---- 7.6 issue predictions ------------------------------------------------- */

/*
 * What the caller queries (requested tenant, limit 10000 each):
 *   sims_24h, risks_24h   simulation.completed / risk.evaluated since now-24h
 *   sims_48h, risks_48h   the same types since now-48h (the "prev" window is
 *                         the part with timestamp < now-24h)
 *   requeued_24h, rejected_24h, merged_24h   intent.requeued /
 *                         intent.rejected / intent.merged since now-24h
 * Windows are re-applied here. Returns the array of Signal
 * {signal, severity, message, recommendation} in the order of 7.6. No event.
 */
struct cv_predictions_in {
	const json_t *sims_24h;
	const json_t *sims_48h;
	const json_t *risks_24h;
	const json_t *risks_48h;
	const json_t *requeued_24h;
	const json_t *rejected_24h;
	const json_t *merged_24h;
	int64_t now_us;
};

json_t *cv_predictions_build(const struct cv_predictions_in *in);

/* ---- 7.7 trends and integration metrics ------------------------------------ */

/* risk_trend rows {timestamp, intent_id, risk_score, damage_score,
 * entropy_score} (absent scores 0.0) from risk.evaluated events (tenant,
 * since now-days, limit 500, newest first); order kept. */
json_t *cv_risk_trend_build(const json_t *risks);

/* entropy_trend rows {timestamp, intent_id, entropy_score}; same query. */
json_t *cv_entropy_trend_build(const json_t *risks);

/* health_trend / change_health_trend: the payloads of health.snapshot
 * (limit 200) or health.change_snapshot (limit 500) events (tenant, since
 * now-days, newest first), order kept. */
json_t *cv_payload_trend_build(const json_t *events);

/*
 * All time, requested tenant, limit 10000 each: sims =
 * simulation.completed, merged = intent.merged, rejected = intent.rejected,
 * blocked = intent.blocked.
 */
struct cv_integration_in {
	const json_t *sims;
	const json_t *merged;
	const json_t *rejected;
	const json_t *blocked;
	const char *tenant_id;
	int64_t now_us;
};

/* IntegrationMetrics {total_simulations, mergeable, mergeable_rate,
 * total_merged, total_rejected, total_blocked, decision_distribution,
 * tenant_id, timestamp}. */
json_t *cv_integration_metrics_build(const struct cv_integration_in *in);

/* ---- 7.8 queue and agents -------------------------------------------------- */

/* QueueState {pending, pending_count, total, by_status} from
 * cv_intent_list(store, NULL, tenant, 10000); pending holds at most
 * CV_QUEUE_PENDING_CAP (queuestate.h) entries, pending_count all of them.
 * cv_queue_state_load computes the same in SQL. */
json_t *cv_queue_state_build(const json_t *intents);

/* Queue summary {total, by_status, pending_count}; same input. */
json_t *cv_queue_summary_build(const json_t *intents);

/* Agent performance of 7.8 from the events with agent_id = agent_id and
 * the requested tenant (limit 10000, newest first). */
json_t *cv_agent_performance_build(const char *agent_id,
    const json_t *events, const char *tenant_id);

/* ---- dashboard (http-api 5.7) ---------------------------------------------- */

/* {compliance_passed, alerts, total}: each compliance alert plus
 * "source":"compliance", then each prediction signal plus
 * "source":"prediction". */
json_t *cv_dashboard_alerts_build(const json_t *compliance,
    const json_t *predictions);

/* Dashboard {health, queue, compliance: {passed, alerts, checks,
 * mergeable_rate, conflict_rate}, risk_trend (first 50 rows), predictions,
 * metrics}. Every argument is borrowed (copied by reference). */
json_t *cv_dashboard_build(const json_t *health, const json_t *queue,
    const json_t *compliance, const json_t *risk_trend,
    const json_t *predictions, const json_t *metrics);

/* ---- 9.3 risk review ------------------------------------------------------- */

/*
 * intent      cv_intent_get(store, intent_id) (NULL = unknown intent)
 * risk_ev, sim_ev, policy_ev   latest risk.evaluated / simulation.completed
 *             / policy.evaluated of the intent (not tenant-filtered), NULL
 *             when absent
 * history     events with intent_id = intent_id, any type, limit 50,
 *             newest first
 * compliance  cv_compliance_report_build() for the requested tenant
 * diagnostics build_diagnostics (domain.md 4.10) over
 *             cv_review_riskeval_build(risk payload) and
 *             cv_review_simulation_build(sim payload); only used when
 *             both risk_ev and sim_ev exist (else [] per 9.3)
 */
struct cv_risk_review_in {
	const char *intent_id;
	const json_t *intent;
	const json_t *risk_ev;
	const json_t *sim_ev;
	const json_t *policy_ev;
	const json_t *history;
	const json_t *compliance;
	const json_t *diagnostics;
	const char *tenant_id;
	int64_t now_us;
};

/* The review of 9.3, or {error: "Intent <id> not found"}. No event. */
json_t *cv_risk_review_build(const struct cv_risk_review_in *in);

/* RiskEval JSON (domain.md 1.9 key order) rebuilt from a risk.evaluated
 * payload with the B14 rules: signals and bombs restored, a missing
 * containment_score is 1.0, other absent scores 0.0. */
json_t *cv_review_riskeval_build(const json_t *risk_payload);

/* Simulation JSON {mergeable (default true), conflicts, files_changed,
 * timestamp, source, target} rebuilt from a simulation.completed payload. */
json_t *cv_review_simulation_build(const json_t *sim_payload);

/* ---- 9.4 decision export --------------------------------------------------- */

/* Number of export fields: 25 over HTTP, 28 with graph_* (CLI). */
#define CV_EXPORT_FIELDS_HTTP 25
#define CV_EXPORT_FIELDS_ALL 28

/* Field names in export order (CV_EXPORT_FIELDS_ALL entries). */
extern const char *const cv_export_fields[CV_EXPORT_FIELDS_ALL];

/*
 * One export record for intent (view order, limit 100000, tenant) joined
 * with the latest simulation.completed / risk.evaluated / policy.evaluated
 * events of that intent (NULL when absent). Absent values are null, counts
 * 0; with_graph adds graph_nodes, graph_edges, graph_density (CLI form).
 */
json_t *cv_export_record_build(const json_t *intent, const json_t *sim_ev,
    const json_t *risk_ev, const json_t *policy_ev, bool with_graph);

/* CSV header line of the first nfields export fields, no line terminator
 * (the caller writes CRLF). */
char *cv_export_csv_header_build(int nfields);

/* CSV line of a record over the first nfields export fields: RFC-4180
 * quoting, null as an empty cell, booleans True/False, bomb_types joined
 * with ",", numbers as num(); no line terminator. */
char *cv_export_csv_line_build(const json_t *record, int nfields);

#endif
