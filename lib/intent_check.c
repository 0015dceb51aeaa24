/* intent_check.c - one validation of intent documents (D-8). */
#include "intent_check.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "intents.h"

static bool refuse(struct cv_field_error *out, const char *field,
    const char *fmt, ...)
{
	va_list ap;

	if (!out)
		return false;
	snprintf(out->field, sizeof out->field, "%s", field);
	va_start(ap, fmt);
	vsnprintf(out->message, sizeof out->message, fmt, ap);
	va_end(ap);
	return false;
}

void cv_field_error_text(const struct cv_field_error *e, const char *prefix,
    char *buf, size_t size)
{
	snprintf(buf, size, "%s%s: %s", prefix ? prefix : "", e->field,
	    e->message);
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* A present string field: type, length, no control characters. Absent
 * and null are fine here (required-ness is checked by the caller). */
static bool check_name(const json_t *doc, const char *key, size_t max,
    struct cv_field_error *out)
{
	json_t *v = json_object_get(doc, key);

	if (!v || json_is_null(v))
		return true;
	if (!json_is_string(v))
		return refuse(out, key, "Input should be a valid string");
	if (strlen(json_string_value(v)) > max)
		return refuse(out, key, "String should have at most %zu "
		    "characters", max);
	if (has_control(json_string_value(v)))
		return refuse(out, key, "must not contain control characters");
	return true;
}

static const char *nonempty(const json_t *doc, const char *key)
{
	const char *s = json_string_value(json_object_get(doc, key));

	return s && *s ? s : NULL;
}

static bool check_id(const json_t *doc, enum cv_intent_mode mode,
    struct cv_field_error *out)
{
	if (!check_name(doc, "intent_id", CV_INTENT_ID_MAX, out) ||
	    !check_name(doc, "id", CV_INTENT_ID_MAX, out))
		return false;
	if (mode != CV_INTENT_HTTP && !nonempty(doc, "intent_id") &&
	    !nonempty(doc, "id"))
		return refuse(out, mode == CV_INTENT_CLI ? "intent_id" : "id",
		    "intent_id or id is required");
	return true;
}

static bool check_ref(const json_t *doc, const json_t *tech,
    const char *key, const char *fallback, bool required,
    struct cv_field_error *out)
{
	char field[64];
	const char *s;

	snprintf(field, sizeof field, "technical.%s", fallback);
	if (!check_name(doc, key, CV_INTENT_NAME_MAX, out))
		return false;
	if (tech && !check_name(tech, fallback, CV_INTENT_NAME_MAX, out)) {
		if (out)
			snprintf(out->field, sizeof out->field, "%s", field);
		return false;
	}
	s = nonempty(doc, key);
	if (!s && tech)
		s = nonempty(tech, fallback);
	if (!s)
		return required ? refuse(out, key, "%s is required", key) : true;
	if (s[0] == '-')
		return refuse(out, key, "must not start with '-'");
	return true;
}

static bool check_enum(const json_t *doc, enum cv_intent_mode mode,
    struct cv_field_error *out)
{
	const char *st = json_string_value(json_object_get(doc, "status"));
	const char *lv = json_string_value(json_object_get(doc, "risk_level"));

	if (!check_name(doc, "status", 32, out) ||
	    !check_name(doc, "risk_level", 32, out))
		return false;
	if (st && !cv_status_valid(st))
		return refuse(out, "status", "Input should be 'READY', "
		    "'VALIDATED', 'QUEUED', 'MERGED' or 'REJECTED'");
	if (st && mode == CV_INTENT_HTTP && strcmp(st, "READY") != 0)
		return refuse(out, "status", "an intent is created READY; "
		    "validation moves it on");
	if (lv && *lv && !cv_risk_level_valid(lv))
		return refuse(out, "risk_level", "Input should be 'low', "
		    "'medium', 'high' or 'critical'");
	return true;
}

static bool check_priority(const json_t *doc, struct cv_field_error *out)
{
	json_t *v = json_object_get(doc, "priority");
	double d;

	if (!v || json_is_null(v))
		return true;
	if (json_is_integer(v))
		d = (double)json_integer_value(v);
	else if (json_is_real(v) && json_real_value(v) ==
	    floor(json_real_value(v)))
		d = json_real_value(v);
	else
		return refuse(out, "priority", "Input should be a valid integer");
	if (d < CV_INTENT_PRIORITY_MIN || d > CV_INTENT_PRIORITY_MAX)
		return refuse(out, "priority", "Input should be between %d and "
		    "%d", CV_INTENT_PRIORITY_MIN, CV_INTENT_PRIORITY_MAX);
	return true;
}

/* An array of non-empty strings, at most max items of at most len bytes. */
static bool check_list(const json_t *arr, const char *field, size_t max,
    size_t len, struct cv_field_error *out)
{
	char at[128];
	json_t *v;
	size_t i;

	if (!arr || json_is_null(arr))
		return true;
	if (!json_is_array(arr))
		return refuse(out, field, "Input should be a valid list");
	if (json_array_size(arr) > max)
		return refuse(out, field, "List should have at most %zu items",
		    max);
	json_array_foreach(arr, i, v) {
		snprintf(at, sizeof at, "%s[%zu]", field, i);
		if (!json_is_string(v) || !*json_string_value(v))
			return refuse(out, at, "Input should be a non-empty "
			    "string");
		if (strlen(json_string_value(v)) > len)
			return refuse(out, at, "String should have at most %zu "
			    "characters", len);
	}
	return true;
}

/* Free-form values: bounded size at every depth. */
static bool check_free(const json_t *v, const char *field, int depth,
    struct cv_field_error *out)
{
	char at[96];
	const char *k;
	json_t *c;
	size_t i;

	if (depth > CV_INTENT_DEPTH_MAX)
		return refuse(out, field, "nested deeper than %d levels",
		    CV_INTENT_DEPTH_MAX);
	if (json_is_string(v) && strlen(json_string_value(v)) >
	    CV_INTENT_TEXT_MAX)
		return refuse(out, field, "String should have at most %d "
		    "characters", CV_INTENT_TEXT_MAX);
	if (json_is_array(v)) {
		if (json_array_size(v) > CV_INTENT_ARRAY_MAX)
			return refuse(out, field, "List should have at most %d "
			    "items", CV_INTENT_ARRAY_MAX);
		json_array_foreach(v, i, c) {
			snprintf(at, sizeof at, "%s[%zu]", field, i);
			if (!check_free(c, at, depth + 1, out))
				return false;
		}
	}
	if (json_is_object(v)) {
		if (json_object_size(v) > CV_INTENT_KEYS_MAX)
			return refuse(out, field, "Object should have at most %d "
			    "keys", CV_INTENT_KEYS_MAX);
		json_object_foreach((json_t *)v, k, c) {
			snprintf(at, sizeof at, "%s.%.40s", field, k);
			if (strlen(k) > CV_INTENT_NAME_MAX)
				return refuse(out, field, "key longer than %d "
				    "characters", CV_INTENT_NAME_MAX);
			if (!check_free(c, at, depth + 1, out))
				return false;
		}
	}
	return true;
}

static bool check_object(const json_t *doc, const char *key,
    struct cv_field_error *out)
{
	json_t *v = json_object_get(doc, key);

	if (!v || json_is_null(v))
		return true;
	if (!json_is_object(v))
		return refuse(out, key, "Input should be a valid dictionary");
	return check_free(v, key, 1, out);
}

static bool check_strings(const json_t *doc, struct cv_field_error *out)
{
	static const char *const names[] = { "tenant_id", "created_by",
	    "created_at", "plan_id", "origin_type" };

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!check_name(doc, names[i], CV_INTENT_NAME_MAX, out))
			return false;
	return true;
}

bool cv_intent_check(const json_t *doc, enum cv_intent_mode mode,
    struct cv_field_error *out)
{
	const json_t *tech;

	if (!json_is_object(doc))
		return refuse(out, "body", "Input should be a valid dictionary");
	if (!check_id(doc, mode, out) || !check_object(doc, "technical", out) ||
	    !check_object(doc, "semantic", out))
		return false;
	tech = json_is_object(json_object_get(doc, "technical")) ?
	    json_object_get(doc, "technical") : NULL;
	return check_enum(doc, mode, out) &&
	    check_ref(doc, tech, "source", "source_ref", true, out) &&
	    check_ref(doc, tech, "target", "target_ref", false, out) &&
	    check_priority(doc, out) &&
	    check_strings(doc, out) &&
	    check_list(json_object_get(doc, "dependencies"), "dependencies",
	    CV_INTENT_DEPS_MAX, CV_INTENT_ID_MAX, out) &&
	    check_list(json_object_get(doc, "checks_required"),
	    "checks_required", CV_INTENT_CHECKS_MAX, 64, out) &&
	    check_list(tech ? json_object_get(tech, "scope_hint") : NULL,
	    "technical.scope_hint", CV_INTENT_SCOPE_HINT_MAX, 1024, out);
}

bool cv_intent_check_refs(const char *source, const char *target,
    struct cv_field_error *out)
{
	json_t *doc = json_object();
	bool ok;

	if (!doc)
		return refuse(out, "body", "out of memory");
	if (source && *source)
		json_object_set_new(doc, "source", json_string(source));
	if (target && *target)
		json_object_set_new(doc, "target", json_string(target));
	ok = check_ref(doc, NULL, "source", "source_ref", false, out) &&
	    check_ref(doc, NULL, "target", "target_ref", false, out);
	json_decref(doc);
	return ok;
}
