/* outbox.c - the GitHub publication outbox (decisions.md D-5). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "clock.h"
#include "db.h"
#include "eventlog.h"
#include "jsonx.h"
#include "log.h"
#include "outbox.h"

void cv_outbox_id(const json_t *request, char out[CV_OUTBOX_ID_LEN])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char *key = NULL;

	if (asprintf(&key, "%s|%s|%s", cv_json_str(request, "intent_id", ""),
	    cv_json_str(request, "decision", ""),
	    cv_json_str(request, "head_sha", "")) < 0 ||
	    !EVP_Digest(key, strlen(key), md, &mdlen, EVP_sha256(), NULL))
		mdlen = 0;
	free(key);
	memset(out, '0', CV_OUTBOX_ID_LEN - 1);
	for (unsigned int i = 0; i < mdlen && i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
	out[CV_OUTBOX_ID_LEN - 1] = '\0';
}

enum cv_err cv_outbox_enqueue(struct cv_store *s, const json_t *request)
{
	char id[CV_OUTBOX_ID_LEN], now[CV_TS_LEN], *payload;
	enum cv_err e;

	if (cv_github_request_check(request) != CV_OK)
		return CV_EINVAL;
	if (!(payload = cv_json_dump(request)))
		return CV_ENOMEM;
	cv_outbox_id(request, id);
	cv_now_ts(now);
	struct cv_param p[] = { CV_TEXT(id), CV_TEXT(now), CV_TEXT(payload),
	    CV_TEXT(now) };
	e = cv_db_exec(s, "INSERT INTO github_outbox (id, created_at, payload,"
	    " attempts, next_attempt_at, done_at) VALUES (?, ?, ?, 0, ?, NULL)"
	    " ON CONFLICT (id) DO NOTHING", p, 4, NULL);
	free(payload);
	return e;
}

int cv_outbox_delay(long long attempts)
{
	long long d = 5;

	for (long long i = 0; i < attempts && d < CV_OUTBOX_MAX_DELAY; i++)
		d *= 2;
	return d < CV_OUTBOX_MAX_DELAY ? (int)d : CV_OUTBOX_MAX_DELAY;
}

/* Moves the row's next attempt past the lease; true when this worker got
 * it (still due and not done). */
static enum cv_err lease(struct cv_store *s, const char *id,
    int64_t now_us, bool *got)
{
	char now[CV_TS_LEN], until[CV_TS_LEN];
	long long changes = 0;
	enum cv_err e;

	cv_ts_from_us(now, now_us);
	cv_ts_from_us(until, now_us + (int64_t)CV_OUTBOX_LEASE * 1000000);
	struct cv_param p[] = { CV_TEXT(until), CV_TEXT(id), CV_TEXT(now) };
	e = cv_db_exec(s, "UPDATE github_outbox SET next_attempt_at = ?"
	    " WHERE id = ? AND done_at IS NULL AND next_attempt_at <= ?",
	    p, 3, &changes);
	*got = e == CV_OK && changes == 1;
	return e;
}

static enum cv_err mark_done(struct cv_store *s, const char *id,
    int64_t now_us, const json_t *request, const json_t *result,
    unsigned flags)
{
	char now[CV_TS_LEN];
	enum cv_err e;

	cv_ts_from_us(now, now_us);
	struct cv_param p[] = { CV_TEXT(now), CV_TEXT(id) };
	if ((e = cv_store_begin(s)) != CV_OK)
		return e;
	e = cv_db_exec(s, "UPDATE github_outbox SET done_at = ? WHERE id = ?",
	    p, 2, NULL);
	if (e == CV_OK && (flags & CV_OUTBOX_EVENTS))
		e = cv_event_emit(s, "github.decision_published",
		    cv_json_str(request, "intent_id", NULL), NULL, NULL,
		    cv_json_str(request, "trace_id", NULL),
		    json_deep_copy(result), NULL);
	if (e != CV_OK) {
		cv_store_rollback(s);
		return e;
	}
	return cv_store_commit(s);
}

static enum cv_err mark_failed(struct cv_store *s, const char *id,
    long long attempts, int64_t now_us)
{
	char next[CV_TS_LEN];

	cv_ts_from_us(next, now_us +
	    (int64_t)cv_outbox_delay(attempts) * 1000000);
	struct cv_param p[] = { CV_INT(attempts + 1), CV_TEXT(next),
	    CV_TEXT(id) };
	return cv_db_exec(s, "UPDATE github_outbox SET attempts = ?,"
	    " next_attempt_at = ? WHERE id = ?", p, 3, NULL);
}

/* Sends one leased row and records the outcome. */
static enum cv_err send_row(struct cv_store *s, struct cv_github *gh,
    const json_t *row, int64_t now_us, unsigned flags,
    struct cv_outbox_counts *c)
{
	const char *id = json_string_value(json_array_get(row, 0));
	long long attempts = json_integer_value(json_array_get(row, 2));
	json_t *req = cv_db_json_cell(json_array_get(row, 1), 0);
	json_t *res = cv_github_publish_decision(gh, req);
	enum cv_err e;

	if (res && !json_object_get(res, "error")) {
		e = mark_done(s, id, now_us, req, res, flags);
		c->sent++;
	} else {
		e = mark_failed(s, id, attempts, now_us);
		c->failed++;
	}
	json_decref(res);
	json_decref(req);
	return e;
}

enum cv_err cv_outbox_process(struct cv_store *s, struct cv_github *gh,
    int limit, int64_t now_us, unsigned flags,
    struct cv_outbox_counts *counts)
{
	struct cv_outbox_counts c = { 0, 0, 0 };
	char now[CV_TS_LEN];
	json_t *rows = NULL, *row;
	enum cv_err e;
	size_t i;
	bool got;

	cv_ts_from_us(now, now_us);
	struct cv_param p[] = { CV_TEXT(now), CV_INT(limit > 0 ? limit : 50) };
	e = cv_db_query(s, "SELECT id, payload, attempts FROM github_outbox"
	    " WHERE done_at IS NULL AND next_attempt_at <= ?"
	    " ORDER BY next_attempt_at, created_at, id LIMIT ?", p, 2, &rows);
	json_array_foreach(rows, i, row) {
		if (e != CV_OK)
			break;
		const char *id = json_string_value(json_array_get(row, 0));
		if ((e = lease(s, id, now_us, &got)) != CV_OK)
			break;
		if (!got) {
			c.skipped++;
			continue;
		}
		e = send_row(s, gh, row, now_us, flags, &c);
	}
	if (e != CV_OK)
		cv_log(CV_ERROR, "converge.github", "outbox: %s",
		    cv_store_errmsg(s));
	json_decref(rows);
	if (counts)
		*counts = c;
	return e;
}

enum cv_err cv_outbox_pending(struct cv_store *s, long long *count)
{
	return cv_db_scalar_int(s, "SELECT COUNT(*) FROM github_outbox WHERE"
	    " done_at IS NULL", NULL, 0, count);
}
