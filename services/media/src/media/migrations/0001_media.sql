CREATE TABLE media_objects (
    id           uuid PRIMARY KEY,
    bucket       text        NOT NULL,
    object_key   text        NOT NULL,
    kind         text        NOT NULL,   -- image | video | audio
    content_type text        NOT NULL,
    size_bytes   bigint      NOT NULL,
    sha256       bytea       NOT NULL,
    status       text        NOT NULL,   -- quarantine until the sanitising pipeline marks it usable
    report_id    uuid,
    created_at   timestamptz NOT NULL DEFAULT now()
);
