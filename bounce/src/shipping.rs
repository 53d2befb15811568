//! Download statistics leave bounce here (bounce never writes the database): every
//! `bounce.stats_drain_secs` what the workers counted (see `counting`) is folded into
//! what is waiting, and sent to tuxedo in batches (`POST /__fleet__/stats`), one at a
//! time. A batch keeps its id until tuxedo takes it, so one sent again after a lost
//! answer counts once. While tuxedo does not answer, counts keep folding in memory
//! (bounded by `bounce.stats_max_counts`) and the batch is sent again next round. When the
//! service stops, a last round sends what is left; a crash loses at most what was counted
//! since the last acknowledged batch.

use crate::catalogue::names::Names;
use crate::catalogue::Catalogue;
use crate::counting::{self, Counts, Key, Tallies};
use crate::fleet::Fleet;
use crate::metrics::Metrics;
use crate::outcome::Served;
use bouncer_core::networks::Family;
use bouncer_core::stats::{self, Batch, Dims, Minute, Tally};
use bouncer_service::fleet::Shipped;
use bouncer_service::shutdown::Background;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Starts the drain when there is a fleet to send to and an interval (otherwise nothing
/// is counted: see `AppState::counting`). `max`: `bounce.stats_max_counts`; `last`:
/// `bounce.stats_stop_secs`, how long a stopping instance tries to send its last counts.
pub fn start(
    fleet: Option<Arc<Fleet>>,
    tallies: Arc<Tallies>,
    catalogue: Arc<Catalogue>,
    metrics: Arc<Metrics>,
    (every, max, last): (Duration, usize, Duration),
    background: &Background,
) {
    let Some(fleet) = fleet.filter(|_| !every.is_zero()) else {
        return;
    };
    let stop = background.token();
    background.spawn(async move {
        let mut shipper = Shipper {
            fleet,
            tallies,
            catalogue,
            metrics,
            waiting: Counts::new(),
            pending: Vec::new(),
            nonce: rand::random(),
            seq: 0,
            max,
        };
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = tick.tick() => {}
            }
            // A round in flight when the stop comes gives way to the last one (bounded):
            // a batch being sent stays pending (it is taken off only once answered), so
            // it is sent again, and recognised if tuxedo had taken it.
            tokio::select! {
                () = stop.cancelled() => break,
                () = shipper.round() => {}
            }
        }
        // Stopping: what the workers counted since the last round goes too (bounded).
        if tokio::time::timeout(last, shipper.round()).await.is_err() {
            let waiting: u64 = shipper.waiting.values().map(|t| t.downloads).sum();
            let pending: u64 = shipper.pending.iter().map(Batch::downloads).sum();
            tracing::error!(
                downloads_lost = waiting + pending,
                "download statistics: the last counts were not taken in time"
            );
        }
    });
}

struct Shipper {
    fleet: Arc<Fleet>,
    tallies: Arc<Tallies>,
    catalogue: Arc<Catalogue>,
    metrics: Arc<Metrics>,
    /// Counts not in a batch yet.
    waiting: Counts,
    /// Batches being sent, the last first (each sent again, unchanged, until tuxedo takes
    /// it; one too large for tuxedo is replaced by its halves).
    pending: Vec<Batch>,
    /// This process's batch ids: `<nonce>-<seq>`.
    nonce: u64,
    seq: u64,
    max: usize,
}

impl Shipper {
    /// Folds what the workers counted in, then sends batches until none is left or tuxedo
    /// does not take one.
    async fn round(&mut self) {
        for counts in self.tallies.take() {
            for (key, tally) in counts {
                counting::add(&mut self.waiting, key, tally, self.max);
            }
        }
        loop {
            if self.pending.is_empty() {
                match self.next_batch() {
                    Some(batch) => self.pending.push(batch),
                    None => break,
                }
            }
            let Some(batch) = self.pending.last() else {
                break;
            };
            let shipped = self.fleet.ship(batch).await;
            let outcome = match &shipped {
                Ok(()) => "sent",
                Err(Shipped::TooLarge(_)) => "split",
                Err(Shipped::Refused(_)) => "refused",
                Err(Shipped::Failed(_)) => "failed",
            };
            let batches = &self.metrics.stats_batches;
            batches.with_label_values(&[outcome]).inc();
            let Err(e) = shipped else {
                self.pending.pop();
                continue;
            };
            let Some(batch) = self.pending.pop() else {
                break;
            };
            match e {
                Shipped::Failed(why) => {
                    tracing::warn!(
                        batch = batch.id,
                        error = why,
                        "download statistics not sent; kept for the next round"
                    );
                    self.pending.push(batch);
                    break;
                }
                Shipped::TooLarge(why) => match batch.halves() {
                    Ok((a, b)) => {
                        tracing::warn!(
                            error = why,
                            "download statistics batch too large for tuxedo; sent in halves"
                        );
                        self.pending.extend([b, a]);
                    }
                    Err(batch) => refused(&batch, &why),
                },
                Shipped::Refused(why) => refused(&batch, &why),
            }
        }
        let waiting = self.waiting.len() + self.pending_counts();
        self.metrics
            .stats_waiting
            .set(i64::try_from(waiting).unwrap_or(i64::MAX));
    }

    /// Counts in the batches not yet taken.
    fn pending_counts(&self) -> usize {
        let counts = |b: &Batch| b.minutes.iter().map(|m| m.counts.len()).sum::<usize>();
        self.pending.iter().map(counts).sum()
    }

    /// Up to [`stats::MAX_COUNTS`] waiting counts as a batch with a new id, named from the
    /// catalogue now; `None` when nothing waits (or the catalogue is not loaded yet).
    fn next_batch(&mut self) -> Option<Batch> {
        if self.waiting.is_empty() {
            return None;
        }
        let names = self.catalogue.names().ok()?;
        let keys: Vec<Key> = self
            .waiting
            .keys()
            .take(stats::MAX_COUNTS)
            .copied()
            .collect();
        let mut minutes: BTreeMap<u32, Vec<(Dims, Tally)>> = BTreeMap::new();
        for key in keys {
            if let Some(tally) = self.waiting.remove(&key) {
                minutes
                    .entry(key.minute)
                    .or_default()
                    .push((dims(&names, &key), tally));
            }
        }
        self.seq += 1;
        Some(Batch {
            id: format!("{:016x}-{}", self.nonce, self.seq),
            instance: self.fleet.me.clone(),
            minutes: minutes
                .into_iter()
                .map(|(minute, counts)| Minute {
                    start: i64::from(minute) * 60,
                    counts,
                })
                .collect(),
        })
    }
}

/// A batch tuxedo cannot store: dropped, loudly.
fn refused(batch: &Batch, why: &str) {
    tracing::error!(
        batch = batch.id,
        downloads = batch.downloads(),
        error = why,
        "download statistics batch refused by tuxedo; dropped"
    );
}

/// A key's dimensions by name (a product or OS deleted since counts as `other`); the
/// access log names its lines with it too.
pub(crate) fn dims(names: &Names, key: &Key) -> Dims {
    let other = || stats::OTHER.to_owned();
    let known = !key.is_other();
    let name = |n: Option<&str>| n.filter(|_| known).map_or_else(other, str::to_owned);
    Dims {
        product: name(names.product_name(key.product)),
        os: name(names.os_name(key.os)),
        lang: key.lang.as_str().to_owned(),
        country: key.country.map_or_else(
            || "--".to_owned(),
            |c| String::from_utf8_lossy(&c).into_owned(),
        ),
        target: match key.served {
            _ if !known => other(),
            Served::Mirror(id) => id.to_string(),
            Served::Cdn => stats::CDN.to_owned(),
            Served::Fallback => stats::FALLBACK.to_owned(),
        },
        family: match key.family {
            Some(Family::V4) => 4,
            Some(Family::V6) => 6,
            None => 0,
        },
        scheme: if key.https { "https" } else { "http" }.to_owned(),
        agent: if key.bot { stats::BOT } else { stats::USER }.to_owned(),
    }
}
