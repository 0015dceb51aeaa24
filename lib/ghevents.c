/* ghevents.c - GitHub deliveries as plans, and plans carried out
 * (http-api.md 7, decisions.md D-5, D-8, D-9). */
#include "ghevents.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "db.h"
#include "eventlog.h"
#include "intents.h"
#include "jsonx.h"
#include "publish.h"
#include "repos.h"

/* ---- shape (D-8) ----------------------------------------------------------- */

static enum cv_err refuse(struct cv_field_error *e, const char *field,
    const char *msg)
{
	if (e) {
		snprintf(e->field, sizeof e->field, "%s", field);
		snprintf(e->message, sizeof e->message, "%s", msg);
	}
	return CV_EINVAL;
}

static bool nonempty_str(const json_t *v)
{
	return json_is_string(v) && json_string_length(v) > 0;
}

static const char *repo_name(const json_t *body)
{
	return cv_json_str(cv_json_obj(body, "repository"), "full_name", "");
}

static enum cv_err repo_shape(const json_t *body, struct cv_field_error *e)
{
	if (!nonempty_str(json_object_get(cv_json_obj(body, "repository"),
	    "full_name")))
		return refuse(e, "repository.full_name", "Field required (a "
		    "non-empty string)");
	return CV_OK;
}

/* The PR number: pull_request.number, else the top-level number. */
static long long pr_number(const json_t *body)
{
	json_t *n = json_object_get(cv_json_obj(body, "pull_request"), "number");

	if (!n)
		n = json_object_get(body, "number");
	return json_is_integer(n) ? json_integer_value(n) : 0;
}

static enum cv_err pr_shape(const json_t *body, struct cv_field_error *e)
{
	json_t *pr = json_object_get(body, "pull_request");

	if (!json_is_object(pr))
		return refuse(e, "pull_request", "Input should be an object");
	if (repo_shape(body, e) != CV_OK)
		return CV_EINVAL;
	if (pr_number(body) <= 0)
		return refuse(e, "pull_request.number", "Input should be a "
		    "positive integer");
	if (!nonempty_str(json_object_get(cv_json_obj(pr, "head"), "ref")))
		return refuse(e, "pull_request.head.ref", "Field required (a "
		    "non-empty string)");
	if (!nonempty_str(json_object_get(cv_json_obj(pr, "base"), "ref")))
		return refuse(e, "pull_request.base.ref", "Field required (a "
		    "non-empty string)");
	return CV_OK;
}

static enum cv_err push_shape(const json_t *body, struct cv_field_error *e)
{
	if (!json_is_string(json_object_get(body, "ref")))
		return refuse(e, "ref", "Field required (a string)");
	return repo_shape(body, e);
}

static enum cv_err group_shape(const json_t *body, struct cv_field_error *e)
{
	json_t *mg = json_object_get(body, "merge_group");

	if (!json_is_object(mg))
		return refuse(e, "merge_group", "Input should be an object");
	if (!nonempty_str(json_object_get(mg, "head_sha")))
		return refuse(e, "merge_group.head_sha", "Field required (a "
		    "non-empty string)");
	return repo_shape(body, e);
}

/* ---- plans ------------------------------------------------------------------- */

static json_t *installation_of(const json_t *body)
{
	json_t *inst = json_object_get(cv_json_obj(body, "installation"), "id");

	return inst && !json_is_null(inst) ? json_incref(inst) : json_null();
}

static bool registered(const struct cv_gh_opts *o, const char *name)
{
	return o->registered && o->registered(o->arg, name);
}

/* The checked, built Intent of doc (stolen), or CV_EINVAL naming the
 * field the shared validator refused. */
static enum cv_err intent_of(json_t *doc, json_t **out,
    struct cv_field_error *e)
{
	const char *why = NULL;

	*out = NULL;
	if (!doc)
		return CV_ENOMEM;
	if (!cv_intent_check(doc, CV_INTENT_WEBHOOK, e)) {
		json_decref(doc);
		return CV_EINVAL;
	}
	*out = cv_intent_build(doc, false, "github-webhook", &why);
	json_decref(doc);
	if (!*out)
		return why ? refuse(e, "pull_request", why) : CV_ENOMEM;
	return CV_OK;
}

static void pr_intent_id(const json_t *body, char *out, size_t size)
{
	snprintf(out, size, "%s:pr-%lld", repo_name(body), pr_number(body));
}

/* opened, synchronize, reopened: the PR's intent, READY. For a registered
 * repository the source is GitHub's refs/pull/<n>/head pinned to the
 * payload's head sha (D-9): exactly that commit is tested and landed. */
static enum cv_err plan_pr_create(const json_t *body,
    const struct cv_gh_opts *o, json_t **plan, struct cv_field_error *e)
{
	json_t *pr = cv_json_obj(body, "pull_request");
	json_t *head = cv_json_obj(pr, "head"), *base = cv_json_obj(pr, "base");
	const char *title = cv_json_str(pr, "title", "");
	const char *repo = repo_name(body), *sha = cv_json_str(head, "sha", "");
	bool reg = registered(o, repo);
	char id[600], pull[64];
	json_t *intent, *inst = installation_of(body);
	enum cv_err err;

	pr_intent_id(body, id, sizeof id);
	snprintf(pull, sizeof pull, "refs/pull/%lld/head", pr_number(body));
	json_t *doc = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i,"
	    "s:{s:s,s:s},s:{s:s,s:s,s:s,s:s,s:I,s:O},s:[],s:[],s:i,s:o}",
	    "id", id, "source", reg ? pull : cv_json_str(head, "ref", ""),
	    "target", cv_json_str(base, "ref", "main"), "status", "READY",
	    "created_at", o->now_ts, "created_by", "github-webhook",
	    "risk_level", "medium", "priority", 3,
	    "semantic", "problem_statement", title, "objective", title,
	    "technical", "source_ref", cv_json_str(head, "ref", ""),
	    "target_ref", cv_json_str(base, "ref", "main"),
	    "initial_base_commit", sha, "repo", repo, "pr_number",
	    (json_int_t)pr_number(body), "installation_id", inst,
	    "checks_required", "dependencies", "retries", 0,
	    "tenant_id", cv_json_str_or_null(o->default_tenant));

	if (doc && reg && *sha)
		json_object_set_new(cv_json_obj(doc, "technical"), "head_sha",
		    json_string(sha));
	if ((err = intent_of(doc, &intent, e)) != CV_OK) {
		json_decref(inst);
		return err;
	}
	*plan = json_pack("{s:s,s:o,s:s,s:s,s:o,s:o}", "do", "create",
	    "intent", intent, "repo", repo, "head_sha", sha, "installation",
	    inst, "fetch", reg ? json_string(repo) : json_null());
	return *plan ? CV_OK : CV_ENOMEM;
}

static enum cv_err plan_pr_close(const json_t *body, json_t **plan)
{
	json_t *pr = cv_json_obj(body, "pull_request");
	bool merged = cv_json_bool(pr, "merged", false);
	char id[600];

	pr_intent_id(body, id, sizeof id);
	*plan = json_pack("{s:s,s:s,s:b,s:{s:s,s:s},s:s,s:s,s:o,s:b,s:b,s:s}",
	    "do", "close", "intent_id", id, "merged", merged, "extra",
	    "merge_commit_sha", cv_json_str(pr, "merge_commit_sha", ""),
	    "trigger", "github_pr_closed", "repo", repo_name(body), "head_sha",
	    cv_json_str(cv_json_obj(pr, "head"), "sha", ""), "installation",
	    installation_of(body), "publish", 1, "skip_terminal", 0,
	    "reply_action", merged ? "merged" : "rejected");
	return *plan ? CV_OK : CV_ENOMEM;
}

static enum cv_err plan_push(const json_t *body, const struct cv_gh_opts *o,
    json_t **plan)
{
	const char *ref = cv_json_str(body, "ref", "");
	const char *repo = repo_name(body);

	if (strncmp(ref, "refs/heads/", 11) != 0)
		*plan = json_pack("{s:s,s:{s:b,s:s,s:s}}", "do", "ignore",
		    "reply", "ok", 1, "action", "ignored", "reason",
		    "not_branch_push");
	else
		*plan = json_pack("{s:s,s:s,s:s,s:s,s:o}", "do", "revalidate",
		    "repo", repo, "branch", ref + 11, "head_sha",
		    cv_json_str(body, "after", ""), "fetch", registered(o, repo) ?
		    json_string(repo) : json_null());
	return *plan ? CV_OK : CV_ENOMEM;
}

static const char *branch_of(const char *ref)
{
	return strncmp(ref, "refs/heads/", 11) == 0 ? ref + 11 : ref;
}

static void group_intent_id(const json_t *body, char *out, size_t size)
{
	snprintf(out, size, "%s:mg-%.12s", repo_name(body), cv_json_str(
	    cv_json_obj(body, "merge_group"), "head_sha", ""));
}

/* checks_requested: the group's head becomes one READY intent flagged
 * technical.merge_group; the worker validates it and the outbox carries
 * the result to a check run on head_sha. */
static enum cv_err plan_group(const json_t *body, const struct cv_gh_opts *o,
    json_t **plan, struct cv_field_error *e)
{
	json_t *mg = cv_json_obj(body, "merge_group"), *intent;
	json_t *inst = installation_of(body);
	const char *sha = cv_json_str(mg, "head_sha", "");
	char id[600];
	enum cv_err err;

	group_intent_id(body, id, sizeof id);
	json_t *doc = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:{s:s,s:s},"
	    "s:{s:s,s:s,s:s,s:s,s:s,s:O,s:b},s:o}", "id", id,
	    "source", branch_of(cv_json_str(mg, "head_ref", "")),
	    "target", branch_of(cv_json_str(mg, "base_ref", "main")),
	    "status", "READY", "created_at", o->now_ts, "created_by",
	    "github-webhook", "semantic", "problem_statement", "merge group",
	    "objective", cv_json_str(cv_json_obj(mg, "head_commit"), "message",
	    ""), "technical", "source_ref", cv_json_str(mg, "head_ref", ""),
	    "target_ref", cv_json_str(mg, "base_ref", ""),
	    "initial_base_commit", sha, "base_sha", cv_json_str(mg, "base_sha",
	    ""), "repo", repo_name(body), "installation_id", inst,
	    "merge_group", 1, "tenant_id",
	    cv_json_str_or_null(o->default_tenant));

	if ((err = intent_of(doc, &intent, e)) != CV_OK) {
		json_decref(inst);
		return err;
	}
	*plan = json_pack("{s:s,s:o,s:s,s:s,s:o}", "do", "group", "intent",
	    intent, "repo", repo_name(body), "head_sha", sha, "installation",
	    inst);
	return *plan ? CV_OK : CV_ENOMEM;
}

/* destroyed: the group left the queue; merged when GitHub merged it,
 * rejected otherwise (invalidated, dequeued). */
static enum cv_err plan_group_close(const json_t *body, json_t **plan)
{
	const char *reason = cv_json_str(body, "reason", "");
	bool merged = strcmp(reason, "merged") == 0;
	char id[600];

	group_intent_id(body, id, sizeof id);
	*plan = json_pack("{s:s,s:s,s:b,s:{s:s,s:s},s:b,s:b,s:s}", "do",
	    "close", "intent_id", id, "merged", merged, "extra", "reason",
	    reason, "trigger", "merge_group_destroyed", "publish", 0,
	    "skip_terminal", 1, "reply_action", merged ? "merged" : "destroyed");
	return *plan ? CV_OK : CV_ENOMEM;
}

enum cv_err cv_gh_plan_build(const char *event, const json_t *body,
    const struct cv_gh_opts *o, json_t **plan_out,
    struct cv_field_error *err)
{
	const char *action = cv_json_str(body, "action", "");
	enum cv_err rc;

	*plan_out = NULL;
	if (!json_is_object(body))
		return refuse(err, "body", "Input should be an object");
	if (!strcmp(event, "pull_request")) {
		if ((rc = pr_shape(body, err)) != CV_OK)
			return rc;
		if (!strcmp(action, "opened") || !strcmp(action, "synchronize") ||
		    !strcmp(action, "reopened"))
			return plan_pr_create(body, o, plan_out, err);
		if (!strcmp(action, "closed"))
			return plan_pr_close(body, plan_out);
	} else if (!strcmp(event, "push")) {
		if ((rc = push_shape(body, err)) != CV_OK)
			return rc;
		return plan_push(body, o, plan_out);
	} else if (!strcmp(event, "merge_group") &&
	    (!strcmp(action, "checks_requested") || !strcmp(action,
	    "destroyed"))) {
		if ((rc = group_shape(body, err)) != CV_OK)
			return rc;
		if (!strcmp(action, "checks_requested"))
			return plan_group(body, o, plan_out, err);
		return plan_group_close(body, plan_out);
	}
	*plan_out = json_pack("{s:s}", "do", "ignore");
	return *plan_out ? CV_OK : CV_ENOMEM;
}

/* ---- carrying a plan out ------------------------------------------------------ */

struct apply {
	struct cv_store *s;
	const struct cv_config *cfg;
	const json_t *plan;
	const struct cv_gh_ready *ready;
	const char *delivery_id;
	json_t *reply;
};

static const char *pstr(const struct apply *a, const char *key)
{
	return cv_json_str(a->plan, key, "");
}

/* The intent.created event of a plan's intent, made ready. */
static enum cv_err created_row(const json_t *intent, struct cv_event_row *r)
{
	return cv_event_row_make(r, "intent.created", cv_json_str(intent, "id",
	    ""), NULL, cv_json_str(intent, "tenant_id", NULL), NULL,
	    json_deep_copy(intent), NULL);
}

static enum cv_err append_created(struct apply *a, const json_t *intent)
{
	struct cv_event_row row;
	enum cv_err err;

	if (a->ready && a->ready->has_created)
		return cv_event_row_append(a->s, &a->ready->created);
	if ((err = created_row(intent, &row)) == CV_OK)
		err = cv_event_row_append(a->s, &row);
	cv_event_row_free(&row);
	return err;
}

static enum cv_err created(struct apply *a, const json_t *intent)
{
	const char *id = cv_json_str(intent, "id", "");
	enum cv_err err = cv_intent_upsert(a->s, intent);

	if (err == CV_OK)
		err = append_created(a, intent);
	/* The verified delivery is where decisions about it are published. */
	if (err == CV_OK)
		err = cv_publish_target_record(a->s, id, pstr(a, "repo"),
		    pstr(a, "head_sha"), json_object_get(a->plan,
		    "installation"));
	if (err == CV_OK)
		err = cv_publish_enqueue(a->s, a->cfg, pstr(a, "repo"),
		    pstr(a, "head_sha"), json_object_get(a->plan,
		    "installation"), id, "pending", NULL, 0, NULL);
	return err;
}

static enum cv_err apply_create(struct apply *a)
{
	const json_t *intent = json_object_get(a->plan, "intent");

	a->reply = json_pack("{s:b,s:s,s:s}", "ok", 1, "intent_id",
	    cv_json_str(intent, "id", ""), "action", "created");
	return created(a, intent);
}

static enum cv_err apply_group(struct apply *a)
{
	const json_t *intent = json_object_get(a->plan, "intent");

	a->reply = json_pack("{s:b,s:s,s:s,s:s}", "ok", 1, "delivery_id",
	    a->delivery_id, "intent_id", cv_json_str(intent, "id", ""),
	    "action", "validation_queued");
	return created(a, intent);
}

/* GitHub ended an intent's life (T13): MERGED or REJECTED with the
 * matching event, payload {source, target, merged} and the trigger's
 * keys. */
static enum cv_err close_intent(struct apply *a, const json_t *intent,
    bool merged)
{
	const char *id = cv_json_str(intent, "id", "");
	json_t *payload = json_pack("{s:O,s:O,s:b}", "source",
	    json_object_get(intent, "source"), "target",
	    json_object_get(intent, "target"), "merged", merged);
	enum cv_err err;

	json_object_update(payload, json_object_get(a->plan, "extra"));
	err = cv_intent_update_status(a->s, id, merged ? "MERGED" : "REJECTED",
	    -1);
	if (err == CV_OK)
		return cv_event_emit(a->s, merged ? "intent.merged" :
		    "intent.rejected", id, NULL, cv_json_str(intent, "tenant_id",
		    NULL), NULL, payload, NULL);
	json_decref(payload);
	return err;
}

static enum cv_err apply_close(struct apply *a)
{
	const char *id = pstr(a, "intent_id");
	bool merged = cv_json_bool(a->plan, "merged", false);
	json_t *intent = NULL;
	enum cv_err err;

	if ((err = cv_intent_get(a->s, id, &intent)) != CV_OK)
		return err;
	if (!intent || (cv_json_bool(a->plan, "skip_terminal", false) &&
	    cv_status_terminal(cv_json_str(intent, "status", "")))) {
		a->reply = json_pack("{s:b,s:s,s:s,s:s}", "ok", 1, "intent_id",
		    id, "action", "ignored", "reason", intent ? "terminal" :
		    "unknown_intent");
		json_decref(intent);
		return CV_OK;
	}
	err = close_intent(a, intent, merged);
	if (err == CV_OK && cv_json_bool(a->plan, "publish", false))
		err = cv_publish_enqueue(a->s, a->cfg, pstr(a, "repo"),
		    pstr(a, "head_sha"), json_object_get(a->plan,
		    "installation"), id, merged ? "merged" : "rejected", NULL, 0,
		    merged ? "PR merged" : "PR closed");
	a->reply = json_pack("{s:b,s:s,s:s}", "ok", 1, "intent_id", id,
	    "action", pstr(a, "reply_action"));
	json_decref(intent);
	return err;
}

static enum cv_err revalidate_one(struct apply *a, json_t *intent,
    json_t *ids)
{
	const char *id = cv_json_str(intent, "id", "");
	const char *head = pstr(a, "head_sha");
	json_t *tech = cv_json_obj(intent, "technical"), *t = NULL;
	enum cv_err err;

	if (!tech) {
		json_object_set_new(intent, "technical", json_object());
		tech = cv_json_obj(intent, "technical");
	}
	json_object_set_new(tech, "initial_base_commit", json_string(head));
	json_object_set_new(intent, "status", json_string("READY"));
	if ((err = cv_intent_upsert(a->s, intent)) != CV_OK)
		return err;
	err = cv_event_emit(a->s, "intent.requeued", id, NULL,
	    cv_json_str(intent, "tenant_id", NULL), NULL, json_pack(
	    "{s:s,s:s,s:s}", "trigger", "push_revalidation", "branch",
	    pstr(a, "branch"), "new_head_sha", head), NULL);
	/* Only a target a verified delivery bound to this repository moves;
	 * a branch name alone does not make an intent publishable here. */
	if (err == CV_OK)
		err = cv_publish_target_move(a->s, id, pstr(a, "repo"), head);
	if (err == CV_OK && (err = cv_publish_target(a->s, intent, &t)) ==
	    CV_OK && t)
		err = cv_publish_enqueue(a->s, a->cfg, cv_json_str(t, "repo",
		    NULL), cv_json_str(t, "head_sha", NULL), json_object_get(t,
		    "installation_id"), id, "pending", NULL, 0,
		    "Re-push detected, revalidating");
	json_decref(t);
	json_array_append_new(ids, json_string(id));
	return err;
}

static enum cv_err apply_revalidate(struct apply *a)
{
	static const char *const statuses[] = { "READY", "VALIDATED" };
	const char *branch = pstr(a, "branch"), *repo = pstr(a, "repo");
	json_t *ids = json_array(), *list, *in;
	enum cv_err err = CV_OK;
	size_t i;

	for (size_t k = 0; k < 2 && err == CV_OK; k++) {
		/* No 200 cap here (D19): every matching intent is revalidated. */
		if (!(list = cv_intent_list(a->s, statuses[k], NULL, 1000000))) {
			err = CV_ESTORE;
			break;
		}
		json_array_foreach(list, i, in) {
			const char *r = cv_json_str(cv_json_obj(in, "technical"),
			    "repo", "");
			if (strcmp(cv_json_str(in, "source", ""), branch) != 0 ||
			    (*r && strcmp(r, repo) != 0))
				continue;
			if ((err = revalidate_one(a, in, ids)) != CV_OK)
				break;
		}
		json_decref(list);
	}
	a->reply = json_pack("{s:b,s:s,s:o}", "ok", 1, "action",
	    "push_processed", "revalidated", ids);
	return err;
}

enum cv_err cv_gh_plan_ready(const json_t *plan, struct cv_gh_ready *out)
{
	const char *what = cv_json_str(plan, "do", "ignore");
	enum cv_err err;

	memset(out, 0, sizeof *out);
	if (strcmp(what, "create") && strcmp(what, "group"))
		return CV_OK;
	err = created_row(json_object_get(plan, "intent"), &out->created);
	out->has_created = true;
	return err;
}

void cv_gh_ready_free(struct cv_gh_ready *r)
{
	if (r->has_created)
		cv_event_row_free(&r->created);
	r->has_created = false;
}

enum cv_err cv_gh_plan_apply(struct cv_store *s, const struct cv_config *cfg,
    const json_t *plan, const struct cv_gh_ready *ready,
    const char *delivery_id, json_t **reply_out)
{
	struct apply a = { s, cfg, plan, ready, delivery_id ? delivery_id : "",
	    NULL };
	const char *what = cv_json_str(plan, "do", "ignore");
	const char *fetch = cv_json_str(plan, "fetch", NULL);
	enum cv_err err = CV_OK;

	if (!strcmp(what, "create"))
		err = apply_create(&a);
	else if (!strcmp(what, "close"))
		err = apply_close(&a);
	else if (!strcmp(what, "revalidate"))
		err = apply_revalidate(&a);
	else if (!strcmp(what, "group"))
		err = apply_group(&a);
	else if (json_object_get(plan, "reply"))
		a.reply = json_deep_copy(json_object_get(plan, "reply"));
	else
		a.reply = json_pack("{s:b,s:s}", "ok", 1, "delivery_id",
		    a.delivery_id);
	/* D-9: the worker fetches; the answer never waits on a remote. */
	if (err == CV_OK && fetch && *fetch)
		err = cv_gh_fetch_request(s, fetch);
	if (err == CV_OK && !a.reply)
		err = CV_ENOMEM;
	if (err != CV_OK) {
		json_decref(a.reply);
		a.reply = NULL;
	}
	*reply_out = a.reply;
	return err;
}

bool cv_gh_registered_in_store(void *arg, const char *name)
{
	json_t *repo = NULL;
	bool yes;

	if (!cv_repo_name_valid(name) || cv_repo_get(arg, name, &repo) !=
	    CV_OK)
		return false;
	yes = repo != NULL;
	json_decref(repo);
	return yes;
}

enum cv_err cv_gh_fetch_request(struct cv_store *s, const char *repo)
{
	char ts[CV_TS_LEN];

	cv_now_ts(ts);
	struct cv_param p[] = { CV_TEXT(repo), CV_TEXT(ts) };
	return cv_db_exec(s, "INSERT INTO mirror_fetches (repo, requested_at)"
	    " VALUES (?, ?) ON CONFLICT (repo) DO UPDATE SET"
	    " requested_at = excluded.requested_at", p, 2, NULL);
}

enum cv_err cv_gh_fetch_take(struct cv_store *s, json_t **repos_out)
{
	json_t *rows = NULL, *row;
	enum cv_err err;
	size_t i;

	*repos_out = NULL;
	if ((err = cv_db_query(s, "SELECT repo FROM mirror_fetches ORDER BY"
	    " requested_at LIMIT 100", NULL, 0, &rows)) != CV_OK)
		return err;
	*repos_out = json_array();
	json_array_foreach(rows, i, row) {
		struct cv_param p[] = { CV_TEXT(json_string_value(
		    json_array_get(row, 0))) };
		if (cv_db_exec(s, "DELETE FROM mirror_fetches WHERE repo = ?", p,
		    1, NULL) == CV_OK)
			json_array_append(*repos_out, json_array_get(row, 0));
	}
	json_decref(rows);
	return CV_OK;
}
