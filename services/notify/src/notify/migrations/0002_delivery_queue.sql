-- Sending becomes its own step after the delivery is recorded, so that a message goes out at most once:
-- pending (recorded with the status event) -> sending (claimed, committed) -> sent | failed, and back to
-- pending with a pause when the mail server is away. A row left `sending` by a process that died mid-send
-- has an unknown outcome: it is marked `unknown` for a person to check, never sent again on its own.
ALTER TABLE deliveries ALTER COLUMN sent_at DROP NOT NULL;
ALTER TABLE deliveries ALTER COLUMN sent_at DROP DEFAULT;
ALTER TABLE deliveries
    ADD COLUMN audience        text        NOT NULL DEFAULT 'agency',
    ADD COLUMN agency_code     text,
    ADD COLUMN message         bytea,
    ADD COLUMN created_at      timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN attempts        integer     NOT NULL DEFAULT 0,
    ADD COLUMN next_attempt_at timestamptz,
    ADD COLUMN claimed_at      timestamptz,
    ADD COLUMN last_error      text,
    ADD COLUMN correlation_id  text;
CREATE INDEX deliveries_due ON deliveries (created_at) WHERE status = 'pending';
CREATE INDEX deliveries_sending ON deliveries (claimed_at) WHERE status = 'sending';
