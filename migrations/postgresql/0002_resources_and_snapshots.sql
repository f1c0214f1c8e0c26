-- depends: 0001_workspaces_and_operations
-- PostgreSQL: size_bytes is BIGINT (a volume holds more than 2 GiB; INTEGER is 32-bit there).
-- Resource limits per workspace, and snapshots of a workspace's state.
ALTER TABLE workspaces ADD COLUMN cpus REAL;
ALTER TABLE workspaces ADD COLUMN memory_mb INTEGER;

CREATE TABLE snapshots (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    size_bytes BIGINT,
    error TEXT,
    deleted_at TIMESTAMP
);

CREATE INDEX snapshots_workspace ON snapshots (workspace_id, created_at);
