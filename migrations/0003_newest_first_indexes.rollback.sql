DROP INDEX operations_started;
DROP INDEX workspaces_created;
