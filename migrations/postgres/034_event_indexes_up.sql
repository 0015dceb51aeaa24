-- 034_event_indexes_up.sql: fewer index pages written per event. The
-- event_type index is covered by idx_events_type_time; the intent, tenant
-- and agent indexes keep only rows where the column is set (every lookup
-- is "column = $n").
BEGIN;
DROP INDEX IF EXISTS idx_events_type;
DROP INDEX IF EXISTS idx_events_intent;
DROP INDEX IF EXISTS idx_events_tenant;
DROP INDEX IF EXISTS idx_events_agent;
CREATE INDEX IF NOT EXISTS idx_events_intent_set ON events(intent_id)
    WHERE intent_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_events_tenant_set ON events(tenant_id)
    WHERE tenant_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_events_agent_set ON events(agent_id)
    WHERE agent_id IS NOT NULL;
INSERT INTO schema_migrations VALUES (34, NOW()::TEXT) ON CONFLICT DO NOTHING;
COMMIT;
