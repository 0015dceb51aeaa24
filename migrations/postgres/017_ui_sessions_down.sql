-- 017_ui_sessions_down.sql: drops the dashboard sessions.
BEGIN;
DROP TABLE IF EXISTS ui_sessions;
DELETE FROM schema_migrations WHERE version = 17;
COMMIT;
