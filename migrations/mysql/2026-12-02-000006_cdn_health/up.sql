-- Health of each location on the pinned CDN (bounce's CDN mode, how production runs), per
-- scheme: sentry checks every location on the pinned base URLs as it checks a mirror's, and
-- uptake counts the result. `base_url` is the pin that was checked, so results for an old
-- pin never count for a new one.
CREATE TABLE bouncer_cdn_health (
  location_id INT NOT NULL,
  scheme VARCHAR(5) NOT NULL,
  base_url VARCHAR(255) NOT NULL,
  active BOOLEAN NOT NULL,
  healthy BOOLEAN NOT NULL,
  reason VARCHAR(255) NOT NULL,
  checked_at DATETIME(6) NOT NULL,
  PRIMARY KEY (location_id, scheme),
  CONSTRAINT fk_cdn_health_location FOREIGN KEY (location_id) REFERENCES mirror_locations (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
