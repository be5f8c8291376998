//! Compiled expressions: an enum tree with keys resolved at parse time, evaluated per feature
//! without allocating for the common cases (property lookups, comparisons, `match`, zoom
//! curves). Evaluation errors are MapLibre's runtime errors: the caller falls back to the
//! property default (or rejects the feature, for filters).

use std::borrow::Cow;
use std::cell::OnceCell;
use std::cmp::Ordering;
use std::fmt::Write as _;

use super::color::Color;
use crate::mvt::{FeatureRef, Value};

/// A constant value (a JSON literal, after colour strings were parsed where a colour is
/// expected).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lit {
    Null,
    Num(f64),
    Bool(bool),
    Str(Box<str>),
    Color(Color),
    Array(Vec<Lit>),
    Object(Vec<(Box<str>, Lit)>),
}

impl Lit {
    pub(crate) fn from_json(v: &serde_json::Value) -> Lit {
        match v {
            serde_json::Value::Null => Lit::Null,
            serde_json::Value::Bool(b) => Lit::Bool(*b),
            serde_json::Value::Number(n) => Lit::Num(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(s) => Lit::Str(s.as_str().into()),
            serde_json::Value::Array(a) => Lit::Array(a.iter().map(Lit::from_json).collect()),
            serde_json::Value::Object(o) => Lit::Object(
                o.iter()
                    .map(|(k, v)| (k.as_str().into(), Lit::from_json(v)))
                    .collect(),
            ),
        }
    }

    pub(crate) fn as_val(&self) -> Val<'_> {
        match self {
            Lit::Null => Val::Null,
            Lit::Num(n) => Val::Num(*n),
            Lit::Bool(b) => Val::Bool(*b),
            Lit::Str(s) => Val::Str(Cow::Borrowed(s)),
            Lit::Color(c) => Val::Color(*c),
            Lit::Array(a) => Val::Array(Cow::Borrowed(a)),
            Lit::Object(o) => Val::Object(Cow::Borrowed(o)),
        }
    }

    fn into_val(self) -> Val<'static> {
        match self {
            Lit::Null => Val::Null,
            Lit::Num(n) => Val::Num(n),
            Lit::Bool(b) => Val::Bool(b),
            Lit::Str(s) => Val::Str(Cow::Owned(s.into())),
            Lit::Color(c) => Val::Color(c),
            Lit::Array(a) => Val::Array(Cow::Owned(a)),
            Lit::Object(o) => Val::Object(Cow::Owned(o)),
        }
    }
}

/// A runtime value. Strings and arrays borrow from the feature or the compiled style.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val<'a> {
    Null,
    Num(f64),
    Bool(bool),
    Str(Cow<'a, str>),
    Color(Color),
    Array(Cow<'a, [Lit]>),
    Object(Cow<'a, [(Box<str>, Lit)]>),
}

impl<'a> Val<'a> {
    fn from_value(v: &'a Value) -> Val<'a> {
        match v {
            Value::String(s) => Val::Str(Cow::Borrowed(s)),
            Value::Number(n) => Val::Num(*n),
            Value::Bool(b) => Val::Bool(*b),
        }
    }

    pub(crate) fn to_lit(&self) -> Lit {
        match self {
            Val::Null => Lit::Null,
            Val::Num(n) => Lit::Num(*n),
            Val::Bool(b) => Lit::Bool(*b),
            Val::Str(s) => Lit::Str(s.as_ref().into()),
            Val::Color(c) => Lit::Color(*c),
            Val::Array(a) => Lit::Array(a.to_vec()),
            Val::Object(o) => Lit::Object(o.to_vec()),
        }
    }

    /// Drops the value, calling the (out-of-line) drop glue only when it owns heap data:
    /// temporaries on the hot path are nearly always borrowed.
    #[inline(always)]
    pub(crate) fn discard(self) {
        match &self {
            Val::Str(Cow::Owned(_)) | Val::Array(Cow::Owned(_)) | Val::Object(Cow::Owned(_)) => {
                drop(self)
            }
            // Nothing to free: skip the drop glue entirely.
            _ => std::mem::forget(self),
        }
    }

    pub(crate) fn as_num(&self) -> Option<f64> {
        match self {
            Val::Num(n) => Some(*n),
            _ => None,
        }
    }

    pub(crate) fn as_color(&self) -> Option<Color> {
        match self {
            Val::Color(c) => Some(*c),
            Val::Str(s) => Color::parse(s),
            _ => None,
        }
    }

    /// MapLibre's `typeOf(...).kind`.
    fn kind(&self) -> &'static str {
        match self {
            Val::Null => "null",
            Val::Num(_) => "number",
            Val::Bool(_) => "boolean",
            Val::Str(_) => "string",
            Val::Color(_) => "color",
            Val::Array(_) => "array",
            Val::Object(_) => "object",
        }
    }
}

/// A runtime error (type mismatch, bad conversion...). Carries no data: the hot path
/// must stay allocation free, and MapLibre only logs these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EvalError;

pub(crate) type EvalResult<'a> = Result<Val<'a>, EvalError>;

/// What an expression is evaluated against.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'a, 'f> {
    pub feature: Option<FeatureRef<'a>>,
    pub zoom: f64,
    /// Innermost `let` binding.
    vars: Option<&'f Frame<'a, 'f>>,
    /// Values of subexpressions shared by several properties (see [`Memo`]).
    memo: Option<&'f Memo<'a>>,
}

impl<'a, 'f> Ctx<'a, 'f> {
    pub(crate) fn new(feature: Option<FeatureRef<'a>>, zoom: f64) -> Self {
        Ctx {
            feature,
            zoom,
            vars: None,
            memo: None,
        }
    }

    pub(crate) fn with_memo(
        feature: Option<FeatureRef<'a>>,
        zoom: f64,
        memo: &'f Memo<'a>,
    ) -> Self {
        Ctx {
            feature,
            zoom,
            vars: None,
            memo: Some(memo),
        }
    }
}

/// The most subexpressions one layer shares between its paint properties.
pub(crate) const MAX_SHARED: usize = 4;

/// Per-evaluation cache of a layer's shared subexpressions ([`Expr::Shared`]): a road class
/// computed from several properties, used by both the colour and the width, is evaluated
/// once per feature.
pub(crate) struct Memo<'a> {
    exprs: &'a [Expr],
    cells: [OnceCell<Result<Val<'a>, EvalError>>; MAX_SHARED],
}

impl Drop for Memo<'_> {
    fn drop(&mut self) {
        for cell in &mut self.cells {
            if let Some(Ok(v)) = cell.take() {
                v.discard();
            }
        }
    }
}

impl<'a> Memo<'a> {
    pub(crate) fn new(exprs: &'a [Expr]) -> Self {
        Memo {
            exprs,
            cells: Default::default(),
        }
    }

    fn get(&self, i: usize, feature: Option<FeatureRef<'a>>, zoom: f64) -> EvalResult<'a> {
        let (Some(cell), Some(e)) = (self.cells.get(i), self.exprs.get(i)) else {
            return Err(EvalError);
        };
        cell.get_or_init(|| {
            e.eval(&Ctx {
                feature,
                zoom,
                vars: None,
                memo: Some(self),
            })
        })
        .clone()
    }
}

/// One evaluated `let` binding.
struct Frame<'a, 'f> {
    value: Val<'a>,
    parent: Option<&'f Frame<'a, 'f>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MathOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Pow,
    Min,
    Max,
    Abs,
    Floor,
    Ceil,
    Round,
    Sqrt,
    Ln,
    Log10,
    Log2,
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Interp {
    Linear,
    Exponential(f64),
    CubicBezier([f64; 4]),
}

/// The type an assertion (`number`, `string`, ...) checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AssertKind {
    Number,
    String,
    Boolean,
    Array,
    Object,
}

/// What a legacy filter looks at.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Key {
    Prop(Box<str>),
    Type,
    Id,
}

/// `match` branch labels; the `usize` indexes the outputs. String labels are searched by a
/// key of (length, first 8 bytes), so most comparisons are integer comparisons; the bytes
/// after the 8th are compared only on a key tie.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Labels {
    pub strs: Vec<(Box<str>, usize)>,
    pub nums: Vec<(f64, usize)>,
    /// `(length, prefix)` of `strs[i]`, in the same order (set by [`Labels::sort`]).
    keys: Vec<(usize, u64)>,
}

#[inline]
fn label_key(s: &str) -> (usize, u64) {
    let mut w = 0u64;
    for (i, b) in s.bytes().take(8).enumerate() {
        w |= u64::from(b) << (8 * (7 - i));
    }
    (s.len(), w)
}

impl Labels {
    pub(crate) fn sort(&mut self) {
        self.strs.sort_by(|a, b| {
            label_key(&a.0)
                .cmp(&label_key(&b.0))
                .then_with(|| a.0.cmp(&b.0))
        });
        self.keys = self.strs.iter().map(|(l, _)| label_key(l)).collect();
    }

    #[inline]
    fn find_str(&self, s: &str) -> Option<usize> {
        let key = label_key(s);
        let i = self.keys.binary_search_by(|k| k.cmp(&key)).ok()?;
        if s.len() <= 8 {
            return Some(self.strs[i].1);
        }
        // Long labels sharing length and prefix: scan the (tiny) run of equal keys.
        let mut j = i;
        while j > 0 && self.keys[j - 1] == key {
            j -= 1;
        }
        while j < self.keys.len() && self.keys[j] == key {
            if &*self.strs[j].0 == s {
                return Some(self.strs[j].1);
            }
            j += 1;
        }
        None
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Lit(Lit),
    Get(Box<str>),
    GetDyn(Box<Expr>),
    Has(Box<str>),
    HasDyn(Box<Expr>),
    GeometryType,
    Id,
    Zoom,
    Not(Box<Expr>),
    All(Vec<Expr>),
    Any(Vec<Expr>),
    /// `case_insensitive` from a literal `collator`.
    Cmp {
        op: CmpOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
        case_insensitive: bool,
    },
    /// Fast path for `["==", ["geometry-type"], "Polygon"]` (and `!=`).
    GeomTypeEq {
        name: Box<str>,
        negate: bool,
    },
    /// Fast path for `["==", ["get", key], literal]` (and `!=`).
    PropEq {
        key: Box<str>,
        value: Lit,
        negate: bool,
    },
    Match {
        input: Box<Expr>,
        labels: Labels,
        outputs: Vec<Expr>,
        default: Box<Expr>,
    },
    Case {
        branches: Vec<(Expr, Expr)>,
        default: Box<Expr>,
    },
    Coalesce(Vec<Expr>),
    In {
        needle: Box<Expr>,
        haystack: Box<Expr>,
    },
    IndexOf {
        needle: Box<Expr>,
        haystack: Box<Expr>,
        from: Option<Box<Expr>>,
    },
    Slice {
        input: Box<Expr>,
        start: Box<Expr>,
        end: Option<Box<Expr>>,
    },
    Length(Box<Expr>),
    At(Box<Expr>, Box<Expr>),
    Step {
        input: Box<Expr>,
        first: Box<Expr>,
        stops: Vec<(f64, Expr)>,
    },
    Interpolate {
        interp: Interp,
        input: Box<Expr>,
        stops: Vec<(f64, Expr)>,
    },
    Math(MathOp, Vec<Expr>),
    Concat(Vec<Expr>),
    Downcase(Box<Expr>),
    Upcase(Box<Expr>),
    /// Whether the renderer can draw the string's script ([`crate::labels::font::can_draw`]).
    IsSupportedScript(Box<Expr>),
    TypeOf(Box<Expr>),
    ToNumber(Vec<Expr>),
    ToString(Box<Expr>),
    ToBoolean(Box<Expr>),
    ToColor(Vec<Expr>),
    Assert(AssertKind, Vec<Expr>),
    /// Whether the value has the given type (used by converted legacy functions).
    TypeIs(AssertKind, Box<Expr>),
    Rgba(Vec<Expr>),
    /// `let` with one binding (several bindings nest); `body` sees it as `Var(0)`.
    Let {
        value: Box<Expr>,
        body: Box<Expr>,
    },
    /// A `let` binding by distance from the innermost one.
    Var(usize),
    /// A subexpression shared by several properties of a layer, evaluated once per call.
    Shared(usize),
    /// Legacy `filter-==` / `filter-<`...: strict type match, missing property is false.
    LegacyCmp {
        key: Key,
        op: CmpOp,
        value: Lit,
    },
    LegacyIn {
        key: Key,
        values: Vec<Lit>,
    },
    LegacyHas(Key),
}

/// What an expression depends on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Deps {
    pub zoom: bool,
    pub feature: bool,
}

impl Expr {
    /// Adds the names of the feature properties the value can depend on to `out`; `false`
    /// when those are not known from the expression alone (it reads the feature id, or a
    /// property whose name is computed). Otherwise those properties, the geometry type and
    /// the zoom decide the value, so features agreeing on them share it.
    pub(crate) fn feature_keys(&self, out: &mut Vec<Box<str>>) -> bool {
        let key = |k: &Key, out: &mut Vec<Box<str>>| match k {
            Key::Prop(p) => {
                out.push(p.clone());
                true
            }
            Key::Type => true,
            Key::Id => false,
        };
        let here = match self {
            Expr::Id | Expr::GetDyn(_) | Expr::HasDyn(_) => false,
            Expr::Get(k) | Expr::Has(k) | Expr::PropEq { key: k, .. } => {
                out.push(k.clone());
                true
            }
            Expr::LegacyHas(k) | Expr::LegacyCmp { key: k, .. } | Expr::LegacyIn { key: k, .. } => {
                key(k, out)
            }
            _ => true,
        };
        let mut known = here;
        if known {
            self.for_each_child(&mut |c| known = known && c.feature_keys(out));
        }
        known
    }

    pub(crate) fn deps(&self) -> Deps {
        let mut d = Deps::default();
        self.collect_deps(&mut d);
        d
    }

    fn collect_deps(&self, d: &mut Deps) {
        match self {
            Expr::Lit(_) | Expr::Var(_) => {}
            Expr::Shared(_) => {
                d.feature = true;
                d.zoom = true;
            }
            Expr::Zoom => d.zoom = true,
            Expr::Get(_)
            | Expr::Has(_)
            | Expr::GeometryType
            | Expr::GeomTypeEq { .. }
            | Expr::Id
            | Expr::PropEq { .. }
            | Expr::LegacyCmp { .. }
            | Expr::LegacyIn { .. }
            | Expr::LegacyHas(_) => d.feature = true,
            Expr::GetDyn(e)
            | Expr::HasDyn(e)
            | Expr::Not(e)
            | Expr::Length(e)
            | Expr::Downcase(e)
            | Expr::Upcase(e)
            | Expr::IsSupportedScript(e)
            | Expr::TypeOf(e)
            | Expr::ToString(e)
            | Expr::TypeIs(_, e)
            | Expr::ToBoolean(e) => {
                if matches!(self, Expr::GetDyn(_) | Expr::HasDyn(_)) {
                    d.feature = true;
                }
                e.collect_deps(d)
            }
            Expr::All(v)
            | Expr::Any(v)
            | Expr::Coalesce(v)
            | Expr::Math(_, v)
            | Expr::Concat(v)
            | Expr::ToNumber(v)
            | Expr::ToColor(v)
            | Expr::Assert(_, v)
            | Expr::Rgba(v) => v.iter().for_each(|e| e.collect_deps(d)),
            Expr::Cmp { lhs, rhs, .. }
            | Expr::In {
                needle: lhs,
                haystack: rhs,
            }
            | Expr::At(lhs, rhs)
            | Expr::Let {
                value: lhs,
                body: rhs,
            } => {
                lhs.collect_deps(d);
                rhs.collect_deps(d);
            }
            Expr::IndexOf {
                needle,
                haystack,
                from,
            } => {
                needle.collect_deps(d);
                haystack.collect_deps(d);
                if let Some(f) = from {
                    f.collect_deps(d);
                }
            }
            Expr::Slice { input, start, end } => {
                input.collect_deps(d);
                start.collect_deps(d);
                if let Some(e) = end {
                    e.collect_deps(d);
                }
            }
            Expr::Match {
                input,
                outputs,
                default,
                ..
            } => {
                input.collect_deps(d);
                outputs.iter().for_each(|e| e.collect_deps(d));
                default.collect_deps(d);
            }
            Expr::Case { branches, default } => {
                for (c, o) in branches {
                    c.collect_deps(d);
                    o.collect_deps(d);
                }
                default.collect_deps(d);
            }
            Expr::Step {
                input,
                first,
                stops,
            } => {
                input.collect_deps(d);
                first.collect_deps(d);
                stops.iter().for_each(|(_, e)| e.collect_deps(d));
            }
            Expr::Interpolate { input, stops, .. } => {
                input.collect_deps(d);
                stops.iter().for_each(|(_, e)| e.collect_deps(d));
            }
        }
    }

    pub(crate) fn for_each_child<'e>(&'e self, f: &mut dyn FnMut(&'e Expr)) {
        match self {
            Expr::Lit(_)
            | Expr::Get(_)
            | Expr::Has(_)
            | Expr::GeometryType
            | Expr::GeomTypeEq { .. }
            | Expr::Id
            | Expr::Zoom
            | Expr::PropEq { .. }
            | Expr::Var(_)
            | Expr::Shared(_)
            | Expr::LegacyCmp { .. }
            | Expr::LegacyIn { .. }
            | Expr::LegacyHas(_) => {}
            Expr::GetDyn(e)
            | Expr::HasDyn(e)
            | Expr::Not(e)
            | Expr::Length(e)
            | Expr::Downcase(e)
            | Expr::Upcase(e)
            | Expr::IsSupportedScript(e)
            | Expr::TypeOf(e)
            | Expr::ToString(e)
            | Expr::TypeIs(_, e)
            | Expr::ToBoolean(e) => f(e),
            Expr::All(v)
            | Expr::Any(v)
            | Expr::Coalesce(v)
            | Expr::Math(_, v)
            | Expr::Concat(v)
            | Expr::ToNumber(v)
            | Expr::ToColor(v)
            | Expr::Assert(_, v)
            | Expr::Rgba(v) => v.iter().for_each(f),
            Expr::Cmp { lhs, rhs, .. }
            | Expr::In {
                needle: lhs,
                haystack: rhs,
            }
            | Expr::At(lhs, rhs) => {
                f(lhs);
                f(rhs);
            }
            Expr::Let { value, body } => {
                f(value);
                f(body);
            }
            Expr::IndexOf {
                needle,
                haystack,
                from,
            } => {
                f(needle);
                f(haystack);
                if let Some(x) = from {
                    f(x);
                }
            }
            Expr::Slice { input, start, end } => {
                f(input);
                f(start);
                if let Some(x) = end {
                    f(x);
                }
            }
            Expr::Match {
                input,
                outputs,
                default,
                ..
            } => {
                f(input);
                outputs.iter().for_each(&mut *f);
                f(default);
            }
            Expr::Case { branches, default } => {
                for (c, o) in branches {
                    f(c);
                    f(o);
                }
                f(default);
            }
            Expr::Step {
                input,
                first,
                stops,
            } => {
                f(input);
                f(first);
                stops.iter().for_each(|(_, e)| f(e));
            }
            Expr::Interpolate { input, stops, .. } => {
                f(input);
                stops.iter().for_each(|(_, e)| f(e));
            }
        }
    }

    pub(crate) fn for_each_child_mut(&mut self, f: &mut dyn FnMut(&mut Expr)) {
        match self {
            Expr::Lit(_)
            | Expr::Get(_)
            | Expr::Has(_)
            | Expr::GeometryType
            | Expr::GeomTypeEq { .. }
            | Expr::Id
            | Expr::Zoom
            | Expr::PropEq { .. }
            | Expr::Var(_)
            | Expr::Shared(_)
            | Expr::LegacyCmp { .. }
            | Expr::LegacyIn { .. }
            | Expr::LegacyHas(_) => {}
            Expr::GetDyn(e)
            | Expr::HasDyn(e)
            | Expr::Not(e)
            | Expr::Length(e)
            | Expr::Downcase(e)
            | Expr::Upcase(e)
            | Expr::IsSupportedScript(e)
            | Expr::TypeOf(e)
            | Expr::ToString(e)
            | Expr::TypeIs(_, e)
            | Expr::ToBoolean(e) => f(e),
            Expr::All(v)
            | Expr::Any(v)
            | Expr::Coalesce(v)
            | Expr::Math(_, v)
            | Expr::Concat(v)
            | Expr::ToNumber(v)
            | Expr::ToColor(v)
            | Expr::Assert(_, v)
            | Expr::Rgba(v) => v.iter_mut().for_each(f),
            Expr::Cmp { lhs, rhs, .. }
            | Expr::In {
                needle: lhs,
                haystack: rhs,
            }
            | Expr::At(lhs, rhs) => {
                f(lhs);
                f(rhs);
            }
            Expr::Let { value, body } => {
                f(value);
                f(body);
            }
            Expr::IndexOf {
                needle,
                haystack,
                from,
            } => {
                f(needle);
                f(haystack);
                if let Some(x) = from {
                    f(x);
                }
            }
            Expr::Slice { input, start, end } => {
                f(input);
                f(start);
                if let Some(x) = end {
                    f(x);
                }
            }
            Expr::Match {
                input,
                outputs,
                default,
                ..
            } => {
                f(input);
                outputs.iter_mut().for_each(&mut *f);
                f(default);
            }
            Expr::Case { branches, default } => {
                for (c, o) in branches {
                    f(c);
                    f(o);
                }
                f(default);
            }
            Expr::Step {
                input,
                first,
                stops,
            } => {
                f(input);
                f(first);
                stops.iter_mut().for_each(|(_, e)| f(e));
            }
            Expr::Interpolate { input, stops, .. } => {
                f(input);
                stops.iter_mut().for_each(|(_, e)| f(e));
            }
        }
    }

    /// Evaluates to a boolean (filters): anything but `true`, including errors, is false.
    pub(crate) fn test<'a>(&'a self, ctx: &Ctx<'a, '_>) -> bool {
        match self.eval(ctx) {
            Ok(v) => {
                let r = matches!(v, Val::Bool(true));
                v.discard();
                r
            }
            Err(_) => false,
        }
    }

    // Note: matching a `Val` by value without moving it out in every arm makes the compiler
    // call its drop glue; these helpers bind it and `discard` it instead.
    fn eval_bool<'a>(&'a self, ctx: &Ctx<'a, '_>) -> Result<bool, EvalError> {
        let v = self.eval(ctx)?;
        let r = if let Val::Bool(b) = &v {
            Ok(*b)
        } else {
            Err(EvalError)
        };
        v.discard();
        r
    }

    fn eval_num<'a>(&'a self, ctx: &Ctx<'a, '_>) -> Result<f64, EvalError> {
        let v = self.eval(ctx)?;
        let r = if let Val::Num(n) = &v {
            Ok(*n)
        } else {
            Err(EvalError)
        };
        v.discard();
        r
    }

    pub(crate) fn eval<'a>(&'a self, ctx: &Ctx<'a, '_>) -> EvalResult<'a> {
        match self {
            Expr::Lit(l) => Ok(l.as_val()),
            Expr::Get(k) => Ok(get(ctx, k)),
            Expr::Has(k) => Ok(Val::Bool(ctx.feature.is_some_and(|f| prop(f, k).is_some()))),
            Expr::GeometryType => Ok(match ctx.feature {
                Some(f) => Val::Str(Cow::Borrowed(f.geom_type().name())),
                None => Val::Null,
            }),
            Expr::Zoom => Ok(Val::Num(ctx.zoom)),
            Expr::Not(e) => Ok(Val::Bool(!e.eval_bool(ctx)?)),
            Expr::All(v) => {
                for e in v {
                    if !e.eval_bool(ctx)? {
                        return Ok(Val::Bool(false));
                    }
                }
                Ok(Val::Bool(true))
            }
            Expr::Any(v) => {
                for e in v {
                    if e.eval_bool(ctx)? {
                        return Ok(Val::Bool(true));
                    }
                }
                Ok(Val::Bool(false))
            }
            Expr::Cmp {
                op,
                lhs,
                rhs,
                case_insensitive,
            } => {
                let a = lhs.eval(ctx)?;
                let b = match rhs.eval(ctx) {
                    Ok(b) => b,
                    Err(e) => {
                        a.discard();
                        return Err(e);
                    }
                };
                let r = compare(*op, &a, &b, *case_insensitive).map(Val::Bool);
                a.discard();
                b.discard();
                r
            }
            Expr::GeomTypeEq { name, negate } => {
                let eq = ctx.feature.is_some_and(|f| f.geom_type().name() == &**name);
                Ok(Val::Bool(eq != *negate))
            }
            Expr::PropEq { key, value, negate } => {
                let eq = match (ctx.feature.and_then(|f| prop(f, key)), value) {
                    (None, Lit::Null) => true,
                    (Some(Value::String(a)), Lit::Str(b)) => a.as_bytes() == b.as_bytes(),
                    (Some(Value::Number(a)), Lit::Num(b)) => a == b,
                    (Some(Value::Bool(a)), Lit::Bool(b)) => a == b,
                    _ => false,
                };
                Ok(Val::Bool(eq != *negate))
            }
            Expr::Match {
                input,
                labels,
                outputs,
                default,
            } => {
                let v = input.eval(ctx)?;
                let i = match &v {
                    Val::Str(s) => labels.find_str(s),
                    Val::Num(n) => labels.nums.iter().find(|(l, _)| l == n).map(|(_, i)| *i),
                    _ => None,
                };
                v.discard();
                match i {
                    Some(i) => outputs[i].eval(ctx),
                    None => default.eval(ctx),
                }
            }
            Expr::Case { branches, default } => {
                for (cond, out) in branches {
                    if cond.eval_bool(ctx)? {
                        return out.eval(ctx);
                    }
                }
                default.eval(ctx)
            }
            Expr::Coalesce(v) => {
                for e in v {
                    let r = e.eval(ctx)?;
                    if !matches!(r, Val::Null) {
                        return Ok(r);
                    }
                    r.discard();
                }
                Ok(Val::Null)
            }
            Expr::In { needle, haystack } => {
                let n = needle.eval(ctx)?;
                if !matches!(n, Val::Null | Val::Num(_) | Val::Bool(_) | Val::Str(_)) {
                    return Err(EvalError);
                }
                if let Expr::Lit(Lit::Array(items)) = &**haystack {
                    let r = items.iter().any(|l| lit_eq(l, &n));
                    n.discard();
                    return Ok(Val::Bool(r));
                }
                match haystack.eval(ctx)? {
                    Val::Str(h) => match n {
                        Val::Str(n) => Ok(Val::Bool(h.contains(n.as_ref()))),
                        _ => Err(EvalError),
                    },
                    Val::Array(a) => Ok(Val::Bool(a.iter().any(|l| l.as_val() == n))),
                    _ => Err(EvalError),
                }
            }
            Expr::Step {
                input,
                first,
                stops,
            } => {
                let x = input.eval_num(ctx)?;
                // The output for the last stop <= x.
                let n = stops.partition_point(|(s, _)| *s <= x);
                if n == 0 {
                    first.eval(ctx)
                } else {
                    stops[n - 1].1.eval(ctx)
                }
            }
            Expr::Interpolate {
                interp,
                input,
                stops,
            } => {
                let x = input.eval_num(ctx)?;
                let last = stops.len() - 1;
                if stops.len() == 1 || x <= stops[0].0 {
                    return stops[0].1.eval(ctx);
                }
                if x >= stops[last].0 {
                    return stops[last].1.eval(ctx);
                }
                let i = stops.partition_point(|(s, _)| *s <= x) - 1;
                let (x0, e0) = &stops[i];
                let (x1, e1) = &stops[i + 1];
                let t = interpolation_factor(*interp, x, *x0, *x1);
                let a = e0.eval(ctx)?;
                let b = match e1.eval(ctx) {
                    Ok(b) => b,
                    Err(e) => {
                        a.discard();
                        return Err(e);
                    }
                };
                // Numbers, the common case, inline; colours and arrays out of line.
                if let (Val::Num(x), Val::Num(y)) = (&a, &b) {
                    return Ok(Val::Num(x + (y - x) * t));
                }
                let r = lerp(&a, &b, t);
                a.discard();
                b.discard();
                r
            }
            Expr::Let { value, body } => {
                let frame = Frame {
                    value: value.eval(ctx)?,
                    parent: ctx.vars,
                };
                let inner = Ctx {
                    feature: ctx.feature,
                    zoom: ctx.zoom,
                    vars: Some(&frame),
                    memo: ctx.memo,
                };
                let r = body.eval(&inner);
                frame.value.discard();
                r
            }
            Expr::Shared(i) => match ctx.memo {
                Some(m) => m.get(*i, ctx.feature, ctx.zoom),
                None => Err(EvalError),
            },
            Expr::Var(depth) => {
                let mut frame = ctx.vars;
                for _ in 0..*depth {
                    frame = frame.and_then(|f| f.parent);
                }
                frame.map(|f| f.value.clone()).ok_or(EvalError)
            }
            Expr::LegacyCmp { key, op, value } => Ok(Val::Bool(legacy_cmp(ctx, key, *op, value))),
            Expr::LegacyIn { key, values } => Ok(Val::Bool(match legacy_get(ctx, key) {
                Some(v) => values.iter().any(|l| lit_eq(l, &v)),
                None => false,
            })),
            Expr::LegacyHas(key) => Ok(Val::Bool(match key {
                Key::Type => true,
                Key::Id => ctx.feature.is_some_and(|f| f.id().is_some()),
                Key::Prop(k) => ctx.feature.is_some_and(|f| prop(f, k).is_some()),
            })),
            _ => self.eval_cold(ctx),
        }
    }

    /// The rarely used operators, kept out of [`Expr::eval`] so its stack frame stays small
    /// (it recurses for every node).
    #[inline(never)]
    fn eval_cold<'a>(&'a self, ctx: &Ctx<'a, '_>) -> EvalResult<'a> {
        match self {
            Expr::GetDyn(k) => match k.eval(ctx)? {
                Val::Str(k) => Ok(get(ctx, &k)),
                _ => Err(EvalError),
            },
            Expr::HasDyn(k) => match k.eval(ctx)? {
                Val::Str(k) => Ok(Val::Bool(
                    ctx.feature.is_some_and(|f| prop(f, &k).is_some()),
                )),
                _ => Err(EvalError),
            },
            Expr::Id => Ok(match ctx.feature.and_then(|f| f.id()) {
                Some(id) => Val::Num(id as f64),
                None => Val::Null,
            }),
            Expr::IndexOf {
                needle,
                haystack,
                from,
            } => {
                let n = needle.eval(ctx)?;
                let from = match from {
                    Some(f) => f.eval_num(ctx)?.max(0.0) as usize,
                    None => 0,
                };
                match haystack.eval(ctx)? {
                    Val::Str(h) => match n {
                        Val::Str(n) => {
                            let chars: Vec<char> = h.chars().collect();
                            let nc: Vec<char> = n.chars().collect();
                            let pos = (from..=chars.len().saturating_sub(nc.len()))
                                .find(|&i| chars.get(i..i + nc.len()) == Some(&nc[..]));
                            Ok(Val::Num(pos.map_or(-1.0, |p| p as f64)))
                        }
                        _ => Err(EvalError),
                    },
                    Val::Array(a) => {
                        let pos = a
                            .iter()
                            .skip(from)
                            .position(|l| l.as_val() == n)
                            .map(|p| p + from);
                        Ok(Val::Num(pos.map_or(-1.0, |p| p as f64)))
                    }
                    _ => Err(EvalError),
                }
            }
            Expr::Slice { input, start, end } => {
                let v = input.eval(ctx)?;
                let start = start.eval_num(ctx)?;
                let end = match end {
                    Some(e) => Some(e.eval_num(ctx)?),
                    None => None,
                };
                let range = |len: usize| {
                    let idx = |x: f64| {
                        let x = x.trunc();
                        if x < 0.0 {
                            (len as f64 + x).max(0.0) as usize
                        } else {
                            (x as usize).min(len)
                        }
                    };
                    let s = idx(start);
                    let e = end.map_or(len, idx);
                    (s, e.max(s))
                };
                match v {
                    Val::Str(s) => {
                        let chars: Vec<char> = s.chars().collect();
                        let (a, b) = range(chars.len());
                        Ok(Val::Str(Cow::Owned(chars[a..b].iter().collect())))
                    }
                    Val::Array(arr) => {
                        let (a, b) = range(arr.len());
                        Ok(Val::Array(match arr {
                            Cow::Borrowed(x) => Cow::Borrowed(&x[a..b]),
                            Cow::Owned(x) => Cow::Owned(x[a..b].to_vec()),
                        }))
                    }
                    _ => Err(EvalError),
                }
            }
            Expr::Length(e) => match e.eval(ctx)? {
                Val::Str(s) => Ok(Val::Num(s.chars().count() as f64)),
                Val::Array(a) => Ok(Val::Num(a.len() as f64)),
                _ => Err(EvalError),
            },
            Expr::At(i, arr) => {
                let i = i.eval_num(ctx)?;
                match arr.eval(ctx)? {
                    Val::Array(a) => {
                        if i < 0.0 || i.fract() != 0.0 || i as usize >= a.len() {
                            return Err(EvalError);
                        }
                        Ok(match a {
                            Cow::Borrowed(x) => x[i as usize].as_val(),
                            Cow::Owned(mut x) => x.swap_remove(i as usize).into_val(),
                        })
                    }
                    _ => Err(EvalError),
                }
            }
            Expr::Math(op, args) => math(*op, args, ctx).map(Val::Num),
            Expr::Concat(args) => {
                let mut s = String::new();
                for a in args {
                    write_string(&mut s, &a.eval(ctx)?);
                }
                Ok(Val::Str(Cow::Owned(s)))
            }
            Expr::Downcase(e) => match e.eval(ctx)? {
                Val::Str(s) => Ok(Val::Str(Cow::Owned(s.to_lowercase()))),
                _ => Err(EvalError),
            },
            Expr::Upcase(e) => match e.eval(ctx)? {
                Val::Str(s) => Ok(Val::Str(Cow::Owned(s.to_uppercase()))),
                _ => Err(EvalError),
            },
            Expr::IsSupportedScript(e) => match e.eval(ctx)? {
                Val::Str(s) => Ok(Val::Bool(crate::labels::font::can_draw(&s))),
                _ => Err(EvalError),
            },
            Expr::TypeOf(e) => Ok(Val::Str(Cow::Owned(type_name(&e.eval(ctx)?)))),
            Expr::ToNumber(args) => {
                for a in args {
                    match a.eval(ctx)? {
                        Val::Null => return Ok(Val::Num(0.0)),
                        Val::Num(n) => return Ok(Val::Num(n)),
                        Val::Bool(b) => return Ok(Val::Num(if b { 1.0 } else { 0.0 })),
                        Val::Str(s) => {
                            if let Some(n) = js_number(&s) {
                                return Ok(Val::Num(n));
                            }
                        }
                        _ => {}
                    }
                }
                Err(EvalError)
            }
            Expr::ToString(e) => {
                let v = e.eval(ctx)?;
                Ok(match v {
                    Val::Str(s) => Val::Str(s),
                    other => {
                        let mut s = String::new();
                        write_string(&mut s, &other);
                        Val::Str(Cow::Owned(s))
                    }
                })
            }
            Expr::ToBoolean(e) => Ok(Val::Bool(match e.eval(ctx)? {
                Val::Null => false,
                Val::Bool(b) => b,
                Val::Num(n) => n != 0.0 && !n.is_nan(),
                Val::Str(s) => !s.is_empty(),
                _ => true,
            })),
            Expr::ToColor(args) => {
                for a in args {
                    match a.eval(ctx)? {
                        Val::Color(c) => return Ok(Val::Color(c)),
                        Val::Str(s) => {
                            if let Some(c) = Color::parse(&s) {
                                return Ok(Val::Color(c));
                            }
                        }
                        Val::Array(a) => {
                            if let Some(c) = color_from_components(&a) {
                                return Ok(Val::Color(c));
                            }
                        }
                        _ => {}
                    }
                }
                Err(EvalError)
            }
            Expr::Assert(kind, args) => {
                for a in args {
                    let v = a.eval(ctx)?;
                    let ok = matches!(
                        (kind, &v),
                        (AssertKind::Number, Val::Num(_))
                            | (AssertKind::String, Val::Str(_))
                            | (AssertKind::Boolean, Val::Bool(_))
                            | (AssertKind::Array, Val::Array(_))
                            | (AssertKind::Object, Val::Object(_))
                    );
                    if ok {
                        return Ok(v);
                    }
                }
                Err(EvalError)
            }
            Expr::TypeIs(kind, e) => {
                let v = e.eval(ctx)?;
                Ok(Val::Bool(matches!(
                    (kind, &v),
                    (AssertKind::Number, Val::Num(_))
                        | (AssertKind::String, Val::Str(_))
                        | (AssertKind::Boolean, Val::Bool(_))
                        | (AssertKind::Array, Val::Array(_))
                        | (AssertKind::Object, Val::Object(_))
                )))
            }
            Expr::Rgba(args) => {
                let mut c = [0.0, 0.0, 0.0, 1.0];
                for (i, a) in args.iter().enumerate() {
                    c[i] = a.eval_num(ctx)?;
                }
                if c[..3].iter().any(|v| !(0.0..=255.0).contains(v)) || !(0.0..=1.0).contains(&c[3])
                {
                    return Err(EvalError);
                }
                Ok(Val::Color(Color::rgba(
                    c[0].round() as u8,
                    c[1].round() as u8,
                    c[2].round() as u8,
                    c[3] as f32,
                )))
            }
            _ => Err(EvalError),
        }
    }
}

/// A feature's property. Like [`FeatureRef::get`], but rejects most non-matching keys by
/// length and first/last byte before comparing bytes (this is the hot path of evaluation).
#[inline]
pub(crate) fn prop<'a>(f: FeatureRef<'a>, key: &str) -> Option<&'a Value> {
    let kb = key.as_bytes();
    let (first, last) = match (kb.first(), kb.last()) {
        (Some(a), Some(b)) => (*a, *b),
        _ => return f.get(key),
    };
    let layer = f.layer;
    for &(k, v) in &f.feature.tags {
        let Some(name) = layer.keys.get(k as usize) else {
            continue;
        };
        let nb = name.as_bytes();
        if nb.len() == kb.len() && nb[0] == first && nb[nb.len() - 1] == last && nb == kb {
            return layer.values.get(v as usize);
        }
    }
    None
}

fn get<'a>(ctx: &Ctx<'a, '_>, key: &str) -> Val<'a> {
    match ctx.feature.and_then(|f| prop(f, key)) {
        Some(v) => Val::from_value(v),
        None => Val::Null,
    }
}

fn legacy_get<'a>(ctx: &Ctx<'a, '_>, key: &'a Key) -> Option<Val<'a>> {
    let f = ctx.feature?;
    match key {
        Key::Prop(k) => prop(f, k).map(Val::from_value),
        Key::Type => Some(Val::Str(Cow::Borrowed(f.geom_type().name()))),
        Key::Id => f.id().map(|id| Val::Num(id as f64)),
    }
}

/// `lit == v` for scalars, without building a [`Val`].
#[inline]
fn lit_eq(l: &Lit, v: &Val<'_>) -> bool {
    match (l, v) {
        (Lit::Str(a), Val::Str(b)) => a.as_bytes() == b.as_bytes(),
        (Lit::Num(a), Val::Num(b)) => a == b,
        (Lit::Bool(a), Val::Bool(b)) => a == b,
        (Lit::Null, Val::Null) => true,
        (Lit::Str(_) | Lit::Num(_) | Lit::Bool(_) | Lit::Null, _) => false,
        _ => l.as_val() == *v,
    }
}

#[inline(never)]
fn legacy_cmp<'a>(ctx: &Ctx<'a, '_>, key: &'a Key, op: CmpOp, value: &Lit) -> bool {
    let Some(a) = legacy_get(ctx, key) else {
        return op == CmpOp::Ne;
    };
    let b = value.as_val();
    let ord = match (&a, &b) {
        (Val::Num(x), Val::Num(y)) => x.partial_cmp(y),
        (Val::Str(x), Val::Str(y)) => Some(x.as_ref().cmp(y.as_ref())),
        (Val::Bool(x), Val::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    };
    match op {
        CmpOp::Eq => ord == Some(Ordering::Equal),
        CmpOp::Ne => ord != Some(Ordering::Equal),
        CmpOp::Lt => ord == Some(Ordering::Less),
        CmpOp::Le => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
        CmpOp::Gt => ord == Some(Ordering::Greater),
        CmpOp::Ge => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
    }
}

#[inline(never)]
fn compare(op: CmpOp, a: &Val<'_>, b: &Val<'_>, case_insensitive: bool) -> Result<bool, EvalError> {
    let str_cmp = |x: &str, y: &str| {
        if case_insensitive {
            x.chars()
                .flat_map(char::to_lowercase)
                .cmp(y.chars().flat_map(char::to_lowercase))
        } else {
            x.cmp(y)
        }
    };
    match op {
        CmpOp::Eq | CmpOp::Ne => {
            let eq = match (a, b) {
                (Val::Str(x), Val::Str(y)) => str_cmp(x, y) == Ordering::Equal,
                _ => a == b,
            };
            Ok(eq == (op == CmpOp::Eq))
        }
        _ => {
            let ord = match (a, b) {
                (Val::Num(x), Val::Num(y)) => match x.partial_cmp(y) {
                    Some(o) => o,
                    None => return Ok(false),
                },
                (Val::Str(x), Val::Str(y)) => str_cmp(x, y),
                _ => return Err(EvalError),
            };
            Ok(match op {
                CmpOp::Lt => ord == Ordering::Less,
                CmpOp::Le => ord != Ordering::Greater,
                CmpOp::Gt => ord == Ordering::Greater,
                _ => ord != Ordering::Less,
            })
        }
    }
}

/// MapLibre's interpolation factor for `x` between stops `x0 < x1`.
#[inline(never)]
pub(crate) fn interpolation_factor(interp: Interp, x: f64, x0: f64, x1: f64) -> f64 {
    match interp {
        Interp::Linear => exponential_factor(x, 1.0, x0, x1),
        Interp::Exponential(base) => exponential_factor(x, base, x0, x1),
        Interp::CubicBezier([p1x, p1y, p2x, p2y]) => {
            unit_bezier(p1x, p1y, p2x, p2y, exponential_factor(x, 1.0, x0, x1))
        }
    }
}

fn exponential_factor(x: f64, base: f64, x0: f64, x1: f64) -> f64 {
    let diff = x1 - x0;
    let progress = x - x0;
    if diff == 0.0 {
        0.0
    } else if base == 1.0 {
        progress / diff
    } else {
        (libm::pow(base, progress) - 1.0) / (libm::pow(base, diff) - 1.0)
    }
}

/// `y` of the cubic Bézier from (0,0) to (1,1) with control points p1, p2, at `x`
/// (as CSS `cubic-bezier()` and MapLibre's `UnitBezier`).
fn unit_bezier(p1x: f64, p1y: f64, p2x: f64, p2y: f64, x: f64) -> f64 {
    let cx = 3.0 * p1x;
    let bx = 3.0 * (p2x - p1x) - cx;
    let ax = 1.0 - cx - bx;
    let cy = 3.0 * p1y;
    let by = 3.0 * (p2y - p1y) - cy;
    let ay = 1.0 - cy - by;
    let sample_x = |t: f64| ((ax * t + bx) * t + cx) * t;
    let sample_y = |t: f64| ((ay * t + by) * t + cy) * t;
    let deriv_x = |t: f64| (3.0 * ax * t + 2.0 * bx) * t + cx;
    let x = x.clamp(0.0, 1.0);
    // Newton's method first, then bisection.
    let mut t = x;
    for _ in 0..8 {
        let err = sample_x(t) - x;
        if err.abs() < 1e-6 {
            return sample_y(t);
        }
        let d = deriv_x(t);
        if d.abs() < 1e-6 {
            break;
        }
        t -= err / d;
    }
    let (mut lo, mut hi) = (0.0, 1.0);
    t = x;
    for _ in 0..64 {
        let v = sample_x(t);
        if (v - x).abs() < 1e-6 {
            break;
        }
        if x > v {
            lo = t;
        } else {
            hi = t;
        }
        t = (lo + hi) / 2.0;
    }
    sample_y(t)
}

#[inline(never)]
fn lerp<'a>(a: &Val<'a>, b: &Val<'a>, t: f64) -> EvalResult<'a> {
    match (a, b) {
        (Val::Num(x), Val::Num(y)) => Ok(Val::Num(x + (y - x) * t)),
        (Val::Array(x), Val::Array(y)) => {
            if x.len() != y.len() {
                return Err(EvalError);
            }
            let mut out = Vec::with_capacity(x.len());
            for (p, q) in x.iter().zip(y.iter()) {
                match (p, q) {
                    (Lit::Num(p), Lit::Num(q)) => out.push(Lit::Num(p + (q - p) * t)),
                    _ => return Err(EvalError),
                }
            }
            Ok(Val::Array(Cow::Owned(out)))
        }
        _ => match (a.as_color(), b.as_color()) {
            (Some(x), Some(y)) => Ok(Val::Color(x.lerp(y, t))),
            _ => Err(EvalError),
        },
    }
}

fn math<'a>(op: MathOp, args: &'a [Expr], ctx: &Ctx<'a, '_>) -> Result<f64, EvalError> {
    let arg = |i: usize| args[i].eval_num(ctx);
    Ok(match op {
        MathOp::Add => {
            let mut s = 0.0;
            for a in args {
                s += a.eval_num(ctx)?;
            }
            s
        }
        MathOp::Mul => {
            let mut p = 1.0;
            for a in args {
                p *= a.eval_num(ctx)?;
            }
            p
        }
        MathOp::Sub => {
            if args.len() == 1 {
                -arg(0)?
            } else {
                arg(0)? - arg(1)?
            }
        }
        MathOp::Div => arg(0)? / arg(1)?,
        MathOp::Rem => arg(0)? % arg(1)?,
        MathOp::Pow => libm::pow(arg(0)?, arg(1)?),
        MathOp::Min | MathOp::Max => {
            let mut r = if op == MathOp::Min {
                f64::INFINITY
            } else {
                f64::NEG_INFINITY
            };
            for a in args {
                let v = a.eval_num(ctx)?;
                r = if op == MathOp::Min {
                    r.min(v)
                } else {
                    r.max(v)
                };
            }
            r
        }
        MathOp::Abs => arg(0)?.abs(),
        MathOp::Floor => arg(0)?.floor(),
        MathOp::Ceil => arg(0)?.ceil(),
        MathOp::Round => arg(0)?.round(),
        MathOp::Sqrt => arg(0)?.sqrt(),
        MathOp::Ln => libm::log(arg(0)?),
        MathOp::Log10 => libm::log10(arg(0)?),
        MathOp::Log2 => libm::log2(arg(0)?),
        MathOp::Sin => libm::sin(arg(0)?),
        MathOp::Cos => libm::cos(arg(0)?),
        MathOp::Tan => libm::tan(arg(0)?),
        MathOp::Asin => libm::asin(arg(0)?),
        MathOp::Acos => libm::acos(arg(0)?),
        MathOp::Atan => libm::atan(arg(0)?),
    })
}

fn color_from_components(a: &[Lit]) -> Option<Color> {
    let n = |l: &Lit| match l {
        Lit::Num(v) => Some(*v),
        _ => None,
    };
    if a.len() != 3 && a.len() != 4 {
        return None;
    }
    let r = n(&a[0])?;
    let g = n(&a[1])?;
    let b = n(&a[2])?;
    let al = if a.len() == 4 { n(&a[3])? } else { 1.0 };
    if [r, g, b].iter().any(|v| !(0.0..=255.0).contains(v)) || !(0.0..=1.0).contains(&al) {
        return None;
    }
    Some(Color::rgba(
        r.round() as u8,
        g.round() as u8,
        b.round() as u8,
        al as f32,
    ))
}

/// JavaScript's `Number(string)`, for `to-number`.
fn js_number(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() {
        return Some(0.0);
    }
    match t {
        "Infinity" | "+Infinity" => return Some(f64::INFINITY),
        "-Infinity" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    if t.bytes()
        .any(|c| !(c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-')))
    {
        if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
            return u64::from_str_radix(hex, 16).ok().map(|v| v as f64);
        }
        return None;
    }
    t.parse::<f64>().ok()
}

/// A number as JavaScript's `String(number)` writes it (close enough for styling).
pub(crate) fn write_js_number(out: &mut String, n: f64) {
    if n.is_nan() {
        out.push_str("NaN");
    } else if n.is_infinite() {
        out.push_str(if n > 0.0 { "Infinity" } else { "-Infinity" });
    } else if n == 0.0 {
        out.push('0');
    } else {
        let abs = n.abs();
        if (1e-7..1e21).contains(&abs) {
            let _ = write!(out, "{n}");
        } else {
            let s = format!("{n:e}");
            // Rust writes `1e21` / `1.5e-8`; JavaScript writes `1e+21` / `1.5e-8`.
            match s.split_once('e') {
                Some((m, e)) if !e.starts_with('-') => {
                    let _ = write!(out, "{m}e+{e}");
                }
                _ => out.push_str(&s),
            }
        }
    }
}

/// MapLibre's `toString` for a value (`concat`, `to-string`).
fn write_string(out: &mut String, v: &Val<'_>) {
    match v {
        Val::Null => {}
        Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Val::Num(n) => write_js_number(out, *n),
        Val::Str(s) => out.push_str(s),
        Val::Color(c) => {
            let _ = write!(out, "{c}");
        }
        Val::Array(a) => write_json_lits(out, &Lit::Array(a.to_vec())),
        Val::Object(o) => write_json_lits(out, &Lit::Object(o.to_vec())),
    }
}

fn write_json_lits(out: &mut String, l: &Lit) {
    match l {
        Lit::Null => out.push_str("null"),
        Lit::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Lit::Num(n) => write_js_number(out, *n),
        Lit::Str(s) => out.push_str(&serde_json::Value::String(s.to_string()).to_string()),
        Lit::Color(c) => {
            let _ = write!(out, "\"{c}\"");
        }
        Lit::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_lits(out, x);
            }
            out.push(']');
        }
        Lit::Object(o) => {
            out.push('{');
            for (i, (k, x)) in o.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String(k.to_string()).to_string());
                out.push(':');
                write_json_lits(out, x);
            }
            out.push('}');
        }
    }
}

/// MapLibre's `typeof` names: `array<number, 2>` for arrays of one type.
fn type_name(v: &Val<'_>) -> String {
    match v {
        Val::Array(a) => {
            let mut item: Option<&'static str> = None;
            for x in a.iter() {
                let k = x.as_val().kind();
                item = match item {
                    None => Some(k),
                    Some(prev) if prev == k => Some(k),
                    Some(_) => Some("value"),
                };
            }
            format!("array<{}, {}>", item.unwrap_or("value"), a.len())
        }
        other => other.kind().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_factor_matches_maplibre() {
        // (base^(x-x0) - 1) / (base^(x1-x0) - 1)
        let t = exponential_factor(12.0, 2.0, 10.0, 14.0);
        assert!((t - 3.0 / 15.0).abs() < 1e-12);
        assert_eq!(exponential_factor(12.0, 1.0, 10.0, 14.0), 0.5);
        assert_eq!(exponential_factor(5.0, 2.0, 5.0, 5.0), 0.0);
    }

    #[test]
    fn bezier_ease() {
        // `ease` is symmetric around (0.5, 0.5)? No: check linear control points give identity.
        for x in [0.0, 0.25, 0.5, 0.9, 1.0] {
            assert!((unit_bezier(0.25, 0.25, 0.75, 0.75, x) - x).abs() < 1e-5);
        }
        let y = unit_bezier(0.42, 0.0, 0.58, 1.0, 0.5);
        assert!((y - 0.5).abs() < 1e-5);
        assert!(unit_bezier(0.42, 0.0, 1.0, 1.0, 0.25) < 0.25);
    }

    #[test]
    fn js_numbers() {
        let f = |n| {
            let mut s = String::new();
            write_js_number(&mut s, n);
            s
        };
        assert_eq!(f(1.0), "1");
        assert_eq!(f(-2.5), "-2.5");
        assert_eq!(f(1e21), "1e+21");
        assert_eq!(f(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(js_number(" 12 "), Some(12.0));
        assert_eq!(js_number(""), Some(0.0));
        assert_eq!(js_number("1e3"), Some(1000.0));
        assert_eq!(js_number("abc"), None);
        assert_eq!(js_number("0x10"), Some(16.0));
    }
}
