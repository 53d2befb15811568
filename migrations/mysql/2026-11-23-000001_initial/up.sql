-- Bouncer schema, MySQL/MariaDB. Table and column names are those of existing deployments;
-- tables this project adds carry the bouncer_ prefix. Names compare case-insensitively
-- through the table collation (SQLite uses COLLATE NOCASE for the same behaviour).

CREATE TABLE mirror_products (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  priority INT NOT NULL DEFAULT 0,
  count BIGINT NOT NULL DEFAULT 0,
  active TINYINT(1) NOT NULL DEFAULT 1,
  checknow TINYINT(1) NOT NULL DEFAULT 1,
  ssl_only TINYINT(1) NOT NULL DEFAULT 0,
  UNIQUE KEY product_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE mirror_aliases (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  alias VARCHAR(255) NOT NULL,
  related_product VARCHAR(255) NOT NULL,
  UNIQUE KEY alias (alias)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE mirror_product_langs (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  product_id INT NOT NULL,
  language VARCHAR(30) NOT NULL,
  UNIQUE KEY product_id_language (product_id, language),
  CONSTRAINT fk_langs_product FOREIGN KEY (product_id) REFERENCES mirror_products (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE mirror_os (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(32) NOT NULL,
  priority INT NOT NULL DEFAULT 0,
  UNIQUE KEY os_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE mirror_locations (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  product_id INT NOT NULL,
  os_id INT NOT NULL,
  path VARCHAR(255) NOT NULL,
  UNIQUE KEY product_os (product_id, os_id),
  KEY location_os (os_id),
  CONSTRAINT fk_locations_product FOREIGN KEY (product_id) REFERENCES mirror_products (id) ON DELETE CASCADE,
  CONSTRAINT fk_locations_os FOREIGN KEY (os_id) REFERENCES mirror_os (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE mirror_mirrors (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(64) NOT NULL,
  baseurl VARCHAR(255) NOT NULL,
  rating INT NOT NULL DEFAULT 0,
  active TINYINT(1) NOT NULL DEFAULT 0,
  count BIGINT NOT NULL DEFAULT 0,
  UNIQUE KEY mirror_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE mirror_location_mirror_map (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  location_id INT NOT NULL,
  mirror_id INT NOT NULL,
  active TINYINT(1) NOT NULL DEFAULT 0,
  healthy TINYINT(1) NOT NULL DEFAULT 1,
  UNIQUE KEY location_mirror (location_id, mirror_id),
  KEY map_mirror (mirror_id),
  CONSTRAINT fk_map_location FOREIGN KEY (location_id) REFERENCES mirror_locations (id) ON DELETE CASCADE,
  CONSTRAINT fk_map_mirror FOREIGN KEY (mirror_id) REFERENCES mirror_mirrors (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE geoip_regions (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  priority INT NOT NULL DEFAULT 0,
  throttle INT NOT NULL DEFAULT 100,
  fallback_id INT NULL,
  prevent_global_fallback TINYINT(1) NOT NULL DEFAULT 0,
  UNIQUE KEY region_name (name),
  CONSTRAINT fk_region_fallback FOREIGN KEY (fallback_id) REFERENCES geoip_regions (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE geoip_country_to_region (
  country_code VARCHAR(2) NOT NULL PRIMARY KEY,
  region_id INT NULL,
  country_name VARCHAR(255) NULL,
  continent VARCHAR(2) NULL,
  KEY country_region (region_id),
  CONSTRAINT fk_country_region FOREIGN KEY (region_id) REFERENCES geoip_regions (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE geoip_mirror_region_map (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  mirror_id INT NOT NULL,
  region_id INT NOT NULL,
  UNIQUE KEY mirror_region (mirror_id, region_id),
  KEY region_mirror (region_id),
  CONSTRAINT fk_mrm_mirror FOREIGN KEY (mirror_id) REFERENCES mirror_mirrors (id) ON DELETE CASCADE,
  CONSTRAINT fk_mrm_region FOREIGN KEY (region_id) REFERENCES geoip_regions (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE sentry_log (
  log_date DATETIME(6) NOT NULL,
  check_time DATETIME(6) NOT NULL,
  mirror_id INT NOT NULL,
  mirror_active TINYINT(1) NOT NULL DEFAULT 0,
  mirror_rating INT NOT NULL DEFAULT 0,
  reason MEDIUMTEXT NOT NULL,
  PRIMARY KEY (mirror_id, log_date),
  CONSTRAINT fk_log_mirror FOREIGN KEY (mirror_id) REFERENCES mirror_mirrors (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE bouncer_users (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  username VARCHAR(255) NOT NULL,
  password_hash VARCHAR(255) NOT NULL,
  role VARCHAR(32) NOT NULL,
  active TINYINT(1) NOT NULL DEFAULT 1,
  created_at DATETIME(6) NOT NULL,
  UNIQUE KEY username (username)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE bouncer_api_tokens (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id INT NOT NULL,
  name VARCHAR(255) NOT NULL,
  token_hash VARCHAR(128) NOT NULL,
  role VARCHAR(32) NOT NULL,
  created_at DATETIME(6) NOT NULL,
  expires_at DATETIME(6) NULL,
  last_used_at DATETIME(6) NULL,
  UNIQUE KEY token_hash (token_hash),
  CONSTRAINT fk_token_user FOREIGN KEY (user_id) REFERENCES bouncer_users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE bouncer_audit_log (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  created_at DATETIME(6) NOT NULL,
  actor VARCHAR(255) NOT NULL,
  action VARCHAR(64) NOT NULL,
  target VARCHAR(512) NOT NULL,
  before_json MEDIUMTEXT NULL,
  after_json MEDIUMTEXT NULL,
  KEY audit_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE bouncer_rewrite_rules (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  position INT NOT NULL,
  enabled TINYINT(1) NOT NULL DEFAULT 1,
  description VARCHAR(255) NOT NULL DEFAULT '',
  conditions TEXT NOT NULL,
  set_product VARCHAR(255) NULL,
  set_os VARCHAR(32) NULL,
  updated_at DATETIME(6) NOT NULL,
  KEY rule_position (position)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
