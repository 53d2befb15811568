//! The HTTP side of `bouncer_core::fleet`: bounce registering with tuxedo, and a writer
//! asking every live instance to serve a generation before it acknowledges the write.

use bouncer_core::fleet::{Applied, Apply, Registered, Registration, APPLY_PATH, REGISTER_PATH};
use std::time::Duration;

/// An HTTP client that carries the fleet's bearer token.
#[derive(Clone)]
pub struct FleetClient {
    http: reqwest::Client,
    bearer: String,
}

/// What became of one write's wait for the fleet.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Confirmation {
    /// Instances that answered that they serve the generation.
    pub confirmed: Vec<String>,
    /// Instances that did not, in time (down, cut off, behind), with why.
    pub unconfirmed: Vec<(String, String)>,
}

fn join(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

impl FleetClient {
    /// A client for `token`; `connect_timeout` bounds each connection attempt.
    pub fn new(token: &str, connect_timeout: Duration) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(connect_timeout)
            .tcp_nodelay(true)
            .build()?;
        Ok(Self {
            http,
            bearer: format!("Bearer {token}"),
        })
    }

    /// Asks every instance to serve `generation`, all at once, and waits at most `within`
    /// for their answers. An instance confirms by answering 200 with a generation at least
    /// `generation`; anything else, or no answer in time, leaves it unconfirmed.
    pub async fn confirm(
        &self,
        instances: &[String],
        generation: i64,
        within: Duration,
    ) -> Confirmation {
        let wait_ms = u64::try_from(within.as_millis()).unwrap_or(u64::MAX);
        let body = Apply {
            generation,
            wait_ms,
        };
        let calls = instances.iter().map(|base| {
            let call = self
                .http
                .post(join(base, APPLY_PATH))
                .header(reqwest::header::AUTHORIZATION, &self.bearer)
                .json(&body)
                .timeout(within)
                .send();
            async move {
                let outcome = match call.await {
                    Ok(r) if r.status() == reqwest::StatusCode::OK => {
                        match r.json::<Applied>().await {
                            Ok(a) if a.applied >= generation => Ok(()),
                            Ok(a) => Err(format!("serves generation {}", a.applied)),
                            Err(e) => Err(format!("unreadable answer: {e}")),
                        }
                    }
                    Ok(r) => Err(format!("answered {}", r.status().as_u16())),
                    Err(e) if e.is_timeout() => Err("no answer in time".to_owned()),
                    Err(e) => Err(format!("unreachable: {e}")),
                };
                (base.clone(), outcome)
            }
        });
        let mut out = Confirmation::default();
        for (base, outcome) in futures_util::future::join_all(calls).await {
            match outcome {
                Ok(()) => out.confirmed.push(base),
                Err(why) => out.unconfirmed.push((base, why)),
            }
        }
        out
    }

    /// Registers `me`, serving generation `applied`, with the first of `tuxedos` that
    /// accepts, each try bounded by `within`; `Err` names why the last one refused.
    pub async fn register(
        &self,
        tuxedos: &[String],
        me: &str,
        applied: i64,
        within: Duration,
    ) -> Result<Registered, String> {
        let mut last = "no tuxedo configured".to_owned();
        for base in tuxedos {
            let sent = self
                .registration(reqwest::Method::POST, base, me, applied, within)
                .await;
            match sent {
                Ok(r) if r.status().is_success() => match r.json::<Registered>().await {
                    Ok(registered) => return Ok(registered),
                    Err(e) => last = format!("{base}: unreadable answer: {e}"),
                },
                Ok(r) => {
                    let status = r.status().as_u16();
                    let text = r.text().await.unwrap_or_default();
                    last = format!("{base}: answered {status}: {}", text.trim());
                }
                Err(e) => last = format!("{base}: {e}"),
            }
        }
        Err(last)
    }

    /// Sends a download statistics batch to the first of `tuxedos` that takes it, each try
    /// bounded by `within`. Sent again unchanged after a failure, it counts once (its id).
    pub async fn ship(
        &self,
        tuxedos: &[String],
        batch: &bouncer_core::stats::Batch,
        within: Duration,
    ) -> Result<(), Shipped> {
        let mut last = Shipped::Failed("no tuxedo configured".to_owned());
        for base in tuxedos {
            let sent = self
                .http
                .post(join(base, bouncer_core::stats::PATH))
                .header(reqwest::header::AUTHORIZATION, &self.bearer)
                .json(batch)
                .timeout(within)
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) => {
                    let status = r.status();
                    let text = r.text().await.unwrap_or_default();
                    let why = format!("{base}: answered {}: {}", status.as_u16(), text.trim());
                    // What tuxedo cannot store it will never store: sending it again
                    // would block every count behind it.
                    last = match status.as_u16() {
                        400 => return Err(Shipped::Refused(why)),
                        413 => return Err(Shipped::TooLarge(why)),
                        _ => Shipped::Failed(why),
                    };
                }
                Err(e) => last = Shipped::Failed(format!("{base}: {e}")),
            }
        }
        Err(last)
    }

    /// One call of `base`'s registry about `me`.
    async fn registration(
        &self,
        method: reqwest::Method,
        base: &str,
        me: &str,
        applied: i64,
        within: Duration,
    ) -> reqwest::Result<reqwest::Response> {
        self.http
            .request(method, join(base, REGISTER_PATH))
            .header(reqwest::header::AUTHORIZATION, &self.bearer)
            .json(&Registration {
                url: me.to_owned(),
                applied,
            })
            .timeout(within)
            .send()
            .await
    }

    /// Deregisters `me` (an instance stopping) with the first of `tuxedos` that answers
    /// (they share the registry), each try bounded by `within`, so writes stop waiting for
    /// it and stop naming it. `Err` says why none did; the lease ends the membership anyway.
    pub async fn leave(
        &self,
        tuxedos: &[String],
        me: &str,
        within: Duration,
    ) -> Result<(), String> {
        let mut last = "no tuxedo configured".to_owned();
        for base in tuxedos {
            let sent = self
                .registration(reqwest::Method::DELETE, base, me, 0, within)
                .await;
            match sent {
                // 404: not registered (never was, or its lease was forgotten): gone either way.
                Ok(r) if r.status().is_success() || r.status() == 404 => return Ok(()),
                Ok(r) => last = format!("{base}: answered {}", r.status().as_u16()),
                Err(e) => last = format!("{base}: {e}"),
            }
        }
        Err(last)
    }
}

/// Why a statistics batch was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shipped {
    /// tuxedo cannot store it (a 400): dropped, with an error logged.
    Refused(String),
    /// Larger than tuxedo takes (a 413, `tuxedo.max_body_bytes` set low): sent again in
    /// halves (see `Batch::halves`).
    TooLarge(String),
    /// No tuxedo answered, or one failed: sent again later.
    Failed(String),
}

tokio::task_local! {
    /// The instances a write of the request being answered could not confirm (see
    /// [`crate::Application::start_writer`]).
    static UNCONFIRMED: std::cell::RefCell<Vec<String>>;
}

/// Notes instances that did not confirm the current request's write, for its answer's
/// `X-Bouncer-Unconfirmed` header; nothing outside a writer's request (a background job).
pub fn note_unconfirmed(instances: impl IntoIterator<Item = String>) {
    let _ = UNCONFIRMED.try_with(|u| u.borrow_mut().extend(instances));
}

/// Runs `answer` collecting what [`note_unconfirmed`] notes, and returns both.
pub async fn collecting<F: std::future::Future>(answer: F) -> (F::Output, Vec<String>) {
    let cell = std::cell::RefCell::new(Vec::new());
    UNCONFIRMED
        .scope(cell, async {
            let out = answer.await;
            let noted = UNCONFIRMED.with(|u| std::mem::take(&mut *u.borrow_mut()));
            (out, noted)
        })
        .await
}
