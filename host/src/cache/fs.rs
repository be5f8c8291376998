//! One file per tile under a directory: `DIR/KEY`. Writes go to a temporary file beside the
//! target and are renamed into place, so readers never see half a tile.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use super::{CacheError, TileCache};
use crate::source::BoxFuture;

pub struct FsCache {
    root: PathBuf,
    counter: AtomicU64,
}

impl FsCache {
    pub fn new(root: PathBuf) -> FsCache {
        FsCache {
            root,
            counter: AtomicU64::new(0),
        }
    }
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
                return Err(io("cannot write", &tmp, e));
            }
            if let Err(e) = tokio::fs::rename(&tmp, &path).await {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(io("cannot rename into", &path, e));
            }
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
        let c = FsCache::new(dir.clone());
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
