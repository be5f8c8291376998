//! The renderer's stages one by one, fastest of N runs each (the machine may be shared), for
//! A/B runs of two builds:
//! `cargo run --release -p rasterzen-render --example stage_cost -- TILE.mvt Z/X/Y [STYLE.json|builtin] [N]`
//!
//! Prints decode, scene, labels (layout + placement) and drawing (the scene without labels)
//! for the tile, then the labels of a tile two zooms deeper overzoomed from it (its top-left
//! quarter's inner tile) alone and with its 8 neighbours, all cut from the same data, as
//! `serve` draws overzoomed labelled tiles. With `AROUND=DIR` in the environment (files
//! `Z_X_Y.mvt` of the tile's neighbours) also the labels with the real neighbours: their
//! decode (label layers only, as a render does), their layouts, and the whole block.

use std::time::Instant;

use rasterzen_render::labels::seams::{build_block, Neighbour, SeamMode};
use rasterzen_render::{labels, mvt, raster, scene, sprite, style::Style, TileId};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: stage_cost TILE.mvt Z/X/Y [STYLE.json|builtin-name] [N]");
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
    let name = args.get(3).cloned().unwrap_or_else(|| "default".into());
    let style = if name.ends_with(".json") {
        Style::from_json(&std::fs::read_to_string(&name).expect("read style")).expect("style")
    } else {
        Style::builtin(&name).expect("a built-in style")
    };
    let n: u32 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(30);
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
    let limits = mvt::DecodeLimits::default();
    let decoded = mvt::decode_bytes(&data, &limits).expect("decode");
    let view = scene::View::new(tile, tile, 512, 1);
    let sprites = sprite::Sprites::new();
    let decode = time(&mut || {
        std::hint::black_box(mvt::decode_bytes(&data, &limits).unwrap());
    });
    let scene_ms = time(&mut || {
        std::hint::black_box(scene::build(&decoded, &style, &view, &sprites));
    });
    let labels_ms = time(&mut || {
        std::hint::black_box(labels::build(&decoded, &style, &view, &sprites));
    });
    let plain = scene::build(&decoded, &style, &view, &sprites);
    let draw = time(&mut || {
        std::hint::black_box(raster::draw(&plain));
    });
    println!(
        "tile {tile} style {name}, 512 px, fastest of {n}: decode {decode:.2} ms, scene {scene_ms:.2} ms, labels {labels_ms:.2} ms, drawing without labels {draw:.2} ms"
    );

    // The labels of `decoded` drawn under `view` with `around`, fastest of N.
    let block_labels = |around: &[Neighbour<'_>], view: &scene::View| {
        time(&mut || {
            std::hint::black_box(build_block(
                &decoded,
                around,
                &style,
                view,
                &sprites,
                &labels::font::Fonts::embedded(),
                SeamMode::Region,
            ));
        })
    };
    if let Some(dir) = std::env::var_os("AROUND") {
        let dir = std::path::PathBuf::from(dir);
        let label_layers: Vec<&str> = style
            .layers()
            .iter()
            .filter(|l| l.kind() == rasterzen_render::style::LayerKind::Symbol)
            .filter_map(|l| l.source_layer())
            .collect();
        let mut raw = Vec::new();
        for dy in -1i32..=1 {
            for dx in -1i32..=1 {
                let (x, y) = (tile.x as i32 + dx, tile.y as i32 + dy);
                let path = dir.join(format!("{}_{x}_{y}.mvt", tile.z));
                if (dx, dy) != (0, 0) {
                    if let Ok(bytes) = std::fs::read(&path) {
                        raw.push((dx, dy, bytes));
                    }
                }
            }
        }
        let decode_nb = || -> Vec<(i32, i32, mvt::Tile)> {
            raw.iter()
                .map(|(dx, dy, b)| {
                    let t = mvt::decode_layers(b, &limits, &|n| label_layers.contains(&n)).unwrap();
                    (*dx, *dy, t)
                })
                .collect()
        };
        let nb_decode = time(&mut || {
            std::hint::black_box(decode_nb());
        });
        let nb_inflate = time(&mut || {
            for (_, _, b) in &raw {
                std::hint::black_box(mvt::decode_layers(b, &limits, &|_| false).unwrap());
            }
        });
        let decoded_nb = decode_nb();
        mvt::reuse::clear();
        for (_, _, b) in &raw {
            mvt::reuse::decode_layers_reused(b, &limits, &label_layers).unwrap();
        }
        let (_, _, entries, bytes) = mvt::reuse::stats();
        let reused = time(&mut || {
            for (_, _, b) in &raw {
                std::hint::black_box(
                    mvt::reuse::decode_layers_reused(b, &limits, &label_layers).unwrap(),
                );
            }
        });
        let nb_layout = time(&mut || {
            let mut cache = labels::LayoutCache::new();
            for (dx, dy, t) in &decoded_nb {
                let id = TileId {
                    z: tile.z,
                    x: (tile.x as i32 + dx) as u32,
                    y: (tile.y as i32 + dy) as u32,
                };
                let v = scene::View::new(id, id, 512, 1);
                let fonts = labels::font::Fonts::embedded();
                std::hint::black_box(labels::layout_shared(
                    t, &style, &v, &sprites, &fonts, &mut cache,
                ));
            }
        });
        let around: Vec<Neighbour<'_>> = decoded_nb
            .iter()
            .map(|(dx, dy, t)| Neighbour {
                dx: *dx,
                dy: *dy,
                tile: t,
                shared: None,
            })
            .collect();
        let block = block_labels(&around, &view);
        let shared: Vec<std::sync::Arc<mvt::Tile>> = decoded_nb
            .iter()
            .map(|(_, _, t)| std::sync::Arc::new(t.clone()))
            .collect();
        // Held a second time, as `mvt::reuse` holds the tiles it hands out (layouts are kept
        // only for tiles it holds).
        let _held = shared.clone();
        let around_kept: Vec<Neighbour<'_>> = decoded_nb
            .iter()
            .zip(&shared)
            .map(|((dx, dy, t), s)| Neighbour {
                dx: *dx,
                dy: *dy,
                tile: t,
                shared: Some(s),
            })
            .collect();
        let kept = block_labels(&around_kept, &view);
        println!(
            "the block's labels with the neighbours' layouts kept from an earlier render: {kept:.2} ms"
        );
        println!(
            "with its {} real neighbours: their decode {nb_decode:.2} ms (of which inflating and skipping every layer {nb_inflate:.2} ms), their layouts {nb_layout:.2} ms, the block's labels {block:.2} ms; decoded again through mvt::reuse {reused:.2} ms ({entries} tiles kept, {:.1} MB estimated)",
            around.len(),
            bytes as f64 / 1e6
        );
    }

    let deep = TileId {
        z: tile.z + 2,
        x: tile.x * 4 + 1,
        y: tile.y * 4 + 1,
    };
    let deep_view = scene::View::new(deep, tile, 512, 1);
    let around: Vec<Neighbour<'_>> = [
        (-1, -1),
        (0, -1),
        (1, -1),
        (-1, 0),
        (1, 0),
        (-1, 1),
        (0, 1),
        (1, 1),
    ]
    .iter()
    .map(|&(dx, dy)| Neighbour {
        dx,
        dy,
        tile: &decoded,
        shared: None,
    })
    .collect();
    let alone = block_labels(&[], &deep_view);
    let with = block_labels(&around, &deep_view);
    println!(
        "labels of {deep} overzoomed from it: {alone:.2} ms alone, {with:.2} ms with its 8 neighbours"
    );
}
