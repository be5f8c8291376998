//! The MVT decoder on arbitrary bytes (raw, gzip or zlib): never a panic, bounded memory and
//! time, and a decoded tile is internally consistent (every tag resolves, every line has two
//! points, every ring three, extents in range).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rasterzen_render::mvt::{decode_bytes, DecodeLimits, FeatureRef, Geometry};

fuzz_target!(|data: &[u8]| {
    let limits = DecodeLimits::default();
    let decoded = rasterzen_fuzz::within_budget("decode", || decode_bytes(data, &limits));
    let Ok(tile) = decoded else { return };
    assert!(tile.layers.len() <= limits.max_layers);
    let mut points = 0usize;
    for layer in &tile.layers {
        assert!(
            (1..=2).contains(&layer.version),
            "version {}",
            layer.version
        );
        assert!(layer.extent > 0, "extent 0 accepted");
        assert!(layer.features.len() <= limits.max_features_per_layer);
        for feature in &layer.features {
            // Tags are validated: resolving them must not index out of bounds.
            let f = FeatureRef::new(layer, feature);
            assert_eq!(f.properties().count(), feature.tags.len());
            match &feature.geometry {
                Geometry::Points(p) => {
                    assert!(!p.is_empty());
                    points += p.len();
                }
                Geometry::Lines(lines) => {
                    for l in lines {
                        assert!(l.len() >= 2, "a line of {} point(s)", l.len());
                        points += l.len();
                    }
                }
                Geometry::Polygons(polys) => {
                    for p in polys {
                        assert!(p.exterior.len() >= 3, "a ring of {}", p.exterior.len());
                        points += p.exterior.len() + p.holes.iter().map(Vec::len).sum::<usize>();
                    }
                }
                Geometry::Unknown => {}
            }
        }
    }
    assert!(points <= limits.max_total_points, "{points} points decoded");
});
