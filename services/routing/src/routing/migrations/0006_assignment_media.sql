-- The files attached to a report (their ids): the agency sees them through the media service, which checks
-- that the officer's agency holds the report.
ALTER TABLE assignments ADD COLUMN media_ids uuid[] NOT NULL DEFAULT '{}';
