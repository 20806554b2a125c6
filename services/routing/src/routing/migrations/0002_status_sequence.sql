-- Routing numbers each report's status changes (1, 2, ...): consumers apply a change only if it is newer
-- than the one they hold, so a late event never moves a report backwards.
ALTER TABLE assignments ADD COLUMN status_sequence integer NOT NULL DEFAULT 1;
