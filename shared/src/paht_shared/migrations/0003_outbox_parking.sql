-- A row Kafka refuses for itself (its topic does not exist, the record is too large) is retried with growing
-- pauses and, after a bounded number of attempts, parked: set aside with the reason (an error type, never a
-- message text), so the rows after it in its bucket keep going. `python -m paht_shared outbox retry` unparks.
ALTER TABLE outbox
    ADD COLUMN attempts        integer     NOT NULL DEFAULT 0,
    ADD COLUMN last_error      text,
    ADD COLUMN next_attempt_at timestamptz,
    ADD COLUMN parked_at       timestamptz;
-- Relays only look at rows that are neither published nor parked.
DROP INDEX outbox_pending;
CREATE INDEX outbox_pending ON outbox (bucket, id) WHERE published_at IS NULL AND parked_at IS NULL;
CREATE INDEX outbox_parked ON outbox (id) WHERE parked_at IS NOT NULL;
