//! Scene → SVG: decoded features + evaluated style → SVG text.
//!
//! Coordinates are written in the layer's *tile extent units* (integers, exactly as decoded)
//! inside a `<g transform>` that maps them to output pixels; stroke widths and radii are
//! divided by that transform's scale so they stay in pixels. The tile's own data beyond its
//! edge (the buffer) is drawn too and clipped by the viewBox, so shapes crossing tile edges
//! join seamlessly with the neighbours.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::mvt::{FeatureRef, Geometry, Layer, Point, Tile};
use crate::style::{Color, LayerKind, LineCap, LineJoin, Paint, Style, StyleLayer};
use crate::TileId;

/// What part of the world is drawn, at what size, with what style zoom.
#[derive(Debug, Clone, Copy)]
pub struct View {
    /// The tile drawn.
    pub tile: TileId,
    /// The tile whose data is drawn (the same, or an ancestor when overzooming).
    pub data_tile: TileId,
    /// Tile edge in CSS pixels (256 or 512).
    pub size: u32,
    /// Device pixel ratio (1 or 2).
    pub scale: u32,
    /// The style zoom: `z` for 512 px tiles, `z - 1` for 256 px tiles (as MapLibre).
    pub zoom: f64,
    /// How many drawn tiles span one data tile, per axis: 2^(z - data z).
    span: f64,
    /// The drawn tile's offset inside the data tile, in drawn-tile units.
    offset: (f64, f64),
}

impl View {
    pub fn new(tile: TileId, data_tile: TileId, size: u32, scale: u32) -> View {
        let dz = tile.z.saturating_sub(data_tile.z);
        let span = f64::from(1u32 << dz.min(31));
        let offset = (
            f64::from(tile.x) - f64::from(data_tile.x) * span,
            f64::from(tile.y) - f64::from(data_tile.y) * span,
        );
        let zoom = f64::from(tile.z) + (f64::from(size) / 512.0).log2();
        View { tile, data_tile, size, scale, zoom, span, offset }
    }

    /// The output edge in device pixels.
    pub fn pixels(&self) -> u32 {
        self.size * self.scale
    }

    /// Pixels per extent unit for a layer of `extent`.
    fn unit_scale(&self, extent: u32) -> f64 {
        f64::from(self.pixels()) * self.span / f64::from(extent)
    }

    /// The visible window in extent units, widened by a quarter tile for strokes and circles.
    fn window(&self, extent: u32) -> [f64; 4] {
        let tile_units = f64::from(extent) / self.span;
        let margin = tile_units * 0.25;
        let x0 = self.offset.0 * tile_units;
        let y0 = self.offset.1 * tile_units;
        [x0 - margin, y0 - margin, x0 + tile_units + margin, y0 + tile_units + margin]
    }
}

/// Builds the SVG document for `tile` drawn with `style`.
pub fn build_svg(tile: &Tile, style: &Style, view: &View) -> String {
    let px = view.pixels();
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{px}" height="{px}" viewBox="0 0 {px} {px}">"#
    );
    let layers: HashMap<&str, &Layer> = tile.layers.iter().map(|l| (l.name.as_str(), l)).collect();
    let mut ctx = Ctx { out, mask_id: 0 };
    for style_layer in style.layers() {
        if !style_layer.visible_at(view.zoom) {
            continue;
        }
        if style_layer.kind() == LayerKind::Background {
            if let Paint::Background { color, opacity } = style_layer.paint(None, view.zoom) {
                let _ = write!(ctx.out, r#"<rect width="{px}" height="{px}""#);
                write_color(&mut ctx.out, "fill", color, opacity);
                ctx.out.push_str("/>");
            }
            continue;
        }
        let Some(layer) = style_layer.source_layer().and_then(|name| layers.get(name)) else {
            continue;
        };
        draw_layer(&mut ctx, style_layer, layer, view);
    }
    ctx.out.push_str("</svg>");
    ctx.out
}

struct Ctx {
    out: String,
    mask_id: u32,
}

/// A run of consecutive features with identical paint, drawn as one `<path>`.
struct Group {
    attrs: String,
    data: String,
    /// Set for lines with `line-gap-width`: (outer width, gap width) in user units.
    casing: Option<(f64, f64)>,
}

fn draw_layer(ctx: &mut Ctx, style_layer: &StyleLayer, layer: &Layer, view: &View) {
    let zoom = view.zoom;
    let window = view.window(layer.extent);
    let mut selected: Vec<(f64, FeatureRef<'_>)> = Vec::new();
    for feature in &layer.features {
        let wanted = matches!(
            (style_layer.kind(), &feature.geometry),
            (LayerKind::Fill, Geometry::Polygons(_))
                | (LayerKind::Line, Geometry::Lines(_) | Geometry::Polygons(_))
                | (LayerKind::Circle, Geometry::Points(_))
        );
        if !wanted || !intersects(&feature.geometry, &window) {
            continue;
        }
        let f = FeatureRef::new(layer, feature);
        if !style_layer.matches(&f, zoom) {
            continue;
        }
        let key = style_layer.sort_key(&f, zoom).unwrap_or(0.0);
        selected.push((key, f));
    }
    if selected.is_empty() {
        return;
    }
    // Stable: equal keys keep tile order, as MapLibre does.
    selected.sort_by(|a, b| a.0.total_cmp(&b.0));

    let unit = view.unit_scale(layer.extent);
    let to_px = 1.0 / unit;
    let tx = -view.offset.0 * f64::from(view.pixels());
    let ty = -view.offset.1 * f64::from(view.pixels());
    let _ = write!(ctx.out, r#"<g transform="matrix({} 0 0 {} {} {})">"#, num(unit), num(unit), num(tx), num(ty));
    let device = f64::from(view.scale);
    let mut group: Option<Group> = None;
    for (_, f) in &selected {
        let paint = style_layer.paint(Some(f), zoom);
        let mut attrs = String::with_capacity(96);
        let mut casing = None;
        let drawn = match &paint {
            Paint::Fill { color, opacity, outline_color, .. } => {
                write_color(&mut attrs, "fill", *color, *opacity);
                if let Some(outline) = outline_color {
                    write_color(&mut attrs, "stroke", *outline, *opacity);
                    let _ = write!(attrs, r#" stroke-width="{}""#, num(device * to_px));
                }
                color.a * opacity > 0.0 || outline_color.is_some_and(|c| c.a * opacity > 0.0)
            }
            Paint::Line { color, opacity, width, gap_width, dasharray, cap, join, miter_limit, .. } => {
                let width = f64::from(*width) * device * to_px;
                let gap = f64::from(*gap_width) * device * to_px;
                let total = if gap > 0.0 { gap + 2.0 * width } else { width };
                attrs.push_str(r#" fill="none""#);
                write_color(&mut attrs, "stroke", *color, *opacity);
                let _ = write!(attrs, r#" stroke-width="{}""#, num(total));
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
                if *join == LineJoin::Miter && (*miter_limit - 4.0).abs() > f32::EPSILON {
                    let _ = write!(attrs, r#" stroke-miterlimit="{}""#, num(f64::from(miter_limit.max(1.0))));
                }
                if let Some(dashes) = dasharray.as_ref().filter(|d| d.iter().any(|v| *v > 0.0)) {
                    // Dash lengths are in line-width multiples; MapLibre draws them at least 1 px.
                    let unit_len = width.max(device * to_px);
                    attrs.push_str(r#" stroke-dasharray=""#);
                    for (i, d) in dashes.iter().enumerate() {
                        if i > 0 {
                            attrs.push(' ');
                        }
                        attrs.push_str(&num(f64::from(d.max(0.0)) * unit_len));
                    }
                    attrs.push('"');
                }
                if gap > 0.0 {
                    casing = Some((total, gap));
                }
                width > 0.0 && color.a * opacity > 0.0
            }
            Paint::Circle { color, opacity, radius, stroke_width, stroke_color, stroke_opacity, .. } => {
                let r = f64::from(*radius) * device * to_px;
                let sw = f64::from(*stroke_width) * device * to_px;
                write_color(&mut attrs, "fill", *color, *opacity);
                if sw > 0.0 {
                    write_color(&mut attrs, "stroke", *stroke_color, *stroke_opacity);
                    let _ = write!(attrs, r#" stroke-width="{}""#, num(sw));
                }
                let _ = write!(attrs, r#" data-r="{}""#, num(r));
                r > 0.0
            }
            Paint::Background { .. } => false,
        };
        if !drawn {
            continue;
        }
        if group.as_ref().is_none_or(|g| g.attrs != attrs) {
            if let Some(g) = group.take() {
                flush(ctx, g);
            }
            group = Some(Group { attrs, data: String::new(), casing });
        }
        if let Some(g) = group.as_mut() {
            match &paint {
                Paint::Circle { radius, .. } => {
                    write_circles(&mut g.data, &f.feature.geometry, f64::from(*radius) * device * to_px)
                }
                _ => write_geometry(&mut g.data, &f.feature.geometry),
            }
        }
    }
    if let Some(g) = group.take() {
        flush(ctx, g);
    }
    ctx.out.push_str("</g>");
}

fn flush(ctx: &mut Ctx, g: Group) {
    if g.data.is_empty() {
        return;
    }
    let attrs = strip_data_r(&g.attrs);
    match g.casing {
        None => {
            let _ = write!(ctx.out, r#"<path{attrs} d="{}"/>"#, g.data);
        }
        Some((total, gap)) => {
            // line-gap-width: two parallel lines with a transparent gap, drawn as a wide stroke
            // masked by the gap's stroke.
            ctx.mask_id += 1;
            let id = ctx.mask_id;
            let _ = write!(
                ctx.out,
                r##"<mask id="gap{id}" maskUnits="userSpaceOnUse" x="-100000" y="-100000" width="200000" height="200000"><path fill="none" stroke="#fff" stroke-width="{}" d="{d}"/><path fill="none" stroke="#000" stroke-width="{}" d="{d}"/></mask><path{attrs} mask="url(#gap{id})" d="{d}"/>"##,
                num(total),
                num(gap),
                d = g.data
            );
        }
    }
}

/// Circle radius rides in the attribute string only to split groups by radius.
fn strip_data_r(attrs: &str) -> &str {
    match attrs.find(" data-r=") {
        Some(i) => &attrs[..i],
        None => attrs,
    }
}

fn write_color(out: &mut String, what: &str, color: Color, opacity: f32) {
    let _ = write!(out, r##" {what}="#{:02x}{:02x}{:02x}""##, color.r, color.g, color.b);
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

/// Writes a ring or line as `M x y l dx dy …` (relative, as MVT encodes it).
fn write_run(out: &mut String, points: &[Point], close: bool) {
    let Some(first) = points.first() else { return };
    out.push('M');
    push_int(out, first.x);
    out.push(' ');
    push_int(out, first.y);
    if points.len() > 1 {
        out.push('l');
        let mut prev = *first;
        for (i, p) in points[1..].iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            push_int(out, p.x - prev.x);
            out.push(' ');
            push_int(out, p.y - prev.y);
            prev = *p;
        }
    }
    if close {
        out.push('z');
    }
}

fn write_geometry(out: &mut String, geometry: &Geometry) {
    match geometry {
        Geometry::Lines(lines) => {
            for line in lines {
                write_run(out, line, false);
            }
        }
        Geometry::Polygons(polygons) => {
            for polygon in polygons {
                write_run(out, &polygon.exterior, true);
                for hole in &polygon.holes {
                    write_run(out, hole, true);
                }
            }
        }
        Geometry::Points(_) | Geometry::Unknown => {}
    }
}

fn write_circles(out: &mut String, geometry: &Geometry, r: f64) {
    if let Geometry::Points(points) = geometry {
        let (r_s, d_s) = (num(r), num(2.0 * r));
        for p in points {
            let _ = write!(
                out,
                "M{} {}a{r_s} {r_s} 0 1 0 {d_s} 0a{r_s} {r_s} 0 1 0 -{d_s} 0z",
                num(p.x as f64 - r),
                p.y
            );
        }
    }
}

/// Whether the geometry's bounding box meets `window` ([x0, y0, x1, y1], extent units).
fn intersects(geometry: &Geometry, window: &[f64; 4]) -> bool {
    let mut bbox = [f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY];
    let mut add = |points: &[Point]| {
        for p in points {
            let (x, y) = (p.x as f64, p.y as f64);
            bbox[0] = bbox[0].min(x);
            bbox[1] = bbox[1].min(y);
            bbox[2] = bbox[2].max(x);
            bbox[3] = bbox[3].max(y);
        }
    };
    match geometry {
        Geometry::Points(points) => add(points),
        Geometry::Lines(lines) => lines.iter().for_each(|l| add(l)),
        // Holes lie inside the exterior; its box is the polygon's box.
        Geometry::Polygons(polygons) => polygons.iter().for_each(|p| add(&p.exterior)),
        Geometry::Unknown => return false,
    }
    bbox[0] <= window[2] && bbox[2] >= window[0] && bbox[1] <= window[3] && bbox[3] >= window[1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn style_zoom_follows_maplibre() {
        let t = TileId { z: 14, x: 0, y: 0 };
        assert_eq!(View::new(t, t, 512, 1).zoom, 14.0);
        assert_eq!(View::new(t, t, 256, 2).zoom, 13.0);
    }

    #[test]
    fn overzoom_window_is_the_quadrant() {
        let data = TileId { z: 1, x: 0, y: 0 };
        let tile = TileId { z: 2, x: 1, y: 1 };
        let v = View::new(tile, data, 512, 1);
        let w = v.window(4096);
        assert_eq!(w, [2048.0 - 512.0, 2048.0 - 512.0, 4096.0 + 512.0, 4096.0 + 512.0]);
        assert_eq!(v.unit_scale(4096), 0.25);
    }

    #[test]
    fn numbers_are_short_and_stable() {
        assert_eq!(num(1.0), "1");
        assert_eq!(num(0.333333), "0.3333");
        assert_eq!(num(-0.00001), "0");
    }
}
