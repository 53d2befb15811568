//! tuxedo's side of read-your-writes (see `bouncer_core::fleet`): bounce instances
//! register under a lease (the endpoints: [`crate::registry`]), and a catalogue write is
//! acknowledged once every live
//! instance serves it, or `tuxedo.visibility_timeout_ms` ran out — then the answer names
//! the instances that had not confirmed (`X-Bouncer-Unconfirmed`), they are counted, and
//! the write still succeeds: it is committed and will reach them.

use crate::error::{Result, TuxedoError};
use crate::AppState;
use bouncer_core::config::Config;
use bouncer_core::db::DbConnection;
use bouncer_core::fleet;
use bouncer_service::fleet::FleetClient;
use std::time::{Duration, Instant};

/// The fleet as this tuxedo knows it: the token, and a client to call instances with.
pub struct Fleet {
    token: String,
    client: FleetClient,
    lease: Duration,
    forget: Duration,
    within: Duration,
}

impl Fleet {
    /// `None` without `fleet.token`: writes then do not wait.
    pub fn from_config(config: &Config) -> Result<Option<Self>> {
        let Some(token) = &config.fleet.token else {
            return Ok(None);
        };
        let connect = Duration::from_millis(config.database.connect_timeout_ms);
        let client = FleetClient::new(token, connect)
            .map_err(|e| TuxedoError::Internal(format!("fleet client: {e}")))?;
        Ok(Some(Self {
            token: token.clone(),
            client,
            lease: config.fleet.lease(),
            forget: config.fleet.forget(),
            within: Duration::from_millis(config.tuxedo.visibility_timeout_ms),
        }))
    }
}

impl Fleet {
    /// Whether a request's `Authorization` header carries the fleet's token.
    pub(crate) fn admits(&self, header: Option<&[u8]>) -> bool {
        fleet::authorized(header, &self.token)
    }

    /// How long a registration counts.
    pub(crate) fn lease(&self) -> Duration {
        self.lease
    }
}

impl Fleet {
    /// For a command outside the server (`tuxedo rules load`): waits on a runtime of its
    /// own for the live members to serve `generation`; returns the ones that did not and
    /// the lapsed ones.
    pub fn wait_blocking(&self, conn: &mut DbConnection, generation: i64) -> Result<Vec<String>> {
        let members = fleet::members(conn, self.forget)?;
        let mut missing = members.lapsed;
        missing.extend(self.wait_for(&members.live, generation));
        Ok(missing)
    }

    fn wait_for(&self, instances: &[String], generation: i64) -> Vec<String> {
        if instances.is_empty() {
            return Vec::new();
        }
        let (client, within, list) = (self.client.clone(), self.within, instances.to_vec());
        let waited = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(rt.block_on(client.confirm(&list, generation, within)))
        })
        .join();
        match waited {
            Ok(Ok(done)) => done.unconfirmed.into_iter().map(|(i, _)| i).collect(),
            _ => instances.to_vec(),
        }
    }
}

/// A committed, published write that the fleet has yet to confirm.
pub(crate) struct Pending {
    generation: i64,
    /// Instances with a running lease: asked, and waited for.
    instances: Vec<String>,
    /// Instances whose lease expired lately: not asked, named as unconfirmed.
    lapsed: Vec<String>,
}

/// After a write's publication, on its connection: what to wait for. Nothing when there
/// is no fleet, the write changed nothing (`published` did not pass `before`), or no
/// instance is registered. A failed read of the registry is logged and waits for nothing:
/// the write is done and must be acknowledged.
pub(crate) fn pending(
    conn: &mut DbConnection,
    state: &AppState,
    before: Option<i64>,
    published: Option<i64>,
) -> Option<Pending> {
    let forget = state.fleet.as_ref()?.forget;
    let generation = published?;
    if before.is_some_and(|b| generation <= b) {
        return None;
    }
    match fleet::members(conn, forget) {
        Ok(m) if m.live.is_empty() && m.lapsed.is_empty() => None,
        Ok(m) => Some(Pending {
            generation,
            instances: m.live,
            lapsed: m.lapsed,
        }),
        Err(e) => {
            tracing::warn!(error = %e, generation, "could not read the fleet registry; not waiting");
            None
        }
    }
}

/// Waits until every instance of `p` serves its generation, at most
/// `tuxedo.visibility_timeout_ms`; the ones that did not are noted for the answer's
/// header, counted and logged.
pub(crate) async fn confirm(state: &AppState, p: Pending) {
    let Some(fleet) = &state.fleet else { return };
    let started = Instant::now();
    let mut done = match p.instances.is_empty() {
        true => Default::default(),
        false => {
            fleet
                .client
                .confirm(&p.instances, p.generation, fleet.within)
                .await
        }
    };
    let lapsed = "lease expired: not renewing (down, or cut off and serving what it knew)";
    done.unconfirmed
        .extend(p.lapsed.into_iter().map(|i| (i, lapsed.to_owned())));
    let m = &state.metrics;
    m.visibility_wait.observe(started.elapsed().as_secs_f64());
    if done.unconfirmed.is_empty() {
        m.visibility_writes.with_label_values(&["confirmed"]).inc();
        return;
    }
    m.visibility_writes
        .with_label_values(&["unconfirmed"])
        .inc();
    for (instance, why) in &done.unconfirmed {
        m.visibility_unconfirmed
            .with_label_values(&[instance.as_str()])
            .inc();
        tracing::warn!(
            instance,
            reason = why,
            generation = p.generation,
            waited_ms = started.elapsed().as_millis() as u64,
            "write acknowledged before this bounce instance confirmed it"
        );
    }
    bouncer_service::fleet::note_unconfirmed(done.unconfirmed.into_iter().map(|(i, _)| i));
}
