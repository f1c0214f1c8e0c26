-- depends: 0005_work_in_and_task_history
-- One-time tickets that open a terminal WebSocket (a browser cannot set headers on one).
-- Only the SHA-256 of a ticket is kept: a copy of the database opens no terminal.
CREATE TABLE terminal_tickets (
    ticket_sha256 TEXT PRIMARY KEY,
    user_name TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);

-- The janitor's purge.
CREATE INDEX terminal_tickets_expiry ON terminal_tickets (expires_at);
