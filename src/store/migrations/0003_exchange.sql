-- SPDX-License-Identifier: AGPL-3.0-or-later
-- Secure exchange site: transfers out (send) and in (request), their files
-- and downloads, and per-org-unit approval settings.
-- Only a hash of each link token is kept; kdf_salt and key_check are
-- emptied when a transfer ends.

CREATE TABLE exchange_transfers (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('send', 'request')),
    owner_id        TEXT NOT NULL REFERENCES people(id),
    owner_org_path  TEXT NOT NULL DEFAULT '',
    peer_email      TEXT NOT NULL,
    message         TEXT NOT NULL DEFAULT '',
    token_hash      TEXT NOT NULL UNIQUE,
    kdf_salt        BLOB NOT NULL,
    key_check       BLOB NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('uploading', 'awaiting_upload', 'receiving',
                                                    'active', 'revoked', 'expired', 'burned')),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    downloads_max   INTEGER NOT NULL,
    downloads_left  INTEGER NOT NULL,
    failures        INTEGER NOT NULL DEFAULT 0,
    total_bytes     INTEGER NOT NULL DEFAULT 0,
    file_count      INTEGER NOT NULL DEFAULT 0,
    opened_at       INTEGER,
    downloaded_at   INTEGER,
    downloaded_from TEXT,
    ended_at        INTEGER,
    mail_status     TEXT NOT NULL DEFAULT 'none',
    blobs_deleted   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX exchange_transfers_owner ON exchange_transfers(owner_id, id);
CREATE INDEX exchange_transfers_status ON exchange_transfers(status, expires_at);

CREATE TABLE exchange_files (
    id           TEXT PRIMARY KEY,
    transfer_id  TEXT NOT NULL REFERENCES exchange_transfers(id),
    seq          INTEGER NOT NULL,
    name         TEXT NOT NULL,
    size         INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    UNIQUE (transfer_id, seq)
);

CREATE TABLE exchange_downloads (
    id           INTEGER PRIMARY KEY,
    transfer_id  TEXT NOT NULL REFERENCES exchange_transfers(id),
    at           INTEGER NOT NULL,
    source       TEXT NOT NULL
);
CREATE INDEX exchange_downloads_transfer ON exchange_downloads(transfer_id, id);
