/*
 * cli_audit.c - `audit prune|events` and `export decisions`
 * (operations.md 7.2, 2.1, O11; domain.md 9.4).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "files.h"
#include "clock.h"
#include "eventlog.h"
#include "insight.h"
#include "jsonx.h"
#include "num.h"

#define DAY_US ((int64_t)86400 * 1000000)
#define DELIVERY_MIN_DAYS 7    /* O11: redeliveries stay deduplicated */

static json_t *audit_prune(struct cli_ctx *ctx, const struct cli_args *a)
{
	long long days = cli_int(a, "retention-days", 90);
	bool dry = cli_given(a, "dry-run");
	char before[CV_TS_LEN], dbefore[CV_TS_LEN];
	long long n = 0, nd = 0;
	int64_t now = cv_now_us();

	cv_ts_from_us(before, now - days * DAY_US);
	if (cv_event_prune(ctx->store, before, cli_str_nonempty(a, "tenant-id"),
	    dry, &n) != CV_OK)
		return NULL;
	/* Webhook deliveries go with the events (O11), never younger than a
	 * week; they belong to no tenant, so a tenant prune leaves them. */
	cv_ts_from_us(dbefore, now - (days > DELIVERY_MIN_DAYS ? days :
	    DELIVERY_MIN_DAYS) * DAY_US);
	if (!dry && !cli_str_nonempty(a, "tenant-id") &&
	    cv_delivery_prune(ctx->store, dbefore, &nd) != CV_OK)
		return NULL;
	return json_pack("{s:I,s:s,s:b}", "pruned", (json_int_t)n, "before",
	    before, "dry_run", dry);
}

static json_t *audit_events(struct cli_ctx *ctx, const struct cli_args *a)
{
	struct cv_event_filter f = { cli_str_nonempty(a, "type"),
	    cli_str_nonempty(a, "intent-id"), cli_str_nonempty(a, "agent-id"),
	    cli_str_nonempty(a, "tenant-id"), cli_str_nonempty(a, "since"),
	    NULL, (int)cli_int(a, "limit", 100) };

	return cv_event_query(ctx->store, &f);
}

static const struct cli_flag prune_flags[] = {
	{ "retention-days", CLI_INT, false, NULL, 0, 36500,
	    "keep events of the last N days (default 90)" },
	{ "tenant-id", CLI_STR, false, NULL, 0, 0, "only this tenant's events" },
	{ "dry-run", CLI_SWITCH, false, NULL, 0, 0,
	    "count what would be pruned, delete nothing" },
};

static const struct cli_flag events_flags[] = {
	{ "type", CLI_STR, false, NULL, 0, 0, "event type" },
	{ "intent-id", CLI_STR, false, NULL, 0, 0, "intent" },
	{ "agent-id", CLI_STR, false, NULL, 0, 0, "agent" },
	{ "tenant-id", CLI_STR, false, NULL, 0, 0, "tenant" },
	{ "since", CLI_STR, false, NULL, 0, 0, "timestamp lower bound" },
	{ "limit", CLI_INT, false, NULL, 1, 1000000,
	    "at most N events, newest first (default 100)" },
};

static const struct cli_cmd audit_cmds[] = {
	CLI_CMD("prune", "Delete events older than the retention (and webhook "
	    "deliveries older than max(retention, 7 days)).", prune_flags,
	    audit_prune),
	CLI_CMD("events", "Query the event log, newest first.", events_flags,
	    audit_events),
};

const struct cli_group cli_audit_group = { "audit",
	"Query and prune the audit log.", audit_cmds, CV_ARRAY_LEN(audit_cmds),
	false };

/* ---- export decisions ---------------------------------------------------------- */

static const char *const formats[] = { "jsonl", "csv", NULL };

/* One CSV field the way Python's csv module writes it: null empty,
 * booleans True/False, quotes only where needed. */
static void csv_field(FILE *f, const json_t *v, bool join)
{
	char num[64], *text = NULL;
	const char *s = num;

	if (join && json_is_array(v)) {
		size_t i, n = 0, cap = 1;
		json_t *x;
		json_array_foreach(v, i, x)
			cap += json_string_length(x) + 1;
		if ((text = malloc(cap)))
			text[0] = '\0';
		json_array_foreach(v, i, x)
			if (text && json_is_string(x))
				n += (size_t)sprintf(text + n, "%s%s", n ? "," : "",
				    json_string_value(x));
		s = text ? text : "";
	} else if (!v || json_is_null(v))
		s = "";
	else if (json_is_string(v))
		s = json_string_value(v);
	else if (json_is_boolean(v))
		s = json_is_true(v) ? "True" : "False";
	else if (json_is_integer(v))
		snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		cv_num(num, sizeof num, json_real_value(v));
	else
		s = text = cv_json_dump(v);
	if (!s)
		s = "";
	if (strpbrk(s, ",\"\r\n")) {
		fputc('"', f);
		for (; *s; s++) {
			if (*s == '"')
				fputc('"', f);
			fputc(*s, f);
		}
		fputc('"', f);
	} else
		fputs(s, f);
	free(text);
}

static void write_csv(FILE *f, const json_t *records)
{
	const json_t *first = json_array_get(records, 0), *r, *v;
	const char *key;
	size_t i;
	bool sep;

	sep = false;
	json_object_foreach((json_t *)first, key, v) {
		fprintf(f, "%s%s", sep ? "," : "", key);
		sep = true;
	}
	fputs("\r\n", f);
	json_array_foreach(records, i, r) {
		sep = false;
		json_object_foreach((json_t *)first, key, v) {
			if (sep)
				fputc(',', f);
			csv_field(f, json_object_get(r, key),
			    strcmp(key, "bomb_types") == 0);
			sep = true;
		}
		fputs("\r\n", f);
	}
}

static bool write_jsonl(FILE *f, const json_t *records)
{
	const json_t *r;
	size_t i;

	json_array_foreach(records, i, r) {
		char *line = cv_json_dump(r);
		if (!line)
			return false;
		fprintf(f, "%s\n", line);
		free(line);
	}
	return true;
}

/* Writes the file; a CSV without records is not written (9.4). */
static json_t *write_export(const char *path, const char *fmt,
    const json_t *records)
{
	bool csv = strcmp(fmt, "csv") == 0, ok;
	FILE *f;

	if (csv && json_array_size(records) == 0)
		return NULL;
	if (cv_mkdir_parents(path) != 0 || !(f = fopen(path, "w")))
		return cli_error("Cannot write %s: %s", path, strerror(errno));
	if (csv)
		write_csv(f, records);
	ok = csv || write_jsonl(f, records);
	ok = fclose(f) == 0 && ok;
	return ok ? NULL : cli_error("Cannot write %s: %s", path,
	    strerror(errno));
}

static json_t *export_decisions(struct cli_ctx *ctx, const struct cli_args *a)
{
	const char *fmt = cli_str(a, "format") ? cli_str(a, "format") : "jsonl";
	const char *tenant = cli_str_nonempty(a, "tenant-id");
	char def[64], ts[CV_TS_LEN];
	const char *path = cli_str(a, "output");
	json_t *records = NULL, *err, *out;

	snprintf(def, sizeof def, ".converge/datasets/decisions.%s", fmt);
	if (!path)
		path = def;
	if (cv_insight_export_records(ctx->store, tenant, true, &records) !=
	    CV_OK)
		return NULL;
	err = write_export(path, fmt, records);
	json_int_t n = (json_int_t)json_array_size(records);
	json_decref(records);
	if (err)
		return err;
	cv_now_ts(ts);
	out = json_pack("{s:I,s:s,s:s,s:s}", "records", n, "format", fmt,
	    "output_path", path, "timestamp", ts);
	if (out && cv_event_emit(ctx->store, "dataset.exported", NULL, NULL,
	    tenant, NULL, json_deep_copy(out), json_pack("{s:I}", "records",
	    n)) != CV_OK) {
		json_decref(out);
		return NULL;
	}
	return out;
}

static const struct cli_flag export_flags[] = {
	{ "output", CLI_STR, false, NULL, 0, 0,
	    "file (default .converge/datasets/decisions.<format>)" },
	{ "tenant-id", CLI_STR, false, NULL, 0, 0, "only this tenant" },
	{ "format", CLI_CHOICE, false, formats, 0, 0, "jsonl (default) or csv" },
};

static const struct cli_cmd export_cmds[] = {
	CLI_CMD("decisions", "Write one record per intent (simulation, risk, "
	    "policy joined); appends dataset.exported.", export_flags,
	    export_decisions),
};

const struct cli_group cli_export_group = { "export",
	"Export the decision dataset.", export_cmds, 1, false };
