//! What of a style is drawn, approximated or ignored (`rasterzen style check`, the WIT
//! `style-info`), built once at parse time from the raw layers and the warnings.

use serde_json::Value as Json;

/// How one style layer is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerStatus {
    /// Every property the layer uses is drawn as MapLibre draws it.
    Drawn,
    /// Drawn, but something is approximated or ignored (see the notes).
    Approximated,
    /// Not drawn at all.
    Ignored,
    /// `visibility: none`.
    Hidden,
}

impl LayerStatus {
    pub fn name(self) -> &'static str {
        match self {
            LayerStatus::Drawn => "drawn",
            LayerStatus::Approximated => "approximated",
            LayerStatus::Ignored => "ignored",
            LayerStatus::Hidden => "hidden",
        }
    }
}

/// One layer of the report.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerReport {
    pub id: String,
    /// The style's `type`.
    pub kind: String,
    pub source_layer: Option<String>,
    pub minzoom: f64,
    pub maxzoom: f64,
    pub status: LayerStatus,
    /// The layer's warnings, without their `layers[i]` prefix.
    pub notes: Vec<String>,
}

/// The layer types this renderer draws.
const DRAWN_TYPES: &[&str] = &[
    "background",
    "fill",
    "line",
    "circle",
    "fill-extrusion",
    "symbol",
];

/// Builds the per-layer report from the raw (ref-resolved) layers and the style's warnings.
pub(crate) fn layer_reports(
    raw: &[(String, &serde_json::Map<String, Json>)],
    warnings: &[String],
) -> Vec<LayerReport> {
    raw.iter()
        .enumerate()
        .map(|(i, (id, layer))| {
            let prefix = format!("layers[{i}]");
            let notes: Vec<String> = warnings
                .iter()
                .filter_map(|w| {
                    let rest = w.strip_prefix(&prefix)?;
                    // `layers[1]` must not match `layers[12]`.
                    let rest = rest
                        .strip_prefix('.')
                        .or_else(|| rest.strip_prefix(' '))
                        .or_else(|| rest.strip_prefix(':'))?;
                    Some(rest.trim().to_string())
                })
                .collect();
            let kind = layer
                .get("type")
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_string();
            let hidden = layer
                .get("layout")
                .and_then(|l| l.get("visibility"))
                .and_then(Json::as_str)
                == Some("none");
            let zoom = |k: &str, d: f64| layer.get(k).and_then(Json::as_f64).unwrap_or(d);
            let status = if !DRAWN_TYPES.contains(&kind.as_str()) {
                LayerStatus::Ignored
            } else if hidden {
                LayerStatus::Hidden
            } else if notes.is_empty() {
                LayerStatus::Drawn
            } else {
                LayerStatus::Approximated
            };
            LayerReport {
                id: id.clone(),
                kind,
                source_layer: layer
                    .get("source-layer")
                    .and_then(Json::as_str)
                    .map(str::to_string),
                minzoom: zoom("minzoom", 0.0),
                maxzoom: zoom("maxzoom", 24.0),
                status,
                notes,
            }
        })
        .collect()
}

/// Every font name a layer's `text-font` can use: the font stacks of its value (a constant
/// array, `literal` arrays inside expressions, legacy stops), never match labels or keys.
pub(crate) fn fonts(raw: &[(String, &serde_json::Map<String, Json>)]) -> Vec<String> {
    fn add(out: &mut Vec<String>, s: &str) {
        if !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    }
    fn collect(v: &Json, out: &mut Vec<String>) {
        match v {
            Json::Array(a) => match a.first() {
                Some(Json::String(op)) if is_operator(op) => {
                    if op == "literal" {
                        if let Some(Json::Array(stack)) = a.get(1) {
                            stack
                                .iter()
                                .filter_map(Json::as_str)
                                .for_each(|s| add(out, s));
                        }
                    } else {
                        a[1..]
                            .iter()
                            .filter(|x| x.is_array() || x.is_object())
                            .for_each(|x| collect(x, out));
                    }
                }
                // A constant font stack.
                _ => a.iter().filter_map(Json::as_str).for_each(|s| add(out, s)),
            },
            Json::Object(o) => {
                if let Some(Json::Array(stops)) = o.get("stops") {
                    for stop in stops {
                        if let Some(v) = stop.as_array().and_then(|s| s.get(1)) {
                            collect(v, out);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    fn is_operator(s: &str) -> bool {
        matches!(
            s,
            "literal"
                | "step"
                | "interpolate"
                | "match"
                | "case"
                | "coalesce"
                | "get"
                | "zoom"
                | "let"
                | "var"
                | "concat"
                | "array"
        )
    }
    let mut out = Vec::new();
    for (_, layer) in raw {
        if let Some(f) = layer.get("layout").and_then(|l| l.get("text-font")) {
            collect(f, &mut out);
        }
    }
    out
}
