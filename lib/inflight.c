/* inflight.c - marks of landings in flight (inflight.h). */
#include "inflight.h"

#include "clock.h"
#include "db.h"
#include "intents.h"
#include "log.h"

enum cv_err cv_inflight_begin(struct cv_store *s, const char *intent_id,
    long long holder)
{
	char ts[CV_TS_LEN];
	enum cv_err err;

	cv_now_ts(ts);
	struct cv_param p[] = { CV_TEXT(intent_id), CV_INT(holder),
	    CV_TEXT(ts) };
	if ((err = cv_store_begin(s)) != CV_OK)
		return err;
	err = cv_intent_update_status(s, intent_id, "QUEUED", -1);
	if (err == CV_OK)
		err = cv_db_exec(s, "INSERT INTO queue_landings (intent_id, "
		    "holder, started_at) VALUES (?, ?, ?) ON CONFLICT "
		    "(intent_id) DO UPDATE SET holder = excluded.holder, "
		    "started_at = excluded.started_at", p, 3, NULL);
	if (err != CV_OK) {
		cv_store_rollback(s);
		return err;
	}
	return cv_store_commit(s);
}

enum cv_err cv_inflight_end(struct cv_store *s, const char *intent_id)
{
	struct cv_param p[] = { CV_TEXT(intent_id) };

	return cv_db_exec(s, "DELETE FROM queue_landings WHERE intent_id = ?",
	    p, 1, NULL);
}

enum cv_err cv_inflight_recover(struct cv_store *s, int *count)
{
	json_t *rows = NULL, *row;
	enum cv_err err;
	size_t i;
	int n = 0;

	if (count)
		*count = 0;
	err = cv_db_query(s, "SELECT l.intent_id FROM queue_landings l JOIN "
	    "intents i ON i.id = l.intent_id WHERE i.status = 'QUEUED'", NULL,
	    0, &rows);
	if (err != CV_OK)
		return err;
	json_array_foreach(rows, i, row) {
		const char *id = json_string_value(json_array_get(row, 0));
		if (!id)
			continue;
		if ((err = cv_intent_update_status(s, id, "VALIDATED", -1)) !=
		    CV_OK)
			break;
		cv_log(CV_WARNING, "converge.engine", "intent %s was left "
		    "landing by a cycle that died; validated again", id);
		n++;
	}
	json_decref(rows);
	if (err == CV_OK)
		err = cv_db_exec(s, "DELETE FROM queue_landings", NULL, 0, NULL);
	if (count)
		*count = n;
	return err;
}
