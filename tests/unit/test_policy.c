/*
 * test_policy.c - domain.md section 10.3 (V26-V41) and the policy rows of
 * 10.4 (V42, V44, V45, V47) and 10.7 (V85), one table per function.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cv.h"
#include "jsonx.h"
#include "policy.h"

static json_t *parse(const char *text)
{
	json_error_t err;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &err);

	if (!v)
		fail_msg("bad JSON in test table: %s: %s", text, err.text);
	return v;
}

/* Fails with both texts when got and the JSON text want differ. */
static void assert_json(const char *row, const json_t *got, const char *want)
{
	json_t *w = parse(want);

	if (!json_equal((json_t *)got, w)) {
		char *g = cv_json_dump(got);
		print_error("%s\n  got:  %s\n  want: %s\n", row, g, want);
		free(g);
		json_decref(w);
		fail();
	}
	json_decref(w);
}

/* obj at a dotted path such as "profiles.low.checks" (borrowed). */
static json_t *at(const json_t *obj, const char *path)
{
	char buf[256], *save = NULL;
	json_t *cur = (json_t *)obj;

	snprintf(buf, sizeof buf, "%s", path);
	for (char *k = strtok_r(buf, ".", &save); k && cur;
	    k = strtok_r(NULL, ".", &save))
		cur = json_object_get(cur, k);
	return cur;
}

#define V_LOW  "{\"entropy_budget\":25.0,\"containment_min\":0.3," \
	"\"blast_limit\":50.0,\"checks\":[\"lint\"]}"
#define V_MED  "{\"entropy_budget\":18.0,\"containment_min\":0.5," \
	"\"blast_limit\":35.0,\"checks\":[\"lint\"]}"
#define V_HIGH "{\"entropy_budget\":12.0,\"containment_min\":0.7," \
	"\"blast_limit\":20.0,\"checks\":[\"lint\",\"unit_tests\"]}"
#define V_CRIT "{\"entropy_budget\":6.0,\"containment_min\":0.85," \
	"\"blast_limit\":10.0,\"checks\":[\"lint\",\"unit_tests\"]}"

/* ---- defaults (5.1, 1.12) ---- */

static void test_defaults(void **state)
{
	json_t *d = cv_policy_defaults();

	(void)state;
	assert_json("defaults", d, "{\"profiles\":{\"low\":" V_LOW
	    ",\"medium\":" V_MED ",\"high\":" V_HIGH ",\"critical\":" V_CRIT
	    "},\"queue\":{\"max_retries\":3,\"default_target\":\"main\"},"
	    "\"risk\":{\"max_risk_score\":65.0,\"max_damage_score\":60.0,"
	    "\"max_propagation_score\":55.0,\"mode\":\"shadow\","
	    "\"enforce_ratio\":1.0}}");
	json_decref(d);
}

/* ---- the three gates (5.3) ---- */

#define GV(p, r, v, t) "{\"gate\":\"verification\",\"passed\":" p \
	",\"reason\":\"" r "\",\"value\":" v ",\"threshold\":" t "}"
#define GC(p, r, v, t) "{\"gate\":\"containment\",\"passed\":" p \
	",\"reason\":\"" r "\",\"value\":" v ",\"threshold\":" t "}"
#define GE(p, r, v, t) "{\"gate\":\"entropy\",\"passed\":" p \
	",\"reason\":\"" r "\",\"value\":" v ",\"threshold\":" t "}"
#define ALL_CHECKS GV("true", "All required checks passed", "1", "1")

static const struct {
	const char *name;
	const char *config;     /* NULL = built-in defaults */
	const char *level;
	const char *checks;
	double entropy, containment;
	const char *want;       /* the whole PolicyEvaluation */
} gate_rows[] = {
	{ "V26", NULL, "medium", "[\"lint\"]", 10.0, 0.7,
	  "{\"verdict\":\"ALLOW\",\"gates\":[" ALL_CHECKS ","
	  GC("true", "Containment 0.70 vs min 0.50", "0.7", "0.5") ","
	  GE("true", "Entropy delta 10.0 vs budget 18.0", "10.0", "18.0")
	  "],\"risk_level\":\"medium\",\"profile_used\":\"medium\"}" },
	{ "V27", NULL, "high", "[\"lint\"]", 5.0, 0.8,
	  "{\"verdict\":\"BLOCK\",\"gates\":["
	  GV("false", "Missing checks: ['unit_tests']", "1", "2") ","
	  GC("true", "Containment 0.80 vs min 0.70", "0.8", "0.7") ","
	  GE("true", "Entropy delta 5.0 vs budget 12.0", "5.0", "12.0")
	  "],\"risk_level\":\"high\",\"profile_used\":\"high\"}" },
	{ "V28", NULL, "medium", "[\"lint\"]", 10.0, 0.2,
	  "{\"verdict\":\"BLOCK\",\"gates\":[" ALL_CHECKS ","
	  GC("false", "Containment 0.20 vs min 0.50", "0.2", "0.5") ","
	  GE("true", "Entropy delta 10.0 vs budget 18.0", "10.0", "18.0")
	  "],\"risk_level\":\"medium\",\"profile_used\":\"medium\"}" },
	{ "V29", NULL, "medium", "[\"lint\"]", 25.0, 0.6,
	  "{\"verdict\":\"BLOCK\",\"gates\":[" ALL_CHECKS ","
	  GC("true", "Containment 0.60 vs min 0.50", "0.6", "0.5") ","
	  GE("false", "Entropy delta 25.0 vs budget 18.0", "25.0", "18.0")
	  "],\"risk_level\":\"medium\",\"profile_used\":\"medium\"}" },
	{ "V30", NULL, "low", "[\"lint\"]", 20.0, 0.4,
	  "{\"verdict\":\"ALLOW\",\"gates\":[" ALL_CHECKS ","
	  GC("true", "Containment 0.40 vs min 0.30", "0.4", "0.3") ","
	  GE("true", "Entropy delta 20.0 vs budget 25.0", "20.0", "25.0")
	  "],\"risk_level\":\"low\",\"profile_used\":\"low\"}" },
	{ "V31", NULL, "critical", "[\"lint\",\"unit_tests\"]", 7.0, 0.9,
	  "{\"verdict\":\"BLOCK\",\"gates\":["
	  GV("true", "All required checks passed", "2", "2") ","
	  GC("true", "Containment 0.90 vs min 0.85", "0.9", "0.85") ","
	  GE("false", "Entropy delta 7.0 vs budget 6.0", "7.0", "6.0")
	  "],\"risk_level\":\"critical\",\"profile_used\":\"critical\"}" },
	/* V42: validate of eng-001, skipped checks count as passed. */
	{ "V42", NULL, "medium", "[\"lint\"]", 7.0, 0.87,
	  "{\"verdict\":\"ALLOW\",\"gates\":[" ALL_CHECKS ","
	  GC("true", "Containment 0.87 vs min 0.50", "0.87", "0.5") ","
	  GE("true", "Entropy delta 7.0 vs budget 18.0", "7.0", "18.0")
	  "],\"risk_level\":\"medium\",\"profile_used\":\"medium\"}" },
	{ "V44", NULL, "medium", "[\"lint\"]", 45.0, 0.0,
	  "{\"verdict\":\"BLOCK\",\"gates\":[" ALL_CHECKS ","
	  GC("false", "Containment 0.00 vs min 0.50", "0.0", "0.5") ","
	  GE("false", "Entropy delta 45.0 vs budget 18.0", "45.0", "18.0")
	  "],\"risk_level\":\"medium\",\"profile_used\":\"medium\"}" },
	/* V45: the same one-file change at level high (2/2 checks). */
	{ "V45", NULL, "high", "[\"lint\",\"unit_tests\"]", 7.0, 0.87,
	  "{\"verdict\":\"ALLOW\",\"gates\":["
	  GV("true", "All required checks passed", "2", "2") ","
	  GC("true", "Containment 0.87 vs min 0.70", "0.87", "0.7") ","
	  GE("true", "Entropy delta 7.0 vs budget 12.0", "7.0", "12.0")
	  "],\"risk_level\":\"high\",\"profile_used\":\"high\"}" },
	/* Unknown level: medium profile, the requested string echoed. */
	{ "unknown level", NULL, "nonexistent", "[\"lint\"]", 18.0, 0.5,
	  "{\"verdict\":\"ALLOW\",\"gates\":[" ALL_CHECKS ","
	  GC("true", "Containment 0.50 vs min 0.50", "0.5", "0.5") ","
	  GE("true", "Entropy delta 18.0 vs budget 18.0", "18.0", "18.0")
	  "],\"risk_level\":\"medium\",\"profile_used\":\"nonexistent\"}" },
	{ "no checks passed", NULL, "critical", "[]", 1.0, 1.0,
	  "{\"verdict\":\"BLOCK\",\"gates\":["
	  GV("false", "Missing checks: ['lint', 'unit_tests']", "0", "2") ","
	  GC("true", "Containment 1.00 vs min 0.85", "1.0", "0.85") ","
	  GE("true", "Entropy delta 1.0 vs budget 6.0", "1.0", "6.0")
	  "],\"risk_level\":\"critical\",\"profile_used\":\"critical\"}" },
	/* A replaced profile without keys: gate defaults [], 0.5, 18.0. */
	{ "empty profile", "{\"profiles\":{\"low\":{}}}", "low", NULL,
	  18.05, 0.499,
	  "{\"verdict\":\"BLOCK\",\"gates\":["
	  GV("true", "All required checks passed", "0", "0") ","
	  GC("false", "Containment 0.50 vs min 0.50", "0.499", "0.5") ","
	  GE("false", "Entropy delta 18.1 vs budget 18.0", "18.05", "18.0")
	  "],\"risk_level\":\"low\",\"profile_used\":\"low\"}" },
};

static void test_gates(void **state)
{
	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(gate_rows); i++) {
		json_t *cfg = gate_rows[i].config ?
		    parse(gate_rows[i].config) : NULL;
		json_t *checks = gate_rows[i].checks ?
		    parse(gate_rows[i].checks) : NULL;
		json_t *got = cv_policy_evaluate(cfg, gate_rows[i].level, checks,
		    gate_rows[i].entropy, gate_rows[i].containment);

		assert_json(gate_rows[i].name, got, gate_rows[i].want);
		json_decref(got);
		json_decref(checks);
		json_decref(cfg);
	}
}

/* ---- profile_for and required checks (5.1, 3.3) ---- */

static const struct {
	const char *name;
	const char *config;     /* NULL = built-in defaults */
	const char *level;
	const char *profile;
	const char *required;
} profile_rows[] = {
	{ "V32", NULL, "nonexistent", V_MED, "[\"lint\"]" },
	{ "NULL level", NULL, NULL, V_MED, "[\"lint\"]" },
	{ "low", NULL, "low", V_LOW, "[\"lint\"]" },
	{ "high", NULL, "high", V_HIGH, "[\"lint\",\"unit_tests\"]" },
	{ "critical", NULL, "critical", V_CRIT, "[\"lint\",\"unit_tests\"]" },
	{ "no checks key", "{\"profiles\":{\"high\":{\"entropy_budget\":9.0}}}",
	  "high", "{\"entropy_budget\":9.0}", "[\"lint\"]" },
	{ "empty checks", "{\"profiles\":{\"high\":{\"checks\":[]}}}",
	  "high", "{\"checks\":[]}", "[]" },
};

static void test_profiles(void **state)
{
	json_t *defaults = cv_policy_defaults();

	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(profile_rows); i++) {
		json_t *doc = profile_rows[i].config ?
		    parse(profile_rows[i].config) : json_object();
		json_t *cfg = cv_policy_merge(defaults, doc);
		json_t *req = cv_policy_required_checks(cfg,
		    profile_rows[i].level);

		assert_json(profile_rows[i].name,
		    cv_policy_profile(cfg, profile_rows[i].level),
		    profile_rows[i].profile);
		assert_json(profile_rows[i].name, req, profile_rows[i].required);
		json_decref(req);
		json_decref(cfg);
		json_decref(doc);
	}
	json_decref(defaults);
}

/* ---- the risk gate (5.4) ---- */

#define RG(wb, enf, mode, ratio, bucket, grp, breaches) \
	"{\"would_block\":" wb ",\"enforced\":" enf ",\"mode\":\"" mode \
	"\",\"enforce_ratio\":" ratio ",\"rollout_bucket\":" bucket \
	",\"in_enforcement_group\":" grp ",\"breaches\":" breaches "}"
#define BR(m, v, l) "{\"metric\":\"" m "\",\"value\":" v ",\"limit\":" l "}"

static const struct {
	const char *name;
	const char *risk;       /* the risk section; NULL = none */
	double r, d, p;
	const char *intent;
	const char *want;
} risk_rows[] = {
	{ "V33", NULL, 40, 30, 20, NULL,
	  RG("false", "false", "shadow", "1.0", "0.0", "true", "[]") },
	{ "V34", NULL, 70, 30, 20, NULL,
	  RG("true", "false", "shadow", "1.0", "0.0", "true",
	  "[" BR("risk_score", "70.0", "65.0") "]") },
	{ "V35", "{\"mode\":\"enforce\"}", 70, 30, 20, NULL,
	  RG("true", "true", "enforce", "1.0", "0.0", "true",
	  "[" BR("risk_score", "70.0", "65.0") "]") },
	{ "V36", "{\"mode\":\"enforce\",\"enforce_ratio\":0.0}", 70, 30, 20,
	  "any-intent",
	  RG("true", "false", "enforce", "0.0", "0.3167", "false",
	  "[" BR("risk_score", "70.0", "65.0") "]") },
	{ "V37", "{\"mode\":\"enforce\",\"enforce_ratio\":0.5}", 70, 61, 56,
	  "intent-abc",
	  RG("true", "false", "enforce", "0.5", "0.7874", "false",
	  "[" BR("risk_score", "70.0", "65.0") ","
	  BR("damage_score", "61.0", "60.0") ","
	  BR("propagation_score", "56.0", "55.0") "]") },
	{ "V38", NULL, 65, 60, 55, NULL,
	  RG("false", "false", "shadow", "1.0", "0.0", "true", "[]") },
	{ "V38 defaults section", "{\"max_risk_score\":65.0,"
	  "\"max_damage_score\":60.0,\"max_propagation_score\":55.0,"
	  "\"mode\":\"shadow\",\"enforce_ratio\":1.0}", 65, 60, 55, "",
	  RG("false", "false", "shadow", "1.0", "0.0", "true", "[]") },
	/* V47 q-ok: merged under the default shadow gate. */
	{ "V47 q-ok", NULL, 14.2, 5.0, 3.0, "q-ok",
	  RG("false", "false", "shadow", "1.0", "0.2966", "true", "[]") },
	/* Missing thresholds fall back per key (operations.md risk shadow). */
	{ "partial section", "{\"max_risk_score\":90.0}", 70, 61, 20, NULL,
	  RG("true", "false", "shadow", "1.0", "0.0", "true",
	  "[" BR("damage_score", "61.0", "60.0") "]") },
	{ "enforce in group", "{\"mode\":\"enforce\",\"enforce_ratio\":0.5}",
	  70, 30, 20, "intent-002",
	  RG("true", "true", "enforce", "0.5", "0.0866", "true",
	  "[" BR("risk_score", "70.0", "65.0") "]") },
	{ "enforce no breach", "{\"mode\":\"enforce\"}", 10, 10, 10, "eng-001",
	  RG("false", "false", "enforce", "1.0", "0.364", "true", "[]") },
};

static void test_risk_gate(void **state)
{
	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(risk_rows); i++) {
		json_t *sec = risk_rows[i].risk ? parse(risk_rows[i].risk) : NULL;
		json_t *got = cv_risk_gate_evaluate(sec, risk_rows[i].r,
		    risk_rows[i].d, risk_rows[i].p, risk_rows[i].intent);

		assert_json(risk_rows[i].name, got, risk_rows[i].want);
		json_decref(got);
		json_decref(sec);
	}
}

/* ---- V39 rollout buckets ---- */

static const struct {
	const char *intent;
	double bucket, round4;
} bucket_rows[] = {
	{ "intent-abc",  0.7873766591743047,  0.7874 },
	{ "intent-001",  0.9263856452718344,  0.9264 },
	{ "intent-002",  0.08659166216072432, 0.0866 },
	{ "test-intent", 0.774846130696788,   0.7748 },
	{ "any-intent",  0.31670266420503673, 0.3167 },
	{ "eng-001",     0.36400317409169003, 0.364 },
	{ "",            0.0,                 0.0 },
	{ NULL,          0.0,                 0.0 },
};

static void test_buckets(void **state)
{
	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(bucket_rows); i++) {
		double b = cv_rollout_bucket(bucket_rows[i].intent);
		json_t *g = cv_risk_gate_evaluate(NULL, 0, 0, 0,
		    bucket_rows[i].intent);

		assert_true(b == bucket_rows[i].bucket);
		assert_true(cv_json_num(g, "rollout_bucket", -1) ==
		    bucket_rows[i].round4);
		json_decref(g);
	}
}

/* ---- V40 / V85 calibration ---- */

static const struct {
	const char *name;
	double first, step;
	size_t count;
	int as_events;          /* pass whole events, not payloads */
	double low, medium, high, critical;
} calib_rows[] = {
	{ "V40 i*2.0", 0.0, 2.0, 100, 0, 225.0, 150.0, 180.0, 152.0 },
	{ "V40 3..22", 3.0, 1.0, 20, 0, 27.0, 18.0, 21.0, 17.6 },
	{ "V40 single", 4.0, 0.0, 1, 0, 10.0, 8.0, 5.0, 3.2 },
	{ "V40 empty", 0.0, 0.0, 0, 0, 25.0, 18.0, 12.0, 6.0 },
	{ "V85 events", 3.0, 1.0, 20, 1, 27.0, 18.0, 21.0, 17.6 },
};

static json_t *history(size_t row)
{
	json_t *h = json_array();

	for (size_t i = 0; i < calib_rows[row].count; i++) {
		double e = calib_rows[row].first + (double)i * calib_rows[row].step;
		json_t *payload = json_pack("{s:s, s:f, s:f}", "intent_id", "x",
		    "risk_score", 1.0, "entropy_score", e);

		json_array_append_new(h, calib_rows[row].as_events ?
		    json_pack("{s:s, s:o}", "event_type", "risk.evaluated",
		    "payload", payload) : payload);
	}
	return h;
}

static void test_calibration(void **state)
{
	json_t *defaults = cv_policy_defaults();

	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(calib_rows); i++) {
		json_t *h = history(i);
		json_t *res = cv_calibration_build(defaults, h,
		    "2026-01-01T00:00:00.000000+00:00", NULL);
		json_t *want = json_deep_copy(json_object_get(defaults,
		    "profiles"));

		json_object_set_new(at(want, "low"), "entropy_budget",
		    json_real(calib_rows[i].low));
		json_object_set_new(at(want, "medium"), "entropy_budget",
		    json_real(calib_rows[i].medium));
		json_object_set_new(at(want, "high"), "entropy_budget",
		    json_real(calib_rows[i].high));
		json_object_set_new(at(want, "critical"), "entropy_budget",
		    json_real(calib_rows[i].critical));
		if (!json_equal(at(res, "calibrated_profiles"), want))
			fail_msg("%s: profiles differ", calib_rows[i].name);
		assert_int_equal(cv_json_int(res, "data_points", -1),
		    calib_rows[i].count);
		assert_string_equal(cv_json_str(res, "output_path", ""),
		    ".converge/calibrated_profiles.json");
		assert_string_equal(cv_json_str(res, "timestamp", ""),
		    "2026-01-01T00:00:00.000000+00:00");
		json_decref(want);
		json_decref(res);
		json_decref(h);
	}
	json_decref(defaults);
}

/* ---- V41 and 5.2: merging a file over the defaults ---- */

static const struct {
	const char *name;
	const char *doc;
	const char *paths[7];   /* dotted path, NULL-terminated */
	const char *want[7];    /* expected JSON at each path */
} merge_rows[] = {
	{ "V41", "{\"queue\":{\"max_retries\":7}}",
	  { "queue.max_retries", "queue.default_target", "risk.max_risk_score",
	    "profiles.low", "profiles.critical" },
	  { "7", "\"main\"", "65.0", V_LOW, V_CRIT } },
	{ "5.2 example", "{\"profiles\":{\"low\":{\"entropy_budget\":40.0}},"
	  "\"queue\":{\"max_retries\":10},\"risk\":{\"max_risk_score\":90.0}}",
	  { "profiles.low", "profiles.medium", "queue.max_retries",
	    "risk.max_risk_score", "risk.max_damage_score", "risk.mode" },
	  { "{\"entropy_budget\":40.0}", V_MED, "10", "90.0", "60.0",
	    "\"shadow\"" } },
	{ "new profile added", "{\"profiles\":{\"custom\":{\"checks\":[]}}}",
	  { "profiles.custom", "profiles.medium" },
	  { "{\"checks\":[]}", V_MED } },
	{ "risk keys merged", "{\"risk\":{\"mode\":\"enforce\","
	  "\"enforce_ratio\":0.25,\"extra\":1}}",
	  { "risk.mode", "risk.enforce_ratio", "risk.extra",
	    "risk.max_propagation_score" },
	  { "\"enforce\"", "0.25", "1", "55.0" } },
	{ "wrong section types ignored", "{\"risk\":\"x\",\"queue\":[1],"
	  "\"profiles\":{\"low\":5},\"other\":{}}",
	  { "risk.mode", "queue.max_retries", "profiles.low" },
	  { "\"shadow\"", "3", V_LOW } },
	{ "not an object", "[1,2]",
	  { "queue.max_retries", "profiles.high" }, { "3", V_HIGH } },
};

static void test_merge(void **state)
{
	json_t *defaults = cv_policy_defaults();

	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(merge_rows); i++) {
		json_t *doc = parse(merge_rows[i].doc);
		json_t *cfg = cv_policy_merge(defaults, doc);

		for (size_t k = 0; merge_rows[i].paths[k]; k++)
			assert_json(merge_rows[i].paths[k],
			    at(cfg, merge_rows[i].paths[k]), merge_rows[i].want[k]);
		json_decref(cfg);
		json_decref(doc);
	}
	json_decref(defaults);
}

/* ---- 5.2 loading: which file wins, what an invalid file does ---- */

struct file { const char *name, *text; };

static const struct {
	const char *name;
	struct file files[3];   /* created in a fresh directory */
	const char *explicit_path; /* relative to that directory */
	int max_retries;        /* expected, or -1 for a load error */
	const char *err_names;  /* the error text must contain this */
} load_rows[] = {
	{ "V41 no file", { { NULL, NULL } }, NULL, 3, NULL },
	{ "V41 missing explicit", { { NULL, NULL } }, "nope.json", 3, NULL },
	{ "default file", { { "policy.default.json",
	  "{\"queue\":{\"max_retries\":7}}" } }, NULL, 7, NULL },
	{ ".converge first", { { ".converge/policy.json",
	  "{\"queue\":{\"max_retries\":1}}" }, { "policy.json",
	  "{\"queue\":{\"max_retries\":2}}" } }, NULL, 1, NULL },
	{ "policy.json before default", { { "policy.json",
	  "{\"queue\":{\"max_retries\":2}}" }, { "policy.default.json",
	  "{\"queue\":{\"max_retries\":3}}" } }, NULL, 2, NULL },
	{ "explicit first", { { "mine.json",
	  "{\"queue\":{\"max_retries\":9}}" }, { ".converge/policy.json",
	  "{\"queue\":{\"max_retries\":1}}" } }, "mine.json", 9, NULL },
	{ "invalid JSON", { { "policy.json", "{\"queue\": " } }, NULL, -1,
	  "policy.json" },
	{ "invalid winner, no fallback", { { ".converge/policy.json", "nope" },
	  { "policy.json", "{}" } }, NULL, -1, ".converge/policy.json" },
	{ "not an object", { { "policy.json", "[]" } }, NULL, -1,
	  "policy.json" },
};

static void write_file(const char *dir, const struct file *f)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof path, "%s/.converge", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/%s", dir, f->name);
	assert_non_null(fp = fopen(path, "w"));
	fputs(f->text, fp);
	fclose(fp);
}

static void remove_files(const char *dir, size_t row)
{
	char path[512];

	for (size_t k = 0; load_rows[row].files[k].name; k++) {
		snprintf(path, sizeof path, "%s/%s", dir,
		    load_rows[row].files[k].name);
		unlink(path);
	}
	snprintf(path, sizeof path, "%s/.converge", dir);
	rmdir(path);
}

static void test_load(void **state)
{
	char tmpl[] = "/tmp/test_policy.XXXXXX";
	char *dir = mkdtemp(tmpl), explicit[512];

	(void)state;
	assert_non_null(dir);
	for (size_t i = 0; i < CV_ARRAY_LEN(load_rows); i++) {
		char *err = NULL;
		json_t *cfg;

		for (size_t k = 0; load_rows[i].files[k].name; k++)
			write_file(dir, &load_rows[i].files[k]);
		if (load_rows[i].explicit_path)
			snprintf(explicit, sizeof explicit, "%s/%s", dir,
			    load_rows[i].explicit_path);
		cfg = cv_policy_load_path(load_rows[i].explicit_path ?
		    explicit : NULL, dir, &err);
		if (load_rows[i].max_retries < 0) {
			assert_null(cfg);
			assert_non_null(err);
			assert_non_null(strstr(err, load_rows[i].err_names));
		} else {
			assert_non_null(cfg);
			assert_null(err);
			assert_int_equal(cv_json_int(at(cfg, "queue"),
			    "max_retries", -1), load_rows[i].max_retries);
		}
		free(err);
		json_decref(cfg);
		remove_files(dir, i);
	}
	rmdir(dir);
}

static void test_write_profiles(void **state)
{
	char tmpl[] = "/tmp/test_policy.XXXXXX";
	char *dir = mkdtemp(tmpl), path[512], sub[512];
	json_t *d = cv_policy_defaults(), *back;

	(void)state;
	assert_non_null(dir);
	snprintf(path, sizeof path, "%s/.converge/calibrated_profiles.json",
	    dir);
	assert_int_equal(cv_policy_write_profiles(path,
	    at(d, "profiles")), 0);
	assert_non_null(back = json_load_file(path, 0, NULL));
	assert_true(json_equal(back, at(d, "profiles")));
	json_decref(back);
	json_decref(d);
	unlink(path);
	snprintf(sub, sizeof sub, "%s/.converge", dir);
	rmdir(sub);
	rmdir(dir);
}

/* ---- list(xs) of section 0 ---- */

static const struct {
	const char *names;
	const char *want;
} list_rows[] = {
	{ "[]", "[]" },
	{ "[\"lint\"]", "['lint']" },
	{ "[\"lint\",\"unit_tests\"]", "['lint', 'unit_tests']" },
	{ "[\"it's\"]", "[\"it's\"]" },
	{ "[\"a'b\\\"c\"]", "['a\\'b\"c']" },
	{ "[\"a\\\\b\"]", "['a\\\\b']" },
	{ "[\"tab\\t\"]", "['tab\\t']" },
};

static void test_list_fmt(void **state)
{
	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(list_rows); i++) {
		json_t *names = parse(list_rows[i].names);
		char *got = cv_list_fmt(names);

		assert_string_equal(got, list_rows[i].want);
		free(got);
		json_decref(names);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_gates),
		cmocka_unit_test(test_profiles),
		cmocka_unit_test(test_risk_gate),
		cmocka_unit_test(test_buckets),
		cmocka_unit_test(test_calibration),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_write_profiles),
		cmocka_unit_test(test_list_fmt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
