//! The width of every column a caller can write, in one place. MariaDB refuses a longer
//! value ("Data too long for column", a 500 if it got that far); SQLite stores anything.
//! So the limit comes from here, and every writer validates against it before writing: a
//! 422 naming the field and the limit, identically on both backends. A test compares these
//! numbers with the MariaDB schema (`tests/it/db.rs`: `column_limits_match_the_mariadb_schema`).
//!
//! `VARCHAR(n)` counts characters; `TEXT` counts bytes.

/// (table, column, limit): what the schema test checks.
pub const COLUMNS: &[(&str, &str, usize)] = &[
    ("mirror_products", "name", PRODUCT_NAME),
    ("mirror_aliases", "alias", ALIAS),
    ("mirror_aliases", "related_product", PRODUCT_NAME),
    ("mirror_product_langs", "language", LANGUAGE),
    ("mirror_os", "name", OS_NAME),
    ("mirror_locations", "path", LOCATION_PATH),
    ("mirror_mirrors", "name", MIRROR_NAME),
    ("mirror_mirrors", "baseurl", BASE_URL),
    ("geoip_regions", "name", REGION_NAME),
    ("geoip_country_to_region", "country_name", COUNTRY_NAME),
    ("geoip_country_to_region", "continent", CONTINENT),
    ("bouncer_users", "username", USERNAME),
    ("bouncer_api_tokens", "name", TOKEN_NAME),
    ("bouncer_rewrite_rules", "description", RULE_DESCRIPTION),
    ("bouncer_rewrite_rules", "conditions", RULE_CONDITIONS_BYTES),
    ("bouncer_rewrite_rules", "set_product", PRODUCT_NAME),
    ("bouncer_rewrite_rules", "set_os", OS_NAME),
    ("mirror_location_mirror_map", "reason", PAIR_REASON),
    ("bouncer_family_health", "reason", PAIR_REASON),
    ("bouncer_vantage_health", "vantage", VANTAGE),
    ("bouncer_vantage_health", "reason", PAIR_REASON),
    ("bouncer_region_health", "reason", PAIR_REASON),
    ("bouncer_vantages", "name", VANTAGE),
    ("bouncer_vantage_rtt", "vantage", VANTAGE),
    ("bouncer_mirror_networks", "network", NETWORK),
    ("bouncer_files", "lang", LANGUAGE),
    ("bouncer_files", "etag", crate::files::ETAG),
    ("bouncer_files", "disputed", crate::files::DISPUTED),
    (
        "bouncer_files",
        "last_modified",
        crate::files::LAST_MODIFIED,
    ),
];

pub const PRODUCT_NAME: usize = 255;
/// sentry's reason for a pair's health (`mirror_location_mirror_map.reason`).
pub const PAIR_REASON: usize = 255;
/// A vantage's (sentry agent's) name.
pub const VANTAGE: usize = 64;
/// A mirror's network: `AS4294967295` or the longest IPv6 CIDR text.
pub const NETWORK: usize = 64;
pub const ALIAS: usize = 255;
pub const LANGUAGE: usize = 30;
pub const OS_NAME: usize = 32;
pub const LOCATION_PATH: usize = 255;
pub const MIRROR_NAME: usize = 64;
pub const BASE_URL: usize = 255;
pub const REGION_NAME: usize = 255;
pub const COUNTRY_NAME: usize = 255;
pub const CONTINENT: usize = 2;
pub const USERNAME: usize = 255;
pub const TOKEN_NAME: usize = 255;
pub const RULE_DESCRIPTION: usize = 255;
/// `TEXT`: bytes of the stored JSON.
pub const RULE_CONDITIONS_BYTES: usize = 65_535;

/// The latest instant a caller may write into a timestamp column: MariaDB's `TIMESTAMP`
/// range ends here, and a later value bound as one is stored as NULL — an expiry in 2039
/// would silently become "never". 2038-01-19 03:14:07 UTC.
pub const LATEST_TIMESTAMP_UNIX: i64 = 2_147_483_647;
