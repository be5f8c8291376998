//! MBTiles 1.3 (SQLite). Rows are TMS: `tile_row = 2^z − 1 − y`. Reads run on the blocking
//! pool with a small pool of read-only connections.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use rasterzen_render::TileId;
use rusqlite::{Connection, OpenFlags, OptionalExtension as _};

use super::{BoxFuture, FetchContext, SourceError, SourceInfo, TileSource};

pub struct MbtilesSource {
    path: PathBuf,
    pool: Arc<Mutex<Vec<Connection>>>,
    info: SourceInfo,
    id: String,
}

fn connect(path: &Path) -> rusqlite::Result<Connection> {
    Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
}

impl MbtilesSource {
    pub fn open(path: &Path) -> Result<MbtilesSource, SourceError> {
        let open_err = |e: rusqlite::Error| {
            SourceError::Open(format!(
                "{}: not a readable MBTiles file: {e}",
                path.display()
            ))
        };
        let conn = connect(path).map_err(open_err)?;
        let mut meta = std::collections::HashMap::<String, String>::new();
        {
            let mut stmt = conn
                .prepare("SELECT name, value FROM metadata")
                .map_err(open_err)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1).unwrap_or_default(),
                    ))
                })
                .map_err(open_err)?;
            for row in rows.flatten() {
                meta.insert(row.0, row.1);
            }
        }
        if let Some(f) = meta
            .get("format")
            .filter(|f| !matches!(f.as_str(), "pbf" | "mvt"))
        {
            return Err(SourceError::Open(format!(
                "{}: holds {f} tiles, not vector tiles (pbf)",
                path.display()
            )));
        }
        let (mut minzoom, mut maxzoom) = (
            meta.get("minzoom")
                .and_then(|v| v.trim().parse::<u8>().ok()),
            meta.get("maxzoom")
                .and_then(|v| v.trim().parse::<u8>().ok()),
        );
        if minzoom.is_none() || maxzoom.is_none() {
            let (lo, hi): (Option<u8>, Option<u8>) = conn
                .query_row(
                    "SELECT min(zoom_level), max(zoom_level) FROM tiles",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .map_err(open_err)?;
            minzoom = minzoom.or(lo);
            maxzoom = maxzoom.or(hi);
        }
        let floats = |key: &str, n: usize| -> Option<Vec<f64>> {
            let v: Vec<f64> = meta
                .get(key)?
                .split(',')
                .filter_map(|p| p.trim().parse().ok())
                .collect();
            (v.len() == n).then_some(v)
        };
        let minzoom = minzoom.unwrap_or(0).min(30);
        let maxzoom = maxzoom.unwrap_or(14).clamp(minzoom, 30);
        let name = meta
            .get("name")
            .cloned()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| {
                path.file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or("mbtiles")
                    .to_string()
            });
        let bounds = floats("bounds", 4)
            .map(|b| [b[0], b[1], b[2], b[3]])
            .filter(|b| b[0] < b[2] && b[1] < b[3])
            .unwrap_or(super::WORLD);
        let center = floats("center", 3).map(|c| [c[0], c[1], c[2]]);
        let info = SourceInfo {
            name: name.clone(),
            attribution: meta.get("attribution").cloned(),
            minzoom,
            maxzoom,
            bounds,
            center,
            // The `json` row holds `vector_layers` (MBTiles 1.3).
            vector_layers: meta
                .get("json")
                .and_then(|j| super::vector_layers(&serde_json::json!({ "json": j }))),
        };
        let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("mbtiles");
        let id = format!(
            "{}-{}",
            super::slug(stem),
            super::short_hash(&[
                canonical.to_string_lossy().as_bytes(),
                &super::file_fingerprint(path)
            ])
        );
        Ok(MbtilesSource {
            path: path.to_path_buf(),
            pool: Arc::new(Mutex::new(vec![conn])),
            info,
            id,
        })
    }
}

impl TileSource for MbtilesSource {
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
        let pool = Arc::clone(&self.pool);
        let path = self.path.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let conn = pool.lock().unwrap_or_else(|p| p.into_inner()).pop();
                let conn = match conn {
                    Some(c) => c,
                    None => connect(&path).map_err(|e| SourceError::Upstream(format!("{}: {e}", path.display())))?,
                };
                let row = (1u64 << tile.z) - 1 - u64::from(tile.y);
                let result = conn
                    .prepare_cached("SELECT tile_data FROM tiles WHERE zoom_level = ?1 AND tile_column = ?2 AND tile_row = ?3")
                    .and_then(|mut stmt| {
                        stmt.query_row((i64::from(tile.z), i64::from(tile.x), row as i64), |r| r.get::<_, Option<Vec<u8>>>(0))
                            .optional()
                    });
                let mut pool = pool.lock().unwrap_or_else(|p| p.into_inner());
                if pool.len() < 8 {
                    pool.push(conn);
                }
                match result {
                    Ok(Some(Some(data))) if data.len() > super::MAX_TILE_BYTES => {
                        Err(SourceError::NotATile(format!("tile {tile} is {} bytes, above the limit", data.len())))
                    }
                    Ok(Some(Some(data))) => Ok(Some(Bytes::from(data))),
                    Ok(_) => Ok(None),
                    Err(e) => Err(SourceError::Upstream(format!("{}: tile {tile}: {e}", path.display()))),
                }
            })
            .await
            .map_err(|e| SourceError::Upstream(format!("read task failed: {e}")))?
        })
    }

    fn contains(&self, tile: TileId) -> BoxFuture<'_, Result<Option<bool>, SourceError>> {
        let pool = Arc::clone(&self.pool);
        let path = self.path.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let conn = pool.lock().unwrap_or_else(|p| p.into_inner()).pop();
                let conn = match conn {
                    Some(c) => c,
                    None => connect(&path).map_err(|e| SourceError::Upstream(format!("{}: {e}", path.display())))?,
                };
                let row = (1u64 << tile.z) - 1 - u64::from(tile.y);
                let result = conn
                    .prepare_cached("SELECT 1 FROM tiles WHERE zoom_level = ?1 AND tile_column = ?2 AND tile_row = ?3")
                    .and_then(|mut stmt| stmt.exists((i64::from(tile.z), i64::from(tile.x), row as i64)));
                let mut pool = pool.lock().unwrap_or_else(|p| p.into_inner());
                if pool.len() < 8 {
                    pool.push(conn);
                }
                result
                    .map(Some)
                    .map_err(|e| SourceError::Upstream(format!("{}: tile {tile}: {e}", path.display())))
            })
            .await
            .map_err(|e| SourceError::Upstream(format!("read task failed: {e}")))?
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An MBTiles updated in place (a tile rewritten, as a tile pipeline does) gets a new id,
    /// hence new cache keys.
    #[test]
    fn updating_an_mbtiles_changes_its_id() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/archives/monaco-2023-omt.mbtiles");
        let dir = std::env::temp_dir().join(format!("rasterzen-fp-mb-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("map.mbtiles");
        std::fs::copy(&src, &path).unwrap();
        let first = MbtilesSource::open(&path).unwrap().id().to_owned();
        assert_eq!(first, MbtilesSource::open(&path).unwrap().id(), "stable");
        {
            let db = rusqlite::Connection::open(&path).unwrap();
            db.execute(
                "UPDATE tiles SET tile_data = zeroblob(10) WHERE rowid = (SELECT MIN(rowid) FROM tiles)",
                [],
            )
            .or_else(|_| {
                db.execute(
                    "UPDATE metadata SET value = value || ' (updated)' WHERE name = 'name'",
                    [],
                )
            })
            .unwrap();
        }
        let updated = MbtilesSource::open(&path).unwrap().id().to_owned();
        assert_ne!(first, updated, "updated data");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn monaco_rows_are_tms() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/archives/monaco-2023-omt.mbtiles");
        let s = MbtilesSource::open(&path).unwrap();
        let pm = super::super::pmtiles::PmtilesSource::open_file(&path.with_extension("pmtiles"))
            .await
            .unwrap();
        let c = s.info().center.or(pm.info().center).unwrap();
        let t = crate::source::tile_at(c[0], c[1], s.info().maxzoom.min(14));
        let ctx = FetchContext::default();
        let a = s
            .get(t, &ctx)
            .await
            .unwrap()
            .expect("mbtiles has the centre tile");
        let b = pm
            .get(t, &ctx)
            .await
            .unwrap()
            .expect("pmtiles has the centre tile");
        let inflate = |d: &[u8]| crate::mvt::inflate(d, 64 << 20).unwrap();
        assert_eq!(inflate(&a), inflate(&b), "the same tile from both archives");
    }
}
