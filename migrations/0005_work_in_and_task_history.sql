-- depends: 0004_idempotency_keys
-- What the work-in and operator issues record about a workspace and its operations.
ALTER TABLE workspaces ADD COLUMN repo_ref TEXT;

-- Who asked and why ('janitor', 'schedule' or a user), what exactly (exec command, file path:
-- JSON), the last progress line, the huey task ids that ran it, the request it came from.
ALTER TABLE operations ADD COLUMN requested_by TEXT;
ALTER TABLE operations ADD COLUMN reason TEXT;
ALTER TABLE operations ADD COLUMN detail TEXT;
ALTER TABLE operations ADD COLUMN progress TEXT;
ALTER TABLE operations ADD COLUMN task_ids TEXT;
ALTER TABLE operations ADD COLUMN request_id TEXT;

-- Every progress line of an operation, in order ("cloning 40 %", "starting container").
CREATE TABLE operation_logs (
    id INTEGER PRIMARY KEY,
    operation_id TEXT NOT NULL,
    at TIMESTAMP NOT NULL,
    line TEXT NOT NULL
);
CREATE INDEX operation_logs_operation ON operation_logs (operation_id, id);
