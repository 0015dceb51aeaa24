/*
 * intents.h - the intents view (domain.md 1.2, 2.6) and the Intent model.
 */
#ifndef CV_INTENTS_H
#define CV_INTENTS_H

#include <jansson.h>
#include <stdbool.h>

#include "cv.h"
#include "store.h"

/* Status and risk-level enumerations (domain.md 1.1). */
bool cv_status_valid(const char *s);
bool cv_risk_level_valid(const char *s);
bool cv_status_terminal(const char *s);   /* MERGED, REJECTED */

/* Builds a full Intent (all 14 keys, spec order) from a document, with the
 * defaults of domain.md 1.2. Ingestion rules: id from "intent_id" (when
 * id_from_intent_id) else "id"; source falls back to technical.source_ref,
 * target to technical.target_ref then "main"; created_by defaults to
 * default_actor ("system" when NULL). On a bad field returns NULL and sets
 * *err (a static message naming the field, e.g. "status: invalid value");
 * out of memory returns NULL with *err untouched. */
json_t *cv_intent_build(const json_t *doc, bool id_from_intent_id,
    const char *default_actor, const char **err);

/* Upsert: insert, or overwrite every column but created_at/created_by;
 * sets updated_at = now. */
enum cv_err cv_intent_upsert(struct cv_store *s, const json_t *intent);

/* Like upsert, but fails with CV_EEXIST (writing nothing) when the id is
 * taken. */
enum cv_err cv_intent_insert(struct cv_store *s, const json_t *intent);

/* *out = the Intent, or NULL when absent (still CV_OK). */
enum cv_err cv_intent_get(struct cv_store *s, const char *id, json_t **out);

/* Intents by optional status/tenant (NULL or "" = any), ordered by
 * priority, created_at, id; limit <= 0 → 200. NULL on store failure. */
json_t *cv_intent_list(struct cv_store *s, const char *status,
    const char *tenant_id, int limit);

/* *out = how many intents have status and belong to tenant_id (NULL or
 * "" = any tenant): the whole count, where a list stops at its limit.
 * CV_ESTORE on a store failure. */
enum cv_err cv_intent_count(struct cv_store *s, const char *status,
    const char *tenant_id, long long *out);

/*
 * The queue's fair share (the worker's batch): up to limit intents of
 * status, taken round-robin across tenants with work (intents without a
 * tenant count as one more), one from each in turn, each tenant's own in
 * list order (priority, created_at, id). Tenants take turns by how long
 * their oldest waiting intent has waited, so a backlog, or priorities,
 * of one tenant never hold another's intent for more than one batch
 * while tenants with work number at most limit. NULL on store failure.
 */
json_t *cv_intent_list_fair(struct cv_store *s, const char *status,
    int limit);

/* Where a page of the list ends: the last intent's sort key. */
struct cv_intent_key {
	long long priority;
	const char *created_at;
	const char *id;
};

/* cv_intent_list continued after `after` (NULL: from the start), in the
 * same order: keyset pagination. NULL on a store failure. */
json_t *cv_intent_list_after(struct cv_store *s, const char *status,
    const char *tenant_id, int limit, const struct cv_intent_key *after);

/* Like cv_intent_list, with the scalar fields only (id, source, target,
 * status, created_at, created_by, risk_level, priority, retries,
 * tenant_id): what the projections read, without decoding four JSON
 * columns per row. */
json_t *cv_intent_brief_list(struct cv_store *s, const char *status,
    const char *tenant_id, int limit);

/* Inside the caller's transaction, for a decision reached while another
 * process may have decided the same intent (a validation against the
 * worker's landing): sets status (when not NULL) and updated_at only while
 * the intent is neither MERGED nor REJECTED. CV_ESTATE when it is, with
 * that status copied into terminal (size n); CV_OK otherwise, an unknown
 * id included. */
enum cv_err cv_intent_update_status_open(struct cv_store *s, const char *id,
    const char *status, char *terminal, size_t n);

/* Sets status (and retries when retries >= 0) and updated_at; unknown id
 * is a silent no-op. */
enum cv_err cv_intent_update_status(struct cv_store *s, const char *id,
    const char *status, int retries);

#endif
