DROP INDEX idempotency_keys_expiry;
DROP TABLE idempotency_keys;
