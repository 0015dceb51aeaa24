-- 021_summary_indexes_down.sql: reverts 021_summary_indexes_up.sql.
BEGIN;
DROP INDEX IF EXISTS idx_intents_priority_id;
DROP INDEX IF EXISTS idx_intents_updated;
DELETE FROM schema_migrations WHERE version = 21;
COMMIT;
