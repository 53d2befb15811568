//! `tuxedo stats import` (see `bouncer_core::stats::log`): bounce's access log of a run
//! folds into exactly the roll-ups the live path stored, importing it again changes
//! nothing, and nginx's combined lines in front of bounce count their downloads.

use crate::common::*;
use crate::read_your_writes::{fleet, registered, start_bounce_until, two_releases};
use crate::stats::{no_redirects, stop_signal};
use bouncer_core::schema::bouncer_download_counts as counts;
use bouncer_core::stats::{self, Granularity};
use bouncer_test_support::{db_tests, TestDb};
use diesel::prelude::*;

db_tests! {
    an_access_log_imports_to_the_live_rollups_once => access_log,
    nginx_combined_lines_count_their_downloads => nginx,
}

/// Every stored count: (granularity, bucket, dimensions, downloads, bytes).
fn stored(db: &TestDb) -> Vec<String> {
    let mut all = Vec::new();
    for g in Granularity::ALL {
        for r in stats::rows(&mut db.conn(), g, 0, i64::MAX).unwrap() {
            all.push(format!("{g:?} {} {:?} {:?}", r.bucket, r.dims, r.tally));
        }
    }
    all.sort();
    all
}

fn config(db: &TestDb) -> bouncer_core::config::Config {
    let mut config = bouncer_core::config::Config::default();
    config.database.url = db.url.clone();
    config
}

fn access_log(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("downloads.log");
    block_on(async {
        let t = start(db, fleet);
        two_releases(&t, db).await;
        let (stop, told) = stop_signal();
        let path = log.clone();
        let tweak = move |c: &mut bouncer_core::config::Config| {
            c.bounce.stats_drain_secs = 3600;
            c.bounce.access_log = Some(path.clone());
        };
        let (b, bounce) = start_bounce_until(db, &t.base, tweak, told);
        registered(db, std::slice::from_ref(&b)).await;
        let client = no_redirects();
        let q = |p: &str| format!("{b}/?product={p}&os=win64&lang=en-US");
        let bot = ("User-Agent", "Mozilla/5.0 (compatible; YandexBot/3.0)");
        let range = ("Range", "bytes=10-");
        let none = ("X-Nothing", "");
        for (method, url, header, times, status) in [
            (reqwest::Method::GET, q("Firefox-130.0-SSL"), none, 5, 302),
            (reqwest::Method::GET, q("Firefox-131.0-SSL"), bot, 2, 302),
            (reqwest::Method::GET, q("Firefox-130.0-SSL"), range, 2, 302),
            (reqwest::Method::HEAD, q("Firefox-131.0-SSL"), none, 2, 302),
            (reqwest::Method::GET, q("nothing"), none, 1, 404),
        ] {
            for _ in 0..times {
                let res = client
                    .request(method.clone(), &url)
                    .header(header.0, header.1)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status().as_u16(), status, "{method} {url}");
            }
        }
        stop.send(()).unwrap();
        bounce.await.unwrap().unwrap();
    });
    let live = stored(db);
    assert!(
        live.iter().any(|r| r.contains("agent: \"bot\"")),
        "{live:#?}"
    );
    let lines = std::fs::read_to_string(&log).unwrap();
    assert_eq!(lines.lines().count(), 7, "one line per download:\n{lines}");
    assert!(!lines.contains("127.0.0.1"), "no client address:\n{lines}");

    diesel::delete(counts::table)
        .execute(&mut *db.conn())
        .unwrap();
    let first = tuxedo::cli::stats_import(&config(db), &log).unwrap();
    assert_eq!((first.lines, first.downloads, first.skipped), (7, 7, 0));
    assert_eq!(stored(db), live, "the same roll-ups as the live path");
    let again = tuxedo::cli::stats_import(&config(db), &log).unwrap();
    assert_eq!((again.downloads, again.repeats), (0, 1));
    assert_eq!(stored(db), live, "imported twice: nothing changed");
}

fn nginx(db: &TestDb) {
    block_on(async {
        let t = start(db, fleet);
        two_releases(&t, db).await;
    });
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let line = |addr: &str, method: &str, query: &str, status: u16, agent: &str| {
        format!(
            "{addr} - - [07/Dec/2026:10:15:42 +0000] \"{method} /?{query} HTTP/1.1\" {status} 0 \"-\" \"{agent}\"\n"
        )
    };
    let q = "product=firefox-130.0-ssl&os=WIN64&lang=de";
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0";
    let text = [
        line("192.0.2.1", "GET", q, 302, firefox),
        line("2001:db8::1", "GET", q, 302, firefox),
        line("192.0.2.2", "GET", q, 302, "Googlebot/2.1"),
        line("192.0.2.3", "HEAD", q, 302, firefox),
        line("192.0.2.4", "GET", q, 404, firefox),
        line("192.0.2.5", "GET", &format!("{q}&print=yes"), 302, firefox),
        line("192.0.2.6", "GET", "product=unknown&os=win64", 302, firefox),
        "garbage\n".to_owned(),
        // bounce's shape, but a country the statistics cannot hold: skipped, not a 500.
        r#"{"time":"2026-12-07T10:15:42Z","product":"Firefox-130.0-SSL","os":"win64","lang":"de","country":"Germany","target":"1","family":4,"scheme":"https","agent":"user","bytes":0}"#.to_owned() + "\n",
    ]
    .concat();
    std::fs::write(&log, text).unwrap();
    let i = tuxedo::cli::stats_import(&config(db), &log).unwrap();
    assert_eq!((i.lines, i.downloads, i.skipped), (9, 3, 6));
    let rows = stats::rows(&mut db.conn(), Granularity::Day, 0, i64::MAX).unwrap();
    let mut got: Vec<_> = rows
        .iter()
        .map(|r| {
            let d = &r.dims;
            let names = (d.product.as_str(), d.os.as_str(), d.lang.as_str());
            (
                names,
                d.target.as_str(),
                d.family,
                d.agent.as_str(),
                r.tally.downloads,
            )
        })
        .collect();
    got.sort();
    let file = ("Firefox-130.0-SSL", "win64", "de");
    assert_eq!(
        got,
        [
            (file, "other", 4, "bot", 1),
            (file, "other", 4, "user", 1),
            (file, "other", 6, "user", 1)
        ]
    );
}
