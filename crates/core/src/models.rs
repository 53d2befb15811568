//! Row types (what a query returns) and insert forms (what a write takes), kept apart from
//! API types so a schema change never silently changes a wire format.

use crate::schema::*;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = mirror_products)]
pub struct Product {
    pub id: i32,
    pub name: String,
    pub priority: i32,
    pub count: i64,
    pub active: bool,
    pub checknow: bool,
    pub ssl_only: bool,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = mirror_products)]
pub struct NewProduct<'a> {
    pub name: &'a str,
    pub active: bool,
    pub checknow: bool,
    pub ssl_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = mirror_product_langs)]
pub struct ProductLang {
    pub id: i32,
    pub product_id: i32,
    pub language: String,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = mirror_product_langs)]
pub struct NewProductLang<'a> {
    pub product_id: i32,
    pub language: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = mirror_aliases)]
pub struct Alias {
    pub id: i32,
    pub alias: String,
    pub related_product: String,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = mirror_aliases)]
pub struct NewAlias<'a> {
    pub alias: &'a str,
    pub related_product: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = mirror_os)]
pub struct Os {
    pub id: i32,
    pub name: String,
    pub priority: i32,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = mirror_os)]
pub struct NewOs<'a> {
    pub name: &'a str,
    pub priority: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = mirror_locations)]
pub struct Location {
    pub id: i32,
    pub product_id: i32,
    pub os_id: i32,
    pub path: String,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = mirror_locations)]
pub struct NewLocation<'a> {
    pub product_id: i32,
    pub os_id: i32,
    pub path: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = mirror_mirrors)]
pub struct Mirror {
    pub id: i32,
    pub name: String,
    pub baseurl: String,
    pub rating: i32,
    pub active: bool,
    pub count: i64,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = mirror_mirrors)]
pub struct NewMirror<'a> {
    pub name: &'a str,
    pub baseurl: &'a str,
    pub rating: i32,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = mirror_location_mirror_map)]
pub struct LocationMirror {
    pub id: i64,
    pub location_id: i32,
    pub mirror_id: i32,
    pub active: bool,
    pub healthy: bool,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = mirror_location_mirror_map)]
pub struct NewLocationMirror {
    pub location_id: i32,
    pub mirror_id: i32,
    pub active: bool,
    pub healthy: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = geoip_regions)]
pub struct Region {
    pub id: i32,
    pub name: String,
    pub priority: i32,
    pub throttle: i32,
    pub fallback_id: Option<i32>,
    pub prevent_global_fallback: bool,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = geoip_regions)]
pub struct NewRegion<'a> {
    pub name: &'a str,
    pub priority: i32,
    pub throttle: i32,
    pub fallback_id: Option<i32>,
    pub prevent_global_fallback: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = geoip_country_to_region)]
pub struct CountryRegion {
    pub country_code: String,
    pub region_id: Option<i32>,
    pub country_name: Option<String>,
    pub continent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = geoip_mirror_region_map)]
pub struct MirrorRegion {
    pub id: i32,
    pub mirror_id: i32,
    pub region_id: i32,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = geoip_mirror_region_map)]
pub struct NewMirrorRegion {
    pub mirror_id: i32,
    pub region_id: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = sentry_log)]
pub struct SentryLog {
    pub log_date: NaiveDateTime,
    pub check_time: NaiveDateTime,
    pub mirror_id: i32,
    pub mirror_active: bool,
    pub mirror_rating: i32,
    pub reason: String,
}

/// sentry's health state of one mirror (see `bouncer_mirror_health` in the schema). An
/// update writes every column, `None` as NULL (unknown families are stored as such).
#[derive(
    Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable, Insertable, AsChangeset,
)]
#[diesel(table_name = bouncer_mirror_health, primary_key(mirror_id), treat_none_as_null = true)]
pub struct MirrorHealth {
    pub mirror_id: i32,
    pub state: String,
    pub weight_percent: i32,
    pub fail_streak: i32,
    pub ok_streak: i32,
    pub last_checked_at: Option<NaiveDateTime>,
    pub last_reason: String,
    pub changed_at: NaiveDateTime,
    /// [`crate::networks::Families`] as stored; `None` = every family.
    pub families: Option<i16>,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = bouncer_users)]
pub struct User {
    pub id: i32,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub active: bool,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = bouncer_users)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub password_hash: &'a str,
    pub role: &'a str,
    pub active: bool,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = bouncer_audit_log)]
pub struct AuditEntry {
    pub id: i64,
    pub created_at: NaiveDateTime,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub before_json: Option<String>,
    pub after_json: Option<String>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = bouncer_audit_log)]
pub struct NewAuditEntry<'a> {
    pub created_at: NaiveDateTime,
    pub actor: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub before_json: Option<&'a str>,
    pub after_json: Option<&'a str>,
}

#[derive(
    Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable, Serialize, Deserialize,
)]
#[diesel(table_name = bouncer_rewrite_rules)]
pub struct RewriteRuleRow {
    pub id: i32,
    pub position: i32,
    pub enabled: bool,
    pub description: String,
    pub conditions: String,
    pub set_product: Option<String>,
    pub set_os: Option<String>,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = bouncer_rewrite_rules)]
pub struct NewRewriteRule<'a> {
    pub position: i32,
    pub enabled: bool,
    pub description: &'a str,
    pub conditions: &'a str,
    pub set_product: Option<&'a str>,
    pub set_os: Option<&'a str>,
    pub updated_at: NaiveDateTime,
}
