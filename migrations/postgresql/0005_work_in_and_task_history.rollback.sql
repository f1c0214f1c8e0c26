DROP TABLE operation_logs;
ALTER TABLE operations DROP COLUMN request_id;
ALTER TABLE operations DROP COLUMN task_ids;
ALTER TABLE operations DROP COLUMN progress;
ALTER TABLE operations DROP COLUMN detail;
ALTER TABLE operations DROP COLUMN reason;
ALTER TABLE operations DROP COLUMN requested_by;
ALTER TABLE workspaces DROP COLUMN repo_ref;
