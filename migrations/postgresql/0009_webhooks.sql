-- depends: 0008_change_events
-- PostgreSQL: the cursor is BIGINT, as change_events.id is.
-- Webhooks: each delivery is a row first (the queue only carries its id), so that a crash at
-- any moment loses none; the cursor says how far the change feed has been turned into them.
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    event_type TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    delivered_at TIMESTAMP,
    gave_up_at TIMESTAMP,
    last_error TEXT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE delivered_at IS NULL AND gave_up_at IS NULL;

CREATE TABLE webhook_cursor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_event_id BIGINT NOT NULL
);
-- Webhooks start at the end of the feed as it is now: what happened before is history.
INSERT INTO webhook_cursor (id, last_event_id) SELECT 1, COALESCE(MAX(id), 0) FROM change_events;

-- The expires_at a workspace.expiring warning was sent for: an extended TTL warns again.
ALTER TABLE workspaces ADD COLUMN expiry_warned_for TIMESTAMP;
