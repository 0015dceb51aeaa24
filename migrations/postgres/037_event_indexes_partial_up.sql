-- 037_event_indexes_partial_up.sql: 036's event indexes keep only the rows
-- their lookups can match ("tenant_id = $n", "intent_id = $n" never match
-- NULL); an event without a tenant or an intent writes no entry there. The
-- webhook payloads lose their received_at index, which no query reads.
BEGIN;
DROP INDEX IF EXISTS idx_events_tenant_time;
DROP INDEX IF EXISTS idx_events_intent_time;
CREATE INDEX IF NOT EXISTS idx_events_tenant_set ON events(tenant_id, timestamp)
    WHERE tenant_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_events_intent_set ON events(intent_id, timestamp)
    WHERE intent_id IS NOT NULL;
-- no query reads webhook payloads by time
DROP INDEX IF EXISTS idx_webhook_payloads_time;
INSERT INTO schema_migrations VALUES (37, NOW()::TEXT) ON CONFLICT DO NOTHING;
COMMIT;
