/*
 * insight.c - projections run against the store: the queries each pure
 * builder of projections.h documents, then the builder, then the event.
 */
#include "insight.h"

#include <stdint.h>
#include <string.h>

#include "clock.h"
#include "eventlog.h"
#include "intents.h"
#include "jsonx.h"
#include "policy.h"
#include "projections.h"
#include "queuestate.h"

#define HOUR_US ((int64_t)3600 * 1000000)
#define DAY_US (24 * HOUR_US)
#define ALL 10000               /* the projections' row limit */

static const char *tenant_or_null(const char *t)
{
	return t && *t ? t : NULL;
}

/* Events of type (and intent) for the tenant since now - back_us
 * (back_us 0 = all time), newest first. */
static enum cv_err events(struct cv_store *s, const char *type,
    const char *intent_id, const char *tenant_id, int64_t now_us,
    int64_t back_us, int limit, json_t **out)
{
	char since[CV_TS_LEN];
	struct cv_event_filter f = { 0 };

	f.event_type = type;
	f.intent_id = intent_id;
	f.tenant_id = tenant_or_null(tenant_id);
	f.limit = limit;
	if (back_us > 0) {
		cv_ts_from_us(since, now_us - back_us);
		f.since = since;
	}
	*out = cv_event_query(s, &f);
	return *out ? CV_OK : CV_ESTORE;
}

static enum cv_err intents(struct cv_store *s, const char *tenant_id,
    int limit, json_t **out)
{
	*out = cv_intent_brief_list(s, NULL, tenant_or_null(tenant_id), limit);
	return *out ? CV_OK : CV_ESTORE;
}

static void decref_all(json_t **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_decref(v[i]);
}

/* Appends type with a copy of payload as the payload. */
static enum cv_err emit(struct cv_store *s, const char *type,
    const char *intent_id, const char *tenant_id, const json_t *payload)
{
	return cv_event_emit(s, type, intent_id, NULL,
	    tenant_or_null(tenant_id), "", json_deep_copy(payload), NULL);
}

/* Hands r out, or reports the allocation failure. */
static enum cv_err result(json_t *r, json_t **out)
{
	*out = r;
	return r ? CV_OK : CV_ENOMEM;
}

/* ---- 7.1 ------------------------------------------------------------------ */

static enum cv_err repo_health_build(struct cv_store *s,
    const char *tenant_id, int window_hours, int64_t now_us, json_t **out)
{
	int hours = window_hours > 0 ? window_hours : 24;
	int64_t back = hours * HOUR_US;
	json_t *v[4] = { 0 };
	struct cv_repo_health_in in = { 0 };
	long long active = 0;
	enum cv_err e;

	*out = NULL;
	/* Only the number of active intents is needed: counted by the
	 * database rather than read intent by intent. */
	if ((e = events(s, "simulation.completed", NULL, tenant_id, now_us,
	    back, ALL, &v[0])) ||
	    (e = events(s, "risk.evaluated", NULL, tenant_id, now_us, back,
	    ALL, &v[1])) ||
	    (e = events(s, "intent.merged", NULL, tenant_id, now_us, back, ALL,
	    &v[2])) ||
	    (e = events(s, "intent.rejected", NULL, tenant_id, now_us, back,
	    ALL, &v[3])) ||
	    (e = cv_queue_active_count(s, tenant_or_null(tenant_id),
	    &active))) {
		decref_all(v, 4);
		return e;
	}
	in = (struct cv_repo_health_in){ v[0], v[1], v[2], v[3], NULL,
	    tenant_id, hours, now_us, active };
	e = result(cv_health_repo_build(&in), out);
	decref_all(v, 4);
	return e;
}

enum cv_err cv_insight_repo_health(struct cv_store *s, const char *tenant_id,
    int window_hours, json_t **out)
{
	enum cv_err e = repo_health_build(s, tenant_id, window_hours,
	    cv_now_us(), out);

	if (e == CV_OK && (e = emit(s, "health.snapshot", NULL, tenant_id,
	    *out)) != CV_OK) {
		json_decref(*out);
		*out = NULL;
	}
	return e;
}

/* ---- 7.2 ------------------------------------------------------------------ */

enum cv_err cv_insight_change_health(struct cv_store *s,
    const char *intent_id, const char *tenant_id, json_t **out)
{
	json_t *risk = NULL, *sim = NULL, *pol = NULL;
	enum cv_err e;

	*out = NULL;
	if ((e = cv_event_latest_of(s, "risk.evaluated", intent_id, tenant_id,
	    &risk)) ||
	    (e = cv_event_latest_of(s, "simulation.completed", intent_id,
	    tenant_id, &sim)) ||
	    (e = cv_event_latest_of(s, "policy.evaluated", intent_id, tenant_id,
	    &pol)))
		goto done;
	e = result(cv_health_change_build(intent_id, risk, sim, pol, tenant_id,
	    cv_now_us()), out);
	if (e == CV_OK && (e = emit(s, "health.change_snapshot", intent_id,
	    tenant_id, *out)) != CV_OK) {
		json_decref(*out);
		*out = NULL;
	}
done:
	json_decref(risk);
	json_decref(sim);
	json_decref(pol);
	return e;
}

/* ---- 7.3 ------------------------------------------------------------------ */

enum cv_err cv_insight_health_predict(struct cv_store *s,
    const char *tenant_id, int horizon_days, int min_snapshots,
    json_t **out)
{
	int64_t now = cv_now_us();
	int days = horizon_days > 0 ? horizon_days : 7;
	struct cv_health_predict_in in = { 0 };
	json_t *snaps;
	bool append = false;
	enum cv_err e;

	*out = NULL;
	if ((e = events(s, "health.snapshot", NULL, tenant_id, now,
	    2 * days * DAY_US, 500, &snaps)))
		return e;
	in = (struct cv_health_predict_in){ snaps, tenant_id, days,
	    min_snapshots, now };
	e = result(cv_health_predict_build(&in, &append), out);
	json_decref(snaps);
	if (e == CV_OK && append && (e = emit(s, "health.prediction", NULL,
	    tenant_id, *out)) != CV_OK) {
		json_decref(*out);
		*out = NULL;
	}
	return e;
}

/* ---- 7.4 ------------------------------------------------------------------ */

static enum cv_err compliance_build(struct cv_store *s,
    const char *tenant_id, const json_t *thresholds, int64_t now_us,
    json_t **out)
{
	json_t *v[5] = { 0 };
	struct cv_compliance_in in = { 0 };
	enum cv_err e;

	*out = NULL;
	if ((e = events(s, "simulation.completed", NULL, tenant_id, now_us, 0,
	    ALL, &v[0])) ||
	    (e = events(s, "queue.reset", NULL, tenant_id, now_us, 0, ALL,
	    &v[1])) ||
	    (e = events(s, "intent.requeued", NULL, tenant_id, now_us, 0, ALL,
	    &v[2])) ||
	    (e = intents(s, tenant_id, ALL, &v[3])))
		goto done;
	if (tenant_or_null(tenant_id) &&
	    (e = cv_compliance_thresholds_get(s, tenant_id, &v[4])))
		goto done;
	in = (struct cv_compliance_in){ v[0], v[1], v[2], v[3], thresholds,
	    v[4], tenant_id, now_us };
	e = result(cv_compliance_report_build(&in), out);
done:
	decref_all(v, 5);
	return e;
}

/* ---- 5.4 gate report -------------------------------------------------------- */

enum cv_err cv_insight_risk_gate_report(struct cv_store *s,
    const char *tenant_id, json_t **out)
{
	json_t *evs = NULL;
	enum cv_err e;

	*out = NULL;
	if ((e = events(s, "policy.evaluated", NULL, tenant_id, 0, 0,
	    CV_GATE_REPORT_EVENTS, &evs)))
		return e;
	e = result(cv_risk_gate_report_build(evs), out);
	json_decref(evs);
	return e;
}

enum cv_err cv_insight_compliance(struct cv_store *s, const char *tenant_id,
    const json_t *thresholds, json_t **out)
{
	return compliance_build(s, tenant_id, thresholds, cv_now_us(), out);
}

/* ---- 7.6 ------------------------------------------------------------------ */

static enum cv_err predictions_build(struct cv_store *s,
    const char *tenant_id, int64_t now, json_t **out)
{
	static const struct {
		const char *type;
		int64_t back;
	} q[] = {
		{ "simulation.completed", 24 * HOUR_US },
		{ "simulation.completed", 48 * HOUR_US },
		{ "risk.evaluated", 24 * HOUR_US },
		{ "risk.evaluated", 48 * HOUR_US },
		{ "intent.requeued", 24 * HOUR_US },
		{ "intent.rejected", 24 * HOUR_US },
		{ "intent.merged", 24 * HOUR_US },
	};
	json_t *v[7] = { 0 };
	struct cv_predictions_in in;
	enum cv_err e = CV_OK;

	*out = NULL;
	for (size_t i = 0; i < CV_ARRAY_LEN(q) && e == CV_OK; i++)
		e = events(s, q[i].type, NULL, tenant_id, now, q[i].back, ALL,
		    &v[i]);
	if (e == CV_OK) {
		in = (struct cv_predictions_in){ v[0], v[1], v[2], v[3], v[4],
		    v[5], v[6], now };
		e = result(cv_predictions_build(&in), out);
	}
	decref_all(v, 7);
	return e;
}

enum cv_err cv_insight_predictions(struct cv_store *s, const char *tenant_id,
    json_t **out)
{
	return predictions_build(s, tenant_id, cv_now_us(), out);
}

/* ---- 7.7 ------------------------------------------------------------------ */

static enum cv_err trend(struct cv_store *s, const char *type,
    const char *tenant_id, int days, int limit, json_t *(*build)(
    const json_t *), json_t **out)
{
	json_t *evs;
	enum cv_err e;

	*out = NULL;
	if ((e = events(s, type, NULL, tenant_id, cv_now_us(),
	    (days > 0 ? days : 30) * DAY_US, limit, &evs)))
		return e;
	e = result(build(evs), out);
	json_decref(evs);
	return e;
}

enum cv_err cv_insight_risk_trend(struct cv_store *s, const char *tenant_id,
    int days, int limit, json_t **out)
{
	return trend(s, "risk.evaluated", tenant_id, days,
	    limit > 0 ? limit : 500, cv_risk_trend_build, out);
}

enum cv_err cv_insight_entropy_trend(struct cv_store *s,
    const char *tenant_id, int days, int limit, json_t **out)
{
	return trend(s, "risk.evaluated", tenant_id, days,
	    limit > 0 ? limit : 500, cv_entropy_trend_build, out);
}

enum cv_err cv_insight_health_trend(struct cv_store *s,
    const char *tenant_id, int days, int limit, json_t **out)
{
	return trend(s, "health.snapshot", tenant_id, days,
	    limit > 0 ? limit : 200, cv_payload_trend_build, out);
}

enum cv_err cv_insight_change_health_trend(struct cv_store *s,
    const char *tenant_id, int days, int limit, json_t **out)
{
	return trend(s, "health.change_snapshot", tenant_id, days,
	    limit > 0 ? limit : 500, cv_payload_trend_build, out);
}

static enum cv_err metrics_build(struct cv_store *s, const char *tenant_id,
    int64_t now, json_t **out)
{
	static const char *const types[] = { "simulation.completed",
	    "intent.merged", "intent.rejected", "intent.blocked" };
	json_t *v[4] = { 0 };
	struct cv_integration_in in;
	enum cv_err e = CV_OK;

	*out = NULL;
	for (size_t i = 0; i < CV_ARRAY_LEN(types) && e == CV_OK; i++)
		e = events(s, types[i], NULL, tenant_id, now, 0, ALL, &v[i]);
	if (e == CV_OK) {
		in = (struct cv_integration_in){ v[0], v[1], v[2], v[3],
		    tenant_id, now };
		e = result(cv_integration_metrics_build(&in), out);
	}
	decref_all(v, 4);
	return e;
}

enum cv_err cv_insight_integration_metrics(struct cv_store *s,
    const char *tenant_id, json_t **out)
{
	return metrics_build(s, tenant_id, cv_now_us(), out);
}

/* ---- 7.8 ------------------------------------------------------------------ */

enum cv_err cv_insight_queue_state(struct cv_store *s, const char *tenant_id,
    json_t **out)
{
	return cv_queue_state_load(s, tenant_or_null(tenant_id), out);
}

enum cv_err cv_insight_agent_performance(struct cv_store *s,
    const char *agent_id, const char *tenant_id, json_t **out)
{
	struct cv_event_filter f = { 0 };
	json_t *evs;
	enum cv_err e;

	*out = NULL;
	f.agent_id = agent_id;
	f.tenant_id = tenant_or_null(tenant_id);
	f.limit = ALL;
	if (!(evs = cv_event_query(s, &f)))
		return CV_ESTORE;
	e = result(cv_agent_performance_build(agent_id, evs, tenant_id), out);
	json_decref(evs);
	return e;
}

/* ---- dashboard ------------------------------------------------------------ */

enum cv_err cv_insight_dashboard(struct cv_store *s, const char *tenant_id,
    int risk_trend_days, json_t **out)
{
	int64_t now = cv_now_us();
	json_t *v[6] = { 0 };
	enum cv_err e;

	*out = NULL;
	if ((e = cv_insight_repo_health(s, tenant_id, 24, &v[0])) ||
	    (e = cv_insight_queue_state(s, tenant_id, &v[1])) ||
	    (e = compliance_build(s, tenant_id, NULL, now, &v[2])) ||
	    (e = cv_insight_risk_trend(s, tenant_id, risk_trend_days, 500,
	    &v[3])) ||
	    (e = predictions_build(s, tenant_id, now, &v[4])) ||
	    (e = metrics_build(s, tenant_id, now, &v[5])))
		goto done;
	e = result(cv_dashboard_build(v[0], v[1], v[2], v[3], v[4], v[5]), out);
done:
	decref_all(v, 6);
	return e;
}

enum cv_err cv_insight_dashboard_alerts(struct cv_store *s,
    const char *tenant_id, json_t **out)
{
	int64_t now = cv_now_us();
	json_t *comp = NULL, *pred = NULL;
	enum cv_err e;

	*out = NULL;
	if ((e = compliance_build(s, tenant_id, NULL, now, &comp)) == CV_OK &&
	    (e = predictions_build(s, tenant_id, now, &pred)) == CV_OK)
		e = result(cv_dashboard_alerts_build(comp, pred), out);
	json_decref(comp);
	json_decref(pred);
	return e;
}

/* ---- 9.3 ------------------------------------------------------------------ */

/* Diagnostics only when both a risk and a simulation event exist (9.3). */
static json_t *diagnose_events(cv_diagnostics_fn diagnose,
    const json_t *intent, const json_t *risk, const json_t *sim)
{
	json_t *re, *se, *d;

	if (!diagnose || !risk || !sim)
		return json_array();
	re = cv_review_riskeval_build(json_object_get(risk, "payload"));
	se = cv_review_simulation_build(json_object_get(sim, "payload"));
	d = re && se ? diagnose(intent, re, se) : NULL;
	json_decref(re);
	json_decref(se);
	return d;
}

enum cv_err cv_insight_risk_review(struct cv_store *s, const char *intent_id,
    const char *tenant_id, cv_diagnostics_fn diagnose, json_t **out)
{
	int64_t now = cv_now_us();
	json_t *it = NULL, *risk = NULL, *sim = NULL, *pol = NULL;
	json_t *hist = NULL, *comp = NULL, *diags = NULL;
	struct cv_risk_review_in in = { 0 };
	enum cv_err e;

	*out = NULL;
	in.intent_id = intent_id;
	in.tenant_id = tenant_id;
	in.now_us = now;
	if ((e = cv_intent_get(s, intent_id, &it)))
		return e;
	if (!it)                /* the {error} object */
		return result(cv_risk_review_build(&in), out);
	if ((e = cv_event_latest_of(s, "risk.evaluated", intent_id, tenant_id,
	    &risk)) ||
	    (e = cv_event_latest_of(s, "simulation.completed", intent_id,
	    tenant_id, &sim)) ||
	    (e = cv_event_latest_of(s, "policy.evaluated", intent_id, tenant_id,
	    &pol)) ||
	    (e = events(s, NULL, intent_id, tenant_id, now, 0, 50, &hist)) ||
	    (e = compliance_build(s, tenant_id, NULL, now, &comp)))
		goto done;
	if (!(diags = diagnose_events(diagnose, it, risk, sim))) {
		e = CV_ENOMEM;
		goto done;
	}
	in = (struct cv_risk_review_in){ intent_id, it, risk, sim, pol, hist,
	    comp, diags, tenant_id, now };
	e = result(cv_risk_review_build(&in), out);
done:
	json_decref(it);
	json_decref(risk);
	json_decref(sim);
	json_decref(pol);
	json_decref(hist);
	json_decref(comp);
	json_decref(diags);
	return e;
}

/* ---- 9.4 ------------------------------------------------------------------ */

static enum cv_err export_one(struct cv_store *s, const json_t *intent,
    bool with_graph, json_t *records)
{
	const char *id = cv_json_str(intent, "id", "");
	json_t *sim = NULL, *risk = NULL, *pol = NULL;
	enum cv_err e;

	if ((e = cv_event_latest(s, "simulation.completed", id, &sim)) == CV_OK &&
	    (e = cv_event_latest(s, "risk.evaluated", id, &risk)) == CV_OK &&
	    (e = cv_event_latest(s, "policy.evaluated", id, &pol)) == CV_OK &&
	    json_array_append_new(records, cv_export_record_build(intent, sim,
	    risk, pol, with_graph)) != 0)
		e = CV_ENOMEM;
	json_decref(sim);
	json_decref(risk);
	json_decref(pol);
	return e;
}

enum cv_err cv_insight_export_records(struct cv_store *s,
    const char *tenant_id, bool with_graph, json_t **out)
{
	json_t *list, *records, *it;
	size_t i;
	enum cv_err e;

	*out = NULL;
	if ((e = intents(s, tenant_id, 100000, &list)))
		return e;
	if (!(records = json_array())) {
		json_decref(list);
		return CV_ENOMEM;
	}
	json_array_foreach(list, i, it)
		if ((e = export_one(s, it, with_graph, records)))
			break;
	json_decref(list);
	if (e) {
		json_decref(records);
		return e;
	}
	*out = records;
	return CV_OK;
}
