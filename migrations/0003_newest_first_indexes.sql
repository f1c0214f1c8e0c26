-- depends: 0002_resources_and_snapshots
-- Newest-first pages across every owner (an admin's lists). The owner indexes serve a user's
-- own pages; without these, each admin page sorted the whole table first, and SQLite built
-- the JSON of every row before the sort: 114 ms a page at 10,000 workspaces.
CREATE INDEX workspaces_created ON workspaces (created_at, id);
CREATE INDEX operations_started ON operations (started_at, id);
