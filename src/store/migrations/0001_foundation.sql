-- SPDX-License-Identifier: AGPL-3.0-or-later
-- Foundation: directory, authentication, authorization, audit log.
-- Portable dialect: TEXT ULIDs, INTEGER Unix milliseconds, TEXT JSON.

CREATE TABLE org_units (
    id          TEXT PRIMARY KEY,
    parent_id   TEXT REFERENCES org_units(id),
    name        TEXT NOT NULL,
    path        TEXT NOT NULL UNIQUE,
    level       TEXT NOT NULL CHECK (level IN ('group', 'company', 'division', 'department', 'unit')),
    kind        TEXT NOT NULL CHECK (kind IN ('own', 'group_company', 'business_partner')),
    created_at  INTEGER NOT NULL
);
CREATE INDEX org_units_parent ON org_units(parent_id);

CREATE TABLE people (
    id                   TEXT PRIMARY KEY,
    login                TEXT NOT NULL UNIQUE,
    employee_number      TEXT UNIQUE,
    family_name          TEXT NOT NULL,
    given_name           TEXT NOT NULL,
    email                TEXT,
    org_unit_id          TEXT REFERENCES org_units(id),
    title                TEXT NOT NULL DEFAULT '',
    status               TEXT NOT NULL CHECK (status IN ('active', 'on_leave', 'retired')),
    kind                 TEXT NOT NULL CHECK (kind IN ('employee', 'partner_staff')),
    manager_id           TEXT REFERENCES people(id),
    source               TEXT NOT NULL DEFAULT 'local',
    password_hash        TEXT,
    password_must_change INTEGER NOT NULL DEFAULT 0,
    totp_secret          BLOB,
    totp_pending         BLOB,
    totp_last_step       INTEGER NOT NULL DEFAULT 0,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    retired_at           INTEGER
);
CREATE INDEX people_org ON people(org_unit_id);
CREATE INDEX people_manager ON people(manager_id);
CREATE INDEX people_email ON people(email);

-- Every change the HR feed, SCIM or an administrator made to a person.
CREATE TABLE person_history (
    id          INTEGER PRIMARY KEY,
    person_id   TEXT NOT NULL REFERENCES people(id),
    at          INTEGER NOT NULL,
    actor_id    TEXT,
    source      TEXT NOT NULL,
    change      TEXT NOT NULL
);
CREATE INDEX person_history_person ON person_history(person_id, id);

CREATE TABLE person_roles (
    person_id     TEXT NOT NULL REFERENCES people(id),
    role          TEXT NOT NULL CHECK (role IN ('admin', 'security_officer', 'security_manager',
                                               'manager', 'auditor', 'employee', 'partner_staff')),
    scope_org_id  TEXT REFERENCES org_units(id),
    granted_by    TEXT,
    granted_at    INTEGER NOT NULL,
    PRIMARY KEY (person_id, role)
);

CREATE TABLE groups (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    external_id TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE group_members (
    group_id   TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    person_id  TEXT NOT NULL REFERENCES people(id),
    PRIMARY KEY (group_id, person_id)
);

-- Browser sessions and CLI logins.  Only hashes of the secrets are kept.
CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    token_hash    TEXT NOT NULL UNIQUE,
    csrf_hash     TEXT NOT NULL,
    person_id     TEXT NOT NULL REFERENCES people(id),
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    revoked_at    INTEGER,
    source        TEXT NOT NULL DEFAULT '',
    user_agent    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_person ON sessions(person_id);

-- Named API tokens; scope 'api' acts as the person, 'scim' only on /scim/v2.
CREATE TABLE api_tokens (
    id            TEXT PRIMARY KEY,
    token_hash    TEXT NOT NULL UNIQUE,
    person_id     TEXT NOT NULL REFERENCES people(id),
    name          TEXT NOT NULL,
    scope         TEXT NOT NULL CHECK (scope IN ('api', 'scim')),
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER,
    last_used_at  INTEGER,
    revoked_at    INTEGER
);
CREATE INDEX api_tokens_person ON api_tokens(person_id);

CREATE TABLE recovery_codes (
    person_id   TEXT NOT NULL REFERENCES people(id),
    code_hash   TEXT NOT NULL,
    used_at     INTEGER,
    PRIMARY KEY (person_id, code_hash)
);

-- One-time activation links for people who have no password yet.
CREATE TABLE activations (
    token_hash  TEXT PRIMARY KEY,
    person_id   TEXT NOT NULL REFERENCES people(id),
    created_by  TEXT,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);

-- Failed authentication attempts, for lockout per account and per source.
CREATE TABLE auth_failures (
    id        INTEGER PRIMARY KEY,
    factor    TEXT NOT NULL CHECK (factor IN ('password', 'totp')),
    subject   TEXT NOT NULL,
    at        INTEGER NOT NULL
);
CREATE INDEX auth_failures_subject ON auth_failures(factor, subject, at);

-- The audit log: each entry's hash covers the previous entry's hash.
CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY,
    ts           INTEGER NOT NULL,
    actor_id     TEXT,
    actor_login  TEXT,
    source       TEXT,
    action       TEXT NOT NULL,
    object_type  TEXT,
    object_id    TEXT,
    outcome      TEXT NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
    details      TEXT NOT NULL,
    request_id   TEXT,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL
);
CREATE INDEX audit_log_ts ON audit_log(ts);
CREATE INDEX audit_log_actor ON audit_log(actor_id, id);
CREATE INDEX audit_log_action ON audit_log(action, id);
CREATE INDEX audit_log_object ON audit_log(object_id, id);

-- The chain's head: its sequence and hash, so that a truncated tail is detected.
CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   INTEGER NOT NULL,
    hash  TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Server-wide facts: the server id, when the sample organization was loaded.
CREATE TABLE server_meta (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
