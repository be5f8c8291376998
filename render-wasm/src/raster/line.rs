//! Line strips ([`super::tessellate`]) drawn with MapLibre's line shaders: each vertex pushed out
//! along its extrusion by the line's outset, each fragment's alpha from its distance to the
//! centre line (a 1-device-pixel ramp at the edge), dashes from a signed-distance atlas row,
//! patterns from the sprite.

use super::dash::DashRow;
use super::gpu::{snap, triangle, Canvas, Premul};
use super::pattern::Sampler;
use super::tessellate::Strip;

/// What one strip is drawn with (CSS px unless said otherwise).
pub struct LineShader<'a> {
    pub color: Premul,
    pub opacity: f32,
    pub width: f32,
    pub gap_width: f32,
    pub offset: f32,
    pub blur: f32,
    /// Device pixels per CSS pixel.
    pub dpr: f32,
    /// `line-translate`, CSS px.
    pub translate: [f32; 2],
    pub dash: Option<&'a DashRow>,
    pub pattern: Option<&'a Sampler<'a>>,
}

/// Draws a tessellated line (positions in tile units, 16 per CSS px).
pub fn draw_strip(canvas: &mut Canvas, strip: &Strip, s: &LineShader<'_>) {
    let dpr = f64::from(s.dpr);
    let aa = 1.0 / s.dpr / 2.0;
    let gap = s.gap_width / 2.0;
    let halfwidth = s.width / 2.0;
    let inset = gap + if gap > 0.0 { aa } else { 0.0 };
    let outset = gap
        + halfwidth * if gap > 0.0 { 2.0 } else { 1.0 }
        + if halfwidth == 0.0 { 0.0 } else { aa };
    let offset = -s.offset;
    let blur2 = s.blur + 1.0 / s.dpr;
    let (w, h) = (canvas.width, canvas.height);
    // Per vertex: snapped device position, and the varyings (normal x, normal y, linesofar).
    let mut pos: Vec<(i64, i64)> = Vec::with_capacity(strip.vertices.len());
    let mut vary: Vec<[f32; 3]> = Vec::with_capacity(strip.vertices.len());
    for v in &strip.vertices {
        let normal_y = if v.up { 1.0 } else { -1.0 };
        let scale = 1.0 / 63.0;
        let ex = f64::from(outset) * f64::from(v.extrude.0) * scale;
        let ey = f64::from(outset) * f64::from(v.extrude.1) * scale;
        let ox = f64::from(offset) * f64::from(v.offset.0) * scale * normal_y;
        let oy = f64::from(offset) * f64::from(v.offset.1) * scale * normal_y;
        let x = (v.pos.0 / 16.0 + f64::from(s.translate[0]) + ox + ex) * dpr;
        let y = (v.pos.1 / 16.0 + f64::from(s.translate[1]) + oy + ey) * dpr;
        pos.push((snap(x), snap(y)));
        vary.push([
            if v.round { 1.0 } else { 0.0 },
            normal_y as f32,
            v.linesofar as f32,
        ]);
    }
    let color = s.color;
    let inv_blur2 = 1.0 / blur2;
    // An opaque colour at full alpha is a known pixel: store it without blending.
    let solid = (s.pattern.is_none() && color[3] >= 1.0)
        .then(|| color.map(|c| (c.clamp(0.0, 1.0) * 255.0 + 0.5) as u8));
    for t in &strip.triangles {
        let [a, b, c] = t.map(|i| i as usize);
        let (va, vb, vc) = (vary[a], vary[b], vary[c]);
        triangle(w, h, [pos[a], pos[b], pos[c]], |x, y, bc| {
            let nx = bc[0] * va[0] + bc[1] * vb[0] + bc[2] * vc[0];
            let ny = bc[0] * va[1] + bc[1] * vb[1] + bc[2] * vc[1];
            let dist = (nx * nx + ny * ny).sqrt() * outset;
            let mut alpha =
                ((dist - (inset - blur2)).min(outset - dist) * inv_blur2).clamp(0.0, 1.0);
            if alpha <= 0.0 {
                return;
            }
            if alpha >= 1.0 && s.dash.is_none() {
                if let Some(px) = solid {
                    canvas.store(x, y, px);
                    return;
                }
            }
            if let Some(dash) = s.dash {
                let linesofar = bc[0] * va[2] + bc[1] * vb[2] + bc[2] * vc[2];
                alpha *= dash.alpha(linesofar, ny);
                if alpha <= 0.0 {
                    return;
                }
            }
            let src = match s.pattern {
                Some(p) => {
                    let linesofar = bc[0] * va[2] + bc[1] * vb[2] + bc[2] * vc[2];
                    let k = alpha * s.opacity;
                    let t = p.along_line(linesofar, ny, s.width);
                    [t[0] * k, t[1] * k, t[2] * k, t[3] * k]
                }
                None => [
                    color[0] * alpha,
                    color[1] * alpha,
                    color[2] * alpha,
                    color[3] * alpha,
                ],
            };
            canvas.blend(x, y, src);
        });
    }
}
