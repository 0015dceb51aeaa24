-- 034_event_indexes_down.sql: reverts 034_event_indexes_up.sql.
BEGIN;
DROP INDEX IF EXISTS idx_events_agent_set;
CREATE INDEX IF NOT EXISTS idx_events_type ON events(event_type);
CREATE INDEX IF NOT EXISTS idx_events_intent ON events(intent_id);
CREATE INDEX IF NOT EXISTS idx_events_tenant ON events(tenant_id);
CREATE INDEX IF NOT EXISTS idx_events_agent ON events(agent_id);
DELETE FROM schema_migrations WHERE version = 34;
COMMIT;
