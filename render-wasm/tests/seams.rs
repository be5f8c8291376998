//! Labels across tile seams: every tile of an area is rendered with its neighbours, and every
//! label that crosses an edge must be listed, with identical geometry, by every tile it
//! touches and by no other; the pixels on both sides of each seam must agree (stitched, a
//! label's halves equal the label drawn whole, byte for byte); and an
//! adversarial chain of conflicts that cuts labels under plain "place over the 3×3 block"
//! must not cut them under region-local placement.

use std::collections::BTreeMap;

mod common;
use common::archive;

use rasterzen_render::labels::seams::{build_block, Neighbour, SeamMode};
use rasterzen_render::mvt::{self, Feature, GeomType, Geometry, Layer, Point, Tile, Value};
use rasterzen_render::scene::View;
use rasterzen_render::sprite::Sprites;
use rasterzen_render::style::Style;
use rasterzen_render::{
    render_with_neighbours, Assets, NeighbourData, RenderOptions, SpriteData, StyleSource, TileId,
};

/// A drawn label's identity and geometry in world fixed point (1/64 px of the zoom's world).
type Key = (String, (i64, i64), usize, usize);
#[derive(Debug, Clone, PartialEq)]
struct World {
    boxes: Vec<[i64; 4]>,
    glyphs: Vec<(u32, i64, i64)>,
}

/// The data tile of `t` when the data goes up to zoom `data_z` (overzooming above it).
fn data_of(t: (u8, u32, u32), data_z: u8) -> (u8, u32, u32) {
    let d = t.0.saturating_sub(data_z);
    (t.0 - d, t.1 >> d, t.2 >> d)
}

/// The labels `tile` draws (with its neighbours from `tiles`), keyed globally. Above
/// `data_z`, every tile is drawn from its ancestor's data at `data_z` (overzoom).
fn drawn(
    tiles: &BTreeMap<(u8, u32, u32), Tile>,
    t: (u8, u32, u32),
    data_z: u8,
    style: &Style,
    size: u32,
    mode: SeamMode,
) -> BTreeMap<Key, World> {
    let id = TileId {
        z: t.0,
        x: t.1,
        y: t.2,
    };
    let view = View::new(id, id.ancestor(data_z), size, 1);
    let mut nbs = Vec::new();
    for dy in -1i32..=1 {
        for dx in -1i32..=1 {
            let k = (
                t.0,
                (t.1 as i64 + dx as i64) as u32,
                (t.2 as i64 + dy as i64) as u32,
            );
            if (dx, dy) != (0, 0) {
                if let Some(nt) = tiles.get(&data_of(k, data_z)) {
                    nbs.push(Neighbour {
                        dx,
                        dy,
                        tile: nt,
                        shared: None,
                    });
                }
            }
        }
    }
    let sprites = Sprites::new();
    let labels = build_block(
        &tiles[&data_of(t, data_z)],
        &nbs,
        style,
        &view,
        &sprites,
        &rasterzen_render::labels::font::Fonts::embedded(),
        mode,
    );
    let s = i64::from(size) * 64;
    let (ox, oy) = (i64::from(t.1) * s, i64::from(t.2) * s);
    let n = labels.placed.len();
    let list: BTreeMap<Key, World> = labels
        .placed
        .into_iter()
        .map(|l| {
            let key = (
                l.layer.clone(),
                (
                    i64::from(t.1) + i64::from(l.owner.0),
                    i64::from(t.2) + i64::from(l.owner.1),
                ),
                l.feature,
                l.anchor_index,
            );
            let w = World {
                boxes: l
                    .boxes
                    .iter()
                    .chain(std::iter::once(&l.ink))
                    .map(|b| {
                        [
                            i64::from(b.x0) + ox,
                            i64::from(b.y0) + oy,
                            i64::from(b.x1) + ox,
                            i64::from(b.y1) + oy,
                        ]
                    })
                    .collect(),
                // Glyph origins to 1/64 px (rounded), world frame.
                glyphs: l
                    .glyphs
                    .iter()
                    .map(|g| {
                        (
                            g.id,
                            (g.origin.0 * 64.0).round() as i64 + ox,
                            (g.origin.1 * 64.0).round() as i64 + oy,
                        )
                    })
                    .collect(),
            };
            (key, w)
        })
        .collect();
    // One label per anchor (a label's variable anchors are alternatives, never both drawn).
    assert_eq!(list.len(), n, "{t:?} draws one anchor's label twice");
    list
}

/// The tiles (x, y) a label's boxes touch.
fn touched(w: &World, s: i64) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    for b in &w.boxes {
        for y in b[1].div_euclid(s)..=b[3].div_euclid(s) {
            for x in b[0].div_euclid(s)..=b[2].div_euclid(s) {
                if !out.contains(&(x, y)) {
                    out.push((x, y));
                }
            }
        }
    }
    out
}

/// Checks agreement over every tile of `zoom`; returns (labels crossing an edge, cut ones).
fn check(
    tiles: &BTreeMap<(u8, u32, u32), Tile>,
    zoom: u8,
    style: &Style,
    size: u32,
    mode: SeamMode,
) -> (usize, usize) {
    let at: Vec<(u8, u32, u32)> = tiles.keys().copied().filter(|k| k.0 == zoom).collect();
    check_tiles(tiles, &at, zoom, style, size, mode)
}

/// [`check`] over the tiles `at` (all of one zoom), drawn from data up to zoom `data_z`.
fn check_tiles(
    tiles: &BTreeMap<(u8, u32, u32), Tile>,
    at: &[(u8, u32, u32)],
    data_z: u8,
    style: &Style,
    size: u32,
    mode: SeamMode,
) -> (usize, usize) {
    let zoom = at[0].0;
    let s = i64::from(size) * 64;
    let lists: BTreeMap<(u8, u32, u32), BTreeMap<Key, World>> = at
        .iter()
        .map(|&t| (t, drawn(tiles, t, data_z, style, size, mode)))
        .collect();
    let (mut crossing, mut cut) = (0, 0);
    for (&t, list) in &lists {
        for (key, w) in list {
            let touch = touched(w, s);
            assert!(
                touch.contains(&(i64::from(t.1), i64::from(t.2))),
                "{t:?} draws {key:?}, which does not touch it"
            );
            if touch.len() == 1 {
                continue;
            }
            crossing += 1;
            for &(x, y) in &touch {
                let other = (zoom, x as u32, y as u32);
                let Some(ol) = lists.get(&other) else {
                    continue;
                };
                match ol.get(key) {
                    Some(ow) if ow == w => {}
                    Some(ow) => {
                        panic!("{key:?}: {t:?} and {other:?} draw it differently: {w:?} vs {ow:?}")
                    }
                    None => cut += 1,
                }
            }
        }
    }
    (crossing, cut)
}

fn florence() -> BTreeMap<(u8, u32, u32), Tile> {
    archive("host/assets/firenze.pmtiles")
        .into_iter()
        .filter(|(k, _)| k.0 >= 13)
        .map(|(k, v)| {
            (
                k,
                mvt::decode_bytes(&v, &mvt::DecodeLimits::default()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn every_label_crossing_a_seam_is_drawn_by_every_tile_it_touches() {
    let tiles = florence();
    let style = Style::builtin("default").unwrap();
    let mut total = 0;
    for (zoom, size) in [(14, 512), (13, 512), (14, 256), (13, 256)] {
        let (crossing, cut) = check(&tiles, zoom, &style, size, SeamMode::Region);
        println!("z{zoom} @{size}px: {crossing} seam-crossing label listings, {cut} cut");
        assert_eq!(cut, 0, "z{zoom} @{size}: {cut} cut labels");
        total += crossing;
    }
    // The area has street names crossing tile edges at every zoom; a test that saw none
    // would prove nothing.
    assert!(total > 50, "only {total} seam-crossing labels");
}

#[test]
fn labels_with_variable_anchors_crossing_a_seam_are_drawn_by_every_tile_they_touch() {
    // The built-in style with every point label given four anchors to try: a label's
    // anchors are decided together, so whichever is taken, every tile it touches agrees.
    let mut v: serde_json::Value =
        serde_json::from_str(Style::builtin_json("default").unwrap()).unwrap();
    let mut varied = 0;
    for l in v["layers"].as_array_mut().unwrap() {
        let point = l["layout"]["symbol-placement"].as_str().unwrap_or("point") == "point";
        if l["type"] == "symbol" && point {
            l["layout"]["text-variable-anchor"] =
                serde_json::json!(["top", "bottom", "left", "right"]);
            l["layout"]["text-radial-offset"] = serde_json::json!(0.6);
            varied += 1;
        }
    }
    assert!(
        varied > 2,
        "the default style's point label layers: {varied}"
    );
    let style = Style::from_json(&serde_json::to_string(&v).unwrap()).unwrap();
    assert!(style.warnings().is_empty(), "{:?}", style.warnings());
    let tiles = florence();
    let mut total = 0;
    for (zoom, size) in [(14, 512), (13, 256)] {
        let (crossing, cut) = check(&tiles, zoom, &style, size, SeamMode::Region);
        println!(
            "variable anchors, z{zoom} @{size}px: {crossing} seam-crossing listings, {cut} cut"
        );
        assert_eq!(cut, 0, "z{zoom} @{size}: {cut} cut labels");
        total += crossing;
    }
    assert!(total > 50, "only {total} seam-crossing labels");
}

#[test]
fn overzoomed_labels_crossing_a_seam_are_drawn_by_every_tile_they_touch() {
    // z15 and z16 over the archive's z14 data (as the service overzooms above maxzoom): every
    // tile and its neighbours are drawn from their ancestors' data.
    let tiles = florence();
    let style = Style::builtin("default").unwrap();
    let centre = (14u8, 8704u32, 5971u32);
    let mut total = 0;
    for (zoom, radius) in [(15u8, 4i64), (16, 4)] {
        let d = zoom - centre.0;
        let (cx, cy) = (i64::from(centre.1 << d), i64::from(centre.2 << d));
        let at: Vec<(u8, u32, u32)> = (-radius..radius)
            .flat_map(|dy| {
                (-radius..radius).map(move |dx| (zoom, (cx + dx) as u32, (cy + dy) as u32))
            })
            .filter(|&t| tiles.contains_key(&data_of(t, 14)))
            .collect();
        let (crossing, cut) = check_tiles(&tiles, &at, 14, &style, 512, SeamMode::Region);
        println!(
            "z{zoom} over z14 data, {} tiles: {crossing} seam-crossing label listings, {cut} cut",
            at.len()
        );
        assert_eq!(cut, 0, "z{zoom}: {cut} cut labels");
        total += crossing;
    }
    assert!(total > 20, "only {total} seam-crossing labels");
}

// --- The adversarial chain -------------------------------------------------------------

/// A tile with point labels `(x px, y px, text, rank)` (512 px tiles, extent 4096).
fn labelled(points: &[(i64, i64, &str, f64)]) -> Tile {
    let mut keys = vec!["name".to_string(), "rank".to_string()];
    keys.dedup();
    let mut values = Vec::new();
    let mut features = Vec::new();
    for &(x, y, name, rank) in points {
        values.push(Value::String(name.into()));
        values.push(Value::Number(rank));
        let n = values.len() as u32;
        features.push(Feature {
            id: None,
            geom_type: GeomType::Point,
            tags: vec![(0, n - 2), (1, n - 1)],
            geometry: Geometry::Points(vec![Point { x: x * 8, y: y * 8 }]),
        });
    }
    Tile {
        layers: vec![Layer {
            name: "l".into(),
            version: 2,
            extent: 4096,
            keys,
            values,
            features,
        }],
        ..Tile::default()
    }
}

#[test]
fn a_conflict_chain_leaving_the_block_cuts_labels_under_block_greedy_but_not_region_greedy() {
    // Three tiles in a row, A(0) B(1) C(2). L sits on the A|B seam, M spans B, N starts in C.
    // Priorities N > M > L; L overlaps M, M overlaps N. B's 3×3 block sees N (so M loses and
    // L wins); A's does not (so M wins and L loses): plain block greedy cuts L.
    let style = Style::from_json(
        r#"{"version": 8, "sources": {"s": {"type": "vector"}}, "layers": [
            {"id": "l", "type": "symbol", "source": "s", "source-layer": "l",
             "layout": {"text-field": "{name}", "text-size": 20, "text-max-width": 100,
                        "symbol-sort-key": ["get", "rank"]}}]}"#,
    )
    .unwrap();
    let a = labelled(&[(490, 256, "Lungarno", 3.0)]);
    let b = labelled(&[(256, 256, "Mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm", 2.0)]);
    let c = labelled(&[(20, 256, "Nord Nord", 1.0)]);
    let mut tiles = BTreeMap::new();
    for (x, t) in [(100u32, a), (101, b), (102, c)] {
        tiles.insert((10u8, x, 100u32), t);
    }
    let lists = |mode| {
        [100u32, 101]
            .map(|x| drawn(&tiles, (10, x, 100), 10, &style, 512, mode))
            .map(|l| l.keys().map(|k| (k.1, k.0.clone())).collect::<Vec<_>>())
    };
    let l_key = ((100i64, 100i64), "l".to_string());
    let [in_a, in_b] = lists(SeamMode::Block);
    assert!(
        in_a.contains(&l_key) != in_b.contains(&l_key),
        "the chain must cut L under block greedy (A: {in_a:?}, B: {in_b:?})"
    );
    let [in_a, in_b] = lists(SeamMode::Region);
    assert_eq!(
        in_a.contains(&l_key),
        in_b.contains(&l_key),
        "A: {in_a:?}, B: {in_b:?}"
    );
    // And the whole-row check agrees.
    let (crossing, cut) = check(&tiles, 10, &style, 512, SeamMode::Region);
    assert_eq!(cut, 0);
    assert!(crossing > 0);
    let (_, cut) = check(&tiles, 10, &style, 512, SeamMode::Block);
    assert!(cut > 0, "block greedy must cut something here");
}

// --- Pixels at the seams ---------------------------------------------------------------

fn rgba(png: &[u8]) -> Vec<u8> {
    let mut d = png::Decoder::new(std::io::Cursor::new(png));
    d.set_transformations(png::Transformations::EXPAND | png::Transformations::ALPHA);
    let mut r = d.read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    r.next_frame(&mut buf).unwrap();
    buf
}

/// Scans the seams of labels-only renders: `(seams, seam pixels with opaque ink, cuts)`.
/// A cut is ink that runs opaque (alpha ≥ 250) through the last 3 pixels up to a tile's
/// edge with no ink at all on the other side (2 pixels deep, a pixel up or down). The depth
/// rule skips glyph and halo edges that end within 1/16 px of the seam: tiny-skia's 4×4
/// supersampling gives the far side no coverage there, though both tiles drew the label.
fn scan_seams(pngs: &BTreeMap<(u32, u32), Vec<u8>>, px: usize) -> (usize, usize, usize) {
    let alpha = |img: &[u8], x: usize, y: usize| img[(y * px + x) * 4 + 3];
    let (mut seams, mut inked, mut cuts) = (0, 0, 0);
    for (&(x, y), img) in pngs {
        for (nx, ny, east) in [(x + 1, y, true), (x, y + 1, false)] {
            let Some(other) = pngs.get(&(nx, ny)) else {
                continue;
            };
            seams += 1;
            // Alpha at `depth` pixels from the seam (0 = the edge pixel), position i along it.
            let at = |im: &[u8], far: bool, depth: usize, i: usize| {
                let e = if far { depth } else { px - 1 - depth };
                if east {
                    alpha(im, e, i)
                } else {
                    alpha(im, i, e)
                }
            };
            for i in 0..px {
                let deep = |im: &[u8], far: bool| (0..3).all(|d| at(im, far, d, i) >= 250);
                let none = |im: &[u8], far: bool| {
                    (i.saturating_sub(1)..=(i + 1).min(px - 1))
                        .all(|j| (0..2).all(|d| at(im, far, d, j) == 0))
                };
                let (near_deep, far_deep) = (deep(img, false), deep(other, true));
                if near_deep || far_deep {
                    inked += 1;
                }
                if (near_deep && none(other, true)) || (far_deep && none(img, false)) {
                    cuts += 1;
                }
            }
        }
    }
    (seams, inked, cuts)
}

#[test]
fn ink_on_one_side_of_a_seam_continues_on_the_other() {
    // Labels only, on transparent, z14 of the Florence archive, every tile with its
    // neighbours; then the same without neighbours, where seam labels must show up as cut
    // (so the detector can fail).
    let raw = archive("host/assets/firenze.pmtiles");
    let mut v: serde_json::Value =
        serde_json::from_str(Style::builtin_json("default").unwrap()).unwrap();
    v["layers"]
        .as_array_mut()
        .unwrap()
        .retain(|l| l["type"] == "symbol");
    let style = serde_json::to_string(&v).unwrap();
    let opts = RenderOptions {
        style: StyleSource::Json(&style),
        ..RenderOptions::default()
    };
    let z = 14u8;
    let render = |x: u32, y: u32, with: bool| -> Vec<u8> {
        let nbs: Vec<NeighbourData> = (-1i64..=1)
            .flat_map(|dy| (-1i64..=1).map(move |dx| (dx, dy)))
            .filter(|&d| d != (0, 0) && with)
            .filter_map(|(dx, dy)| {
                let k = (z, (i64::from(x) + dx) as u32, (i64::from(y) + dy) as u32);
                raw.get(&k).map(|d| NeighbourData {
                    tile: TileId { z, x: k.1, y: k.2 },
                    data: d,
                })
            })
            .collect();
        let r = render_with_neighbours(
            &raw[&(z, x, y)],
            TileId { z, x, y },
            &opts,
            &Assets::default(),
            &nbs,
        )
        .unwrap();
        rgba(&r.bytes)
    };
    let all = |with: bool| -> BTreeMap<(u32, u32), Vec<u8>> {
        raw.keys()
            .filter(|k| k.0 == z)
            .map(|&(_, x, y)| ((x, y), render(x, y, with)))
            .collect()
    };
    let (seams, inked, cuts) = scan_seams(&all(true), 512);
    println!("z{z} with neighbours: {seams} seams, {inked} opaque seam pixels, {cuts} cut");
    let (_, _, cuts_alone) = scan_seams(&all(false), 512);
    println!("z{z} without neighbours: {cuts_alone} cut");
    assert!(
        seams > 50 && inked > 20,
        "{seams} seams, {inked} inked pixels: nothing tested"
    );
    assert!(
        cuts_alone > 100,
        "the detector must see the cuts of tiles rendered alone"
    );
    // Not 0: what remains are glyph or halo edges ending within a pixel of the seam (looked
    // at: one such path ends 0.09 px short of it, yet fills the last pixel), which this
    // heuristic cannot tell from a cut. The exact statements are the label-list test above
    // (zero cuts) and the stitch test below (the halves meet byte for byte); this one shows
    // real tiles follow them.
    assert!(
        cuts * 10 <= cuts_alone,
        "{cuts} cut pixels with neighbours, {cuts_alone} without"
    );
}

// --- Stitched pixels equal the label drawn whole ------------------------------------------

/// Just enough of the MVT schema to write the test's tiles (prost, as the decoder's).
mod write {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Tile {
        #[prost(message, repeated, tag = "3")]
        pub layers: Vec<Layer>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Layer {
        #[prost(uint32, tag = "15")]
        pub version: u32,
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(message, repeated, tag = "2")]
        pub features: Vec<Feature>,
        #[prost(string, repeated, tag = "3")]
        pub keys: Vec<String>,
        #[prost(message, repeated, tag = "4")]
        pub values: Vec<Value>,
        #[prost(uint32, tag = "5")]
        pub extent: u32,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Value {
        #[prost(string, optional, tag = "1")]
        pub string_value: Option<String>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Feature {
        #[prost(uint32, repeated, tag = "2")]
        pub tags: Vec<u32>,
        #[prost(int32, tag = "3")]
        pub kind: i32,
        #[prost(uint32, repeated, tag = "4")]
        pub geometry: Vec<u32>,
    }
}

/// An encoded tile of named points (layers `p` and `r`) and one named line (layer `l`), at
/// tile units (extent 4096) moved by `shift`.
fn seam_tile(
    points: &[(&str, &str, i32, i32)],
    line: Option<(&str, &[(i32, i32)])>,
    shift: (i32, i32),
) -> Vec<u8> {
    use prost::Message as _;
    let zig = |v: i32| ((v << 1) ^ (v >> 31)) as u32;
    let geometry = |pts: &[(i32, i32)]| {
        let mut g = vec![1 | (1 << 3)];
        let mut at = (0, 0);
        for (i, &(x, y)) in pts.iter().enumerate() {
            if i == 1 {
                g.push(2 | ((pts.len() as u32 - 1) << 3));
            }
            let (x, y) = (x + shift.0, y + shift.1);
            g.extend([zig(x - at.0), zig(y - at.1)]);
            at = (x, y);
        }
        g
    };
    let mut layers: Vec<write::Layer> = Vec::new();
    let mut add = |layer: &str, name: &str, kind: i32, pts: &[(i32, i32)]| {
        let i = match layers.iter().position(|l| l.name == layer) {
            Some(i) => i,
            None => {
                layers.push(write::Layer {
                    version: 2,
                    name: layer.into(),
                    keys: vec!["name".into()],
                    extent: 4096,
                    ..Default::default()
                });
                layers.len() - 1
            }
        };
        let l = &mut layers[i];
        l.values.push(write::Value {
            string_value: Some(name.into()),
        });
        l.features.push(write::Feature {
            tags: vec![0, l.values.len() as u32 - 1],
            kind,
            geometry: geometry(pts),
        });
    };
    for &(layer, name, x, y) in points {
        add(layer, name, 1, &[(x, y)]);
    }
    if let Some((name, pts)) = line {
        add("l", name, 2, pts);
    }
    write::Tile { layers }.encode_to_vec()
}

#[test]
fn a_label_across_a_seam_stitches_to_the_same_pixels_as_the_label_drawn_whole() {
    // Tiles A and B side by side (east, then south) draw labels that sit across their seam, A
    // with B as neighbour and B with A; stitched, they must equal, byte for byte, tile C
    // drawing the same labels half a tile further in, whole. Rotated text, halos, a line
    // label and 256/512 px at 1× and 2× put the glyph outlines at arbitrary sub-pixel places.
    let style = r##"{"version": 8, "sources": {"s": {"type": "vector"}},
      "sprite": "https://example.invalid/sprite", "layers": [
        {"id": "i", "type": "symbol", "source": "s", "source-layer": "i",
         "layout": {"icon-image": "castle_11", "icon-size": 1.37, "icon-offset": [0.3, 0.1]}},
        {"id": "l", "type": "symbol", "source": "s", "source-layer": "l",
         "layout": {"text-field": "{name}", "text-size": 15, "symbol-placement": "line-center"},
         "paint": {"text-color": "#203040", "text-halo-color": "#ffffff", "text-halo-width": 1.5}},
        {"id": "p", "type": "symbol", "source": "s", "source-layer": "p",
         "layout": {"text-field": "{name}", "text-size": 17, "text-max-width": 30},
         "paint": {"text-color": "#602010", "text-halo-color": "#f0e8d0", "text-halo-width": 1.25}},
        {"id": "r", "type": "symbol", "source": "s", "source-layer": "r",
         "layout": {"text-field": "{name}", "text-size": 14, "text-rotate": 23,
                    "text-offset": [0.13, 0.37]},
         "paint": {"text-color": "#104020", "text-halo-color": "#ffffff", "text-halo-width": 0.8}}
    ]}"##;
    // Along the seam at x = 4096 (east) or, transposed, y = 4096 (south).
    let points = [
        ("p", "Ponte alla Carraia", 4001, 1203),
        ("r", "Borgo Ognissanti", 4043, 2411),
        ("p", "Oltrarno", 4109, 3517),
        ("i", "", 4093, 523),
    ];
    let line: [(i32, i32); 3] = [(3013, 3001), (3800, 2930), (5003, 3089)];
    let z = 10u8;
    let mut compared = 0usize;
    for south in [false, true] {
        let t = |(x, y): (i32, i32)| if south { (y, x) } else { (x, y) };
        let pts: Vec<(&str, &str, i32, i32)> = points
            .iter()
            .map(|&(l, n, x, y)| {
                let (x, y) = t((x, y));
                (l, n, x, y)
            })
            .collect();
        let line: Vec<(i32, i32)> = line.iter().map(|&p| t(p)).collect();
        let tile_a = TileId { z, x: 100, y: 100 };
        let tile_b = if south {
            TileId { z, x: 100, y: 101 }
        } else {
            TileId { z, x: 101, y: 100 }
        };
        let tile_c = TileId { z, x: 300, y: 300 };
        let data_a = seam_tile(&pts, Some(("Lungarno Corsini", &line)), (0, 0));
        // B holds the points too, as MVT tiles do in their buffer (each is drawn by the tile
        // its anchor is in); the line only A, as where a line label goes along a line cut
        // by the tile grid depends on the grid (so in MapLibre too); at its centre, it does not.
        let back = if south { (0, -4096) } else { (-4096, 0) };
        let data_b = seam_tile(&pts, None, back);
        let half = if south { (0, -2048) } else { (-2048, 0) };
        let data_c = seam_tile(&pts, Some(("Lungarno Corsini", &line)), half);
        for (size, scale) in [(512u32, 1u32), (256, 1), (512, 2)] {
            let opts = RenderOptions {
                style: StyleSource::Json(style),
                size,
                scale,
                ..RenderOptions::default()
            };
            // osm-bright's sprite (its licence: tests/parity/styles/osm-bright/LICENSE.md).
            let base = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../tests/parity/styles/osm-bright/sprite"
            );
            let at2 = if scale == 2 { "@2x" } else { "" };
            let json = std::fs::read(format!("{base}{at2}.json")).unwrap();
            let png = std::fs::read(format!("{base}{at2}.png")).unwrap();
            let sprites = [SpriteData {
                id: "default",
                pixel_ratio: scale,
                json: &json,
                png: &png,
            }];
            let assets = Assets {
                sprites: &sprites,
                fonts: &[],
            };
            let draw = |data: &[u8], tile: TileId, nbs: &[NeighbourData]| {
                let r = render_with_neighbours(data, tile, &opts, &assets, nbs).unwrap();
                assert!(r.warnings.is_empty(), "{:?}", r.warnings);
                rgba(&r.bytes)
            };
            let a = draw(
                &data_a,
                tile_a,
                &[NeighbourData {
                    tile: tile_b,
                    data: &data_b,
                }],
            );
            let b = draw(
                &data_b,
                tile_b,
                &[NeighbourData {
                    tile: tile_a,
                    data: &data_a,
                }],
            );
            let c = draw(&data_c, tile_c, &[]);
            let px = (size * scale) as usize;
            // Pixel (x, y) of the A|B (or A over B) stitch.
            let stitch = |x: usize, y: usize| -> &[u8] {
                let (img, x, y) = if south {
                    if y >= px {
                        (&b, x, y - px)
                    } else {
                        (&a, x, y)
                    }
                } else if x >= px {
                    (&b, x - px, y)
                } else {
                    (&a, x, y)
                };
                &img[(y * px + x) * 4..(y * px + x) * 4 + 4]
            };
            // The stitch's window over C: C's tile lies half a tile into the stitch.
            let mut win = Vec::with_capacity(px * px * 4);
            for y in 0..px {
                for x in 0..px {
                    let (sx, sy) = if south {
                        (x, y + px / 2)
                    } else {
                        (x + px / 2, y)
                    };
                    win.extend_from_slice(stitch(sx, sy));
                }
            }
            let (mut differ, mut inked, mut first) = (0usize, 0usize, None);
            // Ink of C where the seam runs through it (3 px either side).
            let mut on_seam = 0usize;
            for (i, (stitched, whole)) in win.chunks_exact(4).zip(c.chunks_exact(4)).enumerate() {
                let (x, y) = (i % px, i / px);
                if whole[3] > 0 {
                    inked += 1;
                    if (if south { y } else { x }).abs_diff(px / 2) <= 3 {
                        on_seam += 1;
                    }
                }
                if stitched != whole {
                    differ += 1;
                    first.get_or_insert((x, y));
                }
            }
            println!(
                "{} seam, {size} px @{scale}x: {inked} inked pixels ({on_seam} on the seam), {differ} differ (first at {first:?})",
                if south { "south" } else { "east" }
            );
            if differ > 0 {
                // For a look: the stitch's window over C, and C.
                let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
                for (name, img) in [("stitched", &win), ("whole", &c)] {
                    let f = dir.join(format!("seam-{south}-{size}-{scale}-{name}.png"));
                    let mut e =
                        png::Encoder::new(std::fs::File::create(&f).unwrap(), px as u32, px as u32);
                    e.set_color(png::ColorType::Rgba);
                    e.write_header().unwrap().write_image_data(img).unwrap();
                    println!("wrote {}", f.display());
                }
            }
            assert!(
                on_seam > 100 * scale as usize,
                "labels must cross the seam: {on_seam} inked pixels on it"
            );
            assert_eq!(
                differ, 0,
                "{} seam, {size} px @{scale}x: the stitch differs from the whole label at {differ} pixels, first at {first:?}",
                if south { "south" } else { "east" }
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 6);
}

// --- What is kept between renders changes no byte --------------------------------------------

/// Neighbour decodes (`mvt::reuse`) and layouts (`labels::kept`) kept between renders are
/// exactly what decoding and laying out again give: over the 3×3 block around a dense tile
/// (and overzoomed tiles, and a style with a sprite whose icons are resolved again), every
/// tile rendered with cold caches equals the same tile rendered after its neighbours in row
/// order and in reverse order, byte for byte, and the warm renders did use what was kept.
#[test]
fn layouts_and_decodes_kept_between_renders_change_no_byte() {
    use rasterzen_render::labels::kept;
    let bright = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/parity/labels/styles/osm-bright.json"
    ))
    .unwrap();
    let sprite_base = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/parity/styles/osm-bright/sprite"
    );
    let json = std::fs::read(format!("{sprite_base}.json")).unwrap();
    let png = std::fs::read(format!("{sprite_base}.png")).unwrap();
    let sprites = [SpriteData {
        id: "default",
        pixel_ratio: 1,
        json: &json,
        png: &png,
    }];
    let cases: [(&str, StyleSource, Assets, u8, u8); 3] = [
        (
            "host/assets/firenze.pmtiles",
            StyleSource::Builtin("default"),
            Assets::default(),
            14,
            14,
        ),
        (
            "host/assets/firenze.pmtiles",
            StyleSource::Builtin("default"),
            Assets::default(),
            16,
            14,
        ),
        (
            "tests/fixtures/archives/monaco-2023-omt.pmtiles",
            StyleSource::Json(&bright),
            Assets {
                sprites: &sprites,
                fonts: &[],
            },
            14,
            14,
        ),
    ];
    for (path, style, assets, z, data_z) in cases {
        let raw = archive(path);
        let densest = raw
            .iter()
            .filter(|(k, _)| k.0 == data_z)
            .max_by_key(|(_, d)| d.len())
            .map(|(k, _)| *k)
            .unwrap();
        // Overzoomed: the data tile's top-left child, so the block reaches into other data
        // tiles (those inside the same data tile are the drawn tile's own data, not kept).
        let d = z - data_z;
        let (cx, cy) = (densest.1 << d, densest.2 << d);
        let data = |x: u32, y: u32| raw.get(&data_of((z, x, y), data_z));
        let block: Vec<(u32, u32)> = (-1i64..=1)
            .flat_map(|dy| (-1i64..=1).map(move |dx| (dx, dy)))
            .map(|(dx, dy)| ((i64::from(cx) + dx) as u32, (i64::from(cy) + dy) as u32))
            .filter(|&(x, y)| data(x, y).is_some())
            .collect();
        assert!(block.len() >= 4, "{path} z{z}: {} tiles", block.len());
        let opts = RenderOptions {
            style,
            ..RenderOptions::default()
        };
        let render = |x: u32, y: u32| -> Vec<u8> {
            let nbs: Vec<NeighbourData> = (-1i64..=1)
                .flat_map(|dy| (-1i64..=1).map(move |dx| (dx, dy)))
                .filter(|&o| o != (0, 0))
                .filter_map(|(dx, dy)| {
                    let (nx, ny) = ((i64::from(x) + dx) as u32, (i64::from(y) + dy) as u32);
                    data(nx, ny).map(|d| NeighbourData {
                        tile: TileId { z, x: nx, y: ny },
                        data: d,
                    })
                })
                .collect();
            let own = TileId::new(z, x, y).unwrap();
            let opts = RenderOptions {
                data_tile: (z > data_z).then(|| own.ancestor(data_z)),
                ..opts
            };
            render_with_neighbours(data(x, y).unwrap(), own, &opts, &assets, &nbs)
                .unwrap()
                .bytes
        };
        let cold: Vec<Vec<u8>> = block
            .iter()
            .map(|&(x, y)| {
                kept::forget_layouts();
                mvt::reuse::clear();
                render(x, y)
            })
            .collect();
        kept::forget_layouts();
        mvt::reuse::clear();
        let (hits, ..) = mvt::reuse::stats();
        for (i, &(x, y)) in block.iter().enumerate() {
            assert!(
                render(x, y) == cold[i],
                "{path} {z}/{x}/{y}: warm (row order) differs"
            );
        }
        for (i, &(x, y)) in block.iter().enumerate().rev() {
            assert!(
                render(x, y) == cold[i],
                "{path} {z}/{x}/{y}: warm (reversed) differs"
            );
        }
        assert!(kept::kept_layouts() > 0, "{path} z{z}: no layout was kept");
        if !assets.sprites.is_empty() {
            // The sprite's icons are drawn (so kept icons were resolved again, not dropped).
            let own = TileId::new(z, cx, cy).unwrap();
            let plain =
                render_with_neighbours(data(cx, cy).unwrap(), own, &opts, &Assets::default(), &[])
                    .unwrap()
                    .bytes;
            let alone = render_with_neighbours(data(cx, cy).unwrap(), own, &opts, &assets, &[])
                .unwrap()
                .bytes;
            assert!(plain != alone, "{path}: no icon drawn");
        }
        if z == data_z {
            assert!(
                mvt::reuse::stats().0 > hits,
                "{path} z{z}: no neighbour decode was reused"
            );
        }
    }
}
