//! Scene → pixels → PNG, drawn the way MapLibre GL JS draws the same layers with WebGL.
//!
//! | module | what |
//! |---|---|
//! | [`gpu`] | the canvas, blending, and the GPU's rasterization rules (triangles, GL lines) |
//! | [`fill`] | polygon fills (aliased, as MapLibre) and their 1 px outlines |
//! | [`tessellate`], [`line`], [`dash`] | MapLibre's line strips, line shader and dash atlas |
//! | [`circle`], [`extrusion`], [`pattern`] | circles, lit extrusions, sprite patterns |
//! | [`png`] | the PNG encoder |
//!
//! Layers are drawn bottom to top; within a layer, features in scene order. For 2D layers this
//! painter's order gives exactly the picture of MapLibre's opaque pass + depth test +
//! translucent pass, with one exception the scene already settles: where a fill's outline goes
//! ([`Outlines`]).

pub mod circle;
pub mod dash;
pub mod extrusion;
pub mod fill;
pub mod gpu;
pub mod line;
pub mod pattern;
pub mod png;
pub mod tessellate;

use std::collections::HashMap;

use crate::mvt::{Point, Polygon};
use crate::scene::{Draw, DrawLayer, GeomXform, LineGeom, Outlines, Scene, UNITS_PER_CSS_PX};
use crate::RenderError;
use gpu::{Canvas, SolidBlender};

pub use png::encode_png;

/// Shaded pixels a render may spend, per pixel of its canvas: real tiles stay far below (the
/// densest case of the reference and parity suites shades 1.7), hostile sizes and geometry far
/// above.
pub const FRAGMENTS_PER_PIXEL: u64 = 16;

/// Draws the scene and encodes it as PNG. A scene that needs more than
/// [`FRAGMENTS_PER_PIXEL`] shaded pixels per canvas pixel is refused (the tile's sizes or
/// geometry are beyond any picture), so no tile can make a render run without bound.
pub fn scene_to_png(scene: &Scene<'_>, profile: png::PngProfile) -> Result<Vec<u8>, RenderError> {
    let px = u64::from(scene.pixels);
    gpu::start_budget(px * px * FRAGMENTS_PER_PIXEL);
    let canvas = draw(scene);
    let over = gpu::over_budget();
    gpu::start_budget(u64::MAX);
    if over {
        return Err(RenderError::LimitExceeded(format!(
            "drawing the tile needs more than {FRAGMENTS_PER_PIXEL} shaded pixels per pixel of the {px}×{px} canvas"
        )));
    }
    png::encode_png_with(
        canvas.width as u32,
        canvas.height as u32,
        &canvas.data,
        profile,
    )
}

/// Draws the scene into a premultiplied RGBA8 canvas of `scene.pixels` square.
pub fn draw(scene: &Scene<'_>) -> Canvas {
    let px = scene.pixels as usize;
    let mut canvas = Canvas::new(px, px);
    let mut blenders = BlenderCache::default();
    for layer in &scene.layers {
        draw_layer(&mut canvas, scene, layer, &mut blenders);
    }
    canvas
}

/// Lookup-table blenders for the colours of a render (a layer's features mostly share one).
#[derive(Default)]
struct BlenderCache {
    map: HashMap<[u32; 4], SolidBlender>,
}

impl BlenderCache {
    fn get(&mut self, c: [f32; 4]) -> &SolidBlender {
        if self.map.len() > 256 {
            self.map.clear();
        }
        self.map
            .entry(c.map(f32::to_bits))
            .or_insert_with(|| SolidBlender::new(c))
    }
}

/// Snapped device positions of a layer's geometry (1/16 device px).
struct Device {
    xform: GeomXform,
    /// Device px per tile unit.
    scale: f64,
    /// Translation, device px.
    translate: (f64, f64),
}

impl Device {
    fn new(xform: GeomXform, dpr: f64, translate: [f32; 2]) -> Device {
        Device {
            xform,
            scale: dpr / UNITS_PER_CSS_PX,
            translate: (f64::from(translate[0]) * dpr, f64::from(translate[1]) * dpr),
        }
    }

    #[inline]
    fn snapped(&self, p: Point) -> (i64, i64) {
        let (x, y) = self.xform.apply(p);
        (
            gpu::snap(x * self.scale + self.translate.0),
            gpu::snap(y * self.scale + self.translate.1),
        )
    }

    fn rings(&self, polygon: &Polygon) -> Vec<fill::Ring> {
        let mut out = Vec::with_capacity(1 + polygon.holes.len());
        out.push(polygon.exterior.iter().map(|&p| self.snapped(p)).collect());
        for hole in &polygon.holes {
            out.push(hole.iter().map(|&p| self.snapped(p)).collect());
        }
        out
    }
}

fn draw_layer(
    canvas: &mut Canvas,
    scene: &Scene<'_>,
    layer: &DrawLayer<'_>,
    blenders: &mut BlenderCache,
) {
    let dpr = f64::from(scene.scale);
    let (w, h) = (canvas.width, canvas.height);
    match &layer.draw {
        Draw::Labels(labels) => crate::labels::draw::raster(canvas, labels),
        Draw::Background {
            color,
            pattern,
            opacity,
        } => match pattern {
            None => {
                let b = blenders.get(*color);
                for y in 0..h {
                    b.span(canvas, y, 0, w);
                }
            }
            Some(p) => {
                let sampler = pattern::Sampler::new(p.image);
                for y in 0..h {
                    for x in 0..w {
                        let c = sampler.at_world(
                            scene.world_origin.0 + (x as f64 + 0.5) / dpr,
                            scene.world_origin.1 + (y as f64 + 0.5) / dpr,
                        );
                        canvas.blend(x, y, c.map(|v| v * opacity));
                    }
                }
            }
        },
        Draw::Fill {
            features,
            outlines,
            translate,
        } => {
            let dev = Device::new(layer.xform, dpr, *translate);
            let shapes: Vec<Vec<Vec<fill::Ring>>> = features
                .iter()
                .map(|f| f.polygons.iter().map(|p| dev.rings(p)).collect())
                .collect();
            let world = |x: usize, y: usize| {
                (
                    scene.world_origin.0 + (x as f64 + 0.5) / dpr - f64::from(translate[0]),
                    scene.world_origin.1 + (y as f64 + 0.5) / dpr - f64::from(translate[1]),
                )
            };
            let draw_outlines = |canvas: &mut Canvas| {
                for (f, polygons) in features.iter().zip(&shapes) {
                    let Some(color) = f.outline else { continue };
                    let sampler = f
                        .pattern
                        .filter(|_| f.outline_pattern)
                        .map(|p| pattern::Sampler::new(p.image));
                    for rings in polygons {
                        match &sampler {
                            None => fill::outline(canvas, rings, |_, _| color),
                            Some(s) => fill::outline(canvas, rings, |x, y| {
                                let (wx, wy) = world(x, y);
                                s.at_world(wx, wy).map(|v| v * f.opacity)
                            }),
                        }
                    }
                }
            };
            if *outlines == Outlines::UnderFills {
                draw_outlines(canvas);
            }
            for (f, polygons) in features.iter().zip(&shapes) {
                match f.pattern {
                    None => {
                        let b = blenders.get(f.color);
                        for rings in polygons {
                            fill::scan_polygon(w, h, rings, |y, x0, x1| b.span(canvas, y, x0, x1));
                        }
                    }
                    Some(p) => {
                        let s = pattern::Sampler::new(p.image);
                        for rings in polygons {
                            fill::scan_polygon(w, h, rings, |y, x0, x1| {
                                for x in x0..x1 {
                                    let (wx, wy) = world(x, y);
                                    let c = s.at_world(wx, wy);
                                    canvas.blend(x, y, c.map(|v| v * f.opacity));
                                }
                            });
                        }
                    }
                }
            }
            if *outlines == Outlines::OverFills {
                draw_outlines(canvas);
            }
        }
        Draw::Line {
            features,
            translate,
        } => {
            let mut dashes: HashMap<(Vec<u32>, bool, u32), Option<dash::DashRow>> = HashMap::new();
            for f in features {
                let paint = &f.paint;
                let layout = tessellate::LineLayout {
                    join: paint.join,
                    cap: paint.cap,
                    miter_limit: f64::from(paint.miter_limit),
                    round_limit: f64::from(paint.round_limit),
                };
                let mut strip = tessellate::Strip::default();
                let tile = |p: Point| layer.xform.apply(p);
                match f.geometry {
                    LineGeom::Lines(lines) => {
                        for l in lines {
                            let v: Vec<(f64, f64)> = l.iter().map(|&p| tile(p)).collect();
                            tessellate::add_line(&mut strip, &v, false, layout);
                        }
                    }
                    LineGeom::Rings(polygons) => {
                        for polygon in polygons {
                            for ring in std::iter::once(&polygon.exterior).chain(&polygon.holes) {
                                // MapLibre's rings repeat their first vertex at the end.
                                let mut v: Vec<(f64, f64)> =
                                    ring.iter().map(|&p| tile(p)).collect();
                                if let Some(&first) = v.first() {
                                    v.push(first);
                                }
                                tessellate::add_line(&mut strip, &v, true, layout);
                            }
                        }
                    }
                }
                if strip.triangles.is_empty() {
                    continue;
                }
                let dash = match (&paint.dasharray, f.pattern) {
                    (Some(d), None) => {
                        let round = paint.cap == crate::style::LineCap::Round;
                        dashes
                            .entry((
                                d.iter().map(|v| v.to_bits()).collect(),
                                round,
                                paint.width.to_bits(),
                            ))
                            .or_insert_with(|| {
                                dash::DashRow::new(d, round, paint.width, scene.scale as f32)
                            })
                            .as_ref()
                    }
                    _ => None,
                };
                let sampler = f.pattern.map(|p| pattern::Sampler::new(p.image));
                line::draw_strip(
                    canvas,
                    &strip,
                    &line::LineShader {
                        color: paint.color,
                        opacity: paint.opacity,
                        width: paint.width,
                        gap_width: paint.gap_width,
                        offset: paint.offset,
                        blur: paint.blur,
                        dpr: scene.scale as f32,
                        translate: *translate,
                        dash,
                        pattern: sampler.as_ref(),
                    },
                );
            }
        }
        Draw::Circle {
            features,
            translate,
        } => {
            for f in features {
                let shader = circle::CircleShader {
                    color: f.color,
                    stroke_color: f.stroke_color,
                    radius: f.radius,
                    stroke_width: f.stroke_width,
                    blur: f.blur,
                    dpr: scene.scale as f32,
                };
                for &p in f.points {
                    let (x, y) = layer.xform.apply(p);
                    let c = (
                        (x / UNITS_PER_CSS_PX + f64::from(translate[0])) * dpr,
                        (y / UNITS_PER_CSS_PX + f64::from(translate[1])) * dpr,
                    );
                    circle::draw_circle(canvas, c, &shader);
                }
            }
        }
        Draw::Extrusion {
            features,
            translate,
            opaque,
        } => {
            let css = |p: Point| {
                let (x, y) = layer.xform.apply(p);
                (
                    x / UNITS_PER_CSS_PX + f64::from(translate[0]),
                    y / UNITS_PER_CSS_PX + f64::from(translate[1]),
                )
            };
            let rings: Vec<Vec<Vec<(f64, f64)>>> = features
                .iter()
                .flat_map(|f| f.polygons.iter())
                .map(|p| {
                    std::iter::once(&p.exterior)
                        .chain(&p.holes)
                        .map(|r| r.iter().map(|&q| css(q)).collect())
                        .collect()
                })
                .collect();
            let mut items = Vec::with_capacity(rings.len());
            let mut k = 0;
            for f in features {
                for _ in f.polygons {
                    items.push(extrusion::Extruded {
                        rings: &rings[k],
                        color: f.color,
                        opacity: f.opacity,
                        height: f.height,
                        base: f.base,
                        vertical_gradient: f.vertical_gradient,
                    });
                    k += 1;
                }
            }
            let size_css = f64::from(scene.pixels) / dpr;
            let camera = extrusion::Camera::new(size_css, scene.zoom, scene.latitude, dpr);
            extrusion::draw_layer(canvas, &camera, &items, *opaque);
        }
    }
}
