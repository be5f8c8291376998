//! The embedded faces: shaping with harfrust and outlines from skrifa, both over the same
//! bytes (one read-fonts parser).
//!
//! Units: shaping results and outlines are returned in *layout units*, MapLibre's glyph units
//! where one em is [`ONE_EM`] = 24 (so our numbers line up with MapLibre's shaping code, which
//! works at 24 px). y points down.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use harfrust::{Buffer, ShapeOptions, ShapePlan, ShapePlanKey, ShaperFont};
use skrifa::instance::{LocationRef, Size};
use skrifa::outline::{DrawSettings, OutlinePen};
use skrifa::{FontRef, GlyphId, MetadataProvider};

use crate::style::FaceStyle;

/// Layout units per em (MapLibre's `ONE_EM`).
pub const ONE_EM: f64 = 24.0;

static REGULAR: &[u8] = include_bytes!("fonts/NotoSans-Regular.ttf");
static BOLD: &[u8] = include_bytes!("fonts/NotoSans-Bold.ttf");
static ITALIC: &[u8] = include_bytes!("fonts/NotoSans-Italic.ttf");

/// One outline segment, in layout units (y down) relative to the glyph origin on the baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Seg {
    Move(f32, f32),
    Line(f32, f32),
    Quad(f32, f32, f32, f32),
    Cubic(f32, f32, f32, f32, f32, f32),
    Close,
}

/// A shaped glyph: id, the byte offset of its cluster in the shaped text, and its advance and
/// offsets in layout units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShapedGlyph {
    pub id: u32,
    pub cluster: u32,
    pub advance: f64,
    pub dx: f64,
    pub dy: f64,
}

/// One embedded face.
pub struct Face {
    pub style: FaceStyle,
    shaping: harfrust::Font,
    outlines: FontRef<'static>,
    /// Layout units per font unit.
    scale: f64,
    /// MapLibre's glyph PBFs position glyphs from the face's ascender rounded up to whole
    /// pixels at 24 px (FreeType's size metrics); the baseline sits this far below a line's
    /// top in layout units.
    pub ascender: f64,
    /// Outlines and their bounds by glyph id.
    cache: Mutex<HashMap<u32, Glyph>>,
    /// Shape plans by segment properties: compiling one costs more than shaping a label.
    plans: Mutex<Vec<Arc<ShapePlan>>>,
}

/// A glyph's outline (layout units) and its bounds.
type Glyph = (Arc<Vec<Seg>>, Option<[f32; 4]>);

impl std::fmt::Debug for Face {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Face({:?})", self.style)
    }
}

fn load(style: FaceStyle, bytes: &'static [u8]) -> Face {
    // The embedded files are checked by the tests; a broken build is not a runtime input.
    let shaping = harfrust::Font::new(bytes, 0).expect("embedded font parses");
    let outlines = FontRef::new(bytes).expect("embedded font parses");
    let upem = f64::from(shaping.units_per_em().max(1));
    let scale = ONE_EM / upem;
    let asc = outlines
        .metrics(Size::unscaled(), LocationRef::default())
        .ascent;
    Face {
        style,
        shaping,
        outlines,
        scale,
        ascender: (f64::from(asc) * scale).ceil(),
        cache: Mutex::new(HashMap::new()),
        plans: Mutex::new(Vec::new()),
    }
}

/// Whether the renderer can draw `text` as its script needs: every character (but white
/// space and controls) has a glyph in the embedded faces, and none is written right to left
/// (there is no bidi reordering yet, as MapLibre has none without its RTL plugin and then
/// answers `false` for such scripts too). The style expression `is-supported-script`.
pub fn can_draw(text: &str) -> bool {
    let charmap = face(FaceStyle::Regular).outlines.charmap();
    text.chars().all(|c| {
        if c.is_whitespace() || c.is_control() {
            return true;
        }
        let rtl = matches!(u32::from(c),
            0x0590..=0x08FF | 0xFB1D..=0xFDFF | 0xFE70..=0xFEFF | 0x10800..=0x10FFF | 0x1E800..=0x1EFFF);
        !rtl && charmap.map(c).is_some_and(|g| g.to_u32() != 0)
    })
}

/// The embedded face standing in for a font stack.
pub fn face(style: FaceStyle) -> &'static Face {
    static FACES: OnceLock<[Face; 3]> = OnceLock::new();
    let faces = FACES.get_or_init(|| {
        [
            load(FaceStyle::Regular, REGULAR),
            load(FaceStyle::Bold, BOLD),
            load(FaceStyle::Italic, ITALIC),
        ]
    });
    match style {
        FaceStyle::Regular => &faces[0],
        FaceStyle::Bold => &faces[1],
        FaceStyle::Italic => &faces[2],
    }
}

impl Face {
    /// Shapes one run of text (direction and script guessed from the text, as HarfBuzz's
    /// `guess_segment_properties`). Characters the face lacks come out as glyph 0 (.notdef,
    /// drawn as nothing by [`Face::outline`]).
    pub fn shape(&self, text: &str) -> Vec<ShapedGlyph> {
        let font = ShaperFont::new(&self.shaping);
        let mut buffer = Buffer::new();
        buffer.push_str(text);
        buffer.guess_segment_properties();
        // ShapePlan::new panics on an unset direction (guessing always sets one; be sure).
        if buffer.direction() == harfrust::Direction::Invalid {
            return Vec::new();
        }
        let plan = {
            let mut plans = self.plans.lock().unwrap_or_else(|p| p.into_inner());
            let key = ShapePlanKey::new(&self.shaping, buffer.script(), buffer.direction())
                .language(buffer.language());
            match plans.iter().find(|p| key.matches(p)) {
                Some(p) => Arc::clone(p),
                None => {
                    let p = Arc::new(ShapePlan::new(
                        &self.shaping,
                        buffer.direction(),
                        buffer.script(),
                        buffer.language(),
                        &[],
                    ));
                    // A handful of scripts per face in practice; cap it anyway.
                    if plans.len() >= 32 {
                        plans.remove(0);
                    }
                    plans.push(Arc::clone(&p));
                    p
                }
            }
        };
        if harfrust::shape(&font, &mut buffer, ShapeOptions::new().plan(Some(&plan))).is_err() {
            return Vec::new();
        }
        let k = self.scale;
        buffer
            .glyph_infos()
            .iter()
            .zip(buffer.glyph_positions())
            .map(|(i, p)| ShapedGlyph {
                id: i.glyph_id,
                cluster: i.cluster,
                advance: f64::from(p.x_advance) * k,
                dx: f64::from(p.x_offset) * k,
                // HarfBuzz offsets are y-up.
                dy: -f64::from(p.y_offset) * k,
            })
            .collect()
    }

    /// The glyph's outline in layout units (y down, origin on the baseline), cached per face.
    /// `.notdef` (id 0) and missing glyphs are empty: MapLibre draws nothing for a glyph its
    /// font lacks.
    pub fn outline(&self, id: u32) -> Arc<Vec<Seg>> {
        self.glyph(id).0
    }

    /// The glyph's outline and its bounds ([`Face::bounds`]), cached together.
    fn glyph(&self, id: u32) -> Glyph {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((o, b)) = cache.get(&id) {
            return (Arc::clone(o), *b);
        }
        let mut pen = Pen {
            k: self.scale as f32,
            segs: Vec::new(),
        };
        if id != 0 {
            if let Some(g) = self.outlines.outline_glyphs().get(GlyphId::new(id)) {
                let settings = DrawSettings::unhinted(Size::unscaled(), LocationRef::default());
                if g.draw(settings, &mut pen).is_err() {
                    pen.segs.clear();
                }
            }
        }
        let b = path_bounds(&pen.segs);
        let o = Arc::new(pen.segs);
        cache.insert(id, (Arc::clone(&o), b));
        (o, b)
    }
}

impl Face {
    /// The bounds of the glyph's outline points (control points included), layout units:
    /// x0, y0, x1, y1 (y down). `None` for empty glyphs.
    pub fn bounds(&self, id: u32) -> Option<[f32; 4]> {
        self.glyph(id).1
    }
}

struct Pen {
    k: f32,
    segs: Vec<Seg>,
}

impl OutlinePen for Pen {
    fn move_to(&mut self, x: f32, y: f32) {
        self.segs.push(Seg::Move(x * self.k, -y * self.k));
    }
    fn line_to(&mut self, x: f32, y: f32) {
        self.segs.push(Seg::Line(x * self.k, -y * self.k));
    }
    fn quad_to(&mut self, cx0: f32, cy0: f32, x: f32, y: f32) {
        let k = self.k;
        self.segs.push(Seg::Quad(cx0 * k, -cy0 * k, x * k, -y * k));
    }
    fn curve_to(&mut self, cx0: f32, cy0: f32, cx1: f32, cy1: f32, x: f32, y: f32) {
        let k = self.k;
        self.segs.push(Seg::Cubic(
            cx0 * k,
            -cy0 * k,
            cx1 * k,
            -cy1 * k,
            x * k,
            -y * k,
        ));
    }
    fn close(&mut self) {
        self.segs.push(Seg::Close);
    }
}

/// Bounds of a path's points (control points included, so they contain the curve), in the
/// path's own units: x0, y0, x1, y1. `None` for an empty path.
pub fn path_bounds(path: &[Seg]) -> Option<[f32; 4]> {
    let mut b = [f32::MAX, f32::MAX, f32::MIN, f32::MIN];
    let mut add = |x: f32, y: f32| {
        b[0] = b[0].min(x);
        b[1] = b[1].min(y);
        b[2] = b[2].max(x);
        b[3] = b[3].max(y);
    };
    for s in path {
        match *s {
            Seg::Move(x, y) | Seg::Line(x, y) => add(x, y),
            Seg::Quad(a, c, x, y) => {
                add(a, c);
                add(x, y);
            }
            Seg::Cubic(a, c, d, e, x, y) => {
                add(a, c);
                add(d, e);
                add(x, y);
            }
            Seg::Close => {}
        }
    }
    (b[0] <= b[2]).then_some(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_faces_shape_latin_greek_cyrillic() {
        for style in [FaceStyle::Regular, FaceStyle::Bold, FaceStyle::Italic] {
            let f = face(style);
            for text in ["Firenze", "Φλωρεντία", "Флоренция"] {
                let g = f.shape(text);
                assert_eq!(g.len(), text.chars().count(), "{style:?} {text}");
                assert!(
                    g.iter().all(|g| g.id != 0),
                    "{style:?} {text}: a glyph is missing"
                );
                assert!(g.iter().all(|g| g.advance > 0.0));
                assert!(!f.outline(g[0].id).is_empty());
            }
            // Noto Sans' ascender is 1.069 em: 25.66 → 26 at 24 px.
            assert_eq!(f.ascender, 26.0);
        }
    }

    #[test]
    fn missing_glyphs_draw_nothing() {
        let f = face(FaceStyle::Regular);
        let g = f.shape("佛");
        assert_eq!(g[0].id, 0);
        assert!(f.outline(0).is_empty());
    }
}
