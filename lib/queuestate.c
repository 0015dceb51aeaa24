/* queuestate.c - QueueState by aggregate queries (see queuestate.h). */
#include "queuestate.h"

#include <string.h>

#include "db.h"
#include "jsonx.h"

/* Counts over every intent, by the status index; used as is when there
 * are no more intents than the projection's window. */
static const char counts_all[] =
	"SELECT status, count(*) FROM intents GROUP BY status";
static const char counts_all_t[] =
	"SELECT status, count(*) FROM intents WHERE tenant_id = ?"
	" GROUP BY status";
/* The spec's window: the first 10,000 intents in view order. */
static const char counts_window[] =
	"SELECT status, count(*) FROM (SELECT status FROM intents"
	" ORDER BY priority, created_at, id LIMIT 10000) w GROUP BY status";
static const char counts_window_t[] =
	"SELECT status, count(*) FROM (SELECT status FROM intents"
	" WHERE tenant_id = ? ORDER BY priority, created_at, id LIMIT 10000) w"
	" GROUP BY status";
static const char pending_sql[] =
	"SELECT id, status, priority, retries FROM intents"
	" WHERE status IN ('READY', 'VALIDATED', 'QUEUED')"
	" ORDER BY priority, id LIMIT 200";
static const char pending_sql_t[] =
	"SELECT id, status, priority, retries FROM intents"
	" WHERE tenant_id = ? AND status IN ('READY', 'VALIDATED', 'QUEUED')"
	" ORDER BY priority, id LIMIT 200";

static bool is_pending(const char *st)
{
	return !strcmp(st, "READY") || !strcmp(st, "VALIDATED") ||
	    !strcmp(st, "QUEUED");
}

/* by_status of the window, its total and how many are pending. */
static enum cv_err counts(struct cv_store *s, const char *tenant,
    json_t **by, long long *total, long long *pending)
{
	struct cv_param p[] = { CV_TEXT(tenant) };
	int np = tenant ? 1 : 0;
	json_t *rows = NULL, *row;
	enum cv_err e;
	size_t i;

	e = cv_db_query(s, tenant ? counts_all_t : counts_all, p, np, &rows);
	for (int pass = 0; e == CV_OK && pass < 2; pass++) {
		*total = *pending = 0;
		json_array_foreach(rows, i, row)
			*total += json_integer_value(json_array_get(row, 1));
		if (*total <= CV_QUEUE_WINDOW || pass == 1)
			break;
		json_decref(rows);
		rows = NULL;
		e = cv_db_query(s, tenant ? counts_window_t : counts_window, p,
		    np, &rows);
	}
	if (e != CV_OK)
		return e;
	if (!(*by = json_object())) {
		json_decref(rows);
		return CV_ENOMEM;
	}
	json_array_foreach(rows, i, row) {
		const char *st = json_string_value(json_array_get(row, 0));
		json_int_t n = json_integer_value(json_array_get(row, 1));

		if (!st)
			continue;
		if (is_pending(st))
			*pending += n;
		json_object_set_new(*by, st, json_integer(n));
	}
	json_decref(rows);
	return CV_OK;
}

static json_t *pending_list(struct cv_store *s, const char *tenant)
{
	struct cv_param p[] = { CV_TEXT(tenant) };
	json_t *rows = NULL, *row, *out;
	size_t i;

	if (cv_db_query(s, tenant ? pending_sql_t : pending_sql, p,
	    tenant ? 1 : 0, &rows) != CV_OK)
		return NULL;
	if ((out = json_array()) == NULL) {
		json_decref(rows);
		return NULL;
	}
	json_array_foreach(rows, i, row)
		json_array_append_new(out, json_pack("{s:O,s:O,s:O,s:O}",
		    "intent_id", json_array_get(row, 0),
		    "status", json_array_get(row, 1),
		    "priority", json_array_get(row, 2),
		    "retries", json_array_get(row, 3)));
	json_decref(rows);
	return out;
}

enum cv_err cv_queue_state_load(struct cv_store *s, const char *tenant_id,
    json_t **out)
{
	const char *t = tenant_id && *tenant_id ? tenant_id : NULL;
	json_t *by = NULL, *pending;
	long long total, n_pending;
	enum cv_err e;

	*out = NULL;
	if ((e = counts(s, t, &by, &total, &n_pending)) != CV_OK)
		return e;
	if (!(pending = pending_list(s, t))) {
		json_decref(by);
		return CV_ESTORE;
	}
	*out = json_pack("{s:o,s:I,s:I,s:o}", "pending", pending,
	    "pending_count", (json_int_t)n_pending, "total", (json_int_t)total,
	    "by_status", by);
	return *out ? CV_OK : CV_ENOMEM;
}

enum cv_err cv_queue_active_count(struct cv_store *s, const char *tenant_id,
    long long *out)
{
	const char *t = tenant_id && *tenant_id ? tenant_id : NULL;
	json_t *by = NULL;
	long long total;
	enum cv_err e = counts(s, t, &by, &total, out);

	json_decref(by);
	return e;
}
