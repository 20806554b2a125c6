-- Every message notify sent (or tried to), for the delivery log and for audits.
CREATE TABLE deliveries (
    id          uuid PRIMARY KEY,
    event_id    uuid        NOT NULL,
    report_id   uuid        NOT NULL,
    channel     text        NOT NULL,
    recipient   text        NOT NULL,   -- an agency's address; citizens' contact data is never stored here in clear
    subject     text        NOT NULL,
    message_id  text        NOT NULL UNIQUE,
    status      text        NOT NULL,
    sent_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deliveries_report ON deliveries (report_id);
