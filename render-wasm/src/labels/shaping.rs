//! Text → positioned glyphs, as MapLibre's `shapeText` lays them out (src/symbol/shaping.ts):
//! its line breaker (badness = (width − target)², penalties for parentheses, forced breaks
//! on `\n`), per-line trimming and justification, and the block's alignment around the
//! anchor. Glyph advances come from harfrust (kerning and ligatures included) instead of
//! MapLibre's integer PBF advances.
//!
//! Units: layout units ([`ONE_EM`] = 24 per em), relative to the anchor, y down. The caller
//! scales by `text-size / 24` to get CSS px.

#[cfg(test)]
use super::font::ONE_EM;
use super::font::{Face, FaceId, ShapedGlyph};
use crate::style::{TextAnchor, TextJustify};

/// MapLibre's `SHAPING_DEFAULT_OFFSET`: a glyph's `y` is its line's top plus this.
const SHAPING_DEFAULT_OFFSET: f64 = -17.0;

/// A glyph of a shaped label.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Positioned {
    pub face: FaceId,
    pub id: u32,
    /// Pen position (left of the advance box), layout units from the anchor.
    pub x: f64,
    /// Baseline, layout units from the anchor.
    pub baseline: f64,
    /// Advance, layout units (without letter spacing).
    pub advance: f64,
}

/// A shaped label: glyphs and the text block's box (layout units from the anchor, after
/// `text-offset`).
#[derive(Debug, Clone, PartialEq)]
pub struct Shaping {
    pub glyphs: Vec<Positioned>,
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
}

/// How to lay out a text block; lengths in layout units.
#[derive(Debug, Clone, Copy)]
pub struct ShapeParams {
    /// `text-max-width` × 24; infinite for line placements (MapLibre breaks only point labels).
    pub max_width: f64,
    pub line_height: f64,
    /// `text-letter-spacing` × 24, added after every glyph.
    pub spacing: f64,
    pub anchor: TextAnchor,
    pub justify: TextJustify,
    /// `text-offset` × 24.
    pub offset: [f64; 2],
}

/// MapLibre's whitespace set (trimmed at line ends, not counted in breaking widths).
fn is_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ')
}

fn breakable(c: char) -> bool {
    matches!(
        c,
        '\n' | ' '
            | '&'
            | ')'
            | '+'
            | '-'
            | '/'
            | '\u{ad}'
            | '\u{b7}'
            | '\u{200b}'
            | '\u{2010}'
            | '\u{2013}'
            | '\u{2027}'
    )
}

/// CJK ideographs and syllables, where MapLibre breaks between any two characters.
fn ideographic(c: char) -> bool {
    matches!(c as u32,
        0x2E80..=0x2FFF | 0x3000..=0x303F | 0x3040..=0x30FF | 0x3100..=0x31FF | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF | 0xA000..=0xA4CF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0xFF00..=0xFFEF)
}

struct Break {
    index: usize,
    x: f64,
    prior: Option<usize>,
    badness: f64,
}

fn badness(width: f64, target: f64, penalty: f64, last: bool) -> f64 {
    let d = width - target;
    let ragged = d * d;
    if last {
        // Favour final lines shorter than average over longer ones.
        if width < target {
            ragged / 2.0
        } else {
            ragged * 2.0
        }
    } else {
        ragged + penalty.abs() * penalty
    }
}

fn penalty(c: char, next: char, ideographic_break: bool) -> f64 {
    let mut p = 0.0;
    if c == '\n' {
        p -= 10000.0;
    }
    if ideographic_break {
        p += 150.0;
    }
    if c == '(' || c == '\u{ff08}' {
        p += 50.0;
    }
    if next == ')' || next == '\u{ff09}' {
        p += 50.0;
    }
    p
}

fn evaluate(
    index: usize,
    x: f64,
    target: f64,
    breaks: &[Break],
    penalty: f64,
    last: bool,
) -> Break {
    let mut best = None;
    let mut best_badness = badness(x, target, penalty, last);
    for (i, b) in breaks.iter().enumerate() {
        let v = badness(x - b.x, target, penalty, last) + b.badness;
        if v <= best_badness {
            best = Some(i);
            best_badness = v;
        }
    }
    Break {
        index,
        x,
        prior: best,
        badness: best_badness,
    }
}

/// MapLibre's `determineLineBreaks`: char indices where lines start (after the first).
/// `widths[i]` is char i's advance plus the letter spacing in layout units, or 0 for a char
/// with no glyph of its own (MapLibre's `getGlyphAdvance` gives a glyph missing from the font,
/// `\n` among them, neither advance nor spacing; so does a mark in another char's cluster).
fn line_breaks(chars: &[char], widths: &[f64], max_width: f64) -> Vec<usize> {
    if chars.is_empty() {
        return Vec::new();
    }
    let total: f64 = widths.iter().sum();
    let lines = if max_width > 0.0 && max_width.is_finite() {
        (total / max_width).ceil().max(1.0)
    } else {
        1.0
    };
    let target = total / lines;
    let server_breaks = chars.contains(&'\u{200b}');
    let mut breaks: Vec<Break> = Vec::new();
    let mut x = 0.0;
    for i in 0..chars.len() {
        let c = chars[i];
        if !is_space(c) {
            x += widths[i];
        }
        if i + 1 < chars.len() {
            let ideo = ideographic(c);
            let before = i + 2 != chars.len() && chars[i + 1] == '(';
            if breakable(c) || ideo || before {
                let b = evaluate(
                    i + 1,
                    x,
                    target,
                    &breaks,
                    penalty(c, chars[i + 1], ideo && server_breaks),
                    false,
                );
                breaks.push(b);
            }
        }
    }
    let last = evaluate(chars.len(), x, target, &breaks, 0.0, true);
    let mut out = Vec::new();
    let mut at = last.prior;
    while let Some(i) = at {
        out.push(breaks[i].index);
        at = breaks[i].prior;
    }
    out.reverse();
    out
}

/// Characters that go with the one before them, in its face: marks, joiners and variation
/// selectors belong to their base's cluster, and a space needs no face of its own (a run
/// broken at every space would shape worse and no differently).
fn follows(c: char) -> bool {
    c.is_whitespace()
        || matches!(c as u32,
            0x0300..=0x036F | 0x0483..=0x0489 | 0x0591..=0x05BD | 0x0610..=0x061A
            | 0x064B..=0x065F | 0x0900..=0x0903 | 0x093A..=0x094F | 0x0951..=0x0957
            | 0x0962..=0x0963 | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x200C..=0x200D
            | 0x20D0..=0x20FF | 0x302A..=0x302F | 0x3099..=0x309A | 0xFE00..=0xFE0F
            | 0xFE20..=0xFE2F | 0xE0100..=0xE01EF)
}

/// The text cut into runs by face (byte ranges and the face's index in `stack`): each
/// character goes to the first face of the stack that has it (the last face when none does,
/// which then draws nothing for it), a following character to its base's face.
fn runs(stack: &[&Face], text: &str) -> Vec<(usize, usize, usize)> {
    let mut out: Vec<(usize, usize, usize)> = Vec::new();
    for (b, c) in text.char_indices() {
        let face = match out.last() {
            Some(&(_, _, f)) if follows(c) => f,
            _ => stack
                .iter()
                .position(|f| f.has(c))
                .unwrap_or(stack.len() - 1),
        };
        match out.last_mut() {
            Some(run) if run.2 == face => run.1 = b + c.len_utf8(),
            _ => out.push((b, b + c.len_utf8(), face)),
        }
    }
    out
}

/// Whether some character of `text` (but white space and controls) has no glyph in any face
/// of the stack.
pub fn lacks_glyphs(stack: &[&Face], text: &str) -> bool {
    text.chars()
        .any(|c| !(c.is_whitespace() || c.is_control() || stack.iter().any(|f| f.has(c))))
}

/// The scripts (Unicode blocks, by name) of the characters of `text` no face of the stack
/// has, each once, in text order: for warnings that say what to supply.
pub fn unmatched_scripts(stack: &[&Face], text: &str) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for c in text.chars() {
        if c.is_whitespace() || c.is_control() || stack.iter().any(|f| f.has(c)) {
            continue;
        }
        let script = script_name(c);
        if !out.contains(&script) {
            out.push(script);
        }
    }
    out
}

/// A name for the script of `c`, by Unicode block (the common ones of place names).
fn script_name(c: char) -> &'static str {
    match c as u32 {
        0x0370..=0x03FF | 0x1F00..=0x1FFF => "Greek",
        0x0400..=0x052F => "Cyrillic",
        0x0530..=0x058F => "Armenian",
        0x0590..=0x05FF => "Hebrew",
        0x0600..=0x06FF | 0x0750..=0x077F | 0x08A0..=0x08FF | 0xFB50..=0xFDFF | 0xFE70..=0xFEFF => {
            "Arabic"
        }
        0x0700..=0x074F => "Syriac",
        0x0780..=0x07BF => "Thaana",
        0x0900..=0x097F => "Devanagari",
        0x0980..=0x09FF => "Bengali",
        0x0A00..=0x0A7F => "Gurmukhi",
        0x0A80..=0x0AFF => "Gujarati",
        0x0B00..=0x0B7F => "Oriya",
        0x0B80..=0x0BFF => "Tamil",
        0x0C00..=0x0C7F => "Telugu",
        0x0C80..=0x0CFF => "Kannada",
        0x0D00..=0x0D7F => "Malayalam",
        0x0D80..=0x0DFF => "Sinhala",
        0x0E00..=0x0E7F => "Thai",
        0x0E80..=0x0EFF => "Lao",
        0x0F00..=0x0FFF => "Tibetan",
        0x1000..=0x109F => "Myanmar",
        0x10A0..=0x10FF => "Georgian",
        0x1100..=0x11FF | 0x3130..=0x318F | 0xAC00..=0xD7AF => "Hangul",
        0x1200..=0x139F | 0x2D80..=0x2DDF => "Ethiopic",
        0x13A0..=0x13FF => "Cherokee",
        0x1780..=0x17FF => "Khmer",
        0x1800..=0x18AF => "Mongolian",
        0x3040..=0x30FF | 0x31F0..=0x31FF => "Japanese kana",
        0x2E80..=0x2FFF
        | 0x3000..=0x303F
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xF900..=0xFAFF
        | 0x20000..=0x3FFFF => "Han (CJK)",
        0x1F000..=0x1FAFF | 0x2600..=0x27BF => "emoji and symbol",
        _ => "other",
    }
}

/// Shapes `text` in a stack of faces (one run per face, clusters as byte offsets in `text`).
/// Glyphs with zero advance where no face has one: MapLibre gives a missing glyph no advance
/// and draws nothing.
fn shaped(stack: &[&Face], text: &str) -> Vec<ShapedGlyph> {
    let mut g = match stack {
        [face] => face.shape(text),
        _ => runs(stack, text)
            .into_iter()
            .flat_map(|(start, end, f)| {
                let mut run = stack[f].shape(&text[start..end]);
                for g in &mut run {
                    g.cluster += start as u32;
                }
                run
            })
            .collect(),
    };
    for s in &mut g {
        if s.id == 0 {
            s.advance = 0.0;
        }
    }
    g
}

/// Lays out `text` (non-empty after trimming) with MapLibre's rules, in the faces of a
/// `text-font` stack (non-empty; see [`super::font::Fonts::stack`]). `None` when nothing
/// would be drawn.
pub fn shape_text(stack: &[&Face], text: &str, p: &ShapeParams) -> Option<Shaping> {
    let whole = shaped(stack, text);
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    // Each char's width: the glyphs of the cluster starting at it (ligatures and marks go to
    // the cluster's first char, as a line break cannot split a cluster anyway) plus the letter
    // spacing, once per cluster with a glyph the face has.
    let mut advances = vec![0.0; chars.len()];
    let mut drawn = vec![false; chars.len()];
    {
        let mut ci = 0;
        let mut sorted: Vec<&ShapedGlyph> = whole.iter().collect();
        sorted.sort_by_key(|g| g.cluster);
        for g in sorted {
            while ci + 1 < chars.len() && chars[ci + 1].0 as u32 <= g.cluster {
                ci += 1;
            }
            if let Some(a) = advances.get_mut(ci) {
                *a += g.advance;
                drawn[ci] |= g.id != 0;
            }
        }
    }
    let widths: Vec<f64> = advances
        .iter()
        .zip(&drawn)
        .map(|(&a, &d)| if d { a + p.spacing } else { 0.0 })
        .collect();
    let only_chars: Vec<char> = chars.iter().map(|c| c.1).collect();
    let breaks = line_breaks(&only_chars, &widths, p.max_width);
    let mut starts = vec![0usize];
    starts.extend(breaks);
    let mut lines: Vec<(usize, usize)> = Vec::new();
    for (k, &s) in starts.iter().enumerate() {
        let e = starts.get(k + 1).copied().unwrap_or(chars.len());
        lines.push((s, e));
    }
    let byte = |ci: usize| chars.get(ci).map(|c| c.0).unwrap_or(text.len());

    let justify = match p.justify {
        TextJustify::Right => 1.0,
        TextJustify::Left => 0.0,
        TextJustify::Center => 0.5,
        TextJustify::Auto => p.anchor.alignment().0,
    };
    let mut glyphs: Vec<Positioned> = Vec::new();
    let mut y = 0.0;
    let mut max_len: f64 = 0.0;
    let single = lines.len() == 1;
    for (s, e) in lines {
        let line = &text[byte(s)..byte(e)];
        let trimmed = line.trim_matches(is_space);
        if trimmed.is_empty() {
            y += p.line_height;
            continue;
        }
        let line_glyphs = if single && trimmed.len() == text.len() {
            whole.clone()
        } else {
            shaped(stack, trimmed)
        };
        let first = glyphs.len();
        let mut x = 0.0;
        // A glyph the face lacks is skipped: no advance, no spacing (MapLibre's shapeLines).
        for g in line_glyphs.iter().filter(|g| g.id != 0) {
            let ascender = stack
                .iter()
                .find(|f| f.id == g.face)
                .map_or(0.0, |f| f.ascender);
            glyphs.push(Positioned {
                face: g.face,
                id: g.id,
                x: x + g.dx,
                baseline: y + SHAPING_DEFAULT_OFFSET + ascender + g.dy,
                advance: g.advance,
            });
            x += g.advance + p.spacing;
        }
        if glyphs.len() > first {
            let len = x - p.spacing;
            max_len = max_len.max(len);
            // MapLibre's justifyLine: shift by the line's length (pen end) × justify.
            let indent = len * justify;
            for g in &mut glyphs[first..] {
                g.x -= indent;
            }
        }
        y += p.line_height;
    }
    if glyphs.is_empty() {
        return None;
    }
    let line_count = (y / p.line_height).round();
    let (h_align, v_align) = p.anchor.alignment();
    let shift_x = (justify - h_align) * max_len;
    let shift_y = -v_align * line_count * p.line_height + 0.5 * p.line_height;
    for g in &mut glyphs {
        g.x += shift_x + p.offset[0];
        g.baseline += shift_y + p.offset[1];
    }
    let top = p.offset[1] - v_align * y;
    let left = p.offset[0] - h_align * max_len;
    Some(Shaping {
        glyphs,
        left,
        right: left + max_len,
        top,
        bottom: top + y,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::font::face;
    use crate::style::FaceStyle;

    fn params(max_width_em: f64) -> ShapeParams {
        ShapeParams {
            max_width: max_width_em * ONE_EM,
            line_height: 1.2 * ONE_EM,
            spacing: 0.0,
            anchor: TextAnchor::Center,
            justify: TextJustify::Center,
            offset: [0.0, 0.0],
        }
    }

    #[test]
    fn long_names_break_into_balanced_lines() {
        let f = face(FaceStyle::Regular);
        let s = shape_text(&[f], "Piazza della Santissima Annunziata", &params(10.0)).unwrap();
        let mut baselines: Vec<i64> = s.glyphs.iter().map(|g| g.baseline as i64).collect();
        baselines.dedup();
        assert_eq!(baselines.len(), 2, "two lines");
        // Centred block: the box straddles the anchor symmetrically.
        assert!((s.left + s.right).abs() < 1e-9);
        assert!((s.top + s.bottom).abs() < 1e-9);
        assert!((s.bottom - s.top - 2.0 * 1.2 * ONE_EM).abs() < 1e-9);
        // MapLibre lets a line run past the max width rather than break badly; the block
        // is still much narrower than the one-line text.
        let one = shape_text(&[f], "Piazza della Santissima Annunziata", &params(100.0)).unwrap();
        assert!(s.right - s.left < 0.75 * (one.right - one.left));
    }

    #[test]
    fn newline_forces_a_break_and_short_text_does_not_break() {
        let f = face(FaceStyle::Regular);
        let one = shape_text(&[f], "Duomo di Firenze", &params(10.0)).unwrap();
        assert!(one
            .glyphs
            .iter()
            .all(|g| g.baseline == one.glyphs[0].baseline));
        let two = shape_text(&[f], "Duomo\nFirenze", &params(f64::INFINITY)).unwrap();
        assert!(two
            .glyphs
            .iter()
            .any(|g| g.baseline != two.glyphs[0].baseline));
    }

    #[test]
    fn anchors_align_the_block() {
        let f = face(FaceStyle::Regular);
        let mut p = params(10.0);
        p.anchor = TextAnchor::TopLeft;
        let s = shape_text(&[f], "Arno", &p).unwrap();
        assert_eq!((s.left, s.top), (0.0, 0.0));
        assert!(s.glyphs[0].x.abs() < 2.0);
        // The baseline is inside the line box, below its middle.
        let b = s.glyphs[0].baseline;
        assert!(b > 0.6 * ONE_EM * 0.5 && b < 1.2 * ONE_EM, "{b}");
    }

    #[test]
    fn unknown_script_is_not_drawn() {
        let f = face(FaceStyle::Regular);
        assert!(shape_text(&[f], "佛罗伦萨", &params(10.0)).is_none());
    }
}
