-- The whole citizen report: reception time, named area, the answer, rating, reopening, requests for more
-- information, the public view and its search, and the abuse limits.

-- A report located only by a map point has no ward until routing resolves it.
ALTER TABLE reports ALTER COLUMN ward_code DROP NOT NULL;
-- A channel may give a phone or an email (an anonymous reporter gives one of them).
ALTER TABLE reporters ALTER COLUMN phone_enc DROP NOT NULL;
ALTER TABLE reporters ALTER COLUMN phone_bidx DROP NOT NULL;
ALTER TABLE reporters ADD COLUMN email_bidx bytea;
CREATE INDEX reporters_email_bidx ON reporters (email_bidx);

-- title, content and address_text now hold the text with personal data masked (phones, CCCDs, emails, the
-- reporter's own name); the text as typed is kept encrypted in original_enc for the reporter and for staff
-- allowed to see it.
ALTER TABLE reports
    ADD COLUMN received_at       timestamptz,
    ADD COLUMN area_code         text,
    ADD COLUMN original_enc      bytea,
    ADD COLUMN search_text       text NOT NULL DEFAULT '',
    ADD COLUMN answer_text       text,
    ADD COLUMN answer_media_ids  uuid[] NOT NULL DEFAULT '{}',
    ADD COLUMN answer_agency_code text,
    ADD COLUMN answer_agency_name text,
    ADD COLUMN answered_at       timestamptz,
    ADD COLUMN answered_on_time  boolean,
    ADD COLUMN rating            text,
    ADD COLUMN rating_comment    text,
    ADD COLUMN rated_at          timestamptz,
    ADD COLUMN reopen_count      integer NOT NULL DEFAULT 0;
UPDATE reports SET received_at = submitted_at WHERE received_at IS NULL;
ALTER TABLE reports ALTER COLUMN received_at SET NOT NULL;

CREATE INDEX reports_reporter ON reports (reporter_id, submitted_at);
CREATE INDEX reports_public_recent ON reports (submitted_at DESC) WHERE is_public;
CREATE INDEX reports_public_search ON reports USING gin (to_tsvector('simple', search_text)) WHERE is_public;

-- Who did it: the citizen (rating, reopening, more information), the agency, or the platform.
ALTER TABLE report_timeline ADD COLUMN actor text NOT NULL DEFAULT 'agency';
UPDATE report_timeline SET actor = 'system' WHERE status = 'submitted';

-- An agency's request for more information and the citizen's reply (masked, like every shown text).
CREATE TABLE information_requests (
    id              bigserial PRIMARY KEY,
    report_id       uuid        NOT NULL REFERENCES reports (id),
    sequence        integer     NOT NULL,
    question        text        NOT NULL,
    asked_at        timestamptz NOT NULL,
    reply           text,
    reply_media_ids uuid[]      NOT NULL DEFAULT '{}',
    replied_at      timestamptz,
    UNIQUE (report_id, sequence)
);

-- Wrong tracking secrets per code: after too many, the code is locked for a while (429), right secret or not.
CREATE TABLE tracking_failures (
    tracking_code text PRIMARY KEY,
    failures      integer     NOT NULL,
    window_start  timestamptz NOT NULL
);
