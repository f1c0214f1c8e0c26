-- depends: 0005_work_in_and_task_history
-- The change feed behind the event streams: every workspace status change and every operation
-- start, progress line and end, written by triggers in the transaction that made the change,
-- whichever process made it. An event's id orders the feed and is the SSE `id:`.
CREATE TABLE change_events (
    id INTEGER PRIMARY KEY,
    at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    kind TEXT NOT NULL,
    object_id TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    status TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX change_events_at ON change_events (at);

CREATE TRIGGER change_events_workspace_insert AFTER INSERT ON workspaces
BEGIN
    INSERT INTO change_events (kind, object_id, workspace_id, owner, status)
    VALUES ('workspace', NEW.id, NEW.id, NEW.owner, NEW.status);
END;

CREATE TRIGGER change_events_workspace_update AFTER UPDATE OF status ON workspaces
WHEN OLD.status IS NOT NEW.status
BEGIN
    INSERT INTO change_events (kind, object_id, workspace_id, owner, status)
    VALUES ('workspace', NEW.id, NEW.id, NEW.owner, NEW.status);
END;

CREATE TRIGGER change_events_operation_insert AFTER INSERT ON operations
BEGIN
    INSERT INTO change_events (kind, object_id, workspace_id, owner, status)
    VALUES ('operation', NEW.id, NEW.workspace_id, NEW.owner, NEW.status);
END;

CREATE TRIGGER change_events_operation_update AFTER UPDATE OF status ON operations
WHEN OLD.status IS NOT NEW.status
BEGIN
    INSERT INTO change_events (kind, object_id, workspace_id, owner, status)
    VALUES ('operation', NEW.id, NEW.workspace_id, NEW.owner, NEW.status);
END;

-- A progress line of a running operation ("cloning 40 %").
CREATE TRIGGER change_events_operation_progress AFTER UPDATE OF progress ON operations
WHEN OLD.progress IS NOT NEW.progress AND NEW.progress IS NOT NULL
BEGIN
    INSERT INTO change_events (kind, object_id, workspace_id, owner, status, detail)
    VALUES ('progress', NEW.id, NEW.workspace_id, NEW.owner, NEW.status, NEW.progress);
END;
