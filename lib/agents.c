/*
 * agents.c - agent policies and authorization (domain.md 1.10, 8;
 * http-api.md 5.4).
 */
#include "agents.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "cv.h"
#include "jsonx.h"
#include "num.h"
#include "policy.h"

#define DEF_MAX_RISK 30.0

json_t *cv_agent_policy_default(const char *agent_id, const char *tenant_id)
{
	return json_pack("{s:s, s:o, s:i, s:f, s:s, s:f, s:b, s:b, s:b,"
	    " s:[s], s:{}, s:n}",
	    "agent_id", agent_id ? agent_id : "",
	    "tenant_id", cv_json_str_or_null(tenant_id && *tenant_id ?
	    tenant_id : NULL),
	    "atl", 0,
	    "max_risk_score", DEF_MAX_RISK,
	    "max_blast_severity", "low",
	    "min_test_coverage", 0.0,
	    "require_compliance_pass", 1,
	    "require_human_approval", 1,
	    "require_dual_approval_on_critical", 1,
	    "allow_actions", "analyze",
	    "action_overrides",
	    "expires_at");
}

/* ---- AgentPolicyBody validation ---- */

enum kind { K_STR, K_INT, K_NUM, K_BOOL, K_STR_LIST, K_OVERRIDES };

/* The 12 fields in spec order; pydantic reports the first failing one in
 * this order, and so do we. */
static const struct field {
	const char *key;
	enum kind kind;
	int nullable;
	int required;           /* and at least one character long */
	int bounded;
	double lo, hi;
	const char *lo_text, *hi_text;
} fields[] = {
	{ "agent_id",                          K_STR,       0, 1, 0, 0, 0, 0, 0 },
	{ "tenant_id",                         K_STR,       1, 0, 0, 0, 0, 0, 0 },
	{ "atl",                               K_INT,       0, 0, 1, 0, 3, "0", "3" },
	{ "max_risk_score",                    K_NUM,       0, 0, 0, 0, 0, 0, 0 },
	{ "max_blast_severity",                K_STR,       0, 0, 0, 0, 0, 0, 0 },
	{ "min_test_coverage",                 K_NUM,       0, 0, 1, 0, 1, "0", "1" },
	{ "require_compliance_pass",           K_BOOL,      0, 0, 0, 0, 0, 0, 0 },
	{ "require_human_approval",            K_BOOL,      0, 0, 0, 0, 0, 0, 0 },
	{ "require_dual_approval_on_critical", K_BOOL,      0, 0, 0, 0, 0, 0, 0 },
	{ "allow_actions",                     K_STR_LIST,  0, 0, 0, 0, 0, 0, 0 },
	{ "action_overrides",                  K_OVERRIDES, 0, 0, 0, 0, 0, 0, 0 },
	{ "expires_at",                        K_STR,       1, 0, 0, 0, 0, 0, 0 },
};

static int bad(char *err, size_t errsize, const char *loc, const char *sub,
    const char *msg)
{
	if (err && errsize)
		snprintf(err, errsize, "body%s%s%s%s: %s", *loc ? "." : "",
		    loc, sub ? "." : "", sub ? sub : "", msg);
	return -1;
}

static int check_bounds(const struct field *f, double x, char *err,
    size_t errsize)
{
	char msg[96];

	if (!f->bounded)
		return 0;
	if (x < f->lo) {
		snprintf(msg, sizeof msg,
		    "Input should be greater than or equal to %s", f->lo_text);
		return bad(err, errsize, f->key, NULL, msg);
	}
	if (x > f->hi) {
		snprintf(msg, sizeof msg,
		    "Input should be less than or equal to %s", f->hi_text);
		return bad(err, errsize, f->key, NULL, msg);
	}
	return 0;
}

static int check_int(const struct field *f, const json_t *v, char *err,
    size_t errsize)
{
	double x;

	if (json_is_integer(v))
		return check_bounds(f, (double)json_integer_value(v), err,
		    errsize);
	if (!json_is_real(v))
		return bad(err, errsize, f->key, NULL,
		    "Input should be a valid integer");
	x = json_real_value(v);
	if (x != floor(x) || fabs(x) > 9e15)
		return bad(err, errsize, f->key, NULL, "Input should be a valid "
		    "integer, got a number with a fractional part");
	return check_bounds(f, x, err, errsize);
}

static int check_list(const struct field *f, const json_t *v, char *err,
    size_t errsize)
{
	char idx[24];
	size_t i;
	json_t *item;

	if (!json_is_array(v))
		return bad(err, errsize, f->key, NULL,
		    "Input should be a valid list");
	json_array_foreach((json_t *)v, i, item) {
		if (!json_is_string(item)) {
			snprintf(idx, sizeof idx, "%zu", i);
			return bad(err, errsize, f->key, idx,
			    "Input should be a valid string");
		}
	}
	return 0;
}

static int check_overrides(const struct field *f, const json_t *v, char *err,
    size_t errsize)
{
	const char *action;
	json_t *limits;

	if (!json_is_object(v))
		return bad(err, errsize, f->key, NULL,
		    "Input should be a valid dictionary");
	json_object_foreach((json_t *)v, action, limits) {
		if (!json_is_object(limits))
			return bad(err, errsize, f->key, action,
			    "Input should be a valid dictionary");
	}
	return 0;
}

/* 0 when v (present in the body) is valid for f, else -1 and err. */
static int check_field(const struct field *f, const json_t *v, char *err,
    size_t errsize)
{
	if (json_is_null(v) && f->nullable)
		return 0;
	switch (f->kind) {
	case K_STR:
		if (!json_is_string(v))
			return bad(err, errsize, f->key, NULL,
			    "Input should be a valid string");
		if (f->required && json_string_length(v) == 0)
			return bad(err, errsize, f->key, NULL,
			    "String should have at least 1 character");
		return 0;
	case K_INT:
		return check_int(f, v, err, errsize);
	case K_NUM:
		if (!json_is_number(v))
			return bad(err, errsize, f->key, NULL,
			    "Input should be a valid number");
		return check_bounds(f, json_number_value(v), err, errsize);
	case K_BOOL:
		if (!json_is_boolean(v))
			return bad(err, errsize, f->key, NULL,
			    "Input should be a valid boolean");
		return 0;
	case K_STR_LIST:
		return check_list(f, v, err, errsize);
	case K_OVERRIDES:
		return check_overrides(f, v, err, errsize);
	}
	return -1;
}

/* The stored form of a valid value: floats as doubles, atl as integer. */
static json_t *convert(const struct field *f, const json_t *v)
{
	if (f->kind == K_NUM)
		return json_real(json_number_value(v));
	if (f->kind == K_INT)
		return json_integer((json_int_t)json_number_value(v));
	return json_deep_copy(v);
}

/* Fills policy from src field by field. strict: stop at the first invalid
 * field with err (a body); else keep the default for it (a stored record
 * written by an older or laxer writer). */
static int fill(json_t *policy, const json_t *src, int strict, char *err,
    size_t errsize)
{
	for (size_t i = 0; i < CV_ARRAY_LEN(fields); i++) {
		const struct field *f = &fields[i];
		json_t *v = json_object_get(src, f->key);

		if (!v) {
			if (strict && f->required)
				return bad(err, errsize, f->key, NULL,
				    "Field required");
			continue;
		}
		if (check_field(f, v, strict ? err : NULL, errsize) == -1) {
			if (strict)
				return -1;
			continue;
		}
		if (json_object_set_new(policy, f->key, convert(f, v)) == -1) {
			bad(err, errsize, f->key, NULL, "out of memory");
			return -1;
		}
	}
	return 0;
}

json_t *cv_agent_policy_from_body(const json_t *body,
    const char *default_tenant, char *err, size_t errsize)
{
	json_t *policy;
	const char *tenant;

	if (!body) {
		bad(err, errsize, "", NULL, "Field required");
		return NULL;
	}
	if (!json_is_object(body)) {
		bad(err, errsize, "", NULL, "Input should be a valid dictionary "
		    "or object to extract fields from");
		return NULL;
	}
	if (!(policy = cv_agent_policy_default(NULL, NULL)))
		return NULL;
	if (fill(policy, body, 1, err, errsize) == -1) {
		json_decref(policy);
		return NULL;
	}
	/* http-api 3.7: effective tenant = requested or the principal's. */
	tenant = cv_json_str(policy, "tenant_id", NULL);
	if ((!tenant || !*tenant) && json_object_set_new(policy, "tenant_id",
	    cv_json_str_or_null(default_tenant && *default_tenant ?
	    default_tenant : NULL)) == -1) {
		json_decref(policy);
		return NULL;
	}
	return policy;
}

json_t *cv_agent_policy_from_stored(const json_t *stored)
{
	json_t *policy;

	if (!json_is_object(stored) ||
	    !(policy = cv_agent_policy_default(NULL, NULL)))
		return NULL;
	if (fill(policy, stored, 0, NULL, 0) == -1) {
		json_decref(policy);
		return NULL;
	}
	return policy;
}

/* ---- authorize (8.2) ---- */

/* 4.12: blast severity of a damage score. */
static const char *blast_severity(double damage)
{
	if (damage < 30)
		return "low";
	if (damage < 50)
		return "medium";
	if (damage < 75)
		return "high";
	return "critical";
}

/* Rank low 0, medium 1, high 2, critical 3; unknown names (and values
 * that are not strings) rank 0. */
static int blast_rank(const char *s)
{
	static const char *const order[] = {
		"low", "medium", "high", "critical"
	};

	for (int i = 0; s && i < (int)CV_ARRAY_LEN(order); i++) {
		if (strcmp(s, order[i]) == 0)
			return i;
	}
	return 0;
}

/* Text of a limit as a message shows it: num() for numbers, the string
 * itself for strings, compact JSON otherwise. Caller frees. */
static char *limit_text(const json_t *v)
{
	char buf[64];

	if (json_is_integer(v)) {
		snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
		return strdup(buf);
	}
	if (json_is_real(v)) {
		cv_num(buf, sizeof buf, json_real_value(v));
		return strdup(buf);
	}
	if (json_is_string(v))
		return strdup(json_string_value(v));
	return cv_json_dump(v);
}

/* Rule 3: the policy's three limits overlaid with the action's override
 * (every key of it, unknown ones too). */
static json_t *effective_limits(const json_t *policy, const char *action)
{
	json_t *lim = json_pack("{s:O?, s:O?, s:O?}",
	    "max_risk_score", json_object_get(policy, "max_risk_score"),
	    "max_blast_severity", json_object_get(policy, "max_blast_severity"),
	    "min_test_coverage", json_object_get(policy, "min_test_coverage"));
	json_t *over = cv_json_obj(cv_json_obj(policy, "action_overrides"),
	    action);

	if (!lim)
		return NULL;
	/* Absent policy keys take the 1.10 defaults. */
	if (json_is_null(json_object_get(lim, "max_risk_score")))
		json_object_set_new(lim, "max_risk_score", json_real(DEF_MAX_RISK));
	if (json_is_null(json_object_get(lim, "max_blast_severity")))
		json_object_set_new(lim, "max_blast_severity", json_string("low"));
	if (json_is_null(json_object_get(lim, "min_test_coverage")))
		json_object_set_new(lim, "min_test_coverage", json_real(0.0));
	if (over && json_object_update(lim, over) == -1) {
		json_decref(lim);
		return NULL;
	}
	return lim;
}

/* Appends a printf-formatted reason. */
static void deny(json_t *reasons, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void deny(json_t *reasons, const char *fmt, ...)
{
	va_list ap;
	char *text;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n == -1)
		return;
	json_array_append_new(reasons, json_string(text));
	free(text);
}

/* Rule 2. An unparseable expires_at is ignored; one without an offset
 * is UTC (cv_ts_parse reads it so, B13). */
static void rule_expiry(json_t *reasons, const json_t *policy, int64_t now)
{
	const char *exp = cv_json_str(policy, "expires_at", NULL);
	int64_t at;

	if (exp && cv_ts_parse(exp, &at) == 0 && now > at)
		deny(reasons, "Policy expired at %s", exp);
}

/* Rule 4. */
static void rule_action(json_t *reasons, const json_t *policy,
    const char *action)
{
	json_t *deflt = NULL, *allowed = cv_json_arr(policy, "allow_actions");
	size_t i;
	json_t *v;
	char *list;

	if (!allowed)
		allowed = deflt = json_pack("[s]", "analyze");
	json_array_foreach(allowed, i, v) {
		if (json_is_string(v) && strcmp(json_string_value(v), action) == 0)
			goto out;
	}
	if ((list = cv_list_fmt(allowed))) {
		deny(reasons, "Action '%s' not in allowed actions: %s", action,
		    list);
		free(list);
	}
out:
	json_decref(deflt);
}

/* Rules 5 and 6: only for a known intent with a risk evaluation. */
static void rule_risk(json_t *reasons, const json_t *limits,
    const json_t *risk_payload)
{
	double risk = cv_json_num(risk_payload, "risk_score", 0.0);
	double damage = cv_json_num(risk_payload, "damage_score", 0.0);
	json_t *max_risk = json_object_get(limits, "max_risk_score");
	/* A limit that is not a number cannot be compared (the reference
	 * would crash); the 1.10 default limit stands in for it. */
	json_t *risk_limit = json_is_number(max_risk) ? json_incref(max_risk) :
	    json_real(DEF_MAX_RISK);
	json_t *max_blast = json_object_get(limits, "max_blast_severity");
	const char *actual = blast_severity(damage);
	char fmt0[64], *text;

	if (risk > json_number_value(risk_limit)) {
		cv_fmt(fmt0, sizeof fmt0, risk, 0);
		if ((text = limit_text(risk_limit))) {
			deny(reasons, "Risk score %s > agent limit %s", fmt0, text);
			free(text);
		}
	}
	if (blast_rank(actual) > blast_rank(json_string_value(max_blast)) &&
	    (text = limit_text(max_blast))) {
		deny(reasons, "Blast severity '%s' exceeds agent limit '%s'",
		    actual, text);
		free(text);
	}
	json_decref(risk_limit);
}

static int64_t now_of(const char *now_ts)
{
	int64_t us;

	return now_ts && cv_ts_parse(now_ts, &us) == 0 ? us : cv_now_us();
}

json_t *cv_agent_authorize(const json_t *policy, const char *action,
    const char *intent_id, const json_t *intent, const json_t *risk_payload,
    const json_t *compliance_report, int human_approvals,
    const char *now_ts)
{
	char ts[CV_TS_LEN];
	json_t *reasons = json_array(), *limits;

	action = action ? action : "";
	if (!reasons || !(limits = effective_limits(policy, action))) {
		json_decref(reasons);
		return NULL;
	}
	if (!now_ts)
		cv_now_ts(ts);
	rule_expiry(reasons, policy, now_of(now_ts));
	rule_action(reasons, policy, action);
	if (intent && risk_payload)
		rule_risk(reasons, limits, risk_payload);
	if (intent && cv_json_bool(policy, "require_compliance_pass", true) &&
	    !cv_json_bool(compliance_report, "passed", true))
		deny(reasons, "Compliance check not passing");
	if (cv_json_bool(policy, "require_human_approval", true) &&
	    human_approvals < 1)
		deny(reasons, "Human approval required but none provided");
	if (intent && strcmp(cv_json_str(intent, "risk_level", ""),
	    "critical") == 0 && cv_json_bool(policy,
	    "require_dual_approval_on_critical", true) && human_approvals < 2)
		deny(reasons, "Critical risk requires 2 approvals, got %d",
		    human_approvals);
	return json_pack("{s:s, s:s, s:s, s:b, s:o, s:I, s:o, s:i, s:s}",
	    "agent_id", cv_json_str(policy, "agent_id", ""),
	    "action", action,
	    "intent_id", intent_id ? intent_id : "",
	    "allowed", json_array_size(reasons) == 0,
	    "reasons", reasons,
	    "atl", (json_int_t)cv_json_int(policy, "atl", 0),
	    "effective_limits", limits,
	    "human_approvals", human_approvals,
	    "timestamp", now_ts ? now_ts : ts);
}
