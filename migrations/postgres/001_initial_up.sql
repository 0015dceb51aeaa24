-- 001_initial_up.sql: the Converge schema for PostgreSQL (operations.md 2.2).
-- The same DDL every Converge process applies on open (IF NOT EXISTS), for
-- operators who provision the database ahead of time. Generated from
-- lib/schema.c; keep them in step.
BEGIN;
CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events ( id TEXT PRIMARY KEY, trace_id TEXT NOT NULL, timestamp TEXT NOT NULL, event_type TEXT NOT NULL, intent_id TEXT, agent_id TEXT, tenant_id TEXT, payload TEXT NOT NULL, evidence TEXT NOT NULL DEFAULT '{}');
CREATE INDEX IF NOT EXISTS idx_events_type ON events(event_type);
CREATE INDEX IF NOT EXISTS idx_events_intent ON events(intent_id);
CREATE INDEX IF NOT EXISTS idx_events_tenant ON events(tenant_id);
CREATE INDEX IF NOT EXISTS idx_events_time ON events(timestamp);
CREATE INDEX IF NOT EXISTS idx_events_agent ON events(agent_id);
CREATE TABLE IF NOT EXISTS intents ( id TEXT PRIMARY KEY, source TEXT NOT NULL, target TEXT NOT NULL, status TEXT NOT NULL, created_at TEXT NOT NULL, created_by TEXT NOT NULL DEFAULT 'system', risk_level TEXT NOT NULL DEFAULT 'medium', priority INTEGER NOT NULL DEFAULT 3, semantic TEXT NOT NULL DEFAULT '{}', technical TEXT NOT NULL DEFAULT '{}', checks_required TEXT NOT NULL DEFAULT '[]', dependencies TEXT NOT NULL DEFAULT '[]', retries INTEGER NOT NULL DEFAULT 0, tenant_id TEXT, updated_at TEXT);
CREATE INDEX IF NOT EXISTS idx_intents_status ON intents(status);
CREATE INDEX IF NOT EXISTS idx_intents_tenant ON intents(tenant_id);
CREATE TABLE IF NOT EXISTS agent_policies ( agent_id TEXT NOT NULL, tenant_id TEXT NOT NULL DEFAULT '', data TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (agent_id, tenant_id));
CREATE TABLE IF NOT EXISTS compliance_thresholds ( tenant_id TEXT PRIMARY KEY, data TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS risk_policies ( tenant_id TEXT PRIMARY KEY, data TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 1, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS queue_locks ( lock_name TEXT PRIMARY KEY, holder_pid INTEGER NOT NULL, acquired_at TEXT NOT NULL, expires_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS webhook_deliveries ( delivery_id TEXT PRIMARY KEY, received_at TEXT NOT NULL);
INSERT INTO schema_migrations VALUES (1, NOW()::TEXT) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS api_key_grace ( key_sha256 TEXT PRIMARY KEY, principal TEXT NOT NULL, expires_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS github_outbox ( id TEXT PRIMARY KEY, created_at TEXT, payload TEXT, attempts INTEGER DEFAULT 0, next_attempt_at TEXT, done_at TEXT NULL);
CREATE TABLE IF NOT EXISTS rate_limit_hits ( bucket TEXT, at REAL);
CREATE INDEX IF NOT EXISTS idx_rate_limit_hits ON rate_limit_hits(bucket, at);
INSERT INTO schema_migrations VALUES (2, NOW()::TEXT) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS idempotency_keys ( key TEXT PRIMARY KEY, body_sha256 TEXT NOT NULL, status INTEGER NOT NULL, response TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS idx_github_outbox_pending ON github_outbox(done_at, next_attempt_at);
INSERT INTO schema_migrations VALUES (3, NOW()::TEXT) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS rate_limit_windows ( bucket TEXT PRIMARY KEY, window_start BIGINT NOT NULL, hits INTEGER NOT NULL, prev_hits INTEGER NOT NULL, prev_last BIGINT NOT NULL, last_at BIGINT NOT NULL, allowed INTEGER NOT NULL, limit_rpm INTEGER NOT NULL);
INSERT INTO schema_migrations VALUES (4, NOW()::TEXT) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS webhook_payloads ( delivery_id TEXT NOT NULL, tenant_id TEXT NOT NULL DEFAULT '', github_event TEXT NOT NULL, received_at TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (tenant_id, delivery_id));
CREATE INDEX IF NOT EXISTS idx_webhook_payloads_time ON webhook_payloads(received_at);
INSERT INTO schema_migrations VALUES (5, NOW()::TEXT) ON CONFLICT DO NOTHING;
CREATE INDEX IF NOT EXISTS idx_events_type_time ON events(event_type, timestamp);
CREATE INDEX IF NOT EXISTS idx_intents_order ON intents(priority, created_at, id);
INSERT INTO schema_migrations VALUES (6, NOW()::TEXT) ON CONFLICT DO NOTHING;
COMMIT;
