//! An `http(s)` URL template such as Nextzen's
//! `https://tile.nextzen.org/tilezen/vector/v1/512/all/{z}/{x}/{y}.mvt?api_key={api_key}`.
//!
//! Placeholders: `{z}`, `{x}`, `{y}`, `{-y}` (TMS row) and `{api_key}`. The key is the
//! request's own (`?api_key=` on the tile URL) or else the configured one; it is filled in per
//! fetch and never stored, logged or shared. With no key at all, query parameters holding
//! `{api_key}` are left out of the upstream URL.

use bytes::Bytes;
use rasterzen_render::TileId;

use super::{BoxFuture, FetchContext, NetOptions, SourceError, SourceInfo, TileSource};
use crate::net;

pub struct UrlTemplateSource {
    template: String,
    client: reqwest::Client,
    net: NetOptions,
    info: SourceInfo,
    id: String,
    host: String,
}

impl UrlTemplateSource {
    pub fn new(template: &str, net: &NetOptions) -> Result<UrlTemplateSource, SourceError> {
        for p in ["{z}", "{x}"] {
            if !template.contains(p) {
                return Err(SourceError::Open(format!(
                    "URL template {template:?} lacks {p}"
                )));
            }
        }
        if !template.contains("{y}") && !template.contains("{-y}") {
            return Err(SourceError::Open(format!(
                "URL template {template:?} lacks {{y}}"
            )));
        }
        let host = template
            .split("://")
            .nth(1)
            .and_then(|r| r.split(['/', '?']).next())
            .unwrap_or("upstream")
            .to_string();
        let client =
            net::client(net).map_err(|e| SourceError::Open(format!("HTTP client: {e}")))?;
        let minzoom = net.minzoom.unwrap_or(0);
        let maxzoom = net.maxzoom.unwrap_or(16).max(minzoom);
        let mut info = SourceInfo::world(host.clone(), minzoom, maxzoom);
        if host.contains("nextzen") {
            info.attribution =
                Some("© Nextzen, © OpenStreetMap contributors, Who's On First".into());
        }
        let id = format!(
            "{}-{}",
            super::slug(&host),
            super::short_hash(&[template.as_bytes()])
        );
        Ok(UrlTemplateSource {
            template: template.to_string(),
            client,
            net: net.clone(),
            info,
            id,
            host,
        })
    }

    /// The upstream URL for `tile` with `api_key` (or none).
    pub fn url_for(&self, tile: TileId, api_key: Option<&str>) -> String {
        fill(&self.template, tile, api_key)
    }
}

fn fill(template: &str, tile: TileId, api_key: Option<&str>) -> String {
    let template = match (api_key, template.split_once('?')) {
        (None, Some((base, query))) if query.contains("{api_key}") => {
            let kept: Vec<&str> = query
                .split('&')
                .filter(|p| !p.contains("{api_key}"))
                .collect();
            if kept.is_empty() {
                base.to_string()
            } else {
                format!("{base}?{}", kept.join("&"))
            }
        }
        _ => template.to_string(),
    };
    let tms_y = (1u64 << tile.z) - 1 - u64::from(tile.y);
    template
        .replace("{z}", &tile.z.to_string())
        .replace("{x}", &tile.x.to_string())
        .replace("{-y}", &tms_y.to_string())
        .replace("{y}", &tile.y.to_string())
        .replace("{api_key}", &percent_encode(api_key.unwrap_or("")))
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl TileSource for UrlTemplateSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn id(&self) -> &str {
        &self.id
    }

    fn uses_api_key(&self) -> bool {
        self.template.contains("{api_key}")
    }

    fn get<'a>(
        &'a self,
        tile: TileId,
        ctx: &'a FetchContext,
    ) -> BoxFuture<'a, Result<Option<Bytes>, SourceError>> {
        Box::pin(async move {
            let key = ctx
                .api_key
                .as_deref()
                .or(self.net.api_key.as_deref())
                .filter(|k| !k.is_empty());
            let url = self.url_for(tile, key);
            match net::get_with_retries(&self.client, &url, None, &self.net, super::MAX_TILE_BYTES)
                .await
            {
                Ok(net::Fetched::Body { body, .. }) => Ok(Some(body)),
                Ok(net::Fetched::Missing(_)) => Ok(None),
                Err(net::NetError::Timeout(ms)) => Err(SourceError::Timeout(ms)),
                Err(e @ net::NetError::Busy(_)) => Err(SourceError::Busy(e.to_string())),
                Err(e) => Err(SourceError::Upstream(format!(
                    "{} for tile {tile}: {e}",
                    self.host
                ))),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEXTZEN: &str =
        "https://tile.nextzen.org/tilezen/vector/v1/512/all/{z}/{x}/{y}.mvt?api_key={api_key}";

    #[test]
    fn fills_templates() {
        let t = TileId {
            z: 10,
            x: 301,
            y: 384,
        };
        assert_eq!(
            fill(NEXTZEN, t, Some("k 1")),
            "https://tile.nextzen.org/tilezen/vector/v1/512/all/10/301/384.mvt?api_key=k%201"
        );
        assert_eq!(
            fill(NEXTZEN, t, None),
            "https://tile.nextzen.org/tilezen/vector/v1/512/all/10/301/384.mvt"
        );
        assert_eq!(
            fill("http://h/{z}/{x}/{-y}.pbf?a=1&key={api_key}&b=2", t, None),
            "http://h/10/301/639.pbf?a=1&b=2"
        );
    }
}
