/*
 * eventlog.h - the append-only event log (domain.md 2.1, 2.2).
 */
#ifndef CV_EVENTLOG_H
#define CV_EVENTLOG_H

#include <jansson.h>
#include <stdbool.h>

#include "clock.h"
#include "cv.h"
#include "store.h"

/* Every member optional: NULL or "" means "no filter". limit <= 0 → 200. */
struct cv_event_filter {
	const char *event_type;
	const char *intent_id;
	const char *agent_id;
	const char *tenant_id;
	const char *since;         /* timestamp >= since */
	const char *until;         /* timestamp <= until */
	int limit;
};

/* Builds an Event object (domain.md 1.5) with timestamp now and empty id /
 * trace_id (filled by append). payload_take and evidence_take are stolen;
 * NULL gives {}. NULL strings become JSON null. Returns a new reference. */
json_t *cv_event_new(const char *event_type, const char *intent_id,
    const char *agent_id, const char *tenant_id, const char *trace_id,
    json_t *payload_take, json_t *evidence_take);

/* Appends ev: fills an empty "id" (id12) and "trace_id" (generic trace id)
 * in ev itself, then inserts it. ev stays the caller's. */
enum cv_err cv_event_append(struct cv_store *s, json_t *ev);

/* Convenience: cv_event_new + append + decref. */
enum cv_err cv_event_emit(struct cv_store *s, const char *event_type,
    const char *intent_id, const char *agent_id, const char *tenant_id,
    const char *trace_id, json_t *payload_take, json_t *evidence_take);

/*
 * An event made ready before the writers' lock is taken, so that the
 * transaction only inserts it: its id, trace id and JSON texts. Its
 * timestamp is taken when it is appended, inside the transaction, so the
 * log's time order stays the order of its commits. Every pointer owned;
 * a NULL intent, agent or tenant is JSON null.
 */
struct cv_event_row {
	char id[CV_ID12_LEN];
	char trace_id[CV_TRACE_LEN];
	char *event_type, *intent_id, *agent_id, *tenant_id;
	char *payload, *evidence;
};

/* Fills r with what cv_event_emit would append (same arguments, same
 * stealing; a NULL trace_id gets a generic one). CV_ENOMEM leaves r for
 * cv_event_row_free. */
enum cv_err cv_event_row_make(struct cv_event_row *r, const char *event_type,
    const char *intent_id, const char *agent_id, const char *tenant_id,
    const char *trace_id, json_t *payload_take, json_t *evidence_take);

/* Inserts r with the timestamp now; r stays the caller's. */
enum cv_err cv_event_row_append(struct cv_store *s,
    const struct cv_event_row *r);

/* Frees what r holds (r itself is the caller's); safe on a zeroed r. */
void cv_event_row_free(struct cv_event_row *r);

/* Events matching f, newest first (ties: later-appended first); payload
 * and evidence decoded. Returns a new array, or NULL on store failure. */
json_t *cv_event_query(struct cv_store *s, const struct cv_event_filter *f);

/*
 * A page of cv_event_query's list: at most f->limit events, in its order,
 * after the event at (after_ts, after_pos) when after_ts is not NULL
 * (else from the newest). *positions: each event's position in the log
 * (a string, parallel to *events), which with its timestamp is where
 * the next page starts. Both new; NULL unless CV_OK. CV_EINVAL when
 * after_pos is not a position (cv_event_pos_valid).
 */
enum cv_err cv_event_page(struct cv_store *s, const struct cv_event_filter *f,
    const char *after_ts, const char *after_pos, json_t **events,
    json_t **positions);

/* Whether pos has the form of an event position: a rowid (digits) or a
 * PostgreSQL row position "(block,offset)". */
bool cv_event_pos_valid(const char *pos);

/* The newest event of type for the intent, or NULL (*out) when none. */
enum cv_err cv_event_latest(struct cv_store *s, const char *event_type,
    const char *intent_id, json_t **out);

/* Like cv_event_latest, among the events recorded under tenant_id only
 * (NULL: any): what reads about one tenant's intent use (D-8). */
enum cv_err cv_event_latest_of(struct cv_store *s, const char *event_type,
    const char *intent_id, const char *tenant_id, json_t **out);

/* count(filters): names[i]/values[i] pairs; a NULL value is ignored.
 * Allowed names: event_type, intent_id, agent_id, tenant_id, trace_id;
 * any other → CV_EINVAL ("Invalid filter column: <name>" in *errmsg if
 * errmsg is not NULL; caller frees). */
enum cv_err cv_event_count(struct cv_store *s, const char *const *names,
    const char *const *values, size_t n, long long *out, char **errmsg);

/* Counts events with timestamp < before (and tenant when given); deletes
 * them unless dry_run. */
enum cv_err cv_event_prune(struct cv_store *s, const char *before,
    const char *tenant_id, bool dry_run, long long *count);

#endif
