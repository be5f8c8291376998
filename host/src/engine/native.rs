//! The renderer crate linked in-process: no sandbox, no per-call setup. For comparisons,
//! benchmarks and embedding; untrusted tiles belong in the `wasm` engine.

use super::{EngineError, RenderRequest, Rendered, Renderer, StyleInfo, StyleSpec};

#[derive(Debug, Default)]
pub struct NativeRenderer;

impl Renderer for NativeRenderer {
    fn version(&self) -> &str {
        rasterzen_render::version()
    }

    fn render(&self, data: &[u8], r: &RenderRequest) -> Result<Rendered, EngineError> {
        let options = rasterzen_render::RenderOptions {
            format: r.format,
            size: r.size,
            scale: r.scale,
            style: r.style.as_source(),
            data_tile: r.data_tile,
            png: r.png,
        };
        let sprites: Vec<rasterzen_render::SpriteData<'_>> = r
            .assets
            .sprites
            .iter()
            .map(|s| rasterzen_render::SpriteData {
                id: &s.id,
                pixel_ratio: s.pixel_ratio,
                json: &s.json,
                png: &s.png,
            })
            .collect();
        let assets = rasterzen_render::Assets { sprites: &sprites };
        // A panic here is a renderer bug; report it as a failure instead of taking the host down.
        std::panic::catch_unwind(|| rasterzen_render::render_with(data, r.tile, &options, &assets))
            .map_err(|_| EngineError::Failed("native renderer panicked".into()))?
            .map(|out| Rendered {
                bytes: out.bytes,
                warnings: out.warnings,
            })
            .map_err(EngineError::Rejected)
    }

    fn style_hash(&self, style: &StyleSpec) -> Result<String, EngineError> {
        Ok(rasterzen_render::style_hash(style.as_source())?)
    }

    fn style_info(&self, style: &StyleSpec) -> Result<StyleInfo, EngineError> {
        Ok(StyleInfo::from_report(rasterzen_render::style_report(
            style.as_source(),
        )?))
    }
}
