-- SPDX-License-Identifier: AGPL-3.0-or-later
-- A named approver for an org unit's external transfers, besides the
-- sender's manager and administrators; each transfer keeps the approver of
-- the unit that held it (the deepest unit above the sender that requires
-- approval), so a later change of the setting does not move a decision.

ALTER TABLE exchange_approval_units ADD COLUMN approver_id TEXT REFERENCES people(id);
ALTER TABLE exchange_transfers ADD COLUMN approver_id TEXT;
