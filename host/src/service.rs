//! The tile pipeline, shared by `serve` and (later) Lambda:
//!
//! ```text
//! request → checks (coordinates, zoom range, bounds, overzoom limit, renderer pin, style)
//!         → cache key (source, renderer build, style hash, format, size, scale, z/x/y)
//!         → cache tiers → on a miss, single flight (one render per key at a time)
//!         → source (the ancestor at maxzoom when overzooming) → bounded render pool
//!         → cache put (a fault is logged, never returned) → response
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use bytes::Bytes;
use rasterzen_render::encode::Encoding;
use rasterzen_render::{Format, RenderError, TileId};
use sha2::{Digest, Sha256};
use tokio::sync::{OnceCell, Semaphore};

use crate::cache::{CacheKey, Tiered};
use crate::engine::{Assets, EngineError, NeighbourTile, RenderRequest, Renderer, StyleSpec};
use crate::source::memo::{MemoKey, SourceTiles};
use crate::source::{FetchContext, SourceError, TileSource};

/// What a tile request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Png,
    /// The PNG's pixels as lossless WebP.
    Webp,
    /// The PNG's pixels as JPEG (alpha flattened over white).
    Jpg,
    Svg,
    Geojson,
    /// The source tile itself, inflated.
    Mvt,
}

impl Kind {
    pub fn format(self) -> Option<Format> {
        match self {
            Kind::Png | Kind::Webp | Kind::Jpg => Some(Format::Png),
            Kind::Svg => Some(Format::Svg),
            Kind::Geojson => Some(Format::Geojson),
            Kind::Mvt => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Png => "png",
            Kind::Webp => "webp",
            Kind::Jpg => "jpg",
            Kind::Svg => "svg",
            Kind::Geojson => "geojson",
            Kind::Mvt => "mvt",
        }
    }

    /// The image format a WebP or JPEG tile is made into from the renderer's PNG.
    pub fn encoding(self) -> Option<Encoding> {
        match self {
            Kind::Webp => Some(Encoding::Webp),
            Kind::Jpg => Some(Encoding::Jpeg),
            _ => None,
        }
    }

    /// Whether the kind is a raster image (PNG, WebP, JPEG), which `@2x` and `--outside` apply to.
    pub fn is_image(self) -> bool {
        matches!(self, Kind::Png | Kind::Webp | Kind::Jpg)
    }
}

/// What a tile outside the source's bounds answers (`serve --outside`). Only the bounds: below
/// minzoom or above the overzoom limit is always 404.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Outside {
    /// 404 with a reason (the default; map clients show nothing there).
    #[default]
    NotFound,
    /// The tile drawn with no data: the style's background, transparent without one. What
    /// GDAL and other GIS clients need for windows crossing the data's edge.
    Empty,
    /// 204 No Content (GDAL's default `ZeroBlockHttpCodes`: an empty block).
    NoContent,
}

/// A parsed tile request.
#[derive(Debug, Clone)]
pub struct TileRequest {
    pub kind: Kind,
    pub z: u8,
    pub x: u32,
    pub y: u32,
    /// Device pixel ratio (1, or 2 for `@2x`).
    pub scale: u32,
    /// `?style=NAME`.
    pub style: Option<String>,
    /// `?renderer=VERSION`.
    pub renderer: Option<String>,
    /// `?api_key=`: for this request's upstream fetch only.
    pub api_key: Option<String>,
}

/// How the cache answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    /// Served from a cache tier.
    Hit,
    /// This request rendered the tile.
    Miss,
    /// Another request was rendering this tile; this one waited for it.
    Coalesced,
    /// Not cached (`/mvt`).
    Bypass,
}

impl CacheStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheStatus::Hit => "hit",
            CacheStatus::Miss => "miss",
            CacheStatus::Coalesced => "coalesced",
            CacheStatus::Bypass => "bypass",
        }
    }
}

/// A tile ready to send.
#[derive(Debug, Clone)]
pub struct TileResponse {
    pub body: Bytes,
    pub content_type: &'static str,
    /// The strong ETag, quoted: `"<sha256 of the body>"`; empty for a 204 (`/mvt` of a missing tile).
    pub etag: String,
    /// The renderer that drew it (`None` for `/mvt`).
    pub renderer: Option<String>,
    pub cache: CacheStatus,
    /// Which cache tier answered a hit.
    pub tier: Option<String>,
    /// The tile whose data was used when overzooming.
    pub data_tile: Option<TileId>,
    pub upstream_ms: Option<f64>,
    pub render_ms: Option<f64>,
    /// Drawn without some of its neighbours (their fetch failed): labels at that seam may not
    /// match the neighbour's. Such a tile is not cached and goes out with a short lifetime.
    pub partial: bool,
}

/// Why a tile request failed; each maps onto one HTTP status.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TileError {
    /// 400: malformed path, coordinates or parameters.
    #[error("{0}")]
    BadRequest(String),
    /// 404: outside the source's bounds, zoom range or overzoom limit; unknown renderer version.
    #[error("{0}")]
    NotFound(String),
    /// 502: the upstream source failed or sent something that is not a tile.
    #[error("{0}")]
    Upstream(String),
    /// 503: the render pool and its queue are full.
    #[error("overloaded: too many tiles rendering, try again shortly")]
    Overloaded,
    /// 500: the renderer failed (trap, limit hit) or another internal fault.
    #[error("{0}")]
    Render(String),
}

impl TileError {
    pub fn status(&self) -> u16 {
        match self {
            TileError::BadRequest(_) => 400,
            TileError::NotFound(_) => 404,
            TileError::Upstream(_) => 502,
            TileError::Overloaded => 503,
            TileError::Render(_) => 500,
        }
    }
}

impl From<SourceError> for TileError {
    fn from(e: SourceError) -> Self {
        match e {
            SourceError::Busy(m) => {
                tracing::warn!(reason = %m, "fetch refused: upstream body budget spent");
                TileError::Overloaded
            }
            e => TileError::Upstream(e.to_string()),
        }
    }
}

/// Service settings.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Tile edge in CSS pixels (256 or 512).
    pub tile_size: u32,
    /// `Cache-Control` of tiles.
    pub cache_control: String,
    /// How many zoom levels above the source's maxzoom are drawn by overzooming.
    pub overzoom: u8,
    /// Renders running at once.
    pub render_workers: usize,
    /// Renders waiting for a worker before requests are refused with 503.
    pub render_queue: usize,
    /// How PNG tiles are compressed.
    pub png: rasterzen_render::PngProfile,
    /// `Cache-Control` of a tile drawn without some of its neighbours (see
    /// [`TileResponse::partial`]): short, so that clients and CDNs ask again soon.
    pub partial_cache_control: String,
    /// Bytes of source tiles kept in memory ([`SourceTiles`]): a labelled tile reads its eight
    /// neighbours too, so each source tile is wanted by up to nine renders.
    pub source_memory: usize,
    /// Draw labelled tiles with their neighbours (`--label-neighbours on`, the default). Off, each
    /// tile reads one source tile instead of up to nine, and labels crossing an edge may be cut.
    pub neighbours: bool,
    /// What tiles outside the source's bounds answer.
    pub outside: Outside,
    /// The image format TileJSON and WMTS advertise when the request names none (`--format`).
    pub format: Encoding,
}

/// The default [`ServiceConfig::partial_cache_control`].
pub const PARTIAL_CACHE_CONTROL: &str = "public, max-age=60";

/// Counters for `/metrics` (and the tests' single-flight proof).
#[derive(Debug, Default)]
pub struct Metrics {
    pub requests: AtomicU64,
    pub cache_hits: AtomicU64,
    pub cache_misses: AtomicU64,
    pub coalesced: AtomicU64,
    pub renders: AtomicU64,
    pub render_failures: AtomicU64,
    pub upstream_fetches: AtomicU64,
    pub upstream_failures: AtomicU64,
    pub overloaded: AtomicU64,
    /// Source reads answered from [`SourceTiles`].
    pub source_memo_hits: AtomicU64,
    /// Tiles drawn without a neighbour whose fetch failed (not cached).
    pub partial_tiles: AtomicU64,
}

/// The styles a service knows: its default and named ones (`--style`, `--named-style`), and
/// the assets (sprites) fetched for each, by name.
#[derive(Debug, Clone, Default)]
pub struct Styles {
    pub default: StyleSpec,
    pub named: HashMap<String, StyleSpec>,
    pub assets: HashMap<String, Arc<Assets>>,
}

impl Default for StyleSpec {
    fn default() -> Self {
        StyleSpec::Builtin("default".into())
    }
}

type Flight = Arc<OnceCell<Result<Rendered, TileError>>>;

/// The outcome of one render, shared by everyone who waited for it.
#[derive(Debug, Clone)]
struct Rendered {
    body: Bytes,
    etag: String,
    upstream_ms: Option<f64>,
    render_ms: Option<f64>,
    tier: Option<String>,
    partial: bool,
}

impl Rendered {
    /// A tile a cache tier answered with.
    fn cached(body: Bytes, tier: &str) -> Rendered {
        Rendered {
            etag: etag_of(&body),
            body,
            upstream_ms: None,
            render_ms: None,
            tier: Some(tier.to_string()),
            partial: false,
        }
    }
}

/// The tile service: source, caches, renderer, pool.
pub struct Service {
    pub source: Arc<dyn TileSource>,
    pub cache: Tiered,
    renderer: ArcSwap<Arc<dyn Renderer>>,
    /// The renderer registry, when the service runs with `--renderers`.
    registry: std::sync::OnceLock<Arc<crate::engine::registry::Registry>>,
    pub styles: Styles,
    pub config: ServiceConfig,
    pub metrics: Metrics,
    style_hashes: Mutex<HashMap<(String, String), String>>,
    /// Whether a style draws labels (symbol layers), per (renderer version, style name): only
    /// then are a tile's neighbours fetched.
    labelled: Mutex<HashMap<(String, String), bool>>,
    /// Recently read source tiles (a tile and its neighbours are read by up to nine renders).
    source_tiles: SourceTiles,
    /// Source tiles being read now, each behind a gate the others wait at (see `source_tile`).
    reading: Mutex<HashMap<MemoKey, Arc<tokio::sync::Mutex<()>>>>,
    flights: Mutex<HashMap<String, Flight>>,
    permits: Arc<Semaphore>,
    /// Requests holding a [`Ticket`]: fetching upstream, waiting for a worker or rendering.
    admitted: AtomicUsize,
    /// Render warnings already logged (each is logged once per process).
    warned: Mutex<std::collections::HashSet<String>>,
}

/// A place in the render pipeline, taken *before* the upstream fetch so that an overloaded
/// service answers 503 without spending the upstream's quota. Released on drop.
pub struct Ticket<'a> {
    admitted: &'a AtomicUsize,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.admitted.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A gzipped source tile inflated once, natively, when it is first read: a tile and its
/// neighbours are read by up to nine renders (and a seed run's), each of which would otherwise
/// inflate it again inside the sandbox, where inflating is slower. The renderer takes raw and
/// gzipped tiles alike and draws the same picture from both. Data that does not inflate within
/// the renderer's own cap (64 MiB) goes on as it came, for the renderer to refuse with its own
/// message. On the blocking pool: a gzip bomb is 64 MiB of work, not for the async threads.
async fn inflated_for_render(data: Bytes) -> Bytes {
    let keep = data.clone();
    tokio::task::spawn_blocking(move || match crate::mvt::inflate(&data, 64 << 20) {
        Ok(raw) => Bytes::from(raw),
        Err(_) => data,
    })
    .await
    .unwrap_or(keep)
}

/// The strong ETag of a body.
pub fn etag_of(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let mut s = String::with_capacity(66);
    s.push('"');
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s.push('"');
    s
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e5).round() / 100.0
}

impl Service {
    pub fn new(
        source: Arc<dyn TileSource>,
        cache: Tiered,
        renderer: Arc<dyn Renderer>,
        styles: Styles,
        config: ServiceConfig,
    ) -> Service {
        let workers = config.render_workers.max(1);
        let source_memory = config.source_memory;
        Service {
            source,
            cache,
            renderer: ArcSwap::from_pointee(renderer),
            registry: std::sync::OnceLock::new(),
            styles,
            config,
            metrics: Metrics::default(),
            style_hashes: Mutex::default(),
            labelled: Mutex::default(),
            source_tiles: SourceTiles::new(source_memory),
            reading: Mutex::default(),
            flights: Mutex::default(),
            permits: Arc::new(Semaphore::new(workers)),
            admitted: AtomicUsize::new(0),
            warned: Mutex::default(),
        }
    }

    /// Shares one render pool among services: the maps of a config file (one service each)
    /// render with the process's `render_workers`, not that many each.
    pub fn with_pool(mut self, permits: Arc<Semaphore>) -> Service {
        self.permits = permits;
        self
    }

    /// A registry version other than the active one, for `?renderer=VERSION` (loaded once).
    async fn pinned_renderer(
        &self,
        pin: &str,
        active: &str,
    ) -> Result<Arc<dyn Renderer>, TileError> {
        let unavailable = || {
            TileError::NotFound(format!(
                "renderer version {pin:?} is not available (active: {active})"
            ))
        };
        use crate::engine::registry::{valid_version, RegistryError};
        if !valid_version(pin) {
            return Err(TileError::BadRequest(format!(
                "renderer={:?} is not a version name (letters, digits, . _ + -)",
                crate::logging::printable(pin, 80)
            )));
        }
        let registry = self.registry.get().ok_or_else(unavailable)?;
        match registry.load(pin).await {
            Ok(r) => Ok(r),
            Err(RegistryError::UnknownVersion(_)) => Err(unavailable()),
            Err(e) => {
                // The details (paths, manifest contents) are for the operator's log only.
                tracing::error!(version = pin, error = %e, "pinned renderer failed to load");
                Err(TileError::Render(format!(
                    "renderer version {pin:?} failed to load"
                )))
            }
        }
    }

    /// Attaches the renderer registry (for pins); set once at start.
    pub fn set_registry(&self, registry: Arc<crate::engine::registry::Registry>) {
        let _ = self.registry.set(registry);
    }

    /// The active renderer (read once per request).
    pub fn renderer(&self) -> Arc<dyn Renderer> {
        Arc::clone(&self.renderer.load())
    }

    /// Swaps the active renderer (issue 6: registry hot swap). Tiles rendered by the old one
    /// stay in the cache under its version and are no longer served.
    #[allow(dead_code)]
    pub fn set_renderer(&self, renderer: Arc<dyn Renderer>) {
        self.renderer.store(Arc::new(renderer));
    }

    /// The style a request names: the server's default, one of its named styles, or a built-in.
    pub fn style_spec(&self, name: Option<&str>) -> (String, StyleSpec) {
        match name.filter(|n| !n.is_empty()) {
            None => ("default".into(), self.styles.default.clone()),
            Some("default") => ("default".into(), self.styles.default.clone()),
            Some(n) => match self.styles.named.get(n) {
                Some(spec) => (n.to_string(), spec.clone()),
                None => (n.to_string(), StyleSpec::Builtin(n.to_string())),
            },
        }
    }

    /// The style's hash under `renderer`, computed once per (renderer version, style name).
    pub async fn style_hash(
        &self,
        renderer: &Arc<dyn Renderer>,
        name: &str,
        spec: &StyleSpec,
    ) -> Result<String, TileError> {
        let cache_key = (renderer.version().to_string(), name.to_string());
        if let Some(h) = self
            .style_hashes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&cache_key)
        {
            return Ok(h.clone());
        }
        let r = Arc::clone(renderer);
        let s = spec.clone();
        let hash = tokio::task::spawn_blocking(move || r.style_hash(&s))
            .await
            .map_err(|e| TileError::Render(format!("style task failed: {e}")))?;
        let hash = match hash {
            Ok(h) => h,
            Err(EngineError::Rejected(RenderError::InvalidStyle(m))) => {
                return Err(match spec {
                    StyleSpec::Builtin(_) if !self.styles.named.contains_key(name) => {
                        TileError::BadRequest(format!("unknown style {name:?}: {m}"))
                    }
                    _ => TileError::Render(format!("style {name:?} is invalid: {m}")),
                });
            }
            Err(e) => return Err(TileError::Render(format!("style {name:?}: {e}"))),
        };
        let mut map = self.style_hashes.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 1024 {
            map.clear();
        }
        map.insert(cache_key, hash.clone());
        Ok(hash)
    }

    /// Checks the tile against the source; returns the tile, the tile whose data draws it and
    /// whether it lies outside the source's bounds (only when `--outside` lets such tiles be
    /// answered; with the default they are `NotFound`).
    fn locate(&self, req: &TileRequest) -> Result<(TileId, TileId, bool), TileError> {
        let tile =
            TileId::new(req.z, req.x, req.y).map_err(|e| TileError::BadRequest(e.to_string()))?;
        let data_tile = self.data_tile_in_zooms(tile)?;
        let outside = !self.source.info().intersects(tile);
        if outside && (self.config.outside == Outside::NotFound || !req.kind.is_image()) {
            // /svg and /geojson keep the 404: the option is for raster clients (GDAL, QGIS).
            return Err(outside_bounds(tile));
        }
        Ok((tile, data_tile, outside))
    }

    /// The tile whose data draws `tile` (itself, or its ancestor at the source's maxzoom when
    /// overzooming); `NotFound` outside the source's zooms, bounds and overzoom limit.
    pub fn data_tile(&self, tile: TileId) -> Result<TileId, TileError> {
        let data_tile = self.data_tile_in_zooms(tile)?;
        if !self.source.info().intersects(tile) {
            return Err(outside_bounds(tile));
        }
        Ok(data_tile)
    }

    /// [`data_tile`](Service::data_tile) without the bounds check.
    fn data_tile_in_zooms(&self, tile: TileId) -> Result<TileId, TileError> {
        let info = self.source.info();
        if tile.z < info.minzoom {
            return Err(TileError::NotFound(format!(
                "zoom {} is below the source's minzoom {}",
                tile.z, info.minzoom
            )));
        }
        let limit = self.max_zoom();
        if tile.z > limit {
            return Err(TileError::NotFound(format!(
                "zoom {} is above the overzoom limit {limit} (source maxzoom {} + {})",
                tile.z, info.maxzoom, self.config.overzoom
            )));
        }
        Ok(if tile.z > info.maxzoom {
            tile.ancestor(info.maxzoom)
        } else {
            tile
        })
    }

    /// The deepest zoom served: the source's maxzoom plus the overzoom levels.
    pub fn max_zoom(&self) -> u8 {
        self.source
            .info()
            .maxzoom
            .saturating_add(self.config.overzoom)
            .min(30)
    }

    /// The cache key of a rendered tile (the one place it is built: `serve` and `seed` agree).
    /// `renderer`: the renderer's [`build_id`](crate::engine::Renderer::build_id). `labelled`: the style draws labels, so the tile is drawn with its neighbours; the style
    /// part of the key then says so (`HASH+nb`), and tiles cached by hosts that drew labels
    /// without neighbours (cut at seams) are never served for them. `encoding`: the renderer's
    /// PNG made into WebP or JPEG (`None` for the renderer's own bytes).
    #[allow(clippy::too_many_arguments)]
    pub fn cache_key_as(
        &self,
        renderer: &str,
        style_hash: &str,
        labelled: bool,
        format: Format,
        encoding: Option<Encoding>,
        scale: u32,
        tile: TileId,
    ) -> String {
        CacheKey {
            source: self.source.id().to_string(),
            renderer: renderer.to_string(),
            style: if labelled {
                format!("{style_hash}+nb")
            } else {
                style_hash.to_string()
            },
            format,
            encoding,
            png: self.config.png,
            size: self.config.tile_size,
            scale,
            tile,
        }
        .path()
    }

    async fn fetch(
        &self,
        data_tile: TileId,
        api_key: Option<String>,
    ) -> Result<(Option<Bytes>, f64), TileError> {
        if !self.source.info().intersects(data_tile) {
            // Only reached with `--outside empty`: outside the bounds there is no data, and a
            // URL template's upstream is not asked for it.
            return Ok((None, 0.0));
        }
        let started = Instant::now();
        self.metrics
            .upstream_fetches
            .fetch_add(1, Ordering::Relaxed);
        let ctx = FetchContext { api_key };
        match self.source.get(data_tile, &ctx).await {
            Ok(data) => Ok((data, ms(started.elapsed()))),
            Err(e) => {
                self.metrics
                    .upstream_failures
                    .fetch_add(1, Ordering::Relaxed);
                Err(e.into())
            }
        }
    }

    /// Serves one tile request.
    pub async fn tile(&self, req: &TileRequest) -> Result<TileResponse, TileError> {
        self.metrics.requests.fetch_add(1, Ordering::Relaxed);
        self.tile_uncounted(req).await
    }

    /// The PNG a WebP or JPEG is made from, as a PNG request would get it (cache, single
    /// flight, admission). Boxed: it recurses into [`tile_uncounted`](Service::tile_uncounted).
    fn png_of<'a>(
        &'a self,
        req: &TileRequest,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<TileResponse, TileError>> + Send + 'a>,
    > {
        let png = TileRequest {
            kind: Kind::Png,
            ..req.clone()
        };
        Box::pin(async move { self.tile_uncounted(&png).await })
    }

    /// A WebP or JPEG missing from the cache: made from the PNG (itself cached), on the pool.
    async fn encode_miss(
        &self,
        key: &str,
        req: &TileRequest,
        encoding: Encoding,
    ) -> Result<Rendered, TileError> {
        if let Some((body, tier)) = self.cache.get(key).await {
            return Ok(Rendered::cached(body, tier));
        }
        let png = self.png_of(req).await?;
        let ticket = self.admit()?;
        let started = Instant::now();
        let data = png.body.clone();
        let body = self
            .run_render(ticket, move || {
                rasterzen_render::encode::transcode_png(&data, encoding)
            })
            .await?
            .map_err(|e| {
                TileError::Render(format!("cannot make the tile a {}: {e}", encoding.name()))
            })?;
        let body = Bytes::from(body);
        // Made from a PNG drawn without a neighbour: not cached either (see render_miss).
        if !png.partial {
            self.cache.put(key, body.clone()).await;
        }
        Ok(Rendered {
            etag: etag_of(&body),
            body,
            upstream_ms: png.upstream_ms,
            render_ms: Some(png.render_ms.unwrap_or(0.0) + ms(started.elapsed())),
            tier: None,
            partial: png.partial,
        })
    }

    async fn tile_uncounted(&self, req: &TileRequest) -> Result<TileResponse, TileError> {
        let (tile, data_tile, outside) = self.locate(req)?;
        if outside && self.config.outside == Outside::NoContent {
            return Ok(TileResponse {
                body: Bytes::new(),
                content_type: "text/plain",
                etag: String::new(),
                renderer: None,
                cache: CacheStatus::Bypass,
                tier: None,
                data_tile: None,
                upstream_ms: None,
                render_ms: None,
                partial: false,
            });
        }
        let Some(format) = req.kind.format() else {
            return self.mvt(tile, data_tile, req.api_key.clone()).await;
        };
        if req.scale != 1 && req.scale != 2 {
            return Err(TileError::BadRequest(format!(
                "scale {} is not 1 or 2",
                req.scale
            )));
        }
        let mut renderer = self.renderer();
        if let Some(pin) = req.renderer.as_deref().filter(|p| !p.is_empty()) {
            if pin != renderer.version() {
                renderer = self.pinned_renderer(pin, renderer.version()).await?;
            }
        }
        let (style_name, style) = self.style_spec(req.style.as_deref());
        let style_hash = if format == Format::Geojson {
            "-".to_string()
        } else {
            self.style_hash(&renderer, &style_name, &style).await?
        };
        let labelled = self.config.neighbours
            && format != Format::Geojson
            && self.style_labelled(&renderer, &style_name, &style).await;
        let encoding = req.kind.encoding();
        let key = self.cache_key_as(
            renderer.build_id(),
            &style_hash,
            labelled,
            format,
            encoding,
            req.scale,
            tile,
        );
        let content_type = encoding.map_or_else(
            || crate::cache::content_type(format),
            Encoding::content_type,
        );
        let overzoomed = (data_tile != tile).then_some(data_tile);
        let respond = |r: &Rendered, cache: CacheStatus| TileResponse {
            body: r.body.clone(),
            content_type,
            etag: r.etag.clone(),
            renderer: Some(renderer.version().to_string()),
            cache,
            tier: r.tier.clone(),
            data_tile: overzoomed,
            upstream_ms: r.upstream_ms,
            render_ms: r.render_ms,
            partial: r.partial,
        };

        if let Some((body, tier)) = self.cache.get(&key).await {
            self.metrics.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(respond(&Rendered::cached(body, tier), CacheStatus::Hit));
        }

        // Single flight: one render per key (and API key: a request's upstream fetch only ever
        // carries its own key) at a time; the others wait for it.
        let flight_key = match &req.api_key {
            Some(k) if self.source.uses_api_key() => {
                format!("{key}#{}", &etag_of(k.as_bytes())[1..17])
            }
            _ => key.clone(),
        };
        let cell: Flight = {
            let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(flights.entry(flight_key.clone()).or_default())
        };
        // The guard holds the only clone of this waiter's cell (see its Drop).
        let guard = FlightGuard {
            service: self,
            key: flight_key,
            cell,
        };
        let mut ran = false;
        let result = guard
            .cell
            .get_or_init(|| {
                ran = true;
                let (key, renderer) = (&key, &renderer);
                async move {
                    match encoding {
                        Some(e) => self.encode_miss(key, req, e).await,
                        None => {
                            self.render_miss(
                                key, tile, overzoomed, format, req, renderer, style, labelled,
                            )
                            .await
                        }
                    }
                }
            })
            .await
            .clone();
        let rendered = result?;
        let status = if rendered.tier.is_some() {
            CacheStatus::Hit
        } else if ran {
            self.metrics.cache_misses.fetch_add(1, Ordering::Relaxed);
            CacheStatus::Miss
        } else {
            self.metrics.coalesced.fetch_add(1, Ordering::Relaxed);
            CacheStatus::Coalesced
        };
        Ok(respond(&rendered, status))
    }

    #[allow(clippy::too_many_arguments)]
    async fn render_miss(
        &self,
        key: &str,
        tile: TileId,
        data_tile: Option<TileId>,
        format: Format,
        req: &TileRequest,
        renderer: &Arc<dyn Renderer>,
        style: StyleSpec,
        labelled: bool,
    ) -> Result<Rendered, TileError> {
        // A flight that just finished may have filled the cache between our miss and now.
        if let Some((body, tier)) = self.cache.get(key).await {
            return Ok(Rendered::cached(body, tier));
        }
        // Admission first: under overload the upstream is never asked.
        let ticket = self.admit()?;
        let started = Instant::now();
        let api_key = req.api_key.as_deref();
        let data = self.source_tile(data_tile.unwrap_or(tile), api_key).await?;
        // Labels crossing a seam are decided from this tile's and its neighbours' data, so
        // that both tiles draw them identically: fetch the neighbours (at the same time) when
        // the style draws labels.
        let style_name = req.style.as_deref().unwrap_or("default");
        let (neighbours, partial) = if labelled {
            self.neighbours(tile, api_key).await
        } else {
            (Vec::new(), false)
        };
        let upstream_ms = ms(started.elapsed());
        // No tile there (but inside bounds and zooms): an empty tile, drawn as background
        // (and the labels of its neighbours that reach into it).
        let data = data.unwrap_or_default();
        let assets = self.style_assets(style_name);
        let request = RenderRequest {
            tile,
            data_tile,
            format,
            size: self.config.tile_size,
            scale: req.scale,
            style,
            png: self.config.png,
            assets,
            neighbours,
        };
        let started = Instant::now();
        let r = Arc::clone(renderer);
        let output = self
            .run_render(ticket, move || r.render(&data, &request))
            .await?;
        let render_ms = ms(started.elapsed());
        self.metrics.renders.fetch_add(1, Ordering::Relaxed);
        let body = match output {
            Ok(r) => {
                self.warn_once(&r.warnings, style_name);
                Bytes::from(r.bytes)
            }
            Err(e) => {
                self.metrics.render_failures.fetch_add(1, Ordering::Relaxed);
                return Err(render_error(e));
            }
        };
        if partial {
            // Not cached: the next request draws it again, with the neighbour if it is back.
            self.metrics.partial_tiles.fetch_add(1, Ordering::Relaxed);
        } else {
            self.cache.put(key, body.clone()).await;
        }
        Ok(Rendered {
            etag: etag_of(&body),
            body,
            upstream_ms: Some(upstream_ms),
            render_ms: Some(render_ms),
            tier: None,
            partial,
        })
    }

    /// A source tile through [`SourceTiles`] (`None`: the source has none there). A source
    /// that can tell from its directory that a tile is missing is not asked for it.
    pub async fn source_tile(
        &self,
        t: TileId,
        api_key: Option<&str>,
    ) -> Result<Option<Bytes>, TileError> {
        let key: MemoKey = (
            t,
            api_key.filter(|_| self.source.uses_api_key()).map(|k| {
                let d = Sha256::digest(k.as_bytes());
                u64::from_le_bytes(d[..8].try_into().unwrap_or_default())
            }),
        );
        if let Some(d) = self.source_tiles.get(key) {
            self.metrics
                .source_memo_hits
                .fetch_add(1, Ordering::Relaxed);
            return Ok(d);
        }
        // One read per source tile at a time: the renders of neighbouring tiles (and an
        // overzoomed tile's neighbours, which share ancestors) ask for the same tiles together.
        let gate = {
            let mut reading = self.reading.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(reading.entry(key).or_default())
        };
        let held = gate.lock().await;
        let got = self.source_tile_read(t, key, api_key).await;
        drop(held);
        let mut reading = self.reading.lock().unwrap_or_else(|p| p.into_inner());
        if reading.get(&key).is_some_and(|g| Arc::ptr_eq(g, &gate)) && Arc::strong_count(&gate) <= 2
        {
            reading.remove(&key);
        }
        got
    }

    /// The read behind [`Service::source_tile`], under its per-tile gate: remembered by the one
    /// that read first, while the others waited.
    async fn source_tile_read(
        &self,
        t: TileId,
        key: MemoKey,
        api_key: Option<&str>,
    ) -> Result<Option<Bytes>, TileError> {
        if let Some(d) = self.source_tiles.get(key) {
            self.metrics
                .source_memo_hits
                .fetch_add(1, Ordering::Relaxed);
            return Ok(d);
        }
        let data = match self.source.contains(t).await {
            Ok(Some(false)) => None,
            Ok(_) => self.fetch(t, api_key.map(str::to_string)).await?.0,
            Err(e) => return Err(e.into()),
        };
        let data = match data {
            Some(d) if crate::mvt::is_gzip(&d) => Some(inflated_for_render(d).await),
            other => other,
        };
        self.source_tiles.insert(key, data.clone());
        Ok(data)
    }

    /// The tiles around `tile` at its zoom, fetched at the same time, for the label stage;
    /// `true` with them when some could not be fetched (they are left out, and logged).
    /// Each comes with the data its own render uses: its own tile, or its ancestor's when
    /// overzooming (mostly the drawn tile's own data, read once through [`SourceTiles`]).
    /// Positions outside the source's bounds or zooms are known to be empty; x wraps around
    /// the antimeridian, y does not.
    pub async fn neighbours(
        &self,
        tile: TileId,
        api_key: Option<&str>,
    ) -> (Vec<NeighbourTile>, bool) {
        let tiles = neighbour_ids(tile);
        let fetches = tiles.iter().map(|&t| async move {
            match self.data_tile(t) {
                Ok(d) => (t, self.source_tile(d, api_key).await),
                Err(_) => (t, Ok(None)),
            }
        });
        let mut out = Vec::with_capacity(tiles.len());
        let mut partial = false;
        for (t, got) in futures_util::future::join_all(fetches).await {
            match got {
                Ok(data) => out.push(NeighbourTile {
                    tile: t,
                    data: data.unwrap_or_default(),
                }),
                Err(e) => {
                    partial = true;
                    tracing::warn!(tile = %tile, neighbour = %t, error = %e, "a neighbour could not be fetched: the tile is drawn without it, not cached, and sent with a short cache lifetime");
                }
            }
        }
        (out, partial)
    }

    /// Whether `spec` draws labels (a visible `symbol` layer) under `renderer`, asked once per
    /// (renderer version, style name). Renderers that cannot say (interface 1.0) draw none.
    pub async fn style_labelled(
        &self,
        renderer: &Arc<dyn Renderer>,
        name: &str,
        spec: &StyleSpec,
    ) -> bool {
        let key = (renderer.version().to_string(), name.to_string());
        if let Some(&l) = self
            .labelled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return l;
        }
        let (r, s) = (Arc::clone(renderer), spec.clone());
        let labelled = match tokio::task::spawn_blocking(move || r.style_info(&s)).await {
            Ok(Ok(info)) => info
                .layers
                .iter()
                .any(|l| l.kind == "symbol" && l.status != "hidden" && l.status != "ignored"),
            // The style rendered (its hash is known), so this is a renderer fault: fetch the
            // neighbours, which is never wrong, only slower.
            _ => true,
        };
        let mut map = self.labelled.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 1024 {
            map.clear();
        }
        map.insert(key, labelled);
        labelled
    }

    /// The assets (sprites) fetched for a style name (none for built-ins and unknown names).
    pub fn style_assets(&self, name: &str) -> Arc<Assets> {
        let name = if name.is_empty() { "default" } else { name };
        self.styles.assets.get(name).cloned().unwrap_or_default()
    }

    /// Logs each render warning once per process (tiles repeat them endlessly).
    pub fn warn_once(&self, warnings: &[String], style: &str) {
        if warnings.is_empty() {
            return;
        }
        let mut seen = self.warned.lock().unwrap_or_else(|p| p.into_inner());
        for w in warnings {
            if seen.len() < 10_000 && seen.insert(format!("{style}\u{0}{w}")) {
                tracing::warn!(style, "{w}");
            }
        }
    }

    /// Takes a place in the pipeline: at most `render_workers + render_queue` requests fetch,
    /// wait or render at once; beyond that, [`TileError::Overloaded`] (503) before any work.
    pub fn admit(&self) -> Result<Ticket<'_>, TileError> {
        let limit = self.config.render_workers.max(1) + self.config.render_queue;
        if self.admitted.fetch_add(1, Ordering::SeqCst) >= limit {
            self.admitted.fetch_sub(1, Ordering::SeqCst);
            self.metrics.overloaded.fetch_add(1, Ordering::Relaxed);
            return Err(TileError::Overloaded);
        }
        Ok(Ticket {
            admitted: &self.admitted,
        })
    }

    /// Runs blocking work (a render, an inflation) on the bounded pool, at most
    /// `render_workers` at once, holding the caller's [`Ticket`] until it is done.
    pub async fn run_render<T: Send + 'static>(
        &self,
        ticket: Ticket<'_>,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, TileError> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| TileError::Render("render pool closed".into()))?;
        let out = tokio::task::spawn_blocking(move || {
            let out = f();
            drop(permit);
            out
        })
        .await
        .map_err(|e| TileError::Render(format!("render task failed: {e}")));
        drop(ticket);
        out
    }

    /// `/mvt`: the source tile, inflated and checked for framing (never decoded here).
    async fn mvt(
        &self,
        tile: TileId,
        data_tile: TileId,
        api_key: Option<String>,
    ) -> Result<TileResponse, TileError> {
        let ticket = self.admit()?;
        let (data, upstream_ms) = self.fetch(data_tile, api_key).await?;
        let data_tile_header = (data_tile != tile).then_some(data_tile);
        let Some(data) = data else {
            // No tile there: 204, which map clients take as an empty tile.
            return Ok(TileResponse {
                body: Bytes::new(),
                content_type: "application/vnd.mapbox-vector-tile",
                etag: String::new(),
                renderer: None,
                cache: CacheStatus::Bypass,
                tier: None,
                data_tile: data_tile_header,
                upstream_ms: Some(upstream_ms),
                render_ms: None,
                partial: false,
            });
        };
        // Inflation and the framing check are CPU work (a gzip bomb is 64 MiB of it): on the
        // pool, not on the async threads that answer `/healthz`.
        let raw = self
            .run_render(ticket, move || {
                crate::mvt::inflate(&data, 64 << 20)
                    .and_then(|raw| crate::mvt::check_framing(&raw).map(|()| raw))
            })
            .await?
            .map_err(|e| {
                TileError::Upstream(format!(
                    "the source tile {data_tile} is not a vector tile: {e}"
                ))
            })?;
        let body = Bytes::from(raw);
        Ok(TileResponse {
            etag: etag_of(&body),
            body,
            content_type: "application/vnd.mapbox-vector-tile",
            renderer: None,
            cache: CacheStatus::Bypass,
            tier: None,
            data_tile: (data_tile != tile).then_some(data_tile),
            upstream_ms: Some(upstream_ms),
            render_ms: None,
            partial: false,
        })
    }
}

/// The (up to 8) distinct tiles around `tile` at its zoom: x wraps around the antimeridian,
/// y stops at the poles; `tile` itself is never among them (at zoom 0 there are none).
pub fn neighbour_ids(tile: TileId) -> Vec<TileId> {
    let n = 1i64 << tile.z.min(30);
    let mut out: Vec<TileId> = Vec::with_capacity(8);
    for dy in -1i64..=1 {
        for dx in -1i64..=1 {
            let y = i64::from(tile.y) + dy;
            if (dx == 0 && dy == 0) || y < 0 || y >= n {
                continue;
            }
            let t = TileId {
                z: tile.z,
                x: (i64::from(tile.x) + dx).rem_euclid(n) as u32,
                y: y as u32,
            };
            if t != tile && !out.contains(&t) {
                out.push(t);
            }
        }
    }
    out
}

fn outside_bounds(tile: TileId) -> TileError {
    TileError::NotFound(format!("tile {tile} is outside the source's bounds"))
}

/// Removes a flight from the table when its last waiter leaves (also when cancelled).
struct FlightGuard<'a> {
    service: &'a Service,
    key: String,
    cell: Flight,
}

impl Drop for FlightGuard<'_> {
    fn drop(&mut self) {
        let mut flights = self
            .service
            .flights
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(c) = flights.get(&self.key) {
            // Done: later requests find the cache. Not done and nobody else waiting: drop it.
            if Arc::ptr_eq(c, &self.cell)
                && (self.cell.initialized() || Arc::strong_count(&self.cell) <= 2)
            {
                flights.remove(&self.key);
            }
        }
    }
}

/// Maps a renderer failure onto an HTTP status: bad source data is the upstream's fault (502),
/// everything else the renderer's (500).
fn render_error(e: EngineError) -> TileError {
    match e {
        EngineError::Rejected(RenderError::InvalidTile(m)) => {
            TileError::Upstream(format!("the source sent something that is not a tile: {m}"))
        }
        EngineError::Rejected(RenderError::LimitExceeded(m)) => TileError::Upstream(format!(
            "the source tile exceeds the renderer's limits: {m}"
        )),
        EngineError::Rejected(other) => {
            TileError::Render(format!("renderer refused the request: {other}"))
        }
        EngineError::Failed(m) => TileError::Render(format!("renderer failed: {m}")),
        EngineError::Unavailable(m) => TileError::Render(format!("renderer unavailable: {m}")),
        EngineError::Busy(m) => {
            tracing::warn!(reason = %m, "render refused: engine busy");
            TileError::Overloaded
        }
    }
}
