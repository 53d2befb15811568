-- Health from several vantage points (issue 32; see core::vantage and docs/sentry.md).
--
-- Each vantage's own view of a (location, mirror, family) — sentry's controller is one
-- vantage, every `sentry agent` another — with its hysteresis streaks, as sentry keeps
-- them for the map. `family` is 4 or 6, or 0 when the probe was not made per family (a
-- mirror with one address family). A row changes only when the vantage's view of it
-- does, so a steady catalogue costs no writes per report.
CREATE TABLE bouncer_vantage_health (
  location_id INT NOT NULL,
  mirror_id INT NOT NULL,
  family SMALLINT NOT NULL,
  vantage VARCHAR(64) NOT NULL,
  active BOOLEAN NOT NULL,
  healthy BOOLEAN NOT NULL,
  fail_streak INT NOT NULL DEFAULT 0,
  ok_streak INT NOT NULL DEFAULT 0,
  reason VARCHAR(255) NOT NULL DEFAULT '',
  PRIMARY KEY (location_id, mirror_id, family, vantage),
  CONSTRAINT fk_vantage_health_location FOREIGN KEY (location_id) REFERENCES mirror_locations (id) ON DELETE CASCADE,
  CONSTRAINT fk_vantage_health_mirror FOREIGN KEY (mirror_id) REFERENCES mirror_mirrors (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- What `sentry.vantage_rule` made of the live vantage rows: a verdict per region the
-- vantages speak for, and the global one (`region_id` 0). bounce reads a location's rows
-- with its map rows; a pair with no row here is served as the map and family rows say.
CREATE TABLE bouncer_region_health (
  location_id INT NOT NULL,
  mirror_id INT NOT NULL,
  family SMALLINT NOT NULL,
  region_id INT NOT NULL,
  healthy BOOLEAN NOT NULL,
  reason VARCHAR(255) NOT NULL DEFAULT '',
  PRIMARY KEY (location_id, mirror_id, family, region_id),
  CONSTRAINT fk_region_health_location FOREIGN KEY (location_id) REFERENCES mirror_locations (id) ON DELETE CASCADE,
  CONSTRAINT fk_region_health_mirror FOREIGN KEY (mirror_id) REFERENCES mirror_mirrors (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- When each vantage last reported (Unix seconds): one whose last report is older than
-- `sentry.vantage_lease_secs` (a lost agent) has no say until it reports again.
CREATE TABLE bouncer_vantages (
  name VARCHAR(64) NOT NULL PRIMARY KEY,
  reported_at BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
