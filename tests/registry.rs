//! Renderer versions: publish, activate and hot-swap while `rasterzen serve` runs, against a
//! registry directory and an S3 registry (moto); broken and hostile renderers are refused,
//! rolled back or contained, and no request fails meanwhile.
//!
//! Uses the test renderers made by `./build.sh test-renderers`.

#[path = "support/harness.rs"]
mod harness;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::{repo, s3_env, Moto, Scratch, Server, BIN};

const TILE: &str = "/png/14/8704/5971.png";

fn component(name: &str) -> PathBuf {
    let p = match name {
        "default" => repo().join("target/rasterzen-renderer.wasm"),
        other => repo()
            .join("target/test-renderers")
            .join(format!("{other}.wasm")),
    };
    assert!(
        p.is_file(),
        "{} is missing: run ./build.sh all && ./build.sh test-renderers",
        p.display()
    );
    p
}

/// Runs `rasterzen renderer …`; returns (success, stdout + stderr).
fn renderer_cmd(args: &[&str], envs: &[(&str, String)]) -> (bool, String) {
    let mut cmd = Command::new(BIN);
    cmd.arg("renderer").args(args).args([
        "--render-timeout-ms",
        "1000",
        "--memory-limit-mb",
        "256",
    ]);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let o = cmd.output().expect("run rasterzen renderer");
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

/// Publishes the test component `name` into `registry` and activates it; the command must
/// succeed. Returns its output.
fn publish_activated(name: &str, registry: &str, envs: &[(&str, String)]) -> String {
    let (ok, out) = renderer_cmd(
        &[
            "publish",
            component(name).to_str().unwrap(),
            "--registry",
            registry,
            "--activate",
        ],
        envs,
    );
    assert!(ok, "{out}");
    out
}

struct Got {
    status: u16,
    renderer: String,
    body: Vec<u8>,
}

/// A blocking GET over a plain TCP connection (HTTP/1.1, Connection: close).
fn get(url: &str) -> Got {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = std::net::TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("HTTP head");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut body = raw[split + 4..].to_vec();
    let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                l.split_once(':')
                    .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_default()
    };
    if header("transfer-encoding").eq_ignore_ascii_case("chunked") {
        body = dechunk(&body);
    }
    Got {
        status,
        renderer: header("x-rasterzen-renderer"),
        body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&b[..line_end]).unwrap().trim(), 16).unwrap();
        b = &b[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

fn pixels(png_bytes: &[u8]) -> Vec<u8> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    buf
}

/// Waits until the tile comes from `version`; returns it.
fn wait_for_version(server: &Server, version: &str) -> Got {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = get(&server.url(TILE));
        assert_eq!(got.status, 200);
        if got.renderer == version {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "still {} after 20 s, want {version}:\n{}",
            got.renderer,
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Requests the tile in a loop on another thread until stopped; counts failures.
struct Traffic {
    stop: Arc<AtomicBool>,
    failures: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Traffic {
    fn start(url: String) -> Traffic {
        let (stop, failures, requests) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
        );
        let (s, f, r) = (stop.clone(), failures.clone(), requests.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                if get(&url).status != 200 {
                    f.fetch_add(1, Ordering::SeqCst);
                }
                r.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Traffic {
            stop,
            failures,
            requests,
            thread: Some(thread),
        }
    }

    /// Stops and returns (requests, failures).
    fn finish(mut self) -> (usize, usize) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        (
            self.requests.load(Ordering::SeqCst),
            self.failures.load(Ordering::SeqCst),
        )
    }
}

/// Plants a version in a directory registry without `publish`'s checks, as a corrupted upload
/// or a hand-edited bucket would.
fn plant(registry: &Path, version: &str, wasm: &[u8], activate: bool) {
    use sha2::Digest as _;
    let dir = registry.join("versions");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{version}.wasm")), wasm).unwrap();
    let sha: String = sha2::Sha256::digest(wasm)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let manifest = serde_json::json!({
        "version": version, "sha256": sha, "interface_version": "1.0.0",
        "published_at": "2026-01-01T00:00:00Z", "size_bytes": wasm.len()
    });
    std::fs::write(dir.join(format!("{version}.json")), manifest.to_string()).unwrap();
    if activate {
        std::fs::write(registry.join("active"), format!("{version}\n")).unwrap();
    }
}

#[test]
fn hot_swap_rollback_pins_and_hostile_renderers_with_a_directory_registry() {
    let scratch = Scratch::new("registry");
    let reg = scratch.0.join("registry");
    let reg_s = reg.to_str().unwrap().to_string();

    // Publish the default renderer and activate it.
    let out = publish_activated("default", &reg_s, &[]);
    assert!(out.contains("published 0.2.0"), "{out}");

    // Broken uploads are refused before anything is written.
    let garbage = scratch.0.join("garbage.wasm");
    std::fs::write(&garbage, b"\0asm not really").unwrap();
    let (ok, out) = renderer_cmd(
        &["publish", garbage.to_str().unwrap(), "--registry", &reg_s],
        &[],
    );
    assert!(!ok && out.contains("refused"), "{out}");
    let (ok, out) = renderer_cmd(
        &[
            "publish",
            component("loop").to_str().unwrap(),
            "--registry",
            &reg_s,
        ],
        &[],
    );
    assert!(
        !ok && out.contains("deadline"),
        "a looping renderer must fail its smoke test: {out}"
    );
    let (ok, out) = renderer_cmd(&["list", "--registry", &reg_s], &[]);
    assert!(ok, "{out}");
    assert_eq!(
        out.lines().count(),
        1,
        "only the good version is listed: {out}"
    );
    assert!(out.starts_with("* 0.2.0 "), "{out}");

    let server = Server::start(
        &[
            "--renderers",
            &reg_s,
            "--renderer-poll-ms",
            "100",
            "--cache",
            "memory",
            "--render-timeout-ms",
            "2000",
            "--memory-limit-mb",
            "256",
        ],
        &[],
    );
    let before = wait_for_version(&server, "0.2.0");
    let traffic = Traffic::start(server.url(TILE));

    // Publish and activate a visibly different version: responses switch without a restart.
    publish_activated("variant", &reg_s, &[]);
    let after = wait_for_version(&server, "0.2.0-variant");
    let (a, b) = (pixels(&before.body), pixels(&after.body));
    let changed = a
        .iter()
        .zip(&b)
        .filter(|(x, y)| x.abs_diff(**y) > 16)
        .count();
    assert!(
        changed > a.len() / 4,
        "the variant should look different (only {changed} of {} bytes changed)",
        a.len()
    );

    // A pin still reaches the old version; an unknown pin is a 404.
    let pinned = get(&server.url(&format!("{TILE}?renderer=0.2.0")));
    assert_eq!((pinned.status, pinned.renderer.as_str()), (200, "0.2.0"));
    assert_eq!(
        pinned.body, before.body,
        "the pinned old version renders exactly as before"
    );
    assert_eq!(
        get(&server.url(&format!("{TILE}?renderer=9.9.9"))).status,
        404
    );

    // A version that fails to load is rolled back: the host keeps serving the variant.
    plant(&reg, "0.2.0-broken", b"\0asm\x0d\0\x01\0 broken", true);
    std::thread::sleep(Duration::from_millis(600));
    let still = get(&server.url(TILE));
    assert_eq!(
        (still.status, still.renderer.as_str()),
        (200, "0.2.0-variant")
    );
    assert!(
        server.log_text().contains("failed to load"),
        "the reason is logged:\n{}",
        server.log_text()
    );

    // Hostile renderers planted behind publish's back are contained: 500 with a reason, and
    // the host keeps serving.
    plant(
        &reg,
        "0.2.0-hostile-loop",
        &std::fs::read(component("loop")).unwrap(),
        false,
    );
    plant(
        &reg,
        "0.2.0-hostile-memory",
        &std::fs::read(component("memory")).unwrap(),
        false,
    );
    let looped = get(&server.url(&format!("{TILE}?renderer=0.2.0-hostile-loop")));
    assert_eq!(looped.status, 500);
    assert!(
        String::from_utf8_lossy(&looped.body).contains("deadline"),
        "{}",
        String::from_utf8_lossy(&looped.body)
    );
    let hoarded = get(&server.url(&format!("{TILE}?renderer=0.2.0-hostile-memory")));
    assert_eq!(hoarded.status, 500);
    assert!(
        String::from_utf8_lossy(&hoarded.body).contains("memory limit"),
        "{}",
        String::from_utf8_lossy(&hoarded.body)
    );

    let (requests, failures) = traffic.finish();
    assert!(requests > 5, "background traffic ran ({requests} requests)");
    assert_eq!(
        failures, 0,
        "no request may fail during swaps ({failures} of {requests})"
    );
    assert_eq!(get(&server.url(TILE)).status, 200);
}

#[test]
fn hot_swap_with_an_s3_registry() {
    let moto = Moto::start();
    let env: Vec<(&str, String)> = s3_env(&moto.endpoint);
    // Create the bucket through moto's plain S3 API.
    {
        use std::io::{Read, Write};
        let host = moto.endpoint.strip_prefix("http://").unwrap();
        let mut s = std::net::TcpStream::connect(host).unwrap();
        write!(s, "PUT /renderers HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    }
    let reg = "s3://renderers/prod";
    publish_activated("default", reg, &env);
    let envs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start(
        &[
            "--renderers",
            reg,
            "--renderer-poll-ms",
            "150",
            "--cache",
            "memory",
        ],
        &envs,
    );
    wait_for_version(&server, "0.2.0");
    let traffic = Traffic::start(server.url(TILE));
    publish_activated("variant", reg, &env);
    wait_for_version(&server, "0.2.0-variant");
    let (ok, out) = renderer_cmd(&["activate", "0.2.0", "--registry", reg], &env);
    assert!(ok, "{out}");
    wait_for_version(&server, "0.2.0");
    let (ok, out) = renderer_cmd(&["list", "--registry", reg], &env);
    assert!(
        ok && out.contains("* 0.2.0 ") && out.contains("  0.2.0-variant "),
        "{out}"
    );
    let (requests, failures) = traffic.finish();
    assert_eq!(
        failures, 0,
        "{failures} of {requests} requests failed during swaps"
    );
}

/// The sha256 of `bytes`, hex.
fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Publish precompiles a version for both Lambda CPU baselines; a host with an empty compiled
/// cache (a Lambda cold start, a fresh server) loads it from that artifact instead of compiling
/// it; a damaged artifact costs a warning and a compile, never the version; and
/// `--registry-artifacts false` makes the host compile it itself.
#[test]
fn published_versions_load_precompiled_and_a_damaged_artifact_only_costs_a_compile() {
    let scratch = Scratch::new("registry-artifacts");
    let reg = scratch.0.join("registry");
    let reg_s = reg.to_str().unwrap().to_string();
    // Not the built-in renderer: its compiled artifact must come from the registry, not
    // from a compile of the built-in one into the same cache.
    let out = publish_activated("variant", &reg_s, &[]);
    assert!(
        out.contains("precompiled for x86_64, aarch64"),
        "publish precompiles for both baselines by default: {out}"
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(reg.join("versions/0.2.0-variant.json")).unwrap())
            .unwrap();
    let compiled = manifest["compiled"].as_array().expect("artifacts listed");
    let arches: Vec<&str> = compiled
        .iter()
        .map(|c| c["arch"].as_str().unwrap())
        .collect();
    assert_eq!(arches, ["x86_64", "aarch64"]);
    for c in compiled {
        let file = reg.join("compiled").join(c["file"].as_str().unwrap());
        let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert_eq!(sha256_hex(&bytes), c["sha256"].as_str().unwrap());
        assert_eq!(bytes.len() as u64, c["size_bytes"].as_u64().unwrap());
    }
    let (ok, out) = renderer_cmd(&["list", "--registry", &reg_s], &[]);
    assert!(ok && out.contains("x86_64,aarch64"), "{out}");

    // Each server gets its own empty compiled cache, as a fresh Lambda sandbox has.
    let serve = |cache: &str, extra: &[&str]| {
        let cache = scratch.0.join(cache);
        let cache = cache.to_str().unwrap().to_string();
        let mut args = vec![
            "--renderers",
            &reg_s,
            "--cache",
            "none",
            "--compiled-cache",
            &cache,
        ];
        args.extend_from_slice(extra);
        let server = Server::start(&args, &[]);
        let got = get(&server.url(TILE));
        assert_eq!((got.status, got.renderer.as_str()), (200, "0.2.0-variant"));
        (server, got.body)
    };
    let loaded = |server: &Server, path: &str| {
        let log = server.log_text();
        assert!(
            log.lines()
                .any(|l| l.contains("renderer version loaded") && l.contains(path)),
            "expected a {path} load:\n{log}"
        );
        log
    };

    let (server, from_artifact) = serve("cache-a", &[]);
    let log = loaded(&server, "Deserialized");
    assert!(
        !log.contains("renderer component loaded"),
        "with a registry version to serve, the built-in renderer is not loaded too:\n{log}"
    );
    drop(server);

    // Damage the host's artifact in the registry: the host notices, compiles, and still serves
    // the same pixels.
    let host_arch = if cfg!(target_arch = "aarch64") {
        "aarch64"
    } else {
        "x86_64"
    };
    let entry = compiled.iter().find(|c| c["arch"] == host_arch).unwrap();
    let file = reg.join("compiled").join(entry["file"].as_str().unwrap());
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();
    let (server, compiled_here) = serve("cache-b", &[]);
    let log = loaded(&server, "Compiled");
    assert!(
        log.contains("does not match the sha256"),
        "the damaged artifact is named in a warning:\n{log}"
    );
    assert_eq!(
        compiled_here, from_artifact,
        "the same renderer, the same tile"
    );

    // A hand-edited manifest whose sha256 is a path (or too short to slice) is refused before
    // it names any file: 500 with the reason, and the host keeps serving.
    let variant = std::fs::read(component("variant")).unwrap();
    for (version, sha) in [("0.2.0-bad-sha", "../../../../tmp/x"), ("0.2.0-short", "é")] {
        plant(&reg, version, &variant, false);
        let path = reg.join(format!("versions/{version}.json"));
        let mut m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        m["sha256"] = serde_json::json!(sha);
        m["compiled"] =
            serde_json::json!([{"arch": host_arch, "file": "x", "sha256": sha, "size_bytes": 1}]);
        std::fs::write(&path, m.to_string()).unwrap();
        let pinned = get(&server.url(&format!("{TILE}?renderer={version}")));
        assert_eq!(pinned.status, 500, "{version}");
        assert_eq!(get(&server.url(TILE)).status, 200);
    }
    let log = server.log_text();
    assert!(
        log.matches("sha256 does not match its manifest").count() >= 2,
        "both refusals give the reason:\n{log}"
    );
    drop(server);

    // Artifacts turned off: the host compiles without reading them.
    let (server, _) = serve("cache-c", &["--registry-artifacts", "false"]);
    let log = loaded(&server, "Compiled");
    assert!(!log.contains("does not match"), "{log}");
}
