-- Health from several vantage points (issue 32); see the MariaDB migration for the why.
CREATE TABLE bouncer_vantage_health (
  location_id INTEGER NOT NULL REFERENCES mirror_locations (id) ON DELETE CASCADE,
  mirror_id INTEGER NOT NULL REFERENCES mirror_mirrors (id) ON DELETE CASCADE,
  family SMALLINT NOT NULL,
  vantage TEXT NOT NULL,
  active BOOLEAN NOT NULL,
  healthy BOOLEAN NOT NULL,
  fail_streak INTEGER NOT NULL DEFAULT 0,
  ok_streak INTEGER NOT NULL DEFAULT 0,
  reason TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (location_id, mirror_id, family, vantage)
);

CREATE TABLE bouncer_region_health (
  location_id INTEGER NOT NULL REFERENCES mirror_locations (id) ON DELETE CASCADE,
  mirror_id INTEGER NOT NULL REFERENCES mirror_mirrors (id) ON DELETE CASCADE,
  family SMALLINT NOT NULL,
  region_id INTEGER NOT NULL,
  healthy BOOLEAN NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (location_id, mirror_id, family, region_id)
);

CREATE TABLE bouncer_vantages (
  name TEXT NOT NULL PRIMARY KEY,
  reported_at BIGINT NOT NULL
);
