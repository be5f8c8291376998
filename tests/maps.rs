//! `rasterzen serve --config`: many maps from one TOML or YAML file. The real binary on
//! 127.0.0.1, over the repository's own example configs (`examples/maps.toml`, `.yaml`: the
//! README's example cannot rot), the embedded Florence archive and the Monaco fixture.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

#[path = "support/harness.rs"]
mod harness;
use harness::{gdal, gdal_tile_ground, repo, Scratch, Server, BIN};

struct Got {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Got {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// A blocking GET (no redirects followed: the tests look at them).
fn get(url: &str) -> Got {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let res = c
            .get(url)
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
    })
}

/// Decodes a PNG with the `png` crate (not ours): its size, and that every row decodes.
fn png_size(b: &[u8]) -> (u32, u32) {
    let decoder = png::Decoder::new(std::io::Cursor::new(b));
    let mut reader = decoder.read_info().expect("a PNG header");
    let mut buf = vec![0; reader.output_buffer_size().expect("a buffer size")];
    let info = reader.next_frame(&mut buf).expect("PNG pixels decode");
    (info.width, info.height)
}

/// The tile at zoom `z` holding a point, as a path suffix `z/x/y`.
fn tile_at(lon: f64, lat: f64, z: u8) -> String {
    let n = 2f64.powi(i32::from(z));
    let x = ((lon + 180.0) / 360.0 * n).floor() as u32;
    let y =
        ((1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0 * n).floor() as u32;
    format!("{z}/{x}/{y}")
}

fn florence() -> String {
    tile_at(11.2550, 43.7700, 14)
}

fn monaco() -> String {
    tile_at(7.4260, 43.7370, 14)
}

fn examples() -> PathBuf {
    repo().join("examples")
}

fn fixture(name: &str) -> String {
    repo()
        .join("tests/fixtures/archives")
        .join(name)
        .display()
        .to_string()
}

/// Compiled renderers shared by this file's servers (each compiles it once otherwise).
fn compiled() -> String {
    std::env::temp_dir()
        .join("rasterzen-test-maps-compiled")
        .display()
        .to_string()
}

fn start(config: &Path, extra: &[&str], envs: &[(&str, &str)]) -> Server {
    let config = config.display().to_string();
    let compiled = compiled();
    let mut args = vec!["--config", &config, "--compiled-cache", &compiled];
    args.extend_from_slice(extra);
    Server::start(&args, envs)
}

/// Waits for `pred` on the server's log or answers, up to 30 s.
fn wait_for(what: &str, s: &Server, mut pred: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !pred() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}:\n{}",
            s.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn catalog_ids(s: &Server) -> Vec<String> {
    get(&s.url("/catalog")).json()["maps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_readme_shows_the_example_config_as_it_is() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let example = std::fs::read_to_string(examples().join("maps.toml")).unwrap();
    assert!(
        readme.contains(&format!("```toml\n{example}```")),
        "README's \"Many maps\" example must be examples/maps.toml verbatim"
    );
}

#[test]
fn three_maps_over_two_sources_serve_and_the_catalog_lists_them() {
    let s = start(&examples().join("maps.toml"), &[], &[]);
    let cat = get(&s.url("/catalog"));
    assert_eq!(cat.status, 200, "{}", cat.text());
    assert_eq!(cat.header("access-control-allow-origin"), "*");
    let doc = cat.json();
    assert_eq!(doc["default"], "florence");
    let maps = doc["maps"].as_array().unwrap();
    let ids: Vec<&str> = maps.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["florence", "florence-light", "monaco"], "{doc}");

    let mut bodies = Vec::new();
    for m in maps {
        let id = m["id"].as_str().unwrap();
        // The catalog's TileJSON URL works and names this map's tiles.
        let tj = get(m["tilejson"].as_str().unwrap());
        assert_eq!(tj.status, 200, "{id}: {}", tj.text());
        let tj = tj.json();
        assert_eq!(tj["tilejson"], "3.0.0");
        assert_eq!(tj["name"], m["name"]);
        let url = tj["tiles"][0].as_str().unwrap().to_string();
        assert_eq!(url, format!("{}/{id}/png/{{z}}/{{x}}/{{y}}.png", s.base));
        assert_eq!(tj["maxzoom"], m["maxzoom"]);
        assert_eq!(tj["tileSize"], m["tile_size"]);
        let tile = if id == "monaco" { monaco() } else { florence() };
        let (z, rest) = tile.split_once('/').unwrap();
        let (x, y) = rest.split_once('/').unwrap();
        let png = get(&url.replace("{z}", z).replace("{x}", x).replace("{y}", y));
        assert_eq!(png.status, 200, "{id}: {}", png.text());
        assert_eq!(png.header("content-type"), "image/png");
        let size = m["tile_size"].as_u64().unwrap() as u32;
        assert_eq!(png_size(&png.body), (size, size), "{id}");
        bodies.push(png.body);
        // The style report, and its summary in the catalog.
        let report = get(&s.url(&format!("/{id}/style-report.json")));
        assert_eq!(report.status, 200);
        let report = report.json();
        assert_eq!(report["map"], id);
        assert_eq!(report["hash"], m["style"]["hash"]);
        assert!(report["layers"].as_array().unwrap().len() > 3, "{report}");
    }
    assert_eq!(maps[1]["tile_size"], 256, "florence-light's own tile-size");
    assert_eq!(maps[0]["tile_size"], 512, "[defaults]");
    assert_eq!(
        maps[2]["maxzoom"], 18,
        "monaco: source maxzoom 14 + its overzoom 4"
    );
    assert_eq!(
        maps[0]["maxzoom"], 20,
        "florence: 14 + [defaults] overzoom 6"
    );
    assert_eq!(maps[2]["formats"], serde_json::json!(["png", "svg", "mvt"]));
    assert_eq!(
        maps[2]["attribution"], "© OpenMapTiles © OpenStreetMap contributors",
        "the map's own attribution"
    );
    assert_eq!(
        get(&s.url("/monaco/tilejson.json")).json()["attribution"],
        maps[2]["attribution"]
    );
    assert_ne!(bodies[0], bodies[1], "default and light styles differ");
    assert_ne!(bodies[0], bodies[2]);

    // The paths without a prefix are the default map's: the same bytes.
    let top = get(&s.url(&format!("/png/{}.png", florence())));
    assert_eq!(top.status, 200);
    assert_eq!(top.body, bodies[0], "/png is the default map (florence)");
    let tj = get(&s.url("/tilejson.json")).json();
    assert_eq!(
        tj["tiles"][0],
        format!("{}/png/{{z}}/{{x}}/{{y}}.png", s.base)
    );
    // Two sources: Monaco is not Florence (404 outside its bounds), and back.
    assert_eq!(
        get(&s.url(&format!("/monaco/png/{}.png", florence()))).status,
        404
    );
    assert_eq!(
        get(&s.url(&format!("/florence/png/{}.png", monaco()))).status,
        404
    );
    // A map serves only its formats; its other paths work under its prefix.
    let gj = get(&s.url(&format!("/monaco/geojson/{}.geojson", monaco())));
    assert_eq!(gj.status, 404);
    assert!(
        gj.text().contains("does not serve geojson"),
        "{}",
        gj.text()
    );
    assert_eq!(
        get(&s.url(&format!("/monaco/mvt/{}.mvt", monaco()))).status,
        200
    );
    let svg = get(&s.url(&format!("/florence-light/svg/{}.svg", florence())));
    assert_eq!(svg.status, 200);
    assert!(svg.text().contains("<svg"));
    assert_eq!(get(&s.url("/monaco/healthz")).status, 200);
    let redirect = get(&s.url("/monaco"));
    assert_eq!(redirect.status, 308);
    assert_eq!(redirect.header("location"), "/monaco/");
    let page = get(&s.url("/monaco/"));
    assert_eq!(page.status, 200);
    assert!(page.header("content-type").starts_with("text/html"));
    assert_eq!(get(&s.url("/nosuchmap/png/1/2/3.png")).status, 404);
    // One access line per request, with the whole path.
    let log = s.log_text();
    assert!(
        log.contains("path=\"/monaco/mvt/") || log.contains("path=/monaco/mvt/"),
        "{log}"
    );

    // The same maps in YAML give the same catalog (but for the address and load time).
    let y = start(&examples().join("maps.yaml"), &[], &[]);
    let normalize = |s: &Server| {
        let mut d = get(&s.url("/catalog")).json();
        d["loaded_at"] = serde_json::Value::Null;
        d.to_string().replace(&s.base, "BASE")
    };
    assert_eq!(normalize(&y), normalize(&s));
}

/// The config of the reload test: Florence maps over the embedded archive, Monaco over `monaco`.
fn reload_config(monaco_path: &str, extra: &str) -> String {
    format!(
        r#"
[defaults]
tile-size = 512
overzoom = 5
[sources.florence]
embedded = true
[sources.monaco]
path = "{monaco_path}"
[maps.florence]
source = "florence"
[maps.monaco]
source = "monaco"
style = "omt"
{extra}
"#
    )
}

/// Replaces the config as editors and deploy tools do, by renaming a complete file over it: a
/// plain `fs::write` truncates first, and the file watcher may read the empty file in between.
fn replace_config(cfg: &Path, text: impl AsRef<[u8]>) {
    let tmp = cfg.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, cfg).unwrap();
}

#[test]
fn reloads_keep_the_old_config_when_the_new_one_is_bad() {
    let scratch = Scratch::new("maps-reload");
    let cfg = scratch.0.join("maps.toml");
    std::fs::write(&cfg, reload_config(&fixture("monaco-2023-omt.pmtiles"), "")).unwrap();
    // CLI and environment over the file: --overzoom 2 and RASTERZEN_TILE_SIZE for every map.
    let s = start(
        &cfg,
        &[
            "--config-poll-ms",
            "200",
            "--overzoom",
            "2",
            "--cache",
            "none",
        ],
        &[("RASTERZEN_TILE_SIZE", "256")],
    );
    let pid = s.child.id().to_string();
    let hup = || {
        let st = Command::new("kill").args(["-HUP", &pid]).status().unwrap();
        assert!(st.success());
    };
    let cat = get(&s.url("/catalog")).json();
    for m in cat["maps"].as_array().unwrap() {
        assert_eq!(m["tile_size"], 256, "env over file: {m}");
        assert_eq!(m["maxzoom"], 16, "CLI over file (14 + 2): {m}");
    }
    let serving = |s: &Server| {
        let a = get(&s.url(&format!("/florence/png/{}.png", florence())));
        let b = get(&s.url(&format!("/monaco/png/{}.png", monaco())));
        assert_eq!((a.status, b.status), (200, 200), "{}{}", a.text(), b.text());
        assert_eq!(png_size(&b.body), (256, 256));
    };
    serving(&s);

    // 1. A syntax error, on SIGHUP: refused in one line, the old maps keep serving.
    replace_config(&cfg, "[maps.florence\nsource = \"florence\"\n");
    hup();
    let refused_with = |s: &Server, needle: &str| {
        s.log_text()
            .lines()
            .find(|l| l.contains("config reload refused") && l.contains(needle))
            .map(str::to_owned)
    };
    wait_for("the refused reload", &s, || {
        refused_with(&s, "maps.toml").is_some()
    });
    let line = refused_with(&s, "maps.toml").unwrap();
    assert!(line.contains("line 1"), "{line}");
    assert_eq!(catalog_ids(&s), ["florence", "monaco"]);
    serving(&s);

    // 2. A source file that is not there, seen by the file watcher: refused, old maps serve.
    replace_config(
        &cfg,
        reload_config(&scratch.0.join("gone.pmtiles").display().to_string(), ""),
    );
    wait_for("the second refused reload", &s, || {
        refused_with(&s, "gone.pmtiles").is_some()
    });
    let line = refused_with(&s, "gone.pmtiles").unwrap();
    assert!(
        line.contains("source \"monaco\"") && line.contains("gone.pmtiles"),
        "{line}"
    );
    assert_eq!(catalog_ids(&s), ["florence", "monaco"]);
    serving(&s);

    // 3. A good config adding a map: served once loaded; the others still serve.
    replace_config(
        &cfg,
        reload_config(
            &fixture("monaco-2023-omt.mbtiles"),
            "[maps.light]\nsource = \"florence\"\nstyle = \"light\"\n",
        ),
    );
    wait_for("the new map", &s, || {
        catalog_ids(&s) == ["florence", "monaco", "light"]
    });
    let light = get(&s.url(&format!("/light/png/{}.png", florence())));
    assert_eq!(light.status, 200, "{}", light.text());
    assert_eq!(png_size(&light.body), (256, 256));
    let tj = get(&s.url("/light/tilejson.json")).json();
    assert_eq!(
        tj["tiles"][0],
        format!("{}/light/png/{{z}}/{{x}}/{{y}}.png", s.base)
    );
    serving(&s);
    assert!(s.log_text().contains("config reloaded"));

    // 4. A map id that takes a top-level path, on reload: refused too.
    replace_config(
        &cfg,
        reload_config(
            &fixture("monaco-2023-omt.pmtiles"),
            "[maps.catalog]\nsource = \"florence\"\n",
        ),
    );
    hup();
    wait_for("the reload refused for its map id", &s, || {
        refused_with(&s, "collides with the top-level path /catalog").is_some()
    });
    assert_eq!(catalog_ids(&s), ["florence", "monaco", "light"]);
}

/// `rasterzen serve --config FILE` that must not start: its one-line error.
fn refused(config: &str, ext: &str) -> String {
    let scratch = Scratch::new("maps-bad");
    let cfg = scratch.0.join(format!("bad.{ext}"));
    std::fs::write(&cfg, config).unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--cache", "none"])
        .arg("--config")
        .arg(&cfg)
        .args(["--compiled-cache", &compiled()])
        .env_remove("RUST_LOG")
        .env("RASTERZEN_LOG_LEVEL", "error")
        .env("XDG_CACHE_HOME", scratch.0.join("xdg"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "started with {config}: {stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("rasterzen: error:"))
        .collect();
    assert_eq!(errors.len(), 1, "one error line: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    errors[0].to_string()
}

#[test]
fn a_map_id_that_takes_a_path_or_a_bad_config_is_refused_in_one_line() {
    let src = "[sources.f]\nembedded = true\n";
    for id in ["png", "catalog", "healthz", "vendor", "metrics", "webp"] {
        let cfg = format!("{src}[maps.{id}]\nsource = \"f\"\n");
        let e = refused(&cfg, "toml");
        assert!(
            e.contains(&format!("collides with the top-level path /{id}")),
            "{id}: {e}"
        );
    }
    let e = refused(
        "sources:\n  f:\n    embedded: true\nmaps:\n  svg:\n    source: f\n",
        "yaml",
    );
    assert!(e.contains("/svg"), "{e}");
    let e = refused(&format!("{src}[maps.a]\nsource = \"g\"\n"), "toml");
    assert!(e.contains("no source named \"g\" (sources: f)"), "{e}");
    let e = refused(
        &format!("{src}[maps.a]\nsource = \"f\"\ntile-sise = 256\n"),
        "toml",
    );
    assert!(e.contains("tile-sise"), "{e}");
    let e = refused("maps:\n  a: [1, 2\n", "yaml");
    assert!(e.contains("bad.yaml"), "{e}");
    let e = refused(
        &format!("{src}[maps.a]\nsource = \"f\"\nstyle = \"nope.json\"\n"),
        "toml",
    );
    assert!(e.contains("map \"a\"") && e.contains("nope.json"), "{e}");
    let e = refused(src, "toml");
    assert!(e.contains("no maps"), "{e}");
}

#[test]
fn a_mismatched_style_is_named_in_the_log_and_the_style_report() {
    let scratch = Scratch::new("maps-mismatch");
    // A style with a typo'd property and a layer of another schema.
    let style = serde_json::json!({
        "version": 8,
        "sources": {"s": {"type": "vector"}},
        "layers": [
            {"id": "bg", "type": "background", "paint": {"background-color": "#eee"}},
            {"id": "water", "type": "fill", "source": "s", "source-layer": "water",
             "paint": {"fill-colour": "#00f"}},
            {"id": "roads", "type": "line", "source": "s", "source-layer": "transportation",
             "paint": {"line-color": "#f00"}}
        ]
    });
    std::fs::write(scratch.0.join("typo.json"), style.to_string()).unwrap();
    let cfg = scratch.0.join("maps.yaml");
    replace_config(
        &cfg,
        "sources:\n  florence:\n    embedded: true\nmaps:\n  good:\n    source: florence\n  typo:\n    source: florence\n    style: typo.json\n",
    );
    let s = start(&cfg, &["--cache", "none"], &[]);
    let log = s.log_text();
    let of_map = |l: &str, id: &str| {
        l.contains("WARN")
            && (l.contains(&format!("map=\"{id}\"")) || l.contains(&format!("map={id} ")))
    };
    let warned: Vec<&str> = log.lines().filter(|l| of_map(l, "typo")).collect();
    assert!(
        warned
            .iter()
            .any(|l| l.contains("\"transportation\"") && l.contains("style-report.json")),
        "missing layer named, with what to do:\n{log}"
    );
    assert!(
        warned.iter().any(|l| l.contains("fill-colour")),
        "the renderer's warning:\n{log}"
    );
    assert!(
        !log.lines().any(|l| of_map(l, "good")),
        "the built-in style over its own schema warns about nothing:\n{log}"
    );
    let report = get(&s.url("/typo/style-report.json")).json();
    assert_eq!(
        report["missing_source_layers"],
        serde_json::json!(["transportation"])
    );
    assert!(
        report["warnings"].to_string().contains("fill-colour"),
        "{report}"
    );
    assert!(
        report["errors"].to_string().contains("transportation"),
        "{report}"
    );
    let cat = get(&s.url("/catalog")).json();
    let typo = &cat["maps"][1];
    assert_eq!(typo["id"], "typo");
    assert_eq!(
        typo["style"]["missing_source_layers"],
        serde_json::json!(["transportation"])
    );
    assert!(typo["style"]["warnings"].as_u64().unwrap() >= 1);
    // Still served: a partial map is the user's to fix, not a reason to refuse the config.
    assert_eq!(
        get(&s.url(&format!("/typo/png/{}.png", florence()))).status,
        200
    );
    // The paths without a prefix: the first map (no `default` key).
    let top = get(&s.url("/style-report.json")).json();
    assert_eq!(top["map"], "good");
}

/// GDAL (Debian's `gdal-bin`, a real GIS client) reads the example config's Monaco map through
/// that map's own WMTS capabilities (`/monaco/wmts.xml`): the layer is georeferenced in Web
/// Mercator and one z15 tile's ground, read through GDAL, is exactly `/monaco/png/15/x/y.png`.
#[test]
fn gdal_reads_the_second_map_of_the_config_through_its_wmts() {
    let s = start(&examples().join("maps.toml"), &["--cache", "none"], &[]);
    let scratch = Scratch::new("maps-gdal");
    let caps = format!("WMTS:{}/monaco/wmts.xml", s.base);
    let info: serde_json::Value =
        serde_json::from_slice(&gdal("gdalinfo", &["-json", "-nofl", &caps]).stdout).unwrap();
    let wkt = info["coordinateSystem"]["wkt"].as_str().unwrap_or_default();
    assert!(
        wkt.contains("3857") || wkt.contains("Pseudo-Mercator"),
        "{wkt}"
    );
    assert_eq!(info["bands"].as_array().map(Vec::len), Some(4), "RGBA");

    // A z15 tile inside the archive's bounds (GDAL leaves what is outside them transparent).
    let tile = tile_at(7.4289, 43.7375, 15);
    let mut it = tile.split('/').map(|v| v.parse::<u32>().unwrap());
    let (z, x, y) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
    let through_gdal = gdal_tile_ground(&caps, (z as u8, x, y), &scratch.0.join("monaco.png"));
    let png = get(&s.url(&format!("/monaco/png/{tile}.png")));
    assert_eq!(png.status, 200, "{}", png.text());
    let direct = image::load_from_memory_with_format(&png.body, image::ImageFormat::Png)
        .unwrap()
        .to_rgba8();
    assert_eq!(through_gdal.dimensions(), (512, 512));
    let differ: Vec<(u32, u32)> = through_gdal
        .enumerate_pixels()
        .filter(|(x, y, p)| *p != direct.get_pixel(*x, *y))
        .map(|(x, y, _)| (x, y))
        .collect();
    assert!(
        differ.is_empty(),
        "GDAL's read of the tile's ground is the tile: {} pixels differ, first {:?}, last {:?}; gdal {:?} vs {:?}",
        differ.len(),
        differ.first(),
        differ.last(),
        differ.first().map(|p| through_gdal.get_pixel(p.0, p.1)),
        differ.first().map(|p| direct.get_pixel(p.0, p.1)),
    );
    // And it is the Monaco map, not the default one: not a single-colour picture.
    let first = direct.get_pixel(0, 0);
    assert!(direct.pixels().any(|p| p != first), "a blank tile");
}
