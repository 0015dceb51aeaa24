/*
 * fuzz_request.c - a whole request through a route family, as the farm
 * hands it over after reading the body: routing (raw path, prefixes,
 * path parameters), query parameters, the JSON body and each handler's
 * validation (intents, policies, agent authorization, compliance
 * thresholds, ...) and the GitHub webhook mapping (development mode: no
 * secret). The store is a real SQLite file in a private temporary
 * directory; the repository path is an empty directory, so a validation
 * that reaches git or make fails at once.
 *
 * Input:
 *   FAMILY METHOD URI          e.g. "intents POST /v1/intents?x=1"
 *   Header-Name: value         any number of lines
 *   (empty line)
 *   BODY
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "farm.h"
#include "fuzz.h"
#include "store.h"

extern const struct cv_family cv_family_intents, cv_family_risk,
    cv_family_agents, cv_family_compliance, cv_family_queue,
    cv_family_events, cv_family_webhooks, cv_family_health,
    cv_family_dashboard;

static const struct cv_family *const families[] = {
	&cv_family_intents, &cv_family_risk, &cv_family_agents,
	&cv_family_compliance, &cv_family_queue, &cv_family_events,
	&cv_family_webhooks, &cv_family_health, &cv_family_dashboard,
};

#define MAX_ENV 24

static struct cv_app app;
static char dir[64];

static void cleanup(void) __attribute__((destructor));
static void cleanup(void)
{
	static const char *const files[] = { "state.db", "state.db-wal",
	    "state.db-shm", "state.db.lock", "repo" };
	char p[128];

	if (!dir[0])
		return;
	cv_store_close(app.store);
	app.store = NULL;
	free(app.cfg.repo_path);
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, files[i]);
		if (unlink(p) != 0)
			rmdir(p);
	}
	rmdir(dir);
	dir[0] = '\0';
}

static struct cv_app *the_app(void)
{
	struct cv_store_options o = { CV_BACKEND_SQLITE, NULL, NULL, 0 };
	char db[96], repo[96];

	if (dir[0])
		return &app;
	snprintf(dir, sizeof dir, "/tmp/cv-fuzz-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	snprintf(db, sizeof db, "%s/state.db", dir);
	snprintf(repo, sizeof repo, "%s/repo", dir);
	if (mkdir(repo, 0700) != 0)
		abort();
	o.sqlite_path = db;
	app.family = "fuzz";
	app.cfg.repo_path = strdup(repo);
	if (cv_store_open(&o, &app.store, NULL) != CV_OK)
		abort();
	return &app;
}

/* "X-GitHub-Event: push" → "HTTP_X_GITHUB_EVENT=push" */
static char *header_var(const char *line)
{
	const char *colon = strchr(line, ':');
	char *v = NULL;

	if (!colon || colon == line)
		return NULL;
	const char *val = colon + 1;
	while (*val == ' ')
		val++;
	if (asprintf(&v, "HTTP_%.*s=%s", (int)(colon - line), line, val) < 0)
		return NULL;
	for (char *p = v + 5; *p != '='; p++)
		*p = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
	return v;
}

static void run(const struct cv_family *fam, char **env, const char *body,
    size_t body_len)
{
	struct cv_request req;
	struct cv_response resp;

	cv_response_init(&resp);
	if (cv_request_init(&req, env) == CV_OK) {
		req.body = malloc(body_len + 1);
		if (req.body) {
			memcpy(req.body, body, body_len);
			req.body[body_len] = '\0';
			req.body_len = body_len;
		}
		cv_farm_dispatch(fam, the_app(), &req, &resp);
		if (getenv("CV_FUZZ_VERBOSE"))
			fprintf(stderr, "%s %s -> %d %.200s\n", req.method,
			    req.path, resp.status, resp.body ? resp.body : "");
		/* a 5xx is a bug unless the store really failed */
		if (resp.status >= 500 && resp.status != 503)
			abort();
	}
	cv_request_free(&req);
	cv_response_free(&resp);
}

int fuzz_request(const uint8_t *data, size_t n)
{
	char *line[MAX_ENV + 2], *buf, *env[MAX_ENV + 4], *own[MAX_ENV + 4];
	char fam_name[32] = "", method[16] = "", uri[2048] = "";
	size_t nl, ne = 0, no = 0, body_len = 0;
	const struct cv_family *fam = NULL;
	const char *body = "";

	nl = fuzz_split(data, n, '\n', line, MAX_ENV + 2, &buf, &body_len);
	if (nl == 0 || sscanf(line[0], "%31s %15s %2047s", fam_name, method,
	    uri) != 3) {
		free(buf);
		return 0;
	}
	for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
		if (strcmp(families[i]->name, fam_name) == 0)
			fam = families[i];
	if (!fam) {
		free(buf);
		return 0;
	}
	/* headers up to the empty line; the rest is the body */
	size_t i = 1;
	for (; i < nl && *line[i]; i++)
		if (no < MAX_ENV && (own[no] = header_var(line[i])))
			env[ne++] = own[no++];
	body_len = 0;
	if (i + 1 < nl) {   /* from the original bytes: the body has lines */
		size_t off = (size_t)(line[i + 1] - buf);
		body = (const char *)data + off;
		body_len = n - off;
	}
	if (asprintf(&own[no], "REQUEST_METHOD=%s", method) > 0)
		env[ne++] = own[no++];
	if (asprintf(&own[no], "REQUEST_URI=%s", uri) > 0)
		env[ne++] = own[no++];
	const char *q = strchr(uri, '?');
	if (asprintf(&own[no], "QUERY_STRING=%s", q ? q + 1 : "") > 0)
		env[ne++] = own[no++];
	env[ne] = NULL;
	run(fam, env, body, body_len);
	for (size_t k = 0; k < no; k++)
		free(own[k]);
	free(buf);
	return 0;
}

CV_FUZZ_TARGET(request)
