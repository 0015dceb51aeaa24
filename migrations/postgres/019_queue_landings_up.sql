-- 019_queue_landings_up.sql: landings in flight, so that a queue cycle
-- that dies mid-landing does not strand its intent in QUEUED.
BEGIN;
CREATE TABLE IF NOT EXISTS queue_landings (
    intent_id TEXT PRIMARY KEY,
    holder BIGINT NOT NULL,
    started_at TEXT NOT NULL
);
INSERT INTO schema_migrations VALUES (19, NOW()::TEXT) ON CONFLICT DO NOTHING;
COMMIT;
