//! Engines: who runs the renderer. `wasm` runs the component in a wasmtime sandbox with a
//! memory limit and a deadline per render; `native` links the same crate in-process.

pub mod native;
pub mod registry;
pub mod wasm;

use rasterzen_render::{Format, TileId};

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
    /// Renders `data` (raw or gzip MVT).
    fn render(&self, data: &[u8], request: &RenderRequest) -> Result<Vec<u8>, EngineError>;
    /// The stable hash of the effective style (16 hex chars).
    fn style_hash(&self, style: &StyleSpec) -> Result<String, EngineError>;
}
