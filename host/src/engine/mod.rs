//! Engines: who runs the renderer. `wasm` runs the component in a wasmtime sandbox with a
//! memory limit and a deadline per render; `native` links the same crate in-process.

pub mod native;
pub mod registry;
pub mod wasm;

use std::sync::Arc;

use bytes::Bytes;
use rasterzen_render::{Format, PngProfile, TileId};

/// Everything a render needs besides the tile bytes.
#[derive(Debug, Clone)]
pub struct RenderRequest {
    pub tile: TileId,
    /// The tile the data belongs to when overzooming (an ancestor of `tile`).
    pub data_tile: Option<TileId>,
    pub format: Format,
    /// Tile edge in CSS pixels: 256 or 512.
    pub size: u32,
    /// Device pixel ratio: 1 or 2.
    pub scale: u32,
    pub style: StyleSpec,
    /// How PNGs are compressed.
    pub png: PngProfile,
    /// The style's sprites and the font files for its `text-font` names, fetched by the host
    /// once (each render is given the fonts its text needs, see `fonts-needed`).
    pub assets: Arc<Assets>,
    /// The tiles around `tile` (same zoom, up to 8), so that labels crossing a seam are
    /// decided from the data both tiles share. Empty when the style draws no labels, when
    /// overzooming, or for renderers that predate interface 1.1.
    pub neighbours: Vec<NeighbourTile>,
}

/// A tile next to the drawn one, as fetched from the source.
#[derive(Debug, Clone)]
pub struct NeighbourTile {
    pub tile: TileId,
    /// Raw or gzip MVT; empty when the source has no tile there.
    pub data: Bytes,
}

/// What the host fetched for a style: its sprite sheets, and the files of the fonts
/// directory whose names its `text-font` stacks use.
#[derive(Debug, Clone, Default)]
pub struct Assets {
    pub sprites: Vec<SpriteSheetBytes>,
    pub fonts: Vec<FontFileBytes>,
}

impl Assets {
    /// The fonts of `needed` (names a renderer asked for), in the assets' order.
    pub fn fonts_named<'a>(
        &'a self,
        needed: &'a [String],
    ) -> impl Iterator<Item = &'a FontFileBytes> {
        self.fonts.iter().filter(move |f| needed.contains(&f.name))
    }
}

/// A font file under the `text-font` name it answers to.
#[derive(Debug, Clone)]
pub struct FontFileBytes {
    pub name: String,
    pub data: Bytes,
}

/// One sprite sheet as fetched: `id` is `default` for a plain `"sprite": URL`.
#[derive(Debug, Clone)]
pub struct SpriteSheetBytes {
    pub id: String,
    /// 1 for `sprite.json`/`.png`, 2 for the `@2x` pair.
    pub pixel_ratio: u32,
    pub json: Bytes,
    pub png: Bytes,
}

/// A render's bytes and what the user should know about them.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub bytes: Vec<u8>,
    pub warnings: Vec<String>,
}

/// What a renderer reports about a style (see `rasterzen style check`).
#[derive(Debug, Clone, PartialEq)]
pub struct StyleInfo {
    pub hash: String,
    /// (id, url) of each sprite the style names.
    pub sprites: Vec<(String, String)>,
    pub glyphs: Option<String>,
    pub fonts: Vec<String>,
    pub source_layers: Vec<String>,
    pub layers: Vec<LayerInfo>,
    pub warnings: Vec<String>,
    /// False for renderers of interface 1.0, which report only the hash.
    pub detailed: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LayerInfo {
    pub id: String,
    pub kind: String,
    pub source_layer: Option<String>,
    pub minzoom: f64,
    pub maxzoom: f64,
    /// `drawn`, `approximated`, `ignored` or `hidden`.
    pub status: String,
    pub notes: Vec<String>,
}

impl StyleInfo {
    /// The report of the renderer library itself (the native engine, and 1.1 components).
    pub fn from_report(r: rasterzen_render::StyleReport) -> StyleInfo {
        StyleInfo {
            hash: r.hash,
            sprites: r.sprites.into_iter().map(|s| (s.id, s.url)).collect(),
            glyphs: r.glyphs,
            fonts: r.fonts,
            source_layers: r.source_layers,
            layers: r
                .layers
                .into_iter()
                .map(|l| LayerInfo {
                    id: l.id,
                    kind: l.kind,
                    source_layer: l.source_layer,
                    minzoom: l.minzoom,
                    maxzoom: l.maxzoom,
                    status: l.status.name().to_string(),
                    notes: l.notes,
                })
                .collect(),
            warnings: r.warnings,
            detailed: true,
        }
    }
}

/// A style by built-in name or as MapLibre JSON text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StyleSpec {
    Builtin(String),
    Json(String),
}

impl StyleSpec {
    pub fn as_source(&self) -> rasterzen_render::StyleSource<'_> {
        match self {
            StyleSpec::Builtin(n) => rasterzen_render::StyleSource::Builtin(n),
            StyleSpec::Json(j) => rasterzen_render::StyleSource::Json(j),
        }
    }
}

/// Why a render failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The renderer refused the input (bad tile, bad style, bad options, its own limits).
    /// Transparent: its text is the renderer's, once (an `{0}` + source would say it twice).
    #[error(transparent)]
    Rejected(#[from] rasterzen_render::RenderError),
    /// The sandbox stopped the renderer: memory limit, deadline or a trap.
    #[error("renderer failed: {0}")]
    Failed(String),
    /// The renderer could not be loaded or instantiated.
    #[error("renderer unavailable: {0}")]
    Unavailable(String),
    /// The engine refuses new work for now (native: renders past their deadline or over the
    /// memory budget); try again shortly (503).
    #[error("renderer busy: {0}")]
    Busy(String),
}

/// A renderer implementation. Cheap to share across threads.
pub trait Renderer: Send + Sync {
    /// The renderer's version string.
    fn version(&self) -> &str;
    /// What identifies the renderer's build in cache keys: `VERSION-SHA8`, the version and
    /// the first 8 hex digits of its component's sha256. Two builds under one version string
    /// (a rebuilt host whose renderer changed, a registry holding a rebuilt `.wasm` elsewhere)
    /// never share cached tiles.
    fn build_id(&self) -> &str;
    /// Renders `data` (raw or gzip MVT).
    fn render(&self, data: &[u8], request: &RenderRequest) -> Result<Rendered, EngineError>;
    /// The stable hash of the effective style (16 hex chars).
    fn style_hash(&self, style: &StyleSpec) -> Result<String, EngineError>;
    /// What of the style is drawn, and what must be fetched for it.
    fn style_info(&self, style: &StyleSpec) -> Result<StyleInfo, EngineError>;
}
