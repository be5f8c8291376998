//! Hardening (issue 14): each test reproduces a defect found by attacking the landed binary on
//! 127.0.0.1 and fails without its fix.
//!
//! 1. `?renderer=` path traversal into the registry.
//! 2. Connections that never finish (silent sockets, idle keep-alive, header drips, floods).
//! 3. Overload that still costs upstream requests (and `/mvt` bypassing the queue).
//! 9. `?api_key=` splitting single flight for sources that never use the key.
//! 11. Log injection through percent-encoded control characters.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "support/harness.rs"]
mod harness;
use harness::{repo, Scratch, Server, BIN};

/// A raw HTTP/1.1 GET on a fresh connection; returns (status, body).
fn raw_get(base: &str, path: &str) -> (u16, String) {
    let addr = base.trim_start_matches("http://");
    // Past the connection cap the server may accept and drop at once: that is "no answer"
    // (status 0), not a test failure.
    let Ok(mut s) = TcpStream::connect(addr) else {
        return (0, String::new());
    };
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    if write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .is_err()
    {
        return (0, String::new());
    }
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

/// Whether the server closed `s` within `within` (EOF or reset), without sending a response.
fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 512];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue, // e.g. a 408 before the close
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return false,
            Err(_) => return true,
        }
    }
}

fn publish_registry(dir: &std::path::Path) {
    let out = std::process::Command::new(BIN)
        .args(["renderer", "publish"])
        .arg(repo().join("target/rasterzen-renderer.wasm"))
        .arg("--registry")
        .arg(dir)
        .arg("--activate")
        .env("XDG_CACHE_HOME", dir.join("xdg"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "publish: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn renderer_pins_cannot_leave_the_registry() {
    let scratch = Scratch::new("pins");
    let registry = scratch.0.join("registry");
    std::fs::create_dir_all(&registry).unwrap();
    publish_registry(&registry);
    // A manifest + component pair outside the registry, as an attacker would hope to find.
    let outside = scratch.0.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let version = std::fs::read_dir(registry.join("versions"))
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.path().extension().is_some_and(|x| x == "json"))
        .map(|e| e.path())
        .unwrap();
    let manifest = std::fs::read_to_string(&version).unwrap();
    std::fs::write(
        outside.join("evil.json"),
        manifest.replace(
            "\"version\"",
            "\"SECRET-FIELD\": \"TOP-SECRET-VALUE\", \"version\"",
        ),
    )
    .unwrap();
    std::fs::copy(version.with_extension("wasm"), outside.join("evil.wasm")).unwrap();
    std::fs::write(
        scratch.0.join("probe.json"),
        "{\"x\": \"TOP-SECRET-VALUE\"}",
    )
    .unwrap();

    let reg = registry.to_str().unwrap().to_string();
    let s = Server::start(&["--renderers", &reg, "--cache", "none"], &[]);
    let abs = outside.join("evil").display().to_string();
    for pin in [
        "../outside/evil",
        "..%2Foutside%2Fevil",
        "%2e%2e/%2e%2e/outside/evil",
        "../probe",
        "..%2fprobe",
        &abs.replace('/', "%2F"),
        "nul%00byte",
        ".hidden",
        &"a".repeat(300),
    ] {
        let (status, body) = raw_get(&s.base, &format!("/png/14/8704/5971.png?renderer={pin}"));
        assert_eq!(status, 400, "pin {pin}: {body}");
        assert!(!body.contains("TOP-SECRET"), "pin {pin} leaked: {body}");
        assert!(
            !body.contains(&reg),
            "pin {pin} leaked the registry path: {body}"
        );
    }
    // A well-formed but unknown version is a 404 that names no path either.
    let (status, body) = raw_get(&s.base, "/png/14/8704/5971.png?renderer=9.9.9");
    assert_eq!(status, 404, "{body}");
    assert!(!body.contains(&reg), "{body}");
    let log = s.log_text();
    assert_eq!(
        log.matches("renderer component loaded").count(),
        1,
        "only the registry's own version was loaded:\n{log}"
    );
    assert!(
        !log.contains("failed to load"),
        "nothing outside was tried:\n{log}"
    );
}

#[test]
fn silent_idle_and_dripping_connections_are_closed() {
    let s = Server::start(
        &[
            "--header-timeout-ms",
            "800",
            "--idle-timeout-ms",
            "1000",
            "--max-connections",
            "40",
        ],
        &[],
    );
    let addr = s.base.trim_start_matches("http://").to_string();

    // A socket that never says anything.
    let mut silent = TcpStream::connect(&addr).unwrap();
    assert!(
        closed_within(&mut silent, Duration::from_secs(5)),
        "silent socket kept open"
    );

    // An idle keep-alive connection after one request.
    let mut keep = TcpStream::connect(&addr).unwrap();
    keep.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    keep.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 256];
    let n = keep.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    let started = Instant::now();
    assert!(
        closed_within(&mut keep, Duration::from_secs(5)),
        "idle keep-alive kept open"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "not before the idle timeout"
    );

    // A header dripped one byte every 100 ms never completes: cut at the header timeout.
    let mut drip = TcpStream::connect(&addr).unwrap();
    let started = Instant::now();
    let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut cut = false;
    for b in request.iter() {
        if drip.write_all(&[*b]).is_err() {
            cut = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        if started.elapsed() > Duration::from_secs(3) {
            break;
        }
    }
    let cut = cut || closed_within(&mut drip, Duration::from_secs(2));
    assert!(cut, "a dripping header was allowed to go on");
    assert!(started.elapsed() < Duration::from_secs(5));

    // A flood of idle connections past the cap: the service still answers.
    let mut flood = Vec::new();
    for _ in 0..80 {
        if let Ok(c) = TcpStream::connect(&addr) {
            flood.push(c);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(8);
    let mut answered = false;
    while Instant::now() < deadline {
        let (status, _) = raw_get(&s.base, "/healthz");
        if status == 200 {
            answered = true;
            break;
        }
        assert!(status == 503 || status == 0, "unexpected status {status}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        answered,
        "/healthz stopped answering under an idle-connection flood"
    );
    drop(flood);
    assert!(
        s.log_text().contains("connection cap reached"),
        "the cap is logged:\n{}",
        s.log_text()
    );
}

/// A slow URL-template upstream that counts its requests.
struct SlowUpstream {
    base: String,
    hits: Arc<AtomicUsize>,
    _rt: tokio::runtime::Runtime,
}

fn slow_upstream(delay: Duration) -> SlowUpstream {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let tile = Arc::new(
        std::fs::read(repo().join("tests/fixtures/tiles/nextzen-10-301-384.mvt")).unwrap(),
    );
    let hits = Arc::new(AtomicUsize::new(0));
    let h = Arc::clone(&hits);
    let app = axum::Router::new().route(
        "/t/{z}/{x}/{y}",
        axum::routing::get(move || {
            let (tile, h) = (Arc::clone(&tile), Arc::clone(&h));
            async move {
                h.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                tile.as_ref().clone()
            }
        }),
    );
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    rt.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    SlowUpstream {
        base,
        hits,
        _rt: rt,
    }
}

/// Fires `n` concurrent raw GETs; returns the statuses.
fn burst(base: &str, paths: Vec<String>) -> Vec<u16> {
    let handles: Vec<_> = paths
        .into_iter()
        .map(|p| {
            let base = base.to_string();
            std::thread::spawn(move || raw_get(&base, &p).0)
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn overload_is_refused_before_the_upstream_is_asked() {
    let up = slow_upstream(Duration::from_millis(400));
    let template = format!("{}/t/{{z}}/{{x}}/{{y}}.mvt", up.base);
    let s = Server::start(
        &[
            "--source",
            &template,
            "--cache",
            "none",
            "--render-workers",
            "1",
            "--render-queue",
            "1",
        ],
        &[],
    );
    for kind in ["png", "mvt"] {
        let before = up.hits.load(Ordering::SeqCst);
        let paths = (0..30)
            .map(|i| format!("/{kind}/10/{}/{}.{kind}", 300 + i % 6, 380 + i / 6))
            .collect();
        let statuses = burst(&s.base, paths);
        let ok = statuses.iter().filter(|s| **s == 200).count();
        let refused = statuses.iter().filter(|s| **s == 503).count();
        assert_eq!(ok + refused, 30, "{kind}: only 200 or 503: {statuses:?}");
        assert!(refused >= 20, "{kind}: the burst overloads: {statuses:?}");
        let asked = up.hits.load(Ordering::SeqCst) - before;
        assert_eq!(
            asked, ok,
            "{kind}: the upstream is asked once per admitted request, never for a 503"
        );
    }
}

#[test]
fn api_keys_do_not_split_single_flight_when_unused() {
    let s = Server::start(&["--cache", "memory"], &[]);
    let paths = (0..20)
        .map(|i| format!("/png/15/17409/11944.png?api_key=key-{i}"))
        .collect();
    let statuses = burst(&s.base, paths);
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let (_, metrics) = raw_get(&s.base, "/metrics");
    let renders: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("rasterzen_renders_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    assert_eq!(
        renders, 1,
        "the embedded archive ignores api_key: one render\n{metrics}"
    );
}

#[test]
fn control_characters_cannot_forge_log_lines() {
    let s = Server::start(&[], &[]);
    let (status, body) = raw_get(&s.base, "/png/14/%0aINFO%20forged%20line%1b%5b31m%00/1.png");
    assert_eq!(status, 400, "{body}");
    assert!(!body.contains('\u{1b}') && !body.contains('\0'), "{body:?}");
    std::thread::sleep(Duration::from_millis(200));
    let log = s.log_text();
    assert!(
        !log.contains('\u{1b}') && !log.contains('\0'),
        "raw bytes in the log"
    );
    assert!(
        !log.lines().any(|l| l.starts_with("INFO forged")),
        "a forged line:\n{log}"
    );
}
