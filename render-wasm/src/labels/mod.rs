//! Labels: MapLibre `symbol` layers (text), their own stage after [`crate::scene::build`].
//!
//! | module | what |
//! |---|---|
//! | [`font`] | faces (embedded Noto Sans, the host's files), `text-font` stacks; harfrust shaping, skrifa outlines |
//! | [`shaping`] | MapLibre's line breaking, justification and block alignment |
//! | [`layout`] | anchors (point, polygon, line, line-center), `text-max-angle`, glyphs along lines |
//! | [`placement`] | fixed-point collision index |
//! | [`kept`] | neighbour layouts kept between renders |
//! | [`draw`] | glyph outlines as device-pixel paths for the PNG and SVG writers |
//! | `coverage` | the PNG's glyph coverage (exact area) and halos grown from it by distance |
//!
//! Order of work, as MapLibre's: every symbol layer's features are laid out into candidates
//! (one per anchor); candidates are placed greedily in one total order — layers from the top
//! down, then `symbol-sort-key` ascending, then feature (tile) order, then anchor order; the
//! placed ones are drawn in their layer's slot of the style, halos under text. The order uses
//! no hash iteration and no float comparison that could tie differently between targets.
//!
//! Coordinates: CSS px of the drawn tile (origin top-left, y down) for layout; fixed point
//! (1/64 CSS px) for collisions; device px for drawing.

mod coverage;
pub mod draw;
pub mod font;
pub mod kept;
pub mod layout;
pub mod placement;
pub mod seams;
pub mod shaping;

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use crate::mvt::{FeatureRef, Geometry, Tile};
use crate::scene::{DrawLayer, View, UNITS_PER_CSS_PX};
use crate::sprite::{ImageRef, Sprites};
use crate::style::{
    FontStack, Groupings, IconLayout, IconTextFit, LayerKind, Style, SymbolLayout, SymbolPaint,
    SymbolPlacement, TagMemo, TextAnchor, TextJustify, ZOrder,
};
use font::{FaceId, Fonts};
use layout::{LineAnchor, LineParams, P};
use placement::{CollisionIndex, FBox};
use shaping::{ShapeParams, Shaping};

pub use draw::{LabelDraw, LabelLayer};

/// One glyph of a laid-out label: its outline is drawn at `origin` (CSS px) with the x axis
/// along the unit vector `u` (the y axis is `u` turned 90° clockwise, y down), scaled by the
/// label's font scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GlyphPlace {
    pub face: FaceId,
    pub id: u32,
    pub origin: P,
    pub u: P,
}

/// An icon of a laid-out label: the sprite image drawn over `rect` (CSS px, in the frame at
/// `anchor` whose x axis is the unit vector `u`).
#[derive(Debug, Clone, Copy)]
pub struct IconPlace<'a> {
    pub image: ImageRef<'a>,
    pub anchor: P,
    pub u: P,
    /// x0, y0, x1, y1.
    pub rect: [f64; 4],
}

/// A placed label, for tests and debugging: which layer and feature, where, and its collision
/// boxes (fixed point, tile-local; the icon's box last when it has one).
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedLabel {
    pub layer: String,
    pub feature: usize,
    pub text: String,
    /// CSS px, tile-local.
    pub anchor: P,
    pub boxes: Vec<FBox>,
    /// Where each glyph is drawn (CSS px, tile-local).
    pub glyphs: Vec<GlyphPlace>,
    /// The icon's sprite image name, when an icon is drawn.
    pub icon: Option<String>,
    /// Bounds of the label's ink (glyphs with halo, icon), fixed point, tile-local.
    pub ink: FBox,
    /// The tile that owns the label (holds its anchor), relative to the drawn tile.
    pub owner: (i32, i32),
    /// The anchor's index among its feature's anchors.
    pub anchor_index: usize,
}

/// What the label stage gives the render: draw layers with the index of their style layer
/// (to be merged into the scene in style order), the placed labels, and warnings.
#[derive(Debug, Default)]
pub struct Labels<'a> {
    pub layers: Vec<(usize, DrawLayer<'a>)>,
    pub placed: Vec<PlacedLabel>,
    pub warnings: Vec<String>,
}

/// A label candidate at one anchor.
struct Candidate<'a> {
    /// The owner tile, relative to the drawn one (0, 0 unless neighbours are given).
    owner: (i32, i32),
    layer: usize,
    sort_key: f64,
    feature: usize,
    anchor_index: usize,
    /// Which of the anchor's `text-variable-anchor`s this is (0 without them): the
    /// candidates of one anchor are tried in this order and at most one is placed.
    variant: usize,
    text: Rc<str>,
    anchor: P,
    /// `text-size / 24`: CSS px per layout unit.
    scale: f64,
    glyphs: Vec<GlyphPlace>,
    boxes: Vec<FBox>,
    /// Bounds of everything drawn (glyphs with halo, icon), fixed point.
    ink: FBox,
    icon: Option<(IconPlace<'a>, FBox, String)>,
    layout_flags: Flags,
    /// Drawn in anchor y order (MapLibre's `sortFeaturesByY`), not sort-key/tile order.
    by_y: bool,
    paint: SymbolPaint,
}

#[derive(Debug, Clone, Copy)]
struct Flags {
    allow_overlap: bool,
    ignore_placement: bool,
    optional: bool,
    icon_allow_overlap: bool,
    icon_ignore_placement: bool,
    icon_optional: bool,
}

/// Shapings are cached per render by the stack's faces, text and the parameters that change
/// them.
type ShapeKey = (Rc<[FaceId]>, Rc<str>, [u64; 6], u8, u8);

/// Shapings kept between the renders of one thread (or one component instance), at most
/// this many: a tile's names are its neighbours' too, and `serve` lays out every tile's 8
/// neighbours with it, so most of a tile's texts were shaped by an earlier render.
const KEPT_SHAPINGS: usize = 4096;

thread_local! {
    static KEPT: std::cell::RefCell<ShapeCache> = std::cell::RefCell::new(ShapeCache::new());
}

/// The shaping for `key`, from the kept ones or made by `shape` (and kept). Shaping is a
/// pure function of its key, so whether it was kept changes nothing but time.
fn kept_shaping(key: ShapeKey, shape: impl FnOnce() -> Shaped) -> Shaped {
    if let Some(s) = KEPT.with(|k| k.borrow().get(&key).cloned()) {
        return s;
    }
    let s = shape();
    KEPT.with(|k| {
        let mut k = k.borrow_mut();
        if k.len() >= KEPT_SHAPINGS {
            k.clear();
        }
        k.insert(key, s.clone());
    });
    s
}

/// Forgets the kept shapings (for benchmarks of a first render).
pub fn forget_shapings() {
    KEPT.with(|k| k.borrow_mut().clear());
}

/// Shaped texts, shared by the layouts of one render (the drawn tile and its neighbours
/// often carry the same names): shaping is a pure function of its key.
pub type ShapeCache = HashMap<ShapeKey, Shaped>;

/// A text's shaping (`None` when nothing is drawn), and whether some character of it has no
/// glyph in any face of its stack.
pub type Shaped = (Option<Rc<Shaping>>, bool);

/// What the layouts of one render share: shapings, and per tile layer the feature groupings
/// filters read and each line layer's merged lines. When overzooming, the drawn tile and its
/// neighbours are mostly cut from one data tile: its lines are merged once, not nine times.
/// Tile layers are known by address, so a cache must not outlive the tiles it saw (one
/// render's, all borrowed for the whole block).
#[derive(Default)]
pub struct LayoutCache {
    shapes: ShapeCache,
    /// Each `text-font` stack's faces under the render's fonts.
    stacks: HashMap<Arc<FontStack>, Rc<[FaceId]>>,
    /// What was said about characters no face had: (layer, stack, script), once a render.
    unmatched: Vec<(usize, Arc<FontStack>, &'static str)>,
    groupings: HashMap<*const crate::mvt::Layer, Groupings>,
    /// By tile layer, style layer index and zoom bits.
    merged: HashMap<(*const crate::mvt::Layer, usize, u64), Rc<MergedLines>>,
}

impl LayoutCache {
    pub fn new() -> LayoutCache {
        LayoutCache::default()
    }
}

/// Per feature of a line layer whose lines [`merged_lines`] changed, its new geometry, or
/// `None` when it was merged into another.
type MergedLines = HashMap<usize, Option<Geometry>>;

/// Whether any anchor of a feature with this geometry can fall in the tile (`tile_px` square,
/// CSS px): every anchor lies on or inside the geometry (points, a line's points, a polygon's
/// pole of inaccessibility), so a feature whose bounding box misses the square places nothing
/// here and is skipped before its filter, text and shaping are evaluated. `to_px` is monotonic
/// in each axis, so the box's corners map to the corners of the transformed box.
fn may_anchor_in_tile(g: &Geometry, to_px: impl Fn(crate::mvt::Point) -> P, tile_px: f64) -> bool {
    let mut lo = crate::mvt::Point {
        x: i64::MAX,
        y: i64::MAX,
    };
    let mut hi = crate::mvt::Point {
        x: i64::MIN,
        y: i64::MIN,
    };
    let mut add = |p: &crate::mvt::Point| {
        lo.x = lo.x.min(p.x);
        lo.y = lo.y.min(p.y);
        hi.x = hi.x.max(p.x);
        hi.y = hi.y.max(p.y);
    };
    match g {
        Geometry::Points(pts) => pts.iter().for_each(&mut add),
        Geometry::Lines(lines) => lines.iter().flatten().for_each(&mut add),
        Geometry::Polygons(polys) => polys
            .iter()
            .flat_map(|p| std::iter::once(&p.exterior).chain(p.holes.iter()))
            .flatten()
            .for_each(&mut add),
        Geometry::Unknown => return false,
    }
    if lo.x > hi.x {
        return false;
    }
    let (a, b) = (to_px(lo), to_px(hi));
    // A pixel of slack either side: the test only has to be conservative.
    b.0 >= -1.0 && b.1 >= -1.0 && a.0 <= tile_px + 1.0 && a.1 <= tile_px + 1.0
}

/// The laid-out label candidates of a tile (the output of [`layout`]).
pub struct Candidates<'a> {
    list: Vec<Candidate<'a>>,
    warnings: Vec<String>,
}

impl Candidates<'_> {
    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// Lays out, places and prepares for drawing every symbol layer of the style.
/// Without neighbours: see [`seams::build_block`] for labels decided with them.
/// The embedded faces only: see [`seams::build_block`] for the host's fonts.
pub fn build<'a>(tile: &Tile, style: &'a Style, view: &View, sprites: &'a Sprites) -> Labels<'a> {
    let fonts = Fonts::embedded();
    seams::build_block(
        tile,
        &[],
        style,
        view,
        sprites,
        &fonts,
        seams::SeamMode::Region,
    )
}

/// Which of `offered` (names the host has font files for) a render of these tiles at `zoom`
/// could draw a glyph from: for each character of each text the style's symbol layers give,
/// every offered name of its stack before the first embedded face that has the character (a
/// host face answering to a name replaces the embedded face of that name, and whether a host
/// face has a character is only known once it is given). Giving a render exactly these names'
/// files draws what giving it every offered file would.
pub fn fonts_needed(
    tiles: &[&Tile],
    style: &Style,
    zoom: f64,
    offered: &[&str],
) -> std::collections::BTreeSet<String> {
    let mut needed = std::collections::BTreeSet::new();
    if offered.is_empty() {
        return needed;
    }
    let mut seen: std::collections::HashSet<(Arc<FontStack>, String)> = Default::default();
    for tile in tiles {
        for sl in style.layers() {
            if sl.kind() != LayerKind::Symbol || !sl.visible_at(zoom) {
                continue;
            }
            let Some(layer) = sl
                .source_layer()
                .and_then(|n| tile.layers.iter().find(|l| l.name == n))
            else {
                continue;
            };
            for feature in &layer.features {
                let f = FeatureRef::new(layer, feature);
                if !sl.matches(&f, zoom) {
                    continue;
                }
                let Some((text, font)) = sl.symbol_text(&f, zoom) else {
                    continue;
                };
                // A stack naming no offered font needs none.
                if !font.names.iter().any(|n| offered.contains(&n.as_str()))
                    || !seen.insert((Arc::clone(&font), text.clone()))
                {
                    continue;
                }
                for c in text
                    .chars()
                    .filter(|c| !c.is_whitespace() && !c.is_control())
                {
                    for name in &font.names {
                        if offered.contains(&name.as_str()) {
                            needed.insert(name.clone());
                            continue;
                        }
                        let embedded = font::EMBEDDED_NAMES.iter().position(|n| n == name);
                        if embedded.is_some_and(|i| font::embedded_face(i).has(c)) {
                            break;
                        }
                    }
                }
            }
        }
    }
    needed
}

/// Lays out every symbol layer's features: text shaping, anchors, glyph positions and
/// collision boxes (no decisions yet), in the embedded faces.
pub fn layout<'a>(tile: &Tile, style: &Style, view: &View, sprites: &'a Sprites) -> Candidates<'a> {
    let fonts = Fonts::embedded();
    layout_shared(tile, style, view, sprites, &fonts, &mut LayoutCache::new())
}

/// [`layout`] in `fonts`, through `cache` (shared by the tiles of one render, which all have
/// these fonts).
pub fn layout_shared<'a>(
    tile: &Tile,
    style: &Style,
    view: &View,
    sprites: &'a Sprites,
    fonts: &Fonts,
    cache: &mut LayoutCache,
) -> Candidates<'a> {
    let LayoutCache {
        shapes,
        stacks,
        unmatched,
        groupings: all_groupings,
        merged: all_merged,
    } = cache;
    let tile_px = f64::from(view.size);
    let mut warnings: Vec<String> = Vec::new();
    let mut missing: std::collections::BTreeSet<String> = Default::default();
    // Scripts of characters no face of their stack has: (layer, stack, script).
    let mut unmatched_here: Vec<(usize, Arc<FontStack>, &'static str)> = Vec::new();
    let mut candidates: Vec<Candidate<'a>> = Vec::new();
    for (li, sl) in style.layers().iter().enumerate() {
        if sl.kind() != LayerKind::Symbol || !sl.visible_at(view.zoom) {
            continue;
        }
        let Some(at) = sl
            .source_layer()
            .and_then(|n| tile.layers.iter().position(|l| l.name == n))
        else {
            continue;
        };
        let layer = &tile.layers[at];
        let groupings = all_groupings.entry(layer as *const _).or_default();
        let xf = view.xform(layer.extent);
        let to_px = |p: crate::mvt::Point| {
            let (x, y) = xf.apply(p);
            (x / UNITS_PER_CSS_PX, y / UNITS_PER_CSS_PX)
        };
        // Line labels of one text keep apart by half the spacing (MapLibre's repeat distance).
        let mut seen: HashMap<Rc<str>, Vec<P>> = HashMap::new();
        // `symbol-placement: line`: lines of one text joined end to end first, as MapLibre's
        // mergeLines does; a feature merged into an earlier one is gone.
        // The filter, once per group of features: for merging and for laying out.
        let mut filter = TagMemo::for_filter(sl, layer, groupings);
        let merged = Rc::clone(
            all_merged
                .entry((layer as *const _, li, view.zoom.to_bits()))
                .or_insert_with(|| Rc::new(merged_lines(layer, sl, view.zoom, &mut filter))),
        );
        for (fi, feature) in layer.features.iter().enumerate() {
            let merged_geometry = match merged.get(&fi) {
                Some(None) => continue,
                Some(Some(lines)) => Some(lines),
                None => None,
            };
            if !may_anchor_in_tile(&feature.geometry, to_px, tile_px)
                && !merged_geometry.is_some_and(|g| may_anchor_in_tile(g, to_px, tile_px))
            {
                continue;
            }
            let f = FeatureRef::new(layer, feature);
            if !filter.get(fi, || sl.matches(&f, view.zoom)) {
                continue;
            }
            let Some((lay, paint)) = sl.symbol(&f, view.zoom) else {
                continue;
            };
            if paint.opacity <= 0.0 || lay.size <= 0.0 {
                continue;
            }
            let stack: Rc<[FaceId]> = match stacks.get(&lay.font) {
                Some(s) => Rc::clone(s),
                None => {
                    let s: Rc<[FaceId]> = fonts.stack(&lay.font.names, lay.font.face).into();
                    stacks.insert(Arc::clone(&lay.font), Rc::clone(&s));
                    s
                }
            };
            // MapLibre: viewport-y z-order ignores the sort key; y order is for overlapping
            // labels only.
            let by_key = lay.z_order != ZOrder::ViewportY && sl.sort_key(&f, view.zoom).is_some();
            let by_y = (lay.z_order == ZOrder::ViewportY
                || (lay.z_order == ZOrder::Auto && !by_key))
                && (lay.allow_overlap || lay.ignore_placement);
            let sort_key = if lay.z_order == ZOrder::ViewportY {
                0.0
            } else {
                sl.sort_key(&f, view.zoom).unwrap_or(0.0)
            };
            let text: Rc<str> = Rc::from(lay.text.as_str());
            let point = lay.placement == SymbolPlacement::Point;
            let params = ShapeParams {
                max_width: if point {
                    lay.max_width * font::ONE_EM
                } else {
                    f64::INFINITY
                },
                line_height: lay.line_height * font::ONE_EM,
                spacing: lay.letter_spacing * font::ONE_EM,
                anchor: lay.anchor,
                justify: lay.justify,
                offset: [lay.offset[0] * font::ONE_EM, lay.offset[1] * font::ONE_EM],
            };
            let scale = lay.size / font::ONE_EM;
            // MapLibre lays collision boxes out with `text-size` at the tile's zoom + 1 (its
            // `layoutTextSize`, so that a label's box does not change between zooms of one tile)
            // while glyphs are drawn at the zoom's own size: the point-label box follows it.
            let box_scale = sl.text_size(&f, view.zoom + 1.0).unwrap_or(lay.size) / font::ONE_EM;
            let mut lacks_glyphs = false;
            let mut shape = |params: &ShapeParams| -> Option<Rc<Shaping>> {
                if text.is_empty() {
                    return None;
                }
                let key: ShapeKey = (
                    Rc::clone(&stack),
                    Rc::clone(&text),
                    [
                        params.max_width.to_bits(),
                        params.line_height.to_bits(),
                        params.spacing.to_bits(),
                        params.offset[0].to_bits(),
                        params.offset[1].to_bits(),
                        0,
                    ],
                    params.anchor as u8,
                    params.justify as u8,
                );
                let (s, lacks) = shapes
                    .entry(key.clone())
                    .or_insert_with(|| {
                        kept_shaping(key, || {
                            let faces: Vec<&font::Face> =
                                stack.iter().map(|&id| fonts.face(id)).collect();
                            (
                                shaping::shape_text(&faces, &text, params).map(Rc::new),
                                shaping::lacks_glyphs(&faces, &text),
                            )
                        })
                    })
                    .clone();
                lacks_glyphs |= lacks;
                s
            };
            let shaping = shape(&params);
            // `text-variable-anchor`s (point labels): each anchor's block, shaped centred
            // (justified to the anchor's side under `text-justify: auto`) and moved as
            // MapLibre's calculateVariableLayoutShift moves it: by half the padded
            // collision box towards the anchor's side, plus the anchor's offset.
            let variants: Vec<(Rc<Shaping>, P)> = if point && !lay.variable_anchors.is_empty() {
                lay.variable_anchors
                    .iter()
                    .filter_map(|&(va, off)| {
                        let justify = match lay.justify {
                            TextJustify::Auto => va.justification(),
                            j => j,
                        };
                        let s = shape(&ShapeParams {
                            anchor: TextAnchor::Center,
                            justify,
                            offset: [0.0, 0.0],
                            ..params
                        })?;
                        let (h, v) = va.alignment();
                        let pad = if box_scale > 0.0 {
                            2.0 * lay.padding / box_scale
                        } else {
                            0.0
                        };
                        // The collision box is the turned block's bounds (text-rotate); the
                        // shift is along the map's axes, not turned with the text.
                        let u = rotation(lay.rotate);
                        let (bw, bh) = (s.right - s.left, s.bottom - s.top);
                        let (c, si) = (u.0.abs(), u.1.abs());
                        let dx = -(h - 0.5) * (c * bw + si * bh + pad) + off[0];
                        let dy = -(v - 0.5) * (si * bw + c * bh + pad) + off[1];
                        Some((s, (dx, dy)))
                    })
                    .collect()
            } else {
                Vec::new()
            };
            // The icon's image and its rectangle around the anchor (CSS px, unrotated).
            let icon: Option<(ImageRef<'a>, [f64; 4], &IconLayout)> =
                lay.icon.as_ref().and_then(|il| match sprites.get(&il.image) {
                    Some(img) => Some((img, icon_rect(img, il, shaping.as_deref(), scale), il)),
                    None => {
                        if missing.insert(il.image.clone()) {
                            warnings.push(if sprites.is_empty() {
                                format!("layer \"{}\": icon \"{}\" needs the style's sprite, which was not given; not drawn", sl.id(), il.image)
                            } else {
                                format!("layer \"{}\": icon \"{}\" is not in the sprite; not drawn", sl.id(), il.image)
                            });
                        }
                        None
                    }
                });
            if lacks_glyphs {
                let faces: Vec<&font::Face> = stack.iter().map(|&id| fonts.face(id)).collect();
                for script in shaping::unmatched_scripts(&faces, &text) {
                    if !unmatched_here
                        .iter()
                        .any(|(l, f, s)| *l == li && *f == lay.font && *s == script)
                    {
                        unmatched_here.push((li, Arc::clone(&lay.font), script));
                    }
                }
            }
            if shaping.is_none() && icon.is_none() {
                continue;
            }
            let empty = Rc::new(Shaping {
                glyphs: Vec::new(),
                left: 0.0,
                right: 0.0,
                top: 0.0,
                bottom: 0.0,
            });
            let has_text = shaping.is_some();
            let shaping = shaping.unwrap_or(empty);
            let flags = Flags {
                allow_overlap: lay.allow_overlap,
                ignore_placement: lay.ignore_placement,
                optional: lay.optional,
                icon_allow_overlap: icon.is_some_and(|i| i.2.allow_overlap),
                icon_ignore_placement: icon.is_some_and(|i| i.2.ignore_placement),
                icon_optional: icon.is_some_and(|i| i.2.optional),
            };
            let mut push = |ai: usize,
                            variant: usize,
                            anchor: P,
                            glyphs: Vec<GlyphPlace>,
                            boxes: Vec<FBox>,
                            line_u: P| {
                let boxes = if has_text { boxes } else { Vec::new() };
                let glyphs = if has_text { glyphs } else { Vec::new() };
                // Where ink can land: glyph outline bounds grown by the halo, its blur
                // and a pixel of anti-aliasing (seams need this, not the collision boxes:
                // a halo may reach past them).
                let grow = f64::from(paint.halo_width)
                    + f64::from(draw::halo_ramp(paint.halo_blur, 1.0))
                    + 1.0;
                let mut ink = ink_bounds(fonts, &glyphs, scale, grow);
                let icon = icon.map(|(image, rect, il)| {
                    let u = rot(line_u, rotation(il.rotate));
                    let place = IconPlace {
                        image,
                        anchor,
                        u,
                        rect,
                    };
                    let b = rotated_bounds(anchor, u, rect, il.padding);
                    (place, b, il.image.clone())
                });
                if let Some((place, _, _)) = &icon {
                    let r = rotated_bounds(place.anchor, place.u, place.rect, 1.0);
                    ink = Some(ink.map_or(r, |i| union(i, r)));
                }
                let Some(ink) = ink else { return };
                if lay.avoid_edges {
                    let edge = FBox::from_px(0.0, 0.0, tile_px, tile_px);
                    if boxes.iter().chain(icon.as_ref().map(|i| &i.1)).any(|b| {
                        b.x0 < edge.x0 || b.y0 < edge.y0 || b.x1 > edge.x1 || b.y1 > edge.y1
                    }) {
                        return;
                    }
                }
                candidates.push(Candidate {
                    owner: (0, 0),
                    layer: li,
                    sort_key,
                    feature: fi,
                    anchor_index: ai,
                    variant,
                    text: Rc::clone(&text),
                    anchor,
                    scale,
                    glyphs,
                    boxes,
                    ink,
                    icon,
                    layout_flags: flags,
                    by_y,
                    paint: paint.clone(),
                });
            };
            let inside = |p: P| p.0 >= 0.0 && p.0 < tile_px && p.1 >= 0.0 && p.1 < tile_px;
            match (lay.placement, &feature.geometry) {
                (SymbolPlacement::Point, g) => {
                    let anchors: Vec<P> = match g {
                        Geometry::Points(pts) => pts.iter().map(|&p| to_px(p)).collect(),
                        Geometry::Lines(lines) => lines
                            .iter()
                            .filter_map(|l| l.first().map(|&p| to_px(p)))
                            .collect(),
                        Geometry::Polygons(polys) => polys
                            .iter()
                            .filter_map(|poly| {
                                let rings: Vec<Vec<P>> = std::iter::once(&poly.exterior)
                                    .chain(poly.holes.iter())
                                    .map(|r| r.iter().map(|&p| to_px(p)).collect())
                                    .collect();
                                layout::polylabel(&rings, 1.0)
                            })
                            .collect(),
                        Geometry::Unknown => Vec::new(),
                    };
                    for (ai, a) in anchors.into_iter().enumerate() {
                        if !inside(a) {
                            continue;
                        }
                        if variants.is_empty() {
                            let (g, b) = point_label(
                                a,
                                &shaping,
                                (0.0, 0.0),
                                scale,
                                box_scale,
                                &lay,
                                &paint,
                            );
                            push(ai, 0, a, g, b, (1.0, 0.0));
                        }
                        for (vi, (s, shift)) in variants.iter().enumerate() {
                            let (g, b) = point_label(a, s, *shift, scale, box_scale, &lay, &paint);
                            push(ai, vi, a, g, b, (1.0, 0.0));
                        }
                    }
                }
                (SymbolPlacement::Line | SymbolPlacement::LineCenter, g) => {
                    let g = match (lay.placement, merged_geometry) {
                        (SymbolPlacement::Line, Some(lines)) => lines,
                        _ => g,
                    };
                    let lines: Vec<Vec<P>> = match g {
                        Geometry::Lines(lines) => lines
                            .iter()
                            .map(|l| l.iter().map(|&p| to_px(p)).collect())
                            .collect(),
                        Geometry::Polygons(polys) => polys
                            .iter()
                            .flat_map(|p| std::iter::once(&p.exterior).chain(p.holes.iter()))
                            .map(|r| r.iter().map(|&p| to_px(p)).collect())
                            .collect(),
                        _ => Vec::new(),
                    };
                    // MapLibre's getAnchors measures the label (its shaped length, the angle
                    // window, the first anchor's offset) at `text-size` for zoom 18 (its
                    // `textMaxSize`), whatever the tile's zoom; the icon's shaped width (in
                    // image px, before `icon-size`) counts in the same units.
                    let max_size = sl.text_size(&f, 18.0).unwrap_or(lay.size);
                    let icon_len = icon
                        .map(|(_, r, il)| {
                            let w = r[2] - r[0];
                            if il.text_fit == IconTextFit::None && il.size > 0.0 {
                                w / il.size
                            } else {
                                w
                            }
                        })
                        .unwrap_or(0.0);
                    let lp = LineParams {
                        spacing: lay.spacing,
                        label_length: (shaping.right - shaping.left).max(icon_len) * max_size
                            / font::ONE_EM,
                        size: max_size,
                        max_angle: lay.max_angle * std::f64::consts::PI / 180.0,
                        tile: tile_px,
                    };
                    let repeat = lay.spacing / 2.0;
                    let mut ai = 0;
                    for line in lines {
                        let pieces: Vec<Vec<P>> = if lay.placement == SymbolPlacement::Line {
                            layout::clip_line(&line, 0.0, 0.0, tile_px, tile_px)
                        } else {
                            vec![line]
                        };
                        for piece in pieces {
                            if piece.len() < 2 {
                                continue;
                            }
                            let anchors = if lay.placement == SymbolPlacement::Line {
                                layout::line_anchors(&piece, &lp)
                            } else {
                                layout::center_anchor(&piece, &lp)
                                    .filter(|a| inside(a.at))
                                    .into_iter()
                                    .collect()
                            };
                            for a in anchors {
                                let near = seen.get(&text).is_some_and(|v| {
                                    v.iter().any(|q| {
                                        let (dx, dy) = (q.0 - a.at.0, q.1 - a.at.1);
                                        dx * dx + dy * dy < repeat * repeat
                                    })
                                });
                                if near {
                                    continue;
                                }
                                seen.entry(Rc::clone(&text)).or_default().push(a.at);
                                let (g, b) = line_label(&piece, &a, &shaping, scale, &lay, &paint);
                                let (_, dir) = layout::along(&piece, &a, 0.0);
                                push(ai, 0, a.at, g, b, dir);
                                ai += 1;
                            }
                        }
                    }
                }
            }
        }
    }

    for (li, stack, script) in unmatched_here {
        if unmatched
            .iter()
            .any(|(l, f, s)| *l == li && *f == stack && *s == script)
        {
            continue;
        }
        warnings.push(format!(
            "layer \"{}\": no font of its text-font {:?} has {script} characters, which are not drawn; give the renderer a font that has them under one of those names (rasterzen --fonts DIR)",
            style.layers()[li].id(),
            stack.names
        ));
        unmatched.push((li, stack, script));
    }
    Candidates {
        list: candidates,
        warnings,
    }
}

/// MapLibre's `mergeLines` (symbol/merge_lines.ts) over a layer's features laid out with
/// `symbol-placement: line`: a line whose first point is the last point of an earlier line of
/// the same text is appended to it (and prepended when the other way round; both, joining
/// three); only each feature's first line takes part, as there. `filter`: the layer's filter
/// over these features. Returns, per feature that changed, its new geometry, or `None` when it
/// was merged into another.
fn merged_lines(
    layer: &crate::mvt::Layer,
    sl: &crate::style::StyleLayer,
    zoom: f64,
    filter: &mut TagMemo<bool>,
) -> MergedLines {
    use crate::mvt::Point;
    type Key = (Rc<str>, i64, i64);
    /// A feature, its lines (`None` once merged into another) and whether they changed.
    type Entry = (usize, Option<Vec<Vec<Point>>>, bool);
    // In MapLibre's order of `mergedFeatures`.
    let mut out: Vec<Entry> = Vec::new();
    let mut left: HashMap<Key, usize> = HashMap::new();
    let mut right: HashMap<Key, usize> = HashMap::new();
    let key = |t: &Rc<str>, l: &[Point], on_right: bool| -> Option<Key> {
        let p = if on_right { l.last() } else { l.first() }?;
        Some((Rc::clone(t), p.x, p.y))
    };
    for (fi, feature) in layer.features.iter().enumerate() {
        let Geometry::Lines(lines) = &feature.geometry else {
            continue;
        };
        let f = FeatureRef::new(layer, feature);
        if !filter.get(fi, || sl.matches(&f, zoom)) {
            continue;
        }
        let Some((lay, _)) = sl.symbol(&f, zoom) else {
            continue;
        };
        if lay.placement != SymbolPlacement::Line || lines.is_empty() {
            continue;
        }
        let text: Rc<str> = Rc::from(lay.text.as_str());
        let geom = lines.clone();
        let (Some(lk), Some(rk)) = (key(&text, &geom[0], false), key(&text, &geom[0], true)) else {
            continue;
        };
        if text.is_empty() {
            out.push((fi, Some(geom), false));
            continue;
        }
        let from_right = |out: &mut Vec<Entry>,
                          right: &mut HashMap<Key, usize>,
                          lk: &Key,
                          rk: Key,
                          g: &[Point]|
         -> usize {
            let i = right.remove(lk).unwrap_or(0);
            right.insert(rk, i);
            if let Some(lines) = out[i].1.as_mut() {
                lines[0].pop();
                lines[0].extend_from_slice(g);
            }
            out[i].2 = true;
            i
        };
        let from_left = |out: &mut Vec<Entry>,
                         left: &mut HashMap<Key, usize>,
                         lk: Key,
                         rk: &Key,
                         g: &[Point]|
         -> usize {
            let i = left.remove(rk).unwrap_or(0);
            left.insert(lk, i);
            if let Some(lines) = out[i].1.as_mut() {
                let mut l = g.to_vec();
                l.extend_from_slice(&lines[0][1.min(lines[0].len())..]);
                lines[0] = l;
            }
            out[i].2 = true;
            i
        };
        match (right.get(&lk).copied(), left.get(&rk).copied()) {
            (Some(a), Some(b)) if a != b => {
                let j = from_left(&mut out, &mut left, lk.clone(), &rk, &geom[0]);
                let gj = out[j].1.as_ref().map(|l| l[0].clone()).unwrap_or_default();
                let i = from_right(&mut out, &mut right, &lk, rk.clone(), &gj);
                left.remove(&lk);
                right.remove(&rk);
                if let Some(k) = out[i].1.as_ref().and_then(|l| key(&text, &l[0], true)) {
                    right.insert(k, i);
                }
                out[j].1 = None;
                out[j].2 = true;
            }
            (Some(_), _) => {
                from_right(&mut out, &mut right, &lk, rk, &geom[0]);
            }
            (None, Some(_)) => {
                from_left(&mut out, &mut left, lk, &rk, &geom[0]);
            }
            (None, None) => {
                out.push((fi, Some(geom), false));
                left.insert(lk, out.len() - 1);
                right.insert(rk, out.len() - 1);
            }
        }
        // A feature merged into another is gone.
        if out.last().is_none_or(|o| o.0 != fi) {
            out.push((fi, None, true));
        }
    }
    out.into_iter()
        .filter(|o| o.2)
        .map(|(fi, g, _)| (fi, g.map(Geometry::Lines)))
        .collect()
}

/// Decides which candidates are drawn and makes their draw layers.
pub fn place<'a>(
    candidates: Candidates<'a>,
    style: &'a Style,
    view: &View,
    fonts: &Fonts,
) -> Labels<'a> {
    let order = global_order(&candidates.list);
    let placed = greedy(&candidates.list, &order);
    emit(candidates, &placed, style, view, fonts)
}

/// The placement order, the same whichever tile is drawn: layers from the top, sort key,
/// owner tile (south first, then east, as MapLibre orders tiles), feature, anchor.
fn global_order(candidates: &[Candidate<'_>]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&candidates[a], &candidates[b]);
        b.layer
            .cmp(&a.layer)
            .then(a.sort_key.total_cmp(&b.sort_key))
            .then(b.owner.1.cmp(&a.owner.1))
            .then(b.owner.0.cmp(&a.owner.0))
            .then(a.feature.cmp(&b.feature))
            .then(a.anchor_index.cmp(&b.anchor_index))
            .then(a.variant.cmp(&b.variant))
    });
    order
}

/// Whether `b` is another variable anchor of `a`'s anchor (it follows `a` in the order).
fn same_anchor(a: &Candidate<'_>, b: &Candidate<'_>) -> bool {
    b.variant > 0
        && (a.owner, a.layer, a.feature, a.anchor_index)
            == (b.owner, b.layer, b.feature, b.anchor_index)
}

/// Greedy placement of the candidates listed in `order` (in that order): (text drawn, icon
/// drawn) for every candidate (false for those not listed).
fn greedy(candidates: &[Candidate<'_>], order: &[usize]) -> Vec<(bool, bool)> {
    let mut index = CollisionIndex::default();
    let mut placed = vec![(false, false); candidates.len()];
    let mut at = 0;
    while at < order.len() {
        // One anchor's candidates: more than one with `text-variable-anchor`s. MapLibre
        // takes the first whose text fits, or (with text-allow-overlap) the first anyway.
        let first = &candidates[order[at]];
        let mut end = at + 1;
        while end < order.len() && same_anchor(first, &candidates[order[end]]) {
            end += 1;
        }
        let group = &order[at..end];
        at = end;
        let fits = |c: &Candidate<'_>| !c.glyphs.is_empty() && !index.collides(&c.boxes);
        let i = if group.len() > 1 {
            group
                .iter()
                .copied()
                .find(|&k| fits(&candidates[k]))
                .unwrap_or(group[0])
        } else {
            group[0]
        };
        let c = &candidates[i];
        let f = c.layout_flags;
        let has_text = !c.glyphs.is_empty();
        let mut text = has_text && (f.allow_overlap || !index.collides(&c.boxes));
        let mut icon = c.icon.as_ref().is_some_and(|(_, b, _)| {
            f.icon_allow_overlap || !index.collides(std::slice::from_ref(b))
        });
        // MapLibre's pairing of text and icon: each needs the other unless optional.
        let icon_without_text = !has_text || f.optional;
        let text_without_icon = c.icon.is_none() || f.icon_optional;
        if !icon_without_text && !text_without_icon {
            let both = text && icon;
            text = both;
            icon = both;
        } else if !text_without_icon {
            text = text && icon;
        } else if !icon_without_text {
            icon = icon && text;
        }
        if text && !f.ignore_placement {
            index.insert(&c.boxes);
        }
        if icon && !f.icon_ignore_placement {
            if let Some((_, b, _)) = &c.icon {
                index.insert(std::slice::from_ref(b));
            }
        }
        placed[i] = (text, icon);
    }
    placed
}

/// Draw layers for the placed candidates.
fn emit<'a>(
    candidates: Candidates<'a>,
    placed: &[(bool, bool)],
    style: &'a Style,
    view: &View,
    fonts: &Fonts,
) -> Labels<'a> {
    let mut out = Labels {
        warnings: candidates.warnings,
        ..Labels::default()
    };
    let candidates = candidates.list;
    // Drawing, per layer in style order; within a layer in MapLibre's draw order.
    let dpr = f64::from(view.scale);
    let mut by_layer: Vec<usize> = (0..candidates.len())
        .filter(|&i| placed[i].0 || placed[i].1)
        .collect();
    by_layer.sort_by(|&a, &b| {
        let (ca, cb) = (&candidates[a], &candidates[b]);
        ca.layer.cmp(&cb.layer).then_with(|| {
            let y = if ca.by_y {
                ca.anchor.1.total_cmp(&cb.anchor.1)
            } else {
                std::cmp::Ordering::Equal
            };
            y.then(ca.sort_key.total_cmp(&cb.sort_key))
                .then(cb.owner.1.cmp(&ca.owner.1))
                .then(cb.owner.0.cmp(&ca.owner.0))
                .then(ca.feature.cmp(&cb.feature))
                .then(ca.anchor_index.cmp(&cb.anchor_index))
        })
    });
    let mut current: Option<(usize, Vec<LabelDraw<'a>>)> = None;
    let flush = |cur: Option<(usize, Vec<LabelDraw<'a>>)>, out: &mut Labels<'a>| {
        if let Some((li, labels)) = cur {
            out.layers.push((
                li,
                DrawLayer {
                    id: style.layers()[li].id(),
                    xform: view.xform(4096),
                    draw: crate::scene::Draw::Labels(LabelLayer { labels }),
                },
            ));
        }
    };
    for &i in &by_layer {
        let c = &candidates[i];
        if current.as_ref().map(|c| c.0) != Some(c.layer) {
            flush(current.take(), &mut out);
            current = Some((c.layer, Vec::new()));
        }
        let (text, icon) = placed[i];
        let no_glyphs: &[GlyphPlace] = &[];
        let icon_place = c.icon.as_ref().filter(|_| icon).map(|i| &i.0);
        if let Some((_, v)) = current.as_mut() {
            v.push(draw::label(
                fonts,
                if text { &c.glyphs } else { no_glyphs },
                icon_place,
                c.scale,
                &c.paint,
                dpr,
            ));
        }
        out.placed.push(PlacedLabel {
            layer: style.layers()[c.layer].id().to_string(),
            feature: c.feature,
            text: c.text.to_string(),
            anchor: c.anchor,
            boxes: if text { c.boxes.clone() } else { Vec::new() }
                .into_iter()
                .chain(c.icon.as_ref().filter(|_| icon).map(|i| i.1))
                .collect(),
            glyphs: if text { c.glyphs.clone() } else { Vec::new() },
            icon: c.icon.as_ref().filter(|_| icon).map(|i| i.2.clone()),
            ink: c.ink,
            owner: c.owner,
            anchor_index: c.anchor_index,
        });
    }
    flush(current.take(), &mut out);
    out
}

/// Puts the label layers into the scene at their style layers' places. The scene's layers are
/// a subsequence of the style's, in order, so walking both in step finds each slot (ids are
/// matched in sequence, so duplicate ids cannot mix layers up).
pub fn merge<'a>(scene: &mut crate::scene::Scene<'a>, style: &'a Style, labels: Labels<'a>) {
    scene.warnings.extend(labels.warnings);
    if labels.layers.is_empty() {
        return;
    }
    let old = std::mem::take(&mut scene.layers);
    let mut old = old.into_iter().peekable();
    let mut new = labels.layers.into_iter().peekable();
    for (i, sl) in style.layers().iter().enumerate() {
        while let Some((li, _)) = new.peek() {
            if *li == i {
                if let Some((_, l)) = new.next() {
                    scene.layers.push(l);
                }
            } else {
                break;
            }
        }
        if old.peek().is_some_and(|l| l.id == sl.id()) {
            if let Some(l) = old.next() {
                scene.layers.push(l);
            }
        }
    }
    // Anything left (a background the scene added itself) keeps its place at the end.
    scene.layers.extend(old);
    scene.layers.extend(new.map(|(_, l)| l));
}

/// The icon's rectangle around the anchor, CSS px (MapLibre's `shapeIcon`, or
/// `fitIconToText` with `icon-text-fit`). Scaled by `icon-size` unless fitted to the text.
fn icon_rect(img: ImageRef<'_>, il: &IconLayout, text: Option<&Shaping>, scale: f64) -> [f64; 4] {
    let r = f64::from(img.image.pixel_ratio.max(0.01));
    let (w, h) = (
        f64::from(img.image.width) / r,
        f64::from(img.image.height) / r,
    );
    let (ha, va) = il.anchor.alignment();
    let (ox, oy) = (il.offset[0], il.offset[1]);
    let plain = [
        (ox - w * ha) * il.size,
        (oy - h * va) * il.size,
        (ox - w * ha + w) * il.size,
        (oy - h * va + h) * il.size,
    ];
    let Some(t) = text.filter(|_| il.text_fit != IconTextFit::None) else {
        return plain;
    };
    let (tl, tr, tt, tb) = (
        t.left * scale,
        t.right * scale,
        t.top * scale,
        t.bottom * scale,
    );
    let [pt, pr, pb, pl] = il.text_fit_padding;
    let (ox, oy) = (ox * il.size, oy * il.size);
    let (x0, x1) = if matches!(il.text_fit, IconTextFit::Width | IconTextFit::Both) {
        (ox + tl - pl, ox + tr + pr)
    } else {
        let x0 = ox + (tl + tr - w * il.size) / 2.0;
        (x0, x0 + w * il.size)
    };
    let (y0, y1) = if matches!(il.text_fit, IconTextFit::Height | IconTextFit::Both) {
        (oy + tt - pt, oy + tb + pb)
    } else {
        let y0 = oy + (tt + tb - h * il.size) / 2.0;
        (y0, y0 + h * il.size)
    };
    [x0, y0, x1, y1]
}

fn union(a: FBox, b: FBox) -> FBox {
    FBox {
        x0: a.x0.min(b.x0),
        y0: a.y0.min(b.y0),
        x1: a.x1.max(b.x1),
        y1: a.y1.max(b.y1),
    }
}

/// Bounds of the glyphs' outlines (each glyph's own bounds turned with it), grown by `grow`
/// CSS px; `None` without glyphs.
fn ink_bounds(fonts: &Fonts, glyphs: &[GlyphPlace], scale: f64, grow: f64) -> Option<FBox> {
    let mut out: Option<FBox> = None;
    for g in glyphs {
        let Some([x0, y0, x1, y1]) = fonts.face(g.face).bounds(g.id) else {
            continue;
        };
        let r = [
            f64::from(x0) * scale,
            f64::from(y0) * scale,
            f64::from(x1) * scale,
            f64::from(y1) * scale,
        ];
        let b = rotated_bounds(g.origin, g.u, r, grow);
        out = Some(out.map_or(b, |o| union(o, b)));
    }
    out
}

/// The collision box of a rectangle turned by `u` around `anchor`, padded.
fn rotated_bounds(anchor: P, u: P, r: [f64; 4], pad: f64) -> FBox {
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for (x, y) in [(r[0], r[1]), (r[2], r[1]), (r[2], r[3]), (r[0], r[3])] {
        let d = rot(u, (x, y));
        x0 = x0.min(anchor.0 + d.0);
        y0 = y0.min(anchor.1 + d.1);
        x1 = x1.max(anchor.0 + d.0);
        y1 = y1.max(anchor.1 + d.1);
    }
    FBox::from_px(x0 - pad, y0 - pad, x1 + pad, y1 + pad)
}

/// Rotation by `text-rotate` (degrees clockwise) as a unit vector, from libm.
fn rotation(deg: f64) -> P {
    if deg == 0.0 {
        return (1.0, 0.0);
    }
    let r = deg * std::f64::consts::PI / 180.0;
    (libm::cos(r), libm::sin(r))
}

fn rot(u: P, v: P) -> P {
    (u.0 * v.0 - u.1 * v.1, u.1 * v.0 + u.0 * v.1)
}

/// A point label: glyphs around the anchor (rotated by `text-rotate`) at `scale`, one
/// collision box at `box_scale` (CSS px per layout unit of each); `shift` (layout units,
/// the map's axes: a variable anchor's) moves both, each at its own scale.
fn point_label(
    anchor: P,
    s: &Shaping,
    shift: P,
    scale: f64,
    box_scale: f64,
    lay: &SymbolLayout,
    paint: &SymbolPaint,
) -> (Vec<GlyphPlace>, Vec<FBox>) {
    let t = (f64::from(paint.translate[0]), f64::from(paint.translate[1]));
    let at = (anchor.0 + t.0, anchor.1 + t.1);
    let o = (at.0 + shift.0 * scale, at.1 + shift.1 * scale);
    let ob = (at.0 + shift.0 * box_scale, at.1 + shift.1 * box_scale);
    let u = rotation(lay.rotate);
    let glyphs = s
        .glyphs
        .iter()
        .filter(|g| g.id != 0)
        .map(|g| {
            let d = rot(u, (g.x * scale, g.baseline * scale));
            GlyphPlace {
                face: g.face,
                id: g.id,
                origin: (o.0 + d.0, o.1 + d.1),
                u,
            }
        })
        .collect();
    let pad = lay.padding;
    let corners = [
        (s.left, s.top),
        (s.right, s.top),
        (s.right, s.bottom),
        (s.left, s.bottom),
    ]
    .map(|(x, y)| {
        let d = rot(u, (x * box_scale, y * box_scale));
        (ob.0 + d.0, ob.1 + d.1)
    });
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for c in corners {
        x0 = x0.min(c.0);
        y0 = y0.min(c.1);
        x1 = x1.max(c.0);
        y1 = y1.max(c.1);
    }
    (
        glyphs,
        vec![FBox::from_px(x0 - pad, y0 - pad, x1 + pad, y1 + pad)],
    )
}

/// A line label: every glyph centred on the line at its offset from the anchor and turned
/// with the line; flipped when it would read upside down (`text-keep-upright`). One
/// collision box per glyph, a square of the line height, as MapLibre's circles.
fn line_label(
    line: &[P],
    anchor: &LineAnchor,
    s: &Shaping,
    scale: f64,
    lay: &SymbolLayout,
    paint: &SymbolPaint,
) -> (Vec<GlyphPlace>, Vec<FBox>) {
    let t = (f64::from(paint.translate[0]), f64::from(paint.translate[1]));
    let drawn: Vec<_> = s.glyphs.iter().filter(|g| g.id != 0).collect();
    let centre = |g: &shaping::Positioned| (g.x + g.advance / 2.0) * scale;
    let mut sign = 1.0;
    if lay.keep_upright {
        if let (Some(first), Some(last)) = (drawn.first(), drawn.last()) {
            let (a, _) = layout::along(line, anchor, centre(first));
            let (b, _) = layout::along(line, anchor, centre(last));
            // Reading right to left means upside down: draw it along the reversed line.
            if b.0 < a.0 {
                sign = -1.0;
            }
        }
    }
    let mid = (s.top + s.bottom) / 2.0 * scale;
    let half = (s.bottom - s.top) / 2.0 * scale + lay.padding;
    let mut glyphs = Vec::with_capacity(drawn.len());
    let mut boxes = Vec::with_capacity(drawn.len());
    for g in drawn {
        let (p, dir) = layout::along(line, anchor, sign * centre(g));
        let u = (dir.0 * sign, dir.1 * sign);
        let d = rot(u, (-g.advance / 2.0 * scale, g.baseline * scale));
        glyphs.push(GlyphPlace {
            face: g.face,
            id: g.id,
            origin: (p.0 + d.0 + t.0, p.1 + d.1 + t.1),
            u,
        });
        let c = rot(u, (0.0, mid));
        let (cx, cy) = (p.0 + c.0 + t.0, p.1 + c.1 + t.1);
        boxes.push(FBox::from_px(cx - half, cy - half, cx + half, cy + half));
    }
    (glyphs, boxes)
}
