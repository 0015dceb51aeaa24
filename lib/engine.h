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

struct cv_github;

/* The notification channel of new VALIDATED intents (decisions.md D-6). */
#define CV_QUEUE_CHANNEL "converge_queue"

/* Called inside the transaction that records a decision, so that what it
 * writes (the GitHub outbox row) lands together with the decision. */
typedef void (*cv_decision_hook)(void *arg, struct cv_store *s,
    const json_t *intent, const json_t *result);

/* What a landing step did (decisions.md D-8, D-9). */
enum cv_land {
	CV_LAND_MERGED,   /* the target now contains the source: *commit_out */
	CV_LAND_FAILED,   /* nothing landed: *error_out says why; spends a retry */
	CV_LAND_RETRY     /* nothing landed, nothing spent (the target moved) */
};

struct cv_engine;

/* Lands a validated intent on its target. Sets *commit_out (the new tip)
 * or *error_out, both malloc'd and the caller's to free. */
typedef enum cv_land (*cv_land_fn)(void *arg, struct cv_engine *e,
    const json_t *intent, char **commit_out, char **error_out);

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
	cv_land_fn land;           /* NULL = the local merge of domain.md 6.4 */
	void *land_arg;
	/* Registered repositories (decisions.md D-9): intents whose
	 * technical.repo is registered are simulated, checked and landed on
	 * the mirror of their remote instead of repo_dir. */
	const char *var_dir;       /* mirrors root; NULL = $CONVERGE_VAR_DIR */
	struct cv_github *github;  /* installation tokens for https; NULL */
	long long installation_id; /* when the intent names none; 0 = none */
	/* Set by cv_engine_queue_run for its local intents (scmrun.h):
	 * what git said once is not asked again within the run. */
	struct cv_scm_run *scm_run;
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
	/* true: 0.1.0 behaviour, dependencies are only risk inputs. Default
	 * (D-8): an intent with a dependency that is not MERGED (or names no
	 * intent of its tenant) gets {intent_id, decision:
	 * "dependency_blocked", blocked_by, reason[, unknown]}, one
	 * intent.blocked event (not repeated while the reason is the same),
	 * no retry spent, no status change; it does not count in `limit`. */
	bool ignore_dependencies;
};

/* How many dependency-blocked intents a batch may look past. */
#define CV_QUEUE_DEP_LOOKAHEAD 200

/* process_queue of 6.2. Returns the array of results (the lock-busy form
 * included), or NULL when the store failed: before any intent was taken,
 * or at the end, when the cycle's queue.processed event could not be
 * appended (each intent's outcome is then in the log with its event). */
json_t *cv_engine_queue_run(struct cv_engine *e, const struct cv_queue_opts *o);

/*
 * Records the outcome of landing `intent` (the decision of its passing
 * revalidation, stolen; returned updated, or NULL on a store failure):
 *   CV_LAND_MERGED  MERGED, intent.merged {merged_commit = commit};
 *                   decision "merged" (published through on_decision);
 *   CV_LAND_FAILED  D-8: decision "merge_failed" {error, retries},
 *                   intent.merge_failed, retries + 1, back to VALIDATED;
 *                   at max_retries decision "rejected" with reason
 *                   "Merge failed <n> times: <error>", REJECTED,
 *                   intent.merge_failed then intent.rejected (published);
 *   CV_LAND_RETRY   decision "merge_deferred", back to VALIDATED, no retry
 *                   spent, no event.
 * The queue calls it after e->land; a custom landing step can too.
 */
json_t *cv_engine_land_record(struct cv_engine *e, const json_t *intent,
    json_t *decision, enum cv_land outcome, const char *commit,
    const char *error, int max_retries);

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

/* The same inside the caller's transaction (cv_store_begin), which
 * commits or rolls back: for a create that must land with other writes. */
enum cv_err cv_engine_intent_create_in_tx(struct cv_engine *e,
    const json_t *intent, bool overwrite);

/* Risk-only evaluation of 3.5 (risk eval command). */
json_t *cv_engine_risk_eval(struct cv_engine *e, const char *intent_id,
    const char *tenant_id);

#endif
