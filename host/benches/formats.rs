//! Encode time and bytes of PNG (each profile), lossless WebP and JPEG (quality 85) for the
//! densest Florence z14 tile (`tests/reference/florence-z14-centre-default`, default style),
//! at 512 px and @2x; and the host's WebP/JPEG path as a whole (decode the renderer's PNG,
//! encode). Prints a Markdown table (BENCHMARKS.md, "Image formats").
//!
//! Run: `cargo bench -p rasterzen --bench formats` (`-- RUNS` for another number of runs).

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use rasterzen_render::encode::{self, Encoding, Rgba, JPEG_QUALITY};
use rasterzen_render::{PngProfile, RenderOptions, TileId};

/// Fastest and median of `runs` calls, in ms.
fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, f64) {
    let mut d: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            black_box(f());
            t.elapsed()
        })
        .collect();
    d.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    (ms(d[0]), ms(d[d.len() / 2]))
}

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(15);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let data = std::fs::read(root.join("tests/reference/florence-z14-centre-default/tile.mvt"))
        .expect("the reference tile");
    let tile = TileId::new(14, 8704, 5971).unwrap();
    println!("Florence z14 14/8704/5971, default style; fastest / median of {runs} runs\n");
    println!("| size | format | encode ms (fastest / median) | from the PNG: decode + encode ms (median) | bytes | vs PNG default |");
    println!("|---|---|---:|---:|---:|---:|");
    for scale in [1u32, 2] {
        let png = rasterzen_render::render(
            &data,
            tile,
            &RenderOptions {
                scale,
                ..RenderOptions::default()
            },
        )
        .expect("render");
        let img: Rgba = encode::decode_png(&png).unwrap();
        let (_, decode_ms) = time(runs, || encode::decode_png(&png).unwrap());
        let reference = encode::encode_png(&img, PngProfile::Default).unwrap().len();
        let label = format!("{} px", 512 * scale);
        let row = |name: &str, transcoded: bool, f: &dyn Fn() -> Vec<u8>| {
            let bytes = f().len();
            let (fast, median) = time(runs, f);
            let whole = if transcoded {
                format!("{:.1}", decode_ms + median)
            } else {
                "—".to_string()
            };
            println!(
                "| {label} | {name} | {fast:.1} / {median:.1} | {whole} | {} kB | {:.2}× |",
                bytes.div_ceil(1000),
                bytes as f64 / reference as f64
            );
        };
        for p in [
            PngProfile::Fast,
            PngProfile::Default,
            PngProfile::Small,
            PngProfile::Png8,
        ] {
            row(&format!("PNG {}", p.name()), false, &|| {
                encode::encode_png(&img, p).unwrap()
            });
        }
        row("WebP lossless", true, &|| {
            encode::encode(&img, Encoding::Webp).unwrap()
        });
        row(&format!("JPEG q{JPEG_QUALITY}"), true, &|| {
            encode::encode(&img, Encoding::Jpeg).unwrap()
        });
    }
}
