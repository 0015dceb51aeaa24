/*
 * policy.c - policy configuration, gates, risk gate, calibration
 * (domain.md 5).
 */
#include "policy.h"
#include "files.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "cv.h"
#include "jsonx.h"
#include "num.h"

/* 5.1: identical in the built-in defaults and the default file. */
static const struct {
	const char *name;
	double entropy_budget;
	double containment_min;
	double blast_limit;
	int strict;     /* high and critical also require unit_tests */
} default_profiles[] = {
	{ "low",      25.0, 0.3,  50.0, 0 },
	{ "medium",   18.0, 0.5,  35.0, 0 },
	{ "high",     12.0, 0.7,  20.0, 1 },
	{ "critical",  6.0, 0.85, 10.0, 1 },
};

#define DEF_MAX_RISK        65.0
#define DEF_MAX_DAMAGE      60.0
#define DEF_MAX_PROPAGATION 55.0
#define DEF_ENFORCE_RATIO   1.0
#define GATE_REPORT_RECENT  20   /* blocked events listed (5.4) */

/* 5.3: what a gate uses when the profile lacks the key. */
#define GATE_DEF_CONTAINMENT_MIN 0.5
#define GATE_DEF_ENTROPY_BUDGET  18.0

static json_t *default_profile(size_t i)
{
	json_t *checks = default_profiles[i].strict ?
	    json_pack("[ss]", "lint", "unit_tests") : json_pack("[s]", "lint");

	if (!checks)
		return NULL;
	return json_pack("{s:f, s:f, s:f, s:o}",
	    "entropy_budget", default_profiles[i].entropy_budget,
	    "containment_min", default_profiles[i].containment_min,
	    "blast_limit", default_profiles[i].blast_limit,
	    "checks", checks);
}

json_t *cv_policy_defaults(void)
{
	json_t *profiles = json_object();

	if (!profiles)
		return NULL;
	for (size_t i = 0; i < CV_ARRAY_LEN(default_profiles); i++) {
		if (json_object_set_new(profiles, default_profiles[i].name,
		    default_profile(i)) == -1) {
			json_decref(profiles);
			return NULL;
		}
	}
	return json_pack("{s:o, s:{s:i, s:s}, s:{s:f, s:f, s:f, s:s, s:f}}",
	    "profiles", profiles,
	    "queue", "max_retries", 3, "default_target", "main",
	    "risk", "max_risk_score", DEF_MAX_RISK,
	    "max_damage_score", DEF_MAX_DAMAGE,
	    "max_propagation_score", DEF_MAX_PROPAGATION,
	    "mode", "shadow", "enforce_ratio", DEF_ENFORCE_RATIO);
}

/* Sets dst[key] = deep copy of val for every key of src (a shallow
 * merge: nested values replace, they are not merged further). With
 * objects_only, values that are not objects are skipped: a profile must
 * stay an object for the gates to read it. */
static int merge_keys(json_t *dst, const json_t *src, int objects_only)
{
	const char *key;
	json_t *val;

	json_object_foreach((json_t *)src, key, val) {
		if (objects_only && !json_is_object(val))
			continue;
		if (json_object_set_new(dst, key, json_deep_copy(val)) == -1)
			return -1;
	}
	return 0;
}

/* Section `name` of cfg, created empty when cfg lacks it. */
static json_t *section(json_t *cfg, const char *name)
{
	json_t *s = cv_json_obj(cfg, name);

	if (s)
		return s;
	s = json_object();
	if (json_object_set_new(cfg, name, s) == -1)
		return NULL;
	return s;
}

json_t *cv_policy_merge(const json_t *defaults, const json_t *doc)
{
	/* "profiles" is merged one level deep like the other sections: a
	 * named profile replaces the default of that name as a whole, with
	 * no per-key merge inside it. */
	static const char *const sections[] = { "profiles", "queue", "risk" };
	json_t *cfg = json_deep_copy(defaults);

	if (!cfg)
		return NULL;
	for (size_t i = 0; i < CV_ARRAY_LEN(sections); i++) {
		json_t *src = cv_json_obj(doc, sections[i]);
		json_t *dst;

		if (!src)
			continue;
		if (!(dst = section(cfg, sections[i])) ||
		    merge_keys(dst, src, i == 0) == -1) {
			json_decref(cfg);
			return NULL;
		}
	}
	return cfg;
}

static void set_err(char **errmsg, const char *path, const char *detail)
{
	if (errmsg && asprintf(errmsg, "%s: %s", path, detail) == -1)
		*errmsg = NULL;
}

/* Writes the first existing candidate into buf; returns 0, or -1 when
 * none exists. */
static int find_candidate(char *buf, size_t size, const char *explicit_path,
    const char *dir)
{
	static const char *const names[] = {
		".converge/policy.json", "policy.json", "policy.default.json",
	};
	struct stat st;

	if (explicit_path && stat(explicit_path, &st) == 0) {
		snprintf(buf, size, "%s", explicit_path);
		return 0;
	}
	for (size_t i = 0; i < CV_ARRAY_LEN(names); i++) {
		int n = dir ? snprintf(buf, size, "%s/%s", dir, names[i]) :
		    snprintf(buf, size, "%s", names[i]);
		if (n < 0 || (size_t)n >= size)
			continue;
		if (stat(buf, &st) == 0)
			return 0;
	}
	return -1;
}

json_t *cv_policy_load_path(const char *explicit_path, const char *dir,
    char **errmsg)
{
	char path[4096];
	json_error_t jerr;
	json_t *defaults, *doc, *cfg;

	if (errmsg)
		*errmsg = NULL;
	if (!(defaults = cv_policy_defaults()))
		return NULL;
	if (find_candidate(path, sizeof path, explicit_path, dir) == -1)
		return defaults;
	if (!(doc = json_load_file(path, 0, &jerr))) {
		set_err(errmsg, path, jerr.text);
		json_decref(defaults);
		return NULL;
	}
	if (!json_is_object(doc)) {
		set_err(errmsg, path, "top-level value is not an object");
		json_decref(doc);
		json_decref(defaults);
		return NULL;
	}
	cfg = cv_policy_merge(defaults, doc);
	json_decref(doc);
	json_decref(defaults);
	return cfg;
}

json_t *cv_policy_load(const char *dir, char **errmsg)
{
	return cv_policy_load_path(NULL, dir, errmsg);
}

json_t *cv_policy_profile(const json_t *config, const char *risk_level)
{
	json_t *profiles = cv_json_obj(config, "profiles");
	json_t *p = risk_level ? cv_json_obj(profiles, risk_level) : NULL;

	return p ? p : cv_json_obj(profiles, "medium");
}

json_t *cv_policy_required_checks(const json_t *config,
    const char *risk_level)
{
	json_t *checks = cv_json_arr(cv_policy_profile(config, risk_level),
	    "checks");

	return checks ? json_deep_copy(checks) : json_pack("[s]", "lint");
}

/* ---- list(xs) ---- */

/* Python repr() of a str: single quotes unless the text holds a single
 * quote and no double quote. */
static void put_repr(FILE *f, const char *s)
{
	char q = strchr(s, '\'') && !strchr(s, '"') ? '"' : '\'';

	fputc(q, f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '\\' || *p == (unsigned char)q)
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\r')
			fputs("\\r", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
	fputc(q, f);
}

char *cv_list_fmt(const json_t *names)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	size_t i;
	json_t *v;

	if (!f)
		return NULL;
	fputc('[', f);
	json_array_foreach((json_t *)names, i, v) {
		if (i > 0)
			fputs(", ", f);
		if (json_is_string(v)) {
			put_repr(f, json_string_value(v));
		} else {
			char *text = cv_json_dump(v);
			fputs(text ? text : "?", f);
			free(text);
		}
	}
	fputc(']', f);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* ---- the three gates (5.3) ---- */

static json_t *gate(const char *name, int passed, const char *reason,
    json_t *value, json_t *threshold)
{
	return json_pack("{s:s, s:b, s:s, s:o, s:o}", "gate", name,
	    "passed", passed, "reason", reason, "value", value,
	    "threshold", threshold);
}

static int has_name(const json_t *names, const char *name)
{
	size_t i;
	json_t *v;

	json_array_foreach((json_t *)names, i, v) {
		if (json_is_string(v) && strcmp(json_string_value(v), name) == 0)
			return 1;
	}
	return 0;
}

static json_t *verification_gate(const json_t *profile,
    const json_t *checks_passed)
{
	json_t *required = cv_json_arr(profile, "checks");
	json_t *missing = json_array(), *g;
	size_t i;
	json_t *v;
	char *list = NULL, *reason;

	if (!missing)
		return NULL;
	json_array_foreach(required, i, v) {
		if (!json_is_string(v) || !has_name(checks_passed,
		    json_string_value(v)))
			json_array_append(missing, v);
	}
	if (json_array_size(missing) == 0) {
		g = gate("verification", 1, "All required checks passed",
		    json_integer((json_int_t)json_array_size(checks_passed)),
		    json_integer((json_int_t)json_array_size(required)));
	} else if ((list = cv_list_fmt(missing)) &&
	    asprintf(&reason, "Missing checks: %s", list) != -1) {
		g = gate("verification", 0, reason,
		    json_integer((json_int_t)json_array_size(checks_passed)),
		    json_integer((json_int_t)json_array_size(required)));
		free(reason);
	} else {
		g = NULL;
	}
	free(list);
	json_decref(missing);
	return g;
}

static json_t *containment_gate(const json_t *profile, double score)
{
	double min = cv_json_num(profile, "containment_min",
	    GATE_DEF_CONTAINMENT_MIN);
	char reason[128], a[48], b[48];

	cv_fmt(a, sizeof a, score, 2);
	cv_fmt(b, sizeof b, min, 2);
	snprintf(reason, sizeof reason, "Containment %s vs min %s", a, b);
	return gate("containment", score >= min, reason, json_real(score),
	    json_real(min));
}

static json_t *entropy_gate(const json_t *profile, double delta)
{
	double budget = cv_json_num(profile, "entropy_budget",
	    GATE_DEF_ENTROPY_BUDGET);
	char reason[128], a[48], b[48];

	cv_fmt(a, sizeof a, delta, 1);
	cv_fmt(b, sizeof b, budget, 1);
	snprintf(reason, sizeof reason, "Entropy delta %s vs budget %s", a, b);
	return gate("entropy", delta <= budget, reason, json_real(delta),
	    json_real(budget));
}

static const char *known_level(const char *level)
{
	for (size_t i = 0; i < CV_ARRAY_LEN(default_profiles); i++) {
		if (level && strcmp(level, default_profiles[i].name) == 0)
			return level;
	}
	return "medium";
}

json_t *cv_policy_evaluate(const json_t *config, const char *risk_level,
    const json_t *checks_passed, double entropy_delta, double containment)
{
	json_t *own = config ? NULL : cv_policy_defaults();
	const json_t *cfg = config ? config : own;
	json_t *profile = cv_policy_profile(cfg, risk_level);
	json_t *gates, *res = NULL;
	int allow = 1;
	size_t i;
	json_t *g;

	gates = json_pack("[ooo]", verification_gate(profile, checks_passed),
	    containment_gate(profile, containment),
	    entropy_gate(profile, entropy_delta));
	if (gates) {
		json_array_foreach(gates, i, g)
			allow = allow && json_is_true(json_object_get(g, "passed"));
		res = json_pack("{s:s, s:o, s:s, s:s}",
		    "verdict", allow ? "ALLOW" : "BLOCK", "gates", gates,
		    "risk_level", known_level(risk_level),
		    "profile_used", risk_level ? risk_level : "medium");
	}
	json_decref(own);
	return res;
}

/* ---- the risk gate (5.4) ---- */

double cv_rollout_bucket(const char *intent_id)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	uint32_t head;

	if (!intent_id || !*intent_id)
		return 0.0;
	if (!EVP_Digest(intent_id, strlen(intent_id), md, &mdlen,
	    EVP_sha256(), NULL) || mdlen < 4)
		return 0.0;
	/* "first 8 hex digits" = the first four bytes, big-endian. */
	head = (uint32_t)md[0] << 24 | (uint32_t)md[1] << 16 |
	    (uint32_t)md[2] << 8 | (uint32_t)md[3];
	return (double)head / 4294967295.0;
}

static int add_breach(json_t *breaches, const char *metric, double value,
    double limit)
{
	/* Comparison is strict: a score equal to its limit does not breach. */
	if (!(value > limit))
		return 0;
	return json_array_append_new(breaches, json_pack("{s:s, s:f, s:f}",
	    "metric", metric, "value", value, "limit", limit));
}

json_t *cv_risk_gate_evaluate(const json_t *risk_section, double risk_score,
    double damage_score, double propagation_score, const char *intent_id)
{
	const char *mode = cv_json_str(risk_section, "mode", "shadow");
	double ratio = cv_json_num(risk_section, "enforce_ratio",
	    DEF_ENFORCE_RATIO);
	double bucket = cv_rollout_bucket(intent_id);
	json_t *breaches = json_array();
	int would_block, in_group;

	if (!breaches ||
	    add_breach(breaches, "risk_score", risk_score,
	    cv_json_num(risk_section, "max_risk_score", DEF_MAX_RISK)) ||
	    add_breach(breaches, "damage_score", damage_score,
	    cv_json_num(risk_section, "max_damage_score", DEF_MAX_DAMAGE)) ||
	    add_breach(breaches, "propagation_score", propagation_score,
	    cv_json_num(risk_section, "max_propagation_score",
	    DEF_MAX_PROPAGATION))) {
		json_decref(breaches);
		return NULL;
	}
	would_block = json_array_size(breaches) > 0;
	in_group = bucket < ratio;
	return json_pack("{s:b, s:b, s:s, s:f, s:f, s:b, s:o}",
	    "would_block", would_block,
	    "enforced", strcmp(mode, "enforce") == 0 && would_block && in_group,
	    "mode", mode, "enforce_ratio", ratio,
	    "rollout_bucket", cv_round(bucket, 4),
	    "in_enforcement_group", in_group, "breaches", breaches);
}

/* ---- gate report (5.4) ---- */

json_t *cv_risk_gate_report_build(const json_t *policy_events)
{
	json_t *recent = json_array();
	size_t i, total = json_array_size(policy_events), blocked = 0;
	json_t *ev;

	if (!recent)
		return NULL;
	json_array_foreach(policy_events, i, ev) {
		const char *verdict = cv_json_str(cv_json_obj(ev, "payload"),
		    "verdict", "");

		if (strcmp(verdict, "BLOCK") != 0)
			continue;
		if (blocked++ < GATE_REPORT_RECENT &&
		    json_array_append(recent, ev) == -1) {
			json_decref(recent);
			return NULL;
		}
	}
	return json_pack("{s:I, s:I, s:f, s:o}",
	    "total_evaluations", (json_int_t)total,
	    "total_blocked", (json_int_t)blocked,
	    "block_rate", cv_round((double)blocked /
	    (double)(total > 0 ? total : 1), 3),
	    "recent_blocks", recent);
}

/* ---- calibration (5.5, 9.2) ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double entropy_of(const json_t *item)
{
	json_t *payload = cv_json_obj(item, "payload");

	return cv_json_num(payload ? payload : item, "entropy_score", 0.0);
}

/* v[floor(n*q)], the index computed in double then truncated (5.5). */
static double pct(const double *v, size_t n, double q)
{
	size_t i = (size_t)((double)n * q);

	return v[i < n ? i : n - 1];
}

static int set_budget(json_t *profiles, const char *name, double budget)
{
	json_t *p = cv_json_obj(profiles, name);

	if (!p)
		return 0;
	return json_object_set_new(p, "entropy_budget",
	    json_real(cv_round(budget, 1)));
}

json_t *cv_policy_calibrate(const json_t *base_profiles,
    const json_t *history)
{
	json_t *out = json_is_object(base_profiles) ?
	    json_deep_copy(base_profiles) : json_object();
	size_t n = json_array_size(history), i;
	double *v, p75, p90, p95;
	json_t *item;
	int rc;

	if (!out || n == 0)
		return out;
	if (!(v = calloc(n, sizeof *v))) {
		json_decref(out);
		return NULL;
	}
	json_array_foreach((json_t *)history, i, item)
		v[i] = entropy_of(item);
	qsort(v, n, sizeof *v, cmp_double);
	p75 = pct(v, n, 0.75);
	p90 = pct(v, n, 0.90);
	p95 = pct(v, n, 0.95);
	free(v);
	rc = set_budget(out, "low", fmax(p75 * 1.5, 10.0)) |
	    set_budget(out, "medium", fmax(p75, 8.0)) |
	    set_budget(out, "high", fmax(p90, 5.0)) |
	    set_budget(out, "critical", fmax(p95 * 0.8, 3.0));
	if (rc) {
		json_decref(out);
		return NULL;
	}
	return out;
}

json_t *cv_calibration_build(const json_t *config, const json_t *history,
    const char *now_ts, const char *output_path)
{
	json_t *own = config ? NULL : cv_policy_defaults();
	json_t *profiles = cv_policy_calibrate(
	    cv_json_obj(config ? config : own, "profiles"), history);

	json_decref(own);
	if (!profiles)
		return NULL;
	return json_pack("{s:o, s:I, s:s, s:s}",
	    "calibrated_profiles", profiles,
	    "data_points", (json_int_t)json_array_size(history),
	    "timestamp", now_ts ? now_ts : "",
	    "output_path", output_path ? output_path :
	    CV_CALIBRATION_DEFAULT_PATH);
}

int cv_policy_write_profiles(const char *path, const json_t *profiles)
{
	if (cv_mkdir_parents(path) == -1)
		return -1;
	if (json_dump_file(profiles, path,
	    JSON_INDENT(2) | JSON_REAL_PRECISION(15)) == -1) {
		if (errno == 0)
			errno = EIO;
		return -1;
	}
	return 0;
}
