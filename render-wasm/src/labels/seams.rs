//! Labels that agree across tile seams: region-local greedy placement with one global order
//! (labels.md §4.3).
//!
//! Every tile of the 3×3 block around the drawn tile is laid out exactly as that tile lays
//! itself out ([`super::layout`] with its own view), then moved into the drawn tile's frame
//! by whole tiles (integers in fixed point, so collision answers do not depend on which tile
//! is drawn). A label L touching the tiles `touched(L)` is decided by greedy placement, in
//! the global order, over the candidates owned by `C(L)` = the intersection of the 3×3
//! blocks of every tile in `touched(L)`. Every tile L touches computes the same `C(L)` from
//! the same data, so all of them draw L or none does: no label is cut at a seam. A label
//! reaching further than one tile from its owner is never placed (it could touch a tile
//! whose block lacks the owner).
//!
//! Coordinates: as the label stage's (CSS px of the drawn tile; fixed point 1/64 px).

use std::collections::HashMap;
use std::sync::Arc;

use super::font::Fonts;
use super::placement::{FBox, FIXED};
use super::{
    emit, global_order, greedy, layout_shared, Candidate, Candidates, Labels, LayoutCache,
};
use crate::mvt::Tile;
use crate::scene::View;
use crate::sprite::Sprites;
use crate::style::Style;
use crate::TileId;

/// A tile of the block around the drawn one: its offset (each of `dx`, `dy` in −1..=1, not
/// both 0) and its decoded data.
#[derive(Debug, Clone, Copy)]
pub struct Neighbour<'t> {
    pub dx: i32,
    pub dy: i32,
    pub tile: &'t Tile,
    /// `tile` as [`crate::mvt::reuse`] shares it between renders, when it came from there:
    /// its layout is then kept between renders too ([`super::kept`]).
    pub shared: Option<&'t Arc<Tile>>,
}

/// How seam labels are decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeamMode {
    /// Region-local greedy (the real algorithm).
    Region,
    /// Greedy over the whole 3×3 block, drawing what touches the centre: the obvious idea,
    /// which cuts labels when a chain of conflicts leaves the block (kept to prove the seam
    /// tests can tell the two apart).
    Block,
}

/// The tile range `[x0, x1] × [y0, y1]` (relative tile offsets) that boxes touch.
fn touched(boxes: &[FBox], s: i64) -> Option<[i64; 4]> {
    let mut r = [i64::MAX, i64::MAX, i64::MIN, i64::MIN];
    for b in boxes {
        r[0] = r[0].min(i64::from(b.x0).div_euclid(s));
        r[1] = r[1].min(i64::from(b.y0).div_euclid(s));
        r[2] = r[2].max(i64::from(b.x1).div_euclid(s));
        r[3] = r[3].max(i64::from(b.y1).div_euclid(s));
    }
    (r[0] <= r[2]).then_some(r)
}

/// Everything that decides which tiles a label touches: its collision boxes and its ink.
fn all_boxes(c: &Candidate<'_>) -> Vec<FBox> {
    c.boxes
        .iter()
        .copied()
        .chain(c.icon.as_ref().map(|i| i.1))
        .chain(std::iter::once(c.ink))
        .collect()
}

/// Moves a candidate laid out in its owner's frame into the drawn tile's frame.
fn shift(c: &mut Candidate<'_>, dx: i32, dy: i32, size: f64, s: i64) {
    let (ox, oy) = (f64::from(dx) * size, f64::from(dy) * size);
    let (fx, fy) = (i64::from(dx) * s, i64::from(dy) * s);
    let mv = |b: &mut FBox| {
        let clamp = |v: i64| v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
        b.x0 = clamp(i64::from(b.x0) + fx);
        b.x1 = clamp(i64::from(b.x1) + fx);
        b.y0 = clamp(i64::from(b.y0) + fy);
        b.y1 = clamp(i64::from(b.y1) + fy);
    };
    c.owner = (dx, dy);
    c.anchor = (c.anchor.0 + ox, c.anchor.1 + oy);
    for g in &mut c.glyphs {
        g.origin = (g.origin.0 + ox, g.origin.1 + oy);
    }
    c.boxes.iter_mut().for_each(mv);
    mv(&mut c.ink);
    if let Some((place, b, _)) = &mut c.icon {
        place.anchor = (place.anchor.0 + ox, place.anchor.1 + oy);
        mv(b);
    }
}

/// One anchor of one feature of one layer of one owner tile.
type AnchorKey = ((i32, i32), usize, usize, usize);

/// Labels of the drawn tile decided together with its neighbours (see the module docs).
/// Missing neighbours count as empty tiles. With no neighbours this is plain greedy
/// placement of the tile's own labels.
pub fn build_block<'a>(
    centre: &Tile,
    neighbours: &[Neighbour<'_>],
    style: &'a Style,
    view: &View,
    sprites: &'a Sprites,
    fonts: &Fonts,
    mode: SeamMode,
) -> Labels<'a> {
    let s = (f64::from(view.size) * FIXED) as i64;
    let size = f64::from(view.size);
    let mut cache = LayoutCache::new();
    let own = layout_shared(centre, style, view, sprites, fonts, &mut cache);
    let warnings = own.warnings;
    let mut all: Vec<Candidate<'a>> = own.list;
    let n = 1u64 << view.tile.z.min(31);
    for nb in neighbours {
        if nb.dx.abs() > 1 || nb.dy.abs() > 1 || (nb.dx == 0 && nb.dy == 0) {
            continue;
        }
        let y = i64::from(view.tile.y) + i64::from(nb.dy);
        if y < 0 || y >= n as i64 {
            continue;
        }
        // x wraps around the antimeridian.
        let x = (i64::from(view.tile.x) + i64::from(nb.dx)).rem_euclid(n as i64) as u32;
        let id = TileId {
            z: view.tile.z,
            x,
            y: y as u32,
        };
        // Laid out as that tile lays itself out: from its ancestor's data when overzooming.
        let nv = View::new(id, id.ancestor(view.data_tile.z), view.size, view.scale);
        let list = match nb.shared {
            Some(shared) => {
                super::kept::layout_kept(shared, style, &nv, sprites, fonts, &mut cache)
            }
            None => layout_shared(nb.tile, style, &nv, sprites, fonts, &mut cache).list,
        };
        for mut c in list {
            shift(&mut c, nb.dx, nb.dy, size, s);
            all.push(c);
        }
    }
    // Never place a label that reaches beyond its owner's block.
    all.retain(|c| {
        touched(&all_boxes(c), s).is_some_and(|t| {
            t[0] >= i64::from(c.owner.0) - 1
                && t[2] <= i64::from(c.owner.0) + 1
                && t[1] >= i64::from(c.owner.1) - 1
                && t[3] <= i64::from(c.owner.1) + 1
        })
    });
    let order = global_order(&all);
    let spans: Vec<Option<[i64; 4]>> = all.iter().map(|c| touched(&all_boxes(c), s)).collect();
    // The `text-variable-anchor`s of one anchor are decided together (at most one is
    // placed), so over one region: that of the tiles any of them touches. Every tile one of
    // them touches holds the owner in its block, so computes the same region.
    let key = |c: &Candidate<'_>| (c.owner, c.layer, c.feature, c.anchor_index);
    let mut group: HashMap<AnchorKey, [i64; 4]> = HashMap::new();
    for (c, t) in all.iter().zip(&spans) {
        if let Some(t) = *t {
            group
                .entry(key(c))
                .and_modify(|g| {
                    g[0] = g[0].min(t[0]);
                    g[1] = g[1].min(t[1]);
                    g[2] = g[2].max(t[2]);
                    g[3] = g[3].max(t[3]);
                })
                .or_insert(t);
        }
    }
    let regions: Vec<Option<[i64; 4]>> = all
        .iter()
        .zip(&spans)
        .map(|(c, t)| {
            let t = (*t)?;
            // Only labels touching the drawn tile are drawn here.
            if t[0] > 0 || t[2] < 0 || t[1] > 0 || t[3] < 0 {
                return None;
            }
            let g = group.get(&key(c)).copied().unwrap_or(t);
            Some(match mode {
                SeamMode::Region => [g[2] - 1, g[3] - 1, g[0] + 1, g[1] + 1],
                SeamMode::Block => [-1, -1, 1, 1],
            })
        })
        .collect();
    // One greedy run per distinct region (at most 9): (region, decisions).
    type Decisions = Vec<(bool, bool)>;
    let mut memo: Vec<([i64; 4], Decisions)> = Vec::new();
    let mut placed = vec![(false, false); all.len()];
    for (i, region) in regions.iter().enumerate() {
        let Some(r) = *region else { continue };
        let k = match memo.iter().position(|(m, _)| *m == r) {
            Some(k) => k,
            None => {
                let inside = |c: &Candidate<'_>| {
                    let (x, y) = (i64::from(c.owner.0), i64::from(c.owner.1));
                    x >= r[0] && x <= r[2] && y >= r[1] && y <= r[3]
                };
                let sub: Vec<usize> = order.iter().copied().filter(|&j| inside(&all[j])).collect();
                memo.push((r, greedy(&all, &sub)));
                memo.len() - 1
            }
        };
        placed[i] = memo[k].1[i];
    }
    emit(
        Candidates {
            list: all,
            warnings,
        },
        &placed,
        style,
        view,
        fonts,
    )
}
