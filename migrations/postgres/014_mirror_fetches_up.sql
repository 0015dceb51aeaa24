-- 014_mirror_fetches_up.sql: fetch requests from webhooks to the worker
-- (migration 14 of lib/schema.c).
BEGIN;
CREATE TABLE IF NOT EXISTS mirror_fetches ( repo TEXT PRIMARY KEY, requested_at TEXT NOT NULL);
INSERT INTO schema_migrations VALUES (14, NOW()::TEXT) ON CONFLICT DO NOTHING;
COMMIT;
