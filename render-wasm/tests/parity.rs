//! Parity with MapLibre GL JS: every case under `tests/parity/cases/` holds `case.json` (style,
//! tile file, z/x/y, size, scale, thresholds) and `maplibre.png`, MapLibre GL JS's own render of
//! that tile with that style (made by `tests/parity/make-references.mjs`, see
//! `tests/parity/README.md`). This test renders each case with our renderer and compares:
//!
//! - **differ %**: the share of pixels with any channel (RGBA) differing by more than 8/255;
//! - **interior px**: differing pixels farther than 2 px from any edge of the MapLibre image (an
//!   edge pixel: its 3×3 neighbourhood in the reference has a channel spread > 8), so a wrong
//!   colour or a missing area, not anti-aliasing;
//! - **SSIM** on luma (Rec. 601, over white), Gaussian 11×11 window, σ = 1.5,
//!   C1 = (0.01·255)², C2 = (0.03·255)², mean over the valid windows.
//!
//! A case fails when it exceeds its own thresholds (`max_differ_pct`, `max_interior_px`,
//! `min_ssim` in case.json; never loosened to pass); the suite also fails unless the median
//! SSIM is ≥ 0.98 and the median differ % ≤ 2 over all cases. A failing case gets
//! `actual.png` and `side-by-side.png` (MapLibre | ours | diff: red where a pixel differs,
//! full red in the interior, light red near an edge) beside its case.json.
//!
//! The table is always printed (`-- --nocapture`), and written as Markdown to the file named
//! by `RASTERZEN_PARITY_REPORT`. `RASTERZEN_PARITY_CASES=substring` runs only matching cases
//! (the medians are then checked over those).
//!
//!   cargo test --release -p rasterzen-render --test parity -- --nocapture

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use rasterzen_render::{
    render_with, Assets, Format, RenderOptions, SpriteData, StyleSource, TileId,
};

const CHANNEL_TOLERANCE: u8 = 8;
const EDGE_SPREAD: u8 = 8;
const EDGE_DISTANCE: usize = 2;
const MEDIAN_MIN_SSIM: f64 = 0.98;
const MEDIAN_MAX_DIFFER_PCT: f64 = 2.0;

fn parity_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/parity")
}

struct Case {
    name: String,
    dir: PathBuf,
    style: String,
    schema: String,
    tile: PathBuf,
    z: u8,
    x: u32,
    y: u32,
    size: u32,
    scale: u32,
    max_differ_pct: f64,
    min_ssim: f64,
    max_interior_px: usize,
}

fn load_case(dir: &Path) -> Case {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let text = std::fs::read_to_string(dir.join("case.json")).unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}/case.json: {e}"));
    let s = |k: &str| -> String {
        v[k].as_str()
            .unwrap_or_else(|| panic!("{name}/case.json: {k} is not a string"))
            .to_owned()
    };
    let n = |k: &str| -> f64 {
        v[k].as_f64()
            .unwrap_or_else(|| panic!("{name}/case.json: {k} is not a number"))
    };
    Case {
        dir: dir.to_path_buf(),
        style: s("style"),
        schema: s("schema"),
        tile: parity_dir().join(s("tile")),
        z: n("z") as u8,
        x: n("x") as u32,
        y: n("y") as u32,
        size: n("size") as u32,
        scale: n("scale") as u32,
        max_differ_pct: n("max_differ_pct"),
        min_ssim: n("min_ssim"),
        max_interior_px: n("max_interior_px") as usize,
        name,
    }
}

struct Image {
    w: usize,
    h: usize,
    rgba: Vec<u8>,
}

fn decode_png(bytes: &[u8]) -> Image {
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
        png::ColorType::Grayscale => buf.iter().flat_map(|&g| [g, g, g, 255]).collect(),
        other => panic!("unexpected PNG colour type {other:?}"),
    };
    Image {
        w: info.width as usize,
        h: info.height as usize,
        rgba,
    }
}

fn write_rgba_png(path: &Path, w: usize, h: usize, rgba: &[u8]) {
    let file = std::fs::File::create(path).unwrap();
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w as u32, h as u32);
    enc.set_color(png::ColorType::Rgba);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header().unwrap().write_image_data(rgba).unwrap();
}

struct Metrics {
    differ_pct: f64,
    differing: Vec<bool>,
    interior: Vec<bool>,
    interior_px: usize,
    ssim: f64,
}

fn pixel_differs(a: &[u8], b: &[u8]) -> bool {
    a.iter()
        .zip(b)
        .any(|(x, y)| x.abs_diff(*y) > CHANNEL_TOLERANCE)
}

/// Pixels within `EDGE_DISTANCE` of an edge of `img` (an edge: 3×3 channel spread > 8).
fn near_edge(img: &Image) -> Vec<bool> {
    let (w, h) = (img.w, img.h);
    let mut edge = vec![false; w * h];
    for y in 0..h {
        for x in 0..w {
            let mut lo = [255u8; 4];
            let mut hi = [0u8; 4];
            for ny in y.saturating_sub(1)..=(y + 1).min(h - 1) {
                for nx in x.saturating_sub(1)..=(x + 1).min(w - 1) {
                    let p = &img.rgba[(ny * w + nx) * 4..][..4];
                    for ((l, h), &v) in lo.iter_mut().zip(hi.iter_mut()).zip(p) {
                        *l = (*l).min(v);
                        *h = (*h).max(v);
                    }
                }
            }
            edge[y * w + x] = lo.iter().zip(&hi).any(|(l, h)| h - l > EDGE_SPREAD);
        }
    }
    // Dilate by EDGE_DISTANCE (Chebyshev), separably: rows, then columns.
    let d = EDGE_DISTANCE;
    let mut rows = vec![false; w * h];
    for y in 0..h {
        for x in 0..w {
            rows[y * w + x] = (x.saturating_sub(d)..=(x + d).min(w - 1)).any(|nx| edge[y * w + nx]);
        }
    }
    let mut near = vec![false; w * h];
    for y in 0..h {
        for x in 0..w {
            near[y * w + x] = (y.saturating_sub(d)..=(y + d).min(h - 1)).any(|ny| rows[ny * w + x]);
        }
    }
    near
}

fn luma(img: &Image) -> Vec<f64> {
    img.rgba
        .chunks_exact(4)
        .map(|p| {
            let a = f64::from(p[3]) / 255.0;
            let over_white = |c: u8| f64::from(c) * a + 255.0 * (1.0 - a);
            0.299 * over_white(p[0]) + 0.587 * over_white(p[1]) + 0.114 * over_white(p[2])
        })
        .collect()
}

/// Mean SSIM of two luma planes (Wang et al. 2004: Gaussian 11×11, σ 1.5, valid windows).
fn ssim(a: &[f64], b: &[f64], w: usize, h: usize) -> f64 {
    const N: usize = 11;
    let sigma = 1.5f64;
    let mut k: Vec<f64> = (0..N)
        .map(|i| {
            let d = i as f64 - (N / 2) as f64;
            (-(d * d) / (2.0 * sigma * sigma)).exp()
        })
        .collect();
    let sum: f64 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= sum);
    if w < N || h < N {
        return f64::NAN;
    }
    let (ow, oh) = (w - N + 1, h - N + 1);
    // Separable 'valid' filter of one plane.
    let filter = |src: &dyn Fn(usize) -> f64| -> Vec<f64> {
        let mut tmp = vec![0.0; ow * h];
        for y in 0..h {
            for x in 0..ow {
                let mut s = 0.0;
                for (i, kv) in k.iter().enumerate() {
                    s += kv * src(y * w + x + i);
                }
                tmp[y * ow + x] = s;
            }
        }
        let mut out = vec![0.0; ow * oh];
        for y in 0..oh {
            for x in 0..ow {
                let mut s = 0.0;
                for (i, kv) in k.iter().enumerate() {
                    s += kv * tmp[(y + i) * ow + x];
                }
                out[y * ow + x] = s;
            }
        }
        out
    };
    let mu_a = filter(&|i| a[i]);
    let mu_b = filter(&|i| b[i]);
    let aa = filter(&|i| a[i] * a[i]);
    let bb = filter(&|i| b[i] * b[i]);
    let ab = filter(&|i| a[i] * b[i]);
    let c1 = (0.01f64 * 255.0).powi(2);
    let c2 = (0.03f64 * 255.0).powi(2);
    let mut total = 0.0;
    for i in 0..ow * oh {
        let (ma, mb) = (mu_a[i], mu_b[i]);
        let va = aa[i] - ma * ma;
        let vb = bb[i] - mb * mb;
        let cov = ab[i] - ma * mb;
        total +=
            ((2.0 * ma * mb + c1) * (2.0 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
    }
    total / (ow * oh) as f64
}

fn compare(reference: &Image, ours: &Image) -> Metrics {
    let n = reference.w * reference.h;
    let near = near_edge(reference);
    let differing: Vec<bool> = reference
        .rgba
        .chunks_exact(4)
        .zip(ours.rgba.chunks_exact(4))
        .map(|(a, b)| pixel_differs(a, b))
        .collect();
    let interior: Vec<bool> = differing
        .iter()
        .zip(&near)
        .map(|(&d, &e)| d && !e)
        .collect();
    let count = differing.iter().filter(|&&d| d).count();
    Metrics {
        differ_pct: 100.0 * count as f64 / n as f64,
        interior_px: interior.iter().filter(|&&d| d).count(),
        ssim: ssim(&luma(reference), &luma(ours), reference.w, reference.h),
        differing,
        interior,
    }
}

/// MapLibre | ours | diff (red where a pixel differs: full red in the interior, light red near
/// an edge; elsewhere the reference, faded).
fn side_by_side(reference: &Image, ours: &Image, m: &Metrics) -> Vec<u8> {
    let (w, h) = (reference.w, reference.h);
    let mut out = vec![0u8; 3 * w * h * 4];
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            let r = &reference.rgba[i * 4..][..4];
            let o = &ours.rgba[i * 4..][..4];
            let row = y * 3 * w;
            out[(row + x) * 4..][..4].copy_from_slice(r);
            out[(row + w + x) * 4..][..4].copy_from_slice(o);
            let d = if m.interior[i] {
                [255, 0, 0, 255]
            } else if m.differing[i] {
                [255, 150, 150, 255]
            } else {
                [r[0] / 4 + 191, r[1] / 4 + 191, r[2] / 4 + 191, 255]
            };
            out[(row + 2 * w + x) * 4..][..4].copy_from_slice(&d);
        }
    }
    out
}

struct Row {
    case: String,
    style: String,
    schema: String,
    size: u32,
    scale: u32,
    /// (differ %, interior px, SSIM), or the error that stopped the comparison.
    metrics: Result<(f64, usize, f64), String>,
    failures: Vec<String>,
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn run_case(c: &Case) -> Row {
    let mut row = Row {
        case: c.name.clone(),
        style: c.style.clone(),
        schema: c.schema.clone(),
        size: c.size,
        scale: c.scale,
        metrics: Err(String::new()),
        failures: Vec::new(),
    };
    let actual_path = c.dir.join("actual.png");
    let sbs_path = c.dir.join("side-by-side.png");
    let _ = std::fs::remove_file(&actual_path);
    let _ = std::fs::remove_file(&sbs_path);
    let style_path = parity_dir()
        .join("styles")
        .join(&c.style)
        .join("style.json");
    let style_json = std::fs::read_to_string(&style_path)
        .unwrap_or_else(|e| panic!("{}: {e}", style_path.display()));
    let data = std::fs::read(&c.tile).unwrap_or_else(|e| panic!("{}: {e}", c.tile.display()));
    let reference_png = std::fs::read(c.dir.join("maplibre.png")).unwrap_or_else(|e| {
        panic!(
            "{}/maplibre.png: {e} (make it with tests/parity/make-references.mjs)",
            c.name
        )
    });
    // The style's sprite (`"sprite": "./sprite"`): sprite.json/.png and the @2x pair beside
    // style.json, handed over as the host does.
    let style_dir = parity_dir().join("styles").join(&c.style);
    let mut sheets: Vec<(u32, Vec<u8>, Vec<u8>)> = Vec::new();
    for (ratio, suffix) in [(1u32, ""), (2, "@2x")] {
        let json = std::fs::read(style_dir.join(format!("sprite{suffix}.json")));
        let png = std::fs::read(style_dir.join(format!("sprite{suffix}.png")));
        if let (Ok(json), Ok(png)) = (json, png) {
            sheets.push((ratio, json, png));
        }
    }
    let sprites: Vec<SpriteData<'_>> = sheets
        .iter()
        .map(|(ratio, json, png)| SpriteData {
            id: "default",
            pixel_ratio: *ratio,
            json,
            png,
        })
        .collect();
    let options = RenderOptions {
        format: Format::Png,
        size: c.size,
        scale: c.scale,
        style: StyleSource::Json(&style_json),
        data_tile: None,
        png: Default::default(),
    };
    let tile = TileId {
        z: c.z,
        x: c.x,
        y: c.y,
    };
    let assets = Assets {
        sprites: &sprites,
        fonts: &[],
    };
    let ours_png = match render_with(&data, tile, &options, &assets) {
        Ok(p) => p.bytes,
        Err(e) => {
            row.metrics = Err(format!("render failed: {e}"));
            row.failures.push(format!("render failed: {e}"));
            return row;
        }
    };
    let reference = decode_png(&reference_png);
    let ours = decode_png(&ours_png);
    if (reference.w, reference.h) != (ours.w, ours.h) {
        let msg = format!(
            "size {}×{}, MapLibre's is {}×{}",
            ours.w, ours.h, reference.w, reference.h
        );
        std::fs::write(&actual_path, &ours_png).unwrap();
        row.metrics = Err(msg.clone());
        row.failures.push(msg);
        return row;
    }
    let m = compare(&reference, &ours);
    if m.differ_pct > c.max_differ_pct {
        row.failures.push(format!(
            "differ {:.2} % > {} %",
            m.differ_pct, c.max_differ_pct
        ));
    }
    if m.interior_px > c.max_interior_px {
        row.failures.push(format!(
            "interior {} px > {}",
            m.interior_px, c.max_interior_px
        ));
    }
    if m.ssim.is_nan() || m.ssim < c.min_ssim {
        row.failures
            .push(format!("SSIM {:.4} < {}", m.ssim, c.min_ssim));
    }
    // RASTERZEN_PARITY_WRITE=1 keeps the images of passing cases too, to look at.
    if !row.failures.is_empty() || std::env::var_os("RASTERZEN_PARITY_WRITE").is_some() {
        std::fs::write(&actual_path, &ours_png).unwrap();
        write_rgba_png(
            &sbs_path,
            3 * reference.w,
            reference.h,
            &side_by_side(&reference, &ours, &m),
        );
    }
    row.metrics = Ok((m.differ_pct, m.interior_px, m.ssim));
    row
}

fn table(rows: &[Row]) -> String {
    let mut t = String::new();
    t.push_str(
        "| case | style | schema | size | scale | differ % | interior px | SSIM | result |\n",
    );
    t.push_str("|---|---|---|---:|---:|---:|---:|---:|---|\n");
    for r in rows {
        let (d, i, s) = match &r.metrics {
            Ok((d, i, s)) => (format!("{d:.2}"), i.to_string(), format!("{s:.4}")),
            Err(_) => ("–".into(), "–".into(), "–".into()),
        };
        let result = if r.failures.is_empty() {
            "pass".to_owned()
        } else {
            format!("FAIL: {}", r.failures.join("; "))
        };
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} | {d} | {i} | {s} | {result} |",
            r.case, r.style, r.schema, r.size, r.scale
        );
    }
    t
}

#[test]
fn parity_with_maplibre() {
    let filter = std::env::var("RASTERZEN_PARITY_CASES").ok();
    let cases_dir = parity_dir().join("cases");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&cases_dir)
        .unwrap_or_else(|e| panic!("{}: {e}", cases_dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("case.json").is_file())
        .filter(|p| {
            filter
                .as_deref()
                .is_none_or(|f| p.file_name().unwrap().to_string_lossy().contains(f))
        })
        .collect();
    dirs.sort();
    assert!(
        !dirs.is_empty(),
        "no parity cases in {}",
        cases_dir.display()
    );

    let cases: Vec<Case> = dirs.iter().map(|d| load_case(d)).collect();
    let started = std::time::Instant::now();
    let rows: Vec<Row> = cases.iter().map(run_case).collect();
    let elapsed = started.elapsed();

    let ok: Vec<&(f64, usize, f64)> = rows
        .iter()
        .filter_map(|r| r.metrics.as_ref().ok())
        .collect();
    // A case that could not be compared counts as SSIM 0 and differ 100 % in the medians.
    let missing = rows.len() - ok.len();
    let ssims: Vec<f64> = ok
        .iter()
        .map(|m| m.2)
        .chain(std::iter::repeat_n(0.0, missing))
        .collect();
    let differs: Vec<f64> = ok
        .iter()
        .map(|m| m.0)
        .chain(std::iter::repeat_n(100.0, missing))
        .collect();
    let (median_ssim, median_differ) = (median(ssims), median(differs));
    let failing = rows.iter().filter(|r| !r.failures.is_empty()).count();

    let mut report = table(&rows);
    let _ = writeln!(
        report,
        "\n{} cases, {} pass, {} fail; median SSIM {:.4} (target ≥ {}), median differ {:.2} % (target ≤ {} %); {:.1} s",
        rows.len(),
        rows.len() - failing,
        failing,
        median_ssim,
        MEDIAN_MIN_SSIM,
        median_differ,
        MEDIAN_MAX_DIFFER_PCT,
        elapsed.as_secs_f64()
    );
    println!("{report}");
    if let Ok(path) = std::env::var("RASTERZEN_PARITY_REPORT") {
        std::fs::write(&path, format!("# Parity with MapLibre GL JS\n\n{report}"))
            .unwrap_or_else(|e| panic!("RASTERZEN_PARITY_REPORT={path}: {e}"));
    }

    let mut problems: Vec<String> = rows
        .iter()
        .filter(|r| !r.failures.is_empty())
        .map(|r| {
            format!(
                "{}: {} (see tests/parity/cases/{}/side-by-side.png)",
                r.case,
                r.failures.join("; "),
                r.case
            )
        })
        .collect();
    if median_ssim.is_nan() || median_ssim < MEDIAN_MIN_SSIM {
        problems.push(format!("median SSIM {median_ssim:.4} < {MEDIAN_MIN_SSIM}"));
    }
    if median_differ.is_nan() || median_differ > MEDIAN_MAX_DIFFER_PCT {
        problems.push(format!(
            "median differ {median_differ:.2} % > {MEDIAN_MAX_DIFFER_PCT} %"
        ));
    }
    assert!(
        problems.is_empty(),
        "parity with MapLibre GL JS not reached:\n{}\n\n{report}",
        problems.join("\n")
    );
}

#[test]
fn metrics_behave() {
    // Identical images: nothing differs, SSIM 1.
    let w = 32;
    let h = 32;
    let mut rgba = vec![0u8; w * h * 4];
    for y in 0..h {
        for x in 0..w {
            let v = if x < 16 { 40 } else { 200 };
            rgba[(y * w + x) * 4..][..4].copy_from_slice(&[v, v, v, 255]);
        }
    }
    let a = Image {
        w,
        h,
        rgba: rgba.clone(),
    };
    let m = compare(&a, &a);
    assert_eq!(m.differ_pct, 0.0);
    assert_eq!(m.interior_px, 0);
    assert!((m.ssim - 1.0).abs() < 1e-12);

    // A shifted edge differs only next to the edge: not interior.
    let mut shifted = rgba.clone();
    for y in 0..h {
        shifted[(y * w + 16) * 4..][..4].copy_from_slice(&[40, 40, 40, 255]);
    }
    let b = Image {
        w,
        h,
        rgba: shifted,
    };
    let m = compare(&a, &b);
    assert_eq!(m.interior_px, 0);
    assert!(m.differ_pct > 0.0 && m.ssim < 1.0);

    // A wrong colour in a flat area is interior.
    let mut wrong = rgba;
    for y in 4..12 {
        for x in 2..10 {
            wrong[(y * w + x) * 4..][..4].copy_from_slice(&[90, 40, 40, 255]);
        }
    }
    let c = Image { w, h, rgba: wrong };
    let m = compare(&a, &c);
    assert_eq!(m.interior_px, 64);
    assert!(m.ssim < 1.0);

    assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
    assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
}
