//! Features + style → a drawable scene: runs of geometry with one paint each, in draw order.
//!
//! The scene is the one description both outputs are made from: [`crate::svg`] writes it as SVG
//! text, [`crate::raster`] draws it with tiny-skia. Geometry stays in the layer's *tile extent
//! units* (integers, as decoded); each shape carries the affine map to device pixels
//! (`px = unit * coord + offset`). Paint sizes are already in device pixels.

use std::collections::HashMap;

use crate::mvt::{FeatureRef, Geometry, Layer, Point, Polygon, Tile};
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
        View {
            tile,
            data_tile,
            size,
            scale,
            zoom,
            span,
            offset,
        }
    }

    /// The output edge in device pixels.
    pub fn pixels(&self) -> u32 {
        self.size * self.scale
    }

    /// Device pixels per extent unit for a layer of `extent`.
    fn unit_scale(&self, extent: u32) -> f64 {
        f64::from(self.pixels()) * self.span / f64::from(extent)
    }

    /// The visible window in extent units, widened by a quarter tile for strokes and circles.
    fn window(&self, extent: u32) -> [f64; 4] {
        let tile_units = f64::from(extent) / self.span;
        let margin = tile_units * 0.25;
        let x0 = self.offset.0 * tile_units;
        let y0 = self.offset.1 * tile_units;
        [
            x0 - margin,
            y0 - margin,
            x0 + tile_units + margin,
            y0 + tile_units + margin,
        ]
    }
}

/// A drawable scene, bottom first.
#[derive(Debug)]
pub struct Scene<'a> {
    /// Output edge in device pixels.
    pub pixels: u32,
    pub items: Vec<Item<'a>>,
}

#[derive(Debug)]
pub enum Item<'a> {
    /// Paints the whole tile.
    Background {
        color: Color,
        opacity: f32,
    },
    Shape(Shape<'a>),
}

/// Geometry with one paint and one extent-units → pixels map.
#[derive(Debug)]
pub struct Shape<'a> {
    /// Device pixels per extent unit.
    pub unit: f64,
    /// Device-pixel offset: `px = unit * coord + offset`.
    pub offset: (f64, f64),
    /// Vertices closer than this (extent units, Manhattan) to the last kept one are dropped:
    /// half a device pixel.
    pub min_step: i64,
    /// Device pixels per CSS pixel (the output scale), e.g. for 1 px fill outlines.
    pub css_px: f64,
    pub paint: ShapePaint,
    pub geometry: Vec<Geom<'a>>,
}

/// One piece of a shape's geometry, borrowed from the decoded tile.
#[derive(Debug, Clone, Copy)]
pub enum Geom<'a> {
    Line(&'a [Point]),
    Polygon(&'a Polygon),
    Point(Point),
}

/// Paint in device pixels; colours are straight alpha, `opacity` multiplies their alpha.
#[derive(Debug, Clone, PartialEq)]
pub enum ShapePaint {
    Fill {
        color: Color,
        opacity: f32,
        outline: Option<Color>,
    },
    Line {
        color: Color,
        opacity: f32,
        /// Stroke width; with a gap, the width of each of the two side lines.
        width: f64,
        /// `line-gap-width`: the transparent middle between two side lines (casing).
        gap: f64,
        cap: LineCap,
        join: LineJoin,
        miter_limit: f64,
        /// Dash and gap lengths, device pixels.
        dashes: Option<Vec<f64>>,
    },
    Circle {
        color: Color,
        opacity: f32,
        radius: f64,
        stroke_width: f64,
        stroke_color: Color,
        stroke_opacity: f32,
    },
}

impl ShapePaint {
    /// Device pixels of the line's full width (side lines plus gap).
    pub fn line_total_width(width: f64, gap: f64) -> f64 {
        if gap > 0.0 {
            gap + 2.0 * width
        } else {
            width
        }
    }
}

/// Builds the scene for `tile` drawn with `style`.
pub fn build<'a>(tile: &'a Tile, style: &Style, view: &View) -> Scene<'a> {
    let layers: HashMap<&str, &Layer> = tile.layers.iter().map(|l| (l.name.as_str(), l)).collect();
    let mut items = Vec::new();
    for style_layer in style.layers() {
        if !style_layer.visible_at(view.zoom) {
            continue;
        }
        if style_layer.kind() == LayerKind::Background {
            if let Paint::Background { color, opacity } = style_layer.paint(None, view.zoom) {
                items.push(Item::Background { color, opacity });
            }
            continue;
        }
        if let Some(layer) = style_layer.source_layer().and_then(|name| layers.get(name)) {
            add_layer(&mut items, style_layer, layer, view);
        }
    }
    Scene {
        pixels: view.pixels(),
        items,
    }
}

fn add_layer<'a>(
    items: &mut Vec<Item<'a>>,
    style_layer: &StyleLayer,
    layer: &'a Layer,
    view: &View,
) {
    let zoom = view.zoom;
    let window = view.window(layer.extent);
    let mut selected: Vec<(f64, FeatureRef<'a>)> = Vec::new();
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
    // Stable: equal keys keep tile order, as MapLibre does.
    selected.sort_by(|a, b| a.0.total_cmp(&b.0));

    let unit = view.unit_scale(layer.extent);
    let pixels = f64::from(view.pixels());
    let offset = (-view.offset.0 * pixels, -view.offset.1 * pixels);
    let min_step = (0.5 / unit).floor() as i64;
    let device = f64::from(view.scale);
    let mut current: Option<Shape<'a>> = None;
    for (_, f) in &selected {
        let Some(paint) = shape_paint(style_layer.paint(Some(f), zoom), device) else {
            continue;
        };
        if current.as_ref().is_none_or(|s| s.paint != paint) {
            if let Some(done) = current.take() {
                items.push(Item::Shape(done));
            }
            current = Some(Shape {
                unit,
                offset,
                min_step,
                css_px: device,
                paint,
                geometry: Vec::new(),
            });
        }
        if let Some(shape) = current.as_mut() {
            match &f.feature.geometry {
                Geometry::Lines(lines) => {
                    shape.geometry.extend(lines.iter().map(|l| Geom::Line(l)))
                }
                // A line layer strokes polygon rings; a fill layer fills them.
                Geometry::Polygons(polygons) => {
                    shape.geometry.extend(polygons.iter().map(Geom::Polygon))
                }
                Geometry::Points(points) => shape
                    .geometry
                    .extend(points.iter().map(|p| Geom::Point(*p))),
                Geometry::Unknown => {}
            }
        }
    }
    if let Some(done) = current.take() {
        items.push(Item::Shape(done));
    }
}

/// Style paint → device-pixel paint; `None` when nothing would show.
fn shape_paint(paint: Paint, device: f64) -> Option<ShapePaint> {
    let visible = |c: &Color, opacity: f32| c.a * opacity > 0.0;
    match paint {
        Paint::Fill {
            color,
            opacity,
            outline_color,
            ..
        } => {
            let outline = outline_color.filter(|c| visible(c, opacity));
            (visible(&color, opacity) || outline.is_some()).then_some(ShapePaint::Fill {
                color,
                opacity,
                outline,
            })
        }
        Paint::Line {
            color,
            opacity,
            width,
            gap_width,
            dasharray,
            cap,
            join,
            miter_limit,
            ..
        } => {
            let width = f64::from(width) * device;
            if width <= 0.0 || !visible(&color, opacity) {
                return None;
            }
            // Dash lengths are in line-width multiples, at least one device pixel (MapLibre).
            let dash_unit = width.max(device);
            let dashes = dasharray.filter(|d| d.iter().any(|v| *v > 0.0)).map(|d| {
                d.iter()
                    .map(|v| f64::from(v.max(0.0)) * dash_unit)
                    .collect()
            });
            Some(ShapePaint::Line {
                color,
                opacity,
                width,
                gap: f64::from(gap_width.max(0.0)) * device,
                cap,
                join,
                miter_limit: f64::from(miter_limit.max(1.0)),
                dashes,
            })
        }
        Paint::Circle {
            color,
            opacity,
            radius,
            stroke_width,
            stroke_color,
            stroke_opacity,
            ..
        } => {
            let radius = f64::from(radius) * device;
            (radius > 0.0).then_some(ShapePaint::Circle {
                color,
                opacity,
                radius,
                stroke_width: f64::from(stroke_width.max(0.0)) * device,
                stroke_color,
                stroke_opacity,
            })
        }
        Paint::Background { .. } => None,
    }
}

impl Shape<'_> {
    /// Calls `f` with each line and polygon ring that survives simplification (see
    /// [`Shape::min_step`]), and whether it is a closed ring. A polygon whose exterior is below
    /// a pixel is dropped with its holes. Both backends draw from this one walk, so SVG and PNG
    /// always show the same vertices.
    pub fn for_each_run(&self, f: &mut dyn FnMut(&[Point], bool)) {
        let mut buf = Vec::new();
        for g in &self.geometry {
            match g {
                Geom::Line(points) => {
                    if simplified(points, false, self.min_step, &mut buf) {
                        f(&buf, false);
                    }
                }
                Geom::Polygon(polygon) => {
                    if !simplified(&polygon.exterior, true, self.min_step, &mut buf) {
                        continue;
                    }
                    f(&buf, true);
                    for hole in &polygon.holes {
                        if simplified(hole, true, self.min_step, &mut buf) {
                            f(&buf, true);
                        }
                    }
                }
                Geom::Point(_) => {}
            }
        }
    }
}

/// Calls `f` with the vertices of a run that survive simplification (see [`Shape::min_step`]);
/// returns how many there were. A ring needs three and a line two: fewer, and nothing is
/// emitted (the run is below a pixel).
fn simplified(points: &[Point], closed: bool, min_step: i64, buf: &mut Vec<Point>) -> bool {
    buf.clear();
    let Some((first, rest)) = points.split_first() else {
        return false;
    };
    buf.push(*first);
    let mut prev = *first;
    for (i, p) in rest.iter().enumerate() {
        // A line's last vertex always stays (its end must not move); a ring closes anyway.
        let keep_anyway = !closed && i + 1 == rest.len();
        let step = (p.x - prev.x).abs() + (p.y - prev.y).abs();
        if step == 0 || (step < min_step && !keep_anyway) {
            continue;
        }
        buf.push(*p);
        prev = *p;
    }
    buf.len() >= if closed { 3 } else { 2 }
}

/// Whether the geometry's bounding box meets `window` ([x0, y0, x1, y1], extent units).
fn intersects(geometry: &Geometry, window: &[f64; 4]) -> bool {
    let mut bbox = [i64::MAX, i64::MAX, i64::MIN, i64::MIN];
    let mut add = |points: &[Point]| {
        for p in points {
            bbox[0] = bbox[0].min(p.x);
            bbox[1] = bbox[1].min(p.y);
            bbox[2] = bbox[2].max(p.x);
            bbox[3] = bbox[3].max(p.y);
        }
    };
    match geometry {
        Geometry::Points(points) => add(points),
        Geometry::Lines(lines) => lines.iter().for_each(|l| add(l)),
        // Holes lie inside the exterior; its box is the polygon's box.
        Geometry::Polygons(polygons) => polygons.iter().for_each(|p| add(&p.exterior)),
        Geometry::Unknown => return false,
    }
    (bbox[0] as f64) <= window[2]
        && (bbox[2] as f64) >= window[0]
        && (bbox[1] as f64) <= window[3]
        && (bbox[3] as f64) >= window[1]
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
        assert_eq!(
            v.window(4096),
            [
                2048.0 - 512.0,
                2048.0 - 512.0,
                4096.0 + 512.0,
                4096.0 + 512.0
            ]
        );
        assert_eq!(v.unit_scale(4096), 0.25);
    }

    #[test]
    fn simplification_keeps_ends_and_drops_subpixel_runs() {
        let pts = |v: &[(i64, i64)]| v.iter().map(|&(x, y)| Point { x, y }).collect::<Vec<_>>();
        let mut buf = Vec::new();
        assert!(simplified(
            &pts(&[(0, 0), (1, 0), (2, 0), (10, 0), (11, 0)]),
            false,
            4,
            &mut buf
        ));
        assert_eq!(
            buf,
            pts(&[(0, 0), (10, 0), (11, 0)]),
            "the last vertex of a line stays"
        );
        assert!(
            !simplified(&pts(&[(0, 0), (1, 1), (2, 0)]), true, 4, &mut buf),
            "a sub-pixel ring goes"
        );
        assert!(simplified(
            &pts(&[(0, 0), (8, 0), (8, 8)]),
            true,
            4,
            &mut buf
        ));
    }
}
