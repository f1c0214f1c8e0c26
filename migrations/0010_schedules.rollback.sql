ALTER TABLE workspaces DROP COLUMN schedule_checked_at;
ALTER TABLE workspaces DROP COLUMN schedule;
