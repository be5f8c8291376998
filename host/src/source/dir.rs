//! A directory of tiles, `DIR/{z}/{x}/{y}.mvt` (also `.pbf`), raw or gzip. The zoom range is
//! the numeric sub-directories present; a `metadata.json` (TileJSON-like: `name`,
//! `attribution`, `bounds`, `center`, `minzoom`, `maxzoom`) beside them refines it.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use rasterzen_render::TileId;

use super::{BoxFuture, FetchContext, SourceError, SourceInfo, TileSource};

pub struct DirSource {
    root: PathBuf,
    info: SourceInfo,
    id: String,
}

impl DirSource {
    pub fn open(root: &Path) -> Result<DirSource, SourceError> {
        let zooms: Vec<u8> = std::fs::read_dir(root)
            .map_err(|e| SourceError::Open(format!("{}: {e}", root.display())))?
            .flatten()
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().to_str()?.parse::<u8>().ok())
            .filter(|z| *z <= 30)
            .collect();
        let (Some(&lo), Some(&hi)) = (zooms.iter().min(), zooms.iter().max()) else {
            return Err(SourceError::Open(format!(
                "{}: no {{z}}/{{x}}/{{y}}.mvt tiles in this directory",
                root.display()
            )));
        };
        let name = root
            .file_name()
            .and_then(|s| s.to_str())
            .unwrap_or("tiles")
            .to_string();
        let mut info = SourceInfo::world(name.clone(), lo, hi);
        if let Ok(text) = std::fs::read_to_string(root.join("metadata.json")) {
            if let Ok(serde_json::Value::Object(m)) = serde_json::from_str(&text) {
                let nums = |k: &str| -> Option<Vec<f64>> {
                    Some(
                        m.get(k)?
                            .as_array()?
                            .iter()
                            .filter_map(|v| v.as_f64())
                            .collect(),
                    )
                };
                if let Some(n) = m.get("name").and_then(|v| v.as_str()) {
                    info.name = n.to_string();
                }
                info.vector_layers = super::vector_layers(&serde_json::Value::Object(m.clone()));
                info.attribution = m
                    .get("attribution")
                    .and_then(|v| v.as_str())
                    .map(str::to_string);
                if let Some(b) =
                    nums("bounds").filter(|b| b.len() == 4 && b[0] < b[2] && b[1] < b[3])
                {
                    info.bounds = [b[0], b[1], b[2], b[3]];
                }
                if let Some(c) = nums("center").filter(|c| c.len() == 3) {
                    info.center = Some([c[0], c[1], c[2]]);
                }
                if let Some(z) = m.get("minzoom").and_then(|v| v.as_u64()) {
                    info.minzoom = z.min(30) as u8;
                }
                if let Some(z) = m.get("maxzoom").and_then(|v| v.as_u64()) {
                    info.maxzoom = (z.min(30) as u8).max(info.minzoom);
                }
            }
        }
        let canonical = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
        let id = format!(
            "{}-{}",
            super::slug(&name),
            super::short_hash(&[canonical.to_string_lossy().as_bytes()])
        );
        Ok(DirSource {
            root: root.to_path_buf(),
            info,
            id,
        })
    }
}

impl TileSource for DirSource {
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
            for ext in ["mvt", "pbf"] {
                let path = self
                    .root
                    .join(format!("{}/{}/{}.{ext}", tile.z, tile.x, tile.y));
                let read = tokio::task::spawn_blocking(move || read_tile_file(&path))
                    .await
                    .map_err(|e| SourceError::Upstream(format!("tile {tile}: read task: {e}")))?;
                return match read {
                    Ok(Some(data)) => Ok(Some(Bytes::from(data))),
                    Ok(None) => continue,
                    Err(ReadError::NotRegular) => Err(SourceError::NotATile(format!(
                        "tile {tile} is not a regular file (a device, FIFO, socket or directory)"
                    ))),
                    Err(ReadError::TooLarge) => Err(SourceError::NotATile(format!(
                        "tile {tile} is larger than {} bytes",
                        super::MAX_TILE_BYTES
                    ))),
                    Err(ReadError::Io(e)) => {
                        Err(SourceError::Upstream(format!("tile {tile}: {e}")))
                    }
                };
            }
            Ok(None)
        })
    }

    fn contains(&self, tile: TileId) -> BoxFuture<'_, Result<Option<bool>, SourceError>> {
        Box::pin(async move {
            for ext in ["mvt", "pbf"] {
                let path = self
                    .root
                    .join(format!("{}/{}/{}.{ext}", tile.z, tile.x, tile.y));
                match tokio::fs::metadata(&path).await {
                    Ok(_) => return Ok(Some(true)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(SourceError::Upstream(format!("tile {tile}: {e}"))),
                }
            }
            Ok(Some(false))
        })
    }
}

enum ReadError {
    NotRegular,
    TooLarge,
    Io(std::io::Error),
}

/// Reads one tile file: `None` if absent. Only a regular file (a symlink to one is fine) is
/// read, and at most [`super::MAX_TILE_BYTES`] of it: a symlink to `/dev/zero` or
/// `/dev/urandom` would otherwise be read without end, and a FIFO would block the open and
/// the read forever. The file is opened non-blocking (so a FIFO's open returns at once) and
/// checked on the open descriptor, so it cannot be swapped between the check and the read.
fn read_tile_file(path: &Path) -> Result<Option<Vec<u8>>, ReadError> {
    use std::io::Read as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        // A socket (or a device without its driver) cannot be opened at all.
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => return Err(ReadError::NotRegular),
        Err(e) => return Err(ReadError::Io(e)),
    };
    let meta = file.metadata().map_err(ReadError::Io)?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular);
    }
    let max = super::MAX_TILE_BYTES as u64;
    if meta.len() > max {
        return Err(ReadError::TooLarge);
    }
    let mut data = Vec::with_capacity(meta.len() as usize);
    file.take(max + 1)
        .read_to_end(&mut data)
        .map_err(ReadError::Io)?;
    if data.len() as u64 > max {
        return Err(ReadError::TooLarge);
    }
    Ok(Some(data))
}
