//! A bounded, in-process memory of source tiles: what was fetched, or that nothing is there.
//!
//! A labelled tile is drawn from its own data and its eight neighbours' (the label stage decides
//! every label crossing a seam from the data both tiles share), so each source tile is read by
//! up to nine renders. This keeps the recent ones, least recently used first out, bounded by
//! bytes, so a tile service or a seed run reads each tile from its source about once. Errors are
//! never remembered.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use bytes::Bytes;
use rasterzen_render::TileId;

/// What the memory is keyed by: the tile, and for sources that take an API key, a hash of the
/// key the data was fetched with (a request's data never comes from another request's key).
pub type MemoKey = (TileId, Option<u64>);

/// Source tiles by [`MemoKey`], bounded by bytes.
pub struct SourceTiles {
    inner: Mutex<Lru>,
}

struct Lru {
    map: HashMap<MemoKey, (Option<Bytes>, u64)>,
    order: BTreeMap<u64, MemoKey>,
    tick: u64,
    bytes: usize,
    max_bytes: usize,
}

/// The bookkeeping cost of one entry, so that many "nothing there" entries are bounded too.
const ENTRY_OVERHEAD: usize = 64;

fn size_of(data: &Option<Bytes>) -> usize {
    data.as_ref().map_or(0, Bytes::len) + ENTRY_OVERHEAD
}

impl SourceTiles {
    /// A memory of at most `max_bytes` of tile data (0: remembers nothing).
    pub fn new(max_bytes: usize) -> SourceTiles {
        SourceTiles {
            inner: Mutex::new(Lru {
                map: HashMap::new(),
                order: BTreeMap::new(),
                tick: 0,
                bytes: 0,
                max_bytes,
            }),
        }
    }

    /// `Some(data)` when remembered (`data` is `None` for "no tile there").
    pub fn get(&self, k: MemoKey) -> Option<Option<Bytes>> {
        let mut l = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        l.tick += 1;
        let tick = l.tick;
        let (data, used) = l.map.get_mut(&k)?;
        let old = std::mem::replace(used, tick);
        let data = data.clone();
        l.order.remove(&old);
        l.order.insert(tick, k);
        Some(data)
    }

    pub fn insert(&self, k: MemoKey, data: Option<Bytes>) {
        let size = size_of(&data);
        let mut l = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if size > l.max_bytes {
            return;
        }
        if let Some((old, used)) = l.map.remove(&k) {
            l.order.remove(&used);
            l.bytes -= size_of(&old);
        }
        while l.bytes + size > l.max_bytes {
            let Some((_, oldest)) = l.order.pop_first() else {
                break;
            };
            if let Some((old, _)) = l.map.remove(&oldest) {
                l.bytes -= size_of(&old);
            }
        }
        l.tick += 1;
        let tick = l.tick;
        l.map.insert(k, (data, tick));
        l.order.insert(tick, k);
        l.bytes += size;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(x: u32) -> MemoKey {
        (TileId { z: 14, x, y: 0 }, None)
    }

    #[test]
    fn bounded_by_bytes_least_recently_used_first_out() {
        let m = SourceTiles::new(3 * (100 + ENTRY_OVERHEAD));
        for x in 0..3 {
            m.insert(t(x), Some(Bytes::from(vec![0u8; 100])));
        }
        // Touch 0, so 1 is the oldest when 3 arrives.
        assert!(m.get(t(0)).is_some());
        m.insert(t(3), Some(Bytes::from(vec![0u8; 100])));
        assert!(m.get(t(1)).is_none(), "the least recently used left");
        assert!(m.get(t(0)).is_some() && m.get(t(2)).is_some() && m.get(t(3)).is_some());
        // "Nothing there" is remembered as such.
        m.insert(t(9), None);
        assert_eq!(m.get(t(9)), Some(None));
        // A key's data is its own: another API key's entry is a different one.
        assert!(m.get((t(0).0, Some(7))).is_none());
        // Larger than the whole memory: not kept, nothing evicted for it.
        m.insert(t(5), Some(Bytes::from(vec![0u8; 10_000])));
        assert!(m.get(t(5)).is_none());
    }
}
