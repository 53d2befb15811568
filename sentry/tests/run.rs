//! A run connects to the master and sees its mirrors, on both backends.

use bouncer_core::config::Config;
use bouncer_core::models::NewMirror;
use bouncer_core::schema::mirror_mirrors;
use bouncer_test_support::TestDb;
use diesel::prelude::*;

async fn run_counts_active_mirrors(db: TestDb) {
    let rows = [("a", true), ("b", true), ("c", false)].map(|(name, active)| NewMirror {
        name,
        baseurl: "https://example.org/",
        rating: 10,
        active,
    });
    let mut conn = db.conn();
    for row in rows {
        // One by one: the multi-backend connection has no batch insert (SQLite lacks DEFAULT).
        diesel::insert_into(mirror_mirrors::table)
            .values(row)
            .execute(&mut *conn)
            .unwrap();
    }
    let mut config = Config::default();
    config.database.url = db.url.clone();
    let summary = sentry::run_once(&config, &Default::default())
        .await
        .unwrap();
    assert_eq!(summary.mirrors, 2);
}

#[tokio::test]
async fn run_on_mysql() {
    run_counts_active_mirrors(TestDb::mysql()).await;
}

#[tokio::test]
async fn run_on_sqlite() {
    run_counts_active_mirrors(TestDb::sqlite()).await;
}

#[tokio::test]
async fn run_fails_when_database_is_down() {
    let mut config = Config::default();
    config.database.url = "mysql://root@127.0.0.1:1/none".into();
    config.database.connect_timeout_ms = 300;
    assert!(sentry::run_once(&config, &Default::default())
        .await
        .is_err());
}
