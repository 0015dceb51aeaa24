/*
 * intent_check.h - the one validation of an intent document (D-8), shared
 * by `converge intent create`, `POST /v1/intents` and the GitHub webhook
 * mapping, so that every way in refuses the same documents with the same
 * words: required fields, types, enums, lengths, and caps on every array
 * and string (a request must not buy unbounded work later).
 *
 * It only reads the document; building the stored Intent (defaults,
 * fallbacks) stays with cv_intent_build(). Pure: no store, no clock.
 */
#ifndef CV_INTENT_CHECK_H
#define CV_INTENT_CHECK_H

#include <jansson.h>
#include <stdbool.h>

/* Longest intent id: path parameters stop at 255 bytes, and anything that
 * can be created must be reachable (GET, validate) by its id. */
#define CV_INTENT_ID_MAX 255
/* Longest ref (source, target), tenant, actor, plan id, origin type. */
#define CV_INTENT_NAME_MAX 255
/* Priority range: lower is processed first. */
#define CV_INTENT_PRIORITY_MIN 0
#define CV_INTENT_PRIORITY_MAX 1000
/* Caps on the arrays the engine works on. */
#define CV_INTENT_DEPS_MAX 100          /* dependencies */
#define CV_INTENT_CHECKS_MAX 32         /* checks_required */
#define CV_INTENT_SCOPE_HINT_MAX 200    /* technical.scope_hint */
/* Caps on the free-form objects (semantic, technical) at any depth. */
#define CV_INTENT_TEXT_MAX 4096         /* one string */
#define CV_INTENT_ARRAY_MAX 200         /* one array */
#define CV_INTENT_KEYS_MAX 64           /* one object */
#define CV_INTENT_DEPTH_MAX 4           /* nesting */

enum cv_intent_mode {
	/* `intent create`: id from intent_id, else id, required; any status
	 * (the admin CLI keeps 0.1.0's behaviour). */
	CV_INTENT_CLI,
	/* POST /v1/intents: id optional (the server names it); status, when
	 * given, must be READY (an HTTP intent is always created READY). */
	CV_INTENT_HTTP,
	/* the webhook mapping: id required; any status. */
	CV_INTENT_WEBHOOK
};

/* The first refusal: field is the location ("source",
 * "technical.scope_hint[3]"), message what is wrong with it. */
struct cv_field_error {
	char field[96];
	char message[160];
};

/*
 * True when doc is an acceptable intent document for mode. Otherwise
 * false, with *out naming the field (out may be NULL). The words, for a
 * user: "<field>: <message>" (cv_field_error_text); over HTTP the field
 * is prefixed with "body.".
 */
bool cv_intent_check(const json_t *doc, enum cv_intent_mode mode,
    struct cv_field_error *out);

/* The source/target a validation is asked to save into the intent
 * (NULL: not given), under the same rules as on create. */
bool cv_intent_check_refs(const char *source, const char *target,
    struct cv_field_error *out);

/* Writes "<prefix><field>: <message>" into buf (prefix may be NULL). */
void cv_field_error_text(const struct cv_field_error *e, const char *prefix,
    char *buf, size_t size);

#endif
