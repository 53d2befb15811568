//! Exact-file health against local fake mirrors serving real bytes, on MariaDB and SQLite:
//! sentry learns what the file is from the reference origin, then holds every mirror to
//! it — a truncated file, a file of another size, and one of the right size with
//! corrupted bytes (caught by sampling) are each unhealthy with their reason; a correct
//! mirror stays healthy. What the operator states wins over what was learned.

use crate::support::fake::{Behaviour, FakeMirror};
use crate::support::*;
use bouncer_core::files::{self, FileMeta};
use bouncer_test_support::{db_tests, TestDb};

const PATH: &str = "/firefox/2.0/:lang/Setup.exe";
const PROBED: &str = "/firefox/2.0/en-US/Setup.exe";
const SIZE: usize = 4096;

fn file() -> Vec<u8> {
    (0..SIZE).map(|i| (i * 7 % 251) as u8).collect()
}

fn one(why: &str) -> String {
    format!("1 checked: 0 healthy, 0 inactive, 1 unhealthy; {PATH}: {why}")
}

const OK: &str = "1 checked: 1 healthy, 0 inactive, 0 unhealthy";

fn exact_files(db: &TestDb) {
    rt().block_on(async {
        let loc = product(db, "Firefox", false, true, &[PATH])[0];
        let bytes = file();
        let mut corrupt = bytes.clone();
        for b in corrupt.iter_mut().step_by(512) {
            *b ^= 0xff; // every 512th byte: any sampled slice of 1 KiB sees one
        }
        let cases: [(&str, Vec<u8>); 5] = [
            ("origin", bytes.clone()),
            ("good", bytes.clone()),
            ("truncated", bytes[..1000].to_vec()),
            ("bigger", [bytes.clone(), vec![0; 904]].concat()),
            ("corrupt", corrupt),
        ];
        let mut ids = Vec::new();
        let mut fakes = Vec::new();
        for (i, (name, content)) in cases.iter().enumerate() {
            let fake = FakeMirror::start(60 + i as u8, Behaviour::Healthy).await;
            fake.serve_file(PROBED, content);
            ids.push(mirror(db, name, &fake.base_url(), &[loc]));
            fakes.push(fake);
        }
        files::set_reference(&mut db.conn(), ids[0], true).unwrap();
        let mut config = config(db, 2000);
        config.sentry.sample_bytes = 1024;
        let sentry = sentry::Sentry::new(&config).unwrap();
        sentry.run(&Default::default()).await.unwrap();

        // Learned from the reference origin before the others were checked.
        let learned = files::of_location(&mut db.conn(), loc).unwrap();
        assert_eq!(learned.len(), 1, "{learned:?}");
        let m = &learned[0];
        assert_eq!(
            (
                m.lang.as_str(),
                m.size,
                m.etag.as_deref(),
                m.source.as_str()
            ),
            (
                "en-US",
                Some(SIZE as i64),
                Some("\"e4096\""),
                files::REFERENCE
            )
        );
        let expected = [
            (true, OK.to_owned()),
            (true, OK.to_owned()),
            (false, one("size mismatch: 1000 bytes, expected 4096")),
            (false, one("size mismatch: 5000 bytes, expected 4096")),
            (false, "content mismatch".to_owned()),
        ];
        for ((name, _), (id, (healthy, reason))) in cases.iter().zip(ids.iter().zip(&expected)) {
            assert_eq!(map_rows(db, *id), vec![(loc, true, *healthy)], "{name}");
            let logged = &log_rows(db, *id)[0].2;
            assert!(
                logged.starts_with(reason.as_str()) || logged.contains(reason.as_str()),
                "{name}: {logged}"
            );
        }
        // Each pair keeps why it is out, for bounce's mirror list; '' while it serves.
        let pair = |id: i32| -> String {
            use bouncer_core::schema::mirror_location_mirror_map::dsl as m;
            use diesel::prelude::*;
            m::mirror_location_mirror_map
                .filter(m::mirror_id.eq(id))
                .select(m::reason)
                .first(&mut db.conn())
                .unwrap()
        };
        assert_eq!(pair(ids[1]), "");
        assert_eq!(pair(ids[2]), "size mismatch: 1000 bytes, expected 4096");
        assert_eq!(pair(ids[3]), "size mismatch: 5000 bytes, expected 4096");
        assert!(
            pair(ids[4]).starts_with("content mismatch"),
            "{}",
            pair(ids[4])
        );

        // The corrupted mirror: the range sampled, and the mismatch audited.
        assert!(fakes[4].requests().contains(&format!("GET {PROBED}")));
        let audits = audit_rows(db);
        assert!(audits.iter().any(|a| a.1 == "file.learn"), "{audits:?}");
        let bad = audits
            .iter()
            .find(|a| a.1 == "file.content_mismatch")
            .unwrap();
        assert_eq!(bad.2, "mirror:corrupt");
        assert!(bad
            .3
            .as_deref()
            .unwrap()
            .contains("differ from the reference"));
        // Only the corrupted mirror was caught by sampling; the good one matched.
        assert!(!audits
            .iter()
            .any(|a| a.1 == "file.content_mismatch" && a.2 == "mirror:good"));

        // The operator says the file has 5000 bytes: that wins over what was learned.
        let stated = FileMeta {
            lang: "en-US".into(),
            size: Some(5000),
            ..FileMeta::default()
        };
        files::set(&mut db.conn(), loc, &stated).unwrap();
        config.sentry.sample_bytes = 0;
        let sentry = sentry::Sentry::new(&config).unwrap();
        sentry.run(&Default::default()).await.unwrap();
        assert_eq!(
            map_rows(db, ids[3]),
            vec![(loc, true, true)],
            "bigger now right"
        );
        assert_eq!(pair(ids[3]), "", "a pair that serves again has no reason");
        assert_eq!(pair(ids[0]), "size mismatch: 4096 bytes, expected 5000");
        assert_eq!(
            map_rows(db, ids[0]),
            vec![(loc, true, false)],
            "origin now wrong"
        );
        let m = &files::of_location(&mut db.conn(), loc).unwrap()[0];
        assert_eq!((m.size, m.source.as_str()), (Some(5000), files::OPERATOR));
    });
}

db_tests!(exact_files_are_checked => exact_files);
