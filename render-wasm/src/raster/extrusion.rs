//! `fill-extrusion` seen from straight above, as MapLibre draws it: *not* flat. Its camera
//! sits 1.5 canvas heights above the canvas centre, so roofs are drawn scaled away from the
//! centre by `D / (D − h)` and the walls facing the centre show; each vertex is lit by the
//! style's default light (from the north-west, intensity 0.5), walls darkened towards their
//! base (`fill-extrusion-vertical-gradient`). Every pixel shows the nearest surface only (a
//! depth buffer), blended once with the layer's opacity.

use super::fill::{scan_polygon, Ring};
use super::gpu::{snap, triangle, Canvas, Premul};

/// The default light's direction (`sphericalToCartesian([1.15, 210, 30])`).
const LIGHT: [f32; 3] = [0.2875, -0.497_964_6, 0.995_929_2];
const LIGHT_INTENSITY: f32 = 0.5;

/// One polygon ring to extrude, in CSS px of the canvas (y down).
pub struct Extruded<'a> {
    pub rings: &'a [Vec<(f64, f64)>],
    /// Premultiplied colour (its alpha is ignored by MapLibre's lighting).
    pub color: Premul,
    pub opacity: f32,
    /// Metres.
    pub height: f32,
    pub base: f32,
    pub vertical_gradient: bool,
}

/// The camera of a canvas `size_css` CSS px square at `zoom`, looking down at latitude `lat`.
pub struct Camera {
    /// Canvas centre, CSS px.
    centre: f64,
    /// Camera distance, CSS px.
    distance: f64,
    /// CSS px per metre at the centre latitude.
    pixels_per_metre: f64,
    dpr: f64,
}

impl Camera {
    pub fn new(size_css: f64, zoom: f64, lat: f64, dpr: f64) -> Camera {
        let world = 512.0 * libm::exp2(zoom);
        let circumference = 2.0 * std::f64::consts::PI * 6_371_008.8;
        Camera {
            centre: size_css / 2.0,
            distance: 1.5 * size_css,
            pixels_per_metre: world / (circumference * libm::cos(lat.to_radians()).max(1e-6)),
            dpr,
        }
    }

    /// Screen position (device px, snapped) of a canvas point at elevation `h` metres, and its
    /// perspective `w` (CSS px from the camera).
    fn project(&self, p: (f64, f64), h: f32) -> ((i64, i64), f64) {
        let w = self.distance - f64::from(h) * self.pixels_per_metre;
        let k = self.distance / w.max(1e-3);
        let x = self.centre + (p.0 - self.centre) * k;
        let y = self.centre + (p.1 - self.centre) * k;
        ((snap(x * self.dpr), snap(y * self.dpr)), w)
    }
}

fn luminance(c: Premul) -> f32 {
    c[0] * 0.2126 + c[1] * 0.7152 + c[2] * 0.0722
}

/// The shader's lit colour for a surface with `normal` (roofs: (0, 0, 1)).
fn lit(c: Premul, normal: [f32; 3], gradient: f32, opacity: f32) -> [f32; 3] {
    let directional =
        (normal[0] * LIGHT[0] + normal[1] * LIGHT[1] + normal[2] * LIGHT[2]).clamp(0.0, 1.0);
    let value = luminance(c);
    let lo = 1.0 - LIGHT_INTENSITY;
    let hi = (1.0 - value + LIGHT_INTENSITY).max(1.0);
    let directional = (lo + (hi - lo) * directional) * gradient;
    let mut out = [0.0; 3];
    for k in 0..3 {
        out[k] = ((c[k] + 0.03) * directional).clamp(0.0, 1.0) * opacity;
    }
    out
}

/// Draws one extrusion layer onto `canvas`.
pub fn draw_layer(canvas: &mut Canvas, camera: &Camera, features: &[Extruded<'_>], opaque: bool) {
    let (w, h) = (canvas.width, canvas.height);
    // Nearest surface per pixel: elevation (higher is nearer) and its colour.
    let mut depth = vec![f32::NEG_INFINITY; w * h];
    let mut color = vec![[0.0f32; 4]; w * h];
    for f in features {
        let height = f.height.max(0.0);
        let base = f.base.max(0.0).min(height);
        let roof = lit(f.color, [1.0 / 16384.0, 0.0, 1.0], 1.0, f.opacity);
        // Walls first, then the roof over them (both depth-tested).
        for ring in f.rings {
            let n = ring.len();
            for k in 0..n {
                let (p2, p1) = (ring[k], ring[(k + 1) % n]);
                let (dx, dy) = (p1.0 - p2.0, p1.1 - p2.1);
                let len = (dx * dx + dy * dy).sqrt();
                if len == 0.0 {
                    continue;
                }
                // MapLibre's (p1 − p2).perp(), normalized: inward for clockwise rings.
                let normal = [(-dy / len) as f32, (dx / len) as f32, 0.0];
                let gradient = |t: f32| {
                    if !f.vertical_gradient {
                        return 1.0;
                    }
                    let lo = 0.7 + (0.98 - 0.7) * (1.0 - LIGHT_INTENSITY);
                    ((t + base) * (height / 150.0).sqrt()).clamp(lo, 1.0)
                };
                let bottom = lit(f.color, normal, gradient(0.0), f.opacity);
                let top = lit(f.color, normal, gradient(1.0), f.opacity);
                let (a0, wa0) = camera.project(p1, base);
                let (a1, wa1) = camera.project(p1, height);
                let (b0, wb0) = camera.project(p2, base);
                let (b1, wb1) = camera.project(p2, height);
                let verts = [
                    (a0, wa0, bottom, base),
                    (a1, wa1, top, height),
                    (b0, wb0, bottom, base),
                    (b1, wb1, top, height),
                ];
                for tri in [[0usize, 2, 1], [1, 2, 3]] {
                    let v = tri.map(|i| verts[i]);
                    triangle(w, h, [v[0].0, v[1].0, v[2].0], |x, y, bc| {
                        // Perspective-correct interpolation: attributes over w.
                        let inv = [1.0 / v[0].1, 1.0 / v[1].1, 1.0 / v[2].1];
                        let q = [
                            f64::from(bc[0]) * inv[0],
                            f64::from(bc[1]) * inv[1],
                            f64::from(bc[2]) * inv[2],
                        ];
                        let s = q[0] + q[1] + q[2];
                        let wt = [(q[0] / s) as f32, (q[1] / s) as f32, (q[2] / s) as f32];
                        let elevation = wt[0] * v[0].3 + wt[1] * v[1].3 + wt[2] * v[2].3;
                        let i = y * w + x;
                        if elevation >= depth[i] {
                            depth[i] = elevation;
                            color[i] = std::array::from_fn(|k| {
                                if k == 3 {
                                    f.opacity
                                } else {
                                    wt[0] * v[0].2[k] + wt[1] * v[1].2[k] + wt[2] * v[2].2[k]
                                }
                            });
                        }
                    });
                }
            }
        }
        let projected: Vec<Ring> = f
            .rings
            .iter()
            .map(|r| r.iter().map(|&p| camera.project(p, height).0).collect())
            .collect();
        scan_polygon(w, h, &projected, |y, x0, x1| {
            for x in x0..x1 {
                let i = y * w + x;
                if height >= depth[i] {
                    depth[i] = height;
                    color[i] = [roof[0], roof[1], roof[2], f.opacity];
                }
            }
        });
    }
    for (i, d) in depth.iter().enumerate() {
        if d.is_finite() {
            let (x, y) = (i % w, i / w);
            let c = color[i];
            if opaque {
                canvas.blend(x, y, [c[0], c[1], c[2], 1.0]);
            } else {
                canvas.blend(x, y, c);
            }
        }
    }
}
