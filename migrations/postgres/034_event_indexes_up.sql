-- 034_event_indexes_up.sql: fewer index pages written per event. The
-- event_type, intent_id and tenant_id indexes are covered by
-- idx_events_type_time and 036's (intent_id, timestamp) and
-- (tenant_id, timestamp); the agent index keeps only rows with an agent
-- (its one lookup is "agent_id = $n").
BEGIN;
DROP INDEX IF EXISTS idx_events_type;
DROP INDEX IF EXISTS idx_events_intent;
DROP INDEX IF EXISTS idx_events_tenant;
DROP INDEX IF EXISTS idx_events_agent;
CREATE INDEX IF NOT EXISTS idx_events_agent_set ON events(agent_id)
    WHERE agent_id IS NOT NULL;
INSERT INTO schema_migrations VALUES (34, NOW()::TEXT) ON CONFLICT DO NOTHING;
COMMIT;
