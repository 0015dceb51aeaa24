-- 036_list_pages_down.sql: reverts 036_list_pages_up.sql.
BEGIN;
DROP INDEX IF EXISTS idx_repositories_tenant_name;
DROP INDEX IF EXISTS idx_agent_policies_tenant;
DROP INDEX IF EXISTS idx_events_intent_time;
DROP INDEX IF EXISTS idx_events_tenant_time;
DELETE FROM schema_migrations WHERE version = 36;
COMMIT;
