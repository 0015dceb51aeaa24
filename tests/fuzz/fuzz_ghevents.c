/*
 * fuzz_ghevents.c - the GitHub event mapping (cv_gh_plan_build: a
 * delivery's event name and JSON body to the plan of what it changes),
 * without a store.
 *
 * Input: "EVENT\nBODY". Repositories whose name has an even length count
 * as registered, so both mappings (registered or not) are reached.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "ghevents.h"

static bool registered(void *arg, const char *name)
{
	(void)arg;
	return name && strlen(name) % 2 == 0;
}

int fuzz_ghevents(const uint8_t *data, size_t n)
{
	char *f[2], *buf;
	size_t body_len = 0;
	struct cv_gh_opts o = { "tenant-fuzz", "2026-01-01T00:00:00.000000+00:00",
	    registered, NULL };
	struct cv_field_error err;
	json_t *body, *plan = NULL;

	if (fuzz_split(data, n, '\n', f, 2, &buf, &body_len) == 2 &&
	    (body = json_loadb(f[1], body_len, 0, NULL))) {
		memset(&err, 0, sizeof err);
		if (cv_gh_plan_build(f[0], body, &o, &plan, &err) == CV_OK &&
		    !plan)
			abort();   /* success always has a plan */
		json_decref(plan);
		json_decref(body);
	}
	free(buf);
	return 0;
}

CV_FUZZ_TARGET(ghevents)
