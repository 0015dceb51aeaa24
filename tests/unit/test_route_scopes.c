/*
 * test_route_scopes.c - the route tables of every family against the
 * scope rule: a route that needs a principal names a scope, a route that
 * writes names a write scope, and a key holding only read scopes can
 * reach no route that writes (a key with scopes can do only what they
 * name).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "auth.h"
#include "farm.h"

#include "families.h"

/* Every read scope of the vocabulary, held by one key. */
static const char read_only[] = "intents.read|queue.read|risk.read|"
    "agents.read|compliance.read|events.read";

static bool writes(const struct cv_route *r)
{
	return strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0;
}

static void test_authenticated_routes_name_a_scope(void **state)
{
	(void)state;
	for (size_t f = 0; f < CV_ARRAY_LEN(families); f++)
		for (size_t i = 0; i < families[f]->nroutes; i++) {
			const struct cv_route *r = &families[f]->routes[i];

			if (r->role && (!r->scope || !*r->scope))
				fail_msg("%s: %s %s has no scope",
				    families[f]->name, r->method, r->pattern);
		}
}

static void test_writing_routes_name_a_write_scope(void **state)
{
	(void)state;
	for (size_t f = 0; f < CV_ARRAY_LEN(families); f++)
		for (size_t i = 0; i < families[f]->nroutes; i++) {
			const struct cv_route *r = &families[f]->routes[i];
			size_t n;

			if (!r->role || !writes(r))
				continue;
			n = r->scope ? strlen(r->scope) : 0;
			if (n == 0 || (n >= 5 && strcmp(r->scope + n - 5,
			    ".read") == 0))
				fail_msg("%s: %s %s writes under scope %s",
				    families[f]->name, r->method, r->pattern,
				    r->scope ? r->scope : "(none)");
			if (cv_scope_allows(read_only, r->scope))
				fail_msg("%s: a read-only key may %s %s",
				    families[f]->name, r->method, r->pattern);
		}
}

/* The two routes of the review finding, by name. */
static void test_intent_writes_need_intents_write(void **state)
{
	static const char *const rows[][2] = {
		{ "POST", "/intents" },
		{ "POST", "/intents/{id}/validate" },
	};

	(void)state;
	for (size_t k = 0; k < CV_ARRAY_LEN(rows); k++) {
		const struct cv_route *hit = NULL;

		for (size_t i = 0; i < cv_family_intents.nroutes; i++) {
			const struct cv_route *r = &cv_family_intents.routes[i];

			if (strcmp(r->method, rows[k][0]) == 0 &&
			    strcmp(r->pattern, rows[k][1]) == 0)
				hit = r;
		}
		assert_non_null(hit);
		assert_non_null(hit->scope);
		assert_string_equal(hit->scope, "intents.write");
		assert_false(cv_scope_allows("intents.read", hit->scope));
		assert_true(cv_scope_allows("intents.write", hit->scope));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_authenticated_routes_name_a_scope),
		cmocka_unit_test(test_writing_routes_name_a_write_scope),
		cmocka_unit_test(test_intent_writes_need_intents_write),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
