//! `sentry agent`: one vantage point (issue 32). It needs no database: each round it asks
//! the controller for the scope (`GET /vantage/scope`), checks every mirror from where it
//! runs exactly as the controller does (per address family, exact file size), and sends
//! what it found (`POST /vantage/findings`), authenticated by its own token — the channel
//! takes findings and nothing else, and the controller decides what they count for.

use crate::check::Checker;
use crate::metrics::Metrics;
use crate::server::Scope;
use crate::vantage::Finding;
use crate::SentryError;
use bouncer_core::config::Config;
use bouncer_core::networks::Family;
use bouncer_service::shutdown::{self, CancellationToken};
use futures_util::StreamExt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Findings per request (well under the controller's body limit).
const FINDINGS_PER_REQUEST: usize = 20_000;

/// A configured agent.
pub struct Agent {
    checker: Arc<Checker>,
    client: reqwest::Client,
    name: String,
    controller: String,
    token: String,
    concurrency: usize,
}

/// What one round sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Round {
    pub mirrors: usize,
    pub findings: usize,
}

impl Agent {
    /// The agent `config` describes: `sentry.vantage` is its name, `sentry.controller`
    /// and `sentry.agent_token` are required.
    pub fn new(config: &Config) -> Result<Self, SentryError> {
        Self::bound(config, Family::ALL.map(Family::unspecified))
    }

    /// [`Agent::new`] with the addresses probes leave from (tests of a host's families).
    pub fn bound(config: &Config, local: [std::net::IpAddr; 2]) -> Result<Self, SentryError> {
        let s = &config.sentry;
        let (Some(controller), Some(token)) = (&s.controller, &s.agent_token) else {
            return Err(SentryError::NotAnAgent);
        };
        let checker = crate::run::checker(s, local, Arc::new(Metrics::new()?))?;
        let client = reqwest::Client::builder()
            .user_agent(format!("{} (agent {})", s.user_agent, s.vantage))
            .timeout(Duration::from_millis(s.request_timeout_ms.max(30_000)))
            .build()?;
        Ok(Self {
            checker: Arc::new(checker),
            client,
            name: s.vantage.clone(),
            controller: controller.trim_end_matches('/').to_owned(),
            token: token.expose().to_owned(),
            concurrency: s.concurrency.max(1),
        })
    }

    /// One round: the scope, every mirror checked, the findings sent.
    pub async fn round(&self) -> Result<Round, SentryError> {
        let scope: Scope = self
            .call(
                self.client
                    .get(format!("{}/vantage/scope", self.controller)),
            )
            .await?
            .json()
            .await?;
        self.checker
            .sample_budget
            .store(0, std::sync::atomic::Ordering::Release);
        let locs: Arc<[crate::Loc]> = scope.locations.into();
        let mirrors = scope.mirrors.len();
        let found: Vec<Finding> = futures_util::stream::iter(scope.mirrors)
            .map(|t| {
                let (checker, locs) = (self.checker.clone(), locs.clone());
                async move {
                    let report = checker.check_mirror(t, locs.clone(), None).await;
                    crate::vantage::findings(&report, &locs)
                }
            })
            .buffer_unordered(self.concurrency)
            .flat_map(futures_util::stream::iter)
            .collect()
            .await;
        for chunk in found.chunks(FINDINGS_PER_REQUEST) {
            let url = format!("{}/vantage/findings", self.controller);
            self.call(self.client.post(url).json(chunk)).await?;
        }
        Ok(Round {
            mirrors,
            findings: found.len(),
        })
    }

    /// Sends a request with the agent's token; an answer other than 2xx is an error that
    /// says the controller's status and reason.
    async fn call(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, SentryError> {
        let resp = req.bearer_auth(&self.token).send().await?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let reason: String = text.trim().chars().take(300).collect();
        Err(SentryError::Controller { status, reason })
    }
}

/// Runs `agent` every `sentry.interval_secs` until `shutdown`; a failed round is logged
/// and tried again at the next tick.
pub async fn agent(
    config: &Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), SentryError> {
    let agent = Agent::new(config)?;
    let stop = CancellationToken::new();
    let told = {
        let stop = stop.clone();
        async move {
            shutdown.await;
            stop.cancel();
        }
    };
    tracing::info!(vantage = %agent.name, controller = %agent.controller, "sentry agent starting");
    let every = Duration::from_secs(config.sentry.interval_secs);
    let rounds = shutdown::every(Duration::ZERO, every, stop.clone(), || async {
        match agent.round().await {
            Ok(r) => {
                tracing::info!(vantage = %agent.name, mirrors = r.mirrors, findings = r.findings, "agent round sent")
            }
            Err(e) => tracing::error!(vantage = %agent.name, error = %e, "agent round failed"),
        }
    });
    tokio::join!(told, rounds);
    tracing::info!(vantage = %agent.name, "sentry agent stopped");
    Ok(())
}
