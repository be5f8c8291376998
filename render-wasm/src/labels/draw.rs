//! Placed labels → device-pixel glyph paths and icon quads, and the two writers' use of
//! them: the PNG rasterizes glyphs with tiny-skia's anti-aliased path filler (halo = outline
//! stroked with round joins, plus the glyph) and samples icons bilinearly, the SVG writes the
//! same numbers as `<path>`s and `<image>`s. Both draw in the same order: a layer's icons,
//! then its halos, then its text (as MapLibre's passes).

use std::fmt::Write as _;

use tiny_skia::{FillRule, LineCap, LineJoin, Mask, PathBuilder, Stroke, Transform};

use super::font::{self, Seg};
use super::{GlyphPlace, IconPlace};
use crate::raster::gpu::Canvas;
use crate::scene::Premul;
use crate::style::{Color, FaceStyle, SymbolPaint};
use crate::svg::base64;

/// An icon ready to draw: the sprite image over a rectangle (device px) in the frame at
/// `anchor` with x axis `u`.
#[derive(Debug, Clone, Copy)]
pub struct IconDraw<'a> {
    pub image: crate::sprite::ImageRef<'a>,
    pub anchor: (f64, f64),
    pub u: (f64, f64),
    pub rect: [f64; 4],
    pub opacity: f32,
}

/// One label ready to draw. Coordinates are device px.
#[derive(Debug, Clone)]
pub struct LabelDraw<'a> {
    pub icon: Option<IconDraw<'a>>,
    pub path: Vec<Seg>,
    /// Premultiplied text colour × opacity.
    pub color: Premul,
    /// Premultiplied halo colour × opacity and the halo width in device px.
    pub halo: Option<(Premul, f32)>,
}

/// A symbol layer's placed labels, in draw order.
#[derive(Debug, Clone)]
pub struct LabelLayer<'a> {
    pub labels: Vec<LabelDraw<'a>>,
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
pub fn label<'a>(
    face: FaceStyle,
    glyphs: &[GlyphPlace],
    icon: Option<&IconPlace<'a>>,
    scale: f64,
    paint: &SymbolPaint,
    dpr: f64,
) -> LabelDraw<'a> {
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
        icon: icon.map(|i| IconDraw {
            image: i.image,
            anchor: (i.anchor.0 * dpr, i.anchor.1 * dpr),
            u: i.u,
            rect: i.rect.map(|v| v * dpr),
            opacity: paint.icon_opacity,
        }),
        path,
        color: premul(paint.color, paint.opacity),
        halo,
    }
}

/// Rasterizes a layer's labels: all icons, all halos, then all text.
pub fn raster(canvas: &mut Canvas, layer: &LabelLayer<'_>) {
    for l in &layer.labels {
        if let Some(i) = &l.icon {
            paint_icon(canvas, i);
        }
    }
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
    let Some(b) = font::path_bounds(path) else {
        return;
    };
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

/// A premultiplied texel of the icon, transparent outside it (MapLibre pads icons in its atlas
/// with transparent texels, so bilinear filtering fades their edges the same way).
fn texel(i: &IconDraw<'_>, x: i64, y: i64) -> [f32; 4] {
    let img = i.image.image;
    if x < 0 || y < 0 || x >= i64::from(img.width) || y >= i64::from(img.height) {
        return [0.0; 4];
    }
    let t = i.image.sheet.texel(img.x + x as u32, img.y + y as u32);
    t.map(|v| f32::from(v) / 255.0)
}

/// Draws an icon: every device pixel whose centre falls in the (turned) rectangle samples the
/// image bilinearly at the matching texel position.
fn paint_icon(canvas: &mut Canvas, i: &IconDraw<'_>) {
    let img = i.image.image;
    let [rx0, ry0, rx1, ry1] = i.rect;
    if rx1 <= rx0 || ry1 <= ry0 || img.width == 0 || img.height == 0 {
        return;
    }
    let (ux, uy) = i.u;
    let corners = [(rx0, ry0), (rx1, ry0), (rx1, ry1), (rx0, ry1)]
        .map(|(x, y)| (i.anchor.0 + ux * x - uy * y, i.anchor.1 + uy * x + ux * y));
    let min = |k: usize| {
        corners
            .iter()
            .map(|c| if k == 0 { c.0 } else { c.1 })
            .fold(f64::MAX, f64::min)
    };
    let max = |k: usize| {
        corners
            .iter()
            .map(|c| if k == 0 { c.0 } else { c.1 })
            .fold(f64::MIN, f64::max)
    };
    let x0 = (min(0).floor().max(0.0)) as usize;
    let y0 = (min(1).floor().max(0.0)) as usize;
    let x1 = (max(0).ceil().max(0.0) as usize).min(canvas.width);
    let y1 = (max(1).ceil().max(0.0) as usize).min(canvas.height);
    let (sx, sy) = (
        f64::from(img.width) / (rx1 - rx0),
        f64::from(img.height) / (ry1 - ry0),
    );
    for y in y0..y1 {
        for x in x0..x1 {
            // Pixel centre → icon frame (inverse rotation) → texel coordinates.
            let (dx, dy) = (x as f64 + 0.5 - i.anchor.0, y as f64 + 0.5 - i.anchor.1);
            let (lx, ly) = (ux * dx + uy * dy, -uy * dx + ux * dy);
            if lx < rx0 || lx >= rx1 || ly < ry0 || ly >= ry1 {
                continue;
            }
            let (tx, ty) = ((lx - rx0) * sx - 0.5, (ly - ry0) * sy - 0.5);
            let (fx0, fy0) = (tx.floor(), ty.floor());
            let (fx, fy) = ((tx - fx0) as f32, (ty - fy0) as f32);
            let (xi, yi) = (fx0 as i64, fy0 as i64);
            let (a, b) = (texel(i, xi, yi), texel(i, xi + 1, yi));
            let (c, d) = (texel(i, xi, yi + 1), texel(i, xi + 1, yi + 1));
            let mut px = [0.0f32; 4];
            for k in 0..4 {
                let top = a[k] + (b[k] - a[k]) * fx;
                let bottom = c[k] + (d[k] - c[k]) * fx;
                px[k] = (top + (bottom - top) * fy) * i.opacity;
            }
            if px[3] > 0.0 {
                canvas.blend(x, y, px);
            }
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

/// Writes a layer's labels as SVG (device px, no transform): icons, halos, then text.
pub fn svg(out: &mut String, layer: &LabelLayer<'_>) {
    for l in &layer.labels {
        let Some(i) = &l.icon else { continue };
        let img = i.image.image;
        let mut px = Vec::with_capacity(img.width as usize * img.height as usize * 4);
        for y in 0..img.height {
            for x in 0..img.width {
                px.extend_from_slice(&i.image.sheet.texel(img.x + x, img.y + y));
            }
        }
        let png = crate::raster::encode_png(img.width, img.height, &px).unwrap_or_default();
        let r = |v: f64| (v * 100.0).round() / 100.0;
        let [x0, y0, x1, y1] = i.rect;
        let _ = write!(
            out,
            r#"<image transform="matrix({} {} {} {} {} {})" x="{}" y="{}" width="{}" height="{}" preserveAspectRatio="none""#,
            r(i.u.0),
            r(i.u.1),
            r(-i.u.1),
            r(i.u.0),
            r(i.anchor.0),
            r(i.anchor.1),
            r(x0),
            r(y0),
            r(x1 - x0),
            r(y1 - y0)
        );
        if i.opacity < 1.0 {
            let _ = write!(out, r#" opacity="{}""#, r(f64::from(i.opacity)));
        }
        let _ = write!(out, r#" href="data:image/png;base64,{}"/>"#, base64(&png));
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_mostly_off_the_canvas_still_draw_their_visible_part() {
        // A label owned by the neighbour tile reaches in from the left edge.
        let path = vec![
            Seg::Move(-10.0, 2.0),
            Seg::Line(0.5, 2.0),
            Seg::Line(0.5, 6.0),
            Seg::Line(-10.0, 6.0),
            Seg::Close,
        ];
        let mut c = Canvas::new(8, 8);
        paint_path(&mut c, &path, [1.0, 0.0, 0.0, 1.0], None);
        let a = c.data[(3 * 8) * 4 + 3];
        assert!((100..=160).contains(&a), "half-covered pixel: {a}");
        assert_eq!(c.data[(3 * 8 + 1) * 4 + 3], 0, "nothing right of the path");
        let mut c = Canvas::new(8, 8);
        paint_path(&mut c, &path, [1.0, 0.0, 0.0, 1.0], Some(1.0));
        assert_eq!(c.data[(3 * 8) * 4 + 3], 255, "the halo covers it");
    }

    #[test]
    fn svg_path_data_is_short_and_stable() {
        let d = path_data(&[
            Seg::Move(1.004, -0.001),
            Seg::Quad(2.0, 3.5, 4.25, 5.0),
            Seg::Close,
        ]);
        assert_eq!(d, "M1 0Q2 3.5 4.25 5Z");
        assert_eq!(base64(b"Man"), "TWFu");
        assert_eq!(base64(b"Ma"), "TWE=");
    }
}
