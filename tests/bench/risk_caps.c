/*
 * risk_caps.c - the in-process cost of the risk graph for an intent at
 * every request cap (scripts/bench/caps runs it): cv_risk_evaluate on
 * 100 dependencies of 255 characters and 200 scope hints of 1,024
 * characters, against simulations changing F files in one directory, with
 * coupling records touching them. Prints one line per case, CPU
 * milliseconds of the slowest of RUNS evaluations, and the worst case
 * last.
 *
 * usage: risk_caps [RUNS] [MAX_FILES]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "intent_check.h"
#include "risk.h"

/* CPU time of this process: the cost of the work itself, whatever else
 * the machine runs meanwhile. */
static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* prefix, then 'x' up to len characters. */
static json_t *padded(const char *prefix, size_t i, size_t len)
{
	char *s = malloc(len + 1);
	int n = snprintf(s, len + 1, "%s%zu-", prefix, i);
	json_t *j;

	memset(s + n, 'x', len - (size_t)n);
	s[len] = '\0';
	j = json_string(s);
	free(s);
	return j;
}

static json_t *intent_at_caps(size_t ndeps, size_t nscopes)
{
	json_t *deps = json_array(), *scopes = json_array();

	for (size_t i = 0; i < ndeps; i++)
		json_array_append_new(deps, padded("dep-", i, CV_INTENT_ID_MAX));
	for (size_t i = 0; i < nscopes; i++)
		json_array_append_new(scopes, padded("src/f", i, 1024));
	return json_pack("{s:s,s:s,s:s,s:s,s:o,s:{s:o},s:n}", "id",
	    "bench-caps", "source", "feature/wide", "target", "main",
	    "risk_level", "critical", "dependencies", deps, "technical",
	    "scope_hint", scopes, "tenant_id");
}

static json_t *simulation(size_t nfiles, json_t **coupling)
{
	json_t *files = json_array();
	char name[64], other[64];

	*coupling = json_array();
	for (size_t i = 0; i < nfiles; i++) {
		snprintf(name, sizeof name, "src/f%zu.c", i);
		json_array_append_new(files, json_string(name));
		snprintf(other, sizeof other, "lib/g%zu.c", i);
		json_array_append_new(*coupling, json_pack("{s:s,s:s,s:i}",
		    "file_a", name, "file_b", other, "co_changes", 3));
	}
	return json_pack("{s:b,s:[],s:o}", "mergeable", 1, "conflicts",
	    "files_changed", files);
}

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 10;
	size_t max_files = argc > 2 ? (size_t)atol(argv[2]) : 200;
	static const size_t caps[][2] = { { 0, 0 }, { 100, 0 }, { 0, 200 },
	    { 100, 200 } };
	double worst = 0;

	static const size_t file_counts[] = { 10, 50, 100, 200, 500, 1000,
	    2000 };

	for (size_t f = 0; f < sizeof file_counts / sizeof file_counts[0] &&
	    file_counts[f] <= max_files; f++)
		for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
			json_t *intent = intent_at_caps(caps[c][0], caps[c][1]);
			size_t files = file_counts[f];
			json_t *coupling, *sim = simulation(files, &coupling);
			double max = 0;

			for (int r = 0; r < runs; r++) {
				double t0 = now_ms();
				json_t *risk = cv_risk_evaluate(intent, sim,
				    coupling, "2026-01-01T00:00:00+00:00");

				if (!risk)
					return 1;
				json_decref(risk);
				if (now_ms() - t0 > max)
					max = now_ms() - t0;
			}
			printf("risk graph: deps %3zu  scope hints %3zu  files "
			    "%4zu  max %8.2f ms\n", caps[c][0], caps[c][1],
			    files, max);
			if (max > worst)
				worst = max;
			json_decref(intent);
			json_decref(sim);
			json_decref(coupling);
		}
	printf("risk graph worst case: %.2f ms (target < 50 ms)\n", worst);
	return 0;
}
