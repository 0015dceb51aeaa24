-- 016_api_keys_down.sql: drops the API keys kept in the database.
BEGIN;
DROP TABLE IF EXISTS api_keys;
DELETE FROM schema_migrations WHERE version = 16;
COMMIT;
