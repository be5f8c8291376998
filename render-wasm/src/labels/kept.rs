//! Neighbour layouts kept between renders.
//!
//! A labelled tile is drawn with its 8 neighbours laid out as they lay themselves out, and a
//! tile is the neighbour of 8 others: the renders of a map view or a seed run lay out the same
//! neighbour again and again (1–1.5 ms each for a dense z14 tile). A layout is a pure function
//! of the tile's data, the style, the sprites and the view, so the last few are kept, keyed by
//! exactly those: the decoded tile by identity (the `Arc` that [`crate::mvt::reuse`] hands
//! out, held by the entry so its address cannot be reused), the style by its hash (which
//! covers every value of it), the sprite sheets by identity (held too), the fonts by name and
//! face (a face's number is never reused), and the view. A kept
//! layout is the layout: placing it decides exactly what laying it out again would.
//!
//! Per thread (one per component instance; natively one per render thread), at most
//! [`MAX_LAYOUTS`] layouts and [`MAX_CANDIDATES`] candidates in all (~1 KB each), the oldest
//! going first.

use std::cell::RefCell;
use std::sync::Arc;

use super::font::{FaceId, Fonts};
use super::placement::FBox;
use super::{Candidate, IconPlace, LayoutCache};
use crate::mvt::Tile;
use crate::scene::View;
use crate::sprite::{SpriteSheet, Sprites};
use crate::style::Style;
use crate::TileId;

/// Layouts kept at most, per thread.
pub const MAX_LAYOUTS: usize = 32;
/// Candidates kept at most over all layouts, per thread.
pub const MAX_CANDIDATES: usize = 48_000;

/// A candidate whose icon names its sprite image instead of borrowing it (resolved again
/// against the render's sprites, which the key guarantees are the same sheets).
struct KeptCandidate {
    base: Candidate<'static>,
    /// (anchor, u, rect, collision box, image name) of the icon.
    icon: Option<(super::P, super::P, [f64; 4], FBox, String)>,
}

struct Entry {
    tile: Arc<Tile>,
    style: String,
    sheets: Vec<(String, Arc<SpriteSheet>)>,
    fonts: Vec<(String, FaceId)>,
    view: (TileId, TileId, u32, u32),
    candidates: Vec<KeptCandidate>,
}

thread_local! {
    static KEPT: RefCell<Vec<Entry>> = const { RefCell::new(Vec::new()) };
}

/// `c` with `icon` in place of its own (every other field copied): the one place that knows
/// a candidate's fields, for both directions.
fn with_icon<'b>(c: &Candidate<'_>, icon: Option<(IconPlace<'b>, FBox, String)>) -> Candidate<'b> {
    Candidate {
        owner: c.owner,
        layer: c.layer,
        sort_key: c.sort_key,
        feature: c.feature,
        anchor_index: c.anchor_index,
        variant: c.variant,
        text: std::rc::Rc::clone(&c.text),
        anchor: c.anchor,
        scale: c.scale,
        glyphs: c.glyphs.clone(),
        boxes: c.boxes.clone(),
        ink: c.ink,
        icon,
        layout_flags: c.layout_flags,
        by_y: c.by_y,
        paint: c.paint.clone(),
    }
}

fn strip(c: &Candidate<'_>) -> KeptCandidate {
    KeptCandidate {
        base: with_icon(c, None),
        icon: c
            .icon
            .as_ref()
            .map(|(p, b, name)| (p.anchor, p.u, p.rect, *b, name.clone())),
    }
}

fn restore<'a>(k: &KeptCandidate, sprites: &'a Sprites) -> Option<Candidate<'a>> {
    let icon = match &k.icon {
        None => None,
        Some((anchor, u, rect, b, name)) => Some((
            IconPlace {
                image: sprites.get(name)?,
                anchor: *anchor,
                u: *u,
                rect: *rect,
            },
            *b,
            name.clone(),
        )),
    };
    Some(with_icon(&k.base, icon))
}

fn same_sheets(a: &[(String, Arc<SpriteSheet>)], b: &[(String, Arc<SpriteSheet>)]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((ia, sa), (ib, sb))| ia == ib && Arc::ptr_eq(sa, sb))
}

/// The layout of `tile` (shared through [`crate::mvt::reuse`]) under `view`, kept from an
/// earlier render when one laid out exactly this, else laid out through `cache` and kept.
pub(super) fn layout_kept<'a>(
    tile: &Arc<Tile>,
    style: &Style,
    view: &View,
    sprites: &'a Sprites,
    fonts: &Fonts,
    cache: &mut LayoutCache,
) -> Vec<Candidate<'a>> {
    let sheets = sprites.sheets();
    let font_key = fonts.key();
    let key_view = (view.tile, view.data_tile, view.size, view.scale);
    let hit = KEPT.with(|kept| {
        let mut kept = kept.borrow_mut();
        let i = kept.iter().position(|e| {
            Arc::ptr_eq(&e.tile, tile)
                && e.view == key_view
                && e.style == style.hash_hex()
                && same_sheets(&e.sheets, &sheets)
                && e.fonts == font_key
        })?;
        // Most recently used goes last.
        let e = kept.remove(i);
        let list: Option<Vec<Candidate<'a>>> =
            e.candidates.iter().map(|k| restore(k, sprites)).collect();
        kept.push(e);
        list
    });
    if let Some(list) = hit {
        return list;
    }
    let list = super::layout_shared(tile, style, view, sprites, fonts, cache).list;
    // Kept only while `mvt::reuse` holds the tile too (else no later render can meet it).
    if list.len() <= MAX_CANDIDATES / 4 && Arc::strong_count(tile) > 1 {
        KEPT.with(|kept| {
            let mut kept = kept.borrow_mut();
            // A layout whose tile `mvt::reuse` no longer holds can never be met again (the
            // next decode of that data is another `Arc`): it goes first, and its tile with it.
            kept.retain(|e| Arc::strong_count(&e.tile) > 1);
            let mut total: usize = kept.iter().map(|e| e.candidates.len()).sum();
            while !kept.is_empty()
                && (kept.len() >= MAX_LAYOUTS || total + list.len() > MAX_CANDIDATES)
            {
                total -= kept.remove(0).candidates.len();
            }
            kept.push(Entry {
                tile: Arc::clone(tile),
                style: style.hash_hex().to_string(),
                sheets,
                fonts: font_key,
                view: key_view,
                candidates: list.iter().map(strip).collect(),
            });
        });
    }
    list
}

/// Layouts kept on this thread (for tests).
pub fn kept_layouts() -> usize {
    KEPT.with(|k| k.borrow().len())
}

/// Forgets the kept layouts (benchmarks of a first render).
pub fn forget_layouts() {
    KEPT.with(|k| k.borrow_mut().clear());
}
