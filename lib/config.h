/*
 * config.h - the environment, read once at process start
 * (operations.md 6, decisions.md D-1, D-4).
 *
 * Booleans are true only for the exact string "1"; unset and empty are the
 * same. An invalid number is a start-up error, never a silent default.
 * Secrets (API keys, webhook secret, JWT secret, App key) are held here
 * and must never be logged.
 */
#ifndef CV_CONFIG_H
#define CV_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "cv.h"

enum cv_auth_mode { CV_AUTH_API_KEY, CV_AUTH_JWT, CV_AUTH_HYBRID };

struct cv_config {
	/* store */
	char *db_backend;          /* "sqlite" or "postgres" (lower-cased) */
	char *db_path;
	char *pg_dsn;
	/* farm (D-4) */
	int port;
	char *var_dir;
	char *repo_path;
	size_t max_body_api;       /* 1 MiB */
	size_t max_body_webhook;   /* 25 MiB */
	/* auth (http-api 3, D-1) */
	bool auth_required;
	char *api_keys;
	enum cv_auth_mode auth_mode;
	char *jwt_secret;
	char *jwt_public_key_path;
	char *jwt_issuer;
	char *jwt_audience;
	int jwt_leeway;
	/* rate limiting (http-api 4, D-2) */
	bool rate_limit_enabled;
	int rate_limit_rpm;
	/* GitHub (http-api 7, 8) */
	char *webhook_secret;
	char *github_app_id;
	char *github_installation_id;
	char *github_key_path;
	char *github_key_pem;
	char *github_api_url;      /* trailing '/' removed */
	char *github_default_tenant;
	/* worker (operations.md 4.1) */
	int worker_poll_interval;
	int worker_batch_size;
	int worker_max_retries;
	char *worker_target;
	bool worker_auto_confirm;
	bool worker_fresh_simulation;  /* revalidate against the current target */
	int worker_lock_ttl;
	/* D-8: the queue waits for dependencies unless this is "0" */
	bool queue_enforce_dependencies;
};

/* Fills c from the environment. On an invalid value returns CV_EINVAL and
 * writes a one-line reason naming the variable into err. Strings in c are
 * owned by c; release with cv_config_free. */
enum cv_err cv_config_load(struct cv_config *c, char *err, size_t errsize);

void cv_config_free(struct cv_config *c);

/* True when tok[0..n) is a scope of the vocabulary: "*", "admin", or
 * "<resource>.<read|write|admin|*>" with resource one of intents, queue,
 * risk, agents, compliance, events, repos, keys, admin. An unknown role
 * or scope in CONVERGE_API_KEYS makes cv_config_load fail, naming the
 * variable and the entry's position (never the key). */
bool cv_config_scope_known(const char *tok, size_t n);

/* CONVERGE_QUEUE_ENFORCE_DEPENDENCIES straight from the environment, for
 * programs that do not load the whole configuration (the CLI): true
 * unless it is "0". */
bool cv_config_enforce_dependencies(void);

/* True when GitHub publishing is enabled (App id and installation id). */
bool cv_config_github_enabled(const struct cv_config *c);

#endif
