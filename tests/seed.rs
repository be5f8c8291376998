//! End-to-end tests of `rasterzen seed` (the real binary): the whole Florence archive into an
//! fs cache and into S3 (`moto_server`), re-runs that do nothing, a `kill -9` in the middle and
//! a resume that renders nothing twice and leaves nothing missing (every key checked), SIGTERM
//! and Ctrl-C, empty tiles drawn once and stored under each key, polygons and tile lists,
//! `--dry-run`, and one-line errors. Seeded tiles are compared byte for byte with what
//! `rasterzen serve` renders and serves.
//!
//! The distributed path (SQS → Lambda) is tested in `tests/lambda.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

#[path = "support/harness.rs"]
mod harness;
#[path = "support/pmtiles.rs"]
mod pmtiles;
use harness::{list_keys, repo, s3_client, s3_env, Moto, Scratch, Server, BIN};

/// A `rasterzen seed` command with its state (checkpoints, compiled renderer) in `scratch`.
fn seed(scratch: &Path, args: &[&str], envs: &[(&str, String)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("seed")
        .args(["--progress", "log", "--progress-interval-s", "1"])
        .args(args)
        .env("XDG_CACHE_HOME", scratch.join("xdg"))
        .env(
            "RASTERZEN_COMPILED_CACHE",
            std::env::temp_dir().join("rasterzen-test-compiled"),
        )
        .env_remove("RUST_LOG")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .env("RASTERZEN_LOG_LEVEL", "info");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::null());
    cmd
}

/// Runs `cmd` with `input` on its standard input (`--tiles -`).
fn run_with_stdin(mut cmd: Command, input: &[u8]) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run rasterzen seed");
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn run(mut cmd: Command) -> Output {
    cmd.output().expect("run rasterzen seed")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn summary(path: &Path) -> Value {
    serde_json::from_slice(
        &std::fs::read(path).unwrap_or_else(|e| panic!("no summary at {}: {e}", path.display())),
    )
    .unwrap()
}

/// Every tile of the embedded Florence archive, `z/x/y`.
fn archive_tiles() -> BTreeSet<String> {
    let archive = std::fs::read(repo().join("host/assets/firenze.pmtiles")).unwrap();
    pmtiles::read_all(&archive)
        .iter()
        .map(|e| format!("{}/{}/{}", e.z, e.x, e.y))
        .collect()
}

/// The files under `dir` (relative paths), temporary files left out.
fn files(dir: &Path) -> BTreeMap<String, (u64, std::time::SystemTime, u64)> {
    use std::os::unix::fs::MetadataExt as _;
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if !p.to_string_lossy().ends_with(".tmp") {
                let m = p.metadata().unwrap();
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(rel, (m.ino(), m.modified().unwrap(), m.len()));
            }
        }
    }
    out
}

/// `SOURCE/RENDERER/STYLE/png-512@1x/` and the `z/x/y` of each tile key.
fn split_keys<'a>(keys: impl Iterator<Item = &'a String>) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut prefixes = BTreeSet::new();
    let mut tiles = BTreeSet::new();
    for k in keys {
        let parts: Vec<&str> = k.split('/').collect();
        assert_eq!(parts.len(), 7, "{k}");
        assert!(parts[6].ends_with(".png"), "{k}");
        prefixes.insert(parts[..4].join("/"));
        tiles.insert(format!(
            "{}/{}/{}",
            parts[4],
            parts[5],
            parts[6].trim_end_matches(".png")
        ));
    }
    (prefixes, tiles)
}

/// Waits until `count()` reaches `n` while the child runs; panics if the child ends first
/// (the interruption would then prove nothing).
fn wait_for(child: &mut Child, n: usize, mut count: impl FnMut() -> usize, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the seed ended ({status}) before {what} reached {n}: too fast to interrupt");
        }
        if count() >= n {
            return;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} never reached {n}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig}");
}

/// The whole Florence archive (all zooms) into an fs cache: killed with SIGKILL in the middle,
/// resumed (nothing rendered twice: the tiles stored before the kill are untouched; nothing
/// missing: every key of every archive tile is there), then re-run as a no-op, with and without
/// the checkpoint; the tiles are what `serve` renders and serves.
#[test]
fn florence_into_fs_survives_kill_9_and_reruns_as_a_no_op() {
    let scratch = Scratch::new("seed-fs");
    let cache = scratch.0.join("cache");
    let spec = format!("fs:{}", cache.display());
    let s1 = scratch.0.join("s1.json");
    let base = ["--cache", spec.as_str(), "--concurrency", "1"];

    let mut child = seed(&scratch.0, &base, &[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let checkpoint_dir = scratch.0.join("xdg/rasterzen/seed");
    // Killed once the checkpoint has been written at least once and 25 tiles are stored.
    wait_for(
        &mut child,
        25,
        || {
            let written = std::fs::read_dir(&checkpoint_dir)
                .map(|d| {
                    d.flatten()
                        .any(|e| e.path().extension().is_some_and(|x| x == "json"))
                })
                .unwrap_or(false);
            if written {
                files(&cache).len()
            } else {
                0
            }
        },
        "tiles in the cache",
    );
    child.kill().unwrap(); // SIGKILL: no checkpoint written at exit, no summary
    child.wait().unwrap();
    let after_kill = files(&cache);
    let checkpoints: Vec<PathBuf> = std::fs::read_dir(&checkpoint_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    assert_eq!(checkpoints.len(), 1, "{checkpoints:?}");
    let ckpt: Value = serde_json::from_slice(&std::fs::read(&checkpoints[0]).unwrap()).unwrap();
    let recorded: u64 = ckpt["done"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[1].as_u64().unwrap() - r[0].as_u64().unwrap())
        .sum();
    assert!(
        recorded as usize <= after_kill.len(),
        "the checkpoint never claims more than is stored"
    );

    // Resume: the same command.
    let mut cmd = seed(&scratch.0, &base, &[]);
    cmd.args(["--summary", s1.to_str().unwrap()]);
    let out = run(cmd);
    assert!(out.status.success(), "{}", text(&out));
    let s = summary(&s1);
    let total = archive_tiles().len() as u64;
    assert_eq!(s["status"], "finished", "{s}");
    assert_eq!(s["total"], total, "{s}");
    assert_eq!(s["finished_before"], recorded, "{s}");
    assert_eq!(s["failed"], 0, "{s}");
    // Nothing rendered twice: only the tiles missing after the kill were rendered; the ones the
    // checkpoint had not recorded yet were found in the cache and skipped.
    assert_eq!(
        s["rendered"].as_u64().unwrap() + s["empty"].as_u64().unwrap(),
        total - after_kill.len() as u64,
        "{s}"
    );
    assert_eq!(
        s["skipped"].as_u64().unwrap(),
        after_kill.len() as u64 - recorded,
        "{s}"
    );
    let full = files(&cache);
    for (k, meta) in &after_kill {
        assert_eq!(
            full.get(k),
            Some(meta),
            "{k} was rewritten after the resume"
        );
    }
    // Nothing missing: every archive tile, under one prefix (source/renderer/style/format).
    let (prefixes, tiles) = split_keys(full.keys());
    assert_eq!(prefixes.len(), 1, "{prefixes:?}");
    assert_eq!(
        tiles,
        archive_tiles(),
        "every tile of the archive, no other"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("seed finished"), "{stdout}");
    assert!(stdout.contains("tiles/s"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("seed progress") || s["elapsed_s"].as_f64().unwrap() < 1.0,
        "{stderr}"
    );

    // A finished run re-runs as a no-op (the checkpoint), and so it does from the cache alone.
    let s2 = scratch.0.join("s2.json");
    let mut cmd = seed(&scratch.0, &base, &[]);
    cmd.args(["--summary", s2.to_str().unwrap()]);
    let out = run(cmd);
    assert!(out.status.success(), "{}", text(&out));
    let s = summary(&s2);
    assert_eq!(
        (s["rendered"].as_u64(), s["skipped"].as_u64()),
        (Some(0), Some(0)),
        "{s}"
    );
    assert_eq!(s["finished_before"], total);
    let mut cmd = seed(&scratch.0, &base, &[]);
    cmd.args(["--restart", "--summary", s2.to_str().unwrap()]);
    let out = run(cmd);
    assert!(out.status.success(), "{}", text(&out));
    let s = summary(&s2);
    assert_eq!(s["rendered"], 0, "{s}");
    assert_eq!(s["skipped"], total, "{s}");
    assert_eq!(files(&cache), full, "no-op runs change nothing");

    // What serve serves from this cache is the seeded file, and what serve renders itself (no
    // cache) is the same bytes.
    let prefix = prefixes.iter().next().unwrap().clone();
    let from_cache = Server::start(&["--cache", &spec], &[]);
    let fresh = Server::start(&["--cache", "none"], &[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    for t in ["14/8704/5972", "12/2176/1493", "0/0/0"] {
        assert!(tiles.contains(t), "{t}");
        let seeded = std::fs::read(cache.join(format!("{prefix}/{t}.png"))).unwrap();
        let (status, cache_header, body) =
            rt.block_on(get(&from_cache.url(&format!("/png/{t}.png"))));
        assert_eq!((status, cache_header.as_str()), (200, "hit"), "{t}");
        assert_eq!(body, seeded, "{t}: served from the seeded cache");
        let (status, cache_header, body) = rt.block_on(get(&fresh.url(&format!("/png/{t}.png"))));
        assert_eq!((status, cache_header.as_str()), (200, "miss"), "{t}");
        assert_eq!(body, seeded, "{t}: serve renders the same bytes");
    }
}

async fn get(url: &str) -> (u16, String, Vec<u8>) {
    let r = reqwest::get(url).await.unwrap();
    let status = r.status().as_u16();
    let cache = r
        .headers()
        .get("x-rasterzen-cache")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, cache, r.bytes().await.unwrap().to_vec())
}

/// The same into S3 (moto): SIGKILL mid-run, resume, every key checked, re-runs are no-ops
/// (from the checkpoint, and from HEAD requests alone with --restart).
#[test]
fn florence_into_s3_survives_kill_9_and_reruns_as_a_no_op() {
    let moto = Moto::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s3 = s3_client(&moto.endpoint);
    rt.block_on(s3.create_bucket().bucket("tiles").send())
        .expect("create bucket in moto");
    let env = s3_env(&moto.endpoint);
    let scratch = Scratch::new("seed-s3");
    let base = [
        "--cache",
        "s3://tiles/seeded",
        "--concurrency",
        "1",
        "--cache-control",
        "public, max-age=60",
    ];
    let count = || rt.block_on(list_keys(&s3, "tiles", "seeded/")).len();
    let mut child = seed(&scratch.0, &base, &env)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(&mut child, 25, count, "objects in S3");
    child.kill().unwrap();
    child.wait().unwrap();
    let after_kill: BTreeSet<String> = rt
        .block_on(list_keys(&s3, "tiles", "seeded/"))
        .into_iter()
        .collect();
    let mut etags = BTreeMap::new();
    for k in &after_kill {
        let h = rt
            .block_on(s3.head_object().bucket("tiles").key(k).send())
            .unwrap();
        etags.insert(
            k.clone(),
            (h.e_tag().unwrap().to_string(), h.last_modified().cloned()),
        );
    }

    let s1 = scratch.0.join("s1.json");
    let mut cmd = seed(&scratch.0, &base, &env);
    cmd.args(["--summary", s1.to_str().unwrap()]);
    let out = run(cmd);
    assert!(out.status.success(), "{}", text(&out));
    let s = summary(&s1);
    let total = archive_tiles().len() as u64;
    assert_eq!(
        (s["status"].as_str(), s["total"].as_u64()),
        (Some("finished"), Some(total)),
        "{s}"
    );
    assert_eq!(
        s["rendered"].as_u64().unwrap() + s["empty"].as_u64().unwrap(),
        total - after_kill.len() as u64,
        "only the missing tiles are rendered: {s}"
    );
    let keys: Vec<String> = rt.block_on(list_keys(&s3, "tiles", "seeded/"));
    let stripped: Vec<String> = keys
        .iter()
        .map(|k| k.trim_start_matches("seeded/").to_string())
        .collect();
    let (prefixes, tiles) = split_keys(stripped.iter());
    assert_eq!(prefixes.len(), 1, "{prefixes:?}");
    assert_eq!(
        tiles,
        archive_tiles(),
        "every tile of the archive, no other"
    );
    for (k, before) in &etags {
        let h = rt
            .block_on(s3.head_object().bucket("tiles").key(k).send())
            .unwrap();
        assert_eq!(
            &(h.e_tag().unwrap().to_string(), h.last_modified().cloned()),
            before,
            "{k} rewritten"
        );
    }
    let one = rt
        .block_on(s3.head_object().bucket("tiles").key(&keys[0]).send())
        .unwrap();
    assert_eq!(one.content_type(), Some("image/png"));
    assert_eq!(one.cache_control(), Some("public, max-age=60"));

    for restart in [false, true] {
        let mut cmd = seed(&scratch.0, &base, &env);
        cmd.args(["--summary", s1.to_str().unwrap()]);
        if restart {
            cmd.arg("--restart");
        }
        let out = run(cmd);
        assert!(out.status.success(), "{}", text(&out));
        let s = summary(&s1);
        assert_eq!(s["rendered"], 0, "{s}");
        assert_eq!(s["skipped"], if restart { total } else { 0 }, "{s}");
    }
    assert_eq!(count(), keys.len());
}

/// SIGTERM and Ctrl-C (SIGINT): no new tiles, the ones in flight finish, the checkpoint is
/// written, the summary printed, exit 143 / 130; the resume renders exactly the rest.
#[test]
fn sigterm_and_ctrl_c_stop_cleanly_and_resume() {
    let scratch = Scratch::new("seed-signals");
    let cache = scratch.0.join("cache");
    let spec = format!("fs:{}", cache.display());
    let ckpt = scratch.0.join("run.checkpoint");
    let s = scratch.0.join("s.json");
    let args = [
        "--cache",
        spec.as_str(),
        "--concurrency",
        "1",
        "--checkpoint",
        ckpt.to_str().unwrap(),
        "--summary",
        s.to_str().unwrap(),
    ];
    let total = archive_tiles().len() as u64;
    let mut stored = 0;
    for (sig, code, at) in [("-TERM", 143, 15), ("-INT", 130, 45)] {
        let mut child = seed(&scratch.0, &args, &[])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for(&mut child, at, || files(&cache).len(), "tiles in the cache");
        signal(&child, sig);
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{sig}: {}", text(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("seed interrupted"), "{stdout}");
        let v = summary(&s);
        assert_eq!(v["status"], "interrupted");
        // The in-flight tiles finished and were recorded: checkpoint == what is stored.
        let now = files(&cache).len() as u64;
        assert_eq!(v["finished"], now, "{v}");
        assert_eq!(
            v["rendered"].as_u64().unwrap(),
            now - stored,
            "{sig}: rendered once each: {v}"
        );
        assert!(now < total, "{v}");
        stored = now;
    }
    let out = run(seed(&scratch.0, &args, &[]));
    assert!(out.status.success(), "{}", text(&out));
    let v = summary(&s);
    assert_eq!(v["rendered"].as_u64().unwrap(), total - stored, "{v}");
    assert_eq!(
        v["skipped"], 0,
        "the checkpoint knew every stored tile: {v}"
    );
    assert_eq!(files(&cache).len() as u64, total);
}

/// A directory source with holes: the missing tiles are empty tiles, drawn once per zoom (and
/// checked at a second position) and stored under every empty key, byte-identical to what
/// `serve` renders for each; `--dry-run` counts them from the source without writing anything.
#[test]
fn empty_tiles_are_drawn_once_and_match_serve() {
    let scratch = Scratch::new("seed-empty");
    let src = scratch.0.join("tiles");
    let archive = std::fs::read(repo().join("host/assets/firenze.pmtiles")).unwrap();
    let mut kept = 0;
    let mut holes = Vec::new();
    let entries: Vec<_> = pmtiles::read_all(&archive)
        .into_iter()
        .filter(|e| e.z >= 13)
        .collect();
    // The western half of each zoom is missing: holes deep inside it are empty all around
    // (drawn once, shared); those beside a data tile may hold a neighbour's label reaching in
    // (drawn one by one, with their neighbours).
    let span = |z: u8| {
        let xs = entries.iter().filter(|e| e.z == z).map(|e| e.x);
        (xs.clone().min().unwrap(), xs.max().unwrap())
    };
    let is_hole = |z: u8, x: u32| {
        let (lo, hi) = span(z);
        (x - lo) * 2 < hi - lo + 1
    };
    let present: BTreeSet<(u8, u32, u32)> = entries
        .iter()
        .filter(|e| !is_hole(e.z, e.x))
        .map(|e| (e.z, e.x, e.y))
        .collect();
    let mut border = Vec::new();
    let mut lonely = Vec::new();
    for e in &entries {
        if is_hole(e.z, e.x) {
            holes.push(format!("{}/{}/{}", e.z, e.x, e.y));
            let beside_data = (-1i64..=1).any(|dy| {
                (-1i64..=1).any(|dx| {
                    present.contains(&(
                        e.z,
                        (i64::from(e.x) + dx) as u32,
                        (i64::from(e.y) + dy) as u32,
                    ))
                })
            });
            if beside_data {
                border.push(format!("{}/{}/{}", e.z, e.x, e.y));
            } else {
                lonely.push(format!("{}/{}/{}", e.z, e.x, e.y));
            }
            continue;
        }
        let dir = src.join(format!("{}/{}", e.z, e.x));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{}.mvt", e.y)), &e.data).unwrap();
        kept += 1;
    }
    // The archive's bounds, so the plan is the archive's z13-14 tiles.
    std::fs::write(
        src.join("metadata.json"),
        r#"{"name":"holes","bounds":[11.154026,43.7270125,11.3289395,43.8325455],"minzoom":13,"maxzoom":14}"#,
    )
    .unwrap();
    let cache = scratch.0.join("cache");
    let spec = format!("fs:{}", cache.display());
    let s = scratch.0.join("s.json");
    let source = src.to_str().unwrap();
    let common = [
        "--source",
        source,
        "--cache",
        spec.as_str(),
        "--summary",
        s.to_str().unwrap(),
    ];

    let mut cmd = seed(&scratch.0, &common, &[]);
    cmd.arg("--dry-run");
    let out = run(cmd);
    assert!(out.status.success(), "{}", text(&out));
    let v = summary(&s);
    assert_eq!(v["with_data"], kept, "{v}");
    assert_eq!(v["empty"], holes.len(), "{v}");
    assert!(
        v["estimated_s"].as_f64().is_some() && v["estimated_bytes"].as_f64().unwrap() > 0.0,
        "{v}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("estimated"),
        "{}",
        text(&out)
    );
    assert!(files(&cache).is_empty(), "a dry run writes nothing");

    let out = run(seed(&scratch.0, &common, &[]));
    assert!(out.status.success(), "{}", text(&out));
    let v = summary(&s);
    assert_eq!(v["rendered"], kept, "{v}");
    assert_eq!(v["empty"], holes.len(), "{v}");
    // One render per data tile and per empty tile beside data (with its neighbours), two per
    // zoom for the shared empty tile (two positions compared).
    let zooms_with_lonely: BTreeSet<&str> = lonely
        .iter()
        .map(|h| h.split('/').next().unwrap())
        .collect();
    assert_eq!(
        zooms_with_lonely.len(),
        2,
        "both zooms have holes far from data"
    );
    assert!(!border.is_empty());
    assert_eq!(
        v["renders"].as_u64().unwrap(),
        kept + border.len() as u64 + 2 * zooms_with_lonely.len() as u64,
        "{v}"
    );
    let all = files(&cache);
    assert_eq!(all.len(), kept as usize + holes.len());
    let (prefixes, _) = split_keys(all.keys());
    let prefix = prefixes.into_iter().next().unwrap();
    let fresh = Server::start(&["--source", source, "--cache", "none"], &[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    for h in lonely.iter().take(4).chain(border.iter().take(4)) {
        let seeded = std::fs::read(cache.join(format!("{prefix}/{h}.png"))).unwrap();
        let (status, _, body) = rt.block_on(get(&fresh.url(&format!("/png/{h}.png"))));
        assert_eq!(status, 200);
        assert_eq!(
            body, seeded,
            "{h}: the seeded empty tile is what serve renders there"
        );
    }
}

/// A GeoJSON polygon seeds the tiles it touches (fewer than its bounding box), a Z/X/Y list
/// exactly its tiles (from standard input), formats and scales multiply the keys.
#[test]
fn polygons_tile_lists_formats_and_scales() {
    let scratch = Scratch::new("seed-shapes");
    let cache = scratch.0.join("cache");
    let spec = format!("fs:{}", cache.display());
    let s = scratch.0.join("s.json");
    let poly = scratch.0.join("area.geojson");
    std::fs::write(
        &poly,
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[11.2,43.74],[11.31,43.74],[11.2,43.82],[11.2,43.74]]]}}]}"#,
    )
    .unwrap();
    let dry = |extra: &[&str]| {
        let mut args = vec![
            "--cache",
            spec.as_str(),
            "--dry-run",
            "--summary",
            s.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let out = run(seed(&scratch.0, &args, &[]));
        assert!(out.status.success(), "{}", text(&out));
        summary(&s)["total"].as_u64().unwrap()
    };
    let in_poly = dry(&["--geojson", poly.to_str().unwrap(), "--zooms", "13-14"]);
    let in_box = dry(&["--bbox", "11.2,43.74,11.31,43.82", "--zooms", "13-14"]);
    assert!(in_poly > 0 && in_poly < in_box, "{in_poly} of {in_box}");

    let cmd = seed(
        &scratch.0,
        &[
            "--cache",
            spec.as_str(),
            "--tiles",
            "-",
            "--formats",
            "png,svg",
            "--scales",
            "1,2",
            "--summary",
            s.to_str().unwrap(),
        ],
        &[],
    );
    let out = run_with_stdin(cmd, b"# two tiles\n14/8704/5972\n13/4352/2986\n");
    assert!(out.status.success(), "{}", text(&out));
    let v = summary(&s);
    assert_eq!(
        (v["total"].as_u64(), v["rendered"].as_u64()),
        (Some(2), Some(2)),
        "{v}"
    );
    assert_eq!(v["renders"], 8, "2 tiles × png, svg × @1x, @2x: {v}");
    let names: BTreeSet<String> = files(&cache)
        .keys()
        .map(|k| {
            let p: Vec<&str> = k.split('/').collect();
            format!("{}/{}/{}/{}", p[3], p[4], p[5], p[6])
        })
        .collect();
    let expect: BTreeSet<String> = [
        "png-512@1x/14/8704/5972.png",
        "png-512@2x/14/8704/5972.png",
        "svg-512@1x/14/8704/5972.svg",
        "svg-512@2x/14/8704/5972.svg",
        "png-512@1x/13/4352/2986.png",
        "png-512@2x/13/4352/2986.png",
        "svg-512@1x/13/4352/2986.svg",
        "svg-512@2x/13/4352/2986.svg",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(names, expect);
}

/// `--formats webp,jpg`: the tiles `serve`'s `/webp/…` and `/jpg/…` answer, under the keys it
/// looks for: served from the seeded cache as hits, byte-identical to what `serve` makes itself,
/// and decoding (with the `image` crate, not our encoder) to the tile's size.
#[test]
fn webp_and_jpg_are_seeded_as_serve_makes_them() {
    let scratch = Scratch::new("seed-encodings");
    let cache = scratch.0.join("cache");
    let spec = format!("fs:{}", cache.display());
    let s = scratch.0.join("s.json");
    let cmd = seed(
        &scratch.0,
        &[
            "--cache",
            spec.as_str(),
            "--tiles",
            "-",
            "--formats",
            "webp,jpg",
            "--summary",
            s.to_str().unwrap(),
        ],
        &[],
    );
    let out = run_with_stdin(cmd, b"14/8704/5972\n13/4352/2986\n");
    assert!(out.status.success(), "{}", text(&out));
    let v = summary(&s);
    assert_eq!(v["rendered"], 2, "{v}");
    let names: BTreeSet<String> = files(&cache)
        .keys()
        .filter_map(|k| k.rsplit_once('.').map(|(_, ext)| ext.to_string()))
        .collect();
    assert_eq!(
        names,
        ["jpg", "webp"].iter().map(|s| s.to_string()).collect(),
        "{:?}",
        files(&cache).keys().collect::<Vec<_>>()
    );

    let from_cache = Server::start(&["--cache", &spec], &[]);
    let fresh = Server::start(&["--cache", "none"], &[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    for t in ["14/8704/5972", "13/4352/2986"] {
        for (ext, format) in [
            ("webp", image::ImageFormat::WebP),
            ("jpg", image::ImageFormat::Jpeg),
        ] {
            let path = format!("/{ext}/{t}.{ext}");
            let (status, hit, seeded) = rt.block_on(get(&from_cache.url(&path)));
            assert_eq!((status, hit.as_str()), (200, "hit"), "{path}");
            let (status, hit, made) = rt.block_on(get(&fresh.url(&path)));
            assert_eq!((status, hit.as_str()), (200, "miss"), "{path}");
            assert_eq!(seeded, made, "{path}: seeded = what serve makes");
            let img = image::load_from_memory_with_format(&seeded, format).unwrap();
            assert_eq!((img.width(), img.height()), (512, 512), "{path}");
        }
    }
}

/// Bad options end in one line on stderr and a non-zero exit.
#[test]
fn bad_options_are_one_line_errors() {
    let scratch = Scratch::new("seed-errors");
    let cache = format!("fs:{}", scratch.0.join("cache").display());
    for (args, needle) in [
        (vec!["--bbox", "11,43,10,44"], "west must be less than east"),
        (vec!["--bbox", "a,b"], "W,S,E,N"),
        (vec!["--zooms", "9-3"], "--zooms"),
        (vec!["--zooms", "0-25"], "the source goes to zoom 20"),
        (vec!["--scales", "3"], "not 1 or 2"),
        (vec!["--geojson", "/nonexistent.geojson"], "cannot read"),
        (vec!["--queue", "not-a-queue"], "sqs://QUEUE_URL"),
        (vec!["--concurrency", "0"], "at least 1"),
    ] {
        let mut all = vec!["--cache", cache.as_str()];
        all.extend(args.iter());
        let out = run(seed(&scratch.0, &all, &[]));
        assert!(!out.status.success(), "{args:?}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or("");
        assert!(last.starts_with("rasterzen: error: "), "{args:?}: {err}");
        assert!(last.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    let out = run(seed(&scratch.0, &["--cache", "memory"], &[]));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no tier to seed"),
        "{}",
        text(&out)
    );
}
