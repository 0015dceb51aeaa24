/*
 * jsonx.h - small typed getters over jansson objects, with defaults.
 * Every getter borrows: the object stays the caller's, and a returned
 * const char * lives as long as the object does.
 */
#ifndef CV_JSONX_H
#define CV_JSONX_H

#include <jansson.h>
#include <stdbool.h>

/* obj[key] if it is a string, else def. obj may be NULL or not an object. */
const char *cv_json_str(const json_t *obj, const char *key, const char *def);

/* obj[key] if it is a number (integer or real), else def. */
double cv_json_num(const json_t *obj, const char *key, double def);

/* obj[key] if it is an integer (or an integral real), else def. */
long long cv_json_int(const json_t *obj, const char *key, long long def);

/* obj[key] if it is a boolean, else def. */
bool cv_json_bool(const json_t *obj, const char *key, bool def);

/* obj[key] if it is an object / array, else NULL (borrowed). */
json_t *cv_json_obj(const json_t *obj, const char *key);
json_t *cv_json_arr(const json_t *obj, const char *key);

/* json_loadb (new reference or NULL). In the fault-injection build one
 * parse is one allocation point: jansson 2.14's lexer ignores a failed
 * allocation inside a string and then reads past its buffer, so the
 * countdown never fails an allocation in the middle of a parse. */
json_t *cv_json_loadb(const char *buf, size_t len, size_t flags,
    json_error_t *error);

/* n bytes of stored text as a JSON string (new reference): "" when they
 * are not UTF-8 (stored bytes are never trusted), NULL only when an
 * allocation failed, so that a reader can tell the two apart. */
json_t *cv_json_stored_text(const char *s, size_t n);

/* true when s is a NUL-terminated UTF-8 text: what a JSON string can hold
 * (request headers that end up in events must be). */
bool cv_utf8_text(const char *s);

/* A string value or JSON null when s is NULL (new reference). */
json_t *cv_json_str_or_null(const char *s);

/* Text from a request (a path, a header) made fit for a log line or an
 * event: valid UTF-8 is kept as it is, each byte of an invalid sequence
 * becomes "%XX" (upper-case hex), so nothing is dropped and the bytes
 * sent can be read back. NULL s gives "". Caller frees; NULL on ENOMEM. */
char *cv_text_escape_dup(const char *s);

/* The same as a JSON string (new reference; "" on ENOMEM of the copy). */
json_t *cv_json_string_escaped(const char *s);

/* Dump flags used everywhere: compact, and 15 significant digits so that
 * a rounded score such as 23.6 prints as 23.6, not 23.600000000000001. */
#define CV_JSON_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15))

/* Compact JSON text of v (caller frees), or NULL on allocation failure. */
char *cv_json_dump(const json_t *v);

/* A new array of fn(element) for each element of arr, in order (fn returns
 * a new reference): query rows into records, records into views.  Takes
 * arr's reference (released here); NULL arr gives NULL. */
json_t *cv_json_map_take(json_t *arr, json_t *(*fn)(const json_t *));

#endif
