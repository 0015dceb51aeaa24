/* idempotency.c - Idempotency-Key records in the idempotency_keys table. */
#include "idempotency.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "clock.h"
#include "db.h"

#define IDEM_TTL_US (24LL * 3600 * 1000000)

/* The stored key: digest of scope and key, so neither is kept in clear
 * and any length fits. */
static void row_key(const char *scope, const char *key, char out[65])
{
	size_t a = strlen(scope), b = strlen(key);
	char *buf = malloc(a + b + 2);

	if (!buf) {
		out[0] = '\0';
		return;
	}
	memcpy(buf, scope, a);
	buf[a] = '\n';
	memcpy(buf + a + 1, key, b);
	cv_sha256_hex(buf, a + b + 1, out);
	free(buf);
}

enum cv_err cv_idem_check(struct cv_store *s, const char *scope,
    const char *key, const void *body, size_t len, enum cv_idem_state *state,
    int *status, char **response)
{
	char k[65], sha[65], since[CV_TS_LEN];
	json_t *rows = NULL, *row;
	enum cv_err err;

	*state = CV_IDEM_NEW;
	*response = NULL;
	row_key(scope, key, k);
	cv_sha256_hex(body, len, sha);
	cv_ts_from_us(since, cv_now_us() - IDEM_TTL_US);
	struct cv_param p[] = { CV_TEXT(k), CV_TEXT(since) };
	err = cv_db_query(s, "SELECT body_sha256, status, response FROM"
	    " idempotency_keys WHERE key = ? AND created_at >= ?", p, 2, &rows);
	if (err != CV_OK)
		return err;
	if ((row = json_array_get(rows, 0))) {
		const char *stored = json_string_value(json_array_get(row, 0));
		if (stored && strcmp(stored, sha) == 0) {
			*state = CV_IDEM_REPLAY;
			*status = (int)json_integer_value(json_array_get(row, 1));
			*response = strdup(json_string_value(json_array_get(row,
			    2)) ? json_string_value(json_array_get(row, 2)) : "");
		} else
			*state = CV_IDEM_CONFLICT;
	}
	json_decref(rows);
	return CV_OK;
}

enum cv_err cv_idem_claim(struct cv_store *s, const char *scope,
    const char *key, const void *body, size_t len, enum cv_idem_state *state,
    int *status, char **response)
{
	char k[65], sha[65], now[CV_TS_LEN], old[CV_TS_LEN];
	long long claimed = 0;
	enum cv_err err;

	row_key(scope, key, k);
	cv_sha256_hex(body, len, sha);
	cv_now_ts(now);
	cv_ts_from_us(old, cv_now_us() - IDEM_TTL_US);
	struct cv_param p[] = { CV_TEXT(k), CV_TEXT(sha), CV_TEXT(now),
	    CV_TEXT(old) };
	/* Status 0 marks a claim no answer has filled yet; only this
	 * transaction can see it. An expired record is taken over. */
	err = cv_db_exec(s, "INSERT INTO idempotency_keys (key, body_sha256,"
	    " status, response, created_at) VALUES (?1, ?2, 0, '', ?3)"
	    " ON CONFLICT (key) DO UPDATE SET body_sha256 = excluded.body_sha256,"
	    " status = 0, response = '', created_at = excluded.created_at"
	    " WHERE idempotency_keys.created_at < ?4", p, 4, &claimed);
	if (err != CV_OK)
		return err;
	if (claimed > 0) {
		*state = CV_IDEM_NEW;
		*response = NULL;
		return CV_OK;
	}
	return cv_idem_check(s, scope, key, body, len, state, status,
	    response);
}

enum cv_err cv_idem_record(struct cv_store *s, const char *scope,
    const char *key, const void *body, size_t len, int status,
    const char *response)
{
	char k[65], sha[65], now[CV_TS_LEN], old[CV_TS_LEN];

	row_key(scope, key, k);
	cv_sha256_hex(body, len, sha);
	cv_now_ts(now);
	cv_ts_from_us(old, cv_now_us() - IDEM_TTL_US);
	struct cv_param p[] = { CV_TEXT(k), CV_TEXT(sha), CV_INT(status),
	    CV_TEXT(response), CV_TEXT(now), CV_TEXT(old) };
	/* An expired record for the key is replaced; a live one wins. */
	return cv_db_exec(s, "INSERT INTO idempotency_keys (key, body_sha256,"
	    " status, response, created_at) VALUES (?1, ?2, ?3, ?4, ?5)"
	    " ON CONFLICT (key) DO UPDATE SET body_sha256 = excluded.body_sha256,"
	    " status = excluded.status, response = excluded.response,"
	    " created_at = excluded.created_at"
	    " WHERE idempotency_keys.created_at < ?6"
	    " OR idempotency_keys.status = 0", p, 6, NULL);
}
