//! Many maps behind one router: `/{map}/…` is that map's `/…` (every path of
//! [`super::router`]), the paths without a map prefix are the default map's, `/catalog` lists
//! the maps and `/{map}/style-report.json` says what each map's style check found.
//!
//! Dispatch happens per request on the maps loaded *now* (`crate::maps::Registry::current`):
//! the request holds that load until it ends, so a reload never changes a request midway.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::uri::PathAndQuery;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower::ServiceExt as _;

use crate::maps::{Map, Registry};

/// The router over every map, with the access log around it all.
pub fn router(maps: Arc<Registry>) -> Router {
    Router::new()
        .route("/catalog", get(catalog))
        .fallback(dispatch)
        .layer(middleware::from_fn(super::access))
        .with_state(maps)
}

/// Top-level names a map id must not take besides `config::RESERVED_IDS`: the first segment
/// of every file of the preview page (`app.js`, `pkg`, `vendor`...).
pub fn reserved() -> Vec<String> {
    let mut out: Vec<String> = super::WWW_FILES
        .iter()
        .filter_map(|(p, _)| p.split('/').next())
        .map(str::to_ascii_lowercase)
        .collect();
    out.sort();
    out.dedup();
    out
}

fn json(doc: &serde_json::Value, cache_control: &'static str) -> Response {
    let mut r = doc.to_string().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    r
}

async fn dispatch(State(registry): State<Arc<Registry>>, mut req: Request) -> Response {
    let maps = registry.current();
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let trimmed = path.strip_prefix('/').unwrap_or(&path);
    let (first, tail) = match trimmed.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (trimmed, None),
    };
    let (map, router, rest, prefixed): (&Arc<Map>, Router, String, bool) = match maps.get(first) {
        Some(m) => match tail {
            Some(t) => (m, m.prefixed.clone(), format!("/{t}"), true),
            // `/{map}` → `/{map}/`: the preview page's relative URLs need the slash.
            None => {
                let to = match &query {
                    Some(q) => format!("/{first}/?{q}"),
                    None => format!("/{first}/"),
                };
                let mut r = StatusCode::PERMANENT_REDIRECT.into_response();
                if let Ok(v) = HeaderValue::from_str(&to) {
                    r.headers_mut().insert(header::LOCATION, v);
                }
                return r;
            }
        },
        None => {
            let m = maps.default_map();
            (m, m.unprefixed.clone(), path.clone(), false)
        }
    };
    let asked_query = query.clone();
    if rest == "/style-report.json" {
        return json(&map.report, "no-cache");
    }
    let segment = rest.trim_start_matches('/').split('/').next().unwrap_or("");
    let mut query = query;
    if crate::config::TILE_FORMATS.contains(&segment) && !map.formats.iter().any(|f| f == segment) {
        return super::plain(
            StatusCode::NOT_FOUND,
            format!(
                "map {} does not serve {segment} tiles (its formats: {})",
                map.id,
                map.formats.join(", ")
            ),
        );
    }
    // TileJSON names the map's first format when the map does not serve PNG and none is asked.
    if rest == "/tilejson.json" && !map.formats.iter().any(|f| f == "png") {
        let asks = query
            .as_deref()
            .is_some_and(|q| q.split('&').any(|kv| kv.starts_with("format=")));
        if let Some(f) = map.formats.iter().find(|f| *f == "svg").filter(|_| !asks) {
            query = Some(match query {
                Some(q) if !q.is_empty() => format!("{q}&format={f}"),
                _ => format!("format={f}"),
            });
        }
    }
    // Only a stripped prefix or an added parameter changes the request's URI.
    if prefixed || query != asked_query {
        let target = match &query {
            Some(q) => format!("{rest}?{q}"),
            None => rest,
        };
        let mut parts = req.uri().clone().into_parts();
        match PathAndQuery::try_from(target) {
            Ok(pq) => parts.path_and_query = Some(pq),
            Err(_) => return super::plain(StatusCode::BAD_REQUEST, "malformed path"),
        }
        match Uri::from_parts(parts) {
            Ok(uri) => *req.uri_mut() = uri,
            Err(_) => return super::plain(StatusCode::BAD_REQUEST, "malformed path"),
        }
    }
    // The map's router never fails (axum's errors are responses).
    match router.oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    }
}

/// `GET /catalog`: every map, in the config's order, with its TileJSON
/// URL and what its style check found.
async fn catalog(State(registry): State<Arc<Registry>>, headers: HeaderMap) -> Response {
    let maps = registry.current();
    let base = super::public_base(registry.server_args().public_url.as_deref(), &headers);
    let list: Vec<serde_json::Value> = maps
        .maps
        .iter()
        .map(|m| {
            let info = m.service.source.info();
            let maxzoom = m.service.max_zoom();
            serde_json::json!({
                "id": m.id,
                "name": m.name,
                "default": m.id == maps.default_map().id,
                "tilejson": format!("{base}/{}/tilejson.json", m.id),
                "tiles": format!("{base}/{}/{}/{{z}}/{{x}}/{{y}}.{}", m.id, m.formats[0], m.formats[0]),
                "style_report": format!("{base}/{}/style-report.json", m.id),
                "formats": m.formats,
                "tile_size": m.service.config.tile_size,
                "attribution": m.attribution.as_deref().map(super::osm_attribution),
                "bounds": info.bounds,
                "minzoom": info.minzoom,
                "maxzoom": maxzoom,
                "source": { "id": m.source_name, "name": info.name, "maxzoom": info.maxzoom },
                "style": m.summary,
            })
        })
        .collect();
    let loaded = maps
        .loaded_at
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    json(
        &serde_json::json!({ "maps": list, "default": maps.default_map().id, "loaded_at": loaded }),
        "no-cache",
    )
}
