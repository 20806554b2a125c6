-- Audit log: who saw or did what to a citizen's data, and why. Append-only and hash-chained
-- (paht_shared.audit): each row's hash covers its content and the previous row's hash, so a row changed or
-- removed behind the trigger's back (a superuser, or the table's owner, can disable it) breaks the chain and
-- `python -m paht_shared audit verify` names the row. Ids, roles, codes and the staff member's stated reason
-- only: never personal data, which could not be erased from here.
CREATE TABLE audit_log (
    id           bigserial   PRIMARY KEY,
    at           timestamptz NOT NULL,
    actor        text        NOT NULL,
    actor_role   text        NOT NULL,
    actor_agency text,
    action       text        NOT NULL,
    report_id    uuid,
    subject      text,
    reason       text,
    prev_hash    bytea       NOT NULL CHECK (octet_length(prev_hash) = 32),
    hash         bytea       NOT NULL UNIQUE CHECK (octet_length(hash) = 32)
);
-- One successor per row: two appends that read the same last row (a fork of the chain) cannot both commit.
ALTER TABLE audit_log ADD CONSTRAINT audit_log_prev_hash_key UNIQUE (prev_hash);
-- "Who looked at this report's reporter?"
CREATE INDEX audit_log_report ON audit_log (report_id, id) WHERE report_id IS NOT NULL;

CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING HINT = 'Audit rows are never changed or removed; append a new row instead.';
END
$$;

-- Row triggers fire for every role, the owner and superusers included; TRUNCATE needs its own statement trigger.
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
