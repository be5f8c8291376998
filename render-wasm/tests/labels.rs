//! The label stage (symbol layers) on hand-made tiles: placement priority and flags, line
//! labels, text fields, warnings, and that labels reach the pixels.

use rasterzen_render::labels::{self, PlacedLabel};
use rasterzen_render::mvt::{Feature, GeomType, Geometry, Layer, Point, Tile, Value};
use rasterzen_render::scene::View;
use rasterzen_render::sprite::Sprites;
use rasterzen_render::style::Style;
use rasterzen_render::{render, RenderOptions, StyleSource, TileId};

const T: TileId = TileId {
    z: 14,
    x: 8704,
    y: 5971,
};

fn feature(
    props: &[(&str, Value)],
    geometry: Geometry,
    keys: &mut Vec<String>,
    values: &mut Vec<Value>,
) -> Feature {
    let mut tags = Vec::new();
    for (k, v) in props {
        let ki = keys.iter().position(|x| x == k).unwrap_or_else(|| {
            keys.push(k.to_string());
            keys.len() - 1
        });
        values.push(v.clone());
        tags.push((ki as u32, (values.len() - 1) as u32));
    }
    let geom_type = match &geometry {
        Geometry::Points(_) => GeomType::Point,
        Geometry::Lines(_) => GeomType::LineString,
        Geometry::Polygons(_) => GeomType::Polygon,
        Geometry::Unknown => GeomType::Unknown,
    };
    Feature {
        id: None,
        geom_type,
        tags,
        geometry,
    }
}

/// A one-layer tile ("l", extent 4096) of `(properties, geometry)` features.
fn tile(features: Vec<(Vec<(&str, Value)>, Geometry)>) -> Tile {
    let (mut keys, mut values) = (Vec::new(), Vec::new());
    let features = features
        .into_iter()
        .map(|(p, g)| feature(&p, g, &mut keys, &mut values))
        .collect();
    Tile {
        layers: vec![Layer {
            name: "l".into(),
            version: 2,
            extent: 4096,
            keys,
            values,
            features,
        }],
        ..Tile::default()
    }
}

fn s(v: &str) -> Value {
    Value::String(v.into())
}

fn pt(x: i64, y: i64) -> Geometry {
    Geometry::Points(vec![Point { x, y }])
}

fn style(layers: &str) -> Style {
    Style::from_json(&format!(
        r#"{{"version": 8, "sources": {{"s": {{"type": "vector"}}}}, "layers": [{layers}]}}"#
    ))
    .unwrap()
}

fn placed(t: &Tile, st: &Style) -> Vec<PlacedLabel> {
    labels::build(t, st, &View::new(T, T, 512, 1), &Sprites::new()).placed
}

fn texts(p: &[PlacedLabel]) -> Vec<String> {
    p.iter()
        .map(|l| format!("{}:{}", l.layer, l.text))
        .collect()
}

fn symbol(id: &str, extra_layout: &str) -> String {
    format!(
        r#"{{"id": "{id}", "type": "symbol", "source": "s", "source-layer": "l",
            "layout": {{"text-field": "{{name}}"{extra_layout}}}}}"#
    )
}

#[test]
fn the_top_layer_wins_a_collision_unless_flags_say_otherwise() {
    let t = tile(vec![(vec![("name", s("Duomo"))], pt(2048, 2048))]);
    // Same anchor in both layers: the upper ("b") is placed first and blocks "a".
    let st = style(&format!("{},{}", symbol("a", ""), symbol("b", "")));
    assert_eq!(texts(&placed(&t, &st)), ["b:Duomo"]);
    // a may overlap: both.
    let st = style(&format!(
        "{},{}",
        symbol("a", r#", "text-allow-overlap": true"#),
        symbol("b", "")
    ));
    assert_eq!(texts(&placed(&t, &st)), ["a:Duomo", "b:Duomo"]);
    // b is placed but does not block: both.
    let st = style(&format!(
        "{},{}",
        symbol("a", ""),
        symbol("b", r#", "text-ignore-placement": true"#)
    ));
    assert_eq!(texts(&placed(&t, &st)), ["a:Duomo", "b:Duomo"]);
    // The newer text-overlap wins over text-allow-overlap.
    let st = style(&format!(
        "{},{}",
        symbol(
            "a",
            r#", "text-allow-overlap": false, "text-overlap": "always""#
        ),
        symbol("b", "")
    ));
    assert_eq!(texts(&placed(&t, &st)), ["a:Duomo", "b:Duomo"]);
}

#[test]
fn a_lower_sort_key_is_placed_first_and_tile_order_breaks_ties() {
    let t = tile(vec![
        (
            vec![("name", s("Second")), ("rank", Value::Number(2.0))],
            pt(2048, 2048),
        ),
        (
            vec![("name", s("First")), ("rank", Value::Number(1.0))],
            pt(2060, 2050),
        ),
    ]);
    let st = style(&symbol("a", r#", "symbol-sort-key": ["get", "rank"]"#));
    assert_eq!(texts(&placed(&t, &st)), ["a:First"]);
    let st = style(&symbol("a", ""));
    assert_eq!(texts(&placed(&t, &st)), ["a:Second"]);
    // Far apart, both are placed; padding can make them collide.
    let t = tile(vec![
        (vec![("name", s("West"))], pt(1000, 2048)),
        (vec![("name", s("East"))], pt(1400, 2048)),
    ]);
    assert_eq!(placed(&t, &style(&symbol("a", ""))).len(), 2);
    assert_eq!(
        placed(&t, &style(&symbol("a", r#", "text-padding": 40"#))).len(),
        1
    );
}

#[test]
fn anchors_outside_the_tile_are_not_placed_and_avoid_edges_keeps_labels_inside() {
    let t = tile(vec![
        (vec![("name", s("Outside"))], pt(-10, 2048)),
        (vec![("name", s("Edge"))], pt(4090, 2048)),
    ]);
    assert_eq!(texts(&placed(&t, &style(&symbol("a", "")))), ["a:Edge"]);
    assert!(placed(&t, &style(&symbol("a", r#", "symbol-avoid-edges": true"#))).is_empty());
}

#[test]
fn text_fields_take_tokens_expressions_format_and_transform() {
    let t = tile(vec![(
        vec![("name", s("Arno")), ("ref", Value::Number(7.0))],
        pt(2048, 2048),
    )]);
    let one = |layout: &str| {
        let st = style(&format!(
            r#"{{"id": "a", "type": "symbol", "source": "s", "source-layer": "l", "layout": {{{layout}}}}}"#
        ));
        placed(&t, &st)
            .into_iter()
            .map(|l| l.text)
            .collect::<Vec<_>>()
    };
    assert_eq!(one(r#""text-field": "{name} ({ref})""#), ["Arno (7)"]);
    assert_eq!(
        one(r#""text-field": ["concat", ["get", "name"], "!"], "text-transform": "uppercase""#),
        ["ARNO!"]
    );
    assert_eq!(
        one(r#""text-field": ["format", ["get", "name"], {}, " river", {}]"#),
        ["Arno river"]
    );
    assert_eq!(
        one(r#""text-field": {"stops": [[0, "{ref}"], [14, "{name}"]]}"#),
        ["Arno"]
    );
    // Missing property: nothing to draw.
    assert!(one(r#""text-field": "{missing}""#).is_empty());
}

#[test]
fn line_labels_follow_the_line_and_read_upright() {
    // A horizontal street drawn right to left: the label must still read left to right.
    let line = Geometry::Lines(vec![vec![
        Point { x: 3800, y: 2048 },
        Point { x: 300, y: 2048 },
    ]]);
    let t = tile(vec![(vec![("name", s("Via dei Calzaiuoli"))], line)]);
    let st = style(&symbol("a", r#", "symbol-placement": "line""#));
    let p = placed(&t, &st);
    assert!(!p.is_empty());
    for l in &p {
        let xs: Vec<f64> = l.glyphs.iter().map(|g| g.origin.0).collect();
        assert!(
            xs.windows(2).all(|w| w[0] < w[1]),
            "glyphs go left to right: {xs:?}"
        );
        assert!(l
            .glyphs
            .iter()
            .all(|g| (g.u.0 - 1.0).abs() < 1e-9 && g.u.1.abs() < 1e-9));
    }
    // Without keep-upright the glyphs follow the line's own direction (upside down).
    let st = style(&symbol(
        "a",
        r#", "symbol-placement": "line", "text-keep-upright": false"#,
    ));
    let p = placed(&t, &st);
    assert!(p[0].glyphs.iter().all(|g| (g.u.0 + 1.0).abs() < 1e-9));
    // A 450 px street with spacing 250 gets 2 labels; line-center gets one, at the middle.
    assert_eq!(
        placed(&t, &style(&symbol("a", r#", "symbol-placement": "line""#))).len(),
        2
    );
    let c = placed(
        &t,
        &style(&symbol("a", r#", "symbol-placement": "line-center""#)),
    );
    assert_eq!(c.len(), 1);
    assert!((c[0].anchor.0 - (3800.0 + 300.0) / 2.0 / 8.0).abs() < 1e-9);
}

#[test]
fn a_vertical_street_label_turns_with_it() {
    let line = Geometry::Lines(vec![vec![
        Point { x: 2048, y: 300 },
        Point { x: 2048, y: 3800 },
    ]]);
    let t = tile(vec![(vec![("name", s("Via Roma"))], line)]);
    let p = placed(&t, &style(&symbol("a", r#", "symbol-placement": "line""#)));
    assert!(!p.is_empty());
    // Downwards along the line; boxes stack along y, all at x ≈ 256 px.
    assert!(p[0].glyphs.iter().all(|g| g.u == (0.0, 1.0)));
    let b = &p[0].boxes;
    assert!(b.len() > 3 && b.windows(2).all(|w| w[0].y0 < w[1].y0));
}

#[test]
fn variable_anchors_take_the_first_anchor_whose_text_fits() {
    let duomo = (vec![("name", s("Duomo"))], pt(2048, 2048));
    let t = tile(vec![duomo.clone()]);
    let first_y = |p: &[PlacedLabel]| p[0].glyphs[0].origin.1;
    let first_x = |p: &[PlacedLabel]| p[0].glyphs[0].origin.0;
    let var = r#", "text-variable-anchor": ["top", "bottom"], "text-radial-offset": 1"#;
    // Alone, the first anchor is taken. "top" hangs the text below the anchor as
    // `text-anchor: top` with the same radial offset does, and further by text-padding:
    // MapLibre moves a variable anchor's block by half its padded collision box.
    let v = placed(&t, &style(&symbol("a", var)));
    let fixed = placed(
        &t,
        &style(&symbol(
            "a",
            r#", "text-anchor": "top", "text-radial-offset": 1"#,
        )),
    );
    assert_eq!(v.len(), 1);
    assert!(
        (first_y(&v) - first_y(&fixed) - 2.0).abs() < 1e-9,
        "{v:?} {fixed:?}"
    );
    assert!((first_x(&v) - first_x(&fixed)).abs() < 1e-9);
    assert!(first_y(&v) > 256.0, "below the anchor (256 px)");
    assert!(st_warnings(var).is_empty(), "{:?}", st_warnings(var));

    // A label of the layer above sits just below the anchor: "top" collides, so the text
    // goes above it ("bottom").
    let only = |id: &str, name: &str, layout: &str| {
        format!(
            r#"{{"id": "{id}", "type": "symbol", "source": "s", "source-layer": "l",
                "filter": ["==", "name", "{name}"],
                "layout": {{"text-field": "{{name}}"{layout}}}}}"#
        )
    };
    let layers = |a: &str| {
        format!(
            "{},{}",
            only("a", "Duomo", &format!("{var}{a}")),
            only("b", "Blocker", "")
        )
    };
    let below = (vec![("name", s("Blocker"))], pt(2048, 2048 + 22 * 8));
    let above = (vec![("name", s("Blocker"))], pt(2048, 2048 - 22 * 8));
    let t = tile(vec![duomo.clone(), below.clone()]);
    let p = placed(&t, &style(&layers("")));
    let a: Vec<_> = p.iter().filter(|l| l.layer == "a").cloned().collect();
    assert_eq!(texts(&p), ["a:Duomo", "b:Blocker"]);
    assert!(first_y(&a) < 256.0, "above the anchor: {a:?}");
    // Blocked both ways: not placed, unless it may overlap; then at its first anchor.
    let t = tile(vec![duomo, below, above]);
    let p = placed(&t, &style(&layers("")));
    assert_eq!(texts(&p), ["b:Blocker", "b:Blocker"]);
    let p = placed(&t, &style(&layers(r#", "text-allow-overlap": true"#)));
    let a: Vec<_> = p.iter().filter(|l| l.layer == "a").cloned().collect();
    assert_eq!(a.len(), 1, "{p:?}");
    assert!(first_y(&a) > 256.0, "at the first anchor: {a:?}");

    // `text-variable-anchor-offset` (signed ems per anchor) equals the anchor list with
    // `text-offset` (absolute ems pointed away from the anchor's side; x unused for "bottom").
    let t = tile(vec![(vec![("name", s("Duomo"))], pt(2048, 2048))]);
    let pairs = placed(
        &t,
        &style(&symbol(
            "a",
            r#", "text-variable-anchor-offset": ["bottom", [0, -1]]"#,
        )),
    );
    let list = placed(
        &t,
        &style(&symbol(
            "a",
            r#", "text-variable-anchor": ["bottom"], "text-offset": [0.5, 1]"#,
        )),
    );
    assert_eq!(pairs[0].glyphs, list[0].glyphs);
    assert!(first_y(&pairs) < 256.0);

    // The shift is along the map's axes, whatever text-rotate turns the text by: "left" with
    // the text turned upright still puts it right of the anchor (256, 256).
    let turned = placed(
        &t,
        &style(&symbol(
            "a",
            r#", "text-variable-anchor": ["left"], "text-rotate": 90"#,
        )),
    );
    let b = &turned[0].boxes[0];
    let (x0, x1) = (f64::from(b.x0) / 64.0, f64::from(b.x1) / 64.0);
    // The padded box starts at the anchor (shifted by half its width), as MapLibre's does.
    assert!(x0 >= 256.0 && x1 - x0 < 40.0, "{x0}..{x1}: {turned:?}");
    assert!(
        turned[0].glyphs.iter().all(|g| g.origin.0 > 256.0),
        "{turned:?}"
    );
}

#[test]
fn a_data_driven_text_font_picks_the_face_per_feature() {
    let t = tile(vec![
        (
            vec![("name", s("Firenze")), ("kind", s("capital"))],
            pt(1024, 2048),
        ),
        (
            vec![("name", s("Firenze")), ("kind", s("town"))],
            pt(3072, 2048),
        ),
    ]);
    let width = |p: &PlacedLabel| p.boxes[0].x1 - p.boxes[0].x0;
    let by_case = r#", "text-font": ["case", ["==", ["get", "kind"], "capital"],
        ["literal", ["Noto Sans Bold"]], ["literal", ["Noto Sans Regular"]]]"#;
    let st = style(&symbol("a", by_case));
    assert!(st.warnings().is_empty(), "{:?}", st.warnings());
    let p = placed(&t, &st);
    assert_eq!(p.len(), 2);
    let bold = placed(
        &t,
        &style(&symbol("a", r#", "text-font": ["Noto Sans Bold"]"#)),
    );
    let regular = placed(&t, &style(&symbol("a", "")));
    // The capital is laid out in bold (wider), the town in the regular face.
    assert_eq!(p[0].boxes, bold[0].boxes);
    assert_eq!(p[1].boxes, regular[1].boxes);
    assert!(width(&p[0]) > width(&p[1]));
    // Zoom stops (a legacy function) work the same way.
    let stops =
        r#", "text-font": {"stops": [[10, ["Noto Sans Regular"]], [13, ["Noto Sans Bold"]]]}"#;
    let st = style(&symbol("a", stops));
    assert!(st.warnings().is_empty(), "{:?}", st.warnings());
    assert_eq!(
        placed(&t, &st)[0].boxes,
        bold[0].boxes,
        "z14: the bold stop"
    );
}

#[test]
fn is_supported_script_says_whether_the_renderer_can_draw_a_text() {
    let t = tile(vec![
        (
            vec![("name", s("Firenze")), ("name_en", s("Florence"))],
            pt(600, 2048),
        ),
        (
            vec![("name", s("佛罗伦萨")), ("name_en", s("Florence"))],
            pt(2048, 2048),
        ),
        (
            vec![("name", s("فلورنسا")), ("name_en", s("Florence"))],
            pt(3500, 2048),
        ),
    ]);
    let st = style(
        r#"{"id": "a", "type": "symbol", "source": "s", "source-layer": "l",
            "layout": {"text-field": ["case", ["is-supported-script", ["get", "name"]],
                ["get", "name"], ["get", "name_en"]]}}"#,
    );
    assert!(st.warnings().is_empty(), "{:?}", st.warnings());
    let p = placed(&t, &st);
    // Latin is drawn; CJK (no glyphs in the embedded faces) and Arabic (right to left, no
    // bidi) fall back to the English name, as the style asks.
    assert_eq!(texts(&p), ["a:Firenze", "a:Florence", "a:Florence"]);
}

fn st_warnings(extra_layout: &str) -> Vec<String> {
    style(&symbol("a", extra_layout)).warnings().to_vec()
}

#[test]
fn unsupported_symbol_properties_are_warnings() {
    let st = style(
        r#"{"id": "a", "type": "symbol", "source": "s", "source-layer": "l",
            "layout": {"text-field": ["format", ["get", "name"], {"font-scale": 1.2}]}}"#,
    );
    assert!(
        st.warnings().join("\n").contains("section options"),
        "{:?}",
        st.warnings()
    );
    // A section's text-font is drawn in the label's face: silent when they agree (as
    // Protomaps' per-script stacks do for scripts drawn in Noto Sans), said when not.
    let fmt = |section_font: &str| {
        style(&format!(
            r#"{{"id": "a", "type": "symbol", "source": "s", "source-layer": "l",
                "layout": {{"text-font": ["Noto Sans Regular"],
                    "text-field": ["format", ["get", "name"], {{}}, "\n", {{}}, ["get", "name:en"],
                        {{"text-font": {section_font}}}]}}}}"#
        ))
        .warnings()
        .to_vec()
    };
    let same = fmt(r#"["case", ["==", ["get", "script"], "Devanagari"],
        ["literal", ["Noto Sans Devanagari Regular v1"]], ["literal", ["Noto Sans Regular"]]]"#);
    assert!(same.is_empty(), "{same:?}");
    let other = fmt(r#"["literal", ["Noto Sans Bold"]]"#);
    assert!(
        other.iter().any(|w| w.contains("picks another face")),
        "{other:?}"
    );
}

#[test]
fn labels_reach_png_and_svg_and_renders_repeat_exactly() {
    let st = r##"{"version": 8, "sources": {}, "layers": [
        {"id": "bg", "type": "background", "paint": {"background-color": "#ffffff"}},
        {"id": "water-label", "type": "symbol", "source": "s", "source-layer": "water",
         "layout": {"text-field": "{name}", "text-size": 20},
         "paint": {"text-color": "#102030", "text-halo-color": "#ffcc00", "text-halo-width": 2}}]}"##;
    let data = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/reference/florence-z14-centre-default/tile.mvt"
    ))
    .unwrap();
    let opts = RenderOptions {
        style: StyleSource::Json(st),
        ..RenderOptions::default()
    };
    let a = render(&data, T, &opts).unwrap();
    assert_eq!(
        a,
        render(&data, T, &opts).unwrap(),
        "same input, same bytes"
    );
    let svg = String::from_utf8(
        render(
            &data,
            T,
            &RenderOptions {
                format: rasterzen_render::Format::Svg,
                ..opts
            },
        )
        .unwrap(),
    )
    .unwrap();
    // The Florence tile has one named water polygon ("Vascone"): halo then text.
    assert!(
        svg.contains(r##"fill="#ffcc00" stroke="#ffcc00" stroke-width="4""##),
        "halo in the SVG"
    );
    assert!(
        svg.contains(r##"<path fill="#102030" d="M"##),
        "text in the SVG"
    );
    // Pixels: both colours are in the PNG, nearly exactly.
    let mut dec = png::Decoder::new(std::io::Cursor::new(&a));
    dec.set_transformations(png::Transformations::EXPAND | png::Transformations::ALPHA);
    let mut r = dec.read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    r.next_frame(&mut buf).unwrap();
    let near = |c: [u8; 3]| {
        buf.chunks_exact(4)
            .filter(|p| p[..3].iter().zip(c).all(|(a, b)| a.abs_diff(b) <= 6))
            .count()
    };
    assert!(near([0x10, 0x20, 0x30]) > 30, "text pixels");
    assert!(near([0xff, 0xcc, 0x00]) > 30, "halo pixels");
}

/// Determinism: no std transcendental on the label path (they differ by an ulp between
/// native and wasm on a few percent of inputs); libm's are the same everywhere.
#[test]
fn the_label_path_uses_libm_for_transcendentals() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/labels");
    let banned = [
        ".sin(",
        ".cos(",
        ".tan(",
        ".atan2(",
        ".atan(",
        ".powf(",
        ".powi(",
        ".exp(",
        ".ln(",
        ".log2(",
        ".log10(",
        ".hypot(",
        ".to_radians(",
        ".to_degrees(",
        ".sin_cos(",
    ];
    let mut found = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "rs") {
            let text = std::fs::read_to_string(&p).unwrap();
            // Tests may use std (they run natively only).
            let code = text.split("#[cfg(test)]").next().unwrap();
            for b in banned {
                if code.contains(b) {
                    found.push(format!("{}: {b}", p.display()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "std transcendentals on the label path: {found:?}"
    );
}

fn osm_bright_sprites() -> Sprites {
    let base = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/parity/styles/osm-bright/sprite"
    );
    let json = std::fs::read(format!("{base}.json")).unwrap();
    let png = std::fs::read(format!("{base}.png")).unwrap();
    let mut s = Sprites::new();
    s.add(
        "default",
        std::sync::Arc::new(
            rasterzen_render::sprite::SpriteSheet::decode("default", &json, &png).unwrap(),
        ),
    );
    s
}

fn placed_with(t: &Tile, st: &Style, sprites: &Sprites) -> labels::Labels<'static> {
    // Leak the inputs: the result borrows them, and tests are short-lived.
    let st: &'static Style = Box::leak(Box::new(st.clone()));
    let sprites: &'static Sprites = Box::leak(Box::new(sprites.clone()));
    labels::build(t, st, &View::new(T, T, 512, 1), sprites)
}

#[test]
fn icons_pair_with_text_as_maplibre_says() {
    let sprites = osm_bright_sprites();
    // A bar (17×17 icon) with its name below; a second, higher-priority label covers the
    // name but not the icon.
    let t = tile(vec![(
        vec![("name", s("Bar Uno")), ("class", s("bar"))],
        pt(2048, 2048),
    )]);
    let poi = |extra: &str| {
        format!(
            r#"{{"id": "poi", "type": "symbol", "source": "s", "source-layer": "l",
                "layout": {{"icon-image": "{{class}}_11", "text-field": "{{name}}", "text-anchor": "top",
                           "text-offset": [0, 0.8]{extra}}}}}"#
        )
    };
    let l = placed_with(&t, &style(&poi("")), &sprites);
    assert_eq!(l.placed.len(), 1);
    assert_eq!(l.placed[0].icon.as_deref(), Some("bar_11"));
    // Icon box: 17 px square around the anchor (256, 256) plus 2 px padding.
    let ib = *l.placed[0].boxes.last().unwrap();
    assert_eq!(
        (ib.x0, ib.x1),
        (
            ((256.0 - 8.5 - 2.0) * 64.0) as i32,
            ((256.0 + 8.5 + 2.0) * 64.0) as i32
        )
    );
    // A blocker over the text only (below the icon): without text-optional both go.
    let blocker = tile(vec![
        (
            vec![("name", s("Bar Uno")), ("class", s("bar"))],
            pt(2048, 2048),
        ),
        (vec![("name", s("Blocker"))], pt(2048, 2048 + 8 * 24)),
    ]);
    let both = |extra: &str| {
        style(&format!(
            "{},{}",
            poi(extra),
            r#"{"id": "top", "type": "symbol", "source": "s", "source-layer": "l",
                "filter": ["==", ["get", "name"], "Blocker"], "layout": {"text-field": "{name}"}}"#
        ))
    };
    let l = placed_with(&blocker, &both(""), &sprites);
    assert_eq!(texts(&l.placed), ["top:Blocker"]);
    // With text-optional the icon stays, alone.
    let l = placed_with(&blocker, &both(r#", "text-optional": true"#), &sprites);
    // (Listed in draw order: the poi layer first.)
    assert_eq!(texts(&l.placed), ["poi:Bar Uno", "top:Blocker"]);
    let bar = &l.placed[0];
    assert!(bar.glyphs.is_empty() && bar.icon.is_some());
}

#[test]
fn icon_text_fit_wraps_the_text_and_missing_icons_are_warned() {
    let sprites = osm_bright_sprites();
    let t = tile(vec![(vec![("ref", s("A1"))], pt(2048, 2048))]);
    let st = style(
        r#"{"id": "shield", "type": "symbol", "source": "s", "source-layer": "l",
            "layout": {"icon-image": "road_2", "text-field": "{ref}", "text-size": 10,
                       "icon-text-fit": "both", "icon-text-fit-padding": [2, 4, 2, 4], "icon-padding": [1]}}"#,
    );
    let l = placed_with(&t, &st, &sprites);
    assert_eq!(l.placed.len(), 1);
    let (text, icon) = (l.placed[0].boxes[0], l.placed[0].boxes[1]);
    // Text box padded 2, icon box = text box (unpadded) + fit padding + icon padding 1:
    // 4 px wider on each side than the text's own, 2 px taller.
    let px = |v: i32| f64::from(v) / 64.0;
    assert!(
        (px(text.x0) + 2.0 - 4.0 - 1.0 - px(icon.x0)).abs() < 0.05,
        "{text:?} {icon:?}"
    );
    assert!((px(icon.x1) - (px(text.x1) - 2.0 + 4.0 + 1.0)).abs() < 0.05);
    assert!((px(text.y0) + 2.0 - 2.0 - 1.0 - px(icon.y0)).abs() < 0.05);
    // A missing image: warned once, the text still drawn.
    let st = style(
        r#"{"id": "shield", "type": "symbol", "source": "s", "source-layer": "l",
            "layout": {"icon-image": "nope", "text-field": "{ref}"}}"#,
    );
    let l = placed_with(&t, &st, &sprites);
    assert_eq!(
        l.warnings,
        [r#"layer "shield": icon "nope" is not in the sprite; not drawn"#]
    );
    assert_eq!(l.placed.len(), 1);
    assert!(l.placed[0].icon.is_none());
}
