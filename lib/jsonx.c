/* jsonx.c - typed getters over jansson values. */
#include "jsonx.h"

#include "fault.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1fu;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0fu;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07u;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3fu);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static bool utf8_valid(const unsigned char *s, size_t n)
{
	for (size_t i = 0, k; i < n; i += k)
		if ((k = utf8_len(s + i, n - i)) == 0)
			return false;
	return true;
}

bool cv_utf8_text(const char *s)
{
	return utf8_valid((const unsigned char *)s, strlen(s));
}

json_t *cv_json_stored_text(const char *s, size_t n)
{
	json_t *v = json_stringn(s ? s : "", s ? n : 0);

	/* json_stringn's NULL is either: only the bytes can tell */
	if (!v && !utf8_valid((const unsigned char *)(s ? s : ""), s ? n : 0))
		v = json_string("");
	return v;
}

char *cv_text_escape_dup(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p), o = 0;
	char *out = malloc(n * 3 + 1);

	if (!out)
		return NULL;
	for (size_t i = 0; i < n;) {
		size_t k = utf8_len(p + i, n - i);

		if (k == 0) {
			out[o++] = '%';
			out[o++] = hex[p[i] >> 4];
			out[o++] = hex[p[i] & 15];
			i++;
		} else {
			memcpy(out + o, p + i, k);
			o += k;
			i += k;
		}
	}
	out[o] = '\0';
	return out;
}

json_t *cv_json_string_escaped(const char *s)
{
	char *t = cv_text_escape_dup(s);
	json_t *v = json_string(t ? t : "");

	free(t);
	return v;
}

json_t *cv_json_map_take(json_t *arr, json_t *(*fn)(const json_t *))
{
	json_t *out, *v;
	size_t i;

	if (!arr)
		return NULL;
	out = json_array();
	json_array_foreach(arr, i, v)
		json_array_append_new(out, fn(v));
	json_decref(arr);
	return out;
}
