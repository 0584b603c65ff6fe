-- SPDX-License-Identifier: AGPL-3.0-or-later
-- Approval of external transfers: an org unit (and everything under it) may
-- require that a transfer to a recipient outside the directory is approved
-- by the sender's manager or an administrator before its link is mailed.
-- held_link keeps the link sealed under the server's secret key only while
-- the transfer waits; it is emptied when the transfer is decided or ends.

CREATE TABLE exchange_approval_units (
    org_unit_id  TEXT PRIMARY KEY REFERENCES org_units(id),
    required     INTEGER NOT NULL CHECK (required IN (0, 1)),
    updated_by   TEXT,
    updated_at   INTEGER NOT NULL
);

ALTER TABLE exchange_transfers ADD COLUMN approval TEXT NOT NULL DEFAULT 'none'
    CHECK (approval IN ('none', 'pending', 'approved', 'rejected'));
ALTER TABLE exchange_transfers ADD COLUMN held_link BLOB;
ALTER TABLE exchange_transfers ADD COLUMN decided_by TEXT;
ALTER TABLE exchange_transfers ADD COLUMN decided_at INTEGER;
