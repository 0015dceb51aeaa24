-- 036_list_pages_up.sql: indexes for keyset pages of the lists (a tenant's
-- events, an intent's events, a tenant's agent policies and repositories).
BEGIN;
CREATE INDEX IF NOT EXISTS idx_events_tenant_time ON events(tenant_id, timestamp);
CREATE INDEX IF NOT EXISTS idx_events_intent_time ON events(intent_id, timestamp);
CREATE INDEX IF NOT EXISTS idx_agent_policies_tenant ON agent_policies(tenant_id, agent_id);
CREATE INDEX IF NOT EXISTS idx_repositories_tenant_name ON repositories(tenant_id, name);
INSERT INTO schema_migrations VALUES (36, NOW()::TEXT) ON CONFLICT DO NOTHING;
COMMIT;
