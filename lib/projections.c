/*
 * projections.c - shared projection helpers, trends and integration
 * metrics (domain.md 7.7), queue state and agent performance (7.8), and
 * the dashboard assembly of http-api 5.7.
 */
#include "projections.h"
#include "queuestate.h"
#include "projections_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cv.h"

#include "jsonx.h"
#include "num.h"

/* ---- helpers -------------------------------------------------------------- */

void cv_oset(json_t *o, const char *k, json_t *v, bool *ok)
{
	if (!o || !v) {
		json_decref(v);
		*ok = false;
		return;
	}
	if (json_object_set_new(o, k, v) != 0)
		*ok = false;
}

void cv_aput(json_t *a, json_t *v, bool *ok)
{
	if (!a || !v) {
		json_decref(v);
		*ok = false;
		return;
	}
	if (json_array_append_new(a, v) != 0)
		*ok = false;
}

const json_t *cv_ev_payload(const json_t *ev)
{
	return cv_json_obj(ev, "payload");
}

const char *cv_ev_ts(const json_t *ev)
{
	return cv_json_str(ev, "timestamp", "");
}

bool cv_ev_in(const json_t *ev, const char *since, const char *before)
{
	const char *ts = cv_ev_ts(ev);

	if (since && strcmp(ts, since) < 0)
		return false;
	if (before && strcmp(ts, before) >= 0)
		return false;
	return true;
}

size_t cv_ev_count(const json_t *events, const char *since,
    const char *before)
{
	size_t i, n = 0;
	const json_t *ev;

	json_array_foreach(events, i, ev)
		if (cv_ev_in(ev, since, before))
			n++;
	return n;
}

void cv_ts_back(char out[CV_TS_LEN], int64_t now_us, int64_t delta_us)
{
	cv_ts_from_us(out, now_us - delta_us);
}

json_t *cv_tenant_json(const char *tenant_id)
{
	return tenant_id && *tenant_id ? json_string(tenant_id) : json_null();
}

json_t *cv_lesson_new(const char *code, const char *title, const char *why,
    const char *action, int priority, const char *metric_name,
    double observed, double target)
{
	json_t *l = json_object(), *m;
	bool ok = true;

	cv_oset(l, "code", json_string(code), &ok);
	cv_oset(l, "title", json_string(title), &ok);
	cv_oset(l, "why", json_string(why), &ok);
	cv_oset(l, "action", json_string(action), &ok);
	cv_oset(l, "priority", json_integer(priority), &ok);
	if (metric_name) {
		m = json_object();
		cv_oset(m, "name", json_string(metric_name), &ok);
		cv_oset(m, "observed", json_real(cv_round(observed, 3)), &ok);
		cv_oset(m, "target", json_real(cv_round(target, 3)), &ok);
		cv_oset(l, "metric", m, &ok);
	}
	if (!ok) {
		json_decref(l);
		return NULL;
	}
	return l;
}

void cv_lessons_sort(json_t *lessons)
{
	size_t n = json_array_size(lessons);

	/* Insertion sort: stable, and there are at most a handful. */
	for (size_t i = 1; i < n; i++) {
		json_t *cur = json_incref(json_array_get(lessons, i));
		long long p = cv_json_int(cur, "priority", 0);
		size_t j = i;

		while (j > 0 && cv_json_int(json_array_get(lessons, j - 1),
		    "priority", 0) > p) {
			json_array_set(lessons, j, json_array_get(lessons, j - 1));
			j--;
		}
		json_array_set_new(lessons, j, cur);
	}
}

json_t *cv_learning_wrap(const char *summary, const char *level,
    json_t *lessons_take)
{
	json_t *o = json_object(), *next = json_array();
	bool ok = lessons_take != NULL;
	size_t i;
	json_t *l;

	cv_lessons_sort(lessons_take);
	json_array_foreach(lessons_take, i, l) {
		if (i >= 3)
			break;
		cv_aput(next, json_string(cv_json_str(l, "action", "")), &ok);
	}
	cv_oset(o, "summary", json_string(summary), &ok);
	cv_oset(o, "level", json_string(level), &ok);
	cv_oset(o, "lessons", lessons_take, &ok);
	cv_oset(o, "next_actions", next, &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

const char *cv_fmtb(char *buf, size_t size, double x, int n)
{
	cv_fmt(buf, size, x, n);
	return buf;
}

const char *cv_pctb(char *buf, size_t size, double x, int n)
{
	size_t len;

	cv_fmt(buf, size, x * 100, n);
	len = strlen(buf);
	if (len + 2 <= size)
		memcpy(buf + len, "%", 2);
	return buf;
}

/* ---- 7.7 trends ----------------------------------------------------------- */

static json_t *trend_row(const json_t *ev, bool full)
{
	const json_t *p = cv_ev_payload(ev);
	json_t *r = json_object();
	bool ok = true;

	cv_oset(r, "timestamp", json_string(cv_ev_ts(ev)), &ok);
	cv_oset(r, "intent_id",
	    cv_json_str_or_null(cv_json_str(ev, "intent_id", NULL)), &ok);
	if (full) {
		cv_oset(r, "risk_score",
		    json_real(cv_json_num(p, "risk_score", 0.0)), &ok);
		cv_oset(r, "damage_score",
		    json_real(cv_json_num(p, "damage_score", 0.0)), &ok);
	}
	cv_oset(r, "entropy_score",
	    json_real(cv_json_num(p, "entropy_score", 0.0)), &ok);
	if (!ok) {
		json_decref(r);
		return NULL;
	}
	return r;
}

static json_t *trend_build(const json_t *risks, bool full)
{
	json_t *rows = json_array();
	bool ok = rows != NULL;
	size_t i;
	const json_t *ev;

	json_array_foreach(risks, i, ev)
		cv_aput(rows, trend_row(ev, full), &ok);
	if (!ok) {
		json_decref(rows);
		return NULL;
	}
	return rows;
}

json_t *cv_risk_trend_build(const json_t *risks)
{
	return trend_build(risks, true);
}

json_t *cv_entropy_trend_build(const json_t *risks)
{
	return trend_build(risks, false);
}

json_t *cv_payload_trend_build(const json_t *events)
{
	json_t *rows = json_array();
	bool ok = rows != NULL;
	size_t i;
	const json_t *ev;

	json_array_foreach(events, i, ev) {
		const json_t *p = cv_ev_payload(ev);

		cv_aput(rows, p ? json_deep_copy(p) : json_object(), &ok);
	}
	if (!ok) {
		json_decref(rows);
		return NULL;
	}
	return rows;
}

/* ---- 7.7 integration metrics ---------------------------------------------- */

static size_t count_mergeable(const json_t *sims)
{
	size_t i, n = 0;
	const json_t *ev;

	json_array_foreach(sims, i, ev)
		if (cv_json_bool(cv_ev_payload(ev), "mergeable", false))
			n++;
	return n;
}

json_t *cv_integration_metrics_build(const struct cv_integration_in *in)
{
	size_t total = json_array_size(in->sims);
	size_t mergeable = count_mergeable(in->sims);
	size_t merged = json_array_size(in->merged);
	size_t rejected = json_array_size(in->rejected);
	size_t blocked = json_array_size(in->blocked);
	double rate = total ? (double)mergeable / (double)total : 1.0;
	char ts[CV_TS_LEN];
	json_t *o = json_object(), *dist = json_object();
	bool ok = true;

	cv_ts_from_us(ts, in->now_us);
	cv_oset(o, "total_simulations", json_integer((json_int_t)total), &ok);
	cv_oset(o, "mergeable", json_integer((json_int_t)mergeable), &ok);
	cv_oset(o, "mergeable_rate", json_real(cv_round(rate, 3)), &ok);
	cv_oset(o, "total_merged", json_integer((json_int_t)merged), &ok);
	cv_oset(o, "total_rejected", json_integer((json_int_t)rejected), &ok);
	cv_oset(o, "total_blocked", json_integer((json_int_t)blocked), &ok);
	cv_oset(dist, "merged", json_integer((json_int_t)merged), &ok);
	cv_oset(dist, "rejected", json_integer((json_int_t)rejected), &ok);
	cv_oset(dist, "blocked", json_integer((json_int_t)blocked), &ok);
	cv_oset(o, "decision_distribution", dist, &ok);
	cv_oset(o, "tenant_id", cv_tenant_json(in->tenant_id), &ok);
	cv_oset(o, "timestamp", json_string(ts), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ---- 7.8 queue state ------------------------------------------------------ */

static bool status_pending(const char *st)
{
	return !strcmp(st, "READY") || !strcmp(st, "VALIDATED") ||
	    !strcmp(st, "QUEUED");
}

/* Counts per status, keys in first-seen order (jansson keeps insertion
 * order). */
static json_t *by_status_build(const json_t *intents)
{
	json_t *by = json_object();
	size_t i;
	const json_t *it;

	if (!by)
		return NULL;
	json_array_foreach(intents, i, it) {
		const char *st = cv_json_str(it, "status", "READY");
		long long c = cv_json_int(by, st, 0);

		if (json_object_set_new(by, st, json_integer(c + 1)) != 0) {
			json_decref(by);
			return NULL;
		}
	}
	return by;
}

static int pending_cmp(const void *a, const void *b)
{
	const json_t *x = *(const json_t *const *)a;
	const json_t *y = *(const json_t *const *)b;
	long long px = cv_json_int(x, "priority", 3);
	long long py = cv_json_int(y, "priority", 3);

	if (px != py)
		return px < py ? -1 : 1;
	return strcmp(cv_json_str(x, "intent_id", ""),
	    cv_json_str(y, "intent_id", ""));
}

static json_t *pending_build(const json_t *intents)
{
	size_t i, n = 0, cap = json_array_size(intents);
	const json_t *it;
	json_t **rows, *arr = json_array();
	bool ok = arr != NULL;

	rows = calloc(cap ? cap : 1, sizeof *rows);
	if (!rows) {
		json_decref(arr);
		return NULL;
	}
	json_array_foreach(intents, i, it) {
		const char *st = cv_json_str(it, "status", "READY");
		json_t *r;

		if (!status_pending(st))
			continue;
		r = json_object();
		cv_oset(r, "intent_id", json_string(cv_json_str(it, "id", "")),
		    &ok);
		cv_oset(r, "status", json_string(st), &ok);
		cv_oset(r, "priority",
		    json_integer(cv_json_int(it, "priority", 3)), &ok);
		cv_oset(r, "retries",
		    json_integer(cv_json_int(it, "retries", 0)), &ok);
		if (r)
			rows[n++] = r;
	}
	qsort(rows, n, sizeof *rows, pending_cmp);
	for (i = 0; i < n; i++) {
		if (i < CV_QUEUE_PENDING_CAP)
			cv_aput(arr, rows[i], &ok);
		else
			json_decref(rows[i]);
	}
	free(rows);
	if (!ok) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}

json_t *cv_queue_state_build(const json_t *intents)
{
	json_t *o = json_object();
	bool ok = true;

	size_t i, pending = 0;
	const json_t *it;

	json_array_foreach(intents, i, it)
		if (status_pending(cv_json_str(it, "status", "READY")))
			pending++;
	cv_oset(o, "pending", pending_build(intents), &ok);
	cv_oset(o, "pending_count", json_integer((json_int_t)pending), &ok);
	cv_oset(o, "total", json_integer((json_int_t)json_array_size(intents)),
	    &ok);
	cv_oset(o, "by_status", by_status_build(intents), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *cv_queue_summary_build(const json_t *intents)
{
	json_t *o = json_object();
	size_t i, pending = 0;
	const json_t *it;
	bool ok = true;

	json_array_foreach(intents, i, it)
		if (status_pending(cv_json_str(it, "status", "READY")))
			pending++;
	cv_oset(o, "total", json_integer((json_int_t)json_array_size(intents)),
	    &ok);
	cv_oset(o, "by_status", by_status_build(intents), &ok);
	cv_oset(o, "pending_count", json_integer((json_int_t)pending), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ---- 7.8 agent performance ------------------------------------------------ */

json_t *cv_agent_performance_build(const char *agent_id,
    const json_t *events, const char *tenant_id)
{
	json_t *o = json_object(), *by = json_object();
	long long merged = 0, rejected = 0, blocked = 0, decided;
	double success, trust, m50;
	size_t i;
	const json_t *ev;
	bool ok = true;

	json_array_foreach(events, i, ev) {
		const char *t = cv_json_str(ev, "event_type", "");

		merged += !strcmp(t, "intent.merged");
		rejected += !strcmp(t, "intent.rejected");
		blocked += !strcmp(t, "intent.blocked");
		if (by && json_object_set_new(by, t,
		    json_integer(cv_json_int(by, t, 0) + 1)) != 0)
			ok = false;
	}
	decided = merged + rejected + blocked;
	success = decided ? (double)merged / (double)decided : 0.0;
	m50 = merged < 50 ? (double)merged : 50.0;
	trust = success * 100 + m50;
	if (trust > 100)
		trust = 100;
	cv_oset(o, "agent_id", json_string(agent_id ? agent_id : ""), &ok);
	cv_oset(o, "total_events",
	    json_integer((json_int_t)json_array_size(events)), &ok);
	cv_oset(o, "merged", json_integer(merged), &ok);
	cv_oset(o, "rejected", json_integer(rejected), &ok);
	cv_oset(o, "blocked", json_integer(blocked), &ok);
	cv_oset(o, "success_rate", json_real(cv_round(success, 3)), &ok);
	cv_oset(o, "events_by_type", by, &ok);
	cv_oset(o, "trust_score", json_real(cv_round(trust, 1)), &ok);
	cv_oset(o, "tenant_id", cv_tenant_json(tenant_id), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ---- dashboard (http-api 5.7) --------------------------------------------- */

static void put_sourced(json_t *alerts, const json_t *items,
    const char *source, bool *ok)
{
	size_t i;
	const json_t *a;

	json_array_foreach(items, i, a) {
		json_t *c = json_copy((json_t *)a);

		cv_oset(c, "source", json_string(source), ok);
		cv_aput(alerts, c, ok);
	}
}

json_t *cv_dashboard_alerts_build(const json_t *compliance,
    const json_t *predictions)
{
	json_t *o = json_object(), *alerts = json_array();
	size_t total;
	bool ok = true;

	put_sourced(alerts, cv_json_arr(compliance, "alerts"), "compliance",
	    &ok);
	put_sourced(alerts, predictions, "prediction", &ok);
	cv_oset(o, "compliance_passed",
	    json_boolean(cv_json_bool(compliance, "passed", true)), &ok);
	total = json_array_size(alerts);
	cv_oset(o, "alerts", alerts, &ok);
	cv_oset(o, "total", json_integer((json_int_t)total), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *ref_or_null(const json_t *v)
{
	return v ? json_incref((json_t *)v) : json_null();
}

json_t *cv_dashboard_build(const json_t *health, const json_t *queue,
    const json_t *compliance, const json_t *risk_trend,
    const json_t *predictions, const json_t *metrics)
{
	static const char *const ckeys[] = { "passed", "alerts", "checks",
	    "mergeable_rate", "conflict_rate" };
	json_t *o = json_object(), *c = json_object(), *trend = json_array();
	size_t i;
	bool ok = true;

	for (i = 0; i < CV_ARRAY_LEN(ckeys); i++)
		cv_oset(c, ckeys[i],
		    ref_or_null(json_object_get(compliance, ckeys[i])), &ok);
	for (i = 0; i < json_array_size(risk_trend) && i < 50; i++)
		cv_aput(trend, json_incref(json_array_get(risk_trend, i)), &ok);
	cv_oset(o, "health", ref_or_null(health), &ok);
	cv_oset(o, "queue", ref_or_null(queue), &ok);
	cv_oset(o, "compliance", c, &ok);
	cv_oset(o, "risk_trend", trend, &ok);
	cv_oset(o, "predictions",
	    predictions ? json_incref((json_t *)predictions) : json_array(),
	    &ok);
	cv_oset(o, "metrics", ref_or_null(metrics), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}
