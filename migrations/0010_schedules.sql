-- depends: 0009_webhooks
-- Autostart and autostop as cron expressions in a time zone (JSON), and when the janitor last
-- looked at them: a time that came in between is due.
ALTER TABLE workspaces ADD COLUMN schedule TEXT;
ALTER TABLE workspaces ADD COLUMN schedule_checked_at TIMESTAMP;
