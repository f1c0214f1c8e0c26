-- depends: 0013_docker_hosts
-- When the sweep first found a pending operation in no queue. A task a consumer has just taken
-- off its queue is in no queue either until it claims its operation, so the sweep enqueues an
-- operation again only when a later sweep still finds it missing (docs/operations.md).
ALTER TABLE operations ADD COLUMN missing_since TIMESTAMP;
