//! The browser adapter (wasm-bindgen) over the crate API. Thin on purpose.

use wasm_bindgen::prelude::*;

use crate::{Format, RenderOptions, StyleSource, TileId};

/// The renderer's version string (the same as the component's and the native build's).
#[wasm_bindgen]
pub fn version() -> String {
    crate::version().to_string()
}

/// Built-in style names.
#[wasm_bindgen(js_name = builtinStyles)]
pub fn builtin_styles() -> Vec<String> {
    crate::style::Style::BUILTIN_NAMES
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// The JSON of a built-in style.
#[wasm_bindgen(js_name = builtinStyleJson)]
pub fn builtin_style_json(name: &str) -> Option<String> {
    crate::style::Style::builtin_json(name).map(str::to_string)
}

/// Checks a style; returns its hash, or throws the error text (with the JSON path).
#[wasm_bindgen(js_name = checkStyle)]
pub fn check_style(style_json: &str) -> Result<String, JsError> {
    crate::style_hash(StyleSource::Json(style_json)).map_err(|e| JsError::new(&e.to_string()))
}

/// Renders a tile. `format`: "png" | "svg" | "geojson"; `style_json` empty = built-in `builtin`.
#[allow(clippy::too_many_arguments)]
#[wasm_bindgen(js_name = renderTile)]
pub fn render_tile(
    data: &[u8],
    z: u8,
    x: u32,
    y: u32,
    format: &str,
    size: u32,
    scale: u32,
    builtin: &str,
    style_json: &str,
) -> Result<Vec<u8>, JsError> {
    render(
        data,
        TileId { z, x, y },
        None,
        format,
        size,
        scale,
        builtin,
        style_json,
    )
}

/// Renders tile `z/x/y` from the data of its ancestor `data_z/data_x/data_y` (overzoom, as the
/// server does above the source's maxzoom). Otherwise as [`render_tile`].
#[allow(clippy::too_many_arguments)]
#[wasm_bindgen(js_name = renderTileFrom)]
pub fn render_tile_from(
    data: &[u8],
    data_z: u8,
    data_x: u32,
    data_y: u32,
    z: u8,
    x: u32,
    y: u32,
    format: &str,
    size: u32,
    scale: u32,
    builtin: &str,
    style_json: &str,
) -> Result<Vec<u8>, JsError> {
    let data_tile = TileId {
        z: data_z,
        x: data_x,
        y: data_y,
    };
    render(
        data,
        TileId { z, x, y },
        Some(data_tile),
        format,
        size,
        scale,
        builtin,
        style_json,
    )
}

#[allow(clippy::too_many_arguments)]
fn render(
    data: &[u8],
    tile: TileId,
    data_tile: Option<TileId>,
    format: &str,
    size: u32,
    scale: u32,
    builtin: &str,
    style_json: &str,
) -> Result<Vec<u8>, JsError> {
    let format = match format {
        "png" => Format::Png,
        "svg" => Format::Svg,
        "geojson" => Format::Geojson,
        other => return Err(JsError::new(&format!("unknown format {other:?}"))),
    };
    let style = if style_json.is_empty() {
        StyleSource::Builtin(builtin)
    } else {
        StyleSource::Json(style_json)
    };
    let options = RenderOptions {
        format,
        size,
        scale,
        style,
        data_tile,
    };
    crate::render(data, tile, &options).map_err(|e| JsError::new(&e.to_string()))
}
