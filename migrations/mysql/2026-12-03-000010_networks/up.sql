-- Dual-stack and network-aware choice (issue 16).
-- Health per address family of each (location, mirror) pair, as sentry probes it over
-- IPv4 (4) and IPv6 (6). No row for a pair = not probed per family: the map's `healthy`
-- holds for either family (what an existing database means). The map's `healthy` stays
-- "healthy over some family", so older readers keep working.
CREATE TABLE bouncer_family_health (
  location_id INT NOT NULL,
  mirror_id INT NOT NULL,
  family SMALLINT NOT NULL,
  healthy BOOLEAN NOT NULL,
  fail_streak INT NOT NULL DEFAULT 0,
  ok_streak INT NOT NULL DEFAULT 0,
  reason VARCHAR(255) NOT NULL DEFAULT '',
  -- sentry reads and writes a mirror's rows together every run: clustered by mirror.
  -- bounce reads a location's rows once per cache fill: the secondary key.
  PRIMARY KEY (mirror_id, location_id, family),
  KEY ix_family_health_location (location_id),
  CONSTRAINT fk_family_health_location FOREIGN KEY (location_id) REFERENCES mirror_locations (id) ON DELETE CASCADE,
  CONSTRAINT fk_family_health_mirror FOREIGN KEY (mirror_id) REFERENCES mirror_mirrors (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The networks a mirror serves: `AS64500` or a CIDR (`192.0.2.0/24`, `2001:db8::/32`).
-- `bouncer_mirror_settings.network_mode` says what they mean: '' (nothing), 'prefer'
-- (those clients get it first, weights kept), 'only' (nobody else gets it).
CREATE TABLE bouncer_mirror_networks (
  mirror_id INT NOT NULL,
  network VARCHAR(64) NOT NULL,
  PRIMARY KEY (mirror_id, network),
  CONSTRAINT fk_mirror_networks_mirror FOREIGN KEY (mirror_id) REFERENCES mirror_mirrors (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

ALTER TABLE bouncer_mirror_settings ADD COLUMN network_mode VARCHAR(8) NOT NULL DEFAULT '';

-- Countries a mirror must not serve (legal or peering reasons), ISO 3166 alpha-2.
CREATE TABLE bouncer_mirror_exclusions (
  mirror_id INT NOT NULL,
  country_code CHAR(2) NOT NULL,
  PRIMARY KEY (mirror_id, country_code),
  CONSTRAINT fk_mirror_exclusions_mirror FOREIGN KEY (mirror_id) REFERENCES mirror_mirrors (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
