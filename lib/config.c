/* config.c - environment configuration, read once. */
#include "config.h"
#include "dbpath.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Unset and empty are equivalent (operations.md 6). */
static const char *env(const char *name)
{
	const char *v = getenv(name);

	return (v && *v) ? v : NULL;
}

static char *env_dup(const char *name, const char *def)
{
	const char *v = env(name);

	if (!v)
		v = def;
	return v ? strdup(v) : NULL;
}

static bool env_flag(const char *name, bool def)
{
	const char *v = env(name);

	return v ? strcmp(v, "1") == 0 : def;
}

static int env_int(const char *name, int def, int min, int max, int *out,
    char *err, size_t errsize)
{
	const char *v = env(name);
	char *end;
	long n;

	if (!v) {
		*out = def;
		return 0;
	}
	errno = 0;
	n = strtol(v, &end, 10);
	while (isspace((unsigned char)*end))
		end++;
	if (errno || end == v || *end || n < min || n > max) {
		snprintf(err, errsize, "%s must be an integer in %d..%d, got '%s'",
		    name, min, max, v);
		return -1;
	}
	*out = (int)n;
	return 0;
}

static int api_keys_check(const char *spec, char *err, size_t errsize);

static int load_auth(struct cv_config *c, char *err, size_t errsize)
{
	const char *mode = env("CONVERGE_AUTH_MODE");

	c->auth_required = env_flag("CONVERGE_AUTH_REQUIRED", true);
	c->api_keys = env_dup("CONVERGE_API_KEYS", NULL);
	if (api_keys_check(c->api_keys, err, errsize))
		return -1;
	c->auth_mode = CV_AUTH_API_KEY;
	if (mode && strcmp(mode, "jwt") == 0)
		c->auth_mode = CV_AUTH_JWT;
	else if (mode && strcmp(mode, "hybrid") == 0)
		c->auth_mode = CV_AUTH_HYBRID;
	else if (mode && strcmp(mode, "api_key") != 0) {
		snprintf(err, errsize, "CONVERGE_AUTH_MODE must be api_key, jwt "
		    "or hybrid, got '%s'", mode);
		return -1;
	}
	c->jwt_secret = env_dup("CONVERGE_JWT_SECRET", NULL);
	c->jwt_public_key_path = env_dup("CONVERGE_JWT_PUBLIC_KEY_PATH", NULL);
	c->jwt_issuer = env_dup("CONVERGE_JWT_ISSUER", NULL);
	c->jwt_audience = env_dup("CONVERGE_JWT_AUDIENCE", NULL);
	if (c->jwt_secret && strlen(c->jwt_secret) < 32) {
		/* D-1: a short HS256 secret is brute-forceable; refuse it. */
		snprintf(err, errsize, "CONVERGE_JWT_SECRET must be at least "
		    "32 bytes");
		return -1;
	}
	if (c->auth_mode != CV_AUTH_API_KEY && c->auth_required &&
	    !c->jwt_secret && !c->jwt_public_key_path) {
		snprintf(err, errsize, "CONVERGE_AUTH_MODE=%s needs "
		    "CONVERGE_JWT_SECRET or CONVERGE_JWT_PUBLIC_KEY_PATH", mode);
		return -1;
	}
	return env_int("CONVERGE_JWT_LEEWAY_SECONDS", 60, 0, 3600,
	    &c->jwt_leeway, err, errsize);
}

/* ---- key lists (D-8: a typo'd role or scope stops the process) ---- */

static bool role_known(const char *r)
{
	return strcmp(r, "viewer") == 0 || strcmp(r, "operator") == 0 ||
	    strcmp(r, "admin") == 0;
}

bool cv_config_scope_known(const char *tok, size_t n)
{
	static const char *const resources[] = { "intents", "queue", "risk",
	    "agents", "compliance", "events", "repos", "keys", "admin" };
	static const char *const actions[] = { "read", "write", "admin", "*" };
	const char *dot = memchr(tok, '.', n);
	size_t rn = dot ? (size_t)(dot - tok) : n;

	if ((n == 1 && tok[0] == '*') || (n == 5 && memcmp(tok, "admin", 5) ==
	    0))
		return true;
	if (!dot)
		return false;
	for (size_t i = 0; i < CV_ARRAY_LEN(resources); i++) {
		if (strlen(resources[i]) != rn || memcmp(tok, resources[i], rn))
			continue;
		for (size_t j = 0; j < CV_ARRAY_LEN(actions); j++)
			if (strlen(actions[j]) == n - rn - 1 &&
			    memcmp(dot + 1, actions[j], n - rn - 1) == 0)
				return true;
	}
	return false;
}

/* One "key:role:actor[:tenant[:scopes]]" entry; entry is [p, end). */
static int key_entry_check(const char *p, const char *end, size_t index,
    char *err, size_t errsize)
{
	const char *part[5] = { 0 }, *pend[5] = { 0 };
	int n = 0;

	while (p < end && isspace((unsigned char)*p))
		p++;
	while (end > p && isspace((unsigned char)end[-1]))
		end--;
	if (p == end)
		return 0;               /* "a,,b": an empty entry is no key */
	while (n < 5) {
		const char *colon = n < 4 ? memchr(p, ':', (size_t)(end - p)) :
		    NULL;
		part[n] = p;
		pend[n++] = colon ? colon : end;
		if (!colon)
			break;
		p = colon + 1;
	}
	if (n < 3 || pend[0] == part[0] || pend[2] == part[2]) {
		snprintf(err, errsize, "CONVERGE_API_KEYS entry %zu must be "
		    "key:role:actor[:tenant[:scopes]]", index + 1);
		return -1;
	}
	char role[32];
	snprintf(role, sizeof role, "%.*s", (int)(pend[1] - part[1]), part[1]);
	if (!role_known(role)) {
		snprintf(err, errsize, "CONVERGE_API_KEYS entry %zu: unknown "
		    "role '%.20s' (viewer, operator or admin)", index + 1, role);
		return -1;
	}
	for (const char *t = n > 4 ? part[4] : end; t < end;) {
		const char *bar = memchr(t, '|', (size_t)(end - t));
		const char *te = bar ? bar : end;
		if (te > t && !cv_config_scope_known(t, (size_t)(te - t))) {
			snprintf(err, errsize, "CONVERGE_API_KEYS entry %zu: "
			    "unknown scope '%.*s'", index + 1,
			    (int)(te - t > 40 ? 40 : te - t), t);
			return -1;
		}
		t = bar ? bar + 1 : end;
	}
	return 0;
}

/* Never names the key itself in err: only the entry's position. */
static int api_keys_check(const char *spec, char *err, size_t errsize)
{
	size_t i = 0;

	for (const char *p = spec; p && *p; i++) {
		const char *comma = strchr(p, ',');
		const char *end = comma ? comma : p + strlen(p);
		if (key_entry_check(p, end, i, err, errsize))
			return -1;
		p = comma ? comma + 1 : end;
	}
	return 0;
}

static int load_store(struct cv_config *c, char *err, size_t errsize)
{
	const char *path = env("CONVERGE_DB_PATH");

	c->db_backend = env_dup("CONVERGE_DB_BACKEND", "sqlite");
	for (char *p = c->db_backend; p && *p; p++)
		*p = (char)tolower((unsigned char)*p);
	c->pg_dsn = env_dup("CONVERGE_PG_DSN", NULL);
	c->var_dir = env_dup("CONVERGE_VAR_DIR", "./var");
	if (path) {
		c->db_path = strdup(path);
	} else {
		/* The farm's own rule (dbpath.h): never .converge/. */
		char farm[4200];
		if (cv_dbpath_resolve(NULL, CV_DBPATH_FARM, farm,
		    sizeof farm) != 0) {
			snprintf(err, errsize, "CONVERGE_VAR_DIR: path too long");
			return -1;
		}
		c->db_path = strdup(farm);
	}
	c->repo_path = env_dup("CONVERGE_REPO_PATH", ".");
	if (!c->db_backend || !c->var_dir || !c->db_path || !c->repo_path) {
		snprintf(err, errsize, "out of memory");
		return -1;
	}
	/* A backend without what it needs stops here, not at the first
	 * request (D-8). */
	if (strcmp(c->db_backend, "sqlite") != 0 &&
	    strcmp(c->db_backend, "postgres") != 0) {
		snprintf(err, errsize, "CONVERGE_DB_BACKEND must be sqlite or "
		    "postgres, got '%.40s'", c->db_backend);
		return -1;
	}
	if (strcmp(c->db_backend, "postgres") == 0 && !c->pg_dsn) {
		snprintf(err, errsize, "CONVERGE_DB_BACKEND=postgres needs "
		    "CONVERGE_PG_DSN");
		return -1;
	}
	return 0;
}

static int load_github(struct cv_config *c)
{
	c->webhook_secret = env_dup("CONVERGE_GITHUB_WEBHOOK_SECRET", NULL);
	c->github_app_id = env_dup("CONVERGE_GITHUB_APP_ID", NULL);
	c->github_installation_id = env_dup("CONVERGE_GITHUB_INSTALLATION_ID",
	    NULL);
	c->github_key_path = env_dup("CONVERGE_GITHUB_APP_PRIVATE_KEY_PATH",
	    NULL);
	c->github_key_pem = env_dup("CONVERGE_GITHUB_APP_PRIVATE_KEY", NULL);
	c->github_api_url = env_dup("CONVERGE_GITHUB_API_URL",
	    "https://api.github.com");
	c->github_default_tenant = env_dup("CONVERGE_GITHUB_DEFAULT_TENANT",
	    NULL);
	if (!c->github_api_url)
		return -1;
	size_t n = strlen(c->github_api_url);
	while (n > 0 && c->github_api_url[n - 1] == '/')
		c->github_api_url[--n] = '\0';
	return 0;
}

static int load_numbers(struct cv_config *c, char *err, size_t errsize)
{
	int mb_api, mb_hook;

	if (env_int("CONVERGE_PORT", 9876, 1, 65535, &c->port, err, errsize) ||
	    env_int("CONVERGE_RATE_LIMIT_RPM", 120, 1, 1000000,
	    &c->rate_limit_rpm, err, errsize) ||
	    env_int("CONVERGE_WORKER_POLL_INTERVAL", 5, 0, 86400,
	    &c->worker_poll_interval, err, errsize) ||
	    env_int("CONVERGE_WORKER_BATCH_SIZE", 20, 1, 10000,
	    &c->worker_batch_size, err, errsize) ||
	    env_int("CONVERGE_WORKER_MAX_RETRIES", 3, 0, 1000,
	    &c->worker_max_retries, err, errsize) ||
	    env_int("CONVERGE_WORKER_LOCK_TTL", 300, 1, 86400,
	    &c->worker_lock_ttl, err, errsize) ||
	    env_int("CONVERGE_MAX_BODY_BYTES", 1048576, 1024, INT_MAX,
	    &mb_api, err, errsize) ||
	    env_int("CONVERGE_MAX_WEBHOOK_BODY_BYTES", 26214400, 1024,
	    INT_MAX, &mb_hook, err, errsize))
		return -1;
	c->max_body_api = (size_t)mb_api;
	c->max_body_webhook = (size_t)mb_hook;
	return 0;
}

enum cv_err cv_config_load(struct cv_config *c, char *err, size_t errsize)
{
	memset(c, 0, sizeof *c);
	snprintf(err, errsize, "out of memory");
	if (load_store(c, err, errsize) || load_auth(c, err, errsize) ||
	    load_numbers(c, err, errsize) || load_github(c))
		goto fail;
	c->rate_limit_enabled = env_flag("CONVERGE_RATE_LIMIT_ENABLED", true);
	c->worker_auto_confirm = env_flag("CONVERGE_WORKER_AUTO_CONFIRM", false);
	c->worker_fresh_simulation = env_flag("CONVERGE_WORKER_FRESH_SIMULATION",
	    false);
	if (env("CONVERGE_QUEUE_ENFORCE_DEPENDENCIES") &&
	    strcmp(env("CONVERGE_QUEUE_ENFORCE_DEPENDENCIES"), "0") != 0 &&
	    strcmp(env("CONVERGE_QUEUE_ENFORCE_DEPENDENCIES"), "1") != 0) {
		snprintf(err, errsize, "CONVERGE_QUEUE_ENFORCE_DEPENDENCIES "
		    "must be 0 or 1");
		goto fail;
	}
	c->queue_enforce_dependencies = cv_config_enforce_dependencies();
	c->worker_target = env_dup("CONVERGE_WORKER_TARGET", "main");
	if (!c->worker_target)
		goto fail;
	err[0] = '\0';
	return CV_OK;
fail:
	cv_config_free(c);
	return CV_EINVAL;
}

void cv_config_free(struct cv_config *c)
{
	char **strs[] = { &c->db_backend, &c->db_path, &c->pg_dsn, &c->var_dir,
	    &c->repo_path, &c->api_keys, &c->jwt_secret,
	    &c->jwt_public_key_path, &c->jwt_issuer, &c->jwt_audience,
	    &c->webhook_secret, &c->github_app_id, &c->github_installation_id,
	    &c->github_key_path, &c->github_key_pem, &c->github_api_url,
	    &c->github_default_tenant, &c->worker_target };

	for (size_t i = 0; i < CV_ARRAY_LEN(strs); i++) {
		free(*strs[i]);
		*strs[i] = NULL;
	}
}

bool cv_config_github_enabled(const struct cv_config *c)
{
	return c->github_app_id && c->github_installation_id;
}

bool cv_config_enforce_dependencies(void)
{
	const char *v = env("CONVERGE_QUEUE_ENFORCE_DEPENDENCIES");

	return !(v && strcmp(v, "0") == 0);
}
