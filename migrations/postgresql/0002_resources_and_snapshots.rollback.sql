DROP TABLE snapshots;
ALTER TABLE workspaces DROP COLUMN memory_mb;
ALTER TABLE workspaces DROP COLUMN cpus;
