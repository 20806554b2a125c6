-- Staff who log in to routing for a token: officers (one agency), coordinators, hotline operators, admins.
-- agency_code has no foreign key on purpose: the agencies table is being reshaped; the code checks that the
-- agency exists when an account is created or re-scoped.
CREATE TABLE staff_accounts (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    username      text        NOT NULL UNIQUE CHECK (username <> '' AND username = lower(username)),
    display_name  text        NOT NULL,
    password_hash text,  -- argon2id; NULL: the account logs in only through the OpenID Connect provider
    role          text        NOT NULL CHECK (role IN ('officer', 'coordinator', 'operator', 'admin')),
    agency_code   text,
    disabled      boolean     NOT NULL DEFAULT false,
    -- Consecutive failed logins (an attempt counts before its password is checked, so parallel guesses
    -- cannot overshoot the limit); a success resets it. locked_until in the future refuses every login.
    failed_logins integer     NOT NULL DEFAULT 0,
    locked_until  timestamptz,
    oidc_subject  text UNIQUE,  -- the provider's claim (email by default) that maps to this account
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT staff_accounts_officer_agency CHECK (role <> 'officer' OR agency_code IS NOT NULL)
);
