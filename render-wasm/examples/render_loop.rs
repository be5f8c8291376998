//! Renders one tile many times, for profilers (`perf record`, `valgrind --tool=callgrind`):
//! `cargo run --release -p rasterzen-render --example render_loop -- TILE.mvt Z/X/Y [STYLE.json|builtin] [N] [size] [scale]`

use rasterzen_render::{render, RenderOptions, StyleSource, TileId};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: render_loop TILE.mvt Z/X/Y [STYLE.json|builtin-name] [N] [size] [scale]");
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
    let style_arg = args.get(3).cloned().unwrap_or_else(|| "default".into());
    let json = style_arg
        .ends_with(".json")
        .then(|| std::fs::read_to_string(&style_arg).expect("read style"));
    let style = match &json {
        Some(j) => StyleSource::Json(j),
        None => StyleSource::Builtin(&style_arg),
    };
    let n: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(20);
    let size: u32 = args.get(5).and_then(|s| s.parse().ok()).unwrap_or(512);
    let scale: u32 = args.get(6).and_then(|s| s.parse().ok()).unwrap_or(1);
    let options = RenderOptions {
        size,
        scale,
        style,
        ..RenderOptions::default()
    };
    let started = std::time::Instant::now();
    let mut bytes = 0;
    for _ in 0..n {
        bytes = render(&data, tile, &options).expect("render").len();
    }
    let ms = started.elapsed().as_secs_f64() * 1000.0 / n as f64;
    println!("{ms:.2} ms per render, {bytes} bytes");
}
