-- Bouncer schema, SQLite. Mirrors migrations/mysql: same tables, columns and constraints.
-- COLLATE NOCASE gives the case-insensitive name matching MySQL's collation gives.

CREATE TABLE mirror_products (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL COLLATE NOCASE UNIQUE,
  priority INTEGER NOT NULL DEFAULT 0,
  count BIGINT NOT NULL DEFAULT 0,
  active BOOLEAN NOT NULL DEFAULT 1,
  checknow BOOLEAN NOT NULL DEFAULT 1,
  ssl_only BOOLEAN NOT NULL DEFAULT 0
);

CREATE TABLE mirror_aliases (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  alias TEXT NOT NULL COLLATE NOCASE UNIQUE,
  related_product TEXT NOT NULL COLLATE NOCASE
);

CREATE TABLE mirror_product_langs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  product_id INTEGER NOT NULL REFERENCES mirror_products (id) ON DELETE CASCADE,
  language TEXT NOT NULL COLLATE NOCASE,
  UNIQUE (product_id, language)
);

CREATE TABLE mirror_os (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL COLLATE NOCASE UNIQUE,
  priority INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE mirror_locations (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  product_id INTEGER NOT NULL REFERENCES mirror_products (id) ON DELETE CASCADE,
  os_id INTEGER NOT NULL REFERENCES mirror_os (id) ON DELETE CASCADE,
  path TEXT NOT NULL,
  UNIQUE (product_id, os_id)
);
CREATE INDEX location_os ON mirror_locations (os_id);

CREATE TABLE mirror_mirrors (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL COLLATE NOCASE UNIQUE,
  baseurl TEXT NOT NULL,
  rating INTEGER NOT NULL DEFAULT 0,
  active BOOLEAN NOT NULL DEFAULT 0,
  count BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE mirror_location_mirror_map (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  location_id INTEGER NOT NULL REFERENCES mirror_locations (id) ON DELETE CASCADE,
  mirror_id INTEGER NOT NULL REFERENCES mirror_mirrors (id) ON DELETE CASCADE,
  active BOOLEAN NOT NULL DEFAULT 0,
  healthy BOOLEAN NOT NULL DEFAULT 1,
  UNIQUE (location_id, mirror_id)
);
CREATE INDEX map_mirror ON mirror_location_mirror_map (mirror_id);

CREATE TABLE geoip_regions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL COLLATE NOCASE UNIQUE,
  priority INTEGER NOT NULL DEFAULT 0,
  throttle INTEGER NOT NULL DEFAULT 100,
  fallback_id INTEGER NULL REFERENCES geoip_regions (id) ON DELETE SET NULL,
  prevent_global_fallback BOOLEAN NOT NULL DEFAULT 0
);

CREATE TABLE geoip_country_to_region (
  country_code TEXT NOT NULL COLLATE NOCASE PRIMARY KEY,
  region_id INTEGER NULL REFERENCES geoip_regions (id) ON DELETE SET NULL,
  country_name TEXT NULL,
  continent TEXT NULL
);
CREATE INDEX country_region ON geoip_country_to_region (region_id);

CREATE TABLE geoip_mirror_region_map (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  mirror_id INTEGER NOT NULL REFERENCES mirror_mirrors (id) ON DELETE CASCADE,
  region_id INTEGER NOT NULL REFERENCES geoip_regions (id) ON DELETE CASCADE,
  UNIQUE (mirror_id, region_id)
);
CREATE INDEX region_mirror ON geoip_mirror_region_map (region_id);

CREATE TABLE sentry_log (
  log_date TIMESTAMP NOT NULL,
  check_time TIMESTAMP NOT NULL,
  mirror_id INTEGER NOT NULL REFERENCES mirror_mirrors (id) ON DELETE CASCADE,
  mirror_active BOOLEAN NOT NULL DEFAULT 0,
  mirror_rating INTEGER NOT NULL DEFAULT 0,
  reason TEXT NOT NULL,
  PRIMARY KEY (mirror_id, log_date)
);

CREATE TABLE bouncer_users (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  username TEXT NOT NULL COLLATE NOCASE UNIQUE,
  password_hash TEXT NOT NULL,
  role TEXT NOT NULL,
  active BOOLEAN NOT NULL DEFAULT 1,
  created_at TIMESTAMP NOT NULL
);

CREATE TABLE bouncer_api_tokens (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL REFERENCES bouncer_users (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL,
  expires_at TIMESTAMP NULL,
  last_used_at TIMESTAMP NULL
);

CREATE TABLE bouncer_audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  created_at TIMESTAMP NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  before_json TEXT NULL,
  after_json TEXT NULL
);
CREATE INDEX audit_created ON bouncer_audit_log (created_at);

CREATE TABLE bouncer_rewrite_rules (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  position INTEGER NOT NULL,
  enabled BOOLEAN NOT NULL DEFAULT 1,
  description TEXT NOT NULL DEFAULT '',
  conditions TEXT NOT NULL,
  set_product TEXT NULL,
  set_os TEXT NULL,
  updated_at TIMESTAMP NOT NULL
);
CREATE INDEX rule_position ON bouncer_rewrite_rules (position);
