-- Reporters: personal data only as AES-256-GCM ciphertext (paht_shared.crypto); blind indexes for lookups.
CREATE TABLE reporters (
    id            uuid PRIMARY KEY,
    full_name_enc bytea,
    address_enc   bytea,
    cccd_enc      bytea,
    phone_enc     bytea NOT NULL,
    email_enc     bytea,
    phone_bidx    bytea NOT NULL,
    cccd_bidx     bytea,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reporters_phone_bidx ON reporters (phone_bidx);
CREATE INDEX reporters_cccd_bidx ON reporters (cccd_bidx);

CREATE TABLE reports (
    id                   uuid PRIMARY KEY,
    tracking_code        text        NOT NULL UNIQUE,
    tracking_secret_hash bytea       NOT NULL,
    channel              text        NOT NULL,
    reporter_id          uuid        NOT NULL REFERENCES reporters (id),
    title                text        NOT NULL,
    category             text        NOT NULL,
    content              text        NOT NULL,
    ward_code            text        NOT NULL,
    address_text         text,
    lat                  double precision,
    lon                  double precision,
    occurred_at          timestamptz,
    is_public            boolean     NOT NULL,
    anonymous            boolean     NOT NULL,
    consent_use          boolean     NOT NULL,
    consent_publish      boolean     NOT NULL,
    media_ids            uuid[]      NOT NULL DEFAULT '{}',
    status               text        NOT NULL,
    agency_code          text,
    agency_name          text,
    due_at               timestamptz,
    submitted_at         timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

-- What the citizen sees on the tracking page, newest last.
CREATE TABLE report_timeline (
    id          bigserial PRIMARY KEY,
    report_id   uuid        NOT NULL REFERENCES reports (id),
    status      text        NOT NULL,
    agency_code text,
    agency_name text,
    note        text,
    at          timestamptz NOT NULL
);
CREATE INDEX report_timeline_report ON report_timeline (report_id, id);

-- Idempotency-Key -> the first response (encrypted: it holds the tracking secret).
CREATE TABLE idempotency_keys (
    key          text PRIMARY KEY,
    request_hash bytea       NOT NULL,
    report_id    uuid        NOT NULL REFERENCES reports (id),
    response_enc bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
