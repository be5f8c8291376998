//! A small software GPU: the rasterization and blending rules of MapLibre GL JS's WebGL
//! pipeline, as headless Chromium draws them (ANGLE → SwiftShader), reproduced on the CPU.
//!
//! MapLibre anti-aliases nothing by coverage: triangles are filled where a pixel's *centre* lies
//! inside, and all soft edges come from per-fragment alpha computed in its shaders. Reproducing
//! that (instead of exact-area coverage) is what removes the hairline seams between adjacent
//! polygons and makes thin lines as dark as MapLibre's.
//!
//! The rules here were measured against MapLibre GL JS 6.20.0 in headless Chromium with probe
//! tiles (see `tests/parity/`):
//! * Vertex positions snap to a 1/16 device-pixel grid ([`SUBPIXEL`]); a line 3.7 px wide is
//!   drawn from a strip whose edge sits at 2.375 px, not 2.35 px, and its distance field
//!   stretches accordingly.
//! * Triangle tie rule (a centre exactly on an edge): included on edges whose interior lies
//!   to their right (+x) and on horizontal edges whose interior lies *above* them (smaller
//!   image y): the "top-left" rule of GL window coordinates, whose y points up.
//! * One-pixel GL lines (fill outlines): an x-major segment draws one pixel per column whose
//!   centre lies in `[x_lo, x_hi)`, in the row `floor(y)`; a y-major segment one per row with
//!   centre in `(y_lo, y_hi]`, in the column `ceil(x) − 1`.
//! * Blending is premultiplied `src + dst·(1 − src.a)` in float, rounded to 8 bits per
//!   fragment.
//!
//! Everything is integer or IEEE `f32`/`f64` arithmetic without fused operations, so native,
//! wasm and browser builds give the same bytes.

/// A premultiplied RGBA colour, components in `0..=1`.
pub type Premul = [f32; 4];

/// Sub-pixel positions per device pixel that vertices snap to.
pub const SUBPIXEL: i64 = 16;

/// A premultiplied RGBA8 canvas in device pixels, cleared to transparent black.
pub struct Canvas {
    pub width: usize,
    pub height: usize,
    /// Premultiplied RGBA, row-major, 4 bytes a pixel.
    pub data: Vec<u8>,
}

#[inline]
fn to_u8(v: f32) -> u8 {
    // floor(v·255 + 0.5) of the clamped value: the GPU's unorm8 conversion.
    (v.clamp(0.0, 1.0) * 255.0 + 0.5) as u8
}

#[inline]
fn from_u8(v: u8) -> f32 {
    f32::from(v) / 255.0
}

impl Canvas {
    pub fn new(width: usize, height: usize) -> Canvas {
        Canvas {
            width,
            height,
            data: vec![0; width * height * 4],
        }
    }

    /// Blends one fragment: `dst' = src + dst·(1 − src.a)`, rounded to 8 bits.
    #[inline]
    pub fn blend(&mut self, x: usize, y: usize, src: Premul) {
        let i = (y * self.width + x) * 4;
        let d = &mut self.data[i..i + 4];
        if src[3] >= 1.0 {
            // Opaque: the destination does not matter.
            for c in 0..4 {
                d[c] = to_u8(src[c]);
            }
            return;
        }
        let inv = 1.0 - src[3];
        for c in 0..4 {
            d[c] = to_u8(src[c] + from_u8(d[c]) * inv);
        }
    }

    /// Stores a pixel's bytes (an opaque fragment whose bytes are known).
    #[inline]
    pub fn store(&mut self, x: usize, y: usize, px: [u8; 4]) {
        let i = (y * self.width + x) * 4;
        self.data[i..i + 4].copy_from_slice(&px);
    }

    /// The pixel's premultiplied value.
    pub fn pixel(&self, x: usize, y: usize) -> Premul {
        let i = (y * self.width + x) * 4;
        [
            from_u8(self.data[i]),
            from_u8(self.data[i + 1]),
            from_u8(self.data[i + 2]),
            from_u8(self.data[i + 3]),
        ]
    }
}

/// Blends one constant colour over many pixels through a lookup table per channel (the result
/// depends only on the destination byte), which is exact and several times faster than the
/// float formula per pixel.
pub struct SolidBlender {
    lut: Box<[[u8; 256]; 4]>,
    /// The colour is opaque: the result is a constant.
    opaque: Option<[u8; 4]>,
}

impl SolidBlender {
    pub fn new(src: Premul) -> SolidBlender {
        let mut lut = Box::new([[0u8; 256]; 4]);
        let inv = 1.0 - src[3];
        for (c, table) in lut.iter_mut().enumerate() {
            for (d, out) in table.iter_mut().enumerate() {
                *out = to_u8(src[c] + from_u8(d as u8) * inv);
            }
        }
        let opaque = (src[3] >= 1.0).then(|| [lut[0][0], lut[1][0], lut[2][0], lut[3][0]]);
        SolidBlender { lut, opaque }
    }

    /// Blends the colour over pixels `x0..x1` of row `y`.
    #[inline]
    pub fn span(&self, canvas: &mut Canvas, y: usize, x0: usize, x1: usize) {
        if x0 >= x1 {
            return;
        }
        let row = &mut canvas.data[(y * canvas.width + x0) * 4..(y * canvas.width + x1) * 4];
        match self.opaque {
            Some(px) => {
                for p in row.chunks_exact_mut(4) {
                    p.copy_from_slice(&px);
                }
            }
            None => {
                for p in row.chunks_exact_mut(4) {
                    p[0] = self.lut[0][p[0] as usize];
                    p[1] = self.lut[1][p[1] as usize];
                    p[2] = self.lut[2][p[2] as usize];
                    p[3] = self.lut[3][p[3] as usize];
                }
            }
        }
    }
}

/// A device-pixel position snapped to the [`SUBPIXEL`] grid (`round(v·16)`, halves away from
/// zero). Non-finite and absurd values are clamped far outside any canvas.
#[inline]
pub fn snap(v: f64) -> i64 {
    const LIMIT: f64 = 1.0e9;
    let s = (v * SUBPIXEL as f64).round();
    if s.is_nan() {
        0
    } else {
        s.clamp(-LIMIT, LIMIT) as i64
    }
}

/// `v.floor()` without a libm call on x86-64's baseline (no `roundsd`), exact for |v| < 2^52.
#[inline]
pub fn floor(v: f64) -> f64 {
    if v.abs() >= 4_503_599_627_370_496.0 || v.is_nan() {
        return v.floor();
    }
    let t = v as i64 as f64;
    if t > v {
        t - 1.0
    } else {
        t
    }
}

/// Floor division for `i64` (rounds towards −∞).
#[inline]
fn div_floor(a: i64, b: i64) -> i64 {
    let q = a / b;
    if (a % b != 0) && ((a < 0) != (b < 0)) {
        q - 1
    } else {
        q
    }
}

#[inline]
fn div_ceil(a: i64, b: i64) -> i64 {
    -div_floor(-a, b)
}

/// One edge of a triangle as an edge function `E(p) = A·p.x + B·p.y + C` (positive inside),
/// with the tie rule folded into a threshold: a centre is inside when `E ≥ min`.
#[derive(Clone, Copy)]
struct Edge {
    a: i64,
    b: i64,
    c: i64,
    min: i64,
}

impl Edge {
    fn new(s: (i64, i64), t: (i64, i64)) -> Edge {
        let a = -(t.1 - s.1);
        let b = t.0 - s.0;
        let c = -(a * s.0 + b * s.1);
        // Ties go to edges with the interior at +x, or horizontal with the interior above.
        let included = a > 0 || (a == 0 && b < 0);
        Edge {
            a,
            b,
            c,
            min: if included { 0 } else { 1 },
        }
    }

    /// The range of columns `i` (centre x = 16·i + 8) where this edge lets row `yc` in:
    /// `lo..=hi`, clamped to `0..=max`.
    #[inline]
    fn columns(&self, yc: i64, max: i64) -> (i64, i64) {
        let k = self.b * yc + self.c + self.a * (SUBPIXEL / 2);
        let step = self.a * SUBPIXEL;
        if step > 0 {
            (div_ceil(self.min - k, step).max(0), max)
        } else if step < 0 {
            (0, div_floor(k - self.min, -step).min(max))
        } else if k >= self.min {
            (0, max)
        } else {
            (1, 0)
        }
    }
}

thread_local! {
    /// Pixels shaded by [`triangle`] and [`gl_line`] in this render, and the render's budget.
    static WORK: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, u64::MAX)) };
}

/// Starts counting one render's shaded pixels against `budget` (see [`over_budget`]). Hostile
/// sizes (a 10^10 px line width or circle radius) make every triangle cover the whole canvas;
/// the budget bounds the work no matter how many there are.
pub fn start_budget(budget: u64) {
    WORK.with(|w| w.set((0, budget)));
}

/// Whether this render went over its budget (the triangles past it were not drawn).
pub fn over_budget() -> bool {
    WORK.with(|w| {
        let (done, budget) = w.get();
        done > budget
    })
}

/// Charges `n` pixels to the render; `false` once over budget (draw nothing more).
#[inline]
fn charge(n: i64) -> bool {
    WORK.with(|w| {
        let (done, budget) = w.get();
        let done = done.saturating_add(n.max(0) as u64);
        w.set((done, budget));
        done <= budget
    })
}

/// Rasterizes one triangle whose vertices are snapped positions (see [`snap`]), calling
/// `frag(x, y, barycentric)` for every pixel whose centre it covers. The barycentric weights
/// belong to `v[0]`, `v[1]`, `v[2]` and sum to 1; varyings are interpolated with them
/// (affine: every 2D layer has the same clip `w`).
#[inline]
pub fn triangle<F: FnMut(usize, usize, [f32; 3])>(
    width: usize,
    height: usize,
    v: [(i64, i64); 3],
    mut frag: F,
) {
    let area = (v[1].0 - v[0].0) * (v[2].1 - v[0].1) - (v[1].1 - v[0].1) * (v[2].0 - v[0].0);
    if area == 0 {
        return;
    }
    // Orient so that the interior is where every edge function is positive.
    let (flipped, area) = (area < 0, area.abs());
    let p = if flipped { [v[0], v[2], v[1]] } else { v };
    // Edge k is opposite vertex k, so E_k / area is vertex k's weight.
    let edges = [
        Edge::new(p[1], p[2]),
        Edge::new(p[2], p[0]),
        Edge::new(p[0], p[1]),
    ];
    let ymin = p.iter().map(|q| q.1).min().unwrap_or(0);
    let ymax = p.iter().map(|q| q.1).max().unwrap_or(0);
    // Rows whose centre (16·j + 8) lies in [ymin, ymax].
    let j0 = div_ceil(ymin - SUBPIXEL / 2, SUBPIXEL).max(0);
    let j1 = div_floor(ymax - SUBPIXEL / 2, SUBPIXEL).min(height as i64 - 1);
    let max_col = width as i64 - 1;
    let inv_area = 1.0 / area as f64;
    if j0 > j1 {
        return;
    }
    for j in j0..=j1 {
        let yc = SUBPIXEL * j + SUBPIXEL / 2;
        let mut lo = 0;
        let mut hi = max_col;
        for e in &edges {
            let (l, h) = e.columns(yc, max_col);
            lo = lo.max(l);
            hi = hi.min(h);
        }
        if lo > hi {
            continue;
        }
        if !charge(hi - lo + 1) {
            return;
        }
        let xc = SUBPIXEL * lo + SUBPIXEL / 2;
        let e = edges.map(|ed| ed.a * xc + ed.b * yc + ed.c);
        let step = [
            edges[0].a * SUBPIXEL,
            edges[1].a * SUBPIXEL,
            edges[2].a * SUBPIXEL,
        ];
        // Weights at the row's first centre, then stepped (f64: exact enough over a row).
        let mut w = [
            e[0] as f64 * inv_area,
            e[1] as f64 * inv_area,
            e[2] as f64 * inv_area,
        ];
        let dw = [
            step[0] as f64 * inv_area,
            step[1] as f64 * inv_area,
            step[2] as f64 * inv_area,
        ];
        for i in lo..=hi {
            let f = [w[0] as f32, w[1] as f32, w[2] as f32];
            let out = if flipped { [f[0], f[2], f[1]] } else { f };
            frag(i as usize, j as usize, out);
            w[0] += dw[0];
            w[1] += dw[1];
            w[2] += dw[2];
        }
    }
}

/// Rasterizes a 1-device-pixel GL line from `a` to `b` (snapped positions), calling
/// `frag(x, y)` for each pixel it produces (see the module docs for the rule).
pub fn gl_line<F: FnMut(usize, usize)>(
    width: usize,
    height: usize,
    a: (i64, i64),
    b: (i64, i64),
    mut frag: F,
) {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    if dx == 0 && dy == 0 {
        return;
    }
    let half = SUBPIXEL / 2;
    if dx.abs() >= dy.abs() {
        // x-major: columns with centre in [x_lo, x_hi); row floor(y(x_c)).
        let (lo, hi) = if a.0 < b.0 { (a, b) } else { (b, a) };
        let i0 = div_ceil(lo.0 - half, SUBPIXEL).max(0);
        let i1 = (div_ceil(hi.0 - half, SUBPIXEL) - 1).min(width as i64 - 1);
        let ddx = hi.0 - lo.0;
        let ddy = hi.1 - lo.1;
        if !charge(i1 - i0 + 1) {
            return;
        }
        for i in i0..=i1 {
            let xc = SUBPIXEL * i + half;
            // y(xc) = lo.y + (xc − lo.x)·ddy/ddx, in 1/16 px; row = floor(y / 16).
            let num = lo.1 * ddx + (xc - lo.0) * ddy;
            let row = div_floor(num, ddx * SUBPIXEL);
            if row >= 0 && row < height as i64 {
                frag(i as usize, row as usize);
            }
        }
    } else {
        // y-major: rows with centre in (y_lo, y_hi]; column ceil(x(y_c)) − 1.
        let (lo, hi) = if a.1 < b.1 { (a, b) } else { (b, a) };
        let j0 = (div_floor(lo.1 - half, SUBPIXEL) + 1).max(0);
        let j1 = div_floor(hi.1 - half, SUBPIXEL).min(height as i64 - 1);
        let ddx = hi.0 - lo.0;
        let ddy = hi.1 - lo.1;
        if !charge(j1 - j0 + 1) {
            return;
        }
        for j in j0..=j1 {
            let yc = SUBPIXEL * j + half;
            let num = lo.0 * ddy + (yc - lo.1) * ddx;
            let col = div_ceil(num, ddy * SUBPIXEL) - 1;
            if col >= 0 && col < width as i64 {
                frag(col as usize, j as usize);
            }
        }
    }
}

/// GLSL `smoothstep(e0, e1, x)` (also for `e0 > e1`, as GPUs evaluate it).
#[inline]
pub fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn covered(v: [(f64, f64); 3]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let s = v.map(|(x, y)| (snap(x), snap(y)));
        triangle(64, 64, s, |x, y, _| out.push((x, y)));
        out.sort();
        out
    }

    #[test]
    fn triangle_ties_follow_the_measured_rule() {
        // A square through pixel centres (50.5..52.5 → here 10.5..12.5), as two triangles.
        let mut px = covered([(10.5, 10.5), (12.5, 10.5), (12.5, 12.5)]);
        px.extend(covered([(10.5, 10.5), (12.5, 12.5), (10.5, 12.5)]));
        px.sort();
        // Columns 10, 11 (left edge in, right out); rows 11, 12 (top out, bottom in).
        assert_eq!(px, vec![(10, 11), (10, 12), (11, 11), (11, 12)]);
    }

    #[test]
    fn shared_edges_cover_each_centre_once() {
        let a = covered([(3.0, 3.0), (40.5, 7.5), (20.5, 40.5)]);
        let b = covered([(40.5, 7.5), (60.0, 50.0), (20.5, 40.5)]);
        for p in &a {
            assert!(!b.contains(p), "{p:?} drawn twice");
        }
    }

    #[test]
    fn gl_lines_on_pixel_boundaries_fall_below_and_left() {
        let mut px = Vec::new();
        let square = [(20.0, 10.0), (24.0, 10.0), (24.0, 14.0), (20.0, 14.0)];
        for k in 0..4 {
            let (a, b) = (square[k], square[(k + 1) % 4]);
            gl_line(
                64,
                64,
                (snap(a.0), snap(a.1)),
                (snap(b.0), snap(b.1)),
                &mut |x, y| px.push((x, y)),
            );
        }
        px.sort();
        let mut want = Vec::new();
        for x in 20..24 {
            want.push((x, 10)); // top edge: the row below it
            want.push((x, 14)); // bottom edge: the row below it
        }
        for y in 10..14 {
            want.push((19, y)); // left edge: the column left of it
            want.push((23, y)); // right edge: the column left of it
        }
        want.sort();
        assert_eq!(px, want);
    }

    #[test]
    fn blending_rounds_like_the_gpu() {
        let mut c = Canvas::new(1, 1);
        for _ in 0..3 {
            c.blend(0, 0, [0.3, 0.3, 0.3, 0.3]);
        }
        assert_eq!(
            c.data[0], 168,
            "three 0.3 white fills over black (measured: 168)"
        );
        let mut d = Canvas::new(4, 1);
        let s = SolidBlender::new([0.3, 0.3, 0.3, 0.3]);
        for _ in 0..3 {
            s.span(&mut d, 0, 0, 4);
        }
        assert_eq!(&d.data[..4], &c.data[..4]);
    }
}
