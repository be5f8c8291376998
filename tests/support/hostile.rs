//! Hostile vector tiles and styles, made by hand (protobuf written here, so no tool is needed):
//! huge geometry that compresses to almost nothing, data-driven sizes near the float limits,
//! extents and coordinates at the integer limits. Included by `#[path]` from the tests.
#![allow(dead_code)]

use std::io::Write as _;

pub fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn key(out: &mut Vec<u8>, field: u64, wire: u64) {
    varint(out, field << 3 | wire);
}

fn bytes_field(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    key(out, field, 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn zz(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// A property value of a layer's value table.
pub enum Val {
    Str(String),
    Double(f64),
    Int(i64),
}

/// One feature: type (1 point, 2 line, 3 polygon), tags (key, value indices), geometry commands.
pub struct Feature {
    pub ty: u64,
    pub tags: Vec<u32>,
    pub geometry: Vec<u8>,
}

/// A layer message.
pub fn layer(
    name: &str,
    extent: u64,
    keys: &[&str],
    values: &[Val],
    features: &[Feature],
) -> Vec<u8> {
    let mut l = Vec::new();
    key(&mut l, 15, 0);
    varint(&mut l, 2);
    bytes_field(&mut l, 1, name.as_bytes());
    for f in features {
        let mut m = Vec::new();
        if !f.tags.is_empty() {
            let mut tags = Vec::new();
            for t in &f.tags {
                varint(&mut tags, u64::from(*t));
            }
            bytes_field(&mut m, 2, &tags);
        }
        key(&mut m, 3, 0);
        varint(&mut m, f.ty);
        bytes_field(&mut m, 4, &f.geometry);
        bytes_field(&mut l, 2, &m);
    }
    for k in keys {
        bytes_field(&mut l, 3, k.as_bytes());
    }
    for v in values {
        let mut m = Vec::new();
        match v {
            Val::Str(s) => bytes_field(&mut m, 1, s.as_bytes()),
            Val::Double(d) => {
                key(&mut m, 3, 1);
                m.extend_from_slice(&d.to_le_bytes());
            }
            Val::Int(i) => {
                key(&mut m, 6, 0);
                varint(&mut m, zz(*i));
            }
        }
        bytes_field(&mut l, 4, &m);
    }
    key(&mut l, 5, 0);
    varint(&mut l, extent);
    l
}

pub fn tile(layers: &[Vec<u8>]) -> Vec<u8> {
    let mut t = Vec::new();
    for l in layers {
        bytes_field(&mut t, 3, l);
    }
    t
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// Packed geometry: MoveTo(x, y) then LineTo over `deltas`, optionally ClosePath.
pub fn path(
    start: (i64, i64),
    deltas: impl ExactSizeIterator<Item = (i64, i64)>,
    close: bool,
) -> Vec<u8> {
    let mut g = Vec::new();
    varint(&mut g, 1 << 3 | 1);
    varint(&mut g, zz(start.0));
    varint(&mut g, zz(start.1));
    varint(&mut g, (deltas.len() as u64) << 3 | 2);
    for (dx, dy) in deltas {
        varint(&mut g, zz(dx));
        varint(&mut g, zz(dy));
    }
    if close {
        varint(&mut g, 1 << 3 | 7);
    }
    g
}

/// Points (MoveTo with `n` points).
pub fn points(coords: &[(i64, i64)]) -> Vec<u8> {
    let mut g = Vec::new();
    varint(&mut g, (coords.len() as u64) << 3 | 1);
    let mut prev = (0, 0);
    for &(x, y) in coords {
        varint(&mut g, zz(x - prev.0));
        varint(&mut g, zz(y - prev.1));
        prev = (x, y);
    }
    g
}

/// A line of `n` vertices inside the tile that turns back on itself at every vertex (the
/// most work per vertex for round joins), or zigzags with right angles.
pub fn line_of(n: usize, back_and_forth: bool) -> Vec<u8> {
    let deltas = (0..n).map(move |i| match (back_and_forth, i % 2) {
        (true, 0) => (1, 1),
        (true, _) => (-1, -1),
        (false, 0) => (1, 1),
        (false, _) => (1, -1),
    });
    path((100, 100), deltas, false)
}

/// A gzip tile: layer `hostile` holding `features` lines of `n` vertices each.
pub fn hostile_lines(features: usize, n: usize, back_and_forth: bool) -> Vec<u8> {
    let fs: Vec<Feature> = (0..features)
        .map(|_| Feature {
            ty: 2,
            tags: vec![],
            geometry: line_of(n, back_and_forth),
        })
        .collect();
    gzip(&tile(&[layer("hostile", 4096, &[], &[], &fs)]))
}

/// A style drawing layer `hostile` as round-joined lines, circles and fills with sizes from the
/// features' `size` property (data-driven, so tile data chooses them).
pub const HOSTILE_STYLE: &str = r##"{"version": 8, "sources": {"s": {"type": "vector"}}, "layers": [
  {"id": "bg", "type": "background", "paint": {"background-color": "#eee"}},
  {"id": "fill", "type": "fill", "source": "s", "source-layer": "hostile",
   "paint": {"fill-color": "#0a0", "fill-outline-color": "#000", "fill-translate": [3, 3]}},
  {"id": "line", "type": "line", "source": "s", "source-layer": "hostile",
   "layout": {"line-join": "round", "line-cap": "round"},
   "paint": {"line-color": "#f00", "line-width": ["coalesce", ["get", "size"], 6],
             "line-gap-width": ["coalesce", ["get", "size"], 0], "line-offset": ["coalesce", ["get", "size"], 0],
             "line-blur": ["coalesce", ["get", "size"], 0]}},
  {"id": "dash", "type": "line", "source": "s", "source-layer": "hostile",
   "paint": {"line-width": 2, "line-dasharray": [0.001, 0.001]}},
  {"id": "circle", "type": "circle", "source": "s", "source-layer": "hostile",
   "paint": {"circle-radius": ["coalesce", ["get", "size"], 5], "circle-stroke-width": ["coalesce", ["get", "size"], 1],
             "circle-blur": ["coalesce", ["get", "size"], 0]}},
  {"id": "ext", "type": "fill-extrusion", "source": "s", "source-layer": "hostile",
   "paint": {"fill-extrusion-height": ["coalesce", ["get", "size"], 10], "fill-extrusion-base": 0}}
]}"##;

/// Thin round-joined lines of layer `hostile`: the work is the geometry's, not the pixels'.
pub const THIN_STYLE: &str = r##"{"version": 8, "sources": {"s": {"type": "vector"}}, "layers": [
  {"id": "line", "type": "line", "source": "s", "source-layer": "hostile",
   "layout": {"line-join": "round", "line-cap": "round"}, "paint": {"line-color": "#f00", "line-width": 1}}
]}"##;

/// A tile whose every geometry type carries `size` = `v`, `copies` times over.
pub fn sized_many(v: f64, copies: usize) -> Vec<u8> {
    let square = |i: i64| {
        path(
            (1000 + i, 1000),
            [(2000, 0), (0, 2000), (-2000, 0)].into_iter(),
            true,
        )
    };
    let mut fs = Vec::new();
    for i in 0..copies as i64 {
        fs.push(Feature {
            ty: 1,
            tags: vec![0, 0],
            geometry: points(&[(2048 + i, 2048)]),
        });
        fs.push(Feature {
            ty: 2,
            tags: vec![0, 0],
            geometry: path((i, 0), [(4096, 4096), (-4096, 0)].into_iter(), false),
        });
        fs.push(Feature {
            ty: 3,
            tags: vec![0, 0],
            geometry: square(i),
        });
    }
    tile(&[layer("hostile", 4096, &["size"], &[Val::Double(v)], &fs)])
}

/// A tile whose every geometry type carries `size` = `v`: points, a line, a square.
pub fn sized(v: f64) -> Vec<u8> {
    let square = path(
        (1000, 1000),
        [(2000, 0), (0, 2000), (-2000, 0)].into_iter(),
        true,
    );
    let fs = vec![
        Feature {
            ty: 1,
            tags: vec![0, 0],
            geometry: points(&[
                (2048, 2048),
                (-4000, 9000),
                (i64::from(i32::MAX), i64::from(i32::MIN)),
            ]),
        },
        Feature {
            ty: 2,
            tags: vec![0, 0],
            geometry: path(
                (0, 0),
                [(4096, 4096), (-4096, 0), (1, 1)].into_iter(),
                false,
            ),
        },
        Feature {
            ty: 3,
            tags: vec![0, 0],
            geometry: square,
        },
    ];
    tile(&[layer("hostile", 4096, &["size"], &[Val::Double(v)], &fs)])
}

/// Coordinates at the i32 limits (deltas that overflow i32 when summed), at `extent`.
pub fn near_limits(extent: u64) -> Vec<u8> {
    let big = i64::from(i32::MAX);
    let fs = vec![
        Feature {
            ty: 2,
            tags: vec![],
            geometry: path(
                (big, -big),
                [(-big, big), (-big, big), (big, big)].into_iter(),
                false,
            ),
        },
        Feature {
            ty: 3,
            tags: vec![],
            geometry: path(
                (-big, -big),
                [(2 * big, 0), (0, 2 * big), (-2 * big, 0)].into_iter(),
                true,
            ),
        },
        Feature {
            ty: 1,
            tags: vec![],
            geometry: points(&[(big, big), (-big, -big)]),
        },
    ];
    tile(&[layer("hostile", extent, &[], &[], &fs)])
}
