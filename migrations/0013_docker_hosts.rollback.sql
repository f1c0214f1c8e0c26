DROP TRIGGER change_events_workspace_host;
DROP TABLE docker_hosts;
DROP INDEX workspaces_host;
ALTER TABLE workspaces DROP COLUMN host_unreachable;
ALTER TABLE workspaces DROP COLUMN host;
