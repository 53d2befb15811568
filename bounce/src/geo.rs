//! Country of a client address from a MaxMind database, reloaded when the file changes.

use arc_swap::ArcSwapOption;
use bouncer_core::networks::{code, code_str, Code};
use maxminddb::Reader;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
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
}

impl Geo {
    /// Loads `path` if set. A missing or broken file is logged, not fatal: clients then
    /// have no region until a good file appears.
    pub fn new(path: Option<PathBuf>) -> Self {
        let geo = Self {
            path,
            reader: ArcSwapOption::empty(),
            loaded_mtime: Mutex::new(None),
        };
        geo.reload_if_changed();
        geo
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

    /// The client's autonomous system, from a GeoLite2-ASN-shaped database.
    pub fn asn(&self, ip: IpAddr) -> Option<u32> {
        let reader = self.reader.load();
        let found = reader.as_ref()?.lookup(ip).ok()?;
        let record: maxminddb::geoip2::Asn<'_> = found.decode().ok()??;
        record.autonomous_system_number
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

    /// Checks the file every `every` until the process ends.
    pub fn spawn_reloader(self: &Arc<Self>, every: Duration) {
        if self.path.is_none() || every.is_zero() {
            return;
        }
        let geo = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let g = Arc::clone(&geo);
                let _ = tokio::task::spawn_blocking(move || g.reload_if_changed()).await;
            }
        });
    }
}

fn open(path: &Path) -> Result<Reader<Vec<u8>>, maxminddb::MaxMindDbError> {
    Reader::open_readfile(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bouncer_test_support::write_country_mmdb;

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
