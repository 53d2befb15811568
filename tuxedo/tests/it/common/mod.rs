//! Shared by tuxedo's integration tests: a real tuxedo on port 0 over a fresh database,
//! accounts for each role, the operating systems release automation uses, and an HTTP
//! client for the XML API.
#![allow(dead_code)]

use bouncer_core::config::Config;
use bouncer_core::db::DbConnection;
use bouncer_core::models::{NewLocationMirror, NewMirror, NewOs};
use bouncer_core::schema::{mirror_location_mirror_map, mirror_mirrors, mirror_os};
use bouncer_test_support::TestDb;
use diesel::prelude::*;
use std::future::Future;
use tuxedo::auth::{users, Role};

pub const DECL: &str = r#"<?xml version="1.0" encoding="utf-8"?>"#;
/// The release account; its password contains `:` on purpose.
pub const RELEASE: (&str, &str) = ("releng", "s3cret:with:colons");
pub const READER: (&str, &str) = ("viewer", "viewer-password");
pub const MIRROR_OP: (&str, &str) = ("mirrorop", "mirrorop-password");
pub const ADMIN: (&str, &str) = ("boss", "admin-password-long");
pub const OSES: [&str; 9] = [
    "win",
    "win64",
    "osx",
    "linux",
    "linux64",
    "linux64-aarch64",
    "android",
    "android-x86",
    "win64-aarch64",
];

/// Runs an async test body on a fresh multi-threaded runtime (db_tests! bodies are sync).
pub fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// A running tuxedo.
pub struct Tux {
    pub base: String,
    pub client: reqwest::Client,
}

/// Seeds accounts and operating systems, then starts tuxedo on `db` (call inside a
/// runtime). `tweak` adjusts the configuration.
pub fn start(db: &TestDb, tweak: impl FnOnce(&mut Config)) -> Tux {
    start_until(db, tweak, std::future::pending()).0
}

/// [`start`], stopping when `shutdown` resolves; the handle ends when tuxedo has stopped.
pub fn start_until(
    db: &TestDb,
    tweak: impl FnOnce(&mut Config),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> (Tux, tokio::task::JoinHandle<std::io::Result<()>>) {
    let mut conn = db.conn();
    for ((name, password), role) in [RELEASE, READER, MIRROR_OP, ADMIN].into_iter().zip([
        Role::Release,
        Role::ReadOnly,
        Role::MirrorOperator,
        Role::Admin,
    ]) {
        users::add(&mut conn, "test", name, role, password).unwrap();
    }
    for (i, os) in OSES.iter().enumerate() {
        diesel::insert_into(mirror_os::table)
            .values(NewOs {
                name: os,
                priority: i as i32,
            })
            .execute(&mut *conn)
            .unwrap();
    }
    let mut config = Config::default();
    config.database.url = db.url.clone();
    tweak(&mut config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let app = tuxedo::build(config, listener, shutdown).unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let running = tokio::spawn(app.run_until_stopped());
    let tux = Tux {
        base,
        client: reqwest::Client::new(),
    };
    (tux, running)
}

/// Adds a mirror and returns its id.
pub fn add_mirror(conn: &mut DbConnection, name: &str, rating: i32, active: bool) -> i32 {
    diesel::insert_into(mirror_mirrors::table)
        .values(NewMirror {
            name,
            baseurl: &format!("https://{name}.example/pub"),
            rating,
            active,
        })
        .execute(conn)
        .unwrap();
    mirror_mirrors::table
        .filter(mirror_mirrors::name.eq(name))
        .select(mirror_mirrors::id)
        .first(conn)
        .unwrap()
}

/// Sets the map row of (location, mirror), as the checker would.
pub fn set_map(
    conn: &mut DbConnection,
    location_id: i32,
    mirror_id: i32,
    active: bool,
    healthy: bool,
) {
    let n = diesel::update(
        mirror_location_mirror_map::table
            .filter(mirror_location_mirror_map::location_id.eq(location_id))
            .filter(mirror_location_mirror_map::mirror_id.eq(mirror_id)),
    )
    .set((
        mirror_location_mirror_map::active.eq(active),
        mirror_location_mirror_map::healthy.eq(healthy),
    ))
    .execute(conn)
    .unwrap();
    if n == 0 {
        diesel::insert_into(mirror_location_mirror_map::table)
            .values(NewLocationMirror {
                location_id,
                mirror_id,
                active,
                healthy,
            })
            .execute(conn)
            .unwrap();
    }
}

impl Tux {
    pub fn url(&self, cmd: &str) -> String {
        format!("{}/api/{cmd}", self.base)
    }

    /// GET without credentials: (status, body).
    pub async fn get(&self, cmd: &str, query: &[(&str, &str)]) -> (u16, String) {
        let r = self
            .client
            .get(self.url(cmd))
            .query(query)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// POST as the release account: (status, body).
    pub async fn post(&self, cmd: &str, form: &[(&str, &str)]) -> (u16, String) {
        self.post_as(cmd, form, Some(RELEASE)).await
    }

    /// A release-role POST of `cmd`, answered as it came (headers included).
    pub async fn release_write(&self, cmd: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let req = self.client.post(self.url(cmd)).form(form);
        req.basic_auth(RELEASE.0, Some(RELEASE.1))
            .send()
            .await
            .unwrap()
    }

    /// POST with the given credentials (or none).
    pub async fn post_as(
        &self,
        cmd: &str,
        form: &[(&str, &str)],
        auth: Option<(&str, &str)>,
    ) -> (u16, String) {
        let mut req = self.client.post(self.url(cmd)).form(form);
        if let Some((u, p)) = auth {
            req = req.basic_auth(u, Some(p));
        }
        let r = req.send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }
}

/// `<error number="N">text</error>` with the declaration.
pub fn xml_error(number: u16, text: &str) -> String {
    format!("{DECL}<error number=\"{number}\">{text}</error>")
}

/// `<success>text</success>` with the declaration.
pub fn xml_success(text: &str) -> String {
    format!("{DECL}<success>{text}</success>")
}

/// Credentials of a JSON API call.
#[derive(Clone, Copy, Debug)]
pub enum Auth<'a> {
    None,
    Basic((&'a str, &'a str)),
    Bearer(&'a str),
}

impl Tux {
    /// A JSON API call: (status, body as JSON; `Null` when empty).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        auth: Auth<'_>,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self
            .client
            .request(method, format!("{}/api/v2{path}", self.base));
        req = match auth {
            Auth::None => req,
            Auth::Basic((u, p)) => req.basic_auth(u, Some(p)),
            Auth::Bearer(t) => req.bearer_auth(t),
        };
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        let json = match text.is_empty() {
            true => serde_json::Value::Null,
            false => serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")),
        };
        (status, json)
    }

    /// A JSON call as `who`.
    pub async fn as_(
        &self,
        who: (&str, &str),
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        self.call(method, path, Auth::Basic(who), body).await
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        let r = self.client.get(format!("{}/metrics", self.base)).send();
        r.await.unwrap().text().await.unwrap()
    }

    /// A JSON call as the admin.
    pub async fn admin(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        self.as_(ADMIN, method, path, body).await
    }
}

/// The error code of a JSON error body.
pub fn code(body: &serde_json::Value) -> &str {
    body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error: {body}"))
}

/// The newest audit row as (actor, action, target).
pub fn last_audit(conn: &mut DbConnection) -> (String, String, String) {
    use bouncer_core::schema::bouncer_audit_log as a;
    a::table
        .order(a::id.desc())
        .select((a::actor, a::action, a::target))
        .first(conn)
        .unwrap()
}

/// How many audit rows there are.
pub fn audit_count(conn: &mut DbConnection) -> i64 {
    use bouncer_core::schema::bouncer_audit_log as a;
    a::table.count().get_result(conn).unwrap()
}
