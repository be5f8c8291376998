//! End-to-end tests of issue 15's formats and GIS paths on the real binary over HTTP: WebP and
//! JPEG tiles (checked with the `image` crate's decoders, which we did not write), TileJSON
//! and `serve --format`, `render --format webp|jpg`, WMTS capabilities (parsed with roxmltree
//! and read by GDAL's own WMTS driver), `serve --outside`, and static map images against the
//! stitched tiles.
//!
//! GDAL: `gdalinfo` and `gdal_translate` from Debian's `gdal-bin` (`.ci/run` installs it); the
//! GDAL test fails with that hint when they are missing, it never skips.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use sha2::{Digest, Sha256};

#[path = "support/harness.rs"]
mod harness;
use harness::{gdal, gdal_cache, gdal_tile_ground, Scratch, Server, BIN};

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

async fn get_with(url: &str, headers: &[(&str, &str)]) -> Got {
    let c = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let mut req = c.get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    Got {
        status: res.status().as_u16(),
        headers: res.headers().clone(),
        body: res.bytes().await.unwrap().to_vec(),
    }
}

async fn get(url: &str) -> Got {
    get_with(url, &[]).await
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

/// Decodes with the `image` crate (not our code) to RGBA8.
fn decode(bytes: &[u8], format: image::ImageFormat) -> image::RgbaImage {
    image::load_from_memory_with_format(bytes, format)
        .unwrap_or_else(|e| panic!("{format:?} does not decode: {e}"))
        .to_rgba8()
}

/// The dense tile of central Florence (tests/reference/florence-z14-centre-default).
const DENSE: (u8, u32, u32) = (14, 8704, 5971);

/// A server on the embedded Florence archive with the native engine (the formats are made
/// by the host, whatever the engine) and a filesystem cache we can look into.
fn server(extra: &[&str]) -> (Server, Scratch) {
    let cache = Scratch::new("formats-cache");
    let spec = format!("fs:{}", cache.0.display());
    let mut args = vec!["--engine", "native", "--cache", &spec];
    args.extend_from_slice(extra);
    (Server::start(&args, &[]), cache)
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn webp_and_jpeg_tiles_are_the_png_re_encoded() {
    let (s, cache) = server(&[]);
    let (z, x, y) = DENSE;
    for retina in ["", "@2x"] {
        let edge = if retina.is_empty() { 512 } else { 1024 };
        let png = get(&s.url(&format!("/png/{z}/{x}/{y}{retina}.png"))).await;
        assert_eq!(png.status, 200, "{}", png.text());
        let want = decode(&png.body, image::ImageFormat::Png);
        assert_eq!(want.dimensions(), (edge, edge));

        let webp = get(&s.url(&format!("/webp/{z}/{x}/{y}{retina}.webp"))).await;
        assert_eq!(webp.status, 200, "{}", webp.text());
        assert_eq!(webp.header("content-type"), "image/webp");
        assert_eq!(webp.header("x-rasterzen-cache"), "miss");
        assert!(&webp.body[8..16] == b"WEBPVP8L", "lossless WebP (VP8L)");
        let got = decode(&webp.body, image::ImageFormat::WebP);
        assert_eq!(got.dimensions(), (edge, edge));
        assert!(
            got == want,
            "lossless WebP decodes to exactly the PNG's pixels"
        );
        assert!(
            webp.body.len() < png.body.len(),
            "WebP {} bytes, PNG {}",
            webp.body.len(),
            png.body.len()
        );

        let jpg = get(&s.url(&format!("/jpg/{z}/{x}/{y}{retina}.jpg"))).await;
        assert_eq!(jpg.status, 200, "{}", jpg.text());
        assert_eq!(jpg.header("content-type"), "image/jpeg");
        assert!(jpg.body.starts_with(&[0xFF, 0xD8, 0xFF]));
        let got = decode(&jpg.body, image::ImageFormat::Jpeg);
        assert_eq!(got.dimensions(), (edge, edge));
        // Lossy, but the same picture: the mean error per channel is small.
        let err: u64 = got
            .as_raw()
            .iter()
            .zip(want.as_raw())
            .map(|(a, b)| u64::from(a.abs_diff(*b)))
            .sum();
        let mean = err as f64 / got.as_raw().len() as f64;
        assert!(mean < 6.0, "JPEG mean error {mean:.2} per channel");

        // Each has its own strong ETag (sha256 of its body), 304, and is cached under its own key.
        for (t, path) in [
            (&webp, format!("/webp/{z}/{x}/{y}{retina}.webp")),
            (&jpg, format!("/jpg/{z}/{x}/{y}{retina}.jpg")),
        ] {
            assert_eq!(t.header("etag"), sha256_etag(&t.body), "{path}");
            assert_ne!(t.header("etag"), png.header("etag"), "{path}");
            assert_eq!(t.header("cache-control"), "public, max-age=86400");
            assert!(!t.header("x-rasterzen-renderer").is_empty(), "{path}");
            assert_eq!(t.header("access-control-allow-origin"), "*");
            let again = get(&s.url(&path)).await;
            assert_eq!(again.header("x-rasterzen-cache"), "hit", "{path}");
            assert!(again.body == t.body, "{path}: same bytes from the cache");
            let nm = get_with(&s.url(&path), &[("if-none-match", t.header("etag"))]).await;
            assert_eq!(nm.status, 304, "{path}");
            assert!(nm.body.is_empty());
            assert_eq!(nm.header("etag"), t.header("etag"));
        }
        let scale = if retina.is_empty() { 1 } else { 2 };
        let files = files_under(&cache.0);
        for (variant, ext) in [("png", "png"), ("webp", "webp"), ("jpg.q85", "jpg")] {
            let tail = format!("/{variant}-512@{scale}x/{z}/{x}/{y}.{ext}");
            assert!(
                files.iter().any(|f| f.ends_with(&tail)),
                "no cache entry *{tail} in {files:?}"
            );
        }
    }
    // Bad paths keep their statuses on the new formats too.
    for (path, status) in [
        ("/webp/14/8704/5971.png", 400),
        ("/jpg/14/8704/5971@3x.jpg", 400),
        ("/jpg/a/b/c.jpg", 400),
        ("/webp/14/0/0.webp", 404),
        ("/webp/21/0/0.webp", 404),
    ] {
        let r = get(&s.url(path)).await;
        assert_eq!(r.status, status, "{path}: {}", r.text());
        assert!(!r.text().trim().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tilejson_advertises_the_formats_and_serve_format_picks_the_default() {
    let (s, _c) = server(&[]);
    let tj: serde_json::Value =
        serde_json::from_slice(&get(&s.url("/tilejson.json")).await.body).unwrap();
    assert_eq!(tj["format"], "png");
    for (q, ext) in [
        ("webp", "webp"),
        ("jpg", "jpg"),
        ("jpeg", "jpg"),
        ("svg", "svg"),
    ] {
        let r = get(&s.url(&format!("/tilejson.json?format={q}&scale=2&style=light"))).await;
        let doc: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(doc["format"], ext, "{q}");
        assert_eq!(
            doc["tiles"][0],
            format!("{}/{ext}/{{z}}/{{x}}/{{y}}@2x.{ext}?style=light", s.base)
        );
    }
    let bad = get(&s.url("/tilejson.json?format=gif")).await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert!(bad.text().contains("gif"));
    drop(s);

    let (s, _c) = server(&["--format", "webp"]);
    let tj: serde_json::Value =
        serde_json::from_slice(&get(&s.url("/tilejson.json")).await.body).unwrap();
    assert_eq!(tj["format"], "webp");
    assert_eq!(
        tj["tiles"][0],
        format!("{}/webp/{{z}}/{{x}}/{{y}}.webp", s.base)
    );
    let tj: serde_json::Value =
        serde_json::from_slice(&get(&s.url("/tilejson.json?format=png")).await.body).unwrap();
    assert_eq!(tj["format"], "png");
}

#[test]
fn render_makes_webp_and_jpeg() {
    let dir = Scratch::new("render-formats");
    let input = harness::repo().join("tests/reference/florence-z14-centre-default/tile.mvt");
    let run = |format: &str, out: &str| {
        let o = Command::new(BIN)
            .args(["render", "--engine", "native", "--input"])
            .arg(&input)
            .args(["--tile", "14/8704/5971", "--format", format, "-o"])
            .arg(dir.0.join(out))
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{format}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        std::fs::read(dir.0.join(out)).unwrap()
    };
    let png = decode(&run("png", "t.png"), image::ImageFormat::Png);
    let webp = decode(&run("webp", "t.webp"), image::ImageFormat::WebP);
    assert!(webp == png, "render --format webp is the PNG's pixels");
    let jpg = decode(&run("jpg", "t.jpg"), image::ImageFormat::Jpeg);
    assert_eq!(jpg.dimensions(), (512, 512));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_the_bounds_answers_as_configured() {
    // Far outside the Florence archive, at a zoom it has; and a tile inside.
    let outside = "/png/14/0/0.png";
    let inside = format!("/png/{}/{}/{}.png", DENSE.0, DENSE.1, DENSE.2);

    let (s, _c) = server(&[]);
    let r = get(&s.url(outside)).await;
    assert_eq!(r.status, 404, "the default stays 404: {}", r.text());
    assert!(r.text().contains("outside"));
    let inside_png = get(&s.url(&inside)).await.body;
    drop(s);

    let (s, _c) = server(&["--outside", "204"]);
    for path in [outside, "/webp/14/0/0.webp", "/jpg/14/0/0@2x.jpg"] {
        let r = get(&s.url(path)).await;
        assert_eq!(r.status, 204, "{path}: {}", r.text());
        assert!(r.body.is_empty());
    }
    assert_eq!(
        get(&s.url("/svg/14/0/0.svg")).await.status,
        404,
        "svg keeps 404"
    );
    assert_eq!(
        get(&s.url("/png/21/0/0.png")).await.status,
        404,
        "zooms keep 404"
    );
    let r = get(&s.url(&inside)).await;
    assert_eq!(r.status, 200);
    assert!(r.body == inside_png, "inside the bounds nothing changes");
    drop(s);

    // `empty`, by the environment: the style's background alone, one colour everywhere.
    let cache = Scratch::new("outside-empty");
    let spec = format!("fs:{}", cache.0.display());
    let s = Server::start(
        &["--engine", "native", "--cache", &spec],
        &[("RASTERZEN_OUTSIDE", "empty")],
    );
    let r = get(&s.url(outside)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), "image/png");
    assert_eq!(r.header("etag"), sha256_etag(&r.body));
    let img = decode(&r.body, image::ImageFormat::Png);
    assert_eq!(img.dimensions(), (512, 512));
    let first = *img.get_pixel(0, 0);
    assert!(
        img.pixels().all(|p| *p == first),
        "an empty tile is the background alone"
    );
    let webp = get(&s.url("/webp/14/0/0.webp")).await;
    assert_eq!(webp.status, 200);
    assert!(decode(&webp.body, image::ImageFormat::WebP) == img);
    let r = get(&s.url(&inside)).await;
    assert!(r.body == inside_png, "inside the bounds nothing changes");
}

/// Stitches decoded tiles `cols × rows` (row-major) into one image.
fn stitch(tiles: &[image::RgbaImage], cols: u32) -> image::RgbaImage {
    let t = tiles[0].width();
    let rows = tiles.len() as u32 / cols;
    let mut out = image::RgbaImage::new(t * cols, t * rows);
    for (i, tile) in tiles.iter().enumerate() {
        let (c, r) = (i as u32 % cols, i as u32 / cols);
        image::imageops::replace(&mut out, tile, i64::from(c * t), i64::from(r * t));
    }
    out
}

/// West, south, east, north of tiles `x0..=x1`, `y0..=y1` at zoom `z`, in degrees.
fn tiles_bbox(z: u8, x0: u32, y0: u32, x1: u32, y1: u32) -> [f64; 4] {
    let n = 2f64.powi(i32::from(z));
    let lon = |x: u32| f64::from(x) / n * 360.0 - 180.0;
    let lat = |y: u32| {
        (std::f64::consts::PI * (1.0 - 2.0 * f64::from(y) / n))
            .sinh()
            .atan()
            .to_degrees()
    };
    [lon(x0), lat(y1 + 1), lon(x1 + 1), lat(y0)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn static_images_are_the_stitched_tiles() {
    let (s, _c) = server(&[]);
    let (z, x0, y0) = DENSE;
    let mut tiles = Vec::new();
    let mut tiles2 = Vec::new();
    for y in y0..y0 + 2 {
        for x in x0..x0 + 2 {
            for (retina, into) in [("", &mut tiles), ("@2x", &mut tiles2)] {
                let t = get(&s.url(&format!("/png/{z}/{x}/{y}{retina}.png"))).await;
                assert_eq!(t.status, 200);
                into.push(decode(&t.body, image::ImageFormat::Png));
            }
        }
    }
    let want = stitch(&tiles, 2);
    let want2 = stitch(&tiles2, 2);
    let [w, so, e, n] = tiles_bbox(z, x0, y0, x0 + 1, y0 + 1);
    let bbox = format!("{w},{so},{e},{n}");

    let img = get(&s.url(&format!("/static/{bbox}/1024x1024.png"))).await;
    assert_eq!(img.status, 200, "{}", img.text());
    assert_eq!(img.header("content-type"), "image/png");
    let got = decode(&img.body, image::ImageFormat::Png);
    assert_eq!(got.dimensions(), (1024, 1024));
    assert!(
        got == want,
        "a tile-aligned box is its tiles, pixel for pixel"
    );
    assert_eq!(img.header("etag"), sha256_etag(&img.body));
    assert!(!img.header("x-rasterzen-renderer").is_empty());
    let nm = get_with(
        &s.url(&format!("/static/{bbox}/1024x1024.png")),
        &[("if-none-match", img.header("etag"))],
    )
    .await;
    assert_eq!(nm.status, 304);

    let img2 = get(&s.url(&format!("/static/{bbox}/1024x1024@2x.png"))).await;
    assert_eq!(img2.status, 200, "{}", img2.text());
    assert!(
        decode(&img2.body, image::ImageFormat::Png) == want2,
        "@2x: the @2x tiles, pixel for pixel"
    );

    // The centre form at the tiles' zoom: a crop of the same pixels (centre on a tile corner).
    let corner = tiles_bbox(z, x0 + 1, y0 + 1, x0 + 1, y0 + 1);
    let centre = format!("{},{},{z}", corner[0], corner[3]);
    let img = get(&s.url(&format!("/static/{centre}/600x400.png"))).await;
    assert_eq!(img.status, 200, "{}", img.text());
    let got = decode(&img.body, image::ImageFormat::Png);
    let crop = image::imageops::crop_imm(&want, 512 - 300, 512 - 200, 600, 400).to_image();
    assert!(got == crop, "the centre form at an integer zoom is a crop");

    // A fractional zoom: the z14 tiles scaled by 2^-0.5, the right size, the same colours.
    let img = get(&s.url(&format!(
        "/static/{},{},13.5/300x200.webp",
        corner[0], corner[3]
    )))
    .await;
    assert_eq!(img.status, 200, "{}", img.text());
    assert_eq!(img.header("content-type"), "image/webp");
    let got = decode(&img.body, image::ImageFormat::WebP);
    assert_eq!(got.dimensions(), (300, 200));
    let mean = |im: &image::RgbaImage| {
        let s: u64 = im.as_raw().iter().map(|v| u64::from(*v)).sum();
        s as f64 / im.as_raw().len() as f64
    };
    let centre_crop = image::imageops::crop_imm(&want, 512 - 212, 512 - 141, 424, 282).to_image();
    assert!(
        (mean(&got) - mean(&centre_crop)).abs() < 4.0,
        "scaled view keeps the picture: {} vs {}",
        mean(&got),
        mean(&centre_crop)
    );

    // A box that is not tile-aligned, as a JPEG: fitted to the size.
    let img = get(&s.url("/static/11.24,43.76,11.27,43.78/400x300.jpg")).await;
    assert_eq!(img.status, 200, "{}", img.text());
    assert_eq!(
        decode(&img.body, image::ImageFormat::Jpeg).dimensions(),
        (400, 300)
    );

    for path in [
        "/static/11.3,43.7,11.2,43.8/100x100.png", // west > east
        "/static/11.2,43.8,11.3,43.7/100x100.png", // south > north
        "/static/11.2,43.7/100x100.png",           // two numbers
        "/static/a,b,c/100x100.png",               // not numbers
        "/static/11.25,43.77,14/3000x100.png",     // too large
        "/static/11.25,43.77,14/1100x100@2x.png",  // too large in device pixels
        "/static/11.25,43.77,14/0x100.png",        // empty
        "/static/11.25,43.77,14/100x100.gif",      // format
        "/static/11.25,43.77,14/100by100.png",     // size
        "/static/11.25,43.77,21/100x100.png",      // above the overzoom limit (14 + 6)
        "/static/11.25,43.77,14/100x100.png?style=nope", // unknown style
    ] {
        let r = get(&s.url(path)).await;
        assert_eq!(r.status, 400, "{path}: {}", r.text());
        let t = r.text();
        assert!(
            !t.trim().is_empty() && t.trim().lines().count() == 1,
            "{path}: {t}"
        );
    }
    // Outside the source: transparent, not an error (the tiles there are 404).
    let img = get(&s.url("/static/-70,40,10/64x64.png")).await;
    assert_eq!(img.status, 200, "{}", img.text());
    assert!(decode(&img.body, image::ImageFormat::Png)
        .pixels()
        .all(|p| p[3] == 0));
}

const WMTS: &str = "http://www.opengis.net/wmts/1.0";
const OWS: &str = "http://www.opengis.net/ows/1.1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wmts_capabilities_describe_the_tiles() {
    let (s, _c) = server(&[]);
    let r = get(&s.url("/wmts.xml?style=light")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.header("content-type").starts_with("application/xml"));
    let text = r.text();
    let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
    let layer = doc
        .descendants()
        .find(|n| n.has_tag_name((WMTS, "Layer")))
        .expect("a Layer");
    let tj: serde_json::Value =
        serde_json::from_slice(&get(&s.url("/tilejson.json")).await.body).unwrap();
    let bbox = layer
        .children()
        .find(|n| n.has_tag_name((OWS, "WGS84BoundingBox")))
        .unwrap();
    let corner = |name: &str| -> Vec<f64> {
        bbox.children()
            .find(|n| n.has_tag_name((OWS, name)))
            .unwrap()
            .text()
            .unwrap()
            .split(' ')
            .map(|v| v.parse().unwrap())
            .collect()
    };
    let b: Vec<f64> = tj["bounds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(corner("LowerCorner"), [b[0], b[1]], "the source's bounds");
    assert_eq!(corner("UpperCorner"), [b[2], b[3]]);
    let urls: Vec<&str> = layer
        .children()
        .filter(|n| n.has_tag_name((WMTS, "ResourceURL")))
        .map(|n| n.attribute("template").unwrap())
        .collect();
    assert_eq!(
        urls,
        [
            format!(
                "{}/png/{{TileMatrix}}/{{TileCol}}/{{TileRow}}.png?style=light",
                s.base
            ),
            format!(
                "{}/webp/{{TileMatrix}}/{{TileCol}}/{{TileRow}}.webp?style=light",
                s.base
            ),
            format!(
                "{}/jpg/{{TileMatrix}}/{{TileCol}}/{{TileRow}}.jpg?style=light",
                s.base
            ),
        ]
    );
    let matrices = doc
        .descendants()
        .filter(|n| {
            n.has_tag_name((WMTS, "TileMatrix"))
                && n.parent()
                    .is_some_and(|p| p.has_tag_name((WMTS, "TileMatrixSet")))
        })
        .count();
    assert_eq!(matrices, 21, "zooms 0 to 14 + 6 overzoom levels");
    assert_eq!(get(&s.url("/wmts.xml?format=gif")).await.status, 400);
    let webp_first = get(&s.url("/wmts.xml?format=webp")).await.text();
    assert!(
        webp_first.find("image/webp").unwrap() < webp_first.find("image/png").unwrap(),
        "?format= puts its format first"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gdal_reads_the_wmts_layer_exactly() {
    let (s, _c) = server(&["--outside", "204"]);
    let caps = format!("WMTS:{}/wmts.xml", s.base);
    let info = gdal("gdalinfo", &["-json", "-nofl", &caps]);
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).expect("gdalinfo -json");
    let wkt = info["coordinateSystem"]["wkt"].as_str().unwrap_or_default();
    assert!(
        wkt.contains("3857") || wkt.contains("Pseudo-Mercator"),
        "{wkt}"
    );
    let gt: Vec<f64> = info["geoTransform"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    // Full resolution is the deepest matrix (zoom 20) of 512-px tiles.
    let res = 2.0 * std::f64::consts::PI * 6_378_137.0 / (512.0 * 2f64.powi(20));
    assert!(
        (gt[1] - res).abs() < 1e-9 && (gt[5] + res).abs() < 1e-9,
        "{gt:?}"
    );
    let bands = info["bands"].as_array().unwrap();
    assert_eq!(bands.len(), 4, "RGBA");
    // The extent is the source's bounds widened to whole zoom-20 tiles (so GDAL's pixels are
    // the tiles' pixels at every level).
    let tj: serde_json::Value =
        serde_json::from_slice(&get(&s.url("/tilejson.json")).await.body).unwrap();
    let half = 20_037_508.342_789_244;
    let merc_x = |lon: f64| lon / 180.0 * half;
    let merc_y = |lat: f64| {
        (std::f64::consts::FRAC_PI_4 + lat.to_radians() / 2.0)
            .tan()
            .ln()
            / std::f64::consts::PI
            * half
    };
    let (w, n) = (
        tj["bounds"][0].as_f64().unwrap(),
        tj["bounds"][3].as_f64().unwrap(),
    );
    let tile20 = 512.0 * res;
    assert!(
        gt[0] <= merc_x(w) && merc_x(w) - gt[0] < tile20,
        "west {} vs {}",
        gt[0],
        merc_x(w)
    );
    assert!(
        gt[3] >= merc_y(n) && gt[3] - merc_y(n) < tile20,
        "north {} vs {}",
        gt[3],
        merc_y(n)
    );
    let on_grid = |v: f64| ((v + half) / tile20 - ((v + half) / tile20).round()).abs() < 1e-6;
    assert!(on_grid(gt[0]) && on_grid(-gt[3]), "on tile edges: {gt:?}");
    // Overviews are the coarser matrices, each half the size of the one above.
    let width = info["size"][0].as_f64().unwrap();
    let ov = bands[0]["overviews"].as_array().expect("overviews");
    assert!(ov.len() >= 8, "{ov:?}");
    assert!(
        (ov[0]["size"][0].as_f64().unwrap() - width / 2.0).abs() <= 1.0,
        "{ov:?}"
    );

    // One tile's ground at zoom 14, read through GDAL: exactly the tile.
    let (z, x, y) = DENSE;
    let dir = Scratch::new("gdal");
    let got = gdal_tile_ground(&caps, DENSE, &dir.0.join("t.png"));
    let want = decode(
        &get(&s.url(&format!("/png/{z}/{x}/{y}.png"))).await.body,
        image::ImageFormat::Png,
    );
    assert!(got == want, "GDAL's read of the tile's ground is the tile");
}

/// GDAL's TMS client (its WMS driver, a world-wide grid, as users set up XYZ layers) reading a
/// window across the data's west edge: on 404s it fails; with `--outside 204` the blocks
/// outside are empty, with `--outside empty` they are the background.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gdal_windows_across_the_edge_follow_the_outside_option() {
    // Five z14 tiles in a row, the first two west of the archive's bounds (west 11.154°).
    let (x0, y) = (8697u32, DENSE.2);
    let read = |base: &str, dir: &Path| {
        let xml = format!(
            "<GDAL_WMS><Service name=\"TMS\"><ServerUrl>{base}/png/${{z}}/${{x}}/${{y}}.png</ServerUrl></Service>\
             <DataWindow><UpperLeftX>-20037508.342789244</UpperLeftX><UpperLeftY>20037508.342789244</UpperLeftY>\
             <LowerRightX>20037508.342789244</LowerRightX><LowerRightY>-20037508.342789244</LowerRightY>\
             <TileLevel>14</TileLevel><TileCountX>1</TileCountX><TileCountY>1</TileCountY><YOrigin>top</YOrigin></DataWindow>\
             <Projection>EPSG:3857</Projection><BlockSizeX>512</BlockSizeX><BlockSizeY>512</BlockSizeY>\
             <BandsCount>4</BandsCount></GDAL_WMS>"
        );
        let def = dir.join("tms.xml");
        std::fs::write(&def, xml).unwrap();
        let out = dir.join("edge.png");
        let (xo, yo) = ((x0 * 512).to_string(), (y * 512).to_string());
        let o = Command::new("gdal_translate")
            .env("GDAL_DEFAULT_WMS_CACHE_PATH", gdal_cache())
            .args(["-q", "-of", "PNG", "-srcwin", &xo, &yo, "2560", "512"])
            .arg(&def)
            .arg(&out)
            .output()
            .unwrap_or_else(|e| {
                panic!("gdal_translate is needed ({e}): apt-get install gdal-bin (.ci/run does)")
            });
        o.status
            .success()
            .then(|| image::open(&out).unwrap().to_rgba8())
    };
    let dir = Scratch::new("gdal-edge");
    let (s, _c) = server(&[]);
    assert!(
        read(&s.base, &dir.0).is_none(),
        "with 404s GDAL's read fails"
    );
    drop(s);
    let (s, _c) = server(&["--outside", "204"]);
    let img = read(&s.base, &dir.0).expect("with 204 the read succeeds");
    assert_eq!(img.dimensions(), (2560, 512));
    assert!(img.get_pixel(10, 10)[3] == 0, "outside: an empty block");
    assert!(img.get_pixel(2500, 10)[3] == 255, "inside: the map");
    drop(s);
    let (s, _c) = server(&["--outside", "empty"]);
    let img = read(&s.base, &dir.0).expect("with empty tiles the read succeeds");
    assert!(img.get_pixel(10, 10)[3] == 255, "outside: the background");
}

/// The browser build (`www/pkg`, wasm-bindgen) makes the same JPEG bytes and the same WebP
/// pixels from the same PNG as the server (native). Node runs the very files the preview page
/// loads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_build_encodes_the_same_bytes_as_the_server() {
    let pkg = harness::repo().join("www/pkg");
    assert!(
        pkg.join("rasterzen_render_bg.wasm").exists(),
        "www/pkg is missing: run ./build.sh web"
    );
    let (s, _c) = server(&[]);
    let (z, x, y) = DENSE;
    let png = get(&s.url(&format!("/png/{z}/{x}/{y}.png"))).await.body;
    let webp = get(&s.url(&format!("/webp/{z}/{x}/{y}.webp"))).await.body;
    let jpg = get(&s.url(&format!("/jpg/{z}/{x}/{y}.jpg"))).await.body;
    let dir = Scratch::new("browser-encode");
    std::fs::write(dir.0.join("t.png"), &png).unwrap();
    let script = r#"
        import { readFileSync, writeFileSync } from 'node:fs';
        import { pathToFileURL } from 'node:url';
        const pkg = process.env.PKG, dir = process.env.DIR;
        const m = await import(pathToFileURL(pkg + '/rasterzen_render.js'));
        m.initSync({ module: readFileSync(pkg + '/rasterzen_render_bg.wasm') });
        const png = readFileSync(dir + '/t.png');
        writeFileSync(dir + '/t.webp', m.transcodePng(png, 'webp'));
        writeFileSync(dir + '/t.jpg', m.transcodePng(png, 'jpg'));
    "#;
    let out = Command::new("node")
        .args(["--input-type=module", "-e", script])
        .env("PKG", &pkg)
        .env("DIR", &dir.0)
        .output()
        .expect("node (apt-get install nodejs)");
    assert!(
        out.status.success(),
        "node: {} (a stale www/pkg? ./build.sh web)",
        String::from_utf8_lossy(&out.stderr)
    );
    // WebP: the same pixels and the same length, but not always the same bytes: image-webp's
    // Huffman code builder breaks ties differently in wasm (found by this test: byte 189 of
    // the dense tile's header differs), so only the JPEG is compared byte for byte.
    let browser_webp = std::fs::read(dir.0.join("t.webp")).unwrap();
    assert_eq!(browser_webp.len(), webp.len(), "browser WebP length");
    assert!(
        decode(&browser_webp, image::ImageFormat::WebP) == decode(&webp, image::ImageFormat::WebP),
        "browser WebP = server WebP, pixel for pixel"
    );
    assert!(
        std::fs::read(dir.0.join("t.jpg")).unwrap() == jpg,
        "browser JPEG = server JPEG, byte for byte"
    );
}
