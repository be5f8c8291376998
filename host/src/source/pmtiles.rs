//! PMTiles v3 archives, read with the `pmtiles` crate over our own range backends: the
//! embedded sample (memory), a local file (positioned reads, no mmap: a file truncated under a
//! mapping would kill the process), HTTP range requests (reqwest) and S3 ranged `GetObject`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use pmtiles::{
    AsyncBackend, AsyncPmTilesReader, BackendResponse, DirEntry, Directory, DirectoryCache,
    PmtError, PmtResult,
};
use rasterzen_render::TileId;

use super::{
    BoxFuture, FetchContext, NetOptions, SourceError, SourceInfo, TileSource, EMBEDDED_ARCHIVE,
};
use crate::net;

/// A PMTiles archive.
pub struct PmtilesSource {
    reader: Arc<AsyncPmTilesReader<Backend, DirCache>>,
    info: SourceInfo,
    id: String,
    /// Which tiles the archive holds, read from its directories on first use (`contains`).
    index: tokio::sync::OnceCell<Result<TileIndex, String>>,
    /// In memory or a local file: reading every directory at once is cheap. Over HTTP or S3 it
    /// is not (a planet's leaf directories are hundreds of MB, and a Lambda would read them on
    /// every cold start), so there `contains` answers "cannot tell" and `get` looks the one
    /// tile up in the (cached) directories, which reads no tile data for a missing tile.
    local: bool,
}

/// The tiles an archive holds: sorted, merged ranges of PMTiles tile ids (Hilbert order, zoom by
/// zoom), from its root and leaf directories. Runs of identical tiles (an ocean) are one range.
struct TileIndex {
    ranges: Vec<(u64, u64)>,
}

impl TileIndex {
    async fn read(reader: Arc<AsyncPmTilesReader<Backend, DirCache>>) -> Result<TileIndex, String> {
        use futures_util::TryStreamExt as _;
        let mut entries = reader.entries();
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        while let Some(entry) = entries.try_next().await.map_err(|e| e.to_string())? {
            for id in entry.iter_coords() {
                let id = u64::from(id);
                match ranges.last_mut() {
                    Some(last) if last.1 == id => last.1 = id + 1,
                    _ => ranges.push((id, id + 1)),
                }
            }
        }
        // Entries come in directory order, which is tile-id order; sort anyway, then merge.
        ranges.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
        for (a, b) in ranges {
            match merged.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        Ok(TileIndex { ranges: merged })
    }

    fn contains(&self, id: u64) -> bool {
        let i = self.ranges.partition_point(|r| r.1 <= id);
        self.ranges.get(i).is_some_and(|r| r.0 <= id)
    }
}

impl PmtilesSource {
    /// The archive built into this binary.
    pub async fn embedded() -> Result<PmtilesSource, SourceError> {
        let id = format!("firenze-{}", super::short_hash(&[EMBEDDED_ARCHIVE]));
        Self::open_backend(
            Backend::Memory(Bytes::from_static(EMBEDDED_ARCHIVE)),
            "firenze (embedded)",
            id,
        )
        .await
    }

    /// A local `.pmtiles` file.
    pub async fn open_file(path: &Path) -> Result<PmtilesSource, SourceError> {
        let file = std::fs::File::open(path)
            .map_err(|e| SourceError::Open(format!("{}: {e}", path.display())))?;
        let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("archive")
            .to_string();
        let id = format!(
            "{}-{}",
            super::slug(&name),
            super::short_hash(&[
                canonical.to_string_lossy().as_bytes(),
                &super::file_fingerprint(path)
            ])
        );
        Self::open_backend(Backend::File(Arc::new(file)), &name, id).await
    }

    /// `http(s)://…/FILE.pmtiles` (range requests) or `s3://BUCKET/KEY` (ranged `GetObject`).
    pub async fn open_remote(spec: &str, net: &NetOptions) -> Result<PmtilesSource, SourceError> {
        let name = spec
            .rsplit('/')
            .next()
            .unwrap_or(spec)
            .split(['?', '#'])
            .next()
            .unwrap_or("archive");
        let name = name.strip_suffix(".pmtiles").unwrap_or(name).to_string();
        let id = format!(
            "{}-{}",
            super::slug(&name),
            super::short_hash(&[spec.as_bytes()])
        );
        let backend = if let Some(rest) = spec.strip_prefix("s3://") {
            let (bucket, key) = rest
                .split_once('/')
                .filter(|(b, k)| !b.is_empty() && !k.is_empty())
                .ok_or_else(|| SourceError::Open(format!("{spec}: expected s3://BUCKET/KEY")))?;
            let client = crate::aws::s3_client().await;
            Backend::S3 {
                client,
                bucket: bucket.to_string(),
                key: key.to_string(),
            }
        } else {
            let client = net::client(net).map_err(|e| SourceError::Open(format!("{spec}: {e}")))?;
            Backend::Http {
                client,
                url: spec.to_string(),
                net: net.clone(),
            }
        };
        Self::open_backend(backend, &name, id).await
    }

    async fn open_backend(
        backend: Backend,
        name: &str,
        id: String,
    ) -> Result<PmtilesSource, SourceError> {
        let local = matches!(backend, Backend::Memory(_) | Backend::File(_));
        let reader = AsyncPmTilesReader::try_from_cached_source(backend, DirCache::default())
            .await
            .map_err(|e| {
                SourceError::Open(format!("{name}: not a readable PMTiles v3 archive: {e}"))
            })?;
        let h = reader.get_header();
        if !matches!(
            h.tile_type,
            pmtiles::TileType::Mvt | pmtiles::TileType::Unknown
        ) {
            return Err(SourceError::Open(format!(
                "{name}: holds {:?} tiles, not vector tiles (MVT)",
                h.tile_type
            )));
        }
        if !matches!(
            h.tile_compression,
            pmtiles::Compression::None | pmtiles::Compression::Gzip | pmtiles::Compression::Unknown
        ) {
            return Err(SourceError::Open(format!(
                "{name}: tiles are {:?}-compressed; only gzip and uncompressed are supported",
                h.tile_compression
            )));
        }
        let mut info = SourceInfo {
            name: name.to_string(),
            attribution: None,
            minzoom: h.min_zoom,
            maxzoom: h.max_zoom.max(h.min_zoom),
            bounds: [
                h.min_longitude,
                h.min_latitude,
                h.max_longitude,
                h.max_latitude,
            ],
            center: Some([
                h.center_longitude,
                h.center_latitude,
                f64::from(h.center_zoom),
            ]),
            vector_layers: None,
        };
        if !(info.bounds[0] < info.bounds[2] && info.bounds[1] < info.bounds[3]) {
            info.bounds = super::WORLD;
        }
        if let Ok(meta) = reader.get_metadata().await {
            if let Ok(serde_json::Value::Object(m)) =
                serde_json::from_str::<serde_json::Value>(&meta)
            {
                if let Some(a) = m.get("attribution").and_then(|v| v.as_str()) {
                    info.attribution = Some(a.to_string());
                }
                info.vector_layers = super::vector_layers(&serde_json::Value::Object(m.clone()));
                if let Some(n) = m
                    .get("name")
                    .and_then(|v| v.as_str())
                    .filter(|n| !n.is_empty())
                {
                    info.name = n.to_string();
                }
            }
        }
        Ok(PmtilesSource {
            reader: Arc::new(reader),
            info,
            id,
            index: tokio::sync::OnceCell::new(),
            local,
        })
    }
}

impl TileSource for PmtilesSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn id(&self) -> &str {
        &self.id
    }

    fn get<'a>(
        &'a self,
        tile: TileId,
        _ctx: &'a FetchContext,
    ) -> BoxFuture<'a, Result<Option<Bytes>, SourceError>> {
        Box::pin(async move {
            let coord = pmtiles::TileCoord::new(tile.z, tile.x, tile.y)
                .map_err(|e| SourceError::Upstream(format!("tile {tile}: {e}")))?;
            match self.reader.get_tile(coord).await {
                Ok(Some(b)) if b.len() > super::MAX_TILE_BYTES => Err(SourceError::NotATile(
                    format!("tile {tile} is {} bytes, above the limit", b.len()),
                )),
                Ok(t) => Ok(t),
                Err(e) => Err(SourceError::Upstream(format!(
                    "reading tile {tile} from {}: {e}",
                    self.info.name
                ))),
            }
        })
    }

    fn contains(&self, tile: TileId) -> BoxFuture<'_, Result<Option<bool>, SourceError>> {
        Box::pin(async move {
            if !self.local {
                return Ok(None);
            }
            let coord = pmtiles::TileCoord::new(tile.z, tile.x, tile.y)
                .map_err(|e| SourceError::Upstream(format!("tile {tile}: {e}")))?;
            let index = self
                .index
                .get_or_init(|| TileIndex::read(Arc::clone(&self.reader)))
                .await
                .as_ref()
                .map_err(|e| {
                    SourceError::Upstream(format!(
                        "reading the directories of {}: {e}",
                        self.info.name
                    ))
                })?;
            Ok(Some(
                index.contains(u64::from(pmtiles::TileId::from(coord))),
            ))
        })
    }
}

/// Where an archive's bytes live.
enum Backend {
    Memory(Bytes),
    File(Arc<std::fs::File>),
    Http {
        client: reqwest::Client,
        url: String,
        net: NetOptions,
    },
    S3 {
        client: aws_sdk_s3::Client,
        bucket: String,
        key: String,
    },
}

fn io_err(msg: impl Into<String>) -> PmtError {
    PmtError::Reading(std::io::Error::other(msg.into()))
}

impl AsyncBackend for Backend {
    async fn read(&self, offset: u64, length: usize) -> PmtResult<BackendResponse> {
        match self {
            Backend::Memory(bytes) => {
                let start = usize::try_from(offset)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                let end = start.saturating_add(length).min(bytes.len());
                Ok(BackendResponse::new(bytes.slice(start..end)))
            }
            Backend::File(file) => {
                let file = Arc::clone(file);
                tokio::task::spawn_blocking(move || {
                    use std::os::unix::fs::FileExt as _;
                    let mut buf = vec![0u8; length];
                    let mut filled = 0;
                    while filled < length {
                        match file.read_at(&mut buf[filled..], offset + filled as u64) {
                            Ok(0) => break,
                            Ok(n) => filled += n,
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                            Err(e) => return Err(PmtError::Reading(e)),
                        }
                    }
                    buf.truncate(filled);
                    Ok(BackendResponse::new(Bytes::from(buf)))
                })
                .await
                .map_err(|e| io_err(format!("read task failed: {e}")))?
            }
            Backend::Http { client, url, net } => {
                let end = offset + length as u64 - 1;
                let range = format!("bytes={offset}-{end}");
                let fetched =
                    net::get_with_retries(client, url, Some(&range), net, length.saturating_add(1))
                        .await
                        .map_err(|e| io_err(e.to_string()))?;
                match fetched {
                    net::Fetched::Body { status: 206, body } => Ok(BackendResponse::new(body)),
                    // A server that ignores Range sends the whole file: take our slice of it.
                    net::Fetched::Body { status: 200, body } => {
                        let start = usize::try_from(offset)
                            .unwrap_or(usize::MAX)
                            .min(body.len());
                        let end = start.saturating_add(length).min(body.len());
                        Ok(BackendResponse::new(body.slice(start..end)))
                    }
                    net::Fetched::Body { status, .. } => {
                        Err(io_err(format!("{url}: HTTP {status} to a range request")))
                    }
                    net::Fetched::Missing(status) => Err(io_err(format!("{url}: HTTP {status}"))),
                }
            }
            Backend::S3 {
                client,
                bucket,
                key,
            } => {
                let end = offset + length as u64 - 1;
                let out = client
                    .get_object()
                    .bucket(bucket)
                    .key(key)
                    .range(format!("bytes={offset}-{end}"))
                    .send()
                    .await
                    .map_err(|e| {
                        io_err(format!(
                            "s3://{bucket}/{key}: {}",
                            crate::aws::error_text(&e)
                        ))
                    })?;
                let body = out
                    .body
                    .collect()
                    .await
                    .map_err(|e| io_err(format!("s3://{bucket}/{key}: reading the body: {e}")))?
                    .into_bytes();
                if body.len() > length {
                    return Err(io_err(format!(
                        "s3://{bucket}/{key}: {} bytes for a {length}-byte range",
                        body.len()
                    )));
                }
                Ok(BackendResponse::new(body))
            }
        }
    }
}

/// Directory cache bounded by the directories' approximate size (leaf directories of a planet
/// archive read over HTTP would otherwise grow without end): when full, it starts over.
struct DirCache {
    dirs: RwLock<HashMap<u64, Arc<Directory>>>,
    bytes: std::sync::atomic::AtomicUsize,
    max_bytes: usize,
}

impl Default for DirCache {
    fn default() -> Self {
        DirCache {
            dirs: RwLock::default(),
            bytes: 0.into(),
            max_bytes: 64 << 20,
        }
    }
}

impl DirectoryCache for DirCache {
    async fn get_dir_entry_or_insert(
        &self,
        offset: u64,
        tile_id: pmtiles::TileId,
        fetcher: impl std::future::Future<Output = PmtResult<Directory>> + Send,
    ) -> PmtResult<Option<DirEntry>> {
        use std::sync::atomic::Ordering;
        let cached = self
            .dirs
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&offset)
            .cloned();
        let dir = match cached {
            Some(d) => d,
            None => {
                let d = Arc::new(fetcher.await?);
                let size = d.get_approx_byte_size();
                let mut dirs = self.dirs.write().unwrap_or_else(|p| p.into_inner());
                if self.bytes.load(Ordering::Relaxed) + size > self.max_bytes {
                    dirs.clear();
                    self.bytes.store(0, Ordering::Relaxed);
                }
                if dirs.insert(offset, Arc::clone(&d)).is_none() {
                    self.bytes.fetch_add(size, Ordering::Relaxed);
                }
                d
            }
        };
        Ok(dir.find_tile_id(tile_id).copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Replacing an archive in place with other data changes the source id, so the cache key
    /// changes with it; the same data at the same path keeps it.
    #[tokio::test]
    async fn replacing_an_archive_changes_its_id() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let dir = std::env::temp_dir().join(format!("rasterzen-fp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("map.pmtiles");
        let florence = root.join("host/assets/firenze.pmtiles");
        let monaco = root.join("tests/fixtures/archives/monaco-2023-omt.pmtiles");
        std::fs::copy(&florence, &path).unwrap();
        let first = PmtilesSource::open_file(&path)
            .await
            .unwrap()
            .id()
            .to_owned();
        let again = PmtilesSource::open_file(&path)
            .await
            .unwrap()
            .id()
            .to_owned();
        assert_eq!(first, again, "the same file keeps its id");
        std::fs::copy(&monaco, &path).unwrap();
        let replaced = PmtilesSource::open_file(&path)
            .await
            .unwrap()
            .id()
            .to_owned();
        assert_ne!(first, replaced, "other data at the same path");
        assert!(replaced.starts_with("map-"), "{replaced}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn embedded_archive_opens_and_has_tiles() {
        let s = PmtilesSource::embedded().await.unwrap();
        let info = s.info();
        assert_eq!((info.minzoom, info.maxzoom), (0, 14));
        assert!(
            info.attribution
                .as_deref()
                .unwrap_or("")
                .contains("OpenStreetMap"),
            "{info:?}"
        );
        let c = info.center.unwrap();
        let t = crate::source::tile_at(c[0], c[1], 14);
        let bytes = s
            .get(t, &FetchContext::default())
            .await
            .unwrap()
            .expect("a tile at the centre");
        assert_eq!(&bytes[..2], &[0x1f, 0x8b], "gzip tiles");
        // The directory index agrees with reading the tiles.
        assert_eq!(s.contains(t).await.unwrap(), Some(true));
        assert_eq!(
            s.contains(TileId { z: 14, x: 0, y: 0 }).await.unwrap(),
            Some(false)
        );
        assert_eq!(
            s.contains(TileId { z: 0, x: 0, y: 0 }).await.unwrap(),
            Some(true)
        );
        assert!(s
            .get(TileId { z: 14, x: 0, y: 0 }, &FetchContext::default())
            .await
            .unwrap()
            .is_none());
    }

    #[tokio::test]
    async fn monaco_file() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/archives/monaco-2023-omt.pmtiles");
        let s = PmtilesSource::open_file(&path).await.unwrap();
        let c = s.info().center.unwrap();
        let t = crate::source::tile_at(c[0], c[1], s.info().maxzoom);
        assert!(s.get(t, &FetchContext::default()).await.unwrap().is_some());
    }
}
