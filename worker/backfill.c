/*
 * backfill.c - converge-backfill: copies a SQLite Converge database into
 * PostgreSQL (or back, with --reverse), the operator procedure of
 * operations.md 8.4.
 *
 *   converge-backfill --sqlite-path P --pg-dsn DSN [--dry-run] [--verify]
 *                     [--reverse]
 *
 * Rows are inserted with ON CONFLICT DO NOTHING on each table's full key
 * (agent_policies has two key columns: O10), so a rerun is harmless.
 * queue_locks is never copied: an imported lock would be stale (O10).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "store.h"

struct table {
	const char *name;
	const char *count_sql;
	const char *select_sql;
	const char *insert_sql;
	int ncols;
};

#define TABLE(n, cols, ph, key, k) { n, "SELECT COUNT(*) FROM " n, \
	"SELECT " cols " FROM " n, "INSERT INTO " n " (" cols ") VALUES (" ph \
	") ON CONFLICT (" key ") DO NOTHING", k }

static const struct table tables[] = {
	TABLE("events", "id, trace_id, timestamp, event_type, intent_id,"
	    " agent_id, tenant_id, payload, evidence", "?, ?, ?, ?, ?, ?, ?, ?, ?",
	    "id", 9),
	TABLE("intents", "id, source, target, status, created_at, created_by,"
	    " risk_level, priority, semantic, technical, checks_required,"
	    " dependencies, retries, tenant_id, updated_at",
	    "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?", "id", 15),
	TABLE("agent_policies", "agent_id, tenant_id, data, updated_at",
	    "?, ?, ?, ?", "agent_id, tenant_id", 4),
	TABLE("compliance_thresholds", "tenant_id, data, updated_at", "?, ?, ?",
	    "tenant_id", 3),
	TABLE("risk_policies", "tenant_id, data, version, updated_at",
	    "?, ?, ?, ?", "tenant_id", 4),
	TABLE("webhook_deliveries", "delivery_id, received_at", "?, ?",
	    "delivery_id", 2),
	TABLE("api_key_grace", "key_sha256, principal, expires_at", "?, ?, ?",
	    "key_sha256", 3),
	TABLE("github_outbox", "id, created_at, payload, attempts,"
	    " next_attempt_at, done_at", "?, ?, ?, ?, ?, ?", "id", 6),
};

static struct cv_param param_of(const json_t *v)
{
	if (json_is_integer(v))
		return cv_p_int(json_integer_value(v));
	if (json_is_real(v))
		return (struct cv_param){ CV_PT_REAL, NULL, 0, json_real_value(v) };
	return cv_p_text(json_is_string(v) ? json_string_value(v) : NULL);
}

static int copy_table(struct cv_store *from, struct cv_store *to,
    const struct table *t, long long *copied)
{
	json_t *rows = NULL, *row;
	struct cv_param p[16];
	size_t i;
	long long n;

	*copied = 0;
	if (cv_db_query(from, t->select_sql, NULL, 0, &rows) != CV_OK) {
		fprintf(stderr, "backfill: reading %s: %s\n", t->name,
		    cv_store_errmsg(from));
		return -1;
	}
	if (cv_store_begin(to) != CV_OK)
		goto fail;
	json_array_foreach(rows, i, row) {
		for (int c = 0; c < t->ncols; c++)
			p[c] = param_of(json_array_get(row, (size_t)c));
		if (cv_db_exec(to, t->insert_sql, p, t->ncols, &n) != CV_OK) {
			cv_store_rollback(to);
			goto fail;
		}
		*copied += n;
	}
	if (cv_store_commit(to) != CV_OK)
		goto fail;
	json_decref(rows);
	return 0;
fail:
	fprintf(stderr, "backfill: writing %s: %s\n", t->name,
	    cv_store_errmsg(to));
	json_decref(rows);
	return -1;
}

static int usage(void)
{
	fprintf(stderr, "usage: converge-backfill --sqlite-path PATH --pg-dsn "
	    "DSN [--dry-run] [--verify] [--reverse]\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *path = NULL, *dsn = NULL;
	int dry = 0, verify = 0, reverse = 0, rc = 0;
	struct cv_store *lite = NULL, *pg = NULL;
	char *msg = NULL;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--sqlite-path") && i + 1 < argc)
			path = argv[++i];
		else if (!strcmp(argv[i], "--pg-dsn") && i + 1 < argc)
			dsn = argv[++i];
		else if (!strcmp(argv[i], "--dry-run"))
			dry = 1;
		else if (!strcmp(argv[i], "--verify"))
			verify = 1;
		else if (!strcmp(argv[i], "--reverse"))
			reverse = 1;
		else
			return usage();
	}
	if (!path || !dsn)
		return usage();
	if (cv_store_open_factory("sqlite", path, NULL, &lite, &msg) != CV_OK ||
	    cv_store_open_factory("postgres", NULL, dsn, &pg, &msg) != CV_OK) {
		fprintf(stderr, "backfill: %s\n", msg ? msg : "cannot open");
		free(msg);
		cv_store_close(lite);
		return 1;
	}
	struct cv_store *from = reverse ? pg : lite, *to = reverse ? lite : pg;
	for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
		long long have = 0, copied = 0, after = 0;
		cv_db_scalar_int(from, tables[t].count_sql, NULL, 0, &have);
		if (!dry && copy_table(from, to, &tables[t], &copied) != 0) {
			rc = 1;
			continue;
		}
		printf("%-22s source %lld", tables[t].name, have);
		if (!dry)
			printf(", copied %lld", copied);
		if (verify) {
			cv_db_scalar_int(to, tables[t].count_sql, NULL, 0, &after);
			printf(", target %lld%s", after, after >= have ? "" :
			    "  MISMATCH");
			if (after < have)
				rc = 1;
		}
		printf("\n");
	}
	printf("queue_locks            skipped (a copied lock would be stale)\n");
	cv_store_close(lite);
	cv_store_close(pg);
	return rc;
}
