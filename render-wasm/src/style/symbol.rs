//! `symbol` layers: the compiled layout and paint properties the label stage
//! ([`crate::labels`]) reads, and their evaluation per feature.
//!
//! Units follow the style spec: sizes and offsets in CSS px at scale 1 unless the spec says
//! em (`text-max-width`, `text-line-height`, `text-letter-spacing`, `text-offset` are ems of
//! `text-size`); angles in degrees.

use std::sync::Arc;

use super::color::Color;
use super::expr::{Ctx, Val};
use super::{FromVal, Prop};
use crate::mvt::FeatureRef;

/// `symbol-placement`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SymbolPlacement {
    Point,
    Line,
    LineCenter,
}

/// `symbol-z-order`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ZOrder {
    Auto,
    ViewportY,
    Source,
}

/// `text-anchor` (also the alignment of a text block around its anchor).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TextAnchor {
    Center,
    Left,
    Right,
    Top,
    Bottom,
    TopLeft,
    TopRight,
    BottomLeft,
    BottomRight,
}

impl TextAnchor {
    /// MapLibre's `getAnchorAlignment`: (horizontal, vertical) in 0, 0.5, 1.
    pub fn alignment(self) -> (f64, f64) {
        use TextAnchor::*;
        let h = match self {
            Right | TopRight | BottomRight => 1.0,
            Left | TopLeft | BottomLeft => 0.0,
            _ => 0.5,
        };
        let v = match self {
            Bottom | BottomRight | BottomLeft => 1.0,
            Top | TopRight | TopLeft => 0.0,
            _ => 0.5,
        };
        (h, v)
    }
}

impl TextAnchor {
    fn from_name(s: &str) -> Option<TextAnchor> {
        use TextAnchor::*;
        Some(match s {
            "center" => Center,
            "left" => Left,
            "right" => Right,
            "top" => Top,
            "bottom" => Bottom,
            "top-left" => TopLeft,
            "top-right" => TopRight,
            "bottom-left" => BottomLeft,
            "bottom-right" => BottomRight,
            _ => return None,
        })
    }

    /// MapLibre's `getAnchorJustification`: the side `text-justify: auto` takes.
    pub fn justification(self) -> TextJustify {
        match self.alignment().0 {
            h if h < 0.5 => TextJustify::Left,
            h if h > 0.5 => TextJustify::Right,
            _ => TextJustify::Center,
        }
    }
}

/// MapLibre's vertical stand-in for the baseline, layout units: a variable anchor's offset
/// from the top or bottom is measured to where glyphs appear to start ("ONE_EM - 17").
const BASELINE_OFFSET: f64 = 7.0;

/// A text block's offset for `anchor` from `text-offset` (`radial: false`; absolute values,
/// pointed away from the anchor's side) or `text-radial-offset` (`radial: true`, `offset[0]`
/// the radius), MapLibre's `evaluateVariableOffset`. Layout units in and out, y down.
pub fn variable_offset(anchor: TextAnchor, offset: [f64; 2], radial: bool) -> [f64; 2] {
    use TextAnchor::*;
    if radial {
        let r = offset[0].max(0.0);
        let h = r / std::f64::consts::SQRT_2;
        let y = match anchor {
            TopRight | TopLeft => h - BASELINE_OFFSET,
            BottomRight | BottomLeft => -h + BASELINE_OFFSET,
            Bottom => -r + BASELINE_OFFSET,
            Top => r - BASELINE_OFFSET,
            _ => 0.0,
        };
        let x = match anchor {
            TopRight | BottomRight => -h,
            TopLeft | BottomLeft => h,
            Left => r,
            Right => -r,
            _ => 0.0,
        };
        [x, y]
    } else {
        let (ox, oy) = (offset[0].abs(), offset[1].abs());
        let y = match anchor {
            TopRight | TopLeft | Top => oy - BASELINE_OFFSET,
            BottomRight | BottomLeft | Bottom => -oy + BASELINE_OFFSET,
            _ => 0.0,
        };
        let x = match anchor {
            TopRight | BottomRight | Right => -ox,
            TopLeft | BottomLeft | Left => ox,
            _ => 0.0,
        };
        [x, y]
    }
}

/// `text-variable-anchor`: the anchors to try, in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AnchorList(pub Vec<TextAnchor>);

impl FromVal for AnchorList {
    fn from_val(v: &Val<'_>) -> Option<AnchorList> {
        use super::expr::Lit;
        match v {
            Val::Array(a) => a
                .iter()
                .map(|l| match l {
                    Lit::Str(s) => TextAnchor::from_name(s),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()
                .map(AnchorList),
            _ => None,
        }
    }
}

/// `text-variable-anchor-offset`: anchors to try, in order, each with its offset (ems).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AnchorOffsets(pub Vec<(TextAnchor, [f64; 2])>);

impl FromVal for AnchorOffsets {
    fn from_val(v: &Val<'_>) -> Option<AnchorOffsets> {
        use super::expr::Lit;
        let Val::Array(a) = v else { return None };
        if a.len() % 2 != 0 {
            return None;
        }
        a.chunks(2)
            .map(|pair| match pair {
                [Lit::Str(s), Lit::Array(o)] => match o.as_slice() {
                    [Lit::Num(x), Lit::Num(y)] if x.is_finite() && y.is_finite() => {
                        Some((TextAnchor::from_name(s)?, [*x, *y]))
                    }
                    _ => None,
                },
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .map(AnchorOffsets)
    }
}

/// `text-justify` (`auto` resolves to the anchor's side, as MapLibre does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TextJustify {
    Auto,
    Left,
    Center,
    Right,
}

/// `text-transform`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TextTransform {
    None,
    Uppercase,
    Lowercase,
}

/// `icon-text-fit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IconTextFit {
    None,
    Width,
    Height,
    Both,
}

/// Four numbers (`icon-text-fit-padding`: top, right, bottom, left; CSS px).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Quad(pub [f32; 4]);

impl FromVal for Quad {
    fn from_val(v: &Val<'_>) -> Option<Quad> {
        use super::expr::Lit;
        match v {
            Val::Array(a) => match a.as_ref() {
                [Lit::Num(t), Lit::Num(r), Lit::Num(b), Lit::Num(l)] => {
                    Some(Quad([*t as f32, *r as f32, *b as f32, *l as f32]))
                }
                _ => None,
            },
            _ => None,
        }
    }
}

/// Which embedded face a `text-font` stack resolves to (see [`FontStack`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaceStyle {
    Regular,
    Bold,
    Italic,
}

/// A `text-font` value: the stack's names, as written, and the embedded face that stands in
/// for them (chosen by the first name's weight/slope words: "Bold", "Black", "Heavy",
/// "Semibold", "Demi" → bold; "Italic", "Oblique" → italic; otherwise regular).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FontStack {
    pub names: Vec<String>,
    pub face: FaceStyle,
}

impl FontStack {
    /// MapLibre's default `["Open Sans Regular", "Arial Unicode MS Regular"]`.
    pub fn default_stack() -> FontStack {
        FontStack::from_names(vec![
            "Open Sans Regular".to_string(),
            "Arial Unicode MS Regular".to_string(),
        ])
    }

    pub fn from_names(names: Vec<String>) -> FontStack {
        let first = names
            .first()
            .map(|s| s.to_ascii_lowercase())
            .unwrap_or_default();
        let face = if first.contains("italic") || first.contains("oblique") {
            FaceStyle::Italic
        } else if ["bold", "black", "heavy", "semibold", "demi"]
            .iter()
            .any(|w| first.contains(w))
        {
            FaceStyle::Bold
        } else {
            FaceStyle::Regular
        };
        FontStack { names, face }
    }
}

/// A `text-font` value evaluated per feature: the stack's names.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FontNames(pub Vec<String>);

impl FromVal for FontNames {
    fn from_val(v: &Val<'_>) -> Option<FontNames> {
        use super::expr::Lit;
        match v {
            Val::Array(a) if !a.is_empty() => a
                .iter()
                .map(|l| match l {
                    Lit::Str(s) => Some(s.to_string()),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()
                .map(FontNames),
            _ => None,
        }
    }
}

/// Signed pairs (`text-offset`, `text-translate`); the generic `Vec<f32>` conversion clamps
/// at 0, which is right for dash arrays only.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Pair(pub [f32; 2]);

impl FromVal for Pair {
    fn from_val(v: &Val<'_>) -> Option<Pair> {
        use super::expr::Lit;
        match v {
            Val::Array(a) => match a.as_ref() {
                [Lit::Num(x), Lit::Num(y)] if x.is_finite() && y.is_finite() => {
                    Some(Pair([*x as f32, *y as f32]))
                }
                _ => None,
            },
            _ => None,
        }
    }
}

/// `text-field` coerced to a string as MapLibre does (`toString` of numbers and booleans).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TextValue(pub String);

impl FromVal for TextValue {
    fn from_val(v: &Val<'_>) -> Option<TextValue> {
        match v {
            Val::Str(s) => Some(TextValue(s.to_string())),
            Val::Num(n) => {
                let mut s = String::new();
                super::expr::write_js_number(&mut s, *n);
                Some(TextValue(s))
            }
            Val::Bool(b) => Some(TextValue(b.to_string())),
            Val::Null => Some(TextValue(String::new())),
            _ => None,
        }
    }
}

macro_rules! enum_from_val {
    ($t:ty, $($s:literal => $v:expr),* $(,)?) => {
        impl FromVal for $t {
            fn from_val(v: &Val<'_>) -> Option<$t> {
                match v {
                    Val::Str(s) => match s.as_ref() {
                        $($s => Some($v),)*
                        _ => None,
                    },
                    _ => None,
                }
            }
        }
    };
}

enum_from_val!(SymbolPlacement, "point" => SymbolPlacement::Point, "line" => SymbolPlacement::Line, "line-center" => SymbolPlacement::LineCenter);
enum_from_val!(ZOrder, "auto" => ZOrder::Auto, "viewport-y" => ZOrder::ViewportY, "source" => ZOrder::Source);
enum_from_val!(TextJustify, "auto" => TextJustify::Auto, "left" => TextJustify::Left, "center" => TextJustify::Center, "right" => TextJustify::Right);
enum_from_val!(IconTextFit, "none" => IconTextFit::None, "width" => IconTextFit::Width, "height" => IconTextFit::Height, "both" => IconTextFit::Both);
enum_from_val!(TextTransform, "none" => TextTransform::None, "uppercase" => TextTransform::Uppercase, "lowercase" => TextTransform::Lowercase);
enum_from_val!(TextAnchor,
    "center" => TextAnchor::Center, "left" => TextAnchor::Left, "right" => TextAnchor::Right,
    "top" => TextAnchor::Top, "bottom" => TextAnchor::Bottom, "top-left" => TextAnchor::TopLeft,
    "top-right" => TextAnchor::TopRight, "bottom-left" => TextAnchor::BottomLeft,
    "bottom-right" => TextAnchor::BottomRight);

/// The compiled properties of a `symbol` layer.
#[derive(Debug, Clone)]
pub(crate) struct SymbolSpec {
    pub placement: Prop<SymbolPlacement>,
    pub spacing: Prop<f32>,
    pub avoid_edges: Prop<bool>,
    pub z_order: Prop<ZOrder>,
    /// `None`: the layer has no `text-field` (icons only; not drawn yet).
    pub field: Option<Prop<TextValue>>,
    /// The layer's stack: a constant's, or the first written in `font_expr`.
    pub font: Arc<FontStack>,
    /// A data-driven or zoom-dependent `text-font`, evaluated per feature.
    pub font_expr: Option<Prop<FontNames>>,
    pub size: Prop<f32>,
    pub max_width: Prop<f32>,
    pub line_height: Prop<f32>,
    pub letter_spacing: Prop<f32>,
    pub justify: Prop<TextJustify>,
    pub anchor: Prop<TextAnchor>,
    pub offset: Prop<Pair>,
    /// `None`: not set (MapLibre tells "not set" from 0 for it).
    pub radial_offset: Option<Prop<f32>>,
    pub variable_anchor: Option<Prop<AnchorList>>,
    pub variable_anchor_offset: Option<Prop<AnchorOffsets>>,
    pub rotate: Prop<f32>,
    pub padding: Prop<f32>,
    pub max_angle: Prop<f32>,
    pub keep_upright: Prop<bool>,
    pub transform: Prop<TextTransform>,
    pub allow_overlap: Prop<bool>,
    pub ignore_placement: Prop<bool>,
    pub optional: Prop<bool>,
    pub color: Prop<Color>,
    pub opacity: Prop<f32>,
    pub halo_color: Prop<Color>,
    pub halo_width: Prop<f32>,
    pub halo_blur: Prop<f32>,
    pub translate: Prop<Pair>,
    /// `None`: no `icon-image`.
    pub icon_image: Option<Prop<TextValue>>,
    pub icon_size: Prop<f32>,
    pub icon_anchor: Prop<TextAnchor>,
    pub icon_offset: Prop<Pair>,
    pub icon_text_fit: Prop<IconTextFit>,
    pub icon_text_fit_padding: Prop<Quad>,
    pub icon_allow_overlap: Prop<bool>,
    pub icon_ignore_placement: Prop<bool>,
    pub icon_optional: Prop<bool>,
    pub icon_padding: Prop<f32>,
    pub icon_rotate: Prop<f32>,
    pub icon_opacity: Prop<f32>,
}

/// The evaluated layout of one feature's icon.
#[derive(Debug, Clone, PartialEq)]
pub struct IconLayout {
    /// The sprite image's name.
    pub image: String,
    pub size: f64,
    pub anchor: TextAnchor,
    /// CSS px at icon size 1 (scaled by `size`).
    pub offset: [f64; 2],
    pub text_fit: IconTextFit,
    /// Top, right, bottom, left, CSS px.
    pub text_fit_padding: [f64; 4],
    pub allow_overlap: bool,
    pub ignore_placement: bool,
    pub optional: bool,
    /// CSS px.
    pub padding: f64,
    /// Degrees clockwise.
    pub rotate: f64,
    pub opacity: f32,
}

/// The evaluated layout of one feature's text.
#[derive(Debug, Clone, PartialEq)]
pub struct SymbolLayout {
    pub placement: SymbolPlacement,
    /// CSS px between repeated line labels.
    pub spacing: f64,
    pub avoid_edges: bool,
    pub z_order: ZOrder,
    /// The text after `text-transform`; empty means no text.
    pub text: String,
    /// This feature's `text-font` (its names, and the embedded face standing in for them).
    pub font: Arc<FontStack>,
    pub icon: Option<IconLayout>,
    /// CSS px.
    pub size: f64,
    /// Ems.
    pub max_width: f64,
    pub line_height: f64,
    pub letter_spacing: f64,
    pub justify: TextJustify,
    pub anchor: TextAnchor,
    /// Ems, x right and y down (`text-radial-offset` resolved into it when set).
    pub offset: [f64; 2],
    /// `text-variable-anchor(-offset)` for point labels: the anchors to try in order, each
    /// with its offset (layout units, [`variable_offset`] applied); empty: `anchor` alone.
    pub variable_anchors: Vec<(TextAnchor, [f64; 2])>,
    /// Degrees clockwise.
    pub rotate: f64,
    /// CSS px around the collision box.
    pub padding: f64,
    /// Degrees.
    pub max_angle: f64,
    pub keep_upright: bool,
    pub allow_overlap: bool,
    pub ignore_placement: bool,
    pub optional: bool,
}

/// The evaluated paint of one feature's text.
#[derive(Debug, Clone, PartialEq)]
pub struct SymbolPaint {
    pub color: Color,
    pub opacity: f32,
    pub halo_color: Color,
    /// CSS px, at most a quarter of `text-size` (the spec's limit).
    pub halo_width: f32,
    pub halo_blur: f32,
    /// CSS px.
    pub translate: [f32; 2],
    pub icon_opacity: f32,
}

impl SymbolSpec {
    /// The feature's text after `text-transform` (empty when blank).
    fn text<'a>(&'a self, ctx: &Ctx<'a, '_>) -> String {
        let raw = match &self.field {
            Some(f) => f.eval(ctx, TextValue::default()).0,
            None => String::new(),
        };
        let transform = self.transform.eval(ctx, TextTransform::None);
        let text = match transform {
            TextTransform::None => raw,
            TextTransform::Uppercase => raw.to_uppercase(),
            TextTransform::Lowercase => raw.to_lowercase(),
        };
        if text.trim().is_empty() {
            String::new()
        } else {
            text
        }
    }

    /// The feature's `text-font` stack.
    fn font<'a>(&'a self, ctx: &Ctx<'a, '_>) -> Arc<FontStack> {
        match &self.font_expr {
            Some(p) => {
                let names = p.eval(ctx, FontNames(self.font.names.clone())).0;
                Arc::new(FontStack::from_names(names))
            }
            None => Arc::clone(&self.font),
        }
    }

    /// The feature's layout; `None` when it has neither text nor icon.
    pub(crate) fn layout<'a>(&'a self, ctx: &Ctx<'a, '_>) -> Option<SymbolLayout> {
        let text = self.text(ctx);
        let f = |p: &'a Prop<f32>, d: f32| f64::from(p.eval(ctx, d));
        let icon = self.icon_image.as_ref().and_then(|p| {
            let image = p.eval(ctx, TextValue::default()).0;
            if image.is_empty() {
                return None;
            }
            let off = self.icon_offset.eval(ctx, Pair::default()).0;
            let pad = self.icon_text_fit_padding.eval(ctx, Quad::default()).0;
            Some(IconLayout {
                image,
                size: f(&self.icon_size, 1.0).max(0.0),
                anchor: self.icon_anchor.eval(ctx, TextAnchor::Center),
                offset: [f64::from(off[0]), f64::from(off[1])],
                text_fit: self.icon_text_fit.eval(ctx, IconTextFit::None),
                text_fit_padding: pad.map(f64::from),
                allow_overlap: self.icon_allow_overlap.eval(ctx, false),
                ignore_placement: self.icon_ignore_placement.eval(ctx, false),
                optional: self.icon_optional.eval(ctx, false),
                padding: f(&self.icon_padding, 2.0).max(0.0),
                rotate: f(&self.icon_rotate, 0.0),
                opacity: self.icon_opacity.eval(ctx, 1.0).clamp(0.0, 1.0),
            })
        });
        if text.is_empty() && icon.is_none() {
            return None;
        }
        let em = 24.0;
        let offset = self.offset.eval(ctx, Pair::default()).0;
        let mut offset = [f64::from(offset[0]), f64::from(offset[1])];
        let anchor = self.anchor.eval(ctx, TextAnchor::Center);
        let radial = self.radial_offset.as_ref().map(|p| f(p, 0.0));
        // MapLibre's getTextVariableAnchorOffset: `-offset` wins, then the anchor list with
        // the radial offset (when set) or `text-offset`.
        let mut variable_anchors = Vec::new();
        if let Some(list) = self
            .variable_anchor_offset
            .as_ref()
            .map(|p| p.eval(ctx, AnchorOffsets::default()).0)
            .filter(|l| !l.is_empty())
        {
            for (a, o) in list {
                let mut o = [o[0] * em, o[1] * em];
                match a.alignment().1 {
                    v if v < 0.5 => o[1] -= BASELINE_OFFSET,
                    v if v > 0.5 => o[1] += BASELINE_OFFSET,
                    _ => {}
                }
                variable_anchors.push((a, o));
            }
        } else if let Some(list) = self
            .variable_anchor
            .as_ref()
            .map(|p| p.eval(ctx, AnchorList::default()).0)
            .filter(|l| !l.is_empty())
        {
            let (base, is_radial) = match radial {
                Some(r) => ([r * em, 0.0], true),
                None => ([offset[0] * em, offset[1] * em], false),
            };
            for a in list {
                variable_anchors.push((a, variable_offset(a, base, is_radial)));
            }
        } else if let Some(r) = radial.filter(|&r| r != 0.0) {
            let o = variable_offset(anchor, [r * em, 0.0], true);
            offset = [o[0] / em, o[1] / em];
        }
        Some(SymbolLayout {
            font: self.font(ctx),
            placement: self.placement.eval(ctx, SymbolPlacement::Point),
            spacing: f(&self.spacing, 250.0).max(1.0),
            avoid_edges: self.avoid_edges.eval(ctx, false),
            z_order: self.z_order.eval(ctx, ZOrder::Auto),
            text,
            icon,
            size: f(&self.size, 16.0).max(0.0),
            max_width: f(&self.max_width, 10.0).max(0.0),
            line_height: f(&self.line_height, 1.2),
            letter_spacing: f(&self.letter_spacing, 0.0),
            justify: self.justify.eval(ctx, TextJustify::Center),
            anchor,
            offset,
            variable_anchors,
            rotate: f(&self.rotate, 0.0),
            padding: f(&self.padding, 2.0).max(0.0),
            max_angle: f(&self.max_angle, 45.0),
            keep_upright: self.keep_upright.eval(ctx, true),
            allow_overlap: self.allow_overlap.eval(ctx, false),
            ignore_placement: self.ignore_placement.eval(ctx, false),
            optional: self.optional.eval(ctx, false),
        })
    }

    pub(crate) fn paint<'a>(&'a self, ctx: &Ctx<'a, '_>, size: f64) -> SymbolPaint {
        let halo = self.halo_width.eval(ctx, 0.0).max(0.0);
        SymbolPaint {
            color: self.color.eval(ctx, Color::BLACK),
            opacity: self.opacity.eval(ctx, 1.0).clamp(0.0, 1.0),
            halo_color: self.halo_color.eval(ctx, Color::TRANSPARENT),
            halo_width: halo.min((size / 4.0) as f32),
            halo_blur: self.halo_blur.eval(ctx, 0.0).max(0.0),
            translate: self.translate.eval(ctx, Pair::default()).0,
            icon_opacity: self.icon_opacity.eval(ctx, 1.0).clamp(0.0, 1.0),
        }
    }
}

/// `text-size` for one feature at a style zoom (CSS px), alone: MapLibre sizes collision
/// boxes with it at the tile's zoom + 1 (`layoutTextSize` in symbol_layout.ts).
pub(crate) fn text_size(spec: &SymbolSpec, feature: &FeatureRef<'_>, zoom: f64) -> f64 {
    let ctx = Ctx::new(Some(*feature), zoom);
    f64::from(spec.size.eval(&ctx, 16.0)).max(0.0)
}

/// A symbol layer's text (after `text-transform`) and `text-font` for one feature at a style
/// zoom, alone; `None` without text.
pub(crate) fn text_and_font(
    spec: &SymbolSpec,
    feature: &FeatureRef<'_>,
    zoom: f64,
) -> Option<(String, Arc<FontStack>)> {
    let ctx = Ctx::new(Some(*feature), zoom);
    let text = spec.text(&ctx);
    (!text.is_empty()).then(|| (text, spec.font(&ctx)))
}

/// Evaluates a symbol layer for one feature at a style zoom: `(layout, paint)`, or `None`
/// when the feature has no text to draw.
pub(crate) fn evaluate(
    spec: &SymbolSpec,
    feature: &FeatureRef<'_>,
    zoom: f64,
) -> Option<(SymbolLayout, SymbolPaint)> {
    let ctx = Ctx::new(Some(*feature), zoom);
    let layout = spec.layout(&ctx)?;
    let paint = spec.paint(&ctx, layout.size);
    Some((layout, paint))
}
