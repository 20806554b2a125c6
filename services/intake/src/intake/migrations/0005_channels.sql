-- Channels beyond the web form: the hotline's emergency flag and the operator who entered the call, and what
-- an emailed report still lacks (it is kept and its reporter asked, not refused).
ALTER TABLE reports
    ADD COLUMN emergency   boolean NOT NULL DEFAULT false,
    ADD COLUMN operator_id text,
    ADD COLUMN missing     text[]  NOT NULL DEFAULT '{}';
