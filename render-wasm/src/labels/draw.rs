//! Placed labels → device-pixel glyph paths and icon quads, and the two writers' use of
//! them: the PNG fills the glyphs with exact-area coverage and grows their halo from it by
//! distance ([`coverage`]) and samples icons bilinearly; the SVG writes the same numbers as
//! `<path>`s (the halo: the outline stroked `2 × width` with round joins, the same shape)
//! and `<image>`s. Both draw in the same order: a layer's icons,
//! then its halos, then its text (as MapLibre's passes).
//!
//! Seams: a label across a tile edge is drawn by each tile it touches, each in its own frame.
//! So that the two halves meet exactly, a label is drawn in a frame of its own: its place is
//! rounded to [`STEPS`] of a device pixel and split into a whole pixel (`at`, where the frame
//! sits on the canvas) and the rest; its glyph outlines are rasterized relative to `at`, into
//! a mask over the whole label (not the canvas's part of it), and only the blend is clipped to
//! the canvas. Every number the rasterizer sees is then the same in every tile, so the
//! coverage is too.

use std::fmt::Write as _;

use super::coverage;
use super::font::{self, Fonts, Seg};
use super::{GlyphPlace, IconPlace};
use crate::raster::gpu::Canvas;
use crate::scene::Premul;
use crate::style::{Color, SymbolPaint};
use crate::svg::base64;

/// Sub-pixel steps a label's place is rounded to (per device px): too fine to see, coarse
/// enough that the same place computed in two tiles' frames (a whole number of tiles apart,
/// and perhaps an ulp apart after their arithmetic) rounds to the same step.
const STEPS: f64 = 256.0;

/// `v` (device px) to a whole number of steps. The step boundaries sit a third of a step
/// off the halves: places are often exact binary fractions (tile coordinates over 4096,
/// glyph advances), and one exactly on a boundary would go either way on a last-bit
/// difference between two tiles' arithmetic; no binary fraction comes near a third.
fn snap(v: f64) -> f64 {
    (v * STEPS + 1.0 / 3.0).floor() / STEPS
}

/// An icon ready to draw: the sprite image over a rectangle (device px) in the frame at
/// `anchor` (device px from the label's `at`) with x axis `u`.
#[derive(Debug, Clone, Copy)]
pub struct IconDraw<'a> {
    pub image: crate::sprite::ImageRef<'a>,
    pub anchor: (f64, f64),
    pub u: (f64, f64),
    pub rect: [f64; 4],
    pub opacity: f32,
}

/// One label ready to draw. Coordinates are device px from `at`.
#[derive(Debug, Clone)]
pub struct LabelDraw<'a> {
    /// The device pixel of the canvas the label's frame starts at (its top-left corner).
    pub at: (i64, i64),
    pub icon: Option<IconDraw<'a>>,
    pub path: Vec<Seg>,
    /// Premultiplied text colour × opacity.
    pub color: Premul,
    /// The halo, if any.
    pub halo: Option<Halo>,
}

/// A label's halo: the glyphs' outline stroked `2 × width` wide, its edge softened over
/// `± ramp` (device px both).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Halo {
    /// Premultiplied halo colour × opacity.
    pub color: Premul,
    pub width: f32,
    pub ramp: f32,
}

/// Half the width, in device px, over which a halo's edge fades with `text-halo-blur`
/// `blur` (CSS px) at `dpr`: MapLibre's SDF shader fades it by a smoothstep over
/// `± 1.19 × blur` (its `halo_blur * 1.19 / SDF_PX` in distance-field units, 1/SDF_PX a
/// pixel at the glyph's size), on top of its anti-aliasing, which ours does already.
pub fn halo_ramp(blur: f32, dpr: f32) -> f32 {
    if blur > 0.0 {
        1.19 * blur * dpr
    } else {
        0.0
    }
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
    fonts: &Fonts,
    glyphs: &[GlyphPlace],
    icon: Option<&IconPlace<'a>>,
    scale: f64,
    paint: &SymbolPaint,
    dpr: f64,
) -> LabelDraw<'a> {
    let place = |p: (f64, f64)| (snap(p.0 * dpr), snap(p.1 * dpr));
    let first = glyphs
        .first()
        .map(|g| place(g.origin))
        .or(icon.map(|i| place(i.anchor)))
        .unwrap_or((0.0, 0.0));
    let at = (first.0.floor(), first.1.floor());
    let mut path = Vec::new();
    for g in glyphs {
        let outline = fonts.face(g.face).outline(g.id);
        let (ux, uy) = g.u;
        let o = place(g.origin);
        let (ox, oy) = (o.0 - at.0, o.1 - at.1);
        let map = |x: f32, y: f32| -> (f32, f32) {
            let (lx, ly) = (f64::from(x) * scale, f64::from(y) * scale);
            let dx = (ux * lx - uy * ly) * dpr;
            let dy = (uy * lx + ux * ly) * dpr;
            ((ox + dx) as f32, (oy + dy) as f32)
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
    let halo = (paint.halo_width > 0.0 && halo_color[3] > 0.0).then_some(Halo {
        color: halo_color,
        width: paint.halo_width * dpr as f32,
        ramp: halo_ramp(paint.halo_blur, dpr as f32),
    });
    LabelDraw {
        at: (at.0 as i64, at.1 as i64),
        icon: icon.map(|i| {
            let a = place(i.anchor);
            IconDraw {
                image: i.image,
                anchor: (a.0 - at.0, a.1 - at.1),
                u: i.u,
                rect: i.rect.map(|v| v * dpr),
                opacity: paint.icon_opacity,
            }
        }),
        path,
        color: premul(paint.color, paint.opacity),
        halo,
    }
}

/// Rasterizes a layer's labels: all icons, all halos, then all text. Each label's coverage
/// (glyphs, and the halo grown from them) is computed once: its halo is blended at once, its
/// glyphs' coverage kept (a byte a pixel) for the text pass.
pub fn raster(canvas: &mut Canvas, layer: &LabelLayer<'_>) {
    for l in &layer.labels {
        if let Some(i) = &l.icon {
            paint_icon(canvas, l.at, i);
        }
    }
    let mut glyphs: Vec<Option<Masks>> = Vec::with_capacity(layer.labels.len());
    for l in &layer.labels {
        let m = masks(canvas.width, canvas.height, l.at, &l.path, l.halo);
        if let (Some(h), Some(m)) = (l.halo, &m) {
            if let Some(cov) = &m.halo {
                blend(canvas, m, cov, h.color);
            }
        }
        glyphs.push(m.map(|m| Masks { halo: None, ..m }));
    }
    for (l, m) in layer.labels.iter().zip(&glyphs) {
        if let Some(m) = m {
            if l.color[3] > 0.0 {
                blend(canvas, m, &m.glyph, l.color);
            }
        }
    }
}

/// A label's coverage over a rectangle of its frame: `w × h` px from (`left`, `top`) (device
/// px of the canvas), glyphs and halo, in sixteenths ([`levels`]).
struct Masks {
    left: i64,
    top: i64,
    w: usize,
    h: usize,
    glyph: Vec<u8>,
    halo: Option<Vec<u8>>,
}

/// The coverage of `path` (device px from `at`) and, with `halo`, of its halo (within
/// `width` of the glyphs, softened over its ramp), over the path's bounds grown by the
/// halo; `None` when none of it is on the `cw × ch` canvas.
fn masks(cw: usize, ch: usize, at: (i64, i64), path: &[Seg], halo: Option<Halo>) -> Option<Masks> {
    let b = font::path_bounds(path)?;
    let grow = halo.map_or(0.0, |h| h.width.min(coverage::MAX_HALO_PX) + h.ramp.ceil()) + 2.0;
    // The mask's rectangle in the label's frame, whole pixels.
    let (mut x0, mut y0) = ((b[0] - grow).floor() as i64, (b[1] - grow).floor() as i64);
    let (mut x1, mut y1) = ((b[2] + grow).ceil() as i64, (b[3] + grow).ceil() as i64);
    let (cw, ch) = (cw as i64, ch as i64);
    if at.0 + x1 <= 0 || at.1 + y1 <= 0 || at.0 + x0 >= cw || at.1 + y0 >= ch {
        return None;
    }
    if (x1 - x0).saturating_mul(y1 - y0) > 4 * cw * ch {
        // A label many times the tile (a huge text-size): only the canvas's part of it, so
        // the mask stays bounded; such a label may then not meet its neighbour exactly.
        x0 = x0.max(-at.0);
        y0 = y0.max(-at.1);
        x1 = x1.min(cw - at.0);
        y1 = y1.min(ch - at.1);
    }
    let (w, h) = ((x1 - x0) as usize, (y1 - y0) as usize);
    if w == 0 || h == 0 {
        return None;
    }
    let glyph = coverage::fill(path, (x0 as f32, y0 as f32), w, h);
    let halo = halo.map(|hl| {
        let m = coverage::halo(&glyph, w, h, hl.width);
        if hl.ramp > 0.0 {
            levels(&soften(&m, w, h, hl.ramp))
        } else {
            levels(&m)
        }
    });
    Some(Masks {
        left: at.0 + x0,
        top: at.1 + y0,
        w,
        h,
        glyph: levels(&glyph),
        halo,
    })
}

/// Coverage rounded to sixteenths (0..=16): as many levels as a 4 × 4 supersampling
/// rasterizer's (tiny-skia's, which drew labels before). Exact coverage made the densest
/// Florence tile's PNG 6 % larger (358 against 336 kB) for edge shades nobody sees;
/// sixteenths, 337 kB.
fn levels(m: &[f32]) -> Vec<u8> {
    m.iter().map(|v| (v * 16.0).round() as u8).collect()
}

/// Blends `color` through `cov` (one of `m`'s masks) where the mask is on the canvas.
fn blend(canvas: &mut Canvas, m: &Masks, cov: &[u8], color: Premul) {
    let (cw, ch) = (canvas.width as i64, canvas.height as i64);
    let (left, top) = (m.left, m.top);
    let xs = (-left).max(0) as usize..((cw - left).min(m.w as i64)).max(0) as usize;
    for yy in (-top).max(0) as usize..((ch - top).min(m.h as i64)).max(0) as usize {
        for xx in xs.clone() {
            let c = cov[yy * m.w + xx];
            if c == 0 {
                continue;
            }
            let k = f32::from(c) / 16.0;
            canvas.blend(
                (left + xx as i64) as usize,
                (top + yy as i64) as usize,
                [color[0] * k, color[1] * k, color[2] * k, color[3] * k],
            );
        }
    }
}

/// `mask` (`w × h` coverage, 0..1) convolved, along x and then along y, with the derivative
/// of a smoothstep over `± ramp` px, integrated over each pixel: a straight edge becomes
/// MapLibre's smoothstep fade centred where the edge was. f32 sums in a fixed order, no
/// transcendental functions: the same bytes on every target.
fn soften(mask: &[f32], w: usize, h: usize, ramp: f32) -> Vec<f32> {
    let smooth = |t: f32| {
        let t = ((t / ramp + 1.0) / 2.0).clamp(0.0, 1.0);
        t * t * (3.0 - 2.0 * t)
    };
    let r = (ramp + 0.5).ceil() as isize;
    let kernel: Vec<f32> = (-r..=r)
        .map(|i| smooth(i as f32 + 0.5) - smooth(i as f32 - 0.5))
        .collect();
    let pass = |src: &[f32], along_x: bool| -> Vec<f32> {
        let mut out = vec![0.0f32; w * h];
        for y in 0..h {
            for x in 0..w {
                let mut acc = 0.0f32;
                for (k, &weight) in kernel.iter().enumerate() {
                    let d = k as isize - r;
                    let (sx, sy) = if along_x {
                        (x as isize + d, y as isize)
                    } else {
                        (x as isize, y as isize + d)
                    };
                    if sx >= 0 && sy >= 0 && (sx as usize) < w && (sy as usize) < h {
                        acc += src[sy as usize * w + sx as usize] * weight;
                    }
                }
                out[y * w + x] = acc;
            }
        }
        out
    };
    pass(&pass(mask, true), false)
        .into_iter()
        .map(|v| v.clamp(0.0, 1.0))
        .collect()
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
/// image bilinearly at the matching texel position. Pixels are walked in the label's frame
/// (from `at`), so each tile samples its part of an icon across a seam alike.
fn paint_icon(canvas: &mut Canvas, at: (i64, i64), i: &IconDraw<'_>) {
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
    // The icon's pixels in the frame, cut to the canvas's.
    let (cw, ch) = (canvas.width as i64, canvas.height as i64);
    let x0 = (min(0).floor() as i64).max(-at.0);
    let y0 = (min(1).floor() as i64).max(-at.1);
    let x1 = (max(0).ceil() as i64).min(cw - at.0);
    let y1 = (max(1).ceil() as i64).min(ch - at.1);
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
                canvas.blend((at.0 + x) as usize, (at.1 + y) as usize, px);
            }
        }
    }
}

/// A short decimal for SVG path data (2 fractional digits, no "-0").
fn n(out: &mut String, v: f64) {
    let r = (v * 100.0).round() / 100.0;
    if r == 0.0 {
        out.push('0');
    } else {
        let _ = write!(out, "{r}");
    }
}

/// SVG path data of `path` (device px from `at`), in the SVG's device px.
fn path_data(path: &[Seg], at: (i64, i64)) -> String {
    let mut d = String::with_capacity(path.len() * 16);
    let (ax, ay) = (at.0 as f64, at.1 as f64);
    let pt = |d: &mut String, c: char, xs: &[f32]| {
        d.push(c);
        for (i, v) in xs.iter().enumerate() {
            if i > 0 {
                d.push(' ');
            }
            n(d, f64::from(*v) + if i % 2 == 0 { ax } else { ay });
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

/// Writes a layer's labels as SVG (device px, no transform): icons, halos, then text; the
/// blurred halos' filters go into the document's `defs`, once each.
pub fn svg(out: &mut String, defs: &mut String, layer: &LabelLayer<'_>) {
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
            r(i.anchor.0 + l.at.0 as f64),
            r(i.anchor.1 + l.at.1 as f64),
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
    let paths: Vec<String> = layer
        .labels
        .iter()
        .map(|l| path_data(&l.path, l.at))
        .collect();
    for (l, d) in layer.labels.iter().zip(&paths) {
        if let Some(h) = l.halo {
            if d.is_empty() {
                continue;
            }
            let r = |v: f64| (v * 100.0).round() / 100.0;
            // A blurred halo: a Gaussian of the smoothstep ramp's spread (σ = ramp / √5).
            let blur = r(f64::from(h.ramp) * 0.447);
            let id = format!(r#"id="halo-blur-{blur}""#);
            if blur > 0.0 && !defs.contains(&id) {
                let _ = write!(
                    defs,
                    r#"<filter {id} x="-50%" y="-50%" width="200%" height="200%"><feGaussianBlur stdDeviation="{blur}"/></filter>"#
                );
            }
            out.push_str("<path");
            colour(out, "fill", h.color);
            colour(out, "stroke", h.color);
            let _ = write!(
                out,
                r#" stroke-width="{}" stroke-linejoin="round" stroke-linecap="round""#,
                r(f64::from(2.0 * h.width))
            );
            if blur > 0.0 {
                let _ = write!(out, r#" filter="url(#halo-blur-{blur})""#);
            }
            let _ = write!(out, r#" d="{d}"/>"#);
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

    fn paint(c: &mut Canvas, path: &[Seg], color: Premul, halo: Option<Halo>) {
        let m = masks(c.width, c.height, (0, 0), path, halo).unwrap();
        blend(c, &m, m.halo.as_ref().unwrap_or(&m.glyph), color);
    }

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
        paint(&mut c, &path, [1.0, 0.0, 0.0, 1.0], None);
        let a = c.data[(3 * 8) * 4 + 3];
        assert!((100..=160).contains(&a), "half-covered pixel: {a}");
        assert_eq!(c.data[(3 * 8 + 1) * 4 + 3], 0, "nothing right of the path");
        let mut c = Canvas::new(8, 8);
        let halo = Halo {
            color: [1.0, 0.0, 0.0, 1.0],
            width: 1.0,
            ramp: 0.0,
        };
        paint(&mut c, &path, halo.color, Some(halo));
        assert_eq!(c.data[(3 * 8) * 4 + 3], 255, "the halo covers it");
        assert!(
            c.data[(3 * 8 + 1) * 4 + 3] > 100,
            "and reaches a pixel further"
        );
    }

    #[test]
    fn a_blurred_halo_edge_fades_symmetrically_over_its_ramp() {
        // A straight vertical edge: full coverage left of x = 10, none right of it.
        let (w, h) = (20usize, 9usize);
        let mask: Vec<f32> = (0..w * h)
            .map(|i| if i % w < 10 { 1.0 } else { 0.0 })
            .collect();
        assert_eq!(soften(&mask, w, h, 0.0), mask, "no ramp, no change");
        let ramp = 2.38; // text-halo-blur 1 at @2x
        let soft = soften(&mask, w, h, ramp);
        let row: Vec<f32> = soft[4 * w..5 * w].to_vec();
        // Monotone non-increasing across the edge (away from the mask's own left border,
        // beyond which is nothing), fully on and off beyond the ramp.
        assert!(row[4..].windows(2).all(|p| p[0] >= p[1]), "{row:?}");
        assert!(row[6] > 0.999, "{row:?}");
        assert_eq!(row[13], 0.0, "{row:?}");
        assert!(
            row[9] < 1.0 && row[10] > 0.0,
            "the edge is softened: {row:?}"
        );
        // Symmetric about the edge: what leaves one side arrives on the other.
        for d in 0..4 {
            let (inside, outside) = (row[9 - d], row[10 + d]);
            assert!((inside + outside - 1.0).abs() < 1e-5, "{row:?}");
        }
        // The vertical pass leaves a column of equal values unchanged (rows away from
        // the mask's top and bottom edges).
        assert_eq!(&soft[4 * w..5 * w], &soft[3 * w..4 * w]);
    }

    #[test]
    fn svg_path_data_is_short_and_stable() {
        let d = path_data(
            &[
                Seg::Move(1.004, -0.001),
                Seg::Quad(2.0, 3.5, 4.25, 5.0),
                Seg::Close,
            ],
            (0, 0),
        );
        assert_eq!(d, "M1 0Q2 3.5 4.25 5Z");
        let d = path_data(&[Seg::Move(0.5, 1.25), Seg::Line(-3.0, 0.0)], (100, 7));
        assert_eq!(d, "M100.5 8.25L97 7");
        assert_eq!(base64(b"Man"), "TWFu");
        assert_eq!(base64(b"Ma"), "TWE=");
    }
}
