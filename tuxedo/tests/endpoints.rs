//! tuxedo's heartbeat checks the master database, on both backends.

use bouncer_core::config::Config;
use bouncer_test_support::TestDb;

async fn heartbeat_checks_master(db: TestDb) {
    let mut config = Config::default();
    config.database.url = db.url.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let app = tuxedo::build(config, listener).unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let resp = reqwest::get(format!("{base}/__heartbeat__")).await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["checks"][0]["state"], "ok");
    drop(db);
}

#[tokio::test]
async fn heartbeat_on_mysql() {
    heartbeat_checks_master(TestDb::mysql()).await;
}

#[tokio::test]
async fn heartbeat_on_sqlite() {
    heartbeat_checks_master(TestDb::sqlite()).await;
}
