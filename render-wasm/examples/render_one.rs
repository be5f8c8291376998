//! Renders one tile to a file, for looking at output:
//! `cargo run --release -p rasterzen-render --example render_one -- TILE.mvt Z/X/Y STYLE(.json|builtin) OUT.(png|svg|json) [size] [scale] [SPRITE_BASE]`
//! (`SPRITE_BASE` without `.json`/`.png`, e.g. `tests/parity/styles/osm-bright/sprite`).

use rasterzen_render::{
    render_with, Assets, Format, RenderOptions, SpriteData, StyleSource, TileId,
};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        eprintln!("usage: render_one TILE.mvt Z/X/Y STYLE OUT.(png|svg|json) [size] [scale]");
        std::process::exit(2);
    }
    let data = std::fs::read(&args[1]).expect("read tile");
    let zxy: Vec<u32> = args[2]
        .split('/')
        .map(|s| s.parse().expect("Z/X/Y"))
        .collect();
    let tile = TileId {
        z: zxy[0] as u8,
        x: zxy[1],
        y: zxy[2],
    };
    let json = args[3]
        .ends_with(".json")
        .then(|| std::fs::read_to_string(&args[3]).expect("read style"));
    let style = match &json {
        Some(j) => StyleSource::Json(j),
        None => StyleSource::Builtin(&args[3]),
    };
    let format = if args[4].ends_with(".svg") {
        Format::Svg
    } else if args[4].ends_with(".json") {
        Format::Geojson
    } else {
        Format::Png
    };
    let options = RenderOptions {
        format,
        size: args.get(5).and_then(|s| s.parse().ok()).unwrap_or(512),
        scale: args.get(6).and_then(|s| s.parse().ok()).unwrap_or(1),
        style,
        ..RenderOptions::default()
    };
    let sprite = args.get(7).map(|base| {
        let r = options.scale;
        let suffix = if r == 2 { "@2x" } else { "" };
        (
            std::fs::read(format!("{base}{suffix}.json")).expect("sprite json"),
            std::fs::read(format!("{base}{suffix}.png")).expect("sprite png"),
        )
    });
    let sprites: Vec<SpriteData> = sprite
        .iter()
        .map(|(json, png)| SpriteData {
            id: "default",
            pixel_ratio: options.scale,
            json,
            png,
        })
        .collect();
    let r = render_with(
        &data,
        tile,
        &options,
        &Assets {
            sprites: &sprites,
            fonts: &[],
        },
    )
    .expect("render");
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
    std::fs::write(&args[4], &r.bytes).expect("write");
}
