-- Workspaces and the operations recorded against them.
-- Operations carry their owner and have no foreign key to workspaces: a deleted workspace's
-- history stays listable by its owner.
CREATE TABLE workspaces (
    id TEXT PRIMARY KEY NOT NULL,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    repo_url TEXT,
    template TEXT,
    provider TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    ttl_seconds INTEGER,
    expires_at TIMESTAMP,
    metadata TEXT NOT NULL DEFAULT '{}',
    provider_id TEXT,
    connection_info TEXT,
    error_message TEXT,
    deleted_at TIMESTAMP
);

-- Names are unique per owner among workspaces that still exist.
CREATE UNIQUE INDEX workspaces_owner_name_live ON workspaces (owner, name)
    WHERE status <> 'deleted';
CREATE INDEX workspaces_owner_created ON workspaces (owner, created_at, id);
-- The janitor's scan: only rows that can still expire are in this index.
CREATE INDEX workspaces_expiry ON workspaces (expires_at)
    WHERE expires_at IS NOT NULL AND status <> 'deleting' AND status <> 'deleted';

CREATE TABLE operations (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    operation_type TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    completed_at TIMESTAMP,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    enqueued_at TIMESTAMP,
    heartbeat_at TIMESTAMP,
    target_id TEXT
);

CREATE INDEX operations_owner_started ON operations (owner, started_at, id);
CREATE INDEX operations_workspace ON operations (workspace_id, status);
-- The sweep looks up unfinished operations by status.
CREATE INDEX operations_status ON operations (status, started_at);
