//! MapLibre Style Spec v8, the subset a CPU renderer without text needs: parse once into a
//! compiled representation (enum trees with keys resolved), evaluate per feature and zoom.
//!
//! * Layers `background`, `fill`, `line`, `circle`; `fill-extrusion` is drawn as a flat fill.
//!   `symbol`, `raster`, `hillshade`, `heatmap` layers are skipped with a warning.
//! * Filters: legacy (`["==", "class", "park"]`, `in`, `has`, `$type`, `$id`...) and
//!   expressions, told apart as MapLibre's `isExpressionFilter` does.
//! * Paint/layout values: constants, legacy functions (`{"stops": ..}`, zoom, property and
//!   zoom-and-property) and expressions.
//! * Errors carry the JSON path (`layers[12].paint.line-width: ...`); unknown keys and
//!   unsupported-but-valid constructs are warnings ([`Style::warnings`]).

mod color;
mod compile;
mod expr;
mod parse;

pub use color::Color;

use std::sync::{Arc, OnceLock};

use crate::mvt::FeatureRef;
use expr::{Ctx, Expr, Lit, Memo, Val};

/// Why a style was refused. The message starts with the JSON path of the problem.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StyleError {
    /// The text is not JSON at all.
    #[error("style: not valid JSON at line {line} column {column}: {message}")]
    Json { line: usize, column: usize, message: String },
    /// The JSON is not a valid style; `path` is e.g. `layers[3].filter`.
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

/// A parsed, compiled style. Cloning is cheap (the compiled layers are shared).
#[derive(Debug, Clone)]
pub struct Style {
    name: Option<Arc<str>>,
    hash: Arc<str>,
    warnings: Arc<[String]>,
    layers: Arc<[StyleLayer]>,
}

impl Style {
    /// The built-in styles, selectable by name.
    pub const BUILTIN_NAMES: &'static [&'static str] = &["default", "omt", "light"];

    /// Parses a MapLibre Style Spec v8 document.
    pub fn from_json(text: &str) -> Result<Style, StyleError> {
        parse::parse_style(text)
    }

    /// A built-in style by name (see [`Style::BUILTIN_NAMES`]). Parsed once per process,
    /// then shared: later calls only clone a handle.
    pub fn builtin(name: &str) -> Option<Style> {
        static CACHE: [OnceLock<Style>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
        let i = Style::BUILTIN_NAMES.iter().position(|n| *n == name)?;
        let json = Style::builtin_json(name)?;
        Some(CACHE[i].get_or_init(|| Style::from_json(json).expect("built-in styles are valid")).clone())
    }

    /// The JSON text of a built-in style, e.g. to let users download and edit it.
    pub fn builtin_json(name: &str) -> Option<&'static str> {
        match name {
            "default" => Some(include_str!("builtin/default.json")),
            "omt" => Some(include_str!("builtin/omt.json")),
            "light" => Some(include_str!("builtin/light.json")),
            _ => None,
        }
    }

    /// The style's `name`, if it has one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// A stable hash of the style (16 hex chars): SHA-256 over a canonical serialization of
    /// the parsed JSON, so whitespace and key order do not matter but any value does.
    pub fn hash_hex(&self) -> &str {
        &self.hash
    }

    /// Non-fatal problems: unknown keys, skipped layers, unsupported features.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The drawable layers, in draw order (first = bottom).
    pub fn layers(&self) -> &[StyleLayer] {
        &self.layers
    }
}

/// How a layer is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LayerKind {
    Background,
    Fill,
    Line,
    Circle,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LineCap {
    Butt,
    Round,
    Square,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LineJoin {
    Bevel,
    Round,
    Miter,
}

/// Evaluated paint of one feature. Widths, radii and offsets are CSS pixels at style zoom
/// (scale 1); `dasharray` is in line-width multiples; opacities are clamped to `0..=1`.
#[derive(Debug, Clone, PartialEq)]
pub enum Paint {
    Background {
        color: Color,
        opacity: f32,
    },
    Fill {
        color: Color,
        opacity: f32,
        /// `fill-outline-color` when set and `fill-antialias` is on.
        outline_color: Option<Color>,
        antialias: bool,
    },
    Line {
        color: Color,
        opacity: f32,
        width: f32,
        gap_width: f32,
        offset: f32,
        dasharray: Option<Vec<f32>>,
        cap: LineCap,
        join: LineJoin,
        miter_limit: f32,
        blur: f32,
    },
    Circle {
        color: Color,
        opacity: f32,
        radius: f32,
        stroke_width: f32,
        stroke_color: Color,
        stroke_opacity: f32,
        blur: f32,
    },
}

/// A compiled property value.
#[derive(Debug, Clone)]
pub(crate) enum Prop<T> {
    Const(T),
    Expr(Box<Expr>),
}

/// Conversion of an evaluated value to a property's Rust type.
pub(crate) trait FromVal: Sized {
    fn from_val(v: &Val<'_>) -> Option<Self>;
}

impl FromVal for f32 {
    fn from_val(v: &Val<'_>) -> Option<f32> {
        v.as_num().filter(|n| n.is_finite()).map(|n| n as f32)
    }
}

impl FromVal for f64 {
    fn from_val(v: &Val<'_>) -> Option<f64> {
        v.as_num().filter(|n| n.is_finite())
    }
}

impl FromVal for Color {
    fn from_val(v: &Val<'_>) -> Option<Color> {
        v.as_color()
    }
}

impl FromVal for bool {
    fn from_val(v: &Val<'_>) -> Option<bool> {
        match v {
            Val::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

impl FromVal for LineCap {
    fn from_val(v: &Val<'_>) -> Option<LineCap> {
        match v {
            Val::Str(s) => match s.as_ref() {
                "butt" => Some(LineCap::Butt),
                "round" => Some(LineCap::Round),
                "square" => Some(LineCap::Square),
                _ => None,
            },
            _ => None,
        }
    }
}

impl FromVal for LineJoin {
    fn from_val(v: &Val<'_>) -> Option<LineJoin> {
        match v {
            Val::Str(s) => match s.as_ref() {
                "bevel" => Some(LineJoin::Bevel),
                "round" => Some(LineJoin::Round),
                "miter" => Some(LineJoin::Miter),
                _ => None,
            },
            _ => None,
        }
    }
}

impl FromVal for Vec<f32> {
    fn from_val(v: &Val<'_>) -> Option<Vec<f32>> {
        match v {
            Val::Array(a) => a
                .iter()
                .map(|l| match l {
                    Lit::Num(n) if n.is_finite() => Some(n.max(0.0) as f32),
                    _ => None,
                })
                .collect(),
            _ => None,
        }
    }
}

impl<T: FromVal + Clone> Prop<T> {
    /// The value for `ctx`; `default` when the expression fails or yields the wrong type
    /// (MapLibre falls back to the property default the same way).
    #[inline]
    fn eval<'a>(&'a self, ctx: &Ctx<'a, '_>, default: T) -> T {
        match self {
            Prop::Const(v) => v.clone(),
            Prop::Expr(e) => match e.eval(ctx) {
                Ok(v) => {
                    let r = T::from_val(&v).unwrap_or(default);
                    v.discard();
                    r
                }
                Err(_) => default,
            },
        }
    }
}

// Spec defaults.
const DEFAULT_COLOR: Color = Color::BLACK;
const DEFAULT_LINE_WIDTH: f32 = 1.0;
const DEFAULT_MITER_LIMIT: f32 = 2.0;
const DEFAULT_CIRCLE_RADIUS: f32 = 5.0;

#[derive(Debug, Clone)]
pub(crate) enum PaintSpec {
    Background {
        color: Prop<Color>,
        opacity: Prop<f32>,
    },
    Fill {
        color: Prop<Color>,
        opacity: Prop<f32>,
        outline_color: Option<Prop<Color>>,
        antialias: Prop<bool>,
    },
    Line {
        color: Prop<Color>,
        opacity: Prop<f32>,
        width: Prop<f32>,
        gap_width: Prop<f32>,
        offset: Prop<f32>,
        blur: Prop<f32>,
        dasharray: Option<Prop<Vec<f32>>>,
        cap: Prop<LineCap>,
        join: Prop<LineJoin>,
        miter_limit: Prop<f32>,
    },
    Circle {
        color: Prop<Color>,
        opacity: Prop<f32>,
        radius: Prop<f32>,
        blur: Prop<f32>,
        stroke_width: Prop<f32>,
        stroke_color: Prop<Color>,
        stroke_opacity: Prop<f32>,
    },
}

impl PaintSpec {
    /// The expression-valued properties (for sharing common subexpressions).
    pub(crate) fn exprs_mut(&mut self) -> Vec<&mut Expr> {
        let mut out: Vec<&mut Expr> = Vec::new();
        macro_rules! push {
            ($($p:expr),*) => {$(
                if let Prop::Expr(x) = $p {
                    out.push(&mut **x);
                }
            )*};
        }
        match self {
            PaintSpec::Background { color, opacity } => {
                push!(color, opacity);
            }
            PaintSpec::Fill { color, opacity, outline_color, antialias } => {
                push!(color, opacity, antialias);
                if let Some(Prop::Expr(x)) = outline_color {
                    out.push(&mut **x);
                }
            }
            PaintSpec::Line { color, opacity, width, gap_width, offset, blur, dasharray, cap, join, miter_limit } => {
                push!(color, opacity, width, gap_width, offset, blur, cap, join, miter_limit);
                if let Some(Prop::Expr(x)) = dasharray {
                    out.push(&mut **x);
                }
            }
            PaintSpec::Circle { color, opacity, radius, blur, stroke_width, stroke_color, stroke_opacity } => {
                push!(color, opacity, radius, blur, stroke_width, stroke_color, stroke_opacity);
            }
        }
        out
    }
}

/// One drawable layer of a [`Style`].
#[derive(Debug, Clone)]
pub struct StyleLayer {
    id: String,
    kind: LayerKind,
    source_layer: Option<String>,
    minzoom: f64,
    maxzoom: f64,
    visible: bool,
    filter: Option<Expr>,
    sort_key: Option<Expr>,
    paint: PaintSpec,
    /// Subexpressions shared by several paint properties ([`Expr::Shared`]).
    shared: Vec<Expr>,
}

fn opacity(v: f32) -> f32 {
    v.clamp(0.0, 1.0)
}

fn non_negative(v: f32) -> f32 {
    v.max(0.0)
}

impl StyleLayer {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn kind(&self) -> LayerKind {
        self.kind
    }

    /// The `source-layer` (MVT layer name) the layer draws.
    pub fn source_layer(&self) -> Option<&str> {
        self.source_layer.as_deref()
    }

    /// minzoom <= zoom < maxzoom and `visibility` is not `none`; `zoom` is the style zoom.
    pub fn visible_at(&self, zoom: f64) -> bool {
        self.visible && zoom >= self.minzoom && zoom < self.maxzoom
    }

    /// Whether the filter accepts this feature (true if there is no filter). Evaluation
    /// errors reject the feature, as in MapLibre.
    #[inline]
    pub fn matches(&self, feature: &FeatureRef<'_>, zoom: f64) -> bool {
        match &self.filter {
            None => true,
            Some(f) => f.test(&Ctx::new(Some(*feature), zoom)),
        }
    }

    /// `fill-`/`line-`/`circle-sort-key`, if the layer has one and it evaluates to a number.
    pub fn sort_key(&self, feature: &FeatureRef<'_>, zoom: f64) -> Option<f64> {
        let e = self.sort_key.as_ref()?;
        let ctx = Ctx::new(Some(*feature), zoom);
        e.eval(&ctx).ok().and_then(|v| v.as_num()).filter(|n| n.is_finite())
    }

    /// Paint for a feature (`None` for background layers, which take no feature).
    pub fn paint(&self, feature: Option<&FeatureRef<'_>>, zoom: f64) -> Paint {
        let memo = Memo::new(&self.shared);
        let ctx = if self.shared.is_empty() {
            Ctx::new(feature.copied(), zoom)
        } else {
            Ctx::with_memo(feature.copied(), zoom, &memo)
        };
        let ctx = &ctx;
        match &self.paint {
            PaintSpec::Background { color, opacity: o } => Paint::Background {
                color: color.eval(ctx, DEFAULT_COLOR),
                opacity: opacity(o.eval(ctx, 1.0)),
            },
            PaintSpec::Fill { color, opacity: o, outline_color, antialias } => {
                let antialias = antialias.eval(ctx, true);
                Paint::Fill {
                    color: color.eval(ctx, DEFAULT_COLOR),
                    opacity: opacity(o.eval(ctx, 1.0)),
                    outline_color: match outline_color {
                        Some(c) if antialias => match c {
                            Prop::Const(c) => Some(*c),
                            // An expression failing means "unset" (the fill colour).
                            Prop::Expr(e) => e.eval(ctx).ok().and_then(|v| v.as_color()),
                        },
                        _ => None,
                    },
                    antialias,
                }
            }
            PaintSpec::Line { color, opacity: o, width, gap_width, offset, blur, dasharray, cap, join, miter_limit } => {
                Paint::Line {
                    color: color.eval(ctx, DEFAULT_COLOR),
                    opacity: opacity(o.eval(ctx, 1.0)),
                    width: non_negative(width.eval(ctx, DEFAULT_LINE_WIDTH)),
                    gap_width: non_negative(gap_width.eval(ctx, 0.0)),
                    offset: offset.eval(ctx, 0.0),
                    dasharray: match dasharray {
                        Some(Prop::Const(d)) => Some(d.clone()),
                        Some(Prop::Expr(e)) => e.eval(ctx).ok().and_then(|v| Vec::<f32>::from_val(&v)),
                        None => None,
                    },
                    cap: cap.eval(ctx, LineCap::Butt),
                    join: join.eval(ctx, LineJoin::Miter),
                    miter_limit: miter_limit.eval(ctx, DEFAULT_MITER_LIMIT),
                    blur: non_negative(blur.eval(ctx, 0.0)),
                }
            }
            PaintSpec::Circle { color, opacity: o, radius, blur, stroke_width, stroke_color, stroke_opacity } => {
                Paint::Circle {
                    color: color.eval(ctx, DEFAULT_COLOR),
                    opacity: opacity(o.eval(ctx, 1.0)),
                    radius: non_negative(radius.eval(ctx, DEFAULT_CIRCLE_RADIUS)),
                    stroke_width: non_negative(stroke_width.eval(ctx, 0.0)),
                    stroke_color: stroke_color.eval(ctx, DEFAULT_COLOR),
                    stroke_opacity: opacity(stroke_opacity.eval(ctx, 1.0)),
                    blur: blur.eval(ctx, 0.0),
                }
            }
        }
    }
}
