-- 010_publish_targets_up.sql: where decisions about an intent are
-- published (migration 10 of lib/schema.c), written only from verified
-- GitHub deliveries.
BEGIN;
CREATE TABLE IF NOT EXISTS publish_targets ( intent_id TEXT PRIMARY KEY, repo TEXT NOT NULL, head_sha TEXT NOT NULL, installation_id TEXT NOT NULL DEFAULT '', source TEXT NOT NULL, updated_at TEXT NOT NULL);
INSERT INTO schema_migrations VALUES (10, NOW()::TEXT) ON CONFLICT DO NOTHING;
COMMIT;
