//! Load: the real `rasterzen serve` on 127.0.0.1 driven over HTTP by an in-process client at
//! 100 and 200 concurrent connections, with a mix of cached tiles (memory hits) and uncached
//! ones (renders), for a bounded time and count. It reports tiles/s and p50/p99 latency and
//! checks: no answer but 200 or a deliberate 503, memory bounded, the service still healthy.
//!
//! Short by default (`./test.sh`, ~20 s); the figures in docs/HARDENING.md come from
//! `LOAD_SECONDS=30 cargo test --release -p rasterzen --test load -- --nocapture`.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "support/harness.rs"]
mod harness;
#[path = "support/raw.rs"]
mod raw;
use harness::Server;

/// Central Florence at z15: cached tiles come from this block, uncached ones from deeper zooms.
const X15: u32 = 17405;
const Y15: u32 = 11940;

fn cached_path(i: usize) -> String {
    format!(
        "/png/15/{}/{}.png",
        X15 + (i % 6) as u32,
        Y15 + (i / 6 % 6) as u32
    )
}

/// A tile no one asked for before: z17–z19 below the block (overzoomed, each a new render).
fn uncached_path(n: u64) -> String {
    let z = 17 + (n % 3) as u32;
    let span = 6u64 << (z - 15);
    let (x0, y0) = (u64::from(X15) << (z - 15), u64::from(Y15) << (z - 15));
    let k = n / 3;
    format!("/png/{z}/{}/{}.png", x0 + k % span, y0 + (k / span) % span)
}

struct Phase {
    connections: usize,
    uncached_every: u64,
    seconds: u64,
}

struct Report {
    good: u64,
    busy: u64,
    other: Vec<String>,
    latencies_ms: Vec<f64>,
    elapsed: Duration,
}

/// Uncached tiles handed out so far (each is asked for once).
static FRESH: AtomicU64 = AtomicU64::new(0);

async fn run(base: &str, phase: &Phase) -> Report {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(phase.connections)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(phase.seconds);
    let counter = Arc::new(AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let other = Arc::new(Mutex::new(Vec::new()));
    let (good, busy) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let started = Instant::now();
    let mut tasks = Vec::new();
    // Bounded in count as well as time.
    let max_requests = 400_000usize;
    for _ in 0..phase.connections {
        let (client, counter, latencies, other, good, busy) = (
            client.clone(),
            Arc::clone(&counter),
            Arc::clone(&latencies),
            Arc::clone(&other),
            Arc::clone(&good),
            Arc::clone(&busy),
        );
        let base = base.to_string();
        let every = phase.uncached_every;
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while Instant::now() < deadline {
                let i = counter.fetch_add(1, Ordering::Relaxed);
                if i >= max_requests {
                    break;
                }
                let path = if every > 0 && (i as u64).is_multiple_of(every) {
                    uncached_path(FRESH.fetch_add(1, Ordering::Relaxed))
                } else {
                    cached_path(i)
                };
                let t = Instant::now();
                match client.get(format!("{base}{path}")).send().await {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let body = r.bytes().await;
                        let ms = t.elapsed().as_secs_f64() * 1e3;
                        match (status, body) {
                            (200, Ok(b)) if b.starts_with(b"\x89PNG") => {
                                good.fetch_add(1, Ordering::Relaxed);
                                mine.push(ms);
                            }
                            (503, _) => {
                                busy.fetch_add(1, Ordering::Relaxed);
                            }
                            (s, b) => other.lock().unwrap().push(format!(
                                "{path}: {s} {:?}",
                                b.map(|b| String::from_utf8_lossy(&b[..b.len().min(100)])
                                    .into_owned())
                            )),
                        }
                    }
                    Err(e) => other.lock().unwrap().push(format!("{path}: {e}")),
                }
            }
            latencies.lock().unwrap().extend(mine);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut latencies_ms = std::mem::take(&mut *latencies.lock().unwrap());
    latencies_ms.sort_by(f64::total_cmp);
    let other = std::mem::take(&mut *other.lock().unwrap());
    Report {
        good: good.load(Ordering::Relaxed),
        busy: busy.load(Ordering::Relaxed),
        other,
        latencies_ms,
        elapsed: started.elapsed(),
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_mixed_cached_and_uncached_at_100_and_200_connections() {
    let seconds: u64 = std::env::var("LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let s = Server::start(
        &[
            "--cache",
            "memory",
            "--max-connections",
            "2048",
            "--log-level",
            "warn",
        ],
        &[],
    );
    let pid = s.child.id();
    // The cached set, rendered once.
    let c = reqwest::Client::new();
    for i in 0..36 {
        let r = c.get(s.url(&cached_path(i))).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
    let mut lines = Vec::new();
    for (connections, uncached_every) in [(100, 10), (200, 10), (200, 0)] {
        let phase = Phase {
            connections,
            uncached_every,
            seconds,
        };
        let r = run(&s.base, &phase).await;
        let secs = r.elapsed.as_secs_f64();
        let total = r.good + r.busy + r.other.len() as u64;
        let line = format!(
            "{connections} connections, {}: {:.0} good tiles/s, p50 {:.1} ms, p99 {:.1} ms, {:.1} % deliberate 503s, {} other errors, {} requests in {secs:.1} s",
            if uncached_every > 0 { format!("1 in {uncached_every} uncached") } else { "all cached".into() },
            r.good as f64 / secs,
            pct(&r.latencies_ms, 0.5),
            pct(&r.latencies_ms, 0.99),
            100.0 * r.busy as f64 / total.max(1) as f64,
            r.other.len(),
            total,
        );
        println!("{line}");
        lines.push(line.clone());
        assert!(
            r.other.is_empty(),
            "answers other than 200 and 503: {:?}",
            &r.other[..r.other.len().min(10)]
        );
        assert!(r.good > 0, "no tile served: {line}");
        assert!(
            r.good as f64 / secs > 50.0,
            "fewer than 50 good tiles/s: {line}"
        );
    }
    let peak_mb = raw::proc_status(pid, "VmHWM") >> 10;
    println!("server peak memory: {peak_mb} MB");
    assert!(
        peak_mb < 700,
        "the server peaked at {peak_mb} MB:\n{}",
        lines.join("\n")
    );
    // Still healthy afterwards, and the connections it held are gone.
    let h = c.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(h.status().as_u16(), 200);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let fds = raw::fd_count(pid);
    assert!(fds < 400, "{fds} descriptors open after the load");
}
