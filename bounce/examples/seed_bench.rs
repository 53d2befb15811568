//! Seeds a benchmark catalogue and writes the URL list the wrk script rotates over.
//!
//! `cargo run --release -p bounce --example seed_bench -- DB_URL MIRRORS LOCATIONS URLS_FILE MMDB_FILE [BASEURL]`
//!
//! `DB_URL` is `sqlite://FILE` or `mysql://user@host:port/db` (the database must exist and be
//! empty; migrations are applied). `BASEURL` is the mirrors' base URL with `{}` standing for
//! the mirror's number (default `https://m{}.example.org/pub`), e.g.
//! `http://127.0.0.1:8104/m{}` to point every mirror at a local fake mirror server.
//!
//! Locations are spread over products × 5 OSes; every mirror serves every location (so
//! 10,000 mirrors means 10,000 candidates per request), mirrors are split over three
//! regions, and the .mmdb maps 127.0.0.0/8 (where wrk runs) to a country of the first one.

use bouncer_core::db::{self, PoolOptions};
use diesel::connection::SimpleConnection;
use std::fmt::Write as _;
use std::io::Write as _;

const OSES: [&str; 5] = ["win", "win64", "osx", "linux", "linux64"];
const CHUNK: usize = 500;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (url, mirrors, locations, urls_file, mmdb, baseurl) =
        match args.as_slice() {
            [_, url, mirrors, locations, urls_file, mmdb] => (
                url,
                mirrors,
                locations,
                urls_file,
                mmdb,
                "https://m{}.example.org/pub",
            ),
            [_, url, mirrors, locations, urls_file, mmdb, baseurl] if baseurl.contains("{}") => {
                (url, mirrors, locations, urls_file, mmdb, baseurl.as_str())
            }
            _ => return Err(
                "usage: seed_bench DB_URL MIRRORS LOCATIONS URLS_FILE MMDB_FILE [BASEURL with {}]"
                    .into(),
            ),
        };
    let (mirrors, locations): (usize, usize) = (mirrors.parse()?, locations.parse()?);
    let pool = db::pool(url, PoolOptions::default())?;
    let mut c = db::conn(&pool)?;
    db::run_migrations(&mut c)?;
    let products = locations.div_ceil(OSES.len());
    let mut sql = String::new();
    for (i, os) in OSES.iter().enumerate() {
        write!(
            sql,
            "INSERT INTO mirror_os (id, name, priority) VALUES ({}, '{os}', 0);",
            i + 1
        )?;
    }
    sql.push_str(
        "INSERT INTO geoip_regions (id, name, priority, throttle, prevent_global_fallback) VALUES \
         (1, 'r1', 0, 100, 0), (2, 'r2', 0, 100, 0), (3, 'r3', 0, 100, 0);\
         INSERT INTO geoip_country_to_region (country_code, region_id) VALUES ('DE', 1);",
    );
    c.batch_execute(&sql)?;
    rows(
        &mut c,
        "mirror_products (id, name, active, checknow, ssl_only)",
        products,
        |i| format!("({}, 'bench-{i}', 1, 0, 0)", i + 1),
    )?;
    rows(
        &mut c,
        "mirror_locations (id, product_id, os_id, path)",
        locations,
        |i| {
            format!(
                "({}, {}, {}, '/bench/{i}/:lang/setup.exe')",
                i + 1,
                i / OSES.len() + 1,
                i % OSES.len() + 1
            )
        },
    )?;
    rows(
        &mut c,
        "mirror_mirrors (id, name, baseurl, rating, active)",
        mirrors,
        |j| {
            format!(
                "({}, 'm{j}', '{}', {}, 1)",
                j + 1,
                baseurl.replace("{}", &j.to_string()),
                1 + j % 1000
            )
        },
    )?;
    rows(
        &mut c,
        "geoip_mirror_region_map (mirror_id, region_id)",
        mirrors,
        |j| format!("({}, {})", j + 1, j % 3 + 1),
    )?;
    rows(
        &mut c,
        "mirror_location_mirror_map (location_id, mirror_id, active, healthy)",
        mirrors * locations,
        |k| format!("({}, {}, 1, 1)", k / mirrors + 1, k % mirrors + 1),
    )?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(urls_file)?);
    let langs = ["en-US", "de", "fr", "ja"];
    for i in 0..locations {
        let lang = langs[i % langs.len()];
        writeln!(
            out,
            "/?product=bench-{}&os={}&lang={lang}",
            i / OSES.len(),
            OSES[i % OSES.len()]
        )?;
    }
    bouncer_test_support::write_country_mmdb(std::path::Path::new(mmdb), &[("127.0.0.0/8", "DE")]);
    eprintln!("seeded {mirrors} mirrors x {locations} locations into {url}");
    Ok(())
}

/// Inserts `n` rows in multi-row statements inside one transaction.
fn rows(
    c: &mut bouncer_core::db::DbConnection,
    table: &str,
    n: usize,
    row: impl Fn(usize) -> String,
) -> Result<(), Box<dyn std::error::Error>> {
    c.batch_execute("BEGIN")?;
    for start in (0..n).step_by(CHUNK) {
        let values: Vec<String> = (start..(start + CHUNK).min(n)).map(&row).collect();
        c.batch_execute(&format!("INSERT INTO {table} VALUES {};", values.join(",")))?;
    }
    c.batch_execute("COMMIT")?;
    Ok(())
}
