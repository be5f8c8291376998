//! Sprites: a style's images (`sprite.json` + `sprite.png`, and their `@2x` variants) for
//! patterns and icons. The host fetches them; the renderer decodes them once per process (a
//! small cache keyed by the bytes) and looks images up by name.
//!
//! Pixels are kept premultiplied, as MapLibre uploads them (`Math.round(c · a / 255)`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Why a sprite could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpriteError {
    #[error("sprite {id:?}: index JSON: {message}")]
    Json { id: String, message: String },
    #[error("sprite {id:?}: image: {message}")]
    Png { id: String, message: String },
}

/// One image of a sprite sheet, in sheet pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct SpriteImage {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    /// Sheet pixels per CSS pixel (2 in an `@2x` sheet).
    pub pixel_ratio: f32,
    /// A signed-distance-field image, tinted by the style (`icon-color`).
    pub sdf: bool,
    /// `content` box for `icon-text-fit` ([x1, y1, x2, y2], sheet pixels), if given.
    pub content: Option<[f32; 4]>,
    /// `stretchX` / `stretchY` ranges, sheet pixels.
    pub stretch_x: Vec<[f32; 2]>,
    pub stretch_y: Vec<[f32; 2]>,
}

/// A decoded sprite sheet.
#[derive(Debug)]
pub struct SpriteSheet {
    pub width: u32,
    pub height: u32,
    /// Premultiplied RGBA8, row-major.
    pub pixels: Vec<u8>,
    pub images: HashMap<String, SpriteImage>,
}

/// Limits that keep a hostile sprite from costing more than a tile.
const MAX_SHEET_PIXELS: u64 = 16 << 20;
const MAX_IMAGES: usize = 100_000;

impl SpriteSheet {
    /// Decodes a sheet: its JSON index and its PNG.
    pub fn decode(id: &str, json: &[u8], png_bytes: &[u8]) -> Result<SpriteSheet, SpriteError> {
        let json_err = |message: String| SpriteError::Json {
            id: id.to_string(),
            message,
        };
        let png_err = |message: String| SpriteError::Png {
            id: id.to_string(),
            message,
        };
        let index: serde_json::Value =
            serde_json::from_slice(json).map_err(|e| json_err(e.to_string()))?;
        let obj = index
            .as_object()
            .ok_or_else(|| json_err("expected an object of images".into()))?;
        if obj.len() > MAX_IMAGES {
            return Err(json_err(format!("more than {MAX_IMAGES} images")));
        }
        let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = decoder.read_info().map_err(|e| png_err(e.to_string()))?;
        let (w, h) = (reader.info().width, reader.info().height);
        if u64::from(w) * u64::from(h) > MAX_SHEET_PIXELS {
            return Err(png_err(format!("{w}×{h} is too large")));
        }
        let size = reader
            .output_buffer_size()
            .ok_or_else(|| png_err("image too large".into()))?;
        let mut buf = vec![0; size];
        let info = reader
            .next_frame(&mut buf)
            .map_err(|e| png_err(e.to_string()))?;
        let channels = info.color_type.samples();
        let mut pixels = Vec::with_capacity(w as usize * h as usize * 4);
        for px in buf[..info.buffer_size()].chunks_exact(channels) {
            let (r, g, b, a) = match channels {
                1 => (px[0], px[0], px[0], 255),
                2 => (px[0], px[0], px[0], px[1]),
                3 => (px[0], px[1], px[2], 255),
                _ => (px[0], px[1], px[2], px[3]),
            };
            let pm = |c: u8| ((u32::from(c) * u32::from(a)) as f64 / 255.0 + 0.5).floor() as u8;
            pixels.extend_from_slice(&[pm(r), pm(g), pm(b), a]);
        }
        let mut images = HashMap::with_capacity(obj.len());
        for (name, v) in obj {
            let num = |k: &str| v.get(k).and_then(serde_json::Value::as_f64);
            let (Some(x), Some(y), Some(iw), Some(ih)) =
                (num("x"), num("y"), num("width"), num("height"))
            else {
                continue;
            };
            let fits = x >= 0.0
                && y >= 0.0
                && iw >= 1.0
                && ih >= 1.0
                && x + iw <= f64::from(w)
                && y + ih <= f64::from(h);
            if !fits {
                continue;
            }
            let ranges = |k: &str| -> Vec<[f32; 2]> {
                v.get(k)
                    .and_then(serde_json::Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|r| {
                                let r = r.as_array()?;
                                Some([r.first()?.as_f64()? as f32, r.get(1)?.as_f64()? as f32])
                            })
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let content = v.get("content").and_then(|c| {
                let c = c.as_array()?;
                let f = |i: usize| {
                    c.get(i)
                        .and_then(serde_json::Value::as_f64)
                        .map(|n| n as f32)
                };
                Some([f(0)?, f(1)?, f(2)?, f(3)?])
            });
            images.insert(
                name.clone(),
                SpriteImage {
                    x: x as u32,
                    y: y as u32,
                    width: iw as u32,
                    height: ih as u32,
                    pixel_ratio: num("pixelRatio").filter(|r| *r > 0.0).unwrap_or(1.0) as f32,
                    sdf: v.get("sdf").and_then(serde_json::Value::as_bool) == Some(true),
                    content,
                    stretch_x: ranges("stretchX"),
                    stretch_y: ranges("stretchY"),
                },
            );
        }
        Ok(SpriteSheet {
            width: w,
            height: h,
            pixels,
            images,
        })
    }

    /// Decodes a sheet, or takes it from the process-wide cache (keyed by a hash of its bytes:
    /// every tile of a map brings the same sprite, and decoding it costs more than a tile).
    pub fn cached(
        id: &str,
        json: &[u8],
        png_bytes: &[u8],
    ) -> Result<Arc<SpriteSheet>, SpriteError> {
        static CACHE: Mutex<Vec<(u64, Arc<SpriteSheet>)>> = Mutex::new(Vec::new());
        let key = fnv1a(&[id.as_bytes(), json, png_bytes]);
        if let Some((_, s)) = CACHE
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|(k, _)| *k == key)
        {
            return Ok(Arc::clone(s));
        }
        let sheet = Arc::new(SpriteSheet::decode(id, json, png_bytes)?);
        let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= 8 {
            cache.remove(0);
        }
        cache.push((key, Arc::clone(&sheet)));
        Ok(sheet)
    }

    /// The premultiplied pixel at sheet coordinates.
    #[inline]
    pub fn texel(&self, x: u32, y: u32) -> [u8; 4] {
        let i = (y as usize * self.width as usize + x as usize) * 4;
        [
            self.pixels[i],
            self.pixels[i + 1],
            self.pixels[i + 2],
            self.pixels[i + 3],
        ]
    }
}

/// FNV-1a over several byte strings (with their lengths): a fast, stable cache key.
pub(crate) fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: u8| {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    };
    for p in parts {
        for b in (p.len() as u64).to_le_bytes() {
            eat(b);
        }
        for &b in *p {
            eat(b);
        }
    }
    h
}

/// The sprites a render may use, by sprite id (`default` for the unprefixed one).
#[derive(Debug, Default, Clone)]
pub struct Sprites {
    sheets: Vec<(String, Arc<SpriteSheet>)>,
}

/// An image found in a sheet.
#[derive(Debug, Clone, Copy)]
pub struct ImageRef<'a> {
    pub sheet: &'a SpriteSheet,
    pub image: &'a SpriteImage,
}

impl Sprites {
    pub fn new() -> Sprites {
        Sprites::default()
    }

    pub fn add(&mut self, id: &str, sheet: Arc<SpriteSheet>) {
        self.sheets.retain(|(i, _)| i != id);
        self.sheets.push((id.to_string(), sheet));
    }

    pub fn is_empty(&self) -> bool {
        self.sheets.is_empty()
    }

    /// The sheets by id, in the order they were added.
    pub fn sheets(&self) -> Vec<(String, Arc<SpriteSheet>)> {
        self.sheets.clone()
    }

    /// Looks up `name` (`id:image` for a sprite other than `default`), as MapLibre resolves
    /// image names against a style's sprites.
    pub fn get(&self, name: &str) -> Option<ImageRef<'_>> {
        let (id, image) = match name.split_once(':') {
            Some((id, image)) if self.sheets.iter().any(|(i, _)| i == id) => (id, image),
            _ => ("default", name),
        };
        let (_, sheet) = self.sheets.iter().find(|(i, _)| i == id)?;
        let image = sheet.images.get(image)?;
        Some(ImageRef { sheet, image })
    }
}
