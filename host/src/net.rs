//! Outbound HTTP for sources: one client, per-attempt timeouts, retries with exponential
//! back-off on 5xx and connection failures, a cap on the body, and error texts that never carry
//! the URL (which may hold an API key).

use std::sync::Arc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::source::NetOptions;

/// What an upstream GET gave.
#[derive(Debug)]
pub enum Fetched {
    /// A 2xx answer other than 204.
    Body { status: u16, body: Bytes },
    /// 404, 410 or 204: the upstream has no tile there.
    Missing(u16),
}

/// Why an upstream GET failed (after retries).
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("no answer within {0} ms")]
    Timeout(u128),
    #[error("HTTP {status} after {attempts} attempt(s)")]
    Status { status: u16, attempts: u32 },
    #[error("{0}")]
    Transport(String),
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    /// The process-wide budget for upstream bodies is spent (see [`set_body_budget`]).
    #[error("upstream bodies in memory exceed their budget of {0} MiB")]
    Busy(usize),
}

/// The budget for upstream bodies held in memory at once, in KiB permits.
static BUDGET: OnceLock<(Arc<Semaphore>, usize)> = OnceLock::new();

/// Sets the budget for upstream bodies held in memory at once (default 256 MiB), process-wide:
/// every body being read, and every body read until its last user drops it (it is handed on
/// with its share of the budget attached), counts against it. Call once, before any fetch.
pub fn set_body_budget(bytes: usize) {
    let _ = BUDGET.set((Arc::new(Semaphore::new((bytes >> 10).max(1))), bytes));
}

fn budget() -> &'static (Arc<Semaphore>, usize) {
    BUDGET.get_or_init(|| (Arc::new(Semaphore::new(256 << 10)), 256 << 20))
}

/// Bytes still held against the budget (for tests and `/metrics`).
pub fn body_bytes_held() -> usize {
    let (sem, bytes) = budget();
    bytes.saturating_sub(sem.available_permits() << 10)
}

/// A body and its share of the budget: the share is released when the last `Bytes` goes.
struct Budgeted {
    data: Vec<u8>,
    _permit: Option<OwnedSemaphorePermit>,
}

impl AsRef<[u8]> for Budgeted {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

/// Takes `kib` more permits into `held` without waiting; `false` when the budget is spent.
fn take(held: &mut Option<OwnedSemaphorePermit>, kib: usize) -> bool {
    if kib == 0 {
        return true;
    }
    let Ok(kib32) = u32::try_from(kib) else {
        return false;
    };
    match Arc::clone(&budget().0).try_acquire_many_owned(kib32) {
        Ok(p) => {
            match held {
                Some(h) => h.merge(p),
                None => *held = Some(p),
            }
            true
        }
        Err(_) => false,
    }
}

/// The shared client for network sources: rustls, gzip, connect timeout.
pub fn client(net: &NetOptions) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("rasterzen/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(net.timeout.min(Duration::from_secs(5)))
        .timeout(net.timeout)
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
}

/// GETs `url` (optionally a byte `range`), retrying 5xx answers and connection failures up to
/// `net.retries` times with back-off (100 ms, 200 ms, 400 ms, … plus jitter). A timeout is not
/// retried: a hung upstream would otherwise hold the caller for several timeouts.
pub async fn get_with_retries(
    client: &reqwest::Client,
    url: &str,
    range: Option<&str>,
    net: &NetOptions,
    max_bytes: usize,
) -> Result<Fetched, NetError> {
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let started = Instant::now();
        let mut req = client.get(url).timeout(net.timeout);
        if let Some(r) = range {
            req = req.header(reqwest::header::RANGE, r);
        }
        let retryable = match req.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                match status {
                    204 | 404 | 410 => return Ok(Fetched::Missing(status)),
                    200..=299 => {
                        return read_body(resp, max_bytes, net.timeout, started)
                            .await
                            .map(|body| Fetched::Body { status, body })
                    }
                    500..=599 => NetError::Status {
                        status,
                        attempts: attempt,
                    },
                    _ => {
                        return Err(NetError::Status {
                            status,
                            attempts: attempt,
                        })
                    }
                }
            }
            Err(e) if e.is_timeout() => return Err(NetError::Timeout(net.timeout.as_millis())),
            Err(e) => NetError::Transport(describe(e)),
        };
        if attempt > net.retries {
            return Err(retryable);
        }
        let jitter = u64::from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .subsec_nanos()
                % 50,
        );
        tokio::time::sleep(Duration::from_millis(
            100 * (1u64 << (attempt - 1).min(6)) + jitter,
        ))
        .await;
    }
}

async fn read_body(
    mut resp: reqwest::Response,
    max_bytes: usize,
    timeout: Duration,
    started: Instant,
) -> Result<Bytes, NetError> {
    if resp.content_length().is_some_and(|n| n > max_bytes as u64) {
        return Err(NetError::TooLarge(max_bytes));
    }
    // Counted by the buffer's capacity (what is really held), in KiB, against the budget.
    let mut permit: Option<OwnedSemaphorePermit> = None;
    let mut held_kib = 0usize;
    let mut buf = Vec::new();
    if let Some(n) = resp.content_length() {
        buf.reserve_exact(n as usize);
    }
    loop {
        let need = buf.capacity().div_ceil(1024);
        if need > held_kib {
            if !take(&mut permit, need - held_kib) {
                return Err(NetError::Busy(budget().1 >> 20));
            }
            held_kib = need;
        }
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if buf.len() + chunk.len() > max_bytes {
                    return Err(NetError::TooLarge(max_bytes));
                }
                if buf.capacity() - buf.len() < chunk.len() {
                    // Grow ahead of the write and count it first (never more than the cap).
                    let want = (buf.len() + chunk.len())
                        .max(buf.capacity() * 2)
                        .min(max_bytes);
                    let kib = want.div_ceil(1024);
                    if kib > held_kib {
                        if !take(&mut permit, kib - held_kib) {
                            return Err(NetError::Busy(budget().1 >> 20));
                        }
                        held_kib = kib;
                    }
                    buf.reserve_exact(want - buf.len());
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(None) => {
                buf.shrink_to_fit();
                // Release what shrinking gave back.
                let keep = buf.capacity().div_ceil(1024);
                if let Some(p) = permit.as_mut() {
                    if held_kib > keep {
                        if let Some(extra) = p.split(held_kib - keep) {
                            drop(extra);
                        }
                    }
                }
                return Ok(Bytes::from_owner(Budgeted {
                    data: buf,
                    _permit: permit,
                }));
            }
            Err(e) if e.is_timeout() || started.elapsed() >= timeout => {
                return Err(NetError::Timeout(timeout.as_millis()))
            }
            Err(e) => return Err(NetError::Transport(describe(e))),
        }
    }
}

/// An error's text without its URL (the URL may carry an API key).
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
