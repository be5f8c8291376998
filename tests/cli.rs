//! End-to-end tests of `rasterzen render`: the real binary, real tiles, both engines.

#[path = "support/pmtiles.rs"]
mod pmtiles;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_rasterzen")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fixtures() -> PathBuf {
    repo().join("tests/fixtures")
}

/// Runs `rasterzen render` with a private compiled-artifact cache dir shared by this test run.
fn render(input: &Path, tile: &str, engine: &str, extra: &[&str], out: &Path) -> Output {
    Command::new(bin())
        .args(["render", "--input"])
        .arg(input)
        .args(["--tile", tile, "--engine", engine])
        .args(extra)
        .arg("-o")
        .arg(out)
        .env(
            "RASTERZEN_COMPILED_CACHE",
            std::env::temp_dir().join("rasterzen-test-compiled"),
        )
        .output()
        .expect("run rasterzen")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn png_size(bytes: &[u8]) -> (u32, u32) {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let reader = decoder.read_info().expect("a valid PNG");
    (reader.info().width, reader.info().height)
}

/// Renders with both engines; asserts success, a PNG of `size` px, and identical bytes.
fn render_both(input: &Path, tile: &str, dir: &Path, extra: &[&str], size: u32) -> Vec<u8> {
    let (wasm_out, native_out) = (dir.join("wasm.png"), dir.join("native.png"));
    let w = render(input, tile, "wasm", extra, &wasm_out);
    assert!(
        w.status.success(),
        "wasm render of {} failed: {}",
        input.display(),
        stderr(&w)
    );
    let n = render(input, tile, "native", extra, &native_out);
    assert!(
        n.status.success(),
        "native render of {} failed: {}",
        input.display(),
        stderr(&n)
    );
    let (wb, nb) = (
        std::fs::read(&wasm_out).unwrap(),
        std::fs::read(&native_out).unwrap(),
    );
    assert_eq!(png_size(&wb), (size, size), "{}", input.display());
    assert!(
        wb == nb,
        "wasm and native PNGs differ for {} ({} vs {} bytes)",
        input.display(),
        wb.len(),
        nb.len()
    );
    wb
}

struct Fixture {
    id: String,
    tile: PathBuf,
    valid: bool,
    fatal: bool,
}

fn mvt_fixtures() -> Vec<Fixture> {
    let dir = fixtures().join("mvt-fixtures/fixtures");
    let mut out: Vec<Fixture> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let info: serde_json::Value =
                serde_json::from_slice(&std::fs::read(p.join("info.json")).unwrap()).unwrap();
            let v = &info["validity"];
            Fixture {
                id: p.file_name().unwrap().to_string_lossy().into_owned(),
                tile: p.join("tile.mvt"),
                valid: v["v2"] == true,
                fatal: v["error"] == "fatal" && v["v1"] != true,
            }
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// Fixture 057 ("valid": a MoveTo claiming 2^29-1 points, with one) is the same geometry as
/// fixture 051 ("fatal": "count too large"): the suite contradicts itself. We refuse both, as
/// vtzero does; this test holds us to that, so a change of policy is a deliberate one.
const CONTRADICTED_VALID: &[&str] = &["057"];

#[test]
fn every_valid_conformance_fixture_renders_identically_in_both_engines() {
    let tmp = tempfile::tempdir().unwrap();
    let fixtures: Vec<Fixture> = mvt_fixtures()
        .into_iter()
        .filter(|f| f.valid && !CONTRADICTED_VALID.contains(&f.id.as_str()))
        .collect();
    assert!(
        fixtures.len() >= 44,
        "expected the 44+ valid fixtures, found {}",
        fixtures.len()
    );
    for f in &fixtures {
        render_both(&f.tile, "0/0/0", tmp.path(), &[], 512);
    }
}

#[test]
fn every_fatal_conformance_fixture_is_refused_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let fixtures: Vec<Fixture> = mvt_fixtures()
        .into_iter()
        .filter(|f| f.fatal || CONTRADICTED_VALID.contains(&f.id.as_str()))
        .collect();
    assert!(
        fixtures.len() >= 20,
        "expected the 19 fatal fixtures and 057, found {}",
        fixtures.len()
    );
    for f in &fixtures {
        for engine in ["wasm", "native"] {
            let out = tmp.path().join("out.png");
            let o = render(&f.tile, "0/0/0", engine, &[], &out);
            let err = stderr(&o);
            assert!(
                !o.status.success(),
                "fixture {} ({engine}) should be refused",
                f.id
            );
            assert_eq!(
                err.lines().count(),
                1,
                "fixture {} ({engine}): not one line: {err:?}",
                f.id
            );
            assert!(
                err.starts_with("rasterzen: error: "),
                "fixture {}: {err}",
                f.id
            );
            assert!(
                err.contains("tile"),
                "fixture {}: error should name the tile: {err}",
                f.id
            );
            assert!(
                !out.exists(),
                "fixture {}: no output may be written on error",
                f.id
            );
        }
    }
}

#[test]
fn real_tiles_render_identically_in_both_engines() {
    let tmp = tempfile::tempdir().unwrap();
    let t = fixtures().join("tiles");
    render_both(
        &t.join("nextzen-10-301-384.mvt"),
        "10/301/384",
        tmp.path(),
        &[],
        512,
    );
    render_both(
        &t.join("shortbread-berlin-14.mvt"),
        "14/8803/5374",
        tmp.path(),
        &[],
        512,
    );
    render_both(
        &t.join("nextzen-10-301-384.mvt"),
        "10/301/384",
        tmp.path(),
        &["--size", "256", "--scale", "2"],
        512,
    );
    render_both(
        &t.join("nextzen-10-301-384.mvt"),
        "10/301/384",
        tmp.path(),
        &["--size", "256"],
        256,
    );
    for entry in std::fs::read_dir(t.join("vector-tile-js")).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "pbf") {
            render_both(&p, "14/8801/5371", tmp.path(), &[], 512);
        }
    }
}

/// Label-heavy tiles (the built-in styles' symbol layers: shaped text along curvy streets,
/// halos, 2× glyph outlines) give the same bytes in the sandbox and natively.
#[test]
fn label_heavy_tiles_render_identically_in_both_engines() {
    let tmp = tempfile::tempdir().unwrap();
    let r = repo().join("tests/reference");
    let dense = r.join("florence-z14-centre-default/tile.mvt");
    for extra in [
        &[][..],
        &["--size", "256", "--scale", "2"],
        &["--style", "light"],
    ] {
        render_both(&dense, "14/8704/5971", tmp.path(), extra, 512);
    }
    render_both(
        &r.join("monaco-z14-omt/tile.mvt"),
        "14/8529/5974",
        tmp.path(),
        &["--style", "omt"],
        512,
    );
    render_both(
        &r.join("nextzen-z10-default/tile.mvt"),
        "10/301/384",
        tmp.path(),
        &[],
        512,
    );
}

#[test]
fn every_tile_of_the_florence_archive_renders_identically_in_both_engines() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = std::fs::read(repo().join("host/assets/firenze.pmtiles")).unwrap();
    let entries = pmtiles::read_all(&archive);
    assert!(
        entries.len() > 50,
        "only {} tiles in the archive?",
        entries.len()
    );
    let input = tmp.path().join("tile.mvt.gz");
    let mut bytes_by_zoom = std::collections::BTreeMap::new();
    for e in &entries {
        std::fs::write(&input, &e.data).unwrap();
        let png = render_both(
            &input,
            &format!("{}/{}/{}", e.z, e.x, e.y),
            tmp.path(),
            &[],
            512,
        );
        *bytes_by_zoom.entry(e.z).or_insert(0usize) += png.len();
    }
    // A map, not a blank: z14 tiles of a city centre compress to tens of kB.
    let z14 = entries.iter().filter(|e| e.z == 14).count();
    assert!(z14 > 0);
    assert!(
        bytes_by_zoom[&14] / z14 > 10_000,
        "z14 PNGs average {} bytes: blank?",
        bytes_by_zoom[&14] / z14
    );
}

#[test]
fn svg_output_is_an_svg_of_the_tile_size() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("t.svg");
    let o = render(
        &fixtures().join("tiles/nextzen-10-301-384.mvt"),
        "10/301/384",
        "wasm",
        &["--format", "svg"],
        &out,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let svg = std::fs::read_to_string(&out).unwrap();
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"512\" height=\"512\""),
        "{}",
        &svg[..100]
    );
    assert!(
        svg.matches("<path").count() > 20,
        "a Nextzen z10 tile should draw many paths"
    );
}

#[test]
fn stdout_output_works() {
    let o = Command::new(bin())
        .args([
            "render",
            "--engine",
            "native",
            "--tile",
            "10/301/384",
            "-o",
            "-",
            "--input",
        ])
        .arg(fixtures().join("tiles/nextzen-10-301-384.mvt"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(png_size(&o.stdout), (512, 512));
}

/// Bad input of every kind: a one-line error and a non-zero exit, within seconds, both engines.
#[test]
fn hostile_inputs_end_in_one_line_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let nextzen = std::fs::read(fixtures().join("tiles/nextzen-10-301-384.mvt")).unwrap();
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    // Random bytes (fixed seed).
    let mut s = 0x2545_f491_4f6c_dd1du64;
    let random: Vec<u8> = (0..100_000)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s as u8
        })
        .collect();
    cases.push(("random bytes", random));
    cases.push(("truncated tile", nextzen[..nextzen.len() / 2].to_vec()));
    // A gzip bomb: 256 MiB of zeros in ~250 kB (the decoder's cap is 64 MiB).
    cases.push(("gzip bomb", gzip_zeros(256 << 20)));
    cases.push((
        "gzip garbage",
        vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4, 5],
    ));
    // Layer with extent 0, and with extent 2^31.
    cases.push(("extent 0", layer_with_extent(0)));
    cases.push(("extent 2^31", layer_with_extent(1 << 31)));
    // A line with millions of LineTo commands.
    cases.push(("millions of commands", huge_geometry(3_000_000)));
    // 100k layers.
    cases.push(("100k layers", many_layers(100_000)));
    for (what, bytes) in &cases {
        let input = tmp.path().join("bad.mvt");
        std::fs::write(&input, bytes).unwrap();
        for engine in ["wasm", "native"] {
            let started = std::time::Instant::now();
            let o = render(
                &input,
                "10/301/384",
                engine,
                &[],
                &tmp.path().join("out.png"),
            );
            let err = stderr(&o);
            // Some hostile shapes are legal tiles that may render (huge geometry); those must
            // still come back fast and sane. Everything else is refused in one line.
            if o.status.success() {
                assert_eq!(
                    *what, "millions of commands",
                    "{what} ({engine}) was accepted"
                );
            } else {
                assert_eq!(err.lines().count(), 1, "{what} ({engine}): {err:?}");
                assert!(
                    err.starts_with("rasterzen: error: "),
                    "{what} ({engine}): {err}"
                );
                assert!(!err.contains("panicked"), "{what} ({engine}): {err}");
            }
            assert!(
                started.elapsed().as_secs() < 20,
                "{what} ({engine}) took {:?}",
                started.elapsed()
            );
        }
    }
}

#[test]
fn the_memory_limit_fires_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let o = render(
        &fixtures().join("tiles/nextzen-10-301-384.mvt"),
        "10/301/384",
        "wasm",
        &["--memory-limit-mb", "4"],
        &tmp.path().join("out.png"),
    );
    assert!(!o.status.success());
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("memory limit of 4 MiB"), "{err}");
}

#[test]
fn the_deadline_fires_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let o = render(
        &fixtures().join("tiles/nextzen-10-301-384.mvt"),
        "10/301/384",
        "wasm",
        &["--render-timeout-ms", "1", "--scale", "2"],
        &tmp.path().join("out.png"),
    );
    assert!(!o.status.success());
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("deadline of 1 ms"), "{err}");
}

#[test]
fn bad_arguments_are_refused_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let input = fixtures().join("tiles/nextzen-10-301-384.mvt");
    let out = tmp.path().join("o.png");
    for (tile, needle) in [
        ("10/301", "Z/X/Y"),
        ("a/1/2", "zoom"),
        ("3/8/0", "outside"),
        ("31/0/0", "above 30"),
    ] {
        let o = render(&input, tile, "wasm", &[], &out);
        assert!(!o.status.success());
        let err = stderr(&o);
        assert!(err.contains(needle), "{tile}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    let o = render(&tmp.path().join("missing.mvt"), "1/0/0", "wasm", &[], &out);
    assert!(stderr(&o).contains("cannot read"), "{}", stderr(&o));
    let o = render(
        &input,
        "10/301/384",
        "wasm",
        &["--style", "nonexistent-style"],
        &out,
    );
    assert!(
        stderr(&o).contains("neither a file, a URL nor a built-in style"),
        "{}",
        stderr(&o)
    );
    let style = tmp.path().join("bad-style.json");
    std::fs::write(&style, r#"{"version": 8, "sources": {}, "layers": [{"id": "x", "type": "line", "paint": {"line-width": "wide"}}]}"#).unwrap();
    let o = render(
        &input,
        "10/301/384",
        "wasm",
        &["--style", style.to_str().unwrap()],
        &out,
    );
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(err.contains("layers[0].paint.line-width"), "{err}");
}

// --- hostile tile builders (protobuf by hand) ---

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn field(out: &mut Vec<u8>, number: u64, bytes: &[u8]) {
    varint(out, number << 3 | 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn layer(name: &str, extent: u64, features: &[Vec<u8>]) -> Vec<u8> {
    let mut l = Vec::new();
    varint(&mut l, 15 << 3); // version
    varint(&mut l, 2);
    field(&mut l, 1, name.as_bytes());
    for f in features {
        field(&mut l, 2, f);
    }
    varint(&mut l, 5 << 3); // extent
    varint(&mut l, extent);
    l
}

fn line_feature(commands: &[u32]) -> Vec<u8> {
    let mut f = Vec::new();
    varint(&mut f, 3 << 3); // type
    varint(&mut f, 2); // LINESTRING
    let mut packed = Vec::new();
    for c in commands {
        varint(&mut packed, u64::from(*c));
    }
    field(&mut f, 4, &packed);
    f
}

fn tile_of(layers: &[Vec<u8>]) -> Vec<u8> {
    let mut t = Vec::new();
    for l in layers {
        field(&mut t, 3, l);
    }
    t
}

fn layer_with_extent(extent: u64) -> Vec<u8> {
    tile_of(&[layer(
        "roads",
        extent,
        &[line_feature(&[9, 2, 2, 10, 4, 4])],
    )])
}

fn huge_geometry(points: u32) -> Vec<u8> {
    let mut cmds = vec![9, 0, 0, (points << 3) | 2];
    for i in 0..points {
        cmds.push(if i % 2 == 0 { 2 } else { 1 });
        cmds.push(2);
    }
    tile_of(&[layer("roads", 4096, &[line_feature(&cmds)])])
}

fn many_layers(n: usize) -> Vec<u8> {
    let layers: Vec<Vec<u8>> = (0..n).map(|i| layer(&format!("l{i}"), 4096, &[])).collect();
    tile_of(&layers)
}

fn gzip_zeros(n: usize) -> Vec<u8> {
    use std::io::Write as _;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..n / chunk.len() {
        enc.write_all(&chunk).unwrap();
    }
    enc.finish().unwrap()
}

fn test_renderer(name: &str) -> PathBuf {
    let p = repo()
        .join("target/test-renderers")
        .join(format!("{name}.wasm"));
    assert!(
        p.is_file(),
        "{} is missing: run ./build.sh test-renderers",
        p.display()
    );
    p
}

/// A hostile renderer that loops forever is stopped at its deadline; one that allocates without
/// end is stopped at its memory limit. Both end in one line, quickly.
#[test]
fn the_sandbox_stops_hostile_renderers() {
    let tmp = tempfile::tempdir().unwrap();
    let input = fixtures().join("tiles/nextzen-10-301-384.mvt");
    let out = tmp.path().join("o.png");
    let looping = test_renderer("loop");
    let started = std::time::Instant::now();
    let o = render(
        &input,
        "10/301/384",
        "wasm",
        &[
            "--renderer",
            looping.to_str().unwrap(),
            "--render-timeout-ms",
            "300",
        ],
        &out,
    );
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(err.contains("deadline of 300 ms"), "{err}");
    assert!(
        started.elapsed().as_secs() < 10,
        "took {:?}",
        started.elapsed()
    );
    let hoarding = test_renderer("memory");
    let o = render(
        &input,
        "10/301/384",
        "wasm",
        &[
            "--renderer",
            hoarding.to_str().unwrap(),
            "--memory-limit-mb",
            "64",
        ],
        &out,
    );
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(err.contains("memory limit of 64 MiB"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!out.exists());
}

/// `rasterzen version` says what its help says: the versions and every built-in style, each
/// with the style hash that goes into its cache keys.
#[test]
fn version_lists_the_built_in_styles() {
    let o = Command::new(bin())
        .args(["version", "--engine", "native"])
        .output()
        .expect("run rasterzen");
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.starts_with("rasterzen 0."), "{text}");
    for name in ["default", "omt", "light"] {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no line for {name}:\n{text}"));
        let hash = line
            .rsplit("style hash ")
            .next()
            .unwrap()
            .trim_end_matches(')');
        assert_eq!(hash.len(), 16, "{line}");
        assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()), "{line}");
    }
}

/// No `--style`: the built-in style for the tile's schema, told from its layers and said on
/// stderr; a schema without a built-in style gets a warning saying what to pass.
#[test]
fn without_a_style_the_tile_schema_picks_the_built_in_one() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let monaco = root.join("tests/reference/monaco-z14-omt/tile.mvt");
    let (chosen, named) = (dir.path().join("chosen.png"), dir.path().join("named.png"));
    let o = render(&monaco, "14/8529/5974", "native", &[], &chosen);
    assert!(o.status.success(), "{}", stderr(&o));
    let said = stderr(&o);
    assert!(
        said.contains("note:") && said.contains("OpenMapTiles") && said.contains("omt"),
        "{said}"
    );
    let o = render(
        &monaco,
        "14/8529/5974",
        "native",
        &["--style", "omt"],
        &named,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("schema"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(&chosen).unwrap(),
        std::fs::read(&named).unwrap()
    );
    let berlin = root.join("tests/fixtures/tiles/shortbread-berlin-14.mvt");
    let o = render(&berlin, "14/8803/5374", "native", &[], &chosen);
    assert!(o.status.success(), "{}", stderr(&o));
    let said = stderr(&o);
    assert!(
        said.contains("warning:") && said.contains("Shortbread") && said.contains("--style"),
        "{said}"
    );
}
