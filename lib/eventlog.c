/* eventlog.c - the append-only event log (domain.md 2). */
#include "eventlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "db.h"
#include "jsonx.h"

json_t *cv_event_new(const char *event_type, const char *intent_id,
    const char *agent_id, const char *tenant_id, const char *trace_id,
    json_t *payload_take, json_t *evidence_take)
{
	char ts[CV_TS_LEN];
	json_t *ev;

	cv_now_ts(ts);
	if (!payload_take)
		payload_take = json_object();
	if (!evidence_take)
		evidence_take = json_object();
	ev = json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:o}", "id", "",
	    "trace_id", trace_id ? trace_id : "", "timestamp", ts,
	    "event_type", event_type, "intent_id", cv_json_str_or_null(intent_id),
	    "agent_id", cv_json_str_or_null(agent_id),
	    "tenant_id", cv_json_str_or_null(tenant_id),
	    "payload", payload_take, "evidence", evidence_take);
	return ev;
}

static const char *nullable(const json_t *ev, const char *key)
{
	return cv_json_str(ev, key, NULL);
}

/* Inserts one event; v holds its columns in the order of the statement. */
static enum cv_err insert(struct cv_store *s, const char *const v[9])
{
	struct cv_param p[] = { CV_TEXT(v[0]), CV_TEXT(v[1]), CV_TEXT(v[2]),
	    CV_TEXT(v[3]), CV_TEXT(v[4]), CV_TEXT(v[5]), CV_TEXT(v[6]),
	    CV_TEXT(v[7]), CV_TEXT(v[8]) };

	return cv_db_exec(s, "INSERT INTO events (id, trace_id, timestamp,"
	    " event_type, intent_id, agent_id, tenant_id, payload, evidence)"
	    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", p, 9, NULL);
}

enum cv_err cv_event_append(struct cv_store *s, json_t *ev)
{
	char id[CV_ID12_LEN], trace[CV_TRACE_LEN], ts[CV_TS_LEN];
	char *payload, *evidence;
	enum cv_err err;

	if (!*cv_json_str(ev, "id", "")) {
		cv_id12(id);
		json_object_set_new(ev, "id", json_string(id));
	}
	if (!*cv_json_str(ev, "trace_id", "")) {
		cv_trace_generic(trace);
		json_object_set_new(ev, "trace_id", json_string(trace));
	}
	if (!*cv_json_str(ev, "timestamp", "")) {
		cv_now_ts(ts);
		json_object_set_new(ev, "timestamp", json_string(ts));
	}
	if (!cv_json_obj(ev, "payload"))
		json_object_set_new(ev, "payload", json_object());
	if (!cv_json_obj(ev, "evidence"))
		json_object_set_new(ev, "evidence", json_object());
	payload = cv_json_dump(json_object_get(ev, "payload"));
	evidence = cv_json_dump(json_object_get(ev, "evidence"));
	if (!payload || !evidence) {
		free(payload);
		free(evidence);
		return CV_ENOMEM;
	}
	const char *const v[9] = { cv_json_str(ev, "id", ""),
	    cv_json_str(ev, "trace_id", ""), cv_json_str(ev, "timestamp", ""),
	    cv_json_str(ev, "event_type", ""), nullable(ev, "intent_id"),
	    nullable(ev, "agent_id"), nullable(ev, "tenant_id"), payload,
	    evidence };
	err = insert(s, v);
	free(payload);
	free(evidence);
	return err;
}

/* A copy of v, or NULL for NULL; *ok turns false when out of memory. */
static char *dup_or_null(const char *v, bool *ok)
{
	char *c = v ? strdup(v) : NULL;

	if (v && !c)
		*ok = false;
	return c;
}

/* The JSON text of an object taken (NULL: {}); NULL when out of memory. */
static char *dump_taken(json_t *obj_take)
{
	char *text = obj_take ? cv_json_dump(obj_take) : strdup("{}");

	json_decref(obj_take);
	return text;
}

enum cv_err cv_event_row_make(struct cv_event_row *r, const char *event_type,
    const char *intent_id, const char *agent_id, const char *tenant_id,
    const char *trace_id, json_t *payload_take, json_t *evidence_take)
{
	bool ok = true;

	memset(r, 0, sizeof *r);
	cv_id12(r->id);
	if (trace_id && *trace_id)
		snprintf(r->trace_id, sizeof r->trace_id, "%s", trace_id);
	else
		cv_trace_generic(r->trace_id);
	r->event_type = dup_or_null(event_type ? event_type : "", &ok);
	r->intent_id = dup_or_null(intent_id, &ok);
	r->agent_id = dup_or_null(agent_id, &ok);
	r->tenant_id = dup_or_null(tenant_id, &ok);
	r->payload = dump_taken(payload_take);
	r->evidence = dump_taken(evidence_take);
	return ok && r->payload && r->evidence ? CV_OK : CV_ENOMEM;
}

enum cv_err cv_event_row_append(struct cv_store *s,
    const struct cv_event_row *r)
{
	char ts[CV_TS_LEN];

	cv_now_ts(ts);
	const char *const v[9] = { r->id, r->trace_id, ts, r->event_type,
	    r->intent_id, r->agent_id, r->tenant_id, r->payload, r->evidence };
	return insert(s, v);
}

void cv_event_row_free(struct cv_event_row *r)
{
	free(r->event_type);
	free(r->intent_id);
	free(r->agent_id);
	free(r->tenant_id);
	free(r->payload);
	free(r->evidence);
	memset(r, 0, sizeof *r);
}

enum cv_err cv_event_emit(struct cv_store *s, const char *event_type,
    const char *intent_id, const char *agent_id, const char *tenant_id,
    const char *trace_id, json_t *payload_take, json_t *evidence_take)
{
	json_t *ev = cv_event_new(event_type, intent_id, agent_id, tenant_id,
	    trace_id, payload_take, evidence_take);
	enum cv_err err;

	if (!ev)
		return CV_ENOMEM;
	err = cv_event_append(s, ev);
	json_decref(ev);
	return err;
}

static json_t *row_to_event(const json_t *row)
{
	return json_pack("{s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:o,s:o}",
	    "id", json_array_get(row, 0), "trace_id", json_array_get(row, 1),
	    "timestamp", json_array_get(row, 2),
	    "event_type", json_array_get(row, 3),
	    "intent_id", json_array_get(row, 4),
	    "agent_id", json_array_get(row, 5),
	    "tenant_id", json_array_get(row, 6),
	    "payload", cv_db_json_cell(json_array_get(row, 7), 0),
	    "evidence", cv_db_json_cell(json_array_get(row, 8), 0));
}

static const char *opt(const char *v)
{
	return v && *v ? v : NULL;
}

#define EVENT_COLUMNS "id, trace_id, timestamp, event_type, intent_id," \
	" agent_id, tenant_id, payload, evidence"

/* The query text for one combination of present filters. Only the filters
 * that are set appear in the WHERE clause, so the planner sees plain
 * equalities and uses the (event_type, timestamp) index; a catch-all
 * "? IS NULL OR col = ?" would hide every index and scan the table. Values
 * are always bound (?1..?7); the text is built once per combination and
 * kept, so its statement is prepared once per process.
 *
 * Bits 6 and 7 are the keyset page (cv_event_page): bit 7 adds each row's
 * position (rowid, ctid on PostgreSQL) as a last column, bit 6 keeps the
 * rows after the position ?8/?9 in the list's order. The position is
 * bound as text and cast: "tid" is PostgreSQL's row-position type and,
 * to SQLite, a name with numeric affinity, so one text serves both. The
 * "timestamp <= ?8" term is what lets the index range start at the
 * cursor instead of filtering from the newest row. The position column
 * has a name of its own: unnamed, PostgreSQL would call it "ctid" and
 * ORDER BY would sort its text. */
static const char *query_sql(unsigned mask)
{
	static char *texts[256];
	static const char *const terms[] = { " AND event_type = ?1",
	    " AND intent_id = ?2", " AND agent_id = ?3", " AND tenant_id = ?4",
	    " AND timestamp >= ?5", " AND timestamp <= ?6",
	    (" AND timestamp <= ?8 AND (timestamp < ?8 OR"
	    " rowid < CAST(?9 AS tid))") };
	char buf[1024];
	size_t n;

	if (texts[mask])
		return texts[mask];
	n = (size_t)snprintf(buf, sizeof buf, "SELECT " EVENT_COLUMNS "%s"
	    " FROM events WHERE 1 = 1", (mask & 128u) ?
	    ", CAST(rowid AS TEXT) AS position" : "");
	for (unsigned i = 0; i < 7; i++)
		if (mask & (1u << i))
			n += (size_t)snprintf(buf + n, sizeof buf - n, "%s", terms[i]);
	snprintf(buf + n, sizeof buf - n, " ORDER BY timestamp DESC, rowid DESC"
	    " LIMIT ?7");
	texts[mask] = strdup(buf);
	return texts[mask];
}

/* The filter's mask bits 0..5 (query_sql) and its values. */
static unsigned filter_mask(const struct cv_event_filter *f, const char *v[6])
{
	unsigned mask = 0;

	v[0] = opt(f->event_type);
	v[1] = opt(f->intent_id);
	v[2] = opt(f->agent_id);
	v[3] = opt(f->tenant_id);
	v[4] = opt(f->since);
	v[5] = opt(f->until);
	for (unsigned k = 0; k < 6; k++)
		if (v[k])
			mask |= 1u << k;
	return mask;
}

json_t *cv_event_query(struct cv_store *s, const struct cv_event_filter *f)
{
	json_t *rows = NULL;
	int limit = f->limit > 0 ? f->limit : 200;
	const char *v[6], *sql;
	unsigned mask = filter_mask(f, v);

	if (!(sql = query_sql(mask)))
		return NULL;
	struct cv_param p[] = { CV_TEXT(v[0]), CV_TEXT(v[1]), CV_TEXT(v[2]),
	    CV_TEXT(v[3]), CV_TEXT(v[4]), CV_TEXT(v[5]), CV_INT(limit) };
	if (cv_db_query(s, sql, p, 7, &rows) != CV_OK)
		return NULL;
	return cv_json_map_take(rows, row_to_event);
}

bool cv_event_pos_valid(const char *pos)
{
	const char *p = pos;
	size_t digits = 0;

	if (*p != '(') {                       /* SQLite: a rowid */
		while (*p >= '0' && *p <= '9' && digits < 19)
			p++, digits++;
		return digits > 0 && *p == '\0';
	}
	/* PostgreSQL: "(block,offset)" */
	for (int part = 0; part < 2; part++) {
		p++;
		for (digits = 0; *p >= '0' && *p <= '9' && digits < 10; digits++)
			p++;
		if (digits == 0 || *p != (part ? ')' : ','))
			return false;
	}
	return p[1] == '\0';
}

enum cv_err cv_event_page(struct cv_store *s, const struct cv_event_filter *f,
    const char *after_ts, const char *after_pos, json_t **events,
    json_t **positions)
{
	json_t *rows = NULL, *row;
	const char *v[6], *sql;
	unsigned mask = filter_mask(f, v) | 128u;
	enum cv_err e;
	size_t i;

	*events = *positions = NULL;
	if (after_ts) {
		if (!after_pos || !cv_event_pos_valid(after_pos))
			return CV_EINVAL;
		mask |= 64u;
	}
	if (!(sql = query_sql(mask)))
		return CV_ENOMEM;
	struct cv_param p[] = { CV_TEXT(v[0]), CV_TEXT(v[1]), CV_TEXT(v[2]),
	    CV_TEXT(v[3]), CV_TEXT(v[4]), CV_TEXT(v[5]),
	    CV_INT(f->limit > 0 ? f->limit : 200), CV_TEXT(after_ts),
	    CV_TEXT(after_pos) };
	if ((e = cv_db_query(s, sql, p, after_ts ? 9 : 7, &rows)) != CV_OK)
		return e;
	/* the positions first: cv_json_map_take consumes rows */
	if ((*positions = json_array()) != NULL)
		json_array_foreach(rows, i, row)
			if (json_array_append(*positions,
			    json_array_get(row, 9)) != 0)
				break;
	if (!*positions ||
	    json_array_size(*positions) != json_array_size(rows)) {
		json_decref(rows);
		json_decref(*positions);
		*positions = NULL;
		return CV_ENOMEM;
	}
	if (!(*events = cv_json_map_take(rows, row_to_event))) {
		json_decref(*positions);
		*positions = NULL;
		return CV_ENOMEM;
	}
	return CV_OK;
}

enum cv_err cv_event_latest(struct cv_store *s, const char *event_type,
    const char *intent_id, json_t **out)
{
	return cv_event_latest_of(s, event_type, intent_id, NULL, out);
}

enum cv_err cv_event_latest_of(struct cv_store *s, const char *event_type,
    const char *intent_id, const char *tenant_id, json_t **out)
{
	struct cv_event_filter f = { .event_type = event_type,
	    .intent_id = intent_id, .tenant_id = tenant_id, .limit = 1 };
	json_t *list = cv_event_query(s, &f);

	*out = NULL;
	if (!list)
		return CV_ESTORE;
	if (json_array_size(list) > 0)
		*out = json_incref(json_array_get(list, 0));
	json_decref(list);
	return CV_OK;
}

enum cv_err cv_event_count(struct cv_store *s, const char *const *names,
    const char *const *values, size_t n, long long *out, char **errmsg)
{
	static const char *const allowed[] = { "event_type", "intent_id",
	    "agent_id", "tenant_id", "trace_id" };
	const char *v[5] = { NULL, NULL, NULL, NULL, NULL };

	for (size_t i = 0; i < n; i++) {
		size_t k = 0;
		while (k < 5 && strcmp(names[i], allowed[k]) != 0)
			k++;
		if (k == 5) {
			if (errmsg) {
				size_t len = strlen(names[i]) + 32;
				if ((*errmsg = malloc(len)))
					snprintf(*errmsg, len,
					    "Invalid filter column: %s", names[i]);
			}
			return CV_EINVAL;
		}
		if (values[i])
			v[k] = values[i];
	}
	struct cv_param p[] = { CV_TEXT(v[0]), CV_TEXT(v[1]), CV_TEXT(v[2]),
	    CV_TEXT(v[3]), CV_TEXT(v[4]) };
	return cv_db_scalar_int(s, "SELECT COUNT(*) FROM events WHERE"
	    " (?1 IS NULL OR event_type = ?1) AND (?2 IS NULL OR intent_id = ?2)"
	    " AND (?3 IS NULL OR agent_id = ?3) AND (?4 IS NULL OR"
	    " tenant_id = ?4) AND (?5 IS NULL OR trace_id = ?5)", p, 5, out);
}

enum cv_err cv_event_prune(struct cv_store *s, const char *before,
    const char *tenant_id, bool dry_run, long long *count)
{
	struct cv_param p[] = { CV_TEXT(before), CV_TEXT(opt(tenant_id)) };
	enum cv_err err = cv_db_scalar_int(s, "SELECT COUNT(*) FROM events"
	    " WHERE timestamp < ?1 AND (?2 IS NULL OR tenant_id = ?2)", p, 2,
	    count);

	if (err != CV_OK || dry_run)
		return err;
	return cv_db_exec(s, "DELETE FROM events WHERE timestamp < ?1 AND"
	    " (?2 IS NULL OR tenant_id = ?2)", p, 2, NULL);
}
