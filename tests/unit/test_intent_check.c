/* test_intent_check.c - the one intent validation (D-8) as a table: each
 * document, mode, and the field the refusal must name. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "intent_check.h"

#define CLI CV_INTENT_CLI
#define HTTP CV_INTENT_HTTP
#define HOOK CV_INTENT_WEBHOOK

/* A document with key set to a string of n copies of c. */
static json_t *long_field(const char *key, size_t n, char c)
{
	char buf[5000];

	memset(buf, c, n);
	buf[n] = '\0';
	return json_pack("{s:s,s:s,s:s}", "id", "x", "source", "f", key, buf);
}

/* A document whose array at key has n distinct strings. */
static json_t *long_list(const char *key, size_t n, bool in_technical)
{
	json_t *arr = json_array(), *doc;
	char item[32];

	for (size_t i = 0; i < n; i++) {
		snprintf(item, sizeof item, "d-%zu", i);
		json_array_append_new(arr, json_string(item));
	}
	doc = json_pack("{s:s,s:s}", "id", "x", "source", "f");
	if (in_technical)
		json_object_set_new(doc, "technical", json_pack("{s:o}", key,
		    arr));
	else
		json_object_set_new(doc, key, arr);
	return doc;
}

static void test_table(void **state)
{
	static const struct {
		const char *doc;
		enum cv_intent_mode mode;
		const char *field;       /* NULL: accepted */
	} rows[] = {
		{ "{\"id\":\"a\",\"source\":\"f\"}", CLI, NULL },
		{ "{\"intent_id\":\"a\",\"technical\":{\"source_ref\":\"f\"}}",
		  CLI, NULL },
		/* the file: id but no source */
		{ "{\"id\":\"a\"}", CLI, "source" },
		{ "{\"id\":\"a\",\"source\":\"\"}", HOOK, "source" },
		{ "{\"source\":\"f\"}", CLI, "intent_id" },
		{ "{\"source\":\"f\"}", HOOK, "id" },
		{ "{\"source\":\"f\"}", HTTP, NULL },
		{ "{\"id\":7,\"source\":\"f\"}", HTTP, "id" },
		{ "{\"id\":\"a\",\"source\":\"-x\"}", CLI, "source" },
		{ "{\"id\":\"a\",\"source\":\"f\",\"target\":3}", CLI, "target" },
		{ "{\"id\":\"a\",\"source\":\"f\",\"technical\":"
		  "{\"target_ref\":[]}}", CLI, "technical.target_ref" },
		{ "{\"id\":\"a\",\"source\":\"f\",\"status\":\"DONE\"}", CLI,
		  "status" },
		{ "{\"id\":\"a\",\"source\":\"f\",\"status\":\"VALIDATED\"}",
		  CLI, NULL },
		/* over HTTP an intent is created READY */
		{ "{\"source\":\"f\",\"status\":\"VALIDATED\"}", HTTP, "status" },
		{ "{\"source\":\"f\",\"status\":\"READY\"}", HTTP, NULL },
		{ "{\"id\":\"a\",\"source\":\"f\",\"risk_level\":\"x\"}", CLI,
		  "risk_level" },
		{ "{\"id\":\"a\",\"source\":\"f\",\"priority\":-1000000}", HTTP,
		  "priority" },
		{ "{\"id\":\"a\",\"source\":\"f\",\"priority\":1001}", CLI,
		  "priority" },
		{ "{\"id\":\"a\",\"source\":\"f\",\"priority\":1.5}", CLI,
		  "priority" },
		{ "{\"id\":\"a\",\"source\":\"f\",\"priority\":0}", CLI, NULL },
		{ "{\"id\":\"a\",\"source\":\"f\",\"priority\":1000}", HTTP, NULL },
		{ "{\"id\":\"a\",\"source\":\"f\",\"dependencies\":[\"b\",2]}",
		  CLI, "dependencies[1]" },
		{ "{\"id\":\"a\",\"source\":\"f\",\"dependencies\":\"b\"}", CLI,
		  "dependencies" },
		{ "{\"id\":\"a\",\"source\":\"f\",\"checks_required\":[\"\"]}",
		  CLI, "checks_required[0]" },
		{ "{\"id\":\"a\",\"source\":\"f\",\"semantic\":[]}", CLI,
		  "semantic" },
		{ "{\"id\":\"a\",\"source\":\"f\",\"semantic\":{\"a\":{\"b\":"
		  "{\"c\":{\"d\":{\"e\":1}}}}}}", CLI, "semantic.a.b.c.d" },
		{ "{\"id\":\"a\",\"source\":\"f\",\"tenant_id\":5}", HTTP,
		  "tenant_id" },
		{ "{\"id\":\"a\\nb\",\"source\":\"f\"}", CLI, "id" },
		{ "[1]", CLI, "body" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		json_t *doc = json_loads(rows[i].doc, JSON_DECODE_ANY, NULL);
		struct cv_field_error fe = { "", "" };
		bool ok = cv_intent_check(doc, rows[i].mode, &fe);

		assert_non_null(doc);
		if (ok != (rows[i].field == NULL) || (rows[i].field &&
		    strcmp(fe.field, rows[i].field) != 0))
			fail_msg("row %zu %s: ok=%d field '%s: %s', want %s", i,
			    rows[i].doc, ok, fe.field, fe.message,
			    rows[i].field ? rows[i].field : "accepted");
		json_decref(doc);
	}
}

/* Caps: one past each is refused naming the field; the cap itself is
 * accepted (issue: dependencies of 50,000 names burnt minutes). */
static void test_caps(void **state)
{
	static const struct {
		const char *key;
		size_t cap;
		bool technical;
		const char *field;
	} lists[] = {
		{ "dependencies", CV_INTENT_DEPS_MAX, false, "dependencies" },
		{ "checks_required", CV_INTENT_CHECKS_MAX, false,
		  "checks_required" },
		{ "scope_hint", CV_INTENT_SCOPE_HINT_MAX, true,
		  "technical.scope_hint" },
	};
	static const struct { const char *key; size_t cap; } strs[] = {
		{ "id", CV_INTENT_ID_MAX }, { "source", CV_INTENT_NAME_MAX },
		{ "target", CV_INTENT_NAME_MAX },
		{ "tenant_id", CV_INTENT_NAME_MAX },
	};
	struct cv_field_error fe;

	(void)state;
	for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
		json_t *ok = long_list(lists[i].key, lists[i].cap,
		    lists[i].technical);
		json_t *over = long_list(lists[i].key, lists[i].cap + 1,
		    lists[i].technical);
		assert_true(cv_intent_check(ok, CLI, &fe));
		assert_false(cv_intent_check(over, HTTP, &fe));
		assert_string_equal(fe.field, lists[i].field);
		assert_non_null(strstr(fe.message, "at most"));
		json_decref(ok);
		json_decref(over);
	}
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
		json_t *ok = long_field(strs[i].key, strs[i].cap, 'a');
		json_t *over = long_field(strs[i].key, strs[i].cap + 1, 'a');
		assert_true(cv_intent_check(ok, CLI, &fe));
		assert_false(cv_intent_check(over, HTTP, &fe));
		assert_string_equal(fe.field, strs[i].key);
		json_decref(ok);
		json_decref(over);
	}
	json_t *big = json_pack("{s:s,s:s,s:{s:s}}", "id", "x", "source", "f",
	    "semantic", "objective", "");
	char text[CV_INTENT_TEXT_MAX + 2];
	memset(text, 'o', sizeof text - 1);
	text[sizeof text - 1] = '\0';
	json_object_set_new(json_object_get(big, "semantic"), "objective",
	    json_string(text));
	assert_false(cv_intent_check(big, CLI, &fe));
	assert_string_equal(fe.field, "semantic.objective");
	char line[300];
	cv_field_error_text(&fe, "body.", line, sizeof line);
	assert_memory_equal(line, "body.semantic.objective: ", 25);
	json_decref(big);
}

/* The refs a validation saves follow the create rules. */
static void test_refs(void **state)
{
	char long_ref[300];
	struct cv_field_error fe;

	(void)state;
	memset(long_ref, 'r', 256);
	long_ref[256] = '\0';
	assert_true(cv_intent_check_refs(NULL, NULL, &fe));
	assert_true(cv_intent_check_refs("feature/x", "main", &fe));
	assert_false(cv_intent_check_refs("-x", NULL, &fe));
	assert_string_equal(fe.field, "source");
	assert_false(cv_intent_check_refs(NULL, long_ref, &fe));
	assert_string_equal(fe.field, "target");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refs),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_caps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
