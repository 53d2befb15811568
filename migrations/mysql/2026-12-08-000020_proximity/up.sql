-- Proximity from measurements (issue 32). Each vantage's smoothed timings of each mirror
-- per address family (0: not probed per family): `connect_us`, the base URL's answer over
-- a new connection (connect, TLS, first byte); `ttfb_us`, the fastest answer of a file
-- on a reused connection (one round trip plus the mirror's own time). Both EWMA (α 0.3)
-- over `samples` runs.
CREATE TABLE bouncer_vantage_rtt (
  mirror_id INT NOT NULL,
  family SMALLINT NOT NULL,
  vantage VARCHAR(64) NOT NULL,
  connect_us INT NOT NULL,
  ttfb_us INT NOT NULL,
  samples INT NOT NULL,
  PRIMARY KEY (mirror_id, family, vantage),
  CONSTRAINT fk_vantage_rtt_mirror FOREIGN KEY (mirror_id) REFERENCES mirror_mirrors (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- What a region's clients can expect of each mirror: the nearest of the region's live
-- vantages (lowest `ttfb_us`), as sentry's controller settles it each run. bounce reads it
-- with the regions (`bounce.proximity`).
CREATE TABLE bouncer_region_rtt (
  region_id INT NOT NULL,
  mirror_id INT NOT NULL,
  family SMALLINT NOT NULL,
  ttfb_us INT NOT NULL,
  samples INT NOT NULL,
  PRIMARY KEY (region_id, mirror_id, family),
  CONSTRAINT fk_region_rtt_mirror FOREIGN KEY (mirror_id) REFERENCES mirror_mirrors (id) ON DELETE CASCADE,
  CONSTRAINT fk_region_rtt_region FOREIGN KEY (region_id) REFERENCES geoip_regions (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
