-- 017_ui_sessions_up.sql: dashboard sessions (digest of the cookie only).
BEGIN;
CREATE TABLE IF NOT EXISTS ui_sessions ( id_sha256 TEXT PRIMARY KEY, principal TEXT NOT NULL, csrf TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS idx_ui_sessions_expiry ON ui_sessions(expires_at);
INSERT INTO schema_migrations VALUES (17, NOW()::TEXT) ON CONFLICT DO NOTHING;
COMMIT;
