/*
 * compliance.c - the compliance report of domain.md 7.4 with the threshold
 * aliases of http-api 2.5.
 */
#include "projections.h"
#include "projections_int.h"

#include <stdio.h>
#include <string.h>

#include "cv.h"
#include "jsonx.h"
#include "num.h"

/* Canonical key, its default, and the name the HTTP write route documents.
 * http-api 2.5 (DEVIATION, newer than domain.md B15): the alias counts
 * when the canonical key is absent. */
static const struct threshold {
	const char *key;
	const char *alias;
	double def;
	bool integral;
} thresholds[] = {
	{ "min_mergeable_rate", "mergeable_rate", 0.80, false },
	{ "max_conflict_rate", "conflict_rate", 0.20, false },
	{ "max_retries_total", "max_retries", 200, true },
	{ "max_queue_tracked", NULL, 1000, true },
};

static json_t *threshold_default(const struct threshold *t)
{
	return t->integral ? json_integer((json_int_t)t->def) :
	    json_real(t->def);
}

/* The overlay value for t in doc (borrowed), or NULL. */
static json_t *threshold_pick(const json_t *doc, const struct threshold *t)
{
	json_t *v = json_is_object(doc) ? json_object_get(doc, t->key) : NULL;

	if (!v && t->alias && json_is_object(doc))
		v = json_object_get(doc, t->alias);
	return json_is_number(v) ? v : NULL;
}

json_t *cv_compliance_thresholds_build(const json_t *arg,
    const json_t *stored, const char *tenant_id)
{
	const json_t *doc = arg;
	json_t *o = json_object();
	bool ok = true;

	if (tenant_id && *tenant_id && json_is_object(stored) &&
	    json_object_size(stored) > 0)
		doc = stored;
	for (size_t i = 0; i < CV_ARRAY_LEN(thresholds); i++) {
		json_t *v = threshold_pick(doc, &thresholds[i]);

		cv_oset(o, thresholds[i].key, v ? json_incref(v) :
		    threshold_default(&thresholds[i]), &ok);
	}
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* One check {name, value, threshold, op, passed}; value_take stolen. */
static json_t *check_new(const char *name, json_t *value_take,
    const json_t *limits, const char *key, const char *op)
{
	json_t *lim = json_object_get(limits, key);
	double v = json_number_value(value_take), t = json_number_value(lim);
	bool passed = !strcmp(op, ">=") ? v >= t : v <= t;
	json_t *c = json_object();
	bool ok = true;

	cv_oset(c, "name", json_string(name), &ok);
	cv_oset(c, "value", value_take, &ok);
	cv_oset(c, "threshold", lim ? json_incref(lim) : NULL, &ok);
	cv_oset(c, "op", json_string(op), &ok);
	cv_oset(c, "passed", json_boolean(passed), &ok);
	if (!ok) {
		json_decref(c);
		return NULL;
	}
	return c;
}

/* An alert is the failed check with "alert" in front. */
static json_t *alert_new(const json_t *check)
{
	char text[128];
	json_t *a = json_object();
	const char *k;
	json_t *v;
	bool ok = true;

	snprintf(text, sizeof text, "SLO breach: %s",
	    cv_json_str(check, "name", ""));
	cv_oset(a, "alert", json_string(text), &ok);
	json_object_foreach((json_t *)check, k, v)
		cv_oset(a, k, json_incref(v), &ok);
	if (!ok) {
		json_decref(a);
		return NULL;
	}
	return a;
}

static json_t *checks_build(const json_t *limits, double mrate, size_t retries, size_t tracked)
{
	json_t *checks = json_array();
	bool ok = true;

	cv_aput(checks, check_new("mergeable_rate",
	    json_real(cv_round(mrate, 3)), limits, "min_mergeable_rate", ">="),
	    &ok);
	cv_aput(checks, check_new("conflict_rate",
	    json_real(cv_round(1.0 - mrate, 3)), limits, "max_conflict_rate",
	    "<="), &ok);
	cv_aput(checks, check_new("retries_total",
	    json_integer((json_int_t)retries), limits, "max_retries_total",
	    "<="), &ok);
	cv_aput(checks, check_new("queue_tracked",
	    json_integer((json_int_t)tracked), limits, "max_queue_tracked",
	    "<="), &ok);
	if (!ok) {
		json_decref(checks);
		return NULL;
	}
	return checks;
}

json_t *cv_compliance_report_build(const struct cv_compliance_in *in)
{
	size_t sims = json_array_size(in->sims), good = 0, i;
	size_t retries = json_array_size(in->resets) +
	    json_array_size(in->requeued);
	size_t tracked = json_array_size(in->intents);
	const json_t *ev;
	json_t *limits, *checks, *alerts, *o, *c;
	double mrate;
	bool ok = true, passed = true;
	char ts[CV_TS_LEN];

	json_array_foreach(in->sims, i, ev)
		good += cv_json_bool(cv_ev_payload(ev), "mergeable", false);
	mrate = sims ? (double)good / (double)sims : 1.0;
	limits = cv_compliance_thresholds_build(in->thresholds, in->stored,
	    in->tenant_id);
	checks = limits ? checks_build(limits, mrate, retries, tracked) :
	    NULL;
	json_decref(limits);
	alerts = json_array();
	json_array_foreach(checks, i, c) {
		if (cv_json_bool(c, "passed", false))
			continue;
		passed = false;
		cv_aput(alerts, alert_new(c), &ok);
	}
	cv_ts_from_us(ts, in->now_us);
	o = json_object();
	cv_oset(o, "mergeable_rate", json_real(cv_round(mrate, 3)), &ok);
	cv_oset(o, "conflict_rate", json_real(cv_round(1.0 - mrate, 3)), &ok);
	cv_oset(o, "retries_total", json_integer((json_int_t)retries), &ok);
	cv_oset(o, "queue_tracked", json_integer((json_int_t)tracked), &ok);
	cv_oset(o, "checks", checks, &ok);
	cv_oset(o, "passed", json_boolean(passed), &ok);
	cv_oset(o, "alerts", alerts, &ok);
	cv_oset(o, "timestamp", json_string(ts), &ok);
	cv_oset(o, "tenant_id", cv_tenant_json(in->tenant_id), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}
