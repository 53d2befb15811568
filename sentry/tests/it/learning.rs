//! Learned file metadata belongs to its source (MariaDB and SQLite): a reference origin
//! that teaches a wrong size (`Content-Length: 77` for a file every other mirror serves
//! with 1234 bytes) takes the file out of every other mirror — and when it is unflagged,
//! disabled or deleted, the next run forgets what it taught and the mirrors serve again.
//! Two references that disagree on an `ETag` do not rewrite each other's rows every run.
//! `sentry forget-learned` resets learned rows at once, audited.

use crate::support::fake::{Behaviour, FakeMirror};
use crate::support::*;
use bouncer_core::files::{self, FileMeta};
use bouncer_core::schema::{bouncer_files, mirror_mirrors};
use bouncer_test_support::{db_tests, TestDb};
use diesel::prelude::*;

const PATH: &str = "/firefox/4.0/:lang/Setup.exe";
const PROBED: &str = "/firefox/4.0/en-US/Setup.exe";

fn learned(db: &TestDb, loc: i32) -> Vec<(Option<i64>, String, Option<i32>)> {
    bouncer_files::table
        .filter(bouncer_files::location_id.eq(loc))
        .select((
            bouncer_files::size,
            bouncer_files::source,
            bouncer_files::learned_from,
        ))
        .load(&mut *db.conn())
        .unwrap()
}

fn actions(db: &TestDb, action: &str) -> Vec<(String, Option<String>)> {
    audit_rows(db)
        .into_iter()
        .filter(|a| a.1 == action)
        .map(|a| (a.2, a.3))
        .collect()
}

/// Change records for `loc` after generation `g`.
fn location_changes_since(db: &TestDb, loc: i32, g: i64) -> i64 {
    use bouncer_core::schema::bouncer_changes as c;
    c::table
        .filter(c::generation.gt(g))
        .filter(c::kind.eq("location"))
        .filter(c::entity.eq(i64::from(loc)))
        .count()
        .get_result(&mut *db.conn())
        .unwrap()
}

fn what_a_gone_reference_taught_is_forgotten(db: &TestDb) {
    rt().block_on(async {
        let loc = product(db, "Firefox", false, true, &[PATH])[0];
        let liar = FakeMirror::start(90, Behaviour::Healthy).await;
        liar.serve_file(PROBED, &[1; 77]);
        let r = mirror(db, "liar", &liar.base_url(), &[loc]);
        let mut others = Vec::new();
        let mut fakes = Vec::new();
        for i in 0..2u8 {
            let fake = FakeMirror::start(91 + i, Behaviour::Healthy).await;
            fake.serve_file(PROBED, &[2; 1234]);
            others.push(mirror(db, &format!("m{i}"), &fake.base_url(), &[loc]));
            fakes.push(fake);
        }
        let config = config(db, 2000);
        let run = || async {
            sentry::Sentry::new(&config)
                .unwrap()
                .run(&Default::default())
                .await
                .unwrap()
        };
        let served = |healthy: bool| {
            for id in &others {
                assert_eq!(map_rows(db, *id), [(loc, true, healthy)], "mirror {id}");
            }
        };
        let set_active = |active: bool| {
            diesel::update(mirror_mirrors::table.find(r))
                .set(mirror_mirrors::active.eq(active))
                .execute(&mut *db.conn())
                .unwrap();
        };
        let taught = || vec![(Some(77), files::REFERENCE.to_owned(), Some(r))];

        // The wrong reference teaches 77 bytes: every other mirror is out for the file.
        files::set_reference(&mut db.conn(), r, true).unwrap();
        run().await;
        assert_eq!(learned(db, loc), taught());
        served(false);

        // Unflagged: the next run forgets what it taught (audited, a change for bounce),
        // before the others are checked — they serve again in that same run.
        files::set_reference(&mut db.conn(), r, false).unwrap();
        let g = generation(db);
        run().await;
        assert_eq!(learned(db, loc), []);
        served(true);
        assert!(generation(db) > g);
        let forgot = actions(db, "file.forget");
        assert_eq!(forgot.len(), 1, "{forgot:?}");
        assert_eq!(forgot[0].0, format!("location {loc} (en-US)"));
        assert!(forgot[0].1.as_deref().unwrap().contains(&format!(
            "mirror {r} is no longer an active reference origin"
        )));

        // Flagged again, then disabled: forgotten again.
        files::set_reference(&mut db.conn(), r, true).unwrap();
        run().await;
        assert_eq!(learned(db, loc), taught());
        served(false);
        set_active(false);
        run().await;
        assert_eq!(learned(db, loc), []);
        served(true);

        // Enabled, then deleted: forgotten again.
        set_active(true);
        run().await;
        assert_eq!(learned(db, loc), taught());
        diesel::delete(mirror_mirrors::table.find(r))
            .execute(&mut *db.conn())
            .unwrap();
        run().await;
        assert_eq!(learned(db, loc), []);
        served(true);
        assert_eq!(actions(db, "file.forget").len(), 3);

        // A row learned before sources were recorded is forgotten too, unless a current
        // reference says the same (then it is adopted, without a change for bounce);
        // the operator's rows are never forgotten.
        let fact = FileMeta {
            lang: "en-US".into(),
            size: Some(1234),
            ..FileMeta::default()
        };
        files::set(&mut db.conn(), loc, &fact).unwrap();
        let as_old_learned = |db: &TestDb| {
            diesel::update(bouncer_files::table.filter(bouncer_files::location_id.eq(loc)))
                .set((
                    bouncer_files::source.eq(files::REFERENCE),
                    bouncer_files::learned_from.eq(None::<i32>),
                    bouncer_files::etag.eq(Some("\"e1234\"")),
                ))
                .execute(&mut *db.conn())
                .unwrap();
        };
        as_old_learned(db);
        files::set_reference(&mut db.conn(), others[0], true).unwrap();
        let g = generation(db);
        let learns = actions(db, "file.learn").len();
        run().await;
        assert_eq!(
            learned(db, loc),
            [(Some(1234), files::REFERENCE.to_owned(), Some(others[0]))]
        );
        assert_eq!(
            actions(db, "file.learn").len(),
            learns,
            "adopted, not learned"
        );
        assert_eq!(
            location_changes_since(db, loc, g),
            0,
            "nothing bounce reads"
        );
        files::set_reference(&mut db.conn(), others[0], false).unwrap();
        as_old_learned(db);
        run().await;
        assert_eq!(learned(db, loc), []);
        files::set(&mut db.conn(), loc, &fact).unwrap();
        run().await;
        assert_eq!(
            learned(db, loc),
            [(Some(1234), files::OPERATOR.to_owned(), None)]
        );
    });
}

/// Two references that disagree on the `ETag`: the lower mirror id teaches, and a second
/// run writes nothing (before: each rewrote the other's row every run — a `file.learn`,
/// a change record and a generation bump per file and run).
fn two_disagreeing_references_write_once(db: &TestDb) {
    rt().block_on(async {
        let locs = product(db, "Firefox", false, true, &[PATH, "/firefox/4.0/b.exe"]);
        let mut ids = Vec::new();
        let mut fakes = Vec::new();
        for (i, etag) in ["\"one\"", "\"two\""].iter().enumerate() {
            let fake = FakeMirror::start(95 + i as u8, Behaviour::Healthy).await;
            fake.serve_file(PROBED, &[3; 100]);
            fake.serve_file("/firefox/4.0/b.exe", &[4; 200]);
            fake.set_etag(etag);
            let id = mirror(db, &format!("ref{i}"), &fake.base_url(), &locs);
            files::set_reference(&mut db.conn(), id, true).unwrap();
            ids.push(id);
            fakes.push(fake);
        }
        let config = config(db, 2000);
        let run = || async {
            sentry::Sentry::new(&config)
                .unwrap()
                .run(&Default::default())
                .await
                .unwrap()
        };
        run().await;
        assert_eq!(actions(db, "file.learn").len(), 2);
        for loc in &locs {
            let m = &files::of_location(&mut db.conn(), *loc).unwrap()[0];
            assert_eq!(m.etag.as_deref(), Some("\"one\""));
            assert_eq!(learned(db, *loc)[0].2, Some(ids[0]));
        }
        let g = generation(db);
        let s = run().await;
        assert_eq!(actions(db, "file.learn").len(), 2, "nothing learned again");
        assert_eq!(generation(db), g);
        assert!(!s.catalogue_changed);
    });
}

/// `sentry forget-learned`: every learned row, or what one source taught, goes at once
/// (the operator's rows stay), each audited with who asked, one generation for bounce;
/// a `--mirror` naming nothing is a usage error (exit code 2).
fn forget_learned_resets_at_once(db: &TestDb) {
    rt().block_on(async {
        let locs = product(db, "Firefox", false, true, &[PATH, "/f/b.exe", "/f/c.exe"]);
        let row = |lang: &str, size, from| {
            diesel::insert_into(bouncer_files::table)
                .values((
                    bouncer_files::location_id.eq(locs[size as usize % 3]),
                    bouncer_files::lang.eq(lang.to_owned()),
                    bouncer_files::size.eq(Some(size)),
                    bouncer_files::source.eq(files::REFERENCE),
                    bouncer_files::updated_at.eq(chrono::Utc::now().naive_utc()),
                    bouncer_files::learned_from.eq(from),
                ))
                .execute(&mut *db.conn())
                .unwrap();
        };
        let a = mirror(db, "alpha", "http://127.0.0.1:9/", &[]);
        row("en-US", 0, Some(a)); // location 0
        row("", 1, Some(a + 1)); // location 1, a mirror since deleted
        let stated = FileMeta {
            lang: String::new(),
            size: Some(5),
            ..FileMeta::default()
        };
        files::set(&mut db.conn(), locs[2], &stated).unwrap();

        let mut config = config(db, 2000);
        config.memcached.servers.clear();
        let g = generation(db);
        let by_name = sentry::ForgetOptions {
            mirror: Some("alpha".into()),
        };
        let done = sentry::forget_learned(&config, &by_name, "tester")
            .await
            .unwrap();
        assert_eq!(done.files, 1);
        assert!(generation(db) > g);
        assert_eq!(learned(db, locs[0]), []);
        assert_eq!(learned(db, locs[1]).len(), 1);
        let forgot = actions(db, "file.forget");
        assert_eq!(forgot.len(), 1);
        assert!(forgot[0]
            .1
            .as_deref()
            .unwrap()
            .contains("\"by\":\"tester\""));

        // The real binary: every learned row; the operator's stays.
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sentry"))
            .arg("forget-learned")
            .env("BOUNCER_DATABASE__URL", &db.url)
            .env("USER", "ops")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}");
        assert!(stdout.contains("forgot 1 learned file rows"), "{stdout}");
        assert_eq!(learned(db, locs[1]), []);
        assert_eq!(learned(db, locs[2]).len(), 1, "the operator's row stays");
        let forgot = actions(db, "file.forget");
        assert_eq!(forgot.len(), 2);
        assert!(forgot[1].1.as_deref().unwrap().contains("\"by\":\"ops\""));

        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sentry"))
            .args(["forget-learned", "--mirror", "no-such"])
            .env("BOUNCER_DATABASE__URL", &db.url)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
    });
}

/// A learned size most checked mirrors contradict is not enforced from the next run on
/// (with the default hysteresis of 2 failures, no mirror ever leaves), and reported: the
/// file row's `disputed` reason, an audit row, the metric. The operator's size stays
/// enforced whatever the mirrors say.
fn a_contradicted_learned_size_is_not_enforced(db: &TestDb) {
    rt().block_on(async {
        let loc = product(db, "Firefox", false, true, &[PATH])[0];
        let liar = FakeMirror::start(100, Behaviour::Healthy).await;
        liar.serve_file(PROBED, &[1; 77]);
        let r = mirror(db, "liar", &liar.base_url(), &[loc]);
        files::set_reference(&mut db.conn(), r, true).unwrap();
        let mut others = Vec::new();
        let mut fakes = Vec::new();
        for i in 0..2u8 {
            let fake = FakeMirror::start(101 + i, Behaviour::Healthy).await;
            fake.serve_file(PROBED, &[2; 1234]);
            others.push(mirror(db, &format!("m{i}"), &fake.base_url(), &[loc]));
            fakes.push(fake);
        }
        let mut config = config(db, 2000);
        config.sentry.failures_to_down = 2;
        let sentry = sentry::Sentry::new(&config).unwrap();
        let disputed = || -> Option<String> {
            bouncer_files::table
                .filter(bouncer_files::location_id.eq(loc))
                .select(bouncer_files::disputed)
                .first(&mut *db.conn())
                .unwrap()
        };
        let served = |healthy: bool| {
            for id in &others {
                assert_eq!(map_rows(db, *id), [(loc, true, healthy)], "mirror {id}");
            }
        };
        sentry.run(&Default::default()).await.unwrap();
        let why = "learned size 77 contradicted by 2 of 2 mirrors checked (most say 1234); \
                   not enforced";
        assert_eq!(disputed().as_deref(), Some(why));
        assert_eq!(actions(db, "file.disputed").len(), 1);
        served(true);
        for _ in 0..2 {
            sentry.run(&Default::default()).await.unwrap();
            served(true);
        }
        assert_eq!(actions(db, "file.disputed").len(), 1, "reported once");
        let metrics = prometheus::TextEncoder::new()
            .encode_to_string(&sentry.metrics().registry.gather())
            .unwrap();
        assert!(
            metrics.contains("sentry_learned_files_total{action=\"disputed\"} 1"),
            "{metrics}"
        );

        // The operator says 77: enforced, never disputed.
        let stated = FileMeta {
            lang: "en-US".into(),
            size: Some(77),
            ..FileMeta::default()
        };
        files::set(&mut db.conn(), loc, &stated).unwrap();
        for _ in 0..2 {
            sentry.run(&Default::default()).await.unwrap();
        }
        served(false);
        assert_eq!(disputed(), None);
    });
}

db_tests! {
    contradicted_size_is_not_enforced => a_contradicted_learned_size_is_not_enforced,
    a_gone_reference_is_forgotten => what_a_gone_reference_taught_is_forgotten,
    disagreeing_references_write_once => two_disagreeing_references_write_once,
    forget_learned_resets => forget_learned_resets_at_once,
}
