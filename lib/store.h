/*
 * store.h - the store port (operations.md 2.1): one interface, two backends
 * (SQLite here; PostgreSQL slots in behind the same calls).
 *
 * A process opens one store at start and keeps it: the connection and its
 * prepared statements are reused across requests. A store is not
 * thread-safe; the farm is made of processes, not threads.
 *
 * Records cross this interface as jansson values shaped exactly as the
 * spec's JSON (Intent, Event, policy documents). Ownership follows cv.h:
 * getters/queries return new references the caller decrefs.
 */
#ifndef CV_STORE_H
#define CV_STORE_H

#include <jansson.h>
#include <stdbool.h>

#include "cv.h"

struct cv_store;

enum cv_backend { CV_BACKEND_SQLITE, CV_BACKEND_POSTGRES };

struct cv_store_options {
	enum cv_backend backend;
	const char *sqlite_path;   /* SQLite file; parent directories created */
	const char *pg_dsn;        /* PostgreSQL DSN */
	int busy_timeout_ms;       /* 0 = 5000 */
};

/* Opens the store and applies the schema (all CREATE ... IF NOT EXISTS).
 * On failure returns the code and, when errmsg is not NULL, a message the
 * caller frees. */
enum cv_err cv_store_open(const struct cv_store_options *opt,
    struct cv_store **out, char **errmsg);

/* Factory of operations.md 2.5: backend/path/DSN from the arguments when
 * non-NULL, else CONVERGE_DB_BACKEND / CONVERGE_PG_DSN and the SQLite
 * file of the CLI's rule (dbpath.h). Errors carry the spec's texts
 * ("Unknown backend: ...", "... requires a DSN ..."). */
enum cv_err cv_store_open_factory(const char *backend, const char *path,
    const char *dsn, struct cv_store **out, char **errmsg);

void cv_store_close(struct cv_store *s);

/* A cheap real round trip (readiness): fails when the DB is unreachable or
 * the schema is missing. */
enum cv_err cv_store_ping(struct cv_store *s);

/* Text of the last backend error of this store (borrowed, never NULL). */
const char *cv_store_errmsg(const struct cv_store *s);

/* ---- running out of room ---------------------------------------------------
 * A write that finds no room (SQLite: SQLITE_FULL, an I/O error, the size
 * cap; PostgreSQL: SQLSTATE 53100) fails with CV_EFULL. Nothing of it is
 * kept; the same write succeeds once room returns. */

/* true when the last failed call of this store ran out of room. */
bool cv_store_full(const struct cv_store *s);

/* Forgets the last error (a new request starts clean). */
void cv_store_forget_error(struct cv_store *s);

/* CV_EFULL when the next write would likely find no room (SQLite: under
 * 256 KiB left below the size cap, or under 1 MiB free on the file
 * system; the reason is in cv_store_errmsg). CV_OK when there is room or
 * the backend cannot tell (PostgreSQL). */
enum cv_err cv_store_room(struct cv_store *s);

/* Transactions. Writes made between begin and commit land together or not
 * at all; begin takes the write lock at once (no upgrade deadlocks).
 * Nesting is not supported. Every single call below is atomic on its own. */
enum cv_err cv_store_begin(struct cv_store *s);
enum cv_err cv_store_commit(struct cv_store *s);
void cv_store_rollback(struct cv_store *s);

/* Upkeep a commit makes due (SQLite: a WAL checkpoint every 1,000 or so
 * frames, several milliseconds) is done by that commit, before it
 * returns. A server that answers first calls cv_store_defer_upkeep once,
 * then cv_store_upkeep after each answer is out: the checkpoint then
 * delays no answer. Both are no-ops for PostgreSQL, and upkeep is one
 * inside a transaction. */
void cv_store_defer_upkeep(struct cv_store *s);
void cv_store_upkeep(struct cv_store *s);

/* True between cv_store_begin and its commit or rollback: a function that
 * needs several statements to be atomic opens its own transaction only
 * when its caller has none. */
bool cv_store_in_tx(const struct cv_store *s);

/* ---- wake-ups (decisions.md D-6) -------------------------------------------
 * With PostgreSQL a writer can wake listeners in other processes and on
 * other hosts (NOTIFY, delivered at commit); SQLite has no such channel and
 * the calls are no-ops there (listeners keep polling). */

/* Queues a notification on channel (a fixed identifier such as
 * "converge_queue"); inside a transaction it is sent at commit. */
enum cv_err cv_store_notify(struct cv_store *s, const char *channel);

/* Subscribes this connection to channel. CV_EINVAL when the backend has
 * no notifications. */
enum cv_err cv_store_listen(struct cv_store *s, const char *channel);

/* A descriptor that becomes readable when a notification may have
 * arrived, or -1 (SQLite, or not listening). It changes after a
 * reconnect: ask again before each wait. */
int cv_store_notify_fd(struct cv_store *s);

/* Reads and discards pending notifications; returns how many. */
int cv_store_notifications(struct cv_store *s);

/* ---- policies (operations.md 2.1 "Policies") ---------------------------- */

enum cv_err cv_agent_policy_upsert(struct cv_store *s, const json_t *doc);
/* *out = stored doc, or NULL when none (CV_OK either way). */
enum cv_err cv_agent_policy_get(struct cv_store *s, const char *agent_id,
    const char *tenant_id, json_t **out);
json_t *cv_agent_policy_list(struct cv_store *s, const char *tenant_id);
/* Keyset pages of the lists (page.h): at most limit stored documents
 * after the key (NULL: from the start) in the list's order, tenant_id
 * filtering as in the lists; agent policies by (agent_id, tenant_id),
 * with "" for no tenant. New array, NULL on failure. */
json_t *cv_agent_policy_page(struct cv_store *s, const char *tenant_id,
    const char *after_agent, const char *after_tenant, int limit);

/* Version = previous + 1 in one statement. *version_out may be NULL. */
enum cv_err cv_risk_policy_upsert(struct cv_store *s, const char *tenant_id,
    const json_t *doc, long long *version_out);
enum cv_err cv_risk_policy_get(struct cv_store *s, const char *tenant_id,
    json_t **out);
json_t *cv_risk_policy_list(struct cv_store *s, const char *tenant_id);
json_t *cv_risk_policy_page(struct cv_store *s, const char *tenant_id,
    const char *after_tenant, int limit);

enum cv_err cv_compliance_thresholds_upsert(struct cv_store *s,
    const char *tenant_id, const json_t *doc);
enum cv_err cv_compliance_thresholds_get(struct cv_store *s,
    const char *tenant_id, json_t **out);
json_t *cv_compliance_thresholds_list(struct cv_store *s,
    const char *tenant_id);
json_t *cv_compliance_thresholds_page(struct cv_store *s,
    const char *tenant_id, const char *after_tenant, int limit);

/* ---- queue lock (operations.md 3) ---------------------------------------- */

/* true in *acquired when the lock was free (or expired) and is now ours. */
enum cv_err cv_lock_acquire(struct cv_store *s, const char *name,
    long long holder, int ttl_seconds, bool *acquired);
/* Extends expires_at when we hold it; *held false when we do not. */
enum cv_err cv_lock_heartbeat(struct cv_store *s, const char *name,
    long long holder, int ttl_seconds, bool *held);
enum cv_err cv_lock_release(struct cv_store *s, const char *name,
    long long holder, bool *released);
enum cv_err cv_lock_force_release(struct cv_store *s, const char *name,
    bool *released);
/* *out = {"lock_name","holder_pid","acquired_at","expires_at"} or NULL. */
enum cv_err cv_lock_info(struct cv_store *s, const char *name, json_t **out);

/* ---- webhook deliveries (operations.md 3a) ------------------------------- */

/* Atomic insert-if-absent: *claimed true when this call inserted it. */
enum cv_err cv_delivery_claim(struct cv_store *s, const char *delivery_id,
    bool *claimed);
enum cv_err cv_delivery_seen(struct cv_store *s, const char *delivery_id,
    bool *seen);
enum cv_err cv_delivery_prune(struct cv_store *s, const char *before,
    long long *count);

#endif
