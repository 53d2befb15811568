//! Country of a client address from a MaxMind database, reloaded when the file changes.

use arc_swap::ArcSwapOption;
use bouncer_core::networks::{code, code_str, Code};
use bouncer_service::shutdown::{self, Background};
use maxminddb::Reader;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// Where a client is, as far as the GeoIP database knows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Place {
    pub country: Option<Code>,
    pub continent: Option<Code>,
}

/// The two codes of a GeoIP2 Country or City record a redirect needs. Decoding only these
/// lets the decoder skip the rest (names in eight languages, geoname ids, registered
/// country) instead of building it, on every redirect.
#[derive(serde::Deserialize, Default)]
struct Codes<'a> {
    #[serde(borrow, default)]
    country: CountryCode<'a>,
    #[serde(borrow, default)]
    continent: ContinentCode<'a>,
}

#[derive(serde::Deserialize, Default)]
struct CountryCode<'a> {
    #[serde(borrow, default)]
    iso_code: Option<&'a str>,
}

#[derive(serde::Deserialize, Default)]
struct ContinentCode<'a> {
    #[serde(borrow, default)]
    code: Option<&'a str>,
}

/// The loaded database (if any) and where it came from.
pub struct Geo {
    path: Option<PathBuf>,
    reader: ArcSwapOption<Reader<Vec<u8>>>,
    loaded_mtime: Mutex<Option<SystemTime>>,
    /// ASN databases: lookups that found the client's network but no AS number in it
    /// (`bounce_asn_records_without_number_total`).
    no_number: Option<prometheus::IntCounter>,
    /// The loaded file has been logged as giving records without a number (once per
    /// file: a broken database would otherwise log on every redirect).
    warned: AtomicBool,
}

impl Geo {
    /// Loads `path` if set. A missing or broken file is logged, not fatal: clients then
    /// have no region until a good file appears.
    pub fn new(path: Option<PathBuf>) -> Self {
        let geo = Self {
            path,
            reader: ArcSwapOption::empty(),
            loaded_mtime: Mutex::new(None),
            no_number: None,
            warned: AtomicBool::new(false),
        };
        geo.reload_if_changed();
        geo
    }

    /// An ASN database at `path`; `no_number` counts lookups whose record has no AS
    /// number bounce can read.
    pub fn asn_database(path: Option<PathBuf>, no_number: prometheus::IntCounter) -> Self {
        Self {
            no_number: Some(no_number),
            ..Self::new(path)
        }
    }

    /// ISO country code (upper case) of `ip`, if the database knows it.
    pub fn country(&self, ip: IpAddr) -> Option<String> {
        self.place(ip).country.map(|c| code_str(&c).to_owned())
    }

    /// The client's country and continent (upper-case codes), in one lookup and without
    /// an allocation (this runs on every redirect).
    pub fn place(&self, ip: IpAddr) -> Place {
        let reader = self.reader.load();
        let Some(reader) = reader.as_ref() else {
            return Place::default();
        };
        let Ok(found) = reader.lookup(ip) else {
            return Place::default();
        };
        let Ok(Some(record)) = found.decode::<Codes<'_>>() else {
            return Place::default();
        };
        Place {
            country: record.country.iso_code.and_then(code),
            continent: record.continent.code.and_then(code),
        }
    }

    /// The client's autonomous system, from a GeoLite2-ASN-shaped database (the number
    /// in any unsigned width, see [`crate::asn`]). A network the database holds without a
    /// number it can give is counted, and logged once per file: every network rule would
    /// otherwise silently never match.
    pub fn asn(&self, ip: IpAddr) -> Option<u32> {
        let reader = self.reader.load();
        let found = reader.as_ref()?.lookup(ip).ok()?;
        if !found.has_data() {
            return None;
        }
        let number = found
            .decode::<crate::asn::AsnRecord>()
            .ok()
            .flatten()
            .and_then(|r| r.autonomous_system_number);
        if number.is_none() {
            self.no_number_for(ip);
        }
        number
    }

    /// Counts a record without a number and warns the first time for this file.
    fn no_number_for(&self, ip: IpAddr) {
        if let Some(counter) = &self.no_number {
            counter.inc();
        }
        if !self.warned.swap(true, Ordering::Relaxed) {
            let path = self.path.as_deref().unwrap_or(Path::new("")).display();
            tracing::warn!(
                path = %path,
                %ip,
                "ASN database gives no AS number for a network it holds (expected an \
                 unsigned autonomous_system_number): network rules cannot match its clients"
            );
        }
    }

    /// Whether a database is loaded.
    pub fn is_loaded(&self) -> bool {
        self.reader.load().is_some()
    }

    /// Reloads the file when its modification time moved; returns whether it did. A file
    /// that fails to load leaves the previous database in service.
    pub fn reload_if_changed(&self) -> bool {
        let Some(path) = &self.path else {
            return false;
        };
        let mtime = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        let Ok(mut loaded) = self.loaded_mtime.lock() else {
            return false;
        };
        if mtime.is_none() || *loaded == mtime {
            return false;
        }
        match open(path) {
            Ok(reader) => {
                self.reader.store(Some(Arc::new(reader)));
                self.warned.store(false, Ordering::Relaxed);
                *loaded = mtime;
                tracing::info!(path = %path.display(), "GeoIP database loaded");
                true
            }
            Err(e) => {
                tracing::error!(path = %path.display(), error = %e, "GeoIP database not loaded");
                false
            }
        }
    }

    /// Checks the file every `every` until the service stops.
    pub fn spawn_reloader(self: &Arc<Self>, every: Duration, background: &Background) {
        if self.path.is_none() || every.is_zero() {
            return;
        }
        let geo = Arc::clone(self);
        let token = background.token();
        background.spawn(async move {
            shutdown::every(Duration::ZERO, every, token, || {
                let g = Arc::clone(&geo);
                async move {
                    let _ = tokio::task::spawn_blocking(move || g.reload_if_changed()).await;
                }
            })
            .await
        });
    }
}

fn open(path: &Path) -> Result<Reader<Vec<u8>>, maxminddb::MaxMindDbError> {
    Reader::open_readfile(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bouncer_test_support::{write_asn_mmdb_as, write_country_mmdb};

    fn asn_of<N: serde::Serialize + Copy>(number: N) -> (Option<u32>, Geo) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("asn.mmdb");
        write_asn_mmdb_as(&path, &[("203.0.113.0/24", number)]);
        let counter = prometheus::IntCounter::new("n", "n").unwrap();
        let geo = Geo::asn_database(Some(path), counter);
        assert!(geo.is_loaded());
        (geo.asn("203.0.113.9".parse().unwrap()), geo)
    }

    #[test]
    fn asn_numbers_of_any_unsigned_width() {
        assert_eq!(
            asn_of(64_500u16).0,
            Some(64_500),
            "uint16, as small writers store it"
        );
        assert_eq!(asn_of(4_200_000_000u32).0, Some(4_200_000_000));
        assert_eq!(asn_of(64_501u64).0, Some(64_501));
        assert_eq!(asn_of(1u64 << 40).0, None, "not an AS number");
        let (_, geo) = asn_of(64_500u16);
        assert_eq!(geo.no_number.as_ref().unwrap().get(), 0);
        assert_eq!(geo.asn("198.51.100.1".parse().unwrap()), None);
        assert_eq!(
            geo.no_number.as_ref().unwrap().get(),
            0,
            "a network the database does not hold is no fault of the database"
        );
    }

    #[test]
    fn a_database_without_numbers_is_counted_and_warned_once() {
        let (asn, geo) = asn_of("AS64500");
        assert_eq!(asn, None);
        assert!(geo.warned.load(Ordering::Relaxed), "warned");
        for _ in 0..3 {
            assert_eq!(geo.asn("203.0.113.10".parse().unwrap()), None);
        }
        assert_eq!(
            geo.no_number.as_ref().unwrap().get(),
            4,
            "every lookup counted"
        );
    }

    #[test]
    fn reloads_when_the_file_changes_and_survives_a_bad_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("geo.mmdb");
        let geo = Geo::new(Some(path.clone()));
        assert!(!geo.is_loaded(), "a missing file is not fatal");
        write_country_mmdb(&path, &[("203.0.113.0/24", "de")]);
        assert!(geo.reload_if_changed());
        assert_eq!(
            geo.country("203.0.113.5".parse().unwrap()).as_deref(),
            Some("DE")
        );
        assert!(!geo.reload_if_changed(), "unchanged file: no reload");

        // Replace the file (new inode and modification time), as an updater would.
        let next = dir.path().join("next.mmdb");
        write_country_mmdb(&next, &[("203.0.113.0/24", "FR"), ("2001:db8::/32", "JP")]);
        let later = SystemTime::now() + Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&next)
            .unwrap()
            .set_modified(later)
            .unwrap();
        std::fs::rename(&next, &path).unwrap();
        assert!(geo.reload_if_changed());
        assert_eq!(
            geo.country("203.0.113.5".parse().unwrap()).as_deref(),
            Some("FR")
        );
        assert_eq!(
            geo.country("2001:db8::7".parse().unwrap()).as_deref(),
            Some("JP")
        );

        // A corrupt file keeps the last good database in service.
        std::fs::write(&path, b"not a maxmind database").unwrap();
        let latest = SystemTime::now() + Duration::from_secs(10);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(latest)
            .unwrap();
        assert!(!geo.reload_if_changed());
        assert_eq!(
            geo.country("203.0.113.5".parse().unwrap()).as_deref(),
            Some("FR")
        );
    }
}
