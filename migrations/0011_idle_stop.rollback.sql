DROP INDEX workspaces_idle;
ALTER TABLE workspaces DROP COLUMN last_activity_at;
ALTER TABLE workspaces DROP COLUMN idle_timeout_seconds;
