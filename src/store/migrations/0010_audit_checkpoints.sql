-- SPDX-License-Identifier: AGPL-3.0-or-later
-- Audit: signed checkpoints of the chain's head (src/audit/audit_ckpt.c,
-- docs/security.md section 9).  document is the exact text rampartd signed
-- with the Ed25519 key kept outside the database (DATA/audit_checkpoint.key);
-- seq, hash, created_at and server_id repeat it for queries; signature and
-- public_key are base64.  A row proves nothing by itself: only a signature
-- checked against a key the verifier pins does.  One checkpoint per seq.
CREATE TABLE audit_checkpoints (
    id          INTEGER PRIMARY KEY,
    seq         INTEGER NOT NULL UNIQUE CHECK (seq >= 1),
    hash        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    server_id   TEXT NOT NULL,
    document    TEXT NOT NULL,
    signature   TEXT NOT NULL,
    public_key  TEXT NOT NULL
);
