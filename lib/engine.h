/*
 * engine.h - the validation pipeline (domain.md 3.4) and the merge queue
 * (domain.md 6; operations.md 3, 4.3): the only place intent statuses
 * change, so the transitions of domain.md 1.4 are enforced here.
 *
 * Every function returns a new JSON value the caller owns: the decision or
 * result object of the spec, or {"error": text} for a refused request
 * (unknown intent, illegal transition). NULL only on allocation failure or
 * a store failure (then nothing was written by the failing step).
 */
#ifndef CV_ENGINE_H
#define CV_ENGINE_H

#include <jansson.h>
#include <stdbool.h>

#include "store.h"

/* The notification channel of new VALIDATED intents (decisions.md D-6). */
#define CV_QUEUE_CHANNEL "converge_queue"

/* Called inside the transaction that records a decision, so that what it
 * writes (the GitHub outbox row) lands together with the decision. */
typedef void (*cv_decision_hook)(void *arg, struct cv_store *s,
    const json_t *intent, const json_t *result);

struct cv_engine {
	struct cv_store *store;
	const char *repo_dir;      /* git repository; NULL = "." */
	const char *work_dir;      /* where .converge/ lives; NULL = "." */
	const json_t *config;      /* PolicyConfig; NULL = load from work_dir */
	const json_t *coupling;    /* injected coupling (4.11 test hook) */
	bool coupling_injected;    /* true: use `coupling` even when NULL */
	int check_timeout_s;       /* 0 = 300 */
	cv_decision_hook on_decision;
	void *on_decision_arg;
};

struct cv_validate_opts {
	const json_t *sim;         /* a precomputed Simulation, or NULL */
	bool use_last_simulation;
	bool skip_checks;
};

/* validate(intent) of 3.4 on the stored intent with that id. */
json_t *cv_engine_validate(struct cv_engine *e, const char *intent_id,
    const struct cv_validate_opts *o);

/* Runs the merge simulation and appends simulation.completed (tenant of
 * the intent when intent_id names one). Returns the Simulation, or
 * {"error": ...} when git could not run. */
json_t *cv_engine_simulate(struct cv_engine *e, const char *source,
    const char *target, const char *intent_id);

struct cv_queue_opts {
	int limit;                 /* 0 = 20 */
	const char *target;        /* NULL = "main"; echoed only (B11) */
	bool auto_confirm;
	int max_retries;           /* < 0 = 3 */
	bool use_last_simulation;
	bool skip_checks;
	long long holder;          /* lock holder id; 0 = the process id */
	int lock_ttl;              /* 0 = 300 */
};

/* process_queue of 6.2. Returns the array of results (the lock-busy form
 * included). */
json_t *cv_engine_queue_run(struct cv_engine *e, const struct cv_queue_opts *o);

/* confirm(intent_id, merged_commit?) of 6.5. */
json_t *cv_engine_confirm_merge(struct cv_engine *e, const char *intent_id,
    const char *merged_commit);

/* reset of 6.7. set_status NULL keeps the current status. */
json_t *cv_engine_queue_reset(struct cv_engine *e, const char *intent_id,
    const char *set_status, bool clear_lock);

/* inspect of 6.7; min_retries < 0 = no filter. */
json_t *cv_engine_queue_inspect(struct cv_engine *e, const char *status,
    int min_retries, bool only_actionable, int limit);

/* Manual status set (T11): appends intent.status_changed {from, to}. */
json_t *cv_engine_set_status(struct cv_engine *e, const char *intent_id,
    const char *status);

/* Creates (or overwrites when overwrite) an intent and appends
 * intent.created, atomically. CV_EEXIST when !overwrite and the id is
 * taken. */
enum cv_err cv_engine_intent_create(struct cv_engine *e, const json_t *intent,
    bool overwrite);

/* Risk-only evaluation of 3.5 (risk eval command). */
json_t *cv_engine_risk_eval(struct cv_engine *e, const char *intent_id,
    const char *tenant_id);

#endif
