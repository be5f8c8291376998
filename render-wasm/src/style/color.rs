//! CSS colours as the MapLibre Style Spec accepts them.

use std::fmt;

/// An sRGB colour with straight (not premultiplied) alpha in `0..=1`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Color {
    pub r: u8,
    pub g: u8,
    pub b: u8,
    pub a: f32,
}

impl Color {
    pub const BLACK: Color = Color::rgb(0, 0, 0);
    pub const WHITE: Color = Color::rgb(255, 255, 255);
    pub const TRANSPARENT: Color = Color {
        r: 0,
        g: 0,
        b: 0,
        a: 0.0,
    };

    pub const fn rgb(r: u8, g: u8, b: u8) -> Color {
        Color { r, g, b, a: 1.0 }
    }

    pub const fn rgba(r: u8, g: u8, b: u8, a: f32) -> Color {
        Color { r, g, b, a }
    }

    /// Parses any CSS colour form the style spec accepts: `#rgb`, `#rgba`, `#rrggbb`,
    /// `#rrggbbaa`, `rgb()`, `rgba()`, `hsl()`, `hsla()` (comma or space separated, `/ alpha`),
    /// the 148 CSS named colours and `transparent`. Case-insensitive; surrounding whitespace
    /// is ignored. Never allocates.
    pub fn parse(text: &str) -> Option<Color> {
        let s = text.trim();
        if let Some(hex) = s.strip_prefix('#') {
            return parse_hex(hex);
        }
        if let Some(open) = s.find('(') {
            if !s.ends_with(')') {
                return None;
            }
            let name = s[..open].trim();
            let body = &s[open + 1..s.len() - 1];
            return if name.eq_ignore_ascii_case("rgb") || name.eq_ignore_ascii_case("rgba") {
                parse_rgb_fn(body)
            } else if name.eq_ignore_ascii_case("hsl") || name.eq_ignore_ascii_case("hsla") {
                parse_hsl_fn(body)
            } else {
                None
            };
        }
        named(s)
    }

    /// Components as premultiplied floats in `0..=1`.
    pub(crate) fn premultiplied(self) -> [f64; 4] {
        let a = f64::from(self.a);
        [
            f64::from(self.r) / 255.0 * a,
            f64::from(self.g) / 255.0 * a,
            f64::from(self.b) / 255.0 * a,
            a,
        ]
    }

    /// The inverse of [`Color::premultiplied`] (components clamped).
    pub(crate) fn from_premultiplied(p: [f64; 4]) -> Color {
        let a = p[3].clamp(0.0, 1.0);
        if a.is_nan() || a <= 0.0 {
            return Color::TRANSPARENT;
        }
        let c = |v: f64| to_u8(v / a * 255.0);
        Color {
            r: c(p[0]),
            g: c(p[1]),
            b: c(p[2]),
            a: a as f32,
        }
    }

    /// Interpolates as MapLibre does (premultiplied RGB).
    pub(crate) fn lerp(self, to: Color, t: f64) -> Color {
        let a = self.premultiplied();
        let b = to.premultiplied();
        let mut out = [0.0; 4];
        for i in 0..4 {
            out[i] = a[i] + (b[i] - a[i]) * t;
        }
        Color::from_premultiplied(out)
    }
}

/// `rgba(r,g,b,a)` as MapLibre's `to-string` writes colours.
impl fmt::Display for Color {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rgba({},{},{},{})", self.r, self.g, self.b, self.a)
    }
}

fn to_u8(v: f64) -> u8 {
    if v.is_nan() {
        0
    } else {
        v.round().clamp(0.0, 255.0) as u8
    }
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn parse_hex(hex: &str) -> Option<Color> {
    let b = hex.as_bytes();
    let mut d = [0u8; 8];
    if !matches!(b.len(), 3 | 4 | 6 | 8) {
        return None;
    }
    for (i, c) in b.iter().enumerate() {
        d[i] = hex_digit(*c)?;
    }
    let (r, g, bl, a) = match b.len() {
        3 => (d[0] * 17, d[1] * 17, d[2] * 17, 255),
        4 => (d[0] * 17, d[1] * 17, d[2] * 17, d[3] * 17),
        6 => (d[0] * 16 + d[1], d[2] * 16 + d[3], d[4] * 16 + d[5], 255),
        _ => (
            d[0] * 16 + d[1],
            d[2] * 16 + d[3],
            d[4] * 16 + d[5],
            d[6] * 16 + d[7],
        ),
    };
    Some(Color {
        r,
        g,
        b: bl,
        a: f32::from(a) / 255.0,
    })
}

/// Splits a CSS function body into up to four components: `a, b, c[, d]` or `a b c[ / d]`.
/// Returns the components and whether the body was comma separated.
fn components(body: &str) -> Option<([&str; 4], usize)> {
    let mut out = [""; 4];
    let mut n = 0;
    let body = body.trim();
    if body.contains(',') {
        for part in body.split(',') {
            if n == 4 {
                return None;
            }
            out[n] = part.trim();
            n += 1;
        }
    } else {
        let (main, alpha) = match body.split_once('/') {
            Some((m, a)) => (m, Some(a.trim())),
            None => (body, None),
        };
        for part in main.split_ascii_whitespace() {
            if n == 3 {
                return None;
            }
            out[n] = part;
            n += 1;
        }
        if let Some(a) = alpha {
            if n != 3 {
                return None;
            }
            out[3] = a;
            n = 4;
        }
    }
    if out[..n].iter().any(|c| c.is_empty()) {
        return None;
    }
    Some((out, n))
}

fn parse_num(s: &str) -> Option<f64> {
    let s = s.trim();
    // Rust's parser accepts "inf"/"nan" spellings CSS does not.
    if s.is_empty()
        || s.bytes()
            .any(|c| c.is_ascii_alphabetic() && c != b'e' && c != b'E')
    {
        return None;
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// A colour channel: a number 0..255 or a percentage.
fn channel(s: &str) -> Option<u8> {
    match s.strip_suffix('%') {
        Some(p) => Some(to_u8(parse_num(p)? / 100.0 * 255.0)),
        None => Some(to_u8(parse_num(s)?)),
    }
}

/// An alpha value: a number 0..1 or a percentage.
fn alpha(s: &str) -> Option<f32> {
    let v = match s.strip_suffix('%') {
        Some(p) => parse_num(p)? / 100.0,
        None => parse_num(s)?,
    };
    Some(v.clamp(0.0, 1.0) as f32)
}

fn parse_rgb_fn(body: &str) -> Option<Color> {
    let (c, n) = components(body)?;
    if n < 3 {
        return None;
    }
    let a = if n == 4 { alpha(c[3])? } else { 1.0 };
    Some(Color {
        r: channel(c[0])?,
        g: channel(c[1])?,
        b: channel(c[2])?,
        a,
    })
}

/// A percentage for `hsl()`: `50%` or (leniently) `50`.
fn percent(s: &str) -> Option<f64> {
    let v = parse_num(s.strip_suffix('%').unwrap_or(s))?;
    Some((v / 100.0).clamp(0.0, 1.0))
}

fn parse_hsl_fn(body: &str) -> Option<Color> {
    let (c, n) = components(body)?;
    if n < 3 {
        return None;
    }
    let h = c[0];
    let h = h.strip_suffix("deg").unwrap_or(h);
    let h = parse_num(h)?.rem_euclid(360.0) / 360.0;
    let s = percent(c[1])?;
    let l = percent(c[2])?;
    let a = if n == 4 { alpha(c[3])? } else { 1.0 };
    let m2 = if l <= 0.5 {
        l * (s + 1.0)
    } else {
        l + s - l * s
    };
    let m1 = l * 2.0 - m2;
    let hue = |mut h: f64| {
        if h < 0.0 {
            h += 1.0;
        } else if h > 1.0 {
            h -= 1.0;
        }
        let v = if h * 6.0 < 1.0 {
            m1 + (m2 - m1) * h * 6.0
        } else if h * 2.0 < 1.0 {
            m2
        } else if h * 3.0 < 2.0 {
            m1 + (m2 - m1) * (2.0 / 3.0 - h) * 6.0
        } else {
            m1
        };
        to_u8(v * 255.0)
    };
    Some(Color {
        r: hue(h + 1.0 / 3.0),
        g: hue(h),
        b: hue(h - 1.0 / 3.0),
        a,
    })
}

fn named(s: &str) -> Option<Color> {
    if s.eq_ignore_ascii_case("transparent") {
        return Some(Color::TRANSPARENT);
    }
    if s.len() > 20 || !s.is_ascii() {
        return None;
    }
    let mut buf = [0u8; 20];
    let lower = &mut buf[..s.len()];
    lower.copy_from_slice(s.as_bytes());
    lower.make_ascii_lowercase();
    let key = std::str::from_utf8(lower).ok()?;
    let i = NAMED.binary_search_by(|(n, _)| (*n).cmp(key)).ok()?;
    let v = NAMED[i].1;
    Some(Color::rgb((v >> 16) as u8, (v >> 8) as u8, v as u8))
}

/// The CSS named colours (CSS Color Module Level 4), sorted by name.
pub(crate) const NAMED: &[(&str, u32)] = &[
    ("aliceblue", 0xf0f8ff),
    ("antiquewhite", 0xfaebd7),
    ("aqua", 0x00ffff),
    ("aquamarine", 0x7fffd4),
    ("azure", 0xf0ffff),
    ("beige", 0xf5f5dc),
    ("bisque", 0xffe4c4),
    ("black", 0x000000),
    ("blanchedalmond", 0xffebcd),
    ("blue", 0x0000ff),
    ("blueviolet", 0x8a2be2),
    ("brown", 0xa52a2a),
    ("burlywood", 0xdeb887),
    ("cadetblue", 0x5f9ea0),
    ("chartreuse", 0x7fff00),
    ("chocolate", 0xd2691e),
    ("coral", 0xff7f50),
    ("cornflowerblue", 0x6495ed),
    ("cornsilk", 0xfff8dc),
    ("crimson", 0xdc143c),
    ("cyan", 0x00ffff),
    ("darkblue", 0x00008b),
    ("darkcyan", 0x008b8b),
    ("darkgoldenrod", 0xb8860b),
    ("darkgray", 0xa9a9a9),
    ("darkgreen", 0x006400),
    ("darkgrey", 0xa9a9a9),
    ("darkkhaki", 0xbdb76b),
    ("darkmagenta", 0x8b008b),
    ("darkolivegreen", 0x556b2f),
    ("darkorange", 0xff8c00),
    ("darkorchid", 0x9932cc),
    ("darkred", 0x8b0000),
    ("darksalmon", 0xe9967a),
    ("darkseagreen", 0x8fbc8f),
    ("darkslateblue", 0x483d8b),
    ("darkslategray", 0x2f4f4f),
    ("darkslategrey", 0x2f4f4f),
    ("darkturquoise", 0x00ced1),
    ("darkviolet", 0x9400d3),
    ("deeppink", 0xff1493),
    ("deepskyblue", 0x00bfff),
    ("dimgray", 0x696969),
    ("dimgrey", 0x696969),
    ("dodgerblue", 0x1e90ff),
    ("firebrick", 0xb22222),
    ("floralwhite", 0xfffaf0),
    ("forestgreen", 0x228b22),
    ("fuchsia", 0xff00ff),
    ("gainsboro", 0xdcdcdc),
    ("ghostwhite", 0xf8f8ff),
    ("gold", 0xffd700),
    ("goldenrod", 0xdaa520),
    ("gray", 0x808080),
    ("green", 0x008000),
    ("greenyellow", 0xadff2f),
    ("grey", 0x808080),
    ("honeydew", 0xf0fff0),
    ("hotpink", 0xff69b4),
    ("indianred", 0xcd5c5c),
    ("indigo", 0x4b0082),
    ("ivory", 0xfffff0),
    ("khaki", 0xf0e68c),
    ("lavender", 0xe6e6fa),
    ("lavenderblush", 0xfff0f5),
    ("lawngreen", 0x7cfc00),
    ("lemonchiffon", 0xfffacd),
    ("lightblue", 0xadd8e6),
    ("lightcoral", 0xf08080),
    ("lightcyan", 0xe0ffff),
    ("lightgoldenrodyellow", 0xfafad2),
    ("lightgray", 0xd3d3d3),
    ("lightgreen", 0x90ee90),
    ("lightgrey", 0xd3d3d3),
    ("lightpink", 0xffb6c1),
    ("lightsalmon", 0xffa07a),
    ("lightseagreen", 0x20b2aa),
    ("lightskyblue", 0x87cefa),
    ("lightslategray", 0x778899),
    ("lightslategrey", 0x778899),
    ("lightsteelblue", 0xb0c4de),
    ("lightyellow", 0xffffe0),
    ("lime", 0x00ff00),
    ("limegreen", 0x32cd32),
    ("linen", 0xfaf0e6),
    ("magenta", 0xff00ff),
    ("maroon", 0x800000),
    ("mediumaquamarine", 0x66cdaa),
    ("mediumblue", 0x0000cd),
    ("mediumorchid", 0xba55d3),
    ("mediumpurple", 0x9370db),
    ("mediumseagreen", 0x3cb371),
    ("mediumslateblue", 0x7b68ee),
    ("mediumspringgreen", 0x00fa9a),
    ("mediumturquoise", 0x48d1cc),
    ("mediumvioletred", 0xc71585),
    ("midnightblue", 0x191970),
    ("mintcream", 0xf5fffa),
    ("mistyrose", 0xffe4e1),
    ("moccasin", 0xffe4b5),
    ("navajowhite", 0xffdead),
    ("navy", 0x000080),
    ("oldlace", 0xfdf5e6),
    ("olive", 0x808000),
    ("olivedrab", 0x6b8e23),
    ("orange", 0xffa500),
    ("orangered", 0xff4500),
    ("orchid", 0xda70d6),
    ("palegoldenrod", 0xeee8aa),
    ("palegreen", 0x98fb98),
    ("paleturquoise", 0xafeeee),
    ("palevioletred", 0xdb7093),
    ("papayawhip", 0xffefd5),
    ("peachpuff", 0xffdab9),
    ("peru", 0xcd853f),
    ("pink", 0xffc0cb),
    ("plum", 0xdda0dd),
    ("powderblue", 0xb0e0e6),
    ("purple", 0x800080),
    ("rebeccapurple", 0x663399),
    ("red", 0xff0000),
    ("rosybrown", 0xbc8f8f),
    ("royalblue", 0x4169e1),
    ("saddlebrown", 0x8b4513),
    ("salmon", 0xfa8072),
    ("sandybrown", 0xf4a460),
    ("seagreen", 0x2e8b57),
    ("seashell", 0xfff5ee),
    ("sienna", 0xa0522d),
    ("silver", 0xc0c0c0),
    ("skyblue", 0x87ceeb),
    ("slateblue", 0x6a5acd),
    ("slategray", 0x708090),
    ("slategrey", 0x708090),
    ("snow", 0xfffafa),
    ("springgreen", 0x00ff7f),
    ("steelblue", 0x4682b4),
    ("tan", 0xd2b48c),
    ("teal", 0x008080),
    ("thistle", 0xd8bfd8),
    ("tomato", 0xff6347),
    ("turquoise", 0x40e0d0),
    ("violet", 0xee82ee),
    ("wheat", 0xf5deb3),
    ("white", 0xffffff),
    ("whitesmoke", 0xf5f5f5),
    ("yellow", 0xffff00),
    ("yellowgreen", 0x9acd32),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_table_is_complete_and_sorted() {
        assert_eq!(NAMED.len(), 148);
        assert!(
            NAMED.windows(2).all(|w| w[0].0 < w[1].0),
            "NAMED must be sorted for binary search"
        );
        for (name, _) in NAMED {
            assert!(Color::parse(name).is_some(), "{name}");
        }
    }

    #[test]
    fn hex_forms() {
        assert_eq!(Color::parse("#f00"), Some(Color::rgb(255, 0, 0)));
        assert_eq!(
            Color::parse("#F00A"),
            Some(Color::rgba(255, 0, 0, 170.0 / 255.0))
        );
        assert_eq!(Color::parse("#12aBef"), Some(Color::rgb(0x12, 0xab, 0xef)));
        assert_eq!(
            Color::parse("#12abef80"),
            Some(Color::rgba(0x12, 0xab, 0xef, 128.0 / 255.0))
        );
        for bad in ["#", "#12", "#12345", "#1234567", "#ggg", "#123456789"] {
            assert_eq!(Color::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn functional_forms() {
        assert_eq!(Color::parse("rgb(1, 2, 3)"), Some(Color::rgb(1, 2, 3)));
        assert_eq!(
            Color::parse("RGBA(1,2,3,0.5)"),
            Some(Color::rgba(1, 2, 3, 0.5))
        );
        assert_eq!(
            Color::parse("rgb(100%, 0%, 50%)"),
            Some(Color::rgb(255, 0, 128))
        );
        assert_eq!(Color::parse("rgb(300, -4, 3)"), Some(Color::rgb(255, 0, 3)));
        assert_eq!(
            Color::parse("rgb(10 20 30 / 25%)"),
            Some(Color::rgba(10, 20, 30, 0.25))
        );
        assert_eq!(
            Color::parse("hsl(0, 100%, 50%)"),
            Some(Color::rgb(255, 0, 0))
        );
        assert_eq!(
            Color::parse("hsl(120, 100%, 25%)"),
            Some(Color::rgb(0, 128, 0))
        );
        assert_eq!(
            Color::parse("hsl(240deg 100% 50%)"),
            Some(Color::rgb(0, 0, 255))
        );
        assert_eq!(
            Color::parse("hsla(0, 0, 100, 0.2)"),
            Some(Color::rgba(255, 255, 255, 0.2))
        );
        assert_eq!(
            Color::parse("hsl(-120, 100%, 50%)"),
            Some(Color::rgb(0, 0, 255))
        );
        for bad in [
            "rgb(1,2)",
            "rgb(1,2,3",
            "rgb(a,b,c)",
            "foo(1,2,3)",
            "rgb(1,2,3,4,5)",
            "rgb(inf,0,0)",
        ] {
            assert_eq!(Color::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn premultiplied_lerp() {
        let red = Color::rgb(255, 0, 0);
        let mid = Color::TRANSPARENT.lerp(red, 0.5);
        assert_eq!(mid, Color::rgba(255, 0, 0, 0.5));
        assert_eq!(
            Color::BLACK.lerp(Color::WHITE, 0.5),
            Color::rgb(128, 128, 128)
        );
    }
}
