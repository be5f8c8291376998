//! Renders a 2×2 block of the Florence archive's z14 tiles, each with its neighbours (and,
//! for comparison, alone) and stitches them, to look at labels across seams:
//! `cargo run --release -p rasterzen-render --example seam_look -- X Y OUT_DIR`

use rasterzen_render::{render_with_neighbours, Assets, NeighbourData, RenderOptions, TileId};

#[path = "../tests/common/mod.rs"]
mod common;
use common::archive;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (x0, y0): (u32, u32) = (args[1].parse().unwrap(), args[2].parse().unwrap());
    let out = std::path::PathBuf::from(&args[3]);
    let raw = archive("host/assets/firenze.pmtiles");
    let z = 14u8;
    for with in [true, false] {
        let mut big = vec![0u8; 1024 * 1024 * 4];
        for (bx, by) in [(0u32, 0u32), (1, 0), (0, 1), (1, 1)] {
            let (x, y) = (x0 + bx, y0 + by);
            let nbs: Vec<NeighbourData> = (-1i64..=1)
                .flat_map(|dy| (-1i64..=1).map(move |dx| (dx, dy)))
                .filter(|&d| d != (0, 0) && with)
                .filter_map(|(dx, dy)| {
                    let k = (z, (i64::from(x) + dx) as u32, (i64::from(y) + dy) as u32);
                    raw.get(&k).map(|d| NeighbourData {
                        tile: TileId { z, x: k.1, y: k.2 },
                        data: d,
                    })
                })
                .collect();
            let r = render_with_neighbours(
                &raw[&(z, x, y)],
                TileId { z, x, y },
                &RenderOptions::default(),
                &Assets::default(),
                &nbs,
            )
            .unwrap();
            let mut d = png::Decoder::new(std::io::Cursor::new(&r.bytes));
            d.set_transformations(png::Transformations::EXPAND | png::Transformations::ALPHA);
            let mut rd = d.read_info().unwrap();
            let mut buf = vec![0; rd.output_buffer_size().unwrap()];
            rd.next_frame(&mut buf).unwrap();
            for row in 0..512usize {
                let dst = ((by as usize * 512 + row) * 1024 + bx as usize * 512) * 4;
                big[dst..dst + 2048].copy_from_slice(&buf[row * 2048..row * 2048 + 2048]);
            }
        }
        let name = out.join(if with {
            "seams-with-neighbours.png"
        } else {
            "seams-alone.png"
        });
        let f = std::fs::File::create(&name).unwrap();
        let mut e = png::Encoder::new(f, 1024, 1024);
        e.set_color(png::ColorType::Rgba);
        e.write_header().unwrap().write_image_data(&big).unwrap();
        println!("{}", name.display());
    }
}
