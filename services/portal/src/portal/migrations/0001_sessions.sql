-- Browser sessions, kept server-side: the cookie carries only a random id (its SHA-256 is the key here), so a
-- staff member's token never reaches the browser and logging out ends the session everywhere at once.
CREATE TABLE sessions (
    id_hash    bytea       PRIMARY KEY CHECK (octet_length(id_hash) = 32),
    data       jsonb       NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);
