-- The agencies' work on a report: who leads it and who helps, its deadline (paused while the citizen is
-- asked for more information, extended when the coordinator approves), returns, the answer, merges, and
-- the deadline watch. Text here is what intake published: masked, never the reporter's personal data.
ALTER TABLE assignments
    ADD COLUMN tracking_code      text,
    ADD COLUMN content            text,
    ADD COLUMN address_text       text,
    ADD COLUMN area_code          text,
    ADD COLUMN public             boolean     NOT NULL DEFAULT false,
    ADD COLUMN anonymous          boolean     NOT NULL DEFAULT false,
    ADD COLUMN identity_shared    boolean     NOT NULL DEFAULT false,
    ADD COLUMN emergency          boolean     NOT NULL DEFAULT false,
    ADD COLUMN received_at        timestamptz,
    ADD COLUMN co_agencies        text[]      NOT NULL DEFAULT '{}',
    ADD COLUMN returned_by        text[]      NOT NULL DEFAULT '{}',
    ADD COLUMN accepted_at        timestamptz,
    ADD COLUMN paused_at          timestamptz,
    ADD COLUMN extension_days     integer,
    ADD COLUMN extension_reason   text,
    ADD COLUMN extension_state    text,
    ADD COLUMN due_soon_sent_at   timestamptz,
    ADD COLUMN overdue_at         timestamptz,
    ADD COLUMN answer_text        text,
    ADD COLUMN answer_media_ids   uuid[]      NOT NULL DEFAULT '{}',
    ADD COLUMN answered_at        timestamptz,
    ADD COLUMN reject_reason_code text,
    ADD COLUMN merged_into        uuid REFERENCES assignments (report_id),
    ADD COLUMN reopen_count       integer     NOT NULL DEFAULT 0,
    ADD COLUMN updated_at         timestamptz NOT NULL DEFAULT now();
UPDATE assignments SET received_at = assigned_at WHERE received_at IS NULL;

CREATE INDEX assignments_open_due ON assignments (due_at)
    WHERE status IN ('assigned', 'in_progress', 'reopened') AND overdue_at IS NULL;
CREATE INDEX assignments_merged ON assignments (merged_into) WHERE merged_into IS NOT NULL;

-- Every change of a report's handling, numbered like its status events; the source of the history that the
-- agency and the coordinator see (who did what, why).
CREATE TABLE assignment_history (
    id          bigserial PRIMARY KEY,
    report_id   uuid        NOT NULL REFERENCES assignments (report_id),
    sequence    integer     NOT NULL,
    action      text        NOT NULL,
    status      text        NOT NULL,
    agency_code text,
    actor       text        NOT NULL,
    actor_role  text        NOT NULL,
    note        text,
    at          timestamptz NOT NULL
);
CREATE INDEX assignment_history_report ON assignment_history (report_id, id);

-- Co-processing agencies' contributions (the lead answers, with them in hand), and returns as not competent.
CREATE TABLE contributions (
    id          bigserial PRIMARY KEY,
    report_id   uuid        NOT NULL REFERENCES assignments (report_id),
    agency_code text        NOT NULL,
    author      text        NOT NULL,
    text        text        NOT NULL,
    at          timestamptz NOT NULL
);
CREATE TABLE returns (
    id          bigserial PRIMARY KEY,
    report_id   uuid        NOT NULL REFERENCES assignments (report_id),
    agency_code text        NOT NULL,
    reason      text        NOT NULL,
    at          timestamptz NOT NULL
);
CREATE INDEX returns_agency ON returns (agency_code, at);
