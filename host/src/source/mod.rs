//! Where vector tiles come from: one small trait, one module per backend.
//!
//! | spec | backend |
//! |---|---|
//! | *(none)* | the embedded sample archive (central Florence, PMTiles) |
//! | `FILE.pmtiles`, `http(s)://…/FILE.pmtiles`, `s3://BUCKET/KEY.pmtiles` | [`pmtiles`] (mmap, HTTP ranges, S3 ranges) |
//! | `FILE.mbtiles` | [`mbtiles`] (TMS rows) |
//! | `DIR` holding `{z}/{x}/{y}.mvt` | [`dir`] |
//! | `http(s)://…{z}…{x}…{y}…` | [`url`] (a URL template; `{api_key}` filled per request) |
//!
//! Every backend returns the tile bytes exactly as stored (raw or gzip MVT); decoding happens
//! only inside the renderer's sandbox.

pub mod dir;
pub mod mbtiles;
pub mod memo;
pub mod pmtiles;
pub mod url;

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use rasterzen_render::TileId;
use sha2::{Digest, Sha256};

/// A boxed, sendable future (trait methods stay object safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The embedded default archive: central Florence, PMTiles v3, gzip MVT, z0–14.
pub static EMBEDDED_ARCHIVE: &[u8] = include_bytes!("../../assets/firenze.pmtiles");

/// Why a source could not deliver a tile (all of these are the upstream's fault: HTTP 502).
#[derive(Debug, Clone, thiserror::Error)]
pub enum SourceError {
    /// The source could not be opened (bad path, not an archive, unreachable at start).
    #[error("cannot open source: {0}")]
    Open(String),
    /// The upstream did not answer within its timeout.
    #[error("upstream timed out after {0} ms")]
    Timeout(u128),
    /// The upstream answered with an error or the read failed.
    #[error("upstream failed: {0}")]
    Upstream(String),
    /// The upstream sent something that is not a vector tile.
    #[error("upstream sent something that is not a tile: {0}")]
    NotATile(String),
    /// Not the upstream's fault: this process holds too many upstream bodies already (503).
    #[error("overloaded: {0}")]
    Busy(String),
}

/// What the service needs to know about a source (TileJSON, bounds and zoom checks).
#[derive(Debug, Clone, serde::Serialize)]
pub struct SourceInfo {
    pub name: String,
    pub attribution: Option<String>,
    pub minzoom: u8,
    pub maxzoom: u8,
    /// West, south, east, north in degrees (WGS 84).
    pub bounds: [f64; 4],
    /// Longitude, latitude (degrees), zoom.
    pub center: Option<[f64; 3]>,
    /// The layer names the source's metadata lists (`vector_layers`), if it has any.
    pub vector_layers: Option<Vec<String>>,
}

impl SourceInfo {
    /// The whole world, zooms `minzoom..=maxzoom`.
    pub fn world(name: impl Into<String>, minzoom: u8, maxzoom: u8) -> SourceInfo {
        SourceInfo {
            name: name.into(),
            attribution: None,
            minzoom,
            maxzoom,
            bounds: WORLD,
            center: None,
            vector_layers: None,
        }
    }

    /// Whether `tile` overlaps the bounds (edges touching count as outside).
    pub fn intersects(&self, tile: TileId) -> bool {
        let [w, s, e, n] = tile_bounds(tile);
        let [bw, bs, be, bn] = self.bounds;
        w < be && e > bw && s < bn && n > bs
    }
}

/// The world in degrees, clipped to Web Mercator's latitude range.
pub const WORLD: [f64; 4] = [-180.0, -85.051_128_779_806_6, 180.0, 85.051_128_779_806_6];

/// A tile's west, south, east, north edges in degrees.
pub fn tile_bounds(t: TileId) -> [f64; 4] {
    let n = 2f64.powi(i32::from(t.z));
    let lon = |x: f64| x / n * 360.0 - 180.0;
    let lat = |y: f64| {
        (std::f64::consts::PI * (1.0 - 2.0 * y / n))
            .sinh()
            .atan()
            .to_degrees()
    };
    let (x, y) = (f64::from(t.x), f64::from(t.y));
    [lon(x), lat(y + 1.0), lon(x + 1.0), lat(y)]
}

/// The tile at zoom `z` holding a point (degrees).
#[cfg(test)]
pub fn tile_at(lon: f64, lat: f64, z: u8) -> TileId {
    let n = 2f64.powi(i32::from(z));
    let lat = lat.clamp(WORLD[1], WORLD[3]).to_radians();
    let x = ((lon + 180.0) / 360.0 * n).floor().clamp(0.0, n - 1.0);
    let y = ((1.0 - lat.tan().asinh() / std::f64::consts::PI) / 2.0 * n)
        .floor()
        .clamp(0.0, n - 1.0);
    TileId {
        z,
        x: x as u32,
        y: y as u32,
    }
}

/// Per-request context for a fetch.
#[derive(Debug, Clone, Default)]
pub struct FetchContext {
    /// The API key for this request's upstream fetch only (URL templates with `{api_key}`).
    pub api_key: Option<String>,
}

/// A source of vector tiles.
pub trait TileSource: Send + Sync {
    /// What the source covers.
    fn info(&self) -> &SourceInfo;
    /// A short stable identifier of this source (part of the cache key).
    fn id(&self) -> &str;
    /// Whether a request's `api_key` reaches the upstream (a URL template with `{api_key}`).
    /// Only then must requests with different keys fetch separately.
    fn uses_api_key(&self) -> bool {
        false
    }
    /// The tile's bytes as stored (raw or gzip MVT); `Ok(None)` when the source has no tile there.
    fn get<'a>(
        &'a self,
        tile: TileId,
        ctx: &'a FetchContext,
    ) -> BoxFuture<'a, Result<Option<Bytes>, SourceError>>;
    /// Whether the source holds a tile there, when it can tell without reading the tile (an
    /// archive's directory, an MBTiles index, a directory listing); `None` when it cannot (a
    /// URL template: only asking for the tile tells). `rasterzen seed` uses it to draw the
    /// tiles that are not there as one shared empty tile instead of fetching each.
    fn contains(&self, _tile: TileId) -> BoxFuture<'_, Result<Option<bool>, SourceError>> {
        Box::pin(async { Ok(None) })
    }
}

/// Options for network sources.
#[derive(Debug, Clone)]
pub struct NetOptions {
    /// Per-attempt timeout of one upstream request.
    pub timeout: Duration,
    /// Extra attempts after a 5xx or a connection failure (with exponential back-off).
    pub retries: u32,
    /// The API key from configuration, used when a request brings none.
    pub api_key: Option<String>,
    /// Zoom range for URL templates (they carry no metadata).
    pub minzoom: Option<u8>,
    pub maxzoom: Option<u8>,
}

impl Default for NetOptions {
    fn default() -> Self {
        NetOptions {
            timeout: Duration::from_secs(10),
            retries: 2,
            api_key: None,
            minzoom: None,
            maxzoom: None,
        }
    }
}

/// Opens a source from its spec (see the module docs); `None` opens the embedded archive.
pub async fn open(
    spec: Option<&str>,
    net: &NetOptions,
) -> Result<Box<dyn TileSource>, SourceError> {
    let Some(spec) = spec.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(Box::new(pmtiles::PmtilesSource::embedded().await?));
    };
    let lower = spec.to_ascii_lowercase();
    let is_url = lower.starts_with("http://") || lower.starts_with("https://");
    if is_url && spec.contains("{z}") {
        return Ok(Box::new(url::UrlTemplateSource::new(spec, net)?));
    }
    let path_part = lower.split(['?', '#']).next().unwrap_or("");
    if is_url || lower.starts_with("s3://") {
        if path_part.ends_with(".pmtiles") || lower.starts_with("s3://") {
            return Ok(Box::new(
                pmtiles::PmtilesSource::open_remote(spec, net).await?,
            ));
        }
        return Err(SourceError::Open(format!(
            "{spec}: a URL source is either a template with {{z}}, {{x}} and {{y}} or a .pmtiles archive"
        )));
    }
    let path = std::path::Path::new(spec);
    if path.is_dir() {
        return Ok(Box::new(dir::DirSource::open(path)?));
    }
    if !path.is_file() {
        return Err(SourceError::Open(format!(
            "{spec}: no such file or directory"
        )));
    }
    if path_part.ends_with(".mbtiles") {
        return Ok(Box::new(mbtiles::MbtilesSource::open(path)?));
    }
    if path_part.ends_with(".pmtiles") {
        return Ok(Box::new(pmtiles::PmtilesSource::open_file(path).await?));
    }
    // Sniff: SQLite files start with "SQLite format 3\0", PMTiles with "PMTiles".
    let mut head = [0u8; 16];
    let n = std::io::Read::read(
        &mut std::fs::File::open(path).map_err(|e| SourceError::Open(format!("{spec}: {e}")))?,
        &mut head,
    )
    .unwrap_or(0);
    if head[..n].starts_with(b"SQLite format 3") {
        return Ok(Box::new(mbtiles::MbtilesSource::open(path)?));
    }
    if head[..n].starts_with(b"PMTiles") {
        return Ok(Box::new(pmtiles::PmtilesSource::open_file(path).await?));
    }
    Err(SourceError::Open(format!(
        "{spec}: not a .pmtiles or .mbtiles archive, a directory or a URL template"
    )))
}

/// The layer names a source's metadata lists: TileJSON's `vector_layers` (PMTiles, a
/// directory's `metadata.json`), the same inside an MBTiles-style `json` string (archives
/// converted from MBTiles), or tippecanoe's `tilestats`.
pub(crate) fn vector_layers(meta: &serde_json::Value) -> Option<Vec<String>> {
    let list = |v: &serde_json::Value, key: &str| -> Option<Vec<String>> {
        let ids: Vec<String> = v
            .as_array()?
            .iter()
            .filter_map(|l| l.get(key)?.as_str().map(str::to_string))
            .collect();
        (!ids.is_empty()).then_some(ids)
    };
    if let Some(ids) = meta.get("vector_layers").and_then(|v| list(v, "id")) {
        return Some(ids);
    }
    if let Some(ids) = meta
        .get("json")
        .and_then(serde_json::Value::as_str)
        .and_then(|j| serde_json::from_str::<serde_json::Value>(j).ok())
        .and_then(|j| j.get("vector_layers").and_then(|v| list(v, "id")))
    {
        return Some(ids);
    }
    meta.get("tilestats")
        .and_then(|t| t.get("layers"))
        .and_then(|v| list(v, "layer"))
}

/// A short hex digest, for source identifiers.
/// What identifies a local archive's *content* cheaply, for its part of the cache key: its
/// length, modification time and first 16 KiB (a PMTiles header and root directory, which name
/// every tile's offset; an SQLite header with its change counter). Replacing the file in place
/// with other data changes it, so a restart never serves the old data's tiles from a cache; an
/// unreadable file gives its path alone (the open fails anyway).
pub(crate) fn file_fingerprint(path: &Path) -> Vec<u8> {
    use std::io::Read as _;
    let mut out = Vec::new();
    if let Ok(meta) = std::fs::metadata(path) {
        out.extend(meta.len().to_le_bytes());
        if let Ok(since) = meta
            .modified()
            .map(|m| m.duration_since(std::time::UNIX_EPOCH).unwrap_or_default())
        {
            out.extend(since.as_nanos().to_le_bytes());
        }
    }
    if let Ok(file) = std::fs::File::open(path) {
        let _ = file.take(16 * 1024).read_to_end(&mut out);
    }
    out
}

pub(crate) fn short_hash(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A file name made safe for a cache path component.
pub(crate) fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    let s = s.trim_matches(['.', '-']).to_string();
    if s.is_empty() {
        "source".into()
    } else {
        s
    }
}

/// Maximum size of one tile as stored (compressed), from any source.
pub const MAX_TILE_BYTES: usize = 32 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_of_tiles() {
        let b = tile_bounds(TileId { z: 0, x: 0, y: 0 });
        assert!((b[0] + 180.0).abs() < 1e-9 && (b[2] - 180.0).abs() < 1e-9);
        assert!((b[3] - WORLD[3]).abs() < 1e-9);
        let florence = SourceInfo {
            bounds: [11.15, 43.72, 11.34, 43.83],
            ..SourceInfo::world("f", 0, 14)
        };
        let t = tile_at(11.25, 43.77, 14);
        assert_eq!((t.x, t.y), (8704, 5972));
        assert!(florence.intersects(t));
        assert!(!florence.intersects(TileId { z: 14, x: 0, y: 0 }));
        assert!(florence.intersects(TileId { z: 0, x: 0, y: 0 }));
    }
}
