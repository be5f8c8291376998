//! Styles and what they name — sprites now, fonts and glyphs later — from a path, an
//! `http(s)://` URL or `s3://`, fetched by the host once per process and handed to the
//! renderer (which can reach nothing itself).
//!
//! A style's relative URLs (`"sprite": "./sprite"`) resolve against the style's own location,
//! as a browser resolves them against the style URL. Sprite sheets follow MapLibre's naming:
//! `URL.json` + `URL.png`, and `URL@2x.json` + `URL@2x.png` for pixel ratio 2 (a query string
//! stays at the end: `…/sprite@2x.png?key=…`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;

use crate::engine::{Assets, SpriteSheetBytes};

/// The largest style or sprite file fetched (a sprite sheet of 4096² px is ~16 MiB at worst).
const MAX_ASSET_BYTES: usize = 32 << 20;

/// Where a style (and so its relative URLs) lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Location {
    File(PathBuf),
    Url(String),
    S3 { bucket: String, key: String },
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::File(p) => write!(f, "{}", p.display()),
            // Never print a query string: it may hold a key.
            Location::Url(u) => write!(f, "{}", u.split('?').next().unwrap_or(u)),
            Location::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
        }
    }
}

/// Why an asset could not be had.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AssetError {
    #[error("{0}: not found")]
    NotFound(String),
    #[error("{0}: {1}")]
    Failed(String, String),
    #[error("{0}: unsupported URL scheme (use a path, http(s):// or s3://)")]
    Unsupported(String),
}

impl Location {
    /// Parses a style location as given on the command line or in a config file.
    pub fn parse(spec: &str) -> Location {
        if spec.starts_with("http://") || spec.starts_with("https://") {
            Location::Url(spec.to_string())
        } else if let Some((bucket, key)) = spec
            .strip_prefix("s3://")
            .and_then(|r| r.split_once('/'))
            .filter(|(b, k)| !b.is_empty() && !k.is_empty())
        {
            Location::S3 {
                bucket: bucket.to_string(),
                key: key.to_string(),
            }
        } else {
            Location::File(PathBuf::from(spec))
        }
    }

    /// `url` (as written in a style) resolved against this location.
    pub fn join(&self, url: &str) -> Result<Location, AssetError> {
        if url.starts_with("http://") || url.starts_with("https://") || url.starts_with("s3://") {
            return Ok(Location::parse(url));
        }
        if url.contains("://") {
            return Err(AssetError::Unsupported(url.to_string()));
        }
        Ok(match self {
            Location::File(p) => {
                let base = p.parent().unwrap_or(Path::new("."));
                Location::File(if Path::new(url).is_absolute() {
                    PathBuf::from(url)
                } else {
                    base.join(url)
                })
            }
            Location::Url(u) => Location::Url(join_url(u, url)),
            Location::S3 { bucket, key } => {
                let dir = key.rsplit_once('/').map_or("", |(d, _)| d);
                Location::S3 {
                    bucket: bucket.clone(),
                    key: normalize_path(&format!("{dir}/{url}")),
                }
            }
        })
    }

    /// This location with `suffix` inserted before any query string (`sprite` → `sprite@2x.png`).
    pub fn with_suffix(&self, suffix: &str) -> Location {
        match self {
            Location::File(p) => {
                let mut s = p.as_os_str().to_owned();
                s.push(suffix);
                Location::File(PathBuf::from(s))
            }
            Location::Url(u) => match u.split_once('?') {
                Some((base, query)) => Location::Url(format!("{base}{suffix}?{query}")),
                None => Location::Url(format!("{u}{suffix}")),
            },
            Location::S3 { bucket, key } => Location::S3 {
                bucket: bucket.clone(),
                key: format!("{key}{suffix}"),
            },
        }
    }
}

/// RFC 3986 reference resolution for the relative references styles use.
fn join_url(base: &str, rel: &str) -> String {
    let base = base.split(['?', '#']).next().unwrap_or(base);
    let (scheme_host, path) = match base.find("://").map(|i| i + 3) {
        Some(i) => match base[i..].find('/') {
            Some(j) => (&base[..i + j], &base[i + j..]),
            None => (base, "/"),
        },
        None => ("", base),
    };
    if let Some(abs) = rel.strip_prefix('/') {
        return format!("{scheme_host}/{}", normalize_path(abs));
    }
    let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
    format!("{scheme_host}/{}", normalize_path(&format!("{dir}/{rel}")))
}

/// Removes `.` and `..` segments (never above the root).
fn normalize_path(p: &str) -> String {
    let (path, query) = match p.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (p, None),
    };
    let mut out: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let mut s = out.join("/");
    if let Some(q) = query {
        s.push('?');
        s.push_str(q);
    }
    s
}

/// Fetches assets once per process; later requests for the same location share the bytes.
pub struct AssetLoader {
    http: reqwest::Client,
    cache: Mutex<HashMap<Location, Result<Bytes, AssetError>>>,
}

impl AssetLoader {
    pub fn new() -> AssetLoader {
        AssetLoader {
            http: reqwest::Client::builder()
                .user_agent(concat!("rasterzen/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(Duration::from_secs(5))
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap_or_default(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The process-wide loader.
    pub fn shared() -> Arc<AssetLoader> {
        static LOADER: std::sync::OnceLock<Arc<AssetLoader>> = std::sync::OnceLock::new();
        Arc::clone(LOADER.get_or_init(|| Arc::new(AssetLoader::new())))
    }

    /// The bytes at `loc` (cached, errors included, for the life of the process).
    pub async fn get(&self, loc: &Location) -> Result<Bytes, AssetError> {
        if let Some(r) = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(loc)
        {
            return r.clone();
        }
        let r = self.fetch(loc).await;
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(loc.clone(), r.clone());
        r
    }

    async fn fetch(&self, loc: &Location) -> Result<Bytes, AssetError> {
        let name = loc.to_string();
        match loc {
            Location::File(p) => {
                let meta = tokio::fs::metadata(p).await.map_err(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => AssetError::NotFound(name.clone()),
                    _ => AssetError::Failed(name.clone(), e.to_string()),
                })?;
                if !meta.is_file() {
                    return Err(AssetError::Failed(name, "not a regular file".into()));
                }
                if meta.len() > MAX_ASSET_BYTES as u64 {
                    return Err(AssetError::Failed(
                        name,
                        format!("larger than {MAX_ASSET_BYTES} bytes"),
                    ));
                }
                tokio::fs::read(p)
                    .await
                    .map(Bytes::from)
                    .map_err(|e| AssetError::Failed(name, e.to_string()))
            }
            Location::Url(u) => {
                let res =
                    self.http.get(u).send().await.map_err(|e| {
                        AssetError::Failed(name.clone(), e.without_url().to_string())
                    })?;
                let status = res.status();
                if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::GONE {
                    return Err(AssetError::NotFound(name));
                }
                if !status.is_success() {
                    return Err(AssetError::Failed(
                        name,
                        format!("HTTP {}", status.as_u16()),
                    ));
                }
                if res
                    .content_length()
                    .is_some_and(|n| n > MAX_ASSET_BYTES as u64)
                {
                    return Err(AssetError::Failed(
                        name,
                        format!("larger than {MAX_ASSET_BYTES} bytes"),
                    ));
                }
                let body = res
                    .bytes()
                    .await
                    .map_err(|e| AssetError::Failed(name.clone(), e.without_url().to_string()))?;
                if body.len() > MAX_ASSET_BYTES {
                    return Err(AssetError::Failed(
                        name,
                        format!("larger than {MAX_ASSET_BYTES} bytes"),
                    ));
                }
                Ok(body)
            }
            Location::S3 { bucket, key } => {
                let s3 = crate::aws::s3_client().await;
                let out = s3
                    .get_object()
                    .bucket(bucket)
                    .key(key)
                    .send()
                    .await
                    .map_err(|e| {
                        if e.as_service_error().is_some_and(|s| s.is_no_such_key()) {
                            AssetError::NotFound(name.clone())
                        } else {
                            AssetError::Failed(name.clone(), crate::aws::error_text(&e))
                        }
                    })?;
                if out
                    .content_length()
                    .is_some_and(|n| n > MAX_ASSET_BYTES as i64)
                {
                    return Err(AssetError::Failed(
                        name,
                        format!("larger than {MAX_ASSET_BYTES} bytes"),
                    ));
                }
                out.body
                    .collect()
                    .await
                    .map(|b| b.into_bytes())
                    .map_err(|e| AssetError::Failed(name, e.to_string()))
            }
        }
    }

    /// The sprite sheets a style names (`(id, url)` as the renderer reports them), resolved
    /// against the style's location. A sheet that cannot be had is left out with a warning;
    /// the renderer then warns about each image it misses.
    pub async fn sprites(
        &self,
        style_at: Option<&Location>,
        sprites: &[(String, String)],
        warnings: &mut Vec<String>,
    ) -> Assets {
        let mut assets = Assets::default();
        for (id, url) in sprites {
            let base = match style_at {
                Some(at) => at.join(url),
                None => Ok(Location::parse(url)),
            };
            let base = match base {
                Ok(b) => b,
                Err(e) => {
                    warnings.push(format!("sprite {id:?}: {e}; its images are not drawn"));
                    continue;
                }
            };
            for (ratio, suffix) in [(1u32, ""), (2, "@2x")] {
                let json = self.get(&base.with_suffix(&format!("{suffix}.json"))).await;
                let png = self.get(&base.with_suffix(&format!("{suffix}.png"))).await;
                match (json, png) {
                    (Ok(json), Ok(png)) => assets.sprites.push(SpriteSheetBytes {
                        id: id.clone(),
                        pixel_ratio: ratio,
                        json,
                        png,
                    }),
                    (Err(e), _) | (_, Err(e)) => {
                        // The @2x pair is optional (the 1x sheet is upscaled); the 1x is not.
                        if ratio == 1 || !matches!(e, AssetError::NotFound(_)) {
                            warnings.push(format!(
                                "sprite {id:?} ({}): {e}",
                                if ratio == 1 { "1x" } else { "@2x" }
                            ));
                        }
                    }
                }
            }
        }
        assets
    }
}

impl Default for AssetLoader {
    fn default() -> Self {
        AssetLoader::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_urls_resolve_like_a_browser() {
        let style = Location::parse("https://example.org/styles/bright/style.json?key=k");
        assert_eq!(
            style.join("./sprite").unwrap(),
            Location::Url("https://example.org/styles/bright/sprite".into())
        );
        assert_eq!(
            style.join("../sprites/x").unwrap(),
            Location::Url("https://example.org/styles/sprites/x".into())
        );
        assert_eq!(
            style.join("/s/y").unwrap(),
            Location::Url("https://example.org/s/y".into())
        );
        let file = Location::parse("/data/styles/style.json");
        assert_eq!(
            file.join("sprite").unwrap(),
            Location::File("/data/styles/sprite".into())
        );
        let s3 = Location::parse("s3://b/styles/a/style.json");
        assert_eq!(
            s3.join("../sprite").unwrap(),
            Location::S3 {
                bucket: "b".into(),
                key: "styles/sprite".into()
            }
        );
        assert!(matches!(
            style.join("mapbox://sprites/x"),
            Err(AssetError::Unsupported(_))
        ));
    }

    #[test]
    fn sprite_suffixes_go_before_the_query() {
        let u = Location::Url("https://e.org/sprite?key=abc".into());
        assert_eq!(
            u.with_suffix("@2x.png"),
            Location::Url("https://e.org/sprite@2x.png?key=abc".into())
        );
        assert_eq!(
            u.to_string(),
            "https://e.org/sprite",
            "no query (keys) in messages"
        );
    }
}
