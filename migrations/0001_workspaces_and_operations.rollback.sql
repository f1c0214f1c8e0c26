DROP TABLE operations;
DROP TABLE workspaces;
