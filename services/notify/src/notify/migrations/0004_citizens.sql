-- Citizens hear about their reports too. Their contact stays sealed at rest exactly as intake sealed it for
-- notify (paht_shared.sealing: only notify's private key opens it), with the channels they chose.
CREATE TABLE contacts (
    report_id     uuid PRIMARY KEY,
    tracking_code text        NOT NULL,
    sealed        text        NOT NULL,
    email_on      boolean     NOT NULL,
    sms_on        boolean     NOT NULL,
    push_on       boolean     NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- A delivery to a citizen keeps the recipient sealed (opened by the sender at send time) and only a masked
-- form in `recipient` for the log; an agency's address is not personal data and stays as it was.
ALTER TABLE deliveries
    ADD COLUMN recipient_sealed text,
    ADD COLUMN kind             text,
    -- exactly once per (event, recipient, channel): a redelivered event records nothing more
    ADD COLUMN dedupe_key       text;
UPDATE deliveries SET dedupe_key = event_id::text || ':' || channel || ':' || audience || ':' || recipient
WHERE dedupe_key IS NULL;
ALTER TABLE deliveries ALTER COLUMN dedupe_key SET NOT NULL;
CREATE UNIQUE INDEX deliveries_dedupe ON deliveries (dedupe_key);
