//! Lines → triangle strips, exactly as MapLibre's line bucket builds them (`LineBucket.addLine`
//! in maplibre-gl-js 6.20, `src/data/bucket/line_bucket.ts`): the same joins (miter, bevel,
//! flip-bevel, round, "fakeround" pie slices), caps, sharp-corner vertices, extrusion vectors
//! quantized to bytes and line distances quantized to 2 units. Drawing MapLibre's own geometry
//! is what makes joins, caps and translucent overlaps look like MapLibre's.
//!
//! Coordinates are *MapLibre tile units*: 16 per CSS pixel, the drawn tile's top-left at 0, on
//! the integer grid (as MapLibre's `loadGeometry` leaves them). The arithmetic is `f64`, like
//! JavaScript's numbers, so the quantized results are bit-identical to MapLibre's.

use crate::style::{LineCap, LineJoin};

/// One vertex of a line's triangle strip.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LineVertex {
    /// Position, tile units (integers).
    pub pos: (f64, f64),
    /// Extrusion direction × 63, rounded (MapLibre stores it in a byte).
    pub extrude: (i32, i32),
    /// `line-offset` direction × 63, rounded.
    pub offset: (i32, i32),
    /// Part of a round cap or join (the distance field is radial there).
    pub round: bool,
    /// The vertex on the positive side of the normal.
    pub up: bool,
    /// Distance along the line, tile units, quantized to 2.
    pub linesofar: f64,
}

/// A tessellated line: vertices and triangles (indices into `vertices`).
#[derive(Debug, Default)]
pub struct Strip {
    pub vertices: Vec<LineVertex>,
    pub triangles: Vec<[u32; 3]>,
}

/// Layout of one line feature.
#[derive(Debug, Clone, Copy)]
pub struct LineLayout {
    pub join: LineJoin,
    pub cap: LineCap,
    pub miter_limit: f64,
    pub round_limit: f64,
}

const EXTRUDE_SCALE: f64 = 63.0;
/// `Math.cos(75 / 2 * (Math.PI / 180))`.
const COS_HALF_SHARP_CORNER: f64 = 0.793_353_340_291_235_2;
/// 15 CSS px in tile units (overscaling 1).
const SHARP_CORNER_OFFSET: f64 = 15.0 * 16.0;
const DEG_PER_TRIANGLE: f64 = 20.0;
const MAX_OFFSET_MITER_LENGTH: f64 = 2.0;
const OFFSET_FALLBACK_START: f64 = 3.0;
const OFFSET_FALLBACK_END: f64 = 8.0;
const LINE_DISTANCE_SCALE: f64 = 0.5;
const MAX_LINE_DISTANCE: f64 = 32768.0;

#[derive(Debug, Clone, Copy, PartialEq)]
struct P {
    x: f64,
    y: f64,
}

impl P {
    fn sub(self, o: P) -> P {
        P {
            x: self.x - o.x,
            y: self.y - o.y,
        }
    }
    fn add(self, o: P) -> P {
        P {
            x: self.x + o.x,
            y: self.y + o.y,
        }
    }
    fn mult(self, k: f64) -> P {
        P {
            x: self.x * k,
            y: self.y * k,
        }
    }
    fn mag(self) -> f64 {
        (self.x * self.x + self.y * self.y).sqrt()
    }
    fn unit(self) -> P {
        let m = self.mag();
        P {
            x: self.x / m,
            y: self.y / m,
        }
    }
    fn perp(self) -> P {
        P {
            x: -self.y,
            y: self.x,
        }
    }
    /// JavaScript's `Math.round` per axis (halves towards +∞).
    fn round(self) -> P {
        P {
            x: js_round(self.x),
            y: js_round(self.y),
        }
    }
    fn dist(self, o: P) -> f64 {
        self.sub(o).mag()
    }
}

/// JavaScript's `Math.round`.
pub fn js_round(v: f64) -> f64 {
    super::gpu::floor(v + 0.5)
}

fn offset_normal_near_join(normal: P, offset_normal: P) -> P {
    let across = offset_normal.x * normal.x + offset_normal.y * normal.y;
    let mut along = offset_normal.sub(normal.mult(across));
    let max_along = (MAX_OFFSET_MITER_LENGTH * MAX_OFFSET_MITER_LENGTH - 1.0).sqrt();
    let len = along.mag();
    if len > max_along {
        along = along.mult(max_along / len);
    }
    along.add(normal)
}

struct Builder<'s> {
    strip: &'s mut Strip,
    distance: f64,
    e1: i64,
    e2: i64,
}

impl Builder<'_> {
    fn update_distance(&mut self, a: P, b: P) {
        self.distance += a.dist(b);
    }

    #[allow(clippy::too_many_arguments)]
    fn add_current_vertex(
        &mut self,
        p: P,
        normal: P,
        end_left: f64,
        end_right: f64,
        round: bool,
        offset_normal: P,
        offset_fallback: f64,
    ) {
        let left = P {
            x: normal.x + normal.y * end_left,
            y: normal.y - normal.x * end_left,
        };
        let right = P {
            x: -normal.x + normal.y * end_right,
            y: -normal.y - normal.x * end_right,
        };
        let off = P {
            x: offset_normal.x + (normal.x - offset_normal.x) * offset_fallback,
            y: offset_normal.y + (normal.y - offset_normal.y) * offset_fallback,
        };
        self.add_half_vertex(p, left, off, round, false);
        self.add_half_vertex(p, right, off.mult(-1.0), round, true);
        if self.distance > MAX_LINE_DISTANCE / 2.0 {
            self.distance = 0.0;
            self.add_current_vertex(
                p,
                normal,
                end_left,
                end_right,
                round,
                offset_normal,
                offset_fallback,
            );
        }
    }

    fn add_half_vertex(&mut self, p: P, extrude: P, offset: P, round: bool, up: bool) {
        // `(linesofarScaled & 0x3F) << 2, linesofarScaled >> 6` and back: 2·trunc(d / 2).
        let scaled = (self.distance * LINE_DISTANCE_SCALE).trunc();
        let q = |v: f64| js_round(EXTRUDE_SCALE * v) as i32;
        let index = self.strip.vertices.len() as i64;
        self.strip.vertices.push(LineVertex {
            pos: (p.x, p.y),
            extrude: (q(extrude.x), q(extrude.y)),
            offset: (q(offset.x), q(offset.y)),
            round,
            up,
            linesofar: scaled * 2.0,
        });
        if self.e1 >= 0 && self.e2 >= 0 {
            self.strip
                .triangles
                .push([self.e1 as u32, index as u32, self.e2 as u32]);
        }
        if up {
            self.e2 = index;
        } else {
            self.e1 = index;
        }
    }
}

/// Appends the strip of one line (or closed polygon ring, `is_polygon`, whose last vertex
/// repeats its first as MapLibre's geometry loader leaves it) to `strip`.
pub fn add_line(strip: &mut Strip, vertices: &[(f64, f64)], is_polygon: bool, layout: LineLayout) {
    let v: Vec<P> = vertices.iter().map(|&(x, y)| P { x, y }).collect();
    let mut len = v.len();
    while len >= 2 && v[len - 1] == v[len - 2] {
        len -= 1;
    }
    let mut first = 0;
    while first + 1 < len && v[first] == v[first + 1] {
        first += 1;
    }
    if len < first + if is_polygon { 3 } else { 2 } {
        return;
    }
    let join = layout.join;
    let miter_limit = if join == LineJoin::Bevel {
        1.05
    } else {
        layout.miter_limit
    };
    let sharp_corner_offset = SHARP_CORNER_OFFSET;
    let mut b = Builder {
        strip,
        distance: 0.0,
        e1: -1,
        e2: -1,
    };
    let mut current: Option<P> = None;
    let mut prev: Option<P>;
    let mut prev_vertex: Option<P> = None;
    let mut prev_normal: Option<P> = None;
    let mut next_normal: Option<P> = None;
    if is_polygon {
        let c = v[len - 2];
        current = Some(c);
        next_normal = Some(v[first].sub(c).unit().perp());
    }

    #[derive(PartialEq, Clone, Copy)]
    enum J {
        Miter,
        Bevel,
        FlipBevel,
        FakeRound,
        Round,
        Butt,
        Square,
    }

    for i in first..len {
        let next_vertex = if i == len - 1 {
            if is_polygon {
                Some(v[first + 1])
            } else {
                None
            }
        } else {
            Some(v[i + 1])
        };
        if let Some(n) = next_vertex {
            if v[i] == n {
                continue;
            }
        }
        if next_normal.is_some() {
            prev_normal = next_normal;
        }
        if current.is_some() {
            prev_vertex = current;
        }
        let mut cur = v[i];
        next_normal = match next_vertex {
            Some(n) => Some(n.sub(cur).unit().perp()),
            None => prev_normal,
        };
        let Some(nn) = next_normal else { continue };
        let pn = *prev_normal.get_or_insert(nn);

        let mut join_normal = pn.add(nn);
        if join_normal.x != 0.0 || join_normal.y != 0.0 {
            join_normal = join_normal.unit();
        }
        let cos_angle = pn.x * nn.x + pn.y * nn.y;
        let cos_half_angle = join_normal.x * nn.x + join_normal.y * nn.y;
        let miter_length = if cos_half_angle != 0.0 {
            1.0 / cos_half_angle
        } else {
            f64::INFINITY
        };
        let approx_angle = 2.0 * (2.0 - 2.0 * cos_half_angle).sqrt();
        let is_sharp_corner = cos_half_angle < COS_HALF_SHARP_CORNER
            && prev_vertex.is_some()
            && next_vertex.is_some();
        let turns_left = pn.x * nn.y - pn.y * nn.x > 0.0;
        let offset_normal = join_normal.mult(miter_length.min(MAX_OFFSET_MITER_LENGTH));
        let offset_fallback = ((miter_length - OFFSET_FALLBACK_START)
            / (OFFSET_FALLBACK_END - OFFSET_FALLBACK_START))
            .clamp(0.0, 1.0);

        prev = prev_vertex;
        if is_sharp_corner && i > first {
            if let Some(pv) = prev {
                let seg = cur.dist(pv);
                if seg > 2.0 * sharp_corner_offset {
                    let np = cur.sub(cur.sub(pv).mult(sharp_corner_offset / seg).round());
                    b.update_distance(pv, np);
                    b.add_current_vertex(
                        np,
                        pn,
                        0.0,
                        0.0,
                        false,
                        offset_normal_near_join(pn, offset_normal),
                        offset_fallback,
                    );
                    prev = Some(np);
                }
            }
        }

        let middle = prev.is_some() && next_vertex.is_some();
        let mut current_join = if middle {
            match join {
                LineJoin::Miter => J::Miter,
                LineJoin::Bevel => J::Bevel,
                LineJoin::Round => J::Round,
            }
        } else if is_polygon {
            J::Butt
        } else {
            match layout.cap {
                LineCap::Butt => J::Butt,
                LineCap::Round => J::Round,
                LineCap::Square => J::Square,
            }
        };
        if middle && current_join == J::Round {
            if miter_length < layout.round_limit {
                current_join = J::Miter;
            } else if miter_length <= 2.0 {
                current_join = J::FakeRound;
            }
        }
        if current_join == J::Miter && miter_length > miter_limit {
            current_join = J::Bevel;
        }
        if current_join == J::Bevel {
            if miter_length > 2.0 {
                current_join = J::FlipBevel;
            }
            if miter_length < miter_limit {
                current_join = J::Miter;
            }
        }
        if let Some(pv) = prev {
            b.update_distance(pv, cur);
        }

        match current_join {
            J::Miter => {
                let jn = join_normal.mult(miter_length);
                b.add_current_vertex(cur, jn, 0.0, 0.0, false, offset_normal, 0.0);
            }
            J::FlipBevel => {
                let jn = if miter_length > 100.0 {
                    nn.mult(-1.0)
                } else {
                    let bevel_length = miter_length * pn.add(nn).mag() / pn.sub(nn).mag();
                    join_normal
                        .perp()
                        .mult(bevel_length * if turns_left { -1.0 } else { 1.0 })
                };
                b.add_current_vertex(cur, jn, 0.0, 0.0, false, offset_normal, offset_fallback);
                b.add_current_vertex(
                    cur,
                    jn.mult(-1.0),
                    0.0,
                    0.0,
                    false,
                    offset_normal,
                    offset_fallback,
                );
            }
            J::Bevel | J::FakeRound => {
                let offset = -(miter_length * miter_length - 1.0).sqrt();
                let offset_a = if turns_left { offset } else { 0.0 };
                let offset_b = if turns_left { 0.0 } else { offset };
                if prev.is_some() {
                    b.add_current_vertex(cur, pn, offset_a, offset_b, false, offset_normal, 0.0);
                }
                if current_join == J::FakeRound {
                    let n = js_round(approx_angle * 180.0 / std::f64::consts::PI / DEG_PER_TRIANGLE)
                        as i64;
                    for m in 1..n {
                        let mut t = m as f64 / n as f64;
                        if t != 0.5 {
                            let t2 = t - 0.5;
                            let a = 1.0904
                                + cos_angle
                                    * (-3.2452 + cos_angle * (3.55645 - cos_angle * 1.43519));
                            let bb = 0.848013 + cos_angle * (-1.06021 + cos_angle * 0.215638);
                            t += t * t2 * (t - 1.0) * (a * t2 * t2 + bb);
                        }
                        let extrude = nn.sub(pn).mult(t).add(pn).unit().mult(if turns_left {
                            -1.0
                        } else {
                            1.0
                        });
                        let off = if turns_left {
                            offset_normal.mult(-1.0)
                        } else {
                            offset_normal
                        };
                        b.add_half_vertex(cur, extrude, off, false, turns_left);
                    }
                }
                if next_vertex.is_some() {
                    b.add_current_vertex(cur, nn, -offset_a, -offset_b, false, offset_normal, 0.0);
                }
            }
            J::Butt => b.add_current_vertex(cur, join_normal, 0.0, 0.0, false, offset_normal, 0.0),
            J::Square => {
                let o = if prev.is_some() { 1.0 } else { -1.0 };
                b.add_current_vertex(cur, join_normal, o, o, false, offset_normal, 0.0);
            }
            J::Round => {
                if prev.is_some() {
                    b.add_current_vertex(cur, pn, 0.0, 0.0, false, offset_normal, offset_fallback);
                    b.add_current_vertex(cur, pn, 1.0, 1.0, true, offset_normal, offset_fallback);
                }
                if next_vertex.is_some() {
                    b.add_current_vertex(cur, nn, -1.0, -1.0, true, offset_normal, offset_fallback);
                    b.add_current_vertex(cur, nn, 0.0, 0.0, false, offset_normal, offset_fallback);
                }
            }
        }

        if is_sharp_corner && i < len - 1 {
            if let Some(nv) = next_vertex {
                let seg = cur.dist(nv);
                if seg > 2.0 * sharp_corner_offset {
                    let nc = cur.add(nv.sub(cur).mult(sharp_corner_offset / seg).round());
                    b.update_distance(cur, nc);
                    b.add_current_vertex(
                        nc,
                        nn,
                        0.0,
                        0.0,
                        false,
                        offset_normal_near_join(nn, offset_normal),
                        offset_fallback,
                    );
                    cur = nc;
                }
            }
        }
        current = Some(cur);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUTT: LineLayout = LineLayout {
        join: LineJoin::Miter,
        cap: LineCap::Butt,
        miter_limit: 2.0,
        round_limit: 1.05,
    };

    #[test]
    fn a_straight_line_is_one_quad() {
        let mut s = Strip::default();
        add_line(&mut s, &[(0.0, 0.0), (100.0, 0.0)], false, BUTT);
        assert_eq!(s.vertices.len(), 4);
        assert_eq!(s.triangles.len(), 2);
        // Normal of a segment going +x is (0, 1) → extrude ±63 in y.
        assert_eq!(s.vertices[0].extrude, (0, 63));
        assert_eq!(s.vertices[1].extrude, (0, -63));
        assert_eq!(s.vertices[3].linesofar, 100.0);
    }

    #[test]
    fn diagonal_extrusions_are_quantized_like_maplibre() {
        let mut s = Strip::default();
        add_line(&mut s, &[(0.0, 0.0), (100.0, 100.0)], false, BUTT);
        // (−1, 1)/√2 × 63 = ±44.55 → ±45: a diagonal line is ~1 % wider.
        assert_eq!(s.vertices[0].extrude, (-45, 45));
    }

    #[test]
    fn round_joins_and_caps_add_vertices() {
        let mut s = Strip::default();
        let round = LineLayout {
            join: LineJoin::Round,
            cap: LineCap::Round,
            ..BUTT
        };
        add_line(
            &mut s,
            &[(0.0, 0.0), (100.0, 0.0), (100.0, 100.0)],
            false,
            round,
        );
        assert!(s.vertices.iter().filter(|v| v.round).count() >= 4);
        assert!(s.triangles.len() > 6);
    }
}
