//! Polygon fills and their 1 px outlines, as MapLibre draws them: fills without any
//! anti-aliasing (a pixel is in when its centre is, with the GPU's tie rule), outlines as GL
//! lines whose alpha falls off with the distance from the edge (`fill-antialias`).
//!
//! A scanline fill with the triangle tie rule covers exactly the pixels MapLibre's earcut
//! triangles cover for a valid polygon (every centre inside belongs to exactly one triangle),
//! at a fraction of the cost.

use super::gpu::{gl_line, smoothstep, Canvas, SUBPIXEL};

/// Positions in 1/16 device pixels (see [`super::gpu::snap`]).
pub type Ring = Vec<(i64, i64)>;

#[derive(Clone, Copy)]
struct EdgeRec {
    /// Top and bottom (y0 < y1), x at each.
    x0: i64,
    y0: i64,
    x1: i64,
    y1: i64,
}

/// Calls `span(y, x0, x1)` for the pixels `x0..x1` of each row covered by the polygon whose
/// rings are given (even-odd; holes are rings too).
pub fn scan_polygon<F: FnMut(usize, usize, usize)>(
    width: usize,
    height: usize,
    rings: &[Ring],
    mut span: F,
) {
    let mut edges: Vec<EdgeRec> = Vec::new();
    let (mut ymin, mut ymax) = (i64::MAX, i64::MIN);
    for ring in rings {
        let n = ring.len();
        if n < 3 {
            continue;
        }
        for k in 0..n {
            let (a, b) = (ring[k], ring[(k + 1) % n]);
            if a.1 == b.1 {
                continue;
            }
            let (t, u) = if a.1 < b.1 { (a, b) } else { (b, a) };
            ymin = ymin.min(t.1);
            ymax = ymax.max(u.1);
            edges.push(EdgeRec {
                x0: t.0,
                y0: t.1,
                x1: u.0,
                y1: u.1,
            });
        }
    }
    if edges.is_empty() {
        return;
    }
    let half = SUBPIXEL / 2;
    // Rows whose centre y satisfies ymin < yc <= ymax (an edge counts when y0 < yc <= y1).
    let j0 = (floor_div(ymin - half, SUBPIXEL) + 1).max(0);
    let j1 = floor_div(ymax - half, SUBPIXEL).min(height as i64 - 1);
    if j0 > j1 {
        return;
    }
    edges.sort_unstable_by_key(|e| e.y0);
    let mut next = 0;
    let mut active: Vec<EdgeRec> = Vec::new();
    let mut crossings: Vec<(i64, i64)> = Vec::new();
    let max_col = width as i64 - 1;
    for j in j0..=j1 {
        let yc = SUBPIXEL * j + half;
        while next < edges.len() && edges[next].y0 < yc {
            active.push(edges[next]);
            next += 1;
        }
        active.retain(|e| e.y1 >= yc);
        crossings.clear();
        for e in &active {
            if e.y0 < yc {
                // x = x0 + (yc − y0)·(x1 − x0)/(y1 − y0) = num/den, exactly.
                let den = e.y1 - e.y0;
                let num = e.x0 * den + (yc - e.y0) * (e.x1 - e.x0);
                crossings.push((num, den));
            }
        }
        crossings.sort_unstable_by(|a, b| {
            (i128::from(a.0) * i128::from(b.1)).cmp(&(i128::from(b.0) * i128::from(a.1)))
        });
        for pair in crossings.chunks_exact(2) {
            // Columns with centre in [x_left, x_right).
            let (nl, dl) = pair[0];
            let (nr, dr) = pair[1];
            let lo = ceil_div(nl - half * dl, SUBPIXEL * dl).max(0);
            let hi = (ceil_div(nr - half * dr, SUBPIXEL * dr) - 1).min(max_col);
            if lo <= hi {
                span(j as usize, lo as usize, hi as usize + 1);
            }
        }
    }
}

/// Draws the 1 px outline of `rings` (MapLibre's `fill_outline` shader): each segment as a GL
/// line, each pixel blended with `color(x, y) × (1 − smoothstep(0, 1, d))`, `d` its distance
/// from the segment's line in device pixels.
pub fn outline<C: Fn(usize, usize) -> [f32; 4]>(canvas: &mut Canvas, rings: &[Ring], color: C) {
    let (w, h) = (canvas.width, canvas.height);
    for ring in rings {
        let n = ring.len();
        if n < 2 {
            continue;
        }
        for k in 0..n {
            let (a, b) = (ring[k], ring[(k + 1) % n]);
            if a == b {
                continue;
            }
            let s = SUBPIXEL as f64;
            let (ax, ay) = (a.0 as f64 / s, a.1 as f64 / s);
            let (dx, dy) = ((b.0 - a.0) as f64 / s, (b.1 - a.1) as f64 / s);
            let len = (dx * dx + dy * dy).sqrt();
            gl_line(w, h, a, b, |x, y| {
                let (px, py) = (x as f64 + 0.5 - ax, y as f64 + 0.5 - ay);
                let d = ((px * dy - py * dx) / len).abs() as f32;
                let alpha = 1.0 - smoothstep(0.0, 1.0, d);
                if alpha > 0.0 {
                    let c = color(x, y);
                    canvas.blend(
                        x,
                        y,
                        [c[0] * alpha, c[1] * alpha, c[2] * alpha, c[3] * alpha],
                    );
                }
            });
        }
    }
}

fn floor_div(a: i64, b: i64) -> i64 {
    let q = a / b;
    if a % b != 0 && ((a < 0) != (b < 0)) {
        q - 1
    } else {
        q
    }
}

fn ceil_div(a: i64, b: i64) -> i64 {
    -floor_div(-a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(rings: &[Ring]) -> Vec<(usize, usize, usize)> {
        let mut out = Vec::new();
        scan_polygon(64, 64, rings, |y, a, b| out.push((y, a, b)));
        out
    }

    #[test]
    fn a_square_through_centres_follows_the_tie_rule() {
        // 10.5..12.5 px in both axes, in 1/16 px.
        let sq = vec![(168, 168), (200, 168), (200, 200), (168, 200)];
        assert_eq!(rows(&[sq]), vec![(11, 10, 12), (12, 10, 12)]);
    }

    #[test]
    fn holes_are_left_out() {
        let outer = vec![(0, 0), (320, 0), (320, 320), (0, 320)];
        let hole = vec![(80, 80), (80, 240), (240, 240), (240, 80)];
        let r = rows(&[outer, hole]);
        assert_eq!(r[0], (0, 0, 20));
        assert!(
            r.contains(&(10, 0, 5)) && r.contains(&(10, 15, 20)),
            "{r:?}"
        );
    }
}
