//! The browser adapter (wasm-bindgen) over the crate API. Thin on purpose.

use wasm_bindgen::prelude::*;

use crate::{Assets, Format, RenderOptions, SpriteData, StyleSource, TileId};

/// The renderer's version string (the same as the component's and the native build's).
#[wasm_bindgen]
pub fn version() -> String {
    crate::version().to_string()
}

/// A PNG (e.g. from [`render_tile`]) as `format` ("png" | "webp" | "jpg"): the same bytes
/// the server's `/webp/…` and `/jpg/…` send (`encode::transcode_png`), or throws the error text.
#[wasm_bindgen(js_name = transcodePng)]
pub fn transcode_png(png: &[u8], format: &str) -> Result<Vec<u8>, JsError> {
    let encoding = crate::encode::Encoding::from_name(format).ok_or_else(|| {
        JsError::new(&format!("unknown image format {format:?} (png, webp, jpg)"))
    })?;
    crate::encode::transcode_png(png, encoding).map_err(|e| JsError::new(&e.to_string()))
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
        png: Default::default(),
    };
    SPRITES.with(|sheets| {
        let sheets = sheets.borrow();
        let sprites: Vec<SpriteData<'_>> = sheets
            .iter()
            .map(|(id, ratio, json, png)| SpriteData {
                id,
                pixel_ratio: *ratio,
                json,
                png,
            })
            .collect();
        let assets = Assets {
            sprites: &sprites,
            fonts: &[],
        };
        let out = NEIGHBOURS
            .with(|n| {
                let n = n.borrow();
                let around: Vec<crate::NeighbourData<'_>> = n
                    .iter()
                    .map(|(t, d)| crate::NeighbourData { tile: *t, data: d })
                    .collect();
                crate::render_with_neighbours(data, tile, &options, &assets, &around)
            })
            .map_err(|e| JsError::new(&e.to_string()))?;
        WARNINGS.with(|w| *w.borrow_mut() = out.warnings);
        Ok(out.bytes)
    })
}

type Sheet = (String, u32, Vec<u8>, Vec<u8>);

thread_local! {
    /// The style's sprite sheets, as the page fetched them (the same bytes the server uses).
    static SPRITES: std::cell::RefCell<Vec<Sheet>> = const { std::cell::RefCell::new(Vec::new()) };
    static WARNINGS: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
    /// The tiles around the next tile rendered (as the server passes them to its renderer).
    static NEIGHBOURS: std::cell::RefCell<Vec<(TileId, Vec<u8>)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Gives the next render a tile next to it (same zoom; empty `data`: nothing there), so that
/// labels crossing the seam are drawn exactly as the server draws them.
#[wasm_bindgen(js_name = setNeighbour)]
pub fn set_neighbour(z: u8, x: u32, y: u32, data: &[u8]) {
    NEIGHBOURS.with(|n| n.borrow_mut().push((TileId { z, x, y }, data.to_vec())));
}

/// Forgets the neighbours given with [`set_neighbour`].
#[wasm_bindgen(js_name = clearNeighbours)]
pub fn clear_neighbours() {
    NEIGHBOURS.with(|n| n.borrow_mut().clear());
}

/// Gives the renderer one sheet of the style's sprite (`id` "default" for a plain URL;
/// `pixel_ratio` 1 or 2), replacing an earlier sheet of the same id and ratio.
#[wasm_bindgen(js_name = setSprite)]
pub fn set_sprite(id: &str, pixel_ratio: u32, json: &[u8], png: &[u8]) {
    SPRITES.with(|s| {
        let mut s = s.borrow_mut();
        s.retain(|(i, r, _, _)| !(i == id && *r == pixel_ratio));
        s.push((id.to_string(), pixel_ratio, json.to_vec(), png.to_vec()));
    });
}

/// Forgets every sprite sheet (a new style).
#[wasm_bindgen(js_name = clearSprites)]
pub fn clear_sprites() {
    SPRITES.with(|s| s.borrow_mut().clear());
}

/// The warnings of the last render (missing sprite images...).
#[wasm_bindgen(js_name = lastWarnings)]
pub fn last_warnings() -> Vec<String> {
    WARNINGS.with(|w| w.borrow().clone())
}

/// The style's report as JSON: layers drawn, approximated or ignored, sprites and fonts to
/// fetch, warnings; or throws the error text.
#[wasm_bindgen(js_name = styleReport)]
pub fn style_report(style_json: &str) -> Result<String, JsError> {
    let r = crate::style_report(StyleSource::Json(style_json))
        .map_err(|e| JsError::new(&e.to_string()))?;
    let layers: Vec<serde_json::Value> = r
        .layers
        .iter()
        .map(|l| {
            serde_json::json!({
                "id": l.id, "type": l.kind, "source-layer": l.source_layer,
                "status": l.status.name(), "notes": l.notes,
            })
        })
        .collect();
    let sprites: Vec<serde_json::Value> = r
        .sprites
        .iter()
        .map(|s| serde_json::json!({"id": s.id, "url": s.url}))
        .collect();
    Ok(serde_json::json!({
        "hash": r.hash, "sprites": sprites, "glyphs": r.glyphs, "fonts": r.fonts,
        "sourceLayers": r.source_layers, "layers": layers, "warnings": r.warnings,
    })
    .to_string())
}
