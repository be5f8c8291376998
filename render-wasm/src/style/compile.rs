//! JSON → [`Expr`]: expressions, legacy filters and legacy (`stops`) functions.

use serde_json::{Map, Value as Json};

use super::color::Color;
use super::expr::{AssertKind, CmpOp, Ctx, Expr, Interp, Key, Labels, Lit, MathOp, Val};

/// A (coarse) static type, for catching mistakes at parse time and for parsing colour
/// literals where a colour is expected. Anything unsure is `Value` and checked at runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    Value,
    Null,
    Number,
    String,
    Bool,
    Color,
    Array,
    Object,
    /// A string from a fixed set (only ever *expected*, never inferred).
    Enum(&'static [&'static str]),
}

impl Ty {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Ty::Value => "value",
            Ty::Null => "null",
            Ty::Number => "number",
            Ty::String | Ty::Enum(_) => "string",
            Ty::Bool => "boolean",
            Ty::Color => "color",
            Ty::Array => "array",
            Ty::Object => "object",
        }
    }

    fn of_lit(l: &Lit) -> Ty {
        match l {
            Lit::Null => Ty::Null,
            Lit::Num(_) => Ty::Number,
            Lit::Bool(_) => Ty::Bool,
            Lit::Str(_) => Ty::String,
            Lit::Color(_) => Ty::Color,
            Lit::Array(_) => Ty::Array,
            Lit::Object(_) => Ty::Object,
        }
    }

    /// Whether a value of static type `actual` may be used where `self` is expected.
    fn accepts(self, actual: Ty) -> bool {
        match (self, actual) {
            (Ty::Value, _) | (_, Ty::Value) | (_, Ty::Null) => true,
            (Ty::Color, Ty::String) | (Ty::Enum(_), Ty::String) => true,
            (a, b) => a == b,
        }
    }
}

/// A JSON path (`layers[3].paint.line-width[2]`), built without allocating and rendered
/// only for messages.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Path<'a> {
    Root(&'a str),
    /// `parent[i]`
    Index(&'a Path<'a>, usize),
    /// `parent.key`
    Key(&'a Path<'a>, &'a str),
}

impl std::fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Path::Root(s) => f.write_str(s),
            Path::Index(p, i) => write!(f, "{p}[{i}]"),
            Path::Key(p, k) => write!(f, "{p}.{k}"),
        }
    }
}

/// A parse error inside an expression, with the JSON path of the offending part.
/// `unsupported` marks valid MapLibre constructs this renderer cannot evaluate: the caller
/// turns those into warnings instead of failing the whole style.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CompileError {
    pub path: String,
    pub message: String,
    pub unsupported: bool,
}

pub(crate) type CResult<T> = Result<T, CompileError>;

fn err<T>(path: Path<'_>, message: impl Into<String>) -> CResult<T> {
    Err(CompileError {
        path: path.to_string(),
        message: message.into(),
        unsupported: false,
    })
}

fn unsupported<T>(path: Path<'_>, message: impl Into<String>) -> CResult<T> {
    Err(CompileError {
        path: path.to_string(),
        message: message.into(),
        unsupported: true,
    })
}

/// A short rendering of a JSON value for messages.
pub(crate) fn describe(v: &Json) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        let cut: String = s.chars().take(57).collect();
        format!("{cut}...")
    } else {
        s
    }
}

fn json_kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

/// A non-empty array of strings, as written.
pub(crate) fn strings(v: &Json) -> Option<Vec<String>> {
    let a = v.as_array().filter(|a| !a.is_empty())?;
    a.iter().map(|s| s.as_str().map(str::to_string)).collect()
}

/// A font stack as written: a non-empty array of strings whose first is not an operator
/// a `text-font` expression would start with.
pub(crate) fn font_stack_written(v: &Json) -> Option<Vec<String>> {
    strings(v).filter(|n| {
        !matches!(
            n[0].as_str(),
            "literal"
                | "get"
                | "step"
                | "match"
                | "case"
                | "coalesce"
                | "interpolate"
                | "zoom"
                | "=="
                | "!="
                | "has"
                | "all"
                | "any"
                | "!"
        )
    })
}

/// The font stacks written in a `text-font` value (a constant, a function's stops, an
/// expression's literals), in the order written.
pub(crate) fn font_stacks_written(v: &Json) -> Vec<Vec<String>> {
    fn walk(v: &Json, out: &mut Vec<Vec<String>>) {
        match v {
            Json::Array(a) => match font_stack_written(v) {
                Some(n) => out.push(n),
                // A `match`'s labels are values of its input, not fonts: only its outputs
                // (every other argument from the fourth, and the fallback).
                None if a.first().and_then(Json::as_str) == Some("match") => a
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i >= 3 && (i % 2 == 1 || *i == a.len() - 1))
                    .for_each(|(_, x)| walk(x, out)),
                None => a.iter().for_each(|x| walk(x, out)),
            },
            Json::Object(o) => o.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, &mut out);
    out
}

/// The embedded faces the font stacks written in a `text-font` value stand for.
pub(crate) fn faces_written(v: &Json) -> Vec<crate::style::FaceStyle> {
    font_stacks_written(v)
        .into_iter()
        .map(|n| crate::style::FontStack::from_names(n).face)
        .collect()
}

/// MapLibre's `isExpression` for property values: a non-empty array starting with a string.
pub(crate) fn is_expression(v: &Json) -> bool {
    matches!(v, Json::Array(a) if matches!(a.first(), Some(Json::String(_))))
}

/// MapLibre's `isExpressionFilter`: tells expression filters from legacy ones.
pub(crate) fn is_expression_filter(v: &Json) -> bool {
    let a = match v {
        Json::Bool(_) => return true,
        Json::Array(a) if !a.is_empty() => a,
        _ => return false,
    };
    let op = match &a[0] {
        Json::String(s) => s.as_str(),
        _ => return true,
    };
    match op {
        "has" => a.len() >= 2 && a[1] != "$id" && a[1] != "$type",
        "in" => a.len() >= 3 && (!a[1].is_string() || a[2].is_array()),
        "!in" | "!has" | "none" => false,
        "==" | "!=" | ">" | ">=" | "<" | "<=" => a.len() != 3 || a[1].is_array() || a[2].is_array(),
        "any" | "all" => a[1..]
            .iter()
            .all(|f| is_expression_filter(f) || f.is_boolean()),
        _ => true,
    }
}

/// What a legacy function needs to know about its property.
pub(crate) struct FnSpec {
    pub ty: Ty,
    pub default: Lit,
    /// Whether the property interpolates (numbers, colours): decides the default function
    /// type (`exponential` vs `interval`).
    pub interpolated: bool,
}

pub(crate) struct Compiler<'w> {
    pub warnings: &'w mut Vec<String>,
    /// `format` sections' `text-font`s seen: (path, the faces the stacks written in it stand
    /// for; empty when none could be read). The layer compares them with its own face.
    pub section_fonts: Vec<(String, Vec<crate::style::FaceStyle>)>,
    /// `let` bindings in scope, innermost last (`None`: a hidden slot, see `let`).
    scope: Vec<(Option<String>, Ty)>,
}

const UNSUPPORTED_OPS: &[&str] = &[
    "properties",
    "accumulated",
    "line-progress",
    "heatmap-density",
    "within",
    "distance",
    "number-format",
    "resolved-locale",
    "global-state",
    "config",
    "elevation",
    "split",
    "join",
];

impl<'w> Compiler<'w> {
    pub(crate) fn new(warnings: &'w mut Vec<String>) -> Self {
        Compiler {
            warnings,
            section_fonts: Vec::new(),
            scope: Vec::new(),
        }
    }

    /// Compiles a value in expression position (a literal or an expression array).
    pub(crate) fn expression(
        &mut self,
        v: &Json,
        path: Path<'_>,
        expected: Ty,
    ) -> CResult<(Expr, Ty)> {
        match v {
            Json::Array(a) => self.array(a, path, expected),
            Json::Object(_) => err(
                path,
                "bare objects are not allowed in expressions; use [\"literal\", {...}]",
            ),
            _ => {
                let lit = self.literal(v, path, expected)?;
                let ty = Ty::of_lit(&lit);
                Ok((Expr::Lit(lit), ty))
            }
        }
    }

    /// A JSON literal where `expected` is wanted: colour strings are parsed, enum strings
    /// checked, other type mismatches reported.
    fn literal(&mut self, v: &Json, path: Path<'_>, expected: Ty) -> CResult<Lit> {
        match (expected, v) {
            (Ty::Color, Json::String(s)) => match Color::parse(s) {
                Some(c) => Ok(Lit::Color(c)),
                None => err(path, format!("could not parse color from {}", describe(v))),
            },
            (Ty::Enum(values), Json::String(s)) => {
                if values.contains(&s.as_str()) {
                    Ok(Lit::Str(s.as_str().into()))
                } else {
                    err(
                        path,
                        format!(
                            "expected one of {}, got {}",
                            quoted_list(values),
                            describe(v)
                        ),
                    )
                }
            }
            _ => {
                let lit = Lit::from_json(v);
                let ty = Ty::of_lit(&lit);
                if !expected.accepts(ty) {
                    return err(
                        path,
                        format!("expected {}, got {}", expected.name(), describe(v)),
                    );
                }
                Ok(lit)
            }
        }
    }

    fn check(&self, expected: Ty, actual: Ty, path: Path<'_>) -> CResult<()> {
        if expected.accepts(actual) {
            Ok(())
        } else {
            err(
                path,
                format!("expected {}, got {}", expected.name(), actual.name()),
            )
        }
    }

    fn arity(path: Path<'_>, op: &str, args: &[Json], min: usize, max: usize) -> CResult<()> {
        let n = args.len();
        if n >= min && n <= max {
            return Ok(());
        }
        let want = if min == max {
            format!("{min}")
        } else if max == usize::MAX {
            format!("at least {min}")
        } else {
            format!("{min} to {max}")
        };
        let s = if want == "1" { "" } else { "s" };
        err(
            path,
            format!("\"{op}\" expects {want} argument{s}, got {n}"),
        )
    }

    fn sub(
        &mut self,
        args: &[Json],
        i: usize,
        path: Path<'_>,
        expected: Ty,
    ) -> CResult<(Expr, Ty)> {
        let (e, ty) = self.expression(&args[i], Path::Index(&path, i + 1), expected)?;
        self.check(expected, ty, Path::Index(&path, i + 1))?;
        Ok((e, ty))
    }

    fn sub_expr(
        &mut self,
        args: &[Json],
        i: usize,
        path: Path<'_>,
        expected: Ty,
    ) -> CResult<Box<Expr>> {
        Ok(Box::new(self.sub(args, i, path, expected)?.0))
    }

    fn array(&mut self, a: &[Json], path: Path<'_>, expected: Ty) -> CResult<(Expr, Ty)> {
        let Some(first) = a.first() else {
            return err(path, "expected an expression, got an empty array");
        };
        let Json::String(op) = first else {
            if expected == Ty::Array && a.iter().all(Json::is_number) {
                // Lenient: a bare array of numbers where an array is wanted (dasharray).
                return Ok((
                    Expr::Lit(Lit::from_json(&Json::Array(a.to_vec()))),
                    Ty::Array,
                ));
            }
            return err(
                path,
                format!(
                    "expected an expression operator (a string) first, got {}; write literal arrays as [\"literal\", [...]]",
                    describe(first)
                ),
            );
        };
        let args = &a[1..];
        let op = op.as_str();
        let bool_result = |e: Expr| Ok((e, Ty::Bool));
        match op {
            "literal" => {
                Self::arity(path, op, args, 1, 1)?;
                let lit = self.literal(&args[0], Path::Index(&path, 1), expected)?;
                let ty = Ty::of_lit(&lit);
                Ok((Expr::Lit(lit), ty))
            }
            "get" | "has" | "!has" => {
                if args.len() == 2 {
                    return unsupported(
                        path,
                        format!("\"{op}\" with an object argument is not supported"),
                    );
                }
                Self::arity(path, op, args, 1, 1)?;
                let e = match &args[0] {
                    Json::String(k) => match op {
                        "get" => Expr::Get(k.as_str().into()),
                        _ => Expr::Has(k.as_str().into()),
                    },
                    _ => {
                        let k = self.sub_expr(args, 0, path, Ty::String)?;
                        match op {
                            "get" => Expr::GetDyn(k),
                            _ => Expr::HasDyn(k),
                        }
                    }
                };
                match op {
                    "get" => Ok((e, Ty::Value)),
                    "has" => bool_result(e),
                    _ => bool_result(Expr::Not(Box::new(e))),
                }
            }
            "geometry-type" => {
                Self::arity(path, op, args, 0, 0)?;
                Ok((Expr::GeometryType, Ty::String))
            }
            "id" => {
                Self::arity(path, op, args, 0, 0)?;
                Ok((Expr::Id, Ty::Value))
            }
            "zoom" => {
                Self::arity(path, op, args, 0, 0)?;
                Ok((Expr::Zoom, Ty::Number))
            }
            "feature-state" => {
                Self::arity(path, op, args, 1, 1)?;
                Ok((Expr::Lit(Lit::Null), Ty::Value))
            }
            "e" | "pi" | "ln2" => {
                Self::arity(path, op, args, 0, 0)?;
                let v = match op {
                    "e" => std::f64::consts::E,
                    "pi" => std::f64::consts::PI,
                    _ => std::f64::consts::LN_2,
                };
                Ok((Expr::Lit(Lit::Num(v)), Ty::Number))
            }
            "!" => {
                Self::arity(path, op, args, 1, 1)?;
                bool_result(Expr::Not(self.sub_expr(args, 0, path, Ty::Bool)?))
            }
            "all" | "any" => {
                let v = (0..args.len())
                    .map(|i| Ok(self.sub(args, i, path, Ty::Bool)?.0))
                    .collect::<CResult<Vec<_>>>()?;
                bool_result(if op == "all" {
                    Expr::All(v)
                } else {
                    Expr::Any(v)
                })
            }
            "==" | "!=" | "<" | "<=" | ">" | ">=" => self.comparison(op, args, path),
            "match" => self.match_expr(args, path, expected),
            "case" => {
                if args.len() < 3 || args.len().is_multiple_of(2) {
                    return err(path, format!("\"case\" expects condition/output pairs and a fallback, got {} arguments", args.len()));
                }
                let mut ty = Ty::Value;
                let mut branches = Vec::new();
                for i in (0..args.len() - 1).step_by(2) {
                    let cond = self.sub(args, i, path, Ty::Bool)?.0;
                    let (out, t) = self.sub(args, i + 1, path, expected)?;
                    ty = merge(ty, t);
                    branches.push((cond, out));
                }
                let (default, t) = self.sub(args, args.len() - 1, path, expected)?;
                ty = merge(ty, t);
                Ok((
                    Expr::Case {
                        branches,
                        default: Box::new(default),
                    },
                    ty,
                ))
            }
            "coalesce" => {
                Self::arity(path, op, args, 1, usize::MAX)?;
                let mut ty = Ty::Value;
                let mut v = Vec::new();
                for i in 0..args.len() {
                    let (e, t) = self.sub(args, i, path, expected)?;
                    ty = merge(ty, t);
                    v.push(e);
                }
                Ok((Expr::Coalesce(v), ty))
            }
            "in" => {
                Self::arity(path, op, args, 2, 2)?;
                let needle = self.sub_expr(args, 0, path, Ty::Value)?;
                let haystack = self.sub_expr(args, 1, path, Ty::Value)?;
                bool_result(Expr::In { needle, haystack })
            }
            "index-of" => {
                Self::arity(path, op, args, 2, 3)?;
                let needle = self.sub_expr(args, 0, path, Ty::Value)?;
                let haystack = self.sub_expr(args, 1, path, Ty::Value)?;
                let from = if args.len() == 3 {
                    Some(self.sub_expr(args, 2, path, Ty::Number)?)
                } else {
                    None
                };
                Ok((
                    Expr::IndexOf {
                        needle,
                        haystack,
                        from,
                    },
                    Ty::Number,
                ))
            }
            "slice" => {
                Self::arity(path, op, args, 2, 3)?;
                let (input, ty) = self.sub(args, 0, path, Ty::Value)?;
                let start = self.sub_expr(args, 1, path, Ty::Number)?;
                let end = if args.len() == 3 {
                    Some(self.sub_expr(args, 2, path, Ty::Number)?)
                } else {
                    None
                };
                Ok((
                    Expr::Slice {
                        input: Box::new(input),
                        start,
                        end,
                    },
                    ty,
                ))
            }
            "length" => {
                Self::arity(path, op, args, 1, 1)?;
                Ok((
                    Expr::Length(self.sub_expr(args, 0, path, Ty::Value)?),
                    Ty::Number,
                ))
            }
            "at" => {
                Self::arity(path, op, args, 2, 2)?;
                let i = self.sub_expr(args, 0, path, Ty::Number)?;
                let a = self.sub_expr(args, 1, path, Ty::Array)?;
                Ok((Expr::At(i, a), Ty::Value))
            }
            "step" => self.step(args, path, expected),
            "interpolate" | "interpolate-hcl" | "interpolate-lab" => {
                self.interpolate(op, args, path, expected)
            }
            "+" | "*" | "min" | "max" => {
                Self::arity(path, op, args, 1, usize::MAX)?;
                let v = (0..args.len())
                    .map(|i| Ok(self.sub(args, i, path, Ty::Number)?.0))
                    .collect::<CResult<Vec<_>>>()?;
                let m = match op {
                    "+" => MathOp::Add,
                    "*" => MathOp::Mul,
                    "min" => MathOp::Min,
                    _ => MathOp::Max,
                };
                Ok((Expr::Math(m, v), Ty::Number))
            }
            "-" | "/" | "%" | "^" => {
                if op == "-" {
                    Self::arity(path, op, args, 1, 2)?;
                } else {
                    Self::arity(path, op, args, 2, 2)?;
                }
                let v = (0..args.len())
                    .map(|i| Ok(self.sub(args, i, path, Ty::Number)?.0))
                    .collect::<CResult<Vec<_>>>()?;
                let m = match op {
                    "-" => MathOp::Sub,
                    "/" => MathOp::Div,
                    "%" => MathOp::Rem,
                    _ => MathOp::Pow,
                };
                Ok((Expr::Math(m, v), Ty::Number))
            }
            "abs" | "floor" | "ceil" | "round" | "sqrt" | "ln" | "log10" | "log2" | "sin"
            | "cos" | "tan" | "asin" | "acos" | "atan" => {
                Self::arity(path, op, args, 1, 1)?;
                let m = match op {
                    "abs" => MathOp::Abs,
                    "floor" => MathOp::Floor,
                    "ceil" => MathOp::Ceil,
                    "round" => MathOp::Round,
                    "sqrt" => MathOp::Sqrt,
                    "ln" => MathOp::Ln,
                    "log10" => MathOp::Log10,
                    "log2" => MathOp::Log2,
                    "sin" => MathOp::Sin,
                    "cos" => MathOp::Cos,
                    "tan" => MathOp::Tan,
                    "asin" => MathOp::Asin,
                    "acos" => MathOp::Acos,
                    _ => MathOp::Atan,
                };
                Ok((
                    Expr::Math(m, vec![self.sub(args, 0, path, Ty::Number)?.0]),
                    Ty::Number,
                ))
            }
            "concat" => {
                Self::arity(path, op, args, 1, usize::MAX)?;
                let v = (0..args.len())
                    .map(|i| Ok(self.sub(args, i, path, Ty::Value)?.0))
                    .collect::<CResult<Vec<_>>>()?;
                Ok((Expr::Concat(v), Ty::String))
            }
            // Formatted text: the sections' strings in order. A section's `text-font` is
            // drawn in the label's face (the layer checks that they agree); `font-scale` and
            // `text-color` are not applied yet, which is said once per use.
            "format" => {
                Self::arity(path, op, args, 1, usize::MAX)?;
                let mut parts = Vec::new();
                let mut options = false;
                for i in 0..args.len() {
                    match &args[i] {
                        Json::Object(o) => {
                            for (k, v) in o {
                                if k == "text-font" {
                                    self.section_fonts
                                        .push((format!("{path}[{}]", i + 1), faces_written(v)));
                                } else {
                                    options = true;
                                }
                            }
                        }
                        _ => parts.push(self.sub(args, i, path, Ty::Value)?.0),
                    }
                }
                if options {
                    self.warnings.push(format!(
                        "{path}: \"format\" section options font-scale and text-color are not applied"
                    ));
                }
                Ok((Expr::Concat(parts), Ty::String))
            }
            "is-supported-script" => {
                Self::arity(path, op, args, 1, 1)?;
                let e = self.sub_expr(args, 0, path, Ty::String)?;
                Ok((Expr::IsSupportedScript(e), Ty::Bool))
            }
            "downcase" | "upcase" => {
                Self::arity(path, op, args, 1, 1)?;
                let e = self.sub_expr(args, 0, path, Ty::String)?;
                Ok((
                    if op == "downcase" {
                        Expr::Downcase(e)
                    } else {
                        Expr::Upcase(e)
                    },
                    Ty::String,
                ))
            }
            // A sprite image name; the renderer resolves it against the style's sprites.
            "image" => {
                Self::arity(path, op, args, 1, 1)?;
                let e = self.sub_expr(args, 0, path, Ty::String)?;
                Ok((Expr::ToString(e), Ty::String))
            }
            "typeof" => {
                Self::arity(path, op, args, 1, 1)?;
                Ok((
                    Expr::TypeOf(self.sub_expr(args, 0, path, Ty::Value)?),
                    Ty::String,
                ))
            }
            "to-number" | "to-color" => {
                Self::arity(path, op, args, 1, usize::MAX)?;
                let v = (0..args.len())
                    .map(|i| Ok(self.sub(args, i, path, Ty::Value)?.0))
                    .collect::<CResult<Vec<_>>>()?;
                Ok(if op == "to-number" {
                    (Expr::ToNumber(v), Ty::Number)
                } else {
                    (Expr::ToColor(v), Ty::Color)
                })
            }
            "to-string" | "to-boolean" => {
                Self::arity(path, op, args, 1, 1)?;
                let e = self.sub_expr(args, 0, path, Ty::Value)?;
                Ok(if op == "to-string" {
                    (Expr::ToString(e), Ty::String)
                } else {
                    (Expr::ToBoolean(e), Ty::Bool)
                })
            }
            "number" | "string" | "boolean" | "object" => {
                Self::arity(path, op, args, 1, usize::MAX)?;
                let (kind, ty) = match op {
                    "number" => (AssertKind::Number, Ty::Number),
                    "string" => (AssertKind::String, Ty::String),
                    "boolean" => (AssertKind::Boolean, Ty::Bool),
                    _ => (AssertKind::Object, Ty::Object),
                };
                let inner = if expected == Ty::Color && ty == Ty::String {
                    Ty::Value
                } else {
                    ty
                };
                let v = (0..args.len())
                    .map(|i| {
                        let (e, t) = self.expression(&args[i], Path::Index(&path, i + 1), inner)?;
                        self.check(ty, t, Path::Index(&path, i + 1))?;
                        Ok(e)
                    })
                    .collect::<CResult<Vec<_>>>()?;
                Ok((Expr::Assert(kind, v), ty))
            }
            "array" => {
                Self::arity(path, op, args, 1, 3)?;
                let last = args.len() - 1;
                if last >= 1 && !args[0].is_string() {
                    return err(Path::Index(&path, 1), "the array item type must be \"string\", \"number\", \"boolean\" or \"value\"");
                }
                if last == 2 && !args[1].is_u64() {
                    return err(
                        Path::Index(&path, 2),
                        "the array length must be a non-negative integer",
                    );
                }
                let e = self.sub(args, last, path, Ty::Array)?.0;
                Ok((Expr::Assert(AssertKind::Array, vec![e]), Ty::Array))
            }
            "rgb" | "rgba" => {
                let n = if op == "rgb" { 3 } else { 4 };
                Self::arity(path, op, args, n, n)?;
                let v = (0..n)
                    .map(|i| Ok(self.sub(args, i, path, Ty::Number)?.0))
                    .collect::<CResult<Vec<_>>>()?;
                Ok((Expr::Rgba(v), Ty::Color))
            }
            "let" => {
                if args.len() < 3 || args.len().is_multiple_of(2) {
                    return err(
                        path,
                        "\"let\" expects name/value pairs followed by an expression",
                    );
                }
                // Bindings nest at runtime; a binding's value must not see the bindings
                // before it (MapLibre evaluates them in the outer scope), hence hidden slots.
                let depth = self.scope.len();
                let mut values = Vec::new();
                for i in (0..args.len() - 1).step_by(2) {
                    let Json::String(name) = &args[i] else {
                        self.scope.truncate(depth);
                        return err(
                            Path::Index(&path, i + 1),
                            format!(
                                "expected a variable name (string), got {}",
                                describe(&args[i])
                            ),
                        );
                    };
                    let r = self.sub(args, i + 1, path, Ty::Value);
                    let (e, t) = match r {
                        Ok(v) => v,
                        Err(e) => {
                            self.scope.truncate(depth);
                            return Err(e);
                        }
                    };
                    self.scope.push((None, t));
                    values.push((name.clone(), e));
                }
                for (j, (name, _)) in values.iter().enumerate() {
                    self.scope[depth + j].0 = Some(name.clone());
                }
                let r = self.sub(args, args.len() - 1, path, expected);
                self.scope.truncate(depth);
                let (mut body, ty) = r?;
                for (_, value) in values.into_iter().rev() {
                    body = Expr::Let {
                        value: Box::new(value),
                        body: Box::new(body),
                    };
                }
                Ok((body, ty))
            }
            "var" => {
                Self::arity(path, op, args, 1, 1)?;
                let Json::String(name) = &args[0] else {
                    return err(Path::Index(&path, 1), "expected a variable name (string)");
                };
                match self
                    .scope
                    .iter()
                    .rev()
                    .position(|(n, _)| n.as_deref() == Some(name.as_str()))
                {
                    Some(i) => Ok((Expr::Var(i), self.scope[self.scope.len() - 1 - i].1)),
                    None => err(
                        Path::Index(&path, 1),
                        format!("unknown variable \"{name}\"; bind it with \"let\" first"),
                    ),
                }
            }
            "collator" => unsupported(
                path,
                "\"collator\" is only supported as the last argument of a comparison",
            ),
            _ if UNSUPPORTED_OPS.contains(&op) => unsupported(
                path,
                format!("expression operator \"{op}\" is not supported by this renderer"),
            ),
            _ => err(path, format!("unknown expression operator \"{op}\"")),
        }
    }

    fn comparison(&mut self, op: &str, args: &[Json], path: Path<'_>) -> CResult<(Expr, Ty)> {
        Self::arity(path, op, args, 2, 3)?;
        let cmp = match op {
            "==" => CmpOp::Eq,
            "!=" => CmpOp::Ne,
            "<" => CmpOp::Lt,
            "<=" => CmpOp::Le,
            ">" => CmpOp::Gt,
            _ => CmpOp::Ge,
        };
        let (lhs, lt) = self.sub(args, 0, path, Ty::Value)?;
        let (rhs, rt) = self.sub(args, 1, path, Ty::Value)?;
        let ordered = !matches!(cmp, CmpOp::Eq | CmpOp::Ne);
        for (t, i) in [(lt, 1), (rt, 2)] {
            let ok = if ordered {
                matches!(t, Ty::Value | Ty::Number | Ty::String)
            } else {
                matches!(t, Ty::Value | Ty::Number | Ty::String | Ty::Bool | Ty::Null)
            };
            if !ok {
                return err(
                    Path::Index(&path, i),
                    format!("\"{op}\" cannot compare values of type {}", t.name()),
                );
            }
        }
        if lt != Ty::Value
            && rt != Ty::Value
            && lt != rt
            && !(!ordered && (lt == Ty::Null || rt == Ty::Null))
        {
            return err(
                path,
                format!("cannot compare {} and {}", lt.name(), rt.name()),
            );
        }
        let mut case_insensitive = false;
        if let Some(c) = args.get(2) {
            let opts = match c {
                Json::Array(a) if a.len() == 2 && a[0] == "collator" => a[1].as_object(),
                _ => None,
            };
            let Some(opts) = opts else {
                return err(
                    Path::Index(&path, 3),
                    "expected a [\"collator\", {...}] expression",
                );
            };
            match opts.get("case-sensitive") {
                None | Some(Json::Bool(true)) => {}
                Some(Json::Bool(false)) => case_insensitive = true,
                Some(_) => {
                    return unsupported(
                        Path::Index(&path, 3),
                        "only literal \"case-sensitive\" collator options are supported",
                    )
                }
            }
        }
        // Fast path: a property compared with a literal.
        if matches!(cmp, CmpOp::Eq | CmpOp::Ne) && !case_insensitive {
            if let (Expr::GeometryType, Expr::Lit(Lit::Str(name)))
            | (Expr::Lit(Lit::Str(name)), Expr::GeometryType) = (&lhs, &rhs)
            {
                return Ok((
                    Expr::GeomTypeEq {
                        name: name.clone(),
                        negate: cmp == CmpOp::Ne,
                    },
                    Ty::Bool,
                ));
            }
            let pair = match (&lhs, &rhs) {
                (Expr::Get(k), Expr::Lit(l)) | (Expr::Lit(l), Expr::Get(k)) => {
                    Some((k.clone(), l.clone()))
                }
                _ => None,
            };
            if let Some((key, value)) = pair {
                if matches!(value, Lit::Null | Lit::Num(_) | Lit::Str(_) | Lit::Bool(_)) {
                    return Ok((
                        Expr::PropEq {
                            key,
                            value,
                            negate: cmp == CmpOp::Ne,
                        },
                        Ty::Bool,
                    ));
                }
            }
        }
        Ok((
            Expr::Cmp {
                op: cmp,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
                case_insensitive,
            },
            Ty::Bool,
        ))
    }

    fn match_expr(&mut self, args: &[Json], path: Path<'_>, expected: Ty) -> CResult<(Expr, Ty)> {
        if args.len() < 4 || !args.len().is_multiple_of(2) {
            return err(
                path,
                format!("\"match\" expects an input, label/output pairs and a fallback, got {} arguments", args.len()),
            );
        }
        let input = self.sub_expr(args, 0, path, Ty::Value)?;
        let mut labels = Labels::default();
        let mut outputs = Vec::new();
        let mut ty = Ty::Value;
        let mut label_ty: Option<&'static str> = None;
        for i in (1..args.len() - 1).step_by(2) {
            let lpath = Path::Index(&path, i + 1);
            let items: Vec<&Json> = match &args[i] {
                Json::Array(a) if a.is_empty() => {
                    return err(lpath, "expected at least one branch label")
                }
                Json::Array(a) => a.iter().collect(),
                other => vec![other],
            };
            let index = outputs.len();
            for item in items {
                let kind = match item {
                    Json::String(s) => {
                        if labels.strs.iter().any(|(l, _)| **l == **s) {
                            return err(
                                lpath,
                                format!(
                                    "branch labels must be unique: {} appears twice",
                                    describe(item)
                                ),
                            );
                        }
                        labels.strs.push((s.as_str().into(), index));
                        "string"
                    }
                    Json::Number(n) => {
                        let n = n.as_f64().unwrap_or(f64::NAN);
                        if labels.nums.iter().any(|(l, _)| *l == n) {
                            return err(
                                lpath,
                                format!(
                                    "branch labels must be unique: {} appears twice",
                                    describe(item)
                                ),
                            );
                        }
                        labels.nums.push((n, index));
                        "number"
                    }
                    other => {
                        return err(
                            lpath,
                            format!(
                                "branch labels must be strings or numbers, got {}",
                                describe(other)
                            ),
                        )
                    }
                };
                if label_ty.is_some_and(|t| t != kind) {
                    return err(lpath, "branch labels must all be of the same type");
                }
                label_ty = Some(kind);
            }
            let (out, t) = self.sub(args, i + 1, path, expected)?;
            ty = merge(ty, t);
            outputs.push(out);
        }
        labels.sort();
        let (default, t) = self.sub(args, args.len() - 1, path, expected)?;
        ty = merge(ty, t);
        Ok((
            Expr::Match {
                input,
                labels,
                outputs,
                default: Box::new(default),
            },
            ty,
        ))
    }

    fn stops(
        &mut self,
        args: &[Json],
        from: usize,
        path: Path<'_>,
        expected: Ty,
        op: &str,
    ) -> CResult<(Vec<(f64, Expr)>, Ty)> {
        let mut stops: Vec<(f64, Expr)> = Vec::new();
        let mut ty = Ty::Value;
        for i in (from..args.len()).step_by(2) {
            let lpath = Path::Index(&path, i + 1);
            let Some(x) = args[i].as_f64() else {
                return err(
                    lpath,
                    format!("stop inputs must be numbers, got {}", describe(&args[i])),
                );
            };
            if let Some((prev, _)) = stops.last() {
                if x <= *prev {
                    return err(lpath, format!("\"{op}\" stop inputs must be in strictly ascending order ({x} after {prev})"));
                }
            }
            let (out, t) = self.sub(args, i + 1, path, expected)?;
            ty = merge(ty, t);
            stops.push((x, out));
        }
        Ok((stops, ty))
    }

    fn step(&mut self, args: &[Json], path: Path<'_>, expected: Ty) -> CResult<(Expr, Ty)> {
        if args.len() < 2 || !args.len().is_multiple_of(2) {
            return err(path, format!("\"step\" expects an input, a first output and input/output pairs, got {} arguments", args.len()));
        }
        let input = self.sub_expr(args, 0, path, Ty::Number)?;
        let (first, t0) = self.sub(args, 1, path, expected)?;
        let (stops, t) = self.stops(args, 2, path, expected, "step")?;
        Ok((
            Expr::Step {
                input,
                first: Box::new(first),
                stops,
            },
            merge(t0, t),
        ))
    }

    fn interpolate(
        &mut self,
        op: &str,
        args: &[Json],
        path: Path<'_>,
        expected: Ty,
    ) -> CResult<(Expr, Ty)> {
        if args.len() < 4 || !args.len().is_multiple_of(2) {
            return err(
                path,
                format!("\"{op}\" expects an interpolation type, an input and input/output pairs, got {} arguments", args.len()),
            );
        }
        let ipath = Path::Index(&path, 1);
        let interp = match &args[0] {
            Json::Array(a) if a.first() == Some(&Json::from("linear")) && a.len() == 1 => Interp::Linear,
            Json::Array(a) if a.first() == Some(&Json::from("exponential")) => match a.get(1).and_then(Json::as_f64) {
                Some(base) if a.len() == 2 => Interp::Exponential(base),
                _ => return err(ipath, "expected [\"exponential\", base] with a literal number base"),
            },
            Json::Array(a) if a.first() == Some(&Json::from("cubic-bezier")) => {
                let p: Vec<f64> = a[1..].iter().filter_map(Json::as_f64).collect();
                if a.len() != 5 || p.len() != 4 || !(0.0..=1.0).contains(&p[0]) || !(0.0..=1.0).contains(&p[2]) {
                    return err(ipath, "expected [\"cubic-bezier\", x1, y1, x2, y2] with x1 and x2 in 0..1");
                }
                Interp::CubicBezier([p[0], p[1], p[2], p[3]])
            }
            other => {
                return err(
                    ipath,
                    format!("unknown interpolation type {}; expected [\"linear\"], [\"exponential\", base] or [\"cubic-bezier\", ...]", describe(other)),
                )
            }
        };
        if op != "interpolate" {
            self.warnings
                .push(format!("{path}: \"{op}\" is interpolated in RGB space"));
        }
        let input = self.sub_expr(args, 1, path, Ty::Number)?;
        let (stops, ty) = self.stops(args, 2, path, expected, op)?;
        if !matches!(
            ty,
            Ty::Number | Ty::Color | Ty::Array | Ty::Value | Ty::Null
        ) {
            return err(
                path,
                format!(
                    "\"{op}\" can only interpolate numbers, colors and arrays of numbers, not {}",
                    ty.name()
                ),
            );
        }
        Ok((
            Expr::Interpolate {
                interp,
                input,
                stops,
            },
            ty,
        ))
    }

    // ---- legacy filters ----

    /// Compiles a filter, legacy or expression (decided as MapLibre does).
    pub(crate) fn filter(&mut self, v: &Json, path: Path<'_>) -> CResult<Expr> {
        if is_expression_filter(v) {
            let (e, t) = self.expression(v, path, Ty::Bool)?;
            self.check(Ty::Bool, t, path)?;
            Ok(e)
        } else {
            self.legacy_filter(v, path)
        }
    }

    fn legacy_filter(&mut self, v: &Json, path: Path<'_>) -> CResult<Expr> {
        let a = match v {
            Json::Bool(b) => return Ok(Expr::Lit(Lit::Bool(*b))),
            Json::Null => return Ok(Expr::Lit(Lit::Bool(true))),
            Json::Array(a) if !a.is_empty() => a,
            other => {
                return err(
                    path,
                    format!("expected a filter array, got {}", describe(other)),
                )
            }
        };
        let Json::String(op) = &a[0] else {
            return err(
                Path::Index(&path, 0),
                format!("expected a filter operator, got {}", describe(&a[0])),
            );
        };
        let op = op.as_str();
        let args = &a[1..];
        let key = |this: &Self, i: usize| -> CResult<Key> {
            let _ = this;
            match args.get(i) {
                Some(Json::String(k)) => Ok(match k.as_str() {
                    "$type" => Key::Type,
                    "$id" => Key::Id,
                    k => Key::Prop(k.into()),
                }),
                Some(other) => err(
                    Path::Index(&path, i + 1),
                    format!("expected a property name (string), got {}", describe(other)),
                ),
                None => err(path, format!("filter \"{op}\" needs a property name")),
            }
        };
        let scalar = |i: usize, k: &Key| -> CResult<Lit> {
            let v = &args[i];
            let lpath = Path::Index(&path, i + 1);
            match v {
                Json::String(_) | Json::Number(_) | Json::Bool(_) | Json::Null => {}
                other => {
                    return err(
                        lpath,
                        format!(
                            "expected a string, number, boolean or null, got {}",
                            describe(other)
                        ),
                    )
                }
            }
            if *k == Key::Type
                && !matches!(
                    v.as_str(),
                    Some("Point" | "LineString" | "Polygon" | "Unknown")
                )
            {
                return err(
                    lpath,
                    format!(
                        "expected \"Point\", \"LineString\" or \"Polygon\", got {}",
                        describe(v)
                    ),
                );
            }
            Ok(Lit::from_json(v))
        };
        match op {
            "all" | "any" | "none" => {
                let mut v = Vec::with_capacity(args.len());
                for (i, f) in args.iter().enumerate() {
                    let p = Path::Index(&path, i + 1);
                    // Tolerate expression children inside a legacy combinator.
                    let e = if is_expression_filter(f)
                        && !f.is_boolean()
                        && Self::looks_like_expression(f)
                    {
                        let (e, t) = self.expression(f, p, Ty::Bool)?;
                        self.check(Ty::Bool, t, p)?;
                        e
                    } else {
                        self.legacy_filter(f, p)?
                    };
                    v.push(e);
                }
                Ok(match op {
                    "all" => Expr::All(v),
                    "any" => Expr::Any(v),
                    _ => Expr::Not(Box::new(Expr::Any(v))),
                })
            }
            "==" | "!=" | "<" | "<=" | ">" | ">=" => {
                if args.len() != 2 {
                    return err(
                        path,
                        format!(
                            "filter \"{op}\" expects a property name and a value, got {} arguments",
                            args.len()
                        ),
                    );
                }
                let k = key(self, 0)?;
                let value = scalar(1, &k)?;
                let op = match op {
                    "==" => CmpOp::Eq,
                    "!=" => CmpOp::Ne,
                    "<" => CmpOp::Lt,
                    "<=" => CmpOp::Le,
                    ">" => CmpOp::Gt,
                    _ => CmpOp::Ge,
                };
                Ok(Expr::LegacyCmp { key: k, op, value })
            }
            "in" | "!in" => {
                let k = key(self, 0)?;
                let values = (1..args.len())
                    .map(|i| scalar(i, &k))
                    .collect::<CResult<Vec<_>>>()?;
                let e = Expr::LegacyIn { key: k, values };
                Ok(if op == "in" {
                    e
                } else {
                    Expr::Not(Box::new(e))
                })
            }
            "has" | "!has" => {
                if args.len() != 1 {
                    return err(
                        path,
                        format!(
                            "filter \"{op}\" expects one property name, got {} arguments",
                            args.len()
                        ),
                    );
                }
                let e = Expr::LegacyHas(key(self, 0)?);
                Ok(if op == "has" {
                    e
                } else {
                    Expr::Not(Box::new(e))
                })
            }
            _ => err(
                Path::Index(&path, 0),
                format!("unknown filter operator \"{op}\""),
            ),
        }
    }

    fn looks_like_expression(f: &Json) -> bool {
        match f {
            Json::Array(a) => {
                a.iter().skip(1).any(Json::is_array)
                    || !matches!(
                        a.first().and_then(Json::as_str),
                        Some(
                            "==" | "!="
                                | "<"
                                | "<="
                                | ">"
                                | ">="
                                | "in"
                                | "!in"
                                | "has"
                                | "!has"
                                | "all"
                                | "any"
                                | "none"
                        )
                    )
            }
            _ => false,
        }
    }

    // ---- legacy functions ----

    /// Converts a legacy function (`{"stops": ..., "base": ..., "property": ...}`) to an
    /// expression, as MapLibre's `convertFunction` does.
    pub(crate) fn legacy_function(
        &mut self,
        obj: &Map<String, Json>,
        path: Path<'_>,
        spec: &FnSpec,
    ) -> CResult<Expr> {
        for k in obj.keys() {
            if !matches!(
                k.as_str(),
                "stops" | "base" | "property" | "type" | "default" | "colorSpace"
            ) {
                self.warnings
                    .push(format!("{path}.{k}: unknown function key, ignored"));
            }
        }
        let ftype = match obj.get("type") {
            None => None,
            Some(Json::String(t)) if matches!(t.as_str(), "identity" | "exponential" | "interval" | "categorical") => Some(t.as_str()),
            Some(other) => {
                return err(
                    Path::Key(&path, "type"),
                    format!("expected one of \"identity\", \"exponential\", \"interval\", \"categorical\", got {}", describe(other)),
                )
            }
        };
        let base = match obj.get("base") {
            None => 1.0,
            Some(b) => match b.as_f64() {
                Some(b) => b,
                None => {
                    return err(
                        Path::Key(&path, "base"),
                        format!("expected number, got {}", describe(b)),
                    )
                }
            },
        };
        if let Some(cs) = obj.get("colorSpace") {
            if cs != "rgb" {
                self.warnings.push(format!(
                    "{path}.colorSpace: only \"rgb\" is supported, interpolating in RGB"
                ));
            }
        }
        let default = match obj.get("default") {
            None => spec.default.clone(),
            Some(d) => self.literal(d, Path::Key(&path, "default"), spec.ty)?,
        };
        let property = match obj.get("property") {
            None => None,
            Some(Json::String(p)) => Some(p.as_str()),
            Some(other) => {
                return err(
                    Path::Key(&path, "property"),
                    format!("expected string, got {}", describe(other)),
                )
            }
        };
        let ftype = ftype.unwrap_or(if spec.interpolated {
            "exponential"
        } else {
            "interval"
        });
        if ftype == "exponential" && !spec.interpolated {
            return err(
                Path::Key(&path, "type"),
                "exponential functions are not supported for this property",
            );
        }
        if ftype == "identity" {
            let Some(p) = property else {
                return err(path, "identity functions need a \"property\"");
            };
            return Ok(identity(p, spec.ty, default));
        }
        let stops = match obj.get("stops") {
            Some(Json::Array(s)) if !s.is_empty() => s,
            Some(Json::Array(_)) => {
                return err(Path::Key(&path, "stops"), "expected at least one stop")
            }
            Some(other) => {
                return err(
                    Path::Key(&path, "stops"),
                    format!("expected an array of stops, got {}", json_kind(other)),
                )
            }
            None => return err(path, "expected \"stops\" in a function object"),
        };
        let mut pairs: Vec<(&Json, Lit)> = Vec::with_capacity(stops.len());
        for (i, s) in stops.iter().enumerate() {
            let stops_path = Path::Key(&path, "stops");
            let spath = Path::Index(&stops_path, i);
            match s {
                Json::Array(p) if p.len() == 2 => {
                    let out = self.literal(&p[1], Path::Index(&spath, 1), spec.ty)?;
                    pairs.push((&p[0], out));
                }
                other => {
                    return err(
                        spath,
                        format!("expected a [input, output] pair, got {}", describe(other)),
                    )
                }
            }
        }
        let composite = pairs.iter().any(|(i, _)| i.is_object());
        if composite {
            let Some(p) = property else {
                return err(path, "zoom-and-property functions need a \"property\"");
            };
            // Group by zoom, then interpolate between per-zoom property functions.
            let mut zooms: Vec<(f64, Vec<(Json, Lit)>)> = Vec::new();
            for (i, (input, out)) in pairs.into_iter().enumerate() {
                let stops_path = Path::Key(&path, "stops");
                let stop_path = Path::Index(&stops_path, i);
                let ipath = Path::Index(&stop_path, 0);
                let (Some(z), Some(v)) =
                    (input.get("zoom").and_then(Json::as_f64), input.get("value"))
                else {
                    return err(ipath, "expected {\"zoom\": number, \"value\": ...}");
                };
                match zooms.last_mut() {
                    Some((lz, list)) if *lz == z => list.push((v.clone(), out)),
                    Some((lz, _)) if *lz > z => {
                        return err(ipath, "stop zooms must be in ascending order")
                    }
                    _ => zooms.push((z, vec![(v.clone(), out)])),
                }
            }
            let mut zstops = Vec::with_capacity(zooms.len());
            for (z, list) in zooms {
                let refs: Vec<(&Json, Lit)> = list.iter().map(|(j, l)| (j, l.clone())).collect();
                zstops.push((
                    z,
                    property_function(p, ftype, base, &refs, default.clone(), path)?,
                ));
            }
            return Ok(if spec.interpolated {
                let interp = if base == 1.0 {
                    Interp::Linear
                } else {
                    Interp::Exponential(base)
                };
                Expr::Interpolate {
                    interp,
                    input: Box::new(Expr::Zoom),
                    stops: zstops,
                }
            } else {
                let mut it = zstops.into_iter();
                let (_, first) = it.next().expect("at least one stop");
                Expr::Step {
                    input: Box::new(Expr::Zoom),
                    first: Box::new(first),
                    stops: it.collect(),
                }
            });
        }
        match property {
            Some(p) => property_function(p, ftype, base, &pairs, default, path),
            None => {
                if ftype == "categorical" {
                    return err(
                        Path::Key(&path, "type"),
                        "categorical functions need a \"property\"",
                    );
                }
                let nums = numeric_stops(&pairs, path)?;
                Ok(numeric_function(Expr::Zoom, ftype, base, nums))
            }
        }
    }
}

fn merge(a: Ty, b: Ty) -> Ty {
    match (a, b) {
        (Ty::Value, t) | (t, Ty::Value) | (Ty::Null, t) | (t, Ty::Null) => t,
        (a, b) if a == b => a,
        _ => Ty::Value,
    }
}

fn quoted_list(values: &[&str]) -> String {
    values
        .iter()
        .map(|v| format!("\"{v}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

fn numeric_stops(pairs: &[(&Json, Lit)], path: Path<'_>) -> CResult<Vec<(f64, Lit)>> {
    let mut out: Vec<(f64, Lit)> = Vec::with_capacity(pairs.len());
    for (i, (input, lit)) in pairs.iter().enumerate() {
        let stops_path = Path::Key(&path, "stops");
        let stop_path = Path::Index(&stops_path, i);
        let ipath = Path::Index(&stop_path, 0);
        let Some(x) = input.as_f64() else {
            return err(ipath, format!("expected a number, got {}", describe(input)));
        };
        if let Some((prev, _)) = out.last() {
            if x < *prev {
                return err(
                    ipath,
                    format!("stop inputs must be in ascending order ({x} after {prev})"),
                );
            }
            if x == *prev {
                // MapLibre keeps the last of equal stops for interpolation purposes.
                out.pop();
            }
        }
        out.push((x, lit.clone()));
    }
    Ok(out)
}

fn numeric_function(input: Expr, ftype: &str, base: f64, stops: Vec<(f64, Lit)>) -> Expr {
    let stops: Vec<(f64, Expr)> = stops.into_iter().map(|(x, l)| (x, Expr::Lit(l))).collect();
    if ftype == "exponential" {
        let interp = if base == 1.0 {
            Interp::Linear
        } else {
            Interp::Exponential(base)
        };
        Expr::Interpolate {
            interp,
            input: Box::new(input),
            stops,
        }
    } else {
        // interval: below the first stop, the first stop's output.
        let mut it = stops.into_iter();
        let (_, first) = it.next().expect("at least one stop");
        Expr::Step {
            input: Box::new(input),
            first: Box::new(first),
            stops: it.collect(),
        }
    }
}

fn property_function(
    p: &str,
    ftype: &str,
    base: f64,
    pairs: &[(&Json, Lit)],
    default: Lit,
    path: Path<'_>,
) -> CResult<Expr> {
    let get = || Expr::Get(p.into());
    match ftype {
        "categorical" => {
            if pairs.iter().all(|(i, _)| i.is_string() || i.is_number()) {
                let mut labels = Labels::default();
                let mut outputs = Vec::new();
                for (input, out) in pairs {
                    let idx = outputs.len();
                    match input {
                        Json::String(s) if !labels.strs.iter().any(|(l, _)| **l == **s) => {
                            labels.strs.push((s.as_str().into(), idx));
                        }
                        Json::Number(n) => {
                            let n = n.as_f64().unwrap_or(f64::NAN);
                            if labels.nums.iter().any(|(l, _)| *l == n) {
                                continue;
                            }
                            labels.nums.push((n, idx));
                        }
                        _ => continue,
                    }
                    outputs.push(Expr::Lit(out.clone()));
                }
                labels.sort();
                Ok(Expr::Match {
                    input: Box::new(get()),
                    labels,
                    outputs,
                    default: Box::new(Expr::Lit(default)),
                })
            } else {
                let mut branches = Vec::new();
                for (i, (input, out)) in pairs.iter().enumerate() {
                    if !matches!(input, Json::Bool(_) | Json::String(_) | Json::Number(_)) {
                        return err(
                            Path::Index(&Path::Index(&Path::Key(&path, "stops"), i), 0),
                            format!(
                                "expected a string, number or boolean, got {}",
                                describe(input)
                            ),
                        );
                    }
                    let cond = Expr::PropEq {
                        key: p.into(),
                        value: Lit::from_json(input),
                        negate: false,
                    };
                    branches.push((cond, Expr::Lit(out.clone())));
                }
                Ok(Expr::Case {
                    branches,
                    default: Box::new(Expr::Lit(default)),
                })
            }
        }
        _ => {
            let nums = numeric_stops(pairs, path)?;
            let f = numeric_function(get(), ftype, base, nums);
            Ok(Expr::Case {
                branches: vec![(Expr::TypeIs(AssertKind::Number, Box::new(get())), f)],
                default: Box::new(Expr::Lit(default)),
            })
        }
    }
}

fn identity(p: &str, ty: Ty, default: Lit) -> Expr {
    let get = || Box::new(Expr::Get(p.into()));
    let (kind, conv) = match ty {
        Ty::Number => (AssertKind::Number, Expr::Get(p.into())),
        Ty::Bool => (AssertKind::Boolean, Expr::Get(p.into())),
        Ty::Color => (AssertKind::String, Expr::ToColor(vec![Expr::Get(p.into())])),
        Ty::Array => (AssertKind::Array, Expr::Get(p.into())),
        _ => (AssertKind::String, Expr::Get(p.into())),
    };
    Expr::Case {
        branches: vec![(Expr::TypeIs(kind, get()), conv)],
        default: Box::new(Expr::Lit(default)),
    }
}

/// Folds an expression without feature or zoom dependencies into a literal.
pub(crate) fn fold(e: Expr) -> Expr {
    let d = e.deps();
    if d.zoom || d.feature {
        return e;
    }
    if let Expr::Lit(_) = e {
        return e;
    }
    let ctx = Ctx::new(None, 0.0);
    match e.eval(&ctx) {
        Ok(v) => Expr::Lit(v.to_lit()),
        // Keep it: it fails at runtime too, and the caller falls back to the default.
        Err(_) => e,
    }
}

/// Whether `v` as a runtime value is acceptable (used for constant checks).
pub(crate) fn val_matches(v: &Val<'_>, ty: Ty) -> bool {
    match ty {
        Ty::Value => true,
        Ty::Number => matches!(v, Val::Num(_)),
        Ty::Bool => matches!(v, Val::Bool(_)),
        Ty::Color => v.as_color().is_some(),
        Ty::String => matches!(v, Val::Str(_)),
        Ty::Enum(values) => matches!(v, Val::Str(s) if values.contains(&s.as_ref())),
        Ty::Array => matches!(v, Val::Array(_)),
        Ty::Object => matches!(v, Val::Object(_)),
        Ty::Null => matches!(v, Val::Null),
    }
}

/// Finds subexpressions that occur more than once across `roots` (a layer's paint
/// properties), moves them to the returned list and replaces them with [`Expr::Shared`]:
/// evaluated once per `paint()` call instead of once per property.
pub(crate) fn share_common(roots: &mut [&mut Expr]) -> Vec<Expr> {
    /// Bottom-up facts about a subtree, computed in one pass.
    struct Info {
        size: usize,
        feature: bool,
        /// The largest `let` distance of a variable that escapes the subtree.
        free: Option<usize>,
    }
    fn collect<'e>(e: &'e Expr, out: &mut Vec<(&'e Expr, usize)>) -> Info {
        let mut info = Info {
            size: 1,
            feature: false,
            free: None,
        };
        match e {
            Expr::Var(i) => info.free = Some(*i),
            Expr::Let { value, body } => {
                let v = collect(value, out);
                let b = collect(body, out);
                info.size += v.size + b.size;
                info.feature = v.feature || b.feature;
                info.free = v.free.max(b.free.and_then(|i| i.checked_sub(1)));
            }
            _ => e.for_each_child(&mut |c| {
                let ci = collect(c, out);
                info.size += ci.size;
                info.feature |= ci.feature;
                info.free = info.free.max(ci.free);
            }),
        }
        let leaf_feature = matches!(
            e,
            Expr::Get(_)
                | Expr::Has(_)
                | Expr::GeometryType
                | Expr::GeomTypeEq { .. }
                | Expr::Id
                | Expr::PropEq { .. }
                | Expr::Shared(_)
                | Expr::LegacyCmp { .. }
                | Expr::LegacyIn { .. }
                | Expr::LegacyHas(_)
        );
        info.feature |= leaf_feature;
        let trivial = leaf_feature || matches!(e, Expr::Lit(_) | Expr::Zoom | Expr::Var(_));
        if !trivial && info.feature && info.free.is_none() && info.size >= 3 {
            out.push((e, info.size));
        }
        info
    }
    fn rewrite(e: &mut Expr, shared: &[Expr], skip: Option<usize>) {
        if let Some(k) = shared
            .iter()
            .enumerate()
            .position(|(k, s)| Some(k) != skip && s == e)
        {
            *e = Expr::Shared(k);
            return;
        }
        e.for_each_child_mut(&mut |c| rewrite(c, shared, skip));
    }
    let mut shared: Vec<Expr> = Vec::new();
    {
        let mut cands: Vec<(&Expr, usize)> = Vec::new();
        for r in roots.iter() {
            collect(r, &mut cands);
        }
        cands.sort_by_key(|(_, size)| std::cmp::Reverse(*size));
        for (i, (c, size)) in cands.iter().enumerate() {
            if shared.len() == super::expr::MAX_SHARED {
                break;
            }
            if shared.iter().any(|s| s == *c) {
                continue;
            }
            // Equal trees have equal sizes: only compare within the run of this size.
            if cands[i + 1..]
                .iter()
                .take_while(|(_, s)| s == size)
                .any(|(o, _)| o == c)
            {
                shared.push((*c).clone());
            }
        }
    }
    if shared.is_empty() {
        return shared;
    }
    for r in roots.iter_mut() {
        rewrite(r, &shared, None);
    }
    for k in 0..shared.len() {
        let mut e = shared[k].clone();
        e.for_each_child_mut(&mut |c| rewrite(c, &shared, Some(k)));
        shared[k] = e;
    }
    shared
}

/// MapLibre's rule for zoom-dependent property values: `["zoom"]` only as the input of a
/// top-level `step`/`interpolate` (possibly inside `let` or `coalesce`). MapLibre rejects
/// other uses; this renderer evaluates them anyway and only warns.
pub(crate) fn zoom_curve_is_top_level(e: &Expr) -> bool {
    fn uses_zoom(e: &Expr) -> bool {
        match e {
            Expr::Zoom => true,
            // Converted legacy functions and folded constants carry no raw zoom.
            _ => {
                let mut found = false;
                e.for_each_child(&mut |c| found = found || uses_zoom(c));
                found
            }
        }
    }
    match e {
        Expr::Let { value, body } => !uses_zoom(value) && zoom_curve_is_top_level(body),
        Expr::Coalesce(args) => args.iter().all(zoom_curve_is_top_level),
        Expr::Step {
            input,
            first,
            stops,
        } if **input == Expr::Zoom => !uses_zoom(first) && stops.iter().all(|(_, o)| !uses_zoom(o)),
        Expr::Interpolate { input, stops, .. } if **input == Expr::Zoom => {
            stops.iter().all(|(_, o)| !uses_zoom(o))
        }
        other => !uses_zoom(other),
    }
}
