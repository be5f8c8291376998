//! Service figures for the README: cache-hit latency (memory, fs) and rendered tiles/s, cold
//! and warm, for the embedded Florence archive, measured over HTTP against the real binary.
//!
//!     cargo bench -p rasterzen --bench serve
//!
//! The client runs in this process, on the same (2-core) machine: the figures include its cost.
//! `RASTERZEN_BENCH_HITS` (default 2000) sets the number of sequential cache-hit requests.
//! `RASTERZEN_BENCH_BASELINE=/path/to/another/rasterzen` also measures the cold renders of that
//! binary (an older build) in the same run, alternating with this one's, and prints the ratio.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rasterzen");

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(args: &[&str], xdg: &std::path::Path) -> Server {
    start_bin(BIN, args, xdg)
}

fn start_bin(bin: &str, args: &[&str], xdg: &std::path::Path) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(bin)
        .arg("serve")
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .args(args)
        .env("XDG_CACHE_HOME", xdg)
        .env("RASTERZEN_LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start rasterzen serve");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

/// Tiles of central Florence at zoom `z`: a `side`×`side` block around the centre.
fn block(z: u8, side: u32) -> Vec<String> {
    let (lon, lat) = (11.2550f64, 43.7700f64);
    let n = 2f64.powi(i32::from(z));
    let cx = ((lon + 180.0) / 360.0 * n) as u32;
    let cy = ((1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0 * n) as u32;
    let mut out = Vec::new();
    for dy in 0..side {
        for dx in 0..side {
            out.push(format!(
                "/png/{z}/{}/{}.png",
                cx + dx - side / 2,
                cy + dy - side / 2
            ));
        }
    }
    out
}

async fn fetch(c: &reqwest::Client, url: &str) -> (u16, String) {
    let r = c.get(url).send().await.expect("request");
    let status = r.status().as_u16();
    let cache = r
        .headers()
        .get("x-rasterzen-cache")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let _ = r.bytes().await.expect("body");
    (status, cache)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

async fn hit_latency(label: &str, cache: &str, n: usize, xdg: &std::path::Path) {
    let s = start(&["--cache", cache], xdg);
    let c = reqwest::Client::new();
    let url = format!("{}{}", s.base, block(14, 1)[0]);
    let (status, _) = fetch(&c, &url).await;
    assert_eq!(status, 200);
    for _ in 0..50 {
        fetch(&c, &url).await;
    }
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let (_, cache) = fetch(&c, &url).await;
        times.push(t.elapsed());
        assert_eq!(cache, "hit");
    }
    times.sort();
    let mean = times.iter().map(Duration::as_secs_f64).sum::<f64>() / n as f64 * 1000.0;
    println!(
        "| cache hit, {label:<6} | {n} sequential requests | p50 {:.3} ms, p99 {:.3} ms, mean {mean:.3} ms |",
        percentile(&times, 0.5),
        percentile(&times, 0.99)
    );
}

async fn throughput(
    label: &str,
    s: &Server,
    urls: &[String],
    concurrency: usize,
    expect: &str,
) -> f64 {
    let c = reqwest::Client::new();
    let started = Instant::now();
    let queue = std::sync::Arc::new(std::sync::Mutex::new(urls.to_vec()));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (c, q, base, expect) = (c.clone(), queue.clone(), s.base.clone(), expect.to_string());
        tasks.push(tokio::spawn(async move {
            loop {
                let Some(path) = q.lock().unwrap().pop() else {
                    break;
                };
                let (status, cache) = fetch(&c, &format!("{base}{path}")).await;
                assert_eq!(status, 200, "{path}");
                assert_eq!(cache, expect, "{path}");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    let rate = urls.len() as f64 / secs;
    println!(
        "| {label:<16} | {} tiles, {concurrency} clients | {rate:.1} tiles/s ({:.1} ms/tile) |",
        urls.len(),
        secs * 1000.0 / urls.len() as f64
    );
    rate
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks for a list; there is nothing to list.
    }
    let n: usize = std::env::var("RASTERZEN_BENCH_HITS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let scratch = std::env::temp_dir().join(format!("rasterzen-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).unwrap();
    println!("| what | how | result |\n|---|---|---|");
    hit_latency("memory", "memory", n, &scratch).await;
    hit_latency(
        "fs",
        &format!("fs:{}", scratch.join("fs").display()),
        n,
        &scratch,
    )
    .await;

    // Rendered tiles/s: cold (every tile rendered: 64 z15 + 64 z16 tiles, 512 px PNG) and warm
    // (the same tiles again, from the memory tier).
    let s = start(&["--cache", "memory"], &scratch);
    let mut urls = block(15, 8);
    urls.extend(block(16, 8));
    throughput(
        "cold (render, labels with neighbours)",
        &s,
        &urls,
        4,
        "miss",
    )
    .await;
    // The same tiles with labels decided per tile alone (cut at seams): what neighbours cost.
    let alone = start(
        &["--cache", "memory", "--label-neighbours", "off"],
        &scratch,
    );
    throughput(
        "cold (render, --label-neighbours off)",
        &alone,
        &urls,
        4,
        "miss",
    )
    .await;
    drop(alone);
    if let Ok(baseline) = std::env::var("RASTERZEN_BENCH_BASELINE") {
        // Alternating, twice each, so that a change of machine load hits both alike.
        let mut rates = [Vec::new(), Vec::new()];
        for round in 0..4 {
            let (which, bin) = if round % 2 == 0 {
                (0, baseline.as_str())
            } else {
                (1, BIN)
            };
            let fresh = start_bin(bin, &["--cache", "memory"], &scratch);
            let label = if which == 0 { "baseline" } else { "this build" };
            rates[which]
                .push(throughput(&format!("cold, {label}"), &fresh, &urls, 4, "miss").await);
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        println!(
            "| cold, this build / baseline | {baseline} | {:.2}× tiles/s |",
            mean(&rates[1]) / mean(&rates[0])
        );
    }
    let again: Vec<String> = urls.iter().cycle().take(urls.len() * 20).cloned().collect();
    throughput("warm (memory)", &s, &again, 4, "hit").await;
    let s2 = start(
        &["--cache", &format!("fs:{}", scratch.join("fs2").display())],
        &scratch,
    );
    throughput("cold, fs tier", &s2, &urls, 4, "miss").await;
    drop(s2);
    let s3 = start(
        &["--cache", &format!("fs:{}", scratch.join("fs2").display())],
        &scratch,
    );
    throughput("warm (fs)", &s3, &again, 4, "hit").await;
    let _ = std::fs::remove_dir_all(&scratch);
}
