//! The standing speed table of BENCHMARKS.md: real tiles × real styles, per stage natively
//! (decode, style parse, scene, raster, PNG) and whole, natively and through the wasm component
//! (its sandbox: pooled instance, fresh limits per call), with PNG bytes per profile and the
//! component's per-call overhead. Prints Markdown tables.
//!
//! Run: `./build.sh && cargo bench -p rasterzen --bench matrix` (`-- --quick` for fewer runs,
//! `-- --labels` for only the section on what labels cost, `-- --only TEXT` for only the rows
//! whose tile · style name contains TEXT, `-- --fonts DIR` for only the section on what the
//! fonts of DIR cost, as `--fonts DIR` gives them to renders).
//!
//! Every figure is the median of repeated runs in this one process, so ratios in a table were
//! measured side by side under the same machine load.

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

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use engine::wasm::{Limits, WasmRenderer};
use engine::{Assets, RenderRequest, Renderer, SpriteSheetBytes, StyleSpec};
use rasterzen_render::sprite::{SpriteSheet, Sprites};
use rasterzen_render::{labels, mvt, raster, scene, style::Style, Format, PngProfile, TileId};

/// One row: a real tile drawn with a real style at 512 px @1x.
struct Case {
    class: &'static str,
    name: String,
    tile: TileId,
    data: Vec<u8>,
    /// The style's JSON text (built-ins through their embedded JSON, as a user's file would be).
    style_json: String,
    /// The style's sprite pairs beside its `style.json`, as the host fetches them.
    sprites: Vec<SpriteSheetBytes>,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn parity_style(name: &str) -> (String, Vec<SpriteSheetBytes>) {
    let dir = root().join("tests/parity/styles").join(name);
    let json = std::fs::read_to_string(dir.join("style.json")).unwrap();
    let mut sprites = Vec::new();
    for (ratio, suffix) in [(1, ""), (2, "@2x")] {
        if let (Ok(j), Ok(p)) = (
            std::fs::read(dir.join(format!("sprite{suffix}.json"))),
            std::fs::read(dir.join(format!("sprite{suffix}.png"))),
        ) {
            sprites.push(SpriteSheetBytes {
                id: "default".into(),
                pixel_ratio: ratio,
                json: Bytes::from(j),
                png: Bytes::from(p),
            });
        }
    }
    (json, sprites)
}

fn parity_tile(file: &str) -> Vec<u8> {
    std::fs::read(root().join("tests/parity/tiles").join(file)).unwrap()
}

fn cases() -> Vec<Case> {
    let archive = std::fs::read(root().join("host/assets/firenze.pmtiles")).unwrap();
    let heaviest = pmtiles::read_all(&archive)
        .into_iter()
        .filter(|e| e.z == 14)
        .max_by_key(|e| e.data.len())
        .unwrap();
    let builtin = |n: &str| (Style::builtin_json(n).unwrap().to_owned(), Vec::new());
    let t = |z, x, y| TileId::new(z, x, y).unwrap();
    let mut out = Vec::new();
    let mut add = |class, name: &str, tile, data, (style_json, sprites)| {
        out.push(Case {
            class,
            name: name.into(),
            tile,
            data,
            style_json,
            sprites,
        })
    };
    add(
        "light",
        "OMT Monaco z11 · Positron",
        t(11, 1066, 746),
        parity_tile("omt-monaco-11-1066-746.mvt.gz"),
        parity_style("positron"),
    );
    add(
        "light",
        "OMT Liechtenstein z10 · OSM Bright",
        t(10, 539, 359),
        parity_tile("omt-liechtenstein-10-539-359.mvt.gz"),
        parity_style("osm-bright"),
    );
    add(
        "medium",
        "Tilezen New York z10 · default",
        t(10, 301, 384),
        parity_tile("tilezen-newyork-10-301-384.mvt"),
        builtin("default"),
    );
    add(
        "medium",
        "Tilezen New York z10 · Protomaps v4 light",
        t(10, 301, 384),
        parity_tile("tilezen-newyork-10-301-384.mvt"),
        parity_style("protomaps-v4-light"),
    );
    add(
        "medium",
        "OMT Monaco z14 · OSM Bright",
        t(14, 8529, 5974),
        parity_tile("omt-monaco-14-8529-5974.mvt.gz"),
        parity_style("osm-bright"),
    );
    add(
        "dense",
        "Florence z14 (densest) · default",
        t(heaviest.z, heaviest.x, heaviest.y),
        heaviest.data,
        builtin("default"),
    );
    add(
        "dense",
        "Protomaps Florence z14 · Protomaps v2 light",
        t(14, 8704, 5971),
        parity_tile("protomaps-florence-14-8704-5971.mvt.gz"),
        parity_style("protomaps-v2-light"),
    );
    add(
        "dense",
        "Shortbread Berlin z14 · VersaTiles colorful",
        t(14, 8803, 5397),
        parity_tile("shortbread-berlin-14-8803-5397.mvt"),
        parity_style("versatiles-colorful"),
    );
    add(
        "heavy low zoom",
        "OpenFreeMap world z0 · OSM Bright",
        t(0, 0, 0),
        parity_tile("omt-openfreemap-0-0-0.mvt"),
        parity_style("osm-bright"),
    );
    add(
        "heavy low zoom",
        "Protomaps Florence z6 · Protomaps v2 dark",
        t(6, 34, 23),
        parity_tile("protomaps-florence-6-34-23.mvt.gz"),
        parity_style("protomaps-v2-dark"),
    );
    out
}

/// What the fonts of `dir` cost a render, natively and in the component, as `--fonts DIR`
/// gives them: the renderer asked which the tile needs (`fonts-needed`), then given those.
/// Rows: the OpenFreeMap world z0 with a style whose stack names every font of `dir` after
/// Noto Sans (its CJK, Hangul and Devanagari names need them), and the densest Florence z14
/// with the built-in default style and the same fonts appended to its stacks (Italian names:
/// asked, none needed).
fn fonts_table(dir: &Path, native: &dyn Renderer, wasm: &dyn Renderer, budget: Duration) {
    let mut fonts: Vec<engine::FontFileBytes> = Vec::new();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("fonts dir")
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    for p in paths {
        let data = Bytes::from(std::fs::read(&p).unwrap());
        if let Some(name) = rasterzen_render::font_names(&data).into_iter().next() {
            fonts.push(engine::FontFileBytes { name, data });
        }
    }
    assert!(!fonts.is_empty(), "no font in {}", dir.display());
    let names: Vec<serde_json::Value> = fonts
        .iter()
        .map(|f| serde_json::Value::String(f.name.clone()))
        .collect();
    let with_fallback = |json: &str| -> String {
        let mut v: serde_json::Value = serde_json::from_str(json).unwrap();
        for layer in v["layers"].as_array_mut().unwrap() {
            if let Some(stack) = layer["layout"]["text-font"].as_array_mut() {
                if stack.iter().all(|s| s.is_string()) {
                    stack.extend(names.iter().cloned());
                }
            }
        }
        v.to_string()
    };
    let archive = std::fs::read(root().join("host/assets/firenze.pmtiles")).unwrap();
    let heaviest = pmtiles::read_all(&archive)
        .into_iter()
        .filter(|e| e.z == 14)
        .max_by_key(|e| e.data.len())
        .unwrap();
    let world_style = r#"{"version": 8, "sources": {"s": {"type": "vector"}}, "layers": [{"id": "names", "type": "symbol", "source": "s", "source-layer": "place", "layout": {"text-field": ["get", "name"], "text-font": ["Noto Sans Regular"], "text-size": 14, "text-allow-overlap": true}}]}"#;
    let rows = [
        (
            "OpenFreeMap world z0 · names",
            TileId::new(0, 0, 0).unwrap(),
            parity_tile("omt-openfreemap-0-0-0.mvt"),
            with_fallback(world_style),
        ),
        (
            "Florence z14 (densest) · default",
            TileId::new(heaviest.z, heaviest.x, heaviest.y).unwrap(),
            heaviest.data,
            with_fallback(Style::builtin_json("default").unwrap()),
        ),
    ];
    let total: usize = fonts.iter().map(|f| f.data.len()).sum();
    println!(
        "### What host fonts cost: {} (median ms, 512 px PNG @1x)\n",
        fonts
            .iter()
            .map(|f| format!("{} ({} kB)", f.name, f.data.len() / 1000))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("Fonts in all: {} kB. *asked, given* is how a render with `--fonts` runs: `fonts-needed`, then the render with the fonts it named.\n", total / 1000);
    println!("| tile · style | fonts the tile needs | native, no fonts | native, asked and given | wasm, no fonts | wasm, asked and given |");
    println!("|---|---|---|---|---|---|");
    for (name, tile, data, style_json) in rows {
        let request = |fonts: Vec<engine::FontFileBytes>| RenderRequest {
            tile,
            data_tile: None,
            format: Format::Png,
            size: 512,
            scale: 1,
            style: StyleSpec::Json(style_json.clone()),
            png: PngProfile::Default,
            assets: Arc::new(Assets {
                sprites: Vec::new(),
                fonts,
            }),
            neighbours: Vec::new(),
        };
        let (plain, given) = (request(Vec::new()), request(fonts.clone()));
        let offered: Vec<&str> = fonts.iter().map(|f| f.name.as_str()).collect();
        let needed = rasterzen_render::fonts_needed(
            &data,
            tile,
            &rasterzen_render::RenderOptions {
                format: Format::Png,
                size: 512,
                scale: 1,
                style: rasterzen_render::StyleSource::Json(&style_json),
                data_tile: None,
                png: PngProfile::Default,
            },
            &[],
            &offered,
        )
        .unwrap();
        let t = interleaved(
            budget,
            &mut [
                &mut || {
                    black_box(native.render(&data, &plain).unwrap());
                },
                &mut || {
                    black_box(native.render(&data, &given).unwrap());
                },
                &mut || {
                    black_box(wasm.render(&data, &plain).unwrap());
                },
                &mut || {
                    black_box(wasm.render(&data, &given).unwrap());
                },
            ],
        );
        println!(
            "| {name} | {} | {} | {} | {} | {} |",
            if needed.is_empty() {
                "none".to_string()
            } else {
                needed.join(", ")
            },
            ms(t[0]),
            ms(t[1]),
            ms(t[2]),
            ms(t[3])
        );
    }
    println!();
}

/// Median wall time of `f`, repeated for about `budget` (at least 5 runs).
fn median(budget: Duration, mut f: impl FnMut()) -> Duration {
    f(); // warm caches and the allocator
    let start = Instant::now();
    let mut times = Vec::new();
    while times.len() < 5 || (start.elapsed() < budget && times.len() < 1000) {
        let t = Instant::now();
        f();
        times.push(t.elapsed());
    }
    times.sort();
    times[times.len() / 2]
}

/// Medians of several configurations measured in rounds (each round runs every one once),
/// so that a machine slowing down or speeding up mid-run moves them all alike and their
/// ratios hold: `budget` per configuration.
fn interleaved(budget: Duration, fs: &mut [&mut dyn FnMut()]) -> Vec<Duration> {
    for f in fs.iter_mut() {
        f(); // warm caches and the allocator
    }
    let total = budget * fs.len() as u32;
    let start = Instant::now();
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); fs.len()];
    while times[0].len() < 5 || (start.elapsed() < total && times[0].len() < 1000) {
        for (f, t) in fs.iter_mut().zip(times.iter_mut()) {
            let at = Instant::now();
            f();
            t.push(at.elapsed());
        }
    }
    times
        .into_iter()
        .map(|mut t| {
            t.sort();
            t[t.len() / 2]
        })
        .collect()
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    // `--labels`: only the section on what labels cost (the rest takes minutes).
    let labels_only = std::env::args().any(|a| a == "--labels");
    let budget = Duration::from_millis(if quick { 300 } else { 1500 });
    let args: Vec<String> = std::env::args().collect();
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1).cloned());
    let component = root().join("target/rasterzen-renderer.wasm");
    let (wasm, _) = WasmRenderer::load_file(&component, None, Limits::default())
        .expect("build the component first: ./build.sh component");
    let native = engine::native::NativeRenderer;
    if let Some(dir) = args
        .iter()
        .position(|a| a == "--fonts")
        .and_then(|i| args.get(i + 1))
    {
        fonts_table(Path::new(dir), &native, &wasm, budget);
        return;
    }

    if !labels_only {
        println!("### Per stage and whole, 512 px PNG @1x (median ms)\n");
        println!("| class | tile · style | MVT kB | decode | style parse | scene | labels: layout + placement | raster (labels' glyphs included) | PNG | **native** | **wasm** | wasm / native | PNG kB |");
        println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    }
    let mut sizes = Vec::new();
    let selected = cases()
        .into_iter()
        .filter(|c| only.as_ref().is_none_or(|o| c.name.contains(o.as_str())));
    for case in selected.filter(|_| !labels_only) {
        let style = Style::from_json(&case.style_json).unwrap();
        let decoded = mvt::decode_bytes(&case.data, &mvt::DecodeLimits::render()).unwrap();
        let mut sprites = Sprites::new();
        if let Some(s) = case.sprites.iter().find(|s| s.pixel_ratio == 1) {
            sprites.add(&s.id, SpriteSheet::cached(&s.id, &s.json, &s.png).unwrap());
        }
        let view = scene::View::new(case.tile, case.tile, 512, 1);
        let mut built = scene::build(&decoded, &style, &view, &sprites);
        labels::merge(
            &mut built,
            &style,
            labels::build(&decoded, &style, &view, &sprites),
        );
        let canvas = raster::draw(&built);
        let (w, h) = (canvas.width as u32, canvas.height as u32);

        let decode = median(budget, || {
            black_box(mvt::decode_bytes(&case.data, &mvt::DecodeLimits::render()).unwrap());
        });
        let parse = median(budget, || {
            black_box(Style::from_json(&case.style_json).unwrap());
        });
        let scene_t = median(budget, || {
            black_box(scene::build(&decoded, &style, &view, &sprites).layers.len());
        });
        let labels_t = median(budget, || {
            black_box(labels::build(&decoded, &style, &view, &sprites));
        });
        let raster_t = median(budget, || {
            black_box(raster::draw(&built));
        });
        let png_t = median(budget, || {
            black_box(
                raster::png::encode_png_with(w, h, &canvas.data, PngProfile::Default).unwrap(),
            );
        });
        let request = RenderRequest {
            tile: case.tile,
            data_tile: None,
            format: Format::Png,
            size: 512,
            scale: 1,
            style: StyleSpec::Json(case.style_json.clone()),
            png: PngProfile::Default,
            assets: Arc::new(Assets {
                sprites: case.sprites.clone(),
                fonts: Vec::new(),
            }),
            neighbours: Vec::new(),
        };
        let n = median(budget, || {
            black_box(native.render(&case.data, &request).unwrap());
        });
        let wm = median(budget, || {
            black_box(wasm.render(&case.data, &request).unwrap());
        });
        let png_default = native.render(&case.data, &request).unwrap().bytes;
        let wasm_bytes = wasm.render(&case.data, &request).unwrap().bytes;
        assert_eq!(
            png_default, wasm_bytes,
            "{}: wasm and native differ",
            case.name
        );
        println!(
            "| {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | **{}** | **{}** | {:.2}× | {:.0} |",
            case.class,
            case.name,
            case.data.len() as f64 / 1024.0,
            ms(decode),
            ms(parse),
            ms(scene_t),
            ms(labels_t),
            ms(raster_t),
            ms(png_t),
            ms(n),
            ms(wm),
            wm.as_secs_f64() / n.as_secs_f64(),
            png_default.len() as f64 / 1024.0
        );
        let mut row = Vec::new();
        for profile in [
            PngProfile::Fast,
            PngProfile::Default,
            PngProfile::Small,
            PngProfile::Png8,
        ] {
            let t = median(budget / 2, || {
                black_box(raster::png::encode_png_with(w, h, &canvas.data, profile).unwrap());
            });
            let bytes = raster::png::encode_png_with(w, h, &canvas.data, profile).unwrap();
            row.push((profile, t, bytes.len()));
        }
        sizes.push((case.name.clone(), row));
    }

    if !sizes.is_empty() {
        println!("\n### PNG profiles: encode time (ms) and bytes (kB), 512 px\n");
        println!("| tile · style | fast | default | small | png8 |");
        println!("|---|---|---|---|---|");
    }
    for (name, row) in &sizes {
        let cells: Vec<String> = row
            .iter()
            .map(|(_, t, b)| format!("{} ms, {:.0} kB", ms(*t), *b as f64 / 1024.0))
            .collect();
        println!("| {name} | {} |", cells.join(" | "));
    }

    // Labels across seams: a tile drawn with its 8 neighbours (as `serve` draws it) lays out
    // the labels of all 9 tiles; overzoomed, its neighbours mostly share its own data.
    println!("\n### What labels cost: no labels, labels alone, labels with the 8 neighbours (median ms, 512 px PNG @1x, default style)\n");
    println!("| tile | native, no labels | native, labels | native, labels + neighbours, nothing kept | native, labels + neighbours met before | wasm, no labels | wasm, labels | wasm, labels + neighbours met before | labels add (native) | labels + neighbours add, nothing kept | labels + neighbours add, met before |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    // The built-in default style without its symbol layers: the same tile with no label stage.
    let unlabelled = {
        let mut v: serde_json::Value =
            serde_json::from_str(Style::builtin_json("default").unwrap()).unwrap();
        v["layers"]
            .as_array_mut()
            .unwrap()
            .retain(|l| l["type"] != "symbol");
        StyleSpec::Json(v.to_string())
    };
    let archive = std::fs::read(root().join("host/assets/firenze.pmtiles")).unwrap();
    let tiles: std::collections::HashMap<(u8, u32, u32), Vec<u8>> = pmtiles::read_all(&archive)
        .into_iter()
        .map(|e| ((e.z, e.x, e.y), e.data))
        .collect();
    let densest = tiles
        .iter()
        .filter(|(k, _)| k.0 == 14)
        .max_by_key(|(_, d)| d.len())
        .map(|(k, _)| *k)
        .unwrap();
    let child = (16, densest.1 * 4 + 1, densest.2 * 4 + 1);
    for (what, t) in [
        ("Florence z14 (densest)", densest),
        ("Florence z16, overzoomed from z14", child),
    ] {
        let id = TileId::new(t.0, t.1, t.2).unwrap();
        let data_of = |n: TileId| n.ancestor(14);
        let own = data_of(id);
        let data = &tiles[&(own.z, own.x, own.y)];
        let mut around = Vec::new();
        for dy in -1i64..=1 {
            for dx in -1i64..=1 {
                if (dx, dy) == (0, 0) {
                    continue;
                }
                let n = TileId::new(
                    t.0,
                    (i64::from(t.1) + dx) as u32,
                    (i64::from(t.2) + dy) as u32,
                )
                .unwrap();
                let d = data_of(n);
                around.push(engine::NeighbourTile {
                    tile: n,
                    data: Bytes::from(tiles.get(&(d.z, d.x, d.y)).cloned().unwrap_or_default()),
                });
            }
        }
        let mut request = RenderRequest {
            tile: id,
            data_tile: (own != id).then_some(own),
            format: Format::Png,
            size: 512,
            scale: 1,
            style: StyleSpec::Builtin("default".into()),
            png: PngProfile::Default,
            assets: Default::default(),
            neighbours: Vec::new(),
        };
        let plain = RenderRequest {
            style: unlabelled.clone(),
            ..request.clone()
        };
        let with_neighbours = RenderRequest {
            neighbours: around,
            ..request.clone()
        };
        // Each engine's three in rounds of their own (a wasm run between native ones would
        // leave the native ones cold caches).
        let rounds = |r: &dyn Renderer| {
            let run = |req: &RenderRequest| {
                black_box(r.render(data, req).unwrap());
            };
            interleaved(
                budget,
                &mut [&mut || run(&plain), &mut || run(&request), &mut || {
                    run(&with_neighbours)
                }],
            )
        };
        let (n, w) = (rounds(&native), rounds(&wasm));
        let (n0, na, nn, w0, wa, wn) = (n[0], n[1], n[2], w[0], w[1], w[2]);
        // The same render with nothing kept from the one before (the native renderer runs on
        // this thread, so its kept neighbour layouts and decodes can be forgotten; the
        // component's live in its instance): a tile whose neighbours no earlier render met.
        let cold = median(budget, || {
            rasterzen_render::labels::kept::forget_layouts();
            rasterzen_render::mvt::reuse::clear();
            black_box(native.render(data, &with_neighbours).unwrap());
        });
        request = with_neighbours;
        assert_eq!(
            native.render(data, &request).unwrap().bytes,
            wasm.render(data, &request).unwrap().bytes,
            "{what}: wasm and native differ with neighbours"
        );
        let pct = |a: Duration| (a.as_secs_f64() / n0.as_secs_f64() - 1.0) * 100.0;
        println!(
            "| {what} | {} | {} | {} | {} | {} | {} | {} | +{:.0} % | +{:.0} % | +{:.0} % |",
            ms(n0),
            ms(na),
            ms(cold),
            ms(nn),
            ms(w0),
            ms(wa),
            ms(wn),
            pct(na),
            pct(cold),
            pct(nn)
        );
    }

    // Per-call overhead: an empty tile (no layers) still crosses the component boundary, takes
    // an instance from the pool, sets its limits, looks up the style and encodes a PNG.
    println!("\n### Per-call overhead (median ms)\n");
    println!("| what | native | wasm |");
    println!("|---|---|---|");
    for (what, style) in [
        (
            "empty tile, built-in style",
            StyleSpec::Builtin("default".into()),
        ),
        (
            "empty tile, OSM Bright as JSON",
            StyleSpec::Json(parity_style("osm-bright").0),
        ),
    ] {
        let request = RenderRequest {
            tile: TileId::new(14, 8704, 5971).unwrap(),
            data_tile: None,
            format: Format::Png,
            size: 512,
            scale: 1,
            style,
            png: PngProfile::Default,
            assets: Default::default(),
            neighbours: Vec::new(),
        };
        let n = median(budget, || {
            black_box(native.render(&[], &request).unwrap());
        });
        let w = median(budget, || {
            black_box(wasm.render(&[], &request).unwrap());
        });
        println!("| {what} | {} | {} |", ms(n), ms(w));
    }
}
