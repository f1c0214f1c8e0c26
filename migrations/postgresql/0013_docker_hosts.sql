-- depends: 0012_trash
-- PostgreSQL: the same as ../0013_docker_hosts.sql, with the trigger in its own syntax.
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
    FOR EACH ROW WHEN (OLD.host_unreachable IS DISTINCT FROM NEW.host_unreachable)
    EXECUTE FUNCTION vm_api_workspace_changed();
