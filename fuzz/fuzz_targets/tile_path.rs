//! The HTTP tile path parser and the names that reach paths and keys (cache-key components,
//! renderer versions), on arbitrary text: the very code of `host/src/tilepath.rs`.
//!
//! Invariants: no panic; a parsed path re-formats to one that parses the same; a cache-key
//! component or an accepted version can never be a separator, a parent directory, an absolute
//! path, a NUL or a hidden name, so `root.join(key)` stays under `root` for any input.
#![no_main]

#[path = "../../host/src/tilepath.rs"]
mod tilepath;

use libfuzzer_sys::fuzz_target;
use std::path::{Component, Path};

fn safe_name(s: &str) {
    assert!(!s.is_empty());
    assert!(!s.contains(['/', '\\', '\0', '%', ':']), "{s:?}");
    assert!(s != "." && s != "..", "{s:?}");
    assert!(s.bytes().all(|b| b.is_ascii_graphic()), "{s:?}");
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for (ext, retina) in [
        ("png", true),
        ("svg", true),
        ("mvt", false),
        ("geojson", false),
    ] {
        if let Ok((z, x, y, scale)) = tilepath::parse_tile_path(ext, retina, text) {
            assert!(scale == 1 || (scale == 2 && retina));
            let at = if scale == 2 { "@2x" } else { "" };
            let canonical = format!("{z}/{x}/{y}{at}.{ext}");
            assert_eq!(
                tilepath::parse_tile_path(ext, retina, &canonical),
                Ok((z, x, y, scale))
            );
            assert!(!text.contains(".."), "a path with `..` parsed: {text:?}");
        }
    }
    let c = tilepath::key_component(text);
    safe_name(&c);
    // A whole key made of such components (plus numbers) never leaves its root.
    let key = format!("{c}/{c}/{c}/png-512@1x/1/0/0.png");
    assert!(Path::new(&key)
        .components()
        .all(|p| matches!(p, Component::Normal(_))));
    if tilepath::valid_version(text) {
        safe_name(text);
        assert!(!text.starts_with('.') && text.len() <= 64);
        assert_eq!(
            tilepath::key_component(text),
            text,
            "a version is its own key component"
        );
    }
});
