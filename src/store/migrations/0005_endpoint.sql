-- Endpoints: enrollment tokens, devices, signed-request replay cache,
-- posture reports and compliance results.

CREATE TABLE enrollment_tokens (
    id           TEXT PRIMARY KEY,
    token_hash   TEXT NOT NULL UNIQUE,
    org_unit_id  TEXT NOT NULL REFERENCES org_units(id),
    uses_left    INTEGER NOT NULL CHECK (uses_left >= 0),
    uses_total   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    created_by   TEXT,
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER
);
CREATE INDEX enrollment_tokens_org ON enrollment_tokens(org_unit_id);

CREATE TABLE devices (
    id             TEXT PRIMARY KEY,
    hostname       TEXT NOT NULL,
    machine_id     TEXT NOT NULL,
    org_unit_id    TEXT NOT NULL REFERENCES org_units(id),
    owner_id       TEXT REFERENCES people(id),
    public_key     BLOB NOT NULL,
    enrolled_with  TEXT REFERENCES enrollment_tokens(id),
    state          TEXT NOT NULL CHECK (state IN ('unknown', 'compliant', 'non_compliant', 'quarantined')),
    last_report_id TEXT,
    last_seen_at   INTEGER,
    created_at     INTEGER NOT NULL
);
CREATE INDEX devices_org ON devices(org_unit_id);

-- One row per accepted signed request: a replay (same device and signature)
-- hits the primary key on any server sharing the database.
CREATE TABLE device_request_seen (
    device_id  TEXT NOT NULL REFERENCES devices(id),
    sig_hash   TEXT NOT NULL,
    ts         INTEGER NOT NULL,
    PRIMARY KEY (device_id, sig_hash)
);
CREATE INDEX device_request_seen_ts ON device_request_seen(ts);

CREATE TABLE device_reports (
    id          TEXT PRIMARY KEY,
    device_id   TEXT NOT NULL REFERENCES devices(id),
    received_at INTEGER NOT NULL,
    report      TEXT NOT NULL,
    results     TEXT NOT NULL,
    state       TEXT NOT NULL
);
CREATE INDEX device_reports_device ON device_reports(device_id, received_at);

-- Installed packages as last reported (full reports replace, deltas patch).
CREATE TABLE device_packages (
    device_id  TEXT NOT NULL REFERENCES devices(id),
    name       TEXT NOT NULL,
    version    TEXT NOT NULL,
    source     TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (device_id, name)
);
