-- 010_publish_targets_down.sql: drops what 010_publish_targets_up.sql
-- created; decisions about existing GitHub intents are no longer
-- published until their next delivery.
BEGIN;
DROP TABLE IF EXISTS publish_targets;
DELETE FROM schema_migrations WHERE version = 10;
COMMIT;
