//! Which tiles a seed covers: boxes, GeoJSON polygons or a list of `Z/X/Y` lines, over a zoom
//! range, in a fixed order. Each tile gets an ordinal (its place in that order), which is what
//! the checkpoint records.
//!
//! The order walks each zoom in aligned blocks of 8×8 tiles (row by row inside a block, block
//! rows north to south), so the tiles rendered near each other in time are neighbours on the
//! map, and an SQS batch is a compact patch: what a per-run cache of source tiles (and, when
//! labels land, of laid-out neighbours) needs to pay off.

use std::collections::VecDeque;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context as _};
use rasterzen_render::TileId;

use crate::source::{tile_bounds, SourceInfo};

/// Edge of a block, in tiles.
pub const BLOCK: u32 = 8;

/// A polygon (outer ring and holes) in normalized Web Mercator, x and y in 0..1 (y south).
#[derive(Debug, Clone)]
pub struct Polygon {
    rings: Vec<Vec<[f64; 2]>>,
}

/// The shapes of a GeoJSON file: every Polygon and MultiPolygon part in it.
#[derive(Debug, Clone)]
pub struct Shapes {
    polygons: Vec<Polygon>,
    /// West, south, east, north in degrees.
    pub bounds: [f64; 4],
}

fn merc(lon: f64, lat: f64) -> [f64; 2] {
    let lat = lat.clamp(crate::source::WORLD[1], crate::source::WORLD[3]);
    let x = (lon + 180.0) / 360.0;
    let y = (1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0;
    [x, y]
}

impl Shapes {
    /// Reads Polygon / MultiPolygon geometries, Features and FeatureCollections.
    pub fn parse(text: &str) -> anyhow::Result<Shapes> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| anyhow!("not JSON: {e}"))?;
        let mut rings_lonlat: Vec<Vec<Vec<[f64; 2]>>> = Vec::new();
        collect(&v, &mut rings_lonlat)?;
        if rings_lonlat.is_empty() {
            bail!("no Polygon or MultiPolygon in it");
        }
        let mut bounds = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
        let mut polygons = Vec::new();
        for poly in rings_lonlat {
            let mut rings = Vec::new();
            for ring in poly {
                if ring.len() < 3 {
                    bail!("a polygon ring has fewer than 3 positions");
                }
                for p in &ring {
                    bounds[0] = bounds[0].min(p[0]);
                    bounds[1] = bounds[1].min(p[1]);
                    bounds[2] = bounds[2].max(p[0]);
                    bounds[3] = bounds[3].max(p[1]);
                }
                rings.push(ring.iter().map(|p| merc(p[0], p[1])).collect());
            }
            polygons.push(Polygon { rings });
        }
        Ok(Shapes { polygons, bounds })
    }

    /// Whether the tile's square overlaps any polygon.
    pub fn intersects(&self, t: TileId) -> bool {
        let n = 2f64.powi(i32::from(t.z));
        let r = [
            f64::from(t.x) / n,
            f64::from(t.y) / n,
            f64::from(t.x + 1) / n,
            f64::from(t.y + 1) / n,
        ];
        self.polygons.iter().any(|p| p.intersects(r))
    }
}

fn position(v: &serde_json::Value) -> anyhow::Result<[f64; 2]> {
    let a = v
        .as_array()
        .ok_or_else(|| anyhow!("a position is not an array"))?;
    match (
        a.first().and_then(|x| x.as_f64()),
        a.get(1).and_then(|x| x.as_f64()),
    ) {
        (Some(lon), Some(lat)) if lon.is_finite() && lat.is_finite() => Ok([lon, lat]),
        _ => bail!("a position is not [longitude, latitude]"),
    }
}

fn polygon(coords: &serde_json::Value) -> anyhow::Result<Vec<Vec<[f64; 2]>>> {
    coords
        .as_array()
        .ok_or_else(|| anyhow!("Polygon coordinates are not an array of rings"))?
        .iter()
        .map(|ring| {
            ring.as_array()
                .ok_or_else(|| anyhow!("a ring is not an array"))?
                .iter()
                .map(position)
                .collect()
        })
        .collect()
}

fn collect(v: &serde_json::Value, out: &mut Vec<Vec<Vec<[f64; 2]>>>) -> anyhow::Result<()> {
    match v.get("type").and_then(|t| t.as_str()) {
        Some("FeatureCollection") => {
            for f in v
                .get("features")
                .and_then(|f| f.as_array())
                .ok_or_else(|| anyhow!("a FeatureCollection without features"))?
            {
                collect(f, out)?;
            }
        }
        Some("Feature") => {
            if let Some(g) = v.get("geometry").filter(|g| !g.is_null()) {
                collect(g, out)?;
            }
        }
        Some("GeometryCollection") => {
            for g in v
                .get("geometries")
                .and_then(|g| g.as_array())
                .into_iter()
                .flatten()
            {
                collect(g, out)?;
            }
        }
        Some("Polygon") => out.push(polygon(&v["coordinates"])?),
        Some("MultiPolygon") => {
            for p in v["coordinates"]
                .as_array()
                .ok_or_else(|| anyhow!("MultiPolygon coordinates are not an array"))?
            {
                out.push(polygon(p)?);
            }
        }
        // Points and lines cover no area.
        Some(_) => {}
        None => bail!("a GeoJSON object without a type"),
    }
    Ok(())
}

impl Polygon {
    /// Even-odd over all rings: inside the outer ring and outside every hole.
    fn contains(&self, p: [f64; 2]) -> bool {
        let mut inside = false;
        for ring in &self.rings {
            let mut j = ring.len() - 1;
            for i in 0..ring.len() {
                let (a, b) = (ring[i], ring[j]);
                if (a[1] > p[1]) != (b[1] > p[1])
                    && p[0] < (b[0] - a[0]) * (p[1] - a[1]) / (b[1] - a[1]) + a[0]
                {
                    inside = !inside;
                }
                j = i;
            }
        }
        inside
    }

    /// Whether the rectangle `[x0, y0, x1, y1]` overlaps the polygon.
    fn intersects(&self, r: [f64; 4]) -> bool {
        let in_rect = |p: [f64; 2]| p[0] >= r[0] && p[0] <= r[2] && p[1] >= r[1] && p[1] <= r[3];
        let corners = [[r[0], r[1]], [r[2], r[1]], [r[2], r[3]], [r[0], r[3]]];
        for ring in &self.rings {
            if ring.iter().any(|&p| in_rect(p)) {
                return true;
            }
            for w in 0..ring.len() {
                let (a, b) = (ring[w], ring[(w + 1) % ring.len()]);
                for c in 0..4 {
                    if segments_cross(a, b, corners[c], corners[(c + 1) % 4]) {
                        return true;
                    }
                }
            }
        }
        // No boundary inside or across the rectangle: it is wholly inside or wholly outside.
        self.contains([(r[0] + r[2]) / 2.0, (r[1] + r[3]) / 2.0])
    }
}

fn segments_cross(a: [f64; 2], b: [f64; 2], c: [f64; 2], d: [f64; 2]) -> bool {
    let orient = |p: [f64; 2], q: [f64; 2], r: [f64; 2]| {
        (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])
    };
    let (d1, d2) = (orient(c, d, a), orient(c, d, b));
    let (d3, d4) = (orient(a, b, c), orient(a, b, d));
    ((d1 > 0.0 && d2 < 0.0) || (d1 < 0.0 && d2 > 0.0))
        && ((d3 > 0.0 && d4 < 0.0) || (d3 < 0.0 && d4 > 0.0))
}

/// `W,S,E,N` in degrees.
pub fn parse_bbox(s: &str) -> anyhow::Result<[f64; 4]> {
    let v: Vec<f64> = s
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| anyhow!("--bbox {s:?} is not W,S,E,N (four numbers, degrees)"))?;
    let [w, so, e, n] = v[..] else {
        bail!("--bbox {s:?} is not W,S,E,N (four numbers, degrees)")
    };
    if !(-180.0..=180.0).contains(&w) || !(-180.0..=180.0).contains(&e) {
        bail!("--bbox {s:?}: longitudes must be within -180..180");
    }
    if !(-90.0..=90.0).contains(&so) || !(-90.0..=90.0).contains(&n) {
        bail!("--bbox {s:?}: latitudes must be within -90..90");
    }
    if w >= e || so >= n {
        bail!("--bbox {s:?}: west must be less than east and south less than north");
    }
    Ok([w, so, e, n])
}

/// `A-B` or `Z`.
pub fn parse_zooms(s: &str) -> anyhow::Result<(u8, u8)> {
    let bad = || anyhow!("--zooms {s:?} is not A-B or Z (zoom levels 0 to 30)");
    let (a, b) = match s.trim().split_once('-') {
        Some((a, b)) => (a.trim(), b.trim()),
        None => (s.trim(), s.trim()),
    };
    let a: u8 = a.parse().map_err(|_| bad())?;
    let b: u8 = b.parse().map_err(|_| bad())?;
    if a > b || b > 30 {
        return Err(bad());
    }
    Ok((a, b))
}

/// `Z/X/Y` lines (blank lines and `#` comments ignored).
pub fn parse_tile_list(text: &str, name: &str) -> anyhow::Result<Vec<TileId>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let t = crate::parse_tile(line).with_context(|| format!("{name}, line {}", i + 1))?;
        out.push(t);
    }
    Ok(out)
}

/// A rectangle of tiles at one zoom, with what else a tile must satisfy.
#[derive(Debug, Clone)]
struct Rect {
    z: u8,
    x0: u32,
    y0: u32,
    x1: u32,
    y1: u32,
    /// The box asked for, degrees (tiles must overlap it).
    bbox: [f64; 4],
    shapes: Option<Arc<Shapes>>,
}

impl Rect {
    fn accepts(&self, t: TileId, info: &SourceInfo) -> bool {
        if t.z != self.z || t.x < self.x0 || t.x > self.x1 || t.y < self.y0 || t.y > self.y1 {
            return false;
        }
        let [w, s, e, n] = tile_bounds(t);
        let [bw, bs, be, bn] = self.bbox;
        if !(w < be && e > bw && s < bn && n > bs && info.intersects(t)) {
            return false;
        }
        self.shapes.as_ref().is_none_or(|sh| sh.intersects(t))
    }

    fn len(&self) -> u64 {
        u64::from(self.x1 - self.x0 + 1) * u64::from(self.y1 - self.y0 + 1)
    }
}

/// What a seed covers.
#[derive(Debug, Clone)]
pub struct Plan {
    rects: Vec<Rect>,
    list: Option<Arc<Vec<TileId>>>,
    info: SourceInfo,
    /// A canonical description (part of the run's identity).
    pub describe: String,
}

/// The tile range covering `bbox` at zoom `z` (inclusive), or `None` when empty.
fn tile_range(bbox: [f64; 4], z: u8) -> Option<(u32, u32, u32, u32)> {
    let n = 2f64.powi(i32::from(z));
    let max = (1u64 << z) as f64 - 1.0;
    let [x0, y1] = merc(bbox[0], bbox[1]);
    let [x1, y0] = merc(bbox[2], bbox[3]);
    let fx0 = (x0 * n).floor().clamp(0.0, max);
    let fy0 = (y0 * n).floor().clamp(0.0, max);
    let fx1 = ((x1 * n).ceil() - 1.0).clamp(0.0, max);
    let fy1 = ((y1 * n).ceil() - 1.0).clamp(0.0, max);
    (fx0 <= fx1 && fy0 <= fy1).then_some((fx0 as u32, fy0 as u32, fx1 as u32, fy1 as u32))
}

fn intersect(a: [f64; 4], b: [f64; 4]) -> Option<[f64; 4]> {
    let r = [
        a[0].max(b[0]),
        a[1].max(b[1]),
        a[2].min(b[2]),
        a[3].min(b[3]),
    ];
    (r[0] < r[2] && r[1] < r[3]).then_some(r)
}

impl Plan {
    /// Boxes (each `W,S,E,N`) and shapes over `zooms`, clipped to the source's bounds; with
    /// neither, the source's whole extent.
    pub fn areas(
        bboxes: &[[f64; 4]],
        shapes: Option<Arc<Shapes>>,
        zooms: (u8, u8),
        info: &SourceInfo,
    ) -> Plan {
        let mut areas: Vec<([f64; 4], Option<Arc<Shapes>>)> =
            bboxes.iter().map(|b| (*b, None)).collect();
        if let Some(sh) = &shapes {
            areas.push((sh.bounds, Some(Arc::clone(sh))));
        }
        if areas.is_empty() {
            areas.push((info.bounds, None));
        }
        let mut rects = Vec::new();
        for z in zooms.0..=zooms.1 {
            for (bbox, sh) in &areas {
                let Some(clipped) = intersect(*bbox, info.bounds) else {
                    continue;
                };
                if let Some((x0, y0, x1, y1)) = tile_range(clipped, z) {
                    rects.push(Rect {
                        z,
                        x0,
                        y0,
                        x1,
                        y1,
                        bbox: *bbox,
                        shapes: sh.clone(),
                    });
                }
            }
        }
        let describe = format!(
            "zooms {}-{}; boxes {:?}; shapes {}",
            zooms.0,
            zooms.1,
            areas.iter().map(|a| a.0).collect::<Vec<_>>(),
            shapes.is_some()
        );
        Plan {
            rects,
            list: None,
            info: info.clone(),
            describe,
        }
    }

    /// An explicit list of tiles (in the list's order).
    pub fn list(tiles: Vec<TileId>, info: &SourceInfo) -> Plan {
        let describe = format!(
            "list of {} tiles: {}",
            tiles.len(),
            crate::source::short_hash(&[tiles
                .iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>()
                .join(",")
                .as_bytes()])
        );
        Plan {
            rects: Vec::new(),
            list: Some(Arc::new(tiles)),
            info: info.clone(),
            describe,
        }
    }

    /// Every tile, with its ordinal, in seeding order.
    pub fn iter(&self) -> PlanIter<'_> {
        PlanIter {
            plan: self,
            rect: 0,
            block: (0, 0),
            started: false,
            list_at: 0,
            buffer: VecDeque::new(),
            ordinal: 0,
        }
    }

    /// How many tiles the plan holds (a walk, except for plain rectangles).
    pub fn count(&self) -> u64 {
        if let Some(l) = &self.list {
            return l.len() as u64;
        }
        let plain = self
            .rects
            .iter()
            .enumerate()
            .all(|(i, r)| r.shapes.is_none() && !self.rects[..i].iter().any(|o| o.z == r.z));
        if plain {
            // Each rectangle still drops tiles that only touch the box or the source's bounds.
            let mut n = 0;
            for r in &self.rects {
                let edge = r.len() <= 4096;
                n += if edge {
                    self.walk_rect(r)
                } else {
                    r.len() - self.border_rejects(r)
                };
            }
            return n;
        }
        self.iter().count() as u64
    }

    fn walk_rect(&self, r: &Rect) -> u64 {
        let mut n = 0;
        for y in r.y0..=r.y1 {
            for x in r.x0..=r.x1 {
                if r.accepts(TileId { z: r.z, x, y }, &self.info) {
                    n += 1;
                }
            }
        }
        n
    }

    /// Tiles on a large rectangle's border that `accepts` drops (interior ones always pass).
    fn border_rejects(&self, r: &Rect) -> u64 {
        let mut n = 0;
        let mut check = |x: u32, y: u32| {
            if !r.accepts(TileId { z: r.z, x, y }, &self.info) {
                n += 1;
            }
        };
        for x in r.x0..=r.x1 {
            check(x, r.y0);
            if r.y1 != r.y0 {
                check(x, r.y1);
            }
        }
        for y in r.y0 + 1..r.y1 {
            check(r.x0, y);
            if r.x1 != r.x0 {
                check(r.x1, y);
            }
        }
        n
    }
}

/// The walk behind [`Plan::iter`].
pub struct PlanIter<'a> {
    plan: &'a Plan,
    rect: usize,
    /// The block being emitted (bx, by).
    block: (u32, u32),
    started: bool,
    list_at: usize,
    buffer: VecDeque<TileId>,
    ordinal: u64,
}

impl PlanIter<'_> {
    /// Fills the buffer with the next block's accepted tiles; false when the plan is done.
    fn refill(&mut self) -> bool {
        let plan = self.plan;
        while self.buffer.is_empty() {
            let Some(r) = plan.rects.get(self.rect) else {
                return false;
            };
            let (bx0, by0, bx1, by1) = (r.x0 / BLOCK, r.y0 / BLOCK, r.x1 / BLOCK, r.y1 / BLOCK);
            if !self.started {
                self.block = (bx0, by0);
                self.started = true;
            } else if self.block.0 < bx1 {
                self.block.0 += 1;
            } else if self.block.1 < by1 {
                self.block = (bx0, self.block.1 + 1);
            } else {
                self.rect += 1;
                self.started = false;
                continue;
            }
            let (bx, by) = self.block;
            let earlier = &plan.rects[..self.rect];
            for y in (by * BLOCK).max(r.y0)..=(by * BLOCK + BLOCK - 1).min(r.y1) {
                for x in (bx * BLOCK).max(r.x0)..=(bx * BLOCK + BLOCK - 1).min(r.x1) {
                    let t = TileId { z: r.z, x, y };
                    // Overlapping boxes: a tile belongs to the first one that has it.
                    if r.accepts(t, &plan.info) && !earlier.iter().any(|o| o.accepts(t, &plan.info))
                    {
                        self.buffer.push_back(t);
                    }
                }
            }
        }
        true
    }
}

impl Iterator for PlanIter<'_> {
    type Item = (u64, TileId);

    fn next(&mut self) -> Option<(u64, TileId)> {
        let t = if let Some(list) = &self.plan.list {
            let t = *list.get(self.list_at)?;
            self.list_at += 1;
            t
        } else {
            if self.buffer.is_empty() && !self.refill() {
                return None;
            }
            self.buffer.pop_front()?
        };
        let o = self.ordinal;
        self.ordinal += 1;
        Some((o, t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn florence() -> SourceInfo {
        SourceInfo {
            bounds: [11.15, 43.72, 11.34, 43.83],
            ..SourceInfo::world("f", 0, 14)
        }
    }

    #[test]
    fn boxes_zooms_and_counts() {
        let info = florence();
        let plan = Plan::areas(&[], None, (0, 14), &info);
        let all: Vec<(u64, TileId)> = plan.iter().collect();
        assert_eq!(all.len() as u64, plan.count());
        assert_eq!(all[0], (0, TileId { z: 0, x: 0, y: 0 }));
        assert!(all.iter().all(|(_, t)| info.intersects(*t)));
        let mut seen = std::collections::HashSet::new();
        assert!(all.iter().all(|(_, t)| seen.insert(*t)), "no tile twice");
        assert!(all.iter().enumerate().all(|(i, (o, _))| *o == i as u64));
        // Every z14 tile the source's bounds touch.
        let z14 = all.iter().filter(|(_, t)| t.z == 14).count();
        let mut expect = 0;
        for x in 8650..8750 {
            for y in 5920..6020 {
                if info.intersects(TileId { z: 14, x, y }) {
                    expect += 1;
                }
            }
        }
        assert_eq!(z14, expect);
        // Two overlapping boxes: the overlap once.
        let a = parse_bbox("11.2,43.75,11.26,43.79").unwrap();
        let b = parse_bbox("11.24,43.76,11.3,43.8").unwrap();
        let both = Plan::areas(&[a, b], None, (14, 14), &info);
        let n = both.iter().count() as u64;
        assert_eq!(n, both.count());
        let only_a = Plan::areas(&[a], None, (14, 14), &info).count();
        let only_b = Plan::areas(&[b], None, (14, 14), &info).count();
        assert!(
            n < only_a + only_b && n > only_a.max(only_b),
            "{n} {only_a} {only_b}"
        );
    }

    #[test]
    fn polygons_keep_the_tiles_they_touch() {
        let info = SourceInfo::world("w", 0, 14);
        // A triangle: its bounding box holds more tiles than it touches.
        let tri = r#"{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[11.2,43.74],[11.3,43.74],[11.2,43.82],[11.2,43.74]]]}}"#;
        let sh = Arc::new(Shapes::parse(tri).unwrap());
        let plan = Plan::areas(&[], Some(Arc::clone(&sh)), (13, 13), &info);
        let boxed = Plan::areas(&[sh.bounds], None, (13, 13), &info).count();
        let n = plan.count();
        assert!(n > 0 && n < boxed, "{n} of {boxed}");
        // The corner tile at the right angle is in, the opposite corner out.
        let corner = crate::source::tile_at(11.201, 43.741, 13);
        let far = crate::source::tile_at(11.299, 43.819, 13);
        assert!(sh.intersects(corner));
        assert!(!sh.intersects(far));
        assert!(Shapes::parse(r#"{"type":"Point","coordinates":[1,2]}"#).is_err());
    }

    #[test]
    fn parsing() {
        assert_eq!(parse_zooms("0-14").unwrap(), (0, 14));
        assert_eq!(parse_zooms("7").unwrap(), (7, 7));
        assert!(parse_zooms("9-3").is_err());
        assert!(parse_zooms("0-31").is_err());
        assert!(parse_bbox("1,2,3").is_err());
        assert!(parse_bbox("3,2,1,4").is_err());
        let l = parse_tile_list("# tiles\n14/8704/5972\n\n0/0/0\n", "list").unwrap();
        assert_eq!(l.len(), 2);
        let e = parse_tile_list("1/5/0\n", "list").unwrap_err();
        assert!(format!("{e:#}").contains("line 1"), "{e:#}");
    }
}
