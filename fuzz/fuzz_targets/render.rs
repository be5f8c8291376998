//! The whole render path: tile bytes + style → PNG, SVG or GeoJSON, as the host calls it.
//!
//! Input layout: `[flags][style length: u16 LE][style JSON][tile bytes]`. Flags: bits 0–1 the
//! format (PNG twice as often), bit 2 size 512 (else 256), bit 3 scale 2, bits 4–5 the style
//! (0–2 a built-in, 3 the JSON in the input), bit 6 overzoom (the data tile is 2 levels up),
//! bit 7 the lossy 8-bit PNG profile (its palette quantizer) instead of the default.
//!
//! Invariants: no panic; an accepted render is a valid PNG of `size × scale` pixels square that
//! decodes, an SVG of that size, or GeoJSON; memory and time stay within the render budget.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rasterzen_render::{render, Format, PngProfile, RenderOptions, StyleSource, TileId};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let (style, tile_bytes) = if (flags >> 4) & 3 == 3 {
        if rest.len() < 2 {
            return;
        }
        let n = usize::from(u16::from_le_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        let Ok(json) = std::str::from_utf8(&rest[2..2 + n]) else {
            return;
        };
        (StyleSource::Json(json), &rest[2 + n..])
    } else {
        let name = ["default", "omt", "light"][usize::from((flags >> 4) & 3)];
        (StyleSource::Builtin(name), rest)
    };
    let format = match flags & 3 {
        0 | 1 => Format::Png,
        2 => Format::Svg,
        _ => Format::Geojson,
    };
    let size = if flags & 4 != 0 { 512 } else { 256 };
    let scale = if flags & 8 != 0 { 2 } else { 1 };
    let (tile, data_tile) = if flags & 64 != 0 {
        (
            TileId::new(16, 34816, 23884).unwrap(),
            Some(TileId::new(14, 8704, 5971).unwrap()),
        )
    } else {
        (TileId::new(14, 8704, 5971).unwrap(), None)
    };
    let options = RenderOptions {
        format,
        size,
        scale,
        style,
        data_tile,
        png: if flags & 128 != 0 {
            PngProfile::Png8
        } else {
            PngProfile::Default
        },
    };
    let out = rasterzen_fuzz::within_budget("render", || render(tile_bytes, tile, &options));
    let Ok(bytes) = out else { return };
    let px = size * scale;
    match format {
        Format::Png => rasterzen_fuzz::check_png(&bytes, px, px),
        Format::Svg => rasterzen_fuzz::check_svg(&bytes, px, px),
        Format::Geojson => rasterzen_fuzz::check_geojson(&bytes),
    }
});
