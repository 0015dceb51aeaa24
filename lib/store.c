/* store.c - backend-neutral store: factory, transactions, policies,
 * the queue lock and webhook deliveries (operations.md 2, 3, 3a). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "fault.h"
#include "dbpath.h"
#include "jsonx.h"
#include "store_impl.h"

static void set_err(char **errmsg, const char *text)
{
	if (errmsg)
		*errmsg = strdup(text);
}

enum cv_err cv_store_open(const struct cv_store_options *opt,
    struct cv_store **out, char **errmsg)
{
	struct cv_store *s = calloc(1, sizeof *s);
	enum cv_err err;

	*out = NULL;
	if (!s)
		return CV_ENOMEM;
	err = opt->backend == CV_BACKEND_POSTGRES ? cv_pg_open(opt, s) :
	    cv_sqlite_open(opt, s);
	if (err != CV_OK) {
		set_err(errmsg, s->errmsg[0] ? s->errmsg : cv_strerror(err));
		cv_store_close(s);
		return err;
	}
	*out = s;
	return CV_OK;
}

enum cv_err cv_store_open_factory(const char *backend, const char *path,
    const char *dsn, struct cv_store **out, char **errmsg)
{
	struct cv_store_options opt = { 0 };
	char msg[512], resolved[4200];
	const char *env;

	if (!backend || !*backend)
		backend = (env = getenv("CONVERGE_DB_BACKEND")) && *env ?
		    env : "sqlite";
	if (strcasecmp(backend, "sqlite") == 0) {
		opt.backend = CV_BACKEND_SQLITE;
		if ((!path || !*path) && cv_dbpath_resolve(NULL,
		    CV_DBPATH_CLI, resolved, sizeof resolved) == 0)
			path = resolved;
		opt.sqlite_path = path;
	} else if (strcasecmp(backend, "postgres") == 0) {
		opt.backend = CV_BACKEND_POSTGRES;
		if (!dsn || !*dsn)
			dsn = getenv("CONVERGE_PG_DSN");
		if (!dsn || !*dsn) {
			set_err(errmsg, "PostgreSQL backend requires a DSN.  "
			    "Set CONVERGE_PG_DSN.");
			*out = NULL;
			return CV_EINVAL;
		}
		opt.pg_dsn = dsn;
	} else {
		snprintf(msg, sizeof msg, "Unknown backend: '%s'  (expected "
		    "'sqlite' or 'postgres')", backend);
		set_err(errmsg, msg);
		*out = NULL;
		return CV_EINVAL;
	}
	return cv_store_open(&opt, out, errmsg);
}

void cv_store_close(struct cv_store *s)
{
	if (!s)
		return;
	if (s->in_tx && s->ops)
		s->ops->rollback(s);
	if (s->ops)
		s->ops->close(s);
	free(s);
}

const char *cv_store_errmsg(const struct cv_store *s)
{
	return s->errmsg;
}

bool cv_store_full(const struct cv_store *s)
{
	return s->full;
}

void cv_store_forget_error(struct cv_store *s)
{
	s->full = false;
	s->errmsg[0] = '\0';
}

enum cv_err cv_store_room(struct cv_store *s)
{
	return s->ops->room ? s->ops->room(s) : CV_OK;
}

enum cv_err cv_store_ping(struct cv_store *s)
{
	json_t *rows = NULL;
	/* Cheap, but touches the schema: a missing events table fails. */
	enum cv_err err = s->ops->query(s, "SELECT 1 FROM events LIMIT 1",
	    NULL, 0, &rows);

	json_decref(rows);
	return err;
}

/* A DB failure played by the fault-injection build (fault.h). */
static bool injected(struct cv_store *s)
{
	if (!cv_fault_hit(CV_FAULT_DB))
		return false;
	snprintf(s->errmsg, sizeof s->errmsg, "injected fault");
	s->full = false;
	return true;
}

bool cv_store_in_tx(const struct cv_store *s)
{
	return s->in_tx != 0;
}

enum cv_err cv_store_begin(struct cv_store *s)
{
	if (injected(s))
		return CV_ESTORE;
	return s->ops->begin(s);
}

enum cv_err cv_store_commit(struct cv_store *s)
{
	if (s->in_tx && injected(s)) {
		s->ops->rollback(s);   /* a failed COMMIT keeps nothing */
		return CV_ESTORE;
	}
	return s->ops->commit(s);
}

void cv_store_rollback(struct cv_store *s)
{
	s->ops->rollback(s);
}

void cv_store_defer_upkeep(struct cv_store *s)
{
	s->defer_upkeep = true;
}

void cv_store_upkeep(struct cv_store *s)
{
	if (s->ops->upkeep && !s->in_tx)
		s->ops->upkeep(s);
}

/* ---- wake-ups ---------------------------------------------------------------- */

enum cv_err cv_store_notify(struct cv_store *s, const char *channel)
{
	json_t *rows = NULL;
	enum cv_err err;

	if (!s->ops->listen)
		return CV_OK;
	struct cv_param p[] = { CV_TEXT(channel) };
	err = s->ops->query(s, "SELECT pg_notify(?, '')", p, 1, &rows);
	json_decref(rows);
	return err;
}

enum cv_err cv_store_listen(struct cv_store *s, const char *channel)
{
	return s->ops->listen ? s->ops->listen(s, channel) : CV_EINVAL;
}

int cv_store_notify_fd(struct cv_store *s)
{
	return s->ops->notify_fd ? s->ops->notify_fd(s) : -1;
}

int cv_store_notifications(struct cv_store *s)
{
	return s->ops->notifications ? s->ops->notifications(s) : 0;
}

/* ---- the SQL layer of db.h ---------------------------------------------- */

enum cv_err cv_db_exec(struct cv_store *s, const char *sql,
    const struct cv_param *p, int np, long long *changes)
{
	if (injected(s))
		return CV_ESTORE;
	return s->ops->exec(s, sql, p, np, changes);
}

enum cv_err cv_db_query(struct cv_store *s, const char *sql,
    const struct cv_param *p, int np, json_t **rows)
{
	if (injected(s))
		return CV_ESTORE;
	return s->ops->query(s, sql, p, np, rows);
}

enum cv_err cv_db_scalar_int(struct cv_store *s, const char *sql,
    const struct cv_param *p, int np, long long *out)
{
	json_t *rows = NULL;
	enum cv_err err = cv_db_query(s, sql, p, np, &rows);
	json_t *v;

	*out = 0;
	if (err != CV_OK)
		return err;
	v = json_array_get(json_array_get(rows, 0), 0);
	if (json_is_integer(v))
		*out = json_integer_value(v);
	else if (json_is_string(v))
		*out = strtoll(json_string_value(v), NULL, 10);
	json_decref(rows);
	return CV_OK;
}

const char *cv_db_append_order(const struct cv_store *s)
{
	return s->ops->append_order;
}

json_t *cv_db_json_cell(const json_t *cell, int want_array)
{
	json_t *v = NULL;

	if (json_is_string(cell))
		v = cv_json_loadb(json_string_value(cell),
		    strlen(json_string_value(cell)), JSON_DECODE_ANY, NULL);
	if (v && (want_array ? json_is_array(v) : json_is_object(v)))
		return v;
	json_decref(v);
	return want_array ? json_array() : json_object();
}

/* ---- policies ------------------------------------------------------------ */

static char *dump(const json_t *doc)
{
	return cv_json_dump(doc);
}

static enum cv_err doc_rows(struct cv_store *s, const char *sql,
    const struct cv_param *p, int np, json_t **out)
{
	json_t *rows = NULL;
	enum cv_err err = cv_db_query(s, sql, p, np, &rows);

	*out = NULL;
	if (err != CV_OK)
		return err;
	if (json_array_size(rows) > 0)
		*out = cv_db_json_cell(json_array_get(json_array_get(rows, 0),
		    0), 0);
	json_decref(rows);
	return CV_OK;
}

enum cv_err cv_agent_policy_upsert(struct cv_store *s, const json_t *doc)
{
	char ts[CV_TS_LEN];
	char *text = dump(doc);
	const char *agent = cv_json_str(doc, "agent_id", "");
	const char *tenant = cv_json_str(doc, "tenant_id", "");
	enum cv_err err;

	if (!text)
		return CV_ENOMEM;
	cv_now_ts(ts);
	struct cv_param p[] = { CV_TEXT(agent), CV_TEXT(tenant), CV_TEXT(text),
	    CV_TEXT(ts) };
	err = cv_db_exec(s, "INSERT INTO agent_policies (agent_id, tenant_id,"
	    " data, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (agent_id,"
	    " tenant_id) DO UPDATE SET data = excluded.data,"
	    " updated_at = excluded.updated_at", p, 4, NULL);
	free(text);
	return err;
}

enum cv_err cv_agent_policy_get(struct cv_store *s, const char *agent_id,
    const char *tenant_id, json_t **out)
{
	struct cv_param p[] = { CV_TEXT(agent_id),
	    CV_TEXT(tenant_id ? tenant_id : "") };

	return doc_rows(s, "SELECT data FROM agent_policies WHERE agent_id = ?"
	    " AND tenant_id = ?", p, 2, out);
}

static json_t *docs_with(json_t *rows, const char *tenant_key,
    const char *version_key)
{
	json_t *out = json_array();
	size_t i;
	json_t *row;

	json_array_foreach(rows, i, row) {
		json_t *doc = cv_db_json_cell(json_array_get(row, 0), 0);
		if (tenant_key)
			json_object_set(doc, tenant_key, json_array_get(row, 1));
		if (version_key)
			json_object_set(doc, version_key, json_array_get(row, 2));
		json_array_append_new(out, doc);
	}
	json_decref(rows);
	return out;
}

json_t *cv_agent_policy_list(struct cv_store *s, const char *tenant_id)
{
	json_t *rows = NULL;
	struct cv_param p[] = { CV_TEXT(tenant_id) };
	enum cv_err err = tenant_id && *tenant_id ?
	    cv_db_query(s, "SELECT data FROM agent_policies WHERE tenant_id = ?"
	    " ORDER BY agent_id", p, 1, &rows) :
	    cv_db_query(s, "SELECT data FROM agent_policies ORDER BY agent_id",
	    NULL, 0, &rows);

	return err == CV_OK ? docs_with(rows, NULL, NULL) : NULL;
}

json_t *cv_agent_policy_page(struct cv_store *s, const char *tenant_id,
    const char *after_agent, const char *after_tenant, int limit)
{
	json_t *rows = NULL;
	struct cv_param p[] = { CV_TEXT(tenant_id),
	    CV_TEXT(after_agent ? after_agent : ""),
	    CV_TEXT(after_tenant ? after_tenant : ""), CV_INT(limit) };
	/* (agent_id, tenant_id) after the cursor, in the primary key's order
	 * (idx_agent_policies_tenant within a tenant); the ">=" term is the
	 * index range, the OR only decides ties. */
	enum cv_err err = tenant_id && *tenant_id ?
	    cv_db_query(s, "SELECT data FROM agent_policies WHERE tenant_id = ?1"
	    " AND agent_id > ?2 ORDER BY agent_id LIMIT ?4", p, 4, &rows) :
	    cv_db_query(s, "SELECT data FROM agent_policies WHERE agent_id >= ?2"
	    " AND (agent_id > ?2 OR tenant_id > ?3) ORDER BY agent_id, tenant_id"
	    " LIMIT ?4", p, 4, &rows);

	return err == CV_OK ? docs_with(rows, NULL, NULL) : NULL;
}

enum cv_err cv_risk_policy_upsert(struct cv_store *s, const char *tenant_id,
    const json_t *doc, long long *version_out)
{
	char ts[CV_TS_LEN];
	char *text = dump(doc);
	json_t *rows = NULL;
	enum cv_err err;

	if (!text)
		return CV_ENOMEM;
	cv_now_ts(ts);
	struct cv_param p[] = { CV_TEXT(tenant_id), CV_TEXT(text), CV_TEXT(ts) };
	/* One statement, so two concurrent writers get N+1 and N+2 (O5). */
	err = cv_db_query(s, "INSERT INTO risk_policies (tenant_id, data,"
	    " version, updated_at) VALUES (?, ?, 1, ?) ON CONFLICT (tenant_id)"
	    " DO UPDATE SET data = excluded.data, version ="
	    " risk_policies.version + 1, updated_at = excluded.updated_at"
	    " RETURNING version", p, 3, &rows);
	free(text);
	if (err == CV_OK && version_out)
		*version_out = json_integer_value(json_array_get(
		    json_array_get(rows, 0), 0));
	json_decref(rows);
	return err;
}

enum cv_err cv_risk_policy_get(struct cv_store *s, const char *tenant_id,
    json_t **out)
{
	json_t *rows = NULL;
	struct cv_param p[] = { CV_TEXT(tenant_id) };
	enum cv_err err = cv_db_query(s, "SELECT data, tenant_id, version FROM"
	    " risk_policies WHERE tenant_id = ?", p, 1, &rows);

	*out = NULL;
	if (err != CV_OK)
		return err;
	if (json_array_size(rows) > 0) {
		json_t *row = json_array_get(rows, 0);
		*out = cv_db_json_cell(json_array_get(row, 0), 0);
		json_object_set(*out, "version", json_array_get(row, 2));
	}
	json_decref(rows);
	return CV_OK;
}

json_t *cv_risk_policy_list(struct cv_store *s, const char *tenant_id)
{
	json_t *rows = NULL;
	struct cv_param p[] = { CV_TEXT(tenant_id) };
	enum cv_err err = tenant_id && *tenant_id ?
	    cv_db_query(s, "SELECT data, tenant_id, version FROM risk_policies"
	    " WHERE tenant_id = ? ORDER BY tenant_id", p, 1, &rows) :
	    cv_db_query(s, "SELECT data, tenant_id, version FROM risk_policies"
	    " ORDER BY tenant_id", NULL, 0, &rows);

	return err == CV_OK ? docs_with(rows, "tenant_id", "version") : NULL;
}

json_t *cv_risk_policy_page(struct cv_store *s, const char *tenant_id,
    const char *after_tenant, int limit)
{
	json_t *rows = NULL;
	struct cv_param p[] = { CV_TEXT(tenant_id),
	    CV_TEXT(after_tenant ? after_tenant : ""), CV_INT(limit) };
	enum cv_err err = tenant_id && *tenant_id ?
	    cv_db_query(s, "SELECT data, tenant_id, version FROM risk_policies"
	    " WHERE tenant_id = ?1 AND tenant_id > ?2 ORDER BY tenant_id"
	    " LIMIT ?3", p, 3, &rows) :
	    cv_db_query(s, "SELECT data, tenant_id, version FROM risk_policies"
	    " WHERE tenant_id > ?2 ORDER BY tenant_id LIMIT ?3", p, 3, &rows);

	return err == CV_OK ? docs_with(rows, "tenant_id", "version") : NULL;
}

enum cv_err cv_compliance_thresholds_upsert(struct cv_store *s,
    const char *tenant_id, const json_t *doc)
{
	char ts[CV_TS_LEN];
	char *text = dump(doc);
	enum cv_err err;

	if (!text)
		return CV_ENOMEM;
	cv_now_ts(ts);
	struct cv_param p[] = { CV_TEXT(tenant_id), CV_TEXT(text), CV_TEXT(ts) };
	err = cv_db_exec(s, "INSERT INTO compliance_thresholds (tenant_id, data,"
	    " updated_at) VALUES (?, ?, ?) ON CONFLICT (tenant_id) DO UPDATE"
	    " SET data = excluded.data, updated_at = excluded.updated_at",
	    p, 3, NULL);
	free(text);
	return err;
}

enum cv_err cv_compliance_thresholds_get(struct cv_store *s,
    const char *tenant_id, json_t **out)
{
	struct cv_param p[] = { CV_TEXT(tenant_id) };

	return doc_rows(s, "SELECT data FROM compliance_thresholds WHERE"
	    " tenant_id = ?", p, 1, out);
}

json_t *cv_compliance_thresholds_list(struct cv_store *s,
    const char *tenant_id)
{
	json_t *rows = NULL;
	struct cv_param p[] = { CV_TEXT(tenant_id) };
	enum cv_err err = tenant_id && *tenant_id ?
	    cv_db_query(s, "SELECT data, tenant_id FROM compliance_thresholds"
	    " WHERE tenant_id = ? ORDER BY tenant_id", p, 1, &rows) :
	    cv_db_query(s, "SELECT data, tenant_id FROM compliance_thresholds"
	    " ORDER BY tenant_id", NULL, 0, &rows);

	return err == CV_OK ? docs_with(rows, "tenant_id", NULL) : NULL;
}

json_t *cv_compliance_thresholds_page(struct cv_store *s,
    const char *tenant_id, const char *after_tenant, int limit)
{
	json_t *rows = NULL;
	struct cv_param p[] = { CV_TEXT(tenant_id),
	    CV_TEXT(after_tenant ? after_tenant : ""), CV_INT(limit) };
	enum cv_err err = tenant_id && *tenant_id ?
	    cv_db_query(s, "SELECT data, tenant_id FROM compliance_thresholds"
	    " WHERE tenant_id = ?1 AND tenant_id > ?2 ORDER BY tenant_id"
	    " LIMIT ?3", p, 3, &rows) :
	    cv_db_query(s, "SELECT data, tenant_id FROM compliance_thresholds"
	    " WHERE tenant_id > ?2 ORDER BY tenant_id LIMIT ?3", p, 3, &rows);

	return err == CV_OK ? docs_with(rows, "tenant_id", NULL) : NULL;
}

/* ---- queue lock ---------------------------------------------------------- */

static void ts_in(char out[CV_TS_LEN], int seconds)
{
	cv_ts_from_us(out, cv_now_us() + (int64_t)seconds * 1000000);
}

enum cv_err cv_lock_acquire(struct cv_store *s, const char *name,
    long long holder, int ttl_seconds, bool *acquired)
{
	char now[CV_TS_LEN], exp[CV_TS_LEN];
	enum cv_err err;
	long long n = 0;

	*acquired = false;
	cv_now_ts(now);
	ts_in(exp, ttl_seconds);
	if ((err = cv_store_begin(s)) != CV_OK)
		return err;
	struct cv_param del[] = { CV_TEXT(name), CV_TEXT(now) };
	err = cv_db_exec(s, "DELETE FROM queue_locks WHERE lock_name = ? AND"
	    " expires_at < ?", del, 2, NULL);
	struct cv_param ins[] = { CV_TEXT(name), CV_INT(holder), CV_TEXT(now),
	    CV_TEXT(exp) };
	if (err == CV_OK)
		err = cv_db_exec(s, "INSERT INTO queue_locks (lock_name,"
		    " holder_pid, acquired_at, expires_at) VALUES (?, ?, ?, ?)"
		    " ON CONFLICT (lock_name) DO NOTHING", ins, 4, &n);
	if (err != CV_OK) {
		cv_store_rollback(s);
		return err;
	}
	if ((err = cv_store_commit(s)) == CV_OK)
		*acquired = n == 1;
	return err;
}

enum cv_err cv_lock_heartbeat(struct cv_store *s, const char *name,
    long long holder, int ttl_seconds, bool *held)
{
	char exp[CV_TS_LEN];
	long long n = 0;
	enum cv_err err;

	ts_in(exp, ttl_seconds);
	struct cv_param p[] = { CV_TEXT(exp), CV_TEXT(name), CV_INT(holder) };
	err = cv_db_exec(s, "UPDATE queue_locks SET expires_at = ? WHERE"
	    " lock_name = ? AND holder_pid = ?", p, 3, &n);
	*held = err == CV_OK && n == 1;
	return err;
}

enum cv_err cv_lock_release(struct cv_store *s, const char *name,
    long long holder, bool *released)
{
	long long n = 0;
	struct cv_param p[] = { CV_TEXT(name), CV_INT(holder) };
	enum cv_err err = cv_db_exec(s, "DELETE FROM queue_locks WHERE"
	    " lock_name = ? AND holder_pid = ?", p, 2, &n);

	*released = err == CV_OK && n > 0;
	return err;
}

enum cv_err cv_lock_force_release(struct cv_store *s, const char *name,
    bool *released)
{
	long long n = 0;
	struct cv_param p[] = { CV_TEXT(name) };
	enum cv_err err = cv_db_exec(s, "DELETE FROM queue_locks WHERE"
	    " lock_name = ?", p, 1, &n);

	*released = err == CV_OK && n > 0;
	return err;
}

enum cv_err cv_lock_info(struct cv_store *s, const char *name, json_t **out)
{
	json_t *rows = NULL, *row;
	struct cv_param p[] = { CV_TEXT(name) };
	enum cv_err err = cv_db_query(s, "SELECT lock_name, holder_pid,"
	    " acquired_at, expires_at FROM queue_locks WHERE lock_name = ?",
	    p, 1, &rows);

	*out = NULL;
	if (err != CV_OK)
		return err;
	if ((row = json_array_get(rows, 0)))
		*out = json_pack("{s:O,s:O,s:O,s:O}", "lock_name",
		    json_array_get(row, 0), "holder_pid", json_array_get(row, 1),
		    "acquired_at", json_array_get(row, 2), "expires_at",
		    json_array_get(row, 3));
	json_decref(rows);
	return CV_OK;
}

/* ---- webhook deliveries -------------------------------------------------- */

enum cv_err cv_delivery_claim(struct cv_store *s, const char *delivery_id,
    bool *claimed)
{
	char ts[CV_TS_LEN];
	long long n = 0;
	enum cv_err err;

	cv_now_ts(ts);
	struct cv_param p[] = { CV_TEXT(delivery_id), CV_TEXT(ts) };
	/* Insert-or-detect in one statement: two racing deliveries with one
	 * id cannot both see "new" (http-api.md D4). */
	err = cv_db_exec(s, "INSERT INTO webhook_deliveries (delivery_id,"
	    " received_at) VALUES (?, ?) ON CONFLICT (delivery_id) DO NOTHING",
	    p, 2, &n);
	*claimed = err == CV_OK && n == 1;
	return err;
}

enum cv_err cv_delivery_seen(struct cv_store *s, const char *delivery_id,
    bool *seen)
{
	long long n = 0;
	struct cv_param p[] = { CV_TEXT(delivery_id) };
	enum cv_err err = cv_db_scalar_int(s, "SELECT COUNT(*) FROM"
	    " webhook_deliveries WHERE delivery_id = ?", p, 1, &n);

	*seen = n > 0;
	return err;
}

enum cv_err cv_delivery_prune(struct cv_store *s, const char *before,
    long long *count)
{
	struct cv_param p[] = { CV_TEXT(before) };

	return cv_db_exec(s, "DELETE FROM webhook_deliveries WHERE"
	    " received_at < ?", p, 1, count);
}
