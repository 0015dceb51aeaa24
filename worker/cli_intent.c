/*
 * cli_intent.c - `intent create|list|status`, `simulate` and `validate`
 * (operations.md 7.2; domain.md 1.2, 3.2, 3.4).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "clock.h"
#include "intent_check.h"
#include "intents.h"
#include "jsonx.h"

/* ---- intent create ---------------------------------------------------------- */

/* The document of --from-branch; priority is kept even when 0 (O8). */
static json_t *branch_doc(const struct cli_args *a, const char *branch)
{
	char id[CV_ID12_LEN], bid[32];
	const char *given = cli_str_nonempty(a, "intent-id");
	json_t *doc;

	if (!given) {
		cv_id12(id);
		snprintf(bid, sizeof bid, "branch-%s", id);
	}
	doc = json_pack("{s:s,s:s,s:s}", "intent_id", given ? given : bid,
	    "source", branch, "target", cli_str_nonempty(a, "target") ?
	    cli_str(a, "target") : "main");
	if (doc && cli_given(a, "risk-level"))
		json_object_set_new(doc, "risk_level",
		    json_string(cli_str(a, "risk-level")));
	if (doc)
		json_object_set_new(doc, "priority",
		    json_integer(cli_int(a, "priority", 3)));
	if (doc && cli_str_nonempty(a, "tenant-id"))
		json_object_set_new(doc, "tenant_id",
		    json_string(cli_str(a, "tenant-id")));
	return doc;
}

/* The document of --file (- = stdin), or NULL with *errout set. */
static json_t *file_doc(const char *path, json_t **errout)
{
	json_error_t jerr;
	json_t *doc = strcmp(path, "-") == 0 ?
	    json_loadf(stdin, JSON_DECODE_ANY, &jerr) :
	    json_load_file(path, JSON_DECODE_ANY, &jerr);

	if (!doc) {
		*errout = cli_error("Cannot read intent file %s: %s", path,
		    jerr.text);
		return NULL;
	}
	if (!json_is_object(doc)) {
		json_decref(doc);
		*errout = cli_error("Intent file %s: expected a JSON object",
		    path);
		return NULL;
	}
	return doc;
}

static json_t *intent_create(struct cli_ctx *ctx, const struct cli_args *a)
{
	const char *file = cli_str_nonempty(a, "file");
	const char *branch = cli_str_nonempty(a, "from-branch");
	json_t *doc, *intent, *out = NULL;
	const char *why = NULL;
	struct cv_field_error fe;
	struct cv_engine e;

	if (!file && !branch)
		return cli_error("Either --file or --from-branch is required");
	if (file) {
		if (!(doc = file_doc(file, &out)))
			return out;
	} else if (!(doc = branch_doc(a, branch)))
		return NULL;
	/* The same rules and words as POST /v1/intents (D-8). */
	if (!cv_intent_check(doc, CV_INTENT_CLI, &fe)) {
		char text[300];
		cv_field_error_text(&fe, NULL, text, sizeof text);
		json_decref(doc);
		return cli_error("Invalid intent: %s", text);
	}
	intent = cv_intent_build(doc, true, ctx->actor, &why);
	json_decref(doc);
	if (!intent)
		return why ? cli_error("Invalid intent: %s", why) : NULL;
	cli_engine(ctx, &e);
	if (cv_engine_intent_create(&e, intent, true) == CV_OK)
		out = json_pack("{s:b,s:O,s:O}", "ok", 1, "intent_id",
		    json_object_get(intent, "id"), "status",
		    json_object_get(intent, "status"));
	json_decref(intent);
	return out;
}

static json_t *intent_list(struct cli_ctx *ctx, const struct cli_args *a)
{
	return cv_intent_list(ctx->store, cli_str_nonempty(a, "status"),
	    cli_str_nonempty(a, "tenant-id"), 200);
}

static json_t *intent_status(struct cli_ctx *ctx, const struct cli_args *a)
{
	struct cv_engine e;

	cli_engine(ctx, &e);
	return cv_engine_set_status(&e, cli_str(a, "intent-id"),
	    cli_str(a, "status"));
}

static const struct cli_flag create_flags[] = {
	{ "file", CLI_STR, false, NULL, 0, 0,
	    "JSON intent document (- reads stdin)" },
	{ "from-branch", CLI_STR, false, NULL, 0, 0,
	    "create the intent for this source branch" },
	{ "target", CLI_STR, false, NULL, 0, 0,
	    "target branch (default main; with --from-branch)" },
	{ "intent-id", CLI_STR, false, NULL, 0, 0,
	    "intent id (default branch-<id12>; with --from-branch)" },
	{ "risk-level", CLI_CHOICE, false, cli_levels, 0, 0,
	    "declared risk level (default medium; with --from-branch)" },
	{ "priority", CLI_INT, false, NULL, 0, 1000,
	    "queue priority 0..1000, lower first; 0 is kept (default 3)" },
	{ "tenant-id", CLI_STR, false, NULL, 0, 0,
	    "tenant (with --from-branch)" },
};

static const struct cli_flag list_flags[] = {
	{ "status", CLI_CHOICE, false, cli_statuses, 0, 0, "only this status" },
	{ "tenant-id", CLI_STR, false, NULL, 0, 0, "only this tenant" },
};

static const struct cli_flag status_flags[] = {
	{ "intent-id", CLI_STR, true, NULL, 0, 0, "the intent" },
	{ "status", CLI_CHOICE, true, cli_statuses, 0, 0, "the new status" },
};

static const struct cli_cmd intent_cmds[] = {
	CLI_CMD("create", "Create (or overwrite) an intent from a JSON file or "
	    "a branch; appends intent.created.", create_flags, intent_create),
	CLI_CMD("list", "List intents (at most 200), by priority then age.",
	    list_flags, intent_list),
	CLI_CMD("status", "Set an intent's status; appends "
	    "intent.status_changed.", status_flags, intent_status),
};

const struct cli_group cli_intent_group = { "intent",
	"Create, list and set the status of merge intents.", intent_cmds,
	CV_ARRAY_LEN(intent_cmds), false };

/* ---- simulate --------------------------------------------------------------- */

static json_t *simulate(struct cli_ctx *ctx, const struct cli_args *a)
{
	struct cv_engine e;
	json_t *sim, *out;

	cli_engine(ctx, &e);
	sim = cv_engine_simulate(&e, cli_str(a, "source"), cli_str(a, "target"),
	    cli_str_nonempty(a, "intent-id"));
	if (!sim || json_object_get(sim, "error"))
		return sim;
	out = json_pack("{s:O,s:O,s:O,s:O,s:O,s:O}", "mergeable",
	    json_object_get(sim, "mergeable"), "conflicts",
	    json_object_get(sim, "conflicts"), "files_changed",
	    json_object_get(sim, "files_changed"), "source",
	    json_object_get(sim, "source"), "target",
	    json_object_get(sim, "target"), "timestamp",
	    json_object_get(sim, "timestamp"));
	json_decref(sim);
	return out;
}

static const struct cli_flag simulate_flags[] = {
	{ "source", CLI_STR, true, NULL, 0, 0, "source branch" },
	{ "target", CLI_STR, true, NULL, 0, 0, "target branch" },
	{ "intent-id", CLI_STR, false, NULL, 0, 0,
	    "record the simulation for this intent" },
};

static const struct cli_cmd simulate_cmds[] = {
	CLI_CMD("simulate", "Simulate merging source into target in the "
	    "current git repository (no working-tree changes); appends "
	    "simulation.completed.", simulate_flags, simulate),
};

const struct cli_group cli_simulate_group = { "simulate",
	"Simulate a merge (git merge-tree) without touching the work tree.",
	simulate_cmds, 1, true };

/* ---- validate ----------------------------------------------------------------- */

/* Saves --source/--target into the intent before validating (7.2); a
 * terminal intent is left as it is, since validation refuses it. */
static enum cv_err save_refs(struct cli_ctx *ctx, json_t *intent,
    const struct cli_args *a)
{
	const char *src = cli_str_nonempty(a, "source");
	const char *dst = cli_str_nonempty(a, "target");

	if ((!src && !dst) || cv_status_terminal(cv_json_str(intent, "status",
	    "")))
		return CV_OK;
	if (src)
		json_object_set_new(intent, "source", json_string(src));
	if (dst)
		json_object_set_new(intent, "target", json_string(dst));
	return cv_intent_upsert(ctx->store, intent);
}

json_t *cli_validate_run(struct cli_ctx *ctx, const struct cli_args *a)
{
	const char *id = cli_str(a, "intent-id");
	struct cv_validate_opts o = { NULL, cli_given(a, "use-last-simulation"),
	    cli_given(a, "skip-checks") };
	struct cv_engine e;
	json_t *intent = NULL;
	enum cv_err err;

	if (cv_intent_get(ctx->store, id, &intent) != CV_OK)
		return NULL;
	if (!intent)
		return cli_error("Intent %s not found", id);
	struct cv_field_error fe;
	if (!cv_intent_check_refs(cli_str_nonempty(a, "source"),
	    cli_str_nonempty(a, "target"), &fe)) {
		char text[300];
		cv_field_error_text(&fe, NULL, text, sizeof text);
		json_decref(intent);
		return cli_error("Invalid intent: %s", text);
	}
	err = save_refs(ctx, intent, a);
	json_decref(intent);
	if (err != CV_OK)
		return NULL;
	cli_engine(ctx, &e);
	return cv_engine_validate(&e, id, &o);
}

const struct cli_flag cli_validate_flags[CLI_VALIDATE_NFLAGS] = {
	{ "intent-id", CLI_STR, true, NULL, 0, 0, "the intent" },
	{ "source", CLI_STR, false, NULL, 0, 0,
	    "set the intent's source branch first" },
	{ "target", CLI_STR, false, NULL, 0, 0,
	    "set the intent's target branch first" },
	{ "use-last-simulation", CLI_SWITCH, false, NULL, 0, 0,
	    "reuse the intent's newest simulation instead of running git" },
	{ "skip-checks", CLI_SWITCH, false, NULL, 0, 0,
	    "count the required checks as passed without running them" },
};

static const struct cli_cmd validate_cmds[] = {
	CLI_CMD("validate", "Run the validation pipeline: simulation, checks, "
	    "risk, policy gates, risk gate. A blocked decision still exits 0.",
	    cli_validate_flags, cli_validate_run),
};

const struct cli_group cli_validate_group = { "validate",
	"Validate an intent (simulation, checks, risk, policy).",
	validate_cmds, 1, true };
