//! tuxedo's heartbeat checks the master database, on both backends, and memcached: the
//! Dockerflow levels (a dead memcached is a warning and 200, a dead database an error and
//! 500).

use bouncer_core::config::Config;
use bouncer_test_support::TestDb;

async fn heartbeat_checks_master(db: TestDb) {
    let mut config = Config::default();
    config.database.url = db.url.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let app = tuxedo::build(config, listener, std::future::pending()).unwrap();
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

fn dead_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn heartbeat(config: Config) -> (u16, serde_json::Value) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let app = tuxedo::build(config, listener, std::future::pending()).unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let resp = reqwest::get(format!("{base}/__heartbeat__")).await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn a_dead_memcached_is_a_warning() {
    let db = TestDb::sqlite();
    let mut config = Config::default();
    config.database.url = db.url.clone();
    config.memcached.servers = vec![format!("127.0.0.1:{}", dead_port())];
    let (status, body) = heartbeat(config).await;
    assert_eq!(status, 200, "writes still work: {body}");
    assert_eq!(body["status"], "warning");
    let mc = &body["checks"][1];
    assert_eq!(
        (&mc["name"], &mc["state"]),
        (&"memcached".into(), &"warning".into())
    );
    assert!(
        mc["detail"].as_str().unwrap().contains("127.0.0.1:"),
        "{body}"
    );
}

#[tokio::test]
async fn a_dead_database_is_an_error() {
    let mut config = Config::default();
    config.database.url = format!("mysql://root@127.0.0.1:{}/none", dead_port());
    config.database.connect_timeout_ms = 300;
    let (status, body) = heartbeat(config).await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["checks"][0]["state"], "error");
}
