//! A synthetic world for the proximity replay (issue 32, `deploy/bench/proximity.sh`):
//! REGIONS client networks and MIRRORS mirrors at random places on a plane, each mirror in
//! the region nearest to it (geography). The true round trip from a network to a mirror is
//! its distance, plus — for a share of the pairs — a detour (bad peering: network
//! proximity is not geography), plus for some mirrors a slowness of their own. What the
//! region's vantages "measured" (`bouncer_region_rtt`) is the truth ±10 %, 5 samples.
//!
//! `cargo run --release -p bounce --example proximity_world -- OUT_DIR [REGIONS MIRRORS SEED]`
//!
//! Writes `OUT_DIR/world.db` (SQLite, migrated and seeded), `OUT_DIR/geo.mmdb` (network
//! `r` is 10.r.0.0/16 in its own country), `OUT_DIR/urls` (one request per client, every
//! network alike) and `OUT_DIR/world.json` (per network: its true time to every mirror).

use bouncer_core::db::{self, PoolOptions};
use diesel::connection::SimpleConnection;
use std::fmt::Write as _;

/// Countries the networks stand in (one each; ISO codes any GeoIP lookup accepts).
const COUNTRIES: [&str; 24] = [
    "DE", "FR", "GB", "US", "CA", "BR", "JP", "KR", "IN", "AU", "ZA", "NG", "SE", "PL", "ES", "IT",
    "MX", "AR", "CN", "SG", "ID", "TR", "EG", "NZ",
];

/// A small deterministic generator (splitmix64): the same world for the same seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
    fn between(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next()
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let out = std::path::PathBuf::from(
        args.get(1)
            .ok_or("usage: proximity_world OUT_DIR [REGIONS MIRRORS SEED]")?,
    );
    let regions: usize = args.get(2).map_or(Ok(20), |a| a.parse())?;
    let mirrors: usize = args.get(3).map_or(Ok(80), |a| a.parse())?;
    let seed: u64 = args.get(4).map_or(Ok(32), |a| a.parse())?;
    if regions > COUNTRIES.len() || regions == 0 || mirrors == 0 {
        return Err(format!("1 to {} regions, at least 1 mirror", COUNTRIES.len()).into());
    }
    let mut rng = Rng(seed);
    let place = |rng: &mut Rng| (rng.between(0.0, 100.0), rng.between(0.0, 100.0));
    let nets: Vec<(f64, f64)> = (0..regions).map(|_| place(&mut rng)).collect();
    let spots: Vec<(f64, f64)> = (0..mirrors).map(|_| place(&mut rng)).collect();
    let slow: Vec<f64> = (0..mirrors)
        .map(|_| {
            if rng.next() < 0.1 {
                rng.between(20.0, 60.0)
            } else {
                0.0
            }
        })
        .collect();
    let dist = |a: (f64, f64), b: (f64, f64)| ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt();
    // The truth: rtt[r][m] in ms.
    let mut rtt = vec![vec![0.0; mirrors]; regions];
    for (r, row) in rtt.iter_mut().enumerate() {
        for (m, t) in row.iter_mut().enumerate() {
            let detour = if rng.next() < 0.35 {
                rng.between(40.0, 160.0)
            } else {
                0.0
            };
            *t = 2.0 + dist(nets[r], spots[m]) + detour + slow[m];
        }
    }
    let home: Vec<usize> = spots
        .iter()
        .map(|s| {
            (0..regions)
                .min_by(|a, b| dist(nets[*a], *s).total_cmp(&dist(nets[*b], *s)))
                .unwrap_or(0)
        })
        .collect();

    std::fs::create_dir_all(&out)?;
    let db_path = out.join("world.db");
    let _ = std::fs::remove_file(&db_path);
    let pool = db::pool(
        &format!("sqlite://{}", db_path.display()),
        PoolOptions::default(),
    )?;
    let mut c = db::conn(&pool)?;
    db::run_migrations(&mut c)?;
    let mut sql = String::from(
        "INSERT INTO mirror_products (id, name, active, checknow, ssl_only) VALUES (1, 'firefox-latest', 1, 0, 0);\
         INSERT INTO mirror_product_langs (product_id, language) VALUES (1, 'en-US');\
         INSERT INTO mirror_os (id, name, priority) VALUES (1, 'win', 0);\
         INSERT INTO mirror_locations (id, product_id, os_id, path) VALUES (1, 1, 1, '/pub/:lang/setup.exe');",
    );
    for (r, cc) in COUNTRIES.iter().enumerate().take(regions) {
        let id = r + 1;
        write!(sql, "INSERT INTO geoip_regions (id, name, priority, throttle, prevent_global_fallback) VALUES ({id}, 'net{id}', 0, 100, 0);")?;
        write!(
            sql,
            "INSERT INTO geoip_country_to_region (country_code, region_id) VALUES ('{cc}', {id});"
        )?;
    }
    for m in 0..mirrors {
        let id = m + 1;
        write!(sql, "INSERT INTO mirror_mirrors (id, name, baseurl, rating, active, count) VALUES ({id}, 'm{id}', 'https://m{id}.example/pub', 100, 1, 0);")?;
        write!(sql, "INSERT INTO mirror_location_mirror_map (location_id, mirror_id, active, healthy) VALUES (1, {id}, 1, 1);")?;
        write!(
            sql,
            "INSERT INTO geoip_mirror_region_map (mirror_id, region_id) VALUES ({id}, {});",
            home[m] + 1
        )?;
        for (r, row) in rtt.iter().enumerate() {
            let measured = row[m] * rng.between(0.9, 1.1);
            write!(sql, "INSERT INTO bouncer_region_rtt (region_id, mirror_id, family, ttfb_us, samples) VALUES ({}, {id}, 0, {}, 5);", r + 1, (measured * 1000.0) as i64)?;
        }
    }
    c.batch_execute(&sql)?;

    let cidrs: Vec<String> = (0..regions)
        .map(|r| format!("10.{}.0.0/16", r + 1))
        .collect();
    let nets_mmdb: Vec<(&str, &str, Option<&str>)> = (0..regions)
        .map(|r| (cidrs[r].as_str(), COUNTRIES[r], None))
        .collect();
    bouncer_test_support::write_geo_mmdb(&out.join("geo.mmdb"), &nets_mmdb);
    let mut urls = String::new();
    for i in 0..200 {
        for r in 0..regions {
            writeln!(
                urls,
                "/?product=firefox-latest&os=win&lang=en-US&ip=10.{}.{}.{}",
                r + 1,
                i / 250,
                i % 250 + 1
            )?;
        }
    }
    std::fs::write(out.join("urls"), urls)?;
    let world = serde_json::json!({
        "networks": (0..regions).map(|r| serde_json::json!({
            "id": r + 1,
            "prefix": format!("10.{}", r + 1),
            "rtt_ms": (0..mirrors).map(|m| (format!("m{}.example", m + 1), serde_json::json!(rtt[r][m]))).collect::<serde_json::Map<_, _>>(),
        })).collect::<Vec<_>>(),
    });
    std::fs::write(out.join("world.json"), serde_json::to_string(&world)?)?;
    println!(
        "{regions} networks, {mirrors} mirrors, seed {seed}: {}",
        out.display()
    );
    Ok(())
}
