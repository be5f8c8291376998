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

#[test]
fn per_layer_timing() {
    use rasterzen_render::mvt::{self, FeatureRef};
    let data = std::fs::read("/tmp/sty/tiles/firenze-14-8704-5971.mvt").unwrap();
    let tile = mvt::decode_bytes(&data, &mvt::DecodeLimits::default()).unwrap();
    let st = Style::builtin(&std::env::var("STYLE").unwrap_or("default".into())).unwrap();
    let zoom = 14.0;
    let mut total = 0.0;
    for sl in st.layers() {
        let Some(layer) = tile.layers.iter().find(|l| Some(l.name.as_str()) == sl.source_layer()) else { continue };
        let mut best_f = f64::MAX;
        let mut best_all = f64::MAX;
        let mut m = 0;
        for _ in 0..30 {
            let t = std::time::Instant::now();
            for f in &layer.features {
                std::hint::black_box(sl.matches(&FeatureRef::new(layer, f), zoom));
            }
            best_f = best_f.min(t.elapsed().as_secs_f64() * 1e6);
            let t = std::time::Instant::now();
            m = 0;
            for f in &layer.features {
                let fr = FeatureRef::new(layer, f);
                if sl.matches(&fr, zoom) { m += 1; std::hint::black_box(sl.sort_key(&fr, zoom)); std::hint::black_box(sl.paint(Some(&fr), zoom)); }
            }
            best_all = best_all.min(t.elapsed().as_secs_f64() * 1e6);
        }
        total += best_all;
        println!("{:24} {:6}/{:6} total {:8.1}us filter {:8.1}us", sl.id(), m, layer.features.len(), best_all, best_f);
    }
    println!("sum {total:.1}us");
}

#[test]
fn bench_loop() {
    use rasterzen_render::mvt::{self, FeatureRef};
    let data = std::fs::read("/tmp/sty/tiles/firenze-14-8704-5971.mvt").unwrap();
    let tile = mvt::decode_bytes(&data, &mvt::DecodeLimits::default()).unwrap();
    let st = Style::builtin("default").unwrap();
    let zoom = 14.0;
    let rounds: u32 = std::env::var("ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let mut drawn = 0usize;
    let mut best = std::time::Duration::MAX;
    for _ in 0..rounds {
        let t = std::time::Instant::now();
        for sl in st.layers() {
            if !sl.visible_at(zoom) { continue; }
            let Some(layer) = tile.layers.iter().find(|l| Some(l.name.as_str()) == sl.source_layer()) else { continue };
            for f in &layer.features {
                let fr = FeatureRef::new(layer, f);
                if sl.matches(&fr, zoom) {
                    drawn += 1;
                    let _ = std::hint::black_box(sl.sort_key(&fr, zoom));
                    let _ = std::hint::black_box(sl.paint(Some(&fr), zoom));
                }
            }
        }
        best = best.min(t.elapsed());
    }
    println!("bench: best {:?} per tile ({drawn})", best);
}
