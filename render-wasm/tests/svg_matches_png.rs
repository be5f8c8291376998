//! The two outputs are drawn from one scene by two backends: the SVG text (for browsers and
//! editors) and tiny-skia directly (for PNG). This test renders the SVG with resvg and checks
//! it shows what the PNG shows, so the backends cannot drift apart.

use std::path::Path;

use rasterzen_render::{render, Format, RenderOptions, StyleSource, TileId};

fn rgba_of_png(bytes: &[u8]) -> Vec<u8> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::ALPHA);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    match info.color_type {
        png::ColorType::Rgba => buf,
        png::ColorType::Rgb => buf
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        other => panic!("colour type {other:?}"),
    }
}

fn check(file: &str, tile: TileId, style: &str, size: u32, scale: u32) {
    let data = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(file)).unwrap();
    let mut options = RenderOptions {
        size,
        scale,
        style: StyleSource::Builtin(style),
        ..RenderOptions::default()
    };
    let png_bytes = render(&data, tile, &options).unwrap();
    options.format = Format::Svg;
    let svg = String::from_utf8(render(&data, tile, &options).unwrap()).unwrap();
    let tree = usvg::Tree::from_str(&svg, &usvg::Options::default()).expect("our SVG parses");
    let px = size * scale;
    let mut pixmap = tiny_skia::Pixmap::new(px, px).unwrap();
    resvg::render(
        &tree,
        tiny_skia::Transform::identity(),
        &mut pixmap.as_mut(),
    );
    let from_svg: Vec<u8> = pixmap
        .pixels()
        .iter()
        .flat_map(|p| {
            let c = p.demultiply();
            [c.red(), c.green(), c.blue(), c.alpha()]
        })
        .collect();
    let from_png = rgba_of_png(&png_bytes);
    assert_eq!(from_svg.len(), from_png.len());
    let differing = from_svg
        .chunks_exact(4)
        .zip(from_png.chunks_exact(4))
        .filter(|(a, b)| a.iter().zip(b.iter()).any(|(x, y)| x.abs_diff(*y) > 24))
        .count();
    let fraction = differing as f64 / f64::from(px * px);
    assert!(
        fraction < 0.01,
        "{file} {style}: {:.2} % of pixels differ between SVG (via resvg) and PNG",
        fraction * 100.0
    );
}

#[test]
fn svg_and_png_show_the_same_map() {
    check(
        "tests/fixtures/tiles/nextzen-10-301-384.mvt",
        TileId {
            z: 10,
            x: 301,
            y: 384,
        },
        "default",
        512,
        1,
    );
    check(
        "tests/fixtures/tiles/nextzen-10-301-384.mvt",
        TileId {
            z: 10,
            x: 301,
            y: 384,
        },
        "light",
        256,
        2,
    );
    check(
        "tests/reference/florence-z14-centre-default/tile.mvt",
        TileId {
            z: 14,
            x: 8704,
            y: 5971,
        },
        "default",
        512,
        1,
    );
    check(
        "tests/reference/monaco-z14-omt/tile.mvt",
        TileId {
            z: 14,
            x: 8529,
            y: 5974,
        },
        "omt",
        512,
        1,
    );
}
