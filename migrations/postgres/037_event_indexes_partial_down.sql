-- 037_event_indexes_partial_down.sql: reverts 037_event_indexes_partial_up.sql.
BEGIN;
DROP INDEX IF EXISTS idx_events_intent_set;
DROP INDEX IF EXISTS idx_events_tenant_set;
CREATE INDEX IF NOT EXISTS idx_events_tenant_time ON events(tenant_id, timestamp);
CREATE INDEX IF NOT EXISTS idx_events_intent_time ON events(intent_id, timestamp);
CREATE INDEX IF NOT EXISTS idx_webhook_payloads_time ON webhook_payloads(received_at);
DELETE FROM schema_migrations WHERE version = 37;
COMMIT;
