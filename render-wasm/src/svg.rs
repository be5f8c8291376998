//! Scene → SVG text.
//!
//! Coordinates are written in tile extent units (integers, relative `l` commands, exactly as
//! MVT encodes them) inside a `<g transform>` per extent-units → pixels map; stroke widths and
//! radii are divided by that scale so they stay in pixels. Data beyond the tile's edge (the
//! buffer) is written too and clipped by the viewBox, so shapes crossing tile edges join
//! seamlessly with the neighbours'.

use std::fmt::Write as _;

use crate::mvt::Point;
use crate::scene::{Geom, Item, Scene, Shape, ShapePaint};
use crate::style::{Color, LineCap, LineJoin};

/// Writes the scene as a standalone SVG document.
pub fn write_svg(scene: &Scene<'_>) -> String {
    let px = scene.pixels;
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{px}" height="{px}" viewBox="0 0 {px} {px}">"#
    );
    let mut open_transform: Option<(f64, (f64, f64))> = None;
    let mut mask_id = 0u32;
    for item in &scene.items {
        match item {
            Item::Background { color, opacity } => {
                if open_transform.take().is_some() {
                    out.push_str("</g>");
                }
                let _ = write!(out, r#"<rect width="{px}" height="{px}""#);
                write_color(&mut out, "fill", *color, *opacity);
                out.push_str("/>");
            }
            Item::Shape(shape) => {
                let t = (shape.unit, shape.offset);
                if open_transform != Some(t) {
                    if open_transform.is_some() {
                        out.push_str("</g>");
                    }
                    let _ = write!(
                        out,
                        r#"<g transform="matrix({} 0 0 {} {} {})">"#,
                        num(shape.unit),
                        num(shape.unit),
                        num(shape.offset.0),
                        num(shape.offset.1)
                    );
                    open_transform = Some(t);
                }
                write_shape(&mut out, shape, &mut mask_id);
            }
        }
    }
    if open_transform.is_some() {
        out.push_str("</g>");
    }
    out.push_str("</svg>");
    out
}

fn write_shape(out: &mut String, shape: &Shape<'_>, mask_id: &mut u32) {
    // Pixel sizes → user units of the enclosing transform.
    let user = |px: f64| px / shape.unit;
    let mut d = String::new();
    let mut attrs = String::with_capacity(128);
    match &shape.paint {
        ShapePaint::Fill {
            color,
            opacity,
            outline,
        } => {
            write_path_data(&mut d, shape);
            write_color(&mut attrs, "fill", *color, *opacity);
            if let Some(outline) = outline {
                write_color(&mut attrs, "stroke", *outline, *opacity);
                let _ = write!(attrs, r#" stroke-width="{}""#, num(user(shape.css_px)));
            }
        }
        ShapePaint::Line {
            color,
            opacity,
            width,
            gap,
            cap,
            join,
            miter_limit,
            dashes,
        } => {
            write_path_data(&mut d, shape);
            let total = ShapePaint::line_total_width(*width, *gap);
            attrs.push_str(r#" fill="none""#);
            write_color(&mut attrs, "stroke", *color, *opacity);
            let _ = write!(attrs, r#" stroke-width="{}""#, num(user(total)));
            attrs.push_str(match cap {
                LineCap::Butt => "",
                LineCap::Round => r#" stroke-linecap="round""#,
                LineCap::Square => r#" stroke-linecap="square""#,
            });
            attrs.push_str(match join {
                LineJoin::Miter => "",
                LineJoin::Round => r#" stroke-linejoin="round""#,
                LineJoin::Bevel => r#" stroke-linejoin="bevel""#,
            });
            if *join == LineJoin::Miter && (*miter_limit - 4.0).abs() > 1e-6 {
                let _ = write!(attrs, r#" stroke-miterlimit="{}""#, num(*miter_limit));
            }
            if let Some(dashes) = dashes {
                let list: Vec<String> = dashes.iter().map(|v| num(user(*v))).collect();
                let _ = write!(attrs, r#" stroke-dasharray="{}""#, list.join(" "));
            }
            if *gap > 0.0 && !d.is_empty() {
                // Casing: the full width masked by the gap, leaving two side lines.
                *mask_id += 1;
                let _ = write!(
                    out,
                    r##"<mask id="gap{id}" maskUnits="userSpaceOnUse" x="-1e6" y="-1e6" width="2e6" height="2e6"><path fill="none" stroke="#fff" stroke-width="{}" d="{d}"/><path fill="none" stroke="#000" stroke-width="{}" d="{d}"/></mask>"##,
                    num(user(total)),
                    num(user(*gap)),
                    id = *mask_id
                );
                let _ = write!(attrs, r#" mask="url(#gap{})""#, *mask_id);
            }
        }
        ShapePaint::Circle {
            color,
            opacity,
            radius,
            stroke_width,
            stroke_color,
            stroke_opacity,
        } => {
            let r = user(*radius);
            let (r_s, d_s) = (num(r), num(2.0 * r));
            for g in &shape.geometry {
                if let Geom::Point(p) = g {
                    let _ = write!(
                        d,
                        "M{} {}a{r_s} {r_s} 0 1 0 {d_s} 0a{r_s} {r_s} 0 1 0 -{d_s} 0z",
                        num(p.x as f64 - r),
                        p.y
                    );
                }
            }
            write_color(&mut attrs, "fill", *color, *opacity);
            if *stroke_width > 0.0 {
                write_color(&mut attrs, "stroke", *stroke_color, *stroke_opacity);
                let _ = write!(attrs, r#" stroke-width="{}""#, num(user(*stroke_width)));
            }
        }
    }
    if !d.is_empty() {
        let _ = write!(out, r#"<path{attrs} d="{d}"/>"#);
    }
}

/// Lines and polygon rings of a shape as path data (`M x y l dx dy … [z]`).
fn write_path_data(d: &mut String, shape: &Shape<'_>) {
    shape.for_each_run(&mut |points, closed| write_run(d, points, closed));
}

fn write_run(out: &mut String, points: &[Point], close: bool) {
    let Some((first, rest)) = points.split_first() else {
        return;
    };
    out.push('M');
    push_int(out, first.x);
    out.push(' ');
    push_int(out, first.y);
    let mut prev = *first;
    for (i, p) in rest.iter().enumerate() {
        out.push(if i == 0 { 'l' } else { ' ' });
        push_int(out, p.x - prev.x);
        out.push(' ');
        push_int(out, p.y - prev.y);
        prev = *p;
    }
    if close {
        out.push('z');
    }
}

fn write_color(out: &mut String, what: &str, color: Color, opacity: f32) {
    let _ = write!(
        out,
        r##" {what}="#{:02x}{:02x}{:02x}""##,
        color.r, color.g, color.b
    );
    let a = (color.a * opacity).clamp(0.0, 1.0);
    if a < 1.0 {
        let _ = write!(out, r#" {what}-opacity="{}""#, num(f64::from(a)));
    }
}

/// A short, deterministic decimal: at most 4 fractional digits.
fn num(v: f64) -> String {
    let r = (v * 10_000.0).round() / 10_000.0;
    if r == 0.0 {
        return "0".to_string();
    }
    format!("{r}")
}

fn push_int(out: &mut String, v: i64) {
    let mut buf = itoa::Buffer::new();
    out.push_str(buf.format(v));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short_and_stable() {
        assert_eq!(num(1.0), "1");
        assert_eq!(num(0.333333), "0.3333");
        assert_eq!(num(-0.00001), "0");
    }
}
