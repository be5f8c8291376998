//! Scene → SVG text, for browsers and editors.
//!
//! The same scene as the PNG, in SVG's terms: fills as paths drawn without anti-aliasing
//! (`shape-rendering="crispEdges"`, as MapLibre fills) with their 1 px outlines under or over
//! them as the scene says; lines as strokes (casings as a stroke masked by its gap); circles;
//! extrusions as their lit roofs; patterns as `<pattern>`s of the sprite image. What SVG cannot
//! say exactly (MapLibre's join geometry, line offsets, the extrusions' perspective) is
//! approximated; the PNG is the reference picture.
//!
//! Coordinates are written in the tile's extent units (integers, relative `l` commands, as MVT
//! encodes them) inside a `<g transform>` per layer mapping them to device pixels. Data beyond
//! the tile's edge (the buffer) is written too and clipped by the viewBox.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::mvt::{Point, Polygon};
use crate::scene::{Draw, GeomXform, LineGeom, Outlines, Pattern, Premul, Scene, UNITS_PER_CSS_PX};
use crate::style::{LineCap, LineJoin};

/// Writes the scene as a standalone SVG document (`pixels` × `pixels`, device pixels).
pub fn write_svg(scene: &Scene<'_>) -> String {
    let px = scene.pixels;
    let dpr = f64::from(scene.scale);
    let mut w = Writer {
        out: String::with_capacity(64 * 1024),
        defs: String::new(),
        patterns: HashMap::new(),
        next_id: 0,
    };
    for layer in &scene.layers {
        // Extent units → device px: ml = p·scale − offset; px = ml · dpr / 16.
        let k = dpr / UNITS_PER_CSS_PX;
        let matrix = |xf: &GeomXform, t: [f32; 2]| {
            format!(
                r#"<g transform="matrix({} 0 0 {} {} {})">"#,
                num(xf.scale * k),
                num(xf.scale * k),
                num(-xf.offset.0 * k + f64::from(t[0]) * dpr),
                num(-xf.offset.1 * k + f64::from(t[1]) * dpr)
            )
        };
        // Pixel sizes → user units of the layer's transform.
        let user = |device_px: f64| device_px / (layer.xform.scale * k);
        match &layer.draw {
            Draw::Labels(labels) => crate::labels::draw::svg(&mut w.out, &mut w.defs, labels),
            Draw::Background {
                color,
                pattern,
                opacity,
            } => {
                let _ = write!(w.out, r#"<rect width="{px}" height="{px}""#);
                match pattern {
                    Some(p) => {
                        let id = w.pattern(p, scene, [*opacity; 4]);
                        let _ = write!(w.out, r#" fill="url(#{id})""#);
                    }
                    None => paint(&mut w.out, "fill", *color),
                }
                w.out.push_str("/>");
            }
            Draw::Fill {
                features,
                outlines,
                translate,
            } => {
                w.out.push_str(&matrix(&layer.xform, *translate));
                let stroke = |w: &mut Writer| {
                    for f in features {
                        if let Some(c) = f.outline {
                            let mut d = String::new();
                            polygons_path(&mut d, f.polygons);
                            let _ = write!(w.out, r#"<path fill="none""#);
                            paint(&mut w.out, "stroke", c);
                            let _ =
                                write!(w.out, r#" stroke-width="{}" d="{d}"/>"#, num(user(1.0)));
                        }
                    }
                };
                if *outlines == Outlines::UnderFills {
                    stroke(&mut w);
                }
                let mut run: Option<(String, String)> = None;
                for f in features {
                    let attrs = match &f.pattern {
                        Some(p) => {
                            let id = w.pattern(p, scene, [f.opacity; 4]);
                            format!(r#" fill="url(#{id})""#)
                        }
                        None => {
                            let mut a = String::new();
                            paint(&mut a, "fill", f.color);
                            a
                        }
                    };
                    if run.as_ref().is_some_and(|(a, _)| *a != attrs) {
                        flush_fill(&mut w.out, run.take());
                    }
                    let (_, d) = run.get_or_insert_with(|| (attrs, String::new()));
                    polygons_path(d, f.polygons);
                }
                flush_fill(&mut w.out, run);
                if *outlines == Outlines::OverFills {
                    stroke(&mut w);
                }
                w.out.push_str("</g>");
            }
            Draw::Line {
                features,
                translate,
            } => {
                w.out.push_str(&matrix(&layer.xform, *translate));
                for f in features {
                    let p = &f.paint;
                    let mut d = String::new();
                    match f.geometry {
                        LineGeom::Lines(lines) => {
                            for l in lines {
                                run_path(&mut d, l, false);
                            }
                        }
                        LineGeom::Rings(polygons) => polygons_path(&mut d, polygons),
                    }
                    if d.is_empty() {
                        continue;
                    }
                    let width = f64::from(p.width) * dpr;
                    let gap = f64::from(p.gap_width) * dpr;
                    let total = if gap > 0.0 { gap + 2.0 * width } else { width };
                    let mut attrs = String::from(r#" fill="none""#);
                    match &f.pattern {
                        Some(pat) => {
                            let id = w.pattern(pat, scene, [p.opacity; 4]);
                            let _ = write!(attrs, r#" stroke="url(#{id})""#);
                        }
                        None => paint(&mut attrs, "stroke", p.color),
                    }
                    let _ = write!(attrs, r#" stroke-width="{}""#, num(user(total)));
                    attrs.push_str(match p.cap {
                        LineCap::Butt => "",
                        LineCap::Round => r#" stroke-linecap="round""#,
                        LineCap::Square => r#" stroke-linecap="square""#,
                    });
                    attrs.push_str(match p.join {
                        LineJoin::Miter => "",
                        LineJoin::Round => r#" stroke-linejoin="round""#,
                        LineJoin::Bevel => r#" stroke-linejoin="bevel""#,
                    });
                    if p.join == LineJoin::Miter {
                        let _ = write!(
                            attrs,
                            r#" stroke-miterlimit="{}""#,
                            num(f64::from(p.miter_limit.max(1.0)))
                        );
                    }
                    if let Some(dashes) = &p.dasharray {
                        let unit = width.max(dpr);
                        let list: Vec<String> = dashes
                            .iter()
                            .map(|v| num(user(f64::from(*v) * unit)))
                            .collect();
                        let _ = write!(attrs, r#" stroke-dasharray="{}""#, list.join(" "));
                    }
                    if gap > 0.0 {
                        // Casing: the full width masked by the gap, leaving two side lines.
                        w.next_id += 1;
                        let id = w.next_id;
                        let _ = write!(
                            w.out,
                            r##"<mask id="gap{id}" maskUnits="userSpaceOnUse" x="-1e6" y="-1e6" width="2e6" height="2e6"><path fill="none" stroke="#fff" stroke-width="{}" d="{d}"/><path fill="none" stroke="#000" stroke-width="{}" d="{d}"/></mask>"##,
                            num(user(total)),
                            num(user(gap)),
                        );
                        let _ = write!(attrs, r#" mask="url(#gap{id})""#);
                    }
                    let _ = write!(w.out, r#"<path{attrs} d="{d}"/>"#);
                }
                w.out.push_str("</g>");
            }
            Draw::Circle {
                features,
                translate,
            } => {
                w.out.push_str(&matrix(&layer.xform, *translate));
                for f in features {
                    let r = user(f64::from(f.radius) * dpr);
                    let sw = user(f64::from(f.stroke_width) * dpr);
                    for p in f.points {
                        let _ = write!(
                            w.out,
                            r#"<circle cx="{}" cy="{}" r="{}""#,
                            p.x,
                            p.y,
                            num(r + sw / 2.0)
                        );
                        if sw > 0.0 {
                            // The stroke straddles r + sw/2; the fill inside it is the circle colour.
                            paint(&mut w.out, "fill", f.color);
                            paint(&mut w.out, "stroke", f.stroke_color);
                            let _ = write!(w.out, r#" stroke-width="{}""#, num(sw));
                        } else {
                            paint(&mut w.out, "fill", f.color);
                        }
                        w.out.push_str("/>");
                    }
                }
                w.out.push_str("</g>");
            }
            Draw::Extrusion {
                features,
                translate,
                ..
            } => {
                w.out.push_str(&matrix(&layer.xform, *translate));
                for f in features {
                    // The roof as MapLibre lights it from straight above; no perspective.
                    let roof = roof_color(f.color, f.opacity);
                    let mut d = String::new();
                    polygons_path(&mut d, f.polygons);
                    let _ = write!(w.out, r#"<path shape-rendering="crispEdges""#);
                    paint(&mut w.out, "fill", roof);
                    let _ = write!(w.out, r#" d="{d}"/>"#);
                }
                w.out.push_str("</g>");
            }
        }
    }
    let mut doc = String::with_capacity(w.out.len() + w.defs.len() + 200);
    let _ = write!(
        doc,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{px}" height="{px}" viewBox="0 0 {px} {px}">"#
    );
    if !w.defs.is_empty() {
        let _ = write!(doc, "<defs>{}</defs>", w.defs);
    }
    doc.push_str(&w.out);
    doc.push_str("</svg>");
    doc
}

struct Writer {
    out: String,
    defs: String,
    /// Pattern ids by (image position, opacity bits).
    patterns: HashMap<(u32, u32, u32), String>,
    next_id: u32,
}

impl Writer {
    /// A `<pattern>` of the sprite image, anchored to the world origin like MapLibre's; its id.
    fn pattern(&mut self, p: &Pattern<'_>, scene: &Scene<'_>, opacity: Premul) -> String {
        let img = p.image.image;
        let key = (img.x, img.y, opacity[3].to_bits());
        if let Some(id) = self.patterns.get(&key) {
            return id.clone();
        }
        self.next_id += 1;
        let id = format!("pat{}", self.next_id);
        let dpr = f64::from(scene.scale);
        let ratio = f64::from(img.pixel_ratio);
        let (w, h) = (
            f64::from(img.width) / ratio * dpr,
            f64::from(img.height) / ratio * dpr,
        );
        let mut px = Vec::with_capacity(img.width as usize * img.height as usize * 4);
        for y in 0..img.height {
            for x in 0..img.width {
                px.extend_from_slice(&p.image.sheet.texel(img.x + x, img.y + y));
            }
        }
        let png = crate::raster::encode_png(img.width, img.height, &px).unwrap_or_default();
        // The tile's origin inside the repeating pattern (world-anchored).
        let ox = -(scene.world_origin.0 * dpr).rem_euclid(w);
        let oy = -(scene.world_origin.1 * dpr).rem_euclid(h);
        let _ = write!(
            self.defs,
            r#"<pattern id="{id}" patternUnits="userSpaceOnUse" x="{}" y="{}" width="{}" height="{}"><image width="{}" height="{}" opacity="{}" href="data:image/png;base64,{}"/></pattern>"#,
            num(ox),
            num(oy),
            num(w),
            num(h),
            num(w),
            num(h),
            num(f64::from(opacity[3])),
            base64(&png)
        );
        self.patterns.insert(key, id.clone());
        id
    }
}

/// MapLibre's lit roof colour under the default light (see `raster::extrusion`).
fn roof_color(c: Premul, opacity: f32) -> Premul {
    let value = c[0] * 0.2126 + c[1] * 0.7152 + c[2] * 0.0722;
    let d = 0.995_946_75f32;
    let directional = 0.5 * (1.0 - d) + (1.5 - value).max(1.0) * d;
    let k = |v: f32| ((v + 0.03) * directional).clamp(0.0, 1.0) * opacity;
    [k(c[0]), k(c[1]), k(c[2]), opacity]
}

fn flush_fill(out: &mut String, run: Option<(String, String)>) {
    if let Some((attrs, d)) = run {
        if !d.is_empty() {
            let _ = write!(
                out,
                r#"<path shape-rendering="crispEdges"{attrs} d="{d}"/>"#
            );
        }
    }
}

fn polygons_path(d: &mut String, polygons: &[Polygon]) {
    for p in polygons {
        run_path(d, &p.exterior, true);
        for h in &p.holes {
            run_path(d, h, true);
        }
    }
}

fn run_path(out: &mut String, points: &[Point], close: bool) {
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

/// `{what}="#rrggbb"` plus `{what}-opacity` for a premultiplied colour.
fn paint(out: &mut String, what: &str, c: Premul) {
    let a = c[3].clamp(0.0, 1.0);
    if a <= 0.0 {
        let _ = write!(out, r#" {what}="none""#);
        return;
    }
    let ch = |v: f32| ((v / a).clamp(0.0, 1.0) * 255.0 + 0.5) as u8;
    let _ = write!(
        out,
        r##" {what}="#{:02x}{:02x}{:02x}""##,
        ch(c[0]),
        ch(c[1]),
        ch(c[2])
    );
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

pub(crate) fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
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

    #[test]
    fn base64_pads() {
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
    }
}
