-- 021_summary_indexes_up.sql: indexes for cheap summaries (the projection
-- cache's version probe and the capped pending list).
BEGIN;
CREATE INDEX IF NOT EXISTS idx_intents_updated ON intents(updated_at);
CREATE INDEX IF NOT EXISTS idx_intents_priority_id ON intents(priority, id);
INSERT INTO schema_migrations VALUES (21, NOW()::TEXT) ON CONFLICT DO NOTHING;
COMMIT;
