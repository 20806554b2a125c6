-- An agency may choose one email per new report (immediate, the default) or a digest of its new and
-- nearly-due reports, hourly or twice a day. Overdue notices always go at once.
CREATE TABLE agency_preferences (
    agency_code text PRIMARY KEY,
    mode        text        NOT NULL CHECK (mode IN ('immediate', 'hourly', 'twice_daily')),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- What waits for an agency's next digest; `digest_key` says which digest took it (once).
CREATE TABLE digest_items (
    id            bigserial PRIMARY KEY,
    agency_code   text        NOT NULL,
    agency_name   text        NOT NULL,
    agency_email  text        NOT NULL,
    kind          text        NOT NULL,
    event_id      uuid        NOT NULL,
    report_id     uuid        NOT NULL,
    tracking_code text        NOT NULL,
    title         text        NOT NULL,
    due_at        timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    digest_key    text,
    UNIQUE (event_id, kind)
);
CREATE INDEX digest_items_waiting ON digest_items (agency_code, created_at) WHERE digest_key IS NULL;
