-- 013_repositories_up.sql: the registry of repositories (migration 13 of
-- lib/schema.c): the remote each registered repository's intents land on.
BEGIN;
CREATE TABLE IF NOT EXISTS repositories ( name TEXT PRIMARY KEY, url TEXT NOT NULL, target TEXT NOT NULL DEFAULT 'main', checks TEXT NOT NULL DEFAULT '[]', tenant_id TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL, created_by TEXT NOT NULL DEFAULT 'system');
CREATE INDEX IF NOT EXISTS idx_repositories_tenant ON repositories(tenant_id);
INSERT INTO schema_migrations VALUES (13, NOW()::TEXT) ON CONFLICT DO NOTHING;
COMMIT;
