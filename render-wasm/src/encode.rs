//! Image files beyond the renderer's own PNG: lossless WebP and JPEG, from straight RGBA
//! pixels or from a PNG.
//!
//! Why here and not in the host: the same code then runs natively, in the component's wasm
//! and in the browser build (`web.rs` exports it), so the preview page can make the very
//! bytes the server sends. Why not through the component's WIT: its `format` enum (interface
//! 1.1) is png/svg/geojson, and adding cases would break every published component; instead a
//! host makes WebP/JPEG by decoding the renderer's PNG (lossless, so exact) and encoding that,
//! which works with every renderer version already in a registry.
//!
//! Deterministic per target: both encoders are integer code (`image-webp`'s VP8L encoder;
//! `jpeg-encoder`, libjpeg's integer DCT and fixed-point colour conversion, without its
//! optional AVX2 path). JPEG bytes are the same natively and in wasm; WebP pixels are, but
//! `image-webp`'s Huffman header can differ in wasm (ties broken differently; tests/formats.rs
//! found it), so WebP bytes are only promised per target.

use crate::raster::png::PngProfile;

/// The quality of every JPEG rasterzen makes, on libjpeg's 1–100 scale. 85 keeps map text
/// and thin lines clean (lower qualities ring visibly around labels) at a fraction of the
/// PNG's size; below 90 the encoder subsamples chroma 2×2 (4:2:0). Fixed, and part of the
/// cache key (`jpg.q85`), so changing it can never serve tiles of another quality.
pub const JPEG_QUALITY: u8 = 85;

/// The largest image edge, in pixels, that is decoded or encoded (WebP's own limit).
pub const MAX_EDGE: u32 = 16_384;

/// The pixel format of transparent pixels in a JPEG (which has no alpha): they are flattened
/// over this colour (white, what a browser shows behind a transparent PNG). A style with a
/// `background` layer draws opaque tiles, so its background shows as it is.
pub const JPEG_MATTE: [u8; 3] = [255, 255, 255];

/// An image file format a raster tile is sent as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    Png,
    /// Lossless WebP (VP8L): exactly the PNG's pixels, usually much smaller.
    Webp,
    /// Baseline JPEG at [`JPEG_QUALITY`], alpha flattened over [`JPEG_MATTE`].
    Jpeg,
}

impl Encoding {
    /// The name in paths and options: `png`, `webp`, `jpg`.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Png => "png",
            Encoding::Webp => "webp",
            Encoding::Jpeg => "jpg",
        }
    }

    /// The file extension (the same as [`name`](Encoding::name)).
    pub fn extension(self) -> &'static str {
        self.name()
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Png => "image/png",
            Encoding::Webp => "image/webp",
            Encoding::Jpeg => "image/jpeg",
        }
    }

    /// `png`, `webp`, `jpg` (or `jpeg`).
    pub fn from_name(name: &str) -> Option<Encoding> {
        match name {
            "png" => Some(Encoding::Png),
            "webp" => Some(Encoding::Webp),
            "jpg" | "jpeg" => Some(Encoding::Jpeg),
            _ => None,
        }
    }
}

/// Why an image could not be decoded or encoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EncodeError {
    #[error("not a PNG that can be read: {0}")]
    BadPng(String),
    #[error("{got} bytes are not a {width}×{height} RGBA image")]
    BadPixels { width: u32, height: u32, got: usize },
    #[error("an image of {width}×{height} pixels is outside 1–{MAX_EDGE} pixels a side")]
    BadSize { width: u32, height: u32 },
    #[error("WebP encoding failed: {0}")]
    Webp(String),
    #[error("JPEG encoding failed: {0}")]
    Jpeg(String),
    #[error("PNG encoding failed: {0}")]
    Png(String),
}

/// An image of straight (not premultiplied) RGBA8 pixels, rows top to bottom, 4 bytes a pixel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgba {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    pixels: Vec<u8>,
}

impl Rgba {
    /// Checks the size (1–[`MAX_EDGE`] a side) and that `pixels` holds `width × height × 4` bytes.
    pub fn new(width: u32, height: u32, pixels: Vec<u8>) -> Result<Rgba, EncodeError> {
        check_size(width, height)?;
        if pixels.len() as u64 != u64::from(width) * u64::from(height) * 4 {
            return Err(EncodeError::BadPixels {
                width,
                height,
                got: pixels.len(),
            });
        }
        Ok(Rgba {
            width,
            height,
            pixels,
        })
    }

    /// A fully transparent image.
    pub fn transparent(width: u32, height: u32) -> Result<Rgba, EncodeError> {
        check_size(width, height)?;
        Rgba::new(width, height, vec![0; width as usize * height as usize * 4])
    }

    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    pub fn pixels_mut(&mut self) -> &mut [u8] {
        &mut self.pixels
    }

    pub fn into_pixels(self) -> Vec<u8> {
        self.pixels
    }
}

fn check_size(width: u32, height: u32) -> Result<(), EncodeError> {
    if width == 0 || height == 0 || width > MAX_EDGE || height > MAX_EDGE {
        return Err(EncodeError::BadSize { width, height });
    }
    Ok(())
}

/// Decodes any 8- or 16-bit PNG (grey, RGB, palette, with or without alpha) to straight RGBA8
/// (16-bit samples keep their high byte). Refuses images over [`MAX_EDGE`] a side before
/// allocating for them.
pub fn decode_png(png: &[u8]) -> Result<Rgba, EncodeError> {
    let bad = |e: String| EncodeError::BadPng(e);
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(|e| bad(e.to_string()))?;
    let (width, height) = (reader.info().width, reader.info().height);
    check_size(width, height)?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| bad("image too large".into()))?;
    let mut buf = vec![0; size];
    let frame = reader
        .next_frame(&mut buf)
        .map_err(|e| bad(e.to_string()))?;
    buf.truncate(frame.buffer_size());
    let pixels = match frame.color_type.samples() {
        4 => buf,
        channels => {
            let mut out = Vec::with_capacity(width as usize * height as usize * 4);
            for px in buf.chunks_exact(channels) {
                out.extend_from_slice(&match channels {
                    1 => [px[0], px[0], px[0], 255],
                    2 => [px[0], px[0], px[0], px[1]],
                    _ => [px[0], px[1], px[2], 255],
                });
            }
            out
        }
    };
    Rgba::new(width, height, pixels)
}

/// Encodes `image` as `encoding` (PNG with `PngProfile::Default`).
pub fn encode(image: &Rgba, encoding: Encoding) -> Result<Vec<u8>, EncodeError> {
    match encoding {
        Encoding::Png => encode_png(image, PngProfile::Default),
        Encoding::Webp => encode_webp_lossless(image),
        Encoding::Jpeg => encode_jpeg(image, JPEG_QUALITY),
    }
}

/// PNG with the renderer's own encoder (indexed when the image has ≤ 256 colours).
pub fn encode_png(image: &Rgba, profile: PngProfile) -> Result<Vec<u8>, EncodeError> {
    crate::raster::png::encode_png_straight(
        image.width,
        image.height,
        image.pixels.clone(),
        profile,
    )
    .map_err(|e| EncodeError::Png(e.to_string()))
}

/// Lossless WebP (VP8L): decodes to exactly `image`'s pixels, alpha included. An opaque image
/// is written without an alpha channel.
///
/// Without `image-webp`'s predictor transform: map tiles are flat colour, whose runs the
/// encoder codes as repeats of the previous pixel; residuals from the predictor break them up.
/// Measured on the reference tiles: 8–29 % fewer bytes without it (Florence z14, densest:
/// 310 kB against 367 kB with it and 336 kB as PNG), and up to twice as fast.
pub fn encode_webp_lossless(image: &Rgba) -> Result<Vec<u8>, EncodeError> {
    let opaque = image.pixels.chunks_exact(4).all(|p| p[3] == 255);
    let mut out = Vec::new();
    let mut encoder = image_webp::WebPEncoder::new(&mut out);
    let mut params = image_webp::EncoderParams::default();
    params.use_predictor_transform = false;
    encoder.set_params(params);
    let result = if opaque {
        // Alpha-free: decoders then report an RGB image, and a few bytes are saved.
        let rgb: Vec<u8> = image
            .pixels
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        encoder.encode(&rgb, image.width, image.height, image_webp::ColorType::Rgb8)
    } else {
        encoder.encode(
            &image.pixels,
            image.width,
            image.height,
            image_webp::ColorType::Rgba8,
        )
    };
    result.map_err(|e| EncodeError::Webp(e.to_string()))?;
    Ok(out)
}

/// Baseline JPEG (JFIF, the standard Huffman tables) at `quality` (1–100, clamped); alpha is
/// flattened over [`JPEG_MATTE`] first: `c' = (c·a + m·(255 − a) + 127) / 255`, integer.
///
/// Why not optimized Huffman tables (2 % smaller): `jpeg-encoder`'s optimized tables with 4:2:0
/// chroma are misdecoded by zune-jpeg 0.5 (the `image` crate's decoder: striped colour), while
/// libjpeg reads them; the standard tables decode alike everywhere.
pub fn encode_jpeg(image: &Rgba, quality: u8) -> Result<Vec<u8>, EncodeError> {
    if image.width > u32::from(u16::MAX) || image.height > u32::from(u16::MAX) {
        return Err(EncodeError::BadSize {
            width: image.width,
            height: image.height,
        });
    }
    let mut rgb = Vec::with_capacity(image.pixels.len() / 4 * 3);
    for p in image.pixels.chunks_exact(4) {
        let a = u32::from(p[3]);
        if a == 255 {
            rgb.extend_from_slice(&p[..3]);
        } else {
            for (c, m) in p[..3].iter().zip(JPEG_MATTE) {
                rgb.push(((u32::from(*c) * a + u32::from(m) * (255 - a) + 127) / 255) as u8);
            }
        }
    }
    let mut out = Vec::new();
    let encoder = jpeg_encoder::Encoder::new(&mut out, quality.clamp(1, 100));
    encoder
        .encode(
            &rgb,
            image.width as u16,
            image.height as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .map_err(|e| EncodeError::Jpeg(e.to_string()))?;
    Ok(out)
}

/// A PNG made into `encoding`: decoded (exactly) and encoded again. `Png` returns the input.
pub fn transcode_png(png: &[u8], encoding: Encoding) -> Result<Vec<u8>, EncodeError> {
    if encoding == Encoding::Png {
        // Still checked, so that every encoding refuses what is not a PNG alike.
        decode_png(png)?;
        return Ok(png.to_vec());
    }
    encode(&decode_png(png)?, encoding)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(alpha: bool) -> Rgba {
        let (w, h) = (37u32, 19u32);
        let mut px = Vec::new();
        for y in 0..h {
            for x in 0..w {
                let a = if alpha {
                    ((x * 7 + y * 3) % 256) as u8
                } else {
                    255
                };
                px.extend_from_slice(&[(x * 6) as u8, (y * 13) as u8, ((x ^ y) * 5) as u8, a]);
            }
        }
        Rgba::new(w, h, px).unwrap()
    }

    #[test]
    fn names_round_trip() {
        for e in [Encoding::Png, Encoding::Webp, Encoding::Jpeg] {
            assert_eq!(Encoding::from_name(e.name()), Some(e));
        }
        assert_eq!(Encoding::from_name("jpeg"), Some(Encoding::Jpeg));
        assert_eq!(Encoding::from_name("gif"), None);
    }

    #[test]
    fn png_round_trips_exactly() {
        for alpha in [false, true] {
            let img = sample(alpha);
            let png = encode_png(&img, PngProfile::Default).unwrap();
            assert_eq!(decode_png(&png).unwrap(), img);
        }
    }

    #[test]
    fn webp_is_lossless_and_jpeg_is_well_formed() {
        for alpha in [false, true] {
            let img = sample(alpha);
            let webp = encode_webp_lossless(&img).unwrap();
            assert!(webp.starts_with(b"RIFF") && &webp[8..16] == b"WEBPVP8L");
            let mut d = image_webp::WebPDecoder::new(std::io::Cursor::new(&webp)).unwrap();
            assert_eq!(d.dimensions(), (img.width, img.height));
            assert_eq!(d.has_alpha(), alpha);
            let mut out = vec![0; d.output_buffer_size().unwrap()];
            d.read_image(&mut out).unwrap();
            let want: Vec<u8> = if alpha {
                img.pixels().to_vec()
            } else {
                img.pixels()
                    .chunks_exact(4)
                    .flat_map(|p| [p[0], p[1], p[2]])
                    .collect()
            };
            assert_eq!(out, want);
            let jpg = encode_jpeg(&img, JPEG_QUALITY).unwrap();
            assert!(jpg.starts_with(&[0xFF, 0xD8]) && jpg.ends_with(&[0xFF, 0xD9]));
        }
    }

    #[test]
    fn transcoding_refuses_what_is_not_a_png() {
        for e in [Encoding::Png, Encoding::Webp, Encoding::Jpeg] {
            assert!(matches!(
                transcode_png(b"not a png", e),
                Err(EncodeError::BadPng(_))
            ));
        }
        assert!(matches!(
            Rgba::new(2, 2, vec![0; 15]),
            Err(EncodeError::BadPixels { .. })
        ));
        assert!(matches!(
            Rgba::transparent(0, 5),
            Err(EncodeError::BadSize { .. })
        ));
    }
}
