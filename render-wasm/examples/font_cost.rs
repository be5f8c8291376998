//! What host fonts cost a render, fastest of N runs each:
//! `cargo run --release -p rasterzen-render --example font_cost -- TILE.mvt Z/X/Y STYLE FONTS_DIR [N]`
//!
//! STYLE is a style JSON file or a built-in name; with `FALLBACK=NAME` in the environment every
//! `text-font` stack of it gets NAME appended (a style that falls back to a CJK face). Prints
//! `fonts_needed` (every font of FONTS_DIR offered, by the names it answers to; the tile's
//! label layers decoded afresh each time), and the PNG render without fonts, with the needed
//! ones and with every one.

use std::time::Instant;

use rasterzen_render::{
    font_names, fonts_needed, render_with, style::Style, Assets, FontFile, Format, PngProfile,
    RenderOptions, StyleSource, TileId,
};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        eprintln!("usage: font_cost TILE.mvt Z/X/Y STYLE FONTS_DIR [N]");
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
    let mut style = if args[3].ends_with(".json") {
        std::fs::read_to_string(&args[3]).expect("read style")
    } else {
        Style::builtin_json(&args[3])
            .expect("a built-in style")
            .to_string()
    };
    if let Ok(name) = std::env::var("FALLBACK") {
        let mut v: serde_json::Value = serde_json::from_str(&style).expect("style JSON");
        for layer in v["layers"].as_array_mut().expect("layers") {
            if let Some(stack) = layer["layout"]["text-font"].as_array_mut() {
                if stack.iter().all(|s| s.is_string()) {
                    stack.push(serde_json::Value::String(name.clone()));
                }
            }
        }
        style = v.to_string();
    }
    let n: u32 = args.get(5).and_then(|s| s.parse().ok()).unwrap_or(20);
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for e in std::fs::read_dir(&args[4]).expect("fonts dir") {
        let path = e.expect("entry").path();
        let bytes = std::fs::read(&path).expect("read font");
        for name in font_names(&bytes) {
            files.push((name, bytes.clone()));
        }
    }
    let offered: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    let options = RenderOptions {
        format: Format::Png,
        size: 512,
        scale: 1,
        style: StyleSource::Json(&style),
        data_tile: None,
        png: PngProfile::Default,
    };
    let time = |f: &mut dyn FnMut()| {
        f();
        let mut best = f64::MAX;
        for _ in 0..n {
            let t = Instant::now();
            f();
            best = best.min(t.elapsed().as_secs_f64() * 1000.0);
        }
        best
    };
    let needed = fonts_needed(&data, tile, &options, &[], &offered).expect("fonts_needed");
    // Cold: the tile's label layers decoded afresh (a render's own decode is not shared).
    let needed_ms = time(&mut || {
        rasterzen_render::mvt::reuse::clear();
        std::hint::black_box(fonts_needed(&data, tile, &options, &[], &offered).unwrap());
    });
    let all: Vec<FontFile<'_>> = files
        .iter()
        .map(|(name, data)| FontFile { name, data })
        .collect();
    let some: Vec<FontFile<'_>> = all
        .iter()
        .copied()
        .filter(|f| needed.iter().any(|n| n == f.name))
        .collect();
    let render = |fonts: &[FontFile<'_>]| {
        time(&mut || {
            let assets = Assets {
                sprites: &[],
                fonts,
            };
            std::hint::black_box(render_with(&data, tile, &options, &assets).unwrap());
        })
    };
    let none_ms = render(&[]);
    let some_ms = render(&some);
    let all_ms = render(&all);
    println!("offered: {}", offered.join(", "));
    println!("needed:  {}", needed.join(", "));
    println!(
        "fonts_needed {needed_ms:.2} ms | render: no fonts {none_ms:.2} ms, needed fonts {some_ms:.2} ms, every font {all_ms:.2} ms"
    );
}
