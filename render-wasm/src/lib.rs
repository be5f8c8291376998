//! Rasterzen's renderer: Mapbox Vector Tile → SVG → PNG, styled with MapLibre style JSON.
//!
//! A pure function of its input: no I/O, no clock, no randomness, so the native build, the
//! WebAssembly component and the browser build give byte-identical output.
//!
//! Stages, each split at a data type:
//! bytes →[`mvt`]→ [`mvt::Tile`] →[`style`] + [`scene`] + [`labels`]→ [`scene::Scene`]
//!       →[`svg`]→ SVG text, →[`raster`]→ pixels → PNG bytes.

pub mod encode;
pub mod geojson;
pub mod labels;
pub mod mvt;
pub mod raster;
pub mod scene;
pub mod sprite;
pub mod style;
pub mod svg;

// The generated ABI glue of both adapters is `unsafe` by nature; our own code is not.
#[cfg(feature = "component")]
#[allow(unsafe_code)]
mod component;
#[cfg(feature = "web")]
#[allow(unsafe_code)]
mod web;

use std::sync::{Arc, Mutex};

pub use labels::font::{font_names, FontFile};
pub use raster::png::PngProfile;
use sprite::{SpriteSheet, Sprites};
use style::Style;

// Talc instead of the default dlmalloc on wasm (measured in the README's benchmark table).
#[cfg(all(not(target_feature = "atomics"), target_family = "wasm"))]
#[global_allocator]
static TALC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

/// The renderer's version: the crate version plus an optional build suffix
/// (`RASTERZEN_BUILD_SUFFIX` at compile time, e.g. `0.1.0+exp`).
pub fn version() -> &'static str {
    match option_env!("RASTERZEN_VERSION") {
        Some(v) => v,
        None => env!("CARGO_PKG_VERSION"),
    }
}

/// The WIT interface version this crate implements (`wit/renderer.wit`'s package version).
pub const INTERFACE_VERSION: &str = "1.2.0";

/// Output encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Png,
    Svg,
    Geojson,
}

/// A tile address in the XYZ scheme (y pointing south).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileId {
    pub z: u8,
    pub x: u32,
    pub y: u32,
}

impl TileId {
    pub fn new(z: u8, x: u32, y: u32) -> Result<TileId, RenderError> {
        if z > 30 {
            return Err(RenderError::InvalidOptions(format!("zoom {z} is above 30")));
        }
        let n = 1u64 << z;
        if u64::from(x) >= n || u64::from(y) >= n {
            return Err(RenderError::InvalidOptions(format!(
                "tile {z}/{x}/{y} is outside the {n}×{n} grid of zoom {z}"
            )));
        }
        Ok(TileId { z, x, y })
    }

    /// The ancestor of this tile at zoom `z` (`z <= self.z`).
    pub fn ancestor(self, z: u8) -> TileId {
        let d = self.z.saturating_sub(z);
        TileId {
            z: self.z - d,
            x: self.x >> d,
            y: self.y >> d,
        }
    }
}

impl std::fmt::Display for TileId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.z, self.x, self.y)
    }
}

/// Where the style comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StyleSource<'a> {
    /// One of [`Style::BUILTIN_NAMES`].
    Builtin(&'a str),
    /// A MapLibre Style Spec v8 document.
    Json(&'a str),
}

/// How to draw a tile.
#[derive(Debug, Clone, Copy)]
pub struct RenderOptions<'a> {
    pub format: Format,
    /// Tile edge in CSS pixels at scale 1: 256 or 512.
    pub size: u32,
    /// Device pixel ratio: 1 or 2.
    pub scale: u32,
    pub style: StyleSource<'a>,
    /// The tile the data belongs to, when it is an ancestor of the drawn tile (overzoom).
    pub data_tile: Option<TileId>,
    /// How PNGs are compressed.
    pub png: PngProfile,
}

impl Default for RenderOptions<'_> {
    fn default() -> Self {
        RenderOptions {
            format: Format::Png,
            size: 512,
            scale: 1,
            style: StyleSource::Builtin("default"),
            data_tile: None,
            png: PngProfile::Default,
        }
    }
}

/// Why a render failed as a whole (mirrors the WIT `render-error` variant).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RenderError {
    #[error("invalid tile: {0}")]
    InvalidTile(String),
    #[error("invalid style: {0}")]
    InvalidStyle(String),
    #[error("invalid options: {0}")]
    InvalidOptions(String),
    #[error("limit exceeded: {0}")]
    LimitExceeded(String),
}

impl From<mvt::MvtError> for RenderError {
    fn from(e: mvt::MvtError) -> Self {
        match e {
            mvt::MvtError::Limit(m) => RenderError::LimitExceeded(m),
            // Already "invalid tile: …" as text: keep the prefix once.
            mvt::MvtError::Invalid(m) => RenderError::InvalidTile(m),
            other => RenderError::InvalidTile(other.to_string()),
        }
    }
}

/// Parses the style a [`StyleSource`] names. A JSON style is parsed once per process and kept
/// in a small cache keyed by its text (a host renders many tiles with one style).
pub fn load_style(source: StyleSource<'_>) -> Result<Style, RenderError> {
    match source {
        StyleSource::Builtin(name) => Style::builtin(name).ok_or_else(|| {
            RenderError::InvalidStyle(format!(
                "no built-in style named {name:?} (built-in: {})",
                Style::BUILTIN_NAMES.join(", ")
            ))
        }),
        StyleSource::Json(text) => {
            type Entry = (u64, usize, Result<Style, RenderError>);
            static CACHE: Mutex<Vec<Entry>> = Mutex::new(Vec::new());
            let key = sprite::fnv1a(&[text.as_bytes()]);
            if let Some((_, _, s)) = CACHE
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .find(|(k, len, _)| *k == key && *len == text.len())
            {
                return s.clone();
            }
            let parsed =
                Style::from_json(text).map_err(|e| RenderError::InvalidStyle(e.to_string()));
            let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
            if cache.len() >= 8 {
                drop(cache.remove(0));
            }
            cache.push((key, text.len(), parsed.clone()));
            parsed
        }
    }
}

/// The stable hash of the effective style (16 hex chars), for cache keys.
pub fn style_hash(source: StyleSource<'_>) -> Result<String, RenderError> {
    Ok(load_style(source)?.hash_hex().to_string())
}

/// What of a style is drawn, approximated or ignored, and what a host must fetch for it.
#[derive(Debug, Clone, PartialEq)]
pub struct StyleReport {
    pub hash: String,
    pub name: Option<String>,
    pub sprites: Vec<style::SpriteRef>,
    pub glyphs: Option<String>,
    pub fonts: Vec<String>,
    pub source_layers: Vec<String>,
    pub layers: Vec<style::LayerReport>,
    pub warnings: Vec<String>,
}

/// Which of `offered` (the `text-font` names the host has font files for) the render of this
/// request would draw with ([`labels::fonts_needed`]): the host then passes only those files,
/// so a large face (CJK) is copied into a render only for tiles whose text needs it. The
/// tile's and its neighbours' label layers are decoded through [`mvt::reuse`], which the
/// render that follows meets again. Empty without symbol layers or offered names.
pub fn fonts_needed(
    data: &[u8],
    tile: TileId,
    options: &RenderOptions<'_>,
    neighbours: &[NeighbourData<'_>],
    offered: &[&str],
) -> Result<Vec<String>, RenderError> {
    let tile = TileId::new(tile.z, tile.x, tile.y)?;
    if offered.is_empty() || options.format == Format::Geojson {
        return Ok(Vec::new());
    }
    let style = load_style(options.style)?;
    // Only names some stack of the style can use (a host offers every file it has).
    let offered: Vec<&str> = offered
        .iter()
        .copied()
        .filter(|o| style.fonts().iter().any(|f| f == o))
        .collect();
    let label_layers: Vec<&str> = style
        .layers()
        .iter()
        .filter(|l| l.kind() == style::LayerKind::Symbol)
        .filter_map(|l| l.source_layer())
        .collect();
    if label_layers.is_empty() || offered.is_empty() {
        return Ok(Vec::new());
    }
    let limits = mvt::DecodeLimits::default();
    let mut tiles = vec![mvt::reuse::decode_layers_reused(
        data,
        &limits,
        &label_layers,
    )?];
    for nb in neighbours.iter().filter(|n| !n.data.is_empty()) {
        // A neighbour that does not decode is reported by the render; here it needs nothing.
        if let Ok(t) = mvt::reuse::decode_layers_reused(nb.data, &limits, &label_layers) {
            tiles.push(t);
        }
    }
    // The style zoom only (the size sets it; the data tile and scale do not).
    let view = scene::View::new(tile, tile, options.size, 1);
    let refs: Vec<&mvt::Tile> = tiles.iter().map(|t| &**t).collect();
    Ok(labels::fonts_needed(&refs, &style, view.zoom, &offered)
        .into_iter()
        .collect())
}

/// The [`StyleReport`] of a style.
pub fn style_report(source: StyleSource<'_>) -> Result<StyleReport, RenderError> {
    let s = load_style(source)?;
    Ok(StyleReport {
        hash: s.hash_hex().to_string(),
        name: s.name().map(str::to_string),
        sprites: s.sprites().to_vec(),
        glyphs: s.glyphs().map(str::to_string),
        fonts: s.fonts().to_vec(),
        source_layers: s.source_layers().into_iter().map(str::to_string).collect(),
        layers: s.layer_reports().to_vec(),
        warnings: s.warnings().to_vec(),
    })
}

/// One sprite sheet the host fetched for the style (`sprite` in the style; `id` is `default`
/// for a plain URL). The renderer picks the sheet whose `pixel_ratio` matches the scale.
#[derive(Debug, Clone, Copy)]
pub struct SpriteData<'a> {
    pub id: &'a str,
    /// 1 for `sprite.json`/`.png`, 2 for `sprite@2x.json`/`.png`.
    pub pixel_ratio: u32,
    pub json: &'a [u8],
    pub png: &'a [u8],
}

/// What a render may use beyond the tile: the style's sprites, and font files for the
/// `text-font` names they answer to (each character is drawn in the first face of its stack
/// that has it; the embedded Noto Sans faces stand in for what none has).
#[derive(Debug, Clone, Copy, Default)]
pub struct Assets<'a> {
    pub sprites: &'a [SpriteData<'a>],
    pub fonts: &'a [FontFile<'a>],
}

/// A render's output and what the user should know about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// PNG, SVG or GeoJSON bytes.
    pub bytes: Vec<u8>,
    /// Problems with this tile's drawing (missing sprite images, bad sprites, dropped
    /// features), each once. Style problems are [`Style::warnings`].
    pub warnings: Vec<String>,
}

/// Picks and decodes the sprite sheets for `scale` (the sheet of that pixel ratio, else any).
fn sprites_for(assets: &Assets<'_>, scale: u32, warnings: &mut Vec<String>) -> Sprites {
    let mut sprites = Sprites::new();
    let mut ids: Vec<&str> = assets.sprites.iter().map(|s| s.id).collect();
    ids.dedup();
    for id in ids {
        let candidates = assets.sprites.iter().filter(|s| s.id == id);
        let best = candidates
            .clone()
            .find(|s| s.pixel_ratio == scale)
            .or_else(|| candidates.clone().max_by_key(|s| s.pixel_ratio));
        let Some(s) = best else { continue };
        match SpriteSheet::cached(s.id, s.json, s.png) {
            Ok(sheet) => sprites.add(s.id, Arc::clone(&sheet)),
            Err(e) => warnings.push(format!("{e}; its images are not drawn")),
        }
    }
    sprites
}

/// Renders `data` (raw or gzip MVT) as `tile`, returning PNG, SVG or GeoJSON bytes.
pub fn render(
    data: &[u8],
    tile: TileId,
    options: &RenderOptions<'_>,
) -> Result<Vec<u8>, RenderError> {
    render_with(data, tile, options, &Assets::default()).map(|r| r.bytes)
}

/// A tile next to the drawn one, for labels that cross the seam (WIT `neighbour`). Empty
/// `data` means the neighbour is known to be empty.
#[derive(Debug, Clone, Copy)]
pub struct NeighbourData<'a> {
    pub tile: TileId,
    pub data: &'a [u8],
}

/// Renders `data` (raw or gzip MVT) as `tile` with the style's assets; returns the bytes and
/// the render's warnings.
#[cfg_attr(
    any(feature = "test-hostile-loop", feature = "test-hostile-memory"),
    allow(unused_variables, unreachable_code)
)]
pub fn render_with(
    data: &[u8],
    tile: TileId,
    options: &RenderOptions<'_>,
    assets: &Assets<'_>,
) -> Result<Rendered, RenderError> {
    render_with_neighbours(data, tile, options, assets, &[])
}

/// [`render_with`], with the tiles around `tile` (up to 8, same zoom as `tile`): labels
/// crossing a seam are then decided from the data both tiles share, so neighbouring tiles
/// draw them identically ([`labels::seams`]). When overzooming (`options.data_tile`), each
/// neighbour's `data` is that of its ancestor at the data tile's zoom, as its own render uses.
#[cfg_attr(
    any(feature = "test-hostile-loop", feature = "test-hostile-memory"),
    allow(unused_variables, unreachable_code)
)]
pub fn render_with_neighbours(
    data: &[u8],
    tile: TileId,
    options: &RenderOptions<'_>,
    assets: &Assets<'_>,
    neighbours: &[NeighbourData<'_>],
) -> Result<Rendered, RenderError> {
    let tile = TileId::new(tile.z, tile.x, tile.y)?;
    if options.size != 256 && options.size != 512 {
        return Err(RenderError::InvalidOptions(format!(
            "size {} is not 256 or 512",
            options.size
        )));
    }
    if options.scale != 1 && options.scale != 2 {
        return Err(RenderError::InvalidOptions(format!(
            "scale {} is not 1 or 2",
            options.scale
        )));
    }
    let data_tile = match options.data_tile {
        None => tile,
        Some(d) => {
            let d = TileId::new(d.z, d.x, d.y)?;
            if d.z > tile.z || tile.ancestor(d.z) != d {
                return Err(RenderError::InvalidOptions(format!(
                    "data tile {d} is not an ancestor of {tile}"
                )));
            }
            d
        }
    };
    #[cfg(feature = "test-hostile-loop")]
    #[allow(clippy::empty_loop)]
    loop {}
    #[cfg(feature = "test-hostile-memory")]
    {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(vec![1u8; 1 << 20]);
            std::hint::black_box(&hoard);
        }
    }
    #[allow(unreachable_code)]
    let style = match options.format {
        Format::Geojson => None,
        _ => Some(load_style(options.style)?),
    };
    // Every layer is decoded, drawn or not: a corrupt layer makes the tile invalid even where
    // the style does not draw it (skipping unused layers saved 2 % on the densest tile).
    let decoded = mvt::decode_bytes(data, &mvt::DecodeLimits::render())?;
    let mut warnings = Vec::new();
    if decoded.dropped > 0 {
        warnings.push(format!(
            "{} invalid feature(s) or layer(s) of the tile were dropped",
            decoded.dropped
        ));
    }
    let Some(style) = style else {
        return Ok(Rendered {
            bytes: geojson::tile_to_geojson(&decoded, data_tile),
            warnings,
        });
    };
    let sprites = sprites_for(assets, options.scale, &mut warnings);
    let fonts = labels::font::Fonts::load(assets.fonts, &mut warnings);
    let view = scene::View::new(tile, data_tile, options.size, options.scale);
    #[allow(unused_mut)]
    let mut scene = scene::build(&decoded, &style, &view, &sprites);
    // Neighbours: decoded with the same limits; one that fails is reported and treated as
    // empty (labels at that seam may then not match its own render). When overzooming, a
    // neighbour's data is its ancestor at the data tile's zoom, often this tile's own data:
    // each distinct data tile is decoded once.
    // Decoded through `mvt::reuse`: a tile is the neighbour of 8 others, and the renders of a
    // map view or a seed run meet the same neighbours again.
    let mut others: Vec<(TileId, &[u8], std::sync::Arc<mvt::Tile>)> = Vec::new();
    // (dx, dy, None for this tile's own data or Some(index into `others`)).
    let mut slots: Vec<(i32, i32, Option<usize>)> = Vec::new();
    // Only the layers labels come from are decoded: a neighbour adds nothing else.
    let label_layers: Vec<&str> = style
        .layers()
        .iter()
        .filter(|l| l.kind() == style::LayerKind::Symbol)
        .filter_map(|l| l.source_layer())
        .collect();
    for nb in neighbours.iter().filter(|_| !label_layers.is_empty()) {
        let (dx, dy) = (
            i64::from(nb.tile.x) - i64::from(tile.x),
            i64::from(nb.tile.y) - i64::from(tile.y),
        );
        let n = 1i64 << tile.z.min(31);
        // x may wrap around the antimeridian.
        let dx = if dx > 1 {
            dx - n
        } else if dx < -1 {
            dx + n
        } else {
            dx
        };
        if nb.tile.z != tile.z || dx.abs() > 1 || dy.abs() > 1 || (dx == 0 && dy == 0) {
            warnings.push(format!("{} is not a neighbour of {tile}; ignored", nb.tile));
            continue;
        }
        if nb.data.is_empty() {
            continue;
        }
        let (dx, dy) = (dx as i32, dy as i32);
        let source = nb.tile.ancestor(data_tile.z);
        if source == data_tile && nb.data == data {
            slots.push((dx, dy, None));
            continue;
        }
        if let Some(i) = others
            .iter()
            .position(|(t, d, _)| *t == source && *d == nb.data)
        {
            slots.push((dx, dy, Some(i)));
            continue;
        }
        match mvt::reuse::decode_layers_reused(
            nb.data,
            &mvt::DecodeLimits::default(),
            &label_layers,
        ) {
            Ok(t) => {
                others.push((source, nb.data, t));
                slots.push((dx, dy, Some(others.len() - 1)));
            }
            Err(e) => warnings.push(format!(
                "neighbour {}: {e}; its labels are not considered",
                nb.tile
            )),
        }
    }
    // Neighbours cut from this tile's own data (overzooming) are laid out from its label
    // layers as `mvt::reuse` shares them, so their layouts are kept between renders too (the
    // children of one data tile are each other's neighbours). It decoded within the render's
    // stricter limits above, so it decodes the same here.
    let own_shared = if slots.iter().any(|s| s.2.is_none()) {
        mvt::reuse::decode_layers_reused(data, &mvt::DecodeLimits::default(), &label_layers).ok()
    } else {
        None
    };
    let around: Vec<labels::seams::Neighbour<'_>> = slots
        .iter()
        .map(|&(dx, dy, i)| {
            let shared = match i {
                None => own_shared.as_ref(),
                Some(i) => Some(&others[i].2),
            };
            labels::seams::Neighbour {
                dx,
                dy,
                tile: shared.map_or(&decoded, |s| &**s),
                shared,
            }
        })
        .collect();
    let labels = labels::seams::build_block(
        &decoded,
        &around,
        &style,
        &view,
        &sprites,
        &fonts,
        labels::seams::SeamMode::Region,
    );
    labels::merge(&mut scene, &style, labels);
    #[cfg(feature = "test-variant")]
    scene.layers.push(scene::DrawLayer {
        id: "test-variant",
        xform: view.xform(4096),
        draw: scene::Draw::Background {
            color: [0.3, 0.0, 0.3, 0.3],
            pattern: None,
            opacity: 0.3,
        },
    });
    warnings.append(&mut scene.warnings);
    let bytes = match options.format {
        Format::Png => raster::scene_to_png(&scene, options.png)?,
        _ => svg::write_svg(&scene).into_bytes(),
    };
    Ok(Rendered { bytes, warnings })
}
