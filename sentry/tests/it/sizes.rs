//! A file whose size is known is only healthy on a mirror that states that size: an answer
//! without a usable `Content-Length` (none, `12kB`, `18446744073709551615`, a chunked
//! answer) passed as healthy before; now it is unhealthy with `size unknown: …`. Files
//! of unknown size are judged as before. MariaDB and SQLite.

use crate::support::fake::{Behaviour, FakeMirror};
use crate::support::*;
use bouncer_core::files::{self, FileMeta};
use bouncer_test_support::{db_tests, TestDb};

const KNOWN: &str = "/firefox/3.0/:lang/Setup.exe";
const PROBED: &str = "/firefox/3.0/en-US/Setup.exe";
const UNKNOWN: &str = "/firefox/3.0/:lang/Other.exe";

/// The pair's stored reason (why it is out; '' while it serves).
pub fn pair_reason(db: &TestDb, mirror_id: i32, location_id: i32) -> String {
    use bouncer_core::schema::mirror_location_mirror_map::dsl as m;
    use diesel::prelude::*;
    m::mirror_location_mirror_map
        .filter(m::mirror_id.eq(mirror_id))
        .filter(m::location_id.eq(location_id))
        .select(m::reason)
        .first(&mut db.conn())
        .unwrap()
}

fn an_unstated_size_is_not_healthy(db: &TestDb) {
    rt().block_on(async {
        let locs = product(db, "Firefox", false, true, &[KNOWN, UNKNOWN]);
        let (known, unknown) = (locs[0], locs[1]);
        let stated = FileMeta {
            lang: "en-US".into(),
            size: Some(4096),
            ..FileMeta::default()
        };
        files::set(&mut db.conn(), known, &stated).unwrap();
        let cases = [
            (Behaviour::Healthy, ""),
            (
                Behaviour::NoContentLength,
                "size unknown: no Content-Length",
            ),
            (
                Behaviour::HugeContentLength,
                "size unknown: invalid Content-Length \"18446744073709551615\"",
            ),
            (
                Behaviour::BadContentLength,
                "size unknown: invalid Content-Length \"12kB\"",
            ),
            (
                Behaviour::Chunked,
                "size unknown: Transfer-Encoding \"chunked\", no Content-Length",
            ),
        ];
        let mut fakes = Vec::new();
        let mut ids = Vec::new();
        for (i, (behaviour, _)) in cases.iter().enumerate() {
            let fake = FakeMirror::start(80 + i as u8, *behaviour).await;
            fake.serve_file(PROBED, &[7; 4096]);
            ids.push(mirror(db, &format!("m{i}"), &fake.base_url(), &locs));
            fakes.push(fake);
        }
        let sentry = sentry::Sentry::new(&config(db, 2000)).unwrap();
        sentry.run(&Default::default()).await.unwrap();
        for ((behaviour, reason), id) in cases.iter().zip(&ids) {
            let healthy = reason.is_empty();
            assert_eq!(
                map_rows(db, *id),
                [(known, true, healthy), (unknown, true, true)],
                "{behaviour:?}"
            );
            assert_eq!(pair_reason(db, *id, known), *reason, "{behaviour:?}");
            assert_eq!(pair_reason(db, *id, unknown), "", "{behaviour:?}");
        }
        let metrics = prometheus::TextEncoder::new()
            .encode_to_string(&sentry.metrics().registry.gather())
            .unwrap();
        assert!(
            metrics.contains("sentry_checks_total{reason=\"size_unknown\",result=\"unhealthy\"} 4"),
            "{metrics}"
        );
    });
}

db_tests!(an_unstated_size_is_not_healthy => an_unstated_size_is_not_healthy);
