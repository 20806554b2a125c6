-- Reference data as routing uses it: agencies with their kind, ward and successor; rules by category, place
-- (ward or named area) and urgency with co-processing agencies; categories with their deadline class and
-- publication policy; and the log of every change to them. The repo's files seed these tables
-- (`python -m routing load-reference`); the admin API edits them.
--
-- `source` says who last wrote a row: 'reference' (the loader) or 'admin' (the admin API). The loader leaves
-- rows an admin changed alone, so that a deployment's real contact addresses or a retired rule survive the next
-- load (it runs at every deployment). The `holidays` table stays (the calendar now comes from the `holidays`
-- package): dropping it is not this migration's business.

ALTER TABLE agencies
    ADD COLUMN kind        text NOT NULL DEFAULT 'department'
        CHECK (kind IN ('department', 'ward_committee', 'utility', 'police', 'emergency', 'coordinator')),
    ADD COLUMN ward_code   text,
    -- Deferred: the loader writes a merged agency and its successor in one transaction, in any order.
    ADD COLUMN replaced_by text REFERENCES agencies (code) DEFERRABLE INITIALLY DEFERRED,
    ADD COLUMN source      text NOT NULL DEFAULT 'reference' CHECK (source IN ('reference', 'admin')),
    ADD CONSTRAINT agencies_ward_committee CHECK ((kind = 'ward_committee') = (ward_code IS NOT NULL)),
    ADD CONSTRAINT agencies_not_own_successor CHECK (replaced_by <> code),
    ADD CONSTRAINT agencies_validity CHECK (valid_from < valid_to);

ALTER TABLE routing_rules
    ADD COLUMN area_code   text,
    ADD COLUMN urgent      boolean     NOT NULL DEFAULT false,
    -- No foreign key on array elements: the code checks each co-processing agency exists when a rule is written.
    ADD COLUMN co_agencies text[]      NOT NULL DEFAULT '{}',
    ADD COLUMN source      text        NOT NULL DEFAULT 'reference' CHECK (source IN ('reference', 'admin')),
    ADD COLUMN updated_at  timestamptz NOT NULL DEFAULT now(),
    ADD CONSTRAINT routing_rules_one_place CHECK (ward_code IS NULL OR area_code IS NULL),
    ADD CONSTRAINT routing_rules_validity CHECK (valid_from < valid_to);

-- A rule is identified by what it matches and since when: a newer rule for the same match supersedes an older
-- one from its valid_from on (the resolver prefers the latest valid_from), without rewriting history.
DROP INDEX routing_rules_key;
CREATE UNIQUE INDEX routing_rules_key
    ON routing_rules (category, COALESCE(ward_code, ''), COALESCE(area_code, ''), urgent, valid_from);

CREATE TABLE categories (
    code           text PRIMARY KEY,
    field_code     text        NOT NULL,
    field_name     text        NOT NULL,
    name           text        NOT NULL,
    deadline_class text        NOT NULL,
    working_days   integer     NOT NULL CHECK (working_days > 0),
    public_allowed boolean     NOT NULL,
    active         boolean     NOT NULL DEFAULT true,
    position       integer     NOT NULL DEFAULT 0,  -- the file's order: how a form lists them
    source         text        NOT NULL DEFAULT 'reference' CHECK (source IN ('reference', 'admin')),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Who changed which reference row, when, from what to what (the loader signs as 'load-reference').
CREATE TABLE reference_changes (
    id     bigserial PRIMARY KEY,
    at     timestamptz NOT NULL DEFAULT now(),
    actor  text        NOT NULL,
    kind   text        NOT NULL CHECK (kind IN ('agency', 'rule', 'category')),
    key    text        NOT NULL,
    before jsonb,
    after  jsonb
);
CREATE INDEX reference_changes_row ON reference_changes (kind, key, id);
