-- sentry's hysteresis and ramp state. One row per checked mirror; a mirror with no row counts
-- as up at 100 %. bounce multiplies a mirror's rating by weight_percent / 100, so a mirror
-- marked down (0 %) stops receiving users and a recovered one comes back gradually.
CREATE TABLE bouncer_mirror_health (
  mirror_id INT NOT NULL PRIMARY KEY,
  state VARCHAR(16) NOT NULL DEFAULT 'up',
  weight_percent INT NOT NULL DEFAULT 100,
  fail_streak INT NOT NULL DEFAULT 0,
  ok_streak INT NOT NULL DEFAULT 0,
  last_checked_at DATETIME(6) NULL,
  last_reason MEDIUMTEXT NOT NULL,
  changed_at DATETIME(6) NOT NULL,
  CONSTRAINT fk_health_mirror FOREIGN KEY (mirror_id) REFERENCES mirror_mirrors (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Per (location, mirror) streaks: a served row is taken out only after
-- sentry.failures_to_down consecutive unhealthy probes, and an unhealthy one is put back
-- only after sentry.successes_to_up consecutive healthy probes.
ALTER TABLE mirror_location_mirror_map
  ADD COLUMN fail_streak INT NOT NULL DEFAULT 0,
  ADD COLUMN ok_streak INT NOT NULL DEFAULT 0;
