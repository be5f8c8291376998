//! SVG → pixels → PNG.
//!
//! Rasterizing is resvg's job; encoding is ours because it dominates the render time with
//! default settings. The encoder picks, per image: an indexed palette when the tile has at
//! most 256 colours (flat styles at low zoom), RGB when fully opaque (almost every basemap
//! tile), RGBA otherwise; and fast deflate with the Paeth-free "Up" filter, which measured
//! best for speed per byte on map tiles (see the README's benchmark table).

use crate::RenderError;

/// Rasterizes `svg` to a `pixels`×`pixels` image and encodes it as PNG.
pub fn svg_to_png(svg: &str, pixels: u32) -> Result<Vec<u8>, RenderError> {
    let pixmap = rasterize(svg, pixels)?;
    encode_png(&pixmap)
}

/// Rasterizes `svg` (whose viewBox is `pixels` wide) to a premultiplied RGBA pixmap.
pub fn rasterize(svg: &str, pixels: u32) -> Result<tiny_skia::Pixmap, RenderError> {
    let tree = usvg::Tree::from_str(svg, &usvg::Options::default())
        .map_err(|e| RenderError::InvalidOptions(format!("internal SVG did not parse: {e}")))?;
    let mut pixmap = tiny_skia::Pixmap::new(pixels, pixels)
        .ok_or_else(|| RenderError::InvalidOptions(format!("cannot allocate a {pixels} px image")))?;
    resvg::render(&tree, tiny_skia::Transform::identity(), &mut pixmap.as_mut());
    Ok(pixmap)
}

/// Encodes a premultiplied RGBA pixmap as PNG (straight alpha, as PNG requires).
pub fn encode_png(pixmap: &tiny_skia::Pixmap) -> Result<Vec<u8>, RenderError> {
    let (w, h) = (pixmap.width(), pixmap.height());
    let mut rgba = Vec::with_capacity(pixmap.data().len());
    let mut opaque = true;
    for p in pixmap.pixels() {
        let c = p.demultiply();
        opaque &= c.alpha() == 255;
        rgba.extend_from_slice(&[c.red(), c.green(), c.blue(), c.alpha()]);
    }
    let mut out = Vec::with_capacity(rgba.len() / 4);
    {
        let mut encoder = png::Encoder::new(&mut out, w, h);
        encoder.set_compression(png::Compression::Fast);
        encoder.set_filter(png::Filter::Up);
        let data: Vec<u8> = if let Some((palette, trns, indices)) = palettize(&rgba) {
            encoder.set_color(png::ColorType::Indexed);
            encoder.set_depth(png::BitDepth::Eight);
            encoder.set_palette(palette);
            if !opaque {
                encoder.set_trns(trns);
            }
            indices
        } else if opaque {
            encoder.set_color(png::ColorType::Rgb);
            encoder.set_depth(png::BitDepth::Eight);
            rgba.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect()
        } else {
            encoder.set_color(png::ColorType::Rgba);
            encoder.set_depth(png::BitDepth::Eight);
            rgba
        };
        let mut writer = encoder.write_header().map_err(png_error)?;
        writer.write_image_data(&data).map_err(png_error)?;
        writer.finish().map_err(png_error)?;
    }
    Ok(out)
}

fn png_error(e: png::EncodingError) -> RenderError {
    RenderError::InvalidOptions(format!("PNG encoding failed: {e}"))
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
        let svg = r##"<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64" fill="#123456"/><rect width="32" height="32" fill="#abcdef"/></svg>"##;
        let png_bytes = svg_to_png(svg, 64).unwrap();
        let (info, pixels) = decode(&png_bytes);
        assert_eq!(info.width, 64);
        assert_eq!(&pixels[..3], &[0xab, 0xcd, 0xef]);
        let last = pixels.len() - 3;
        assert_eq!(&pixels[last..], &[0x12, 0x34, 0x56]);
    }

    #[test]
    fn many_colours_stay_truecolour() {
        let mut pixmap = tiny_skia::Pixmap::new(32, 32).unwrap();
        for (i, p) in pixmap.data_mut().chunks_exact_mut(4).enumerate() {
            p.copy_from_slice(&[(i % 256) as u8, (i / 4 % 256) as u8, 7, 255]);
        }
        let png_bytes = encode_png(&pixmap).unwrap();
        let (info, pixels) = decode(&png_bytes);
        assert_eq!(info.color_type, png::ColorType::Rgb);
        assert_eq!(&pixels[3 * 300..3 * 300 + 3], &[(300 % 256) as u8, 75, 7]);
    }
}
