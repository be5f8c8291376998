//! Placed labels → device-pixel glyph paths, and the two writers' use of them: the PNG
//! rasterizes them with tiny-skia's anti-aliased path filler (halo = outline stroked with
//! round joins, plus the glyph), the SVG writes the same numbers as `<path>`s. Both get the
//! same geometry, in the same order: a layer's halos, then its text (as MapLibre's two
//! passes).

use std::fmt::Write as _;

use tiny_skia::{FillRule, LineCap, LineJoin, Mask, PathBuilder, Stroke, Transform};

use super::font::{self, Seg};
use super::GlyphPlace;
use crate::raster::gpu::Canvas;
use crate::scene::Premul;
use crate::style::{Color, FaceStyle, SymbolPaint};

/// One label ready to draw. Coordinates are device px.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelDraw {
    pub path: Vec<Seg>,
    /// Premultiplied text colour × opacity.
    pub color: Premul,
    /// Premultiplied halo colour × opacity and the halo width in device px.
    pub halo: Option<(Premul, f32)>,
}

/// A symbol layer's placed labels, in draw order.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelLayer {
    pub labels: Vec<LabelDraw>,
}

fn premul(c: Color, opacity: f32) -> Premul {
    let p = c.premultiplied();
    [
        p[0] as f32 * opacity,
        p[1] as f32 * opacity,
        p[2] as f32 * opacity,
        p[3] as f32 * opacity,
    ]
}

/// The drawable form of a placed label: its glyph outlines moved to their places
/// (`glyphs` in CSS px, `scale` CSS px per layout unit) and scaled to device px (`dpr`).
pub fn label(
    face: FaceStyle,
    glyphs: &[GlyphPlace],
    scale: f64,
    paint: &SymbolPaint,
    dpr: f64,
) -> LabelDraw {
    let face = font::face(face);
    let mut path = Vec::new();
    for g in glyphs {
        let outline = face.outline(g.id);
        let (ux, uy) = g.u;
        let map = |x: f32, y: f32| -> (f32, f32) {
            let (lx, ly) = (f64::from(x) * scale, f64::from(y) * scale);
            let wx = g.origin.0 + ux * lx - uy * ly;
            let wy = g.origin.1 + uy * lx + ux * ly;
            ((wx * dpr) as f32, (wy * dpr) as f32)
        };
        for s in outline.iter() {
            path.push(match *s {
                Seg::Move(x, y) => {
                    let (x, y) = map(x, y);
                    Seg::Move(x, y)
                }
                Seg::Line(x, y) => {
                    let (x, y) = map(x, y);
                    Seg::Line(x, y)
                }
                Seg::Quad(a, b, x, y) => {
                    let (a, b) = map(a, b);
                    let (x, y) = map(x, y);
                    Seg::Quad(a, b, x, y)
                }
                Seg::Cubic(a, b, c, d, x, y) => {
                    let (a, b) = map(a, b);
                    let (c, d) = map(c, d);
                    let (x, y) = map(x, y);
                    Seg::Cubic(a, b, c, d, x, y)
                }
                Seg::Close => Seg::Close,
            });
        }
    }
    let halo_color = premul(paint.halo_color, paint.opacity);
    let halo = (paint.halo_width > 0.0 && halo_color[3] > 0.0)
        .then_some((halo_color, paint.halo_width * dpr as f32));
    LabelDraw {
        path,
        color: premul(paint.color, paint.opacity),
        halo,
    }
}

/// Bounds of a path's points (control points included, so they contain the curve).
fn bounds(path: &[Seg]) -> Option<[f32; 4]> {
    let mut b = [f32::MAX, f32::MAX, f32::MIN, f32::MIN];
    let mut add = |x: f32, y: f32| {
        b[0] = b[0].min(x);
        b[1] = b[1].min(y);
        b[2] = b[2].max(x);
        b[3] = b[3].max(y);
    };
    for s in path {
        match *s {
            Seg::Move(x, y) | Seg::Line(x, y) => add(x, y),
            Seg::Quad(a, c, x, y) => {
                add(a, c);
                add(x, y);
            }
            Seg::Cubic(a, c, d, e, x, y) => {
                add(a, c);
                add(d, e);
                add(x, y);
            }
            Seg::Close => {}
        }
    }
    (b[0] <= b[2]).then_some(b)
}

/// Rasterizes a layer's labels: all halos, then all text.
pub fn raster(canvas: &mut Canvas, layer: &LabelLayer) {
    for l in &layer.labels {
        if let Some((color, width)) = l.halo {
            paint_path(canvas, &l.path, color, Some(width));
        }
    }
    for l in &layer.labels {
        paint_path(canvas, &l.path, l.color, None);
    }
}

/// Fills `path` (and, with `halo`, its outline stroked `2 × halo` wide) into a coverage mask
/// over the path's bounds, then blends `color` through it.
fn paint_path(canvas: &mut Canvas, path: &[Seg], color: Premul, halo: Option<f32>) {
    let Some(b) = bounds(path) else { return };
    let grow = halo.unwrap_or(0.0) + 2.0;
    let x0 = ((b[0] - grow).floor().max(0.0)) as i64;
    let y0 = ((b[1] - grow).floor().max(0.0)) as i64;
    let x1 = ((b[2] + grow).ceil() as i64).min(canvas.width as i64);
    let y1 = ((b[3] + grow).ceil() as i64).min(canvas.height as i64);
    if x1 <= x0 || y1 <= y0 {
        return;
    }
    let (w, h) = ((x1 - x0) as u32, (y1 - y0) as u32);
    let Some(mut mask) = Mask::new(w, h) else {
        return;
    };
    let (ox, oy) = (x0 as f32, y0 as f32);
    let mut pb = PathBuilder::new();
    for s in path {
        match *s {
            Seg::Move(x, y) => pb.move_to(x - ox, y - oy),
            Seg::Line(x, y) => pb.line_to(x - ox, y - oy),
            Seg::Quad(a, c, x, y) => pb.quad_to(a - ox, c - oy, x - ox, y - oy),
            Seg::Cubic(a, c, d, e, x, y) => {
                pb.cubic_to(a - ox, c - oy, d - ox, e - oy, x - ox, y - oy)
            }
            Seg::Close => pb.close(),
        }
    }
    let Some(p) = pb.finish() else { return };
    if let Some(width) = halo {
        let stroke = Stroke {
            width: 2.0 * width,
            line_join: LineJoin::Round,
            line_cap: LineCap::Round,
            ..Stroke::default()
        };
        if let Some(outline) = p.stroke(&stroke, 1.0) {
            mask.fill_path(&outline, FillRule::Winding, true, Transform::identity());
        }
    }
    mask.fill_path(&p, FillRule::Winding, true, Transform::identity());
    let data = mask.data();
    for yy in 0..h as usize {
        for xx in 0..w as usize {
            let cov = data[yy * w as usize + xx];
            if cov == 0 {
                continue;
            }
            let k = f32::from(cov) / 255.0;
            canvas.blend(
                x0 as usize + xx,
                y0 as usize + yy,
                [color[0] * k, color[1] * k, color[2] * k, color[3] * k],
            );
        }
    }
}

/// A short decimal for SVG path data (2 fractional digits, no "-0").
fn n(out: &mut String, v: f32) {
    let r = (f64::from(v) * 100.0).round() / 100.0;
    if r == 0.0 {
        out.push('0');
    } else {
        let _ = write!(out, "{r}");
    }
}

fn path_data(path: &[Seg]) -> String {
    let mut d = String::with_capacity(path.len() * 16);
    let pt = |d: &mut String, c: char, xs: &[f32]| {
        d.push(c);
        for (i, v) in xs.iter().enumerate() {
            if i > 0 {
                d.push(' ');
            }
            n(d, *v);
        }
    };
    for s in path {
        match *s {
            Seg::Move(x, y) => pt(&mut d, 'M', &[x, y]),
            Seg::Line(x, y) => pt(&mut d, 'L', &[x, y]),
            Seg::Quad(a, b, x, y) => pt(&mut d, 'Q', &[a, b, x, y]),
            Seg::Cubic(a, b, c, e, x, y) => pt(&mut d, 'C', &[a, b, c, e, x, y]),
            Seg::Close => d.push('Z'),
        }
    }
    d
}

/// `fill`/`stroke` colour attributes of a premultiplied colour.
fn colour(out: &mut String, what: &str, c: Premul) {
    let a = c[3].clamp(0.0, 1.0);
    let ch = |v: f32| ((v / a).clamp(0.0, 1.0) * 255.0 + 0.5) as u8;
    let _ = write!(
        out,
        r##" {what}="#{:02x}{:02x}{:02x}""##,
        ch(c[0]),
        ch(c[1]),
        ch(c[2])
    );
    if a < 1.0 {
        let _ = write!(
            out,
            r#" {what}-opacity="{}""#,
            (f64::from(a) * 1e4).round() / 1e4
        );
    }
}

/// Writes a layer's labels as SVG (device px, no transform): halos, then text.
pub fn svg(out: &mut String, layer: &LabelLayer) {
    let paths: Vec<String> = layer.labels.iter().map(|l| path_data(&l.path)).collect();
    for (l, d) in layer.labels.iter().zip(&paths) {
        if let Some((c, w)) = l.halo {
            if d.is_empty() {
                continue;
            }
            out.push_str("<path");
            colour(out, "fill", c);
            colour(out, "stroke", c);
            let _ = write!(
                out,
                r#" stroke-width="{}" stroke-linejoin="round" stroke-linecap="round" d="{d}"/>"#,
                (f64::from(2.0 * w) * 100.0).round() / 100.0
            );
        }
    }
    for (l, d) in layer.labels.iter().zip(&paths) {
        if d.is_empty() || l.color[3] <= 0.0 {
            continue;
        }
        out.push_str("<path");
        colour(out, "fill", l.color);
        let _ = write!(out, r#" d="{d}"/>"#);
    }
}
