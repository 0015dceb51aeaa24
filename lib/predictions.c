/*
 * predictions.c - issue prediction signals (domain.md 7.6, http-api 5.8):
 * the last 24 hours ("now") against the 24 hours before ("prev").
 */
#include "projections.h"
#include "projections_int.h"

#include <stdio.h>
#include <string.h>

#include "jsonx.h"
#include "num.h"

/* Aggregates of one window. */
struct window {
	size_t sims, conflicted;          /* simulation.completed */
	size_t risks, hot;                /* risk.evaluated; hot: prop > 40 */
	double entropy, propagation, containment;   /* sums */
};

static void window_sims(struct window *w, const json_t *sims,
    const char *since, const char *before)
{
	size_t i;
	const json_t *ev;

	json_array_foreach(sims, i, ev) {
		if (!cv_ev_in(ev, since, before))
			continue;
		w->sims++;
		w->conflicted += !cv_json_bool(cv_ev_payload(ev), "mergeable",
		    false);
	}
}

static void window_risks(struct window *w, const json_t *risks,
    const char *since, const char *before)
{
	size_t i;
	const json_t *ev;

	json_array_foreach(risks, i, ev) {
		const json_t *p = cv_ev_payload(ev);
		double prop = cv_json_num(p, "propagation_score", 0.0);

		if (!cv_ev_in(ev, since, before))
			continue;
		w->risks++;
		w->hot += prop > 40;
		w->entropy += cv_json_num(p, "entropy_score", 0.0);
		w->propagation += prop;
		w->containment += cv_json_num(p, "containment_score", 1.0);
	}
}

/* sum / max(n, 1), the divisor of 7.6's means. */
static double per(double sum, size_t n)
{
	return sum / (double)(n ? n : 1);
}

static json_t *signal_new(const char *signal, const char *severity,
    const char *message, const char *recommendation)
{
	return json_pack("{s:s, s:s, s:s, s:s}", "signal", signal,
	    "severity", severity, "message", message,
	    "recommendation", recommendation);
}

/* Rows 1-4 of 7.6: conflicts, entropy, requeues, rejections. */
static void flow_signals(json_t *out, const struct window *now,
    const struct window *prev, const struct cv_predictions_in *in,
    const char *since24, bool *ok)
{
	double cr_now = per((double)now->conflicted, now->sims);
	double cr_prev = per((double)prev->conflicted, prev->sims);
	double ent_now = per(now->entropy, now->risks);
	double ent_prev = per(prev->entropy, prev->risks);
	size_t requeued = cv_ev_count(in->requeued_24h, since24, NULL);
	size_t rej = cv_ev_count(in->rejected_24h, since24, NULL);
	size_t total = rej + cv_ev_count(in->merged_24h, since24, NULL);
	char m[256], a[32], b[32];

	if (cr_now > cr_prev + 0.1 && now->sims > 3) {
		snprintf(m, sizeof m, "Conflict rate rose from %s to %s in "
		    "last 24h", cv_pctb(a, sizeof a, cr_prev, 0),
		    cv_pctb(b, sizeof b, cr_now, 0));
		cv_aput(out, signal_new("rising_conflict_rate", "high", m,
		    "Consider pausing new intents and resolving current "
		    "conflicts"), ok);
	}
	if (ent_now > ent_prev * 1.2 && ent_now > 15 && now->risks > 3) {
		snprintf(m, sizeof m, "Average entropy rose from %s to %s",
		    cv_fmtb(a, sizeof a, ent_prev, 1),
		    cv_fmtb(b, sizeof b, ent_now, 1));
		cv_aput(out, signal_new("entropy_spike", "medium", m,
		    "Review recent intents for large or high-risk changes"), ok);
	}
	if (requeued > 5) {
		snprintf(m, sizeof m, "%zu intents requeued in last 24h",
		    requeued);
		cv_aput(out, signal_new("queue_stalling", "high", m,
		    "Check for systemic merge conflicts or failing checks"), ok);
	}
	if (total > 3 && (double)rej / (double)total > 0.4) {
		snprintf(m, sizeof m, "%zu/%zu intents rejected in last 24h (%s)",
		    rej, total, cv_pctb(a, sizeof a,
		    (double)rej / (double)total, 0));
		cv_aput(out, signal_new("high_rejection_rate", "critical", m,
		    "Review policy thresholds or source branch quality"), ok);
	}
}

/* Rows 5-7 of 7.6: the bomb signals. */
static void bomb_signals(json_t *out, const struct window *now,
    const struct window *prev, bool *ok)
{
	double cont_now = per(now->containment, now->risks);
	double cont_prev = per(prev->containment, prev->risks);
	double ent_now = per(now->entropy, now->risks);
	double cr_now = per((double)now->conflicted, now->sims);
	char m[256], a[32], b[32];

	if (now->risks > 0 && now->hot >= 3) {
		snprintf(m, sizeof m, "%zu/%zu recent changes have high "
		    "propagation scores (>40)", now->hot, now->risks);
		cv_aput(out, signal_new("bomb.cascade", "high", m,
		    "Multiple high-blast-radius changes detected — risk of "
		    "cascade failures"), ok);
	}
	if (now->risks >= 3 && prev->risks >= 3 &&
	    cont_now < cont_prev - 0.1 && cont_now < 0.6) {
		snprintf(m, sizeof m, "Containment dropping from %s to %s — "
		    "changes becoming less isolated",
		    cv_fmtb(a, sizeof a, cont_prev, 2),
		    cv_fmtb(b, sizeof b, cont_now, 2));
		cv_aput(out, signal_new("bomb.spiral", "medium", m,
		    "Increasing cross-boundary coupling detected — enforce "
		    "scope limits"), ok);
	}
	if (now->risks > 0 && now->sims > 0 && ent_now > 20 && cr_now > 0.2 &&
	    per(now->propagation, now->risks) > 30) {
		snprintf(m, sizeof m, "System under thermal stress: entropy=%s, "
		    "conflict_rate=%s, propagation elevated",
		    cv_fmtb(a, sizeof a, ent_now, 1),
		    cv_pctb(b, sizeof b, cr_now, 0));
		cv_aput(out, signal_new("bomb.thermal_death", "critical", m,
		    "Halt new intents — system entropy is approaching critical "
		    "levels"), ok);
	}
}

json_t *cv_predictions_build(const struct cv_predictions_in *in)
{
	char since24[CV_TS_LEN], since48[CV_TS_LEN];
	struct window now = { 0 }, prev = { 0 };
	json_t *out = json_array();
	bool ok = out != NULL;

	cv_ts_back(since24, in->now_us, 24 * CV_HOUR_US);
	cv_ts_back(since48, in->now_us, 48 * CV_HOUR_US);
	window_sims(&now, in->sims_24h, since24, NULL);
	window_sims(&prev, in->sims_48h, since48, since24);
	window_risks(&now, in->risks_24h, since24, NULL);
	window_risks(&prev, in->risks_48h, since48, since24);
	flow_signals(out, &now, &prev, in, since24, &ok);
	bomb_signals(out, &now, &prev, &ok);
	if (!ok) {
		json_decref(out);
		return NULL;
	}
	return out;
}
