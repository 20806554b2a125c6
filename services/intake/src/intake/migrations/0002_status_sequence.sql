-- The sequence of the last status change applied (routing numbers each report's changes 1, 2, ...; 0 is
-- the submission): an event that arrives late never moves a report backwards.
ALTER TABLE reports ADD COLUMN status_sequence integer NOT NULL DEFAULT 0;
-- The timeline is history: a late event still has its place in it, ordered by its sequence.
ALTER TABLE report_timeline ADD COLUMN sequence integer NOT NULL DEFAULT 0;
DROP INDEX report_timeline_report;
CREATE INDEX report_timeline_report ON report_timeline (report_id, sequence, id);
