//! In-process LRU cache bounded by the bytes it holds (keys included).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use bytes::Bytes;

use super::{CacheError, TileCache};
use crate::source::BoxFuture;

pub struct MemoryCache {
    inner: Mutex<Lru>,
}

#[derive(Default)]
struct Lru {
    entries: HashMap<String, (Bytes, u64)>,
    /// Use tick → key, oldest first.
    order: BTreeMap<u64, String>,
    tick: u64,
    bytes: usize,
    max_bytes: usize,
}

impl Lru {
    fn touch(&mut self, key: &str) -> Option<Bytes> {
        self.tick += 1;
        let tick = self.tick;
        let (body, used) = self.entries.get_mut(key)?;
        let old = std::mem::replace(used, tick);
        let body = body.clone();
        if let Some(k) = self.order.remove(&old) {
            self.order.insert(tick, k);
        }
        Some(body)
    }

    fn remove(&mut self, key: &str) -> bool {
        match self.entries.remove(key) {
            Some((body, used)) => {
                self.order.remove(&used);
                self.bytes -= body.len() + key.len();
                true
            }
            None => false,
        }
    }

    fn insert(&mut self, key: &str, body: Bytes) {
        let size = body.len() + key.len();
        self.remove(key);
        if size > self.max_bytes {
            return;
        }
        while self.bytes + size > self.max_bytes {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            if let Some((b, _)) = self.entries.remove(&oldest) {
                self.bytes -= b.len() + oldest.len();
            }
        }
        self.tick += 1;
        self.order.insert(self.tick, key.to_string());
        self.entries.insert(key.to_string(), (body, self.tick));
        self.bytes += size;
    }
}

impl MemoryCache {
    pub fn new(max_bytes: usize) -> MemoryCache {
        MemoryCache {
            inner: Mutex::new(Lru {
                max_bytes,
                ..Lru::default()
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lru> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Bytes held now.
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }
}

impl TileCache for MemoryCache {
    fn persistent(&self) -> bool {
        false
    }

    fn name(&self) -> &str {
        "memory"
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Bytes>, CacheError>> {
        let hit = self.lock().touch(key);
        Box::pin(async move { Ok(hit) })
    }

    fn put<'a>(&'a self, key: &'a str, body: Bytes) -> BoxFuture<'a, Result<(), CacheError>> {
        self.lock().insert(key, body);
        Box::pin(async { Ok(()) })
    }

    fn purge<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<u64, CacheError>> {
        let mut lru = self.lock();
        let keys: Vec<String> = lru
            .entries
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect();
        let n = keys.iter().filter(|k| lru.remove(k)).count() as u64;
        Box::pin(async move { Ok(n) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bounded_lru() {
        let c = MemoryCache::new(300);
        let body = Bytes::from(vec![0u8; 99]);
        c.put("a", body.clone()).await.unwrap();
        c.put("b", body.clone()).await.unwrap();
        c.put("c", body.clone()).await.unwrap();
        assert_eq!(c.bytes(), 300);
        assert!(c.get("a").await.unwrap().is_some()); // a is now the newest
        c.put("d", body.clone()).await.unwrap(); // evicts b
        assert!(c.get("b").await.unwrap().is_none());
        assert!(c.get("a").await.unwrap().is_some());
        assert!(c.bytes() <= 300);
        c.put("huge", Bytes::from(vec![0u8; 1000])).await.unwrap();
        assert!(c.get("huge").await.unwrap().is_none());
        assert_eq!(c.purge("").await.unwrap(), 3);
        assert_eq!(c.bytes(), 0);
    }
}
