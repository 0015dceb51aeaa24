/* jsonx.c - typed getters over jansson values. */
#include "jsonx.h"

#include "fault.h"

#include <math.h>
#include <stdio.h>

const char *cv_json_str(const json_t *obj, const char *key, const char *def)
{
	json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : def;
}

double cv_json_num(const json_t *obj, const char *key, double def)
{
	json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	return json_is_number(v) ? json_number_value(v) : def;
}

long long cv_json_int(const json_t *obj, const char *key, long long def)
{
	json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_real(v)) {
		double d = json_real_value(v);
		if (d == floor(d) && fabs(d) < 9e15)
			return (long long)d;
	}
	return def;
}

bool cv_json_bool(const json_t *obj, const char *key, bool def)
{
	json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	return json_is_boolean(v) ? json_is_true(v) : def;
}

json_t *cv_json_obj(const json_t *obj, const char *key)
{
	json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	return json_is_object(v) ? v : NULL;
}

json_t *cv_json_arr(const json_t *obj, const char *key)
{
	json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	return json_is_array(v) ? v : NULL;
}

json_t *cv_json_str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

char *cv_json_dump(const json_t *v)
{
	return json_dumps(v, CV_JSON_FLAGS);
}

json_t *cv_json_loadb(const char *buf, size_t len, size_t flags,
    json_error_t *error)
{
	json_t *v;

	if (cv_fault_hit(CV_FAULT_ALLOC)) {
		if (error)
			snprintf(error->text, sizeof error->text,
			    "out of memory (injected fault)");
		return NULL;
	}
	cv_fault_pause(true);
	v = json_loadb(buf, len, flags, error);
	cv_fault_pause(false);
	return v;
}
