/*
 * test_fuzz_regress.c - every saved fuzz input, replayed without clang.
 *
 * tests/fuzz/regress/NAME/ holds inputs that once crashed harness NAME
 * (kept after the fix); tests/fuzz/seeds/NAME/ the hand-written seeds of
 * its corpus. Each file goes through the harness as a plain function; a
 * crash, sanitizer report or leak (valgrind, ASan) fails the test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

struct harness {
	const char *name;
	int (*run)(const uint8_t *, size_t);
};

static const struct harness harnesses[] = {
	{ "http", fuzz_http }, { "request", fuzz_request },
	{ "signature", fuzz_signature }, { "jwt", fuzz_jwt },
	{ "config", fuzz_config }, { "cli_args", fuzz_cli_args },
	{ "ghevents", fuzz_ghevents }, { "intent_check", fuzz_intent_check },
	{ "html", fuzz_html },
};

static unsigned char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long size;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	rewind(f);
	buf = malloc((size_t)size + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	*n = (size_t)size;
	return buf;
}

/* Runs every file of DIR/NAME through the harness; returns how many. */
static int replay_dir(const char *dir, const struct harness *h)
{
	char path[4096];
	struct dirent *e;
	DIR *d;
	int count = 0;

	snprintf(path, sizeof path, "%s/tests/fuzz/%s/%s", CV_SRCDIR, dir,
	    h->name);
	if (!(d = opendir(path)))
		return 0;
	while ((e = readdir(d))) {
		size_t n;
		unsigned char *data;
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/tests/fuzz/%s/%s/%s", CV_SRCDIR,
		    dir, h->name, e->d_name);
		data = slurp(path, &n);
		h->run(data, n);
		free(data);
		count++;
	}
	closedir(d);
	return count;
}

static void test_replay(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof harnesses / sizeof harnesses[0]; i++) {
		int seeds = replay_dir("seeds", &harnesses[i]);
		replay_dir("regress", &harnesses[i]);
		if (seeds == 0)
			fail_msg("harness %s has no seeds", harnesses[i].name);
	}
}

/* Inputs no corpus would hold: empty, one byte, all separators. */
static void test_degenerate(void **state)
{
	static const char *const inputs[] = { "", "\n", "\n\n\n\n", "r",
	    "intents", "intents GET", "webhooks POST /integrations/github/webhook" };

	(void)state;
	for (size_t i = 0; i < sizeof harnesses / sizeof harnesses[0]; i++)
		for (size_t k = 0; k < sizeof inputs / sizeof inputs[0]; k++)
			harnesses[i].run((const uint8_t *)inputs[k],
			    strlen(inputs[k]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replay),
		cmocka_unit_test(test_degenerate),
	};

	return cmocka_run_group_tests_name("fuzz_regress", tests, NULL, NULL);
}
