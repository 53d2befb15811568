-- Leases: one holder at a time for work that must not run twice at once (a sentry run).
-- A holder renews its lease while it works; a crashed holder's lease simply expires.
CREATE TABLE bouncer_leases (
  name VARCHAR(64) NOT NULL PRIMARY KEY,
  holder VARCHAR(255) NOT NULL,
  expires_at DATETIME NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
