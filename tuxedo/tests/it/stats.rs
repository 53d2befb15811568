//! bounce's statistics batches arrive at `POST /__fleet__/stats` (see `tuxedo::intake`):
//! refused without the fleet's token or with a batch that cannot be stored (the reason
//! said), counted once however often the same batch is sent.

use crate::common::*;
use crate::read_your_writes::{fleet, TOKEN};
use bouncer_core::stats::{self, Batch, Dims, Granularity, Minute, Tally};
use bouncer_test_support::{db_tests, TestDb};

db_tests! {
    a_batch_is_counted_once_and_bad_ones_are_refused => intake,
}

fn batch(id: &str, country: &str) -> Batch {
    let dims = Dims {
        product: "Firefox-130.0".into(),
        os: "win64".into(),
        lang: "de".into(),
        country: country.into(),
        target: stats::CDN.into(),
        family: 6,
        scheme: "https".into(),
    };
    Batch {
        id: id.into(),
        instance: "http://bounce-1".into(),
        minutes: vec![Minute {
            start: 1_765_101_600,
            counts: vec![(
                dims,
                Tally {
                    downloads: 7,
                    bytes: 7_000,
                },
            )],
        }],
    }
}

fn intake(db: &TestDb) {
    block_on(async {
        let t = start(db, fleet);
        let url = format!("{}{}", t.base, stats::PATH);
        let post = |body: String, token: Option<&str>| {
            let mut req = t.client.post(&url).body(body);
            if let Some(token) = token {
                req = req.bearer_auth(token);
            }
            async move {
                let r = req.send().await.unwrap();
                (r.status().as_u16(), r.text().await.unwrap())
            }
        };
        let good = serde_json::to_string(&batch("b-1", "DE")).unwrap();
        assert_eq!(post(good.clone(), None).await.0, 401);
        assert_eq!(
            post(good.clone(), Some("not-the-token-0123456789")).await.0,
            401
        );
        let (status, body) = post(
            serde_json::to_string(&batch("b-2", "de")).unwrap(),
            Some(TOKEN),
        )
        .await;
        assert_eq!(
            (status, body.as_str()),
            (400, "bad request: country: two capital letters, or --\n")
        );
        let (status, body) = post("{".into(), Some(TOKEN)).await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body.starts_with("bad request: expected a statistics batch"),
            "{body}"
        );

        let (status, body) = post(good.clone(), Some(TOKEN)).await;
        assert_eq!(
            (status, body.as_str()),
            (200, r#"{"counted":7,"repeat":false}"#)
        );
        let (status, body) = post(good, Some(TOKEN)).await;
        assert_eq!(
            (status, body.as_str()),
            (200, r#"{"counted":0,"repeat":true}"#)
        );

        let rows = stats::rows(&mut db.conn(), Granularity::Day, 0, i64::MAX).unwrap();
        let stored: Vec<_> = rows
            .iter()
            .map(|r| (r.dims.country.as_str(), r.tally.downloads, r.tally.bytes))
            .collect();
        assert_eq!(stored, vec![("DE", 7, 7_000)]);
        let metrics = t.metrics().await;
        for line in [
            r#"tuxedo_stats_batches_total{outcome="counted"} 1"#,
            r#"tuxedo_stats_batches_total{outcome="repeat"} 1"#,
            r#"tuxedo_stats_batches_total{outcome="refused"} 2"#,
            "tuxedo_stats_downloads_total 7",
        ] {
            assert!(metrics.contains(line), "{line}\n{metrics}");
        }
    });
}

/// Without a fleet there is no intake.
#[test]
fn no_fleet_no_intake() {
    let db = TestDb::sqlite();
    block_on(async {
        let t = start(&db, |_| {});
        let r = t
            .client
            .post(format!("{}{}", t.base, stats::PATH))
            .bearer_auth(TOKEN)
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
    });
}
