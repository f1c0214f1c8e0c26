-- depends: 0011_idle_stop
-- The trash: a deleted workspace kept with its final snapshot until `purge_after`.
ALTER TABLE workspaces ADD COLUMN trash_snapshot_id TEXT;
ALTER TABLE workspaces ADD COLUMN purge_after TIMESTAMP;
CREATE INDEX workspaces_trash ON workspaces (owner, deleted_at) WHERE trash_snapshot_id IS NOT NULL;
CREATE INDEX workspaces_trash_purge ON workspaces (purge_after) WHERE trash_snapshot_id IS NOT NULL;
