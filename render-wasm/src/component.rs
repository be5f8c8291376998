//! The WebAssembly component adapter: `wit/renderer.wit`'s `render` interface over the crate
//! API. Thin on purpose: conversions only.

use crate::style::LayerStatus;
use crate::{
    Assets, FontFile, Format, NeighbourData, PngProfile, RenderError, RenderOptions, SpriteData,
    StyleSource, TileId,
};

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

fn options(o: &wit::RenderOptions, png: wit::PngProfile) -> RenderOptions<'_> {
    RenderOptions {
        format: match o.format {
            wit::Format::Png => Format::Png,
            wit::Format::Svg => Format::Svg,
            wit::Format::Geojson => Format::Geojson,
        },
        size: o.size,
        scale: o.scale,
        style: style_source(&o.style),
        data_tile: o.data_tile.map(tile_id),
        png: match png {
            wit::PngProfile::Default => PngProfile::Default,
            wit::PngProfile::Fast => PngProfile::Fast,
            wit::PngProfile::Small => PngProfile::Small,
            wit::PngProfile::Png8 => PngProfile::Png8,
        },
    }
}

fn neighbours(request: &wit::RenderRequest) -> Vec<NeighbourData<'_>> {
    request
        .neighbours
        .iter()
        .map(|n| NeighbourData {
            tile: tile_id(n.tile),
            data: &n.data,
        })
        .collect()
}

impl wit::Guest for Component {
    fn render(
        data: Vec<u8>,
        tile: wit::TileId,
        options: wit::RenderOptions,
    ) -> Result<Vec<u8>, wit::RenderError> {
        let opts = self::options(&options, wit::PngProfile::Default);
        crate::render(&data, tile_id(tile), &opts).map_err(error)
    }

    fn render_with(request: wit::RenderRequest) -> Result<wit::RenderOutput, wit::RenderError> {
        let opts = self::options(&request.options, request.png);
        let sprites: Vec<SpriteData<'_>> = request
            .sprites
            .iter()
            .map(|s| SpriteData {
                id: &s.id,
                pixel_ratio: s.pixel_ratio,
                json: &s.json,
                png: &s.png,
            })
            .collect();
        let fonts: Vec<FontFile<'_>> = request
            .fonts
            .iter()
            .map(|f| FontFile {
                name: &f.name,
                data: &f.data,
            })
            .collect();
        let assets = Assets {
            sprites: &sprites,
            fonts: &fonts,
        };
        let neighbours = self::neighbours(&request);
        crate::render_with_neighbours(
            &request.data,
            tile_id(request.tile),
            &opts,
            &assets,
            &neighbours,
        )
        .map(|r| wit::RenderOutput {
            bytes: r.bytes,
            warnings: r.warnings,
        })
        .map_err(error)
    }

    fn fonts_needed(
        request: wit::RenderRequest,
        offered: Vec<String>,
    ) -> Result<Vec<String>, wit::RenderError> {
        let opts = self::options(&request.options, request.png);
        let offered: Vec<&str> = offered.iter().map(String::as_str).collect();
        crate::fonts_needed(
            &request.data,
            tile_id(request.tile),
            &opts,
            &self::neighbours(&request),
            &offered,
        )
        .map_err(error)
    }

    fn style_info(style: wit::StyleSource) -> Result<wit::StyleReport, wit::RenderError> {
        let r = crate::style_report(style_source(&style)).map_err(error)?;
        Ok(wit::StyleReport {
            hash: r.hash,
            name: r.name,
            sprites: r
                .sprites
                .into_iter()
                .map(|s| wit::SpriteRef {
                    id: s.id,
                    url: s.url,
                })
                .collect(),
            glyphs: r.glyphs,
            fonts: r.fonts,
            source_layers: r.source_layers,
            layers: r
                .layers
                .into_iter()
                .map(|l| wit::LayerReport {
                    id: l.id,
                    kind: l.kind,
                    source_layer: l.source_layer,
                    minzoom: l.minzoom,
                    maxzoom: l.maxzoom,
                    status: match l.status {
                        LayerStatus::Drawn => wit::LayerStatus::Drawn,
                        LayerStatus::Approximated => wit::LayerStatus::Approximated,
                        LayerStatus::Ignored => wit::LayerStatus::Ignored,
                        LayerStatus::Hidden => wit::LayerStatus::Hidden,
                    },
                    notes: l.notes,
                })
                .collect(),
            warnings: r.warnings,
        })
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
