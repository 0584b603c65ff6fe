-- SPDX-License-Identifier: AGPL-3.0-or-later
-- File protection: protected files, their access lists, and every open.

-- One row per protected file.  header_hash is the SHA-256 (hex) of the
-- file's 226-byte header: an open must present exactly that header.
CREATE TABLE protected_files (
    id           TEXT PRIMARY KEY,
    policy_id    TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    owner_id     TEXT NOT NULL REFERENCES people(id),
    created_by   TEXT NOT NULL REFERENCES people(id),
    header_hash  TEXT NOT NULL,
    wrapped_key  BLOB NOT NULL,
    size         INTEGER,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    revoked_by   TEXT
);
CREATE INDEX protected_files_owner ON protected_files(owner_id, id);

-- The access list: user:ID, group:NAME, org:PATH (the subtree), role:ROLE.
CREATE TABLE protected_file_grants (
    file_id     TEXT NOT NULL REFERENCES protected_files(id),
    kind        TEXT NOT NULL CHECK (kind IN ('user', 'group', 'org', 'role')),
    value       TEXT NOT NULL,
    granted_by  TEXT,
    granted_at  INTEGER NOT NULL,
    PRIMARY KEY (file_id, kind, value)
);

-- Every open, allowed or refused.
CREATE TABLE protected_file_access (
    id          INTEGER PRIMARY KEY,
    file_id     TEXT NOT NULL REFERENCES protected_files(id),
    person_id   TEXT,
    login       TEXT,
    at          INTEGER NOT NULL,
    source      TEXT NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('allowed', 'refused')),
    reason      TEXT NOT NULL
);
CREATE INDEX protected_file_access_file ON protected_file_access(file_id, id);
