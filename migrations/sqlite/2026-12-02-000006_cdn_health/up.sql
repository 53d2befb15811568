-- Health of each location on the pinned CDN: see migrations/mysql for the why.
CREATE TABLE bouncer_cdn_health (
  location_id INTEGER NOT NULL REFERENCES mirror_locations (id) ON DELETE CASCADE,
  scheme TEXT NOT NULL,
  base_url TEXT NOT NULL,
  active BOOLEAN NOT NULL,
  healthy BOOLEAN NOT NULL,
  reason TEXT NOT NULL,
  checked_at TIMESTAMP NOT NULL,
  PRIMARY KEY (location_id, scheme)
);
