//! The style parser and compiler on arbitrary text: a style is accepted or refused with a
//! one-line error naming its JSON path, never a panic; an accepted style hashes stably and its
//! paint evaluates at every zoom without a feature.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rasterzen_render::style::{Style, StyleError};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = rasterzen_fuzz::within_budget("style parse", || Style::from_json(text));
    match parsed {
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.is_empty());
            assert!(msg.len() < 4096, "an error of {} bytes", msg.len());
            if let StyleError::Invalid { path, .. } = &e {
                assert!(!path.contains('\n'), "path {path:?}");
            }
        }
        Ok(style) => {
            assert_eq!(style.hash_hex().len(), 16);
            let again = Style::from_json(text).expect("parsing is deterministic");
            assert_eq!(again.hash_hex(), style.hash_hex(), "hash is stable");
            for layer in style.layers() {
                for z in [0.0, 7.5, 14.0, 22.0, 30.0] {
                    let _ = layer.visible_at(z);
                    let _ = layer.paint(None, z);
                }
            }
        }
    }
});
