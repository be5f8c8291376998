//! Faults around the service, each on real sockets or real storage on this machine: an upstream
//! that hangs, resets, drips its body, answers 5xx without end or never stops sending; S3 that
//! throttles and then comes back; a full disk under the fs cache; a renderer registry that
//! goes away. The service answers every request with a proper status, leaks no thread, file
//! descriptor or memory, and leaves nothing corrupt behind.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "support/harness.rs"]
mod harness;
#[path = "support/raw.rs"]
mod raw;
use harness::{repo, s3_env, Moto, Scratch, Server, BIN};

/// A GET from a thread of the test: (status, body, `X-Rasterzen-Cache`, time taken).
fn get(base: &str, path: &str) -> (u16, Vec<u8>, String, Duration) {
    let started = Instant::now();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = format!("{base}{path}");
    let (status, cache, body) = rt.block_on(async {
        let c = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let r = c
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let status = r.status().as_u16();
        let cache = r
            .headers()
            .get("x-rasterzen-cache")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        (
            status,
            cache,
            r.bytes().await.map(|b| b.to_vec()).unwrap_or_default(),
        )
    });
    (status, body, cache, started.elapsed())
}

/// Resources of a process: threads, descriptors, resident MB.
fn resources(pid: u32) -> (u64, usize, u64) {
    (
        raw::proc_status(pid, "Threads"),
        raw::fd_count(pid),
        raw::proc_status(pid, "VmRSS") >> 10,
    )
}

/// Waits for `stop` or up to `max`.
fn hold(stop: &AtomicBool, max: Duration) {
    let until = Instant::now() + max;
    while !stop.load(Ordering::SeqCst) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn upstream_faults_end_in_502_with_nothing_leaked() {
    let tile = Arc::new(
        std::fs::read(repo().join("tests/fixtures/tiles/nextzen-10-301-384.mvt")).unwrap(),
    );
    let hits: Arc<Mutex<std::collections::HashMap<String, usize>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let (t, h, st) = (Arc::clone(&tile), Arc::clone(&hits), Arc::clone(&stop));
    // By tile column: 0 a tile, 1 hangs, 2 cut mid-body, 3 drips its body (slow loris),
    // 4 answers 503 for ever, 5 closes without answering, 6 sends without end.
    let up = raw::RawServer::start(move |req, conn| {
        let x = req.path.split('/').nth(3).unwrap_or("").to_string();
        *h.lock().unwrap().entry(x.clone()).or_default() += 1;
        match x.as_str() {
            "0" => raw::respond(conn, "200 OK", &[], &t),
            "1" => hold(&st, Duration::from_secs(60)),
            "2" => {
                let _ = conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n");
                let _ = conn.write_all(&t[..1000]);
                raw::cut(conn);
            }
            "3" => {
                let _ = conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n");
                for b in t.iter().take(600) {
                    if st.load(Ordering::SeqCst) || conn.write_all(&[*b]).is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            "4" => raw::respond(conn, "503 Service Unavailable", &[], b"busy"),
            "5" => raw::cut(conn),
            _ => {
                let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n");
                let chunk = vec![7u8; 64 << 10];
                while !st.load(Ordering::SeqCst) && conn.write_all(&chunk).is_ok() {}
            }
        }
    });
    let template = format!("{}/t/{{z}}/{{x}}/{{y}}.mvt", up.base);
    let s = Server::start(
        &[
            "--source",
            &template,
            "--cache",
            "none",
            "--upstream-timeout-ms",
            "1500",
            "--upstream-retries",
            "2",
            "--render-queue",
            "100",
        ],
        &[],
    );
    let pid = s.child.id();
    let (ok, _, _, _) = get(&s.base, "/png/10/0/0.png");
    assert_eq!(ok, 200);
    let before = resources(pid);
    // Every fault, 8 at once each, twice over.
    for round in 0..2 {
        let handles: Vec<_> = (1..=6u32)
            .flat_map(|x| (0..8u32).map(move |i| (x, i)))
            .map(|(x, i)| {
                let base = s.base.clone();
                std::thread::spawn(move || {
                    let (status, body, _, took) =
                        get(&base, &format!("/png/10/{x}/{}.png", round * 8 + i));
                    (x, status, String::from_utf8_lossy(&body).into_owned(), took)
                })
            })
            .collect();
        for h in handles {
            let (x, status, body, took) = h.join().unwrap();
            if x == 6 && status == 503 {
                // Eight endless bodies at once can spend the 256 MiB body budget: refused.
                continue;
            }
            assert_eq!(status, 502, "x={x}: {body}");
            assert!(took < Duration::from_secs(8), "x={x} took {took:?}");
            let why = match x {
                1 | 3 => "timed out",
                4 => "503",
                6 => "larger than",
                _ => "",
            };
            assert!(body.contains(why), "x={x}: {body}");
        }
    }
    // 5xx: one attempt and two retries each (with back-off), never more.
    assert_eq!(
        hits.lock().unwrap()["4"],
        2 * 8 * 3,
        "{:?}",
        hits.lock().unwrap()
    );
    std::thread::sleep(Duration::from_secs(2));
    let after = resources(pid);
    assert!(after.0 <= before.0 + 2, "threads: {before:?} → {after:?}");
    assert!(
        after.1 <= before.1 + 4,
        "descriptors: {before:?} → {after:?}"
    );
    assert!(
        after.2 <= before.2 + 80,
        "memory (MB): {before:?} → {after:?}"
    );
    assert_eq!(get(&s.base, "/png/10/0/1.png").0, 200, "still serving");
    stop.store(true, Ordering::SeqCst);
}

/// A fake S3 (path-style) that throttles (503 SlowDown) until told otherwise, then stores and
/// serves objects. Counts PUTs; keeps the objects.
struct FakeS3 {
    server: raw::RawServer,
    healthy: Arc<AtomicBool>,
    objects: Arc<Mutex<std::collections::HashMap<String, Vec<u8>>>>,
    puts: Arc<AtomicUsize>,
}

fn fake_s3() -> FakeS3 {
    let healthy = Arc::new(AtomicBool::new(false));
    let objects: Arc<Mutex<std::collections::HashMap<String, Vec<u8>>>> = Arc::default();
    let puts = Arc::new(AtomicUsize::new(0));
    let (h, o, p) = (
        Arc::clone(&healthy),
        Arc::clone(&objects),
        Arc::clone(&puts),
    );
    let server = raw::RawServer::start(move |req, conn| {
        let key = req.path.split('?').next().unwrap_or("").replace("%40", "@");
        if !h.load(Ordering::SeqCst) {
            raw::respond(
                conn,
                "503 Slow Down",
                &[("content-type", "application/xml")],
                b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>",
            );
            return;
        }
        match req.method.as_str() {
            "PUT" => {
                assert!(
                    !req.head.to_ascii_lowercase().contains("transfer-encoding: chunked"),
                    "the fake S3 reads content-length bodies only"
                );
                o.lock().unwrap().insert(key, req.body.clone());
                p.fetch_add(1, Ordering::SeqCst);
                raw::respond(conn, "200 OK", &[("etag", "\"fake\"")], b"");
            }
            _ => match o.lock().unwrap().get(&key) {
                Some(body) => raw::respond(
                    conn,
                    "200 OK",
                    &[("content-type", "image/png"), ("etag", "\"fake\"")],
                    body,
                ),
                None => raw::respond(
                    conn,
                    "404 Not Found",
                    &[("content-type", "application/xml")],
                    b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey</Code><Message>no</Message></Error>",
                ),
            },
        }
    });
    FakeS3 {
        server,
        healthy,
        objects,
        puts,
    }
}

/// S3 throttling (503 SlowDown on everything): tiles are rendered and served anyway, fast, with
/// a warning. When S3 answers again the tier comes back on its own (a probe), new tiles are
/// stored whole (each object is byte for byte the tile served), and are hits for the next
/// process.
#[test]
fn s3_throttling_serves_tiles_and_leaves_nothing_corrupt() {
    let s3 = fake_s3();
    let env = s3_env(&s3.server.base);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let s = Server::start(&["--cache", "s3://tiles/c"], &env);
    let tile = |i: u32| format!("/png/15/{}/11944.png", 17400 + i);
    for i in 0..5 {
        let (status, _, _, took) = get(&s.base, &tile(i));
        assert_eq!(status, 200);
        assert!(took < Duration::from_secs(5), "{took:?}");
    }
    assert!(s.log_text().contains("WARN"), "{}", s.log_text());
    assert_eq!(s3.puts.load(Ordering::SeqCst), 0);
    // S3 recovers; the next request after the break starts the probe, which closes the breaker.
    s3.healthy.store(true, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(5500));
    assert_eq!(get(&s.base, &tile(5)).0, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !s.log_text().contains("S3 tier is back") {
        assert!(
            Instant::now() < deadline,
            "S3 never came back:\n{}",
            s.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut served = Vec::new();
    for i in 6..9 {
        let (status, body, _, _) = get(&s.base, &tile(i));
        assert_eq!(status, 200);
        served.push((i, body));
    }
    assert!(
        s3.puts.load(Ordering::SeqCst) >= 3,
        "{} puts",
        s3.puts.load(Ordering::SeqCst)
    );
    let objects = s3.objects.lock().unwrap().clone();
    for (i, body) in &served {
        let suffix = format!("/png-512@1x/15/{}/11944.png", 17400 + i);
        let (_, stored) = objects
            .iter()
            .find(|(k, _)| k.ends_with(&suffix))
            .unwrap_or_else(|| panic!("no object for tile {i}: {:?}", objects.keys()));
        assert!(
            stored == body,
            "tile {i}: the stored object differs from the tile served"
        );
    }
    drop(s);
    let again = Server::start(&["--cache", "s3://tiles/c"], &env);
    let (status, body, cache, _) = get(&again.base, &tile(7));
    assert_eq!((status, cache.as_str()), (200, "hit"));
    assert!(body == served[1].1);
}

/// A mounted tmpfs of 1 MiB, unmounted at drop.
struct SmallDisk(Scratch);

impl SmallDisk {
    fn new() -> SmallDisk {
        let dir = Scratch::new("small-disk");
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(&dir.0)
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mounting a 1 MiB tmpfs for the disk-full test failed (it needs root, as CI has)"
        );
        SmallDisk(dir)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(&self.0 .0)
            .status();
    }
}

/// A full disk under the fs cache: every tile is still served, the failed writes are warned
/// about, their temporary files are removed, room is made (the oldest tiles go) so caching
/// goes on, and every file left is a whole PNG.
#[test]
fn a_full_disk_under_the_fs_cache_still_serves() {
    let disk = SmallDisk::new();
    let spec = format!("fs:{}", disk.0 .0.display());
    let s = Server::start(&["--cache", &spec], &[]);
    for i in 0..36u32 {
        let (status, body, _, _) = get(
            &s.base,
            &format!("/png/15/{}/{}.png", 17405 + i % 6, 11940 + i / 6),
        );
        assert_eq!(status, 200);
        assert!(body.starts_with(b"\x89PNG"));
    }
    std::thread::sleep(Duration::from_millis(500));
    let log = s.log_text();
    assert!(
        log.contains("cache write failed"),
        "the disk filled up:\n{log}"
    );
    assert!(
        log.contains("oldest tiles evicted"),
        "room was made:\n{log}"
    );
    let mut files = Vec::new();
    let mut stack = vec![disk.0 .0.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                files.push(e.path());
            }
        }
    }
    assert!(!files.is_empty(), "caching went on after the disk was full");
    for f in &files {
        assert!(
            !f.to_string_lossy().ends_with(".tmp"),
            "temporary file left: {}",
            f.display()
        );
        let b = std::fs::read(f).unwrap();
        assert!(
            b.starts_with(b"\x89PNG") && b.ends_with(&[0xae, 0x42, 0x60, 0x82]),
            "{} is not a whole PNG",
            f.display()
        );
    }
}

/// The renderer registry goes away (S3 down): the host keeps serving with the last good
/// version, and says so in its log.
#[test]
fn an_unreachable_registry_keeps_the_last_good_renderer() {
    let mut moto = Moto::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s3 = harness::s3_client(&moto.endpoint);
    rt.block_on(s3.create_bucket().bucket("reg").send())
        .unwrap();
    let env = s3_env(&moto.endpoint);
    let out = std::process::Command::new(BIN)
        .args(["renderer", "publish"])
        .arg(repo().join("target/rasterzen-renderer.wasm"))
        .args(["--registry", "s3://reg/r", "--activate"])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let s = Server::start(
        &[
            "--renderers",
            "s3://reg/r",
            "--renderer-poll-ms",
            "300",
            "--cache",
            "none",
        ],
        &env_refs,
    );
    assert_eq!(get(&s.base, "/png/15/17408/11944.png").0, 200);
    moto.stop();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(6) {
        let (status, _, _, took) = get(&s.base, "/png/15/17409/11944.png");
        assert_eq!(status, 200, "serving goes on without the registry");
        assert!(took < Duration::from_secs(3), "{took:?}");
        std::thread::sleep(Duration::from_millis(300));
    }
    let log = s.log_text();
    assert!(log.contains("cannot read the renderer registry"), "{log}");
}
