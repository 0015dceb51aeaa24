/* test_breaker.c - circuit breaker transitions (domain.md Appendix A).
 * Each row is a script: one letter per step at the given time, and the
 * state read after it. S = success, F = failure, R = read, X = reset. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "breaker.h"

#define C CV_BREAKER_CLOSED
#define O CV_BREAKER_OPEN
#define H CV_BREAKER_HALF_OPEN

struct step {
	char op;
	double t;
	enum cv_breaker_state want;
};

struct script {
	const char *name;
	struct step steps[12];     /* ends at op 0 */
};

static const struct script scripts[] = {
	{ "4 failures stay closed", {
		{ 'F', 0, C }, { 'F', 1, C }, { 'F', 2, C }, { 'F', 3, C }, { 0, 0, C } } },
	{ "5 failures open", {
		{ 'F', 0, C }, { 'F', 1, C }, { 'F', 2, C }, { 'F', 3, C }, { 'F', 4, O },
		{ 'R', 33.9, O }, { 0, 0, C } } },
	{ "success in closed resets the count", {
		{ 'F', 0, C }, { 'F', 0, C }, { 'F', 0, C }, { 'F', 0, C }, { 'S', 0, C },
		{ 'F', 0, C }, { 'F', 0, C }, { 'F', 0, C }, { 'F', 0, C }, { 'F', 0, O },
		{ 0, 0, C } } },
	{ "30 s after the last failure: half open", {
		{ 'F', 0, C }, { 'F', 0, C }, { 'F', 0, C }, { 'F', 0, C }, { 'F', 10, O },
		{ 'R', 39.99, O }, { 'R', 40, H }, { 0, 0, C } } },
	{ "two successes in half open close", {
		{ 'F', 0, C }, { 'F', 0, C }, { 'F', 0, C }, { 'F', 0, C }, { 'F', 0, O },
		{ 'R', 30, H }, { 'S', 30, H }, { 'S', 31, C }, { 'F', 32, C }, { 0, 0, C } } },
	{ "a failure in half open reopens", {
		{ 'F', 0, C }, { 'F', 0, C }, { 'F', 0, C }, { 'F', 0, C }, { 'F', 0, O },
		{ 'R', 30, H }, { 'S', 30, H }, { 'F', 31, O }, { 'R', 60, O }, { 'R', 61, H },
		{ 0, 0, C } } },
	{ "reset closes", {
		{ 'F', 0, C }, { 'F', 0, C }, { 'F', 0, C }, { 'F', 0, C }, { 'F', 0, O },
		{ 'X', 1, C }, { 'F', 2, C }, { 0, 0, C } } },
};

static void test_breaker_scripts(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof scripts / sizeof scripts[0]; i++) {
		struct cv_breaker b;

		cv_breaker_init(&b, "github");
		for (const struct step *s = scripts[i].steps; s->op; s++) {
			switch (s->op) {
			case 'S': cv_breaker_record_success(&b); break;
			case 'F': cv_breaker_record_failure(&b, s->t); break;
			case 'X': cv_breaker_reset(&b); break;
			default: break;
			}
			enum cv_breaker_state got = cv_breaker_state(&b, s->t);
			if (got != s->want)
				fail_msg("%s, step %td: %s, want %s",
				    scripts[i].name, s - scripts[i].steps,
				    cv_breaker_state_name(got),
				    cv_breaker_state_name(s->want));
			assert_int_equal(cv_breaker_allow(&b, s->t), got != O);
		}
	}
}

static void test_breaker_message(void **state)
{
	struct cv_breaker b;
	char msg[80];

	(void)state;
	cv_breaker_init(&b, "github");
	cv_breaker_open_message(&b, msg, sizeof msg);
	assert_string_equal(msg, "Circuit breaker 'github' is open");
	assert_string_equal(cv_breaker_state_name(H), "half_open");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_breaker_scripts),
		cmocka_unit_test(test_breaker_message),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
