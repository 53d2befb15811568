-- Leases: see migrations/mysql for the why.
CREATE TABLE bouncer_leases (
  name TEXT NOT NULL PRIMARY KEY,
  holder TEXT NOT NULL,
  expires_at TIMESTAMP NOT NULL
);
