/* intents.c - the Intent model and the intents view (domain.md 1.2, 2.6). */
#include "intents.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "intent_check.h"
#include "db.h"
#include "jsonx.h"

static const char *const statuses[] = { "READY", "VALIDATED", "QUEUED",
    "MERGED", "REJECTED" };
static const char *const levels[] = { "low", "medium", "high", "critical" };

static bool one_of(const char *s, const char *const *set, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		if (strcmp(s, set[i]) == 0)
			return true;
	return false;
}

bool cv_status_valid(const char *s)
{
	return one_of(s, statuses, CV_ARRAY_LEN(statuses));
}

bool cv_risk_level_valid(const char *s)
{
	return one_of(s, levels, CV_ARRAY_LEN(levels));
}

bool cv_status_terminal(const char *s)
{
	return s && (strcmp(s, "MERGED") == 0 || strcmp(s, "REJECTED") == 0);
}

/* A field that is present must have the right type; absent or null takes
 * the default. Returns false (with *err) on a wrong type. */
static bool typed(const json_t *doc, const char *key, json_type want,
    const char **err, const char *msg)
{
	json_t *v = json_object_get(doc, key);

	if (!v || json_is_null(v) || json_typeof(v) == want)
		return true;
	*err = msg;
	return false;
}

static bool strings_only(const json_t *arr)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (!json_is_string(v))
			return false;
	return true;
}

static const char *first_nonempty(const char *a, const char *b,
    const char *def)
{
	if (a && *a)
		return a;
	if (b && *b)
		return b;
	return def;
}

static bool valid_priority(const json_t *doc, long long *prio,
    const char **err)
{
	json_t *v = json_object_get(doc, "priority");

	*prio = 3;
	if (!v || json_is_null(v))
		return true;
	if (json_is_integer(v)) {
		*prio = json_integer_value(v);
	} else if (json_is_real(v) && json_real_value(v) ==
	    floor(json_real_value(v)) && fabs(json_real_value(v)) < 1e9) {
		*prio = (long long)json_real_value(v);
	} else {
		*err = "priority: Input should be a valid integer";
		return false;
	}
	if (*prio < CV_INTENT_PRIORITY_MIN || *prio > CV_INTENT_PRIORITY_MAX) {
		*err = "priority: Input should be between 0 and 1000";
		return false;
	}
	return true;
}

static bool check_types(const json_t *doc, const char **err)
{
	return typed(doc, "id", JSON_STRING, err, "id: Input should be a valid string") &&
	    typed(doc, "intent_id", JSON_STRING, err, "intent_id: Input should be a valid string") &&
	    typed(doc, "source", JSON_STRING, err, "source: Input should be a valid string") &&
	    typed(doc, "target", JSON_STRING, err, "target: Input should be a valid string") &&
	    typed(doc, "status", JSON_STRING, err, "status: Input should be a valid string") &&
	    typed(doc, "created_at", JSON_STRING, err, "created_at: Input should be a valid string") &&
	    typed(doc, "created_by", JSON_STRING, err, "created_by: Input should be a valid string") &&
	    typed(doc, "risk_level", JSON_STRING, err, "risk_level: Input should be a valid string") &&
	    typed(doc, "semantic", JSON_OBJECT, err, "semantic: Input should be a valid dictionary") &&
	    typed(doc, "technical", JSON_OBJECT, err, "technical: Input should be a valid dictionary") &&
	    typed(doc, "checks_required", JSON_ARRAY, err, "checks_required: Input should be a valid list") &&
	    typed(doc, "dependencies", JSON_ARRAY, err, "dependencies: Input should be a valid list") &&
	    typed(doc, "tenant_id", JSON_STRING, err, "tenant_id: Input should be a valid string");
}

json_t *cv_intent_build(const json_t *doc, bool id_from_intent_id,
    const char *default_actor, const char **err)
{
	char ts[CV_TS_LEN];
	long long prio;
	const char *id, *status, *level;
	json_t *tech, *checks, *deps;

	if (!json_is_object(doc)) {
		*err = "body: Input should be a valid dictionary";
		return NULL;
	}
	if (!check_types(doc, err) || !valid_priority(doc, &prio, err))
		return NULL;
	tech = cv_json_obj(doc, "technical");
	id = id_from_intent_id ? first_nonempty(cv_json_str(doc, "intent_id",
	    NULL), cv_json_str(doc, "id", NULL), "") : cv_json_str(doc, "id", "");
	status = cv_json_str(doc, "status", "READY");
	level = cv_json_str(doc, "risk_level", "medium");
	if (!*level)
		level = "medium";
	if (!cv_status_valid(status)) {
		*err = "status: Input should be 'READY', 'VALIDATED', 'QUEUED', "
		    "'MERGED' or 'REJECTED'";
		return NULL;
	}
	if (!cv_risk_level_valid(level)) {
		*err = "risk_level: Input should be 'low', 'medium', 'high' or "
		    "'critical'";
		return NULL;
	}
	checks = cv_json_arr(doc, "checks_required");
	deps = cv_json_arr(doc, "dependencies");
	if ((checks && !strings_only(checks)) || (deps && !strings_only(deps))) {
		*err = checks && !strings_only(checks) ?
		    "checks_required: Input should be a list of strings" :
		    "dependencies: Input should be a list of strings";
		return NULL;
	}
	cv_now_ts(ts);
	json_t *sem = cv_json_obj(doc, "semantic");

	/* Copies, not shared references: the intent outlives the document
	 * and its caller may edit either. */
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:o,s:o,s:o,s:o,"
	    "s:I,s:o}",
	    "id", id,
	    "source", first_nonempty(cv_json_str(doc, "source", NULL),
	    cv_json_str(tech, "source_ref", NULL), ""),
	    "target", first_nonempty(cv_json_str(doc, "target", NULL),
	    cv_json_str(tech, "target_ref", NULL), "main"),
	    "status", status,
	    "created_at", first_nonempty(cv_json_str(doc, "created_at", NULL),
	    NULL, ts),
	    "created_by", first_nonempty(cv_json_str(doc, "created_by", NULL),
	    NULL, default_actor ? default_actor : "system"),
	    "risk_level", level, "priority", prio,
	    "semantic", sem ? json_deep_copy(sem) : json_object(),
	    "technical", tech ? json_deep_copy(tech) : json_object(),
	    "checks_required", checks ? json_deep_copy(checks) : json_array(),
	    "dependencies", deps ? json_deep_copy(deps) : json_array(),
	    "retries", cv_json_int(doc, "retries", 0),
	    "tenant_id", cv_json_str_or_null(cv_json_str(doc, "tenant_id",
	    NULL)));
}

#define INTENT_COLUMNS "id, source, target, status, created_at, created_by," \
	" risk_level, priority, semantic, technical, checks_required," \
	" dependencies, retries, tenant_id"
#define INTENT_BRIEF_COLUMNS "id, source, target, status, created_at," \
	" created_by, risk_level, priority, retries, tenant_id"

/* An existing intent takes the new values in two updates instead of one
 * upsert: SQLite rewrites the entry of every index whose column an UPDATE
 * sets, changed or not, so status, priority and tenant_id (the columns of
 * four of the five intent indexes) are set only when one of them differs.
 * A webhook's synchronize then writes the row and idx_intents_updated
 * instead of six pages. p holds write_intent's parameters; *found: how
 * many rows have the id. */
static enum cv_err update_intent(struct cv_store *s, const struct cv_param *p,
    long long *found)
{
	struct cv_param body[] = { p[1], p[2], p[6], p[8], p[9], p[10], p[11],
	    p[12], p[14], p[0] };
	struct cv_param keys[] = { p[3], p[7], p[13], p[0] };
	enum cv_err err = cv_db_exec(s, "UPDATE intents SET source = ?,"
	    " target = ?, risk_level = ?, semantic = ?, technical = ?,"
	    " checks_required = ?, dependencies = ?, retries = ?,"
	    " updated_at = ? WHERE id = ?", body, 10, found);

	if (err != CV_OK || *found == 0)
		return err;
	return cv_db_exec(s, "UPDATE intents SET status = ?1, priority = ?2,"
	    " tenant_id = ?3 WHERE id = ?4 AND (status <> ?1 OR priority <> ?2"
	    " OR (tenant_id IS NULL) <> (?3 IS NULL) OR tenant_id <> ?3)",
	    keys, 4, NULL);
}

/* Update, else insert: in one transaction, the caller's when it has one.
 * The update comes first because an upsert mostly overwrites (every
 * synchronize of a pull request): a failed INSERT would open a cursor on
 * each of the table's indexes for nothing. An insert that finds the id
 * after all (another host's transaction, on PostgreSQL) updates. */
static enum cv_err upsert_intent(struct cv_store *s, const struct cv_param *p)
{
	bool own = !cv_store_in_tx(s);
	long long n = 0;
	enum cv_err err;

	if (own && (err = cv_store_begin(s)) != CV_OK)
		return err;
	err = update_intent(s, p, &n);
	if (err == CV_OK && n == 0)
		err = cv_db_exec(s, "INSERT INTO intents (" INTENT_COLUMNS
		    ", updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
		    " ?, ?, ?) ON CONFLICT (id) DO NOTHING", p, 15, &n);
	if (err == CV_OK && n == 0)
		err = update_intent(s, p, &n);
	if (!own)
		return err;
	if (err != CV_OK) {
		cv_store_rollback(s);
		return err;
	}
	return cv_store_commit(s);
}

static enum cv_err write_intent(struct cv_store *s, const json_t *in,
    bool overwrite)
{
	char ts[CV_TS_LEN];
	char *sem = cv_json_dump(cv_json_obj(in, "semantic") ?
	    cv_json_obj(in, "semantic") : json_object_get(in, "semantic"));
	char *tech = cv_json_dump(json_object_get(in, "technical"));
	char *checks = cv_json_dump(json_object_get(in, "checks_required"));
	char *deps = cv_json_dump(json_object_get(in, "dependencies"));
	enum cv_err err = CV_ENOMEM;
	long long n = 0;

	cv_now_ts(ts);
	if (!sem || !tech || !checks || !deps)
		goto out;
	struct cv_param p[] = { CV_TEXT(cv_json_str(in, "id", "")),
	    CV_TEXT(cv_json_str(in, "source", "")),
	    CV_TEXT(cv_json_str(in, "target", "main")),
	    CV_TEXT(cv_json_str(in, "status", "READY")),
	    CV_TEXT(cv_json_str(in, "created_at", ts)),
	    CV_TEXT(cv_json_str(in, "created_by", "system")),
	    CV_TEXT(cv_json_str(in, "risk_level", "medium")),
	    CV_INT(cv_json_int(in, "priority", 3)), CV_TEXT(sem), CV_TEXT(tech),
	    CV_TEXT(checks), CV_TEXT(deps),
	    CV_INT(cv_json_int(in, "retries", 0)),
	    CV_TEXT(cv_json_str(in, "tenant_id", NULL)), CV_TEXT(ts) };
	if (overwrite)
		err = upsert_intent(s, p);
	else {
		err = cv_db_exec(s, "INSERT INTO intents (" INTENT_COLUMNS
		    ", updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
		    " ?, ?) ON CONFLICT (id) DO NOTHING", p, 15, &n);
		if (err == CV_OK && n == 0)
			err = CV_EEXIST;
	}
out:
	free(sem);
	free(tech);
	free(checks);
	free(deps);
	return err;
}

enum cv_err cv_intent_upsert(struct cv_store *s, const json_t *intent)
{
	return write_intent(s, intent, true);
}

enum cv_err cv_intent_insert(struct cv_store *s, const json_t *intent)
{
	return write_intent(s, intent, false);
}

static json_t *row_to_intent(const json_t *r)
{
	const char *level = json_string_value(json_array_get(r, 6));

	return json_pack("{s:O,s:O,s:O,s:O,s:O,s:O,s:s,s:O,s:o,s:o,s:o,s:o,"
	    "s:O,s:O}",
	    "id", json_array_get(r, 0), "source", json_array_get(r, 1),
	    "target", json_array_get(r, 2), "status", json_array_get(r, 3),
	    "created_at", json_array_get(r, 4),
	    "created_by", json_array_get(r, 5),
	    /* An empty stored level reads back as medium (operations 2.2). */
	    "risk_level", level && *level ? level : "medium",
	    "priority", json_array_get(r, 7),
	    "semantic", cv_db_json_cell(json_array_get(r, 8), 0),
	    "technical", cv_db_json_cell(json_array_get(r, 9), 0),
	    "checks_required", cv_db_json_cell(json_array_get(r, 10), 1),
	    "dependencies", cv_db_json_cell(json_array_get(r, 11), 1),
	    "retries", json_array_get(r, 12), "tenant_id", json_array_get(r, 13));
}

enum cv_err cv_intent_get(struct cv_store *s, const char *id, json_t **out)
{
	json_t *rows = NULL;
	struct cv_param p[] = { CV_TEXT(id) };
	enum cv_err err = cv_db_query(s, "SELECT " INTENT_COLUMNS " FROM intents"
	    " WHERE id = ?", p, 1, &rows);

	*out = NULL;
	if (err != CV_OK)
		return err;
	if (json_array_size(rows) > 0)
		*out = row_to_intent(json_array_get(rows, 0));
	json_decref(rows);
	return CV_OK;
}

/* The list query for a filter combination (bit 0 status, bit 1 tenant):
 * only the filters that are set appear, so the status and tenant indexes
 * stay usable; the order is served by idx_intents_order. Built once. */
static const char *list_sql(unsigned mask, bool brief)
{
	static char *texts[16];
	unsigned key = (mask & 3u) | (brief ? 4u : 0u) | (mask & 8u);
	char buf[1024];

	if (texts[key])
		return texts[key];
	snprintf(buf, sizeof buf, "SELECT %s FROM intents WHERE 1 = 1%s%s%s"
	    " ORDER BY priority ASC, created_at ASC, id ASC LIMIT ?3",
	    brief ? INTENT_BRIEF_COLUMNS : INTENT_COLUMNS,
	    (mask & 1) ? " AND status = ?1" : "",
	    (mask & 2) ? " AND tenant_id = ?2" : "",
	    /* keyset pagination (bit 3): rows after (priority, created_at,
	     * id) in the list's own order */
	    (mask & 8) ? " AND (priority > ?4 OR (priority = ?4 AND"
	    " (created_at > ?5 OR (created_at = ?5 AND id > ?6))))" : "");
	texts[key] = strdup(buf);
	return texts[key];
}

static json_t *list_rows(struct cv_store *s, const char *status,
    const char *tenant_id, int limit, bool brief)
{
	json_t *rows = NULL;
	const char *st = status && *status ? status : NULL;
	const char *tn = tenant_id && *tenant_id ? tenant_id : NULL;
	const char *sql = list_sql((st ? 1u : 0u) | (tn ? 2u : 0u), brief);
	struct cv_param p[] = { CV_TEXT(st), CV_TEXT(tn),
	    CV_INT(limit > 0 ? limit : 200) };

	if (!sql || cv_db_query(s, sql, p, 3, &rows) != CV_OK)
		return NULL;
	return rows;
}

json_t *cv_intent_list(struct cv_store *s, const char *status,
    const char *tenant_id, int limit)
{
	return cv_json_map_take(list_rows(s, status, tenant_id, limit, false),
	    row_to_intent);
}

enum cv_err cv_intent_count(struct cv_store *s, const char *status,
    const char *tenant_id, long long *out)
{
	struct cv_param p[] = { CV_TEXT(status), CV_TEXT(tenant_id) };

	if (tenant_id && *tenant_id)
		return cv_db_scalar_int(s, "SELECT count(*) FROM intents"
		    " WHERE status = ? AND tenant_id = ?", p, 2, out);
	return cv_db_scalar_int(s, "SELECT count(*) FROM intents"
	    " WHERE status = ?", p, 1, out);
}

json_t *cv_intent_list_fair(struct cv_store *s, const char *status,
    int limit)
{
	json_t *tenants = NULL, *lists, *out = NULL, *t;
	size_t i, round, taken = 0;
	int n = limit > 0 ? limit : 200;
	struct cv_param p[] = { CV_TEXT(status), CV_INT(n) };

	if (cv_db_query(s, "SELECT COALESCE(tenant_id, ''), MIN(created_at)"
	    " FROM intents WHERE status = ? GROUP BY COALESCE(tenant_id, '')"
	    " ORDER BY 2, 1 LIMIT ?", p, 2, &tenants) != CV_OK)
		return NULL;
	lists = json_array();
	json_array_foreach(tenants, i, t) {
		json_t *rows = NULL;
		struct cv_param q[] = { CV_TEXT(status),
		    CV_TEXT(json_string_value(json_array_get(t, 0))), CV_INT(n) };

		if (cv_db_query(s, "SELECT " INTENT_COLUMNS " FROM intents"
		    " WHERE status = ? AND COALESCE(tenant_id, '') = ?"
		    " ORDER BY priority ASC, created_at ASC, id ASC LIMIT ?",
		    q, 3, &rows) != CV_OK)
			goto out;
		json_array_append_new(lists, rows);
	}
	out = json_array();
	for (round = 0; taken < (size_t)n; round++) {
		bool any = false;

		json_array_foreach(lists, i, t) {
			json_t *row = json_array_get(t, round);

			if (!row || taken >= (size_t)n)
				continue;
			json_array_append_new(out, row_to_intent(row));
			taken++;
			any = true;
		}
		if (!any)
			break;
	}
out:
	json_decref(tenants);
	json_decref(lists);
	return out;
}

json_t *cv_intent_list_after(struct cv_store *s, const char *status,
    const char *tenant_id, int limit, const struct cv_intent_key *after)
{
	const char *st = status && *status ? status : NULL;
	const char *tn = tenant_id && *tenant_id ? tenant_id : NULL;
	const char *sql = list_sql((st ? 1u : 0u) | (tn ? 2u : 0u) |
	    (after ? 8u : 0u), false);
	struct cv_param p[] = { CV_TEXT(st), CV_TEXT(tn),
	    CV_INT(limit > 0 ? limit : 200),
	    CV_INT(after ? after->priority : 0),
	    CV_TEXT(after ? after->created_at : ""),
	    CV_TEXT(after ? after->id : "") };
	json_t *rows = NULL;

	if (!sql || cv_db_query(s, sql, p, after ? 6 : 3, &rows) != CV_OK)
		return NULL;
	return cv_json_map_take(rows, row_to_intent);
}

json_t *cv_intent_brief_list(struct cv_store *s, const char *status,
    const char *tenant_id, int limit)
{
	json_t *rows = list_rows(s, status, tenant_id, limit, true), *out, *r;
	size_t i;

	if (!rows)
		return NULL;
	out = json_array();
	json_array_foreach(rows, i, r) {
		const char *level = json_string_value(json_array_get(r, 6));
		json_array_append_new(out, json_pack("{s:O,s:O,s:O,s:O,s:O,s:O,"
		    "s:s,s:O,s:O,s:O}", "id", json_array_get(r, 0), "source",
		    json_array_get(r, 1), "target", json_array_get(r, 2),
		    "status", json_array_get(r, 3), "created_at",
		    json_array_get(r, 4), "created_by", json_array_get(r, 5),
		    "risk_level", level && *level ? level : "medium",
		    "priority", json_array_get(r, 7), "retries",
		    json_array_get(r, 8), "tenant_id", json_array_get(r, 9)));
	}
	json_decref(rows);
	return out;
}

enum cv_err cv_intent_update_status(struct cv_store *s, const char *id,
    const char *status, int retries)
{
	char ts[CV_TS_LEN];

	cv_now_ts(ts);
	struct cv_param p[] = { CV_TEXT(status), CV_INT(retries), CV_TEXT(ts),
	    CV_TEXT(id) };
	return cv_db_exec(s, "UPDATE intents SET status = ?1, retries ="
	    " CASE WHEN ?2 >= 0 THEN ?2 ELSE retries END, updated_at = ?3"
	    " WHERE id = ?4", p, 4, NULL);
}

enum cv_err cv_intent_update_status_open(struct cv_store *s, const char *id,
    const char *status, char *terminal, size_t n)
{
	char ts[CV_TS_LEN];
	long long changed = 0;
	json_t *rows = NULL;
	enum cv_err err;

	cv_now_ts(ts);
	if (status) {
		struct cv_param p[] = { CV_TEXT(status), CV_TEXT(ts),
		    CV_TEXT(id) };
		err = cv_db_exec(s, "UPDATE intents SET status = ?1,"
		    " updated_at = ?2 WHERE id = ?3 AND status NOT IN"
		    " ('MERGED', 'REJECTED')", p, 3, &changed);
		if (err != CV_OK || changed > 0)
			return err;
	}
	struct cv_param q[] = { CV_TEXT(id) };
	if ((err = cv_db_query(s, "SELECT status FROM intents WHERE id = ?1",
	    q, 1, &rows)) != CV_OK)
		return err;
	const char *now = json_string_value(json_array_get(json_array_get(
	    rows, 0), 0));
	if (now && cv_status_terminal(now)) {
		snprintf(terminal, n, "%s", now);
		err = CV_ESTATE;
	}
	json_decref(rows);
	return err;
}
