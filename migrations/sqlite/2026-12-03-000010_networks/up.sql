-- Dual-stack and network-aware choice (issue 16); see the MariaDB migration for the why.
CREATE TABLE bouncer_family_health (
  location_id INTEGER NOT NULL REFERENCES mirror_locations (id) ON DELETE CASCADE,
  mirror_id INTEGER NOT NULL REFERENCES mirror_mirrors (id) ON DELETE CASCADE,
  family SMALLINT NOT NULL,
  healthy BOOLEAN NOT NULL,
  fail_streak INTEGER NOT NULL DEFAULT 0,
  ok_streak INTEGER NOT NULL DEFAULT 0,
  reason TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (mirror_id, location_id, family)
);
CREATE INDEX ix_family_health_location ON bouncer_family_health (location_id);

CREATE TABLE bouncer_mirror_networks (
  mirror_id INTEGER NOT NULL REFERENCES mirror_mirrors (id) ON DELETE CASCADE,
  network TEXT NOT NULL,
  PRIMARY KEY (mirror_id, network)
);

ALTER TABLE bouncer_mirror_settings ADD COLUMN network_mode TEXT NOT NULL DEFAULT '';

CREATE TABLE bouncer_mirror_exclusions (
  mirror_id INTEGER NOT NULL REFERENCES mirror_mirrors (id) ON DELETE CASCADE,
  country_code TEXT NOT NULL,
  PRIMARY KEY (mirror_id, country_code)
);
