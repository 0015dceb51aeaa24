/*
 * test_openapi.c - docs/openapi.json (served at /openapi.json) against
 * the route tables of every family: each route, with its method, role
 * and scope, is in the document, and the document lists no route that
 * no family serves. A failure says exactly what to add or change.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvbuild.h"
#include "farm.h"
#include "jsonx.h"

#include "families.h"

extern const char *const cv_openapi_lines[];

#define DOC_PATH CV_SRCDIR "/docs/openapi.json"

static json_t *doc;

static int setup(void **state)
{
	json_error_t e;

	(void)state;
	doc = json_load_file(DOC_PATH, 0, &e);
	if (!doc)
		fprintf(stderr, "%s:%d: %s\n", DOC_PATH, e.line, e.text);
	return doc ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	json_decref(doc);
	return 0;
}

/* "/v1/intents/{id}" for a prefixed route; the document lists /v1 only
 * (/api answers the same). */
static void doc_path(const struct cv_route *r, char *out, size_t n)
{
	snprintf(out, n, "%s%s", r->flags & CV_ROUTE_PREFIXED ? "/v1" : "",
	    r->pattern);
}

static void lower(const char *s, char *out, size_t n)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < n; i++)
		out[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
	out[i] = '\0';
}

static bool same(const json_t *v, const char *want)
{
	if (!want)
		return !v || json_is_null(v);
	return json_is_string(v) && strcmp(json_string_value(v), want) == 0;
}

static void quoted(char *out, size_t n, const char *s)
{
	snprintf(out, n, s ? "\"%s\"" : "null", s);
}

/* What to paste into docs/openapi.json for route r. */
static void suggest(const struct cv_family *f, const struct cv_route *r,
    const char *path, const char *method)
{
	char role[64], scope[64];

	quoted(role, sizeof role, r->role);
	quoted(scope, sizeof scope, r->scope);
	print_message("docs/openapi.json: add under \"paths\" -> \"%s\" the "
	    "operation\n  \"%s\": {\"summary\": \"<what it answers>\", "
	    "\"operationId\": \"%s%s\", \"tags\": [\"%s\"], \"security\": "
	    "%s, \"responses\": {\"200\": {\"description\": \"success\"}}, "
	    "\"x-converge-family\": \"%s\", \"x-converge-role\": %s, "
	    "\"x-converge-scope\": %s}\n  (path parameters in \"parameters\", "
	    "a write's body in \"requestBody\"), and a request and response "
	    "example of a write to docs/api.md.\n", path, method, method,
	    path, f->name, r->role ? "[{\"apiKey\": []}, {\"bearer\": []}]" :
	    "[]", f->name, role, scope);
}

static void test_every_route_is_documented(void **state)
{
	const json_t *paths = json_object_get(doc, "paths");
	int missing = 0;

	(void)state;
	for (size_t f = 0; f < CV_ARRAY_LEN(families); f++)
		for (size_t i = 0; i < families[f]->nroutes; i++) {
			const struct cv_route *r = &families[f]->routes[i];
			char path[512], method[16];
			const json_t *op;

			doc_path(r, path, sizeof path);
			lower(r->method, method, sizeof method);
			op = json_object_get(json_object_get(paths, path),
			    method);
			if (!op) {
				print_message("route %s %s of family %s (role "
				    "%s, scope %s) is not in docs/openapi.json\n",
				    r->method, path, families[f]->name,
				    r->role ? r->role : "none",
				    r->scope ? r->scope : "none");
				suggest(families[f], r, path, method);
				missing++;
				continue;
			}
			if (!same(json_object_get(op, "x-converge-role"),
			    r->role) || !same(json_object_get(op,
			    "x-converge-scope"), r->scope) || !same(
			    json_object_get(op, "x-converge-family"),
			    families[f]->name)) {
				print_message("docs/openapi.json: %s %s must say "
				    "\"x-converge-family\": \"%s\", "
				    "\"x-converge-role\": %s%s%s, "
				    "\"x-converge-scope\": %s%s%s (as in "
				    "fcgi/%s.c)\n", method, path,
				    families[f]->name, r->role ? "\"" : "",
				    r->role ? r->role : "null", r->role ? "\"" :
				    "", r->scope ? "\"" : "", r->scope ? r->scope
				    : "null", r->scope ? "\"" : "",
				    families[f]->name);
				missing++;
			}
			/* authentication as the route table says */
			const json_t *sec = json_object_get(op, "security");
			if (!json_is_array(sec) || (json_array_size(sec) == 0)
			    != (r->role == NULL)) {
				print_message("docs/openapi.json: %s %s must "
				    "have \"security\": %s\n", method, path,
				    r->role ? "[{\"apiKey\": []}, {\"bearer\": "
				    "[]}]" : "[]");
				missing++;
			}
		}
	if (missing)
		fail_msg("%d route(s) differ from docs/openapi.json (see above)",
		    missing);
}

static bool served(const char *path, const char *method)
{
	for (size_t f = 0; f < CV_ARRAY_LEN(families); f++)
		for (size_t i = 0; i < families[f]->nroutes; i++) {
			const struct cv_route *r = &families[f]->routes[i];
			char p[512], m[16];

			doc_path(r, p, sizeof p);
			lower(r->method, m, sizeof m);
			if (strcmp(p, path) == 0 && strcmp(m, method) == 0)
				return true;
		}
	return false;
}

static void test_no_route_is_invented(void **state)
{
	const char *path, *method;
	json_t *item, *op;
	int extra = 0;

	(void)state;
	json_object_foreach(json_object_get(doc, "paths"), path, item)
		json_object_foreach(item, method, op) {
			if (strcmp(method, "parameters") == 0 ||
			    strcmp(method, "summary") == 0 ||
			    strcmp(method, "description") == 0)
				continue;
			if (!served(path, method)) {
				print_message("docs/openapi.json lists %s %s, "
				    "which no family's route table serves: "
				    "remove it, or add the route\n", method,
				    path);
				extra++;
			}
		}
	if (extra)
		fail_msg("%d operation(s) in docs/openapi.json are served by "
		    "no family", extra);
}

/* docs/api.md shows a request and its answer for every route that
 * writes: a section whose title names "`METHOD /path`". */
static void test_every_write_has_an_example(void **state)
{
	FILE *f = fopen(CV_SRCDIR "/docs/api.md", "rb");
	char *md = calloc(1, 1 << 20);
	int missing = 0;

	(void)state;
	assert_non_null(f);
	assert_true(fread(md, 1, (1 << 20) - 1, f) > 0);
	fclose(f);
	for (size_t fa = 0; fa < CV_ARRAY_LEN(families); fa++)
		for (size_t i = 0; i < families[fa]->nroutes; i++) {
			const struct cv_route *r = &families[fa]->routes[i];
			char path[512], want[600];
			const char *at;
			bool found = false;

			if (strcmp(r->method, "GET") == 0)
				continue;
			doc_path(r, path, sizeof path);
			snprintf(want, sizeof want, "`%s %s`", r->method, path);
			for (at = md; (at = strstr(at, want)); at++) {
				const char *line = at;
				while (line > md && line[-1] != '\n')
					line--;
				if (strncmp(line, "### ", 4) == 0)
					found = true;
			}
			if (!found) {
				print_message("docs/api.md has no example of %s "
				    "%s: add under \"## Examples of every write\" "
				    "a section \"### %s (%s, `%s`)\" with the curl "
				    "request and the answer it printed\n",
				    r->method, path, want, r->role ? r->role :
				    "no key", r->scope ? r->scope : "-");
				missing++;
			}
		}
	free(md);
	if (missing)
		fail_msg("%d write route(s) without an example in docs/api.md",
		    missing);
}

/* The document is OpenAPI 3.1 in shape: ids unique, every operation
 * answers something, every {param} of a path declared. */
static void test_document_shape(void **state)
{
	const char *path, *method;
	json_t *item, *op, *ids = json_object();

	(void)state;
	assert_non_null(strstr(cv_json_str(doc, "openapi", ""), "3.1"));
	if (strcmp(cv_json_str(json_object_get(doc, "info"), "version", ""),
	    PACKAGE_VERSION) != 0)
		fail_msg("docs/openapi.json: \"info\": {\"version\"} must be "
		    "\"%s\", the version in configure.ac", PACKAGE_VERSION);
	json_object_foreach(json_object_get(doc, "paths"), path, item)
		json_object_foreach(item, method, op) {
			const char *id = cv_json_str(op, "operationId", NULL);
			const char *p = path;
			if (!id || json_object_get(ids, id))
				fail_msg("%s %s: operationId missing or not "
				    "unique", method, path);
			json_object_set_new(ids, id, json_true());
			if (json_object_size(json_object_get(op,
			    "responses")) == 0)
				fail_msg("%s %s: no responses", method, path);
			while ((p = strchr(p, '{'))) {
				size_t n = strcspn(p + 1, "}");
				bool found = false;
				size_t i;
				json_t *prm;
				json_array_foreach(json_object_get(op,
				    "parameters"), i, prm)
					if (strlen(cv_json_str(prm, "name", "")) ==
					    n && strncmp(cv_json_str(prm, "name",
					    ""), p + 1, n) == 0)
						found = true;
				if (!found)
					fail_msg("%s %s: path parameter %.*s not "
					    "in \"parameters\"", method, path,
					    (int)n, p + 1);
				p += n + 1;
			}
		}
	json_decref(ids);
}

/* What /openapi.json serves is the file, byte for byte. */
static void test_served_copy_is_the_file(void **state)
{
	FILE *f = fopen(DOC_PATH, "rb");
	char *file = calloc(1, 1 << 20);
	size_t n, at = 0;

	(void)state;
	assert_non_null(f);
	n = fread(file, 1, (1 << 20) - 1, f);
	fclose(f);
	for (size_t i = 0; cv_openapi_lines[i]; i++) {
		size_t k = strlen(cv_openapi_lines[i]);
		assert_true(at + k <= n);
		assert_memory_equal(file + at, cv_openapi_lines[i], k);
		at += k;
	}
	assert_int_equal(at, n);
	free(file);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_route_is_documented),
		cmocka_unit_test(test_no_route_is_invented),
		cmocka_unit_test(test_document_shape),
		cmocka_unit_test(test_served_copy_is_the_file),
		cmocka_unit_test(test_every_write_has_an_example),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
