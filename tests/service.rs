//! End-to-end tests of `rasterzen serve`: the real binary on 127.0.0.1, driven over HTTP.
//!
//! A fake upstream (a small axum server in this process) stands in for a URL-template source;
//! S3 caching runs against a real S3-compatible server, `moto_server` (install with
//! `pip install 'moto[server]'`), started by the test.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

#[path = "support/harness.rs"]
mod harness;
#[path = "support/pmtiles.rs"]
mod pmtiles;
use harness::{list_keys, repo, s3_client, s3_env, Moto, Scratch, Server, BIN};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

struct Got {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Got {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn get_with(c: &reqwest::Client, url: &str, headers: &[(&str, &str)]) -> Got {
    let mut req = c.get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res.bytes().await.unwrap().to_vec();
    Got {
        status,
        headers,
        body,
    }
}

async fn get(url: &str) -> Got {
    get_with(&client(), url, &[]).await
}

fn png_size(b: &[u8]) -> (u32, u32) {
    assert!(b.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    (
        u32::from_be_bytes(b[16..20].try_into().unwrap()),
        u32::from_be_bytes(b[20..24].try_into().unwrap()),
    )
}

fn sha256_etag(b: &[u8]) -> String {
    format!(
        "\"{}\"",
        Sha256::digest(b)
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
    )
}

/// The tile at zoom `z` holding a point.
fn tile_at(lon: f64, lat: f64, z: u8) -> (u8, u32, u32) {
    let n = 2f64.powi(i32::from(z));
    let x = ((lon + 180.0) / 360.0 * n).floor() as u32;
    let y =
        ((1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0 * n).floor() as u32;
    (z, x, y)
}

/// Central Florence, inside the embedded archive.
const FIRENZE: (f64, f64) = (11.2550, 43.7700);

fn tile_path(kind: &str, t: (u8, u32, u32), suffix: &str) -> String {
    format!("/{kind}/{}/{}/{}{suffix}.{kind}", t.0, t.1, t.2)
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("metric {name} missing in:\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn default_service_answers_every_path() {
    let s = Server::start(&[], &[]);
    let c = client();

    let h = get(&s.url("/healthz")).await;
    assert_eq!((h.status, h.text().trim()), (200, "ok"));
    assert_eq!(h.header("access-control-allow-origin"), "*");

    // TileJSON for the embedded archive.
    let tj = get(&s.url("/tilejson.json")).await;
    assert_eq!(tj.status, 200);
    let doc: serde_json::Value = serde_json::from_slice(&tj.body).unwrap();
    assert_eq!(doc["tilejson"], "3.0.0");
    assert_eq!(
        doc["tiles"][0],
        format!("{}/png/{{z}}/{{x}}/{{y}}.png", s.base)
    );
    assert_eq!(doc["minzoom"], 0);
    assert_eq!(doc["maxzoom"], 20, "source maxzoom 14 + overzoom 6");
    assert!(
        doc["attribution"]
            .as_str()
            .unwrap()
            .contains("OpenStreetMap</a> contributors"),
        "{doc}"
    );
    let b = doc["bounds"].as_array().unwrap();
    assert!(b[0].as_f64().unwrap() < FIRENZE.0 && FIRENZE.0 < b[2].as_f64().unwrap());
    let tj2 = get(&s.url("/tilejson.json?format=svg&scale=2&style=light")).await;
    let doc2: serde_json::Value = serde_json::from_slice(&tj2.body).unwrap();
    assert_eq!(
        doc2["tiles"][0],
        format!("{}/svg/{{z}}/{{x}}/{{y}}@2x.svg?style=light", s.base)
    );

    let index = get(&s.url("/")).await;
    assert_eq!(index.status, 200);
    assert!(index.header("content-type").starts_with("text/html"));

    // A PNG tile: headers, size, ETag = sha256 of the body, then a cache hit and a 304.
    let t = tile_at(FIRENZE.0, FIRENZE.1, 14);
    let png = get(&s.url(&tile_path("png", t, ""))).await;
    assert_eq!(png.status, 200, "{}", png.text());
    assert_eq!(png.header("content-type"), "image/png");
    assert_eq!(png_size(&png.body), (512, 512));
    assert_eq!(png.header("etag"), sha256_etag(&png.body));
    assert_eq!(png.header("cache-control"), "public, max-age=86400");
    assert_eq!(png.header("access-control-allow-origin"), "*");
    assert!(!png.header("x-rasterzen-renderer").is_empty());
    assert_eq!(png.header("x-rasterzen-cache"), "miss");
    let again = get(&s.url(&tile_path("png", t, ""))).await;
    assert_eq!(again.header("x-rasterzen-cache"), "hit");
    assert_eq!(again.header("etag"), png.header("etag"));
    assert_eq!(again.body, png.body);
    let nm = get_with(
        &c,
        &s.url(&tile_path("png", t, "")),
        &[("if-none-match", png.header("etag"))],
    )
    .await;
    assert_eq!(nm.status, 304);
    assert!(nm.body.is_empty());
    assert_eq!(nm.header("etag"), png.header("etag"));
    assert!(!nm.header("x-rasterzen-renderer").is_empty());
    let other = get_with(
        &c,
        &s.url(&tile_path("png", t, "")),
        &[("if-none-match", "\"nope\"")],
    )
    .await;
    assert_eq!(other.status, 200);

    // @2x, SVG, MVT (inflated), GeoJSON.
    let retina = get(&s.url(&tile_path("png", t, "@2x"))).await;
    assert_eq!(png_size(&retina.body), (1024, 1024));
    let svg = get(&s.url(&tile_path("svg", t, ""))).await;
    assert_eq!(
        (svg.status, svg.header("content-type")),
        (200, "image/svg+xml")
    );
    assert!(svg.text().contains("<svg"), "{}", svg.text());
    assert_eq!(svg.header("etag"), sha256_etag(&svg.body));
    let mvt = get(&s.url(&tile_path("mvt", t, ""))).await;
    assert_eq!(
        (mvt.status, mvt.header("content-type")),
        (200, "application/vnd.mapbox-vector-tile")
    );
    assert!(
        mvt.body.len() > 100 && !mvt.body.starts_with(&[0x1f, 0x8b]),
        "uncompressed MVT"
    );
    // The PNG over HTTP is the tile itself (not scaled to the data's bounding box): the very bytes
    // `rasterzen render` makes from the same source tile.
    let scratch = Scratch::new("render");
    std::fs::write(scratch.0.join("t.mvt"), &mvt.body).unwrap();
    let out = Command::new(BIN)
        .args(["render", "--input"])
        .arg(scratch.0.join("t.mvt"))
        .args(["--tile", &format!("{}/{}/{}", t.0, t.1, t.2), "-o"])
        .arg(scratch.0.join("t.png"))
        // The service draws labelled tiles with their neighbours from its source.
        .arg("--neighbours")
        .arg(repo().join("host/assets/firenze.pmtiles"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::read(scratch.0.join("t.png")).unwrap() == png.body,
        "HTTP PNG differs from `rasterzen render`"
    );
    let gj = get(&s.url(&tile_path("geojson", t, ""))).await;
    assert_eq!(gj.status, 200, "{}", gj.text());
    assert!(gj.text().contains("FeatureCollection"));
    let _: serde_json::Value = serde_json::from_slice(&gj.body).expect("GeoJSON parses");

    // Overzoom: above maxzoom 14 drawn from the z14 ancestor; beyond +6 nothing.
    let deep = tile_at(FIRENZE.0, FIRENZE.1, 17);
    let oz = get(&s.url(&tile_path("png", deep, ""))).await;
    assert_eq!(oz.status, 200, "{}", oz.text());
    assert_eq!(
        oz.header("x-rasterzen-data-tile"),
        format!("14/{}/{}", deep.1 >> 3, deep.2 >> 3)
    );
    let oz_mvt = get(&s.url(&tile_path("mvt", deep, ""))).await;
    assert_eq!(oz_mvt.status, 200);
    assert_eq!(
        oz_mvt.body, mvt.body,
        "overzoomed /mvt serves the ancestor's data"
    );
    let too_deep = get(&s.url(&tile_path("png", tile_at(FIRENZE.0, FIRENZE.1, 21), ""))).await;
    assert_eq!(too_deep.status, 404, "{}", too_deep.text());

    // Errors: each with its status and a short plain-text reason.
    for (path, status) in [
        ("/png/14/0/0.png", 404),   // outside the bounds
        ("/png/a/b/c.png", 400),    // not numbers
        ("/png/1/5/0.png", 400),    // x outside the grid
        ("/png/1/0.png", 400),      // too few parts
        ("/png/1/0/0.jpg", 400),    // wrong extension
        ("/png/31/0/0.png", 400),   // zoom above 30
        ("/mvt/1/0/0@2x.mvt", 400), // no @2x for data
        ("/nope", 404),
        ("/webp/1/0/0.webp", 404),
    ] {
        let r = get(&s.url(path)).await;
        assert_eq!(r.status, status, "{path}: {}", r.text());
        assert!(r.header("content-type").starts_with("text/plain"), "{path}");
        assert!(!r.text().trim().is_empty(), "{path}");
        assert_eq!(r.header("access-control-allow-origin"), "*", "{path}");
    }
    let world = get(&s.url("/png/0/0/0.png")).await;
    assert_eq!(world.status, 200, "z0 overlaps the archive");

    // Query parameters: style and renderer pin.
    let bad_style = get(&s.url(&format!("{}?style=no-such-style", tile_path("png", t, "")))).await;
    assert_eq!(bad_style.status, 400, "{}", bad_style.text());
    let light = get(&s.url(&format!("{}?style=light", tile_path("png", t, "")))).await;
    assert_eq!(light.status, 200, "{}", light.text());
    assert_eq!(
        light.header("x-rasterzen-cache"),
        "miss",
        "another style is another cache key"
    );
    let version = png.header("x-rasterzen-renderer");
    let pinned = get(&s.url(&format!("{}?renderer={version}", tile_path("png", t, "")))).await;
    assert_eq!(
        (pinned.status, pinned.header("x-rasterzen-cache")),
        (200, "hit")
    );
    let unknown = get(&s.url(&format!("{}?renderer=0.0.0-nope", tile_path("png", t, "")))).await;
    assert_eq!(unknown.status, 404, "{}", unknown.text());

    // CORS preflight.
    let pre = c
        .request(reqwest::Method::OPTIONS, s.url(&tile_path("png", t, "")))
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status().as_u16(), 204);
    assert_eq!(pre.headers()["access-control-allow-origin"], "*");

    // One access line per tile request, with cache status and timings; no query string.
    let log = s.log_text();
    assert!(
        log.contains("cache=\"miss\"") || log.contains("cache=miss"),
        "{log}"
    );
    assert!(log.contains("render_ms"), "{log}");
    assert!(
        !log.contains("style=no-such-style\""),
        "query strings are not logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mbtiles_pmtiles_and_directory_sources() {
    let archives = repo().join("tests/fixtures/archives");
    let mb = Server::start(
        &[
            "--source",
            archives.join("monaco-2023-omt.mbtiles").to_str().unwrap(),
            "--cache",
            "none",
            "--style",
            "omt",
        ],
        &[],
    );
    let pm = Server::start(
        &[
            "--source",
            archives.join("monaco-2023-omt.pmtiles").to_str().unwrap(),
            "--cache",
            "none",
            "--style",
            "omt",
        ],
        &[],
    );
    let tj: serde_json::Value =
        serde_json::from_slice(&get(&mb.url("/tilejson.json")).await.body).unwrap();
    let maxzoom = tj["maxzoom"].as_u64().unwrap() as u8 - 6;
    let t = tile_at(7.4246, 43.7384, maxzoom); // Monaco
    let a = get(&mb.url(&tile_path("png", t, ""))).await;
    let b = get(&pm.url(&tile_path("png", t, ""))).await;
    assert_eq!(
        (a.status, b.status),
        (200, 200),
        "{} / {}",
        a.text(),
        b.text()
    );
    assert_eq!(
        a.header("etag"),
        b.header("etag"),
        "MBTiles (TMS rows) and PMTiles give the same tile"
    );
    let ma = get(&mb.url(&tile_path("mvt", t, ""))).await;
    let mp = get(&pm.url(&tile_path("mvt", t, ""))).await;
    assert_eq!(ma.body, mp.body);
    assert!(ma.body.len() > 100);

    // A directory of tiles.
    let dir = Scratch::new("dir");
    let berlin = (14u8, 8803u32, 5376u32);
    std::fs::create_dir_all(dir.0.join("14/8803")).unwrap();
    std::fs::copy(
        repo().join("tests/fixtures/tiles/shortbread-berlin-14.mvt"),
        dir.0.join("14/8803/5376.mvt"),
    )
    .unwrap();
    let d = Server::start(
        &["--source", dir.0.to_str().unwrap(), "--cache", "none"],
        &[],
    );
    let png = get(&d.url(&tile_path("png", berlin, ""))).await;
    assert_eq!(png.status, 200, "{}", png.text());
    assert_eq!(png_size(&png.body), (512, 512));
    let missing = get(&d.url("/png/14/8803/5377.png")).await;
    assert_eq!(
        missing.status, 200,
        "inside the zoom range without a tile: an empty (background) tile"
    );
    assert_eq!(
        get(&d.url("/png/13/4401/2688.png")).await.status,
        404,
        "below the directory's minzoom"
    );
}

/// The fake upstream: behaviour by tile column at any zoom: x=0 a valid tile, x=1 hangs,
/// x=2 answers 500, x=3 garbage, x=4 404, x=5 the tile gzip-encoded in transit
/// (`Content-Encoding: gzip`), x=6 the tile stored gzip-compressed. Records each request's
/// `api_key`. `/archive.pmtiles` serves the Monaco archive with range requests.
/// (upstream path, `api_key` it carried), in arrival order.
type KeyLog = Arc<Mutex<Vec<(String, Option<String>)>>>;

struct Upstream {
    base: String,
    keys: KeyLog,
    hits: Arc<Mutex<HashMap<u32, usize>>>,
    ranges: Arc<AtomicUsize>,
    _task: tokio::task::JoinHandle<()>,
}

async fn fake_upstream() -> Upstream {
    use axum::extract::{Path as AxPath, Query};
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let tile = Arc::new(
        std::fs::read(repo().join("tests/fixtures/tiles/nextzen-10-301-384.mvt")).unwrap(),
    );
    let keys: KeyLog = Arc::default();
    let hits: Arc<Mutex<HashMap<u32, usize>>> = Arc::default();
    let (k2, h2) = (Arc::clone(&keys), Arc::clone(&hits));
    let gz = {
        use std::io::Write as _;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&tile).unwrap();
        Arc::new(e.finish().unwrap())
    };
    let archive = Arc::new(
        std::fs::read(repo().join("tests/fixtures/archives/monaco-2023-omt.pmtiles")).unwrap(),
    );
    let ranges = Arc::new(AtomicUsize::new(0));
    let ranges2 = Arc::clone(&ranges);
    let app = axum::Router::new()
        .route(
            "/tiles/{z}/{x}/{y}",
            axum::routing::get(
                move |AxPath((z, x, y)): AxPath<(u8, u32, String)>,
                      Query(q): Query<HashMap<String, String>>| {
                    let (tile, keys, hits, gz) = (
                        Arc::clone(&tile),
                        Arc::clone(&k2),
                        Arc::clone(&h2),
                        Arc::clone(&gz),
                    );
                    async move {
                        keys.lock()
                            .unwrap()
                            .push((format!("{z}/{x}/{y}"), q.get("api_key").cloned()));
                        *hits.lock().unwrap().entry(x).or_default() += 1;
                        match x {
                            0 => (StatusCode::OK, tile.as_ref().clone()).into_response(),
                            1 => {
                                tokio::time::sleep(Duration::from_secs(30)).await;
                                StatusCode::OK.into_response()
                            }
                            2 => (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
                            3 => (
                                StatusCode::OK,
                                b"<html>this is not a vector tile</html>".to_vec(),
                            )
                                .into_response(),
                            5 => (
                                StatusCode::OK,
                                [("content-encoding", "gzip")],
                                gz.as_ref().clone(),
                            )
                                .into_response(),
                            6 => (StatusCode::OK, gz.as_ref().clone()).into_response(),
                            _ => StatusCode::NOT_FOUND.into_response(),
                        }
                    }
                },
            ),
        )
        .route(
            "/archive.pmtiles",
            axum::routing::get(move |headers: axum::http::HeaderMap| {
                let (archive, ranges) = (Arc::clone(&archive), Arc::clone(&ranges2));
                async move {
                    let range = headers
                        .get("range")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|r| r.strip_prefix("bytes="));
                    let Some((a, b)) = range.and_then(|r| r.split_once('-')) else {
                        return (StatusCode::OK, archive.as_ref().clone()).into_response();
                    };
                    ranges.fetch_add(1, Ordering::SeqCst);
                    let a: usize = a.parse().unwrap();
                    let b: usize = b.parse::<usize>().unwrap().min(archive.len() - 1);
                    (StatusCode::PARTIAL_CONTENT, archive[a..=b].to_vec()).into_response()
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Upstream {
        base,
        keys,
        hits,
        ranges,
        _task: task,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn url_template_upstream_faults_and_api_keys() {
    let up = fake_upstream().await;
    let template = format!(
        "{}/tiles/{{z}}/{{x}}/{{y}}.mvt?api_key={{api_key}}",
        up.base
    );
    // Each upstream column answers differently (hang, 500, garbage...): without neighbours,
    // so that a tile's render reads its own tile only and the counts below are exact.
    let s = Server::start(
        &[
            "--source",
            &template,
            "--cache",
            "none",
            "--upstream-timeout-ms",
            "1000",
            "--upstream-retries",
            "2",
            "--label-neighbours",
            "off",
        ],
        &[],
    );

    // Each request reaches upstream with its own key; one without a key carries none.
    let a = get(&s.url("/png/10/0/0.png?api_key=KEY-A-SECRET")).await;
    assert_eq!(a.status, 200, "{}", a.text());
    let b = get(&s.url("/png/10/0/1.png?api_key=KEY-B-SECRET")).await;
    assert_eq!(b.status, 200, "{}", b.text());
    let n = get(&s.url("/png/10/0/2.png")).await;
    assert_eq!(n.status, 200, "{}", n.text());
    let again_a = get(&s.url("/png/10/0/1.png?api_key=KEY-C-SECRET")).await;
    assert_eq!(again_a.status, 200);
    let keys = up.keys.lock().unwrap().clone();
    assert_eq!(
        keys,
        vec![
            ("10/0/0.mvt".to_string(), Some("KEY-A-SECRET".to_string())),
            ("10/0/1.mvt".to_string(), Some("KEY-B-SECRET".to_string())),
            ("10/0/2.mvt".to_string(), None),
            ("10/0/1.mvt".to_string(), Some("KEY-C-SECRET".to_string())),
        ]
    );

    // The source tile over /mvt, inflated.
    let mvt = get(&s.url("/mvt/10/0/0.mvt")).await;
    assert_eq!(mvt.status, 200);
    let fixture =
        std::fs::read(repo().join("tests/fixtures/tiles/nextzen-10-301-384.mvt")).unwrap();
    let mut raw = Vec::new();
    if fixture.starts_with(&[0x1f, 0x8b]) {
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&fixture[..]), &mut raw)
            .unwrap();
    } else {
        raw = fixture;
    }
    assert_eq!(mvt.body, raw);

    // gzip: in transit (Content-Encoding) and as stored (magic bytes).
    for x in [5, 6] {
        let m = get(&s.url(&format!("/mvt/10/{x}/0.mvt"))).await;
        assert_eq!(
            (m.status, m.body == raw),
            (200, true),
            "x={x}: {}",
            m.status
        );
        let p = get(&s.url(&format!("/png/10/{x}/0.png"))).await;
        assert_eq!(p.status, 200, "x={x}: {}", p.text());
        assert_eq!(
            p.header("etag"),
            a.header("etag"),
            "x={x}: the same tile as the raw one"
        );
    }

    // A hanging upstream: 502 within the timeout (not retried).
    let started = Instant::now();
    let hang = get(&s.url("/png/10/1/0.png")).await;
    let took = started.elapsed();
    assert_eq!(hang.status, 502, "{}", hang.text());
    assert!(hang.text().contains("timed out"), "{}", hang.text());
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "took {took:?}"
    );

    // 500: retried twice with back-off, then 502.
    let fail = get(&s.url("/png/10/2/0.png")).await;
    assert_eq!(fail.status, 502, "{}", fail.text());
    assert!(fail.text().contains("500"), "{}", fail.text());
    assert_eq!(
        up.hits.lock().unwrap()[&2],
        3,
        "one attempt and two retries"
    );

    // Garbage: 502 "not a tile" for rendered formats and for /mvt.
    for path in [
        "/png/10/3/0.png",
        "/svg/10/3/0.svg",
        "/geojson/10/3/0.geojson",
        "/mvt/10/3/0.mvt",
    ] {
        let g = get(&s.url(path)).await;
        assert_eq!(g.status, 502, "{path}: {}", g.text());
        assert!(g.text().contains("not a"), "{path}: {}", g.text());
    }

    // 404 upstream: no tile there, an empty tile drawn.
    let empty = get(&s.url("/png/10/4/0.png")).await;
    assert_eq!(empty.status, 200, "{}", empty.text());
    assert_eq!(get(&s.url("/mvt/10/4/0.mvt")).await.status, 204);

    // Still serving after all that; the keys never reach the log.
    assert_eq!(get(&s.url("/healthz")).await.status, 200);
    assert_eq!(get(&s.url("/png/10/0/3.png")).await.status, 200);
    let log = s.log_text();
    assert!(
        !log.contains("SECRET"),
        "an API key leaked into the log:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pmtiles_over_http_range_requests() {
    let up = fake_upstream().await;
    let s = Server::start(
        &[
            "--source",
            &format!("{}/archive.pmtiles", up.base),
            "--cache",
            "none",
            "--style",
            "omt",
        ],
        &[],
    );
    let local = Server::start(
        &[
            "--source",
            repo()
                .join("tests/fixtures/archives/monaco-2023-omt.pmtiles")
                .to_str()
                .unwrap(),
            "--cache",
            "none",
            "--style",
            "omt",
        ],
        &[],
    );
    let tj: serde_json::Value =
        serde_json::from_slice(&get(&s.url("/tilejson.json")).await.body).unwrap();
    let t = tile_at(7.4246, 43.7384, tj["maxzoom"].as_u64().unwrap() as u8 - 6);
    let remote = get(&s.url(&tile_path("png", t, ""))).await;
    assert_eq!(remote.status, 200, "{}", remote.text());
    assert_eq!(
        remote.header("etag"),
        get(&local.url(&tile_path("png", t, "")))
            .await
            .header("etag")
    );
    assert!(
        up.ranges.load(Ordering::SeqCst) >= 2,
        "header and tile read with range requests"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn fifty_concurrent_requests_render_once() {
    let s = Server::start(&["--cache", "memory"], &[]);
    let t = tile_at(FIRENZE.0, FIRENZE.1, 15);
    let url = s.url(&tile_path("png", t, ""));
    let c = client();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (c, url) = (c.clone(), url.clone());
        tasks.push(tokio::spawn(async move { get_with(&c, &url, &[]).await }));
    }
    let mut statuses: HashMap<String, usize> = HashMap::new();
    let mut etags = std::collections::HashSet::new();
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        *statuses
            .entry(r.header("x-rasterzen-cache").to_string())
            .or_default() += 1;
        etags.insert(r.header("etag").to_string());
    }
    assert_eq!(
        statuses.get("miss"),
        Some(&1),
        "exactly one request renders: {statuses:?}"
    );
    assert_eq!(etags.len(), 1);
    let m = get(&s.url("/metrics")).await.text();
    assert_eq!(metric(&m, "rasterzen_renders_total"), 1, "{m}");
    // Its data and its neighbours' (their ancestors at the archive's z14, as it is overzoomed):
    // each distinct source tile read once.
    let sources: std::collections::HashSet<(i64, i64)> = (-1i64..=1)
        .flat_map(|dy| {
            (-1i64..=1).map(move |dx| ((i64::from(t.1) + dx) >> 1, (i64::from(t.2) + dy) >> 1))
        })
        .collect();
    assert_eq!(
        metric(&m, "rasterzen_upstream_fetches_total"),
        sources.len() as u64,
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn saturated_pool_answers_503_with_retry_after() {
    let s = Server::start(
        &[
            "--cache",
            "none",
            "--render-workers",
            "1",
            "--render-queue",
            "1",
            "--style",
            "default",
        ],
        &[],
    );
    let c = client();
    let mut tasks = Vec::new();
    let (_, x0, y0) = tile_at(FIRENZE.0, FIRENZE.1, 16);
    for i in 0..24u32 {
        let url = s.url(&format!("/png/16/{}/{}@2x.png", x0 + i % 6, y0 + i / 6));
        let c = c.clone();
        tasks.push(tokio::spawn(async move { get_with(&c, &url, &[]).await }));
    }
    let (mut ok, mut busy) = (0, 0);
    for t in tasks {
        let r = t.await.unwrap();
        match r.status {
            200 => ok += 1,
            503 => {
                busy += 1;
                assert_eq!(r.header("retry-after"), "1");
                assert!(r.text().contains("overloaded"));
            }
            other => panic!("unexpected {other}: {}", r.text()),
        }
    }
    assert!(ok >= 2 && busy >= 1, "ok {ok}, 503 {busy}");
    let after = get(&s.url(&format!("/png/16/{x0}/{y0}.png"))).await;
    assert_eq!(after.status, 200, "serves again once the burst is over");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fs_cache_hits_purges_and_survives_faults() {
    let dir = Scratch::new("fscache");
    let spec = format!("fs:{}", dir.0.display());
    let s = Server::start(&["--cache", &spec], &[]);
    let t = tile_at(FIRENZE.0, FIRENZE.1, 14);
    let first = get(&s.url(&tile_path("png", t, ""))).await;
    assert_eq!(first.header("x-rasterzen-cache"), "miss");
    let files: Vec<PathBuf> = walk(&dir.0);
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0]
        .to_string_lossy()
        .ends_with(&format!("/png-512@1x/14/{}/{}.png", t.1, t.2)));
    assert_eq!(std::fs::read(&files[0]).unwrap(), first.body);
    let second = get(&s.url(&tile_path("png", t, ""))).await;
    assert_eq!(second.header("x-rasterzen-cache"), "hit");

    // `cache purge PREFIX`: the source's tiles go.
    let rel = files[0]
        .strip_prefix(&dir.0)
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let source_prefix = format!("{}/", rel.split('/').next().unwrap());
    let out = Command::new(BIN)
        .args(["cache", "purge", &source_prefix, "--cache", &spec])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("removed 1"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(walk(&dir.0).is_empty());
    let third = get(&s.url(&tile_path("png", t, ""))).await;
    assert_eq!(third.header("x-rasterzen-cache"), "miss");
    let none = Command::new(BIN)
        .args(["cache", "purge", "--cache", &spec])
        .output()
        .unwrap();
    assert!(
        !none.status.success(),
        "purge without a prefix or --all refuses"
    );

    // A cache that cannot be written (its directory is a file): tiles are served anyway.
    let blocker = dir.0.join("not-a-dir");
    std::fs::write(&blocker, b"x").unwrap();
    let broken = Server::start(&["--cache", &format!("fs:{}", blocker.display())], &[]);
    let r = get(&broken.url(&tile_path("png", t, ""))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let log = broken.log_text();
    assert!(
        log.contains("WARN") && log.contains("cache write failed"),
        "{log}"
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_cache_against_moto() {
    let mut moto = Moto::start();
    let s3 = s3_client(&moto.endpoint);
    s3.create_bucket()
        .bucket("tiles")
        .send()
        .await
        .expect("create bucket in moto");
    let env = s3_env(&moto.endpoint);
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let s = Server::start(
        &[
            "--cache",
            "s3://tiles/cache/v1",
            "--cache-acl",
            "public-read",
            "--cache-control",
            "public, max-age=600",
        ],
        &env_refs,
    );
    let t = tile_at(FIRENZE.0, FIRENZE.1, 14);
    let first = get(&s.url(&tile_path("png", t, ""))).await;
    assert_eq!(
        (first.status, first.header("x-rasterzen-cache")),
        (200, "miss"),
        "{}",
        first.text()
    );
    assert_eq!(first.header("cache-control"), "public, max-age=600");

    let keys = list_keys(&s3, "tiles", "cache/v1/").await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(
        keys[0].ends_with(&format!("/png-512@1x/14/{}/{}.png", t.1, t.2)),
        "{keys:?}"
    );
    let head = s3
        .head_object()
        .bucket("tiles")
        .key(&keys[0])
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("image/png"));
    assert_eq!(head.cache_control(), Some("public, max-age=600"));
    assert_eq!(head.content_length(), Some(first.body.len() as i64));
    let acl = s3
        .get_object_acl()
        .bucket("tiles")
        .key(&keys[0])
        .send()
        .await
        .unwrap();
    assert!(
        acl.grants().iter().any(|g| g
            .grantee()
            .and_then(|g| g.uri())
            .is_some_and(|u| u.ends_with("/AllUsers"))),
        "public-read ACL: {acl:?}"
    );

    let second = get(&s.url(&tile_path("png", t, ""))).await;
    assert_eq!(second.header("x-rasterzen-cache"), "hit");
    assert_eq!(second.body, first.body);

    // `cache purge --all` empties the prefix (and nothing outside it).
    s3.put_object()
        .bucket("tiles")
        .key("other/keep.txt")
        .body(b"keep".to_vec().into())
        .send()
        .await
        .unwrap();
    let out = Command::new(BIN)
        .args(["cache", "purge", "--all", "--cache", "s3://tiles/cache/v1"])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(list_keys(&s3, "tiles", "cache/v1/").await.is_empty());
    assert_eq!(list_keys(&s3, "tiles", "other/").await.len(), 1);
    let third = get(&s.url(&tile_path("png", t, ""))).await;
    assert_eq!(third.header("x-rasterzen-cache"), "miss");

    // A PMTiles archive read from the bucket with ranged GETs.
    let archive =
        std::fs::read(repo().join("tests/fixtures/archives/monaco-2023-omt.pmtiles")).unwrap();
    s3.put_object()
        .bucket("tiles")
        .key("archives/monaco.pmtiles")
        .body(archive.into())
        .send()
        .await
        .unwrap();
    let from_s3 = Server::start(
        &[
            "--source",
            "s3://tiles/archives/monaco.pmtiles",
            "--cache",
            "none",
            "--style",
            "omt",
        ],
        &env_refs,
    );
    let tj: serde_json::Value =
        serde_json::from_slice(&get(&from_s3.url("/tilejson.json")).await.body).unwrap();
    assert_eq!(
        tj["name"].as_str().map(|n| !n.is_empty()),
        Some(true),
        "{tj}"
    );
    let mt = tile_at(7.4246, 43.7384, tj["maxzoom"].as_u64().unwrap() as u8 - 6);
    let m = get(&from_s3.url(&tile_path("png", mt, ""))).await;
    assert_eq!(m.status, 200, "{}", m.text());
    drop(from_s3);

    // S3 goes away: tiles are still rendered and served, with a warning in the log.
    moto.stop();
    let t2 = tile_at(FIRENZE.0, FIRENZE.1, 15);
    let started = Instant::now();
    let during = get(&s.url(&tile_path("png", t2, ""))).await;
    assert_eq!(during.status, 200, "{}", during.text());
    assert!(started.elapsed() < Duration::from_secs(20));
    let again = get(&s.url(&tile_path("png", t, ""))).await;
    assert_eq!(again.status, 200);
    let log = s.log_text();
    assert!(log.contains("WARN") && log.contains("s3"), "{log}");
}

/// Text-like answers (MVT, GeoJSON, SVG, TileJSON) are compressed with gzip or br when the
/// client accepts it, and decompress (with decoders we did not write) to exactly the bytes an
/// uncompressing client gets; PNGs are never compressed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn text_answers_are_compressed_when_the_client_accepts_it() {
    use std::io::Read as _;
    let s = Server::start(&[], &[]);
    // No transparent decompression: the test sees the bytes on the wire.
    let c = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .no_gzip()
        .no_brotli()
        .no_deflate()
        .build()
        .unwrap();
    let t = tile_at(11.2558, 43.7696, 14);
    for path in [
        tile_path("mvt", t, ""),
        tile_path("geojson", t, ""),
        tile_path("svg", t, ""),
        "/tilejson.json".to_string(),
    ] {
        let plain = get_with(&c, &s.url(&path), &[]).await;
        assert_eq!(plain.status, 200, "{path}: {}", plain.text());
        assert_eq!(
            plain.header("content-encoding"),
            "",
            "{path}: not asked for"
        );
        let gz = get_with(&c, &s.url(&path), &[("accept-encoding", "gzip")]).await;
        assert_eq!(gz.header("content-encoding"), "gzip", "{path}");
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&gz.body[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, plain.body, "{path}: gzip");
        let br = get_with(&c, &s.url(&path), &[("accept-encoding", "br, gzip")]).await;
        assert_eq!(br.header("content-encoding"), "br", "{path}");
        let mut out = Vec::new();
        brotli::Decompressor::new(&br.body[..], 4096)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, plain.body, "{path}: br");
        if path.starts_with("/mvt") {
            assert!(
                br.body.len() * 3 < plain.body.len() * 2,
                "{path}: {} → {} bytes",
                plain.body.len(),
                br.body.len()
            );
        }
    }
    let png = get_with(
        &c,
        &s.url(&tile_path("png", t, "")),
        &[("accept-encoding", "gzip, br")],
    )
    .await;
    assert_eq!(png.status, 200);
    assert_eq!(
        png.header("content-encoding"),
        "",
        "PNGs are not compressed again"
    );
    assert_eq!(&png.body[..4], b"\x89PNG");
}

/// Every file under `dir`, as paths relative to it.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out
}

/// `rasterzen render` of one tile of the embedded archive, with or without `--neighbours`.
fn cli_render(
    scratch: &Path,
    t: (u8, u32, u32),
    data: &[u8],
    neighbours: Option<&Path>,
) -> Vec<u8> {
    let input = scratch.join(format!("{}-{}-{}.mvt", t.0, t.1, t.2));
    std::fs::write(&input, data).unwrap();
    let out = scratch.join("out.png");
    let tile = format!("{}/{}/{}", t.0, t.1, t.2);
    let mut cmd = Command::new(BIN);
    cmd.args([
        "render",
        "--input",
        input.to_str().unwrap(),
        "--tile",
        &tile,
        "-o",
    ])
    .arg(&out);
    if let Some(n) = neighbours {
        cmd.arg("--neighbours").arg(n);
    }
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "render {tile}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::read(&out).unwrap()
}

/// Labelled tiles are drawn from their own data and their eight neighbours' (labels crossing
/// an edge are decided from the data both tiles share): over the 3×3 block of z14 tiles at
/// Florence's centre, every served tile is byte for byte what `rasterzen render --neighbours
/// ARCHIVE` makes, some differ from a render without neighbours (their labels cross an edge),
/// and their cache keys say they were drawn with neighbours.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn labelled_tiles_are_drawn_with_their_neighbours() {
    let cache = Scratch::new("nbcache");
    let spec = format!("fs:{}", cache.0.display());
    let s = Server::start(&["--cache", &spec], &[]);
    let archive_path = repo().join("host/assets/firenze.pmtiles");
    let entries = pmtiles::read_all(&std::fs::read(&archive_path).unwrap());
    let scratch = Scratch::new("nbrender");
    let centre = tile_at(FIRENZE.0, FIRENZE.1, 14);
    let mut differ = Vec::new();
    for dy in -1i64..=1 {
        for dx in -1i64..=1 {
            let t = (
                14,
                (i64::from(centre.1) + dx) as u32,
                (i64::from(centre.2) + dy) as u32,
            );
            let data = &entries
                .iter()
                .find(|e| (e.z, e.x, e.y) == t)
                .unwrap_or_else(|| panic!("{t:?} is in the archive"))
                .data;
            let served = get(&s.url(&tile_path("png", t, ""))).await;
            assert_eq!(served.status, 200, "{}", served.text());
            assert_eq!(served.header("x-rasterzen-partial"), "", "{t:?}");
            assert_eq!(served.header("cache-control"), "public, max-age=86400");
            let with = cli_render(&scratch.0, t, data, Some(&archive_path));
            assert!(
                served.body == with,
                "{t:?}: the served tile is what `render --neighbours` makes"
            );
            if cli_render(&scratch.0, t, data, None) != with {
                differ.push(t);
            }
        }
    }
    assert!(
        !differ.is_empty(),
        "some tile of central Florence has a label crossing an edge, drawn differently without neighbours"
    );
    eprintln!("tiles whose labels cross an edge: {differ:?}");
    let keys = files_under(&cache.0);
    let pngs: Vec<&String> = keys.iter().filter(|k| k.ends_with(".png")).collect();
    assert_eq!(pngs.len(), 9, "{keys:?}");
    assert!(
        pngs.iter()
            .all(|k| k.split('/').any(|c| c.ends_with("+nb"))),
        "keys say the tiles were drawn with neighbours: {pngs:?}"
    );
}

/// A tile whose neighbour cannot be fetched is drawn without it, marked, sent with a short
/// cache lifetime and never cached; once the neighbour is back, the tile is drawn whole
/// (exactly as a server reading the archive directly draws it) and cached.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tile_whose_neighbour_fails_is_not_cached() {
    use axum::extract::Path as AxPath;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use std::sync::atomic::AtomicBool;
    let archive = std::fs::read(repo().join("host/assets/firenze.pmtiles")).unwrap();
    let tiles: Arc<HashMap<(u8, u32, u32), Vec<u8>>> = Arc::new(
        pmtiles::read_all(&archive)
            .into_iter()
            .map(|e| ((e.z, e.x, e.y), e.data))
            .collect(),
    );
    let centre = tile_at(FIRENZE.0, FIRENZE.1, 14);
    let east = (14, centre.1 + 1, centre.2);
    let broken = Arc::new(AtomicBool::new(true));
    let b2 = Arc::clone(&broken);
    let app = axum::Router::new().route(
        "/t/{z}/{x}/{y}",
        axum::routing::get(move |AxPath((z, x, y)): AxPath<(u8, u32, String)>| {
            let (tiles, broken) = (Arc::clone(&tiles), Arc::clone(&b2));
            async move {
                let y: u32 = y.trim_end_matches(".mvt").parse().unwrap();
                if (z, x, y) == east && broken.load(Ordering::SeqCst) {
                    return (StatusCode::INTERNAL_SERVER_ERROR, "down").into_response();
                }
                match tiles.get(&(z, x, y)) {
                    Some(d) => (StatusCode::OK, d.clone()).into_response(),
                    None => StatusCode::NOT_FOUND.into_response(),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let _upstream = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let template = format!("{base}/t/{{z}}/{{x}}/{{y}}.mvt");
    let s = Server::start(
        &[
            "--source",
            &template,
            "--source-maxzoom",
            "14",
            "--cache",
            "memory",
            "--upstream-retries",
            "0",
        ],
        &[],
    );
    let path = tile_path("png", centre, "");
    for round in 0..2 {
        let r = get(&s.url(&path)).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(
            r.header("x-rasterzen-partial"),
            "neighbours",
            "round {round}"
        );
        assert_eq!(
            r.header("cache-control"),
            "public, max-age=60",
            "round {round}"
        );
        assert_eq!(
            r.header("x-rasterzen-cache"),
            "miss",
            "round {round}: never cached"
        );
    }
    assert!(
        s.log_text().contains("a neighbour could not be fetched"),
        "the failure is logged"
    );
    broken.store(false, Ordering::SeqCst);
    let whole = get(&s.url(&path)).await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.header("x-rasterzen-partial"), "");
    assert_eq!(whole.header("cache-control"), "public, max-age=86400");
    assert_eq!(get(&s.url(&path)).await.header("x-rasterzen-cache"), "hit");
    let local = Server::start(&["--cache", "none"], &[]);
    let direct = get(&local.url(&path)).await;
    assert!(
        whole.body == direct.body,
        "drawn whole, as from the archive itself"
    );
    let m = get(&s.url("/metrics")).await.text();
    assert_eq!(metric(&m, "rasterzen_partial_tiles_total"), 2, "{m}");
}
