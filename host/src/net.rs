//! Outbound HTTP for sources: one client, per-attempt timeouts, retries with exponential
//! back-off on 5xx and connection failures, a cap on the body, and error texts that never carry
//! the URL (which may hold an API key).

use std::time::{Duration, Instant};

use bytes::Bytes;

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
    let mut buf = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if buf.len() + chunk.len() > max_bytes {
                    return Err(NetError::TooLarge(max_bytes));
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(Bytes::from(buf)),
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
