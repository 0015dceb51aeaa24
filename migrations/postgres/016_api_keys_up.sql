-- 016_api_keys_up.sql: API keys kept in the database (SHA-256 digest only).
BEGIN;
CREATE TABLE IF NOT EXISTS api_keys ( id TEXT PRIMARY KEY, key_sha256 TEXT NOT NULL UNIQUE, prefix TEXT NOT NULL, role TEXT NOT NULL, actor TEXT NOT NULL, tenant_id TEXT, scopes TEXT, created_at TEXT NOT NULL, expires_at TEXT, revoked_at TEXT);
INSERT INTO schema_migrations VALUES (16, NOW()::TEXT) ON CONFLICT DO NOTHING;
COMMIT;
