/*
 * insight.h - the projections of domain.md section 7 and the review and
 * export of 9.3/9.4 run against the store: each call makes the queries that
 * projections.h documents, calls the pure builder, and appends the event
 * the spec asks for (health.snapshot, health.change_snapshot,
 * health.prediction).
 *
 * Every function returns CV_OK and a new reference in *out (the caller
 * owns it), or an error code with *out NULL: CV_ESTORE when a query or an
 * append failed, CV_ENOMEM when building the result failed. tenant_id NULL
 * or "" means all tenants. `now` is the wall clock.
 */
#ifndef CV_INSIGHT_H
#define CV_INSIGHT_H

#include <jansson.h>
#include <stdbool.h>

#include "cv.h"
#include "store.h"

/* 7.1 HealthSnapshot; appends `health.snapshot` (B18: on every call).
 * window_hours <= 0 means 24. */
enum cv_err cv_insight_repo_health(struct cv_store *s, const char *tenant_id,
    int window_hours, json_t **out);

/* 7.2 change health; appends `health.change_snapshot`. */
enum cv_err cv_insight_change_health(struct cv_store *s,
    const char *intent_id, const char *tenant_id, json_t **out);

/* 7.3 prediction; appends `health.prediction` only when there were enough
 * snapshots. horizon_days <= 0 → 7, min_snapshots <= 0 → 3. */
enum cv_err cv_insight_health_predict(struct cv_store *s,
    const char *tenant_id, int horizon_days, int min_snapshots,
    json_t **out);

/* 7.4 ComplianceReport; thresholds (may be NULL) as in
 * cv_compliance_thresholds_build. No event. */
enum cv_err cv_insight_compliance(struct cv_store *s, const char *tenant_id,
    const json_t *thresholds, json_t **out);

/* 5.4 gate report over the newest 1000 policy.evaluated events of the
 * tenant (cv_risk_gate_report_build). No event. */
enum cv_err cv_insight_risk_gate_report(struct cv_store *s,
    const char *tenant_id, json_t **out);

/* 7.6 prediction signals. No event. */
enum cv_err cv_insight_predictions(struct cv_store *s, const char *tenant_id,
    json_t **out);

/* 7.7 trends, newest first. days <= 0 → 30; limit <= 0 → the spec's
 * (500 for risk/entropy/change, 200 for health). */
enum cv_err cv_insight_risk_trend(struct cv_store *s, const char *tenant_id,
    int days, int limit, json_t **out);
enum cv_err cv_insight_entropy_trend(struct cv_store *s,
    const char *tenant_id, int days, int limit, json_t **out);
enum cv_err cv_insight_health_trend(struct cv_store *s,
    const char *tenant_id, int days, int limit, json_t **out);
enum cv_err cv_insight_change_health_trend(struct cv_store *s,
    const char *tenant_id, int days, int limit, json_t **out);

/* 7.7 IntegrationMetrics. */
enum cv_err cv_insight_integration_metrics(struct cv_store *s,
    const char *tenant_id, json_t **out);

/* 7.8 QueueState / agent performance. */
enum cv_err cv_insight_queue_state(struct cv_store *s, const char *tenant_id,
    json_t **out);
enum cv_err cv_insight_agent_performance(struct cv_store *s,
    const char *agent_id, const char *tenant_id, json_t **out);

/* http-api 5.7 Dashboard (appends `health.snapshot` through the repo
 * health) and dashboard alerts. risk_trend_days <= 0 → 30. */
enum cv_err cv_insight_dashboard(struct cv_store *s, const char *tenant_id,
    int risk_trend_days, json_t **out);
enum cv_err cv_insight_dashboard_alerts(struct cv_store *s,
    const char *tenant_id, json_t **out);

/* build_diagnostics of domain.md 4.10 over the Intent, the RiskEval JSON
 * and the Simulation JSON (all borrowed); returns a new array. Supplied by
 * the risk module. */
typedef json_t *(*cv_diagnostics_fn)(const json_t *intent,
    const json_t *riskeval, const json_t *simulation);

/* 9.3 risk review ({error} object for an unknown intent, still CV_OK).
 * diagnose NULL gives diagnostics []. No event. */
enum cv_err cv_insight_risk_review(struct cv_store *s, const char *intent_id,
    const char *tenant_id, cv_diagnostics_fn diagnose, json_t **out);

/* 9.4 export records of every intent of the tenant (view order, limit
 * 100000) as an array; with_graph adds the three CLI graph fields. Writing
 * the file and appending `dataset.exported` stay with the caller. */
enum cv_err cv_insight_export_records(struct cv_store *s,
    const char *tenant_id, bool with_graph, json_t **out);

#endif
