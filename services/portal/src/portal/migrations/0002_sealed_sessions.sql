-- Sessions are encrypted at rest (AES-256-GCM, PORTAL_SESSION_KEYS): they may hold a hotline call's draft with
-- the caller's name and phone, a tracking secret, a staff token. Rows written before this are dropped: their
-- people log in or open their report again.
DELETE FROM sessions;
ALTER TABLE sessions ALTER COLUMN data TYPE bytea USING NULL;
