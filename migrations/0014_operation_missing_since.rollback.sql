ALTER TABLE operations DROP COLUMN missing_since;
