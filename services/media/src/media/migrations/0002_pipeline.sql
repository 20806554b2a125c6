-- The sanitising pipeline: an upload is `processing` until the worker makes it `ready` (derivatives in S3)
-- or `rejected`; `deleted` once retention removed its objects. Ownership: the SHA-256 of the upload token,
-- and the report that claimed the file with it.
ALTER TABLE media_objects
    ADD COLUMN token_sha256        text,
    ADD COLUMN reject_reason       text,
    ADD COLUMN derivatives         jsonb NOT NULL DEFAULT '[]',  -- [{"name", "content_type", "size"}]
    ADD COLUMN suggestion          jsonb,                        -- {"lat", "lon", "taken_at"}: the uploader's only
    ADD COLUMN width               integer,
    ADD COLUMN height              integer,
    ADD COLUMN duration_seconds    double precision,
    ADD COLUMN processed_at        timestamptz,
    ADD COLUMN public              boolean NOT NULL DEFAULT false,
    ADD COLUMN claimed_at          timestamptz,
    ADD COLUMN original_deleted_at timestamptz,
    ADD COLUMN deleted_at          timestamptz;

-- Rows from before the pipeline have no event and no token: nobody can claim them, so retention removes them.
UPDATE media_objects SET status = 'processing' WHERE status = 'quarantine';

CREATE INDEX media_objects_unclaimed ON media_objects (created_at) WHERE report_id IS NULL AND status <> 'deleted';
CREATE INDEX media_objects_originals ON media_objects (created_at) WHERE original_deleted_at IS NULL;
CREATE INDEX media_objects_report ON media_objects (report_id) WHERE report_id IS NOT NULL;

-- Each report's current agency (report.status_changed.v1), for officers' access to its files.
CREATE TABLE report_agencies (
    report_id   uuid PRIMARY KEY,
    agency_code text,
    sequence    integer NOT NULL
);
