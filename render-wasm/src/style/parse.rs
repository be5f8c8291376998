//! Style document → [`Style`]: layers, properties, warnings and the canonical hash.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Arc;

use serde_json::{Map, Value as Json};
use sha2::{Digest, Sha256};

use super::color::Color;
use super::compile::{
    self, describe, fold, is_expression, val_matches, CompileError, Compiler, FnSpec, Path, Ty,
};
use super::expr::{Expr, Lit};
use super::symbol::{
    AnchorList, AnchorOffsets, FaceStyle, FontNames, FontStack, IconTextFit, Pair, Quad,
    SymbolPlacement, SymbolSpec, TextAnchor, TextJustify, TextTransform, TextValue, ZOrder,
};
use super::{
    FromVal, LayerKind, LineCap, LineJoin, PaintSpec, Prop, SpriteRef, Style, StyleError,
    StyleLayer,
};

fn invalid(path: &str, message: impl Into<String>) -> StyleError {
    StyleError::Invalid {
        path: path.to_string(),
        message: message.into(),
    }
}

impl From<CompileError> for StyleError {
    fn from(e: CompileError) -> StyleError {
        StyleError::Invalid {
            path: e.path,
            message: e.message,
        }
    }
}

fn json_error(e: serde_json::Error) -> StyleError {
    let full = e.to_string();
    let message = match full.rfind(" at line ") {
        Some(i) => full[..i].to_string(),
        None => full,
    };
    StyleError::Json {
        line: e.line(),
        column: e.column(),
        message,
    }
}

fn kind_name(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

const ROOT_KEYS: &[&str] = &[
    "version",
    "name",
    "metadata",
    "center",
    "centerAltitude",
    "zoom",
    "bearing",
    "pitch",
    "roll",
    "light",
    "sky",
    "terrain",
    "projection",
    "sources",
    "sprite",
    "glyphs",
    "font-faces",
    "transition",
    "layers",
    "state",
    // Mapbox Studio bookkeeping.
    "id",
    "owner",
    "visibility",
    "created",
    "modified",
    "draft",
    "protected",
    "fog",
    "imports",
    "schema",
    "models",
    "lights",
];

const LAYER_KEYS: &[&str] = &[
    "id",
    "type",
    "source",
    "source-layer",
    "minzoom",
    "maxzoom",
    "filter",
    "layout",
    "paint",
    "metadata",
    "ref",
    "interactive",
    "slot",
];

/// Layer keys a `ref` layer takes from the layer it references.
const REF_KEYS: &[&str] = &[
    "type",
    "source",
    "source-layer",
    "minzoom",
    "maxzoom",
    "filter",
    "layout",
];

pub(crate) fn parse_style(text: &str) -> Result<Style, StyleError> {
    let root: Json = serde_json::from_str(text).map_err(json_error)?;
    let Json::Object(obj) = &root else {
        return Err(invalid(
            "style",
            format!(
                "expected a JSON object at the top level, got {}",
                kind_name(&root)
            ),
        ));
    };
    match obj.get("version") {
        None => return Err(invalid("style", "missing \"version\" (must be 8)")),
        Some(v) if v.as_f64() == Some(8.0) => {}
        Some(v) => {
            return Err(invalid(
                "version",
                format!("expected 8, got {}", describe(v)),
            ))
        }
    }
    let raw_layers = match obj.get("layers") {
        None => return Err(invalid("style", "missing \"layers\"")),
        Some(Json::Array(a)) => a,
        Some(other) => {
            return Err(invalid(
                "layers",
                format!("expected an array, got {}", kind_name(other)),
            ))
        }
    };
    let mut warnings = Vec::new();
    for k in obj.keys() {
        if !ROOT_KEYS.contains(&k.as_str()) {
            warnings.push(format!("{k}: unknown top-level key, ignored"));
        }
    }
    let name = match obj.get("name") {
        None => None,
        Some(Json::String(s)) => Some(s.clone()),
        Some(other) => {
            warnings.push(format!(
                "name: expected a string, got {}, ignored",
                describe(other)
            ));
            None
        }
    };

    // `sprite`: one URL (the sprite "default") or a list of {id, url} (spec v8 multi-sprite).
    let mut sprites = Vec::new();
    match obj.get("sprite") {
        None | Some(Json::Null) => {}
        Some(Json::String(url)) => sprites.push(SpriteRef {
            id: "default".into(),
            url: url.clone(),
        }),
        Some(Json::Array(list)) => {
            for (i, item) in list.iter().enumerate() {
                match (
                    item.get("id").and_then(Json::as_str),
                    item.get("url").and_then(Json::as_str),
                ) {
                    (Some(id), Some(url)) => sprites.push(SpriteRef {
                        id: id.to_string(),
                        url: url.to_string(),
                    }),
                    _ => warnings.push(format!(
                        "sprite[{i}]: expected {{\"id\": string, \"url\": string}}, ignored"
                    )),
                }
            }
        }
        Some(other) => warnings.push(format!(
            "sprite: expected a URL or a list of {{id, url}}, got {}, ignored",
            describe(other)
        )),
    }
    let glyphs = match obj.get("glyphs") {
        Some(Json::String(g)) => Some(Arc::from(g.as_str())),
        _ => None,
    };

    let mut ids: HashMap<&str, usize> = HashMap::with_capacity(raw_layers.len());
    let mut for_report: Vec<(String, Map<String, Json>)> = Vec::with_capacity(raw_layers.len());
    let mut layers = Vec::with_capacity(raw_layers.len());
    for (i, raw) in raw_layers.iter().enumerate() {
        let path = format!("layers[{i}]");
        let Json::Object(layer) = raw else {
            return Err(invalid(
                &path,
                format!("expected a layer object, got {}", kind_name(raw)),
            ));
        };
        let id = match layer.get("id") {
            Some(Json::String(s)) => s.as_str(),
            Some(other) => {
                return Err(invalid(
                    &format!("{path}.id"),
                    format!("expected a string, got {}", describe(other)),
                ))
            }
            None => return Err(invalid(&path, "missing \"id\"")),
        };
        if ids.insert(id, i).is_some() {
            return Err(invalid(
                &format!("{path}.id"),
                format!("duplicate layer id \"{id}\""),
            ));
        }
        // Legacy `ref`: take type, source, filter... from an earlier layer.
        let merged;
        let layer = match layer.get("ref") {
            None => layer,
            Some(Json::String(r)) => {
                let Some(Json::Object(parent)) = ids
                    .get(r.as_str())
                    .filter(|&&j| j < i)
                    .map(|&j| &raw_layers[j])
                else {
                    return Err(invalid(
                        &format!("{path}.ref"),
                        format!("no earlier layer with id \"{r}\""),
                    ));
                };
                let mut m = layer.clone();
                for k in REF_KEYS {
                    match parent.get(*k) {
                        Some(v) => m.insert((*k).to_string(), v.clone()),
                        None => m.remove(*k),
                    };
                }
                merged = m;
                &merged
            }
            Some(other) => {
                return Err(invalid(
                    &format!("{path}.ref"),
                    format!("expected a string, got {}", describe(other)),
                ))
            }
        };
        for_report.push((id.to_string(), layer.clone()));
        let mut lp = LayerParser {
            compiler: Compiler::new(&mut warnings),
            path: &path,
            id,
        };
        if let Some(l) = lp.layer(layer)? {
            layers.push(l);
        }
    }

    let mut canonical = Vec::with_capacity(text.len());
    write_canonical(&mut canonical, &root);
    let digest = Sha256::digest(&canonical);
    let mut hash = String::with_capacity(16);
    for b in &digest[..8] {
        let _ = write!(hash, "{b:02x}");
    }
    let raw: Vec<(String, &Map<String, Json>)> =
        for_report.iter().map(|(id, l)| (id.clone(), l)).collect();
    let layer_reports = super::report::layer_reports(&raw, &warnings);
    let fonts = super::report::fonts(&raw);
    Ok(Style {
        name: name.map(Arc::from),
        hash: hash.into(),
        warnings: warnings.into(),
        layers: layers.into(),
        sprites: sprites.into(),
        glyphs,
        layer_reports: layer_reports.into(),
        fonts: fonts.into(),
    })
}

/// JSON with object keys sorted and no whitespace: the input of [`Style::hash_hex`].
pub(crate) fn write_canonical(out: &mut Vec<u8>, v: &Json) {
    match v {
        Json::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort_unstable();
            out.push(b'{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let _ = serde_json::to_writer(&mut *out, k);
                out.push(b':');
                write_canonical(out, &o[k]);
            }
            out.push(b'}');
        }
        Json::Array(a) => {
            out.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(out, x);
            }
            out.push(b']');
        }
        Json::Number(n) => match n.as_f64() {
            // 1 and 1.0 are the same value.
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                let _ = write!(out, "{}", f as i64);
            }
            _ => {
                let _ = write!(out, "{n}");
            }
        },
        other => {
            let _ = serde_json::to_writer(&mut *out, other);
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Section {
    Layout,
    Paint,
}

/// What to do with a property.
#[derive(Clone, Copy, PartialEq)]
enum Handling {
    Use,
    /// Irrelevant for a static, flat render (transitions, pitch alignment...).
    Ignore,
    /// Changes the look but is not supported: warn.
    Warn(&'static str),
}

#[derive(Clone, Copy)]
enum DefaultValue {
    None,
    Num(f64),
    Black,
    Bool(bool),
    Str(&'static str),
}

impl DefaultValue {
    fn lit(self) -> Lit {
        match self {
            DefaultValue::None => Lit::Null,
            DefaultValue::Num(n) => Lit::Num(n),
            DefaultValue::Black => Lit::Color(Color::BLACK),
            DefaultValue::Bool(b) => Lit::Bool(b),
            DefaultValue::Str(s) => Lit::Str(s.into()),
        }
    }
}

struct PSpec {
    name: &'static str,
    section: Section,
    ty: Ty,
    default: DefaultValue,
    interpolated: bool,
    handling: Handling,
    /// Allowed range for numbers (constants outside it are clamped with a warning).
    min: f64,
    max: f64,
}

const CAP: &[&str] = &["butt", "round", "square"];
const JOIN: &[&str] = &["bevel", "round", "miter"];
const ANCHOR: &[&str] = &["map", "viewport"];

const fn spec(
    name: &'static str,
    section: Section,
    ty: Ty,
    default: DefaultValue,
    handling: Handling,
) -> PSpec {
    let interpolated = matches!(ty, Ty::Number | Ty::Color);
    PSpec {
        name,
        section,
        ty,
        default,
        interpolated,
        handling,
        min: f64::NEG_INFINITY,
        max: f64::INFINITY,
    }
}

const fn range(mut s: PSpec, min: f64, max: f64) -> PSpec {
    s.min = min;
    s.max = max;
    s
}

const fn discrete(mut s: PSpec) -> PSpec {
    s.interpolated = false;
    s
}

use DefaultValue as D;
use Handling::{Ignore, Use, Warn};
use Section::{Layout as L, Paint as P};

static BACKGROUND: &[PSpec] = &[
    spec("background-color", P, Ty::Color, D::Black, Use),
    range(
        spec("background-opacity", P, Ty::Number, D::Num(1.0), Use),
        0.0,
        1.0,
    ),
    spec("background-pattern", P, Ty::String, D::None, Use),
];

static FILL: &[PSpec] = &[
    discrete(spec("fill-sort-key", L, Ty::Number, D::None, Use)),
    spec("fill-antialias", P, Ty::Bool, D::Bool(true), Use),
    range(
        spec("fill-opacity", P, Ty::Number, D::Num(1.0), Use),
        0.0,
        1.0,
    ),
    spec("fill-color", P, Ty::Color, D::Black, Use),
    spec("fill-outline-color", P, Ty::Color, D::None, Use),
    spec("fill-translate", P, Ty::Array, D::None, Use),
    spec(
        "fill-translate-anchor",
        P,
        Ty::Enum(ANCHOR),
        D::Str("map"),
        Ignore,
    ),
    spec("fill-pattern", P, Ty::String, D::None, Use),
];

static FILL_EXTRUSION: &[PSpec] = &[
    range(
        spec("fill-extrusion-opacity", P, Ty::Number, D::Num(1.0), Use),
        0.0,
        1.0,
    ),
    spec("fill-extrusion-color", P, Ty::Color, D::Black, Use),
    spec("fill-extrusion-translate", P, Ty::Array, D::None, Use),
    spec(
        "fill-extrusion-translate-anchor",
        P,
        Ty::Enum(ANCHOR),
        D::Str("map"),
        Ignore,
    ),
    spec("fill-extrusion-pattern", P, Ty::String, D::None, Use),
    spec("fill-extrusion-height", P, Ty::Number, D::Num(0.0), Use),
    spec("fill-extrusion-base", P, Ty::Number, D::Num(0.0), Use),
    spec(
        "fill-extrusion-vertical-gradient",
        P,
        Ty::Bool,
        D::Bool(true),
        Use,
    ),
];

static LINE: &[PSpec] = &[
    discrete(spec("line-cap", L, Ty::Enum(CAP), D::Str("butt"), Use)),
    discrete(spec("line-join", L, Ty::Enum(JOIN), D::Str("miter"), Use)),
    spec("line-miter-limit", L, Ty::Number, D::Num(2.0), Use),
    spec("line-round-limit", L, Ty::Number, D::Num(1.05), Use),
    discrete(spec("line-sort-key", L, Ty::Number, D::None, Use)),
    range(
        spec("line-opacity", P, Ty::Number, D::Num(1.0), Use),
        0.0,
        1.0,
    ),
    spec("line-color", P, Ty::Color, D::Black, Use),
    spec("line-translate", P, Ty::Array, D::None, Use),
    spec(
        "line-translate-anchor",
        P,
        Ty::Enum(ANCHOR),
        D::Str("map"),
        Ignore,
    ),
    range(
        spec("line-width", P, Ty::Number, D::Num(1.0), Use),
        0.0,
        f64::INFINITY,
    ),
    range(
        spec("line-gap-width", P, Ty::Number, D::Num(0.0), Use),
        0.0,
        f64::INFINITY,
    ),
    spec("line-offset", P, Ty::Number, D::Num(0.0), Use),
    range(
        spec("line-blur", P, Ty::Number, D::Num(0.0), Use),
        0.0,
        f64::INFINITY,
    ),
    discrete(spec("line-dasharray", P, Ty::Array, D::None, Use)),
    spec("line-pattern", P, Ty::String, D::None, Use),
    spec(
        "line-gradient",
        P,
        Ty::Color,
        D::None,
        Warn("line-gradient is not supported, ignored"),
    ),
];

static CIRCLE: &[PSpec] = &[
    discrete(spec("circle-sort-key", L, Ty::Number, D::None, Use)),
    range(
        spec("circle-radius", P, Ty::Number, D::Num(5.0), Use),
        0.0,
        f64::INFINITY,
    ),
    spec("circle-color", P, Ty::Color, D::Black, Use),
    spec("circle-blur", P, Ty::Number, D::Num(0.0), Use),
    range(
        spec("circle-opacity", P, Ty::Number, D::Num(1.0), Use),
        0.0,
        1.0,
    ),
    spec("circle-translate", P, Ty::Array, D::None, Use),
    spec(
        "circle-translate-anchor",
        P,
        Ty::Enum(ANCHOR),
        D::Str("map"),
        Ignore,
    ),
    spec(
        "circle-pitch-scale",
        P,
        Ty::Enum(ANCHOR),
        D::Str("map"),
        Ignore,
    ),
    spec(
        "circle-pitch-alignment",
        P,
        Ty::Enum(ANCHOR),
        D::Str("viewport"),
        Ignore,
    ),
    range(
        spec("circle-stroke-width", P, Ty::Number, D::Num(0.0), Use),
        0.0,
        f64::INFINITY,
    ),
    spec("circle-stroke-color", P, Ty::Color, D::Black, Use),
    range(
        spec("circle-stroke-opacity", P, Ty::Number, D::Num(1.0), Use),
        0.0,
        1.0,
    ),
];

const PLACEMENT: &[&str] = &["point", "line", "line-center"];
const Z_ORDER: &[&str] = &["auto", "viewport-y", "source"];
const TEXT_ANCHOR: &[&str] = &[
    "center",
    "left",
    "right",
    "top",
    "bottom",
    "top-left",
    "top-right",
    "bottom-left",
    "bottom-right",
];
const JUSTIFY: &[&str] = &["auto", "left", "center", "right"];
const TRANSFORM: &[&str] = &["none", "uppercase", "lowercase"];
const OVERLAP: &[&str] = &["never", "always", "cooperative"];
const ALIGNMENT: &[&str] = &["map", "viewport", "auto", "viewport-glyph"];
const TEXT_FIT: &[&str] = &["none", "width", "height", "both"];

static SYMBOL: &[PSpec] = &[
    discrete(spec(
        "symbol-placement",
        L,
        Ty::Enum(PLACEMENT),
        D::Str("point"),
        Use,
    )),
    range(
        spec("symbol-spacing", L, Ty::Number, D::Num(250.0), Use),
        1.0,
        f64::INFINITY,
    ),
    spec("symbol-avoid-edges", L, Ty::Bool, D::Bool(false), Use),
    discrete(spec("symbol-sort-key", L, Ty::Number, D::None, Use)),
    discrete(spec(
        "symbol-z-order",
        L,
        Ty::Enum(Z_ORDER),
        D::Str("auto"),
        Use,
    )),
    // `{token}` strings are rewritten to expressions before compiling (parse_text_field).
    discrete(spec("text-field", L, Ty::String, D::Str(""), Use)),
    // Resolved at parse time to an embedded face (style::symbol::FontStack).
    spec("text-font", L, Ty::Array, D::None, Ignore),
    range(
        spec("text-size", L, Ty::Number, D::Num(16.0), Use),
        0.0,
        f64::INFINITY,
    ),
    range(
        spec("text-max-width", L, Ty::Number, D::Num(10.0), Use),
        0.0,
        f64::INFINITY,
    ),
    spec("text-line-height", L, Ty::Number, D::Num(1.2), Use),
    spec("text-letter-spacing", L, Ty::Number, D::Num(0.0), Use),
    discrete(spec(
        "text-justify",
        L,
        Ty::Enum(JUSTIFY),
        D::Str("center"),
        Use,
    )),
    discrete(spec(
        "text-anchor",
        L,
        Ty::Enum(TEXT_ANCHOR),
        D::Str("center"),
        Use,
    )),
    spec("text-offset", L, Ty::Array, D::None, Use),
    spec("text-radial-offset", L, Ty::Number, D::Num(0.0), Use),
    spec("text-variable-anchor", L, Ty::Array, D::None, Use),
    spec("text-variable-anchor-offset", L, Ty::Array, D::None, Use),
    spec("text-rotate", L, Ty::Number, D::Num(0.0), Use),
    range(
        spec("text-padding", L, Ty::Number, D::Num(2.0), Use),
        0.0,
        f64::INFINITY,
    ),
    spec("text-max-angle", L, Ty::Number, D::Num(45.0), Use),
    spec("text-keep-upright", L, Ty::Bool, D::Bool(true), Use),
    discrete(spec(
        "text-transform",
        L,
        Ty::Enum(TRANSFORM),
        D::Str("none"),
        Use,
    )),
    spec("text-allow-overlap", L, Ty::Bool, D::Bool(false), Use),
    discrete(spec(
        "text-overlap",
        L,
        Ty::Enum(OVERLAP),
        D::Str("never"),
        Use,
    )),
    spec("text-ignore-placement", L, Ty::Bool, D::Bool(false), Use),
    spec("text-optional", L, Ty::Bool, D::Bool(false), Use),
    spec(
        "text-rotation-alignment",
        L,
        Ty::Enum(ALIGNMENT),
        D::Str("auto"),
        Ignore,
    ),
    spec(
        "text-pitch-alignment",
        L,
        Ty::Enum(ALIGNMENT),
        D::Str("auto"),
        Ignore,
    ),
    spec("text-writing-mode", L, Ty::Array, D::None, Ignore),
    // `{token}` strings are rewritten like text-field's.
    discrete(spec("icon-image", L, Ty::String, D::Str(""), Use)),
    range(
        spec("icon-size", L, Ty::Number, D::Num(1.0), Use),
        0.0,
        f64::INFINITY,
    ),
    discrete(spec(
        "icon-anchor",
        L,
        Ty::Enum(TEXT_ANCHOR),
        D::Str("center"),
        Use,
    )),
    spec("icon-offset", L, Ty::Array, D::None, Use),
    discrete(spec(
        "icon-text-fit",
        L,
        Ty::Enum(TEXT_FIT),
        D::Str("none"),
        Use,
    )),
    spec("icon-text-fit-padding", L, Ty::Array, D::None, Use),
    spec("icon-allow-overlap", L, Ty::Bool, D::Bool(false), Use),
    discrete(spec(
        "icon-overlap",
        L,
        Ty::Enum(OVERLAP),
        D::Str("never"),
        Use,
    )),
    spec("icon-ignore-placement", L, Ty::Bool, D::Bool(false), Use),
    spec("icon-optional", L, Ty::Bool, D::Bool(false), Use),
    spec("icon-rotate", L, Ty::Number, D::Num(0.0), Use),
    // A number in older specs, a 1-4 side array in newer ones: read raw (icon_padding).
    spec("icon-padding", L, Ty::Number, D::Num(2.0), Ignore),
    spec("icon-keep-upright", L, Ty::Bool, D::Bool(false), Ignore),
    spec("icon-rotation-alignment", L, Ty::String, D::None, Ignore),
    spec("icon-pitch-alignment", L, Ty::String, D::None, Ignore),
    spec("text-color", P, Ty::Color, D::Black, Use),
    range(
        spec("text-opacity", P, Ty::Number, D::Num(1.0), Use),
        0.0,
        1.0,
    ),
    spec("text-halo-color", P, Ty::Color, D::None, Use),
    range(
        spec("text-halo-width", P, Ty::Number, D::Num(0.0), Use),
        0.0,
        f64::INFINITY,
    ),
    range(
        spec("text-halo-blur", P, Ty::Number, D::Num(0.0), Use),
        0.0,
        f64::INFINITY,
    ),
    spec("text-translate", P, Ty::Array, D::None, Use),
    spec(
        "text-translate-anchor",
        P,
        Ty::Enum(ANCHOR),
        D::Str("map"),
        Ignore,
    ),
    spec(
        "icon-color",
        P,
        Ty::Color,
        D::None,
        Warn("icon-color (SDF icons) is not supported; SDF icons are drawn black"),
    ),
    range(
        spec("icon-opacity", P, Ty::Number, D::Num(1.0), Use),
        0.0,
        1.0,
    ),
    spec("icon-halo-color", P, Ty::Color, D::None, Ignore),
    spec("icon-halo-width", P, Ty::Number, D::Num(0.0), Ignore),
    spec("icon-halo-blur", P, Ty::Number, D::Num(0.0), Ignore),
    spec(
        "icon-translate",
        P,
        Ty::Array,
        D::None,
        Warn("icon-translate is not supported; icons are drawn untranslated"),
    ),
    spec(
        "icon-translate-anchor",
        P,
        Ty::Enum(ANCHOR),
        D::Str("map"),
        Ignore,
    ),
];

/// A compiled property before it gets its Rust type.
enum Compiled {
    Const(Lit),
    Expr(Expr),
}

struct LayerParser<'a, 'w> {
    compiler: Compiler<'w>,
    path: &'a str,
    id: &'a str,
}

impl LayerParser<'_, '_> {
    fn warn(&mut self, msg: String) {
        self.compiler.warnings.push(msg);
    }

    fn layer(&mut self, layer: &Map<String, Json>) -> Result<Option<StyleLayer>, StyleError> {
        let path = self.path;
        let ty = match layer.get("type") {
            Some(Json::String(t)) => t.as_str(),
            Some(other) => {
                return Err(invalid(
                    &format!("{path}.type"),
                    format!("expected a string, got {}", describe(other)),
                ))
            }
            None => return Err(invalid(path, "missing \"type\"")),
        };
        let (kind, specs): (LayerKind, &[PSpec]) = match ty {
            "background" => (LayerKind::Background, BACKGROUND),
            "fill" => (LayerKind::Fill, FILL),
            "fill-extrusion" => (LayerKind::FillExtrusion, FILL_EXTRUSION),
            "line" => (LayerKind::Line, LINE),
            "circle" => (LayerKind::Circle, CIRCLE),
            "symbol" => (LayerKind::Symbol, SYMBOL),
            "raster" | "hillshade" | "heatmap" | "color-relief" => {
                self.warn(format!(
                    "{path} (id \"{}\"): {ty} layers are not drawn",
                    self.id
                ));
                return Ok(None);
            }
            other => {
                self.warn(format!(
                    "{path} (id \"{}\"): unknown layer type \"{other}\", skipped",
                    self.id
                ));
                return Ok(None);
            }
        };
        for k in layer.keys() {
            if !LAYER_KEYS.contains(&k.as_str()) {
                self.warn(format!("{path}.{k}: unknown layer key, ignored"));
            }
        }
        let zoom_bound = |key: &str, default: f64| -> Result<f64, StyleError> {
            match layer.get(key) {
                None => Ok(default),
                Some(v) => match v.as_f64() {
                    Some(z) if (0.0..=24.0).contains(&z) => Ok(z),
                    _ => Err(invalid(
                        &format!("{path}.{key}"),
                        format!("expected a number from 0 to 24, got {}", describe(v)),
                    )),
                },
            }
        };
        let minzoom = zoom_bound("minzoom", 0.0)?;
        let maxzoom = zoom_bound("maxzoom", 24.0)?;
        let source_layer = match layer.get("source-layer") {
            None => None,
            Some(Json::String(s)) => Some(s.clone()),
            Some(other) => {
                return Err(invalid(
                    &format!("{path}.source-layer"),
                    format!("expected a string, got {}", describe(other)),
                ))
            }
        };
        if source_layer.is_none() && kind != LayerKind::Background {
            self.warn(format!(
                "{path} (id \"{}\"): no \"source-layer\", nothing will be drawn",
                self.id
            ));
        }
        let filter = match layer.get("filter") {
            None | Some(Json::Null) => None,
            Some(f) => {
                let fpath = format!("{path}.filter");
                match self.compiler.filter(f, Path::Root(&fpath)) {
                    Ok(e) => Some(fold(e)),
                    Err(e) if e.unsupported => {
                        self.warn(format!(
                            "{}: {}; the layer draws nothing",
                            e.path, e.message
                        ));
                        Some(Expr::Lit(Lit::Bool(false)))
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };

        let mut visible = true;
        let mut props: HashMap<&'static str, Compiled> = HashMap::new();
        for section in [Section::Layout, Section::Paint] {
            let key = if section == Section::Layout {
                "layout"
            } else {
                "paint"
            };
            let obj = match layer.get(key) {
                None => continue,
                Some(Json::Object(o)) => o,
                Some(other) => {
                    return Err(invalid(
                        &format!("{path}.{key}"),
                        format!("expected an object, got {}", describe(other)),
                    ))
                }
            };
            for (name, value) in obj {
                let ppath = format!("{path}.{key}.{name}");
                if section == Section::Layout && name == "visibility" {
                    visible = match value.as_str() {
                        Some("visible") => true,
                        Some("none") => false,
                        _ => {
                            return Err(invalid(
                                &ppath,
                                format!(
                                    "expected \"visible\" or \"none\", got {}",
                                    describe(value)
                                ),
                            ))
                        }
                    };
                    continue;
                }
                let base = name.strip_suffix("-transition");
                let spec = specs.iter().find(|s| s.name == base.unwrap_or(name));
                let Some(spec) = spec.filter(|s| s.section == section) else {
                    let other = if section == Section::Layout {
                        "paint"
                    } else {
                        "layout"
                    };
                    if specs.iter().any(|s| s.name == name) {
                        self.warn(format!(
                            "{ppath}: \"{name}\" belongs in \"{other}\", ignored"
                        ));
                    } else {
                        self.warn(format!("{ppath}: unknown property, ignored"));
                    }
                    continue;
                };
                if base.is_some() {
                    continue; // transitions do not apply to a static render
                }
                match spec.handling {
                    Handling::Ignore => continue,
                    Handling::Warn(msg) => {
                        self.warn(format!("{ppath}: {msg}"));
                        continue;
                    }
                    Handling::Use => {}
                }
                let rewritten;
                let value = if spec.name == "text-field" || spec.name == "icon-image" {
                    rewritten = text_field_json(value);
                    &rewritten
                } else if spec.name.starts_with("text-variable-anchor") {
                    rewritten = anchor_list_json(value);
                    &rewritten
                } else {
                    value
                };
                if let Some(c) = self.property(value, &ppath, spec)? {
                    props.insert(spec.name, c);
                }
            }
        }

        let sort_key = match kind {
            LayerKind::Fill => props.remove("fill-sort-key"),
            LayerKind::Line => props.remove("line-sort-key"),
            LayerKind::Circle => props.remove("circle-sort-key"),
            LayerKind::Symbol => props.remove("symbol-sort-key"),
            LayerKind::Background | LayerKind::FillExtrusion => None,
        }
        .map(|c| match c {
            Compiled::Const(l) => Expr::Lit(l),
            Compiled::Expr(e) => e,
        });

        let optional = |props: &mut HashMap<&'static str, Compiled>, name: &str| {
            props
                .contains_key(name)
                .then(|| typed(props, name, Arc::<str>::from("")))
        };
        let paint = match ty {
            "background" => PaintSpec::Background {
                color: typed(&mut props, "background-color", Color::BLACK),
                opacity: typed(&mut props, "background-opacity", 1.0),
                pattern: optional(&mut props, "background-pattern"),
            },
            "fill" => PaintSpec::Fill {
                color: typed(&mut props, "fill-color", Color::BLACK),
                opacity: typed(&mut props, "fill-opacity", 1.0),
                outline_color: props
                    .contains_key("fill-outline-color")
                    .then(|| typed(&mut props, "fill-outline-color", Color::BLACK)),
                antialias: typed(&mut props, "fill-antialias", true),
                pattern: optional(&mut props, "fill-pattern"),
                translate: typed(&mut props, "fill-translate", Vec::new()),
            },
            "fill-extrusion" => PaintSpec::FillExtrusion {
                color: typed(&mut props, "fill-extrusion-color", Color::BLACK),
                opacity: typed(&mut props, "fill-extrusion-opacity", 1.0),
                height: typed(&mut props, "fill-extrusion-height", 0.0),
                base: typed(&mut props, "fill-extrusion-base", 0.0),
                vertical_gradient: typed(&mut props, "fill-extrusion-vertical-gradient", true),
                pattern: optional(&mut props, "fill-extrusion-pattern"),
                translate: typed(&mut props, "fill-extrusion-translate", Vec::new()),
            },
            "line" => PaintSpec::Line {
                color: typed(&mut props, "line-color", Color::BLACK),
                opacity: typed(&mut props, "line-opacity", 1.0),
                width: typed(&mut props, "line-width", 1.0),
                gap_width: typed(&mut props, "line-gap-width", 0.0),
                offset: typed(&mut props, "line-offset", 0.0),
                blur: typed(&mut props, "line-blur", 0.0),
                dasharray: props
                    .contains_key("line-dasharray")
                    .then(|| typed(&mut props, "line-dasharray", Vec::new())),
                cap: typed(&mut props, "line-cap", LineCap::Butt),
                join: typed(&mut props, "line-join", LineJoin::Miter),
                miter_limit: typed(&mut props, "line-miter-limit", 2.0),
                round_limit: typed(&mut props, "line-round-limit", 1.05),
                pattern: optional(&mut props, "line-pattern"),
                translate: typed(&mut props, "line-translate", Vec::new()),
            },
            "symbol" => {
                let (font, font_expr) = self.text_font(layer);
                // `format` sections' fonts: drawn in the label's face, so say where they
                // would pick another.
                let layer_faces: Vec<FaceStyle> = match layer
                    .get("layout")
                    .and_then(|l| l.get("text-font"))
                    .filter(|_| font_expr.is_some())
                {
                    Some(v) => compile::faces_written(v),
                    None => vec![font.face],
                };
                for (at, faces) in std::mem::take(&mut self.compiler.section_fonts) {
                    let same = !faces.is_empty()
                        && !layer_faces.is_empty()
                        && faces
                            .iter()
                            .chain(&layer_faces)
                            .all(|f| *f == layer_faces[0]);
                    if !same {
                        self.warn(format!(
                            "{at}: this \"format\" section's text-font picks another face than the layer's; it is drawn in the layer's"
                        ));
                    }
                }
                // `text-overlap` (newer) wins over `text-allow-overlap` when both are set.
                let allow_overlap = match props.remove("text-overlap") {
                    Some(Compiled::Const(Lit::Str(s))) => {
                        if &*s == "cooperative" {
                            self.warn(format!(
                                "{path}.layout.text-overlap: \"cooperative\" is treated as \"never\""
                            ));
                        }
                        Prop::Const(&*s == "always")
                    }
                    Some(_) => {
                        self.warn(format!(
                            "{path}.layout.text-overlap: expressions are not supported; using text-allow-overlap"
                        ));
                        typed(&mut props, "text-allow-overlap", false)
                    }
                    None => typed(&mut props, "text-allow-overlap", false),
                };
                let icon_allow_overlap = match props.remove("icon-overlap") {
                    Some(Compiled::Const(Lit::Str(s))) => Prop::Const(&*s == "always"),
                    _ => typed(&mut props, "icon-allow-overlap", false),
                };
                PaintSpec::Symbol(Box::new(SymbolSpec {
                    placement: typed(&mut props, "symbol-placement", SymbolPlacement::Point),
                    spacing: typed(&mut props, "symbol-spacing", 250.0),
                    avoid_edges: typed(&mut props, "symbol-avoid-edges", false),
                    z_order: typed(&mut props, "symbol-z-order", ZOrder::Auto),
                    field: props
                        .contains_key("text-field")
                        .then(|| typed(&mut props, "text-field", TextValue::default())),
                    font: std::sync::Arc::new(font),
                    font_expr,
                    size: typed(&mut props, "text-size", 16.0),
                    max_width: typed(&mut props, "text-max-width", 10.0),
                    line_height: typed(&mut props, "text-line-height", 1.2),
                    letter_spacing: typed(&mut props, "text-letter-spacing", 0.0),
                    justify: typed(&mut props, "text-justify", TextJustify::Center),
                    anchor: typed(&mut props, "text-anchor", TextAnchor::Center),
                    offset: typed(&mut props, "text-offset", Pair::default()),
                    radial_offset: optional_typed(&mut props, "text-radial-offset", 0.0),
                    variable_anchor: optional_typed(
                        &mut props,
                        "text-variable-anchor",
                        AnchorList::default(),
                    ),
                    variable_anchor_offset: optional_typed(
                        &mut props,
                        "text-variable-anchor-offset",
                        AnchorOffsets::default(),
                    ),
                    rotate: typed(&mut props, "text-rotate", 0.0),
                    padding: typed(&mut props, "text-padding", 2.0),
                    max_angle: typed(&mut props, "text-max-angle", 45.0),
                    keep_upright: typed(&mut props, "text-keep-upright", true),
                    transform: typed(&mut props, "text-transform", TextTransform::None),
                    allow_overlap,
                    ignore_placement: typed(&mut props, "text-ignore-placement", false),
                    optional: typed(&mut props, "text-optional", false),
                    color: typed(&mut props, "text-color", Color::BLACK),
                    opacity: typed(&mut props, "text-opacity", 1.0),
                    halo_color: typed(&mut props, "text-halo-color", Color::TRANSPARENT),
                    halo_width: typed(&mut props, "text-halo-width", 0.0),
                    halo_blur: typed(&mut props, "text-halo-blur", 0.0),
                    translate: typed(&mut props, "text-translate", Pair::default()),
                    icon_image: props
                        .contains_key("icon-image")
                        .then(|| typed(&mut props, "icon-image", TextValue::default())),
                    icon_size: typed(&mut props, "icon-size", 1.0),
                    icon_anchor: typed(&mut props, "icon-anchor", TextAnchor::Center),
                    icon_offset: typed(&mut props, "icon-offset", Pair::default()),
                    icon_text_fit: typed(&mut props, "icon-text-fit", IconTextFit::None),
                    icon_text_fit_padding: typed(
                        &mut props,
                        "icon-text-fit-padding",
                        Quad::default(),
                    ),
                    icon_allow_overlap,
                    icon_ignore_placement: typed(&mut props, "icon-ignore-placement", false),
                    icon_optional: typed(&mut props, "icon-optional", false),
                    icon_padding: Prop::Const(self.icon_padding(layer)),
                    icon_rotate: typed(&mut props, "icon-rotate", 0.0),
                    icon_opacity: typed(&mut props, "icon-opacity", 1.0),
                }))
            }
            _ => PaintSpec::Circle {
                color: typed(&mut props, "circle-color", Color::BLACK),
                opacity: typed(&mut props, "circle-opacity", 1.0),
                radius: typed(&mut props, "circle-radius", 5.0),
                blur: typed(&mut props, "circle-blur", 0.0),
                stroke_width: typed(&mut props, "circle-stroke-width", 0.0),
                stroke_color: typed(&mut props, "circle-stroke-color", Color::BLACK),
                stroke_opacity: typed(&mut props, "circle-stroke-opacity", 1.0),
                translate: typed(&mut props, "circle-translate", Vec::new()),
            },
        };
        let mut paint = paint;
        let shared = compile::share_common(&mut paint.exprs_mut());
        Ok(Some(StyleLayer::new(
            self.id.to_string(),
            kind,
            source_layer,
            minzoom,
            maxzoom,
            visible,
            filter,
            sort_key,
            paint,
            shared,
        )))
    }

    /// Compiles one property value: a constant, a legacy function or an expression.
    /// `Ok(None)` when it uses something unsupported (a warning was recorded).
    fn property(
        &mut self,
        value: &Json,
        path: &str,
        spec: &PSpec,
    ) -> Result<Option<Compiled>, StyleError> {
        let compiled = match value {
            Json::Object(obj) => {
                let fspec = FnSpec { ty: spec.ty, default: spec.default.lit(), interpolated: spec.interpolated };
                self.compiler.legacy_function(obj, Path::Root(path), &fspec).map(fold)
            }
            v if is_expression(v) => self.compiler.expression(v, Path::Root(path), spec.ty).and_then(|(e, t)| {
                if !compile::zoom_curve_is_top_level(&e) {
                    self.compiler.warnings.push(format!(
                        "{path}: \"zoom\" is only allowed as the input of a top-level \"step\" or \"interpolate\" \
                         (MapLibre rejects this style; evaluated anyway)"
                    ));
                }
                if spec.ty.name() != t.name() && !matches!(t, Ty::Value | Ty::Null) && !(spec.ty == Ty::Color && t == Ty::String) {
                    return Err(CompileError {
                        path: path.to_string(),
                        message: format!("expected {} but the expression returns {}", spec.ty.name(), t.name()),
                        unsupported: false,
                    });
                }
                Ok(fold(e))
            }),
            v => return self.constant(v, path, spec).map(Some),
        };
        let e = match compiled {
            Ok(e) => e,
            Err(e) if e.unsupported => {
                self.warn(format!("{}: {}; using the default", e.path, e.message));
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        match e {
            Expr::Lit(l) => {
                if !val_matches(&l.as_val(), spec.ty) {
                    return Err(invalid(
                        path,
                        format!(
                            "expected {}, but it evaluates to {}",
                            spec.ty.name(),
                            lit_text(&l)
                        ),
                    ));
                }
                Ok(Some(Compiled::Const(self.clamp(l, path, spec))))
            }
            e => Ok(Some(Compiled::Expr(e))),
        }
    }

    fn constant(&mut self, v: &Json, path: &str, spec: &PSpec) -> Result<Compiled, StyleError> {
        let what = match spec.ty {
            Ty::Number => "number",
            Ty::Color => "color",
            Ty::Bool => "boolean",
            Ty::Array => "array of numbers",
            _ => "string",
        };
        let lit = match (spec.ty, v) {
            (Ty::Number, Json::Number(n)) => Lit::Num(n.as_f64().unwrap_or(0.0)),
            (Ty::Bool, Json::Bool(b)) => Lit::Bool(*b),
            (Ty::Color, Json::String(s)) => match Color::parse(s) {
                Some(c) => Lit::Color(c),
                None => {
                    return Err(invalid(
                        path,
                        format!("expected color or expression, got {}", describe(v)),
                    ))
                }
            },
            (Ty::Enum(values), Json::String(s)) if values.contains(&s.as_str()) => {
                Lit::Str(s.as_str().into())
            }
            (Ty::Enum(values), _) => {
                let list = values
                    .iter()
                    .map(|v| format!("\"{v}\""))
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(invalid(
                    path,
                    format!(
                        "expected one of {list} or an expression, got {}",
                        describe(v)
                    ),
                ));
            }
            (Ty::Array, Json::Array(a)) if a.iter().all(Json::is_number) => Lit::from_json(v),
            (Ty::String, Json::String(s)) => Lit::Str(s.as_str().into()),
            _ => {
                return Err(invalid(
                    path,
                    format!("expected {what} or expression, got {}", describe(v)),
                ))
            }
        };
        Ok(Compiled::Const(self.clamp(lit, path, spec)))
    }

    fn clamp(&mut self, lit: Lit, path: &str, spec: &PSpec) -> Lit {
        match lit {
            Lit::Num(n) if n < spec.min || n > spec.max => {
                let c = n.clamp(spec.min, spec.max);
                self.warn(format!(
                    "{path}: {n} is outside {}..{}, using {c}",
                    spec.min, spec.max
                ));
                Lit::Num(c)
            }
            Lit::Array(a)
                if spec.name == "line-dasharray"
                    && a.iter().any(|x| matches!(x, Lit::Num(n) if *n < 0.0)) =>
            {
                self.warn(format!(
                    "{path}: dash lengths must not be negative, using 0"
                ));
                Lit::Array(
                    a.into_iter()
                        .map(|x| {
                            if let Lit::Num(n) = x {
                                Lit::Num(n.max(0.0))
                            } else {
                                x
                            }
                        })
                        .collect(),
                )
            }
            other => other,
        }
    }
}

fn lit_text(l: &Lit) -> String {
    match l {
        Lit::Null => "null".into(),
        Lit::Num(n) => {
            let mut s = String::new();
            super::expr::write_js_number(&mut s, *n);
            s
        }
        Lit::Bool(b) => b.to_string(),
        Lit::Str(s) => format!("{:?}", &**s),
        Lit::Color(c) => c.to_string(),
        Lit::Array(_) => "an array".into(),
        Lit::Object(_) => "an object".into(),
    }
}

impl LayerParser<'_, '_> {
    /// `text-font` → the embedded face standing in for it, and the compiled value when it is
    /// a legacy function or an expression (evaluated per feature; the first font stack
    /// written in it stands in where that fails). A constant array (or `literal`) is read
    /// directly.
    fn text_font(&mut self, layer: &Map<String, Json>) -> (FontStack, Option<Prop<FontNames>>) {
        let Some(v) = layer.get("layout").and_then(|l| l.get("text-font")) else {
            return (FontStack::default_stack(), None);
        };
        let constant = constant_text_font(v);
        if let Some(c) = constant {
            return (c, None);
        }
        // Data-driven or zoom-dependent (Protomaps' `["case", …, ["literal", [...]], …]`):
        // compiled and evaluated per feature; the first stack written in it stands in where
        // an evaluation fails.
        let path = format!("{}.layout.text-font", self.path);
        let spec = SYMBOL
            .iter()
            .find(|s| s.name == "text-font")
            .expect("text-font is in the symbol table");
        let fallback = first_text_font(v);
        let before = self.compiler.warnings.len();
        match self.property(v, &path, spec) {
            Ok(Some(Compiled::Expr(e))) => (fallback, Some(Prop::Expr(Box::new(e)))),
            Ok(Some(Compiled::Const(l))) => {
                let names = FontNames::from_val(&l.as_val()).map(|n| FontStack::from_names(n.0));
                (names.unwrap_or(fallback), None)
            }
            Ok(None) => {
                // Said as "using the default"; what stands in is the first stack written.
                let said: Vec<String> = self.compiler.warnings.drain(before..).collect();
                for w in said {
                    let w = w.replace(
                        "; using the default",
                        &format!("; using {:?}", fallback.names),
                    );
                    self.warn(w);
                }
                (fallback, None)
            }
            Err(e) => {
                self.compiler.warnings.truncate(before);
                self.warn(format!("{path}: {e}; using {:?}", fallback.names));
                (fallback, None)
            }
        }
    }
}

impl LayerParser<'_, '_> {
    /// `icon-padding`: a number, or (newer specs) an array of 1 to 4 sides, of which the
    /// largest is used (collision boxes here have one padding). Expressions get the default.
    fn icon_padding(&mut self, layer: &Map<String, Json>) -> f32 {
        let Some(v) = layer.get("layout").and_then(|l| l.get("icon-padding")) else {
            return 2.0;
        };
        let sides: Option<Vec<f64>> = match v {
            Json::Number(n) => n.as_f64().map(|n| vec![n]),
            Json::Array(a) if (1..=4).contains(&a.len()) => a.iter().map(Json::as_f64).collect(),
            _ => None,
        };
        match sides {
            Some(s) => s.into_iter().fold(0.0f64, f64::max).max(0.0) as f32,
            None => {
                let path = self.path;
                self.warn(format!(
                    "{path}.layout.icon-padding: only constant paddings are supported; using 2"
                ));
                2.0
            }
        }
    }
}

/// A constant `text-font` (an array of names, or its `literal`).
fn constant_text_font(v: &Json) -> Option<FontStack> {
    let literal = || {
        v.as_array()
            .filter(|a| a.len() == 2 && a[0] == "literal")
            .and_then(|a| compile::strings(&a[1]))
    };
    compile::font_stack_written(v)
        .or_else(literal)
        .map(FontStack::from_names)
}

/// The first font stack written anywhere in a `text-font` function or expression.
fn first_text_font(v: &Json) -> FontStack {
    compile::font_stacks_written(v)
        .into_iter()
        .next()
        .map_or_else(FontStack::default_stack, FontStack::from_names)
}

/// A `text-variable-anchor(-offset)` constant (`["top", "left"]`, `["top", [0, 1], …]`)
/// reads like an expression whose operator is an anchor name: as a literal it is one value.
fn anchor_list_json(v: &Json) -> Json {
    match v {
        Json::Array(a)
            if a.first()
                .and_then(Json::as_str)
                .is_some_and(|s| TEXT_ANCHOR.contains(&s)) =>
        {
            serde_json::json!(["literal", v])
        }
        other => other.clone(),
    }
}

/// `text-field` as MapLibre reads it: a string with `{token}`s is a template for
/// `["concat", "a ", ["to-string", ["get", "token"]], ...]`; legacy function stops get the
/// same treatment. Other values pass through.
fn text_field_json(v: &Json) -> Json {
    fn template(s: &str) -> Json {
        if !s.contains('{') {
            return Json::String(s.to_string());
        }
        let mut parts: Vec<Json> = Vec::new();
        let mut rest = s;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}').map(|c| c + open) else {
                break;
            };
            if open > 0 {
                parts.push(Json::String(rest[..open].to_string()));
            }
            let key = &rest[open + 1..close];
            parts.push(serde_json::json!(["to-string", ["get", key]]));
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Json::String(rest.to_string()));
        }
        match parts.len() {
            0 => Json::String(String::new()),
            1 if parts[0].is_array() => parts.remove(0),
            _ => {
                let mut c = vec![Json::String("concat".into())];
                c.extend(parts);
                Json::Array(c)
            }
        }
    }
    match v {
        Json::String(s) => template(s),
        // A zoom function of templates: ["step", ["zoom"], t0, z1, t1, ...] (interval
        // semantics, as legacy string functions have).
        Json::Object(o) if !o.contains_key("property") => {
            let Some(Json::Array(stops)) = o.get("stops") else {
                return v.clone();
            };
            let pairs: Option<Vec<(&Json, &str)>> = stops
                .iter()
                .map(|s| match s.as_array().map(Vec::as_slice) {
                    Some([z, Json::String(t)]) if z.is_number() => Some((z, t.as_str())),
                    _ => None,
                })
                .collect();
            match pairs {
                Some(p) if !p.is_empty() && p.iter().any(|(_, t)| t.contains('{')) => {
                    let mut e = vec![serde_json::json!("step"), serde_json::json!(["zoom"])];
                    e.push(template(p[0].1));
                    for (z, t) in &p[1..] {
                        e.push((*z).clone());
                        e.push(template(t));
                    }
                    Json::Array(e)
                }
                _ => v.clone(),
            }
        }
        other => other.clone(),
    }
}

/// Takes a compiled property out of `props` as a typed [`Prop`], or its default.
/// [`typed`] for a property whose absence means something: `None` when the style lacks it.
fn optional_typed<T: FromVal + Clone>(
    props: &mut HashMap<&'static str, Compiled>,
    name: &str,
    default: T,
) -> Option<Prop<T>> {
    props
        .contains_key(name)
        .then(|| typed(props, name, default))
}

fn typed<T: FromVal + Clone>(
    props: &mut HashMap<&'static str, Compiled>,
    name: &str,
    default: T,
) -> Prop<T> {
    match props.remove(name) {
        None => Prop::Const(default),
        Some(Compiled::Const(l)) => Prop::Const(T::from_val(&l.as_val()).unwrap_or(default)),
        Some(Compiled::Expr(e)) => Prop::Expr(Box::new(e)),
    }
}
