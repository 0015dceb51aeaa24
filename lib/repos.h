/*
 * repos.h - the registry of repositories (decisions.md D-9): which remote
 * an intent lands on. A registration is a row of the repositories table,
 * so every process and host sees a change at once.
 *
 * A Repository is {"name","url","target","checks":[...],"tenant_id",
 * "created_at","created_by"}. name is "owner/name" as GitHub writes
 * repository.full_name; url is anything `git fetch` takes. A URL may carry
 * credentials (https://user:secret@host/...): everything that leaves this
 * module for a log or an answer goes through cv_repo_url_redact_dup.
 *
 * Ownership follows cv.h.
 */
#ifndef CV_REPOS_H
#define CV_REPOS_H

#include <jansson.h>
#include <stdbool.h>

#include "cv.h"
#include "store.h"

#define CV_REPO_NAME_MAX 200
#define CV_REPO_URL_MAX 2000

/* "owner/name": two non-empty parts of [A-Za-z0-9._-], neither starting
 * with '.' or '-', at most CV_REPO_NAME_MAX bytes. */
bool cv_repo_name_valid(const char *name);

/* Non-empty, at most CV_REPO_URL_MAX bytes, no control characters or
 * spaces, and not starting with '-' (git would read it as an option). */
bool cv_repo_url_valid(const char *url);

/* url (or a text quoting URLs) with the user-info ("user:secret@") of
 * every scheme://... URL replaced
 * by "***@"; other forms are copied as they are. NULL on ENOMEM. */
char *cv_repo_url_redact_dup(const char *url);

/*
 * A Repository from its fields, checked: checks is an array of supported
 * check type names (NULL: none), target a branch name (NULL: "main").
 * On a bad field returns NULL and sets *err to a static text naming it
 * ("name: ...", "url: ...", "target: ...", "checks: ...").
 */
json_t *cv_repo_build(const char *name, const char *url, const char *target,
    const json_t *checks, const char *tenant_id, const char *actor,
    const char **err);

/* The Repository as shown to people: the URL redacted. New reference. */
json_t *cv_repo_view_new(const json_t *repo);

/* Inserts; CV_EEXIST (nothing written) when the name is registered. */
enum cv_err cv_repo_add(struct cv_store *s, const json_t *repo);

/* *out = the Repository, or NULL when absent (CV_OK either way). */
enum cv_err cv_repo_get(struct cv_store *s, const char *name, json_t **out);

/* Registrations ordered by name; tenant_id NULL = all. NULL on failure. */
json_t *cv_repo_list(struct cv_store *s, const char *tenant_id);

/* A keyset page of that list (page.h): at most limit repositories named
 * after after_name (NULL: from the first). New array, NULL on failure. */
json_t *cv_repo_page(struct cv_store *s, const char *tenant_id,
    const char *after_name, int limit);

/* Deletes the registration; *removed false when there was none. */
enum cv_err cv_repo_remove(struct cv_store *s, const char *name,
    bool *removed);

/* The registration an intent belongs to: technical.repo when it names a
 * registered repository that is global or of the intent's own tenant.
 * *out NULL when the intent has none. */
enum cv_err cv_repo_of_intent(struct cv_store *s, const json_t *intent,
    json_t **out);

#endif
