-- What each file is, and per-mirror settings: see migrations/mysql for the why.
CREATE TABLE bouncer_files (
  location_id INTEGER NOT NULL REFERENCES mirror_locations (id) ON DELETE CASCADE,
  lang TEXT NOT NULL,
  size BIGINT NULL,
  sha256 TEXT NULL,
  sha512 TEXT NULL,
  etag TEXT NULL,
  last_modified TEXT NULL,
  source TEXT NOT NULL,
  updated_at TIMESTAMP NOT NULL,
  PRIMARY KEY (location_id, lang)
);

CREATE TABLE bouncer_mirror_settings (
  mirror_id INTEGER NOT NULL PRIMARY KEY REFERENCES mirror_mirrors (id) ON DELETE CASCADE,
  reference BOOLEAN NOT NULL DEFAULT 0
);
