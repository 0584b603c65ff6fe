-- Endpoints: quarantine.  A device that stays non-compliant past
-- its policy's grace period, that an administrator quarantines, or that an
-- intrusion alert marks infected is quarantined (devices.state =
-- 'quarantined'); the kind says what releases it:
--   grace     its next compliant check-in, or an administrator
--   admin     only an administrator
--   infected  only an administrator
-- non_compliant_since starts the grace clock at the first non-compliant
-- check-in after a compliant one (or after a release) and is cleared by a
-- compliant one.

ALTER TABLE devices ADD COLUMN non_compliant_since INTEGER;
ALTER TABLE devices ADD COLUMN quarantined_at INTEGER;
ALTER TABLE devices ADD COLUMN quarantine_kind TEXT
    CHECK (quarantine_kind IS NULL OR quarantine_kind IN ('grace', 'admin', 'infected'));
ALTER TABLE devices ADD COLUMN quarantine_reason TEXT;
ALTER TABLE devices ADD COLUMN infected INTEGER NOT NULL DEFAULT 0 CHECK (infected IN (0, 1));
CREATE INDEX devices_state ON devices(state);

-- Network addresses a device is known by, replaced at every check-in: the
-- interface addresses of its report ("addresses") and the address its
-- check-in came from (loopback excluded).  Canonical text (inet_ntop), so
-- that an intrusion alert's src_ip/dest_ip matches by equality.
CREATE TABLE device_addresses (
    device_id  TEXT NOT NULL REFERENCES devices(id),
    address    TEXT NOT NULL,
    family     INTEGER NOT NULL CHECK (family IN (4, 6)),
    source     TEXT NOT NULL CHECK (source IN ('report', 'remote')),
    seen_at    INTEGER NOT NULL,
    PRIMARY KEY (device_id, address)
);
CREATE INDEX device_addresses_address ON device_addresses(address);

-- Intrusion alerts (Suricata EVE) that matched a device and were at or
-- below the configured severity threshold: the evidence behind an
-- 'infected' quarantine.
CREATE TABLE device_alerts (
    id            TEXT PRIMARY KEY,
    device_id     TEXT NOT NULL REFERENCES devices(id),
    received_at   INTEGER NOT NULL,
    event_ts      INTEGER NOT NULL,
    src_ip        TEXT NOT NULL,
    dest_ip       TEXT NOT NULL,
    signature_id  INTEGER NOT NULL,
    signature     TEXT NOT NULL,
    severity      INTEGER NOT NULL,
    posted_by     TEXT
);
CREATE INDEX device_alerts_device ON device_alerts(device_id, received_at);
