//! Rendered-tile caches: one trait, one module per tier, stacked in [`Tiered`] (fastest first).
//!
//! | spec | tier |
//! |---|---|
//! | `none` | no caching |
//! | `memory` (or `memory:MB`) | [`memory`]: in-process LRU bounded by bytes |
//! | `fs:DIR` | [`fs`]: one file per tile, written atomically (temp file + rename) |
//! | `s3://BUCKET/PREFIX` | [`s3`]: one object per tile, with `Content-Type`, `Cache-Control`, optional ACL |
//!
//! Tiers are joined with commas: `memory,fs:/var/cache/rasterzen,s3://bucket/tiles`. A hit in a
//! lower tier is copied into the tiers above it. A cache fault never fails a request: it is
//! logged as a warning and the tile is rendered (and served) anyway.

pub mod fs;
pub mod memory;
pub mod s3;

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use rasterzen_render::encode::Encoding;
use rasterzen_render::{Format, TileId};

use crate::source::BoxFuture;

/// Why a cache operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("bad cache spec {0:?}: {1}")]
    Spec(String, String),
    #[error("{0}")]
    Io(String),
    #[error("{0}")]
    S3(String),
}

/// Everything that decides a rendered tile's bytes. Its [`path`](CacheKey::path) is the key in
/// every tier: `SOURCE/RENDERER/STYLE/FORMAT-SIZE@SCALEx/Z/X/Y.EXT`, so a prefix selects a
/// source, a renderer build (`VERSION-` selects every build of a version), a style, … for
/// `rasterzen cache purge`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    /// The source's id (name and a hash of its location).
    pub source: String,
    /// The renderer's build: `VERSION-SHA8` ([`crate::engine::Renderer::build_id`]).
    pub renderer: String,
    /// The style's hash (16 hex chars), `-` for GeoJSON (which has no style).
    pub style: String,
    pub format: Format,
    /// The image format the renderer's PNG was made into (`/webp`, `/jpg`); `None` for the
    /// renderer's own output.
    pub encoding: Option<Encoding>,
    /// PNG compression; part of the key unless it is the default (other bytes, same pixels).
    pub png: rasterzen_render::PngProfile,
    pub size: u32,
    pub scale: u32,
    pub tile: TileId,
}

impl CacheKey {
    pub fn path(&self) -> String {
        use rasterzen_render::PngProfile;
        let variant = match (self.encoding, self.format, self.png) {
            // A WebP or JPEG has the PNG's pixels whatever its compression, except png8's
            // palette; the JPEG quality is in the key so that a new default is a new key.
            (Some(e @ (Encoding::Webp | Encoding::Jpeg)), _, p) => {
                let mut v = match e {
                    Encoding::Jpeg => format!("jpg.q{}", rasterzen_render::encode::JPEG_QUALITY),
                    _ => e.name().to_string(),
                };
                if p == PngProfile::Png8 {
                    v.push_str(".png8");
                }
                v
            }
            (_, Format::Png, p) if p != PngProfile::Default => format!("png.{}", p.name()),
            (_, f, _) => extension(f).to_string(),
        };
        let ext = match self.encoding {
            Some(e) => e.extension(),
            None => extension(self.format),
        };
        format!(
            "{}/{}/{}/{}-{}@{}x/{}/{}/{}.{}",
            component(&self.source),
            component(&self.renderer),
            component(&self.style),
            variant,
            self.size,
            self.scale,
            self.tile.z,
            self.tile.x,
            self.tile.y,
            ext
        )
    }
}

/// A path component safe on every tier (no separators, no `..`).
fn component(s: &str) -> String {
    crate::tilepath::key_component(s)
}

pub fn extension(f: Format) -> &'static str {
    match f {
        Format::Png => "png",
        Format::Svg => "svg",
        Format::Geojson => "geojson",
    }
}

pub fn content_type(f: Format) -> &'static str {
    match f {
        Format::Png => "image/png",
        Format::Svg => "image/svg+xml",
        Format::Geojson => "application/geo+json",
    }
}

/// The content type of a key, from its extension.
pub fn content_type_of(key: &str) -> &'static str {
    match key.rsplit('.').next() {
        Some("png") => "image/png",
        Some("webp") => "image/webp",
        Some("jpg") => "image/jpeg",
        Some("svg") => "image/svg+xml",
        Some("geojson") => "application/geo+json",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// One cache tier.
pub trait TileCache: Send + Sync {
    /// `memory`, `fs` or `s3`, for logs.
    fn name(&self) -> &str;
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Bytes>, CacheError>>;
    fn put<'a>(&'a self, key: &'a str, body: Bytes) -> BoxFuture<'a, Result<(), CacheError>>;
    /// Removes every entry whose key starts with `prefix`; returns how many.
    fn purge<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<u64, CacheError>>;
    /// Whether the tier outlives the process (`fs`, `s3`; not `memory`). `rasterzen seed`
    /// writes to and checks only these.
    fn persistent(&self) -> bool {
        true
    }
    /// Whether the key is stored, without reading the body where the tier can tell cheaply
    /// (a `stat`, an S3 `HEAD`). Unlike `get`, a fault is an error here, never a miss.
    fn contains<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool, CacheError>> {
        Box::pin(async move { Ok(self.get(key).await?.is_some()) })
    }
    /// Stores the body and says whether it really is stored: unlike `put`, never skipped
    /// quietly (the S3 tier's circuit breaker does not apply). Used by `rasterzen seed`.
    fn store<'a>(&'a self, key: &'a str, body: Bytes) -> BoxFuture<'a, Result<(), CacheError>> {
        self.put(key, body)
    }
}

/// Options shared by the tiers.
#[derive(Debug, Clone)]
pub struct CacheOptions {
    /// Bound of the memory tier when its spec gives none.
    pub memory_bytes: usize,
    /// `Cache-Control` stored on S3 objects.
    pub cache_control: String,
    /// Bound of each `fs` tier in bytes (0: none); the oldest tiles are evicted beyond it.
    pub fs_max_bytes: u64,
    /// Canned ACL for S3 objects (`public-read`, …).
    pub acl: Option<String>,
}

/// The cache tiers, fastest first.
#[derive(Clone, Default)]
pub struct Tiered {
    tiers: Vec<Arc<dyn TileCache>>,
}

impl Tiered {
    /// Builds the tiers a spec names (see the module docs).
    pub async fn open(spec: &str, opts: &CacheOptions) -> Result<Tiered, CacheError> {
        let mut tiers: Vec<Arc<dyn TileCache>> = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if part == "none" {
                continue;
            } else if part == "memory" {
                tiers.push(Arc::new(memory::MemoryCache::new(opts.memory_bytes)));
            } else if let Some(mb) = part.strip_prefix("memory:") {
                let mb: usize = mb.parse().map_err(|_| {
                    CacheError::Spec(part.into(), "memory:MB takes a size in MiB".into())
                })?;
                tiers.push(Arc::new(memory::MemoryCache::new(mb << 20)));
            } else if let Some(dir) = part.strip_prefix("fs:") {
                if dir.is_empty() {
                    return Err(CacheError::Spec(
                        part.into(),
                        "fs:DIR needs a directory".into(),
                    ));
                }
                tiers.push(Arc::new(fs::FsCache::new(
                    PathBuf::from(dir),
                    opts.fs_max_bytes,
                )));
            } else if part.starts_with("s3://") {
                let (bucket, prefix) = crate::aws::parse_s3_url(part).ok_or_else(|| {
                    CacheError::Spec(part.into(), "expected s3://BUCKET/PREFIX".into())
                })?;
                let client = s3::tile_client(&crate::aws::s3_client().await);
                tiers.push(Arc::new(s3::S3Cache::new(
                    client,
                    bucket,
                    prefix,
                    opts.cache_control.clone(),
                    opts.acl.clone(),
                )));
            } else {
                return Err(CacheError::Spec(
                    part.into(),
                    "use none, memory, memory:MB, fs:DIR or s3://BUCKET/PREFIX (tiers joined with commas)".into(),
                ));
            }
        }
        Ok(Tiered { tiers })
    }

    pub fn is_empty(&self) -> bool {
        self.tiers.is_empty()
    }

    /// The tiers' names, for logs: `memory,fs`.
    pub fn describe(&self) -> String {
        if self.tiers.is_empty() {
            return "none".into();
        }
        self.tiers
            .iter()
            .map(|t| t.name())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Looks the key up tier by tier; a hit is copied into the faster tiers above it. Faults
    /// are logged and count as misses.
    pub async fn get(&self, key: &str) -> Option<(Bytes, &str)> {
        for (i, tier) in self.tiers.iter().enumerate() {
            match tier.get(key).await {
                Ok(Some(body)) => {
                    for upper in &self.tiers[..i] {
                        if let Err(e) = upper.put(key, body.clone()).await {
                            tracing::warn!(tier = upper.name(), key, error = %e, "cache write failed (tile served anyway)");
                        }
                    }
                    return Some((body, tier.name()));
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(tier = tier.name(), key, error = %e, "cache read failed (treated as a miss)")
                }
            }
        }
        None
    }

    /// Stores the body in every tier. Faults are logged, never returned.
    pub async fn put(&self, key: &str, body: Bytes) {
        for tier in &self.tiers {
            if let Err(e) = tier.put(key, body.clone()).await {
                tracing::warn!(tier = tier.name(), key, error = %e, "cache write failed (tile served anyway)");
            }
        }
    }

    /// The tiers that outlive the process (`fs`, `s3`): what `rasterzen seed` fills.
    pub fn persistent(&self) -> Tiered {
        Tiered {
            tiers: self
                .tiers
                .iter()
                .filter(|t| t.persistent())
                .cloned()
                .collect(),
        }
    }

    /// Whether every tier holds the key (a fault is an error, not a miss).
    pub async fn contains_everywhere(&self, key: &str) -> Result<bool, CacheError> {
        for tier in &self.tiers {
            if !tier.contains(key).await? {
                return Ok(false);
            }
        }
        Ok(!self.tiers.is_empty())
    }

    /// Stores the body in every tier; the first fault is returned (not just logged).
    pub async fn store_everywhere(&self, key: &str, body: &Bytes) -> Result<(), CacheError> {
        for tier in &self.tiers {
            tier.store(key, body.clone()).await?;
        }
        Ok(())
    }

    /// Removes what `prefix` selects from every tier.
    pub async fn purge(&self, prefix: &str) -> Result<u64, CacheError> {
        let mut n = 0;
        for tier in &self.tiers {
            n += tier.purge(prefix).await?;
        }
        Ok(n)
    }
}

/// The default filesystem cache directory: `$XDG_CACHE_HOME/rasterzen/tiles`,
/// `~/.cache/rasterzen/tiles`, or the temp dir on Lambda.
pub fn default_fs_dir() -> PathBuf {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        return std::env::temp_dir().join("rasterzen-tiles");
    }
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(x).join("rasterzen/tiles");
    }
    match std::env::var_os("HOME") {
        Some(h) => PathBuf::from(h).join(".cache/rasterzen/tiles"),
        None => std::env::temp_dir().join("rasterzen-tiles"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_layout() {
        let k = CacheKey {
            source: "firenze-abc".into(),
            renderer: "0.1.0+x/..".into(),
            style: "0123456789abcdef".into(),
            format: Format::Png,
            encoding: None,
            png: rasterzen_render::PngProfile::Default,
            size: 512,
            scale: 2,
            tile: TileId {
                z: 14,
                x: 8704,
                y: 5972,
            },
        };
        assert_eq!(
            k.path(),
            "firenze-abc/0.1.0+x_../0123456789abcdef/png-512@2x/14/8704/5972.png"
        );
        let small = CacheKey {
            png: rasterzen_render::PngProfile::Small,
            ..k.clone()
        };
        assert_eq!(
            small.path(),
            "firenze-abc/0.1.0+x_../0123456789abcdef/png.small-512@2x/14/8704/5972.png"
        );
        let webp = CacheKey {
            encoding: Some(Encoding::Webp),
            ..small.clone()
        };
        assert_eq!(
            webp.path(),
            "firenze-abc/0.1.0+x_../0123456789abcdef/webp-512@2x/14/8704/5972.webp"
        );
        let jpg = CacheKey {
            encoding: Some(Encoding::Jpeg),
            png: rasterzen_render::PngProfile::Png8,
            ..k.clone()
        };
        assert_eq!(
            jpg.path(),
            "firenze-abc/0.1.0+x_../0123456789abcdef/jpg.q85.png8-512@2x/14/8704/5972.jpg"
        );
        assert_eq!(content_type_of(&jpg.path()), "image/jpeg");
        assert_eq!(content_type_of(&webp.path()), "image/webp");
        assert_eq!(component(".."), "_");
    }
}
