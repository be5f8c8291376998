//! Pixels → PNG. The encoder is chosen per use ([`PngProfile`]), from a measured sweep on the
//! densest Florence z14 tile (512 px, 6 842 colours; `examples/png_sweep.rs`):
//!
//! | profile | how | bytes | time (relative) |
//! |---|---|---:|---:|
//! | `fast` | fdeflate (one fixed Huffman table), `Sub` filter | 497 k | 1 |
//! | `default` | zlib level 1 (miniz_oxide), no filter | 323 k | 3 |
//! | `small` | zlib level 9, no filter | 248 k | 55 |
//! | `png8` | 256-colour palette (NeuQuant, lossy), zlib level 9 | ~100 k | quantizer + 9 |
//!
//! Map tiles are flat colour runs, which row filters turn into noise: no filter wins for zlib.
//! An image with at most 256 colours (flat styles, empty tiles) is always written indexed,
//! losslessly. The container (signature, IHDR, PLTE, tRNS, one IDAT, IEND) is written here so
//! the compressor runs once over the whole image (through `png`'s streaming writer, zlib's
//! output buffer was zero-filled on every row: 8 % of a render).
//!
//! Output is a pure function of the pixels: the compressors are integer code, the same bytes
//! natively and in wasm.

use crate::RenderError;

/// How a PNG is compressed (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PngProfile {
    /// Fastest: for on-the-fly renders where CPU matters more than bytes.
    Fast,
    /// Balanced: the default.
    #[default]
    Default,
    /// Smallest lossless: for seeded caches.
    Small,
    /// 8-bit palette, lossy (as OSM's own tile servers serve).
    Png8,
}

impl PngProfile {
    pub fn name(self) -> &'static str {
        match self {
            PngProfile::Fast => "fast",
            PngProfile::Default => "default",
            PngProfile::Small => "small",
            PngProfile::Png8 => "png8",
        }
    }

    pub fn from_name(name: &str) -> Option<PngProfile> {
        match name {
            "fast" => Some(PngProfile::Fast),
            "default" => Some(PngProfile::Default),
            "small" => Some(PngProfile::Small),
            "png8" => Some(PngProfile::Png8),
            _ => None,
        }
    }
}

/// Encodes premultiplied RGBA8 pixels (`w × h`) as PNG with the default profile.
pub fn encode_png(w: u32, h: u32, premultiplied: &[u8]) -> Result<Vec<u8>, RenderError> {
    encode_png_with(w, h, premultiplied, PngProfile::Default)
}

/// Encodes premultiplied RGBA8 pixels (`w × h`) as PNG (straight alpha, as PNG requires;
/// un-premultiplied as a browser canvas does: `round(c · 255 / a)`).
pub fn encode_png_with(
    w: u32,
    h: u32,
    premultiplied: &[u8],
    profile: PngProfile,
) -> Result<Vec<u8>, RenderError> {
    let n = w as usize * h as usize;
    if premultiplied.len() != n * 4 || w == 0 || h == 0 {
        return Err(RenderError::InvalidOptions(format!(
            "PNG encoding: {} bytes are not a {w}×{h} RGBA image",
            premultiplied.len()
        )));
    }
    let mut rgba = Vec::with_capacity(premultiplied.len());
    for p in premultiplied.chunks_exact(4) {
        let a = p[3];
        if a == 255 {
            rgba.extend_from_slice(p);
        } else if a == 0 {
            rgba.extend_from_slice(&[0, 0, 0, 0]);
        } else {
            let un =
                |c: u8| ((u32::from(c) * 255 + u32::from(a) / 2) / u32::from(a)).min(255) as u8;
            rgba.extend_from_slice(&[un(p[0]), un(p[1]), un(p[2]), a]);
        }
    }
    encode_png_straight(w, h, rgba, profile)
}

/// Encodes straight-alpha RGBA8 pixels (`w × h`, rows top to bottom) as PNG: the encoder
/// behind [`encode_png_with`], for pixels that are straight already (a decoded PNG, a
/// stitched static map), so they are written exactly as given.
pub fn encode_png_straight(
    w: u32,
    h: u32,
    rgba: Vec<u8>,
    profile: PngProfile,
) -> Result<Vec<u8>, RenderError> {
    if rgba.len() != w as usize * h as usize * 4 || w == 0 || h == 0 {
        return Err(RenderError::InvalidOptions(format!(
            "PNG encoding: {} bytes are not a {w}×{h} RGBA image",
            rgba.len()
        )));
    }
    let opaque = rgba.chunks_exact(4).all(|p| p[3] == 255);
    let indexed =
        palettize(&rgba).or_else(|| (profile == PngProfile::Png8).then(|| quantize(&rgba, opaque)));
    let (color_type, channels, pixels, palette) = match indexed {
        Some((palette, trns, indices)) => (3u8, 1usize, indices, Some((palette, trns))),
        None if opaque => (
            2,
            3,
            rgba.chunks_exact(4)
                .flat_map(|p| [p[0], p[1], p[2]])
                .collect(),
            None,
        ),
        None => (6, 4, rgba, None),
    };
    // Scanlines, each with its filter byte.
    let stride = w as usize * channels;
    let filter = if profile == PngProfile::Fast { 1u8 } else { 0 };
    let mut raw = Vec::with_capacity((stride + 1) * h as usize);
    for row in pixels.chunks_exact(stride) {
        raw.push(filter);
        if filter == 1 {
            // Sub: each byte minus the byte one pixel to its left.
            for (i, &b) in row.iter().enumerate() {
                let left = if i >= channels { row[i - channels] } else { 0 };
                raw.push(b.wrapping_sub(left));
            }
        } else {
            raw.extend_from_slice(row);
        }
    }
    let idat = match profile {
        PngProfile::Fast => fdeflate::compress_to_vec(&raw),
        PngProfile::Default => miniz_oxide::deflate::compress_to_vec_zlib(&raw, 1),
        PngProfile::Small | PngProfile::Png8 => miniz_oxide::deflate::compress_to_vec_zlib(&raw, 9),
    };
    let mut out = Vec::with_capacity(idat.len() + 1024);
    out.extend_from_slice(b"\x89PNG\r\n\x1a\n");
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, color_type, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    if let Some((palette, trns)) = palette {
        chunk(&mut out, b"PLTE", &palette);
        if !opaque {
            chunk(&mut out, b"tRNS", &trns);
        }
    }
    chunk(&mut out, b"IDAT", &idat);
    chunk(&mut out, b"IEND", &[]);
    Ok(out)
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
}

/// Palette (RGB triples), alpha table and one index per pixel, if the image has ≤ 256 colours.
fn palettize(rgba: &[u8]) -> Option<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    // Open addressing over 1024 slots keeps the probe cheap and bails out at 257 colours.
    const SLOTS: usize = 1024;
    let mut keys = [0u32; SLOTS];
    let mut used = [false; SLOTS];
    let mut index_of = [0u8; SLOTS];
    let mut colours: Vec<u32> = Vec::with_capacity(256);
    let mut indices = Vec::with_capacity(rgba.len() / 4);
    let mut last: Option<(u32, u8)> = None;
    for px in rgba.chunks_exact(4) {
        let key = u32::from_le_bytes([px[0], px[1], px[2], px[3]]);
        if let Some((k, i)) = last {
            if k == key {
                indices.push(i);
                continue;
            }
        }
        let mut slot = (key.wrapping_mul(0x9E37_79B1) >> 22) as usize;
        let idx = loop {
            if !used[slot] {
                if colours.len() == 256 {
                    return None;
                }
                used[slot] = true;
                keys[slot] = key;
                index_of[slot] = colours.len() as u8;
                colours.push(key);
                break index_of[slot];
            }
            if keys[slot] == key {
                break index_of[slot];
            }
            slot = (slot + 1) % SLOTS;
        };
        last = Some((key, idx));
        indices.push(idx);
    }
    let mut palette = Vec::with_capacity(colours.len() * 3);
    let mut trns = Vec::with_capacity(colours.len());
    for c in colours {
        let [r, g, b, a] = c.to_le_bytes();
        palette.extend_from_slice(&[r, g, b]);
        trns.push(a);
    }
    Some((palette, trns, indices))
}

/// A 256-colour palette for an image with more colours (NeuQuant, `color_quant`: integer
/// arithmetic, deterministic), and each pixel's nearest entry.
fn quantize(rgba: &[u8], opaque: bool) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    // Sample factor 10 (of 1–30): a tenth of the pixels of a tile train the network; quality
    // is close to the full sample at a tenth of the cost. Small images use every pixel.
    let factor = if rgba.len() / 4 < 65_536 { 1 } else { 10 };
    let nq = color_quant::NeuQuant::new(factor, 256, rgba);
    let map = nq.color_map_rgba();
    let mut palette = Vec::with_capacity(256 * 3);
    let mut trns = Vec::with_capacity(256);
    for c in map.chunks_exact(4) {
        palette.extend_from_slice(&c[..3]);
        trns.push(if opaque { 255 } else { c[3] });
    }
    let mut indices = Vec::with_capacity(rgba.len() / 4);
    let mut last: Option<([u8; 4], u8)> = None;
    for px in rgba.chunks_exact(4) {
        let key = [px[0], px[1], px[2], px[3]];
        let i = match last {
            Some((k, i)) if k == key => i,
            _ => nq.index_of(px) as u8,
        };
        last = Some((key, i));
        indices.push(i);
    }
    (palette, trns, indices)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(png_bytes: &[u8]) -> (png::OutputInfo, Vec<u8>) {
        let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        decoder.set_transformations(png::Transformations::EXPAND);
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        (info, buf)
    }

    #[test]
    fn flat_image_becomes_indexed_and_round_trips() {
        let mut px = vec![0u8; 64 * 64 * 4];
        for (i, p) in px.chunks_exact_mut(4).enumerate() {
            let (x, y) = (i % 64, i / 64);
            let c = if x < 32 && y < 32 {
                [0xab, 0xcd, 0xef, 255]
            } else {
                [0x12, 0x34, 0x56, 255]
            };
            p.copy_from_slice(&c);
        }
        let png_bytes = encode_png(64, 64, &px).unwrap();
        let (info, pixels) = decode(&png_bytes);
        assert_eq!(info.width, 64);
        assert_eq!(&pixels[..3], &[0xab, 0xcd, 0xef]);
        let last = pixels.len() - 3;
        assert_eq!(&pixels[last..], &[0x12, 0x34, 0x56]);
    }

    fn noisy() -> Vec<u8> {
        let mut px = vec![0u8; 32 * 32 * 4];
        for (i, p) in px.chunks_exact_mut(4).enumerate() {
            p.copy_from_slice(&[(i % 256) as u8, (i / 4 % 256) as u8, 7, 255]);
        }
        px
    }

    #[test]
    fn every_lossless_profile_round_trips() {
        let px = noisy();
        for profile in [PngProfile::Fast, PngProfile::Default, PngProfile::Small] {
            let png_bytes = encode_png_with(32, 32, &px, profile).unwrap();
            let (info, pixels) = decode(&png_bytes);
            assert_eq!(info.color_type, png::ColorType::Rgb, "{profile:?}");
            let rgb: Vec<u8> = px
                .chunks_exact(4)
                .flat_map(|p| [p[0], p[1], p[2]])
                .collect();
            assert_eq!(pixels, rgb, "{profile:?}");
        }
    }

    #[test]
    fn png8_is_a_close_palette() {
        let px = noisy();
        let png_bytes = encode_png_with(32, 32, &px, PngProfile::Png8).unwrap();
        let (info, pixels) = decode(&png_bytes);
        assert_eq!(
            info.color_type,
            png::ColorType::Rgb,
            "expanded from indexed"
        );
        let errors: Vec<u8> = pixels
            .chunks_exact(3)
            .zip(px.chunks_exact(4))
            .map(|(a, b)| (0..3).map(|k| a[k].abs_diff(b[k])).max().unwrap())
            .collect();
        let mean = errors.iter().map(|e| f64::from(*e)).sum::<f64>() / errors.len() as f64;
        // 1 024 distinct colours into 256: close on average, never wildly off.
        assert!(mean < 8.0, "mean channel error {mean}");
        assert!(*errors.iter().max().unwrap() < 96);
    }

    #[test]
    fn translucent_pixels_are_unpremultiplied_like_a_canvas() {
        let px = [64u8, 32, 0, 128];
        let png_bytes = encode_png(1, 1, &px).unwrap();
        let (_, pixels) = decode(&png_bytes);
        assert_eq!(pixels, vec![128, 64, 0, 128]);
    }
}
