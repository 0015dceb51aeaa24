-- 019_queue_landings_down.sql: drops the marks of landings in flight.
BEGIN;
DROP TABLE IF EXISTS queue_landings;
DELETE FROM schema_migrations WHERE version = 19;
COMMIT;
