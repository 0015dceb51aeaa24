/*
 * health.c - repo health (domain.md 7.1), change health (7.2), health
 * prediction (7.3) and the health/change learning of 7.5.
 */
#include "projections.h"
#include "projections_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "num.h"

/* ---- 7.5 learning --------------------------------------------------------- */

json_t *cv_learning_repo_build(double score, double mergeable_rate,
    double avg_entropy, long long rejected)
{
	json_t *ls = json_array();
	bool ok = true;
	char summary[96], b[32];

	if (mergeable_rate < 0.85)
		cv_aput(ls, cv_lesson_new("learn.low_mergeable",
		    "Low mergeable rate",
		    "A low rate increases friction and integration queue backlog",
		    "Reduce average change size and enforce pre-merge checks",
		    mergeable_rate < 0.7 ? 1 : 2, "mergeable_rate",
		    mergeable_rate, 0.85), &ok);
	if (avg_entropy > 15)
		cv_aput(ls, cv_lesson_new("learn.high_entropy",
		    "Elevated entropy",
		    "High average entropy indicates large or complex changes "
		    "entering the system",
		    "Split large intents into smaller focused changes",
		    avg_entropy > 30 ? 1 : 2, "avg_entropy", avg_entropy, 15.0),
		    &ok);
	if (rejected > 3)
		cv_aput(ls, cv_lesson_new("learn.frequent_rejections",
		    "Frequent rejections",
		    "Multiple rejections indicate systemic issues with source "
		    "branch quality or policy fit",
		    "Review policy thresholds and source branch preparation "
		    "workflows", 1, "rejected_count", (double)rejected, 3.0),
		    &ok);
	if (score < 70)
		cv_aput(ls, cv_lesson_new("learn.health_below_target",
		    "Health below target",
		    "Overall repo health has degraded below the safe threshold",
		    "Prioritize resolving conflicts, reducing entropy, and "
		    "clearing the queue", 0, "health_score", score, 70.0), &ok);
	if (!ok) {
		json_decref(ls);
		return NULL;
	}
	snprintf(summary, sizeof summary, "Repo health is %s (score: %s)",
	    cv_learning_level(score), cv_fmtb(b, sizeof b, score, 0));
	return cv_learning_wrap(summary, cv_learning_level(score), ls);
}

json_t *cv_learning_change_build(double score, double risk, double entropy,
    bool mergeable)
{
	json_t *ls = json_array();
	bool ok = true;
	char summary[96], b[32];

	if (!mergeable)
		cv_aput(ls, cv_lesson_new("learn.conflict",
		    "Merge conflict present",
		    "Source branch has conflicts with target — cannot merge "
		    "cleanly", "Rebase or resolve conflicts before retrying", 0,
		    "mergeable", 0.0, 1.0), &ok);
	if (risk > 40)
		cv_aput(ls, cv_lesson_new("learn.high_risk",
		    "Elevated risk score",
		    "Risk score exceeds safe threshold — multiple risk signals "
		    "contributing",
		    "Consider splitting into smaller changes or adding test "
		    "coverage", risk > 60 ? 1 : 2, "risk_score", risk, 40.0),
		    &ok);
	if (entropy > 20)
		cv_aput(ls, cv_lesson_new("learn.change_entropy",
		    "High change entropy",
		    "Entropic load indicates a complex or wide-reaching change",
		    "Reduce scope or break into incremental, "
		    "independently-mergeable changes", entropy > 40 ? 1 : 2,
		    "entropy_score", entropy, 20.0), &ok);
	if (!ok) {
		json_decref(ls);
		return NULL;
	}
	snprintf(summary, sizeof summary, "Change health: %s (%s)",
	    cv_learning_level(score), cv_fmtb(b, sizeof b, score, 0));
	return cv_learning_wrap(summary, cv_learning_level(score), ls);
}

/* ---- 7.1 repo health ------------------------------------------------------ */

static double mean_of(const json_t *events, const char *since,
    const char *key, double def)
{
	size_t i, n = 0;
	const json_t *ev;
	double sum = 0.0;

	json_array_foreach(events, i, ev) {
		if (!cv_ev_in(ev, since, NULL))
			continue;
		sum += cv_json_num(cv_ev_payload(ev), key, def);
		n++;
	}
	return n ? sum / (double)n : 0.0;
}

static size_t count_active(const json_t *intents)
{
	size_t i, n = 0;
	const json_t *it;

	json_array_foreach(intents, i, it) {
		const char *st = cv_json_str(it, "status", "");

		if (!strcmp(st, "READY") || !strcmp(st, "VALIDATED") ||
		    !strcmp(st, "QUEUED"))
			n++;
	}
	return n;
}

json_t *cv_health_repo_build(const struct cv_repo_health_in *in)
{
	char since[CV_TS_LEN], ts[CV_TS_LEN];
	int hours = in->window_hours > 0 ? in->window_hours : 24;
	size_t sims = 0, good = 0, i, merged, rejected;
	const json_t *ev;
	double mrate, crate, entropy, score;
	json_t *o;
	bool ok = true;

	cv_ts_back(since, in->now_us, (int64_t)hours * CV_HOUR_US);
	cv_ts_from_us(ts, in->now_us);
	json_array_foreach(in->sims, i, ev) {
		if (!cv_ev_in(ev, since, NULL))
			continue;
		sims++;
		good += cv_json_bool(cv_ev_payload(ev), "mergeable", false);
	}
	mrate = sims ? (double)good / (double)sims : 1.0;
	crate = 1.0 - mrate;
	merged = cv_ev_count(in->merged, since, NULL);
	rejected = cv_ev_count(in->rejected, since, NULL);
	entropy = mean_of(in->risks, since, "entropy_score", 0.0);
	score = 100.0 - crate * 30 - fmin(entropy, 50) * 0.5 -
	    fmin((double)rejected, 20) * 1.5;
	score = fmax(0.0, cv_round(score, 1));

	o = json_object();
	cv_oset(o, "repo_health_score", json_real(score), &ok);
	cv_oset(o, "entropy_score", json_real(cv_round(entropy, 1)), &ok);
	cv_oset(o, "mergeable_rate", json_real(cv_round(mrate, 3)), &ok);
	cv_oset(o, "conflict_rate", json_real(cv_round(crate, 3)), &ok);
	cv_oset(o, "active_intents",
	    json_integer((json_int_t)(in->intents ? (long long)count_active(
	    in->intents) : in->active_count)), &ok);
	cv_oset(o, "merged_last_24h", json_integer((json_int_t)merged), &ok);
	cv_oset(o, "rejected_last_24h", json_integer((json_int_t)rejected),
	    &ok);
	cv_oset(o, "status", json_string(cv_health_colour(score)), &ok);
	cv_oset(o, "timestamp", json_string(ts), &ok);
	cv_oset(o, "tenant_id", cv_tenant_json(in->tenant_id), &ok);
	cv_oset(o, "learning", cv_learning_repo_build(score, mrate, entropy,
	    (long long)rejected), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ---- 7.2 change health ---------------------------------------------------- */

json_t *cv_health_change_build(const char *intent_id, const json_t *risk_ev,
    const json_t *sim_ev, const json_t *policy_ev, const char *tenant_id,
    int64_t now_us)
{
	const json_t *rp = cv_ev_payload(risk_ev);
	double risk = cv_json_num(rp, "risk_score", 0.0);
	double entropy = cv_json_num(rp, "entropy_score", 0.0);
	bool mergeable = cv_json_bool(cv_ev_payload(sim_ev), "mergeable", true);
	const char *verdict = cv_json_str(cv_ev_payload(policy_ev), "verdict",
	    "unknown");
	double score;
	char ts[CV_TS_LEN];
	json_t *o = json_object();
	bool ok = true;

	score = 100.0 - risk * 0.5 - entropy * 0.3 - (mergeable ? 0 : 30);
	score = fmax(0.0, cv_round(score, 1));
	cv_ts_from_us(ts, now_us);
	cv_oset(o, "intent_id", cv_json_str_or_null(intent_id), &ok);
	cv_oset(o, "health_score", json_real(score), &ok);
	cv_oset(o, "risk_score", json_real(risk), &ok);
	cv_oset(o, "entropy_score", json_real(entropy), &ok);
	cv_oset(o, "mergeable", json_boolean(mergeable), &ok);
	cv_oset(o, "policy_verdict", json_string(verdict), &ok);
	cv_oset(o, "status", json_string(cv_health_colour(score)), &ok);
	cv_oset(o, "timestamp", json_string(ts), &ok);
	cv_oset(o, "tenant_id", cv_tenant_json(tenant_id), &ok);
	cv_oset(o, "learning",
	    cv_learning_change_build(score, risk, entropy, mergeable), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ---- 7.3 health prediction ------------------------------------------------ */

struct snap {
	const char *ts;
	size_t seq;               /* ascending append order */
	double score, entropy, conflict;
};

static int snap_cmp(const void *a, const void *b)
{
	const struct snap *x = a, *y = b;
	int c = strcmp(x->ts, y->ts);

	if (c)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The snapshots of the window in ascending time order; the query gives
 * newest first, so reversing the index keeps append order on ties. */
static struct snap *snaps_load(const json_t *events, const char *since,
    size_t *n_out)
{
	size_t i, n = 0, total = json_array_size(events);
	struct snap *s = calloc(total ? total : 1, sizeof *s);
	const json_t *ev;

	if (!s)
		return NULL;
	json_array_foreach(events, i, ev) {
		const json_t *p = cv_ev_payload(ev);

		if (!cv_ev_in(ev, since, NULL))
			continue;
		s[n].ts = cv_ev_ts(ev);
		s[n].seq = total - i;
		s[n].score = cv_json_num(p, "repo_health_score", 100.0);
		s[n].entropy = cv_json_num(p, "entropy_score", 0.0);
		s[n].conflict = cv_json_num(p, "conflict_rate", 0.0);
		n++;
	}
	qsort(s, n, sizeof *s, snap_cmp);
	*n_out = n;
	return s;
}

struct trend {
	double recent[3], older[3];     /* score, entropy, conflict */
};

static void halves(const struct snap *s, size_t n, struct trend *t)
{
	size_t mid = n / 2, lo_end = mid ? mid : n, hi_start = mid ? mid : 0;
	double lo[3] = { 0 }, hi[3] = { 0 };

	for (size_t i = 0; i < lo_end; i++) {
		lo[0] += s[i].score;
		lo[1] += s[i].entropy;
		lo[2] += s[i].conflict;
	}
	for (size_t i = hi_start; i < n; i++) {
		hi[0] += s[i].score;
		hi[1] += s[i].entropy;
		hi[2] += s[i].conflict;
	}
	for (int k = 0; k < 3; k++) {
		t->older[k] = lo[k] / (double)lo_end;
		t->recent[k] = hi[k] / (double)(n - hi_start);
	}
}

static json_t *signal_new(const char *signal, const char *message,
    const char *severity)
{
	return json_pack("{s:s, s:s, s:s}", "signal", signal, "message", message,
	    "severity", severity);
}

/* The signal rows of 7.3 step 7; returns whether approaching_red fired. */
static bool predict_signals(json_t *sig, const struct trend *t,
    double projected, double current, bool *ok)
{
	double hv = t->recent[0] - t->older[0];
	double ev = t->recent[1] - t->older[1];
	double cv = t->recent[2] - t->older[2];
	const char *cur = cv_health_colour(current);
	char m[256], a[32], b[32];

	if (hv < -5) {
		snprintf(m, sizeof m, "Health declining at %s per period "
		    "(current: %s)", cv_fmtb(a, sizeof a, hv, 1),
		    cv_fmtb(b, sizeof b, t->recent[0], 0));
		cv_aput(sig, signal_new("predict.health_falling", m,
		    hv < -10 ? "high" : "medium"), ok);
	}
	if (ev > 3) {
		snprintf(m, sizeof m, "Entropy rising at +%s per period "
		    "(current: %s)", cv_fmtb(a, sizeof a, ev, 1),
		    cv_fmtb(b, sizeof b, t->recent[1], 1));
		cv_aput(sig, signal_new("predict.entropy_rising", m,
		    ev > 5 ? "high" : "medium"), ok);
	}
	if (cv > 0.05) {
		snprintf(m, sizeof m, "Conflict rate rising at +%s per period "
		    "(current: %s)", cv_fmtb(a, sizeof a, cv, 2),
		    cv_pctb(b, sizeof b, t->recent[2], 1));
		cv_aput(sig, signal_new("predict.conflict_rising", m, "medium"),
		    ok);
	}
	if (!strcmp(cv_health_colour(projected), "red") &&
	    strcmp(cur, "red")) {
		snprintf(m, sizeof m, "Current: %s (%s), projected: red (%s)",
		    cur, cv_fmtb(a, sizeof a, current, 0),
		    cv_fmtb(b, sizeof b, projected, 0));
		cv_aput(sig, signal_new("predict.approaching_red", m,
		    "critical"), ok);
		return true;
	}
	return false;
}

static json_t *predict_unknown(size_t n, int min)
{
	char reason[128];

	snprintf(reason, sizeof reason,
	    "Not enough data (%zu snapshots, need %d+)", n, min);
	return json_pack("{s:s, s:s, s:s, s:s, s:b}",
	    "projected_status", "unknown", "confidence", "low",
	    "reason", reason, "recommendation",
	    "Collect more health snapshots before prediction is reliable",
	    "should_gate", 0);
}

static json_t *predict_result(const struct cv_health_predict_in *in,
    int horizon, const struct trend *t, double current, size_t n)
{
	double projected = fmin(fmax(t->recent[0] + (t->recent[0] -
	    t->older[0]), 0.0), 100.0);
	json_t *o = json_object(), *sig = json_array(), *vel;
	char ts[CV_TS_LEN];
	bool ok = true, gate;

	gate = predict_signals(sig, t, projected, current, &ok);
	vel = json_pack("{s:f, s:f, s:f}",
	    "health", cv_round(t->recent[0] - t->older[0], 2),
	    "entropy", cv_round(t->recent[1] - t->older[1], 2),
	    "conflict_rate", cv_round(t->recent[2] - t->older[2], 4));
	cv_ts_from_us(ts, in->now_us);
	cv_oset(o, "current_status", json_string(cv_health_colour(current)),
	    &ok);
	cv_oset(o, "current_health", json_real(cv_round(current, 1)), &ok);
	cv_oset(o, "projected_status",
	    json_string(cv_health_colour(projected)), &ok);
	cv_oset(o, "projected_health", json_real(cv_round(projected, 1)), &ok);
	cv_oset(o, "horizon_days", json_integer(horizon), &ok);
	cv_oset(o, "velocity", vel, &ok);
	cv_oset(o, "signals", sig, &ok);
	cv_oset(o, "should_gate", json_boolean(gate), &ok);
	cv_oset(o, "confidence", json_string(n >= 7 ? "high" : "medium"), &ok);
	cv_oset(o, "recommendation", json_string(gate ?
	    "Consider pausing new intents — health trajectory indicates "
	    "degradation" : "System trajectory is stable"), &ok);
	cv_oset(o, "data_points", json_integer((json_int_t)n), &ok);
	cv_oset(o, "timestamp", json_string(ts), &ok);
	cv_oset(o, "tenant_id", cv_tenant_json(in->tenant_id), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *cv_health_predict_build(const struct cv_health_predict_in *in,
    bool *append)
{
	int horizon = in->horizon_days > 0 ? in->horizon_days : 7;
	int min = in->min_snapshots > 0 ? in->min_snapshots : 3;
	char since[CV_TS_LEN];
	struct snap *s;
	struct trend t;
	size_t n;
	json_t *r;

	if (append)
		*append = false;
	cv_ts_back(since, in->now_us, (int64_t)2 * horizon * 24 * CV_HOUR_US);
	s = snaps_load(in->snapshots, since, &n);
	if (!s)
		return NULL;
	if (n < (size_t)min) {
		free(s);
		return predict_unknown(n, min);
	}
	halves(s, n, &t);
	r = predict_result(in, horizon, &t, s[n - 1].score, n);
	free(s);
	if (r && append)
		*append = true;
	return r;
}
