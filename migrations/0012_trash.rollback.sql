DROP INDEX workspaces_trash_purge;
DROP INDEX workspaces_trash;
ALTER TABLE workspaces DROP COLUMN purge_after;
ALTER TABLE workspaces DROP COLUMN trash_snapshot_id;
