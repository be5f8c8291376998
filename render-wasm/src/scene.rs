//! Features + style → a drawable scene: one [`DrawLayer`] per visible style layer, in draw
//! order, each with its features' evaluated paint.
//!
//! The scene is what both outputs are made from: [`crate::raster`] draws it the way MapLibre's
//! WebGL pipeline does, [`crate::svg`] writes it as SVG text. It keeps MapLibre's draw order
//! within a layer (tile order, stably sorted by `*-sort-key`) and the facts MapLibre's picture
//! depends on: whether a fill's outline lies under or over the fills, and which colours are
//! uniforms (exact) rather than per-vertex attributes (truncated to 8 bits).
//!
//! Geometry stays borrowed from the decoded tile, in its layer's extent units; each layer
//! carries the map to *MapLibre tile units* ([`GeomXform`]: 16 per CSS pixel, the drawn tile's
//! top-left at the origin), where MapLibre tessellates. Paint sizes are CSS pixels.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::mvt::{FeatureRef, Geometry, Layer, Point, Polygon, Tile};
use crate::sprite::{ImageRef, Sprites};
use crate::style::{
    Color, Groupings, LayerKind, LineCap, LineJoin, Paint, Style, StyleLayer, TagMemo,
};
use crate::TileId;

/// MapLibre tile units per CSS pixel.
pub const UNITS_PER_CSS_PX: f64 = 16.0;

/// A premultiplied RGBA colour, components in `0..=1`.
pub type Premul = [f32; 4];

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
        let zoom = f64::from(tile.z) + libm::log2(f64::from(size) / 512.0);
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

    /// The map from a layer's extent units to MapLibre tile units of the drawn tile.
    pub fn xform(&self, extent: u32) -> GeomXform {
        let tile_units = UNITS_PER_CSS_PX * f64::from(self.size);
        GeomXform {
            scale: tile_units * self.span / f64::from(extent.max(1)),
            offset: (self.offset.0 * tile_units, self.offset.1 * tile_units),
        }
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

/// Extent units → MapLibre tile units: `round(p · scale − offset)` (JavaScript rounding, as
/// MapLibre's geometry loader; exact for the usual power-of-two extents).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeomXform {
    pub scale: f64,
    pub offset: (f64, f64),
}

impl GeomXform {
    #[inline]
    pub fn apply(&self, p: Point) -> (f64, f64) {
        let r = |v: f64| crate::raster::gpu::floor(v + 0.5);
        (
            r(p.x as f64 * self.scale - self.offset.0),
            r(p.y as f64 * self.scale - self.offset.1),
        )
    }
}

/// A drawable scene, bottom layer first.
#[derive(Debug)]
pub struct Scene<'a> {
    /// Output edge in device pixels.
    pub pixels: u32,
    /// Device pixels per CSS pixel.
    pub scale: u32,
    /// The style zoom.
    pub zoom: f64,
    /// The drawn tile's top-left corner in world CSS pixels at the style zoom (patterns are
    /// anchored to the world's origin, as MapLibre anchors them).
    pub world_origin: (f64, f64),
    /// The tile's centre latitude, degrees (extrusion heights are scaled by it).
    pub latitude: f64,
    pub layers: Vec<DrawLayer<'a>>,
    /// Problems found while building (missing sprite images...), each once.
    pub warnings: Vec<String>,
}

/// One style layer, ready to draw.
#[derive(Debug)]
pub struct DrawLayer<'a> {
    /// The style layer's id.
    pub id: &'a str,
    pub xform: GeomXform,
    pub draw: Draw<'a>,
}

#[derive(Debug)]
pub enum Draw<'a> {
    Background {
        /// Premultiplied colour × opacity.
        color: Premul,
        pattern: Option<Pattern<'a>>,
        opacity: f32,
    },
    Fill {
        features: Vec<FillFeature<'a>>,
        /// Where the 1 px anti-aliasing outlines go (`fill-antialias`).
        outlines: Outlines,
        /// `fill-translate`, CSS px (constant per layer in practice; the first feature's).
        translate: [f32; 2],
    },
    Line {
        features: Vec<LineFeature<'a>>,
        translate: [f32; 2],
    },
    Circle {
        features: Vec<CircleFeature<'a>>,
        translate: [f32; 2],
    },
    Extrusion {
        features: Vec<ExtrusionFeature<'a>>,
        translate: [f32; 2],
        /// Every feature's opacity is 1 and constant (one pass; otherwise nearest surface only,
        /// blended once).
        opaque: bool,
    },
    /// A symbol layer's placed labels (made by the label stage, [`crate::labels`]).
    Labels(crate::labels::LabelLayer<'a>),
}

/// Where a fill layer's outlines are drawn relative to its fills, as MapLibre's depth buffer
/// decides: under them (only outside the layer's polygons) for uniform opaque fills without
/// `fill-outline-color`, over them otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outlines {
    None,
    UnderFills,
    OverFills,
}

/// A sprite image used as a pattern.
#[derive(Debug, Clone, Copy)]
pub struct Pattern<'a> {
    pub image: ImageRef<'a>,
}

#[derive(Debug)]
pub struct FillFeature<'a> {
    pub polygons: &'a [Polygon],
    /// Premultiplied fill colour × opacity.
    pub color: Premul,
    /// Premultiplied outline colour × opacity (when `fill-antialias`).
    pub outline: Option<Premul>,
    /// The outline is drawn with the pattern (a pattern fill without `fill-outline-color`).
    pub outline_pattern: bool,
    pub pattern: Option<Pattern<'a>>,
    pub opacity: f32,
}

/// Line geometry: lines, or polygon rings (closed).
#[derive(Debug, Clone, Copy)]
pub enum LineGeom<'a> {
    Lines(&'a [Vec<Point>]),
    Rings(&'a [Polygon]),
}

#[derive(Debug, Clone, PartialEq)]
pub struct LinePaint {
    /// Premultiplied colour × opacity.
    pub color: Premul,
    pub opacity: f32,
    /// CSS px.
    pub width: f32,
    pub gap_width: f32,
    pub offset: f32,
    pub blur: f32,
    pub cap: LineCap,
    pub join: LineJoin,
    pub miter_limit: f32,
    pub round_limit: f32,
    /// Dash and gap lengths in line widths.
    pub dasharray: Option<Vec<f32>>,
}

#[derive(Debug)]
pub struct LineFeature<'a> {
    pub geometry: LineGeom<'a>,
    pub paint: LinePaint,
    pub pattern: Option<Pattern<'a>>,
}

#[derive(Debug)]
pub struct CircleFeature<'a> {
    pub points: &'a [Point],
    /// Premultiplied colour × opacity, stroke colour × stroke opacity.
    pub color: Premul,
    pub stroke_color: Premul,
    /// CSS px.
    pub radius: f32,
    pub stroke_width: f32,
    pub blur: f32,
}

#[derive(Debug)]
pub struct ExtrusionFeature<'a> {
    pub polygons: &'a [Polygon],
    /// Premultiplied colour (alpha ignored by MapLibre's lighting) and opacity.
    pub color: Premul,
    pub opacity: f32,
    /// Metres.
    pub height: f32,
    pub base: f32,
    pub vertical_gradient: bool,
}

/// MapLibre's colours: premultiplied floats. Per-feature (attribute) colours are packed as
/// `floor(255 · c)` bytes per channel before the shader sees them; uniforms stay exact.
fn premul(c: Color, uniform: bool) -> Premul {
    let p = c.premultiplied();
    let q = |v: f64| {
        if uniform {
            v as f32
        } else {
            ((v * 255.0).floor() / 255.0) as f32
        }
    };
    [q(p[0]), q(p[1]), q(p[2]), q(p[3])]
}

fn times(c: Premul, k: f32) -> Premul {
    [c[0] * k, c[1] * k, c[2] * k, c[3] * k]
}

/// Builds the scene for `tile` drawn with `style`; sprite images come from `sprites`.
pub fn build<'a>(tile: &'a Tile, style: &'a Style, view: &View, sprites: &'a Sprites) -> Scene<'a> {
    // Each tile layer's index, made when a style layer first draws it.
    let mut layers: HashMap<&str, (&Layer, Option<LayerIndex>)> = tile
        .layers
        .iter()
        .map(|l| (l.name.as_str(), (l, None)))
        .collect();
    let mut scene = Scene {
        pixels: view.pixels(),
        scale: view.scale,
        zoom: view.zoom,
        world_origin: (
            f64::from(view.tile.x) * f64::from(view.size),
            f64::from(view.tile.y) * f64::from(view.size),
        ),
        latitude: tile_centre_latitude(view.tile),
        layers: Vec::new(),
        warnings: Vec::new(),
    };
    let mut missing: HashSet<String> = HashSet::new();
    // A style for another schema draws little or nothing of a tile: say so.
    let mut reads: Vec<&str> = style
        .layers()
        .iter()
        .filter(|l| l.visible_at(view.zoom))
        .filter_map(|l| l.source_layer())
        .collect();
    reads.sort_unstable();
    reads.dedup();
    let mut have: Vec<&str> = tile
        .layers
        .iter()
        .filter(|l| !l.features.is_empty())
        .map(|l| l.name.as_str())
        .chain(tile.skipped.iter().map(String::as_str))
        .collect();
    have.sort_unstable();
    let matched: Vec<&str> = reads.iter().copied().filter(|r| have.contains(r)).collect();
    let unread: Vec<&str> = have
        .iter()
        .copied()
        .filter(|h| !reads.contains(h))
        .collect();
    if !reads.is_empty() && !have.is_empty() && matched.len() * 4 < reads.len() && unread.len() >= 2
    {
        scene.warnings.push(format!(
            "the style reads {} source layer(s), of which this tile has {} ({}); the tile's layers {} are drawn by no style layer: a style for another schema?",
            reads.len(),
            matched.len(),
            if matched.is_empty() { "none".to_string() } else { matched.join(", ") },
            unread.join(", ")
        ));
    }
    for style_layer in style.layers() {
        if !style_layer.visible_at(view.zoom) {
            continue;
        }
        if style_layer.kind() == LayerKind::Background {
            if let Paint::Background {
                color,
                opacity,
                pattern,
            } = style_layer.paint(None, view.zoom)
            {
                let pattern = match pattern {
                    None => None,
                    Some(name) => match find_image(
                        sprites,
                        &name,
                        style_layer,
                        &mut missing,
                        &mut scene.warnings,
                    ) {
                        // A missing background pattern draws nothing at all (MapLibre).
                        None => continue,
                        Some(image) => Some(Pattern { image }),
                    },
                };
                scene.layers.push(DrawLayer {
                    id: style_layer.id(),
                    xform: view.xform(4096),
                    draw: Draw::Background {
                        color: times(premul(color, true), opacity),
                        pattern,
                        opacity,
                    },
                });
            }
            continue;
        }
        if let Some((layer, index)) = style_layer
            .source_layer()
            .and_then(|name| layers.get_mut(name))
        {
            let layer: &Layer = layer;
            let index = index.get_or_insert_with(|| LayerIndex::new(layer, view));
            if let Some(draw) = add_layer(
                style_layer,
                layer,
                index,
                view,
                sprites,
                &mut missing,
                &mut scene.warnings,
            ) {
                scene.layers.push(draw);
            }
        }
    }
    scene
}

/// Latitude of a tile's centre, degrees.
fn tile_centre_latitude(t: TileId) -> f64 {
    let n = f64::from(1u32 << t.z.min(31));
    let y = (f64::from(t.y) + 0.5) / n;
    libm::atan(libm::sinh(std::f64::consts::PI * (1.0 - 2.0 * y))).to_degrees()
}

fn find_image<'a>(
    sprites: &'a Sprites,
    name: &str,
    layer: &StyleLayer,
    missing: &mut HashSet<String>,
    warnings: &mut Vec<String>,
) -> Option<ImageRef<'a>> {
    let found = sprites.get(name);
    if found.is_none() && missing.insert(name.to_string()) {
        warnings.push(if sprites.is_empty() {
            format!(
                "layer \"{}\": image \"{name}\" needs the style's sprite, which was not given; nothing drawn (MapLibre draws nothing without it either)",
                layer.id()
            )
        } else {
            format!(
                "layer \"{}\": image \"{name}\" is not in the sprite; nothing drawn, as in MapLibre",
                layer.id()
            )
        });
    }
    found
}

/// What every style layer drawing one tile layer needs of its features, worked out once per
/// render: which features' bounding boxes meet the visible window, and the values of the
/// properties style expressions read ([`TagMemo`]). A 300-layer style reads the same street
/// layer a hundred times.
struct LayerIndex {
    in_window: Vec<bool>,
    groupings: Groupings,
}

impl LayerIndex {
    fn new(layer: &Layer, view: &View) -> LayerIndex {
        let window = view.window(layer.extent);
        LayerIndex {
            in_window: layer
                .features
                .iter()
                .map(|f| intersects(&f.geometry, &window))
                .collect(),
            groupings: Groupings::new(),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn add_layer<'a>(
    style_layer: &'a StyleLayer,
    layer: &'a Layer,
    index: &mut LayerIndex,
    view: &View,
    sprites: &'a Sprites,
    missing: &mut HashSet<String>,
    warnings: &mut Vec<String>,
) -> Option<DrawLayer<'a>> {
    let zoom = view.zoom;
    let kind = style_layer.kind();
    // (sort key, index in the tile layer, feature)
    let mut selected: Vec<(f64, usize, FeatureRef<'a>)> = Vec::new();
    // Filter and sort key, then paint: worked out once per distinct set of values read.
    let mut selection = TagMemo::new(style_layer, layer, &mut index.groupings);
    let mut paints = TagMemo::new(style_layer, layer, &mut index.groupings);
    for (fi, feature) in layer.features.iter().enumerate() {
        let wanted = matches!(
            (kind, &feature.geometry),
            (
                LayerKind::Fill | LayerKind::FillExtrusion,
                Geometry::Polygons(_)
            ) | (LayerKind::Line, Geometry::Lines(_) | Geometry::Polygons(_))
                | (
                    LayerKind::Circle,
                    Geometry::Points(_) | Geometry::Lines(_) | Geometry::Polygons(_)
                )
        );
        if !wanted || !index.in_window[fi] {
            continue;
        }
        let f = FeatureRef::new(layer, feature);
        let Some(key) = selection.get(fi, || {
            style_layer
                .matches(&f, zoom)
                .then(|| style_layer.sort_key(&f, zoom).unwrap_or(0.0))
        }) else {
            continue;
        };
        selected.push((key, fi, f));
    }
    if selected.is_empty() {
        return None;
    }
    // Stable: equal keys keep tile order, as MapLibre does.
    selected.sort_by(|a, b| a.0.total_cmp(&b.0));
    let uniform = style_layer.uniform_color();
    let xform = view.xform(layer.extent);
    let draw = match kind {
        LayerKind::Fill => {
            let mut features = Vec::with_capacity(selected.len());
            let mut translate = [0.0, 0.0];
            let mut opaque_uniform = uniform;
            let mut any_outline = false;
            for (i, &(_, fi, ref f)) in selected.iter().enumerate() {
                let Geometry::Polygons(polygons) = &f.feature.geometry else {
                    continue;
                };
                let Paint::Fill {
                    color,
                    opacity,
                    outline_color,
                    antialias,
                    pattern,
                    translate: t,
                } = paints.get(fi, || style_layer.paint(Some(f), zoom))
                else {
                    continue;
                };
                if i == 0 {
                    translate = t;
                }
                // MapLibre's vertex shader drops everything below 1 % opacity.
                if opacity < 0.01 {
                    continue;
                }
                let pattern = match pattern {
                    None => None,
                    Some(name) => {
                        match find_image(sprites, &name, style_layer, missing, warnings) {
                            None => continue,
                            Some(image) => Some(Pattern { image }),
                        }
                    }
                };
                let fill = premul(color, uniform);
                opaque_uniform &= pattern.is_none() && fill[3] >= 1.0 && opacity >= 1.0;
                let outline = antialias.then(|| {
                    any_outline = true;
                    times(premul(outline_color.unwrap_or(color), uniform), opacity)
                });
                features.push(FillFeature {
                    polygons,
                    color: times(fill, opacity),
                    outline,
                    outline_pattern: pattern.is_some() && outline_color.is_none(),
                    pattern,
                    opacity,
                });
            }
            let outlines = if !any_outline {
                Outlines::None
            } else if opaque_uniform && !style_layer.has_outline_color() {
                Outlines::UnderFills
            } else {
                Outlines::OverFills
            };
            Draw::Fill {
                features,
                outlines,
                translate,
            }
        }
        LayerKind::Line => {
            let mut features = Vec::with_capacity(selected.len());
            let mut translate = [0.0, 0.0];
            for (i, &(_, fi, ref f)) in selected.iter().enumerate() {
                let geometry = match &f.feature.geometry {
                    Geometry::Lines(l) => LineGeom::Lines(l),
                    Geometry::Polygons(p) => LineGeom::Rings(p),
                    _ => continue,
                };
                let Paint::Line {
                    color,
                    opacity,
                    width,
                    gap_width,
                    offset,
                    dasharray,
                    cap,
                    join,
                    miter_limit,
                    round_limit,
                    blur,
                    pattern,
                    translate: t,
                } = paints.get(fi, || style_layer.paint(Some(f), zoom))
                else {
                    continue;
                };
                if i == 0 {
                    translate = t;
                }
                if opacity < 0.01 || (width <= 0.0 && gap_width <= 0.0) {
                    continue;
                }
                let pattern = match pattern {
                    None => None,
                    Some(name) => {
                        match find_image(sprites, &name, style_layer, missing, warnings) {
                            None => continue,
                            Some(image) => Some(Pattern { image }),
                        }
                    }
                };
                features.push(LineFeature {
                    geometry,
                    paint: LinePaint {
                        color: times(premul(color, uniform), opacity),
                        opacity,
                        width,
                        gap_width,
                        offset,
                        blur,
                        cap,
                        join,
                        miter_limit,
                        round_limit,
                        dasharray: dasharray
                            .filter(|d| !d.is_empty() && d.iter().any(|v| *v > 0.0)),
                    },
                    pattern,
                });
            }
            Draw::Line {
                features,
                translate,
            }
        }
        LayerKind::Circle => {
            let mut features = Vec::with_capacity(selected.len());
            let mut translate = [0.0, 0.0];
            for (i, &(_, fi, ref f)) in selected.iter().enumerate() {
                let Paint::Circle {
                    color,
                    opacity,
                    radius,
                    stroke_width,
                    stroke_color,
                    stroke_opacity,
                    blur,
                    translate: t,
                } = paints.get(fi, || style_layer.paint(Some(f), zoom))
                else {
                    continue;
                };
                if i == 0 {
                    translate = t;
                }
                let visible = opacity > 0.0 || (stroke_width > 0.0 && stroke_opacity > 0.0);
                if !visible || radius + stroke_width <= 0.0 {
                    continue;
                }
                let points: &[Point] = match &f.feature.geometry {
                    Geometry::Points(p) => p,
                    // Circles of line and polygon features sit on their vertices (rare).
                    Geometry::Lines(l) => match l.first() {
                        Some(first) => first,
                        None => continue,
                    },
                    Geometry::Polygons(p) => match p.first() {
                        Some(first) => &first.exterior,
                        None => continue,
                    },
                    Geometry::Unknown => continue,
                };
                features.push(CircleFeature {
                    points,
                    color: times(premul(color, uniform), opacity),
                    stroke_color: times(premul(stroke_color, uniform), stroke_opacity),
                    radius,
                    stroke_width,
                    blur,
                });
            }
            Draw::Circle {
                features,
                translate,
            }
        }
        LayerKind::FillExtrusion => {
            let mut features = Vec::with_capacity(selected.len());
            let mut translate = [0.0, 0.0];
            let mut opaque = uniform;
            for (i, &(_, fi, ref f)) in selected.iter().enumerate() {
                let Geometry::Polygons(polygons) = &f.feature.geometry else {
                    continue;
                };
                let Paint::FillExtrusion {
                    color,
                    opacity,
                    height,
                    base,
                    vertical_gradient,
                    pattern,
                    translate: t,
                } = paints.get(fi, || style_layer.paint(Some(f), zoom))
                else {
                    continue;
                };
                if i == 0 {
                    translate = t;
                }
                if opacity <= 0.0 {
                    continue;
                }
                if let Some(name) = pattern {
                    if missing.insert(format!("extrusion-pattern:{name}")) {
                        warnings.push(format!(
                            "layer \"{}\": fill-extrusion-pattern is not supported; drawn with fill-extrusion-color",
                            style_layer.id()
                        ));
                    }
                }
                opaque &= opacity >= 1.0;
                features.push(ExtrusionFeature {
                    polygons,
                    color: premul(color, uniform),
                    opacity,
                    height,
                    base,
                    vertical_gradient,
                });
            }
            Draw::Extrusion {
                features,
                translate,
                opaque,
            }
        }
        // Symbol layers are the label stage's (crate::labels), placed across layers.
        LayerKind::Background | LayerKind::Symbol => return None,
    };
    Some(DrawLayer {
        id: style_layer.id(),
        xform,
        draw,
    })
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

/// A shared, immutable handle to sprite sheets, for callers that build scenes repeatedly.
pub type SharedSprites = Arc<Sprites>;

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
    fn overzoom_maps_the_quadrant_onto_the_tile() {
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
        let x = v.xform(4096);
        // The data tile's centre is the drawn tile's top-left; its corner the drawn corner.
        assert_eq!(x.apply(Point { x: 2048, y: 2048 }), (0.0, 0.0));
        assert_eq!(x.apply(Point { x: 4096, y: 4096 }), (8192.0, 8192.0));
    }

    #[test]
    fn a_256_px_tile_has_4096_units() {
        let t = TileId { z: 3, x: 1, y: 1 };
        let x = View::new(t, t, 256, 1).xform(4096);
        assert_eq!(x.apply(Point { x: 4096, y: 0 }), (4096.0, 0.0));
    }
}
