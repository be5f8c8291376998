//! The accept loop of `serve`: HTTP/1.1 connections with limits, so that silent sockets, idle
//! keep-alives, header drips and slow readers cannot hold the server's file descriptors.
//!
//! * **Connection cap** (`--max-connections`, bounded by the process's file-descriptor limit):
//!   a connection over the cap gets an immediate `503` and is closed.
//! * **Header timeout** (`--header-timeout-ms`): the whole request head must arrive within it
//!   (hyper's `header_read_timeout`; it starts when the connection opens).
//! * **Idle timeout** (`--idle-timeout-ms`): a connection with no request in flight and no
//!   bytes moving for this long is closed. Under pressure (more than three quarters of the cap
//!   open) idle connections get one second.
//! * **Write timeout** (`--write-timeout-ms`): a client that stops reading the response for
//!   this long is dropped.
//!
//! A request that is being served is never cut by these timeouts: a render may legitimately
//! take the renderer's whole deadline.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt as _;

/// Limits of the accept loop (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub write_timeout: Duration,
}

/// The connection cap that fits this process: `wanted`, but never more than the file
/// descriptors left after a reserve for caches, sources and the runtime. Raises the soft
/// descriptor limit to the hard one first (as most servers do at start).
pub fn fitting_connection_cap(wanted: usize) -> usize {
    const RESERVE: u64 = 256;
    let soft = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    let fit = soft.saturating_sub(RESERVE).max(16);
    wanted
        .min(usize::try_from(fit).unwrap_or(usize::MAX))
        .max(1)
}

/// What the watchdog of one connection knows about it.
struct ConnState {
    /// Milliseconds since `epoch` of the last byte read or written.
    last_io_ms: AtomicU64,
    /// Milliseconds since `epoch` at which a write started to wait, or 0.
    write_blocked_ms: AtomicU64,
    /// Requests of this connection being served.
    in_flight: AtomicUsize,
    epoch: Instant,
}

impl ConnState {
    fn now_ms(&self) -> u64 {
        // +1 so that 0 can mean "not blocked".
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX) + 1
    }
}

/// A TCP stream that tells its [`ConnState`] when bytes move and when writes stall.
struct WatchedStream {
    inner: TcpStream,
    state: Arc<ConnState>,
}

impl AsyncRead for WatchedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            let now = self.state.now_ms();
            self.state.last_io_ms.store(now, Ordering::Relaxed);
        }
        r
    }
}

impl WatchedStream {
    fn note_write<T>(&self, r: &Poll<std::io::Result<T>>) {
        match r {
            Poll::Pending => {
                let now = self.state.now_ms();
                let _ = self.state.write_blocked_ms.compare_exchange(
                    0,
                    now,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
            Poll::Ready(_) => {
                self.state.write_blocked_ms.store(0, Ordering::Relaxed);
                let now = self.state.now_ms();
                self.state.last_io_ms.store(now, Ordering::Relaxed);
            }
        }
    }
}

impl AsyncWrite for WatchedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.note_write(&r);
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.note_write(&r);
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_flush(cx);
        self.note_write(&r);
        r
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Counts a request as in flight while its response is being made.
struct InFlight(Arc<ConnState>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        let now = self.0.now_ms();
        self.0.last_io_ms.store(now, Ordering::Relaxed);
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets requests in flight finish
/// (for at most 10 s).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let open = Arc::new(AtomicUsize::new(0));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut refused_logged = Instant::now() - Duration::from_secs(60);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        if open.load(Ordering::SeqCst) >= limits.max_connections {
            if refused_logged.elapsed() > Duration::from_secs(10) {
                refused_logged = Instant::now();
                tracing::warn!(
                    max_connections = limits.max_connections,
                    "connection cap reached: refusing new connections with 503 (raise --max-connections or the file-descriptor limit)"
                );
            }
            tokio::spawn(refuse(stream));
            continue;
        }
        let _ = stream.set_nodelay(true);
        open.fetch_add(1, Ordering::SeqCst);
        let open = Arc::clone(&open);
        let app = app.clone();
        let stop_rx = stop_rx.clone();
        tokio::spawn(async move {
            serve_connection(stream, app, limits, &open, stop_rx).await;
            open.fetch_sub(1, Ordering::SeqCst);
            tracing::trace!(%peer, "connection closed");
        });
    }
    // Stop accepting; ask every connection to finish its request and close.
    drop(listener);
    let _ = stop_tx.send(true);
    let deadline = Instant::now() + Duration::from_secs(10);
    while open.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// Answers a connection over the cap with a short 503 and closes it.
async fn refuse(mut stream: TcpStream) {
    const BODY: &str = "overloaded: too many connections, try again shortly\n";
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

async fn serve_connection(
    stream: TcpStream,
    app: Router,
    limits: ConnLimits,
    open: &AtomicUsize,
    mut stop_rx: tokio::sync::watch::Receiver<bool>,
) {
    let state = Arc::new(ConnState {
        last_io_ms: AtomicU64::new(1),
        write_blocked_ms: AtomicU64::new(0),
        in_flight: AtomicUsize::new(0),
        epoch: Instant::now(),
    });
    let io = TokioIo::new(WatchedStream {
        inner: stream,
        state: Arc::clone(&state),
    });
    let svc_state = Arc::clone(&state);
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        svc_state.in_flight.fetch_add(1, Ordering::SeqCst);
        let guard = InFlight(Arc::clone(&svc_state));
        let app = app.clone();
        async move {
            let res = app.oneshot(req.map(axum::body::Body::new)).await;
            drop(guard);
            res
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true)
        .serve_connection(io, service);
    tokio::pin!(conn);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut closing_since: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            changed = stop_rx.changed(), if closing_since.is_none() => {
                if changed.is_err() || *stop_rx.borrow() {
                    conn.as_mut().graceful_shutdown();
                    closing_since = Some(Instant::now());
                }
            }
            _ = tick.tick() => {
                let now = state.now_ms();
                let blocked = state.write_blocked_ms.load(Ordering::Relaxed);
                if blocked != 0 && now.saturating_sub(blocked) > millis(limits.write_timeout) {
                    tracing::debug!("closing a connection whose client stopped reading");
                    return;
                }
                if let Some(since) = closing_since {
                    // Graceful shutdown waits for the request in flight; a stuck one is cut.
                    if since.elapsed() > Duration::from_secs(10) {
                        return;
                    }
                    continue;
                }
                let idle_for = now.saturating_sub(state.last_io_ms.load(Ordering::Relaxed));
                let pressure = open.load(Ordering::Relaxed) * 4 > limits.max_connections * 3;
                let idle_limit = if pressure {
                    1_000.min(millis(limits.idle_timeout))
                } else {
                    millis(limits.idle_timeout)
                };
                if state.in_flight.load(Ordering::SeqCst) == 0 && idle_for > idle_limit {
                    conn.as_mut().graceful_shutdown();
                    closing_since = Some(Instant::now());
                }
            }
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
