/*
 * review.c - risk review assembly (domain.md 9.3) with its learning (7.5),
 * and decision export records (9.4, http-api 5.7).
 */
#include "projections.h"
#include "projections_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cv.h"
#include "jsonx.h"
#include "num.h"

/* ---- 9.3 rebuilding RiskEval and Simulation ------------------------------- */

static json_t *copy_or(const json_t *v, json_t *def)
{
	if (v) {
		json_decref(def);
		return json_deep_copy(v);
	}
	return def;
}

json_t *cv_review_riskeval_build(const json_t *p)
{
	static const char *const scores[] = { "risk_score", "damage_score",
	    "entropy_score", "propagation_score" };
	static const char *const signals[] = { "entropic_load",
	    "contextual_value", "complexity_delta", "path_dependence" };
	const json_t *sp = cv_json_obj(p, "signals");
	json_t *o = json_object(), *sig = json_object();
	bool ok = true;
	size_t i;

	cv_oset(o, "intent_id",
	    cv_json_str_or_null(cv_json_str(p, "intent_id", NULL)), &ok);
	for (i = 0; i < CV_ARRAY_LEN(scores); i++)
		cv_oset(o, scores[i], json_real(cv_json_num(p, scores[i], 0.0)),
		    &ok);
	/* B14: a payload without containment is "fully contained", not 0. */
	cv_oset(o, "containment_score",
	    json_real(cv_json_num(p, "containment_score", 1.0)), &ok);
	for (i = 0; i < CV_ARRAY_LEN(signals); i++)
		cv_oset(sig, signals[i],
		    json_real(cv_json_num(sp, signals[i], 0.0)), &ok);
	cv_oset(o, "signals", sig, &ok);
	cv_oset(o, "findings", copy_or(cv_json_arr(p, "findings"),
	    json_array()), &ok);
	cv_oset(o, "impact_edges", copy_or(cv_json_arr(p, "impact_edges"),
	    json_array()), &ok);
	cv_oset(o, "graph_metrics", copy_or(cv_json_obj(p, "graph_metrics"),
	    json_object()), &ok);
	cv_oset(o, "bombs", copy_or(cv_json_arr(p, "bombs"), json_array()),
	    &ok);
	cv_oset(o, "timestamp", cv_json_str_or_null(cv_json_str(p,
	    "timestamp", NULL)), &ok);
	cv_oset(o, "tenant_id", cv_json_str_or_null(cv_json_str(p,
	    "tenant_id", NULL)), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *cv_review_simulation_build(const json_t *p)
{
	json_t *o = json_object();
	bool ok = true;

	cv_oset(o, "mergeable",
	    json_boolean(cv_json_bool(p, "mergeable", true)), &ok);
	cv_oset(o, "conflicts", copy_or(cv_json_arr(p, "conflicts"),
	    json_array()), &ok);
	cv_oset(o, "files_changed", copy_or(cv_json_arr(p, "files_changed"),
	    json_array()), &ok);
	cv_oset(o, "timestamp", cv_json_str_or_null(cv_json_str(p,
	    "timestamp", NULL)), &ok);
	cv_oset(o, "source", json_string(cv_json_str(p, "source", "")), &ok);
	cv_oset(o, "target", json_string(cv_json_str(p, "target", "")), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ---- 7.5 review learning -------------------------------------------------- */

/* "Address critical issues before proceeding: " + the explanations of the
 * first 3 critical diagnostics joined by "; ". Caller frees. */
static char *critical_action(const json_t *diags, size_t *ncrit)
{
	size_t i, len, shown = 0;
	const json_t *d;
	char *s = strdup("Address critical issues before proceeding: ");

	*ncrit = 0;
	json_array_foreach(diags, i, d) {
		const char *ex;
		char *t;

		if (strcmp(cv_json_str(d, "severity", ""), "critical"))
			continue;
		(*ncrit)++;
		if (shown == 3 || !s)
			continue;
		ex = cv_json_str(d, "explanation", "");
		len = strlen(s) + strlen(ex) + 3;
		t = realloc(s, len);
		if (!t) {
			free(s);
			s = NULL;
			continue;
		}
		s = t;
		size_t cur = strlen(s);
		snprintf(s + cur, len - cur, "%s%s", shown++ ? "; " : "", ex);
	}
	return s;
}

json_t *cv_learning_review_build(double risk_score,
    const json_t *diagnostics)
{
	json_t *o = json_object(), *ls = json_array();
	size_t ncrit;
	char *action = critical_action(diagnostics, &ncrit);
	char why[64], summary[64], b[32];
	bool ok = action != NULL;

	if (ok && ncrit > 0) {
		snprintf(why, sizeof why, "%zu critical diagnostic(s) found",
		    ncrit);
		cv_aput(ls, cv_lesson_new("learn.critical_diagnostics",
		    "Critical issues detected", why, action, 0, NULL, 0, 0),
		    &ok);
	}
	free(action);
	if (risk_score > 50) {
		snprintf(why, sizeof why, "Risk score %s",
		    cv_fmtb(b, sizeof b, risk_score, 0));
		cv_aput(ls, cv_lesson_new("learn.review_risk", "Elevated risk",
		    why, "Review impact graph and consider narrowing scope", 1,
		    NULL, 0, 0), &ok);
	}
	snprintf(summary, sizeof summary, "Review: %zu actionable lesson(s)",
	    json_array_size(ls));
	cv_oset(o, "lessons", ls, &ok);
	cv_oset(o, "summary", json_string(summary), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ---- 9.3 risk review ------------------------------------------------------ */

static json_t *payload_or_null(const json_t *ev)
{
	const json_t *p = cv_ev_payload(ev);

	return ev ? (p ? json_deep_copy(p) : json_object()) : json_null();
}

static json_t *history_build(const json_t *events)
{
	json_t *h = json_array();
	bool ok = h != NULL;
	size_t i;
	const json_t *ev;

	json_array_foreach(events, i, ev) {
		const json_t *p = cv_ev_payload(ev);

		cv_aput(h, json_pack("{s:s, s:s, s:o}", "event_type",
		    cv_json_str(ev, "event_type", ""), "timestamp",
		    cv_ev_ts(ev), "payload", p ? json_deep_copy(p) :
		    json_object()), &ok);
	}
	if (!ok) {
		json_decref(h);
		return NULL;
	}
	return h;
}

static json_t *review_not_found(const char *intent_id)
{
	char msg[512];

	snprintf(msg, sizeof msg, "Intent %s not found",
	    intent_id ? intent_id : "");
	return json_pack("{s:s}", "error", msg);
}

json_t *cv_risk_review_build(const struct cv_risk_review_in *in)
{
	bool ok = true, both = in->risk_ev && in->sim_ev;
	const json_t *diags = both && in->diagnostics ? in->diagnostics : NULL;
	char ts[CV_TS_LEN];
	json_t *o;

	if (!in->intent)
		return review_not_found(in->intent_id);
	cv_ts_from_us(ts, in->now_us);
	o = json_object();
	cv_oset(o, "intent_id", json_string(cv_json_str(in->intent, "id",
	    in->intent_id ? in->intent_id : "")), &ok);
	cv_oset(o, "intent", json_deep_copy(in->intent), &ok);
	cv_oset(o, "risk", payload_or_null(in->risk_ev), &ok);
	cv_oset(o, "simulation", payload_or_null(in->sim_ev), &ok);
	cv_oset(o, "policy", payload_or_null(in->policy_ev), &ok);
	cv_oset(o, "diagnostics", diags ? json_deep_copy(diags) : json_array(),
	    &ok);
	cv_oset(o, "compliance", in->compliance ?
	    json_deep_copy(in->compliance) : json_null(), &ok);
	cv_oset(o, "decision_history", history_build(in->history), &ok);
	cv_oset(o, "timestamp", json_string(ts), &ok);
	cv_oset(o, "tenant_id", cv_tenant_json(in->tenant_id), &ok);
	if (in->risk_ev)
		cv_oset(o, "learning", cv_learning_review_build(
		    cv_json_num(cv_ev_payload(in->risk_ev), "risk_score", 0.0),
		    diags), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ---- 9.4 decision export -------------------------------------------------- */

const char *const cv_export_fields[CV_EXPORT_FIELDS_ALL] = {
	"intent_id", "source", "target", "status", "risk_level", "priority",
	"retries", "tenant_id", "created_at", "mergeable", "conflict_count",
	"files_changed_count", "risk_score", "damage_score", "entropy_score",
	"propagation_score", "containment_score", "entropic_load",
	"contextual_value", "complexity_delta", "path_dependence", "bomb_count",
	"bomb_types", "policy_verdict", "policy_profile", "graph_nodes",
	"graph_edges", "graph_density",
};

/* obj[key] copied, or null when absent. */
static json_t *pick(const json_t *obj, const char *key)
{
	json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	return v ? json_deep_copy(v) : json_null();
}

static json_t *bomb_types(const json_t *bombs)
{
	json_t *t = json_array();
	bool ok = t != NULL;
	size_t i;
	const json_t *b;

	json_array_foreach(bombs, i, b)
		cv_aput(t, pick(b, "type"), &ok);
	if (!ok) {
		json_decref(t);
		return NULL;
	}
	return t;
}

static void export_intent(json_t *r, const json_t *it, bool *ok)
{
	static const char *const keys[] = { "source", "target", "status",
	    "risk_level", "priority", "retries", "tenant_id", "created_at" };

	cv_oset(r, "intent_id", pick(it, "id"), ok);
	for (size_t i = 0; i < CV_ARRAY_LEN(keys); i++)
		cv_oset(r, keys[i], pick(it, keys[i]), ok);
}

static void export_risk(json_t *r, const json_t *rp, bool *ok)
{
	static const char *const scores[] = { "risk_score", "damage_score",
	    "entropy_score", "propagation_score", "containment_score" };
	static const char *const signals[] = { "entropic_load",
	    "contextual_value", "complexity_delta", "path_dependence" };
	const json_t *sig = cv_json_obj(rp, "signals");
	const json_t *bombs = cv_json_arr(rp, "bombs");
	size_t i;

	for (i = 0; i < CV_ARRAY_LEN(scores); i++)
		cv_oset(r, scores[i], pick(rp, scores[i]), ok);
	for (i = 0; i < CV_ARRAY_LEN(signals); i++)
		cv_oset(r, signals[i], pick(sig, signals[i]), ok);
	cv_oset(r, "bomb_count", json_integer((json_int_t)json_array_size(
	    bombs)), ok);
	cv_oset(r, "bomb_types", bomb_types(bombs), ok);
}

json_t *cv_export_record_build(const json_t *intent, const json_t *sim_ev,
    const json_t *risk_ev, const json_t *policy_ev, bool with_graph)
{
	const json_t *sp = sim_ev ? cv_ev_payload(sim_ev) : NULL;
	const json_t *rp = risk_ev ? cv_ev_payload(risk_ev) : NULL;
	const json_t *pp = policy_ev ? cv_ev_payload(policy_ev) : NULL;
	const json_t *gm = cv_json_obj(rp, "graph_metrics");
	json_t *r = json_object();
	bool ok = true;

	export_intent(r, intent, &ok);
	cv_oset(r, "mergeable", pick(sp, "mergeable"), &ok);
	cv_oset(r, "conflict_count", json_integer((json_int_t)json_array_size(
	    cv_json_arr(sp, "conflicts"))), &ok);
	cv_oset(r, "files_changed_count", json_integer((json_int_t)
	    json_array_size(cv_json_arr(sp, "files_changed"))), &ok);
	export_risk(r, rp, &ok);
	cv_oset(r, "policy_verdict", pick(pp, "verdict"), &ok);
	cv_oset(r, "policy_profile", pick(pp, "profile_used"), &ok);
	if (with_graph) {
		cv_oset(r, "graph_nodes", pick(gm, "nodes"), &ok);
		cv_oset(r, "graph_edges", pick(gm, "edges"), &ok);
		cv_oset(r, "graph_density", pick(gm, "density"), &ok);
	}
	if (!ok) {
		json_decref(r);
		return NULL;
	}
	return r;
}

/* ---- 9.4 CSV -------------------------------------------------------------- */

/* A growable string; on allocation failure s becomes NULL and stays so. */
struct sbuf {
	char *s;
	size_t len, cap;
};

static void sb_add(struct sbuf *b, const char *t, size_t n)
{
	char *p;

	if (!b->s)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;

		p = realloc(b->s, cap);
		if (!p) {
			free(b->s);
			b->s = NULL;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, t, n);
	b->len += n;
	b->s[b->len] = '\0';
}

/* RFC 4180: quote a cell holding a comma, quote, CR or LF; double quotes. */
static void sb_cell(struct sbuf *b, const char *t)
{
	if (!strpbrk(t, ",\"\r\n")) {
		sb_add(b, t, strlen(t));
		return;
	}
	sb_add(b, "\"", 1);
	for (; *t; t++) {
		if (*t == '"')
			sb_add(b, "\"", 1);
		sb_add(b, t, 1);
	}
	sb_add(b, "\"", 1);
}

/* The text of one value: null empty, booleans True/False (the reference's
 * Python spelling), numbers as num(), arrays joined with ",". */
static void sb_value(struct sbuf *b, const json_t *v)
{
	char num[64];
	struct sbuf j = { malloc(16), 0, 16 };
	size_t i;
	const json_t *e;

	if (j.s)
		j.s[0] = '\0';
	if (json_is_string(v)) {
		sb_add(&j, json_string_value(v), strlen(json_string_value(v)));
	} else if (json_is_boolean(v)) {
		sb_add(&j, json_is_true(v) ? "True" : "False",
		    json_is_true(v) ? 4 : 5);
	} else if (json_is_integer(v)) {
		snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
		sb_add(&j, num, strlen(num));
	} else if (json_is_real(v)) {
		cv_num(num, sizeof num, json_real_value(v));
		sb_add(&j, num, strlen(num));
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, e) {
			const char *t = json_is_string(e) ?
			    json_string_value(e) : "";

			if (i)
				sb_add(&j, ",", 1);
			sb_add(&j, t, strlen(t));
		}
	}
	if (j.s)
		sb_cell(b, j.s);
	else if (b->s) {
		free(b->s);
		b->s = NULL;
	}
	free(j.s);
}

static int clamp_fields(int n)
{
	if (n <= 0 || n > CV_EXPORT_FIELDS_ALL)
		return CV_EXPORT_FIELDS_ALL;
	return n;
}

char *cv_export_csv_header_build(int nfields)
{
	struct sbuf b = { malloc(256), 0, 256 };

	if (b.s)
		b.s[0] = '\0';
	nfields = clamp_fields(nfields);
	for (int i = 0; i < nfields; i++) {
		if (i)
			sb_add(&b, ",", 1);
		sb_cell(&b, cv_export_fields[i]);
	}
	return b.s;
}

char *cv_export_csv_line_build(const json_t *record, int nfields)
{
	struct sbuf b = { malloc(256), 0, 256 };

	if (b.s)
		b.s[0] = '\0';
	nfields = clamp_fields(nfields);
	for (int i = 0; i < nfields; i++) {
		if (i)
			sb_add(&b, ",", 1);
		sb_value(&b, json_object_get(record, cv_export_fields[i]));
	}
	return b.s;
}
