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
                match tokio::fs::metadata(&path).await {
                    Ok(m) if m.len() > super::MAX_TILE_BYTES as u64 => {
                        return Err(SourceError::NotATile(format!(
                            "tile {tile} is {} bytes, above the limit",
                            m.len()
                        )));
                    }
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(SourceError::Upstream(format!("tile {tile}: {e}"))),
                }
                return match tokio::fs::read(&path).await {
                    Ok(data) => Ok(Some(Bytes::from(data))),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(SourceError::Upstream(format!("tile {tile}: {e}"))),
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
