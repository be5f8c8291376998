//! A sweep of PNG encoder settings over rendered tiles (`cargo run --release -p rasterzen-render --example png_sweep -- TILE.mvt Z/X/Y [style]`).
use rasterzen_render::{load_style, mvt, raster, scene, sprite::Sprites, StyleSource, TileId};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let data = std::fs::read(&args[1]).unwrap();
    let zxy: Vec<u32> = args[2].split('/').map(|s| s.parse().unwrap()).collect();
    let tile = TileId {
        z: zxy[0] as u8,
        x: zxy[1],
        y: zxy[2],
    };
    let name = args.get(3).cloned().unwrap_or_else(|| "default".into());
    let json = name
        .ends_with(".json")
        .then(|| std::fs::read_to_string(&name).unwrap());
    let style = load_style(match &json {
        Some(j) => StyleSource::Json(j),
        None => StyleSource::Builtin(&name),
    })
    .unwrap();
    let decoded = mvt::decode_bytes(&data, &mvt::DecodeLimits::default()).unwrap();
    let sprites = Sprites::new();
    let view = scene::View::new(tile, tile, 512, 1);
    let s = scene::build(&decoded, &style, &view, &sprites);
    let canvas = raster::draw(&s);
    let rgb: Vec<u8> = canvas
        .data
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    let mut colours = std::collections::HashSet::new();
    for p in canvas.data.chunks_exact(4) {
        colours.insert([p[0], p[1], p[2]]);
    }
    println!("{} colours", colours.len());
    let t = std::time::Instant::now();
    let current = raster::encode_png(512, 512, &canvas.data).unwrap();
    println!(
        "current: {} B in {:.2} ms",
        current.len(),
        t.elapsed().as_secs_f64() * 1e3
    );
    for (label, comp, filter) in [
        (
            "fdeflate+Up (Fastest)",
            png::DeflateCompression::FdeflateUltraFast,
            png::Filter::Up,
        ),
        (
            "fdeflate+Sub",
            png::DeflateCompression::FdeflateUltraFast,
            png::Filter::Sub,
        ),
        (
            "fdeflate+Paeth",
            png::DeflateCompression::FdeflateUltraFast,
            png::Filter::Paeth,
        ),
        (
            "zlib1+none",
            png::DeflateCompression::Level(1),
            png::Filter::NoFilter,
        ),
        (
            "zlib1+up",
            png::DeflateCompression::Level(1),
            png::Filter::Up,
        ),
        (
            "zlib1+sub",
            png::DeflateCompression::Level(1),
            png::Filter::Sub,
        ),
        (
            "zlib2+none",
            png::DeflateCompression::Level(2),
            png::Filter::NoFilter,
        ),
        (
            "zlib2+up",
            png::DeflateCompression::Level(2),
            png::Filter::Up,
        ),
        (
            "zlib3+none",
            png::DeflateCompression::Level(3),
            png::Filter::NoFilter,
        ),
        (
            "zlib6+none",
            png::DeflateCompression::Level(6),
            png::Filter::NoFilter,
        ),
        (
            "zlib9+none",
            png::DeflateCompression::Level(9),
            png::Filter::NoFilter,
        ),
    ] {
        let mut best = f64::MAX;
        let mut len = 0;
        for _ in 0..5 {
            let t = std::time::Instant::now();
            let mut out = Vec::new();
            let mut e = png::Encoder::new(&mut out, 512, 512);
            e.set_color(png::ColorType::Rgb);
            e.set_depth(png::BitDepth::Eight);
            e.set_deflate_compression(comp);
            e.set_filter(filter);
            let mut w = e.write_header().unwrap();
            w.write_image_data(&rgb).unwrap();
            w.finish().unwrap();
            best = best.min(t.elapsed().as_secs_f64() * 1e3);
            len = out.len();
        }
        println!("{label:24} {len:8} B {best:6.2} ms");
    }
}
