//! The access log of downloads (`bounce.access_log`, off by default): one JSON line per
//! download bounce counts (see `counting` for which), in the shape `tuxedo stats import`
//! folds into the statistics (`bouncer_core::stats::log::Line`) — the backfill path, and
//! a record to rebuild the counts from. The request path only queues the download's key
//! (`try_send` on a bounded channel); a writer task names it from the catalogue, as the
//! drain does, and appends the line, flushing after each burst. A full queue drops the
//! line and counts it (`bounce_access_log_lines_total{outcome="dropped"}`): a slow disk
//! never slows a redirect. On stop the writer empties the queue before it returns. A line
//! holds what statistics hold: no client address, no User-Agent.

use crate::catalogue::Catalogue;
use crate::counting::Key;
use crate::metrics::Metrics;
use bouncer_core::stats::log::Line;
use bouncer_service::shutdown::Background;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Lines waiting for the writer at most.
const QUEUE: usize = 65_536;

/// One download to log: its key, second and bytes.
#[derive(Debug, Clone, Copy)]
struct Entry {
    key: Key,
    at: i64,
    bytes: u64,
}

/// The request path's end of the log (each worker's app data).
#[derive(Clone)]
pub struct AccessLog {
    queue: mpsc::Sender<Entry>,
    metrics: Arc<Metrics>,
}

impl AccessLog {
    /// Queues a download counted under `key`; drops it (counted) when the writer is behind.
    pub fn record(&self, key: Key, bytes: u64) {
        // Within the key's minute, so the line rolls up where the live count did.
        let minute = i64::from(key.minute) * 60;
        let at = chrono::Utc::now().timestamp().clamp(minute, minute + 59);
        if self.queue.try_send(Entry { key, at, bytes }).is_err() {
            let dropped = self
                .metrics
                .access_log_lines
                .with_label_values(&["dropped"]);
            dropped.inc();
        }
    }
}

/// Opens `path` for appending and starts its writer; `None` when there is no access log.
pub fn start(
    path: Option<&Path>,
    catalogue: Arc<Catalogue>,
    metrics: Arc<Metrics>,
    background: &Background,
) -> std::io::Result<Option<AccessLog>> {
    let Some(path) = path else { return Ok(None) };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let (queue, mut waiting) = mpsc::channel(QUEUE);
    let log = AccessLog {
        queue,
        metrics: Arc::clone(&metrics),
    };
    let stop = background.token();
    background.spawn(async move {
        let mut out = std::io::BufWriter::new(file);
        loop {
            let first = tokio::select! {
                () = stop.cancelled() => None,
                e = waiting.recv() => e,
            };
            let Some(first) = first else { break };
            let mut burst = vec![first];
            while let Ok(e) = waiting.try_recv() {
                burst.push(e);
            }
            write(&mut out, &catalogue, &burst, &metrics);
        }
        // Stopping: the listeners are closed, so what is queued is all there will be.
        let mut rest = Vec::new();
        while let Ok(e) = waiting.try_recv() {
            rest.push(e);
        }
        write(&mut out, &catalogue, &rest, &metrics);
    });
    Ok(Some(log))
}

/// Appends `entries` and flushes; counts the lines written and those that could not be.
fn write(out: &mut impl Write, catalogue: &Catalogue, entries: &[Entry], metrics: &Metrics) {
    let n = write_lines(out, catalogue, entries);
    let count = |outcome: &str, n: usize| {
        let lines = metrics.access_log_lines.with_label_values(&[outcome]);
        lines.inc_by(u64::try_from(n).unwrap_or(u64::MAX));
    };
    count("written", n);
    count("dropped", entries.len() - n);
}

fn write_lines(out: &mut impl Write, catalogue: &Catalogue, entries: &[Entry]) -> usize {
    let Ok(names) = catalogue.names() else {
        tracing::error!(
            lines = entries.len(),
            "access log: no catalogue to name downloads by"
        );
        return 0;
    };
    let mut n = 0;
    for e in entries {
        let line = Line {
            time: chrono::DateTime::from_timestamp(e.at, 0).unwrap_or_default(),
            dims: crate::shipping::dims(&names, &e.key),
            bytes: e.bytes,
        };
        let written = serde_json::to_writer(&mut *out, &line)
            .map_err(std::io::Error::from)
            .and_then(|()| out.write_all(b"\n"));
        match written {
            Ok(()) => n += 1,
            Err(e) => {
                tracing::error!(error = %e, "access log: cannot write");
                break;
            }
        }
    }
    if let Err(e) = out.flush() {
        tracing::error!(error = %e, "access log: cannot write");
        return 0;
    }
    n
}
