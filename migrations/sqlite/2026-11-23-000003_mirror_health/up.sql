-- sentry's hysteresis and ramp state: see migrations/mysql for the why.
CREATE TABLE bouncer_mirror_health (
  mirror_id INTEGER NOT NULL PRIMARY KEY REFERENCES mirror_mirrors (id) ON DELETE CASCADE,
  state TEXT NOT NULL DEFAULT 'up',
  weight_percent INTEGER NOT NULL DEFAULT 100,
  fail_streak INTEGER NOT NULL DEFAULT 0,
  ok_streak INTEGER NOT NULL DEFAULT 0,
  last_checked_at TIMESTAMP NULL,
  last_reason TEXT NOT NULL DEFAULT '',
  changed_at TIMESTAMP NOT NULL
);

ALTER TABLE mirror_location_mirror_map ADD COLUMN fail_streak INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mirror_location_mirror_map ADD COLUMN ok_streak INTEGER NOT NULL DEFAULT 0;
