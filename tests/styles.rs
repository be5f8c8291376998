//! Styles and their assets, end to end with the real binary: sprites resolved against the
//! style's location (a file, an HTTP URL, S3 on moto) and fetched once; patterns drawn with
//! them; warnings shown once; `rasterzen style check` against real sources.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

#[path = "support/harness.rs"]
mod harness;
use harness::{repo, s3_client, s3_env, Moto, Scratch, Server, BIN};

fn parity() -> PathBuf {
    repo().join("tests/parity")
}

/// The OSM Bright case whose tile is mostly the `wave` fill-pattern (Liechtenstein's Rhine).
const TILE: &str = "tiles/omt-liechtenstein-14-8625-5755.mvt.gz";
const Z_X_Y: &str = "14/8625/5755";

fn run(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut c = Command::new(BIN);
    c.args(args).env(
        "RASTERZEN_COMPILED_CACHE",
        std::env::temp_dir().join("rasterzen-test-compiled"),
    );
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().expect("run rasterzen")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn decode(png_bytes: &[u8]) -> Vec<u8> {
    let mut d = png::Decoder::new(std::io::Cursor::new(png_bytes));
    d.set_transformations(png::Transformations::EXPAND);
    let mut r = d.read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    buf
}

/// The share of pixels that differ by more than 8/255 between two same-size PNGs.
fn differ(a: &[u8], b: &[u8]) -> f64 {
    differ_by(a, b, 8)
}

fn differ_by(a: &[u8], b: &[u8], threshold: u8) -> f64 {
    let (a, b) = (decode(a), decode(b));
    assert_eq!(a.len(), b.len());
    let n = a.len() / 3;
    let d = a
        .chunks_exact(3)
        .zip(b.chunks_exact(3))
        .filter(|(p, q)| {
            p.iter()
                .zip(q.iter())
                .any(|(x, y)| x.abs_diff(*y) > threshold)
        })
        .count();
    d as f64 / n as f64
}

/// A copy of the OSM Bright style and its sprite in `dir`, optionally without the sprite.
fn style_dir(dir: &Path, with_sprite: bool) -> PathBuf {
    let src = parity().join("styles/osm-bright");
    std::fs::create_dir_all(dir).unwrap();
    for f in [
        "style.json",
        "sprite.json",
        "sprite.png",
        "sprite@2x.json",
        "sprite@2x.png",
    ] {
        if with_sprite || f == "style.json" {
            std::fs::copy(src.join(f), dir.join(f)).unwrap();
        }
    }
    dir.join("style.json")
}

#[test]
fn render_finds_the_sprite_beside_the_style_and_draws_its_patterns() {
    let scratch = Scratch::new("sprites");
    let with = style_dir(&scratch.0.join("with"), true);
    let without = style_dir(&scratch.0.join("without"), false);
    let tile = parity().join(TILE);
    let out_with = scratch.0.join("with.png");
    let out_without = scratch.0.join("without.png");
    for engine in ["wasm", "native"] {
        let o = run(
            &[
                "render",
                "--input",
                tile.to_str().unwrap(),
                "--tile",
                Z_X_Y,
                "--engine",
                engine,
                "--style",
                with.to_str().unwrap(),
                "-o",
                out_with.to_str().unwrap(),
            ],
            &[],
        );
        assert!(o.status.success(), "{engine}: {}", stderr(&o));
        assert!(!stderr(&o).contains("warning"), "{engine}: {}", stderr(&o));
        // The reference MapLibre drew for this case, with the same sprite.
        let ours = std::fs::read(&out_with).unwrap();
        let maplibre = std::fs::read(
            parity().join("cases/osm-bright--omt-liechtenstein-14--512/maplibre.png"),
        )
        .unwrap();
        assert!(
            differ(&ours, &maplibre) < 0.01,
            "{engine}: as MapLibre draws it"
        );
        let o = run(
            &[
                "render",
                "--input",
                tile.to_str().unwrap(),
                "--tile",
                Z_X_Y,
                "--engine",
                engine,
                "--style",
                without.to_str().unwrap(),
                "-o",
                out_without.to_str().unwrap(),
            ],
            &[],
        );
        assert!(o.status.success(), "{engine}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains("sprite \"default\" (1x)") && err.contains("not found"),
            "{err}"
        );
        assert!(
            err.contains("image \"wave\""),
            "the missing image is named: {err}"
        );
        let lines: Vec<&str> = err.lines().collect();
        let mut unique = lines.clone();
        unique.dedup();
        assert_eq!(lines.len(), unique.len(), "each warning once: {err}");
        // Without the sprite the pattern layers draw nothing (as in MapLibre), not black.
        let without_png = std::fs::read(&out_without).unwrap();
        // The `wave` pattern is faint (a few percent of alpha) but covers the Rhine.
        let changed = differ_by(&without_png, &ours, 1);
        assert!(
            changed > 0.003,
            "the pattern was drawn with the sprite ({changed})"
        );
        let px = decode(&without_png);
        let black = px
            .chunks_exact(3)
            .filter(|p| p.iter().all(|c| *c < 16))
            .count();
        assert!(
            black < px.len() / 3 / 100,
            "no black fill for missing patterns ({black} px)"
        );
    }
}

#[test]
fn a_style_for_another_schema_is_named_as_such() {
    let tile = repo().join("tests/fixtures/tiles/nextzen-10-301-384.mvt");
    let scratch = Scratch::new("schema");
    let out = scratch.0.join("o.png");
    let o = run(
        &[
            "render",
            "--input",
            tile.to_str().unwrap(),
            "--tile",
            "10/301/384",
            "--style",
            "omt",
            "-o",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("a style for another schema?"),
        "{}",
        stderr(&o)
    );
    let o = run(
        &[
            "render",
            "--input",
            tile.to_str().unwrap(),
            "--tile",
            "10/301/384",
            "-o",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        !stderr(&o).contains("warning"),
        "the right style is quiet: {}",
        stderr(&o)
    );
}

#[test]
fn style_check_reports_layers_sprites_and_missing_source_layers() {
    let monaco = repo().join("tests/fixtures/archives/monaco-2023-omt.mbtiles");
    let firenze = repo().join("host/assets/firenze.pmtiles");
    let bright = parity().join("styles/osm-bright/style.json");
    // The right schema: exit 0, every layer listed, the sprite loaded.
    let o = run(
        &[
            "style",
            "check",
            bright.to_str().unwrap(),
            "--source",
            monaco.to_str().unwrap(),
        ],
        &[],
    );
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{out}{}", stderr(&o));
    assert!(out.contains("sprites: 1 named, 2 sheet(s) loaded"), "{out}");
    assert!(
        out.contains(" drawn ") && out.contains("water-pattern"),
        "{out}"
    );
    // The wrong schema: exit 1, the missing layers named.
    let o = run(
        &[
            "style",
            "check",
            bright.to_str().unwrap(),
            "--source",
            firenze.to_str().unwrap(),
        ],
        &[],
    );
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(!o.status.success());
    assert!(
        out.contains("has no layer") && out.contains("\"transportation\""),
        "{out}"
    );
    assert_eq!(
        stderr(&o).lines().count(),
        1,
        "one error line: {}",
        stderr(&o)
    );
    // A sprite that cannot be loaded is an error.
    let basic = repo().join("render-wasm/tests/styles/omt-basic.json");
    let o = run(&["style", "check", basic.to_str().unwrap()], &[]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(!o.status.success());
    assert!(out.contains("error: sprite \"default\" (1x)"), "{out}");
    // JSON for CI, with statuses; symbol layers are drawn (labels), one with an unsupported
    // property is approximated.
    let scratch = Scratch::new("check");
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&basic).unwrap()).unwrap();
    doc.as_object_mut().unwrap().remove("sprite");
    let first_symbol = doc["layers"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|l| l["type"] == "symbol")
        .unwrap();
    if first_symbol.get("paint").is_none() {
        first_symbol["paint"] = serde_json::json!({});
    }
    first_symbol["paint"]["icon-translate"] = serde_json::json!([2, 2]);
    let styles = scratch.0.join("basic-no-sprite.json");
    std::fs::write(&styles, doc.to_string()).unwrap();
    let o = run(&["style", "check", styles.to_str().unwrap(), "--json"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let layers = doc["layers"].as_array().unwrap();
    assert!(layers
        .iter()
        .any(|l| l["type"] == "symbol" && l["status"] == "drawn"));
    assert!(layers
        .iter()
        .any(|l| l["type"] == "symbol" && l["status"] == "approximated"));
    // --strict fails on warnings (icon-translate is one).
    let o = run(
        &["style", "check", styles.to_str().unwrap(), "--strict"],
        &[],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--strict"), "{}", stderr(&o));
}

/// A small HTTP server with the OSM Bright style and sprite, counting requests per path.
struct StyleServer {
    base: String,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    _rt: tokio::runtime::Runtime,
}

fn style_server() -> StyleServer {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let h = Arc::clone(&hits);
    let dir = parity().join("styles/osm-bright");
    let app = axum::Router::new().route(
        "/styles/{file}",
        axum::routing::get(
            move |axum::extract::Path(file): axum::extract::Path<String>| {
                let (h, dir) = (Arc::clone(&h), dir.clone());
                async move {
                    *h.lock().unwrap().entry(file.clone()).or_default() += 1;
                    match std::fs::read(dir.join(&file)) {
                        Ok(b) if !file.contains("..") => (axum::http::StatusCode::OK, b),
                        _ => (axum::http::StatusCode::NOT_FOUND, Vec::new()),
                    }
                }
            },
        ),
    );
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    rt.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    StyleServer {
        base,
        hits,
        _rt: rt,
    }
}

fn get(url: &str) -> (u16, Vec<u8>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let r = reqwest::get(url).await.unwrap();
        (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
    })
}

/// A directory source holding the one Liechtenstein tile.
fn tile_dir(scratch: &Scratch) -> String {
    let dir = scratch.0.join("tiles/14/8625");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(parity().join(TILE), dir.join("5755.mvt")).unwrap();
    scratch.0.join("tiles").display().to_string()
}

fn maplibre_reference() -> Vec<u8> {
    std::fs::read(parity().join("cases/osm-bright--omt-liechtenstein-14--512/maplibre.png"))
        .unwrap()
}

#[test]
fn serve_takes_a_style_from_an_http_url_and_fetches_its_sprite_once() {
    let up = style_server();
    let scratch = Scratch::new("http-style");
    let tiles = tile_dir(&scratch);
    let style = format!("{}/styles/style.json", up.base);
    let s = Server::start(
        &["--source", &tiles, "--style", &style, "--cache", "none"],
        &[],
    );
    let mut last = Vec::new();
    for (x, y) in [(8625, 5755), (8625, 5756), (8626, 5755)] {
        let (status, body) = get(&s.url(&format!("/png/14/{x}/{y}.png")));
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        if (x, y) == (8625, 5755) {
            last = body;
        }
    }
    assert!(
        differ(&last, &maplibre_reference()) < 0.01,
        "patterns as MapLibre draws them"
    );
    let hits = up.hits.lock().unwrap().clone();
    for f in [
        "style.json",
        "sprite.json",
        "sprite.png",
        "sprite@2x.json",
        "sprite@2x.png",
    ] {
        assert_eq!(hits.get(f), Some(&1), "{f} fetched once: {hits:?}");
    }
    assert!(!s.log_text().contains("WARN"), "{}", s.log_text());
}

#[test]
fn serve_takes_a_style_from_s3_and_warns_about_a_foreign_schema() {
    let moto = Moto::start();
    let env = s3_env(&moto.endpoint);
    let envs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let s3 = s3_client(&moto.endpoint);
    rt.block_on(async {
        s3.create_bucket().bucket("styles").send().await.unwrap();
        let dir = parity().join("styles/osm-bright");
        for f in [
            "style.json",
            "sprite.json",
            "sprite.png",
            "sprite@2x.json",
            "sprite@2x.png",
        ] {
            s3.put_object()
                .bucket("styles")
                .key(format!("bright/{f}"))
                .body(std::fs::read(dir.join(f)).unwrap().into())
                .send()
                .await
                .unwrap();
        }
    });
    let scratch = Scratch::new("s3-style");
    let tiles = tile_dir(&scratch);
    let s = Server::start(
        &[
            "--source",
            &tiles,
            "--style",
            "s3://styles/bright/style.json",
            "--cache",
            "none",
        ],
        &envs,
    );
    let (status, body) = get(&s.url("/png/14/8625/5755.png"));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(differ(&body, &maplibre_reference()) < 0.01);
    drop(s);
    // The same style over the Florence archive (Protomaps schema): named at start.
    let s = Server::start(
        &[
            "--style",
            "s3://styles/bright/style.json",
            "--cache",
            "none",
        ],
        &envs,
    );
    let log = s.log_text();
    assert!(
        log.contains("the source has no layer") && log.contains("\"transportation\""),
        "{log}"
    );
}
