/*
 * fuzz_config.c - configuration values (the environment) and the API-key
 * and JWT settings built from them.
 *
 * Input: one line per variable of the table below, in order; a line "-"
 * leaves the variable unset. Paths that would make the loader read files
 * are not fuzzed.
 */
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "config.h"
#include "fuzz.h"

static const char *const names[] = {
	"CONVERGE_API_KEYS", "CONVERGE_AUTH_MODE", "CONVERGE_AUTH_REQUIRED",
	"CONVERGE_JWT_SECRET", "CONVERGE_JWT_ISSUER", "CONVERGE_JWT_AUDIENCE",
	"CONVERGE_JWT_LEEWAY_SECONDS", "CONVERGE_DB_BACKEND",
	"CONVERGE_PORT", "CONVERGE_RATE_LIMIT_RPM",
	"CONVERGE_RATE_LIMIT_ENABLED", "CONVERGE_WORKER_POLL_INTERVAL",
	"CONVERGE_WORKER_BATCH_SIZE", "CONVERGE_WORKER_MAX_RETRIES",
	"CONVERGE_WORKER_LOCK_TTL", "CONVERGE_MAX_BODY_BYTES",
	"CONVERGE_MAX_WEBHOOK_BODY_BYTES", "CONVERGE_GITHUB_API_URL",
	"CONVERGE_GITHUB_APP_ID", "CONVERGE_GITHUB_INSTALLATION_ID",
	"CONVERGE_GITHUB_DEFAULT_TENANT", "CONVERGE_GITHUB_WEBHOOK_SECRET",
	"CONVERGE_QUEUE_ENFORCE_DEPENDENCIES", "CONVERGE_WORKER_AUTO_CONFIRM",
	"CONVERGE_WORKER_TARGET", "CONVERGE_VAR_DIR", "CONVERGE_DB_PATH",
};

#define NVARS (sizeof names / sizeof names[0])

int fuzz_config(const uint8_t *data, size_t n)
{
	char *f[NVARS], *buf, err[512];
	size_t nf = fuzz_split(data, n, '\n', f, NVARS, &buf, NULL);
	struct cv_config cfg;

	for (size_t i = 0; i < NVARS; i++) {
		if (i < nf && strcmp(f[i], "-") != 0)
			setenv(names[i], f[i], 1);
		else
			unsetenv(names[i]);
	}
	if (cv_config_load(&cfg, err, sizeof err) == CV_OK) {
		struct cv_auth *a = cv_auth_new(&cfg, err, sizeof err);
		if (a)
			(void)cv_auth_key_count(a);
		cv_auth_free(a);
		cv_config_free(&cfg);
	} else if (!err[0]) {
		abort();   /* a refusal names the variable */
	}
	for (size_t i = 0; i < NVARS; i++)
		unsetenv(names[i]);
	free(buf);
	return 0;
}

CV_FUZZ_TARGET(config)
