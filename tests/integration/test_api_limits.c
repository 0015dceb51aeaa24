/*
 * test_api_limits.c - the limits of the API through the real farm:
 *   - rate limiting shared by every process (http-api.md §4, D-2): RPM+10
 *     requests of one principal over concurrent connections to a family
 *     of 4 processes give exactly RPM successes and 10 429s with the
 *     envelope and Retry-After; buckets per principal (a header cannot
 *     move a caller to another); exempt paths never throttled; the 429s
 *     and every other response counted in /metrics, summed over all
 *     processes (§9.2, D13);
 *   - with PostgreSQL, two farms on one database share the budget the
 *     same way: RPM successes in all, whichever farm answers;
 *   - lists in pages (Link rel="next"), summaries with ETag and 304;
 *   - a corpus of bad input: each gets a 4xx JSON envelope (never a 5xx),
 *     writes nothing (the non-access events are the same before and
 *     after), and the next normal request is served.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "api_util.h"

#define RPM 20
#define ADMIN "k-admin"
#define OP "k-op"
#define R1 "k-r1-team-x"
#define R2 "k-r2-team-y"
#define R3 "k-r3-team-x"
#define LIMIT_MSG "Rate limit exceeded (20 requests/min)"

/* ---- concurrent clients ------------------------------------------------------ */

/* Outcome letters a client reports per request. */
#define OK_200 'A'
#define OK_429 'T'	/* 429 with the exact envelope and a Retry-After */
#define OTHER 'X'

static char classify(const struct http_resp *r)
{
	char *retry;
	int ok;

	if (r->status == 200)
		return OK_200;
	if (r->status != 429)
		return OTHER;
	retry = http_resp_header(r, "Retry-After");
	ok = retry && atoi(retry) >= 1 && atoi(retry) <= 60 && r->json &&
	    has_content_type(r, "application/json") &&
	    json_object_size(r->json) == 1 &&
	    strcmp(error_of(r), LIMIT_MSG) == 0;
	free(retry);
	return ok ? OK_429 : OTHER;
}

/*
 * Sends `total` GETs of path with the extra header hdr (NULL: none) from
 * `clients` forked processes at once, each with its own connections, so
 * several responder processes answer.  counts[] = {200s, valid 429s,
 * anything else}.
 */
static void burst(const char *path, const char *hdr, int clients, int total,
    int counts[3])
{
	const char *hdrs[] = { hdr, NULL };
	pid_t kids[64];
	int fds[2];
	char c;

	memset(counts, 0, 3 * sizeof counts[0]);
	assert_int_equal(pipe(fds), 0);
	fflush(NULL);
	for (int i = 0; i < clients; i++) {
		pid_t pid = fork();

		assert_true(pid >= 0 && i < 64);
		if (pid != 0) {
			kids[i] = pid;
			continue;
		}
		close(fds[0]);
		for (int n = i; n < total; n += clients) {
			struct http_resp r;
			char out = OTHER;

			if (http_request("GET", path, hdrs, NULL, 0, &r) == 0)
				out = classify(&r);
			http_resp_free(&r);
			if (write(fds[1], &out, 1) != 1)
				_exit(1);
		}
		_exit(0);
	}
	close(fds[1]);
	while (read(fds[0], &c, 1) == 1)
		counts[c == OK_200 ? 0 : c == OK_429 ? 1 : 2]++;
	close(fds[0]);
	/* only ours: the harness's guard is a child of this process too */
	for (int i = 0; i < clients; i++)
		waitpid(kids[i], NULL, 0);
}

static void burst_expect(const char *path, const char *hdr, int clients,
    int total, int ok, int throttled)
{
	int counts[3];

	print_message("%d x GET %s (%s) from %d clients\n", total, path,
	    hdr ? hdr : "no header", clients);
	burst(path, hdr, clients, total, counts);
	if (counts[0] != ok || counts[1] != throttled || counts[2] != 0)
		fail_msg("GET %s: %d ok, %d throttled, %d other; want %d, %d, 0",
		    path, counts[0], counts[1], counts[2], ok, throttled);
}

static double metric(const char *prefix, const char *also)
{
	char *text = metrics_text();
	double v = metric_sum(text, prefix, also);

	free(text);
	return v;
}

/*
 * RPM+10 requests of one principal to the intents family (4 processes)
 * from 6 concurrent clients: exactly RPM pass.  Then the same principal
 * is refused everywhere (other families, another X-Tenant-Id header),
 * another principal is not, unauthenticated callers have their own
 * bucket, and exempt paths always pass.
 */
static void test_rate_limit_shared(void **state)
{
	static const char *const exempt[] = { "/health", "/health/ready",
	    "/health/live", "/metrics", "/healthz" };
	double g0 = metric("converge_rate_limit_throttled_global", NULL);
	double s0 = metric("converge_http_requests_total", "status=\"429\"");
	char *text;

	(void)state;
	burst_expect("/v1/intents", "X-API-Key: " R1, 6, RPM + 10, RPM, 10);
	/* the bucket is the principal, wherever it goes and whatever it says */
	burst_expect("/v1/queue/state", "X-API-Key: " R1, 2, 4, 0, 4);
	burst_expect("/api/events", "X-API-Key: " R1, 2, 2, 0, 2);
	{
		const char *hdrs[] = { "X-API-Key: " R1, "X-Tenant-Id: elsewhere",
		    NULL };
		struct http_resp r;

		assert_int_equal(http_request("GET", "/v1/intents", hdrs, NULL, 0,
		    &r), 0);
		assert_int_equal(r.status, 429);
		http_resp_free(&r);
	}
	/* same tenant, another actor: its own budget */
	burst_expect("/v1/intents", "X-API-Key: " R3, 3, 5, 5, 0);
	/* exempt paths are never throttled, for the throttled caller too */
	for (int i = 0; i < 3 * RPM; i++) {
		const char *hdrs[] = { "X-API-Key: " R1, NULL };
		struct http_resp r;

		assert_int_equal(http_request("GET", exempt[i % ARRAY_LEN(exempt)],
		    hdrs, NULL, 0, &r), 0);
		assert_int_not_equal(r.status, 429);
		http_resp_free(&r);
	}
	/* 429s are counted: per bucket (the principal's tenant), globally,
	 * and as responses; no key material in the labels */
	text = metrics_text();
	assert_true(metric_sum(text, "converge_rate_limit_throttled_total",
	    "tenant=\"team-x\"") == 17);
	assert_true(metric_sum(text, "converge_rate_limit_throttled_global",
	    NULL) - g0 == 17);
	assert_true(metric_sum(text, "converge_http_requests_total",
	    "status=\"429\"") - s0 == 17);
	assert_null(strstr(text, "k-r1"));
	free(text);
}

/* Unauthenticated requests consume budget too (the limiter runs before
 * authentication, §1.1): RPM 401s, then 429s. */
static void test_rate_limit_anonymous(void **state)
{
	int counts[3];

	(void)state;
	burst("/v1/summary", NULL, 3, RPM + 5, counts);
	assert_int_equal(counts[1], 5);
	assert_int_equal(counts[0] + counts[2], RPM);	/* the 401s */
	assert_int_equal(api_status("GET", "/v1/summary", R2, NULL), 200);
}

/* One scrape shows the traffic of every process: N requests spread over
 * the processes of two families count N exactly. */
static void test_metrics_aggregated(void **state)
{
	const char *ok = "converge_http_requests_total{method=\"GET\","
	    "path=\"/v1/intents\",status=\"200\"}";
	const char *q = "converge_http_requests_total{method=\"GET\","
	    "path=\"/api/queue/summary\",status=\"200\"}";
	const char *dur = "converge_http_request_duration_seconds_count{"
	    "method=\"GET\",path=\"/api/queue/summary\"}";
	const char *nf = "converge_http_requests_total{method=\"GET\","
	    "path=\"unmatched\",status=\"404\"}";
	double q0 = metric(q, NULL), d0 = metric(dur, NULL), n0 = metric(nf, NULL);

	(void)state;
	/* R1 got RPM 200s on /v1/intents and R3 5 (test_rate_limit_shared) */
	assert_true(metric(ok, NULL) == RPM + 5);
	burst_expect("/api/queue/summary", "X-API-Key: " R2, 4, 15, 15, 0);
	assert_true(metric(q, NULL) - q0 == 15);
	assert_true(metric(dur, NULL) - d0 == 15);
	for (int i = 0; i < 3; i++)
		assert_int_equal(api_status("GET", "/no/such/thing", R3, NULL),
		    404);
	assert_true(metric(nf, NULL) - n0 == 3);
}

/* ---- bad input ------------------------------------------------------------ */

enum gen {
	G_NONE,
	G_BIG_BODY,	/* 1 MiB + 1 of JSON */
	G_LONG_ID_BODY,	/* a 10 KB id in the body */
	G_LONG_ID_PATH,	/* a 10 KB id in the path */
	G_LONG_QUERY,	/* a 100 KB query string */
	G_LONG_HEADER,	/* a 16 KB header value */
	G_LONG_KEY,	/* a 16 KB X-API-Key */
	G_DEEP,		/* JSON nested 100 000 deep */
	G_RAW_NUL,	/* a raw NUL byte inside the JSON text */
};

struct bad_row {
	const char *what;
	const char *method;
	const char *path;
	const char *key;
	const char *body;
	enum gen gen;
	long status;		/* exact, or 0: any 4xx */
};

static const struct bad_row bad[] = {
	{ "malformed", "POST", "/v1/intents", OP, "{bad", G_NONE, 400 },
	{ "truncated", "POST", "/v1/intents", OP, "{\"source\":\"x\"", G_NONE,
	  400 },
	{ "trailing garbage", "POST", "/v1/intents", OP,
	  "{\"source\":\"x\"} trailing", G_NONE, 400 },
	{ "array body", "POST", "/v1/intents", OP, "[]", G_NONE, 400 },
	{ "string body", "POST", "/v1/intents", OP, "\"source\"", G_NONE, 400 },
	{ "null body", "POST", "/v1/intents", OP, "null", G_NONE, 400 },
	{ "empty body", "POST", "/v1/intents", OP, "", G_NONE, 400 },
	{ "source number", "POST", "/v1/intents", OP, "{\"source\":123}",
	  G_NONE, 400 },
	{ "source missing", "POST", "/v1/intents", OP, "{\"target\":\"main\"}",
	  G_NONE, 400 },
	{ "priority fraction", "POST", "/v1/intents", OP,
	  "{\"source\":\"x\",\"priority\":1.5}", G_NONE, 400 },
	{ "priority word", "POST", "/v1/intents", OP,
	  "{\"source\":\"x\",\"priority\":\"abc\"}", G_NONE, 400 },
	{ "priority huge", "POST", "/v1/intents", OP,
	  "{\"source\":\"x\",\"priority\":1e300}", G_NONE, 400 },
	{ "priority overflow", "POST", "/v1/intents", OP,
	  "{\"source\":\"x\",\"priority\":99999999999999999999999}", G_NONE, 400 },
	{ "status unknown", "POST", "/v1/intents", OP,
	  "{\"source\":\"x\",\"status\":\"DONE\"}", G_NONE, 400 },
	{ "risk_level unknown", "POST", "/v1/intents", OP,
	  "{\"source\":\"x\",\"risk_level\":\"extreme\"}", G_NONE, 400 },
	{ "checks not a list", "POST", "/v1/intents", OP,
	  "{\"source\":\"x\",\"checks_required\":\"lint\"}", G_NONE, 400 },
	{ "checks of numbers", "POST", "/v1/intents", OP,
	  "{\"source\":\"x\",\"checks_required\":[1,2]}", G_NONE, 400 },
	{ "semantic a list", "POST", "/v1/intents", OP,
	  "{\"source\":\"x\",\"semantic\":[1]}", G_NONE, 400 },
	{ "lone surrogate", "POST", "/v1/intents", OP,
	  "{\"source\":\"\\ud800\"}", G_NONE, 400 },
	{ "lone low surrogate", "POST", "/v1/intents", OP,
	  "{\"source\":\"a\\udc00b\"}", G_NONE, 400 },
	{ "overlong UTF-8", "POST", "/v1/intents", OP,
	  "{\"source\":\"\xc0\xaf\"}", G_NONE, 400 },
	{ "invalid UTF-8", "POST", "/v1/intents", OP,
	  "{\"source\":\"\xff\xfe\"}", G_NONE, 400 },
	{ "NUL escape", "POST", "/v1/intents", OP,
	  "{\"source\":\"a\\u0000b\"}", G_NONE, 400 },
	{ "raw NUL", "POST", "/v1/intents", OP, NULL, G_RAW_NUL, 400 },
	{ "deep nesting", "POST", "/v1/intents", OP, NULL, G_DEEP, 0 },
	{ "1 MiB + 1", "POST", "/v1/intents", OP, NULL, G_BIG_BODY, 413 },
	{ "1 MiB + 1, no key", "POST", "/v1/risk/policy", NULL, NULL,
	  G_BIG_BODY, 413 },
	{ "10 KB id", "POST", "/v1/intents", OP, NULL, G_LONG_ID_BODY, 400 },
	{ "10 KB id in path", "GET", NULL, OP, NULL, G_LONG_ID_PATH, 0 },
	{ "100 KB query", "GET", "/v1/intents?status=", OP, NULL, G_LONG_QUERY,
	  0 },
	{ "%zz in limit", "GET", "/v1/events?limit=%zz", ADMIN, NULL, G_NONE,
	  400 },
	{ "%zz in type", "GET", "/v1/events?type=%zz", ADMIN, NULL, G_NONE, 400 },
	{ "truncated escape", "GET", "/v1/intents?status=%4", OP, NULL, G_NONE,
	  400 },
	{ "non-UTF-8 query", "GET", "/v1/events?since=%ff%fe", ADMIN, NULL,
	  G_NONE, 400 },
	{ "NUL in query", "GET", "/v1/intents/x%00y", OP, NULL, G_NONE, 0 },
	{ "16 KB header", "GET", "/v1/intents", OP, NULL, G_LONG_HEADER, 0 },
	{ "16 KB key", "GET", "/v1/intents", NULL, NULL, G_LONG_KEY, 0 },
	{ "risk policy NaN", "POST", "/v1/risk/policy", OP,
	  "{\"tenant_id\":\"t\",\"max_risk_score\":\"NaN\"}", G_NONE, 400 },
	{ "risk policy NaN literal", "POST", "/v1/risk/policy", OP,
	  "{\"tenant_id\":\"t\",\"max_risk_score\":NaN}", G_NONE, 400 },
	{ "risk policy tenant number", "POST", "/v1/risk/policy", OP,
	  "{\"tenant_id\":123}", G_NONE, 400 },
	{ "agent atl negative", "POST", "/v1/agent/policy", OP,
	  "{\"agent_id\":\"a\",\"atl\":-1}", G_NONE, 400 },
	{ "agent actions a string", "POST", "/v1/agent/policy", OP,
	  "{\"agent_id\":\"a\",\"allow_actions\":\"merge\"}", G_NONE, 400 },
	{ "agent bool a word", "POST", "/v1/agent/policy", OP,
	  "{\"agent_id\":\"a\",\"require_human_approval\":\"yes\"}", G_NONE, 400 },
	{ "agent id empty", "POST", "/v1/agent/policy", OP,
	  "{\"agent_id\":\"\"}", G_NONE, 400 },
	{ "agent overrides a list", "POST", "/v1/agent/policy", OP,
	  "{\"agent_id\":\"a\",\"action_overrides\":[]}", G_NONE, 400 },
	{ "authorize approvals word", "POST", "/v1/agent/authorize", ADMIN,
	  "{\"agent_id\":\"a\",\"action\":\"m\",\"intent_id\":\"i\","
	  "\"human_approvals\":\"two\"}", G_NONE, 400 },
	{ "authorize action empty", "POST", "/v1/agent/authorize", ADMIN,
	  "{\"agent_id\":\"a\",\"action\":\"\",\"intent_id\":\"i\"}", G_NONE, 400 },
	{ "thresholds rate a word", "POST", "/v1/compliance/thresholds", OP,
	  "{\"tenant_id\":\"t\",\"mergeable_rate\":\"high\"}", G_NONE, 400 },
	{ "rotate grace huge", "POST", "/v1/auth/keys/rotate", ADMIN,
	  "{\"grace_period_seconds\":1000000000}", G_NONE, 400 },
	{ "rotate grace negative", "POST", "/v1/auth/keys/rotate", ADMIN,
	  "{\"grace_period_seconds\":-1}", G_NONE, 400 },
	{ "rotate grace fraction", "POST", "/v1/auth/keys/rotate", ADMIN,
	  "{\"grace_period_seconds\":90.5}", G_NONE, 400 },
	{ "validate flag a word", "POST", "/v1/intents/seed-1/validate", OP,
	  "{\"use_last_simulation\":\"maybe\"}", G_NONE, 400 },
	{ "validate body a list", "POST", "/v1/intents/seed-1/validate", OP,
	  "[true]", G_NONE, 400 },
};

/* Fills body/path/header for a generated row; returns the body length. */
static size_t generate(const struct bad_row *row, char **body, char **path,
    char **header)
{
	size_t n = 0;

	*body = row->body ? strdup(row->body) : NULL;
	*path = row->path ? strdup(row->path) : NULL;
	*header = NULL;
	switch (row->gen) {
	case G_NONE:
		break;
	case G_BIG_BODY:
		n = 1024 * 1024 + 1;
		*body = malloc(n + 1);
		memset(*body, ' ', n);
		memcpy(*body, "{\"source\":\"x\"}", 14);
		(*body)[n] = '\0';
		return n;
	case G_LONG_ID_BODY:
		*body = malloc(10 * 1024 + 64);
		strcpy(*body, "{\"source\":\"x\",\"id\":\"");
		n = strlen(*body);
		memset(*body + n, 'i', 10 * 1024);
		strcpy(*body + n + 10 * 1024, "\"}");
		break;
	case G_LONG_ID_PATH:
		*path = malloc(10 * 1024 + 32);
		strcpy(*path, "/v1/intents/");
		n = strlen(*path);
		memset(*path + n, 'i', 10 * 1024);
		(*path)[n + 10 * 1024] = '\0';
		break;
	case G_LONG_QUERY:
		n = strlen(*path);
		*path = realloc(*path, n + 100 * 1024 + 1);
		memset(*path + n, 'q', 100 * 1024);
		(*path)[n + 100 * 1024] = '\0';
		break;
	case G_LONG_HEADER:
	case G_LONG_KEY:
		*header = malloc(16 * 1024 + 32);
		strcpy(*header, row->gen == G_LONG_KEY ? "X-API-Key: " :
		    "X-Trace-Id: ");
		n = strlen(*header);
		memset(*header + n, 'h', 16 * 1024);
		(*header)[n + 16 * 1024] = '\0';
		break;
	case G_DEEP:
		n = 100000;
		*body = malloc(2 * n + 1);
		memset(*body, '[', n);
		memset(*body + n, ']', n);
		(*body)[2 * n] = '\0';
		return 2 * n;
	case G_RAW_NUL:
		*body = malloc(32);
		memcpy(*body, "{\"source\":\"a\0b\"}", 17);
		return 16;
	}
	return *body ? strlen(*body) : 0;
}

static void send_bad(const struct bad_row *row, struct http_resp *r)
{
	char keyh[128], *body, *path, *header;
	const char *hdrs[4];
	size_t n = 0, len = generate(row, &body, &path, &header);

	if (row->key) {
		snprintf(keyh, sizeof keyh, "X-API-Key: %s", row->key);
		hdrs[n++] = keyh;
	}
	if (body)
		hdrs[n++] = "Content-Type: application/json";
	if (header)
		hdrs[n++] = header;
	hdrs[n] = NULL;
	if (http_request(row->method, path, hdrs, body, len, r) != 0)
		fail_msg("%s: no response", row->what);
	free(body);
	free(path);
	free(header);
}

static void test_bad_input(void **state)
{
	size_t events = count_non_access_events(ADMIN);
	json_t *intents = get_json("/v1/intents", ADMIN), *now;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		const struct bad_row *row = &bad[i];
		struct http_resp r;
		size_t after;

		print_message("%s: %s %s\n", row->what, row->method,
		    row->path ? row->path : "(generated)");
		send_bad(row, &r);
		if (row->status ? r.status != row->status :
		    (r.status < 400 || r.status > 499))
			fail_msg("%s: status %ld: %.200s", row->what, r.status,
			    r.body);
		if (!has_content_type(&r, "application/json") || !r.json ||
		    !json_is_string(json_object_get(r.json, "error")))
			fail_msg("%s: %ld without a JSON error envelope: %.200s",
			    row->what, r.status, r.body);
		http_resp_free(&r);
		after = count_non_access_events(ADMIN);
		if (after != events)
			fail_msg("%s: %zu events before, %zu after", row->what,
			    events, after);
		/* the farm still serves normal requests */
		assert_int_equal(api_status("GET", "/health", NULL, NULL), 200);
		assert_int_equal(api_status("GET", "/v1/queue/summary", OP, NULL),
		    200);
	}
	now = get_json("/v1/intents", ADMIN);
	assert_true(json_equal(intents, now));
	json_decref(intents);
	json_decref(now);
}

/* ---- the two farms ------------------------------------------------------------ */

#define KEYS ADMIN ":admin:root," OP ":operator:op1," R1 ":viewer:r1:team-x," \
	R2 ":viewer:r2:team-y," R3 ":viewer:r3:team-x"

static int limited_farm(void **state)
{
	const char *env[] = { "CONVERGE_AUTH_REQUIRED=1",
	    "CONVERGE_API_KEYS=" KEYS, "CONVERGE_RATE_LIMIT_ENABLED=1",
	    "CONVERGE_RATE_LIMIT_RPM=20", "CONVERGE_FCGI_PROCESSES_INTENTS=4",
	    "CONVERGE_FCGI_PROCESSES_QUEUE=2", "CONVERGE_FCGI_PROCESSES_EVENTS=2",
	    NULL };

	(void)state;
	return farm_start(env) == 0 ? 0 : -1;
}

/* The corpus runs with a limit no test reaches: the limiter stays in the
 * path of every request. */
static int corpus_farm(void **state)
{
	const char *env[] = { "CONVERGE_AUTH_REQUIRED=1",
	    "CONVERGE_API_KEYS=" KEYS, "CONVERGE_RATE_LIMIT_ENABLED=1",
	    "CONVERGE_RATE_LIMIT_RPM=1000000",
	    "CONVERGE_WORKER_POLL_INTERVAL=3600", NULL };

	(void)state;
	if (farm_stop() != 0 || farm_start(env) != 0)
		return -1;
	if (api_status("POST", "/v1/intents", OP,
	    "{\"id\":\"seed-1\",\"source\":\"feature/x\"}") != 200)
		return -1;
	return 0;
}

/* ---- large answers: pages and ETags ---------------------------------------- */

/* Follows the Links from first (each must start with prefix) and checks
 * that the pages hold the list whole_path answers, in its order, each
 * row once. Returns the number of pages. */
static int follow_pages(const char *whole_path, const char *first,
    const char *prefix)
{
	struct http_resp r, all;
	char path[1024], *link;
	size_t seen = 0;
	int pages = 0;

	api_call("GET", whole_path, ADMIN, NULL, &all);
	assert_int_equal(all.status, 200);
	snprintf(path, sizeof path, "%s", first);
	for (; pages < 100; pages++) {
		api_call("GET", path, ADMIN, NULL, &r);
		assert_int_equal(r.status, 200);
		for (size_t i = 0; i < json_array_size(r.json); i++)
			assert_string_equal(json_string_value(json_object_get(
			    json_array_get(r.json, i), "id")),
			    json_string_value(json_object_get(json_array_get(
			    all.json, seen + i), "id")));
		seen += json_array_size(r.json);
		link = http_resp_header(&r, "Link");
		http_resp_free(&r);
		if (!link)
			break;
		assert_int_equal(strncmp(link + 1, prefix, strlen(prefix)), 0);
		snprintf(path, sizeof path, "%.*s",
		    (int)(strchr(link, '>') - link - 1), link + 1);
		free(link);
	}
	assert_int_equal(seen, json_array_size(all.json));
	http_resp_free(&all);
	return pages + 1;
}

/*
 * GET /v1/intents in pages of 2: following Link rel="next" visits every
 * intent once, in the order of the unpaged list; a bad cursor is a 400;
 * /api/events likewise.
 * GET /v1/summary carries an ETag; If-None-Match answers 304, from any
 * responder process, until an intent changes.
 */
static void test_pages_and_etags(void **state)
{
	struct http_resp r, all;
	char path[1024], *link, *etag, inm[256];
	size_t seen = 0;

	(void)state;
	for (int i = 0; i < 5; i++) {
		char body[128];
		snprintf(body, sizeof body, "{\"id\":\"page-%d\",\"source\":"
		    "\"feature/p%d\",\"priority\":%d}", i, i, i % 2);
		assert_int_equal(api_status("POST", "/v1/intents", OP, body),
		    200);
	}
	api_call("GET", "/v1/intents", ADMIN, NULL, &all);
	assert_int_equal(all.status, 200);
	assert_null(http_resp_header(&all, "Link"));
	snprintf(path, sizeof path, "/v1/intents?limit=2");
	for (int pages = 0; pages < 10; pages++) {
		api_call("GET", path, ADMIN, NULL, &r);
		assert_int_equal(r.status, 200);
		for (size_t i = 0; i < json_array_size(r.json); i++)
			assert_string_equal(json_string_value(json_object_get(
			    json_array_get(r.json, i), "id")),
			    json_string_value(json_object_get(json_array_get(
			    all.json, seen + i), "id")));
		seen += json_array_size(r.json);
		link = http_resp_header(&r, "Link");
		http_resp_free(&r);
		if (!link)
			break;
		assert_non_null(strstr(link, ">; rel=\"next\""));
		assert_int_equal(link[0], '<');
		snprintf(path, sizeof path, "%.*s",
		    (int)(strchr(link, '>') - link - 1), link + 1);
		free(link);
	}
	assert_int_equal(seen, json_array_size(all.json));
	assert_true(seen >= 6);
	http_resp_free(&all);
	/* an event list, through the legacy prefix: the Link keeps it */
	assert_true(follow_pages("/api/events?type=intent.created",
	    "/api/events?type=intent.created&limit=2", "/api/events?") >= 3);
	assert_int_equal(api_status("GET", "/v1/intents?after=not*a*cursor",
	    ADMIN, NULL), 400);
	assert_int_equal(api_status("GET", "/v1/intents?after=YQ", ADMIN,
	    NULL), 400);

	api_call("GET", "/v1/summary", ADMIN, NULL, &r);
	assert_int_equal(r.status, 200);
	etag = http_resp_header(&r, "ETag");
	assert_non_null(etag);
	assert_non_null(json_object_get(json_object_get(r.json, "queue"),
	    "pending_count"));
	http_resp_free(&r);
	snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
	api_call2("GET", "/v1/summary", ADMIN, inm, NULL, &r);
	/* whichever process answers: the tag is the data's, not the
	 * process's or the snapshot time's */
	assert_int_equal(r.status, 304);
	assert_int_equal(r.body_len, 0);
	http_resp_free(&r);
	assert_int_equal(api_status("POST", "/v1/intents", OP,
	    "{\"id\":\"page-new\",\"source\":\"feature/n\"}"), 200);
	api_call2("GET", "/v1/summary", ADMIN, inm, NULL, &r);
	assert_int_equal(r.status, 200);
	char *etag2 = http_resp_header(&r, "ETag");
	assert_non_null(etag2);
	assert_string_not_equal(etag, etag2);
	free(etag2);
	free(etag);
	http_resp_free(&r);
}

/* ---- two farms on one PostgreSQL database --------------------------------- */

static char pg_dir[64];

/*
 * RPM+10 requests of one principal, half to each of two farms sharing
 * one PostgreSQL database, at the same time: exactly RPM pass. Farm B
 * runs in a forked process with its own harness state; it reports its
 * counts through a pipe. (A farm B that fails to start leaves the test
 * failing on rc; the parent then has no farm running.)
 */
static void test_two_farms_postgres(void **state)
{
	char dsn[512], dsn_env[600];
	int ready[2], go[2], counts[3], theirs[3];
	pid_t b;
	char c = 'g';

	(void)state;
	if (!getenv("CONVERGE_TEST_PG_DSN"))
		skip();	/* scripts/check always provides PostgreSQL */
	assert_int_equal(farm_stop(), 0);
	snprintf(pg_dir, sizeof pg_dir, "/tmp/cv-pg2farm-XXXXXX");
	assert_non_null(mkdtemp(pg_dir));
	rmdir(pg_dir);
	assert_int_equal(it_pg_scratch("start", pg_dir, dsn, sizeof dsn), 0);
	snprintf(dsn_env, sizeof dsn_env, "CONVERGE_PG_DSN=%s", dsn);
	const char *env[] = { "CONVERGE_AUTH_REQUIRED=1",
	    "CONVERGE_API_KEYS=" KEYS, "CONVERGE_RATE_LIMIT_ENABLED=1",
	    "CONVERGE_RATE_LIMIT_RPM=20", "CONVERGE_FCGI_PROCESSES_INTENTS=4",
	    "CONVERGE_DB_BACKEND=postgres", dsn_env, NULL };
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	fflush(NULL);
	if ((b = fork()) == 0) {
		int rc = farm_start(env);

		close(ready[0]);
		close(go[1]);
		if (write(ready[1], &rc, sizeof rc) != (ssize_t)sizeof rc ||
		    rc != 0 || read(go[0], &c, 1) != 1)
			_exit(farm_stop() == 0 ? 2 : 3);
		burst("/v1/intents", "X-API-Key: " R1, 3, (RPM + 10) / 2,
		    counts);
		rc = write(ready[1], counts, sizeof counts) ==
		    (ssize_t)sizeof counts;
		_exit(farm_stop() == 0 && rc ? 0 : 4);
	}
	close(ready[1]);
	close(go[0]);
	int rc = -1, status = 0;
	assert_int_equal(read(ready[0], &rc, sizeof rc), sizeof rc);
	assert_int_equal(rc, 0);
	/* B first: a harness runs one farm, and B's process must not
	 * inherit A's. */
	assert_int_equal(farm_start(env), 0);
	assert_int_equal(write(go[1], &c, 1), 1);
	burst("/v1/intents", "X-API-Key: " R1, 3, (RPM + 10) / 2, counts);
	assert_int_equal(read(ready[0], theirs, sizeof theirs),
	    sizeof theirs);
	close(ready[0]);
	close(go[1]);
	waitpid(b, &status, 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	print_message("two farms: A %d ok %d throttled, B %d ok %d throttled\n",
	    counts[0], counts[1], theirs[0], theirs[1]);
	assert_int_equal(counts[0] + theirs[0], RPM);
	assert_int_equal(counts[1] + theirs[1], 10);
	assert_int_equal(counts[2] + theirs[2], 0);
}

static int stop_pg(void **state)
{
	(void)state;
	return farm_stop_with_pg(pg_dir);
}

int main(void)
{
	if (!farm_available())
		return 77;	/* automake: skipped */
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rate_limit_shared),
		cmocka_unit_test(test_rate_limit_anonymous),
		cmocka_unit_test(test_metrics_aggregated),
		cmocka_unit_test_setup(test_bad_input, corpus_farm),
		cmocka_unit_test(test_pages_and_etags),
		cmocka_unit_test_teardown(test_two_farms_postgres, stop_pg),
	};

	return cmocka_run_group_tests_name("api_limits", tests, limited_farm,
	    farm_teardown);
}
