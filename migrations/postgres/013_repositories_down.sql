-- 013_repositories_down.sql: drops what 013_repositories_up.sql created
-- (the registrations; the mirrors on disk are a cache and stay).
BEGIN;
DROP TABLE IF EXISTS repositories;
DELETE FROM schema_migrations WHERE version = 13;
COMMIT;
