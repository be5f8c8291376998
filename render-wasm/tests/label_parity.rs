//! Label placement against MapLibre GL JS (positions, not pixels): every case of
//! `tests/parity/labels/` is laid out and placed by our label stage (`labels::build`: the tile
//! alone, no neighbours) and compared with the labels MapLibre placed on the same tile with the
//! same style and the same fonts (`maplibre-labels.json`, made by
//! `tests/parity/make-label-references.mjs`; no browser here).
//!
//! Compared: point labels with text (symbol-placement `point` at the tile's zoom) whose boxes
//! (text and icon, padding included) lie at least `edge_margin_px` inside the tile: at the
//! edges MapLibre keeps or drops labels by its own tile-border logic, which rasterzen replaces
//! with seam-free placement over neighbours. A MapLibre label and one of ours match when they
//! are of the same layer and text (trimmed), nearest text-box centres first, one to one, at
//! most `MATCH_PX` apart. Recall = matched MapLibre labels away from edges / all of those;
//! precision = matched labels of ours away from edges / all of those; position error = the
//! distance between the two text-box centres (collision boxes, CSS px) of each matched
//! MapLibre label away from the edges.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod common;

use rasterzen_render::labels::{self, placement::FBox, PlacedLabel};
use rasterzen_render::mvt::{self, Tile};
use rasterzen_render::scene::View;
use rasterzen_render::sprite::{SpriteSheet, Sprites};
use rasterzen_render::style::Style;
use rasterzen_render::TileId;
use serde_json::Value;

/// Farther apart than this, two labels of the same layer and text are not the same label.
const MATCH_PX: f64 = 16.0;
const FIXED: f64 = 64.0;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A label reduced to what is compared: layer, text, text-box centre, and all boxes' bounds.
#[derive(Debug, Clone)]
struct L {
    layer: String,
    text: String,
    feature: u64,
    centre: (f64, f64),
    /// The text box alone.
    text_box: [f64; 4],
    bounds: [f64; 4],
}

fn inside(b: &[f64; 4], size: f64, m: f64) -> bool {
    b[0] >= m && b[1] >= m && b[2] <= size - m && b[3] <= size - m
}

fn union(a: [f64; 4], b: [f64; 4]) -> [f64; 4] {
    [
        a[0].min(b[0]),
        a[1].min(b[1]),
        a[2].max(b[2]),
        a[3].max(b[3]),
    ]
}

fn px(b: &FBox) -> [f64; 4] {
    [
        f64::from(b.x0) / FIXED,
        f64::from(b.y0) / FIXED,
        f64::from(b.x1) / FIXED,
        f64::from(b.y1) / FIXED,
    ]
}

fn boxed(v: &Value) -> Option<[f64; 4]> {
    let a = v.as_array()?;
    Some([
        a[0].as_f64()?,
        a[1].as_f64()?,
        a[2].as_f64()?,
        a[3].as_f64()?,
    ])
}

fn maplibre_labels(doc: &Value, point_layers: &BTreeMap<String, bool>) -> Vec<L> {
    let mut out = Vec::new();
    for l in doc["labels"].as_array().expect("labels") {
        let layer = l["layer"].as_str().unwrap().to_string();
        if !point_layers.get(&layer).copied().unwrap_or(false) || l["text_placed"] != true {
            continue;
        }
        let tb = boxed(&l["text_box"]).expect("a placed point text has a text box");
        let bounds = boxed(&l["icon_box"]).map_or(tb, |ib| union(tb, ib));
        out.push(L {
            layer,
            text: l["text"].as_str().unwrap().trim().to_string(),
            feature: l["feature"].as_u64().unwrap(),
            centre: ((tb[0] + tb[2]) / 2.0, (tb[1] + tb[3]) / 2.0),
            text_box: tb,
            bounds,
        });
    }
    out
}

fn our_labels(placed: &[PlacedLabel], point_layers: &BTreeMap<String, bool>) -> Vec<L> {
    let mut out = Vec::new();
    for p in placed {
        if !point_layers.get(&p.layer).copied().unwrap_or(false) || p.glyphs.is_empty() {
            continue;
        }
        // A point label with text: its text box first, then the icon's when one is drawn.
        let tb = px(&p.boxes[0]);
        let bounds = p.boxes.iter().map(px).fold(tb, union);
        out.push(L {
            layer: p.layer.clone(),
            text: p.text.trim().to_string(),
            feature: p.feature as u64,
            centre: ((tb[0] + tb[2]) / 2.0, (tb[1] + tb[3]) / 2.0),
            text_box: tb,
            bounds,
        });
    }
    out
}

/// The largest difference between the edges of two boxes, px.
fn edge_error(a: &[f64; 4], b: &[f64; 4]) -> f64 {
    (0..4).map(|k| (a[k] - b[k]).abs()).fold(0.0, f64::max)
}

/// One-to-one matching, nearest first: (index in `a`, index in `b`, distance).
fn matching(a: &[L], b: &[L]) -> Vec<(usize, usize, f64)> {
    let mut pairs = Vec::new();
    for (i, x) in a.iter().enumerate() {
        for (j, y) in b.iter().enumerate() {
            if x.layer == y.layer && x.text == y.text {
                let d = (x.centre.0 - y.centre.0).hypot(x.centre.1 - y.centre.1);
                if d <= MATCH_PX {
                    pairs.push((i, j, d));
                }
            }
        }
    }
    pairs.sort_by(|p, q| p.2.total_cmp(&q.2).then(p.0.cmp(&q.0)).then(p.1.cmp(&q.1)));
    let (mut ua, mut ub) = (vec![false; a.len()], vec![false; b.len()]);
    let mut out = Vec::new();
    for (i, j, d) in pairs {
        if !ua[i] && !ub[j] {
            ua[i] = true;
            ub[j] = true;
            out.push((i, j, d));
        }
    }
    out
}

fn style_for(name: &str) -> (Style, Sprites) {
    if name == "default" {
        return (Style::builtin("default").unwrap(), Sprites::new());
    }
    let dir = root().join("tests/parity/labels/styles");
    let text = std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    let style = Style::from_json(&text).unwrap();
    let mut sprites = Sprites::new();
    if let Some(s) = json["sprite"].as_str() {
        let base = dir.join(s);
        let j = std::fs::read(base.with_extension("json")).unwrap();
        let p = std::fs::read(base.with_extension("png")).unwrap();
        sprites.add(
            "default",
            std::sync::Arc::new(SpriteSheet::decode("default", &j, &p).unwrap()),
        );
    }
    (style, sprites)
}

fn tile_for(case: &Value) -> Vec<u8> {
    let (z, x, y) = (
        case["z"].as_u64().unwrap() as u8,
        case["x"].as_u64().unwrap() as u32,
        case["y"].as_u64().unwrap() as u32,
    );
    if let Some(t) = case["tile"].as_str() {
        return std::fs::read(root().join("tests/parity").join(t)).unwrap();
    }
    let a = case["archive"].as_str().expect("tile or archive");
    common::archive(a)
        .remove(&(z, x, y))
        .unwrap_or_else(|| panic!("{a} has no tile {z}/{x}/{y}"))
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    ml: usize,
    ml_matched: usize,
    ours: usize,
    ours_matched: usize,
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Compares one case; prints its figures and differences; returns its counts and errors.
fn run_case(dir: &Path) -> (Counts, Vec<f64>, Vec<f64>, Value) {
    let name = dir.file_name().unwrap().to_string_lossy().to_string();
    let case: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("case.json")).unwrap()).unwrap();
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("maplibre-labels.json")).unwrap_or_else(|e| {
            panic!(
                "{name}: no maplibre-labels.json ({e}): run `node tests/parity/make-label-references.mjs {name}`"
            )
        }),
    )
    .unwrap();
    let size = case["size"].as_f64().unwrap();
    assert_eq!(size, 512.0, "{name}: label cases are 512 px");
    let margin = case["edge_margin_px"].as_f64().unwrap();
    let point_layers: BTreeMap<String, bool> = doc["symbol_layers"]
        .as_object()
        .expect("symbol_layers")
        .iter()
        .map(|(k, v)| (k.clone(), v == "point"))
        .collect();

    let (style, sprites) = style_for(case["style"].as_str().unwrap());
    let tile: Tile = mvt::decode_bytes(&tile_for(&case), &mvt::DecodeLimits::default()).unwrap();
    let id = TileId {
        z: case["z"].as_u64().unwrap() as u8,
        x: case["x"].as_u64().unwrap() as u32,
        y: case["y"].as_u64().unwrap() as u32,
    };
    let view = View::new(id, id, 512, 1);
    let built = labels::build(&tile, &style, &view, &sprites);
    if std::env::var_os("RASTERZEN_LABEL_PARITY_VERBOSE").is_some() {
        for w in &built.warnings {
            println!("  warning: {w}");
        }
    }
    let placed = built.placed;

    let ml = maplibre_labels(&doc, &point_layers);
    let ours = our_labels(&placed, &point_layers);
    if std::env::var_os("RASTERZEN_LABEL_PARITY_VERBOSE").is_some() {
        for l in &ml {
            println!("  MapLibre {l:?}");
        }
        for p in &placed {
            println!(
                "  ours {} {:?} feature {} anchor ({:.2}, {:.2}) boxes {:?}",
                p.layer,
                p.text,
                p.feature,
                p.anchor.0,
                p.anchor.1,
                p.boxes.iter().map(px).collect::<Vec<_>>()
            );
        }
    }
    let pairs = matching(&ml, &ours);
    let ml_of: BTreeMap<usize, (usize, f64)> = pairs.iter().map(|&(i, j, d)| (i, (j, d))).collect();
    let ours_of: BTreeMap<usize, usize> = pairs.iter().map(|&(i, j, _)| (j, i)).collect();

    let mut c = Counts::default();
    let mut errors = Vec::new();
    let mut edges = Vec::new();
    let mut notes = Vec::new();
    for (i, l) in ml.iter().enumerate() {
        if !inside(&l.bounds, size, margin) {
            continue;
        }
        c.ml += 1;
        match ml_of.get(&i) {
            Some(&(j, d)) => {
                c.ml_matched += 1;
                errors.push(d);
                let o = &ours[j];
                let edge = edge_error(&l.text_box, &o.text_box);
                edges.push(edge);
                if edge > 2.0 {
                    notes.push(format!(
                        "  box edges off by up to {edge:.2} px: {} {:?}: MapLibre {:?}, ours {:?}",
                        l.layer, l.text, l.text_box, o.text_box
                    ));
                }
                if d > 1.0 {
                    notes.push(format!(
                        "  off by {d:.2} px: {} {:?} (feature {}): MapLibre box centre ({:.2}, {:.2}), ours ({:.2}, {:.2})",
                        l.layer, l.text, l.feature, l.centre.0, l.centre.1, o.centre.0, o.centre.1
                    ));
                }
            }
            None => notes.push(format!(
                "  missed: {} {:?} (feature {}) at ({:.1}, {:.1}), box {:?}",
                l.layer, l.text, l.feature, l.centre.0, l.centre.1, l.bounds
            )),
        }
    }
    for (j, o) in ours.iter().enumerate() {
        if !inside(&o.bounds, size, margin) {
            continue;
        }
        c.ours += 1;
        if ours_of.contains_key(&j) {
            c.ours_matched += 1;
        } else {
            notes.push(format!(
                "  extra: {} {:?} (feature {}) at ({:.1}, {:.1}), box {:?}",
                o.layer, o.text, o.feature, o.centre.0, o.centre.1, o.bounds
            ));
        }
    }
    // Line labels are not the measure; their anchors are shown for what they are
    // worth (nearest anchor of the same layer and text, within MATCH_PX).
    let line_layers: BTreeMap<String, bool> =
        point_layers.iter().map(|(k, &v)| (k.clone(), !v)).collect();
    let ml_lines: Vec<L> = doc["labels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| line_layers.get(l["layer"].as_str().unwrap()) == Some(&true))
        .filter(|l| l["text_placed"] == true)
        .map(|l| {
            let a = (
                l["anchor"][0].as_f64().unwrap(),
                l["anchor"][1].as_f64().unwrap(),
            );
            L {
                layer: l["layer"].as_str().unwrap().to_string(),
                text: l["text"].as_str().unwrap().trim().to_string(),
                feature: l["feature"].as_u64().unwrap(),
                centre: a,
                text_box: [a.0, a.1, a.0, a.1],
                bounds: [a.0, a.1, a.0, a.1],
            }
        })
        .collect();
    let our_lines: Vec<L> = placed
        .iter()
        .filter(|p| line_layers.get(&p.layer) == Some(&true) && !p.glyphs.is_empty())
        .map(|p| L {
            layer: p.layer.clone(),
            text: p.text.trim().to_string(),
            feature: p.feature as u64,
            centre: p.anchor,
            text_box: [p.anchor.0, p.anchor.1, p.anchor.0, p.anchor.1],
            bounds: [p.anchor.0, p.anchor.1, p.anchor.0, p.anchor.1],
        })
        .collect();
    let mut e = errors.clone();
    let max_edge = edges.iter().copied().fold(0.0, f64::max);
    println!(
        "{name}: MapLibre {} point labels away from edges, matched {} (recall {:.3}); ours {}, matched {} (precision {:.3}); median error {:.3} px, max {:.3} px; text-box edges: median {:.3} px, max {max_edge:.3} px",
        c.ml,
        c.ml_matched,
        ratio(c.ml_matched, c.ml),
        c.ours,
        c.ours_matched,
        ratio(c.ours_matched, c.ours),
        median(&mut e),
        errors.iter().copied().fold(0.0, f64::max),
        median(&mut edges.clone()),
    );
    for n in &notes {
        println!("{n}");
    }
    let line_pairs = matching(&ml_lines, &our_lines);
    let mut line_d: Vec<f64> = line_pairs.iter().map(|p| p.2).collect();
    if !ml_lines.is_empty() {
        println!(
            "  (line labels, not compared: MapLibre {}, ours {}, same layer and text within {MATCH_PX} px: {}, anchor distance median {:.2} px)",
            ml_lines.len(),
            our_lines.len(),
            line_pairs.len(),
            median(&mut line_d)
        );
    }
    (c, errors, edges, case)
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
    }
}

fn cases() -> Vec<PathBuf> {
    let dir = root().join("tests/parity/labels");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("case.json").exists())
        .filter(|p| {
            std::env::var("RASTERZEN_LABEL_PARITY_CASES")
                .map_or(true, |f| p.to_string_lossy().contains(&f))
        })
        .collect();
    v.sort();
    v
}

#[test]
fn point_labels_are_placed_where_maplibre_places_them() {
    let all = cases();
    let filtered = std::env::var_os("RASTERZEN_LABEL_PARITY_CASES").is_some();
    assert!(filtered || all.len() >= 4, "{} label cases", all.len());
    type Pool = (Counts, Vec<f64>, Vec<f64>, Value);
    let mut by_style: BTreeMap<String, Pool> = BTreeMap::new();
    let mut failures = Vec::new();
    for dir in &all {
        let (c, errors, edges, case) = run_case(dir);
        let e = by_style
            .entry(case["style"].as_str().unwrap().to_string())
            .or_insert_with(|| (Counts::default(), Vec::new(), Vec::new(), case.clone()));
        e.0.ml += c.ml;
        e.0.ml_matched += c.ml_matched;
        e.0.ours += c.ours;
        e.0.ours_matched += c.ours_matched;
        e.1.extend(errors);
        e.2.extend(edges);
    }
    // The thresholds hold per style over its cases (a single tile has too few point labels
    // for a ratio: 2 to 17 here).
    for (style, (c, mut errors, mut edges, case)) in by_style {
        let recall = ratio(c.ml_matched, c.ml);
        let precision = ratio(c.ours_matched, c.ours);
        let med = median(&mut errors);
        let max = errors.iter().copied().fold(0.0, f64::max);
        let max_edge = edges.iter().copied().fold(0.0, f64::max);
        println!(
            "style {style}: recall {recall:.3} ({}/{}), precision {precision:.3} ({}/{}), position error median {med:.3} px, max {max:.3} px over {} matched labels; text-box edges median {:.3} px, max {max_edge:.3} px",
            c.ml_matched, c.ml, c.ours_matched, c.ours, errors.len(), median(&mut edges)
        );
        assert!(
            filtered || c.ml >= 10,
            "style {style}: only {} MapLibre point labels",
            c.ml
        );
        if recall < case["min_recall"].as_f64().unwrap() {
            failures.push(format!("{style}: recall {recall:.3}"));
        }
        if precision < case["min_precision"].as_f64().unwrap() {
            failures.push(format!("{style}: precision {precision:.3}"));
        }
        if med.is_nan() || med > case["max_median_error_px"].as_f64().unwrap() {
            failures.push(format!("{style}: median error {med:.3} px"));
        }
    }
    assert!(
        failures.is_empty(),
        "below the issue's thresholds: {failures:?}"
    );
}
