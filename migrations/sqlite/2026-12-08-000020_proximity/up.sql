-- Proximity from measurements (issue 32); see the MariaDB migration for the why.
CREATE TABLE bouncer_vantage_rtt (
  mirror_id INTEGER NOT NULL REFERENCES mirror_mirrors (id) ON DELETE CASCADE,
  family SMALLINT NOT NULL,
  vantage TEXT NOT NULL,
  connect_us INTEGER NOT NULL,
  ttfb_us INTEGER NOT NULL,
  samples INTEGER NOT NULL,
  PRIMARY KEY (mirror_id, family, vantage)
);

CREATE TABLE bouncer_region_rtt (
  region_id INTEGER NOT NULL REFERENCES geoip_regions (id) ON DELETE CASCADE,
  mirror_id INTEGER NOT NULL REFERENCES mirror_mirrors (id) ON DELETE CASCADE,
  family SMALLINT NOT NULL,
  ttfb_us INTEGER NOT NULL,
  samples INTEGER NOT NULL,
  PRIMARY KEY (region_id, mirror_id, family)
);
