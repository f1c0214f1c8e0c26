-- depends: 0003_newest_first_indexes
-- Idempotency-Key: the first answer to a POST, kept for 24 h so that a retry gets it again.
-- A row is 'in_progress' from the moment a request claims the key until it has its answer
-- ('completed'); claim_id tells the claimant's own row from a later reclaim of an abandoned one.
CREATE TABLE idempotency_keys (
    owner TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    body_sha256 TEXT NOT NULL,
    status TEXT NOT NULL,
    claim_id TEXT NOT NULL,
    claimed_at TIMESTAMP NOT NULL,
    response_status INTEGER,
    response_body TEXT,
    response_headers TEXT,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    PRIMARY KEY (owner, idempotency_key)
);

-- The janitor's purge.
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
