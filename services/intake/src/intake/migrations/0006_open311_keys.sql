-- Open311 integrators' api keys, issued and revoked by an admin. Only the SHA-256 of a key is kept (a key is 256
-- random bits, so a plain hash is enough to make a stolen table useless); `key_hint` is its first characters,
-- for telling keys apart in the list.
CREATE TABLE open311_keys (
    id          uuid PRIMARY KEY,
    client      text        NOT NULL,
    key_sha256  bytea       NOT NULL UNIQUE,
    key_hint    text        NOT NULL,
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    revoked_by  text
);

-- Which key sent each Open311 report (a key misused can be traced to its reports).
CREATE TABLE open311_submissions (
    report_id    uuid PRIMARY KEY REFERENCES reports (id),
    key_id       uuid        NOT NULL REFERENCES open311_keys (id),
    submitted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX open311_submissions_key ON open311_submissions (key_id, submitted_at);
