-- 014_mirror_fetches_down.sql: drops what 014_mirror_fetches_up.sql created.
BEGIN;
DROP TABLE IF EXISTS mirror_fetches;
DELETE FROM schema_migrations WHERE version = 14;
COMMIT;
