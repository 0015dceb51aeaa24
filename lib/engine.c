/* engine.c - validation (domain.md 3.4) and the merge queue (6). */
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archaeology.h"
#include "checks.h"
#include "clock.h"
#include "eventlog.h"
#include "inflight.h"
#include "intents.h"
#include "landing.h"
#include "repos.h"
#include "jsonx.h"
#include "log.h"
#include "policy.h"
#include "risk.h"
#include "scm.h"
#include "scmrun.h"

static const char *repo(const struct cv_engine *e)
{
	return e->repo_dir ? e->repo_dir : ".";
}

static json_t *error_obj(const char *fmt, const char *a, const char *b)
{
	char msg[1024];

	snprintf(msg, sizeof msg, fmt, a, b ? b : "");
	return json_pack("{s:s}", "error", msg);
}

static json_t *not_found(const char *id)
{
	return error_obj("Intent %s not found", id, NULL);
}

/* The policy configuration: the caller's, or loaded per 5.2 (a broken
 * policy file falls back to the defaults, with the reason logged, so one
 * bad edit cannot stop the queue). New reference. */
static json_t *config_of(const struct cv_engine *e)
{
	char *msg = NULL;
	json_t *c;

	if (e->config)
		return json_incref((json_t *)e->config);
	if ((c = cv_policy_load(e->work_dir, &msg)))
		return c;
	cv_log(CV_WARNING, "converge.engine", "policy config: %s; using the "
	    "defaults", msg ? msg : "unreadable");
	free(msg);
	return cv_policy_defaults();
}

static json_t *coupling_of(const struct cv_engine *e)
{
	if (e->coupling_injected)
		return e->coupling ? json_incref((json_t *)e->coupling) :
		    json_array();
	return cv_arch_coupling_load(e->work_dir, repo(e));
}

/* ---- simulation ------------------------------------------------------------ */

/* The commits of a candidate simulation (D-9), copied when present. */
static const char *const sim_shas[] = { "target_sha", "source_sha",
    "candidate_sha" };

static void copy_shas(json_t *to, const json_t *from)
{
	for (size_t i = 0; i < CV_ARRAY_LEN(sim_shas); i++) {
		json_t *v = json_object_get(from, sim_shas[i]);
		if (v && to)
			json_object_set(to, sim_shas[i], v);
	}
}

static json_t *sim_event_payload(const json_t *sim)
{
	json_t *p = json_pack("{s:O,s:O,s:O,s:O,s:O}", "mergeable",
	    json_object_get(sim, "mergeable"), "conflicts",
	    json_object_get(sim, "conflicts"), "files_changed",
	    json_object_get(sim, "files_changed"), "source",
	    json_object_get(sim, "source"), "target",
	    json_object_get(sim, "target"));

	copy_shas(p, sim);
	return p;
}

static enum cv_err append_sim(struct cv_engine *e, const json_t *sim,
    const char *intent_id, const char *tenant, const char *trace)
{
	json_t *conf = json_object_get(sim, "conflicts");

	return cv_event_emit(e->store, "simulation.completed", intent_id, NULL,
	    tenant, trace, sim_event_payload(sim), json_pack("{s:O,s:O,s:I}",
	    "source", json_object_get(sim, "source"), "target",
	    json_object_get(sim, "target"), "conflict_count",
	    (json_int_t)json_array_size(conf)));
}

json_t *cv_engine_simulate(struct cv_engine *e, const char *source,
    const char *target, const char *intent_id)
{
	json_t *sim = NULL, *intent = NULL;
	char *msg = NULL;
	enum cv_err err;

	if (intent_id && cv_intent_get(e->store, intent_id, &intent) != CV_OK)
		return NULL;
	char *ssha = NULL, *tsha = NULL;
	/* the commits simulated, so that a reuse can tell they moved */
	if (cv_scm_resolve_dup(repo(e), source, &ssha) != CV_OK ||
	    cv_scm_resolve_dup(repo(e), target, &tsha) != CV_OK) {
		free(ssha);
		ssha = NULL;
	}
	err = cv_scm_simulate(repo(e), source, target, NULL, &sim, &msg);
	if (err == CV_OK && ssha && tsha) {
		json_object_set_new(sim, "source_sha", json_string(ssha));
		json_object_set_new(sim, "target_sha", json_string(tsha));
	}
	free(ssha);
	free(tsha);
	if (err != CV_OK) {
		json_t *out = error_obj(err == CV_ENOTFOUND ? "%s" :
		    "Simulation failed: %s", msg ? msg : cv_strerror(err), NULL);
		free(msg);
		json_decref(intent);
		return out;
	}
	if (append_sim(e, sim, intent_id, cv_json_str(intent, "tenant_id",
	    NULL), NULL) != CV_OK) {
		json_decref(sim);
		sim = NULL;
	}
	json_decref(intent);
	return sim;
}

/* simulate_from_last: the newest simulation.completed of the intent
 * rebuilt as a Simulation (missing lists empty); NULL when none. */
static json_t *last_simulation(struct cv_engine *e, const char *id)
{
	json_t *ev = NULL, *p, *sim;

	if (cv_event_latest(e->store, "simulation.completed", id, &ev) !=
	    CV_OK || !ev)
		return NULL;
	p = json_object_get(ev, "payload");
	sim = json_pack("{s:b,s:o,s:o,s:s,s:s,s:s}",
	    "mergeable", cv_json_bool(p, "mergeable", false),
	    "conflicts", cv_json_arr(p, "conflicts") ?
	    json_deep_copy(cv_json_arr(p, "conflicts")) : json_array(),
	    "files_changed", cv_json_arr(p, "files_changed") ?
	    json_deep_copy(cv_json_arr(p, "files_changed")) : json_array(),
	    "timestamp", cv_json_str(ev, "timestamp", ""),
	    "source", cv_json_str(p, "source", ""),
	    "target", cv_json_str(p, "target", ""));
	copy_shas(sim, p);
	json_decref(ev);
	return sim;
}

/* ---- validation -------------------------------------------------------------- */

struct run {
	struct cv_engine *e;
	json_t *intent;            /* borrowed */
	const char *id, *tenant;
	char trace[CV_TRACE_LEN];
	json_t *config;
	json_t *sim, *risk, *policy;
	struct cv_landing *land;   /* registered repository (D-9), or NULL */
	bool land_owned;           /* opened (and freed) by this run */
	char decided[16];          /* MERGED/REJECTED by another process
	                            * while this run worked, or "" */
};

static void run_free(struct run *r)
{
	if (r->land_owned)
		cv_landing_free(r->land);
	json_decref(r->config);
	json_decref(r->sim);
	json_decref(r->risk);
	json_decref(r->policy);
}

static json_t *gates_view(const json_t *policy, bool with_reason)
{
	json_t *out = json_array(), *g;
	size_t i;

	json_array_foreach(json_object_get(policy, "gates"), i, g) {
		json_t *v = json_pack("{s:O,s:O}", "gate", json_object_get(g,
		    "gate"), "passed", json_object_get(g, "passed"));
		if (with_reason)
			json_object_set(v, "reason", json_object_get(g, "reason"));
		json_array_append_new(out, v);
	}
	return out;
}

/* The writes that end a validation land in one transaction, with what
 * the decision hook adds (the outbox row). */
static enum cv_err record(struct run *r, const json_t *result,
    const char *new_status, const char *type, json_t *payload,
    json_t *evidence, bool hook)
{
	struct cv_engine *e = r->e;
	enum cv_err err = cv_store_begin(e->store);

	if (err != CV_OK) {
		json_decref(payload);
		json_decref(evidence);
		return err;
	}
	/* The worker may have landed (or a close rejected) the intent while
	 * this validation ran: then nothing is recorded, or a VALIDATED
	 * written over MERGED would land the same change twice. */
	err = cv_intent_update_status_open(e->store, r->id, new_status,
	    r->decided, sizeof r->decided);
	/* A new VALIDATED intent wakes a listening worker at commit (D-6). */
	if (err == CV_OK && new_status && strcmp(new_status, "VALIDATED") == 0)
		err = cv_store_notify(e->store, CV_QUEUE_CHANNEL);
	if (err == CV_OK)
		err = cv_event_emit(e->store, type, r->id, NULL, r->tenant,
		    r->trace, payload, evidence);
	else {
		json_decref(payload);
		json_decref(evidence);
	}
	if (err == CV_OK && hook && e->on_decision)
		e->on_decision(e->on_decision_arg, e->store, r->intent, result);
	if (err != CV_OK) {
		cv_store_rollback(e->store);
		return err;
	}
	return cv_store_commit(e->store);
}

/* After a failed record(): the answer of step 0 when another process
 * decided the intent meanwhile, else NULL (the store failed). */
static json_t *decided_meanwhile(const struct run *r)
{
	if (!r->decided[0])
		return NULL;
	return error_obj("Intent %s is %s, cannot validate", r->id,
	    r->decided);
}

static json_t *block(struct run *r, const char *reason, bool hook)
{
	json_t *res = json_pack("{s:s,s:s,s:s,s:s}", "decision", "blocked",
	    "intent_id", r->id, "reason", reason, "trace_id", r->trace);

	if (r->sim)
		json_object_set_new(res, "simulation", json_pack("{s:O,s:O}",
		    "mergeable", json_object_get(r->sim, "mergeable"),
		    "conflicts", json_object_get(r->sim, "conflicts")));
	if (r->risk)
		json_object_set(res, "risk", r->risk);
	if (r->policy)
		json_object_set_new(res, "policy", json_pack("{s:s,s:o}",
		    "verdict", "BLOCK", "gates", gates_view(r->policy, true)));
	if (record(r, res, NULL, "intent.blocked", json_pack("{s:s,s:s}",
	    "reason", reason, "trace_id", r->trace), json_pack("{s:s,s:s}",
	    "reason", reason, "trace_id", r->trace), hook) != CV_OK) {
		json_decref(res);
		return decided_meanwhile(r);
	}
	return res;
}

static json_t *join_first(const json_t *arr, size_t max, const char *prefix)
{
	char buf[4096];
	size_t i, n = 0;
	json_t *v;

	n = (size_t)snprintf(buf, sizeof buf, "%s", prefix);
	json_array_foreach(arr, i, v) {
		if (i >= max || n >= sizeof buf)
			break;
		n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s",
		    i ? ", " : "", json_is_string(v) ? json_string_value(v) : "");
	}
	return json_string(buf);
}

/* "a, b, c" of an array of strings (malloc'd; NULL on failure). */
static char *join_str(const json_t *arr)
{
	json_t *v;
	size_t i, n = 1;
	char *out;

	json_array_foreach(arr, i, v)
		n += strlen(json_string_value(v) ? json_string_value(v) : "") + 2;
	if (!(out = calloc(1, n)))
		return NULL;
	json_array_foreach(arr, i, v) {
		size_t cur = strlen(out);
		snprintf(out + cur, n - cur, "%s%s", i ? ", " : "",
		    json_string_value(v) ? json_string_value(v) : "");
	}
	return out;
}

/* The commits source and target name now: on the mirror for a
 * registered repository, else in the local repository. false when either
 * is unknown. shas are new strings on success. */
static bool current_shas(struct run *r, char **source_sha,
    char **target_sha)
{
	*source_sha = *target_sha = NULL;
	if (r->land) {
		char t[CV_SHA_LEN], src[CV_SHA_LEN], *reason = NULL;
		bool ok = cv_landing_heads(r->land, r->intent, t, src,
		    &reason) == CV_OK;

		free(reason);
		if (ok && (!(*source_sha = strdup(src)) ||
		    !(*target_sha = strdup(t))))
			ok = false;
		if (!ok) {
			free(*source_sha);
			*source_sha = NULL;
		}
		return ok;
	}
	if (r->e->scm_run) {
		if (cv_scm_run_resolve(r->e->scm_run, cv_json_str(r->intent,
		    "source", ""), source_sha) == CV_OK && cv_scm_run_resolve(
		    r->e->scm_run, cv_json_str(r->intent, "target", "main"),
		    target_sha) == CV_OK)
			return true;
	} else if (cv_scm_resolve_dup(repo(r->e), cv_json_str(r->intent,
	    "source", ""), source_sha) == CV_OK && cv_scm_resolve_dup(repo(
	    r->e), cv_json_str(r->intent, "target", "main"), target_sha) ==
	    CV_OK)
		return true;
	free(*source_sha);
	*source_sha = NULL;
	return false;
}

/* A stored simulation stands for the intent only while it simulated the
 * intent's current source and target at the commits they name now: a
 * ref that changed, moved or vanished voids it. A simulation recorded
 * without shas (before they were kept, or injected by a caller of the
 * library) is held to the names alone. */
static bool simulation_current(struct run *r, const json_t *sim)
{
	const char *ss = cv_json_str(sim, "source_sha", NULL);
	const char *ts = cv_json_str(sim, "target_sha", NULL);
	char *src = NULL, *tgt = NULL;
	bool ok;

	if (strcmp(cv_json_str(sim, "source", ""), cv_json_str(r->intent,
	    "source", "")) != 0 || strcmp(cv_json_str(sim, "target", ""),
	    cv_json_str(r->intent, "target", "main")) != 0)
		return false;
	if (!ss && !ts)
		return true;
	if (!ss || !ts || !current_shas(r, &src, &tgt))
		return false;
	ok = strcmp(src, ss) == 0 && strcmp(tgt, ts) == 0;
	free(src);
	free(tgt);
	return ok;
}

/* Step 2 of 3.4. Returns 0 with r->sim set, or 1 with *blocked set. */
/* A simulation is used only once its event is in the log; else no
 * decision (1 with *blocked NULL, as for a store error). */
static int sim_recorded(struct run *r, json_t **blocked)
{
	if (append_sim(r->e, r->sim, r->id, r->tenant, r->trace) == CV_OK)
		return 0;
	*blocked = NULL;
	return 1;
}

static int step_simulation(struct run *r, const struct cv_validate_opts *o,
    json_t **blocked)
{
	char *msg = NULL, *src_sha = NULL, *tgt_sha = NULL;
	enum cv_err err;

	if (o->sim) {
		r->sim = json_deep_copy(o->sim);
		return 0;
	}
	if (o->use_last_simulation) {
		if (!(r->sim = last_simulation(r->e, r->id))) {
			*blocked = block(r, "No previous simulation found",
			    true);
			return 1;
		}
		if (simulation_current(r, r->sim))
			return 0;
		/* Stale: simulate afresh (an unknown ref blocks there). */
		json_decref(r->sim);
		r->sim = NULL;
	}
	if (r->land) {
		/* D-9: the candidate merge commit on the remote's mirror. */
		if (cv_landing_simulate(r->land, r->intent, &r->sim, &msg) !=
		    CV_OK) {
			*blocked = block(r, msg ? msg : "Simulation failed", true);
			free(msg);
			return 1;
		}
		return sim_recorded(r, blocked);
	}
	if (r->e->scm_run) {
		/* The run's cache resolves both refs and simulates exactly
		 * those commits; the Simulation carries their shas. */
		err = cv_scm_run_simulate(r->e->scm_run, cv_json_str(r->intent,
		    "source", ""), cv_json_str(r->intent, "target", "main"), NULL,
		    &r->sim, &msg);
		goto simulated;
	}
	/* Resolved first, so the shas recorded are never newer than what
	 * was simulated: a reuse then finds the refs moved, not the reverse. */
	current_shas(r, &src_sha, &tgt_sha);
	err = cv_scm_simulate(repo(r->e), cv_json_str(r->intent, "source", ""),
	    cv_json_str(r->intent, "target", "main"), NULL, &r->sim, &msg);
	if (err == CV_OK && src_sha && tgt_sha) {
		json_object_set_new(r->sim, "source_sha", json_string(src_sha));
		json_object_set_new(r->sim, "target_sha", json_string(tgt_sha));
	}
	free(src_sha);
	free(tgt_sha);
simulated:
	if (err == CV_ENOMEM) {
		/* No decision from a simulation that could not be held in
		 * memory: an error (NULL), nothing recorded. */
		free(msg);
		return 1;
	}
	if (err != CV_OK) {
		char reason[1200];
		/* An unknown ref is its own reason (D-8). */
		snprintf(reason, sizeof reason, "%s%s", err == CV_ENOTFOUND ?
		    "" : "Simulation failed: ", msg ? msg : cv_strerror(err));
		free(msg);
		*blocked = block(r, reason, true);
		return 1;
	}
	return sim_recorded(r, blocked);
}

/* Step 4: returns the names that passed (new array), or NULL with
 * *blocked set. */
static json_t *step_checks(struct run *r, const struct cv_validate_opts *o,
    json_t **blocked)
{
	json_t *required = cv_policy_required_checks(r->config,
	    cv_json_str(r->intent, "risk_level", "medium"));
	json_t *results = NULL, *passed, *failed, *c;
	const char *cand = cv_json_str(r->sim, "candidate_sha", NULL);
	size_t i;

	if (r->land) {
		/* D-9: the repository's default checks and checks_required
		 * too, run on the candidate commit itself. */
		json_t *all = cv_landing_required(r->land, r->intent, required);
		json_decref(required);
		required = all;
	}
	if (o->skip_checks)
		return required;
	if (r->land && cand)
		cv_landing_checks(r->land, cand, required,
		    r->e->check_timeout_s > 0 ? r->e->check_timeout_s :
		    CV_CHECK_TIMEOUT_S, &results);
	else
		cv_checks_run(repo(r->e), required, r->e->check_timeout_s > 0 ?
		    r->e->check_timeout_s : CV_CHECK_TIMEOUT_S, &results);
	json_decref(required);
	passed = json_array();
	failed = json_array();
	json_array_foreach(results, i, c) {
		bool ok = cv_json_bool(c, "passed", false);
		json_t *payload = json_pack("{s:O,s:b,s:O}", "check_type",
		    json_object_get(c, "check_type"), "passed", ok, "details",
		    json_object_get(c, "details"));
		/* The result belongs to the commit it ran on (D-9). */
		if (r->land && cand && payload)
			json_object_set_new(payload, "candidate_sha",
			    json_string(cand));
		/* A result whose event is not in the log decides nothing: the
		 * validation fails as a store error would (no answer). */
		if (cv_event_emit(r->e->store, "check.completed", r->id, NULL,
		    r->tenant, r->trace, payload,
		    json_pack("{s:O,s:b}", "check_type",
		    json_object_get(c, "check_type"), "passed", ok)) != CV_OK) {
			json_decref(results);
			json_decref(passed);
			json_decref(failed);
			*blocked = NULL;
			return NULL;
		}
		json_array_append(ok ? passed : failed,
		    json_object_get(c, "check_type"));
	}
	json_decref(results);
	if (json_array_size(failed) == 0) {
		json_decref(failed);
		return passed;
	}
	char *list = cv_list_fmt(failed), reason[1200];
	snprintf(reason, sizeof reason, "Checks failed: %s", list ? list : "[]");
	free(list);
	json_decref(failed);
	json_decref(passed);
	*blocked = block(r, reason, true);
	return NULL;
}

static json_t *bomb_types(const json_t *risk)
{
	json_t *out = json_array(), *b;
	size_t i;

	json_array_foreach(json_object_get(risk, "bombs"), i, b)
		json_array_append(out, json_object_get(b, "type"));
	return out;
}

static void step_risk(struct run *r)
{
	json_t *coupling = coupling_of(r->e);

	r->risk = cv_risk_evaluate(r->intent, r->sim, coupling, NULL);
	json_decref(coupling);
	if (!r->risk)
		return;
	/* Unrecorded, the score is not used: r->risk NULL ends the run. */
	if (cv_event_emit(r->e->store, "risk.evaluated", r->id, NULL, r->tenant,
	    r->trace, json_deep_copy(r->risk), json_pack("{s:O,s:O,s:O,s:o,s:s}",
	    "risk_score", json_object_get(r->risk, "risk_score"),
	    "damage_score", json_object_get(r->risk, "damage_score"),
	    "signals", json_object_get(r->risk, "signals"),
	    "bombs", bomb_types(r->risk), "trace_id", r->trace)) != CV_OK) {
		json_decref(r->risk);
		r->risk = NULL;
	}
}

/* Step 6: returns 0, or 1 with *blocked set. */
static int step_policy(struct run *r, const json_t *checks_passed,
    json_t **blocked)
{
	json_t *failed, *g;
	size_t i;

	r->policy = cv_policy_evaluate(r->config, cv_json_str(r->intent,
	    "risk_level", "medium"), checks_passed,
	    cv_json_num(r->risk, "entropy_score", 0),
	    cv_json_num(r->risk, "containment_score", 1.0));
	if (!r->policy)
		return 1;
	if (cv_event_emit(r->e->store, "policy.evaluated", r->id, NULL,
	    r->tenant, r->trace, json_pack("{s:O,s:O,s:O,s:s}", "verdict",
	    json_object_get(r->policy, "verdict"), "gates",
	    json_object_get(r->policy, "gates"), "profile_used",
	    json_object_get(r->policy, "profile_used"), "trace_id", r->trace),
	    json_pack("{s:O,s:s}", "verdict", json_object_get(r->policy,
	    "verdict"), "trace_id", r->trace)) != CV_OK)
		return 1;
	if (strcmp(cv_json_str(r->policy, "verdict", ""), "BLOCK") != 0)
		return 0;
	failed = json_array();
	json_array_foreach(json_object_get(r->policy, "gates"), i, g)
		if (!cv_json_bool(g, "passed", false))
			json_array_append(failed, json_object_get(g, "gate"));
	char *list = cv_list_fmt(failed), reason[512];
	snprintf(reason, sizeof reason, "Policy blocked: gates %s",
	    list ? list : "[]");
	free(list);
	json_decref(failed);
	*blocked = block(r, reason, true);
	return 1;
}

/* The risk gate's thresholds (D-8): the policy file's `risk` section,
 * overridden key by key by the stored policy of the intent's tenant
 * (`risk policy-set`, POST /v1/risk/policy). New reference; NULL on a
 * store failure. */
static json_t *gate_section(struct run *r)
{
	static const char *const keys[] = { "max_risk_score",
	    "max_damage_score", "max_propagation_score", "mode",
	    "enforce_ratio" };
	json_t *file = json_object_get(r->config, "risk"), *stored = NULL;
	json_t *out = json_is_object(file) ? json_deep_copy(file) :
	    json_object();

	if (!r->tenant || !*r->tenant)
		return out;
	if (cv_risk_policy_get(r->e->store, r->tenant, &stored) != CV_OK) {
		json_decref(out);
		return NULL;
	}
	for (size_t i = 0; stored && i < CV_ARRAY_LEN(keys); i++) {
		json_t *v = json_object_get(stored, keys[i]);
		if (v && !json_is_null(v))
			json_object_set(out, keys[i], v);
	}
	if (stored)
		json_object_set_new(out, "tenant_policy", json_true());
	json_decref(stored);
	return out;
}

static json_t *validated(struct run *r, json_t *gate_take)
{
	json_t *res = json_pack("{s:s,s:s,s:s,s:{s:O,s:O},s:O,s:{s:s,s:o},s:o}",
	    "decision", "validated", "intent_id", r->id, "trace_id", r->trace,
	    "simulation", "mergeable", json_object_get(r->sim, "mergeable"),
	    "files_changed", json_object_get(r->sim, "files_changed"),
	    "risk", r->risk, "policy", "verdict", "ALLOW", "gates",
	    gates_view(r->policy, false), "risk_gate", gate_take);
	json_t *payload = json_pack("{s:O,s:O,s:s}", "source",
	    json_object_get(r->intent, "source"), "target",
	    json_object_get(r->intent, "target"), "trace_id", r->trace);

	/* What was tested, so that the queue lands exactly that (D-9). */
	copy_shas(json_object_get(res, "simulation"), r->sim);
	copy_shas(payload, r->sim);
	if (record(r, res, "VALIDATED", "intent.validated", payload, json_pack("{s:O,s:s,s:s}", "risk_score",
	    json_object_get(r->risk, "risk_score"), "policy_verdict", "ALLOW",
	    "trace_id", r->trace), true) != CV_OK) {
		json_decref(res);
		return decided_meanwhile(r);
	}
	return res;
}

/* D-9: an intent of a registered repository works on the mirror of its
 * remote, fetched first. Returns 0, or 1 with *blocked set. */
static int step_repository(struct run *r, struct cv_landing *land,
    json_t **blocked)
{
	char *reason = NULL;
	enum cv_err err;

	if (land) {
		r->land = land;
		return 0;
	}
	err = cv_landing_open(r->e, r->intent, &r->land, &reason);
	r->land_owned = true;
	if (err == CV_OK)
		return 0;
	/* The registration could not be read (store, memory): no decision
	 * about the intent, which stays as it is (a NULL answer). */
	if (err != CV_EEXEC) {
		free(reason);
		*blocked = NULL;
		return 1;
	}
	*blocked = block(r, reason ? reason : "Fetch failed", true);
	free(reason);
	return 1;
}

static json_t *validate_with(struct cv_engine *e, json_t *intent,
    const struct cv_validate_opts *o, struct cv_landing *land)
{
	struct run r = { .e = e, .intent = intent };
	json_t *blocked = NULL, *checks, *gate, *res;

	r.id = cv_json_str(intent, "id", "");
	r.tenant = cv_json_str(intent, "tenant_id", NULL);
	if (cv_status_terminal(cv_json_str(intent, "status", "")))
		return error_obj("Intent %s is %s, cannot validate", r.id,
		    cv_json_str(intent, "status", ""));
	cv_trace_flow(r.trace);
	r.config = config_of(e);
	if (step_repository(&r, land, &blocked) ||
	    step_simulation(&r, o, &blocked))
		goto done;
	if (!cv_json_bool(r.sim, "mergeable", false)) {
		json_t *reason = join_first(json_object_get(r.sim, "conflicts"),
		    5, "Merge conflicts: ");
		blocked = block(&r, json_string_value(reason), true);
		json_decref(reason);
		goto done;
	}
	if (!(checks = step_checks(&r, o, &blocked)))
		goto done;
	step_risk(&r);
	if (!r.risk || step_policy(&r, checks, &blocked)) {
		json_decref(checks);
		goto done;
	}
	json_decref(checks);
	json_t *section = gate_section(&r);
	gate = section ? cv_risk_gate_evaluate(section,
	    cv_json_num(r.risk, "risk_score", 0),
	    cv_json_num(r.risk, "damage_score", 0),
	    cv_json_num(r.risk, "propagation_score", 0), r.id) : NULL;
	if (gate && json_object_get(section, "tenant_policy"))
		json_object_set_new(gate, "tenant_policy", json_true());
	json_decref(section);
	if (!gate) {
		run_free(&r);
		return NULL;
	}
	if (cv_json_bool(gate, "enforced", false)) {
		char *b = cv_json_dump(json_object_get(gate, "breaches"));
		char reason[2048];
		snprintf(reason, sizeof reason, "Risk gate enforced: %s",
		    b ? b : "[]");
		free(b);
		json_decref(gate);
		blocked = block(&r, reason, true);
		goto done;
	}
	res = validated(&r, gate);
	run_free(&r);
	return res;
done:
	run_free(&r);
	return blocked;
}

static json_t *validate_intent(struct cv_engine *e, json_t *intent,
    const struct cv_validate_opts *o)
{
	return validate_with(e, intent, o, NULL);
}

json_t *cv_engine_validate(struct cv_engine *e, const char *intent_id,
    const struct cv_validate_opts *o)
{
	json_t *intent = NULL, *res;

	if (cv_intent_get(e->store, intent_id, &intent) != CV_OK)
		return NULL;
	if (!intent)
		return not_found(intent_id);
	res = validate_intent(e, intent, o);
	json_decref(intent);
	return res;
}

/* ---- the queue ----------------------------------------------------------------- */

/* Writes a queue transition: status (+ retries), its event and, when
 * `published` is given, what the decision hook adds for it (the outbox
 * row), all in one transaction. */
static enum cv_err transition_as(struct cv_engine *e, const json_t *intent,
    const char *status, int retries, const char *type, json_t *payload,
    json_t *evidence, const json_t *published)
{
	const char *id = cv_json_str(intent, "id", "");
	enum cv_err err = cv_store_begin(e->store);

	if (err == CV_OK)
		err = cv_intent_update_status(e->store, id, status, retries);
	if (err == CV_OK)
		err = cv_event_emit(e->store, type, id, NULL,
		    cv_json_str(intent, "tenant_id", NULL), NULL, payload,
		    evidence);
	else {
		json_decref(payload);
		json_decref(evidence);
	}
	if (err == CV_OK && published && e->on_decision)
		e->on_decision(e->on_decision_arg, e->store, intent, published);
	if (err != CV_OK) {
		cv_store_rollback(e->store);
		return err;
	}
	return cv_store_commit(e->store);
}

static enum cv_err transition(struct cv_engine *e, const json_t *intent,
    const char *status, int retries, const char *type, json_t *payload,
    json_t *evidence)
{
	return transition_as(e, intent, status, retries, type, payload,
	    evidence, NULL);
}

static json_t *reject_exhausted(struct cv_engine *e, const json_t *intent,
    int max_retries)
{
	char reason[64];
	long long retries = cv_json_int(intent, "retries", 0);

	json_t *res = json_pack("{s:s,s:s,s:s}", "intent_id", cv_json_str(intent,
	    "id", ""), "decision", "rejected", "reason", "max_retries_exceeded");

	snprintf(reason, sizeof reason, "Max retries (%d) exceeded", max_retries);
	if (transition_as(e, intent, "REJECTED", -1, "intent.rejected",
	    json_pack("{s:s,s:I}", "reason", reason, "retries", retries),
	    json_pack("{s:I,s:i}", "retries", retries, "max_retries",
	    max_retries), res) != CV_OK) {
		json_decref(res);
		return NULL;
	}
	return res;
}

static void after_block(struct cv_engine *e, const json_t *intent,
    json_t *decision, int max_retries)
{
	int n = (int)cv_json_int(intent, "retries", 0) + 1;
	bool reject = n >= max_retries;

	transition(e, intent, reject ? "REJECTED" : "READY", n,
	    reject ? "intent.rejected" : "intent.requeued",
	    json_pack("{s:s,s:i}", "reason", cv_json_str(decision, "reason", ""),
	    "retries", n), json_pack("{s:i}", "retries", n));
	json_object_set_new(decision, "retries", json_integer(n));
}

/* The local landing of domain.md 6.4: a real merge in repo_dir. */
static enum cv_land local_land(void *arg, struct cv_engine *e,
    const json_t *intent, char **commit_out, char **error_out)
{
	(void)arg;
	if ((e->scm_run ? cv_scm_run_merge(e->scm_run, cv_json_str(intent,
	    "source", ""), cv_json_str(intent, "target", "main"), commit_out,
	    error_out) : cv_scm_merge(repo(e), cv_json_str(intent, "source", ""),
	    cv_json_str(intent, "target", "main"), commit_out, error_out)) ==
	    CV_OK)
		return CV_LAND_MERGED;
	if (!*error_out)
		*error_out = strdup("merge failed");
	return CV_LAND_FAILED;
}

static json_t *landed(struct cv_engine *e, const json_t *intent,
    json_t *decision, const char *commit)
{
	/* MERGED is recorded with the commit or not at all: an event whose
	 * payload could not be built would say merged without saying what
	 * (D-9 checks the landed commit against the tested one). */
	json_t *payload = json_pack("{s:s,s:O,s:O}", "merged_commit", commit,
	    "source", json_object_get(intent, "source"), "target",
	    json_object_get(intent, "target"));
	json_t *evidence = json_pack("{s:s}", "merged_commit", commit);

	if (!payload || !evidence) {
		json_decref(payload);
		json_decref(evidence);
		return NULL;
	}
	/* A decision that cannot say "merged" records nothing either: the
	 * intent goes back in line (process_one) and the next cycle finds the
	 * merge already on the target, as after a crash here. */
	if (json_object_set_new(decision, "decision", json_string("merged")) ||
	    json_object_set_new(decision, "merged_commit",
	    json_string(commit))) {
		json_decref(payload);
		json_decref(evidence);
		return NULL;
	}
	if (transition_as(e, intent, "MERGED", -1, "intent.merged", payload,
	    evidence, decision) != CV_OK)
		return NULL;
	return decision;
}

/* D-8: a landing that did not happen spends a retry; the intent stays
 * VALIDATED for the next cycle, and is REJECTED at the limit. */
static json_t *land_failed(struct cv_engine *e, const json_t *intent,
    json_t *decision, const char *error, int max_retries)
{
	int n = (int)cv_json_int(intent, "retries", 0) + 1;
	const char *id = cv_json_str(intent, "id", "");
	const char *tenant = cv_json_str(intent, "tenant_id", NULL);
	char reason[1200];
	enum cv_err err;

	cv_log(CV_WARNING, "converge.engine", "merge of %s failed: %s", id,
	    error);
	json_object_set_new(decision, "decision", json_string("merge_failed"));
	json_object_set_new(decision, "error", json_string(error));
	json_object_set_new(decision, "retries", json_integer(n));
	if (n < max_retries) {
		if (transition(e, intent, "VALIDATED", n, "intent.merge_failed",
		    json_pack("{s:s,s:i}", "error", error, "retries", n),
		    json_pack("{s:i}", "retries", n)) != CV_OK)
			return NULL;
		return decision;
	}
	snprintf(reason, sizeof reason, "Merge failed %d times: %s", n, error);
	json_object_set_new(decision, "decision", json_string("rejected"));
	json_object_set_new(decision, "reason", json_string(reason));
	if ((err = cv_store_begin(e->store)) != CV_OK)
		return NULL;
	err = cv_intent_update_status(e->store, id, "REJECTED", n);
	if (err == CV_OK)
		err = cv_event_emit(e->store, "intent.merge_failed", id, NULL,
		    tenant, NULL, json_pack("{s:s,s:i}", "error", error,
		    "retries", n), json_pack("{s:i}", "retries", n));
	if (err == CV_OK)
		err = cv_event_emit(e->store, "intent.rejected", id, NULL,
		    tenant, NULL, json_pack("{s:s,s:i}", "reason", reason,
		    "retries", n), json_pack("{s:i,s:i}", "retries", n,
		    "max_retries", max_retries));
	if (err == CV_OK && e->on_decision)
		e->on_decision(e->on_decision_arg, e->store, intent, decision);
	if (err != CV_OK) {
		cv_store_rollback(e->store);
		return NULL;
	}
	return cv_store_commit(e->store) == CV_OK ? decision : NULL;
}

json_t *cv_engine_land_record(struct cv_engine *e, const json_t *intent,
    json_t *decision, enum cv_land outcome, const char *commit,
    const char *error, int max_retries)
{
	json_t *out = NULL;

	if (max_retries < 0)
		max_retries = 3;
	switch (outcome) {
	case CV_LAND_MERGED:
		if (commit && *commit) {
			out = landed(e, intent, decision, commit);
			break;
		}
		error = "the landing reported no commit";
		/* fall through */
	case CV_LAND_FAILED:
		out = land_failed(e, intent, decision, error && *error ? error :
		    "merge failed", max_retries);
		break;
	case CV_LAND_RETRY:
		/* Nothing landed and nothing is spent: validated again next
		 * cycle (D-9: the target moved under the landing). */
		json_object_set_new(decision, "decision",
		    json_string("merge_deferred"));
		if (error)
			json_object_set_new(decision, "reason",
			    json_string(error));
		out = cv_intent_update_status(e->store, cv_json_str(intent,
		    "id", ""), "VALIDATED", -1) == CV_OK ? decision : NULL;
		break;
	}
	if (!out)
		json_decref(decision);
	return out;
}

static json_t *merge_now(struct cv_engine *e, const json_t *intent,
    json_t *decision, int max_retries)
{
	char *commit = NULL, *error = NULL;
	enum cv_land outcome = e->land ?
	    e->land(e->land_arg, e, intent, &commit, &error) :
	    local_land(NULL, e, intent, &commit, &error);
	json_t *out = cv_engine_land_record(e, intent, decision, outcome,
	    commit, error, max_retries);

	free(commit);
	free(error);
	return out;
}

/* The dependencies of intent that are not MERGED, and among them those
 * that name no intent of the same tenant (another tenant's intent does
 * not exist for it). New arrays; false on a store failure. */
static bool unmerged_deps(struct cv_engine *e, const json_t *intent,
    json_t *blocked_by, json_t *unknown)
{
	const char *tenant = cv_json_str(intent, "tenant_id", NULL);
	json_t *dep, *d;
	size_t i;

	json_array_foreach(json_object_get(intent, "dependencies"), i, dep) {
		const char *id = json_string_value(dep), *dt;
		if (!id)
			continue;
		d = NULL;
		if (cv_intent_get(e->store, id, &d) != CV_OK)
			return false;
		dt = cv_json_str(d, "tenant_id", NULL);
		if (!d || (tenant && (!dt || strcmp(dt, tenant) != 0))) {
			json_array_append(unknown, dep);
			json_array_append(blocked_by, dep);
		} else if (strcmp(cv_json_str(d, "status", ""), "MERGED") != 0)
			json_array_append(blocked_by, dep);
		json_decref(d);
	}
	return true;
}

/* Appends intent.blocked unless the newest one already says the same:
 * a worker polling every few seconds must not write one per cycle. */
static enum cv_err dep_blocked_event(struct cv_engine *e,
    const json_t *intent, const char *reason, const json_t *blocked_by)
{
	const char *id = cv_json_str(intent, "id", "");
	json_t *last = NULL;
	enum cv_err err = cv_event_latest(e->store, "intent.blocked", id,
	    &last);

	if (err != CV_OK)
		return err;
	if (last && strcmp(cv_json_str(json_object_get(last, "payload"),
	    "reason", ""), reason) == 0) {
		json_decref(last);
		return CV_OK;
	}
	json_decref(last);
	return cv_event_emit(e->store, "intent.blocked", id, NULL,
	    cv_json_str(intent, "tenant_id", NULL), NULL, json_pack("{s:s,s:O}",
	    "reason", reason, "blocked_by", blocked_by), json_pack("{s:s}",
	    "reason", reason));
}

/* D-8 (domain.md 6.6 made the default): an intent whose dependencies are
 * not all MERGED waits, without spending a retry or changing status.
 * Returns 0 when it may proceed, 1 with *out the dependency_blocked
 * result, or -1 (*out NULL) when the dependencies or the block could not
 * be read or recorded: an unread dependency is never taken as merged. */
static int dependency_gate(struct cv_engine *e, const json_t *intent,
    json_t **out)
{
	json_t *blocked_by = json_array(), *unknown = json_array(), *res;
	char reason[2048], *list, *ulist;
	bool read = unmerged_deps(e, intent, blocked_by, unknown);

	*out = NULL;
	if (!read || json_array_size(blocked_by) == 0) {
		json_decref(blocked_by);
		json_decref(unknown);
		return read ? 0 : -1;
	}
	list = join_str(blocked_by);
	ulist = join_str(unknown);
	if (json_array_size(unknown))
		snprintf(reason, sizeof reason, "Dependencies not merged: %s "
		    "(unknown intent: %s)", list ? list : "", ulist ? ulist : "");
	else
		snprintf(reason, sizeof reason, "Dependencies not merged: %s",
		    list ? list : "");
	free(list);
	free(ulist);
	if (dep_blocked_event(e, intent, reason, blocked_by) != CV_OK) {
		json_decref(blocked_by);
		json_decref(unknown);
		return -1;
	}
	res = json_pack("{s:O,s:s,s:o,s:s}", "intent_id", json_object_get(intent,
	    "id"), "decision", "dependency_blocked", "blocked_by", blocked_by,
	    "reason", reason);
	if (res && json_array_size(unknown))
		json_object_set(res, "unknown", unknown);
	json_decref(unknown);
	*out = res;
	return res ? 1 : -1;
}

/* The last validation still holds when it tested the candidate of the
 * current target and source tips. */
static bool validation_current(const json_t *v, const char *t,
    const char *src)
{
	return cv_json_str(v, "candidate_sha", NULL) && *t && strcmp(cv_json_str(v,
	    "target_sha", ""), t) == 0 && strcmp(cv_json_str(v, "source_sha",
	    ""), src) == 0;
}

/* Candidate of the last validation already in the target: pushed before
 * a crash, not yet recorded. */
static bool already_landed(struct cv_landing *land, const json_t *v,
    const char *t)
{
	const char *cand = cv_json_str(v, "candidate_sha", NULL);
	char *msg = NULL;
	bool yes = false;

	if (cand && *t)
		cv_mirror_is_ancestor(&land->mirror, cand, t, &yes, &msg);
	free(msg);
	return yes;
}

/*
 * D-9: the queue step of an intent of a registered repository. Lands the
 * candidate the last validation tested when target and source have not
 * moved since; else validates again on the current target (checks
 * included) and lands that candidate. Always pushed as a fast-forward;
 * a refused push (the target moved meanwhile) spends nothing.
 */
static json_t *land_registered(struct cv_engine *e, json_t *intent,
    struct cv_landing *land, int max_retries)
{
	const char *id = cv_json_str(intent, "id", "");
	char t[CV_SHA_LEN] = "", src[CV_SHA_LEN] = "", *reason = NULL;
	char cand[CV_SHA_LEN] = "";
	json_t *ev = NULL, *v, *d;

	/* Unread, a candidate pushed before a crash would not be found
	 * and a second one would be made: no landing this cycle. */
	if (cv_event_latest(e->store, "intent.validated", id, &ev) != CV_OK)
		return NULL;
	v = json_object_get(ev, "payload");
	if (cv_landing_heads(land, intent, t, src, &reason) != CV_OK)
		t[0] = src[0] = '\0';  /* the revalidation blocks, naming it */
	free(reason);
	if (already_landed(land, v, t)) {
		snprintf(cand, sizeof cand, "%s", cv_json_str(v,
		    "candidate_sha", ""));
		json_decref(ev);
		d = json_pack("{s:s,s:s,s:s}", "intent_id", id, "decision",
		    "validated", "candidate_sha", cand);
		return cv_engine_land_record(e, intent, d, CV_LAND_MERGED, cand,
		    NULL, max_retries);
	}
	if (validation_current(v, t, src)) {
		snprintf(cand, sizeof cand, "%s", cv_json_str(v,
		    "candidate_sha", ""));
		d = json_pack("{s:s,s:s,s:s}", "intent_id", id, "decision",
		    "validated", "candidate_sha", cand);
	} else {
		struct cv_validate_opts vo = { NULL, false, false };
		d = validate_with(e, intent, &vo, land);
		if (!d || json_object_get(d, "error")) {
			json_decref(ev);
			return d;
		}
		if (strcmp(cv_json_str(d, "decision", ""), "blocked") == 0) {
			json_decref(ev);
			after_block(e, intent, d, max_retries);
			return d;
		}
		snprintf(cand, sizeof cand, "%s", cv_json_str(cv_json_obj(d,
		    "simulation"), "candidate_sha", ""));
	}
	json_decref(ev);
	/* Joins the run's train: the next candidate builds on this one, and
	 * one push lands them all (train_flush). Stays VALIDATED meanwhile:
	 * a crash between the push and the records leaves it where the next
	 * cycle looks. */
	json_object_set_new(d, "candidate_sha", json_string(cand));
	json_array_append_new(land->pending, json_pack("{s:O,s:O}", "intent",
	    intent, "decision", d));
	cv_landing_set_tip(land, cv_json_str(intent, "target", "main"), cand);
	return d;
}

/* The answer for an intent whose outcome could not be recorded (the
 * store failed): never "merged" when the database does not say so. A
 * push that happened is found on the target and recorded by the next
 * cycle (already_landed). */
static void unrecorded(json_t *d, enum cv_land outcome, const char *cand)
{
	char msg[200];

	snprintf(msg, sizeof msg, "%s, but the outcome could not be recorded "
	    "(store error); the next cycle records it", outcome ==
	    CV_LAND_MERGED ? "Pushed" : "Not landed");
	if (outcome == CV_LAND_MERGED) {
		/* deleted first: deleting allocates nothing */
		json_object_del(d, "decision");
		json_object_del(d, "merged_commit");
		json_object_set_new(d, "decision", json_string(
		    "merge_unrecorded"));
		json_object_set_new(d, "pushed_commit", json_string(cand));
	}
	json_object_set_new(d, "error", json_string(msg));
}

/* Pushes the train's last candidate once and records every intent of
 * the train by the outcome: MERGED (each with its own candidate, all in
 * the pushed tip's history), or nothing spent when the target moved. */
static void train_flush(struct cv_engine *e, struct cv_landing *land,
    int max_retries)
{
	char *commit = NULL, *error = NULL, tip[CV_SHA_LEN];
	json_t *p;
	enum cv_land outcome;
	size_t i;

	if (json_array_size(land->pending) == 0)
		return;
	snprintf(tip, sizeof tip, "%s", land->tip);
	outcome = cv_landing_push(land, json_object_get(json_array_get(
	    land->pending, 0), "intent"), tip, &commit, &error);
	if (outcome != CV_LAND_MERGED)
		cv_landing_set_tip(land, NULL, NULL);   /* unknown: refetch */
	json_array_foreach(land->pending, i, p) {
		json_t *d = json_object_get(p, "decision");
		char cand[CV_SHA_LEN];
		snprintf(cand, sizeof cand, "%s", cv_json_str(d,
		    "candidate_sha", ""));
		/* The result list holds d too: it sees the outcome. */
		json_incref(d);
		json_t *rec = cv_engine_land_record(e, json_object_get(p,
		    "intent"), d, outcome, outcome == CV_LAND_MERGED ? cand :
		    NULL, error, max_retries);
		if (!rec)
			unrecorded(d, outcome, cand);
		json_decref(rec);
	}
	json_array_clear(land->pending);
	free(commit);
	free(error);
}

static json_t *process_one(struct cv_engine *e, json_t *intent,
    const struct cv_queue_opts *o, int max_retries, struct cv_landing *land)
{
	struct cv_validate_opts vo = { NULL, o->use_last_simulation,
	    o->skip_checks };
	json_t *d;

	if (cv_json_int(intent, "retries", 0) >= max_retries)
		return reject_exhausted(e, intent, max_retries);
	/* Blocked (the answer) or failed (NULL: left for the next cycle). */
	if (!o->ignore_dependencies && dependency_gate(e, intent, &d) != 0)
		return d;
	if (land)
		return land_registered(e, intent, land, max_retries);
	d = validate_intent(e, intent, &vo);
	if (!d || json_object_get(d, "error"))
		return d;
	if (strcmp(cv_json_str(d, "decision", ""), "blocked") == 0) {
		after_block(e, intent, d, max_retries);
		return d;
	}
	const char *id = cv_json_str(intent, "id", "");
	if (!o->auto_confirm) {
		/* Not QUEUED is not queued: it stays VALIDATED for the next
		 * cycle, and this one says it failed. */
		if (cv_intent_update_status(e->store, id, "QUEUED", -1) != CV_OK) {
			cv_log(CV_ERROR, "converge.engine", "intent %s: "
			    "cannot mark it QUEUED", id);
			json_decref(d);
			return NULL;
		}
		return d;
	}
	/* Marked while it lands (inflight.h): a cycle that dies before the
	 * outcome is recorded leaves it to the next one. */
	if (cv_inflight_begin(e->store, id, (long long)getpid()) != CV_OK) {
		json_decref(d);
		return NULL;
	}
	json_t *out = merge_now(e, intent, d, max_retries);
	/* The outcome could not be recorded: back in line, or the intent
	 * would wait in QUEUED for a confirm nobody gives (the queue selects
	 * VALIDATED only). A merge already on the target is found again by
	 * the next cycle's landing. If even that fails, the mark stays: the
	 * next cycle's recovery puts it back (inflight.h); without the mark
	 * it would stay QUEUED for good. */
	if (!out && cv_intent_update_status(e->store, id, "VALIDATED", -1) !=
	    CV_OK) {
		cv_log(CV_ERROR, "converge.engine", "intent %s: cannot put it "
		    "back to VALIDATED; the next cycle will", id);
		return NULL;
	}
	cv_inflight_end(e->store, id);
	return out;
}

static json_t *lock_busy(struct cv_engine *e)
{
	json_t *info = NULL;

	cv_lock_info(e->store, "queue", &info);
	return json_pack("[{s:s,s:o}]", "error", "Queue lock held. Another "
	    "process may be running.", "lock", info ? info : json_null());
}

/* ---- per-repository queues (D-9) ------------------------------------------ */

#define CYCLE_REPOS 16
#define TRAIN_MAX 50               /* intents landed by one push at most */

/* What one queue run holds for registered repositories: the lock of each
 * (repository, target) it works on, and each repository's landing
 * context, fetched once per run. */
struct cycle {
	struct cv_engine *e;
	long long holder;
	int ttl;
	int max_retries;
	json_t *locks;             /* lock name -> true (held) / false (busy) */
	const json_t *intents;     /* the run's intents, and their */
	const json_t *repos;       /* registrations (null: local) */
	char *names[CYCLE_REPOS];
	struct cv_landing *lands[CYCLE_REPOS];
	int n;
};

static void cycle_free(struct cycle *c)
{
	const char *name;
	json_t *held;
	bool released;

	/* The trains leave before the locks are released. */
	for (int i = 0; i < c->n; i++)
		train_flush(c->e, c->lands[i], c->max_retries);
	json_object_foreach(c->locks, name, held)
		if (json_is_true(held))
			cv_lock_release(c->e->store, name, c->holder, &released);
	json_decref(c->locks);
	for (int i = 0; i < c->n; i++) {
		free(c->names[i]);
		cv_landing_free(c->lands[i]);
	}
}

/* The queue lock of the intent's repository and target: taken on first
 * use in this run, extended after. false when another worker holds it,
 * or with *failed when the store could not say (then asked again for
 * the next intent: a failure is not "busy"). */
static bool cycle_lock(struct cycle *c, const json_t *repo,
    const json_t *intent, bool *failed)
{
	char name[700];
	json_t *state;
	bool ok = false;

	*failed = false;
	snprintf(name, sizeof name, "queue:%s@%s", cv_json_str(repo, "name", ""),
	    cv_json_str(intent, "target", "main"));
	if ((state = json_object_get(c->locks, name))) {
		if (json_is_true(state) && cv_lock_heartbeat(c->e->store, name,
		    c->holder, c->ttl, &ok) != CV_OK)
			*failed = true;
	} else if (cv_lock_acquire(c->e->store, name, c->holder, c->ttl, &ok) !=
	    CV_OK)
		*failed = true;
	else
		json_object_set_new(c->locks, name, json_boolean(ok));
	if (*failed)
		cv_log(CV_WARNING, "converge.engine", "queue lock %s: the store "
		    "failed; its intents wait for the next cycle", name);
	return ok && !*failed;
}

/* The landing context of repo for this run (fetched once), or NULL with
 * *reason when the fetch failed. */
static struct cv_landing *cycle_landing(struct cycle *c, const json_t *repo,
    const json_t *intent, char **reason)
{
	const char *name = cv_json_str(repo, "name", "");
	struct cv_landing *l = NULL;

	*reason = NULL;
	for (int i = 0; i < c->n; i++)
		if (strcmp(c->names[i], name) == 0)
			return c->lands[i];
	if (cv_landing_open(c->e, intent, &l, reason) != CV_OK || !l)
		return NULL;
	/* The refs of all the run's intents on this repository at once. */
	json_t *mine = json_array(), *it;
	size_t i;
	json_array_foreach(c->intents, i, it)
		if (strcmp(cv_json_str(json_array_get(c->repos, i), "name", ""),
		    name) == 0)
			json_array_append(mine, it);
	cv_landing_prefetch(l, mine);
	json_decref(mine);
	if (c->n < CYCLE_REPOS) {
		c->names[c->n] = strdup(name);
		c->lands[c->n++] = l;
	}
	return l;
}

/* process_one for an intent of a registered repository: under the lock
 * of its (repository, target), on the run's landing context. NULL result
 * with *skipped when another worker holds that queue. */
static json_t *process_registered(struct cycle *c, json_t *intent,
    const json_t *repo, const struct cv_queue_opts *o, int max_retries,
    bool *skipped)
{
	struct cv_landing *land;
	char *reason = NULL;
	json_t *res;

	*skipped = false;
	bool failed;
	if (!cycle_lock(c, repo, intent, &failed)) {
		if (failed)
			return json_pack("{s:O,s:s}", "intent_id",
			    json_object_get(intent, "id"), "error", "The queue "
			    "lock could not be taken (store error); left for the "
			    "next cycle");
		*skipped = true;
		return NULL;
	}
	if (!(land = cycle_landing(c, repo, intent, &reason))) {
		/* Infrastructure, not the intent: nothing spent, next cycle. */
		res = json_pack("{s:O,s:s,s:s}", "intent_id", json_object_get(
		    intent, "id"), "decision", "fetch_failed", "reason", reason ?
		    reason : "Fetch failed");
		free(reason);
		return res;
	}
	/* A train runs on one branch and has a length limit. */
	if (land->tip_branch[0] && strcmp(land->tip_branch, cv_json_str(intent,
	    "target", "main")) != 0)
		train_flush(c->e, land, max_retries);
	res = process_one(c->e, intent, o, max_retries, land);
	if (json_array_size(land->pending) >= TRAIN_MAX)
		train_flush(c->e, land, max_retries);
	/* A landing context not cached (too many repositories) is ours. */
	bool cached = false;
	for (int i = 0; i < c->n; i++)
		cached = cached || c->lands[i] == land;
	if (!cached) {
		train_flush(c->e, land, max_retries);
		cv_landing_free(land);
	}
	return res;
}

/* The registered repository of each intent (JSON null: a local one), in
 * the order of intents; *any set when one has. NULL when one could not be
 * read: an intent must not be taken for a local one by mistake. */
static json_t *repos_of(struct cv_engine *e, const json_t *intents,
    bool *any)
{
	json_t *repos = json_array(), *intent, *repo;
	size_t i;

	json_array_foreach(intents, i, intent) {
		repo = NULL;
		if (!repos || cv_repo_of_intent(e->store, intent, &repo) !=
		    CV_OK || json_array_append_new(repos, repo ? repo :
		    json_null()) != 0) {
			json_decref(repos);
			return NULL;
		}
		*any = *any || repo;
	}
	return repos;
}

json_t *cv_engine_queue_run(struct cv_engine *e, const struct cv_queue_opts *o)
{
	long long holder = o->holder ? o->holder : (long long)getpid();
	int ttl = o->lock_ttl > 0 ? o->lock_ttl : 300;
	int limit = o->limit > 0 ? o->limit : 20;
	int max_retries = o->max_retries >= 0 ? o->max_retries : 3;
	const char *target = o->target ? o->target : "main";
	json_t *intents, *results, *intent, *run_coupling = NULL, *repo;
	bool got = false, own_coupling = !e->coupling_injected, any_repo = false;
	struct cycle c = { .e = e, .holder = holder, .ttl = ttl,
	    .max_retries = max_retries };
	size_t i;

	/* Intents waiting on a dependency do not use up the batch: look
	 * further so that they cannot starve the intents behind them. */
	/* Tenants take turns (cv_intent_list_fair): one tenant's backlog
	 * cannot starve another's. */
	intents = cv_intent_list_fair(e->store, "VALIDATED", o->
	    ignore_dependencies ? limit : limit + CV_QUEUE_DEP_LOOKAHEAD);
	if (!intents)
		return NULL;
	json_t *repos = repos_of(e, intents, &any_repo);
	bool own_scm = !e->scm_run;
	if (!repos) {
		json_decref(intents);
		return NULL;
	}
	/* The global lock guards the local (0.1.0) queue; each registered
	 * repository and target has a queue and a lock of its own. */
	if (cv_lock_acquire(e->store, "queue", holder, ttl, &got) != CV_OK) {
		json_decref(intents);
		json_decref(repos);
		return NULL;
	}
	if (!got && !any_repo) {
		json_decref(intents);
		json_decref(repos);
		return lock_busy(e);
	}
	c.locks = json_object();
	c.intents = intents;
	c.repos = repos;
	results = json_array();
	/* Before anything lands: an outcome with no answer to go in
	 * would be one nobody hears of. */
	if (!c.locks || !results) {
		json_decref(results);
		json_decref(intents);
		json_decref(repos);
		cycle_free(&c);
		bool released;
		if (got)
			cv_lock_release(e->store, "queue", holder, &released);
		return NULL;
	}
	/* Local intents: their refs are resolved, and their files listed,
	 * together (scmrun.h). */
	json_array_foreach(intents, i, intent)
		if (got && own_scm && json_is_null(json_array_get(repos, i)) &&
		    (e->scm_run || (e->scm_run = cv_scm_run_new(e->repo_dir))))
			cv_scm_run_expect(e->scm_run, cv_json_str(intent, "source",
			    ""), cv_json_str(intent, "target", "main"));
	/* The global lock is ours: a local landing still marked belongs to
	 * a dead cycle; its intent is VALIDATED again for the next cycle. */
	if (got)
		cv_inflight_recover(e->store, NULL);
	int handled = 0;
	json_array_foreach(intents, i, intent) {
		if (handled >= limit)
			break;
		bool held = false, skipped = false;
		json_t *res;
		repo = json_array_get(repos, i);
		if (own_coupling && !e->coupling_injected) {
			/* One `git log` per run, not one per intent. */
			run_coupling = coupling_of(e);
			e->coupling = run_coupling;
			e->coupling_injected = true;
		}
		if (!json_is_null(repo)) {
			res = process_registered(&c, intent, repo, o, max_retries,
			    &skipped);
			if (skipped)
				continue;
		} else {
			if (!got)
				continue;
			/* Heartbeat (O4): a batch longer than the TTL must not
			 * be overlapped; if the lock was taken from us, stop. */
			cv_lock_heartbeat(e->store, "queue", holder, ttl, &held);
			if (!held) {
				cv_log(CV_WARNING, "converge.engine", "queue lock "
				    "lost; stopping the batch");
				break;
			}
			res = process_one(e, intent, o, max_retries, NULL);
		}
		if (!res || strcmp(cv_json_str(res, "decision", ""),
		    "dependency_blocked") != 0)
			handled++;
		/* A step that failed (the store, memory) decided nothing and
		 * wrote nothing whole: said so, not left out of the answer. */
		if (!res) {
			cv_log(CV_WARNING, "converge.engine", "intent %s: the "
			    "queue step failed; left for the next cycle",
			    cv_json_str(intent, "id", ""));
			res = json_pack("{s:O,s:s}", "intent_id", json_object_get(
			    intent, "id"), "error", "The queue step failed (store "
			    "error); left for the next cycle");
		}
		if (res)
			json_array_append_new(results, res);
	}
	json_decref(intents);
	json_decref(repos);
	cycle_free(&c);
	if (own_scm) {
		cv_scm_run_free(e->scm_run);
		e->scm_run = NULL;
	}
	if (own_coupling) {
		e->coupling = NULL;
		e->coupling_injected = false;
		json_decref(run_coupling);
	}
	/* Each intent's outcome is recorded with its own event; a cycle
	 * whose summary is not is a failed cycle (NULL), not a success. */
	if (cv_event_emit(e->store, "queue.processed", NULL, NULL, NULL, NULL,
	    json_pack("{s:I,s:i,s:s}", "processed",
	    (json_int_t)json_array_size(results), "limit", limit, "target",
	    target), json_pack("{s:I}", "count",
	    (json_int_t)json_array_size(results))) != CV_OK) {
		cv_log(CV_ERROR, "converge.engine", "queue cycle of %zu results "
		    "(each recorded): its queue.processed event could not be "
		    "appended", json_array_size(results));
		json_decref(results);
		results = NULL;
	}
	bool released;
	if (got)
		cv_lock_release(e->store, "queue", holder, &released);
	return results;
}

json_t *cv_engine_confirm_merge(struct cv_engine *e, const char *intent_id,
    const char *merged_commit)
{
	json_t *intent = NULL, *out;
	char sha[64];
	const char *status;

	if (cv_intent_get(e->store, intent_id, &intent) != CV_OK)
		return NULL;
	if (!intent)
		return not_found(intent_id);
	status = cv_json_str(intent, "status", "");
	if (strcmp(status, "QUEUED") != 0 && strcmp(status, "VALIDATED") != 0) {
		out = error_obj("Intent %s is %s, expected QUEUED or VALIDATED",
		    intent_id, status);
		json_decref(intent);
		return out;
	}
	if (merged_commit && *merged_commit)
		snprintf(sha, sizeof sha, "%s", merged_commit);
	else
		snprintf(sha, sizeof sha, "confirmed-%.8s", intent_id);
	json_t *published = json_pack("{s:s,s:s,s:s}", "decision", "merged",
	    "intent_id", intent_id, "merged_commit", sha);
	enum cv_err err = transition_as(e, intent, "MERGED", -1,
	    "intent.merged", json_pack("{s:s,s:O,s:O}", "merged_commit", sha,
	    "source", json_object_get(intent, "source"), "target",
	    json_object_get(intent, "target")), json_pack("{s:s}",
	    "merged_commit", sha), published);
	json_decref(published);
	json_decref(intent);
	if (err != CV_OK)
		return NULL;
	return json_pack("{s:s,s:s,s:s}", "intent_id", intent_id, "status",
	    "MERGED", "merged_commit", sha);
}

json_t *cv_engine_queue_reset(struct cv_engine *e, const char *intent_id,
    const char *set_status, bool clear_lock)
{
	json_t *intent = NULL, *out;
	const char *status;
	bool released;

	/* The lock goes first, even for an unknown intent: the runbook's
	 * "--intent-id any --clear-lock" relies on it. */
	if (clear_lock)
		cv_lock_force_release(e->store, "queue", &released);
	if (set_status && !cv_status_valid(set_status))
		return error_obj("Invalid status: %s", set_status, NULL);
	if (cv_intent_get(e->store, intent_id, &intent) != CV_OK)
		return NULL;
	if (!intent)
		return not_found(intent_id);
	status = set_status ? set_status : cv_json_str(intent, "status", "READY");
	if (transition(e, intent, status, 0, "queue.reset", json_pack(
	    "{s:s,s:b}", "new_status", status, "retries_reset", 1), NULL) !=
	    CV_OK) {
		json_decref(intent);
		return NULL;
	}
	out = json_pack("{s:s,s:s,s:i}", "intent_id", intent_id, "status",
	    status, "retries", 0);
	json_decref(intent);
	return out;
}

static void inspect_add(json_t *out, const json_t *list, int min_retries)
{
	json_t *in;
	size_t i;

	json_array_foreach(list, i, in) {
		if (min_retries >= 0 && cv_json_int(in, "retries", 0) < min_retries)
			continue;
		json_array_append_new(out, json_pack("{s:O,s:O,s:O,s:O,s:O,s:O,"
		    "s:O}", "intent_id", json_object_get(in, "id"), "status",
		    json_object_get(in, "status"), "retries",
		    json_object_get(in, "retries"), "priority",
		    json_object_get(in, "priority"), "source",
		    json_object_get(in, "source"), "target",
		    json_object_get(in, "target"), "risk_level",
		    json_object_get(in, "risk_level")));
	}
}

json_t *cv_engine_queue_inspect(struct cv_engine *e, const char *status,
    int min_retries, bool only_actionable, int limit)
{
	static const char *const actionable[] = { "READY", "VALIDATED",
	    "QUEUED" };
	json_t *out = json_array(), *list;

	if (limit <= 0)
		limit = 100;
	for (size_t k = 0; k < (only_actionable ? 3 : 1); k++) {
		const char *st = only_actionable ? actionable[k] : status;
		if (!(list = cv_intent_list(e->store, st, NULL, only_actionable ?
		    limit : (st ? limit : 100000)))) {
			json_decref(out);
			return NULL;
		}
		inspect_add(out, list, min_retries);
		json_decref(list);
	}
	while ((int)json_array_size(out) > limit)
		json_array_remove(out, json_array_size(out) - 1);
	return out;
}

json_t *cv_engine_set_status(struct cv_engine *e, const char *intent_id,
    const char *status)
{
	json_t *intent = NULL, *out;
	char from[32];

	if (!cv_status_valid(status))
		return error_obj("Invalid status: %s", status, NULL);
	if (cv_intent_get(e->store, intent_id, &intent) != CV_OK)
		return NULL;
	if (!intent)
		return not_found(intent_id);
	snprintf(from, sizeof from, "%s", cv_json_str(intent, "status", ""));
	if (transition(e, intent, status, -1, "intent.status_changed",
	    json_pack("{s:s,s:s}", "from", from, "to", status), NULL) != CV_OK) {
		json_decref(intent);
		return NULL;
	}
	out = json_pack("{s:s,s:s}", "intent_id", intent_id, "status", status);
	json_decref(intent);
	return out;
}

enum cv_err cv_engine_intent_create_in_tx(struct cv_engine *e,
    const json_t *intent, bool overwrite)
{
	const char *id = cv_json_str(intent, "id", "");
	enum cv_err err = overwrite ? cv_intent_upsert(e->store, intent) :
	    cv_intent_insert(e->store, intent);

	if (err == CV_OK)
		err = cv_event_emit(e->store, "intent.created", id, NULL,
		    cv_json_str(intent, "tenant_id", NULL), NULL,
		    json_deep_copy(intent), NULL);
	return err;
}

enum cv_err cv_engine_intent_create(struct cv_engine *e, const json_t *intent,
    bool overwrite)
{
	enum cv_err err = cv_store_begin(e->store);

	if (err != CV_OK)
		return err;
	err = cv_engine_intent_create_in_tx(e, intent, overwrite);
	if (err != CV_OK) {
		cv_store_rollback(e->store);
		return err;
	}
	return cv_store_commit(e->store);
}

json_t *cv_engine_risk_eval(struct cv_engine *e, const char *intent_id,
    const char *tenant_id)
{
	json_t *intent = NULL, *sim, *risk;

	if (cv_intent_get(e->store, intent_id, &intent) != CV_OK)
		return NULL;
	if (!intent)
		return not_found(intent_id);
	if (!(sim = last_simulation(e, intent_id)))
		sim = json_pack("{s:b,s:[],s:[]}", "mergeable", 1, "conflicts",
		    "files_changed");
	risk = cv_risk_evaluate(intent, sim, NULL, NULL);
	if (risk && tenant_id)
		json_object_set_new(risk, "tenant_id", json_string(tenant_id));
	/* An evaluation the log does not hold is not answered either. */
	if (risk && cv_event_emit(e->store, "risk.evaluated", intent_id, NULL,
	    tenant_id, NULL, json_deep_copy(risk), json_pack(
	    "{s:O,s:O,s:O,s:o}", "risk_score", json_object_get(risk,
	    "risk_score"), "damage_score", json_object_get(risk,
	    "damage_score"), "signals", json_object_get(risk, "signals"),
	    "bombs", bomb_types(risk))) != CV_OK) {
		json_decref(risk);
		risk = NULL;
	}
	json_decref(sim);
	json_decref(intent);
	return risk;
}
