//! `sentry forget-learned [--mirror ID|NAME]`: the bulk reset of learned file metadata.
//!
//! When a reference origin taught something wrong, the operator forgets it at once —
//! every learned row, or those one source taught — instead of waiting for the next run
//! (which forgets what a source that is no longer a reference taught, but keeps what a
//! current one taught). The operator's rows are never touched. One transaction through
//! the write path: an audit row per file (`file.forget`, with who ran it), a change record
//! per location and a generation bump, published for bounce. The next run learns again
//! from the current references.

use crate::check::Target;
use crate::{store, SentryError};
use bouncer_core::cache::Memcached;
use bouncer_core::changes::Change;
use bouncer_core::config::Config;
use bouncer_core::db::{self, DbConnection};
use bouncer_core::schema::mirror_mirrors;
use diesel::prelude::*;
use serde_json::json;

/// What to forget.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ForgetOptions {
    /// Only what this source taught: a mirror's id (also of a deleted mirror; 0 is the
    /// pinned CDN), its name, or part of exactly one mirror's name or base URL.
    #[arg(long)]
    pub mirror: Option<String>,
}

/// What a reset did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Forgotten {
    pub files: usize,
    pub generation: Option<i64>,
}

/// Forgets learned file metadata (see the module); `by` names who asked, for the audit.
pub async fn forget_learned(
    config: &Config,
    opts: &ForgetOptions,
    by: &str,
) -> Result<Forgotten, SentryError> {
    let pool = db::pool(&config.database.url, bouncer_service::pool_options(config))?;
    let cache = Memcached::from_config(&config.memcached);
    let (opts, by) = (opts.clone(), by.to_owned());
    tokio::task::spawn_blocking(move || {
        let mut conn = db::conn(&pool)?;
        let from = match opts.mirror.as_deref() {
            None => None,
            Some(filter) => Some(source(&mut conn, filter)?),
        };
        let now = chrono::Utc::now().naive_utc();
        let done = db::classify::retrying(
            || write(&mut conn, from, &by, now),
            SentryError::is_transient,
        )?;
        if let Some(g) = done.generation {
            bouncer_core::history::publish_since(&mut conn, cache.as_ref(), g - 1)?;
        }
        tracing::info!(files = done.files, from = ?from, by = %by, "learned file metadata forgotten by an operator");
        Ok(done)
    })
    .await?
}

/// The source `--mirror` names: a number as is (a deleted mirror's rows outlive it),
/// else a mirror — disabled ones too — matched as `sentry run --mirror` matches.
fn source(conn: &mut DbConnection, filter: &str) -> Result<i32, SentryError> {
    if let Ok(id) = filter.trim().parse::<i32>() {
        return Ok(id);
    }
    let all: Vec<(i32, String, String)> = mirror_mirrors::table
        .select((
            mirror_mirrors::id,
            mirror_mirrors::name,
            mirror_mirrors::baseurl,
        ))
        .order(mirror_mirrors::id)
        .load(conn)?;
    let targets = all
        .into_iter()
        .map(|(id, name, baseurl)| Target {
            id,
            name,
            baseurl,
            reference: false,
        })
        .collect();
    let found = store::select_mirrors(targets, Some(filter))?;
    found
        .first()
        .map(|t| t.id)
        .ok_or_else(|| SentryError::NoSuchMirror(filter.to_owned()))
}

fn write(
    conn: &mut DbConnection,
    from: Option<i32>,
    by: &str,
    now: chrono::NaiveDateTime,
) -> Result<Forgotten, SentryError> {
    db::write_transaction::<_, SentryError, _>(conn, |conn| {
        let gone = bouncer_core::files::forget_learned(conn, from)?;
        let mut changes = Vec::with_capacity(gone.len());
        for (location_id, m) in &gone {
            let target = format!("location {location_id} ({})", m.lang);
            let before = json!({"size": m.size, "etag": m.etag, "last_modified": m.last_modified});
            let after = json!({"reason": "reset by an operator (sentry forget-learned)", "by": by, "from_mirror": from});
            store::audit(conn, "file.forget", &target, before, after, now)?;
            changes.push(Change::Location(*location_id));
        }
        changes.sort();
        changes.dedup();
        let generation = match changes.is_empty() {
            true => None,
            false => Some(bouncer_core::changes::record(conn, &changes)?),
        };
        Ok(Forgotten {
            files: gone.len(),
            generation,
        })
    })
}
