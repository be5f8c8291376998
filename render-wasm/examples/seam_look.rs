//! Renders a 2×2 block of the Florence archive's z14 tiles, each with its neighbours (and,
//! for comparison, alone) and stitches them, to look at labels across seams:
//! `cargo run --release -p rasterzen-render --example seam_look -- X Y OUT_DIR`

use std::collections::BTreeMap;

use rasterzen_render::{render_with_neighbours, Assets, NeighbourData, RenderOptions, TileId};

/// Every tile of a PMTiles v3 archive (root directory only) as ((z, x, y), gzip bytes).
fn archive(rel: &str) -> BTreeMap<(u8, u32, u32), Vec<u8>> {
    let data = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(rel),
    )
    .unwrap();
    let u = |o: usize| u64::from_le_bytes(data[o..o + 8].try_into().unwrap()) as usize;
    let (root, root_len, leaf_len, tiles) = (u(8), u(16), u(48), u(56));
    assert_eq!(leaf_len, 0, "this reader has no leaf directories");
    let gz = &data[root..root + root_len];
    assert_eq!(&gz[..3], [0x1f, 0x8b, 8]);
    assert_eq!(gz[3], 0, "no gzip header flags expected");
    let dir = miniz_oxide::inflate::decompress_to_vec(&gz[10..gz.len() - 8]).unwrap();
    let mut pos = 0;
    let mut varint = || {
        let (mut v, mut shift) = (0u64, 0);
        loop {
            let b = dir[pos];
            pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return v;
            }
            shift += 7;
        }
    };
    let n = varint() as usize;
    let mut ids = Vec::new();
    let mut last = 0;
    for _ in 0..n {
        last += varint();
        ids.push(last);
    }
    let runs: Vec<u64> = (0..n).map(|_| varint()).collect();
    let lens: Vec<u64> = (0..n).map(|_| varint()).collect();
    let mut offs: Vec<u64> = Vec::new();
    for i in 0..n {
        let v = varint();
        offs.push(if v == 0 && i > 0 {
            offs[i - 1] + lens[i - 1]
        } else {
            v - 1
        });
    }
    let zxy = |id: u64| {
        let (mut acc, mut z) = (0u64, 0u8);
        while id >= acc + (1u64 << (2 * z)) {
            acc += 1u64 << (2 * z);
            z += 1;
        }
        // Hilbert index → x, y.
        let (mut x, mut y, mut t, mut s) = (0u64, 0u64, id - acc, 1u64);
        while s < (1u64 << z) {
            let rx = 1 & (t / 2);
            let ry = 1 & (t ^ rx);
            if ry == 0 {
                if rx == 1 {
                    x = s - 1 - x;
                    y = s - 1 - y;
                }
                std::mem::swap(&mut x, &mut y);
            }
            x += s * rx;
            y += s * ry;
            t /= 4;
            s *= 2;
        }
        (z, x as u32, y as u32)
    };
    let mut out = BTreeMap::new();
    for i in 0..n {
        let start = tiles + offs[i] as usize;
        for r in 0..runs[i] {
            out.insert(
                zxy(ids[i] + r),
                data[start..start + lens[i] as usize].to_vec(),
            );
        }
    }
    out
}

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
