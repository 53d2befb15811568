//! How a service stops. Each service's `build` takes a shutdown input (a future: the
//! process's signals in `main`, a channel in tests) and hands it to its [`Application`],
//! which on that input stops the HTTP listeners (in-flight requests finish), then tells the
//! service's background loops to stop and waits for them. The loops learn it from a
//! [`CancellationToken`] they check between rounds, never in the middle of one, so a round
//! in flight (a catalogue load, a gate flip, a registration) finishes first.
//!
//! [`Application`]: crate::Application

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
pub use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A shutdown input: resolves when the service should stop.
pub type Signal = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Boxes a shutdown input.
pub fn input(stop: impl Future<Output = ()> + Send + 'static) -> Signal {
    Box::pin(stop)
}

/// The process's shutdown input: SIGINT (Ctrl-C) or SIGTERM, whichever comes first.
pub async fn signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT: stopping"),
        () = terminate => tracing::info!("SIGTERM: stopping"),
    }
}

/// A service's background loops: each is spawned here and told to stop through the one
/// token; [`Background::stop`] waits until every one has returned.
#[derive(Clone, Default)]
pub struct Background {
    token: CancellationToken,
    tasks: TaskTracker,
}

impl Background {
    pub fn new() -> Self {
        Self::default()
    }

    /// The token a loop checks between its rounds.
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// Runs `task` until it returns; it must return soon after the token is cancelled.
    pub fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn(task);
    }

    /// How many loops are still running.
    pub fn running(&self) -> usize {
        self.tasks.len()
    }

    /// Tells every loop to stop and waits for all of them.
    pub async fn stop(&self) {
        self.token.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }
}

/// Runs `round` after `first` and then every `period` until `token` is cancelled; a round
/// in flight finishes first, and a round that overruns delays the next rather than
/// bunching them.
pub async fn every<F, Fut>(
    first: Duration,
    period: Duration,
    token: CancellationToken,
    mut round: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let start = tokio::time::Instant::now() + first;
    let mut tick = tokio::time::interval_at(start, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = token.cancelled() => return,
            _ = tick.tick() => round().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tokio::sync::{mpsc, Semaphore};

    #[tokio::test]
    async fn stop_waits_for_the_round_in_flight_and_ends_the_loop() {
        let background = Background::new();
        let rounds = Arc::new(AtomicUsize::new(0));
        // A round says it started, then holds until the test releases it.
        let (started_tx, mut started) = mpsc::unbounded_channel();
        let release = Arc::new(Semaphore::new(0));
        let (r, rel, token) = (rounds.clone(), release.clone(), background.token());
        background.spawn(async move {
            every(Duration::ZERO, Duration::from_millis(1), token, || {
                let (r, rel, tx) = (r.clone(), rel.clone(), started_tx.clone());
                async move {
                    let _ = tx.send(());
                    let _ = rel.acquire().await.map(|p| p.forget());
                    r.fetch_add(1, Ordering::SeqCst);
                }
            })
            .await
        });
        started.recv().await.unwrap(); // inside the first round
        let stopping = {
            let b = background.clone();
            tokio::spawn(async move { b.stop().await })
        };
        tokio::task::yield_now().await;
        assert_eq!(
            background.running(),
            1,
            "the round in flight is not cut short"
        );
        release.add_permits(1);
        stopping.await.unwrap();
        assert_eq!(
            rounds.load(Ordering::SeqCst),
            1,
            "it finished, and no round followed"
        );
        assert_eq!(background.running(), 0);
        assert!(started.try_recv().is_err());
    }
}
