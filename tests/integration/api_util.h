/*
 * api_util.h - helpers shared by the API integration tests (test_api_*):
 * requests with a key, key-set checks on JSON bodies, reading events and
 * /metrics back, throw-away git repositories.  Everything is static inline:
 * each test program includes it once and uses a part of it.
 *
 * Ownership: a struct http_resp filled here is emptied by the caller with
 * http_resp_free(); strings returned are the caller's to free.
 */
#ifndef CV_API_UTIL_H
#define CV_API_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "itutil.h"
#include "itgit.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Sends METHOD PATH with the API key (NULL: none), one extra header
 * (NULL: none) and a JSON body (NULL: none); fails the test on a
 * transport error. */
static inline void api_call2(const char *method, const char *path,
    const char *key, const char *extra, const char *body,
    struct http_resp *r)
{
	char keyh[512];
	const char *hdrs[4];
	size_t n = 0;

	if (key) {
		snprintf(keyh, sizeof keyh, "X-API-Key: %s", key);
		hdrs[n++] = keyh;
	}
	if (body)
		hdrs[n++] = "Content-Type: application/json";
	if (extra)
		hdrs[n++] = extra;
	hdrs[n] = NULL;
	if (http_request(method, path, hdrs, body, body ? strlen(body) : 0,
	    r) != 0)
		fail_msg("%s %s: no response", method, path);
}

static inline void api_call(const char *method, const char *path,
    const char *key, const char *body, struct http_resp *r)
{
	api_call2(method, path, key, NULL, body, r);
}

/* The status of one call, its response dropped. */
static inline long api_status(const char *method, const char *path,
    const char *key, const char *body)
{
	struct http_resp r;
	long st;

	api_call(method, path, key, body, &r);
	st = r.status;
	http_resp_free(&r);
	return st;
}

static inline bool has_content_type(const struct http_resp *r,
    const char *want)
{
	char *type = http_resp_header(r, "Content-Type");
	bool ok = type && strncmp(type, want, strlen(want)) == 0;

	free(type);
	return ok;
}

static inline void assert_json_ct(const struct http_resp *r)
{
	if (!has_content_type(r, "application/json"))
		fail_msg("Content-Type is not application/json: %s", r->body);
	assert_non_null(r->json);
}

/*
 * True when obj is an object whose keys are exactly the space-separated
 * names of `keys`; a name written "?name" may be absent.  On a mismatch
 * prints what differs (labelled with what).
 */
static inline bool keys_match(const json_t *obj, const char *keys,
    const char *what)
{
	char buf[1024], *tok, *save = NULL;
	size_t want = 0, optional_present = 0;
	const char *k;
	json_t *v;
	bool ok = true;

	if (!json_is_object(obj)) {
		print_message("%s: not an object\n", what);
		return false;
	}
	snprintf(buf, sizeof buf, "%s", keys);
	for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ",
	    &save)) {
		bool opt = *tok == '?';

		if (opt && json_object_get(obj, tok + 1))
			optional_present++;
		if (opt)
			continue;
		want++;
		if (!json_object_get(obj, tok)) {
			print_message("%s: key %s missing\n", what, tok);
			ok = false;
		}
	}
	if (json_object_size(obj) != want + optional_present) {
		json_object_foreach((json_t *)obj, k, v) {
			char pat[256];

			snprintf(pat, sizeof pat, " %s ", k);
			snprintf(buf, sizeof buf, " %s ", keys);
			if (!strstr(buf, pat)) {
				snprintf(pat, sizeof pat, " ?%s ", k);
				if (!strstr(buf, pat))
					print_message("%s: unexpected key %s\n",
					    what, k);
			}
		}
		ok = false;
	}
	return ok;
}

static inline void assert_keys(const json_t *obj, const char *keys,
    const char *what)
{
	if (!keys_match(obj, keys, what)) {
		char *s = json_dumps(obj, JSON_COMPACT);

		fail_msg("%s: key set differs from [%s]: %.600s", what, keys,
		    s ? s : "?");
	}
}

/* The "error" text of a JSON error envelope, or "" (borrowed). */
static inline const char *error_of(const struct http_resp *r)
{
	const char *e = json_string_value(json_object_get(r->json, "error"));

	return e ? e : "";
}

/* GET PATH with the key; the JSON body (new reference), the status
 * checked to be 200. */
static inline json_t *get_json(const char *path, const char *key)
{
	struct http_resp r;
	json_t *out;

	api_call("GET", path, key, NULL, &r);
	if (r.status != 200)
		fail_msg("GET %s: %ld %s", path, r.status, r.body);
	assert_non_null(r.json);
	out = json_incref(r.json);
	http_resp_free(&r);
	return out;
}

/* Events of the instance through the admin API: all of them (type NULL)
 * or one type. */
static inline json_t *events_of(const char *admin_key, const char *type)
{
	char path[256];

	if (type)
		snprintf(path, sizeof path, "/v1/events?limit=10000&type=%s",
		    type);
	else
		snprintf(path, sizeof path, "/v1/events?limit=10000");
	return get_json(path, admin_key);
}

/* Events that are not access.* audit events (requests write those). */
static inline size_t count_non_access_events(const char *admin_key)
{
	json_t *all = events_of(admin_key, NULL), *e;
	size_t i, n = 0;

	json_array_foreach(all, i, e) {
		const char *t = json_string_value(json_object_get(e,
		    "event_type"));

		if (t && strncmp(t, "access.", 7) != 0)
			n++;
	}
	json_decref(all);
	return n;
}

/* GET /metrics as text (caller frees). */
static inline char *metrics_text(void)
{
	struct http_resp r;
	char *text;

	if (http_request("GET", "/metrics", NULL, NULL, 0, &r) != 0)
		fail_msg("GET /metrics: no response");
	assert_int_equal(r.status, 200);
	text = strdup(r.body);
	http_resp_free(&r);
	return text;
}

/* Sum of the samples of every line that starts with `prefix` and
 * contains `also` (NULL: anything); 0 when none. */
static inline double metric_sum(const char *text, const char *prefix,
    const char *also)
{
	double sum = 0;
	const char *line = text;

	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char buf[1024];

		snprintf(buf, sizeof buf, "%.*s", (int)len, line);
		if (strncmp(buf, prefix, strlen(prefix)) == 0 &&
		    (!also || strstr(buf, also))) {
			const char *sp = strrchr(buf, ' ');

			if (sp)
				sum += strtod(sp + 1, NULL);
		}
		line = end ? end + 1 : NULL;
	}
	return sum;
}

/* ---- throw-away git repositories -------------------------------------- */

/* farm_start() with env (NULL-terminated) plus CONVERGE_REPO_PATH=repo. */
static inline int farm_start_on_repo(const char *repo,
    const char *const *env)
{
	const char *all[48];
	char repo_env[300];
	size_t n = 0;

	snprintf(repo_env, sizeof repo_env, "CONVERGE_REPO_PATH=%s", repo);
	for (; env && env[n]; n++) {
		if (n + 2 >= ARRAY_LEN(all))
			fail_msg("farm_start_on_repo: more than %zu settings",
			    ARRAY_LEN(all) - 2);
		all[n] = env[n];
	}
	all[n++] = repo_env;
	all[n] = NULL;
	return farm_start(all);
}

/* Stops the farm, then removes the repository it worked on; farm_stop()'s
 * result. */
static inline int farm_stop_off_repo(const char *repo)
{
	int rc = farm_stop();

	it_remove_tree(repo);
	return rc;
}

/*
 * A repository in a new temp dir (path copied into dir) with branch main
 * and branches feature/ok (a clean change) and feature/clash (conflicts
 * with main), so validations give mergeable and conflicting simulations.
 */
static inline void make_repo(char *dir, size_t size)
{
	snprintf(dir, size, "/tmp/converge-itrepo.XXXXXX");
	if (!mkdtemp(dir))
		fail_msg("mkdtemp: %s", strerror(errno));
	GIT(dir, "init", "-q", "-b", "main");
	write_file(dir, "app.c", "int main(void) { return 0; }\n");
	write_file(dir, "shared.txt", "one\ntwo\nthree\n");
	GIT(dir, "add", "-A");
	GIT(dir, "commit", "-q", "-m", "base");
	GIT(dir, "checkout", "-q", "-b", "feature/ok");
	write_file(dir, "feature.c", "int feature(void) { return 1; }\n");
	GIT(dir, "add", "-A");
	GIT(dir, "commit", "-q", "-m", "feature");
	GIT(dir, "checkout", "-q", "-b", "feature/clash", "main");
	write_file(dir, "shared.txt", "one\nTWO from the branch\nthree\n");
	GIT(dir, "commit", "-q", "-am", "clash");
	GIT(dir, "checkout", "-q", "main");
	write_file(dir, "shared.txt", "one\ntwo from main\nthree\n");
	GIT(dir, "commit", "-q", "-am", "main moves");
}

static inline void remove_tree(const char *dir)
{
	it_remove_tree(dir);
}

#endif
