/* cli_repo.c - `converge repo add|list|show|remove`: the registry of
 * repositories the queue lands on (decisions.md D-9). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "jsonx.h"
#include "repos.h"

/* "lint,unit_tests" as a JSON array; empty items are dropped. */
static json_t *checks_split(const char *list)
{
	json_t *out = json_array();
	const char *p = list;

	while (p && *p) {
		size_t n = strcspn(p, ",");
		if (n > 0)
			json_array_append_new(out, json_stringn(p, n));
		p += n + (p[n] == ',');
	}
	return out;
}

static json_t *add(struct cli_ctx *ctx, const struct cli_args *a)
{
	const char *name = cli_str(a, "name"), *why = NULL;
	json_t *checks = checks_split(cli_str(a, "checks")), *repo, *out;
	enum cv_err err;

	if (!name)
		return cli_error("repo add: NAME is required (owner/name)");
	repo = cv_repo_build(name, cli_str(a, "url"), cli_str(a, "target"),
	    checks, cli_str_nonempty(a, "tenant"), ctx->actor, &why);
	json_decref(checks);
	if (!repo)
		return cli_error("%s", why);
	err = cv_repo_add(ctx->store, repo);
	if (err == CV_EEXIST)
		out = cli_error("Repository already registered: %s", name);
	else if (err != CV_OK)
		out = NULL;
	else
		out = json_pack("{s:b,s:o}", "ok", 1, "repository",
		    cv_repo_view_new(repo));
	json_decref(repo);
	return out;
}

static json_t *list(struct cli_ctx *ctx, const struct cli_args *a)
{
	json_t *out = cv_json_map_take(cv_repo_list(ctx->store,
	    cli_str_nonempty(a, "tenant")), cv_repo_view_new);

	return out ? json_pack("{s:o}", "repositories", out) : NULL;
}

static json_t *show(struct cli_ctx *ctx, const struct cli_args *a)
{
	const char *name = cli_str(a, "name");
	json_t *repo = NULL, *out;

	if (!name)
		return cli_error("repo show: NAME is required (owner/name)");
	if (cv_repo_get(ctx->store, name, &repo) != CV_OK)
		return NULL;
	if (!repo)
		return cli_error("Repository not found: %s", name);
	out = cv_repo_view_new(repo);
	json_decref(repo);
	return out;
}

static json_t *remove_cmd(struct cli_ctx *ctx, const struct cli_args *a)
{
	const char *name = cli_str(a, "name");
	bool removed = false;

	if (!name)
		return cli_error("repo remove: NAME is required (owner/name)");
	if (cv_repo_remove(ctx->store, name, &removed) != CV_OK)
		return NULL;
	if (!removed)
		return cli_error("Repository not found: %s", name);
	return json_pack("{s:b,s:s,s:b}", "ok", 1, "name", name, "removed", 1);
}

static const struct cli_flag add_flags[] = {
	{ "name", CLI_STR, false, NULL, 0, 0,
	    "owner/name, as GitHub writes repository.full_name (or NAME)" },
	{ "url", CLI_STR, true, NULL, 0, 0,
	    "what git fetch takes: a path, file://, ssh or https URL" },
	{ "target", CLI_STR, false, NULL, 0, 0,
	    "branch the queue lands on (main)" },
	{ "checks", CLI_STR, false, NULL, 0, 0,
	    "default checks, comma-separated (lint,unit_tests,...)" },
	{ "tenant", CLI_STR, false, NULL, 0, 0, "owning tenant (none)" },
};

static const struct cli_flag list_flags[] = {
	{ "tenant", CLI_STR, false, NULL, 0, 0, "only this tenant's" },
};

static const struct cli_flag name_flags[] = {
	{ "name", CLI_STR, false, NULL, 0, 0, "owner/name (or NAME)" },
};

static const struct cli_cmd repo_cmds[] = {
	CLI_CMD_POS("add", "Register a repository: NAME --url URL [--target "
	    "BRANCH] [--checks TYPE,...].", add_flags, add, "name"),
	CLI_CMD("list", "List the registered repositories (URLs without "
	    "credentials).", list_flags, list),
	CLI_CMD_POS("show", "Show one registration: NAME.", name_flags, show,
	    "name"),
	CLI_CMD_POS("remove", "Remove a registration: NAME (its mirror is a "
	    "cache and may be deleted).", name_flags, remove_cmd, "name"),
};

const struct cli_group cli_repo_group = { "repo",
	"Repositories the queue lands on.", repo_cmds,
	CV_ARRAY_LEN(repo_cmds), false };
