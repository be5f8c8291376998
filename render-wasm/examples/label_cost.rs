//! What labels cost per tile: decode, scene, label layout, placement (+ glyph paths), and
//! drawing, with and without the style's symbol layers.
//! `cargo run --release -p rasterzen-render --example label_cost -- TILE.mvt Z/X/Y [STYLE] [N] [size]`
//! Times are the fastest of N runs (the machine may be shared).

use std::time::Instant;

use rasterzen_render::{
    labels, mvt, raster, render, scene, sprite, style::Style, RenderOptions, StyleSource, TileId,
};

fn main() {
    let args: Vec<String> = std::env::args().collect();
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
    let name = args.get(3).cloned().unwrap_or_else(|| "default".into());
    let n: u32 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(20);
    let size: u32 = args.get(5).and_then(|s| s.parse().ok()).unwrap_or(512);
    let json = Style::builtin_json(&name).expect("a built-in style");
    // The same style without its symbol layers: the baseline labels are measured against.
    let mut v: serde_json::Value = serde_json::from_str(json).unwrap();
    v["layers"]
        .as_array_mut()
        .unwrap()
        .retain(|l| l["type"] != "symbol");
    let bare = serde_json::to_string(&v).unwrap();

    // The fastest of n runs: the machine is shared, and the minimum is the least disturbed.
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
    let opts = |s| RenderOptions {
        size,
        style: s,
        ..RenderOptions::default()
    };
    let with = time(&mut || {
        render(&data, tile, &opts(StyleSource::Builtin(&name))).unwrap();
    });
    let without = time(&mut || {
        render(&data, tile, &opts(StyleSource::Json(&bare))).unwrap();
    });

    let style = Style::builtin(&name).unwrap();
    let decoded = mvt::decode_bytes(&data, &mvt::DecodeLimits::default()).unwrap();
    let view = scene::View::new(tile, tile, size, 1);
    let sprites = sprite::Sprites::new();
    let lay = time(&mut || {
        std::hint::black_box(labels::layout(&decoded, &style, &view, &sprites));
    });
    // As a first render lays it out: no shaping kept from an earlier one.
    let lay_cold = time(&mut || {
        labels::forget_shapings();
        std::hint::black_box(labels::layout(&decoded, &style, &view, &sprites));
    });
    let both = time(&mut || {
        let c = labels::layout(&decoded, &style, &view, &sprites);
        let fonts = labels::font::Fonts::embedded();
        std::hint::black_box(labels::place(c, &style, &view, &fonts));
    });
    let candidates = labels::layout(&decoded, &style, &view, &sprites).len();
    let placed = labels::build(&decoded, &style, &view, &sprites)
        .placed
        .len();
    // Drawing: the same scene rasterized with and without its label layers.
    let plain = scene::build(&decoded, &style, &view, &sprites);
    let draw_without = time(&mut || {
        std::hint::black_box(raster::draw(&plain));
    });
    let mut labelled = scene::build(&decoded, &style, &view, &sprites);
    labels::merge(
        &mut labelled,
        &style,
        labels::build(&decoded, &style, &view, &sprites),
    );
    if std::env::var_os("LABEL_COST_DRAW_ONLY").is_some() {
        // For a profiler: nothing more than drawing the labelled scene, n times.
        for _ in 0..n {
            std::hint::black_box(raster::draw(&labelled));
        }
        return;
    }
    let draw_with = time(&mut || {
        std::hint::black_box(raster::draw(&labelled));
    });
    println!("tile {tile} style {name} size {size}: {candidates} candidates, {placed} placed");
    println!(
        "full render (PNG): {with:.2} ms with labels, {without:.2} ms without: +{:.1} %",
        (with / without - 1.0) * 100.0
    );
    println!("  label layout (shaping, anchors, boxes): {lay:.2} ms ({lay_cold:.2} ms shaping every text afresh)");
    println!("  placement + glyph paths: {:.2} ms", both - lay);
    println!(
        "  drawing labels (raster): {:.2} ms",
        draw_with - draw_without
    );
}
