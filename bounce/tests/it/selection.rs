//! Mirror selection (spec `bounce.md` part B) through a real bounce instance: health and
//! weight filters, scheme, fallbacks, determinism, and regional frequencies over GeoIP.

use crate::common::*;
use bouncer_test_support::{async_db_tests, write_country_mmdb, TestDb};
use std::collections::HashMap;

async_db_tests! {
    only_healthy_weighted_mirrors => only_healthy_weighted_mirrors,
    https_is_never_downgraded => https_is_never_downgraded,
    fallback_base_url_then_404 => fallback_base_url_then_404,
    print_is_deterministic_per_client => print_is_deterministic_per_client,
    regional_frequencies_match_ratings => regional_frequencies_match_ratings,
    region_fallback_and_prevent_global => region_fallback_and_prevent_global,
    rules_change_without_restart => rules_change_without_restart,
    ramping_mirrors_get_part_of_their_weight => ramping_mirrors_get_part_of_their_weight,
    concurrent_misses_fill_once => concurrent_misses_fill_once,
}

/// Base URL of the mirror chosen for one request.
async fn pick(base: &str, query: &str, forwarded_for: &str, proto: Option<&str>) -> String {
    let mut req = client()
        .get(format!("{base}/?{query}&print=yes"))
        .header("X-Forwarded-For", forwarded_for);
    if let Some(p) = proto {
        req = req.header("X-Forwarded-Proto", p);
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), 200, "{query}");
    let url = r.text().await.unwrap();
    url.split("/firefox/").next().unwrap().to_owned()
}

/// Picks for `n` different client addresses, counted by mirror base.
async fn spread(base: &str, query: &str, n: usize, proto: Option<&str>) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for i in 0..n {
        let ip = format!("198.18.{}.{}", i / 250, i % 250 + 1);
        *counts
            .entry(pick(base, query, &ip, proto).await)
            .or_insert(0) += 1;
    }
    counts
}

async fn only_healthy_weighted_mirrors(db: TestDb) {
    let mut c = db.conn();
    let cat = standard(&mut c);
    for (name, rating, active, map_active, healthy) in [
        ("inactive", 1000, false, true, true),
        ("unhealthy", 1000, true, true, false),
        ("file-missing", 1000, true, false, true),
        ("zero", 0, true, true, true),
    ] {
        let m = mirror(
            &mut c,
            name,
            &format!("https://{name}.example.org/pub"),
            rating,
            active,
        );
        serve(&mut c, cat.latest_win, m, map_active, healthy);
    }
    drop(c);
    let base = spawn(config(&db));
    let counts = spread(&base, "product=firefox-latest", 300, None).await;
    assert_eq!(
        counts.keys().collect::<Vec<_>>(),
        ["https://cdn.example.org/pub"],
        "{counts:?}"
    );
}

async fn https_is_never_downgraded(db: TestDb) {
    let mut c = db.conn();
    let cat = standard(&mut c);
    let plain = mirror(&mut c, "plain", "http://plain.example.org/pub", 100, true);
    for loc in [cat.latest_win, cat.ssl_win] {
        serve(&mut c, loc, plain, true, true);
    }
    drop(c);
    let base = spawn(config(&db));
    let http = spread(&base, "product=firefox-latest", 200, None).await;
    assert_eq!(
        http.len(),
        2,
        "http clients may get either scheme: {http:?}"
    );
    let tls = spread(&base, "product=firefox-latest", 200, Some("https")).await;
    assert!(tls.keys().all(|k| k.starts_with("https://")), "{tls:?}");
    let ssl_only = spread(&base, "product=firefox-ssl", 200, None).await;
    assert!(
        ssl_only.keys().all(|k| k.starts_with("https://")),
        "{ssl_only:?}"
    );
}

async fn fallback_base_url_then_404(db: TestDb) {
    let mut c = db.conn();
    let cat = standard(&mut c);
    let p = product(&mut c, "unserved", false, &[]);
    location(&mut c, p, cat.win, "/firefox/unserved.exe");
    drop(c);
    let plain = spawn(config(&db));
    let r = client()
        .get(format!("{plain}/?product=unserved"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let mut cfg = config(&db);
    cfg.bounce.fallback_base_url = Some("http://fallback.example.net".into());
    let with_fallback = spawn(cfg);
    assert_eq!(
        pick(&with_fallback, "product=unserved", "198.18.0.1", None).await,
        "http://fallback.example.net"
    );
    // An https-only request never falls back to an http base.
    let r = client()
        .get(format!("{with_fallback}/?product=unserved"))
        .header("X-Forwarded-Proto", "https")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

async fn print_is_deterministic_per_client(db: TestDb) {
    let mut c = db.conn();
    let cat = standard(&mut c);
    for i in 0..4 {
        let m = mirror(
            &mut c,
            &format!("m{i}"),
            &format!("https://m{i}.example.org/pub"),
            100,
            true,
        );
        serve(&mut c, cat.latest_win, m, true, true);
    }
    drop(c);
    let base = spawn(config(&db));
    let first = pick(&base, "product=firefox-latest", "198.18.7.7", None).await;
    for _ in 0..30 {
        assert_eq!(
            pick(&base, "product=firefox-latest", "198.18.7.7", None).await,
            first
        );
        assert_eq!(
            pick(&base, "product=firefox-stub", "198.18.7.7", None).await,
            first,
            "alias prints the same URL"
        );
    }
    assert!(
        spread(&base, "product=firefox-latest", 200, None)
            .await
            .len()
            >= 4,
        "different clients spread out"
    );
}

async fn regional_frequencies_match_ratings(db: TestDb) {
    let mut c = db.conn();
    let cat = standard(&mut c);
    let europe = region(&mut c, "Europe", 100, None, false);
    let america = region(&mut c, "North America", 100, None, false);
    let asia = region(&mut c, "Asia", 100, None, false);
    for (cc, r) in [("DE", europe), ("US", america), ("JP", asia)] {
        country(&mut c, cc, r);
    }
    // The global cdn mirror is in no region; each region has two mirrors of uneven weight,
    // and one mirror belongs to two regions (it must not be double-weighted).
    let mirrors = [
        ("eu1", 300, vec![europe]),
        ("eu2", 100, vec![europe]),
        ("us1", 50, vec![america]),
        ("shared", 150, vec![america, asia]),
        ("jp1", 450, vec![asia]),
    ];
    for (name, rating, regions) in &mirrors {
        let m = mirror(
            &mut c,
            name,
            &format!("https://{name}.example.org/pub"),
            *rating,
            true,
        );
        serve(&mut c, cat.latest_win, m, true, true);
        for r in regions {
            member(&mut c, m, *r);
        }
    }
    drop(c);
    let dir = tempfile::tempdir().unwrap();
    let mmdb = dir.path().join("geo.mmdb");
    write_country_mmdb(
        &mmdb,
        &[
            ("203.0.113.0/24", "DE"),
            ("198.51.100.0/24", "US"),
            ("2001:db8::/32", "JP"),
        ],
    );
    let mut cfg = config(&db);
    cfg.geoip.database = Some(mmdb);
    let base = spawn(cfg);
    let per_country = 7_000;
    let expected: [(&str, Vec<(&str, f64)>); 3] = [
        (
            "203.0.113",
            vec![
                ("https://eu1.example.org/pub", 300.0),
                ("https://eu2.example.org/pub", 100.0),
            ],
        ),
        (
            "198.51.100",
            vec![
                ("https://us1.example.org/pub", 50.0),
                ("https://shared.example.org/pub", 150.0),
            ],
        ),
        (
            "2001:db8::",
            vec![
                ("https://shared.example.org/pub", 150.0),
                ("https://jp1.example.org/pub", 450.0),
            ],
        ),
    ];
    for (prefix, weights) in expected {
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..8 {
            let (base, prefix) = (base.clone(), prefix.to_owned());
            tasks.spawn(async move {
                let http = client();
                let mut counts: HashMap<String, usize> = HashMap::new();
                for i in (worker..per_country).step_by(8) {
                    let ip = if prefix.contains(':') {
                        format!("{prefix}{:x}", i + 1)
                    } else {
                        format!("{prefix}.{}", i % 250 + 1)
                    };
                    // Through the trusted proxy (the test client is on 127.0.0.1); the
                    // forged left-most entry must be ignored.
                    let r = http
                        .get(format!("{base}/?product=firefox-latest"))
                        .header("X-Forwarded-For", format!("192.0.2.1, {ip}"))
                        .send()
                        .await
                        .unwrap();
                    let loc = r.headers()["location"].to_str().unwrap().to_owned();
                    *counts
                        .entry(loc.split("/firefox/").next().unwrap().to_owned())
                        .or_insert(0) += 1;
                }
                counts
            });
        }
        let mut counts: HashMap<String, usize> = HashMap::new();
        while let Some(part) = tasks.join_next().await {
            for (k, v) in part.unwrap() {
                *counts.entry(k).or_insert(0) += v;
            }
        }
        assert_eq!(
            counts.len(),
            2,
            "{prefix}: only the region's own mirrors: {counts:?}"
        );
        // One degree of freedom; 23.9 is the p = 1e-6 critical value.
        let stat = chi_square(&counts, &weights);
        assert!(
            stat < 23.9,
            "{prefix}: chi-square {stat:.1} for {counts:?} vs {weights:?}"
        );
    }
}

async fn region_fallback_and_prevent_global(db: TestDb) {
    let mut c = db.conn();
    let cat = standard(&mut c);
    let south = region(&mut c, "South", 100, None, false);
    let isolated = region(&mut c, "Isolated", 100, None, true);
    let north = region(&mut c, "North", 100, Some(south), true);
    for (cc, r) in [("DE", north), ("US", isolated)] {
        country(&mut c, cc, r);
    }
    let m = mirror(&mut c, "south1", "https://south1.example.org/pub", 10, true);
    serve(&mut c, cat.latest_win, m, true, true);
    member(&mut c, m, south);
    drop(c);
    let dir = tempfile::tempdir().unwrap();
    let mmdb = dir.path().join("geo.mmdb");
    write_country_mmdb(
        &mmdb,
        &[("203.0.113.0/24", "DE"), ("198.51.100.0/24", "US")],
    );
    let mut cfg = config(&db);
    cfg.geoip.database = Some(mmdb);
    cfg.bounce.allow_ip_override = true;
    let base = spawn(cfg);
    // North has no mirror for the file: its fallback region (not its own) is asked.
    for i in 1..50 {
        assert_eq!(
            pick(
                &base,
                "product=firefox-latest",
                &format!("203.0.113.{i}"),
                None
            )
            .await,
            "https://south1.example.org/pub"
        );
    }
    // Isolated prevents global fallback and has no mirror: no answer.
    let r = client()
        .get(format!("{base}/?product=firefox-latest"))
        .header("X-Forwarded-For", "198.51.100.9")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // The same client written IPv4-mapped in `ip=` is the same client.
    let r = client()
        .get(format!(
            "{base}/?product=firefox-latest&ip=::ffff:198.51.100.9"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // A client of no region gets any mirror.
    let any = spread(&base, "product=firefox-latest", 100, None).await;
    assert_eq!(any.len(), 2, "{any:?}");
}

async fn rules_change_without_restart(db: TestDb) {
    use bouncer_core::rules::{self, RuleSpec};
    let mut c = db.conn();
    let cat = standard(&mut c);
    let esr = product(&mut c, "firefox-esr115-latest-ssl", false, &[]);
    let loc = location(&mut c, esr, cat.win, "/firefox/esr115/:lang/setup.exe");
    serve(&mut c, loc, cat.mirror, true, true);
    let base = spawn(config(&db));
    let win7 = "Mozilla/5.0 (Windows NT 6.1; rv:109.0) Gecko/20100101 Firefox/115.0";
    let get = || {
        client()
            .get(format!("{base}/?product=firefox-latest&print=yes"))
            .header("User-Agent", win7)
            .send()
    };
    assert!(get()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .contains("/releases/120.0/"));
    let specs: Vec<RuleSpec> =
        serde_json::from_str(include_str!("../../../deploy/rewrite-rules.json")).unwrap();
    rules::replace_all(&mut c, &specs, "test").unwrap().unwrap();
    // Visible through the generation watch (no memcached here: the database is polled
    // every 250 ms), long before the 60 s in-process lifetime: poll, bounded.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let body = get().await.unwrap().text().await.unwrap();
        if body.contains("/esr115/en-US/") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "rule never applied: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // A Windows 10 client is untouched.
    let r = client()
        .get(format!("{base}/?product=firefox-latest&print=yes"))
        .header("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64)")
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("/releases/120.0/"));
}

async fn ramping_mirrors_get_part_of_their_weight(db: TestDb) {
    use bouncer_core::models::MirrorHealth;
    use bouncer_core::schema::bouncer_mirror_health;
    use diesel::RunQueryDsl;
    let mut c = db.conn();
    let cat = standard(&mut c);
    let ramping = mirror(
        &mut c,
        "ramping",
        "https://ramping.example.org/pub",
        100,
        true,
    );
    serve(&mut c, cat.latest_win, ramping, true, true);
    let now = chrono::Utc::now().naive_utc();
    diesel::insert_into(bouncer_mirror_health::table)
        .values(MirrorHealth {
            mirror_id: ramping,
            state: "ramping".into(),
            weight_percent: 25,
            fail_streak: 0,
            ok_streak: 1,
            last_checked_at: Some(now),
            last_reason: "recovered".into(),
            changed_at: now,
            families: None,
        })
        .execute(&mut *c)
        .unwrap();
    drop(c);
    let base = spawn(config(&db));
    let n = 2_000;
    let counts = spread(&base, "product=firefox-latest", n, None).await;
    // cdn 100 vs ramping 100 x 25 %: expected share 0.2 (sd ~0.009 over 2,000 picks).
    let share = *counts.get("https://ramping.example.org/pub").unwrap_or(&0) as f64 / n as f64;
    assert!(
        (share - 0.2).abs() < 0.05,
        "ramping share {share}: {counts:?}"
    );
}

async fn concurrent_misses_fill_once(db: TestDb) {
    standard(&mut db.conn());
    let base = spawn(config(&db));
    let fills = || {
        let base = base.clone();
        async move {
            let text = client()
                .get(format!("{base}/metrics"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            text.lines()
                .find(|l| l.starts_with("bounce_cache_fills_total{kind=\"mirrors\"}"))
                .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
                .unwrap_or(0)
        }
    };
    let before = fills().await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..64 {
        let base = base.clone();
        tasks.spawn(async move {
            client()
                .get(format!("{base}/?product=firefox-beta-latest&lang=de"))
                .send()
                .await
                .unwrap()
                .status()
        });
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.unwrap(), 302);
    }
    assert_eq!(
        fills().await - before,
        1,
        "64 concurrent requests for one missing key: one fill"
    );
}
