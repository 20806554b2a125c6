CREATE TABLE agencies (
    code       text PRIMARY KEY,
    name       text        NOT NULL,
    email      text,
    valid_from timestamptz NOT NULL DEFAULT '-infinity',
    valid_to   timestamptz NOT NULL DEFAULT 'infinity',
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- (category, ward or any ward) -> lead agency; ward-specific rules win over category-wide ones.
CREATE TABLE routing_rules (
    id          bigserial PRIMARY KEY,
    category    text        NOT NULL,
    ward_code   text,
    agency_code text        NOT NULL REFERENCES agencies (code),
    valid_from  timestamptz NOT NULL DEFAULT '-infinity',
    valid_to    timestamptz NOT NULL DEFAULT 'infinity'
);
CREATE UNIQUE INDEX routing_rules_key ON routing_rules (category, COALESCE(ward_code, ''), valid_from);

CREATE TABLE holidays (day date PRIMARY KEY);

CREATE TABLE assignments (
    report_id   uuid PRIMARY KEY,
    agency_code text        NOT NULL REFERENCES agencies (code),
    category    text        NOT NULL,
    ward_code   text,
    title       text,
    triage      boolean     NOT NULL,
    status      text        NOT NULL,
    assigned_at timestamptz NOT NULL,
    due_at      timestamptz NOT NULL
);
CREATE INDEX assignments_agency ON assignments (agency_code, assigned_at);
