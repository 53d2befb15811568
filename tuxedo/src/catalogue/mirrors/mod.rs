//! Mirrors: where downloads are served from, their rating (share of traffic), whether they
//! take traffic, the regions they serve, who they are for beyond regions (the networks
//! they prefer or serve only, the countries they must not serve), and what sentry found
//! when it last checked them.

mod validate;
mod vantages;
mod view;
mod writes;

pub use vantages::{vantages_of, Vantages};
pub use view::{get, list, sentry_log_of};
pub use writes::{add, add_region, delete, remove_region, update};

use crate::catalogue::Rows;
use bouncer_core::networks::NetworkMode;
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize, Serializer};

/// Mirrors as the JSON API lists, adds, updates and deletes them.
pub const ROWS: Rows<NewMirrorForm, MirrorPatch, MirrorView> = Rows {
    list,
    add,
    update,
    delete,
};

/// Longest name and base URL the schema holds.
pub const MAX_NAME: usize = bouncer_core::limits::MIRROR_NAME;
/// Highest rating accepted (ratings are relative weights).
pub const MAX_RATING: i32 = 1_000_000;

/// sentry's view of a mirror; a mirror it never marked is `up` at 100 %.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthView {
    pub state: String,
    pub weight_percent: i32,
    #[serde(serialize_with = "bouncer_core::utc::serialize_option")]
    pub last_checked_at: Option<NaiveDateTime>,
    pub last_reason: String,
}

/// A mirror as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MirrorView {
    pub id: i32,
    pub name: String,
    pub baseurl: String,
    pub rating: i32,
    pub active: bool,
    /// Names of the regions it serves, sorted.
    pub regions: Vec<String>,
    pub health: HealthView,
    /// A reference origin: sentry learns file sizes here and compares sampled bytes.
    pub reference: bool,
    /// What `networks` mean to bounce: shown as `none`, `prefer` or `only`.
    #[serde(serialize_with = "mode_name")]
    pub network_mode: NetworkMode,
    /// The networks it serves (`AS64500`, `192.0.2.0/24`), normalised and sorted.
    pub networks: Vec<String>,
    /// Countries (ISO 3166 alpha-2) bounce never sends it clients from, sorted.
    pub excluded_countries: Vec<String>,
    /// Where it stands (ISO 3166 alpha-2): bounce's `geo=` and Metalink `location`.
    pub country: Option<String>,
}

/// A mode as the API shows it: [`NetworkMode::None`] is `none`, not the column's `''`.
fn mode_name<S: Serializer>(mode: &NetworkMode, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(match mode {
        NetworkMode::None => "none",
        other => other.as_str(),
    })
}

/// A new mirror. It starts inactive unless `active` is given.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMirrorForm {
    pub name: String,
    pub baseurl: String,
    #[serde(default)]
    pub rating: i32,
    #[serde(default)]
    pub active: bool,
    /// `none` (or `""`, the default), `prefer` or `only`.
    pub network_mode: Option<String>,
    /// `AS<number>` or CIDRs (a bare address is its /32 or /128); none by default.
    pub networks: Option<Vec<String>>,
    /// Two-letter country codes; none by default.
    pub excluded_countries: Option<Vec<String>>,
    /// Where it stands: a two-letter country code; none by default.
    pub country: Option<String>,
}

/// Changes to a mirror; a field left out is kept.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MirrorPatch {
    pub name: Option<String>,
    pub baseurl: Option<String>,
    pub rating: Option<i32>,
    pub active: Option<bool>,
    pub reference: Option<bool>,
    /// `none` (or `""`), `prefer` or `only`.
    pub network_mode: Option<String>,
    /// Replaces the whole list (`[]` clears it).
    pub networks: Option<Vec<String>>,
    /// Replaces the whole list (`[]` clears it).
    pub excluded_countries: Option<Vec<String>>,
    /// A two-letter country code; `""` clears it.
    pub country: Option<String>,
}

/// One line of sentry's log of a mirror.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SentryLogView {
    #[serde(serialize_with = "bouncer_core::utc::serialize")]
    pub log_date: NaiveDateTime,
    #[serde(serialize_with = "bouncer_core::utc::serialize")]
    pub check_time: NaiveDateTime,
    pub mirror_active: bool,
    pub mirror_rating: i32,
    pub reason: String,
}
