-- Transactional outbox: a state change and its event are written in one transaction.
CREATE TABLE outbox (
    id           bigserial PRIMARY KEY,
    event_id     uuid        NOT NULL UNIQUE,
    topic        text        NOT NULL,
    key          text        NOT NULL,
    payload      bytea       NOT NULL,
    headers      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
-- The relay only ever looks at pending rows.
CREATE INDEX outbox_pending ON outbox (id) WHERE published_at IS NULL;

-- Inbox: (handler, event_id) is written in the same transaction as the handler's effect,
-- so a redelivered event has no second effect.
CREATE TABLE inbox (
    handler      text        NOT NULL,
    event_id     uuid        NOT NULL,
    topic        text        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (handler, event_id)
);
