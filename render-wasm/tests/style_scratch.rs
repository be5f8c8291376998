// Scratch (not for commit): renders extracted tiles with the built-in styles.
use rasterzen_render::style::Style;
use rasterzen_render::{render, Format, RenderOptions, StyleSource, TileId};

#[test]
fn scratch() {
    for name in Style::BUILTIN_NAMES {
        let t = std::time::Instant::now();
        let s = Style::builtin(name).unwrap();
        println!("{name}: {} layers, hash {}, {:?} warnings={:?}", s.layers().len(), s.hash_hex(), t.elapsed(), s.warnings());
    }
    let list = std::env::var("SCRATCH_TILES").unwrap_or_default();
    for item in list.split_whitespace() {
        // style:file:z:x:y
        let parts: Vec<&str> = item.split(':').collect();
        let (style, file) = (parts[0], parts[1]);
        let z: u8 = parts[2].parse().unwrap();
        let x: u32 = parts[3].parse().unwrap();
        let y: u32 = parts[4].parse().unwrap();
        let data = std::fs::read(file).unwrap();
        let opts = RenderOptions { format: Format::Png, size: 512, scale: 1, style: StyleSource::Builtin(style), data_tile: None };
        let t = std::time::Instant::now();
        match render(&data, TileId::new(z, x, y).unwrap(), &opts) {
            Ok(png) => {
                let out = format!("/tmp/sty/png/{style}-{}.png", std::path::Path::new(file).file_stem().unwrap().to_string_lossy());
                std::fs::write(&out, png).unwrap();
                println!("{out} {:?}", t.elapsed());
            }
            Err(e) => println!("{item}: {e}"),
        }
    }
}
