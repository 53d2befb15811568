-- What each file is (issue 15): per location and language ('' when the path has no
-- `:lang`, one file for every language), its size and hashes as the operator gave them
-- (`source = 'operator'`) or as sentry read them from the reference origin
-- (`source = 'reference'`: Content-Length, ETag, Last-Modified). sentry marks a mirror
-- answering another size unhealthy for that file; bounce sends the hashes and Metalink.
CREATE TABLE bouncer_files (
  location_id INT NOT NULL,
  lang VARCHAR(30) NOT NULL,
  size BIGINT NULL,
  sha256 CHAR(64) NULL,
  sha512 CHAR(128) NULL,
  etag VARCHAR(255) NULL,
  last_modified VARCHAR(64) NULL,
  source VARCHAR(16) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  PRIMARY KEY (location_id, lang),
  CONSTRAINT fk_files_location FOREIGN KEY (location_id) REFERENCES mirror_locations (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Per-mirror settings this project adds (old columns keep their meaning): `reference`
-- marks the origin sentry learns file sizes from and compares sampled bytes with.
CREATE TABLE bouncer_mirror_settings (
  mirror_id INT NOT NULL PRIMARY KEY,
  reference BOOLEAN NOT NULL DEFAULT 0,
  CONSTRAINT fk_mirror_settings_mirror FOREIGN KEY (mirror_id) REFERENCES mirror_mirrors (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
