/*
 * fuzz_html.c - the dashboard's HTML escaping: whatever the text, the
 * escaped output holds no character that could end an element or an
 * attribute (< > " ' and a bare &), and is valid UTF-8.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "ui.h"

static bool entity_at(const char *p)
{
	static const char *const ok[] = { "&amp;", "&lt;", "&gt;", "&quot;",
	    "&#39;", "&#x27;", "&apos;" };

	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		if (strncmp(p, ok[i], strlen(ok[i])) == 0)
			return true;
	return false;
}

int fuzz_html(const uint8_t *data, size_t n)
{
	struct cv_html h = { 0 };
	char *s = malloc(n + 1);

	if (!s)
		return 0;
	memcpy(s, data, n);
	s[n] = '\0';
	cv_html_text(&h, s);
	for (size_t i = 0; !h.oom && i < h.len; i++) {
		char c = h.buf[i];
		if (c == '<' || c == '>' || c == '"' || c == '\'' ||
		    (c == '&' && !entity_at(h.buf + i)))
			abort();
	}
	if (!h.oom && h.len) {
		json_t *t = json_stringn(h.buf, h.len);   /* NULL: not UTF-8 */
		if (!t)
			abort();
		json_decref(t);
	}
	cv_html_free(&h);
	free(s);
	return 0;
}

CV_FUZZ_TARGET(html)
