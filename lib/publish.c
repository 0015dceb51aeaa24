/* publish.c - decisions to outbox rows. */
#include "publish.h"

#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "log.h"
#include "outbox.h"

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
	json_t *tech = cv_json_obj(intent, "technical");
	const char *decision = cv_json_str(result, "decision", NULL);

	if (!decision || !tech)
		return;
	cv_publish_enqueue(s, cfg, cv_json_str(tech, "repo", NULL),
	    cv_json_str(tech, "initial_base_commit", NULL),
	    json_object_get(tech, "installation_id"),
	    cv_json_str(intent, "id", ""), decision,
	    cv_json_str(result, "trace_id", NULL),
	    cv_json_num(cv_json_obj(result, "risk"), "risk_score", 0),
	    cv_json_str(result, "reason", NULL));
}
