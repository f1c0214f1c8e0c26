-- depends: 0001_workspaces_and_operations
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
    size_bytes INTEGER,
    error TEXT,
    deleted_at TIMESTAMP
);

CREATE INDEX snapshots_workspace ON snapshots (workspace_id, created_at);
