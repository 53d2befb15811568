//! Configuration shared by the three services.
//!
//! Layered: built-in defaults, then a TOML file, then environment variables prefixed
//! `BOUNCER_` with `__` between levels (`BOUNCER_BOUNCE__LISTEN=0.0.0.0:80`). Everything is
//! validated once at start; an error names the offending key. With no file and no
//! environment the stack runs on a SQLite file in the working directory, without memcached.

use crate::{CoreError, Result};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The whole configuration. Every key is documented in `docs/configuration.md`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub database: DatabaseConfig,
    pub memcached: MemcachedConfig,
    pub geoip: GeoipConfig,
    pub network: NetworkConfig,
    pub bounce: BounceConfig,
    pub tuxedo: TuxedoConfig,
    pub sentry: SentryConfig,
    pub fleet: FleetConfig,
    pub stats: StatsConfig,
}

/// Where the catalogue lives. Debug output masks passwords.
#[derive(Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// The master: tuxedo and sentry write here.
    pub url: String,
    /// Read replicas for bounce; empty means bounce reads the master.
    pub replicas: Vec<String>,
    /// Whether bounce may read the master when every replica is down.
    pub master_as_last_resort: bool,
    pub pool_size: u32,
    pub connect_timeout_ms: u64,
    /// The longest a writer (tuxedo) waits for one database call — a connection, then its
    /// queries or transaction — before answering 503. A write still running then is
    /// rolled back, not committed; on MariaDB it is also the session's lock wait timeout.
    pub query_timeout_ms: u64,
    /// Apply pending migrations when a service starts (the `migrate` subcommand always can).
    pub migrate_on_start: bool,
}

/// The shared cache tier. No servers = no memcached.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MemcachedConfig {
    /// `host:port` entries; keys are spread over them by consistent hashing.
    pub servers: Vec<String>,
    /// Prefix of every key, so several deployments (or tests) can share servers.
    pub prefix: String,
    /// Connect and read/write timeout of one call.
    pub timeout_ms: u64,
    /// Lifetime of cached catalogue entries.
    pub ttl_secs: u32,
    /// After a failed call, a server is skipped (counted as a miss) for this long, so a
    /// dead server costs one timeout per interval, not one per request.
    pub retry_after_ms: u64,
}

/// The MaxMind database used to find a client's country.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct GeoipConfig {
    /// Path of a GeoIP2/GeoLite2 Country or City `.mmdb`; unset = no regions.
    pub database: Option<PathBuf>,
    /// How often the file's modification time is checked; a changed file is reloaded.
    pub reload_check_secs: u64,
    /// Path of a GeoLite2-ASN (or GeoIP2-ISP) `.mmdb`: the client's network, for mirrors
    /// that prefer or serve only some networks; unset = networks by CIDR only.
    pub asn_database: Option<PathBuf>,
}

impl Default for GeoipConfig {
    fn default() -> Self {
        Self {
            database: None,
            reload_check_secs: 5,
            asn_database: None,
        }
    }
}

/// Proxies whose `X-Forwarded-For` entries are trusted.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkConfig {
    pub trusted_proxies: Vec<IpNet>,
}

/// The redirector.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct BounceConfig {
    pub listen: SocketAddr,
    /// A separate listener for `/metrics` (then not served on `listen`); unset = `/metrics`
    /// on `listen`.
    pub metrics_listen: Option<SocketAddr>,
    /// Where an empty `product` goes.
    pub home_url: String,
    /// `Cache-Control: max-age` of redirects; 0 = no header.
    pub cache_time_secs: u32,
    /// CDN mode: host (and path) used as `http://<pinned_http>`; unset = pick mirrors.
    pub pinned_http: Option<String>,
    /// CDN mode: host (and path) used as `https://<pinned_https>`.
    pub pinned_https: Option<String>,
    /// The pinned CDN's weight in uptake, on the scale of mirror ratings: a location the CDN
    /// holds counts this much of "available" (in proportion to the schemes it is healthy
    /// on), beside the ratings of the mirrors that hold it. In CDN mode with no mirrors only
    /// the ratio matters.
    pub pinned_rating: i64,
    /// Request header that, equal to `https`, selects the https pin / https-only mirrors.
    pub pin_https_header: String,
    /// Base URL used when no mirror qualifies (e.g. a CDN); unset = 404.
    pub fallback_base_url: Option<String>,
    /// Stub attribution service; unset = attribution off.
    pub stub_root: Option<String>,
    /// Honour an `ip=` query parameter (testing only).
    pub allow_ip_override: bool,
    /// Longest accepted query string, in bytes.
    pub max_query_bytes: usize,
    /// Lifetime of the in-process cache tier. Writes reach bounce through the generation
    /// watch long before that; this is only a last safety net. (An entry a lagging replica
    /// answered lives one second at most.)
    pub local_cache_ttl_ms: u64,
    /// How often the published catalogue generation is read from memcached.
    pub generation_poll_ms: u64,
    /// How often the generation is read from the database instead, when there is no
    /// memcached (or it is down, or has no published value).
    pub generation_db_poll_ms: u64,
    /// While memcached holds a published generation, the database's is also read this
    /// often, so a write whose publication failed is still seen within this interval.
    pub generation_verify_ms: u64,
    /// Entries in the in-process cache tier.
    pub local_cache_capacity: u64,
    /// Longest a request waits on infrastructure (cache fills); past it the last known
    /// data is served, or 503 when there is none.
    pub request_deadline_ms: u64,
    /// A database reader that failed is skipped for this long.
    pub reader_retry_after_ms: u64,
    /// A database reader whose calls have been in flight this long without an answer (a
    /// stalled server: connections open, nothing comes back) is passed over for the next
    /// one; a check of the generation watch taking longer gets a second one beside it
    /// that avoids that reader. So a frozen replica does not hold an instance's view back
    /// while another reader (the master as last resort) can answer.
    pub reader_timeout_ms: u64,
    /// Mirror mode: alternative mirrors offered on every redirect as RFC 6249
    /// `Link: <…>; rel=duplicate; pri=N` (client's preference order); 0 = none.
    pub link_alternatives: usize,
    /// The most bytes of the whole `Link` header (APT reads at most 360).
    pub link_header_bytes: usize,
    /// MiB of formatted `Link` values (and digests) the whole instance keeps, split evenly
    /// across its worker threads (each keeps its own copies; see bounce's `links`). A
    /// budget in bytes, not keys: a key's size grows with `link_alternatives` and the
    /// URLs' length, and a count per worker multiplied with the cores.
    pub link_cache_mb: u64,
    /// The old per-worker key count `link_cache_mb` replaced: still accepted so an
    /// upgraded instance starts with its old file, ignored (bounce logs a WARN).
    #[serde(skip_serializing)]
    pub link_cache_entries: Option<u64>,
    /// Mirror mode: `Repr-Digest` and `Digest` on redirects to a file whose hash is known.
    pub digest_headers: bool,
    /// A client whose country has no region gets the mirrors of its continent before the
    /// global set (the continent comes from the GeoIP database).
    pub continent_fallback: bool,
    /// Proximity from measurements (issue 32): `off` (geography only), `prefer` (within
    /// 1.5 × the best time sentry's vantages for the client's region measured, the rest
    /// only as a last resort) or `blend` (weights scaled by best / own).
    pub proximity: crate::selection::Proximity,
    /// Samples (sentry runs) a region's measurement of a mirror needs before it counts
    /// (1–10); below, the mirror keeps its configured weight.
    pub proximity_min_samples: i32,
    /// Download statistics: every this many seconds bounce sends what it counted to tuxedo
    /// (`fleet.tuxedo_urls`, bearer `fleet.token`); counts wait in memory while tuxedo does
    /// not answer. 0 = nothing is counted. Without a fleet nothing is counted either.
    pub stats_drain_secs: u64,
    /// The most distinct counts (product, os, lang, target, country, family, scheme and
    /// minute) kept in memory between two sends that tuxedo acknowledged; past it new
    /// combinations count under `other` (never lost, less detailed).
    pub stats_max_counts: usize,
    /// A `Range` request for a file the same client was redirected to within this many
    /// seconds is a resume, not another download; 0 = every request counts.
    pub stats_range_window_secs: u64,
    /// How long a stopping instance tries to send its last counts (SIGTERM); keep it
    /// below the service manager's stop timeout (systemd's 90 s, Kubernetes' 30 s).
    pub stats_stop_secs: u64,
    /// The bot mask: a download whose User-Agent contains one of these (ASCII case
    /// ignored) is counted as a bot's, in its own bucket, not as a person's.
    pub stats_bots: Vec<String>,
    /// A file bounce appends one JSON line to per download it counts (time, dimensions,
    /// bytes; no client address or User-Agent), for `tuxedo stats import`. Unset = none.
    pub access_log: Option<std::path::PathBuf>,
}

/// Words in the User-Agents of crawlers, link previewers and monitors (the default
/// `bounce.stats_bots`). Download managers (curl, Wget, aria2) are people's tools.
pub const BOTS: [&str; 9] = [
    "bot",
    "crawl",
    "spider",
    "slurp",
    "facebookexternalhit",
    "preview",
    "headlesschrome",
    "lighthouse",
    "monitor",
];

/// The admin service.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TuxedoConfig {
    pub listen: SocketAddr,
    /// A separate listener for `/metrics` (then not served on `listen`); unset = `/metrics`
    /// on `listen`.
    pub metrics_listen: Option<SocketAddr>,
    /// Whether GET calls of the XML API need credentials (today's admin: no).
    pub get_requires_auth: bool,
    /// Largest accepted request body (the XML API answers 413 past it).
    pub max_body_bytes: usize,
    /// Time a request body may take to arrive once the headers are in (408 past it).
    pub body_timeout_ms: u64,
    /// How often tuxedo checks the pending gated alias flips (sentry also checks after each
    /// run; whichever sees one due first carries it out); 0 = only sentry.
    pub gate_check_secs: u64,
    /// The longest a catalogue write waits, after its commit, for every live bounce
    /// instance to serve it (see `fleet`). Past it the write is still acknowledged, naming
    /// the instances that had not confirmed in the `X-Bouncer-Unconfirmed` header.
    pub visibility_timeout_ms: u64,
    /// How often tuxedo compares the master's catalogue generation with the highest one
    /// published or served, and repairs a history that went back (a restore, a promoted
    /// replica: see `history`); 0 = only at writes and `tuxedo history check`.
    pub history_check_ms: u64,
    /// Password checks (argon2id, 19 MiB each) that run at once, on threads of their own;
    /// never more, whatever callers send.
    pub login_workers: usize,
    /// Connections of the API reads' own pool (XML `*_show`, `uptake`, `mirror_list`; JSON
    /// GETs), apart from the `database.pool_size` connections writes use: unauthenticated
    /// XML reads (`get_requires_auth = false`, as the old admin) can hold at most these,
    /// so a flood of large reads cannot leave release automation's writes waiting for a
    /// connection. Same master database (a release reads its own writes at once).
    pub read_pool_size: u32,
    /// Password checks that may wait for a worker; past it a login is refused at once
    /// with 503 (a login flood costs nothing more).
    pub login_queue: usize,
}

/// The bounce fleet as the writers know it (see `fleet`): each bounce instance registers
/// with tuxedo under a lease, and a catalogue write is acknowledged once every live
/// instance serves it (or `tuxedo.visibility_timeout_ms` ran out). Off while `token` is
/// unset. Debug output masks the token.
#[derive(Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FleetConfig {
    /// Shared secret between tuxedo and bounce (a bearer token both ways): registrations
    /// and apply calls without it are refused. Unset = no fleet (writes do not wait).
    pub token: Option<String>,
    /// bounce: the tuxedo base URLs it registers with (each, every third of a lease);
    /// empty = this instance does not register.
    pub tuxedo_urls: Vec<String>,
    /// bounce: the base URL tuxedo reaches this instance at; unset = `http://` + the
    /// listening address (which must then not be a wildcard address).
    pub advertise_url: Option<String>,
    /// How long a registration counts: an instance that stopped renewing (crashed, cut
    /// off) is no longer waited for after this.
    pub lease_secs: u64,
    /// How long an instance whose lease expired is still named as unconfirmed on every
    /// write (not waited for) before it is forgotten: a cut-off region keeps serving what
    /// it last knew.
    pub forget_secs: u64,
}

impl fmt::Debug for FleetConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetConfig")
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("tuxedo_urls", &self.tuxedo_urls)
            .field("advertise_url", &self.advertise_url)
            .field("lease_secs", &self.lease_secs)
            .field("forget_secs", &self.forget_secs)
            .finish()
    }
}

impl Default for FleetConfig {
    fn default() -> Self {
        Self {
            token: None,
            tuxedo_urls: Vec::new(),
            advertise_url: None,
            lease_secs: 15,
            forget_secs: 3_600,
        }
    }
}

/// Download statistics at rest (see `stats` and docs/statistics.md): how long tuxedo
/// keeps each granularity, and how often it removes what is older.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct StatsConfig {
    /// Per-minute counts (and the ids of the batches that made them: a batch retried
    /// later than this would count again).
    pub keep_minutes_hours: u64,
    pub keep_hours_days: u64,
    pub keep_days_days: u64,
    /// How often tuxedo prunes; 0 = never (an operator prunes by hand, or keeps all).
    pub prune_every_secs: u64,
}

impl Default for StatsConfig {
    fn default() -> Self {
        Self {
            keep_minutes_hours: 48,
            keep_hours_days: 93,
            keep_days_days: 3_660,
            prune_every_secs: 3_600,
        }
    }
}

impl StatsConfig {
    /// The retention in seconds per granularity.
    pub fn retention(&self) -> crate::stats::Retention {
        let secs = |n: u64, unit: u64| i64::try_from(n.saturating_mul(unit)).unwrap_or(i64::MAX);
        crate::stats::Retention {
            minutes: secs(self.keep_minutes_hours, 3_600),
            hours: secs(self.keep_hours_days, 86_400),
            days: secs(self.keep_days_days, 86_400),
        }
    }
}

impl FleetConfig {
    /// Shortest accepted token: it is the only thing between the internet and the apply
    /// and registration endpoints.
    pub const MIN_TOKEN_BYTES: usize = 16;

    /// The lease as a duration.
    pub fn lease(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.lease_secs)
    }

    /// How long a lapsed instance is remembered.
    pub fn forget(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.forget_secs)
    }
}

/// The mirror health checker.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SentryConfig {
    /// Metrics and heartbeat listener of the daemon.
    pub listen: SocketAddr,
    /// Seconds between runs of the daemon.
    pub interval_secs: u64,
    /// Probes in flight over all mirrors.
    pub concurrency: usize,
    /// Probes in flight against one mirror.
    pub per_mirror_concurrency: usize,
    pub request_timeout_ms: u64,
    /// A mirror not done by then is cut short and marked unhealthy for this run.
    pub mirror_deadline_secs: u64,
    /// Language substituted for `:lang` in probed paths.
    pub probe_lang: String,
    pub user_agent: String,
    /// Consecutive failed runs before a mirror is marked down.
    pub failures_to_down: u32,
    /// Consecutive good runs before a mirror is marked up again.
    pub successes_to_up: u32,
    /// Runs over which a recovered mirror's effective weight ramps back to its rating.
    pub ramp_runs: u32,
    /// A PEM file of extra root certificates probes trust beside the public ones (an
    /// internal CA of mirrors or of a CDN in front of them); unset = public roots only.
    pub ca_file: Option<PathBuf>,
    /// Sampled content verification: bytes of one random slice of one random file fetched
    /// per mirror and run (a ranged GET), compared byte for byte with the same range from
    /// the reference origin; 0 = off.
    pub sample_bytes: u64,
    /// The most bytes sampling fetches from mirrors in one run (the reference's bytes not
    /// counted); mirrors past it are not sampled that run.
    pub sample_bytes_per_run: u64,
    /// Address families probed separately (`4`, `6`): each pair's health is stored per
    /// family (`bouncer_family_health`), so a mirror is sent only clients of a family it
    /// serves. `[]` = one probe per pair over whatever the system picks, no family rows.
    pub families: Vec<u8>,
    /// Host names probed at these addresses instead of what DNS says (like curl's
    /// `--resolve`): `"mirror.example" = ["192.0.2.1", "2001:db8::1"]`.
    pub resolve: std::collections::BTreeMap<String, Vec<std::net::IpAddr>>,
    /// How several vantage points' reports make the global verdict (issue 32; see
    /// `vantage`): `{ rule = "majority" }` (of the regions), `{ rule = "threshold",
    /// percent = 18 }` (more than that share of vantages passing) or `{ rule =
    /// "all_agree", quorum = 2 }` (down only when all agree and that many spoke).
    pub vantage_rule: crate::vantage::Rule,
    /// This sentry's vantage name: the controller's own beside its agents' (with
    /// `agents`), or an agent's (`sentry agent`).
    pub vantage: String,
    /// The regions (`geoip_regions` names) the controller's own probes speak for.
    pub vantage_regions: Vec<String>,
    /// Seconds a vantage's last report counts: a vantage silent longer (a lost agent) has
    /// no say until it reports again.
    pub vantage_lease_secs: u64,
    /// The agents whose reports the controller takes, by vantage name: `[sentry.agents.eu-1]
    /// token_sha256 = "…"`, `regions = ["Europe"]`. Empty: one vantage, as before issue 32.
    pub agents: std::collections::BTreeMap<String, AgentGrant>,
    /// Agent mode (`sentry agent`): the controller's base URL (its `sentry.listen`).
    pub controller: Option<String>,
    /// Agent mode: the secret whose SHA-256 the controller holds for `vantage` (set it
    /// from the environment: `BOUNCER_SENTRY__AGENT_TOKEN`). Debug output masks it.
    pub agent_token: Option<Secret>,
}

/// A secret from the configuration: serialized as itself, shown as `***` by `Debug`.
#[derive(Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// What the controller grants one agent.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AgentGrant {
    /// SHA-256 of the agent's secret, hex (`printf %s "$SECRET" | sha256sum`).
    pub token_sha256: String,
    /// The regions (`geoip_regions` names) the agent speaks for; none = globally only.
    pub regions: Vec<String>,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://bouncer.db".into(),
            replicas: Vec::new(),
            master_as_last_resort: true,
            pool_size: 8,
            connect_timeout_ms: 2_000,
            query_timeout_ms: 5_000,
            migrate_on_start: false,
        }
    }
}

impl BounceConfig {
    /// The pinned CDN's base URLs (`http://…`, `https://…`) in CDN mode: what bounce
    /// sends users to and sentry checks. `None` outside CDN mode (both pins or neither).
    pub fn pinned_bases(&self) -> Option<(String, String)> {
        match (&self.pinned_http, &self.pinned_https) {
            (Some(http), Some(https)) => {
                Some((format!("http://{http}"), format!("https://{https}")))
            }
            _ => None,
        }
    }
}

impl Default for MemcachedConfig {
    fn default() -> Self {
        Self {
            servers: Vec::new(),
            prefix: "bouncer".into(),
            timeout_ms: 50,
            ttl_secs: 3_600,
            retry_after_ms: 1_000,
        }
    }
}

impl Default for NetworkConfig {
    fn default() -> Self {
        let loopback = ["127.0.0.0/8", "::1/128"];
        Self {
            trusted_proxies: loopback.iter().filter_map(|n| n.parse().ok()).collect(),
        }
    }
}

impl Default for BounceConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8000)),
            metrics_listen: None,
            home_url: "https://www.mozilla.org/".into(),
            cache_time_secs: 60,
            pinned_http: None,
            pinned_https: None,
            pinned_rating: 1_000_000,
            pin_https_header: "X-Forwarded-Proto".into(),
            fallback_base_url: None,
            stub_root: None,
            allow_ip_override: false,
            max_query_bytes: 4_096,
            local_cache_ttl_ms: 600_000,
            generation_poll_ms: 100,
            generation_db_poll_ms: 250,
            generation_verify_ms: 5_000,
            local_cache_capacity: 100_000,
            request_deadline_ms: 1_000,
            reader_retry_after_ms: 1_000,
            reader_timeout_ms: 500,
            link_alternatives: 4,
            link_header_bytes: 360,
            link_cache_mb: 128,
            link_cache_entries: None,
            digest_headers: true,
            continent_fallback: true,
            proximity: crate::selection::Proximity::Off,
            proximity_min_samples: 3,
            stats_drain_secs: 5,
            stats_max_counts: 100_000,
            stats_range_window_secs: 3_600,
            stats_stop_secs: 25,
            stats_bots: BOTS.iter().map(|b| (*b).to_owned()).collect(),
            access_log: None,
        }
    }
}

impl Default for TuxedoConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8001)),
            metrics_listen: None,
            get_requires_auth: false,
            max_body_bytes: 500 * 1024,
            body_timeout_ms: 10_000,
            gate_check_secs: 15,
            visibility_timeout_ms: 2_000,
            history_check_ms: 1_000,
            login_workers: 2,
            login_queue: 64,
            read_pool_size: 4,
        }
    }
}

impl Default for SentryConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8002)),
            interval_secs: 300,
            concurrency: 64,
            per_mirror_concurrency: 4,
            request_timeout_ms: 10_000,
            mirror_deadline_secs: 360,
            probe_lang: "en-US".into(),
            user_agent: "Mozilla Mirror Monitor/1.0".into(),
            ca_file: None,
            sample_bytes: 0,
            sample_bytes_per_run: 64 * 1024 * 1024,
            families: vec![4, 6],
            resolve: std::collections::BTreeMap::new(),
            failures_to_down: 2,
            successes_to_up: 2,
            ramp_runs: 4,
            vantage_rule: crate::vantage::Rule::default(),
            vantage: "controller".into(),
            vantage_regions: Vec::new(),
            vantage_lease_secs: 900,
            agents: std::collections::BTreeMap::new(),
            controller: None,
            agent_token: None,
        }
    }
}

impl Config {
    /// Loads defaults, then `file` (if given, it must exist; otherwise `bouncer.toml` in the
    /// working directory if present), then `BOUNCER_*` variables; then validates.
    pub fn load(file: Option<&Path>) -> Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) if !path.exists() => {
                return Err(CoreError::Config(format!(
                    "config file {} does not exist",
                    path.display()
                )))
            }
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None if Path::new("bouncer.toml").exists() => {
                figment = figment.merge(Toml::file_exact("bouncer.toml"))
            }
            None => {}
        }
        // Only `SECTION__KEY` variables are configuration; `BOUNCER_CONFIG`,
        // `BOUNCER_LOG_FORMAT` and the test variables are read elsewhere.
        let env = Env::prefixed("BOUNCER_")
            .filter(|k| k.as_str().contains("__"))
            .split("__");
        Self::from_figment(figment.merge(env))
    }

    /// Extracts and validates a configuration from any figment (used by tests).
    pub fn from_figment(figment: Figment) -> Result<Self> {
        let config: Config = figment.extract().map_err(|e| {
            let key = e.path.join(".");
            let msg = e.to_string();
            CoreError::Config(if key.is_empty() {
                msg
            } else {
                format!("{key}: {msg}")
            })
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what types alone cannot; the error names the key.
    pub fn validate(&self) -> Result<()> {
        let bad = |key: &str, why: String| Err(CoreError::Config(format!("{key}: {why}")));
        crate::db::DbUrl::parse(&self.database.url)
            .map_err(|e| CoreError::Config(format!("database.url: {e}")))?;
        for (i, r) in self.database.replicas.iter().enumerate() {
            crate::db::DbUrl::parse(r)
                .map_err(|e| CoreError::Config(format!("database.replicas[{i}]: {e}")))?;
        }
        if self.database.pool_size == 0 {
            return bad("database.pool_size", "must be at least 1".into());
        }
        if self.tuxedo.read_pool_size == 0 {
            return bad("tuxedo.read_pool_size", "must be at least 1".into());
        }
        for (i, s) in self.memcached.servers.iter().enumerate() {
            if !valid_host_port(s.trim_start_matches("memcache://")) {
                return bad(
                    &format!("memcached.servers[{i}]"),
                    format!("expected host:port, got {s:?}"),
                );
            }
        }
        if !(0..=1_000_000_000).contains(&self.bounce.pinned_rating) {
            return bad(
                "bounce.pinned_rating",
                "must be between 0 and 1000000000".into(),
            );
        }
        if self.database.query_timeout_ms < 100 {
            return bad("database.query_timeout_ms", "must be at least 100".into());
        }
        if self.memcached.timeout_ms == 0 {
            return bad("memcached.timeout_ms", "must be at least 1".into());
        }
        check_http_url("bounce.home_url", &self.bounce.home_url)?;
        if let Some(u) = &self.bounce.fallback_base_url {
            check_http_url("bounce.fallback_base_url", u)?;
        }
        if let Some(u) = &self.bounce.stub_root {
            check_http_url("bounce.stub_root", u)?;
        }
        for (key, pin) in [
            ("bounce.pinned_http", &self.bounce.pinned_http),
            ("bounce.pinned_https", &self.bounce.pinned_https),
        ] {
            if let Some(p) = pin {
                check_http_url(key, &format!("https://{p}"))?;
                if p.contains("://") {
                    return bad(key, "give the host (and path) without a scheme".into());
                }
            }
        }
        if self.bounce.pinned_http.is_some() != self.bounce.pinned_https.is_some() {
            return bad(
                "bounce.pinned_https",
                "pinned_http and pinned_https must be set together".into(),
            );
        }
        if self.bounce.pin_https_header.trim().is_empty() {
            return bad("bounce.pin_https_header", "must not be empty".into());
        }
        if self.bounce.request_deadline_ms == 0 {
            return bad("bounce.request_deadline_ms", "must be at least 1".into());
        }
        if self.bounce.reader_timeout_ms == 0 {
            return bad("bounce.reader_timeout_ms", "must be at least 1".into());
        }
        if !(1..=1 << 20).contains(&self.bounce.link_cache_mb) {
            return bad(
                "bounce.link_cache_mb",
                "must be between 1 and 1048576 (MiB for the whole instance)".into(),
            );
        }
        if self.bounce.stats_range_window_secs > 7 * 86_400 {
            return bad(
                "bounce.stats_range_window_secs",
                "must be at most 604800 (a week; 0: off)".into(),
            );
        }
        if !(1..=600).contains(&self.bounce.stats_stop_secs) {
            return bad("bounce.stats_stop_secs", "must be between 1 and 600".into());
        }
        if self.bounce.stats_drain_secs > 3600 {
            return bad(
                "bounce.stats_drain_secs",
                "must be at most 3600 (0: off)".into(),
            );
        }
        if !(100..=10_000_000).contains(&self.bounce.stats_max_counts) {
            return bad(
                "bounce.stats_max_counts",
                "must be between 100 and 10000000".into(),
            );
        }
        let bots = &self.bounce.stats_bots;
        if bots.len() > 1000 || bots.iter().any(|b| b.is_empty() || b.len() > 200) {
            return bad(
                "bounce.stats_bots",
                "at most 1000 words of 1 to 200 bytes each".into(),
            );
        }
        if self.bounce.max_query_bytes < 256 {
            return bad("bounce.max_query_bytes", "must be at least 256".into());
        }
        match self.sentry.vantage_rule {
            crate::vantage::Rule::Threshold { percent } if percent >= 100 => {
                let why = "percent: 0 to 99 (more than that share of vantages passing)";
                return bad("sentry.vantage_rule", why.into());
            }
            crate::vantage::Rule::AllAgree { quorum: 0 } => {
                return bad("sentry.vantage_rule", "quorum: at least 1".into());
            }
            _ => {}
        }
        if !(1..=10).contains(&self.bounce.proximity_min_samples) {
            return bad(
                "bounce.proximity_min_samples",
                "must be between 1 and 10".into(),
            );
        }
        self.validate_vantages()?;
        self.validate_fleet()?;
        let s = &self.stats;
        for (key, value, max) in [
            ("stats.keep_minutes_hours", s.keep_minutes_hours, 24 * 366),
            ("stats.keep_hours_days", s.keep_hours_days, 3_660),
            ("stats.keep_days_days", s.keep_days_days, 36_600),
        ] {
            if !(1..=max).contains(&value) {
                return bad(key, format!("must be between 1 and {max}"));
            }
        }
        let s = &self.sentry;
        for (key, v) in [
            ("sentry.concurrency", s.concurrency as u64),
            (
                "sentry.per_mirror_concurrency",
                s.per_mirror_concurrency as u64,
            ),
            ("sentry.request_timeout_ms", s.request_timeout_ms),
            ("sentry.interval_secs", s.interval_secs),
            ("sentry.mirror_deadline_secs", s.mirror_deadline_secs),
            ("sentry.failures_to_down", u64::from(s.failures_to_down)),
            ("sentry.successes_to_up", u64::from(s.successes_to_up)),
        ] {
            if v == 0 {
                return bad(key, "must be at least 1".into());
            }
        }
        if s.probe_lang.trim().is_empty() {
            return bad("sentry.probe_lang", "must not be empty".into());
        }
        for (i, f) in s.families.iter().enumerate() {
            if !matches!(f, 4 | 6) || s.families[..i].contains(f) {
                return bad(
                    "sentry.families",
                    format!("expected distinct 4 and 6 (or []), got {:?}", s.families),
                );
            }
        }
        for (host, addrs) in &s.resolve {
            let key = format!("sentry.resolve.{host}");
            let bad_char = |c: char| c.is_whitespace() || matches!(c, ':' | '/' | '[' | ']');
            if host.is_empty() || host.contains(bad_char) {
                return bad(
                    &key,
                    "expected a host name (no scheme, port or path)".into(),
                );
            }
            if addrs.is_empty() {
                return bad(&key, "must list at least one address".into());
            }
        }
        Ok(())
    }

    /// Vantage names, grants and agent mode (issue 32).
    fn validate_vantages(&self) -> Result<()> {
        let bad = |key: &str, why: String| Err(CoreError::Config(format!("{key}: {why}")));
        let s = &self.sentry;
        if !crate::vantage::valid_name(&s.vantage) {
            return bad("sentry.vantage", crate::vantage::NAME_RULE.into());
        }
        if s.vantage_lease_secs == 0 {
            return bad("sentry.vantage_lease_secs", "must be at least 1".into());
        }
        for (name, grant) in &s.agents {
            let key = format!("sentry.agents.{name}");
            if !crate::vantage::valid_name(name) {
                return bad(&key, crate::vantage::NAME_RULE.into());
            }
            if *name == s.vantage {
                return bad(&key, "is the controller's own vantage name".into());
            }
            let hex = grant.token_sha256.len() == 64
                && grant.token_sha256.bytes().all(|b| b.is_ascii_hexdigit());
            if !hex {
                let why = "token_sha256: 64 hex digits (the SHA-256 of the agent's secret)";
                return bad(&key, why.into());
            }
        }
        let regions = s.agents.values().flat_map(|g| &g.regions);
        if regions
            .chain(&s.vantage_regions)
            .any(|r| r.trim().is_empty())
        {
            return bad("sentry.agents", "a region name is empty".into());
        }
        if let Some(u) = &s.controller {
            check_http_url("sentry.controller", u)?;
        }
        match &s.agent_token {
            Some(t) if t.expose().len() < FleetConfig::MIN_TOKEN_BYTES => bad(
                "sentry.agent_token",
                format!("at least {} bytes", FleetConfig::MIN_TOKEN_BYTES),
            ),
            _ => Ok(()),
        }
    }

    fn validate_fleet(&self) -> Result<()> {
        let bad = |key: &str, why: String| Err(CoreError::Config(format!("{key}: {why}")));
        let f = &self.fleet;
        if let Some(t) = &f.token {
            if t.len() < FleetConfig::MIN_TOKEN_BYTES || t.chars().any(|c| c.is_whitespace()) {
                return bad(
                    "fleet.token",
                    format!(
                        "must be at least {} bytes without white space",
                        FleetConfig::MIN_TOKEN_BYTES
                    ),
                );
            }
        }
        if !f.tuxedo_urls.is_empty() && f.token.is_none() {
            return bad(
                "fleet.token",
                "required when fleet.tuxedo_urls is set".into(),
            );
        }
        for (i, u) in f.tuxedo_urls.iter().enumerate() {
            check_http_url(&format!("fleet.tuxedo_urls[{i}]"), u)?;
        }
        if let Some(u) = &f.advertise_url {
            check_http_url("fleet.advertise_url", u)?;
            if u.len() > crate::fleet::MAX_URL_BYTES {
                return bad(
                    "fleet.advertise_url",
                    format!("longer than {} bytes", crate::fleet::MAX_URL_BYTES),
                );
            }
        }
        if f.lease_secs == 0 {
            return bad("fleet.lease_secs", "must be at least 1".into());
        }
        if !(1..=64).contains(&self.tuxedo.login_workers) {
            return bad("tuxedo.login_workers", "must be between 1 and 64".into());
        }
        if !(1..=60_000).contains(&self.tuxedo.visibility_timeout_ms) {
            return bad(
                "tuxedo.visibility_timeout_ms",
                "must be between 1 and 60000".into(),
            );
        }
        Ok(())
    }

    /// A one-line summary safe to log: passwords in URLs are masked.
    pub fn redacted(&self) -> String {
        format!("{self:?}")
    }
}

impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &mask_url(&self.url))
            .field(
                "replicas",
                &self
                    .replicas
                    .iter()
                    .map(|r| mask_url(r))
                    .collect::<Vec<_>>(),
            )
            .field("master_as_last_resort", &self.master_as_last_resort)
            .field("pool_size", &self.pool_size)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("query_timeout_ms", &self.query_timeout_ms)
            .field("migrate_on_start", &self.migrate_on_start)
            .finish()
    }
}

/// Replaces the password of a URL by `***` so it can be logged.
pub fn mask_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => raw.to_owned(),
    }
}

fn check_http_url(key: &str, value: &str) -> Result<()> {
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        _ => Err(CoreError::Config(format!(
            "{key}: expected an absolute http(s) URL, got {value:?}"
        ))),
    }
}

fn valid_host_port(s: &str) -> bool {
    match s.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0),
        None => false,
    }
}

#[cfg(test)]
mod tests;
