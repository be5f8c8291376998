//! The HTTP surface: an axum [`Router`], a plain tower service, so `serve` and the Lambda
//! adapter run the very same code. Paths, headers and statuses follow CONTRACT.md's HTTP table.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use tower_http::compression::{CompressionLayer, CompressionLevel};

use crate::service::{Kind, Service, TileError, TileRequest, TileResponse};

pub mod multi;

/// Shared state of one map's router (one per map of the config file; see `crate::maps`).
pub struct AppState {
    pub service: Arc<Service>,
    /// The base URL for TileJSON's tile URLs (default: from the request's Host header).
    pub public_url: Option<String>,
    /// Which map this router serves, and under which path prefix.
    pub map: crate::maps::MapInfo,
}

const X_RENDERER: HeaderName = HeaderName::from_static("x-rasterzen-renderer");
const X_CACHE: HeaderName = HeaderName::from_static("x-rasterzen-cache");
const X_DATA_TILE: HeaderName = HeaderName::from_static("x-rasterzen-data-tile");
/// On a tile drawn without some of its neighbours (their fetch failed): `neighbours`.
const X_PARTIAL: HeaderName = HeaderName::from_static("x-rasterzen-partial");

// The preview page's files (`www/`), built into the binary by `host/build.rs`.
include!(concat!(env!("OUT_DIR"), "/www_files.rs"));

/// A file of the preview page, by its path under `/`.
fn www_file(path: &str) -> Option<&'static [u8]> {
    WWW_FILES
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, bytes)| *bytes)
}

/// Builds the router of one map. The access layer (CORS, one log line per request) is put
/// around all maps by [`multi::router`], so a request under `/{map}/…` is logged once, with
/// its whole path.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/{file}", get(page_file))
        .route(
            "/pkg/{file}",
            get(|Path(f): Path<String>| async move { page_file_at(&format!("pkg/{f}")) }),
        )
        .route(
            "/vendor/{*file}",
            get(|Path(f): Path<String>| async move { page_file_at(&format!("vendor/{f}")) }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .route("/tilejson.json", get(tilejson))
        .route("/wmts.xml", get(wmts))
        .route("/static/{view}/{size}", get(static_image))
        .route("/{kind}/{*rest}", get(tile))
        .fallback(|| async {
            plain(
                StatusCode::NOT_FOUND,
                "no such path: try /tilejson.json, /png/{z}/{x}/{y}.png, /healthz",
            )
        })
        .with_state(state)
}

/// HTTP compression for `serve`: gzip or br when the client accepts it, for everything but
/// images (PNG/WebP/JPEG are compressed already) and tiny bodies. Level 4: MVT and GeoJSON
/// bodies of megabytes compress in milliseconds on the async threads (br's default, 11, takes
/// seconds). Lambda answers uncompressed: CloudFront in front of it compresses
/// (`Compress: true` in deploy/template.yaml), and a compressed body would turn every text
/// answer into a base64 binary one.
pub fn compression() -> CompressionLayer {
    CompressionLayer::new()
        .gzip(true)
        .br(true)
        .quality(CompressionLevel::Precise(4))
}

/// What the access log line says about a tile request (set by the handler).
#[derive(Clone, Debug)]
struct AccessInfo {
    kind: &'static str,
    tile: String,
    cache: Option<&'static str>,
    tier: Option<String>,
    upstream_ms: Option<f64>,
    render_ms: Option<f64>,
    error: Option<String>,
}

/// CORS on every response, `OPTIONS` preflight, and one log line per request (the path only:
/// the query may hold an API key).
pub(crate) async fn access(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let mut res = if method == Method::OPTIONS {
        let mut r = StatusCode::NO_CONTENT.into_response();
        let h = r.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, HEAD, OPTIONS"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("*"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("86400"),
        );
        r
    } else {
        next.run(req).await
    };
    let h = res.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(
            "ETag, X-Rasterzen-Renderer, X-Rasterzen-Cache, X-Rasterzen-Data-Tile, X-Rasterzen-Partial, Retry-After",
        ),
    );
    let status = res.status().as_u16();
    let total_ms = (started.elapsed().as_secs_f64() * 1e5).round() / 100.0;
    let bytes = axum::body::HttpBody::size_hint(res.body()).exact();
    match res.extensions().get::<AccessInfo>() {
        Some(a) => tracing::info!(
            target: "rasterzen::access",
            method = %method, path, status, format = a.kind, tile = %a.tile,
            cache = a.cache, tier = a.tier.as_deref(), upstream_ms = a.upstream_ms, render_ms = a.render_ms,
            total_ms, bytes, error = a.error.as_deref(),
            "request"
        ),
        None => {
            tracing::debug!(target: "rasterzen::access", method = %method, path, status, total_ms, "request")
        }
    }
    res
}

pub(crate) fn plain(status: StatusCode, text: impl Into<String>) -> Response {
    let mut text = text.into();
    text.push('\n');
    let mut r = (status, text).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn error_response(e: &TileError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = plain(status, e.to_string());
    let h = r.headers_mut();
    let cc = match e {
        // Outside the source: stable for a while (maps ask for these a lot).
        TileError::NotFound(_) => "public, max-age=300",
        _ => "no-store",
    };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cc));
    if matches!(e, TileError::Overloaded) {
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    r
}

async fn index() -> Response {
    page_file_at("index.html")
}

async fn page_file(Path(file): Path<String>) -> Response {
    page_file_at(&file)
}

/// ODbL asks for "© OpenStreetMap contributors"; many archives' metadata says only
/// "© OpenStreetMap". Add the missing word where OpenStreetMap is named without it.
pub(crate) fn osm_attribution(a: &str) -> String {
    if !a.contains("OpenStreetMap") || a.contains("contributors") {
        return a.to_string();
    }
    match a.rfind("OpenStreetMap</a>") {
        Some(i) => format!(
            "{} contributors{}",
            &a[..i + "OpenStreetMap</a>".len()],
            &a[i + "OpenStreetMap</a>".len()..]
        ),
        None => a.replacen("OpenStreetMap", "OpenStreetMap contributors", 1),
    }
}

#[cfg(test)]
mod attribution_tests {
    use super::osm_attribution;

    #[test]
    fn osm_attribution_names_the_contributors() {
        assert_eq!(
            osm_attribution("© OpenStreetMap"),
            "© OpenStreetMap contributors"
        );
        assert_eq!(
            osm_attribution("<a href=\"x\">Protomaps</a> © <a href=\"y\">OpenStreetMap</a>"),
            "<a href=\"x\">Protomaps</a> © <a href=\"y\">OpenStreetMap</a> contributors"
        );
        assert_eq!(
            osm_attribution("© OpenStreetMap contributors"),
            "© OpenStreetMap contributors"
        );
        assert_eq!(osm_attribution("Natural Earth"), "Natural Earth");
    }
}

/// Serves a file of the preview page; `no-cache` so a new binary's page is picked up at once.
fn page_file_at(path: &str) -> Response {
    let Some(bytes) = www_file(path) else {
        return plain(
            StatusCode::NOT_FOUND,
            "no such path: try /tilejson.json, /png/{z}/{x}/{y}.png, /healthz",
        );
    };
    let content_type = match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    };
    let mut r = bytes.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let m = &state.service.metrics;
    let mut out = String::new();
    for (name, help, v) in [
        ("requests", "tile requests", &m.requests),
        (
            "cache_hits",
            "tiles served from a cache tier",
            &m.cache_hits,
        ),
        (
            "cache_misses",
            "tiles rendered for a request",
            &m.cache_misses,
        ),
        (
            "coalesced",
            "requests that waited for another request's render",
            &m.coalesced,
        ),
        ("renders", "renders run", &m.renders),
        ("render_failures", "renders that failed", &m.render_failures),
        ("upstream_fetches", "source reads", &m.upstream_fetches),
        (
            "upstream_failures",
            "source reads that failed",
            &m.upstream_failures,
        ),
        ("overloaded", "requests refused with 503", &m.overloaded),
        (
            "source_memo_hits",
            "source reads answered from memory (a tile's neighbours are read by nine renders)",
            &m.source_memo_hits,
        ),
        (
            "partial_tiles",
            "tiles drawn without a neighbour that could not be fetched (not cached)",
            &m.partial_tiles,
        ),
    ] {
        out.push_str(&format!("# HELP rasterzen_{name}_total {help}\n# TYPE rasterzen_{name}_total counter\nrasterzen_{name}_total {}\n", v.load(Ordering::Relaxed)));
    }
    for (name, help, v) in [
        (
            "upstream_body_bytes",
            "bytes of upstream bodies held against --upstream-memory-mb",
            crate::net::body_bytes_held() as u64,
        ),
        (
            "native_overdue_renders",
            "native renders past their deadline still running",
            crate::engine::native::Guarded::overdue() as u64,
        ),
    ] {
        out.push_str(&format!(
            "# HELP rasterzen_{name} {help}\n# TYPE rasterzen_{name} gauge\nrasterzen_{name} {v}\n"
        ));
    }
    let mut r = out.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Parses `{z}/{x}/{y}.{ext}` (or `{y}@2x.{ext}` for images).
fn parse_tile_path(kind: Kind, rest: &str) -> Result<(u8, u32, u32, u32), TileError> {
    let ext = kind.name();
    crate::tilepath::parse_tile_path(ext, kind.is_image() || kind == Kind::Svg, rest).map_err(
        |why| {
            TileError::BadRequest(format!(
                "malformed tile path /{ext}/{rest}: {why} (expected /{ext}/{{z}}/{{x}}/{{y}}.{ext})"
            ))
        },
    )
}

/// Whether `If-None-Match` matches `etag` (weak comparison, as RFC 9110 asks for GET).
fn etag_matches(headers: &HeaderMap, etag: &str) -> bool {
    let strip = |t: &str| t.trim().trim_start_matches("W/").to_string();
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',').any(|t| {
                let t = t.trim();
                t == "*" || strip(t) == strip(etag)
            })
        })
}

async fn tile(
    State(state): State<Arc<AppState>>,
    Path((kind, rest)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let kind = match kind.as_str() {
        "png" => Kind::Png,
        "webp" => Kind::Webp,
        "jpg" => Kind::Jpg,
        "svg" => Kind::Svg,
        "mvt" => Kind::Mvt,
        "geojson" => Kind::Geojson,
        _ => {
            return plain(
                StatusCode::NOT_FOUND,
                format!(
                    "no such path: /{}/{}",
                    crate::logging::printable(&kind, 40),
                    crate::logging::printable(&rest, 100)
                ),
            )
        }
    };
    // `rest` is percent-decoded: it may hold newlines or escape codes. Never log or echo it raw.
    let rest = crate::logging::printable(&rest, 100);
    let mut info = AccessInfo {
        kind: kind.name(),
        tile: rest.clone(),
        cache: None,
        tier: None,
        upstream_ms: None,
        render_ms: None,
        error: None,
    };
    let result = match parse_tile_path(kind, &rest) {
        Ok((z, x, y, scale)) => {
            info.tile = format!("{z}/{x}/{y}{}", if scale == 2 { "@2x" } else { "" });
            let req = TileRequest {
                kind,
                z,
                x,
                y,
                scale,
                style: query.get("style").cloned(),
                renderer: query.get("renderer").cloned(),
                api_key: query.get("api_key").cloned().filter(|k| !k.is_empty()),
            };
            state.service.tile(&req).await
        }
        Err(e) => Err(e),
    };
    let mut res = match result {
        Ok(t) => {
            info.cache = Some(t.cache.as_str());
            info.tier = t.tier.clone();
            info.upstream_ms = t.upstream_ms;
            info.render_ms = t.render_ms;
            tile_response(&state, t, &headers)
        }
        Err(e) => {
            info.error = Some(e.to_string());
            error_response(&e)
        }
    };
    res.extensions_mut().insert(info);
    res
}

fn tile_response(state: &AppState, t: TileResponse, req_headers: &HeaderMap) -> Response {
    if t.etag.is_empty() {
        let mut r = StatusCode::NO_CONTENT.into_response();
        r.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        );
        return r;
    }
    let not_modified = etag_matches(req_headers, &t.etag);
    let mut res = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = Response::new(Body::from(t.body.clone()));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(t.content_type),
        );
        r
    };
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&t.etag) {
        h.insert(header::ETAG, v);
    }
    let cache_control = if t.partial {
        &state.service.config.partial_cache_control
    } else {
        &state.service.config.cache_control
    };
    if let Ok(v) = HeaderValue::from_str(cache_control) {
        h.insert(header::CACHE_CONTROL, v);
    }
    if t.partial {
        h.insert(X_PARTIAL, HeaderValue::from_static("neighbours"));
    }
    if let Some(v) = t
        .renderer
        .as_deref()
        .and_then(|r| HeaderValue::from_str(r).ok())
    {
        h.insert(X_RENDERER, v);
    }
    h.insert(X_CACHE, HeaderValue::from_static(t.cache.as_str()));
    if let Some(d) = t
        .data_tile
        .and_then(|d| HeaderValue::from_str(&d.to_string()).ok())
    {
        h.insert(X_DATA_TILE, d);
    }
    res
}

/// TileJSON 3.0.0 for the raster tiles. `?format=svg`, `?scale=2`, `?style=`, `?renderer=` and
/// `?api_key=` carry over into the tile URLs.
async fn tilejson(
    State(state): State<Arc<AppState>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let svc = &state.service;
    let info = svc.source.info();
    let base = base_url(&state, &headers);
    let format = match query.get("format").map(String::as_str) {
        None | Some("") => svc.config.format.name(),
        Some("svg") => "svg",
        Some(f) => match rasterzen_render::encode::Encoding::from_name(f) {
            Some(e) => e.name(),
            None => {
                return plain(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "format {:?} is not png, webp, jpg or svg",
                        crate::logging::printable(f, 40)
                    ),
                )
            }
        },
    };
    let retina = match scale_param(&query) {
        Ok(2) => "@2x",
        Ok(_) => "",
        Err(why) => return plain(StatusCode::BAD_REQUEST, why),
    };
    let qs = carried_query(&query);
    let qs = if qs.is_empty() { qs } else { format!("?{qs}") };
    let maxzoom = info.maxzoom.saturating_add(svc.config.overzoom).min(30);
    let renderer = svc.renderer();
    let mut doc = serde_json::json!({
        "tilejson": "3.0.0",
        "name": state.map.name.as_deref().unwrap_or(&info.name),
        "scheme": "xyz",
        "tiles": [format!("{base}/{format}/{{z}}/{{x}}/{{y}}{retina}.{format}{qs}")],
        "minzoom": info.minzoom,
        "maxzoom": maxzoom,
        "bounds": info.bounds,
        "format": format,
        "tileSize": svc.config.tile_size,
        "version": renderer.version(),
        "description": format!("Raster tiles of {} drawn by rasterzen (renderer {}); data to zoom {}, overzoomed above", info.name, renderer.version(), info.maxzoom),
    });
    if let Some(a) = state.map.attribution.as_ref().or(info.attribution.as_ref()) {
        doc["attribution"] = serde_json::Value::String(osm_attribution(a));
    }
    let [w, s, e, n] = info.bounds;
    let (lon, lat, zoom) = match info.center {
        Some([lon, lat, z]) if z >= 1.0 => (lon, lat, z),
        // No centre zoom (or 0, as in many archives): the zoom at which the bounds span about two tiles.
        other => {
            let span = (e - w).max((n - s) * 1.5).max(1e-6);
            let fit = (360.0 / span).log2().floor() + 1.0;
            let (lon, lat) = other.map_or(((w + e) / 2.0, (s + n) / 2.0), |c| (c[0], c[1]));
            (lon, lat, fit)
        }
    };
    doc["center"] = serde_json::json!([
        lon,
        lat,
        (zoom.round() as i64).clamp(i64::from(info.minzoom), i64::from(maxzoom))
    ]);
    let mut r = doc.to_string().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    r
}

/// This map's base URL: the service's ([`public_base`]) and the map's prefix (`/{map}`), so
/// TileJSON's and WMTS's URLs stay under the map they describe.
fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    format!(
        "{}{}",
        public_base(state.public_url.as_deref(), headers),
        state.map.prefix
    )
}

/// The service's base URL: `--public-url`, else from the request's `X-Forwarded-*`/`Host`.
pub(crate) fn public_base(public_url: Option<&str>, headers: &HeaderMap) -> String {
    match public_url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => {
            let host = headers
                .get("x-forwarded-host")
                .or_else(|| headers.get(header::HOST))
                .and_then(|v| v.to_str().ok())
                .unwrap_or("localhost");
            let proto = headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("http");
            format!("{proto}://{host}")
        }
    }
}

/// `?scale=` of TileJSON and WMTS: 1 (default) or 2; the error is the 400's text.
fn scale_param(query: &HashMap<String, String>) -> Result<u32, String> {
    match query.get("scale").map(String::as_str) {
        None | Some("") | Some("1") => Ok(1),
        Some("2") => Ok(2),
        Some(other) => Err(format!(
            "scale {:?} is not 1 or 2",
            crate::logging::printable(other, 40)
        )),
    }
}

/// The query parameters that TileJSON and WMTS carry into their tile URLs, percent-encoded
/// and joined with `&` (no leading `?`).
fn carried_query(query: &HashMap<String, String>) -> String {
    let mut params: Vec<String> = Vec::new();
    for k in ["style", "renderer", "api_key"] {
        if let Some(v) = query.get(k).filter(|v| !v.is_empty()) {
            params.push(format!("{k}={}", encode(v)));
        }
    }
    params.join("&")
}

/// WMTS 1.0.0 GetCapabilities (RESTful, GoogleMapsCompatible matrix set). `?scale=2` for @2x
/// tiles; `?style=`, `?renderer=`, `?api_key=` carry into the tile URLs; `?format=` picks the
/// first (default) format, else `--format`.
async fn wmts(
    State(state): State<Arc<AppState>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    use rasterzen_render::encode::Encoding;
    let svc = &state.service;
    let info = svc.source.info();
    let scale = match scale_param(&query) {
        Ok(s) => s,
        Err(why) => return plain(StatusCode::BAD_REQUEST, why),
    };
    let first = match query.get("format").map(String::as_str) {
        None | Some("") => svc.config.format,
        Some(f) => match Encoding::from_name(f) {
            Some(e) => e,
            None => {
                return plain(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "format {:?} is not png, webp or jpg",
                        crate::logging::printable(f, 40)
                    ),
                )
            }
        },
    };
    let mut formats = vec![first];
    formats.extend(
        [Encoding::Png, Encoding::Webp, Encoding::Jpeg]
            .into_iter()
            .filter(|e| *e != first),
    );
    let base = base_url(&state, &headers);
    let qs = carried_query(&query);
    let renderer = svc.renderer();
    let layer = crate::wmts::layer_id(&info.name);
    let description = format!(
        "Raster tiles of {} drawn by rasterzen (renderer {}); data to zoom {}, overzoomed above",
        info.name,
        renderer.version(),
        info.maxzoom
    );
    let xml = crate::wmts::Capabilities {
        base: &base,
        query: &qs,
        layer: &layer,
        title: &info.name,
        description: &description,
        bounds: info.bounds,
        minzoom: info.minzoom,
        maxzoom: svc.max_zoom(),
        tile_size: svc.config.tile_size,
        scale,
        formats: &formats,
    }
    .to_xml();
    let mut r = xml.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    r
}

/// `/static/{view}/{size}`: a static map image (see `static_map`).
async fn static_image(
    State(state): State<Arc<AppState>>,
    Path((view, size)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    use crate::static_map::{self, StaticError};
    let shown = format!(
        "{}/{}",
        crate::logging::printable(&view, 100),
        crate::logging::printable(&size, 40)
    );
    let mut info = AccessInfo {
        kind: "static",
        tile: shown,
        cache: None,
        tier: None,
        upstream_ms: None,
        render_ms: None,
        error: None,
    };
    let started = Instant::now();
    let result = async {
        let v = static_map::parse_view(&view)?;
        let s = static_map::parse_size(&size)?;
        let template = TileRequest {
            kind: Kind::Png,
            z: 0,
            x: 0,
            y: 0,
            scale: s.scale,
            style: query.get("style").cloned(),
            renderer: query.get("renderer").cloned(),
            api_key: query.get("api_key").cloned().filter(|k| !k.is_empty()),
        };
        static_map::render(&state.service, &v, s, &template).await
    }
    .await;
    let mut res = match result {
        Ok(img) => {
            info.render_ms = Some((started.elapsed().as_secs_f64() * 1e5).round() / 100.0);
            let etag = crate::service::etag_of(&img.body);
            let mut r = if etag_matches(&headers, &etag) {
                StatusCode::NOT_MODIFIED.into_response()
            } else {
                let mut r = Response::new(Body::from(img.body));
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(img.content_type),
                );
                r
            };
            let h = r.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&etag) {
                h.insert(header::ETAG, v);
            }
            if let Ok(v) = HeaderValue::from_str(&state.service.config.cache_control) {
                h.insert(header::CACHE_CONTROL, v);
            }
            if let Ok(v) = HeaderValue::from_str(&img.renderer) {
                h.insert(X_RENDERER, v);
            }
            r
        }
        Err(StaticError::Tile(e)) => {
            info.error = Some(e.to_string());
            error_response(&e)
        }
        Err(e) => {
            info.error = Some(e.to_string());
            let status =
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut r = plain(status, e.to_string());
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
    };
    res.extensions_mut().insert(info);
    res
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_paths() {
        assert_eq!(
            parse_tile_path(Kind::Png, "14/8704/5972.png").unwrap(),
            (14, 8704, 5972, 1)
        );
        assert_eq!(
            parse_tile_path(Kind::Png, "14/8704/5972@2x.png").unwrap(),
            (14, 8704, 5972, 2)
        );
        assert_eq!(
            parse_tile_path(Kind::Mvt, "0/0/0.mvt").unwrap(),
            (0, 0, 0, 1)
        );
        for bad in [
            "14/8704.png",
            "a/1/2.png",
            "1/2/3.svg",
            "1/2/-3.png",
            "1/2/3@3x.png",
            "999/0/0.png",
            "1/2/3/4.png",
        ] {
            assert!(
                matches!(
                    parse_tile_path(Kind::Png, bad),
                    Err(TileError::BadRequest(_))
                ),
                "{bad}"
            );
        }
        assert!(parse_tile_path(Kind::Mvt, "1/2/3@2x.mvt").is_err());
    }

    #[test]
    fn if_none_match() {
        let mut h = HeaderMap::new();
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"x\", W/\"abc\""),
        );
        assert!(etag_matches(&h, "\"abc\""));
        assert!(!etag_matches(&h, "\"abd\""));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(etag_matches(&h, "\"q\""));
    }
}
