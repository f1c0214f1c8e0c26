-- depends: 0012_trash
-- Several Docker hosts: the host a workspace lives on (NULL: the service's one DOCKER_HOST),
-- why it cannot be reached now (set and cleared by the sweep), and each host-bound
-- consumer's heartbeat.
ALTER TABLE workspaces ADD COLUMN host TEXT;
ALTER TABLE workspaces ADD COLUMN host_unreachable TEXT;
CREATE INDEX workspaces_host ON workspaces (host, status) WHERE host IS NOT NULL;
CREATE TABLE docker_hosts (
    name TEXT PRIMARY KEY,
    docker_url TEXT,
    first_seen TIMESTAMP NOT NULL,
    last_seen TIMESTAMP NOT NULL,
    daemon_error TEXT
);
-- A host going down or coming back is a change of the workspace (the dashboard shows why).
CREATE TRIGGER change_events_workspace_host AFTER UPDATE OF host_unreachable ON workspaces
WHEN OLD.host_unreachable IS NOT NEW.host_unreachable
BEGIN
    INSERT INTO change_events (kind, object_id, workspace_id, owner, status)
    VALUES ('workspace', NEW.id, NEW.id, NEW.owner, NEW.status);
END;
