-- Endpoints: versioned policies per org unit.  Every change is a
-- new row; the unit's current policy is its highest version.

CREATE TABLE endpoint_policies (
    org_unit_id  TEXT NOT NULL REFERENCES org_units(id),
    version      INTEGER NOT NULL CHECK (version >= 1),
    policy       TEXT NOT NULL,
    created_by   TEXT,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (org_unit_id, version)
);
