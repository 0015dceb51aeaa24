/* repos.c - the repositories table (decisions.md D-9). */
#include "repos.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks.h"
#include "clock.h"
#include "db.h"
#include "jsonx.h"

static bool part_ok(const char *p, size_t n)
{
	if (n == 0 || p[0] == '.' || p[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

bool cv_repo_name_valid(const char *name)
{
	const char *slash;
	size_t n;

	if (!name || (n = strlen(name)) > CV_REPO_NAME_MAX ||
	    !(slash = strchr(name, '/')))
		return false;
	return part_ok(name, (size_t)(slash - name)) &&
	    part_ok(slash + 1, n - (size_t)(slash - name) - 1);
}

bool cv_repo_url_valid(const char *url)
{
	size_t n;

	if (!url || !*url || url[0] == '-' || (n = strlen(url)) >
	    CV_REPO_URL_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)url[i] <= ' ' || url[i] == 0x7f)
			return false;
	return true;
}

/* A branch name git accepts for a push target (the rules of
 * git-check-ref-format that matter for a name typed by a person). */
static bool branch_ok(const char *b)
{
	size_t n;

	if (!b || !*b || b[0] == '-' || b[0] == '/' || (n = strlen(b)) > 250 ||
	    b[n - 1] == '/' || b[n - 1] == '.' || strstr(b, "..") ||
	    strstr(b, "//") || strstr(b, "@{") ||
	    (n >= 5 && strcmp(b + n - 5, ".lock") == 0))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)b[i] <= ' ' || b[i] == 0x7f ||
		    strchr("~^:?*[\\", b[i]))
			return false;
	return true;
}

char *cv_repo_url_redact_dup(const char *url)
{
	const char *p, *host, *end, *at;
	char *out, *w;

	/* "@" alone becomes "***@": at most 4 bytes out per byte in. */
	if (!url || !(out = malloc(4 * strlen(url) + 1)))
		return NULL;
	/* Every "scheme://user-info@host" in the text, so that a git
	 * message quoting the URL is cleaned too. */
	for (p = url, w = out; *p;) {
		const char *sep = strstr(p, "://");
		if (!sep) {
			memcpy(w, p, strlen(p) + 1);  /* room: the bound above */
			return out;
		}
		host = sep + 3;
		end = host + strcspn(host, "/?#'\" \t\r\n");
		at = NULL;
		for (const char *q = host; q < end; q++)
			if (*q == '@')
				at = q;
		memcpy(w, p, (size_t)(host - p));
		w += host - p;
		if (at) {
			memcpy(w, "***", 3);
			w += 3;
			host = at;
		}
		memcpy(w, host, (size_t)(end - host));
		w += end - host;
		*w = '\0';
		p = end;
	}
	*w = '\0';
	return out;
}

json_t *cv_repo_build(const char *name, const char *url, const char *target,
    const json_t *checks, const char *tenant_id, const char *actor,
    const char **err)
{
	char ts[CV_TS_LEN];
	json_t *c;
	size_t i;

	if (!cv_repo_name_valid(name)) {
		*err = "name: expected owner/name (letters, digits, '.', '_', "
		    "'-')";
		return NULL;
	}
	if (!cv_repo_url_valid(url)) {
		*err = "url: expected a git URL or path (no spaces, not "
		    "starting with '-')";
		return NULL;
	}
	if (!target)
		target = "main";
	if (!branch_ok(target)) {
		*err = "target: not a valid branch name";
		return NULL;
	}
	if (checks && !json_is_array(checks)) {
		*err = "checks: expected a list of check types";
		return NULL;
	}
	json_array_foreach(checks, i, c)
		if (!cv_check_make_target(json_string_value(c))) {
			*err = "checks: unknown check type (lint, unit_tests, "
			    "integration_tests, security_scan, contract_tests)";
			return NULL;
		}
	cv_now_ts(ts);
	return json_pack("{s:s,s:s,s:s,s:o,s:o,s:s,s:s}", "name", name, "url",
	    url, "target", target, "checks", checks ? json_deep_copy(checks) :
	    json_array(), "tenant_id", cv_json_str_or_null(tenant_id),
	    "created_at", ts, "created_by", actor ? actor : "system");
}

json_t *cv_repo_view_new(const json_t *repo)
{
	json_t *v = json_deep_copy(repo);
	char *u = cv_repo_url_redact_dup(cv_json_str(repo, "url", ""));

	if (v && u)
		json_object_set_new(v, "url", json_string(u));
	free(u);
	return v;
}

enum cv_err cv_repo_add(struct cv_store *s, const json_t *repo)
{
	char *checks = cv_json_dump(json_object_get(repo, "checks"));
	long long changes = 0;
	enum cv_err err;

	if (!checks)
		return CV_ENOMEM;
	struct cv_param p[] = { CV_TEXT(cv_json_str(repo, "name", "")),
	    CV_TEXT(cv_json_str(repo, "url", "")),
	    CV_TEXT(cv_json_str(repo, "target", "main")), CV_TEXT(checks),
	    CV_TEXT(cv_json_str(repo, "tenant_id", "")),
	    CV_TEXT(cv_json_str(repo, "created_at", "")),
	    CV_TEXT(cv_json_str(repo, "created_by", "system")) };
	err = cv_db_exec(s, "INSERT INTO repositories (name, url, target,"
	    " checks, tenant_id, created_at, created_by) VALUES"
	    " (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", p, 7, &changes);
	free(checks);
	if (err == CV_OK && changes == 0)
		return CV_EEXIST;
	return err;
}

#define REPO_COLUMNS "name, url, target, checks, tenant_id, created_at," \
	" created_by"

static json_t *repo_from_row(const json_t *row)
{
	const char *tenant = json_string_value(json_array_get(row, 4));

	return json_pack("{s:O,s:O,s:O,s:o,s:o,s:O,s:O}",
	    "name", json_array_get(row, 0), "url", json_array_get(row, 1),
	    "target", json_array_get(row, 2),
	    "checks", cv_db_json_cell(json_array_get(row, 3), 1),
	    "tenant_id", cv_json_str_or_null(tenant && *tenant ? tenant : NULL),
	    "created_at", json_array_get(row, 5),
	    "created_by", json_array_get(row, 6));
}

enum cv_err cv_repo_get(struct cv_store *s, const char *name, json_t **out)
{
	json_t *rows = NULL, *row;
	enum cv_err err;

	*out = NULL;
	struct cv_param p[] = { CV_TEXT(name) };
	err = cv_db_query(s, "SELECT " REPO_COLUMNS " FROM repositories"
	    " WHERE name = ?", p, 1, &rows);
	if (err != CV_OK)
		return err;
	if ((row = json_array_get(rows, 0)) && !(*out = repo_from_row(row)))
		err = CV_ENOMEM;
	json_decref(rows);
	return err;
}

json_t *cv_repo_list(struct cv_store *s, const char *tenant_id)
{
	json_t *rows = NULL;
	enum cv_err err;

	if (tenant_id) {
		struct cv_param p[] = { CV_TEXT(tenant_id) };
		err = cv_db_query(s, "SELECT " REPO_COLUMNS " FROM repositories"
		    " WHERE tenant_id = ? ORDER BY name", p, 1, &rows);
	} else
		err = cv_db_query(s, "SELECT " REPO_COLUMNS " FROM repositories"
		    " ORDER BY name", NULL, 0, &rows);
	if (err != CV_OK)
		return NULL;
	return cv_json_map_take(rows, repo_from_row);
}

json_t *cv_repo_page(struct cv_store *s, const char *tenant_id,
    const char *after_name, int limit)
{
	json_t *rows = NULL;
	struct cv_param p[] = { CV_TEXT(tenant_id),
	    CV_TEXT(after_name ? after_name : ""), CV_INT(limit) };
	/* by name (the primary key), or idx_repositories_tenant_name */
	enum cv_err err = tenant_id ?
	    cv_db_query(s, "SELECT " REPO_COLUMNS " FROM repositories"
	    " WHERE tenant_id = ?1 AND name > ?2 ORDER BY name LIMIT ?3", p, 3,
	    &rows) :
	    cv_db_query(s, "SELECT " REPO_COLUMNS " FROM repositories"
	    " WHERE name > ?2 ORDER BY name LIMIT ?3", p, 3, &rows);

	if (err != CV_OK)
		return NULL;
	return cv_json_map_take(rows, repo_from_row);
}

enum cv_err cv_repo_remove(struct cv_store *s, const char *name,
    bool *removed)
{
	long long changes = 0;
	struct cv_param p[] = { CV_TEXT(name) };
	enum cv_err err = cv_db_exec(s, "DELETE FROM repositories WHERE"
	    " name = ?", p, 1, &changes);

	*removed = changes > 0;
	return err;
}

enum cv_err cv_repo_of_intent(struct cv_store *s, const json_t *intent,
    json_t **out)
{
	const char *name = cv_json_str(cv_json_obj(intent, "technical"), "repo",
	    "");
	const char *mine = cv_json_str(intent, "tenant_id", NULL), *theirs;
	enum cv_err err;

	*out = NULL;
	if (!cv_repo_name_valid(name))
		return CV_OK;
	if ((err = cv_repo_get(s, name, out)) != CV_OK || !*out)
		return err;
	/* A tenant's registration is not another tenant's to land on or
	 * publish to, whatever repo its intent names. */
	theirs = cv_json_str(*out, "tenant_id", NULL);
	if (mine && *mine && theirs && *theirs && strcmp(mine, theirs) != 0) {
		json_decref(*out);
		*out = NULL;
	}
	return CV_OK;
}
