//! The expression evaluator: arbitrary JSON expressions as a layer's filter, sort key and
//! paint properties, compiled and evaluated against real features (every value type, every
//! geometry type) at several zooms. Never a panic, bounded memory and time; paint values stay
//! finite where the renderer relies on it.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rasterzen_render::mvt::{decode_bytes, DecodeLimits, FeatureRef, Tile};
use rasterzen_render::style::Style;

/// A few small tiles with varied properties and geometries, decoded once.
fn tiles() -> &'static [Tile] {
    static TILES: OnceLock<Vec<Tile>> = OnceLock::new();
    TILES.get_or_init(|| {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/");
        let mut out = Vec::new();
        for f in [
            "tiles/vector-tile-js/lots-of-tags.vector.pbf",
            "tiles/vector-tile-js/12-1143-1497.vector.pbf",
            "tiles/vector-tile-js/polygon-with-inner.pbf",
            "tiles/vector-tile-js/multi-line.pbf",
            "tiles/vector-tile-js/multi-point.pbf",
        ] {
            let bytes = std::fs::read(format!("{root}{f}")).expect("fixture tile");
            out.push(decode_bytes(&bytes, &DecodeLimits::default()).expect("fixture decodes"));
        }
        out
    })
}

const PROPS: [(&str, &str); 6] = [
    ("circle", "circle-radius"),
    ("circle", "circle-color"),
    ("line", "line-width"),
    ("line", "line-dasharray"),
    ("fill", "fill-color"),
    ("fill", "fill-opacity"),
];

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let (which, rest) = (data[0], &data[1..]);
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let Ok(expr) = serde_json::from_str::<serde_json::Value>(text) else {
        return;
    };
    let (kind, prop) = PROPS[usize::from(which) % PROPS.len()];
    let key = format!("{kind}-sort-key");
    let layer = |filter: bool| {
        let mut l = serde_json::json!({
            "id": "fuzz", "type": kind, "source": "s", "source-layer": "x",
            "paint": { prop: expr.clone() },
            "layout": { key.as_str(): expr.clone() },
        });
        if filter {
            l["filter"] = expr.clone();
        }
        l
    };
    // The expression as a paint property + sort key, and (separately) as the filter too.
    for filter in [false, true] {
        let style = serde_json::json!({
            "version": 8,
            "sources": {"s": {"type": "vector"}},
            "layers": [layer(filter)],
        })
        .to_string();
        let Ok(style) = Style::from_json(&style) else {
            continue;
        };
        rasterzen_fuzz::within_budget("evaluation", || {
            for l in style.layers() {
                for tile in tiles() {
                    for layer in &tile.layers {
                        for feature in layer.features.iter().take(40) {
                            let f = FeatureRef::new(layer, feature);
                            for z in [0.0, 10.5, 14.0, 24.0] {
                                let _ = l.matches(&f, z);
                                if let Some(k) = l.sort_key(&f, z) {
                                    assert!(k.is_finite(), "sort key {k}");
                                }
                                let _ = l.paint(Some(&f), z);
                            }
                        }
                    }
                }
            }
        });
    }
});
