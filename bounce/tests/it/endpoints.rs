//! Service endpoints of a real bounce instance on port 0, on both backends.

use bouncer_core::config::Config;
use bouncer_test_support::TestDb;

/// Starts bounce against `database_url` and returns its base URL.
fn spawn(database_url: &str) -> String {
    let mut config = Config::default();
    config.database.url = database_url.to_owned();
    config.database.connect_timeout_ms = 500;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let app = bounce::build(config, listener, std::future::pending()).unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    base
}

async fn endpoints_answer(db: TestDb) {
    let base = spawn(&db.url);
    let client = reqwest::Client::new();
    let lb = client
        .get(format!("{base}/__lbheartbeat__"))
        .send()
        .await
        .unwrap();
    assert_eq!(lb.status(), 200);
    let hb = client
        .get(format!("{base}/__heartbeat__"))
        .send()
        .await
        .unwrap();
    assert_eq!(hb.status(), 200);
    let body: serde_json::Value = hb.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["checks"][0]["name"], "database");
    let v: serde_json::Value = client
        .get(format!("{base}/__version__"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    let commit = v["commit"].as_str().unwrap();
    assert!(
        commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit()),
        "the commit built, not a placeholder: {v}"
    );
    // Metrics: Prometheus text, and an answer is counted (an unknown product: 404).
    let r = client
        .get(format!("{base}/?product=nothing-here"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let m = client.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(m.status(), 200);
    let kind = m.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    let text = m.text().await.unwrap();
    let counted = text
        .lines()
        .filter(|l| l.starts_with("bounce_requests_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>();
    assert!(counted >= 1.0, "{text}");
    assert!(
        text.contains("# TYPE bounce_requests_total counter"),
        "{text}"
    );
}

#[tokio::test]
async fn endpoints_answer_on_mysql() {
    endpoints_answer(TestDb::mysql()).await;
}

#[tokio::test]
async fn endpoints_answer_on_sqlite() {
    endpoints_answer(TestDb::sqlite()).await;
}

#[tokio::test]
async fn heartbeat_names_a_dead_database() {
    // Nothing listens on port 1: the database check must fail, and say so, fast.
    let base = spawn("mysql://root@127.0.0.1:1/nothing");
    let resp = reqwest::get(format!("{base}/__heartbeat__")).await.unwrap();
    assert_eq!(resp.status(), 500);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "error");
    assert_eq!(body["checks"][0]["name"], "database");
    assert!(body["checks"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("unavailable"));
    // The load balancer heartbeat does no I/O and stays up.
    assert_eq!(
        reqwest::get(format!("{base}/__lbheartbeat__"))
            .await
            .unwrap()
            .status(),
        200
    );
}

/// A command line's help is for people: no log line before it.
#[test]
fn help_is_plain_text() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bounce"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("Bouncer download redirector"), "{text}");
    assert!(!text.contains("logging started"), "{text}");
}

/// With `bounce.metrics_listen`, `/metrics` is served there and not on the public
/// listener (where the path is then the redirector's, like any other).
#[tokio::test]
async fn metrics_on_their_own_listener() {
    let db = TestDb::sqlite();
    let mut config = Config::default();
    config.database.url = db.url.clone();
    config.database.migrate_on_start = true;
    config.bounce.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let app = bounce::build(config, listener, std::future::pending()).unwrap();
    let (public, private) = (app.port(), app.metrics_port().unwrap());
    tokio::spawn(app.run_until_stopped());
    let m = reqwest::get(format!("http://127.0.0.1:{private}/metrics"))
        .await
        .unwrap();
    assert_eq!(m.status(), 200);
    assert!(m.text().await.unwrap().contains("bounce_requests_total"));
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let p = no_redirects
        .get(format!("http://127.0.0.1:{public}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !p.contains("bounce_requests_total"),
        "not on the public listener: {p}"
    );
}
