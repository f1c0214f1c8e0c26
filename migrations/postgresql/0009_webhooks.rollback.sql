ALTER TABLE workspaces DROP COLUMN expiry_warned_for;
DROP TABLE webhook_cursor;
DROP TABLE webhook_deliveries;
