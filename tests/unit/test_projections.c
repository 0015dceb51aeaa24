/*
 * test_projections.c - domain.md 10.5 (V56-V72) and the learning/review
 * rows of 10.7 (V84), plus the learning, compliance-alias (http-api 2.5)
 * and export tables, against the pure builders of projections.h.
 *
 * An in-memory event log stands in for the store: q() answers the same
 * queries the header comments tell the caller to run, so each test also
 * exercises the documented caller contract.
 *
 * Expected values are JSON texts matched as subsets: every key written in
 * the expectation must be present with an equal value (integers and reals
 * are different types, so `5` vs `5.0` is checked too); arrays must match
 * element by element with equal length.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "jsonx.h"
#include "projections.h"

#define NOW_US ((int64_t)1795694400 * 1000000)   /* 2026-11-26T12:00Z */
#define SEC ((int64_t)1000000)
#define HOUR (3600 * SEC)

/* ---- the in-memory log ---------------------------------------------------- */

static void log_add(json_t *log, const char *type, const char *intent,
    const char *agent, const char *tenant, int64_t ts_us, json_t *payload)
{
	char ts[CV_TS_LEN], id[16];

	cv_ts_from_us(ts, ts_us);
	snprintf(id, sizeof id, "ev%010zu", json_array_size(log));
	json_array_append_new(log, json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, "
	    "s:o, s:o, s:o}", "id", id, "trace_id", "trace-test", "timestamp",
	    ts, "event_type", type, "intent_id", cv_json_str_or_null(intent),
	    "agent_id", cv_json_str_or_null(agent), "tenant_id",
	    cv_json_str_or_null(tenant), "payload",
	    payload ? payload : json_object(), "evidence", json_object()));
}

static bool match_opt(const char *want, const json_t *ev, const char *key)
{
	const char *have;

	if (!want || !*want)
		return true;
	have = cv_json_str(ev, key, NULL);
	return have && !strcmp(have, want);
}

/* The query of domain.md 2.2 over the log: equality filters, timestamp >=
 * since (0 = none), newest first with ties broken by append order. */
static json_t *q(const json_t *log, const char *type, const char *intent,
    const char *agent, const char *tenant, int64_t since_us, int limit)
{
	char since[CV_TS_LEN];
	json_t *out = json_array();
	size_t n = json_array_size(log);

	cv_ts_from_us(since, since_us);
	/* Appended in time order by the fixtures, so reverse append order is
	 * the 2.2 order. */
	for (size_t k = n; k-- > 0;) {
		json_t *ev = json_array_get(log, k);

		if (limit > 0 && (int)json_array_size(out) >= limit)
			break;
		if (type && strcmp(cv_json_str(ev, "event_type", ""), type))
			continue;
		if (!match_opt(intent, ev, "intent_id") ||
		    !match_opt(agent, ev, "agent_id") ||
		    !match_opt(tenant, ev, "tenant_id"))
			continue;
		if (since_us && strcmp(cv_json_str(ev, "timestamp", ""),
		    since) < 0)
			continue;
		json_array_append(out, ev);
	}
	return out;
}

static json_t *latest(const json_t *log, const char *type,
    const char *intent)
{
	json_t *r = q(log, type, intent, NULL, NULL, 0, 1);
	json_t *ev = json_incref(json_array_get(r, 0));

	json_decref(r);
	return ev;
}

/* Seed S of 10.5, extended with requeued/reset/blocked counts for the
 * compliance and metrics rows. */
struct seed {
	int sims, merged, rejected, requeued, resets, blocked;
};

static json_t *seed_log(const struct seed *s)
{
	json_t *log = json_array();
	int64_t t = NOW_US - 600 * SEC;
	char intent[16];

	for (int i = 0; i < s->sims; i++) {
		bool ok = i < s->sims - 2;

		snprintf(intent, sizeof intent, "int-%03d", i);
		log_add(log, "simulation.completed", intent, NULL, "team-a",
		    t += SEC, json_pack("{s:b, s:[s*], s:[], s:s, s:s}",
		    "mergeable", ok, "conflicts", ok ? NULL : "x.py",
		    "files_changed", "source", "feature/x", "target", "main"));
		log_add(log, "risk.evaluated", intent, NULL, "team-a", t += SEC,
		    json_pack("{s:f, s:f, s:f, s:f, s:f}", "risk_score", i * 5.0,
		    "damage_score", i * 3.0, "entropy_score", i * 2.0,
		    "propagation_score", i * 1.5, "containment_score",
		    1 - i * 0.08 > 0 ? 1 - i * 0.08 : 0.0));
	}
	for (int i = 0; i < s->merged; i++)
		log_add(log, "intent.merged", "m", NULL, "team-a", t += SEC,
		    NULL);
	for (int i = 0; i < s->rejected; i++)
		log_add(log, "intent.rejected", "r", NULL, "team-a", t += SEC,
		    NULL);
	for (int i = 0; i < s->requeued; i++)
		log_add(log, "intent.requeued", "q", NULL, "team-a", t += SEC,
		    NULL);
	for (int i = 0; i < s->resets; i++)
		log_add(log, "queue.reset", "q", NULL, "team-a", t += SEC, NULL);
	for (int i = 0; i < s->blocked; i++)
		log_add(log, "intent.blocked", "b", NULL, "team-a", t += SEC,
		    NULL);
	return log;
}

/* ---- the subset matcher --------------------------------------------------- */

static bool subset(const json_t *want, const json_t *have)
{
	const char *k;
	json_t *v;
	size_t i;

	if (json_is_object(want)) {
		if (!json_is_object(have))
			return false;
		json_object_foreach((json_t *)want, k, v)
			if (!subset(v, json_object_get(have, k)))
				return false;
		return true;
	}
	if (json_is_array(want)) {
		if (!json_is_array(have) ||
		    json_array_size(want) != json_array_size(have))
			return false;
		json_array_foreach(want, i, v)
			if (!subset(v, json_array_get(have, i)))
				return false;
		return true;
	}
	return have && json_equal((json_t *)want, (json_t *)have);
}

static void expect(const char *vec, const json_t *have, const char *want_text)
{
	json_error_t err;
	json_t *want = json_loads(want_text, 0, &err);

	if (!want)
		fail_msg("%s: bad expectation JSON: %s", vec, err.text);
	if (!subset(want, have)) {
		char *h = cv_json_dump(have);

		print_error("%s: got %s\nwant %s\n", vec, h ? h : "NULL",
		    want_text);
		free(h);
		json_decref(want);
		fail();
	}
	json_decref(want);
}

static json_t *parse(const char *text)
{
	json_t *v = json_loads(text ? text : "null", 0, NULL);

	assert_non_null(v);
	return v;
}

/* ---- V56-V58 repo health -------------------------------------------------- */

/* The caller's queries of cv_health_repo_build (header contract). */
static json_t *repo_health(const json_t *log, const char *tenant)
{
	int64_t since = NOW_US - 24 * HOUR;
	json_t *sims = q(log, "simulation.completed", NULL, NULL, tenant,
	    since, 10000);
	json_t *risks = q(log, "risk.evaluated", NULL, NULL, tenant, since,
	    10000);
	json_t *merged = q(log, "intent.merged", NULL, NULL, tenant, since,
	    10000);
	json_t *rejected = q(log, "intent.rejected", NULL, NULL, tenant, since,
	    10000);
	json_t *intents = json_array();
	struct cv_repo_health_in in = { sims, risks, merged, rejected, intents,
	    tenant, 24, NOW_US, 0 };
	json_t *r = cv_health_repo_build(&in);

	json_decref(sims);
	json_decref(risks);
	json_decref(merged);
	json_decref(rejected);
	json_decref(intents);
	return r;
}

static void test_repo_health(void **state)
{
	static const struct {
		const char *vec;
		struct seed seed;
		const char *tenant;
		const char *want;
	} rows[] = {
		{ "V56", { 10, 5, 2, 0, 0, 0 }, "team-a",
		  "{\"repo_health_score\":86.5,\"entropy_score\":9.0,"
		  "\"mergeable_rate\":0.8,\"conflict_rate\":0.2,"
		  "\"active_intents\":0,\"merged_last_24h\":5,"
		  "\"rejected_last_24h\":2,\"status\":\"green\","
		  "\"timestamp\":\"2026-11-26T12:00:00.000000+00:00\","
		  "\"tenant_id\":\"team-a\",\"learning\":{"
		  "\"summary\":\"Repo health is strong (score: 86)\","
		  "\"level\":\"strong\",\"lessons\":[{\"code\":"
		  "\"learn.low_mergeable\",\"priority\":2,\"metric\":{\"name\":"
		  "\"mergeable_rate\",\"observed\":0.8,\"target\":0.85}}],"
		  "\"next_actions\":[\"Reduce average change size and enforce "
		  "pre-merge checks\"]}}" },
		{ "V57", { 10, 5, 5, 0, 0, 0 }, "team-a",
		  "{\"repo_health_score\":82.0,\"learning\":{\"lessons\":["
		  "{\"code\":\"learn.frequent_rejections\",\"priority\":1,"
		  "\"metric\":{\"name\":\"rejected_count\",\"observed\":5.0,"
		  "\"target\":3.0}},{\"code\":\"learn.low_mergeable\","
		  "\"priority\":2}],\"next_actions\":[\"Review policy thresholds "
		  "and source branch preparation workflows\",\"Reduce average "
		  "change size and enforce pre-merge checks\"]}}" },
		{ "V58", { 0, 0, 0, 0, 0, 0 }, NULL,
		  "{\"repo_health_score\":100.0,\"status\":\"green\","
		  "\"mergeable_rate\":1.0,\"conflict_rate\":0.0,"
		  "\"entropy_score\":0.0,\"tenant_id\":null,\"learning\":{"
		  "\"summary\":\"Repo health is strong (score: 100)\","
		  "\"lessons\":[],\"next_actions\":[]}}" },
		/* Another tenant's events do not count. */
		{ "V56/tenant-b", { 10, 5, 2, 0, 0, 0 }, "team-b",
		  "{\"repo_health_score\":100.0,\"merged_last_24h\":0,"
		  "\"tenant_id\":\"team-b\"}" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		json_t *log = seed_log(&rows[i].seed);
		json_t *r = repo_health(log, rows[i].tenant);

		assert_non_null(r);
		expect(rows[i].vec, r, rows[i].want);
		json_decref(r);
		json_decref(log);
	}
}

/* Active intents and the window (events older than 24 h ignored). */
static void test_repo_health_window(void **state)
{
	static const struct {
		const char *vec;
		const char *intents;
		int64_t age;            /* age of one rejected event */
		const char *want;
	} rows[] = {
		{ "active", "[{\"id\":\"a\",\"status\":\"READY\"},{\"id\":\"b\","
		  "\"status\":\"QUEUED\"},{\"id\":\"c\",\"status\":\"MERGED\"},"
		  "{\"id\":\"d\",\"status\":\"VALIDATED\"}]", 1 * HOUR,
		  "{\"active_intents\":3,\"rejected_last_24h\":1,"
		  "\"repo_health_score\":98.5}" },
		{ "old rejected", "[]", 25 * HOUR,
		  "{\"active_intents\":0,\"rejected_last_24h\":0,"
		  "\"repo_health_score\":100.0}" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		json_t *log = json_array(), *intents = parse(rows[i].intents);
		json_t *rej;
		struct cv_repo_health_in in = { 0 };
		json_t *r;

		log_add(log, "intent.rejected", "x", NULL, NULL,
		    NOW_US - rows[i].age, NULL);
		/* A wider query than the window: the builder re-applies it. */
		rej = q(log, "intent.rejected", NULL, NULL, NULL, 0, 10000);
		in.rejected = rej;
		in.intents = intents;
		in.now_us = NOW_US;
		r = cv_health_repo_build(&in);
		expect(rows[i].vec, r, rows[i].want);
		json_decref(r);
		json_decref(rej);
		json_decref(intents);
		json_decref(log);
	}
}

/* ---- V59-V60 change health ------------------------------------------------ */

static void test_change_health(void **state)
{
	static const struct {
		const char *vec;
		struct seed seed;
		const char *intent;
		const char *policy;     /* policy.evaluated payload or NULL */
		const char *want;
	} rows[] = {
		{ "V59", { 3, 5, 2, 0, 0, 0 }, "int-000", NULL,
		  "{\"intent_id\":\"int-000\",\"health_score\":100.0,"
		  "\"risk_score\":0.0,\"entropy_score\":0.0,\"mergeable\":true,"
		  "\"policy_verdict\":\"unknown\",\"status\":\"green\","
		  "\"tenant_id\":\"team-a\",\"learning\":{\"summary\":"
		  "\"Change health: strong (100)\",\"level\":\"strong\","
		  "\"lessons\":[]}}" },
		{ "V60", { 3, 5, 2, 0, 0, 0 }, "int-002", NULL,
		  "{\"health_score\":63.8,\"risk_score\":10.0,"
		  "\"entropy_score\":4.0,\"mergeable\":false,"
		  "\"status\":\"yellow\",\"learning\":{\"summary\":"
		  "\"Change health: acceptable (64)\",\"lessons\":[{\"code\":"
		  "\"learn.conflict\",\"priority\":0,\"metric\":{\"name\":"
		  "\"mergeable\",\"observed\":0.0,\"target\":1.0}}]}}" },
		{ "verdict", { 3, 0, 0, 0, 0, 0 }, "int-001",
		  "{\"verdict\":\"ALLOW\"}",
		  "{\"health_score\":66.9,\"policy_verdict\":\"ALLOW\","
		  "\"mergeable\":false}" },
		{ "unknown intent", { 3, 0, 0, 0, 0, 0 }, "nope", NULL,
		  "{\"intent_id\":\"nope\",\"health_score\":100.0,"
		  "\"mergeable\":true}" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		json_t *log = seed_log(&rows[i].seed), *risk, *sim, *pol, *r;

		if (rows[i].policy)
			log_add(log, "policy.evaluated", rows[i].intent, NULL,
			    "team-a", NOW_US - SEC, parse(rows[i].policy));
		risk = latest(log, "risk.evaluated", rows[i].intent);
		sim = latest(log, "simulation.completed", rows[i].intent);
		pol = latest(log, "policy.evaluated", rows[i].intent);
		r = cv_health_change_build(rows[i].intent, risk, sim, pol,
		    "team-a", NOW_US);
		expect(rows[i].vec, r, rows[i].want);
		json_decref(r);
		json_decref(risk);
		json_decref(sim);
		json_decref(pol);
		json_decref(log);
	}
}

/* ---- 7.5 learning tables -------------------------------------------------- */

static void test_learning_repo(void **state)
{
	static const struct {
		double score, mrate, entropy;
		long long rejected;
		const char *want;
	} rows[] = {
		{ 30.0, 0.6, 35.0, 5,
		  "{\"summary\":\"Repo health is fragile (score: 30)\","
		  "\"level\":\"fragile\",\"lessons\":["
		  "{\"code\":\"learn.health_below_target\",\"priority\":0,"
		  "\"metric\":{\"name\":\"health_score\",\"observed\":30.0,"
		  "\"target\":70.0}},"
		  "{\"code\":\"learn.low_mergeable\",\"priority\":1},"
		  "{\"code\":\"learn.high_entropy\",\"priority\":1,\"metric\":"
		  "{\"name\":\"avg_entropy\",\"observed\":35.0,\"target\":15.0}},"
		  "{\"code\":\"learn.frequent_rejections\",\"priority\":1}],"
		  "\"next_actions\":[\"Prioritize resolving conflicts, reducing "
		  "entropy, and clearing the queue\",\"Reduce average change "
		  "size and enforce pre-merge checks\",\"Split large intents "
		  "into smaller focused changes\"]}" },
		{ 50.0, 0.9, 20.0, 3,
		  "{\"level\":\"acceptable\",\"lessons\":["
		  "{\"code\":\"learn.health_below_target\",\"priority\":0},"
		  "{\"code\":\"learn.high_entropy\",\"priority\":2}]}" },
		{ 70.0, 0.85, 15.0, 3,
		  "{\"level\":\"strong\",\"summary\":"
		  "\"Repo health is strong (score: 70)\",\"lessons\":[]}" },
		{ 69.9, 0.8456, 15.0001, 4,
		  "{\"level\":\"acceptable\",\"lessons\":["
		  "{\"code\":\"learn.health_below_target\",\"priority\":0},"
		  "{\"code\":\"learn.frequent_rejections\",\"priority\":1},"
		  "{\"code\":\"learn.low_mergeable\",\"priority\":2,\"metric\":"
		  "{\"observed\":0.846}},"
		  "{\"code\":\"learn.high_entropy\",\"priority\":2,\"metric\":"
		  "{\"observed\":15.0}}]}" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		json_t *r = cv_learning_repo_build(rows[i].score, rows[i].mrate,
		    rows[i].entropy, rows[i].rejected);
		char vec[32];

		snprintf(vec, sizeof vec, "learning-repo[%zu]", i);
		expect(vec, r, rows[i].want);
		json_decref(r);
	}
}

static void test_learning_change(void **state)
{
	static const struct {
		double score, risk, entropy;
		bool mergeable;
		const char *want;
	} rows[] = {
		{ 20.0, 70.0, 45.0, false,
		  "{\"summary\":\"Change health: fragile (20)\",\"lessons\":["
		  "{\"code\":\"learn.conflict\",\"priority\":0},"
		  "{\"code\":\"learn.high_risk\",\"title\":\"Elevated risk "
		  "score\",\"priority\":1,\"metric\":{\"name\":\"risk_score\","
		  "\"observed\":70.0,\"target\":40.0}},"
		  "{\"code\":\"learn.change_entropy\",\"priority\":1,\"metric\":"
		  "{\"name\":\"entropy_score\",\"observed\":45.0,"
		  "\"target\":20.0}}]}" },
		{ 67.5, 50.0, 25.0, true,
		  "{\"summary\":\"Change health: acceptable (68)\",\"lessons\":["
		  "{\"code\":\"learn.high_risk\",\"priority\":2},"
		  "{\"code\":\"learn.change_entropy\",\"priority\":2}]}" },
		{ 80.0, 40.0, 20.0, true,
		  "{\"level\":\"strong\",\"lessons\":[],\"next_actions\":[]}" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		json_t *r = cv_learning_change_build(rows[i].score, rows[i].risk,
		    rows[i].entropy, rows[i].mergeable);
		char vec[32];

		snprintf(vec, sizeof vec, "learning-change[%zu]", i);
		expect(vec, r, rows[i].want);
		json_decref(r);
	}
}

/* ---- V61-V62 compliance (+ http-api 2.5 aliases) -------------------------- */

static json_t *compliance(const json_t *log, const char *tenant,
    const json_t *arg, const json_t *stored, const json_t *intents)
{
	json_t *sims = q(log, "simulation.completed", NULL, NULL, tenant, 0,
	    10000);
	json_t *resets = q(log, "queue.reset", NULL, NULL, tenant, 0, 10000);
	json_t *req = q(log, "intent.requeued", NULL, NULL, tenant, 0, 10000);
	struct cv_compliance_in in = { sims, resets, req, intents, arg, stored,
	    tenant, NOW_US };
	json_t *r = cv_compliance_report_build(&in);

	json_decref(sims);
	json_decref(resets);
	json_decref(req);
	return r;
}

static void test_compliance(void **state)
{
	static const struct {
		const char *vec;
		struct seed seed;
		const char *tenant;
		const char *arg;
		const char *stored;
		const char *intents;
		const char *want;
	} rows[] = {
		{ "V61", { 10, 5, 0, 0, 0, 0 }, NULL, NULL, NULL, "[]",
		  "{\"mergeable_rate\":0.8,\"conflict_rate\":0.2,"
		  "\"retries_total\":0,\"queue_tracked\":0,\"checks\":["
		  "{\"name\":\"mergeable_rate\",\"value\":0.8,\"threshold\":0.8,"
		  "\"op\":\">=\",\"passed\":true},"
		  "{\"name\":\"conflict_rate\",\"value\":0.2,\"threshold\":0.2,"
		  "\"op\":\"<=\",\"passed\":true},"
		  "{\"name\":\"retries_total\",\"value\":0,\"threshold\":200,"
		  "\"op\":\"<=\",\"passed\":true},"
		  "{\"name\":\"queue_tracked\",\"value\":0,\"threshold\":1000,"
		  "\"op\":\"<=\",\"passed\":true}],\"passed\":true,"
		  "\"alerts\":[],\"tenant_id\":null}" },
		{ "V62", { 10, 5, 2, 0, 0, 0 }, "team-a", NULL,
		  "{\"min_mergeable_rate\":0.95}", "[]",
		  "{\"passed\":false,\"alerts\":[{\"alert\":\"SLO breach: "
		  "mergeable_rate\",\"name\":\"mergeable_rate\",\"value\":0.8,"
		  "\"threshold\":0.95,\"op\":\">=\",\"passed\":false}],"
		  "\"checks\":[{\"threshold\":0.95},{\"threshold\":0.2,"
		  "\"passed\":true},{},{}],\"tenant_id\":\"team-a\"}" },
		{ "V62/alias", { 10, 5, 2, 0, 0, 0 }, "team-a", NULL,
		  "{\"mergeable_rate\":0.95}", "[]",
		  "{\"passed\":false,\"alerts\":[{\"name\":\"mergeable_rate\","
		  "\"threshold\":0.95}]}" },
		{ "alias/canonical wins", { 10, 5, 2, 0, 0, 0 }, "team-a", NULL,
		  "{\"min_mergeable_rate\":0.5,\"mergeable_rate\":0.95}", "[]",
		  "{\"passed\":true,\"checks\":[{\"threshold\":0.5},{},{},{}]}" },
		{ "alias/conflict", { 10, 5, 2, 0, 0, 0 }, "team-a", NULL,
		  "{\"conflict_rate\":0.1}", "[]",
		  "{\"passed\":false,\"alerts\":[{\"alert\":\"SLO breach: "
		  "conflict_rate\",\"value\":0.2,\"threshold\":0.1,"
		  "\"op\":\"<=\"}]}" },
		{ "alias/max_retries", { 10, 5, 0, 2, 1, 0 }, "team-a", NULL,
		  "{\"max_retries\":2}", "[]",
		  "{\"retries_total\":3,\"passed\":false,\"alerts\":[{\"alert\":"
		  "\"SLO breach: retries_total\",\"value\":3,\"threshold\":2}]}" },
		{ "stored ignored without tenant", { 10, 5, 0, 0, 0, 0 }, NULL,
		  NULL, "{\"min_mergeable_rate\":0.95}", "[]",
		  "{\"passed\":true}" },
		{ "argument thresholds", { 10, 5, 0, 0, 0, 0 }, NULL,
		  "{\"max_conflict_rate\":0.1,\"max_queue_tracked\":1}", NULL,
		  "[{\"id\":\"a\"},{\"id\":\"b\"}]",
		  "{\"queue_tracked\":2,\"passed\":false,\"alerts\":["
		  "{\"name\":\"conflict_rate\"},{\"name\":\"queue_tracked\","
		  "\"value\":2,\"threshold\":1}]}" },
		{ "stored beats argument", { 10, 5, 0, 0, 0, 0 }, "team-a",
		  "{\"min_mergeable_rate\":0.99}", "{\"max_queue_tracked\":5}",
		  "[]", "{\"passed\":true,\"checks\":[{\"threshold\":0.8},{},{},"
		  "{\"threshold\":5}]}" },
		{ "empty stored = defaults", { 10, 5, 0, 0, 0, 0 }, "team-a",
		  "{\"min_mergeable_rate\":0.99}", "{}", "[]",
		  "{\"passed\":false}" },
		{ "half mergeable", { 4, 0, 0, 0, 0, 0 }, "team-a", NULL, NULL,
		  "[]", "{\"mergeable_rate\":0.5,\"passed\":false}" },
		{ "no sims", { 0, 0, 0, 0, 0, 0 }, NULL, NULL, NULL, "[]",
		  "{\"mergeable_rate\":1.0,\"conflict_rate\":0.0,"
		  "\"passed\":true}" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		json_t *log = seed_log(&rows[i].seed);
		json_t *arg = rows[i].arg ? parse(rows[i].arg) : NULL;
		json_t *stored = rows[i].stored ? parse(rows[i].stored) : NULL;
		json_t *intents = parse(rows[i].intents);
		json_t *r = compliance(log, rows[i].tenant, arg, stored,
		    intents);

		expect(rows[i].vec, r, rows[i].want);
		json_decref(r);
		json_decref(arg);
		json_decref(stored);
		json_decref(intents);
		json_decref(log);
	}
}

/* ---- V63 integration metrics, V64 trends ---------------------------------- */

static void test_metrics_and_trends(void **state)
{
	static const struct {
		const char *vec;
		struct seed seed;
		const char *tenant;
		int what;               /* 0 metrics, 1 risk, 2 entropy */
		const char *want;
	} rows[] = {
		{ "V63", { 10, 5, 2, 0, 0, 0 }, "team-a", 0,
		  "{\"total_simulations\":10,\"mergeable\":8,"
		  "\"mergeable_rate\":0.8,\"total_merged\":5,"
		  "\"total_rejected\":2,\"total_blocked\":0,"
		  "\"decision_distribution\":{\"merged\":5,\"rejected\":2,"
		  "\"blocked\":0},\"tenant_id\":\"team-a\"}" },
		{ "V63/empty", { 0, 0, 0, 0, 0, 3 }, NULL, 0,
		  "{\"total_simulations\":0,\"mergeable_rate\":1.0,"
		  "\"total_blocked\":3,\"tenant_id\":null}" },
		{ "V64", { 10, 5, 2, 0, 0, 0 }, "team-a", 1,
		  "[{\"intent_id\":\"int-009\",\"risk_score\":45.0,"
		  "\"damage_score\":27.0,\"entropy_score\":18.0},"
		  "{\"intent_id\":\"int-008\"},{},{},{},{},{},{},{},"
		  "{\"intent_id\":\"int-000\",\"risk_score\":0.0}]" },
		{ "entropy trend", { 2, 0, 0, 0, 0, 0 }, "team-a", 2,
		  "[{\"intent_id\":\"int-001\",\"entropy_score\":2.0},"
		  "{\"intent_id\":\"int-000\",\"entropy_score\":0.0}]" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const char *t = rows[i].tenant;
		json_t *log = seed_log(&rows[i].seed), *r;

		if (rows[i].what == 0) {
			json_t *s = q(log, "simulation.completed", 0, 0, t, 0,
			    10000);
			json_t *m = q(log, "intent.merged", 0, 0, t, 0, 10000);
			json_t *rj = q(log, "intent.rejected", 0, 0, t, 0, 10000);
			json_t *b = q(log, "intent.blocked", 0, 0, t, 0, 10000);
			struct cv_integration_in in = { s, m, rj, b, t, NOW_US };

			r = cv_integration_metrics_build(&in);
			json_decref(s);
			json_decref(m);
			json_decref(rj);
			json_decref(b);
		} else {
			json_t *risks = q(log, "risk.evaluated", 0, 0, t,
			    NOW_US - 30 * 24 * HOUR, 500);

			r = rows[i].what == 1 ? cv_risk_trend_build(risks) :
			    cv_entropy_trend_build(risks);
			json_decref(risks);
		}
		expect(rows[i].vec, r, rows[i].want);
		json_decref(r);
		json_decref(log);
	}
}

/* ---- V65 queue state, V66 agent performance ------------------------------- */

static void test_queue_and_agents(void **state)
{
	static const char v65[] =
	    "[{\"id\":\"qs-3\",\"status\":\"MERGED\",\"priority\":0,"
	    "\"retries\":0},{\"id\":\"qs-2\",\"status\":\"QUEUED\","
	    "\"priority\":1,\"retries\":0},{\"id\":\"qs-1\",\"status\":"
	    "\"VALIDATED\",\"priority\":2,\"retries\":1},{\"id\":\"qs-0\","
	    "\"status\":\"READY\",\"priority\":3,\"retries\":0}]";
	static const struct {
		const char *vec;
		const char *input;
		int what;               /* 0 state, 1 summary, 2 agent */
		const char *want;
	} rows[] = {
		{ "V65", v65, 0,
		  "{\"pending\":[{\"intent_id\":\"qs-2\",\"status\":\"QUEUED\","
		  "\"priority\":1,\"retries\":0},{\"intent_id\":\"qs-1\","
		  "\"retries\":1},{\"intent_id\":\"qs-0\"}],\"total\":4,"
		  "\"by_status\":{\"MERGED\":1,\"QUEUED\":1,\"VALIDATED\":1,"
		  "\"READY\":1}}" },
		{ "V65/ties by id", "[{\"id\":\"b\",\"status\":\"READY\","
		  "\"priority\":1},{\"id\":\"a\",\"status\":\"READY\","
		  "\"priority\":1},{\"id\":\"c\",\"status\":\"REJECTED\","
		  "\"priority\":0}]", 0,
		  "{\"pending\":[{\"intent_id\":\"a\"},{\"intent_id\":\"b\"}],"
		  "\"total\":3,\"by_status\":{\"READY\":2,\"REJECTED\":1}}" },
		{ "V65/summary", v65, 1,
		  "{\"total\":4,\"pending_count\":3,\"by_status\":{"
		  "\"MERGED\":1}}" },
		{ "V66", "{\"intent.merged\":3,\"intent.rejected\":1,"
		  "\"intent.blocked\":1,\"agent.authorized\":1}", 2,
		  "{\"agent_id\":\"bot-9\",\"total_events\":6,\"merged\":3,"
		  "\"rejected\":1,\"blocked\":1,\"success_rate\":0.6,"
		  "\"events_by_type\":{\"agent.authorized\":1,"
		  "\"intent.blocked\":1,\"intent.rejected\":1,"
		  "\"intent.merged\":3},\"trust_score\":63.0,"
		  "\"tenant_id\":null}" },
		{ "V66/none", "{}", 2,
		  "{\"total_events\":0,\"success_rate\":0.0,"
		  "\"trust_score\":0.0,\"events_by_type\":{}}" },
		{ "V66/cap", "{\"intent.merged\":60}", 2,
		  "{\"success_rate\":1.0,\"trust_score\":100.0}" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		json_t *in = parse(rows[i].input), *r;

		if (rows[i].what == 0) {
			r = cv_queue_state_build(in);
		} else if (rows[i].what == 1) {
			r = cv_queue_summary_build(in);
		} else {
			/* input: event type -> count, appended in that order */
			json_t *log = json_array(), *evs;
			const char *k;
			json_t *v;
			int64_t t = NOW_US - HOUR;

			json_object_foreach(in, k, v)
				for (long long n = 0; n < json_integer_value(v);
				    n++)
					log_add(log, k, "i", "bot-9", NULL,
					    t += SEC, NULL);
			log_add(log, "intent.merged", "i", "bot-0", NULL,
			    t += SEC, NULL);
			evs = q(log, NULL, NULL, "bot-9", NULL, 0, 10000);
			r = cv_agent_performance_build("bot-9", evs, NULL);
			json_decref(evs);
			json_decref(log);
		}
		expect(rows[i].vec, r, rows[i].want);
		json_decref(r);
		json_decref(in);
	}
}

/* ---- V67-V71 health prediction -------------------------------------------- */

static void test_health_predict(void **state)
{
	static const struct {
		const char *vec;
		const char *snaps;      /* [[score, entropy, conflict]...] */
		int min;
		bool append;
		const char *want;
	} rows[] = {
		{ "V67", "[[80.0,5.0,0.05],[80.0,5.0,0.05],[80.0,5.0,0.05],"
		  "[80.0,5.0,0.05],[80.0,5.0,0.05],[80.0,5.0,0.05]]", 3, true,
		  "{\"current_status\":\"green\",\"current_health\":80.0,"
		  "\"projected_status\":\"green\",\"projected_health\":80.0,"
		  "\"horizon_days\":7,\"velocity\":{\"health\":0.0,"
		  "\"entropy\":0.0,\"conflict_rate\":0.0},\"signals\":[],"
		  "\"should_gate\":false,\"confidence\":\"medium\","
		  "\"recommendation\":\"System trajectory is stable\","
		  "\"data_points\":6,\"tenant_id\":null}" },
		{ "V68", "[[80,5,0.05],[72,8,0.09],[64,11,0.13],[56,14,0.17],"
		  "[48,17,0.21],[40,20,0.25],[32,23,0.29],[24,26,0.33]]", 3,
		  true,
		  "{\"current_status\":\"red\",\"current_health\":24.0,"
		  "\"projected_status\":\"red\",\"projected_health\":4.0,"
		  "\"velocity\":{\"health\":-32.0,\"entropy\":12.0,"
		  "\"conflict_rate\":0.16},\"signals\":["
		  "{\"signal\":\"predict.health_falling\",\"message\":\"Health "
		  "declining at -32.0 per period (current: 36)\",\"severity\":"
		  "\"high\"},{\"signal\":\"predict.entropy_rising\",\"message\":"
		  "\"Entropy rising at +12.0 per period (current: 21.5)\","
		  "\"severity\":\"high\"},{\"signal\":"
		  "\"predict.conflict_rising\",\"message\":\"Conflict rate "
		  "rising at +0.16 per period (current: 27.0%)\",\"severity\":"
		  "\"medium\"}],\"should_gate\":false,\"confidence\":\"high\","
		  "\"data_points\":8}" },
		{ "V69", "[[80,5,0.05],[72,8,0.09],[64,11,0.13]]", 3, true,
		  "{\"current_status\":\"yellow\",\"current_health\":64.0,"
		  "\"projected_status\":\"yellow\",\"projected_health\":56.0,"
		  "\"velocity\":{\"health\":-12.0,\"entropy\":4.5,"
		  "\"conflict_rate\":0.06},\"signals\":["
		  "{\"signal\":\"predict.health_falling\",\"severity\":\"high\","
		  "\"message\":\"Health declining at -12.0 per period "
		  "(current: 68)\"},{\"signal\":\"predict.entropy_rising\","
		  "\"severity\":\"medium\",\"message\":\"Entropy rising at +4.5 "
		  "per period (current: 9.5)\"},{\"signal\":"
		  "\"predict.conflict_rising\",\"message\":\"Conflict rate "
		  "rising at +0.06 per period (current: 11.0%)\"}],"
		  "\"should_gate\":false,\"confidence\":\"medium\"}" },
		{ "V70", "[[90,5,0.1],[90,5,0.1],[60,5,0.1],[50,5,0.1]]", 3,
		  true,
		  "{\"current_status\":\"yellow\",\"current_health\":50.0,"
		  "\"projected_status\":\"red\",\"projected_health\":20.0,"
		  "\"velocity\":{\"health\":-35.0},\"signals\":["
		  "{\"signal\":\"predict.health_falling\",\"message\":\"Health "
		  "declining at -35.0 per period (current: 55)\",\"severity\":"
		  "\"high\"},{\"signal\":\"predict.approaching_red\","
		  "\"message\":\"Current: yellow (50), projected: red (20)\","
		  "\"severity\":\"critical\"}],\"should_gate\":true,"
		  "\"recommendation\":\"Consider pausing new intents — health "
		  "trajectory indicates degradation\"}" },
		{ "V71", "[[80,5,0.05],[72,8,0.09]]", 3, false,
		  "{\"projected_status\":\"unknown\",\"confidence\":\"low\","
		  "\"reason\":\"Not enough data (2 snapshots, need 3+)\","
		  "\"recommendation\":\"Collect more health snapshots before "
		  "prediction is reliable\",\"should_gate\":false}" },
		{ "one point, min 1", "[[30,0,0]]", 1, true,
		  "{\"current_status\":\"red\",\"projected_health\":30.0,"
		  "\"velocity\":{\"health\":0.0},\"data_points\":1}" },
		{ "clamp at 100", "[[50,0,0],[90,0,0],[100,0,0]]", 3, true,
		  "{\"projected_health\":100.0,\"projected_status\":\"green\"}" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		json_t *series = parse(rows[i].snaps), *log = json_array();
		size_t n = json_array_size(series), k;
		json_t *row, *snaps, *r;
		struct cv_health_predict_in in = { 0 };
		bool append = !rows[i].append;

		/* Oldest first, one hour apart, ending just before now. */
		json_array_foreach(series, k, row)
			log_add(log, "health.snapshot", NULL, NULL, NULL,
			    NOW_US - (int64_t)(n - k) * HOUR, json_pack(
			    "{s:O, s:O, s:O}", "repo_health_score",
			    json_array_get(row, 0), "entropy_score",
			    json_array_get(row, 1), "conflict_rate",
			    json_array_get(row, 2)));
		snaps = q(log, "health.snapshot", NULL, NULL, NULL,
		    NOW_US - 14 * 24 * HOUR, 500);
		in.snapshots = snaps;
		in.min_snapshots = rows[i].min;
		in.now_us = NOW_US;
		r = cv_health_predict_build(&in, &append);
		expect(rows[i].vec, r, rows[i].want);
		assert_int_equal(append, rows[i].append);
		json_decref(r);
		json_decref(snaps);
		json_decref(log);
		json_decref(series);
	}
}

/* Window and order: out-of-window snapshots are ignored; equal timestamps
 * keep append order. */
static void test_health_predict_order(void **state)
{
	json_t *log = json_array(), *snaps, *r;
	struct cv_health_predict_in in = { 0 };

	(void)state;
	log_add(log, "health.snapshot", NULL, NULL, NULL,
	    NOW_US - 15 * 24 * HOUR, json_pack("{s:f}", "repo_health_score",
	    0.0));
	log_add(log, "health.snapshot", NULL, NULL, NULL, NOW_US - HOUR,
	    json_pack("{s:f}", "repo_health_score", 90.0));
	log_add(log, "health.snapshot", NULL, NULL, NULL, NOW_US - HOUR,
	    json_pack("{s:f}", "repo_health_score", 60.0));
	log_add(log, "health.snapshot", NULL, NULL, NULL, NOW_US - HOUR,
	    json_pack("{s:f}", "repo_health_score", 50.0));
	snaps = q(log, "health.snapshot", NULL, NULL, NULL, 0, 500);
	in.snapshots = snaps;
	in.now_us = NOW_US;
	in.tenant_id = "team-a";
	r = cv_health_predict_build(&in, NULL);
	/* older [90], recent [60, 50] → hv = 55 - 90 = -35, current 50. */
	expect("predict order", r, "{\"data_points\":3,\"current_health\":50.0,"
	    "\"velocity\":{\"health\":-35.0},\"projected_health\":20.0,"
	    "\"tenant_id\":\"team-a\"}");
	json_decref(r);
	json_decref(snaps);
	json_decref(log);
}

/* ---- V72 issue predictions ------------------------------------------------ */

struct burst {
	const char *type;
	int count;
	int64_t age;
	const char *payload;
};

static void test_predictions(void **state)
{
	static const struct burst v72[] = {
		{ "simulation.completed", 4, 30 * HOUR, "{\"mergeable\":true}" },
		{ "risk.evaluated", 4, 30 * HOUR, "{\"entropy_score\":10.0,"
		  "\"propagation_score\":10.0,\"containment_score\":0.9}" },
		{ "intent.requeued", 6, 2 * HOUR, NULL },
		{ "intent.rejected", 3, 2 * HOUR, NULL },
		{ "intent.merged", 2, 2 * HOUR, NULL },
		{ "simulation.completed", 2, HOUR, "{\"mergeable\":true}" },
		{ "simulation.completed", 3, HOUR, "{\"mergeable\":false}" },
		{ "risk.evaluated", 5, HOUR, "{\"entropy_score\":30.0,"
		  "\"propagation_score\":45.0,\"containment_score\":0.4}" },
		{ NULL, 0, 0, NULL },
	};
	static const struct burst quiet[] = {
		{ "simulation.completed", 2, HOUR, "{\"mergeable\":false}" },
		{ NULL, 0, 0, NULL },
	};
	/* Three risk events without containment (→ 1.0) and a 49 h-old burst
	 * outside both windows. */
	static const struct burst edges[] = {
		{ "risk.evaluated", 3, 49 * HOUR, "{\"containment_score\":0.0,"
		  "\"propagation_score\":90.0}" },
		{ "risk.evaluated", 3, HOUR, "{\"propagation_score\":41.0}" },
		{ NULL, 0, 0, NULL },
	};
	static const struct {
		const char *vec;
		const struct burst *log;
		const char *want;
	} rows[] = {
		{ "V72", v72,
		  "[{\"signal\":\"rising_conflict_rate\",\"severity\":\"high\","
		  "\"message\":\"Conflict rate rose from 0% to 60% in last 24h\","
		  "\"recommendation\":\"Consider pausing new intents and "
		  "resolving current conflicts\"},"
		  "{\"signal\":\"entropy_spike\",\"severity\":\"medium\","
		  "\"message\":\"Average entropy rose from 10.0 to 30.0\","
		  "\"recommendation\":\"Review recent intents for large or "
		  "high-risk changes\"},"
		  "{\"signal\":\"queue_stalling\",\"severity\":\"high\","
		  "\"message\":\"6 intents requeued in last 24h\","
		  "\"recommendation\":\"Check for systemic merge conflicts or "
		  "failing checks\"},"
		  "{\"signal\":\"high_rejection_rate\",\"severity\":"
		  "\"critical\",\"message\":\"3/5 intents rejected in last 24h "
		  "(60%)\",\"recommendation\":\"Review policy thresholds or "
		  "source branch quality\"},"
		  "{\"signal\":\"bomb.cascade\",\"severity\":\"high\","
		  "\"message\":\"5/5 recent changes have high propagation "
		  "scores (>40)\",\"recommendation\":\"Multiple "
		  "high-blast-radius changes detected — risk of cascade "
		  "failures\"},"
		  "{\"signal\":\"bomb.spiral\",\"severity\":\"medium\","
		  "\"message\":\"Containment dropping from 0.90 to 0.40 — "
		  "changes becoming less isolated\",\"recommendation\":"
		  "\"Increasing cross-boundary coupling detected — enforce "
		  "scope limits\"},"
		  "{\"signal\":\"bomb.thermal_death\",\"severity\":\"critical\","
		  "\"message\":\"System under thermal stress: entropy=30.0, "
		  "conflict_rate=60%, propagation elevated\","
		  "\"recommendation\":\"Halt new intents — system entropy is "
		  "approaching critical levels\"}]" },
		{ "V72/quiet", quiet, "[]" },
		{ "edges", edges,
		  "[{\"signal\":\"bomb.cascade\",\"message\":\"3/3 recent "
		  "changes have high propagation scores (>40)\"}]" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		json_t *log = json_array(), *r;
		int64_t tick = 0;

		for (const struct burst *b = rows[i].log; b->type; b++)
			for (int n = 0; n < b->count; n++)
				log_add(log, b->type, "i", NULL, NULL,
				    NOW_US - b->age + tick++,
				    b->payload ? parse(b->payload) : NULL);
		{
			int64_t d24 = NOW_US - 24 * HOUR;
			int64_t d48 = NOW_US - 48 * HOUR;
			json_t *s24 = q(log, "simulation.completed", 0, 0, 0,
			    d24, 10000);
			json_t *s48 = q(log, "simulation.completed", 0, 0, 0,
			    d48, 10000);
			json_t *r24 = q(log, "risk.evaluated", 0, 0, 0, d24,
			    10000);
			json_t *r48 = q(log, "risk.evaluated", 0, 0, 0, d48,
			    10000);
			json_t *rq = q(log, "intent.requeued", 0, 0, 0, d24,
			    10000);
			json_t *rj = q(log, "intent.rejected", 0, 0, 0, d24,
			    10000);
			json_t *mg = q(log, "intent.merged", 0, 0, 0, d24, 10000);
			struct cv_predictions_in in = { s24, s48, r24, r48, rq,
			    rj, mg, NOW_US };

			r = cv_predictions_build(&in);
			json_decref(s24);
			json_decref(s48);
			json_decref(r24);
			json_decref(r48);
			json_decref(rq);
			json_decref(rj);
			json_decref(mg);
		}
		expect(rows[i].vec, r, rows[i].want);
		json_decref(r);
		json_decref(log);
	}
}

/* ---- V84 risk review ------------------------------------------------------ */

static void test_risk_review(void **state)
{
	static const char risk_small[] =
	    "{\"intent_id\":\"rv-1\",\"risk_score\":10.0,\"damage_score\":5.0,"
	    "\"entropy_score\":3.0,\"propagation_score\":2.0,"
	    "\"containment_score\":0.9,\"signals\":{\"entropic_load\":1.0,"
	    "\"contextual_value\":2.0,\"complexity_delta\":3.0,"
	    "\"path_dependence\":4.0},\"findings\":[],\"impact_edges\":[],"
	    "\"graph_metrics\":{},\"bombs\":[]}";
	static const char intent[] =
	    "{\"id\":\"rv-1\",\"source\":\"feature/x\",\"target\":\"main\","
	    "\"status\":\"VALIDATED\",\"risk_level\":\"medium\"}";
	static const char critical_diags[] =
	    "[{\"severity\":\"critical\",\"code\":\"diag.high_risk\","
	    "\"explanation\":\"Combined risk score 85 exceeds safe "
	    "threshold\",\"recommendation\":\"x\"},{\"severity\":\"critical\","
	    "\"code\":\"diag.merge_conflict\",\"explanation\":\"Merge has 1 "
	    "conflict(s): a.py\",\"recommendation\":\"y\"},{\"severity\":"
	    "\"high\",\"code\":\"diag.high_entropy\",\"explanation\":\"E\"},"
	    "{\"severity\":\"critical\",\"code\":\"diag.bomb.spiral\","
	    "\"explanation\":\"S\"},{\"severity\":\"critical\",\"code\":"
	    "\"diag.bomb.cascade\",\"explanation\":\"C\"}]";
	static const struct {
		const char *vec;
		const char *intent;
		const char *risk, *sim, *policy;
		const char *diags;
		const char *want;
		const char *absent;     /* a key that must not be there */
	} rows[] = {
		{ "V84", intent, risk_small, "{\"mergeable\":true}",
		  "{\"verdict\":\"ALLOW\"}", "[]",
		  "{\"intent_id\":\"rv-1\",\"intent\":{\"id\":\"rv-1\"},"
		  "\"risk\":{\"risk_score\":10.0},\"simulation\":{\"mergeable\":"
		  "true},\"policy\":{\"verdict\":\"ALLOW\"},\"diagnostics\":[],"
		  "\"compliance\":{\"passed\":true},\"decision_history\":["
		  "{\"event_type\":\"policy.evaluated\",\"payload\":{\"verdict\":"
		  "\"ALLOW\"}},{\"event_type\":\"risk.evaluated\"},"
		  "{\"event_type\":\"simulation.completed\"}],"
		  "\"tenant_id\":\"team-a\",\"learning\":{\"lessons\":[],"
		  "\"summary\":\"Review: 0 actionable lesson(s)\"}}", NULL },
		{ "V84/unknown", NULL, NULL, NULL, NULL, NULL,
		  "{\"error\":\"Intent rv-1 not found\"}", "intent" },
		{ "V84/no events", intent, NULL, NULL, NULL, "[]",
		  "{\"risk\":null,\"simulation\":null,\"policy\":null,"
		  "\"diagnostics\":[],\"decision_history\":[]}", "learning" },
		{ "critical lessons", intent,
		  "{\"risk_score\":85.0}", "{\"mergeable\":false}", NULL,
		  critical_diags,
		  "{\"diagnostics\":[{},{},{},{},{}],\"learning\":{\"lessons\":["
		  "{\"code\":\"learn.critical_diagnostics\",\"title\":\"Critical "
		  "issues detected\",\"why\":\"4 critical diagnostic(s) found\","
		  "\"action\":\"Address critical issues before proceeding: "
		  "Combined risk score 85 exceeds safe threshold; Merge has 1 "
		  "conflict(s): a.py; S\",\"priority\":0},{\"code\":"
		  "\"learn.review_risk\",\"title\":\"Elevated risk\",\"why\":"
		  "\"Risk score 85\",\"action\":\"Review impact graph and "
		  "consider narrowing scope\",\"priority\":1}],\"summary\":"
		  "\"Review: 2 actionable lesson(s)\"}}", NULL },
		/* Without a simulation the diagnostics are [] (9.3). */
		{ "risk only", intent, "{\"risk_score\":55.0}", NULL, NULL,
		  critical_diags,
		  "{\"simulation\":null,\"diagnostics\":[],\"learning\":{"
		  "\"lessons\":[{\"code\":\"learn.review_risk\"}]}}", NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		json_t *log = json_array(), *it, *risk, *sim, *pol, *hist;
		json_t *diags, *comp, *r;
		struct cv_compliance_in cin = { 0 };
		struct cv_risk_review_in in = { 0 };
		int64_t t = NOW_US - HOUR;

		if (rows[i].sim)
			log_add(log, "simulation.completed", "rv-1", NULL,
			    "team-a", t += SEC, parse(rows[i].sim));
		if (rows[i].risk)
			log_add(log, "risk.evaluated", "rv-1", NULL, "team-a",
			    t += SEC, parse(rows[i].risk));
		if (rows[i].policy)
			log_add(log, "policy.evaluated", "rv-1", NULL, "team-a",
			    t += SEC, parse(rows[i].policy));
		log_add(log, "intent.created", "other", NULL, "team-a",
		    t += SEC, NULL);
		it = rows[i].intent ? parse(rows[i].intent) : NULL;
		risk = latest(log, "risk.evaluated", "rv-1");
		sim = latest(log, "simulation.completed", "rv-1");
		pol = latest(log, "policy.evaluated", "rv-1");
		hist = q(log, NULL, "rv-1", NULL, NULL, 0, 50);
		diags = rows[i].diags ? parse(rows[i].diags) : NULL;
		cin.now_us = NOW_US;
		cin.tenant_id = "team-a";
		comp = cv_compliance_report_build(&cin);
		in = (struct cv_risk_review_in){ "rv-1", it, risk, sim, pol,
		    hist, comp, diags, "team-a", NOW_US };
		r = cv_risk_review_build(&in);
		expect(rows[i].vec, r, rows[i].want);
		if (rows[i].absent)
			assert_null(json_object_get(r, rows[i].absent));
		json_decref(r);
		json_decref(comp);
		json_decref(diags);
		json_decref(hist);
		json_decref(pol);
		json_decref(sim);
		json_decref(risk);
		json_decref(it);
		json_decref(log);
	}
}

/* B14: signals and bombs survive, a missing containment is 1.0. */
static void test_review_rebuild(void **state)
{
	static const struct {
		const char *vec;
		int what;               /* 0 riskeval, 1 simulation */
		const char *payload;
		const char *want;
	} rows[] = {
		{ "B14 full", 0, "{\"intent_id\":\"x\",\"risk_score\":70.0,"
		  "\"signals\":{\"entropic_load\":60.0,\"path_dependence\":50.0},"
		  "\"bombs\":[{\"type\":\"spiral\",\"severity\":\"medium\","
		  "\"message\":\"2 circular\"}],\"findings\":[{\"code\":\"f\"}]}",
		  "{\"intent_id\":\"x\",\"risk_score\":70.0,\"damage_score\":0.0,"
		  "\"containment_score\":1.0,\"signals\":{\"entropic_load\":60.0,"
		  "\"contextual_value\":0.0,\"complexity_delta\":0.0,"
		  "\"path_dependence\":50.0},\"findings\":[{\"code\":\"f\"}],"
		  "\"impact_edges\":[],\"graph_metrics\":{},\"bombs\":[{\"type\":"
		  "\"spiral\"}]}" },
		{ "B14 containment kept", 0, "{\"containment_score\":0.3}",
		  "{\"containment_score\":0.3,\"intent_id\":null}" },
		{ "sim default", 1, "{}",
		  "{\"mergeable\":true,\"conflicts\":[],\"files_changed\":[],"
		  "\"source\":\"\",\"target\":\"\"}" },
		{ "sim conflicts", 1, "{\"mergeable\":false,\"conflicts\":"
		  "[\"a.py\"],\"source\":\"f\",\"target\":\"main\"}",
		  "{\"mergeable\":false,\"conflicts\":[\"a.py\"],"
		  "\"source\":\"f\",\"target\":\"main\"}" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		json_t *p = parse(rows[i].payload);
		json_t *r = rows[i].what ? cv_review_simulation_build(p) :
		    cv_review_riskeval_build(p);

		expect(rows[i].vec, r, rows[i].want);
		json_decref(r);
		json_decref(p);
	}
}

/* ---- 9.4 export records and CSV ------------------------------------------- */

static void test_export(void **state)
{
	static const char intent[] =
	    "{\"id\":\"i-1\",\"source\":\"feature/a\",\"target\":\"main\","
	    "\"status\":\"MERGED\",\"created_at\":"
	    "\"2026-11-26T10:00:00.000001+00:00\",\"created_by\":\"system\","
	    "\"risk_level\":\"low\",\"priority\":2,\"semantic\":{},"
	    "\"technical\":{},\"checks_required\":[],\"dependencies\":[],"
	    "\"retries\":0,\"tenant_id\":\"team-a\"}";
	static const struct {
		const char *vec;
		const char *sim, *risk, *policy;
		bool graph;
		const char *want;
		const char *csv;        /* expected CSV line, or NULL */
	} rows[] = {
		{ "full", "{\"mergeable\":true,\"conflicts\":[],"
		  "\"files_changed\":[\"a.py\",\"b.py\"]}",
		  "{\"risk_score\":23.6,\"damage_score\":35.9,"
		  "\"entropy_score\":9.0,\"propagation_score\":20.8,"
		  "\"containment_score\":0.82,\"signals\":{\"entropic_load\":9.0,"
		  "\"contextual_value\":64.4,\"complexity_delta\":17.5,"
		  "\"path_dependence\":5.0},\"bombs\":[{\"type\":\"spiral\"},"
		  "{\"type\":\"cascade\"}],\"graph_metrics\":{\"nodes\":4,"
		  "\"edges\":3,\"density\":0.25}}",
		  "{\"verdict\":\"ALLOW\",\"profile_used\":\"low\"}", true,
		  "{\"intent_id\":\"i-1\",\"source\":\"feature/a\",\"target\":"
		  "\"main\",\"status\":\"MERGED\",\"risk_level\":\"low\","
		  "\"priority\":2,\"retries\":0,\"tenant_id\":\"team-a\","
		  "\"created_at\":\"2026-11-26T10:00:00.000001+00:00\","
		  "\"mergeable\":true,\"conflict_count\":0,"
		  "\"files_changed_count\":2,\"risk_score\":23.6,"
		  "\"damage_score\":35.9,\"entropy_score\":9.0,"
		  "\"propagation_score\":20.8,\"containment_score\":0.82,"
		  "\"entropic_load\":9.0,\"contextual_value\":64.4,"
		  "\"complexity_delta\":17.5,\"path_dependence\":5.0,"
		  "\"bomb_count\":2,\"bomb_types\":[\"spiral\",\"cascade\"],"
		  "\"policy_verdict\":\"ALLOW\",\"policy_profile\":\"low\","
		  "\"graph_nodes\":4,\"graph_edges\":3,\"graph_density\":0.25}",
		  "i-1,feature/a,main,MERGED,low,2,0,team-a,"
		  "2026-11-26T10:00:00.000001+00:00,True,0,2,23.6,35.9,9.0,20.8,"
		  "0.82,9.0,64.4,17.5,5.0,2,\"spiral,cascade\",ALLOW,low,4,3,"
		  "0.25" },
		{ "nothing", NULL, NULL, NULL, false,
		  "{\"mergeable\":null,\"conflict_count\":0,"
		  "\"files_changed_count\":0,\"risk_score\":null,"
		  "\"entropic_load\":null,\"bomb_count\":0,\"bomb_types\":[],"
		  "\"policy_verdict\":null,\"policy_profile\":null}",
		  "i-1,feature/a,main,MERGED,low,2,0,team-a,"
		  "2026-11-26T10:00:00.000001+00:00,,0,0,,,,,,,,,,0,,," },
	};

	(void)state;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		json_t *log = json_array(), *it = parse(intent), *s, *rk, *p, *r;

		if (rows[i].sim)
			log_add(log, "simulation.completed", "i-1", NULL, NULL,
			    NOW_US - 3, parse(rows[i].sim));
		if (rows[i].risk)
			log_add(log, "risk.evaluated", "i-1", NULL, NULL,
			    NOW_US - 2, parse(rows[i].risk));
		if (rows[i].policy)
			log_add(log, "policy.evaluated", "i-1", NULL, NULL,
			    NOW_US - 1, parse(rows[i].policy));
		s = latest(log, "simulation.completed", "i-1");
		rk = latest(log, "risk.evaluated", "i-1");
		p = latest(log, "policy.evaluated", "i-1");
		r = cv_export_record_build(it, s, rk, p, rows[i].graph);
		expect(rows[i].vec, r, rows[i].want);
		assert_int_equal(json_object_size(r), rows[i].graph ?
		    CV_EXPORT_FIELDS_ALL : CV_EXPORT_FIELDS_HTTP);
		if (rows[i].csv) {
			char *line = cv_export_csv_line_build(r,
			    (int)json_object_size(r));

			assert_string_equal(line, rows[i].csv);
			free(line);
		}
		json_decref(r);
		json_decref(p);
		json_decref(rk);
		json_decref(s);
		json_decref(it);
		json_decref(log);
	}
}

static void test_export_csv_cells(void **state)
{
	static const struct {
		const char *record;
		int nfields;
		const char *want;
	} rows[] = {
		{ "{\"intent_id\":\"a,b\",\"source\":\"say \\\"hi\\\"\","
		  "\"target\":\"x\\ny\"}", 3,
		  "\"a,b\",\"say \"\"hi\"\"\",\"x\ny\"" },
		{ "{\"intent_id\":\"i\",\"priority\":3}", 6, "i,,,,,3" },
		{ "{\"intent_id\":null,\"source\":false}", 2, ",False" },
		{ "{\"intent_id\":\"i\"}", 0,
		  "i,,,,,,,,,,,,,,,,,,,,,,,,,,," },
	};

	(void)state;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		json_t *rec = parse(rows[i].record);
		char *line = cv_export_csv_line_build(rec, rows[i].nfields);

		assert_string_equal(line, rows[i].want);
		free(line);
		json_decref(rec);
	}
	{
		char *h = cv_export_csv_header_build(CV_EXPORT_FIELDS_HTTP);

		assert_string_equal(h, "intent_id,source,target,status,"
		    "risk_level,priority,retries,tenant_id,created_at,mergeable,"
		    "conflict_count,files_changed_count,risk_score,damage_score,"
		    "entropy_score,propagation_score,containment_score,"
		    "entropic_load,contextual_value,complexity_delta,"
		    "path_dependence,bomb_count,bomb_types,policy_verdict,"
		    "policy_profile");
		free(h);
	}
}

/* ---- dashboard (http-api 5.7) --------------------------------------------- */

static void test_dashboard(void **state)
{
	static const struct {
		const char *vec;
		const char *compliance, *predictions;
		const char *want;
	} rows[] = {
		{ "alerts example",
		  "{\"passed\":false,\"alerts\":[{\"alert\":\"SLO breach: "
		  "mergeable_rate\",\"name\":\"mergeable_rate\",\"value\":0.5,"
		  "\"threshold\":0.8,\"op\":\">=\",\"passed\":false}]}",
		  "[{\"signal\":\"queue_stalling\",\"severity\":\"high\","
		  "\"message\":\"7 intents requeued in last 24h\","
		  "\"recommendation\":\"Check for systemic merge conflicts or "
		  "failing checks\"}]",
		  "{\"compliance_passed\":false,\"alerts\":[{\"alert\":\"SLO "
		  "breach: mergeable_rate\",\"source\":\"compliance\"},"
		  "{\"signal\":\"queue_stalling\",\"source\":\"prediction\"}],"
		  "\"total\":2}" },
		{ "no alerts", "{\"passed\":true,\"alerts\":[]}", "[]",
		  "{\"compliance_passed\":true,\"alerts\":[],\"total\":0}" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		json_t *c = parse(rows[i].compliance);
		json_t *p = parse(rows[i].predictions);
		json_t *r = cv_dashboard_alerts_build(c, p);
		json_t *d = cv_dashboard_build(NULL, NULL, c, NULL, p, NULL);

		expect(rows[i].vec, r, rows[i].want);
		expect(rows[i].vec, d, "{\"health\":null,\"compliance\":{"
		    "\"checks\":null},\"risk_trend\":[]}");
		/* the input alerts are not modified */
		assert_null(json_object_get(json_array_get(json_object_get(c,
		    "alerts"), 0), "source"));
		json_decref(d);
		json_decref(r);
		json_decref(p);
		json_decref(c);
	}
}

/* ---- allocation failures -------------------------------------------------- */

/* jansson's allocator fails the fail_at-th call from now on (0 = never), so
 * every builder is run with its first, second, ... allocation failing until
 * it succeeds: each must return NULL, never crash, and leak nothing
 * (valgrind). */
static long alloc_count, fail_at;

static void *failing_malloc(size_t n)
{
	if (fail_at && ++alloc_count >= fail_at)
		return NULL;
	return malloc(n);
}

/* [sims, risks, merged, rejected, intents] of a seeded log. */
static json_t *builder_inputs(const json_t *log)
{
	return json_pack("[o,o,o,o,[{s:s, s:s, s:i}]]",
	    q(log, "simulation.completed", 0, 0, 0, 0, 10000),
	    q(log, "risk.evaluated", 0, 0, 0, 0, 10000),
	    q(log, "intent.merged", 0, 0, 0, 0, 10000),
	    q(log, "intent.rejected", 0, 0, 0, 0, 10000),
	    "id", "a", "status", "READY", "priority", 1);
}

static json_t *run_builder(int which, const json_t *in)
{
	const json_t *sims = json_array_get(in, 0);
	const json_t *risks = json_array_get(in, 1);
	const json_t *merged = json_array_get(in, 2);
	const json_t *rej = json_array_get(in, 3);
	const json_t *intents = json_array_get(in, 4);

	switch (which) {
	case 0: {
		struct cv_repo_health_in h = { sims, risks, merged, rej,
		    intents, "team-a", 24, NOW_US, 0 };
		return cv_health_repo_build(&h);
	}
	case 1: {
		struct cv_compliance_in c = { sims, merged, rej, intents, NULL,
		    NULL, "team-a", NOW_US };
		return cv_compliance_report_build(&c);
	}
	case 2: {
		struct cv_predictions_in pr = { sims, sims, risks, risks, rej,
		    rej, merged, NOW_US };
		return cv_predictions_build(&pr);
	}
	case 3:
		return cv_queue_state_build(intents);
	case 4:
		return cv_agent_performance_build("a", merged, NULL);
	case 5:
		return cv_export_record_build(json_array_get(intents, 0),
		    json_array_get(sims, 0), json_array_get(risks, 0), NULL,
		    true);
	case 6:
		return cv_review_riskeval_build(cv_json_obj(json_array_get(risks,
		    0), "payload"));
	case 7:
		return cv_risk_trend_build(risks);
	case 8:
		return cv_learning_review_build(90.0, NULL);
	default:
		return cv_health_change_build("x", json_array_get(risks, 0),
		    json_array_get(sims, 0), NULL, NULL, NOW_US);
	}
}

static void test_alloc_failures(void **state)
{
	struct seed sd = { 10, 5, 5, 0, 0, 0 };
	json_t *log = seed_log(&sd), *in = builder_inputs(log);

	(void)state;
	for (int which = 0; which <= 9; which++) {
		for (long n = 1;; n++) {
			json_t *r;

			alloc_count = 0;
			fail_at = n;
			json_set_alloc_funcs(failing_malloc, free);
			r = run_builder(which, in);
			json_set_alloc_funcs(malloc, free);
			fail_at = 0;
			if (r) {
				/* success only when no allocation failed */
				assert_true(alloc_count < n);
				json_decref(r);
				break;
			}
			assert_true(n < 100000);
		}
	}
	json_decref(in);
	json_decref(log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_repo_health),
		cmocka_unit_test(test_repo_health_window),
		cmocka_unit_test(test_change_health),
		cmocka_unit_test(test_learning_repo),
		cmocka_unit_test(test_learning_change),
		cmocka_unit_test(test_compliance),
		cmocka_unit_test(test_metrics_and_trends),
		cmocka_unit_test(test_queue_and_agents),
		cmocka_unit_test(test_health_predict),
		cmocka_unit_test(test_health_predict_order),
		cmocka_unit_test(test_predictions),
		cmocka_unit_test(test_risk_review),
		cmocka_unit_test(test_review_rebuild),
		cmocka_unit_test(test_export),
		cmocka_unit_test(test_export_csv_cells),
		cmocka_unit_test(test_dashboard),
		cmocka_unit_test(test_alloc_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
