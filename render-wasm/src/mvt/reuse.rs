//! Decoded neighbour tiles kept between renders.
//!
//! A labelled tile is drawn with its 8 neighbours' label layers, and each tile is the
//! neighbour of 8 others: `serve` answering a map view, or a seed run going row by row,
//! decodes the same neighbour up to 8 times (1.5–2 ms each for a dense z14 tile: inflating
//! alone is ~1 ms). The last few decodes are kept, keyed by the exact input bytes and the
//! set of wanted layers, so a hit returns exactly what decoding would (output stays a pure
//! function of the input).
//!
//! Bounded: at most [`MAX_ENTRIES`] tiles and [`MAX_BYTES`] of estimated decoded size; the
//! oldest entries go first. In the component the cache lives in the instance's memory (a
//! pooled instance keeps it between calls); natively it is one per process, shared by every
//! render thread, held only while looking up and inserting, never while decoding.

use std::sync::{Arc, Mutex};

use super::{decode_layers, DecodeLimits, Geometry, MvtError, Tile};

/// Tiles kept at most.
pub const MAX_ENTRIES: usize = 32;
/// Estimated decoded bytes kept at most (see [`approx_bytes`]).
pub const MAX_BYTES: usize = 32 << 20;

struct Entry {
    /// The undecoded input, compared byte for byte on lookup (no hash to collide).
    input: Vec<u8>,
    layers: Vec<String>,
    tile: Arc<Tile>,
    bytes: usize,
}

#[derive(Default)]
struct Cache {
    /// Oldest first.
    entries: Vec<Entry>,
    bytes: usize,
    hits: u64,
    misses: u64,
}

static CACHE: Mutex<Cache> = Mutex::new(Cache {
    entries: Vec::new(),
    bytes: 0,
    hits: 0,
    misses: 0,
});

fn cache() -> std::sync::MutexGuard<'static, Cache> {
    CACHE.lock().unwrap_or_else(|p| p.into_inner())
}

/// [`decode_layers`] with `layers` as the wanted set (`limits` must be the same on every
/// call: they are not part of the key), through the cache.
pub fn decode_layers_reused(
    input: &[u8],
    limits: &DecodeLimits,
    layers: &[&str],
) -> Result<Arc<Tile>, MvtError> {
    {
        let mut c = cache();
        if let Some(i) = c.entries.iter().position(|e| {
            e.input.len() == input.len()
                && e.layers.len() == layers.len()
                && e.layers.iter().zip(layers).all(|(a, b)| a == b)
                && e.input == input
        }) {
            // Most recently used goes last.
            let e = c.entries.remove(i);
            let tile = Arc::clone(&e.tile);
            c.entries.push(e);
            c.hits += 1;
            return Ok(tile);
        }
        c.misses += 1;
    }
    let tile = Arc::new(decode_layers(input, limits, &|n| layers.contains(&n))?);
    let bytes = approx_bytes(&tile).saturating_add(input.len());
    if bytes <= MAX_BYTES / 4 {
        let mut c = cache();
        while !c.entries.is_empty()
            && (c.entries.len() >= MAX_ENTRIES || c.bytes + bytes > MAX_BYTES)
        {
            let old = c.entries.remove(0);
            c.bytes -= old.bytes;
        }
        c.bytes += bytes;
        c.entries.push(Entry {
            input: input.to_vec(),
            layers: layers.iter().map(|s| s.to_string()).collect(),
            tile: Arc::clone(&tile),
            bytes,
        });
    }
    Ok(tile)
}

/// (hits, misses, entries, estimated bytes) so far, for tests and benchmarks.
pub fn stats() -> (u64, u64, usize, usize) {
    let c = cache();
    (c.hits, c.misses, c.entries.len(), c.bytes)
}

/// Empties the cache (benchmarks measuring a cold decode).
pub fn clear() {
    let mut c = cache();
    c.entries.clear();
    c.bytes = 0;
}

/// A decoded tile's heap size, estimated from what dominates it: points (16 bytes), rings and
/// lines (a `Vec` header each), features, tags and the key and value tables (their strings
/// at their length).
fn approx_bytes(tile: &Tile) -> usize {
    let mut n = 0usize;
    for layer in &tile.layers {
        n += layer.keys.iter().map(|k| k.len() + 24).sum::<usize>();
        n += layer
            .values
            .iter()
            .map(|v| match v {
                super::Value::String(s) => 32 + s.len(),
                _ => 32,
            })
            .sum::<usize>();
        for f in &layer.features {
            n += 96 + f.tags.len() * 8;
            n += match &f.geometry {
                Geometry::Points(p) => p.len() * 16,
                Geometry::Lines(ls) => ls.iter().map(|l| 24 + l.len() * 16).sum(),
                Geometry::Polygons(ps) => ps
                    .iter()
                    .map(|p| {
                        48 + p.exterior.len() * 16
                            + p.holes.iter().map(|h| 24 + h.len() * 16).sum::<usize>()
                    })
                    .sum(),
                Geometry::Unknown => 0,
            };
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    const TILE: &[u8] =
        include_bytes!("../../../tests/fixtures/mvt-fixtures/fixtures/019/tile.mvt");

    #[test]
    fn a_hit_is_exactly_the_decode_and_the_cache_stays_bounded() {
        let limits = DecodeLimits::default();
        let all: Vec<&str> = vec!["hello"];
        let fresh = decode_layers(TILE, &limits, &|n| all.contains(&n)).unwrap();
        let (h0, m0, _, _) = stats();
        let a = decode_layers_reused(TILE, &limits, &all).unwrap();
        let b = decode_layers_reused(TILE, &limits, &all).unwrap();
        let (h1, m1, _, _) = stats();
        assert_eq!(*a, fresh);
        assert_eq!(*b, fresh);
        assert!(h1 > h0 && m1 > m0, "one miss, then a hit");
        // Another wanted set is another entry, not the cached one.
        let none = decode_layers_reused(TILE, &limits, &[]).unwrap();
        assert_eq!(*none, decode_layers(TILE, &limits, &|_| false).unwrap());
        // Many distinct inputs (the same tile with trailing unknown fields) never exceed the bound.
        for i in 0..(MAX_ENTRIES + 10) {
            let mut other = TILE.to_vec();
            // Field 16 (an extension, skipped by the decoder), varint i.
            other.extend_from_slice(&[0x80, 0x01, i as u8 & 0x7f]);
            decode_layers_reused(&other, &limits, &all).unwrap();
            let (_, _, entries, bytes) = stats();
            assert!(entries <= MAX_ENTRIES && bytes <= MAX_BYTES);
        }
    }
}
