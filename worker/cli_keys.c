/*
 * cli_keys.c - `keys create|list|revoke|rotate|init-admin`: API keys kept
 * in the database (decisions.md D-10). A key is printed once, by create
 * and rotate; everything else names keys by id, as do the access.key_*
 * events each change appends.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apikeys.h"
#include "cli.h"
#include "clock.h"
#include "config.h"
#include "eventlog.h"

static const char *const roles[] = { "viewer", "operator", "admin", NULL };

/* access.key_* event naming the key by id (never the key) and who acted;
 * a failing write does not undo the change. */
static void key_event(struct cli_ctx *ctx, const char *type, const char *id,
    const char *tenant, json_t *extra_take)
{
	json_t *payload = extra_take ? extra_take : json_object();

	json_object_set_new(payload, "key_id", json_string(id));
	json_object_set_new(payload, "by", json_string(ctx->actor));
	if (cv_event_emit(ctx->store, type, NULL, NULL, tenant, NULL, payload,
	    NULL) != CV_OK)
		fprintf(stderr, "converge keys: could not record %s\n", type);
}

static json_t *key_doc(const char *id, char *key)
{
	json_t *out = json_pack("{s:s,s:s}", "id", id, "key", key);

	OPENSSL_cleanse(key, CV_APIKEY_LEN);
	return out;
}

static json_t *keys_create(struct cli_ctx *ctx, const struct cli_args *a)
{
	char id[CV_APIKEY_ID_LEN], key[CV_APIKEY_LEN];
	int64_t now = cv_now_us();
	long long days = cli_int(a, "expires-days", 0);
	struct cv_apikey_spec spec = { cli_str(a, "role"), cli_str(a, "actor"),
	    cli_str_nonempty(a, "tenant"), cli_str_nonempty(a, "scopes"),
	    days ? now + days * 86400LL * 1000000 : 0 };

	if (!*spec.actor)
		return cli_error("--actor must not be empty");
	if (cv_apikey_create(ctx->store, &spec, now, id, key) != CV_OK)
		return NULL;
	key_event(ctx, "access.key_created", id, spec.tenant, json_pack(
	    "{s:s,s:s}", "role", spec.role, "actor", spec.actor));
	return key_doc(id, key);
}

static json_t *keys_list(struct cli_ctx *ctx, const struct cli_args *a)
{
	(void)a;
	return cv_apikey_list(ctx->store, cv_now_us());
}

static json_t *keys_revoke(struct cli_ctx *ctx, const struct cli_args *a)
{
	const char *id = cli_str_nonempty(a, "id");
	bool found = false;

	if (!id)
		return cli_error("the key's id is required: keys revoke ID");
	if (cv_apikey_revoke(ctx->store, id, cv_now_us(), &found) != CV_OK)
		return NULL;
	if (!found)
		return cli_error("No active key with id %s", id);
	key_event(ctx, "access.key_revoked", id, NULL, NULL);
	return json_pack("{s:s,s:b}", "id", id, "revoked", 1);
}

static json_t *keys_rotate(struct cli_ctx *ctx, const struct cli_args *a)
{
	const char *id = cli_str_nonempty(a, "id");
	long long grace = cli_int(a, "grace-seconds", 3600);
	char new_id[CV_APIKEY_ID_LEN], key[CV_APIKEY_LEN], until[CV_TS_LEN];
	int64_t now = cv_now_us();
	bool found = false;
	json_t *out;

	if (!id)
		return cli_error("the key's id is required: keys rotate ID");
	if (cv_apikey_rotate(ctx->store, id, grace, now, new_id, key,
	    &found) != CV_OK)
		return NULL;
	if (!found)
		return cli_error("No active key with id %s", id);
	cv_ts_from_us(until, now + grace * 1000000);
	key_event(ctx, "access.key_rotated", new_id, NULL, json_pack(
	    "{s:s,s:I}", "rotated_from", id, "grace_period_seconds",
	    (json_int_t)grace));
	out = key_doc(new_id, key);
	json_object_set_new(out, "rotated_from", json_string(id));
	json_object_set_new(out, "grace_until", json_string(until));
	return out;
}

/* Writes key to path, mode 0600, replacing an older file. */
static int write_key_file(const char *path, const char *key)
{
	char tmp[4200];
	int fd;
	size_t n = strlen(key);

	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
		return -1;
	unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0)
		return -1;
	if (write(fd, key, n) != (ssize_t)n || write(fd, "\n", 1) != 1 ||
	    fsync(fd) != 0) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	return rename(tmp, path);
}

/* Why no first-run key is needed, or NULL when one is. */
static const char *no_first_key_needed(struct cli_ctx *ctx, char *err,
    size_t errsize)
{
	struct cv_config cfg;
	const char *why = NULL;
	long long n = 0;

	if (cv_config_load(&cfg, err, errsize) != CV_OK)
		return err;
	if (!cfg.auth_required)
		why = "authentication is off (CONVERGE_AUTH_REQUIRED)";
	else if (cfg.auth_mode == CV_AUTH_JWT)
		why = "CONVERGE_AUTH_MODE=jwt takes bearer tokens, not keys";
	else if (cfg.api_keys && strchr(cfg.api_keys, ':'))
		why = "CONVERGE_API_KEYS holds keys";
	else if (cv_apikey_count_active(ctx->store, cv_now_us(), &n) != CV_OK)
		why = "the database could not be read";
	else if (n > 0)
		why = "the database holds active keys";
	cv_config_free(&cfg);
	return why;
}

/* First run (D-10): with no key anywhere, an admin key into --file. The
 * key itself is never printed. */
static json_t *keys_init_admin(struct cli_ctx *ctx, const struct cli_args *a)
{
	const char *path = cli_str(a, "file");
	struct cv_apikey_spec spec = { "admin", "admin", NULL, NULL, 0 };
	char id[CV_APIKEY_ID_LEN], key[CV_APIKEY_LEN], err[256];
	const char *why = no_first_key_needed(ctx, err, sizeof err);

	if (why)
		return json_pack("{s:b,s:s}", "created", 0, "reason", why);
	if (cv_apikey_create(ctx->store, &spec, cv_now_us(), id, key) != CV_OK)
		return NULL;
	if (write_key_file(path, key) != 0) {
		int e = errno;
		bool found;
		OPENSSL_cleanse(key, sizeof key);
		cv_apikey_revoke(ctx->store, id, cv_now_us(), &found);
		return cli_error("cannot write %s: %s", path, strerror(e));
	}
	OPENSSL_cleanse(key, sizeof key);
	key_event(ctx, "access.key_created", id, NULL, json_pack("{s:s,s:s,"
	    "s:s}", "role", "admin", "actor", "admin", "reason", "first_run"));
	return json_pack("{s:b,s:s,s:s}", "created", 1, "id", id, "path",
	    path);
}

static const struct cli_flag create_flags[] = {
	{ "role", CLI_CHOICE, true, roles, 0, 0, "the key's role" },
	{ "actor", CLI_STR, true, NULL, 0, 0,
	    "who uses the key (recorded in events)" },
	{ "tenant", CLI_STR, false, NULL, 0, 0,
	    "the key's tenant (default: every tenant)" },
	{ "scopes", CLI_STR, false, NULL, 0, 0,
	    "allowed scopes, '|' or ',' separated (default: all)" },
	{ "expires-days", CLI_INT, false, NULL, 1, 3650,
	    "the key expires after this many days (default: never)" },
};

static const struct cli_flag id_flags[] = {
	{ "id", CLI_STR, false, NULL, 0, 0, "the key's id (key_...); may "
	    "come first without --id" },
};

static const struct cli_flag rotate_flags[] = {
	{ "id", CLI_STR, false, NULL, 0, 0, "the key's id (key_...); may "
	    "come first without --id" },
	{ "grace-seconds", CLI_INT, false, NULL, 0, 86400,
	    "the old key keeps working this long (default 3600; 0: stops now)" },
};

static const struct cli_flag init_flags[] = {
	{ "file", CLI_STR, true, NULL, 0, 0,
	    "where the new admin key is written (mode 0600)" },
};

static const struct cli_cmd keys_cmds[] = {
	CLI_CMD("create", "Create a key; prints {\"id\",\"key\"}, the only "
	    "time the key is shown.", create_flags, keys_create),
	CLI_CMD0("list", "List keys (ids, never the keys).", keys_list),
	CLI_CMD_POS("revoke", "Revoke a key now: `keys revoke ID`.", id_flags,
	    keys_revoke, "id"),
	CLI_CMD_POS("rotate", "Replace a key by a new one with the same role, "
	    "actor, tenant and scopes: `keys rotate ID`.", rotate_flags,
	    keys_rotate, "id"),
	CLI_CMD("init-admin", "First run: with no key anywhere, write a new "
	    "admin key to --file (used by scripts/up).", init_flags,
	    keys_init_admin),
};

const struct cli_group cli_keys_group = { "keys",
	"API keys kept in the database.", keys_cmds, CV_ARRAY_LEN(keys_cmds),
	false };
