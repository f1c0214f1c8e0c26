-- depends: 0010_schedules
-- Idle auto-stop: how long a running workspace may go without activity (0: forever), and when
-- it last had any. Existing workspaces count from now.
ALTER TABLE workspaces ADD COLUMN idle_timeout_seconds INTEGER;
ALTER TABLE workspaces ADD COLUMN last_activity_at TIMESTAMP;
UPDATE workspaces SET last_activity_at = updated_at;
CREATE INDEX workspaces_idle ON workspaces (status, last_activity_at)
    WHERE idle_timeout_seconds > 0;
