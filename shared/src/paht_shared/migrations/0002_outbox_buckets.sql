-- Keys hash into buckets; a relay publishes a bucket only while holding its advisory lock, so several
-- relays share the outbox and one report's events still leave in the order they were written.
ALTER TABLE outbox ADD COLUMN bucket smallint NOT NULL DEFAULT 0;
DROP INDEX outbox_pending;
CREATE INDEX outbox_pending ON outbox (bucket, id) WHERE published_at IS NULL;
