/*
 * fuzz_intent_check.c - the one validation of an intent document, in each
 * mode (CLI, HTTP, webhook), and of the refs a validation saves.
 *
 * Input: one mode byte, then the JSON document.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "intent_check.h"
#include "jsonx.h"

int fuzz_intent_check(const uint8_t *data, size_t n)
{
	static const enum cv_intent_mode modes[] = { CV_INTENT_CLI,
	    CV_INTENT_HTTP, CV_INTENT_WEBHOOK };
	struct cv_field_error err;
	char text[512];
	json_t *doc;

	if (n < 1)
		return 0;
	doc = json_loadb((const char *)data + 1, n - 1, JSON_DECODE_ANY, NULL);
	if (!doc)
		return 0;
	memset(&err, 0, sizeof err);
	if (!cv_intent_check(doc, modes[data[0] % 3], &err)) {
		if (!err.message[0])
			abort();   /* a refusal says what is wrong */
		cv_field_error_text(&err, "body.", text, sizeof text);
	}
	(void)cv_intent_check_refs(cv_json_str(doc, "source", NULL),
	    cv_json_str(doc, "target", NULL), &err);
	json_decref(doc);
	return 0;
}

CV_FUZZ_TARGET(intent_check)
