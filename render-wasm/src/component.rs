//! The WebAssembly component adapter: `wit/renderer.wit`'s `render` interface over the crate
//! API. Thin on purpose: conversions only.

use crate::{Format, RenderError, RenderOptions, StyleSource, TileId};

wit_bindgen::generate!({
    path: "../wit",
    world: "renderer",
});

use exports::rasterzen::renderer::render as wit;

struct Component;

fn style_source(s: &wit::StyleSource) -> StyleSource<'_> {
    match s {
        wit::StyleSource::Builtin(name) => StyleSource::Builtin(name),
        wit::StyleSource::Json(text) => StyleSource::Json(text),
    }
}

fn tile_id(t: wit::TileId) -> TileId {
    TileId {
        z: t.z,
        x: t.x,
        y: t.y,
    }
}

fn error(e: RenderError) -> wit::RenderError {
    match e {
        RenderError::InvalidTile(m) => wit::RenderError::InvalidTile(m),
        RenderError::InvalidStyle(m) => wit::RenderError::InvalidStyle(m),
        RenderError::InvalidOptions(m) => wit::RenderError::InvalidOptions(m),
        RenderError::LimitExceeded(m) => wit::RenderError::LimitExceeded(m),
    }
}

impl wit::Guest for Component {
    fn render(
        data: Vec<u8>,
        tile: wit::TileId,
        options: wit::RenderOptions,
    ) -> Result<Vec<u8>, wit::RenderError> {
        let opts = RenderOptions {
            format: match options.format {
                wit::Format::Png => Format::Png,
                wit::Format::Svg => Format::Svg,
                wit::Format::Geojson => Format::Geojson,
            },
            size: options.size,
            scale: options.scale,
            style: style_source(&options.style),
            data_tile: options.data_tile.map(tile_id),
        };
        crate::render(&data, tile_id(tile), &opts).map_err(error)
    }

    fn style_hash(style: wit::StyleSource) -> Result<String, wit::RenderError> {
        crate::style_hash(style_source(&style)).map_err(error)
    }

    fn builtin_styles() -> Vec<String> {
        crate::style::Style::BUILTIN_NAMES
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn builtin_style_json(name: String) -> Option<String> {
        crate::style::Style::builtin_json(&name).map(str::to_string)
    }

    fn version() -> String {
        crate::version().to_string()
    }
}

export!(Component);
