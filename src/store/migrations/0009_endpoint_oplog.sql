-- Endpoints: operation logs sent by rampart-agent.  One row per
-- event; (device_id, seq) makes a retried batch a no-op.  ts is the PC's
-- time of the event (Unix ms), received_at the server's; username is the
-- local account the event names (NULL for USB events); data the event's
-- other fields as JSON text.  Kept for the effective policy's
-- logging.retention_days (the sweep in src/endpoint/oplog.c).

CREATE TABLE device_events (
    device_id    TEXT NOT NULL REFERENCES devices(id),
    seq          INTEGER NOT NULL CHECK (seq >= 1),
    ts           INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    username     TEXT,
    received_at  INTEGER NOT NULL,
    data         TEXT NOT NULL,
    PRIMARY KEY (device_id, seq)
);
-- Searches, newest first: by device (and the retention sweep), by kind,
-- by account, and over everything.
CREATE INDEX device_events_device_ts ON device_events(device_id, ts);
CREATE INDEX device_events_kind_ts ON device_events(kind, ts);
CREATE INDEX device_events_user_ts ON device_events(username, ts);
CREATE INDEX device_events_ts ON device_events(ts);

-- The highest seq accepted from each device, kept when retention has
-- removed the events themselves, so that an old batch sent again stays a
-- duplicate.
ALTER TABLE devices ADD COLUMN events_through INTEGER NOT NULL DEFAULT 0;

-- "person" searches match the devices a person owns.
CREATE INDEX devices_owner ON devices(owner_id);
