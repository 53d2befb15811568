//! tuxedo and bounce stop on their shutdown input (see `bouncer_service::shutdown`): the
//! listener closes, every background loop ends — no task of either service is left on the
//! runtime — and a bounce instance leaves the fleet on the way out, so a write after it
//! neither waits for it nor names it.

use crate::common::*;
use crate::read_your_writes::{fleet, members, registered, start_bounce_until};
use bouncer_test_support::{db_tests, eventually, TestDb};
use std::time::Duration;
use tokio::sync::oneshot;

db_tests! {
    tuxedo_and_bounce_stop_on_their_shutdown_input => stop_both,
}

/// Tasks alive on the test's runtime.
fn alive() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// A shutdown input and the switch that gives it.
fn switch() -> (oneshot::Sender<()>, impl std::future::Future<Output = ()>) {
    let (tx, rx) = oneshot::channel::<()>();
    (tx, async {
        let _ = rx.await;
    })
}

/// Waits for a service to return from `run_until_stopped` (a hang fails the test).
async fn stopped(service: tokio::task::JoinHandle<std::io::Result<()>>) {
    let ended = tokio::time::timeout(Duration::from_secs(30), service).await;
    ended.expect("stopped").unwrap().unwrap();
}

fn stop_both(db: &TestDb) {
    block_on(async {
        let before = alive();
        let (stop_tuxedo, told) = switch();
        let (t, tuxedo) = start_until(
            db,
            |c| {
                fleet(c);
                c.tuxedo.gate_check_secs = 1; // both of tuxedo's loops run
                c.tuxedo.history_check_ms = 20;
            },
            told,
        );
        let (stop_bounce, told) = switch();
        let (b, bounce) = start_bounce_until(db, &t.base, |_| {}, told);
        registered(db, std::slice::from_ref(&b)).await;
        let r = reqwest::get(format!("{b}/?product=none&os=win64&lang=en-US"))
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "bounce serves");

        stop_bounce.send(()).unwrap();
        stopped(bounce).await;
        let m = members(db);
        assert!(
            !m.live.contains(&b) && !m.lapsed.contains(&b),
            "left the fleet: {m:?}"
        );
        let form = [("product", "Firefox-1.0"), ("languages", "en-US")];
        let r = t.release_write("product_add", &form).await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers().get("x-bouncer-unconfirmed"),
            None,
            "a write after it is not waited for it"
        );
        assert!(
            reqwest::get(&b).await.is_err(),
            "bounce's listener is closed"
        );

        stop_tuxedo.send(()).unwrap();
        stopped(tuxedo).await;
        assert!(
            reqwest::get(&t.base).await.is_err(),
            "tuxedo's listener is closed"
        );
        drop(t);
        // Connections of the clients above close as their pools go; nothing else may stay.
        eventually(
            "no task of either service left",
            Duration::from_secs(5),
            || async { (alive() == before).then_some(()) },
        )
        .await;
    });
}
