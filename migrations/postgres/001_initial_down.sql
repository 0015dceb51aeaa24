-- 001_initial_down.sql: drops what 001_initial_up.sql created, the
-- Converge 0.1.0 tables in the order of operations.md 2.2, then the
-- tables the C build adds. Destroys all data.
BEGIN;
DROP TABLE IF EXISTS webhook_deliveries;
DROP TABLE IF EXISTS queue_locks;
DROP TABLE IF EXISTS risk_policies;
DROP TABLE IF EXISTS compliance_thresholds;
DROP TABLE IF EXISTS agent_policies;
DROP TABLE IF EXISTS intents;
DROP TABLE IF EXISTS events;
DROP TABLE IF EXISTS schema_migrations;
DROP TABLE IF EXISTS api_key_grace;
DROP TABLE IF EXISTS github_outbox;
DROP TABLE IF EXISTS rate_limit_hits;
DROP TABLE IF EXISTS idempotency_keys;
DROP TABLE IF EXISTS rate_limit_windows;
DROP TABLE IF EXISTS webhook_payloads;
COMMIT;
