/* publish.c - decisions to outbox rows. */
#include "publish.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "db.h"
#include "eventlog.h"
#include "jsonx.h"
#include "log.h"
#include "outbox.h"
#include "repos.h"

static json_t *installation_of(const struct cv_config *cfg,
    const json_t *given)
{
	if (json_is_integer(given) && json_integer_value(given) > 0)
		return json_incref((json_t *)given);
	if (json_is_string(given) && *json_string_value(given))
		return json_string(json_string_value(given));
	return json_string(cfg->github_installation_id);
}

enum cv_err cv_publish_enqueue(struct cv_store *s,
    const struct cv_config *cfg, const char *repo, const char *head_sha,
    const json_t *installation, const char *intent_id, const char *decision,
    const char *trace_id, double risk_score, const char *reason)
{
	json_t *req;
	enum cv_err err;

	if (!cv_config_github_enabled(cfg))
		return CV_OK;
	if (!repo || !strchr(repo, '/') || !head_sha || !*head_sha)
		return CV_OK;
	req = json_pack("{s:s,s:s,s:o,s:s,s:s,s:s,s:f,s:s}", "repo", repo,
	    "head_sha", head_sha, "installation_id",
	    installation_of(cfg, installation), "intent_id", intent_id,
	    "decision", decision, "trace_id", trace_id ? trace_id : "",
	    "risk_score", risk_score, "reason", reason ? reason : "");
	if (!req)
		return CV_ENOMEM;
	err = cv_outbox_enqueue(s, req);
	if (err == CV_EINVAL) {
		/* Never publishable (odd repo name): logged, not an error for
		 * the decision that triggered it. */
		cv_log(CV_WARNING, "converge.github", "not publishing %s for %s:"
		    " invalid request", decision, intent_id);
		err = CV_OK;
	}
	json_decref(req);
	return err;
}

void cv_publish_decision_hook(void *arg, struct cv_store *s,
    const json_t *intent, const json_t *result)
{
	const struct cv_config *cfg = arg;
	const char *decision = cv_json_str(result, "decision", NULL);
	json_t *t = NULL;

	if (!decision || !cv_config_github_enabled(cfg))
		return;
	if (cv_publish_target(s, intent, &t) != CV_OK || !t)
		return;
	cv_publish_enqueue(s, cfg, cv_json_str(t, "repo", NULL),
	    cv_json_str(t, "head_sha", NULL),
	    json_object_get(t, "installation_id"),
	    cv_json_str(intent, "id", ""), decision,
	    cv_json_str(result, "trace_id", NULL),
	    cv_json_num(cv_json_obj(result, "risk"), "risk_score", 0),
	    cv_json_str(result, "reason", NULL));
	json_decref(t);
}

/* ---- publication targets ------------------------------------------------ */

void cv_publish_strip_routing(json_t *technical)
{
	static const char *const routing[] = { "repo", "installation_id",
	    "initial_base_commit", "pr_number", "merge_group", "base_sha",
	    "head_sha" };

	if (!json_is_object(technical))
		return;
	for (size_t i = 0; i < CV_ARRAY_LEN(routing); i++)
		json_object_del(technical, routing[i]);
}

/* An installation id as text: "" for none. */
static void installation_text(const json_t *v, char *out, size_t size)
{
	if (json_is_integer(v) && json_integer_value(v) > 0)
		snprintf(out, size, "%lld", (long long)json_integer_value(v));
	else if (json_is_string(v))
		snprintf(out, size, "%s", json_string_value(v));
	else
		out[0] = '\0';
}

enum cv_err cv_publish_target_record(struct cv_store *s,
    const char *intent_id, const char *repo, const char *head_sha,
    const json_t *installation)
{
	char inst[64], now[CV_TS_LEN];

	if (!intent_id || !*intent_id || !repo || !strchr(repo, '/') ||
	    !head_sha)
		return CV_OK;
	installation_text(installation, inst, sizeof inst);
	cv_now_ts(now);
	struct cv_param p[] = { CV_TEXT(intent_id), CV_TEXT(repo),
	    CV_TEXT(head_sha), CV_TEXT(inst), CV_TEXT(now) };
	return cv_db_exec(s, "INSERT INTO publish_targets (intent_id, repo,"
	    " head_sha, installation_id, source, updated_at)"
	    " VALUES (?1, ?2, ?3, ?4, 'webhook', ?5)"
	    " ON CONFLICT (intent_id) DO UPDATE SET repo = excluded.repo,"
	    " head_sha = excluded.head_sha,"
	    " installation_id = excluded.installation_id,"
	    " source = excluded.source, updated_at = excluded.updated_at",
	    p, 5, NULL);
}

enum cv_err cv_publish_target_move(struct cv_store *s, const char *intent_id,
    const char *repo, const char *head_sha)
{
	char now[CV_TS_LEN];

	cv_now_ts(now);
	struct cv_param p[] = { CV_TEXT(head_sha), CV_TEXT(now),
	    CV_TEXT(intent_id), CV_TEXT(repo) };
	return cv_db_exec(s, "UPDATE publish_targets SET head_sha = ?,"
	    " updated_at = ? WHERE intent_id = ? AND repo = ?", p, 4, NULL);
}

/* Second source (D-9): the intent's registered repository, published on
 * the source commit its newest simulation tested. An unregistered name
 * is no target: a request body cannot pick where results go. */
static enum cv_err registered_target(struct cv_store *s, const json_t *intent,
    json_t **out)
{
	json_t *repo = NULL, *ev = NULL;
	const char *sha;
	enum cv_err err;

	if ((err = cv_repo_of_intent(s, intent, &repo)) != CV_OK || !repo)
		return err;
	err = cv_event_latest(s, "simulation.completed", cv_json_str(intent,
	    "id", ""), &ev);
	sha = cv_json_str(json_object_get(ev, "payload"), "source_sha", "");
	if (err == CV_OK && *sha && !(*out = json_pack("{s:O,s:s,s:s,s:s}",
	    "repo", json_object_get(repo, "name"), "head_sha", sha,
	    "installation_id", "", "source", "registered")))
		err = CV_ENOMEM;
	json_decref(ev);
	json_decref(repo);
	return err;
}

enum cv_err cv_publish_target(struct cv_store *s, const json_t *intent,
    json_t **out)
{
	json_t *rows = NULL, *row;
	enum cv_err err;

	*out = NULL;
	struct cv_param p[] = { CV_TEXT(cv_json_str(intent, "id", "")) };
	err = cv_db_query(s, "SELECT repo, head_sha, installation_id, source"
	    " FROM publish_targets WHERE intent_id = ?", p, 1, &rows);
	if (err != CV_OK)
		return err;
	if ((row = json_array_get(rows, 0)))
		*out = json_pack("{s:O,s:O,s:O,s:O}", "repo",
		    json_array_get(row, 0), "head_sha", json_array_get(row, 1),
		    "installation_id", json_array_get(row, 2), "source",
		    json_array_get(row, 3));
	json_decref(rows);
	if (row && !*out)
		return CV_ENOMEM;
	if (!row)
		return registered_target(s, intent, out);
	return CV_OK;
}
