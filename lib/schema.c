/* schema.c - the numbered migrations (operations.md 2.2). */
#include "store_impl.h"

/* 1: the tables of Converge 0.1.0, column for column, so both builds can
 * share a database. Its single-column event indexes on event_type,
 * intent_id, tenant_id and agent_id are no longer created here: 34 and
 * 36 replace them. */
static const char *const m1[] = {
	"CREATE TABLE IF NOT EXISTS events ("
	" id TEXT PRIMARY KEY, trace_id TEXT NOT NULL, timestamp TEXT NOT NULL,"
	" event_type TEXT NOT NULL, intent_id TEXT, agent_id TEXT,"
	" tenant_id TEXT, payload TEXT NOT NULL,"
	" evidence TEXT NOT NULL DEFAULT '{}')",
	"CREATE INDEX IF NOT EXISTS idx_events_time ON events(timestamp)",
	"CREATE TABLE IF NOT EXISTS intents ("
	" id TEXT PRIMARY KEY, source TEXT NOT NULL, target TEXT NOT NULL,"
	" status TEXT NOT NULL, created_at TEXT NOT NULL,"
	" created_by TEXT NOT NULL DEFAULT 'system',"
	" risk_level TEXT NOT NULL DEFAULT 'medium',"
	" priority INTEGER NOT NULL DEFAULT 3,"
	" semantic TEXT NOT NULL DEFAULT '{}',"
	" technical TEXT NOT NULL DEFAULT '{}',"
	" checks_required TEXT NOT NULL DEFAULT '[]',"
	" dependencies TEXT NOT NULL DEFAULT '[]',"
	" retries INTEGER NOT NULL DEFAULT 0, tenant_id TEXT, updated_at TEXT)",
	"CREATE INDEX IF NOT EXISTS idx_intents_status ON intents(status)",
	"CREATE INDEX IF NOT EXISTS idx_intents_tenant ON intents(tenant_id)",
	"CREATE TABLE IF NOT EXISTS agent_policies ("
	" agent_id TEXT NOT NULL, tenant_id TEXT NOT NULL DEFAULT '',"
	" data TEXT NOT NULL, updated_at TEXT NOT NULL,"
	" PRIMARY KEY (agent_id, tenant_id))",
	"CREATE TABLE IF NOT EXISTS compliance_thresholds ("
	" tenant_id TEXT PRIMARY KEY, data TEXT NOT NULL,"
	" updated_at TEXT NOT NULL)",
	"CREATE TABLE IF NOT EXISTS risk_policies ("
	" tenant_id TEXT PRIMARY KEY, data TEXT NOT NULL,"
	" version INTEGER NOT NULL DEFAULT 1, updated_at TEXT NOT NULL)",
	"CREATE TABLE IF NOT EXISTS queue_locks ("
	" lock_name TEXT PRIMARY KEY, holder_pid INTEGER NOT NULL,"
	" acquired_at TEXT NOT NULL, expires_at TEXT NOT NULL)",
	"CREATE TABLE IF NOT EXISTS webhook_deliveries ("
	" delivery_id TEXT PRIMARY KEY, received_at TEXT NOT NULL)",
	NULL
};

/* 2: the C additions (operations.md 2.2 "C additions"); new tables only. */
static const char *const m2[] = {
	"CREATE TABLE IF NOT EXISTS api_key_grace ("
	" key_sha256 TEXT PRIMARY KEY, principal TEXT NOT NULL,"
	" expires_at TEXT NOT NULL)",
	"CREATE TABLE IF NOT EXISTS github_outbox ("
	" id TEXT PRIMARY KEY, created_at TEXT, payload TEXT,"
	" attempts INTEGER DEFAULT 0, next_attempt_at TEXT,"
	" done_at TEXT NULL)",
	"CREATE TABLE IF NOT EXISTS rate_limit_hits ("
	" bucket TEXT, at REAL)",
	"CREATE INDEX IF NOT EXISTS idx_rate_limit_hits"
	" ON rate_limit_hits(bucket, at)",
	NULL
};

/* 3: request idempotency (decisions.md D-3) and the outbox's dedup key
 * (one publication per intent, decision and head sha). */
static const char *const m3[] = {
	"CREATE TABLE IF NOT EXISTS idempotency_keys ("
	" key TEXT PRIMARY KEY, body_sha256 TEXT NOT NULL,"
	" status INTEGER NOT NULL, response TEXT NOT NULL,"
	" created_at TEXT NOT NULL)",
	"CREATE INDEX IF NOT EXISTS idx_github_outbox_pending"
	" ON github_outbox(done_at, next_attempt_at)",
	NULL
};

/* 4: the shared rate limiter's fixed-size state, one row per bucket
 * (decisions.md D-2; the algorithm is described in ratelimit.c). Times
 * are wall-clock milliseconds since the epoch. */
static const char *const m4[] = {
	"CREATE TABLE IF NOT EXISTS rate_limit_windows ("
	" bucket TEXT PRIMARY KEY, window_start BIGINT NOT NULL,"
	" hits INTEGER NOT NULL, prev_hits INTEGER NOT NULL,"
	" prev_last BIGINT NOT NULL, last_at BIGINT NOT NULL,"
	" allowed INTEGER NOT NULL, limit_rpm INTEGER NOT NULL)",
	NULL
};

/* 5: verified webhook bodies, kept with their delivery (D-5), so that a
 * delivery can be audited or replayed after the fact. Its index on
 * received_at is no longer created here: 37 drops it. */
static const char *const m5[] = {
	"CREATE TABLE IF NOT EXISTS webhook_payloads ("
	" delivery_id TEXT NOT NULL, tenant_id TEXT NOT NULL DEFAULT '',"
	" github_event TEXT NOT NULL, received_at TEXT NOT NULL,"
	" body TEXT NOT NULL, PRIMARY KEY (tenant_id, delivery_id))",
	NULL
};

/* 6: indexes for the hot reads: projections select events by type over a
 * time window, newest first; intent lists are ordered by priority,
 * created_at, id. New indexes only: no existing table changes. */
static const char *const m6[] = {
	"CREATE INDEX IF NOT EXISTS idx_events_type_time"
	" ON events(event_type, timestamp)",
	"CREATE INDEX IF NOT EXISTS idx_intents_order"
	" ON intents(priority, created_at, id)",
	NULL
};

/* 10: where decisions about an intent are published (repository, head
 * commit, App installation), written only from verified GitHub
 * deliveries, never from a request body (publish.h). */
static const char *const m10[] = {
	"CREATE TABLE IF NOT EXISTS publish_targets ("
	" intent_id TEXT PRIMARY KEY, repo TEXT NOT NULL,"
	" head_sha TEXT NOT NULL, installation_id TEXT NOT NULL DEFAULT '',"
	" source TEXT NOT NULL, updated_at TEXT NOT NULL)",
	NULL
};

/* 13: the registry of repositories (decisions.md D-9): the remote an
 * intent lands on, its target branch and default checks. */
static const char *const m13[] = {
	"CREATE TABLE IF NOT EXISTS repositories ("
	" name TEXT PRIMARY KEY, url TEXT NOT NULL,"
	" target TEXT NOT NULL DEFAULT 'main',"
	" checks TEXT NOT NULL DEFAULT '[]',"
	" tenant_id TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL,"
	" created_by TEXT NOT NULL DEFAULT 'system')",
	"CREATE INDEX IF NOT EXISTS idx_repositories_tenant"
	" ON repositories(tenant_id)",
	NULL
};

/* 16: API keys kept in the database (decisions.md D-10): the SHA-256
 * digest only, never the key; revoked_at set means refused at once. */
static const char *const m16[] = {
	"CREATE TABLE IF NOT EXISTS api_keys ("
	" id TEXT PRIMARY KEY, key_sha256 TEXT NOT NULL UNIQUE,"
	" prefix TEXT NOT NULL, role TEXT NOT NULL, actor TEXT NOT NULL,"
	" tenant_id TEXT, scopes TEXT, created_at TEXT NOT NULL,"
	" expires_at TEXT, revoked_at TEXT)",
	NULL
};

/* 17: dashboard sessions (/ui/): the SHA-256 digest of the session
 * cookie, the principal it was opened for, its CSRF token and expiry. */
static const char *const m17[] = {
	"CREATE TABLE IF NOT EXISTS ui_sessions ("
	" id_sha256 TEXT PRIMARY KEY, principal TEXT NOT NULL,"
	" csrf TEXT NOT NULL, created_at TEXT NOT NULL,"
	" expires_at TEXT NOT NULL)",
	"CREATE INDEX IF NOT EXISTS idx_ui_sessions_expiry"
	" ON ui_sessions(expires_at)",
	NULL
};

/* 14: mirror fetches the webhook asks the worker for (D-9): one row per
 * repository, taken by the next worker cycle. */
static const char *const m14[] = {
	"CREATE TABLE IF NOT EXISTS mirror_fetches ("
	" repo TEXT PRIMARY KEY, requested_at TEXT NOT NULL)",
	NULL
};

/* 19: landings in flight (inflight.h): an auto-confirm landing marks its
 * intent so that a cycle that dies mid-landing does not strand it. */
static const char *const m19[] = {
	"CREATE TABLE IF NOT EXISTS queue_landings ("
	" intent_id TEXT PRIMARY KEY, holder INTEGER NOT NULL,"
	" started_at TEXT NOT NULL)",
	NULL
};

/* 21: cheap summaries at scale: the projection cache's version probe
 * reads the newest intent change (max updated_at) and the capped pending
 * list walks intents in (priority, id) order; both by index. */
static const char *const m21[] = {
	"CREATE INDEX IF NOT EXISTS idx_intents_updated"
	" ON intents(updated_at)",
	"CREATE INDEX IF NOT EXISTS idx_intents_priority_id"
	" ON intents(priority, id)",
	NULL
};

/* 34: fewer index pages written per event. idx_events_type is covered by
 * idx_events_type_time, idx_events_intent and idx_events_tenant by 36's
 * (intent_id, timestamp) and (tenant_id, timestamp): same leading column.
 * The agent index keeps only rows with an agent: its one lookup is
 * "agent_id = ?", which never matches NULL, and most events (a webhook's
 * among them) have none, which the full index stored on every insert. */
static const char *const m34[] = {
	"DROP INDEX IF EXISTS idx_events_type",
	"DROP INDEX IF EXISTS idx_events_intent",
	"DROP INDEX IF EXISTS idx_events_tenant",
	"DROP INDEX IF EXISTS idx_events_agent",
	"CREATE INDEX IF NOT EXISTS idx_events_agent_set ON events(agent_id)"
	" WHERE agent_id IS NOT NULL",
	NULL
};

/* 36: keyset pages of the lists (page.h): a tenant's events, an intent's
 * events, a tenant's agent policies and repositories, each walked in its
 * list's order by index from where the cursor points. Its two event
 * indexes, (tenant_id, timestamp) and (intent_id, timestamp), are no
 * longer created here: 37 replaces them with partial ones, and every
 * migration runs on each open. */
static const char *const m36[] = {
	"CREATE INDEX IF NOT EXISTS idx_agent_policies_tenant"
	" ON agent_policies(tenant_id, agent_id)",
	"CREATE INDEX IF NOT EXISTS idx_repositories_tenant_name"
	" ON repositories(tenant_id, name)",
	NULL
};

/* 37: 36's event indexes keep only the rows their lookups can match. Both
 * are only ever searched by "tenant_id = ?" or "intent_id = ?" (the event
 * list, its keyset pages, the latest event of an intent), which never
 * match NULL, while a webhook.received event has neither and an
 * un-tenanted intent's events no tenant: each such insert wrote an index
 * entry nothing reads. An equality on the column implies IS NOT NULL, so
 * SQLite and PostgreSQL both still use the partial index for it. */
static const char *const m37[] = {
	"DROP INDEX IF EXISTS idx_events_tenant_time",
	"DROP INDEX IF EXISTS idx_events_intent_time",
	"CREATE INDEX IF NOT EXISTS idx_events_tenant_set"
	" ON events(tenant_id, timestamp) WHERE tenant_id IS NOT NULL",
	"CREATE INDEX IF NOT EXISTS idx_events_intent_set"
	" ON events(intent_id, timestamp) WHERE intent_id IS NOT NULL",
	/* no query reads webhook payloads by time: one B-tree less per
	 * delivery (a pruning by age would scan, and runs rarely) */
	"DROP INDEX IF EXISTS idx_webhook_payloads_time",
	NULL
};

const struct cv_migration cv_migrations[] = {
	{ 1, m1 },
	{ 2, m2 },
	{ 3, m3 },
	{ 4, m4 },
	{ 5, m5 },
	{ 6, m6 },
	{ 10, m10 },
	{ 13, m13 },
	{ 14, m14 },
	{ 16, m16 },
	{ 17, m17 },
	{ 19, m19 },
	{ 21, m21 },
	{ 34, m34 },
	{ 36, m36 },
	{ 37, m37 },
};
/* Counted, not written: two branches that each add a migration would
 * otherwise merge cleanly into a count that skips the last one. */
const int cv_migration_count = (int)(sizeof cv_migrations /
    sizeof cv_migrations[0]);
