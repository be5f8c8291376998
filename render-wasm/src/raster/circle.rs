//! Circles, as MapLibre's circle shader draws them: a quad of `radius + stroke` around the
//! centre, the anti-aliasing ramp *inside* the nominal radius (one device pixel wide), the fill
//! turning into the stroke at `radius`.

use super::gpu::{smoothstep, snap, triangle, Canvas, Premul};

pub struct CircleShader {
    pub color: Premul,
    pub stroke_color: Premul,
    /// CSS px.
    pub radius: f32,
    pub stroke_width: f32,
    pub blur: f32,
    pub dpr: f32,
}

/// Draws one circle centred at `c` (device px).
pub fn draw_circle(canvas: &mut Canvas, c: (f64, f64), s: &CircleShader) {
    let outer = s.radius + s.stroke_width;
    if outer <= 0.0 {
        return;
    }
    let r = f64::from(outer * s.dpr);
    let corner = |ex: f64, ey: f64| (snap(c.0 + ex * r), snap(c.1 + ey * r));
    let quad = [
        (corner(-1.0, -1.0), [-1.0f32, -1.0]),
        (corner(1.0, -1.0), [1.0, -1.0]),
        (corner(1.0, 1.0), [1.0, 1.0]),
        (corner(-1.0, 1.0), [-1.0, 1.0]),
    ];
    let antialiasblur = -(1.0 / s.dpr / outer).max(s.blur);
    let (w, h) = (canvas.width, canvas.height);
    for tri in [[0usize, 1, 2], [0, 3, 2]] {
        let p = tri.map(|i| quad[i].0);
        let e = tri.map(|i| quad[i].1);
        triangle(w, h, p, |x, y, bc| {
            let ex = bc[0] * e[0][0] + bc[1] * e[1][0] + bc[2] * e[2][0];
            let ey = bc[0] * e[0][1] + bc[1] * e[1][1] + bc[2] * e[2][1];
            let len = (ex * ex + ey * ey).sqrt();
            let opacity_t = smoothstep(0.0, antialiasblur, len - 1.0);
            let color_t = if s.stroke_width < 0.01 {
                0.0
            } else {
                smoothstep(antialiasblur, 0.0, len - s.radius / outer)
            };
            let src: [f32; 4] = std::array::from_fn(|k| {
                opacity_t * (s.color[k] + (s.stroke_color[k] - s.color[k]) * color_t)
            });
            // MapLibre discards fragments that would change nothing.
            if src.iter().all(|v| *v < 0.5 / 255.0) {
                return;
            }
            canvas.blend(x, y, src);
        });
    }
}
