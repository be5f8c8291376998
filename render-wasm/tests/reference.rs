//! Reference-image tests, driven by files: every folder under `tests/reference/` holds
//! `tile.mvt` (raw or gzip), `case.json` (`{"tile": "z/x/y", "size": 512, "scale": 1,
//! "style": "default" | "style.json"}`) and `expected.png`.
//!
//! A case passes when at most 0.5 % of pixels differ by more than 8 (of 255) in any channel.
//! On mismatch it writes `actual.png` and `diff.png` (differing pixels red) beside the case.
//! Bless mode (`RASTERZEN_BLESS=1 cargo test --test reference`) rewrites every `expected.png`
//! and then fails on purpose, so a blessing is never mistaken for a pass.

use std::path::{Path, PathBuf};

use rasterzen_render::{render, Format, RenderOptions, StyleSource, TileId};

const CHANNEL_TOLERANCE: u8 = 8;
const MAX_DIFFERING_FRACTION: f64 = 0.005;

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/reference")
}

fn decode_png(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::ALPHA);
    let mut reader = decoder.read_info().expect("PNG header");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("PNG data");
    buf.truncate(info.buffer_size());
    let rgba = match info.color_type {
        png::ColorType::Rgba => buf,
        png::ColorType::Rgb => buf
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        png::ColorType::GrayscaleAlpha => buf
            .chunks_exact(2)
            .flat_map(|p| [p[0], p[0], p[0], p[1]])
            .collect(),
        other => panic!("unexpected PNG colour type {other:?}"),
    };
    (info.width, info.height, rgba)
}

fn write_rgba_png(path: &Path, w: u32, h: u32, rgba: &[u8]) {
    let file = std::fs::File::create(path).unwrap();
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w, h);
    enc.set_color(png::ColorType::Rgba);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header().unwrap().write_image_data(rgba).unwrap();
}

fn render_case(dir: &Path) -> Vec<u8> {
    let case: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("case.json")).unwrap()).unwrap();
    let tile: Vec<u32> = case["tile"]
        .as_str()
        .unwrap()
        .split('/')
        .map(|p| p.parse().unwrap())
        .collect();
    let tile = TileId {
        z: tile[0] as u8,
        x: tile[1],
        y: tile[2],
    };
    let style_name = case["style"].as_str().unwrap_or("default");
    let style_json;
    let style = if style_name.ends_with(".json") {
        style_json = std::fs::read_to_string(dir.join(style_name)).unwrap();
        StyleSource::Json(&style_json)
    } else {
        StyleSource::Builtin(style_name)
    };
    let options = RenderOptions {
        format: Format::Png,
        size: case["size"].as_u64().unwrap_or(512) as u32,
        scale: case["scale"].as_u64().unwrap_or(1) as u32,
        style,
        data_tile: None,
        png: Default::default(),
    };
    let data = std::fs::read(dir.join("tile.mvt")).unwrap();
    render(&data, tile, &options).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

#[test]
fn reference_images() {
    let bless = std::env::var_os("RASTERZEN_BLESS").is_some();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("tests/reference exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("case.json").is_file())
        .collect();
    dirs.sort();
    assert!(
        !dirs.is_empty(),
        "no reference cases found in {}",
        cases_dir().display()
    );
    let mut failures = Vec::new();
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let actual = render_case(dir);
        let expected_path = dir.join("expected.png");
        if bless {
            std::fs::write(&expected_path, &actual).unwrap();
            continue;
        }
        let Ok(expected) = std::fs::read(&expected_path) else {
            failures.push(format!(
                "{name}: no expected.png (run with RASTERZEN_BLESS=1 to create it)"
            ));
            std::fs::write(dir.join("actual.png"), &actual).unwrap();
            continue;
        };
        let (w, h, a) = decode_png(&actual);
        let (ew, eh, e) = decode_png(&expected);
        if (w, h) != (ew, eh) {
            failures.push(format!("{name}: size {w}x{h}, expected {ew}x{eh}"));
            continue;
        }
        let mut diff = Vec::with_capacity(a.len());
        let mut differing = 0usize;
        for (pa, pe) in a.chunks_exact(4).zip(e.chunks_exact(4)) {
            if pa
                .iter()
                .zip(pe)
                .any(|(x, y)| x.abs_diff(*y) > CHANNEL_TOLERANCE)
            {
                differing += 1;
                diff.extend_from_slice(&[255, 0, 0, 255]);
            } else {
                // The expected image, faded, so the red stands out where it matters.
                diff.extend_from_slice(&[pe[0] / 3 + 170, pe[1] / 3 + 170, pe[2] / 3 + 170, 255]);
            }
        }
        let fraction = differing as f64 / f64::from(w * h);
        let _ = std::fs::remove_file(dir.join("actual.png"));
        let _ = std::fs::remove_file(dir.join("diff.png"));
        if fraction > MAX_DIFFERING_FRACTION {
            std::fs::write(dir.join("actual.png"), &actual).unwrap();
            write_rgba_png(&dir.join("diff.png"), w, h, &diff);
            failures.push(format!(
                "{name}: {differing} pixels ({:.2} %) differ; see {}/diff.png and actual.png",
                fraction * 100.0,
                dir.display()
            ));
        }
    }
    if bless {
        panic!("blessed {} reference images; look at them, commit, and run again without RASTERZEN_BLESS", dirs.len());
    }
    assert!(
        failures.is_empty(),
        "reference images differ:\n{}",
        failures.join("\n")
    );
}
