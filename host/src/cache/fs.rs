//! One file per tile under a directory: `DIR/KEY`. Writes go to a temporary file beside the
//! target and are renamed into place, so readers never see half a tile.
//!
//! The directory is bounded (`--fs-cache-mb`): the bytes in it are counted (a scan at start,
//! then every write), and when they pass the bound, or a write fails (a full disk), an
//! eviction pass in the background deletes the oldest-written tiles until 80 % of the bound
//! is left. Without it, anyone requesting distinct tiles would fill the disk at the render rate.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use super::{CacheError, TileCache};
use crate::source::BoxFuture;

pub struct FsCache {
    root: PathBuf,
    counter: AtomicU64,
    /// Most bytes of tiles kept (0: no bound).
    max_bytes: u64,
    /// Bytes of tiles in the directory (scanned at start, then counted).
    used: Arc<AtomicU64>,
    evicting: Arc<AtomicBool>,
}

impl FsCache {
    pub fn new(root: PathBuf, max_bytes: u64) -> FsCache {
        let cache = FsCache {
            root,
            counter: AtomicU64::new(0),
            max_bytes,
            used: Arc::new(AtomicU64::new(0)),
            evicting: Arc::new(AtomicBool::new(false)),
        };
        if max_bytes > 0 {
            // What an earlier run left: counted in the background (a big cache takes a while),
            // evicted at once if over the bound.
            cache.evicting.store(true, Ordering::SeqCst);
            let (root, used, evicting) = (
                cache.root.clone(),
                Arc::clone(&cache.used),
                Arc::clone(&cache.evicting),
            );
            std::thread::spawn(move || {
                let files = tiles_under(&root);
                let total: u64 = files.iter().map(|f| f.1).sum();
                used.fetch_add(total, Ordering::SeqCst);
                if used.load(Ordering::SeqCst) > max_bytes {
                    evict(&root, max_bytes / 10 * 8, &used, files);
                }
                evicting.store(false, Ordering::SeqCst);
            });
        }
        cache
    }

    /// Bytes of tiles counted in the directory.
    #[allow(dead_code)]
    pub fn used_bytes(&self) -> u64 {
        self.used.load(Ordering::SeqCst)
    }

    /// Starts an eviction pass unless one runs: down to 80 % of the bound when over it, or, when
    /// a write failed for want of space (`free` > 0), until `free` bytes are freed.
    fn maybe_evict(&self, free: u64) {
        let used = self.used.load(Ordering::SeqCst);
        let keep = if free > 0 {
            used.saturating_sub(free)
        } else if self.max_bytes > 0 && used > self.max_bytes {
            self.max_bytes / 10 * 8
        } else {
            return;
        };
        if self.evicting.swap(true, Ordering::SeqCst) {
            return;
        }
        let (root, used, evicting) = (
            self.root.clone(),
            Arc::clone(&self.used),
            Arc::clone(&self.evicting),
        );
        tokio::task::spawn_blocking(move || {
            evict(&root, keep, &used, tiles_under(&root));
            evicting.store(false, Ordering::SeqCst);
        });
    }
}

/// Every tile file under `root`: (path, size, modification time). Temporary files of writes
/// in progress are left out (those older than a minute are debris of a crash: included).
fn tiles_under(root: &Path) -> Vec<(PathBuf, u64, SystemTime)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    let stale = SystemTime::now() - Duration::from_secs(60);
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(entry.path());
            } else if meta.is_file() {
                let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                let tmp = entry.file_name().to_string_lossy().ends_with(".tmp");
                if !tmp || mtime < stale {
                    out.push((entry.path(), meta.len(), mtime));
                }
            }
        }
    }
    out
}

/// Deletes the oldest files until at most `target` bytes are left; recounts `used` from what
/// remains (which also corrects any drift of the running count).
fn evict(root: &Path, target: u64, used: &AtomicU64, mut files: Vec<(PathBuf, u64, SystemTime)>) {
    let total: u64 = files.iter().map(|f| f.1).sum();
    if total <= target {
        used.store(total, Ordering::SeqCst);
        return;
    }
    files.sort_by_key(|f| f.2);
    let mut left = total;
    let mut removed = 0u64;
    for (path, size, _) in &files {
        if left <= target {
            break;
        }
        if std::fs::remove_file(path).is_ok() {
            left -= size;
            removed += 1;
        }
    }
    used.store(left, Ordering::SeqCst);
    tracing::info!(cache = %root.display(), removed, kept_bytes = left, "fs cache over its bound or out of space: oldest tiles evicted");
}

fn io(what: &str, path: &Path, e: std::io::Error) -> CacheError {
    CacheError::Io(format!("{what} {}: {e}", path.display()))
}

impl TileCache for FsCache {
    fn name(&self) -> &str {
        "fs"
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Bytes>, CacheError>> {
        Box::pin(async move {
            let path = self.root.join(key);
            match tokio::fs::read(&path).await {
                Ok(b) => Ok(Some(Bytes::from(b))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(io("cannot read", &path, e)),
            }
        })
    }

    fn put<'a>(&'a self, key: &'a str, body: Bytes) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async move {
            let path = self.root.join(key);
            let dir = path.parent().unwrap_or(&self.root).to_path_buf();
            tokio::fs::create_dir_all(&dir)
                .await
                .map_err(|e| io("cannot create", &dir, e))?;
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("tile");
            let tmp = dir.join(format!(
                ".{name}.{}.{}.tmp",
                std::process::id(),
                self.counter.fetch_add(1, Ordering::Relaxed)
            ));
            if let Err(e) = tokio::fs::write(&tmp, &body).await {
                let _ = tokio::fs::remove_file(&tmp).await;
                // A full disk (or quota): make room for the next writes.
                if e.raw_os_error() == Some(libc::ENOSPC) || e.raw_os_error() == Some(libc::EDQUOT)
                {
                    self.maybe_evict(2 * body.len() as u64);
                }
                return Err(io("cannot write", &tmp, e));
            }
            let replaced = tokio::fs::metadata(&path).await.map_or(0, |m| m.len());
            if let Err(e) = tokio::fs::rename(&tmp, &path).await {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(io("cannot rename into", &path, e));
            }
            let grown = (body.len() as u64).saturating_sub(replaced);
            self.used.fetch_add(grown, Ordering::SeqCst);
            self.maybe_evict(0);
            Ok(())
        })
    }

    fn contains<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool, CacheError>> {
        Box::pin(async move {
            let path = self.root.join(key);
            match tokio::fs::metadata(&path).await {
                Ok(m) => Ok(m.is_file()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
                Err(e) => Err(io("cannot stat", &path, e)),
            }
        })
    }

    fn purge<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<u64, CacheError>> {
        let root = self.root.clone();
        let prefix = prefix.trim_start_matches('/').to_string();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || purge_blocking(&root, &prefix))
                .await
                .map_err(|e| CacheError::Io(format!("purge task failed: {e}")))?
        })
    }
}

/// Deletes the files under `root` whose relative path starts with `prefix`, then the
/// directories left empty.
fn purge_blocking(root: &Path, prefix: &str) -> Result<u64, CacheError> {
    // Start the walk at the deepest directory the prefix names in full.
    let start_rel = match prefix.rfind('/') {
        Some(i) => &prefix[..i],
        None => "",
    };
    let start = root.join(start_rel);
    if !start.exists() {
        return Ok(0);
    }
    let mut removed = 0;
    let mut stack = vec![start.clone()];
    let mut dirs = Vec::new();
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| io("cannot list", &dir, e))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
            if is_dir {
                // Descend only where the prefix can still match.
                let rel_dir = format!("{rel}/");
                if rel_dir.starts_with(prefix) || prefix.starts_with(&rel_dir) {
                    stack.push(path.clone());
                    dirs.push(path);
                }
            } else if rel.starts_with(prefix) {
                std::fs::remove_file(&path).map_err(|e| io("cannot remove", &path, e))?;
                if !rel.ends_with(".tmp") {
                    removed += 1;
                }
            }
        }
    }
    // Deepest first; only empty directories go.
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for d in dirs {
        let _ = std::fs::remove_dir(d);
    }
    // Then the start and its ancestors below the root, while they are empty.
    let mut d = start.as_path();
    while d != root && d.starts_with(root) && std::fs::remove_dir(d).is_ok() {
        d = match d.parent() {
            Some(p) => p,
            None => break,
        };
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_get_purge() {
        let dir = std::env::temp_dir().join(format!("rasterzen-fs-test-{}", std::process::id()));
        let c = FsCache::new(dir.clone(), 0);
        c.put("s/r1/st/png-512@1x/1/0/0.png", Bytes::from_static(b"a"))
            .await
            .unwrap();
        c.put("s/r1/st/png-512@1x/1/0/1.png", Bytes::from_static(b"b"))
            .await
            .unwrap();
        c.put("s/r2/st/png-512@1x/1/0/0.png", Bytes::from_static(b"c"))
            .await
            .unwrap();
        assert_eq!(
            c.get("s/r1/st/png-512@1x/1/0/1.png")
                .await
                .unwrap()
                .unwrap(),
            Bytes::from_static(b"b")
        );
        assert!(c
            .get("s/r1/st/png-512@1x/9/0/1.png")
            .await
            .unwrap()
            .is_none());
        assert_eq!(c.purge("s/r1/").await.unwrap(), 2);
        assert!(c
            .get("s/r1/st/png-512@1x/1/0/0.png")
            .await
            .unwrap()
            .is_none());
        assert!(c
            .get("s/r2/st/png-512@1x/1/0/0.png")
            .await
            .unwrap()
            .is_some());
        assert!(
            !dir.join("s/r1").exists(),
            "emptied directories are removed"
        );
        assert_eq!(c.purge("s/r").await.unwrap(), 1);
        let _ = std::fs::remove_dir_all(dir);
    }
}
