//! The style engine: colours, filters, functions/expressions, errors, warnings, hashing and
//! the built-in styles against real tiles.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use rasterzen_render::mvt::{self, Feature, FeatureRef, GeomType, Geometry, Layer, Point, Value};
use rasterzen_render::style::{
    Color, LayerKind, LineCap, LineJoin, Paint, Style, StyleError, StyleLayer,
};

// ---------------------------------------------------------------- helpers

/// A one-feature layer with the given properties.
fn one(props: &[(&str, Value)], geom_type: GeomType, id: Option<u64>) -> Layer {
    let geometry = match geom_type {
        GeomType::Point => Geometry::Points(vec![Point { x: 1, y: 1 }]),
        GeomType::LineString => {
            Geometry::Lines(vec![vec![Point { x: 0, y: 0 }, Point { x: 5, y: 5 }]])
        }
        GeomType::Polygon => Geometry::Polygons(vec![mvt::Polygon {
            exterior: vec![
                Point { x: 0, y: 0 },
                Point { x: 5, y: 0 },
                Point { x: 5, y: 5 },
            ],
            holes: vec![],
        }]),
        GeomType::Unknown => Geometry::Unknown,
    };
    Layer {
        name: "test".into(),
        version: 2,
        extent: 4096,
        keys: props.iter().map(|(k, _)| k.to_string()).collect(),
        values: props.iter().map(|(_, v)| v.clone()).collect(),
        features: vec![Feature {
            id,
            geom_type,
            tags: (0..props.len() as u32).map(|i| (i, i)).collect(),
            geometry,
        }],
    }
}

fn fref(layer: &Layer) -> FeatureRef<'_> {
    FeatureRef::new(layer, &layer.features[0])
}

fn s(v: &str) -> Value {
    Value::String(v.into())
}

fn n(v: f64) -> Value {
    Value::Number(v)
}

/// A style with a single layer of the given JSON (type, filter, paint...).
fn style_with(layer_json: &str) -> Style {
    let text = format!(r#"{{"version": 8, "sources": {{}}, "layers": [{layer_json}]}}"#);
    match Style::from_json(&text) {
        Ok(s) => s,
        Err(e) => panic!("{e}\n{layer_json}"),
    }
}

fn error_of(text: &str) -> String {
    match Style::from_json(text) {
        Ok(_) => panic!("expected an error for {text}"),
        Err(e) => e.to_string(),
    }
}

/// A fill layer with `filter` (JSON text).
fn filter_layer(filter: &str) -> Style {
    style_with(&format!(
        r#"{{"id": "f", "type": "fill", "source": "s", "source-layer": "test", "filter": {filter}}}"#
    ))
}

fn filter_matches(filter: &str, layer: &Layer, zoom: f64) -> bool {
    let st = filter_layer(filter);
    st.layers()[0].matches(&fref(layer), zoom)
}

fn line_paint(
    layer: &StyleLayer,
    f: Option<&FeatureRef<'_>>,
    zoom: f64,
) -> (Color, f32, f32, Option<Vec<f32>>) {
    match layer.paint(f, zoom) {
        Paint::Line {
            color,
            opacity,
            width,
            dasharray,
            ..
        } => (color, opacity, width, dasharray),
        other => panic!("not a line paint: {other:?}"),
    }
}

fn line_width(paint_json: &str, f: Option<&FeatureRef<'_>>, zoom: f64) -> f32 {
    let st = style_with(&format!(
        r#"{{"id": "l", "type": "line", "source": "s", "source-layer": "test", "paint": {paint_json}}}"#
    ));
    line_paint(&st.layers()[0], f, zoom).2
}

fn fill_color(paint_json: &str, f: Option<&FeatureRef<'_>>, zoom: f64) -> Color {
    let st = style_with(&format!(
        r#"{{"id": "l", "type": "fill", "source": "s", "source-layer": "test", "paint": {paint_json}}}"#
    ));
    match st.layers()[0].paint(f, zoom) {
        Paint::Fill { color, .. } => color,
        other => panic!("not a fill paint: {other:?}"),
    }
}

fn close(a: f32, b: f64) -> bool {
    (f64::from(a) - b).abs() < 1e-4 * b.abs().max(1.0)
}

/// MapLibre's exponential interpolation between stops (z0, v0) and (z1, v1).
fn maplibre_exp(z: f64, base: f64, (z0, v0): (f64, f64), (z1, v1): (f64, f64)) -> f64 {
    let t = if base == 1.0 {
        (z - z0) / (z1 - z0)
    } else {
        (base.powf(z - z0) - 1.0) / (base.powf(z1 - z0) - 1.0)
    };
    v0 + (v1 - v0) * t
}

// ---------------------------------------------------------------- colours

#[test]
fn colours_in_every_css_form() {
    let cases: &[(&str, Color)] = &[
        ("#abc", Color::rgb(0xaa, 0xbb, 0xcc)),
        ("#abcd", Color::rgba(0xaa, 0xbb, 0xcc, 0xdd as f32 / 255.0)),
        ("#a1b2c3", Color::rgb(0xa1, 0xb2, 0xc3)),
        ("#A1B2C380", Color::rgba(0xa1, 0xb2, 0xc3, 128.0 / 255.0)),
        ("rgb(10, 20, 30)", Color::rgb(10, 20, 30)),
        ("rgb(10,20,30)", Color::rgb(10, 20, 30)),
        ("rgba(10, 20, 30, 0.25)", Color::rgba(10, 20, 30, 0.25)),
        ("rgb(100%, 50%, 0%)", Color::rgb(255, 128, 0)),
        ("rgb(10 20 30 / 50%)", Color::rgba(10, 20, 30, 0.5)),
        ("hsl(0, 100%, 50%)", Color::rgb(255, 0, 0)),
        ("hsl(120, 100%, 50%)", Color::rgb(0, 255, 0)),
        ("hsl(240, 100%, 50%)", Color::rgb(0, 0, 255)),
        ("hsl(47, 26%, 88%)", Color::rgb(232, 229, 216)),
        ("hsla(210, 67%, 85%, 0.5)", Color::rgba(191, 217, 242, 0.5)),
        ("hsl(0, 0, 50)", Color::rgb(128, 128, 128)),
        ("hsla(0, 0, 100, 1)", Color::rgb(255, 255, 255)),
        ("red", Color::rgb(255, 0, 0)),
        ("RebeccaPurple", Color::rgb(0x66, 0x33, 0x99)),
        ("lightgoldenrodyellow", Color::rgb(0xfa, 0xfa, 0xd2)),
        ("grey", Color::rgb(128, 128, 128)),
        ("  white  ", Color::rgb(255, 255, 255)),
        ("transparent", Color::rgba(0, 0, 0, 0.0)),
    ];
    for (text, want) in cases {
        assert_eq!(Color::parse(text), Some(*want), "{text}");
    }
    for bad in [
        "",
        "#12",
        "#xyz",
        "rgb(1,2)",
        "hsl(1,2)",
        "reddish",
        "rgb(1,2,3",
        "url(#a)",
    ] {
        assert_eq!(Color::parse(bad), None, "{bad:?} should not parse");
    }
}

#[test]
fn colours_in_paint_properties() {
    assert_eq!(
        fill_color(r#"{"fill-color": "hsla(120, 100%, 25%, 0.5)"}"#, None, 10.0),
        Color::rgba(0, 128, 0, 0.5)
    );
    assert_eq!(
        fill_color(r#"{"fill-color": "navy"}"#, None, 10.0),
        Color::rgb(0, 0, 128)
    );
    assert_eq!(
        fill_color(r#"{"fill-color": ["rgb", 1, 2, 3]}"#, None, 10.0),
        Color::rgb(1, 2, 3)
    );
    assert_eq!(
        fill_color(r#"{"fill-color": ["rgba", 1, 2, 3, 0.5]}"#, None, 10.0),
        Color::rgba(1, 2, 3, 0.5)
    );
    assert_eq!(
        fill_color(r##"{"fill-color": ["to-color", "#0f0"]}"##, None, 10.0),
        Color::rgb(0, 255, 0)
    );
    // Colours from data (`to-color`, or a string where a colour is expected).
    let l = one(
        &[("colour", s("#ff8000")), ("bad", s("nope"))],
        GeomType::Polygon,
        None,
    );
    let f = fref(&l);
    assert_eq!(
        fill_color(r#"{"fill-color": ["get", "colour"]}"#, Some(&f), 10.0),
        Color::rgb(255, 128, 0)
    );
    assert_eq!(
        fill_color(
            r#"{"fill-color": ["to-color", ["get", "bad"], "blue"]}"#,
            Some(&f),
            10.0
        ),
        Color::rgb(0, 0, 255)
    );
    // A failing data expression falls back to the spec default (#000000).
    assert_eq!(
        fill_color(r#"{"fill-color": ["get", "bad"]}"#, Some(&f), 10.0),
        Color::BLACK
    );
}

#[test]
fn colour_interpolation_is_rgb_premultiplied() {
    let paint =
        r##"{"fill-color": ["interpolate", ["linear"], ["zoom"], 10, "#000000", 20, "#ffffff"]}"##;
    assert_eq!(fill_color(paint, None, 5.0), Color::BLACK);
    assert_eq!(fill_color(paint, None, 15.0), Color::rgb(128, 128, 128));
    assert_eq!(fill_color(paint, None, 25.0), Color::WHITE);
    let paint = r#"{"fill-color": ["interpolate", ["linear"], ["zoom"], 0, "rgba(255, 0, 0, 0)", 10, "rgba(255, 0, 0, 1)"]}"#;
    let c = fill_color(paint, None, 5.0);
    assert_eq!((c.r, c.g, c.b), (255, 0, 0));
    assert!((c.a - 0.5).abs() < 1e-6);
    // Legacy stops with colours.
    let paint = r##"{"fill-color": {"stops": [[10, "#ff0000"], [12, "#0000ff"]]}}"##;
    assert_eq!(fill_color(paint, None, 11.0), Color::rgb(128, 0, 128));
}

// ---------------------------------------------------------------- filters

#[test]
fn legacy_filters() {
    let park = one(
        &[
            ("class", s("park")),
            ("rank", n(3.0)),
            ("name", s("Boboli")),
            ("flag", Value::Bool(true)),
        ],
        GeomType::Polygon,
        Some(42),
    );
    let road = one(
        &[("class", s("road")), ("rank", n(12.0))],
        GeomType::LineString,
        None,
    );
    let cases: &[(&str, bool, bool)] = &[
        (r#"["==", "class", "park"]"#, true, false),
        (r#"["!=", "class", "park"]"#, false, true),
        (r#"["!=", "missing", "x"]"#, true, true),
        (r#"["==", "missing", "x"]"#, false, false),
        (r#"["<", "rank", 10]"#, true, false),
        (r#"["<=", "rank", 3]"#, true, false),
        (r#"[">", "rank", 3]"#, false, true),
        (r#"[">=", "rank", 12]"#, false, true),
        // Legacy comparisons are strictly typed: "3" is not 3.
        (r#"["==", "rank", "3"]"#, false, false),
        (r#"["<", "class", 5]"#, false, false),
        (r#"["in", "class", "park", "garden"]"#, true, false),
        (r#"["!in", "class", "park", "garden"]"#, false, true),
        (r#"["in", "rank", 1, 2, 3]"#, true, false),
        (r#"["has", "name"]"#, true, false),
        (r#"["!has", "name"]"#, false, true),
        (r#"["==", "flag", true]"#, true, false),
        (r#"["==", "$type", "Polygon"]"#, true, false),
        (r#"["==", "$type", "LineString"]"#, false, true),
        (r#"["in", "$type", "Point", "LineString"]"#, false, true),
        (r#"["==", "$id", 42]"#, true, false),
        (r#"["has", "$id"]"#, true, false),
        (r#"["!has", "$id"]"#, false, true),
        (
            r#"["all", ["==", "class", "park"], ["<", "rank", 5]]"#,
            true,
            false,
        ),
        (
            r#"["any", ["==", "class", "park"], ["==", "class", "road"]]"#,
            true,
            true,
        ),
        (
            r#"["none", ["==", "class", "park"], ["==", "rank", 99]]"#,
            false,
            true,
        ),
        (r#"["all"]"#, true, true),
        (r#"["any"]"#, false, false),
        (
            r#"["all", ["==", "$type", "Polygon"], ["all", ["!in", "class", "road"], ["has", "rank"]]]"#,
            true,
            false,
        ),
    ];
    for (filter, want_park, want_road) in cases {
        assert_eq!(
            filter_matches(filter, &park, 14.0),
            *want_park,
            "{filter} on park"
        );
        assert_eq!(
            filter_matches(filter, &road, 14.0),
            *want_road,
            "{filter} on road"
        );
    }
}

#[test]
fn expression_filters() {
    let park = one(
        &[
            ("class", s("park")),
            ("rank", n(3.0)),
            ("name", s("Boboli")),
            ("ele", s("12.5")),
            ("ok", Value::Bool(true)),
        ],
        GeomType::Polygon,
        Some(42),
    );
    let cases: &[(&str, bool)] = &[
        (r#"["==", ["get", "class"], "park"]"#, true),
        (r#"["==", "park", ["get", "class"]]"#, true),
        (r#"["!=", ["get", "class"], "park"]"#, false),
        (r#"["==", ["get", "missing"], null]"#, true),
        (r#"["!=", ["get", "missing"], "x"]"#, true),
        (r#"["has", "name"]"#, true),
        (r#"["!", ["has", "nope"]]"#, true),
        (r#"["<", ["get", "rank"], 5]"#, true),
        (r#"[">=", ["get", "rank"], 3]"#, true),
        (r#"[">", ["get", "name"], "Abc"]"#, true),
        // Ordering mismatched types is a runtime error: the filter rejects the feature.
        (r#"["<", ["get", "class"], 5]"#, false),
        (r#"["!", ["<", ["get", "class"], 5]]"#, false),
        (r#"["any", ["<", ["get", "class"], 5], true]"#, false),
        (r#"["all", true, ["==", ["get", "class"], "park"]]"#, true),
        (r#"["any", false, ["==", ["get", "class"], "road"]]"#, false),
        (
            r#"["in", ["get", "class"], ["literal", ["park", "garden"]]]"#,
            true,
        ),
        (r#"["in", "ob", ["get", "name"]]"#, true),
        (
            r#"["match", ["get", "class"], ["park", "garden"], true, false]"#,
            true,
        ),
        (
            r#"["match", ["get", "rank"], [1, 2], false, 3, true, false]"#,
            true,
        ),
        (r#"["match", ["get", "rank"], "3", true, false]"#, false),
        (
            r#"["case", ["==", ["get", "class"], "road"], false, ["has", "name"], true, false]"#,
            true,
        ),
        (
            r#"["==", ["coalesce", ["get", "pmap:kind"], ["get", "class"]], "park"]"#,
            true,
        ),
        (r#"["==", ["to-number", ["get", "ele"]], 12.5]"#, true),
        (r#"["==", ["to-string", ["get", "rank"]], "3"]"#, true),
        (r#"["to-boolean", ["get", "name"]]"#, true),
        (r#"["==", ["to-boolean", ["get", "missing"]], false]"#, true),
        (r#"["==", ["geometry-type"], "Polygon"]"#, true),
        (r#"["==", ["id"], 42]"#, true),
        (r#"[">=", ["zoom"], 14]"#, true),
        (r#"[">", ["zoom"], 14]"#, false),
        (r#"["==", ["typeof", ["get", "rank"]], "number"]"#, true),
        (r#"["==", ["typeof", ["get", "missing"]], "null"]"#, true),
        (
            r#"["==", ["concat", ["get", "class"], "-", ["get", "rank"]], "park-3"]"#,
            true,
        ),
        (r#"["==", ["downcase", ["get", "name"]], "boboli"]"#, true),
        (r#"["==", ["upcase", ["get", "name"]], "BOBOLI"]"#, true),
        (r#"["==", ["+", ["get", "rank"], 1, 2], 6]"#, true),
        (r#"["==", ["-", ["get", "rank"], 1], 2]"#, true),
        (r#"["==", ["-", 3], -3]"#, true),
        (r#"["==", ["*", ["get", "rank"], 2], 6]"#, true),
        (r#"["==", ["/", ["get", "rank"], 2], 1.5]"#, true),
        (r#"["==", ["%", 7, 3], 1]"#, true),
        (r#"["==", ["^", 2, 10], 1024]"#, true),
        (r#"["==", ["min", 4, ["get", "rank"], 9], 3]"#, true),
        (r#"["==", ["max", 4, ["get", "rank"], 9], 9]"#, true),
        (r#"["==", ["abs", -2.5], 2.5]"#, true),
        (r#"["==", ["number", ["get", "rank"]], 3]"#, true),
        (
            r#"["==", ["string", ["get", "rank"], "fallback"], "fallback"]"#,
            true,
        ),
        (r#"["boolean", ["get", "ok"]]"#, true),
        (r#"["==", ["number", ["get", "name"]], 3]"#, false),
        (r#"["==", ["literal", "park"], ["get", "class"]]"#, true),
        (
            r#"["==", ["step", ["get", "rank"], "low", 3, "mid", 10, "high"], "mid"]"#,
            true,
        ),
        (
            r#"["let", "r", ["get", "rank"], ["all", [">", ["var", "r"], 2], ["<", ["var", "r"], 4]]]"#,
            true,
        ),
        (
            r#"["==", ["to-string", ["to-color", "red"]], "rgba(255,0,0,1)"]"#,
            true,
        ),
        (
            r#"["==", ["get", "name"], "boboli", ["collator", {"case-sensitive": false}]]"#,
            true,
        ),
        (r#"["==", ["get", "name"], "boboli"]"#, false),
        (r#"["==", ["length", ["get", "name"]], 6]"#, true),
        (r#"["==", ["at", 1, ["literal", ["a", "b"]]], "b"]"#, true),
        (r#"["==", ["index-of", "bo", ["get", "name"]], 2]"#, true),
        (r#"["==", ["slice", ["get", "name"], 1, 3], "ob"]"#, true),
        (r#"true"#, true),
        (r#"false"#, false),
    ];
    for (filter, want) in cases {
        assert_eq!(filter_matches(filter, &park, 14.0), *want, "{filter}");
    }
}

#[test]
fn filter_kind_detected_as_maplibre_does() {
    let park = one(&[("class", s("park"))], GeomType::Polygon, None);
    // Legacy: compares the property "class" with "park".
    assert!(filter_matches(r#"["==", "class", "park"]"#, &park, 10.0));
    assert!(filter_matches(
        r#"["in", "class", "park", "x"]"#,
        &park,
        10.0
    ));
    // Expression: the strings "class" and "park" differ.
    assert!(!filter_matches(
        r#"["==", ["literal", "class"], "park"]"#,
        &park,
        10.0
    ));
    // `in` with an expression needle is an expression.
    assert!(filter_matches(
        r#"["in", ["get", "class"], ["literal", ["park"]]]"#,
        &park,
        10.0
    ));
    // `all` is legacy if any child is legacy; expression children are tolerated there.
    assert!(filter_matches(
        r#"["all", ["==", "class", "park"], ["==", ["get", "class"], "park"]]"#,
        &park,
        10.0
    ));
    assert!(filter_matches(
        r#"["all", ["==", ["get", "class"], "park"], true]"#,
        &park,
        10.0
    ));
}

#[test]
fn layer_visibility_and_zoom_range() {
    let st = style_with(
        r#"{"id": "l", "type": "line", "source": "s", "source-layer": "roads", "minzoom": 5, "maxzoom": 10.5}"#,
    );
    let l = &st.layers()[0];
    assert_eq!(l.id(), "l");
    assert_eq!(l.kind(), LayerKind::Line);
    assert_eq!(l.source_layer(), Some("roads"));
    assert!(!l.visible_at(4.99));
    assert!(l.visible_at(5.0));
    assert!(l.visible_at(10.49));
    assert!(!l.visible_at(10.5));
    let st = style_with(
        r#"{"id": "l", "type": "fill", "source": "s", "source-layer": "x", "layout": {"visibility": "none"}}"#,
    );
    assert!(!st.layers()[0].visible_at(10.0));
    let f = one(&[], GeomType::Polygon, None);
    assert!(
        st.layers()[0].matches(&fref(&f), 10.0),
        "no filter accepts everything"
    );
}

// ---------------------------------------------------------------- functions and expressions

#[test]
fn legacy_zoom_functions() {
    // base 1: linear; base != 1: MapLibre's exponential formula.
    for base in [1.0, 1.2, 1.5, 2.0, 0.8] {
        let paint = format!(
            r#"{{"line-width": {{"base": {base}, "stops": [[5, 1], [10, 4], [18, 30]]}}}}"#
        );
        assert!(
            close(line_width(&paint, None, 3.0), 1.0),
            "below the first stop"
        );
        assert!(close(line_width(&paint, None, 5.0), 1.0));
        for z in [5.5, 7.0, 9.9] {
            let want = maplibre_exp(z, base, (5.0, 1.0), (10.0, 4.0));
            let got = line_width(&paint, None, z);
            assert!(close(got, want), "base {base} z {z}: {got} vs {want}");
        }
        for z in [10.0, 12.3, 17.0] {
            let want = maplibre_exp(z, base, (10.0, 4.0), (18.0, 30.0));
            let got = line_width(&paint, None, z);
            assert!(close(got, want), "base {base} z {z}: {got} vs {want}");
        }
        assert!(
            close(line_width(&paint, None, 22.0), 30.0),
            "above the last stop"
        );
    }
    // Worked example: base 2 between (10, 0) and (14, 15) at z 12 is 15 * 3/15 = 3.
    assert!(close(
        line_width(
            r#"{"line-width": {"base": 2, "stops": [[10, 0], [14, 15]]}}"#,
            None,
            12.0
        ),
        3.0
    ));
    // Interval functions step.
    let paint = r#"{"line-width": {"type": "interval", "stops": [[5, 1], [10, 4]]}}"#;
    assert!(close(line_width(paint, None, 2.0), 1.0));
    assert!(close(line_width(paint, None, 9.99), 1.0));
    assert!(close(line_width(paint, None, 10.0), 4.0));
    // Non-interpolatable properties default to interval.
    let st = style_with(
        r#"{"id": "l", "type": "line", "source": "s", "source-layer": "x",
        "layout": {"line-cap": {"stops": [[10, "butt"], [14, "round"]]}},
        "paint": {"line-dasharray": {"stops": [[10, [2, 1]], [14, [4, 2]]]}}}"#,
    );
    let l = &st.layers()[0];
    for (z, cap, dash) in [
        (9.0, LineCap::Butt, vec![2.0, 1.0]),
        (13.9, LineCap::Butt, vec![2.0, 1.0]),
        (14.0, LineCap::Round, vec![4.0, 2.0]),
    ] {
        match l.paint(None, z) {
            Paint::Line {
                cap: c, dasharray, ..
            } => {
                assert_eq!(c, cap, "z {z}");
                assert_eq!(dasharray, Some(dash), "z {z}");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn interpolate_and_step_expressions() {
    let paint = r#"{"line-width": ["interpolate", ["exponential", 1.5], ["zoom"], 10, 2, 16, 20]}"#;
    for z in [10.0, 11.0, 13.5, 15.9] {
        let want = maplibre_exp(z, 1.5, (10.0, 2.0), (16.0, 20.0));
        assert!(close(line_width(paint, None, z), want), "z {z}");
    }
    assert!(close(line_width(paint, None, 8.0), 2.0));
    assert!(close(line_width(paint, None, 17.0), 20.0));
    let paint = r#"{"line-width": ["interpolate", ["linear"], ["zoom"], 10, 2, 20, 12]}"#;
    assert!(close(line_width(paint, None, 15.0), 7.0));
    // cubic-bezier with linear control points is linear; `ease-in` is below the diagonal.
    let paint = r#"{"line-width": ["interpolate", ["cubic-bezier", 0.25, 0.25, 0.75, 0.75], ["zoom"], 10, 0, 20, 10]}"#;
    assert!((line_width(paint, None, 13.0) - 3.0).abs() < 1e-3);
    let paint = r#"{"line-width": ["interpolate", ["cubic-bezier", 0.42, 0, 1, 1], ["zoom"], 10, 0, 20, 10]}"#;
    assert!(line_width(paint, None, 13.0) < 3.0);
    // step: the output of the last stop <= input.
    let paint = r#"{"line-width": ["step", ["zoom"], 1, 10, 2, 14, 3]}"#;
    assert!(close(line_width(paint, None, 9.99), 1.0));
    assert!(close(line_width(paint, None, 10.0), 2.0));
    assert!(close(line_width(paint, None, 13.0), 2.0));
    assert!(close(line_width(paint, None, 14.0), 3.0));
    // Data inside a zoom curve, with let/var.
    let l = one(&[("kind", s("major"))], GeomType::LineString, None);
    let f = fref(&l);
    let paint = r#"{"line-width": ["let", "k", ["get", "kind"],
        ["interpolate", ["linear"], ["zoom"], 10, ["match", ["var", "k"], "major", 2, 1], 20, ["match", ["var", "k"], "major", 12, 1]]]}"#;
    assert!(close(line_width(paint, Some(&f), 15.0), 7.0));
    assert!(
        close(line_width(paint, None, 15.0), 1.0),
        "no feature: the match fallback"
    );
}

#[test]
fn legacy_property_functions() {
    let a = one(
        &[
            ("kind", s("a")),
            ("rank", n(5.0)),
            ("w", n(3.0)),
            ("col", s("#00ff00")),
        ],
        GeomType::LineString,
        None,
    );
    let b = one(
        &[("kind", s("zzz")), ("rank", s("five"))],
        GeomType::LineString,
        None,
    );
    let (fa, fb) = (fref(&a), fref(&b));
    // categorical with a default
    let paint = r#"{"line-width": {"property": "kind", "type": "categorical", "stops": [["a", 7], ["b", 8]], "default": 2}}"#;
    assert!(close(line_width(paint, Some(&fa), 10.0), 7.0));
    assert!(close(line_width(paint, Some(&fb), 10.0), 2.0));
    // exponential on a numeric property; non-numbers use the default (else the spec default)
    let paint = r#"{"line-width": {"property": "rank", "base": 2, "stops": [[0, 0], [10, 100]]}}"#;
    assert!(close(
        line_width(paint, Some(&fa), 10.0),
        maplibre_exp(5.0, 2.0, (0.0, 0.0), (10.0, 100.0))
    ));
    assert!(close(line_width(paint, Some(&fb), 10.0), 1.0));
    // interval on a property
    let paint =
        r#"{"line-width": {"property": "rank", "type": "interval", "stops": [[0, 1], [5, 6]]}}"#;
    assert!(close(line_width(paint, Some(&fa), 10.0), 6.0));
    // identity
    let paint = r#"{"line-width": {"property": "w", "type": "identity"}}"#;
    assert!(close(line_width(paint, Some(&fa), 10.0), 3.0));
    assert!(close(line_width(paint, Some(&fb), 10.0), 1.0));
    let c = fill_color(
        r#"{"fill-color": {"property": "col", "type": "identity"}}"#,
        Some(&fa),
        10.0,
    );
    assert_eq!(c, Color::rgb(0, 255, 0));
    // zoom-and-property: interpolate over zoom between per-zoom property functions
    let paint = r#"{"line-width": {"property": "rank", "stops": [
        [{"zoom": 10, "value": 0}, 0], [{"zoom": 10, "value": 10}, 10],
        [{"zoom": 20, "value": 0}, 0], [{"zoom": 20, "value": 10}, 30]]}}"#;
    assert!(close(line_width(paint, Some(&fa), 10.0), 5.0));
    assert!(close(line_width(paint, Some(&fa), 20.0), 15.0));
    assert!(close(line_width(paint, Some(&fa), 15.0), 10.0));
}

#[test]
fn paint_defaults_and_values() {
    let text = r##"{"version": 8, "sources": {}, "layers": [
        {"id": "bg", "type": "background"},
        {"id": "fill", "type": "fill", "source": "s", "source-layer": "x"},
        {"id": "line", "type": "line", "source": "s", "source-layer": "x"},
        {"id": "circle", "type": "circle", "source": "s", "source-layer": "x"},
        {"id": "fill2", "type": "fill", "source": "s", "source-layer": "x",
         "paint": {"fill-color": "#123456", "fill-opacity": 0.5, "fill-outline-color": "red"}},
        {"id": "fill3", "type": "fill", "source": "s", "source-layer": "x",
         "paint": {"fill-outline-color": "red", "fill-antialias": false}},
        {"id": "line2", "type": "line", "source": "s", "source-layer": "x",
         "layout": {"line-cap": "round", "line-join": "bevel", "line-miter-limit": 4},
         "paint": {"line-color": "blue", "line-width": 3, "line-gap-width": 2, "line-offset": -1.5, "line-blur": 1,
                   "line-dasharray": [2, 1], "line-opacity": 0.25}},
        {"id": "circle2", "type": "circle", "source": "s", "source-layer": "x",
         "paint": {"circle-radius": 8, "circle-color": "white", "circle-opacity": 0.5, "circle-stroke-width": 2,
                   "circle-stroke-color": "black", "circle-stroke-opacity": 0.75, "circle-blur": 0.5}}
    ]}"##;
    let st = Style::from_json(text).unwrap();
    assert!(st.warnings().is_empty(), "{:?}", st.warnings());
    let p: Vec<Paint> = st.layers().iter().map(|l| l.paint(None, 10.0)).collect();
    assert_eq!(
        p[0],
        Paint::Background {
            color: Color::BLACK,
            opacity: 1.0,
            pattern: None
        }
    );
    assert_eq!(
        p[1],
        Paint::Fill {
            color: Color::BLACK,
            opacity: 1.0,
            outline_color: None,
            antialias: true,
            pattern: None,
            translate: [0.0, 0.0]
        }
    );
    assert_eq!(
        p[2],
        Paint::Line {
            color: Color::BLACK,
            opacity: 1.0,
            width: 1.0,
            gap_width: 0.0,
            offset: 0.0,
            dasharray: None,
            cap: LineCap::Butt,
            join: LineJoin::Miter,
            miter_limit: 2.0,
            round_limit: 1.05,
            blur: 0.0,
            pattern: None,
            translate: [0.0, 0.0]
        }
    );
    assert_eq!(
        p[3],
        Paint::Circle {
            color: Color::BLACK,
            opacity: 1.0,
            radius: 5.0,
            stroke_width: 0.0,
            stroke_color: Color::BLACK,
            stroke_opacity: 1.0,
            blur: 0.0,
            translate: [0.0, 0.0]
        }
    );
    assert_eq!(
        p[4],
        Paint::Fill {
            color: Color::rgb(0x12, 0x34, 0x56),
            opacity: 0.5,
            outline_color: Some(Color::rgb(255, 0, 0)),
            antialias: true,
            pattern: None,
            translate: [0.0, 0.0]
        }
    );
    assert_eq!(
        p[5],
        Paint::Fill {
            color: Color::BLACK,
            opacity: 1.0,
            outline_color: None,
            antialias: false,
            pattern: None,
            translate: [0.0, 0.0]
        }
    );
    assert_eq!(
        p[6],
        Paint::Line {
            color: Color::rgb(0, 0, 255),
            opacity: 0.25,
            width: 3.0,
            gap_width: 2.0,
            offset: -1.5,
            dasharray: Some(vec![2.0, 1.0]),
            cap: LineCap::Round,
            join: LineJoin::Bevel,
            miter_limit: 4.0,
            round_limit: 1.05,
            blur: 1.0,
            pattern: None,
            translate: [0.0, 0.0]
        }
    );
    assert_eq!(
        p[7],
        Paint::Circle {
            color: Color::WHITE,
            opacity: 0.5,
            radius: 8.0,
            stroke_width: 2.0,
            stroke_color: Color::BLACK,
            stroke_opacity: 0.75,
            blur: 0.5,
            translate: [0.0, 0.0]
        }
    );
    let kinds: Vec<LayerKind> = st.layers().iter().map(|l| l.kind()).collect();
    assert_eq!(
        kinds[..4],
        [
            LayerKind::Background,
            LayerKind::Fill,
            LayerKind::Line,
            LayerKind::Circle
        ]
    );
}

#[test]
fn data_driven_paint_and_sort_keys() {
    let st = style_with(
        r##"{"id": "roads", "type": "line", "source": "s", "source-layer": "roads",
        "layout": {"line-sort-key": ["get", "sort_rank"]},
        "paint": {
            "line-color": ["match", ["get", "kind"], "highway", "#f6c27e", "major_road", "#fde3a7", "#ffffff"],
            "line-width": ["interpolate", ["exponential", 1.5], ["zoom"], 10, ["match", ["get", "kind"], "highway", 2, 1], 14, ["match", ["get", "kind"], "highway", 8, 3]],
            "line-opacity": ["case", ["==", ["get", "tunnel"], true], 0.5, 1]
        }}"##,
    );
    let l = &st.layers()[0];
    let hw = one(
        &[
            ("kind", s("highway")),
            ("sort_rank", n(354.0)),
            ("tunnel", Value::Bool(true)),
        ],
        GeomType::LineString,
        None,
    );
    let minor = one(&[("kind", s("minor_road"))], GeomType::LineString, None);
    let (c, o, w, _) = line_paint(l, Some(&fref(&hw)), 14.0);
    assert_eq!((c, o, w), (Color::rgb(0xf6, 0xc2, 0x7e), 0.5, 8.0));
    let (c, o, w, _) = line_paint(l, Some(&fref(&minor)), 10.0);
    assert_eq!((c, o, w), (Color::WHITE, 1.0, 1.0));
    assert_eq!(l.sort_key(&fref(&hw), 14.0), Some(354.0));
    assert_eq!(l.sort_key(&fref(&minor), 14.0), None, "null sort key");
    let st = style_with(
        r#"{"id": "f", "type": "fill", "source": "s", "source-layer": "x", "layout": {"fill-sort-key": 3}}"#,
    );
    assert_eq!(st.layers()[0].sort_key(&fref(&minor), 1.0), Some(3.0));
    let st = style_with(r#"{"id": "f", "type": "fill", "source": "s", "source-layer": "x"}"#);
    assert_eq!(st.layers()[0].sort_key(&fref(&minor), 1.0), None);
    // Opacity is clamped; negative widths become 0.
    let (_, o, w, _) = line_paint(
        &style_with(r#"{"id": "l", "type": "line", "source": "s", "source-layer": "x", "paint": {"line-opacity": ["+", 1, 1], "line-width": ["-", 0, 3]}}"#)
            .layers()[0],
        None,
        1.0,
    );
    assert_eq!((o, w), (1.0, 0.0));
}

#[test]
fn fill_extrusion_layers_are_drawn_as_extrusions() {
    let st = style_with(
        r##"{"id": "3d", "type": "fill-extrusion", "source": "s", "source-layer": "building",
        "paint": {"fill-extrusion-color": "#aabbcc", "fill-extrusion-opacity": 0.6, "fill-extrusion-height": ["get", "height"],
                  "fill-extrusion-base": 3, "fill-extrusion-translate": [1, 2]}}"##,
    );
    assert_eq!(st.layers()[0].kind(), LayerKind::FillExtrusion);
    let b = one(&[("height", n(20.0))], GeomType::Polygon, None);
    assert_eq!(
        st.layers()[0].paint(Some(&fref(&b)), 15.0),
        Paint::FillExtrusion {
            color: Color::rgb(0xaa, 0xbb, 0xcc),
            opacity: 0.6,
            height: 20.0,
            base: 3.0,
            vertical_gradient: true,
            pattern: None,
            translate: [1.0, 2.0]
        }
    );
    assert!(st.warnings().is_empty(), "{:?}", st.warnings());
}

// ---------------------------------------------------------------- errors and warnings

fn layers_json(n_before: usize, last: &str) -> String {
    let mut v: Vec<String> = (0..n_before)
        .map(|i| format!(r#"{{"id": "l{i}", "type": "line", "source": "s", "source-layer": "x"}}"#))
        .collect();
    v.push(last.to_string());
    format!(
        r#"{{"version": 8, "sources": {{}}, "layers": [{}]}}"#,
        v.join(",")
    )
}

#[test]
fn errors_carry_the_json_path() {
    let cases: &[(String, &str)] = &[
        (
            layers_json(
                12,
                r#"{"id": "x", "type": "line", "source": "s", "source-layer": "x", "paint": {"line-width": "wide"}}"#,
            ),
            r#"layers[12].paint.line-width: expected number or expression, got "wide""#,
        ),
        (
            layers_json(
                3,
                r#"{"id": "x", "type": "fill", "source": "s", "source-layer": "x", "filter": ["fnord", 1]}"#,
            ),
            r#"layers[3].filter: unknown expression operator "fnord""#,
        ),
        (
            layers_json(
                0,
                r#"{"id": "x", "type": "fill", "source": "s", "source-layer": "x", "filter": ["all", ["==", ["get", "a"], 1], ["fnord"]]}"#,
            ),
            r#"layers[0].filter[2]: unknown expression operator "fnord""#,
        ),
        (
            layers_json(
                1,
                r#"{"id": "x", "type": "line", "source": "s", "source-layer": "x", "paint": {"line-width": ["interpolate", ["linear"], ["zoom"], 5, "wide", 10, 3]}}"#,
            ),
            r#"layers[1].paint.line-width[4]: expected number, got "wide""#,
        ),
        (
            layers_json(
                0,
                r##"{"id": "x", "type": "fill", "source": "s", "source-layer": "x", "paint": {"fill-color": "#ggg"}}"##,
            ),
            r##"layers[0].paint.fill-color: expected color or expression, got "#ggg""##,
        ),
        (
            layers_json(
                0,
                r#"{"id": "x", "type": "fill", "source": "s", "source-layer": "x", "paint": {"fill-color": ["match", ["get", "k"], "a", "bluish", "red"]}}"#,
            ),
            r#"layers[0].paint.fill-color[3]: could not parse color from "bluish""#,
        ),
        (
            layers_json(
                0,
                r#"{"id": "x", "type": "line", "source": "s", "source-layer": "x", "layout": {"line-cap": "flat"}}"#,
            ),
            r#"layers[0].layout.line-cap: expected one of "butt", "round", "square" or an expression, got "flat""#,
        ),
        (
            layers_json(
                0,
                r#"{"id": "x", "type": "line", "source": "s", "source-layer": "x", "paint": {"line-width": {"stops": [[10, 1], [5, 2]]}}}"#,
            ),
            r#"layers[0].paint.line-width.stops[1][0]: stop inputs must be in ascending order (5 after 10)"#,
        ),
        (
            layers_json(
                0,
                r#"{"id": "x", "type": "line", "source": "s", "source-layer": "x", "paint": {"line-width": ["step", ["zoom"], 1, 10]}}"#,
            ),
            r#"layers[0].paint.line-width: "step" expects an input, a first output and input/output pairs, got 3 arguments"#,
        ),
        (
            layers_json(
                0,
                r#"{"id": "x", "type": "fill", "source": "s", "source-layer": "x", "filter": ["==", "class"]}"#,
            ),
            r#"layers[0].filter: "==" expects 2 to 3 arguments, got 1"#,
        ),
        (
            layers_json(
                0,
                r#"{"id": "x", "type": "fill", "source": "s", "source-layer": "x", "filter": ["==", ["get", "a"], ["var", "v"]]}"#,
            ),
            r#"layers[0].filter[2][1]: unknown variable "v"; bind it with "let" first"#,
        ),
        (
            layers_json(
                0,
                r#"{"id": "x", "type": "fill", "source": "s", "source-layer": "x", "minzoom": "5"}"#,
            ),
            r#"layers[0].minzoom: expected a number from 0 to 24, got "5""#,
        ),
        (
            layers_json(
                1,
                r#"{"id": "l0", "type": "fill", "source": "s", "source-layer": "x"}"#,
            ),
            r#"layers[1].id: duplicate layer id "l0""#,
        ),
        (
            layers_json(0, r#"{"type": "fill"}"#),
            r#"layers[0]: missing "id""#,
        ),
        (
            layers_json(0, r#"{"id": "x"}"#),
            r#"layers[0]: missing "type""#,
        ),
        (
            r#"{"layers": []}"#.to_string(),
            r#"style: missing "version" (must be 8)"#,
        ),
        (
            r#"{"version": 7, "layers": []}"#.to_string(),
            r#"version: expected 8, got 7"#,
        ),
        (
            r#"{"version": 8}"#.to_string(),
            r#"style: missing "layers""#,
        ),
        (
            r#"{"version": 8, "layers": {}}"#.to_string(),
            r#"layers: expected an array, got an object"#,
        ),
        (
            r#"[1, 2]"#.to_string(),
            r#"style: expected a JSON object at the top level, got an array"#,
        ),
    ];
    for (text, want) in cases {
        assert_eq!(error_of(text), *want);
    }
    // Not JSON at all: line and column of the problem.
    let text = "{\n  \"version\": 8,\n  \"layers\" [\n}";
    let e = Style::from_json(text).unwrap_err();
    assert!(
        matches!(
            e,
            StyleError::Json {
                line: 3,
                column: 12,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        e.to_string()
            .starts_with("style: not valid JSON at line 3 column 12: expected `:`"),
        "{e}"
    );
    let e = error_of("version: 8");
    assert!(
        e.starts_with("style: not valid JSON at line 1 column 1: "),
        "{e}"
    );
}

#[test]
fn unknown_keys_and_skipped_layers_are_warnings() {
    let text = r##"{
        "version": 8, "name": "w", "sources": {}, "sprite": "x", "glyphs": "y/{fontstack}/{range}", "fancy": 1,
        "layers": [
            {"id": "bg", "type": "background", "paint": {"background-color": "white", "background-colour": "red"}},
            {"id": "f", "type": "fill", "source": "s", "source-layer": "x", "weird": true,
             "paint": {"fill-color": "red", "fill-color-transition": {"duration": 300}, "fill-pattern": "dots",
                       "fill-translate": [1, 2], "fill-sort-key": 1}},
            {"id": "poi-label", "type": "symbol", "source": "s", "source-layer": "poi", "layout": {"text-field": "{name}"}},
            {"id": "hill", "type": "hillshade", "source": "dem"},
            {"id": "sat", "type": "raster", "source": "sat"},
            {"id": "heat", "type": "heatmap", "source": "s", "source-layer": "x"},
            {"id": "sky", "type": "sky"},
            {"id": "l", "type": "line", "source": "s", "source-layer": "x", "layout": {"line-color": "red"},
             "paint": {"line-width": ["within", {"type": "Polygon", "coordinates": []}]}},
            {"id": "c", "type": "circle", "source": "s", "source-layer": "x", "filter": ["within", {}]}
        ]}"##;
    let st = Style::from_json(text).unwrap();
    assert_eq!(st.name(), Some("w"));
    let want = [
        "fancy: unknown top-level key, ignored",
        "layers[0].paint.background-colour: unknown property, ignored",
        "layers[1].weird: unknown layer key, ignored",
        "layers[1].paint.fill-sort-key: \"fill-sort-key\" belongs in \"layout\", ignored",
        r#"layers[3] (id "hill"): hillshade layers are not drawn"#,
        r#"layers[4] (id "sat"): raster layers are not drawn"#,
        r#"layers[5] (id "heat"): heatmap layers are not drawn"#,
        r#"layers[6] (id "sky"): unknown layer type "sky", skipped"#,
        "layers[7].layout.line-color: \"line-color\" belongs in \"paint\", ignored",
        "layers[7].paint.line-width: expression operator \"within\" is not supported by this renderer; using the default",
        "layers[8].filter: expression operator \"within\" is not supported by this renderer; the layer draws nothing",
    ];
    let mut got = st.warnings().to_vec();
    got.sort();
    let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(got, want);
    let ids: Vec<&str> = st.layers().iter().map(|l| l.id()).collect();
    // Symbol layers are drawn (by the label stage) since labels landed.
    assert_eq!(ids, ["bg", "f", "poi-label", "l", "c"]);
    // The unsupported paint falls back to the default, the unsupported filter rejects all.
    let f = one(&[], GeomType::Point, None);
    assert!(close(line_paint(&st.layers()[3], None, 10.0).2, 1.0));
    assert!(!st.layers()[4].matches(&fref(&f), 10.0));
}

#[test]
fn zoom_outside_a_top_level_curve_is_a_warning() {
    let st = style_with(
        r#"{"id": "l", "type": "line", "source": "s", "source-layer": "x",
        "paint": {"line-width": ["*", 2, ["interpolate", ["linear"], ["zoom"], 0, 1, 10, 2]],
                  "line-opacity": ["let", "k", ["get", "k"], ["step", ["zoom"], 0.5, 10, ["match", ["var", "k"], "a", 1, 0.8]]]}}"#,
    );
    assert_eq!(
        st.warnings(),
        [
            r#"layers[0].paint.line-width: "zoom" is only allowed as the input of a top-level "step" or "interpolate" (MapLibre rejects this style; evaluated anyway)"#
        ]
    );
    // Evaluated anyway.
    assert!(close(line_paint(&st.layers()[0], None, 5.0).2, 3.0));
}

// ---------------------------------------------------------------- hashing

#[test]
fn hash_is_stable_and_sensitive() {
    let a = r##"{"version": 8, "name": "x", "sources": {"s": {"type": "vector"}}, "layers": [
        {"id": "bg", "type": "background", "paint": {"background-color": "#fff", "background-opacity": 1}}]}"##;
    let b = r##"{
      "layers": [ { "paint": { "background-opacity": 1.0, "background-color": "#fff" }, "type": "background", "id": "bg" } ],
      "sources": { "s": { "type": "vector" } },
      "name": "x",
      "version": 8
    }"##;
    let c = a.replace("#fff", "#ffe");
    let d = a.replace(r#""name": "x""#, r#""name": "y""#);
    let ha = Style::from_json(a).unwrap().hash_hex().to_string();
    assert_eq!(ha.len(), 16);
    assert!(ha
        .bytes()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    assert_eq!(
        Style::from_json(b).unwrap().hash_hex(),
        ha,
        "whitespace and key order do not matter"
    );
    assert_ne!(Style::from_json(&c).unwrap().hash_hex(), ha);
    assert_ne!(Style::from_json(&d).unwrap().hash_hex(), ha);
    // Built-ins: stable, distinct.
    let hashes: BTreeSet<String> = Style::BUILTIN_NAMES
        .iter()
        .map(|n| Style::builtin(n).unwrap().hash_hex().to_string())
        .collect();
    assert_eq!(hashes.len(), Style::BUILTIN_NAMES.len());
    assert_eq!(
        Style::builtin("default").unwrap().hash_hex(),
        Style::builtin("default").unwrap().hash_hex()
    );
}

// ---------------------------------------------------------------- built-in styles vs real data

fn repo_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(rel)
}

/// Every tile of a PMTiles v3 archive as (zoom, decoded tile). A minimal reader: root
/// directory only (the test archives have no leaf directories), gzip internal compression.
fn pmtiles(rel: &str) -> Vec<(u8, mvt::Tile)> {
    let data = std::fs::read(repo_path(rel)).unwrap();
    assert_eq!(&data[..7], b"PMTiles");
    let u64_at = |o: usize| u64::from_le_bytes(data[o..o + 8].try_into().unwrap()) as usize;
    let (root_off, root_len, leaf_len, tiles_off) = (u64_at(8), u64_at(16), u64_at(48), u64_at(56));
    assert_eq!(
        leaf_len, 0,
        "leaf directories are not supported by this test reader"
    );
    let dir = gunzip(&data[root_off..root_off + root_len]);
    let mut pos = 0;
    let mut varint = || {
        let mut v = 0u64;
        let mut shift = 0;
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
    let count = varint() as usize;
    let mut ids = Vec::with_capacity(count);
    let mut last = 0;
    for _ in 0..count {
        last += varint();
        ids.push(last);
    }
    let runs: Vec<u64> = (0..count).map(|_| varint()).collect();
    let lens: Vec<u64> = (0..count).map(|_| varint()).collect();
    let mut offsets: Vec<u64> = Vec::with_capacity(count);
    for i in 0..count {
        let v = varint();
        let off = if v == 0 && i > 0 {
            offsets[i - 1] + lens[i - 1]
        } else {
            v - 1
        };
        offsets.push(off);
    }
    let zoom_of = |id: u64| {
        let (mut acc, mut z) = (0u64, 0u8);
        loop {
            let n = 1u64 << (2 * z);
            if id < acc + n {
                return z;
            }
            acc += n;
            z += 1;
        }
    };
    let mut out = Vec::new();
    for i in 0..count {
        assert!(runs[i] > 0);
        let start = tiles_off + offsets[i] as usize;
        let bytes = &data[start..start + lens[i] as usize];
        let tile = mvt::decode_bytes(bytes, &mvt::DecodeLimits::default()).unwrap();
        for r in 0..runs[i] {
            out.push((zoom_of(ids[i] + r), tile.clone()));
        }
    }
    out
}

fn gunzip(gz: &[u8]) -> Vec<u8> {
    assert_eq!(&gz[..2], [0x1f, 0x8b]);
    let flags = gz[3];
    let mut p = 10;
    if flags & 4 != 0 {
        p += 2 + usize::from(u16::from_le_bytes([gz[p], gz[p + 1]]));
    }
    for bit in [8, 16] {
        if flags & bit != 0 {
            while gz[p] != 0 {
                p += 1;
            }
            p += 1;
        }
    }
    if flags & 2 != 0 {
        p += 2;
    }
    miniz_oxide::inflate::decompress_to_vec(&gz[p..gz.len() - 8]).unwrap()
}

/// For each style layer id: how many features it draws over `tiles` (tile zoom = style zoom,
/// i.e. 512 px tiles), evaluating paint and sort keys too, as the scene builder does.
fn drawn_counts(style: &Style, tiles: &[(u8, mvt::Tile)]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for l in style.layers() {
        counts.insert(l.id().to_string(), 0);
    }
    for (z, tile) in tiles {
        let zoom = f64::from(*z);
        for sl in style.layers() {
            if !sl.visible_at(zoom) {
                continue;
            }
            if sl.kind() == LayerKind::Background {
                *counts.get_mut(sl.id()).unwrap() += 1;
                continue;
            }
            for layer in tile
                .layers
                .iter()
                .filter(|l| Some(l.name.as_str()) == sl.source_layer())
            {
                for f in &layer.features {
                    let fr = FeatureRef::new(layer, f);
                    if sl.matches(&fr, zoom) {
                        let _ = sl.sort_key(&fr, zoom);
                        let visible = match sl.paint(Some(&fr), zoom) {
                            Paint::Fill { color, opacity, .. } => color.a * opacity > 0.0,
                            Paint::Line {
                                color,
                                opacity,
                                width,
                                ..
                            } => color.a * opacity > 0.0 && width > 0.0,
                            Paint::Circle {
                                opacity, radius, ..
                            } => opacity > 0.0 && radius > 0.0,
                            Paint::FillExtrusion { color, opacity, .. } => color.a * opacity > 0.0,
                            Paint::Background { .. } => true,
                            // A symbol layer draws where a feature has text to show.
                            Paint::Symbol => sl.symbol(&fr, zoom).is_some(),
                        };
                        if visible {
                            *counts.get_mut(sl.id()).unwrap() += 1;
                        }
                    }
                }
            }
        }
    }
    counts
}

fn assert_draws(counts: &BTreeMap<String, usize>, ids: &[&str], what: &str) {
    for id in ids {
        assert!(
            counts.get(*id).copied().unwrap_or(0) > 0,
            "{what}: layer {id} draws nothing: {counts:?}"
        );
    }
}

#[test]
fn builtins_parse_cleanly() {
    assert_eq!(Style::BUILTIN_NAMES, ["default", "omt", "light"]);
    for name in Style::BUILTIN_NAMES {
        let st = Style::builtin(name).unwrap();
        assert!(st.warnings().is_empty(), "{name}: {:?}", st.warnings());
        assert!(st.layers().len() >= 20, "{name}");
        assert!(st.name().is_some());
        let json = Style::builtin_json(name).unwrap();
        assert_eq!(Style::from_json(json).unwrap().hash_hex(), st.hash_hex());
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(v["version"], 8);
        assert_eq!(
            v["layers"][0]["type"], "background",
            "{name}: a background first"
        );
        for k in [LayerKind::Fill, LayerKind::Line, LayerKind::Circle] {
            assert!(
                st.layers().iter().any(|l| l.kind() == k),
                "{name} has a {k:?} layer"
            );
        }
    }
    assert!(Style::builtin("nope").is_none());
    assert!(Style::builtin_json("nope").is_none());
}

#[test]
fn default_style_draws_the_florence_archive() {
    let tiles = pmtiles("host/assets/firenze.pmtiles");
    for name in ["default", "light"] {
        let st = Style::builtin(name).unwrap();
        // Every data layer except labels/POIs/mask has a style layer.
        let sources: BTreeSet<&str> = st
            .layers()
            .iter()
            .filter_map(|l| l.source_layer())
            .collect();
        for data_layer in [
            "earth",
            "landuse",
            "natural",
            "water",
            "physical_line",
            "roads",
            "transit",
            "buildings",
            "boundaries",
            "places",
        ] {
            assert!(
                sources.contains(data_layer),
                "{name}: no layer for {data_layer}"
            );
        }
        let counts = drawn_counts(&st, &tiles);
        assert_draws(
            &counts,
            &[
                "background",
                "earth",
                "landuse",
                "natural",
                "water",
                "waterways",
                "buildings",
                "roads",
                "roads-casing",
                "tunnels",
                "bridges",
                "bridges-casing",
                "rail",
                "rail-hatch",
                "tram",
                "aeroway-lines",
                "boundaries-local",
                "places-city",
            ],
            name,
        );
    }
}

#[test]
fn default_style_draws_the_nextzen_tile() {
    let data = std::fs::read(repo_path("tests/fixtures/tiles/nextzen-10-301-384.mvt")).unwrap();
    let tile = mvt::decode_bytes(&data, &mvt::DecodeLimits::default()).unwrap();
    let st = Style::builtin("default").unwrap();
    // The Tilezen tile is 256 px: style zoom 9; also check z10.
    for z in [9u8, 10] {
        let counts = drawn_counts(&st, &[(z, tile.clone())]);
        assert_draws(
            &counts,
            &[
                "earth",
                "landuse",
                "water",
                "water-lines",
                "roads",
                "roads-casing",
                "ferry",
                "rail-routes-tilezen",
                "aeroway-lines-tilezen",
                "boundaries-local",
                "boundaries-region",
            ],
            &format!("nextzen z{z}"),
        );
    }
}

#[test]
fn omt_style_draws_the_monaco_archive() {
    let tiles = pmtiles("tests/fixtures/archives/monaco-2023-omt.pmtiles");
    let st = Style::builtin("omt").unwrap();
    let sources: BTreeSet<&str> = st
        .layers()
        .iter()
        .filter_map(|l| l.source_layer())
        .collect();
    for data_layer in [
        "water",
        "landcover",
        "landuse",
        "park",
        "transportation",
        "building",
        "boundary",
        "waterway",
        "aeroway",
        "place",
    ] {
        assert!(
            sources.contains(data_layer),
            "omt: no layer for {data_layer}"
        );
    }
    let counts = drawn_counts(&st, &tiles);
    assert_draws(
        &counts,
        // (Monaco's railway runs in tunnels: no `rail` here.)
        &[
            "landcover",
            "landuse",
            "water",
            "waterway",
            "aeroway-area",
            "building",
            "pier",
            "road",
            "road-casing",
            "tunnel",
            "tunnel-casing",
            "bridge",
            "ferry",
            "boundary-country",
            "boundary-local",
            "place-city",
        ],
        "omt",
    );
}

#[test]
fn real_world_openmaptiles_basic_style() {
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/styles/omt-basic.json"),
    )
    .unwrap();
    let st = Style::from_json(&text).unwrap();
    let symbol_ids = [
        "water_name",
        "poi_label",
        "airport-label",
        "road_major_label",
        "place_label_other",
        "place_label_city",
        "country_label-other",
        "country_label",
    ];
    let raw: serde_json::Value = serde_json::from_str(&text).unwrap();
    let raw_layers = raw["layers"].as_array().unwrap();
    // Everything this style uses is supported now, its symbol layers included.
    assert_eq!(st.warnings(), [] as [String; 0]);
    assert_eq!(st.layers().len(), raw_layers.len());
    for id in symbol_ids {
        assert!(st.layers().iter().any(|l| l.id() == id), "{id} is a layer");
    }
    // It draws the Monaco data.
    let tiles = pmtiles("tests/fixtures/archives/monaco-2023-omt.pmtiles");
    let counts = drawn_counts(&st, &tiles);
    assert_draws(
        &counts,
        &[
            "background",
            "landuse-residential",
            "landcover_grass",
            "landcover_wood",
            "water",
            "highway_path",
            "highway_minor",
            "highway_major_inner",
            "highway_major_casing",
            "tunnel_minor",
            "building",
            "building-3d",
            "boundary_2",
            "boundary_3",
            "poi-dot",
            "road_area_pier",
            "poi_label",
            "road_major_label",
            "place_label_other",
        ],
        "omt-basic",
    );
    // Spot checks of legacy functions on real features.
    let motorway = st
        .layers()
        .iter()
        .find(|l| l.id() == "highway_motorway_inner")
        .unwrap();
    match motorway.paint(None, 5.9) {
        Paint::Line { color, width, .. } => {
            // Halfway between hsla(0, 0%, 85%, 0.53) and #fff, premultiplied.
            assert_eq!((color.r, color.g, color.b), (242, 242, 242));
            assert!((color.a - 0.765).abs() < 1e-6);
            assert!(close(width, maplibre_exp(5.9, 1.4, (4.0, 2.0), (6.0, 1.3))));
        }
        other => panic!("{other:?}"),
    }
}

/// Style evaluation of whole dense tiles (filters, sort keys, paint), as the scene builder
/// drives it. Prints timings; in release builds it must stay well under the budget.
#[test]
fn evaluation_speed_on_dense_tiles() {
    let florence = pmtiles("host/assets/firenze.pmtiles");
    let (z, dense) = florence
        .iter()
        .max_by_key(|(_, t)| t.layers.iter().map(|l| l.features.len()).sum::<usize>())
        .map(|(z, t)| (*z, t.clone()))
        .unwrap();
    let features: usize = dense.layers.iter().map(|l| l.features.len()).sum();
    for name in Style::BUILTIN_NAMES {
        let t = std::time::Instant::now();
        let st = Style::builtin(name).unwrap();
        let parse = t.elapsed();
        let tiles = [(z, dense.clone())];
        let t = std::time::Instant::now();
        let rounds = 5;
        let mut drawn = 0;
        for _ in 0..rounds {
            drawn = drawn_counts(&st, &tiles).values().sum::<usize>();
        }
        let eval = t.elapsed() / rounds;
        println!("{name}: parse {parse:?}, evaluate z{z} tile with {features} features ({drawn} drawn) in {eval:?}");
        if !cfg!(debug_assertions) {
            assert!(eval.as_millis() < 25, "{name}: {eval:?}");
        }
    }
}
