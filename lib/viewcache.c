/* viewcache.c - the per-process projection cache (see viewcache.h). */
#include "viewcache.h"

#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "clock.h"
#include "db.h"
#include "jsonx.h"

static struct cv_view slots[CV_VIEW_SLOTS];
static uint64_t clock_ticks;

/* The newest change of everything the cached projections read: the four
 * event types of the health snapshot and the intents (every intent write
 * sets updated_at). Each term is one lookup in an index. */
static const char version_sql[] =
	"SELECT (SELECT max(timestamp) FROM events"
	"  WHERE event_type = 'simulation.completed'),"
	" (SELECT max(timestamp) FROM events WHERE event_type = 'risk.evaluated'),"
	" (SELECT max(timestamp) FROM events WHERE event_type = 'intent.merged'),"
	" (SELECT max(timestamp) FROM events"
	"  WHERE event_type = 'intent.rejected'),"
	" (SELECT max(updated_at) FROM intents)";

enum cv_err cv_view_version(struct cv_store *s, char **out)
{
	json_t *rows = NULL, *row;
	size_t len = 0, i;
	enum cv_err e;

	*out = NULL;
	if ((e = cv_db_query(s, version_sql, NULL, 0, &rows)) != CV_OK)
		return e;
	row = json_array_get(rows, 0);
	for (i = 0; i < json_array_size(row); i++) {
		const char *v = json_string_value(json_array_get(row, i));
		len += (v ? strlen(v) : 0) + 1;
	}
	if ((*out = malloc(len + 1)) == NULL) {
		json_decref(rows);
		return CV_ENOMEM;
	}
	len = 0;
	for (i = 0; i < json_array_size(row); i++) {
		const char *v = json_string_value(json_array_get(row, i));
		size_t n = v ? strlen(v) : 0;

		memcpy(*out + len, v ? v : "", n);
		(*out)[len + n] = '|';
		len += n + 1;
	}
	(*out)[len] = '\0';
	json_decref(rows);
	return CV_OK;
}

static void slot_free(struct cv_view *v)
{
	free(v->key);
	free(v->version);
	free(v->body);
	memset(v, 0, sizeof *v);
}

static struct cv_view *find(const char *key)
{
	for (size_t i = 0; i < CV_VIEW_SLOTS; i++)
		if (slots[i].key && strcmp(slots[i].key, key) == 0)
			return &slots[i];
	return NULL;
}

const struct cv_view *cv_view_get(const char *key, const char *version,
    int64_t now_ms)
{
	struct cv_view *v = find(key);

	if (!v || !version || strcmp(v->version, version) != 0 ||
	    now_ms < v->at_ms || now_ms - v->at_ms >= CV_VIEW_MAX_AGE_MS)
		return NULL;
	v->used = ++clock_ticks;
	return v;
}

/* A copy of v without the members named "timestamp" of its objects (at
 * any depth, but not inside arrays, where timestamps are those of the
 * data itself). New reference. */
static json_t *without_clock(const json_t *v)
{
	json_t *copy, *member;
	const char *name;

	if (!json_is_object(v))
		return json_deep_copy(v);
	copy = json_object();
	json_object_foreach((json_t *)v, name, member)
		if (strcmp(name, "timestamp") != 0)
			json_object_set_new(copy, name, without_clock(member));
	return copy;
}

bool cv_view_etag(const json_t *doc, char out[CV_VIEW_ETAG_LEN])
{
	char hex[CV_SHA256_HEX_LEN], *text;
	json_t *data = without_clock(doc);

	/* sorted keys: the same data gives the same text in every process */
	text = data ? json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS |
	    JSON_ENCODE_ANY) : NULL;
	json_decref(data);
	if (!text)
		return false;
	cv_sha256_hex(text, strlen(text), hex);
	free(text);
	snprintf(out, CV_VIEW_ETAG_LEN, "W/\"%.32s\"", hex);
	return true;
}

const struct cv_view *cv_view_put_tagged(const char *key,
    const char *version, char *body_take, size_t len, const char *etag,
    int64_t now_ms)
{
	struct cv_view *v = find(key);

	if (!version || !body_take || !etag) {
		free(body_take);
		return NULL;
	}
	if (!v) {
		v = &slots[0];
		for (size_t i = 1; i < CV_VIEW_SLOTS && v->key; i++)
			if (!slots[i].key || slots[i].used < v->used)
				v = &slots[i];
	}
	slot_free(v);
	v->key = strdup(key);
	v->version = strdup(version);
	if (!v->key || !v->version) {
		slot_free(v);
		free(body_take);
		return NULL;
	}
	v->body = body_take;
	v->len = len;
	v->at_ms = now_ms;
	v->used = ++clock_ticks;
	snprintf(v->etag, sizeof v->etag, "%s", etag);
	return v;
}

const struct cv_view *cv_view_put(const char *key, const char *version,
    char *body_take, size_t len, int64_t now_ms)
{
	char etag[CV_VIEW_ETAG_LEN];
	json_t *doc = body_take ? json_loadb(body_take, len, JSON_DECODE_ANY,
	    NULL) : NULL;
	bool ok = doc && cv_view_etag(doc, etag);

	json_decref(doc);
	return cv_view_put_tagged(key, version, body_take, len, ok ? etag :
	    NULL, now_ms);
}

/* If-None-Match: "*" or a list of entity tags. A GET compares weakly
 * (RFC 9110 13.1.2): W/"x" and "x" name the same entity, so the quoted
 * opaque part of etag is what is looked for. */
static bool etag_named(const char *header, const char *etag)
{
	const char *opaque = strchr(etag, '"');

	if (!header || !opaque)
		return false;
	while (*header == ' ' || *header == '\t')
		header++;
	return strcmp(header, "*") == 0 || strstr(header, opaque) != NULL;
}

void cv_view_respond(const struct cv_view *v, const struct cv_request *req,
    struct cv_response *resp)
{
	if (etag_named(cv_request_header(req, "If-None-Match"), v->etag)) {
		free(resp->body);
		resp->body = NULL;
		resp->body_len = 0;
		resp->status = 304;
	} else {
		cv_response_text(resp, 200, "application/json", v->body,
		    v->len);
	}
	cv_response_header(resp, "ETag", v->etag);
	cv_response_header(resp, "Cache-Control", "no-cache");
}

enum cv_err cv_view_serve(struct cv_store *s, const char *key,
    cv_view_build_fn build, const void *arg, const struct cv_request *req,
    struct cv_response *resp)
{
	int64_t now = cv_now_us() / 1000;
	char *version = NULL, *text, etag[CV_VIEW_ETAG_LEN];
	const struct cv_view *v = NULL;
	json_t *out = NULL;
	enum cv_err e;

	/* No version (a store hiccup): compute, answer, cache nothing. */
	if (cv_view_version(s, &version) == CV_OK &&
	    (v = cv_view_get(key, version, now)) != NULL) {
		free(version);
		cv_view_respond(v, req, resp);
		return CV_OK;
	}
	if ((e = build(s, arg, &out)) != CV_OK) {
		free(version);
		return e;
	}
	text = cv_json_dump(out);
	if (!text || !cv_view_etag(out, etag)) {
		json_decref(out);
		free(version);
		free(text);
		return CV_ENOMEM;
	}
	json_decref(out);
	if (!version) {
		cv_response_text(resp, 200, "application/json", text,
		    strlen(text));
		cv_response_header(resp, "ETag", etag);
		free(text);
		return CV_OK;
	}
	v = cv_view_put_tagged(key, version, text, strlen(text), etag, now);
	free(version);
	if (!v)
		return CV_ENOMEM;
	cv_view_respond(v, req, resp);
	return CV_OK;
}

void cv_view_reset(void)
{
	for (size_t i = 0; i < CV_VIEW_SLOTS; i++)
		slot_free(&slots[i]);
}
