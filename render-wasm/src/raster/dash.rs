//! `line-dasharray`: MapLibre's line atlas entry for a dash pattern (a row of signed distances
//! to the nearest dash edge, 256 texels per pattern period; 15 rows for round caps) and the
//! `line_sdf` shader's lookup. Ported from maplibre-gl-js 6.20 `src/render/line_atlas.ts`, its
//! quirks included, so dashes start, end and soften where MapLibre's do.

const WIDTH: usize = 256;

/// A dash pattern's atlas entry, ready to sample.
#[derive(Debug, Clone, PartialEq)]
pub struct DashRow {
    /// `2n + 1` rows of `WIDTH` bytes (n = 7 for round caps, 0 otherwise).
    rows: Vec<[u8; WIDTH]>,
    n: usize,
    /// Σ dasharray (line widths per period).
    length: f32,
    /// Line width (CSS px) the pattern scales with (`floorwidth`).
    width: f32,
    dpr: f32,
}

#[derive(Debug, Clone, Copy)]
struct Range {
    left: f64,
    right: f64,
    is_dash: bool,
    zero_length: bool,
}

fn dash_ranges(dasharray: &[f64], stretch: f64) -> Vec<Range> {
    let odd = dasharray.len() % 2 == 1;
    let mut ranges = Vec::with_capacity(dasharray.len());
    let left = if odd {
        -dasharray[dasharray.len() - 1] * stretch
    } else {
        0.0
    };
    ranges.push(Range {
        left,
        right: dasharray[0] * stretch,
        is_dash: true,
        zero_length: dasharray[0] == 0.0,
    });
    let mut current = dasharray[0];
    let mut is_dash = true;
    for &d in &dasharray[1..] {
        is_dash = !is_dash;
        let left = current * stretch;
        current += d;
        ranges.push(Range {
            left,
            right: current * stretch,
            is_dash,
            zero_length: d == 0.0,
        });
    }
    ranges
}

/// `Uint8Array` assignment of `max(0, min(255, v))`: truncation.
fn byte(v: f64) -> u8 {
    v.clamp(0.0, 255.0) as u8
}

impl DashRow {
    /// The entry for `dasharray` (line widths), drawn on a line `width` CSS px wide.
    /// `None` when the pattern has no length (MapLibre then draws no dashes either).
    pub fn new(dasharray: &[f32], round: bool, width: f32, dpr: f32) -> Option<DashRow> {
        let d: Vec<f64> = dasharray.iter().map(|v| f64::from(v.max(0.0))).collect();
        let length: f64 = d.iter().sum();
        if d.is_empty() || length <= 0.0 || !length.is_finite() {
            return None;
        }
        let stretch = WIDTH as f64 / length;
        let mut ranges = dash_ranges(&d, stretch);
        let n = if round { 7 } else { 0 };
        let mut rows = vec![[0u8; WIDTH]; 2 * n + 1];
        if round {
            let half = stretch / 2.0;
            for (r, row) in rows.iter_mut().enumerate() {
                let y = r as f64 - n as f64;
                let mut k = 0;
                for (x, out) in row.iter_mut().enumerate() {
                    let xf = x as f64;
                    if xf / ranges[k].right > 1.0 && k + 1 < ranges.len() {
                        k += 1;
                    }
                    let range = ranges[k];
                    let min_dist = (xf - range.left).abs().min((xf - range.right).abs());
                    let mid = y / n as f64 * (half + 1.0);
                    let sd = if range.is_dash {
                        let edge = half - mid.abs();
                        (min_dist * min_dist + edge * edge).sqrt()
                    } else {
                        half - (min_dist * min_dist + mid * mid).sqrt()
                    };
                    *out = byte(sd + 128.0);
                }
            }
        } else {
            // Collapse zero-length parts and merge neighbours of the same type.
            let mut i = ranges.len();
            while i > 0 {
                i -= 1;
                if ranges[i].zero_length {
                    ranges.remove(i);
                } else if i + 1 < ranges.len() && ranges[i + 1].is_dash == ranges[i].is_dash {
                    ranges[i + 1].left = ranges[i].left;
                    ranges.remove(i);
                }
            }
            if ranges.is_empty() {
                return None;
            }
            let last = ranges.len() - 1;
            if ranges[0].is_dash == ranges[last].is_dash {
                ranges[0].left = ranges[last].left - WIDTH as f64;
                ranges[last].right = ranges[0].right + WIDTH as f64;
            }
            let mut k = 0;
            for (x, out) in rows[0].iter_mut().enumerate() {
                let xf = x as f64;
                if xf / ranges[k].right > 1.0 && k + 1 < ranges.len() {
                    k += 1;
                }
                let range = ranges[k];
                let min_dist = (xf - range.left).abs().min((xf - range.right).abs());
                *out = byte(if range.is_dash { min_dist } else { -min_dist } + 128.0);
            }
        }
        Some(DashRow {
            rows,
            n,
            length: length as f32,
            width,
            dpr,
        })
    }

    /// The dash factor of a fragment at `linesofar` tile units along the line, `normal_y` its
    /// interpolated side (−1…1): the shader's `smoothstep` of the sampled distance.
    pub fn alpha(&self, linesofar: f32, normal_y: f32) -> f32 {
        if self.width <= 0.0 {
            return 0.0;
        }
        // v_tex.x in periods; texel x = u·256 − 0.5, repeating.
        let u = linesofar / 16.0 / self.length / self.width;
        let tx = u * WIDTH as f32 - 0.5;
        let x0 = tx.floor();
        let fx = tx - x0;
        let xi = |k: f32| (k.rem_euclid(WIDTH as f32)) as usize % WIDTH;
        let (xa, xb) = (xi(x0), xi(x0 + 1.0));
        // Rows: the entry's centre row for butt caps; ±n across the width for round caps.
        let sample_row = |r: &[u8; WIDTH]| {
            let a = f32::from(r[xa]) / 255.0;
            let b = f32::from(r[xb]) / 255.0;
            a + (b - a) * fx
        };
        let sdf = if self.n == 0 {
            sample_row(&self.rows[0])
        } else {
            // Row coordinate (entry-relative, texel centres at k + 0.5) = n + 0.5 − n·normal_y.
            let ty = self.n as f32 + 0.5 - self.n as f32 * normal_y - 0.5;
            let y0 = ty.floor().clamp(0.0, (2 * self.n) as f32);
            let fy = (ty - y0).clamp(0.0, 1.0);
            let r0 = y0 as usize;
            let r1 = (r0 + 1).min(2 * self.n);
            let a = sample_row(&self.rows[r0]);
            let b = sample_row(&self.rows[r1]);
            a + (b - a) * fy
        };
        let gamma = (1.0 / self.dpr) / self.length;
        let e = gamma / self.width;
        super::gpu::smoothstep(0.5 - e, 0.5 + e, sdf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dashes_alternate_along_the_line() {
        // [2, 1] on a 4 px line: 8 px dash, 4 px gap; 16 tile units per CSS px.
        let d = DashRow::new(&[2.0, 1.0], false, 4.0, 1.0).unwrap();
        assert!(d.alpha(4.0 * 16.0, 0.0) > 0.99, "middle of the dash");
        assert!(d.alpha(10.0 * 16.0, 0.0) < 0.01, "middle of the gap");
        assert!(d.alpha(16.0 * 16.0, 0.0) > 0.99, "next period");
    }

    #[test]
    fn an_empty_pattern_is_no_dash() {
        assert!(DashRow::new(&[0.0, 0.0], false, 2.0, 1.0).is_none());
    }
}
