//! The renderer crate linked in-process: no sandbox, no per-call setup. For comparisons,
//! benchmarks and embedding; untrusted tiles belong in the `wasm` engine.

use super::{EngineError, RenderRequest, Renderer, StyleSpec};

#[derive(Debug, Default)]
pub struct NativeRenderer;

impl Renderer for NativeRenderer {
    fn version(&self) -> &str {
        rasterzen_render::version()
    }

    fn render(&self, data: &[u8], r: &RenderRequest) -> Result<Vec<u8>, EngineError> {
        let options = rasterzen_render::RenderOptions {
            format: r.format,
            size: r.size,
            scale: r.scale,
            style: r.style.as_source(),
            data_tile: r.data_tile,
        };
        // A panic here is a renderer bug; report it as a failure instead of taking the host down.
        std::panic::catch_unwind(|| rasterzen_render::render(data, r.tile, &options))
            .map_err(|_| EngineError::Failed("native renderer panicked".into()))?
            .map_err(EngineError::Rejected)
    }

    fn style_hash(&self, style: &StyleSpec) -> Result<String, EngineError> {
        Ok(rasterzen_render::style_hash(style.as_source())?)
    }
}
