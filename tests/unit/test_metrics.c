/* test_metrics.c - the shared Prometheus counters (http-api.md 9.2). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cv.h"
#include "metrics.h"

#define HELP_REQ "# HELP converge_http_requests_total Total HTTP requests " \
	"by method, path, status.\n# TYPE converge_http_requests_total counter\n"
#define HELP_DUR "# HELP converge_http_request_duration_seconds Total " \
	"request duration by method and path.\n# TYPE " \
	"converge_http_request_duration_seconds summary\n"
#define HELP_ERR "# HELP converge_http_errors_total Total 5xx errors.\n" \
	"# TYPE converge_http_errors_total counter\n"
#define HELP_THR "# HELP converge_rate_limit_throttled_total Total " \
	"throttled requests by tenant.\n# TYPE " \
	"converge_rate_limit_throttled_total counter\n"

#define DROPPED(n) "# HELP converge_metrics_series_dropped_total Samples " \
	"not recorded because the series table was full.\n# TYPE " \
	"converge_metrics_series_dropped_total counter\n" \
	"converge_metrics_series_dropped_total " #n "\n"

struct fixture {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);

	snprintf(f->dir, sizeof f->dir, "/tmp/cv-metrics-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	rmdir(f->dir);
	free(f);
	return 0;
}

static struct cv_metrics *fresh(struct fixture *f, const char *name)
{
	struct cv_metrics *m;

	snprintf(f->path, sizeof f->path, "%s/%s.shm", f->dir, name);
	unlink(f->path);
	m = cv_metrics_open(f->path);
	assert_non_null(m);
	return m;
}

/* One observation: a request or (method NULL) a 429 of tenant `path`. */
struct obs {
	const char *method, *path;
	int status;
	double seconds;
};

static void test_exposition(void **state)
{
	struct fixture *f = *state;
	static const struct {
		struct obs obs[8];
		const char *want;
	} rows[] = {
		{ { { NULL } }, HELP_REQ HELP_DUR HELP_ERR HELP_THR
		    "converge_rate_limit_throttled_global 0\n" DROPPED(0) },
		{ { { "GET", "/api/intents", 200, 0.010345 },
		    { "GET", "/api/intents", 200, 0.002 },
		    { "GET", "/api/intents", 200, 0.0 },
		    { NULL, "tenant-A", 0, 0 }, { NULL, "tenant-A", 0, 0 },
		    { NULL, "tenant-A", 0, 0 }, { NULL } },
		    HELP_REQ "converge_http_requests_total{method=\"GET\","
		    "path=\"/api/intents\",status=\"200\"} 3\n" HELP_DUR
		    "converge_http_request_duration_seconds_sum{method=\"GET\","
		    "path=\"/api/intents\"} 0.012345\n"
		    "converge_http_request_duration_seconds_count{method=\"GET\","
		    "path=\"/api/intents\"} 3\n" HELP_ERR HELP_THR
		    "converge_rate_limit_throttled_total{tenant=\"tenant-A\"} 3\n"
		    "converge_rate_limit_throttled_global 3\n" DROPPED(0) },
		/* sorted by label tuple; 5xx counted as errors; 429s too */
		{ { { "POST", "/v1/b", 500, 0.5 }, { "GET", "unmatched", 404, 0.25 },
		    { "GET", "/v1/b", 429, 0.125 }, { "GET", "/v1/a", 200, 1 },
		    { "GET", "/v1/a", 503, 0 }, { NULL } },
		    HELP_REQ
		    "converge_http_requests_total{method=\"GET\",path=\"/v1/a\","
		    "status=\"200\"} 1\n"
		    "converge_http_requests_total{method=\"GET\",path=\"/v1/a\","
		    "status=\"503\"} 1\n"
		    "converge_http_requests_total{method=\"GET\",path=\"/v1/b\","
		    "status=\"429\"} 1\n"
		    "converge_http_requests_total{method=\"GET\",path="
		    "\"unmatched\",status=\"404\"} 1\n"
		    "converge_http_requests_total{method=\"POST\",path=\"/v1/b\","
		    "status=\"500\"} 1\n" HELP_DUR
		    "converge_http_request_duration_seconds_sum{method=\"GET\","
		    "path=\"/v1/a\"} 1.000000\n"
		    "converge_http_request_duration_seconds_count{method=\"GET\","
		    "path=\"/v1/a\"} 2\n"
		    "converge_http_request_duration_seconds_sum{method=\"GET\","
		    "path=\"/v1/b\"} 0.125000\n"
		    "converge_http_request_duration_seconds_count{method=\"GET\","
		    "path=\"/v1/b\"} 1\n"
		    "converge_http_request_duration_seconds_sum{method=\"GET\","
		    "path=\"unmatched\"} 0.250000\n"
		    "converge_http_request_duration_seconds_count{method=\"GET\","
		    "path=\"unmatched\"} 1\n"
		    "converge_http_request_duration_seconds_sum{method=\"POST\","
		    "path=\"/v1/b\"} 0.500000\n"
		    "converge_http_request_duration_seconds_count{method=\"POST\","
		    "path=\"/v1/b\"} 1\n" HELP_ERR
		    "converge_http_errors_total{method=\"GET\",path=\"/v1/a\"} 1\n"
		    "converge_http_errors_total{method=\"POST\",path=\"/v1/b\"} 1\n"
		    HELP_THR "converge_rate_limit_throttled_global 0\n" DROPPED(0) },
		/* label escaping */
		{ { { NULL, "a\"b\\c\nd", 0, 0 }, { NULL, "", 0, 0 },
		    { NULL, "_anonymous", 0, 0 }, { NULL, "key:0123abcd", 0, 0 },
		    { NULL } },
		    HELP_REQ HELP_DUR HELP_ERR HELP_THR
		    "converge_rate_limit_throttled_total{tenant=\"\"} 1\n"
		    "converge_rate_limit_throttled_total{tenant=\"_anonymous\"} 1\n"
		    "converge_rate_limit_throttled_total{tenant=\"a\\\"b\\\\c\\nd\"}"
		    " 1\n"
		    "converge_rate_limit_throttled_total{tenant=\"key:0123abcd\"} 1\n"
		    "converge_rate_limit_throttled_global 4\n" DROPPED(0) },
	};

	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		struct cv_metrics *m = fresh(f, "expo");
		for (const struct obs *o = rows[i].obs; o->path; o++) {
			if (o->method)
				cv_metrics_observe(m, o->method, o->path,
				    o->status, o->seconds);
			else
				cv_metrics_throttled(m, o->path);
		}
		char *text = cv_metrics_render(m);
		assert_non_null(text);
		if (strcmp(text, rows[i].want) != 0)
			fail_msg("row %zu:\n%s\nwant:\n%s", i, text, rows[i].want);
		free(text);
		cv_metrics_close(m);
		unlink(f->path);
	}
}

static void test_null_is_noop(void **state)
{
	char *text;

	(void)state;
	cv_metrics_observe(NULL, "GET", "/x", 200, 1);
	cv_metrics_throttled(NULL, "t");
	cv_metrics_close(NULL);
	text = cv_metrics_render(NULL);
	assert_string_equal(text, HELP_REQ HELP_DUR HELP_ERR HELP_THR
	    "converge_rate_limit_throttled_global 0\n" DROPPED(0));
	free(text);
}

/* Processes incrementing the same and new counters at once: exact sums. */
static void test_processes_sum(void **state)
{
	struct fixture *f = *state;
	static const struct { int procs, per, tenants; } rows[] = {
		{ 2, 20000, 1 }, { 4, 5000, 50 },
	};

	for (size_t i = 0; i < CV_ARRAY_LEN(rows); i++) {
		struct cv_metrics *m = fresh(f, "procs");
		pid_t pids[8];
		for (int p = 0; p < rows[i].procs; p++) {
			if ((pids[p] = fork()) == 0) {
				struct cv_metrics *cm =
				    cv_metrics_open(f->path);
				char t[32];
				for (int n = 0; n < rows[i].per; n++) {
					cv_metrics_observe(cm, "GET", "/v1/x",
					    200, 0.001);
					snprintf(t, sizeof t, "t-%d",
					    n % rows[i].tenants);
					cv_metrics_throttled(cm, t);
				}
				cv_metrics_close(cm);
				_exit(0);
			}
		}
		for (int p = 0; p < rows[i].procs; p++)
			waitpid(pids[p], NULL, 0);
		char *text = cv_metrics_render(m), want[256];
		long total = (long)rows[i].procs * rows[i].per;
		snprintf(want, sizeof want, "converge_http_requests_total{method="
		    "\"GET\",path=\"/v1/x\",status=\"200\"} %ld\n", total);
		assert_non_null(strstr(text, want));
		snprintf(want, sizeof want, "converge_http_request_duration_"
		    "seconds_sum{method=\"GET\",path=\"/v1/x\"} %.6f\n",
		    (double)total * 0.001);
		assert_non_null(strstr(text, want));
		snprintf(want, sizeof want, "converge_rate_limit_throttled_"
		    "global %ld\n", total);
		assert_non_null(strstr(text, want));
		snprintf(want, sizeof want, "converge_rate_limit_throttled_total"
		    "{tenant=\"t-0\"} %ld\n", total / rows[i].tenants);
		assert_non_null(strstr(text, want));
		/* every tenant tuple inserted exactly once */
		int lines = 0;
		for (char *p = text; (p = strstr(p, "_throttled_total{")); p++)
			lines++;
		assert_int_equal(lines, rows[i].tenants);
		free(text);
		cv_metrics_close(m);
		unlink(f->path);
	}
}

/* Label values come from closed sets: made-up methods are "other". */
static void test_method_closed_set(void **state)
{
	struct fixture *f = *state;
	struct cv_metrics *m = fresh(f, "methods");
	char method[16], *text;

	for (int i = 0; i < 300; i++) {
		snprintf(method, sizeof method, "ZZ%d", i);
		cv_metrics_observe(m, method, "/health", 405, 0.001);
	}
	cv_metrics_observe(m, "PATCH", "/health", 405, 0.001);
	cv_metrics_observe(m, NULL, "/health", 405, 0.001);
	text = cv_metrics_render(m);
	assert_null(strstr(text, "ZZ"));
	assert_non_null(strstr(text, "converge_http_requests_total{method="
	    "\"other\",path=\"/health\",status=\"405\"} 301\n"));
	assert_non_null(strstr(text, "{method=\"PATCH\""));
	assert_non_null(strstr(text, "converge_metrics_series_dropped_total 0\n"));
	free(text);
	cv_metrics_close(m);
	unlink(f->path);
}

/* A full table says so: every sample it could not record is counted. */
static void test_dropped_series_counted(void **state)
{
	struct fixture *f = *state;
	struct cv_metrics *m = fresh(f, "full");
	char label[32], *text, *p;

	/* 2 series per observation (requests, duration) */
	for (int i = 0; i < 3000; i++) {
		snprintf(label, sizeof label, "/p%d", i);
		cv_metrics_observe(m, "GET", label, 200, 0.001);
	}
	text = cv_metrics_render(m);
	p = strstr(text, "\nconverge_metrics_series_dropped_total ");
	assert_non_null(p);
	assert_true(strtoll(p + strlen("\nconverge_metrics_series_dropped_"
	    "total "), NULL, 10) >= 6000 - 4096);
	free(text);
	cv_metrics_close(m);
	unlink(f->path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_method_closed_set),
		cmocka_unit_test(test_dropped_series_counted),
		cmocka_unit_test(test_exposition),
		cmocka_unit_test(test_null_is_noop),
		cmocka_unit_test(test_processes_sum),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
