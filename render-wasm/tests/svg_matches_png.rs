//! The two outputs are drawn from one scene by two backends: the SVG text (for browsers and
//! editors) and the PNG, drawn the way MapLibre's WebGL pipeline draws (its aliased fills, 1 px
//! outlines and line shader). This test renders the SVG with resvg and checks it shows what the
//! PNG shows, so the backends cannot drift apart: the same features in the same colours. Edges
//! are anti-aliased differently by design (resvg's exact coverage against MapLibre's shader
//! ramps): at most 1 % of pixels may differ by more than 24/255, and hardly any away from an
//! edge, where a missing feature or a wrong colour would show.

use std::path::Path;

use rasterzen_render::{
    render_with, Assets, Format, RenderOptions, SpriteData, StyleSource, TileId,
};

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
    let options = RenderOptions {
        size,
        scale,
        style: StyleSource::Builtin(style),
        ..RenderOptions::default()
    };
    let _ = check_with(file, tile, options, &Assets::default());
}

/// Renders `file` as `tile` to PNG and to SVG with `options` (its format aside) and compares
/// them; returns the SVG.
fn check_with(
    file: &str,
    tile: TileId,
    mut options: RenderOptions<'_>,
    assets: &Assets<'_>,
) -> String {
    let style = match options.style {
        StyleSource::Builtin(name) => name,
        StyleSource::Json(_) => "a style file",
    };
    let (size, scale) = (options.size, options.scale);
    let data = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(file)).unwrap();
    let png_bytes = render_with(&data, tile, &options, assets).unwrap().bytes;
    options.format = Format::Svg;
    let svg = String::from_utf8(render_with(&data, tile, &options, assets).unwrap().bytes).unwrap();
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
    let n = px as usize;
    let at = |img: &[u8], x: usize, y: usize| {
        let i = (y * n + x) * 4;
        [img[i], img[i + 1], img[i + 2], img[i + 3]]
    };
    // An edge pixel of the PNG: its 3×3 neighbourhood spreads by more than 24 in a channel.
    let mut edge = vec![false; n * n];
    for y in 0..n {
        for x in 0..n {
            let c = at(&from_png, x, y);
            let mut spread = 0u8;
            for (dx, dy) in [
                (-1i64, -1i64),
                (0, -1),
                (1, -1),
                (-1, 0),
                (1, 0),
                (-1, 1),
                (0, 1),
                (1, 1),
            ] {
                let (xx, yy) = (x as i64 + dx, y as i64 + dy);
                if xx < 0 || yy < 0 || xx >= n as i64 || yy >= n as i64 {
                    continue;
                }
                let d = at(&from_png, xx as usize, yy as usize);
                for k in 0..4 {
                    spread = spread.max(c[k].abs_diff(d[k]));
                }
            }
            edge[y * n + x] = spread > 24;
        }
    }
    let near_edge = |x: usize, y: usize| {
        let r = 2i64;
        (-r..=r).any(|dy| {
            (-r..=r).any(|dx| {
                let (xx, yy) = (x as i64 + dx, y as i64 + dy);
                xx >= 0
                    && yy >= 0
                    && xx < n as i64
                    && yy < n as i64
                    && edge[yy as usize * n + xx as usize]
            })
        })
    };
    let (mut differing, mut interior) = (0usize, 0usize);
    for y in 0..n {
        for x in 0..n {
            let (a, b) = (at(&from_svg, x, y), at(&from_png, x, y));
            if a.iter().zip(b.iter()).any(|(p, q)| p.abs_diff(*q) > 24) {
                differing += 1;
                if !near_edge(x, y) {
                    interior += 1;
                }
            }
        }
    }
    let total = (n * n) as f64;
    assert!(
        (interior as f64) < total * 0.001,
        "{file} {style}: {interior} pixels away from any edge differ between SVG (via resvg) and PNG: a feature or a colour differs"
    );
    assert!(
        (differing as f64) < total * 0.01,
        "{file} {style}: {:.2} % of pixels differ between SVG (via resvg) and PNG",
        differing as f64 / total * 100.0
    );
    eprintln!(
        "{file} {style} {size}@{scale}x: {:.2} % differ (edges), {interior} interior",
        differing as f64 / total * 100.0
    );
    svg
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

/// Labels: glyphs, icons from the sprite and halos softened by `text-halo-blur` (a smoothstep
/// ramp in the PNG, an `feGaussianBlur` in the SVG) show the same in both.
#[test]
fn svg_and_png_show_the_same_labels() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let style =
        std::fs::read_to_string(root.join("tests/parity/labels/styles/osm-bright.json")).unwrap();
    assert!(
        style.contains("text-halo-blur"),
        "the case needs blurred halos"
    );
    let sprite = root.join("tests/parity/styles/osm-bright/sprite");
    for scale in [1, 2] {
        let suffix = if scale == 2 { "@2x" } else { "" };
        let json = std::fs::read(sprite.with_file_name(format!("sprite{suffix}.json"))).unwrap();
        let png = std::fs::read(sprite.with_file_name(format!("sprite{suffix}.png"))).unwrap();
        let sprites = [SpriteData {
            id: "default",
            pixel_ratio: scale,
            json: &json,
            png: &png,
        }];
        // Overzoomed to z16, where osm-bright's POI and street labels (blurred halos) show.
        let options = RenderOptions {
            size: 512,
            scale,
            style: StyleSource::Json(&style),
            data_tile: Some(TileId {
                z: 14,
                x: 8529,
                y: 5974,
            }),
            ..RenderOptions::default()
        };
        let svg = check_with(
            "tests/reference/monaco-z14-omt/tile.mvt",
            TileId {
                z: 16,
                x: 34118,
                y: 23896,
            },
            options,
            &Assets {
                sprites: &sprites,
                fonts: &[],
            },
        );
        for drawn in ["<image ", "feGaussianBlur", r#"filter="url(#halo-blur-"#] {
            assert!(svg.contains(drawn), "the labelled SVG has no {drawn}");
        }
    }
}
