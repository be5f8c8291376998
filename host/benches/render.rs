//! Per-tile render time, by stage (native) and whole (native vs the wasm component), for the
//! heaviest z14 tile of the embedded Florence archive and the Nextzen z10 tile.
//!
//! Run: `./build.sh && cargo bench -p rasterzen --bench render`

// The engine module is shared with the binary by path (the host is a binary crate); the
// registry inside it needs the S3 client module.
#[path = "../src/aws.rs"]
#[allow(dead_code)]
mod aws;
#[path = "../src/engine/mod.rs"]
#[allow(dead_code)]
mod engine;
#[path = "../../tests/support/pmtiles.rs"]
#[allow(dead_code)]
mod pmtiles;
#[path = "../src/tilepath.rs"]
#[allow(dead_code)]
mod tilepath;

use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use engine::wasm::{Limits, WasmRenderer};
use engine::{RenderRequest, Renderer, StyleSpec};
use rasterzen_render::{mvt, raster, scene, style::Style, svg, Format, TileId};

fn inputs() -> Vec<(&'static str, TileId, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let archive = std::fs::read(root.join("host/assets/firenze.pmtiles")).unwrap();
    let heaviest = pmtiles::read_all(&archive)
        .into_iter()
        .filter(|e| e.z == 14)
        .max_by_key(|e| e.data.len())
        .unwrap();
    let nextzen = std::fs::read(root.join("tests/fixtures/tiles/nextzen-10-301-384.mvt")).unwrap();
    vec![
        (
            "florence-z14-heaviest",
            TileId {
                z: heaviest.z,
                x: heaviest.x,
                y: heaviest.y,
            },
            heaviest.data,
        ),
        (
            "nextzen-z10",
            TileId {
                z: 10,
                x: 301,
                y: 384,
            },
            nextzen,
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let component = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/rasterzen-renderer.wasm");
    let (wasm, _) = WasmRenderer::load_file(&component, None, Limits::default())
        .expect("build the component first: ./build.sh component");
    let native = engine::native::NativeRenderer;
    let style = Style::builtin("default").unwrap();
    for (name, tile, data) in inputs() {
        let mut g = c.benchmark_group(name);
        g.measurement_time(Duration::from_secs(4)).sample_size(20);
        let decoded = mvt::decode_bytes(&data, &mvt::DecodeLimits::default()).unwrap();
        let view = scene::View::new(tile, tile, 512, 1);
        let sprites = rasterzen_render::sprite::Sprites::new();
        let built = scene::build(&decoded, &style, &view, &sprites);
        let canvas = raster::draw(&built);
        g.bench_function("1-decode", |b| {
            b.iter(|| mvt::decode_bytes(&data, &mvt::DecodeLimits::default()).unwrap())
        });
        g.bench_function("2-style-parse", |b| {
            b.iter(|| Style::builtin("default").unwrap())
        });
        g.bench_function("3-scene", |b| {
            b.iter(|| scene::build(&decoded, &style, &view, &sprites).layers.len())
        });
        g.bench_function("4-raster", |b| b.iter(|| raster::draw(&built)));
        g.bench_function("5-png", |b| {
            b.iter(|| {
                raster::encode_png(canvas.width as u32, canvas.height as u32, &canvas.data).unwrap()
            })
        });
        g.bench_function("svg-text", |b| b.iter(|| svg::write_svg(&built)));
        let request = RenderRequest {
            tile,
            data_tile: None,
            format: Format::Png,
            size: 512,
            scale: 1,
            style: StyleSpec::Builtin("default".into()),
            png: Default::default(),
            assets: Default::default(),
            neighbours: Vec::new(),
        };
        for (engine_name, r) in [
            ("native", &native as &dyn Renderer),
            ("wasm", &wasm as &dyn Renderer),
        ] {
            g.bench_with_input(
                BenchmarkId::new("total-png", engine_name),
                &request,
                |b, req| b.iter(|| r.render(&data, req).unwrap()),
            );
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
