//! Coverage masks for label glyphs: the glyphs' outlines filled with exact-area
//! anti-aliasing, and their halo grown from that coverage by distance.
//!
//! Why our own and not tiny-skia's path filler: a label's glyphs are small and many, and
//! tiny-skia's mask filler runs its raster pipeline once per anti-aliased span, so filling a
//! dense tile's glyphs three times (glyphs, stroked halo outline, glyphs again) cost ~20 ms.
//! Here a fill is one pass over the outline (signed area accumulated per pixel, as font-rs
//! and stb_truetype do) and one prefix sum per row; the halo is MapLibre's model of it, the
//! set of points within `width` of the glyphs (its SDF shader thresholds a distance field),
//! measured from the coverage instead of stroking the outline.
//!
//! Every number is an f32 from additions, multiplications, `floor`/`ceil`, `min`/`max` and
//! `sqrt` (all exactly rounded IEEE operations) in a fixed order, so the bytes are the same
//! on every target. Coordinates are device px of the mask (origin at its top-left corner).

use super::font::Seg;

/// A `w × h` coverage accumulator (row-major), one cell of slack after each row.
struct Accumulator {
    w: usize,
    h: usize,
    cells: Vec<f32>,
}

impl Accumulator {
    fn new(w: usize, h: usize) -> Accumulator {
        Accumulator {
            w,
            h,
            cells: vec![0.0; (w + 2) * h],
        }
    }

    /// Adds the signed area a line from `p0` to `p1` sweeps to the cells it crosses (the
    /// area between it and the row's right end, positive going down). Clamped into the
    /// mask horizontally (what lies left of it counts for its first cell); rows outside are
    /// skipped.
    fn line(&mut self, p0: (f32, f32), p1: (f32, f32)) {
        if p0.1 == p1.1 {
            return;
        }
        let (dir, a, b) = if p0.1 < p1.1 {
            (1.0f32, p0, p1)
        } else {
            (-1.0f32, p1, p0)
        };
        let wmax = self.w as f32;
        let dxdy = (b.0 - a.0) / (b.1 - a.1);
        let y_start = a.1.max(0.0);
        let y_end = b.1.min(self.h as f32);
        if y_start >= y_end {
            return;
        }
        let mut x = a.0 + (y_start - a.1) * dxdy;
        let stride = self.w + 2;
        let mut y = y_start.floor() as usize;
        while (y as f32) < y_end {
            let row = &mut self.cells[y * stride..(y + 1) * stride];
            let top = (y as f32).max(y_start);
            let bottom = ((y + 1) as f32).min(y_end);
            let dy = bottom - top;
            let x_next = x + dxdy * dy;
            let d = dy * dir;
            let (lo, hi) = if x < x_next { (x, x_next) } else { (x_next, x) };
            x = x_next;
            y += 1;
            // The part of the crossing left of the mask covers every cell of the row (cell
            // 0 takes it all); the part right of it covers none. x runs linearly with y, so
            // each part's share of `d` is its share of the x extent.
            if hi <= 0.0 {
                row[0] += d;
                continue;
            }
            if lo >= wmax {
                continue;
            }
            let (mut d, mut x0, mut x1) = (d, lo, hi);
            let span = hi - lo;
            if lo < 0.0 {
                let left = d * (-lo / span);
                row[0] += left;
                d -= left;
                x0 = 0.0;
            }
            if hi > wmax {
                d -= d * ((hi - wmax) / (hi - x0));
                x1 = wmax;
            }
            let x0_floor = x0.floor();
            let x0i = x0_floor as usize;
            let x1_ceil = x1.ceil();
            let x1i = x1_ceil as usize;
            if x1i <= x0i + 1 {
                // Within one cell: its share right of the crossing, the rest to the next.
                let xmf = 0.5 * (x0 + x1) - x0_floor;
                row[x0i] += d - d * xmf;
                row[x0i + 1] += d * xmf;
            } else {
                let s = 1.0 / (x1 - x0);
                let x0f = x0 - x0_floor;
                let a0 = 0.5 * s * (1.0 - x0f) * (1.0 - x0f);
                let x1f = x1 - x1_ceil + 1.0;
                let am = 0.5 * s * x1f * x1f;
                row[x0i] += d * a0;
                if x1i == x0i + 2 {
                    row[x0i + 1] += d * (1.0 - a0 - am);
                } else {
                    let a1 = s * (1.5 - x0f);
                    row[x0i + 1] += d * (a1 - a0);
                    for cell in &mut row[x0i + 2..x1i - 1] {
                        *cell += d * s;
                    }
                    let a2 = a1 + (x1i - x0i - 3) as f32 * s;
                    row[x1i - 1] += d * (1.0 - a2 - am);
                }
                row[x1i] += d * am;
            }
        }
    }

    /// A quadratic Bézier as lines, more of them the more it bends (font-rs' rule).
    fn quad(&mut self, p0: (f32, f32), p1: (f32, f32), p2: (f32, f32)) {
        let dd = (p0.0 - 2.0 * p1.0 + p2.0, p0.1 - 2.0 * p1.1 + p2.1);
        let dev = dd.0 * dd.0 + dd.1 * dd.1;
        if dev < 0.333 {
            self.line(p0, p2);
            return;
        }
        let n = 1 + (3.0 * dev).sqrt().sqrt().floor() as usize;
        let mut prev = p0;
        for i in 1..=n {
            let t = i as f32 / n as f32;
            let u = 1.0 - t;
            let p = (
                u * u * p0.0 + 2.0 * u * t * p1.0 + t * t * p2.0,
                u * u * p0.1 + 2.0 * u * t * p1.1 + t * t * p2.1,
            );
            self.line(prev, p);
            prev = p;
        }
    }

    fn cubic(&mut self, p0: (f32, f32), p1: (f32, f32), p2: (f32, f32), p3: (f32, f32)) {
        let d1 = (p0.0 - 2.0 * p1.0 + p2.0, p0.1 - 2.0 * p1.1 + p2.1);
        let d2 = (p1.0 - 2.0 * p2.0 + p3.0, p1.1 - 2.0 * p2.1 + p3.1);
        let dev = (d1.0 * d1.0 + d1.1 * d1.1).max(d2.0 * d2.0 + d2.1 * d2.1);
        let n = if dev < 0.333 {
            1
        } else {
            1 + (6.0 * dev).sqrt().sqrt().floor() as usize
        };
        let mut prev = p0;
        for i in 1..=n {
            let t = i as f32 / n as f32;
            let u = 1.0 - t;
            let (a, b, c, e) = (u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t);
            let p = (
                a * p0.0 + b * p1.0 + c * p2.0 + e * p3.0,
                a * p0.1 + b * p1.1 + c * p2.1 + e * p3.1,
            );
            self.line(prev, p);
            prev = p;
        }
    }

    /// Coverage 0..1 per pixel: the running sum along each row, its magnitude capped at 1
    /// (non-zero winding for outlines that do not overlap themselves, as glyphs' do not).
    fn finish(self) -> Vec<f32> {
        let stride = self.w + 2;
        let mut out = vec![0.0f32; self.w * self.h];
        for y in 0..self.h {
            let mut acc = 0.0f32;
            let row = &self.cells[y * stride..y * stride + self.w];
            for (o, &c) in out[y * self.w..(y + 1) * self.w].iter_mut().zip(row) {
                acc += c;
                // What the sum leaves after a closed outline's cells cancel is rounding,
                // not coverage: below a 1/1024 it is none (the halo grows from any).
                // Likewise a hair below 1 is inside (not an edge the halo grows from); and
                // a NaN from a degenerate outline is nothing.
                let a = acc.abs();
                *o = if a.is_nan() || a < 1.0 / 1024.0 {
                    0.0
                } else if a > 1.0 - 1.0 / 1024.0 {
                    1.0
                } else {
                    a
                };
            }
        }
        out
    }
}

/// The coverage of `path` (device px, offset by `-origin`) over a `w × h` mask.
pub fn fill(path: &[Seg], origin: (f32, f32), w: usize, h: usize) -> Vec<f32> {
    let mut acc = Accumulator::new(w, h);
    let at = |x: f32, y: f32| (x - origin.0, y - origin.1);
    let (mut start, mut pen) = ((0.0, 0.0), (0.0, 0.0));
    let mut open = false;
    for s in path {
        match *s {
            Seg::Move(x, y) => {
                if open {
                    acc.line(pen, start);
                }
                start = at(x, y);
                pen = start;
                open = true;
            }
            Seg::Line(x, y) => {
                let p = at(x, y);
                acc.line(pen, p);
                pen = p;
                open = true;
            }
            Seg::Quad(a, b, x, y) => {
                let p = at(x, y);
                acc.quad(pen, at(a, b), p);
                pen = p;
                open = true;
            }
            Seg::Cubic(a, b, c, d, x, y) => {
                let p = at(x, y);
                acc.cubic(pen, at(a, b), at(c, d), p);
                pen = p;
                open = true;
            }
            Seg::Close => {
                acc.line(pen, start);
                pen = start;
                open = false;
            }
        }
    }
    if open {
        acc.line(pen, start);
    }
    acc.finish()
}

/// The widest halo drawn, device px.
pub const MAX_HALO_PX: f32 = 48.0;

/// The halo of glyph coverage `glyph` (`w × h`): pixels within `width` device px of the
/// glyphs, anti-aliased over one pixel. The distance of a pixel to the glyphs is the least,
/// over the glyphs' edge pixels q, of |p − q| + (0.5 − coverage(q)): a partly covered
/// pixel's centre lies about that far outside the edge (exact for straight edges along the
/// grid, within ~0.2 px elsewhere), and round at corners, as a stroke's round joins are.
pub fn halo(glyph: &[f32], w: usize, h: usize, width: f32) -> Vec<f32> {
    // The work is the glyphs' edge pixels times the disk's area: a halo is drawn at most
    // this wide (device px; MapLibre's own cannot reach past its glyph quads' SDF buffer,
    // an eighth of the text size, either), so a hostile style cannot make it quadratic.
    let width = width.min(MAX_HALO_PX);
    let reach = (width + 1.0).ceil() as isize;
    // The disk of offsets that can matter, with their lengths.
    let mut disk: Vec<(isize, isize, f32)> = Vec::new();
    for dy in -reach..=reach {
        for dx in -reach..=reach {
            let len = ((dx * dx + dy * dy) as f32).sqrt();
            if len <= width + 1.0 {
                disk.push((dx, dy, len));
            }
        }
    }
    let mut dist = vec![f32::INFINITY; w * h];
    let cov = |x: isize, y: isize| -> f32 {
        if x < 0 || y < 0 || x >= w as isize || y >= h as isize {
            0.0
        } else {
            glyph[y as usize * w + x as usize]
        }
    };
    for y in 0..h as isize {
        for x in 0..w as isize {
            let a = cov(x, y);
            if a <= 0.0 {
                continue;
            }
            // Only edge pixels: partly covered, or covered beside one that is not.
            if a >= 1.0
                && cov(x - 1, y) >= 1.0
                && cov(x + 1, y) >= 1.0
                && cov(x, y - 1) >= 1.0
                && cov(x, y + 1) >= 1.0
            {
                continue;
            }
            let d = 0.5 - a;
            for &(dx, dy, len) in &disk {
                let (px, py) = (x + dx, y + dy);
                if px < 0 || py < 0 || px >= w as isize || py >= h as isize {
                    continue;
                }
                let i = py as usize * w + px as usize;
                dist[i] = dist[i].min(len + d);
            }
        }
    }
    dist.iter()
        .zip(glyph)
        .map(|(&d, &a)| (width + 0.5 - d).clamp(0.0, 1.0).max(a))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rect(x0: f32, y0: f32, x1: f32, y1: f32) -> Vec<Seg> {
        vec![
            Seg::Move(x0, y0),
            Seg::Line(x1, y0),
            Seg::Line(x1, y1),
            Seg::Line(x0, y1),
            Seg::Close,
        ]
    }

    #[test]
    fn a_rectangle_covers_exactly_its_area() {
        let (w, h) = (12, 10);
        let c = fill(&rect(2.25, 3.5, 7.75, 6.0), (0.0, 0.0), w, h);
        let total: f32 = c.iter().sum();
        assert!((total - 5.5 * 2.5).abs() < 1e-4, "{total}");
        assert_eq!(c[4 * w + 4], 1.0, "inside");
        assert!((c[4 * w + 2] - 0.75).abs() < 1e-6, "left edge column");
        assert!((c[3 * w + 4] - 0.5).abs() < 1e-6, "top edge row");
        assert!((c[3 * w + 2] - 0.375).abs() < 1e-6, "corner");
        assert_eq!(c[8 * w + 4], 0.0, "below");
        // Either orientation, and a hole wound the other way is empty.
        let mut path = rect(1.0, 1.0, 11.0, 9.0);
        path.extend([
            Seg::Move(2.25, 3.5),
            Seg::Line(2.25, 6.0),
            Seg::Line(7.75, 6.0),
            Seg::Line(7.75, 3.5),
            Seg::Close,
        ]);
        let c = fill(&path, (0.0, 0.0), w, h);
        assert_eq!(c[4 * w + 4], 0.0, "the hole");
        assert_eq!(c[2 * w + 4], 1.0, "around it");
    }

    #[test]
    fn outlines_past_the_mask_sides_cover_as_if_the_mask_went_on() {
        // A slanted edge from x = -10 to x = 1 down one row: in a mask wide enough to hold
        // it, pixel 10 (x 0..1) is 1 - 1/22 covered; a mask starting at x = 0 must agree.
        let tri = vec![
            Seg::Move(-10.0, 0.0),
            Seg::Line(1.0, 1.0),
            Seg::Line(6.0, 1.0),
            Seg::Line(6.0, 0.0),
            Seg::Close,
        ];
        let wide = fill(&tri, (-12.0, 0.0), 20, 1);
        let clipped = fill(&tri, (0.0, 0.0), 3, 1);
        assert!(
            (wide[12] - clipped[0]).abs() < 1e-5,
            "{} {}",
            wide[12],
            clipped[0]
        );
        assert!(
            (clipped[0] - (1.0 - 1.0 / 22.0)).abs() < 1e-5,
            "{}",
            clipped[0]
        );
        assert_eq!(clipped[1], 1.0);
        // And past the right side: nothing spills back.
        let right = fill(&rect(2.0, 0.0, 50.0, 1.0), (0.0, 0.0), 4, 1);
        assert_eq!(right, vec![0.0, 0.0, 1.0, 1.0]);
    }

    #[test]
    fn a_diagonal_edge_splits_its_pixels_by_area() {
        // The triangle (0,0) (8,0) (0,8): pixels on the diagonal are half covered.
        let path = vec![
            Seg::Move(0.0, 0.0),
            Seg::Line(8.0, 0.0),
            Seg::Line(0.0, 8.0),
            Seg::Close,
        ];
        let c = fill(&path, (0.0, 0.0), 8, 8);
        for i in 0..8 {
            assert!(
                (c[i * 8 + (7 - i)] - 0.5).abs() < 1e-5,
                "{i}: {}",
                c[i * 8 + 7 - i]
            );
        }
        let total: f32 = c.iter().sum();
        assert!((total - 32.0).abs() < 1e-3);
    }

    #[test]
    fn a_halo_reaches_width_px_from_the_edge_and_is_round_at_corners() {
        let (w, h) = (30, 30);
        let g = fill(&rect(10.0, 10.0, 20.3, 20.0), (0.0, 0.0), w, h);
        let hl = halo(&g, w, h, 2.0);
        let row = 15 * w;
        // Right edge at x = 20.3: the halo ends at 22.3, so pixel 22 is 0.3 covered.
        assert_eq!(hl[row + 21], 1.0);
        assert!((hl[row + 22] - 0.3).abs() < 1e-5, "{}", hl[row + 22]);
        assert_eq!(hl[row + 23], 0.0);
        // Left edge at x = 10: pixels 8 and 9 are in it, 7 not.
        assert_eq!(hl[row + 8], 1.0);
        assert_eq!(hl[row + 7], 0.0);
        // The glyph itself is under its halo.
        assert_eq!(hl[row + 15], 1.0);
        // Past the corner (10, 10) diagonally the halo is a quarter disk, not a square.
        let corner = |d: usize| hl[(10 - d) * w + (10 - d)];
        assert_eq!(corner(1), 1.0, "√2/2 from the corner");
        assert!(corner(2) < 0.3, "2.1 px from the corner: {}", corner(2));
        assert_eq!(hl[8 * w + 15], 1.0, "2 px straight above the edge");
        // No width, no halo beyond the glyph's own coverage.
        assert_eq!(halo(&g, w, h, 0.0)[row + 21], 0.0);
    }
}
