//! Where labels go: MapLibre's anchors (src/symbol/get_anchors.ts, check_max_angle.ts,
//! clip_line.ts, symbol_layout.ts) and its placement of glyphs along a line
//! (src/symbol/projection.ts), written for a flat, north-up tile.
//!
//! Coordinates: CSS px of the drawn tile, origin at its top-left, y down (f64). Angles are
//! avoided: directions are unit vectors (sqrt and the four operations are correctly rounded,
//! so they agree across targets); the one angle MapLibre needs (`text-max-angle`) comes from
//! `libm::atan2`.

/// A point in CSS px.
pub type P = (f64, f64);

fn dist(a: P, b: P) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    (dx * dx + dy * dy).sqrt()
}

fn lerp(a: P, b: P, t: f64) -> P {
    (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t)
}

/// An anchor on a line: position and the index of the segment it lies on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LineAnchor {
    pub at: P,
    pub segment: usize,
}

/// Clips a polyline to the box `[x0, x1] × [y0, y1]` (MapLibre's `clipLine`): the parts
/// inside, each a polyline.
pub fn clip_line(line: &[P], x0: f64, y0: f64, x1: f64, y1: f64) -> Vec<Vec<P>> {
    let mut out: Vec<Vec<P>> = Vec::new();
    let mut current: Vec<P> = Vec::new();
    for w in line.windows(2) {
        let (mut a, mut b) = (w[0], w[1]);
        // Liang–Barsky on the segment.
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let mut t0: f64 = 0.0;
        let mut t1: f64 = 1.0;
        let mut ok = true;
        for (p, q) in [
            (-dx, a.0 - x0),
            (dx, x1 - a.0),
            (-dy, a.1 - y0),
            (dy, y1 - a.1),
        ] {
            if p == 0.0 {
                if q < 0.0 {
                    ok = false;
                    break;
                }
            } else {
                let r = q / p;
                if p < 0.0 {
                    t0 = t0.max(r);
                } else {
                    t1 = t1.min(r);
                }
            }
        }
        if !ok || t0 > t1 {
            if current.len() > 1 {
                out.push(std::mem::take(&mut current));
            }
            current.clear();
            continue;
        }
        let entered = t0 > 0.0;
        let left = t1 < 1.0;
        if entered {
            a = lerp(w[0], w[1], t0);
        }
        if left {
            b = lerp(w[0], w[1], t1);
        }
        if entered || current.is_empty() {
            if current.len() > 1 {
                out.push(std::mem::take(&mut current));
            }
            current.clear();
            current.push(a);
        }
        current.push(b);
        if left {
            if current.len() > 1 {
                out.push(std::mem::take(&mut current));
            }
            current.clear();
        }
    }
    if current.len() > 1 {
        out.push(current);
    }
    out
}

fn line_length(line: &[P]) -> f64 {
    line.windows(2).map(|w| dist(w[0], w[1])).sum()
}

/// The turn between segments a→b and b→c, radians in `[0, π]`.
fn turn(a: P, b: P, c: P) -> f64 {
    let (ux, uy) = (b.0 - a.0, b.1 - a.1);
    let (vx, vy) = (c.0 - b.0, c.1 - b.1);
    libm::atan2(ux * vy - uy * vx, ux * vx + uy * vy).abs()
}

/// MapLibre's `checkMaxAngle`: whether the turns under any `window` px of the label sum to
/// at most `max_angle` radians, and the label fits on the line.
fn check_max_angle(
    line: &[P],
    anchor: &LineAnchor,
    label_length: f64,
    window: f64,
    max_angle: f64,
) -> bool {
    let mut p = anchor.at;
    let mut index = anchor.segment + 1;
    let mut anchor_distance = 0.0;
    // Back to the first segment the label appears on.
    while anchor_distance > -label_length / 2.0 {
        if index == 0 {
            return false;
        }
        index -= 1;
        anchor_distance -= dist(line[index], p);
        p = line[index];
    }
    anchor_distance += dist(line[index], line[index + 1]);
    index += 1;
    let mut corners: std::collections::VecDeque<(f64, f64)> = Default::default();
    let mut recent = 0.0;
    while anchor_distance < label_length / 2.0 {
        if index + 1 >= line.len() {
            return false;
        }
        let (prev, cur, next) = (line[index - 1], line[index], line[index + 1]);
        let delta = turn(prev, cur, next);
        corners.push_back((anchor_distance, delta));
        recent += delta;
        while let Some(&(d, a)) = corners.front() {
            if anchor_distance - d > window {
                recent -= a;
                corners.pop_front();
            } else {
                break;
            }
        }
        if recent > max_angle {
            return false;
        }
        index += 1;
        anchor_distance += dist(cur, next);
    }
    true
}

/// Parameters of line anchors, CSS px.
#[derive(Debug, Clone, Copy)]
pub struct LineParams {
    pub spacing: f64,
    /// The label's length along the line.
    pub label_length: f64,
    /// `text-size` at zoom 18 (MapLibre's glyph size × `textMaxBoxScale`).
    pub size: f64,
    /// Radians.
    pub max_angle: f64,
    /// The tile edge in CSS px (anchors must lie in `[0, tile)`).
    pub tile: f64,
}

/// MapLibre's `getAnchors` for `symbol-placement: line` on one clipped line.
pub fn line_anchors(line: &[P], p: &LineParams) -> Vec<LineAnchor> {
    let window = 3.0 / 5.0 * p.size;
    let mut spacing = p.spacing;
    if spacing - p.label_length < spacing / 4.0 {
        spacing = p.label_length + spacing / 4.0;
    }
    let first = line[0];
    let continued = first.0 == 0.0 || first.0 == p.tile || first.1 == 0.0 || first.1 == p.tile;
    // MapLibre's fixedExtraOffset = 2 glyph sizes (48 layout units at 24 px).
    let offset = if continued {
        (spacing / 2.0) % spacing
    } else {
        (p.label_length / 2.0 + 2.0 * p.size) % spacing
    };
    resample(line, offset, spacing, window, p, continued, false)
}

fn resample(
    line: &[P],
    offset: f64,
    spacing: f64,
    window: f64,
    p: &LineParams,
    continued: bool,
    middle: bool,
) -> Vec<LineAnchor> {
    let half = p.label_length / 2.0;
    let total = line_length(line);
    let mut distance = 0.0;
    let mut marked = offset - spacing;
    let mut anchors = Vec::new();
    for i in 0..line.len().saturating_sub(1) {
        let (a, b) = (line[i], line[i + 1]);
        let seg = dist(a, b);
        while marked + spacing < distance + seg {
            marked += spacing;
            let t = (marked - distance) / seg;
            let at = lerp(a, b, t);
            if at.0 >= 0.0
                && at.0 < p.tile
                && at.1 >= 0.0
                && at.1 < p.tile
                && marked - half >= 0.0
                && marked + half <= total
            {
                let anchor = LineAnchor { at, segment: i };
                if check_max_angle(line, &anchor, p.label_length, window, p.max_angle) {
                    anchors.push(anchor);
                }
            }
        }
        distance += seg;
    }
    if !middle && anchors.is_empty() && !continued {
        // A short line gets one label in its middle, if it fits.
        anchors = resample(line, distance / 2.0, spacing, window, p, continued, true);
    }
    anchors
}

/// MapLibre's `getCenterAnchor` for `symbol-placement: line-center`.
pub fn center_anchor(line: &[P], p: &LineParams) -> Option<LineAnchor> {
    let window = 3.0 / 5.0 * p.size;
    let centre = line_length(line) / 2.0;
    let mut prev = 0.0;
    for i in 0..line.len().saturating_sub(1) {
        let (a, b) = (line[i], line[i + 1]);
        let seg = dist(a, b);
        if prev + seg > centre {
            let anchor = LineAnchor {
                at: lerp(a, b, (centre - prev) / seg),
                segment: i,
            };
            return check_max_angle(line, &anchor, p.label_length, window, p.max_angle)
                .then_some(anchor);
        }
        prev += seg;
    }
    None
}

/// The point `d` px along the line from the anchor (negative: backwards) and the unit
/// direction of the line there (always the line's own direction). Past the ends, the end
/// segments are extended.
pub fn along(line: &[P], anchor: &LineAnchor, d: f64) -> (P, P) {
    let unit = |i: usize| {
        let (a, b) = (line[i], line[i + 1]);
        let l = dist(a, b);
        if l > 0.0 {
            ((b.0 - a.0) / l, (b.1 - a.1) / l)
        } else {
            (1.0, 0.0)
        }
    };
    let mut i = anchor.segment;
    let mut from = anchor.at;
    let mut left = d;
    if d >= 0.0 {
        loop {
            let to = line[i + 1];
            let seg = dist(from, to);
            if left <= seg || i + 2 >= line.len() {
                let u = unit(i);
                return ((from.0 + u.0 * left, from.1 + u.1 * left), u);
            }
            left -= seg;
            from = to;
            i += 1;
        }
    } else {
        left = -left;
        loop {
            let to = line[i];
            let seg = dist(from, to);
            if left <= seg || i == 0 {
                let u = unit(i);
                return ((from.0 - u.0 * left, from.1 - u.1 * left), u);
            }
            left -= seg;
            from = to;
            i -= 1;
        }
    }
}

/// The pole of inaccessibility of a polygon (rings in CSS px, the first the exterior): the
/// anchor MapLibre gives polygon labels (mapbox/polylabel's algorithm, `precision` px).
pub fn polylabel(rings: &[Vec<P>], precision: f64) -> Option<P> {
    let outer = rings.first()?;
    if outer.len() < 3 {
        return None;
    }
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for p in outer {
        x0 = x0.min(p.0);
        y0 = y0.min(p.1);
        x1 = x1.max(p.0);
        y1 = y1.max(p.1);
    }
    let (w, h) = (x1 - x0, y1 - y0);
    let cell = w.min(h);
    if cell <= 0.0 {
        return Some((x0, y0));
    }
    // Signed distance from p to the polygon's outline (positive inside).
    let sdist = |p: P| -> f64 {
        let mut inside = false;
        let mut best = f64::INFINITY;
        for ring in rings {
            let n = ring.len();
            for k in 0..n {
                let a = ring[k];
                let b = ring[(k + n - 1) % n];
                if (a.1 > p.1) != (b.1 > p.1) && p.0 < (b.0 - a.0) * (p.1 - a.1) / (b.1 - a.1) + a.0
                {
                    inside = !inside;
                }
                // Squared distance to segment a–b.
                let (mut x, mut y) = a;
                let (dx, dy) = (b.0 - x, b.1 - y);
                if dx != 0.0 || dy != 0.0 {
                    let t = ((p.0 - x) * dx + (p.1 - y) * dy) / (dx * dx + dy * dy);
                    if t > 1.0 {
                        x = b.0;
                        y = b.1;
                    } else if t > 0.0 {
                        x += dx * t;
                        y += dy * t;
                    }
                }
                let (ex, ey) = (p.0 - x, p.1 - y);
                best = best.min(ex * ex + ey * ey);
            }
        }
        let d = best.sqrt();
        if inside {
            d
        } else {
            -d
        }
    };
    // Cells: (centre, half size, distance, max possible distance inside).
    struct Cell {
        c: P,
        h: f64,
        d: f64,
        max: f64,
    }
    let make = |c: P, h: f64| {
        let d = sdist(c);
        Cell {
            c,
            h,
            d,
            max: d + h * std::f64::consts::SQRT_2,
        }
    };
    let mut queue: Vec<Cell> = Vec::new();
    let half = cell / 2.0;
    let mut x = x0;
    while x < x1 {
        let mut y = y0;
        while y < y1 {
            queue.push(make((x + half, y + half), half));
            y += cell;
        }
        x += cell;
    }
    // The area centroid is a good first guess (as polylabel).
    let mut best = {
        let mut area = 0.0;
        let (mut cx, mut cy) = (0.0, 0.0);
        let n = outer.len();
        for k in 0..n {
            let a = outer[k];
            let b = outer[(k + n - 1) % n];
            let f = a.0 * b.1 - b.0 * a.1;
            cx += (a.0 + b.0) * f;
            cy += (a.1 + b.1) * f;
            area += f * 3.0;
        }
        if area == 0.0 {
            make(outer[0], 0.0)
        } else {
            make((cx / area, cy / area), 0.0)
        }
    };
    let bbox_centre = make((x0 + w / 2.0, y0 + h / 2.0), 0.0);
    if bbox_centre.d > best.d {
        best = bbox_centre;
    }
    // Best-first search; a total order on (max, centre) keeps it deterministic.
    let mut steps = 0;
    while !queue.is_empty() && steps < 10_000 {
        steps += 1;
        let mut k = 0;
        for (j, c) in queue.iter().enumerate() {
            let m = &queue[k];
            if c.max > m.max || (c.max == m.max && (c.c.0, c.c.1) < (m.c.0, m.c.1)) {
                k = j;
            }
        }
        let c = queue.swap_remove(k);
        if c.d > best.d {
            best = Cell { ..c };
        }
        if c.max - best.d <= precision {
            continue;
        }
        let h2 = c.h / 2.0;
        for (sx, sy) in [(-1.0, -1.0), (1.0, -1.0), (-1.0, 1.0), (1.0, 1.0)] {
            queue.push(make((c.c.0 + sx * h2, c.c.1 + sy * h2), h2));
        }
    }
    Some(best.c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> LineParams {
        LineParams {
            spacing: 250.0,
            label_length: 60.0,
            size: 12.0,
            max_angle: 45f64.to_radians(),
            tile: 512.0,
        }
    }

    #[test]
    fn clipping_keeps_the_inside_parts() {
        let parts = clip_line(
            &[(-10.0, 5.0), (20.0, 5.0), (20.0, -5.0), (30.0, 5.0)],
            0.0,
            0.0,
            512.0,
            512.0,
        );
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], vec![(0.0, 5.0), (20.0, 5.0), (20.0, 0.0)]);
        assert_eq!(parts[1][0], (25.0, 0.0));
    }

    #[test]
    fn a_long_straight_line_gets_anchors_every_spacing() {
        let line = vec![(10.0, 100.0), (500.0, 100.0)];
        let a = line_anchors(&line, &params());
        // First anchor at label/2 + 2 sizes = 54 px from the start, then every 250 px.
        assert_eq!(a.len(), 2);
        assert!((a[0].at.0 - 64.0).abs() < 1e-9, "{:?}", a);
        assert!((a[1].at.0 - 314.0).abs() < 1e-9);
    }

    #[test]
    fn sharp_corners_reject_anchors() {
        // A zigzag with right angles every 10 px: no window of 7.2 px stays under 45°.
        let mut line = Vec::new();
        for i in 0..40 {
            line.push((
                10.0 + 10.0 * f64::from(i),
                if i % 2 == 0 { 100.0 } else { 110.0 },
            ));
        }
        assert!(line_anchors(&line, &params()).is_empty());
        // A gentle curve passes.
        let curve: Vec<P> = (0..50)
            .map(|i| (10.0 + 10.0 * f64::from(i), 100.0 + f64::from(i)))
            .collect();
        assert!(!line_anchors(&curve, &params()).is_empty());
    }

    #[test]
    fn along_walks_both_ways() {
        let line = vec![(0.0, 0.0), (10.0, 0.0), (10.0, 10.0)];
        let a = LineAnchor {
            at: (5.0, 0.0),
            segment: 0,
        };
        let (p, u) = along(&line, &a, 10.0);
        assert_eq!((p, u), ((10.0, 5.0), (0.0, 1.0)));
        let (p, u) = along(&line, &a, -3.0);
        assert_eq!((p, u), ((2.0, 0.0), (1.0, 0.0)));
    }

    #[test]
    fn polylabel_finds_the_fat_part() {
        // An L shape: the pole lies in the big square, not at the bbox centre.
        let l = vec![vec![
            (0.0, 0.0),
            (100.0, 0.0),
            (100.0, 20.0),
            (20.0, 20.0),
            (20.0, 100.0),
            (0.0, 100.0),
        ]];
        let p = polylabel(&l, 1.0).unwrap();
        assert!(p.0 <= 20.0 && p.1 <= 20.0, "{p:?}");
    }
}
