//! Faces: the embedded Noto Sans three, and faces the host passes in (a fonts directory),
//! shaping with harfrust and outlines from skrifa, both over the same bytes (one read-fonts
//! parser). A `text-font` stack resolves per render to a list of faces ([`Fonts::stack`]) and
//! each character is drawn in the first face of the list that has it, as MapLibre's glyph
//! servers compose a stack glyph by glyph.
//!
//! Units: shaping results and outlines are returned in *layout units*, MapLibre's glyph units
//! where one em is [`ONE_EM`] = 24 (so our numbers line up with MapLibre's shaping code, which
//! works at 24 px). y points down.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use harfrust::font::Blob;
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

/// The `text-font` names of the embedded faces, in [`FaceStyle`] order.
pub const EMBEDDED_NAMES: [&str; 3] = ["Noto Sans Regular", "Noto Sans Bold", "Noto Sans Italic"];

/// Which face a glyph comes from: 0–2 the embedded faces ([`FaceStyle`] order), then faces
/// the host passed in, numbered as they are first loaded. A number is never reused, so a
/// shaping or layout kept under one stays right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FaceId(pub u32);

impl FaceId {
    pub fn embedded(style: FaceStyle) -> FaceId {
        FaceId(match style {
            FaceStyle::Regular => 0,
            FaceStyle::Bold => 1,
            FaceStyle::Italic => 2,
        })
    }
}

/// One outline segment, in layout units (y down) relative to the glyph origin on the baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Seg {
    Move(f32, f32),
    Line(f32, f32),
    Quad(f32, f32, f32, f32),
    Cubic(f32, f32, f32, f32, f32, f32),
    Close,
}

/// A shaped glyph: its face and id, the byte offset of its cluster in the shaped text, and its
/// advance and offsets in layout units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShapedGlyph {
    pub face: FaceId,
    pub id: u32,
    pub cluster: u32,
    pub advance: f64,
    pub dx: f64,
    pub dy: f64,
}

/// One face: embedded, or passed in by the host.
pub struct Face {
    pub id: FaceId,
    /// The font file (outlines are read from it with skrifa on a cache miss).
    bytes: Blob,
    shaping: harfrust::Font,
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
        write!(f, "Face({:?})", self.id)
    }
}

/// Parses a font file (TTF or OTF, the first face of a collection). `None` when skrifa or
/// harfrust cannot read it, or it maps no Unicode character.
fn load(id: FaceId, bytes: Blob) -> Option<Face> {
    let outlines = FontRef::from_index(&bytes, 0).ok()?;
    let asc = outlines
        .metrics(Size::unscaled(), LocationRef::default())
        .ascent;
    let shaping = harfrust::Font::new(bytes.clone(), 0)?;
    if !shaping.charmap().has_unicode() {
        return None;
    }
    let upem = f64::from(shaping.units_per_em().max(1));
    let scale = ONE_EM / upem;
    Some(Face {
        id,
        bytes,
        shaping,
        scale,
        ascender: (f64::from(asc) * scale).ceil(),
        cache: Mutex::new(HashMap::new()),
        plans: Mutex::new(Vec::new()),
    })
}

fn embedded(style: FaceStyle, bytes: &'static [u8]) -> Face {
    // The embedded files are checked by the tests; a broken build is not a runtime input.
    load(FaceId::embedded(style), Blob::from(bytes)).expect("embedded font parses")
}

/// Whether the renderer can draw `text` as its script needs: every character (but white
/// space and controls) has a glyph in the embedded faces, and none is written right to left
/// (there is no bidi reordering yet, as MapLibre has none without its RTL plugin and then
/// answers `false` for such scripts too). The style expression `is-supported-script`.
pub fn can_draw(text: &str) -> bool {
    let regular = face(FaceStyle::Regular);
    text.chars().all(|c| {
        if c.is_whitespace() || c.is_control() {
            return true;
        }
        let rtl = matches!(u32::from(c),
            0x0590..=0x08FF | 0xFB1D..=0xFDFF | 0xFE70..=0xFEFF | 0x10800..=0x10FFF | 0x1E800..=0x1EFFF);
        !rtl && regular.has(c)
    })
}

/// The embedded face of [`EMBEDDED_NAMES`]`[i]`.
pub fn embedded_face(i: usize) -> &'static Face {
    face(match i {
        1 => FaceStyle::Bold,
        2 => FaceStyle::Italic,
        _ => FaceStyle::Regular,
    })
}

/// The embedded face standing in for a font stack.
pub fn face(style: FaceStyle) -> &'static Face {
    static FACES: OnceLock<[Face; 3]> = OnceLock::new();
    let faces = FACES.get_or_init(|| {
        [
            embedded(FaceStyle::Regular, REGULAR),
            embedded(FaceStyle::Bold, BOLD),
            embedded(FaceStyle::Italic, ITALIC),
        ]
    });
    match style {
        FaceStyle::Regular => &faces[0],
        FaceStyle::Bold => &faces[1],
        FaceStyle::Italic => &faces[2],
    }
}

impl Face {
    /// Whether the face has a glyph for `c`.
    pub fn has(&self, c: char) -> bool {
        self.shaping
            .charmap()
            .map_unicode(c)
            .is_some_and(|g| g.to_u32() != 0)
    }

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
                face: self.id,
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
        let font = FontRef::from_index(&self.bytes, 0).ok().filter(|_| id != 0);
        if let Some(font) = font {
            if let Some(g) = font.outline_glyphs().get(GlyphId::new(id)) {
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

/// Faces the host passed in, kept between renders (a font is the same file for every tile):
/// at most this many, and this many bytes of font files.
const KEPT_FACES: usize = 8;
const KEPT_FACE_BYTES: usize = 64 << 20;

/// The faces loaded from host files, the most recently used last. Keyed by the file's exact
/// bytes (compared whole, so no two files can be taken for one).
static LOADED: Mutex<Vec<Arc<Face>>> = Mutex::new(Vec::new());

/// The next host face's number (after the embedded 0–2).
static NEXT_FACE: AtomicU32 = AtomicU32::new(3);

/// The face of a font file, loaded once and kept while it is in use.
fn load_kept(data: &[u8]) -> Option<Arc<Face>> {
    let mut loaded = LOADED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(i) = loaded.iter().position(|f| same_bytes(&f.bytes, data)) {
        let f = loaded.remove(i);
        loaded.push(Arc::clone(&f));
        return Some(f);
    }
    let id = FaceId(NEXT_FACE.fetch_add(1, Ordering::Relaxed));
    let face = Arc::new(load(id, Blob::from(data.to_vec()))?);
    loaded.push(Arc::clone(&face));
    let mut total: usize = loaded.iter().map(|f| f.bytes.len()).sum();
    while loaded.len() > KEPT_FACES || (total > KEPT_FACE_BYTES && loaded.len() > 1) {
        total -= loaded.remove(0).bytes.len();
    }
    Some(face)
}

/// Whether two byte strings are equal, compared 8 bytes at a time: a font is compared whole
/// on every render that passes it (16 MB for a CJK face), and wasm's byte-wise `memcmp` took
/// several milliseconds for that.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let tails_equal = ac.remainder() == bc.remainder();
    tails_equal
        && ac.zip(bc).all(|(x, y)| {
            u64::from_ne_bytes(x.try_into().unwrap()) == u64::from_ne_bytes(y.try_into().unwrap())
        })
}

/// A font file the host passed in, under the `text-font` name it answers to.
#[derive(Debug, Clone, Copy)]
pub struct FontFile<'a> {
    pub name: &'a str,
    pub data: &'a [u8],
}

/// The faces of one render: the embedded ones and those the host passed in, by name.
#[derive(Debug, Default)]
pub struct Fonts {
    named: Vec<(String, Arc<Face>)>,
}

impl Fonts {
    /// The embedded faces only.
    pub fn embedded() -> Fonts {
        Fonts::default()
    }

    /// Loads the host's files. A file that is not a font is left out with a warning; of two
    /// files under one name the first is used.
    pub fn load(files: &[FontFile<'_>], warnings: &mut Vec<String>) -> Fonts {
        let mut named: Vec<(String, Arc<Face>)> = Vec::new();
        for f in files {
            if named.iter().any(|(n, _)| n == f.name) {
                continue;
            }
            match load_kept(f.data) {
                Some(face) => named.push((f.name.to_string(), face)),
                None => warnings.push(format!(
                    "font \"{}\" ({} bytes) is not a TrueType or OpenType font with a Unicode charmap; not used",
                    f.name,
                    f.data.len()
                )),
            }
        }
        Fonts { named }
    }

    /// Whether the host passed no face.
    pub fn is_embedded_only(&self) -> bool {
        self.named.is_empty()
    }

    /// The face of a glyph. Every id a render meets is its own fonts' (layouts are kept per
    /// [`Fonts::key`]); an unknown one draws in the embedded regular face.
    pub fn face(&self, id: FaceId) -> &Face {
        match id.0 {
            0 => face(FaceStyle::Regular),
            1 => face(FaceStyle::Bold),
            2 => face(FaceStyle::Italic),
            _ => self
                .named
                .iter()
                .find(|(_, f)| f.id == id)
                .map_or_else(|| face(FaceStyle::Regular), |(_, f)| f),
        }
    }

    /// The face called `name`: the host's, else an embedded one of that name.
    fn named(&self, name: &str) -> Option<FaceId> {
        if let Some((_, f)) = self.named.iter().find(|(n, _)| n == name) {
            return Some(f.id);
        }
        EMBEDDED_NAMES
            .iter()
            .position(|n| *n == name)
            .map(|i| FaceId(i as u32))
    }

    /// A `text-font` stack's faces, in the order characters look for a glyph: every name the
    /// render has a face for, as written, then the embedded face that stands in for the stack
    /// (`stand_in`, by the first name's weight) for what none of them has.
    pub fn stack(&self, names: &[String], stand_in: FaceStyle) -> Vec<FaceId> {
        let mut out: Vec<FaceId> = Vec::new();
        for id in names
            .iter()
            .filter_map(|n| self.named(n))
            .chain([FaceId::embedded(stand_in)])
        {
            if !out.contains(&id) {
                out.push(id);
            }
        }
        out
    }

    /// What identifies these fonts for layouts kept between renders.
    pub fn key(&self) -> Vec<(String, FaceId)> {
        self.named.iter().map(|(n, f)| (n.clone(), f.id)).collect()
    }
}

/// The `text-font` names a font file answers to, as glyph servers (fontnik) name fonts: its
/// typographic family and subfamily ("Noto Sans CJK SC" + "Regular"; else the legacy family
/// and subfamily), then its full name when that differs. Empty when the data is not a font
/// or has no family name.
pub fn font_names(data: &[u8]) -> Vec<String> {
    use skrifa::string::StringId;
    let Ok(font) = FontRef::from_index(data, 0) else {
        return Vec::new();
    };
    let get = |id: StringId| -> Option<String> {
        font.localized_strings(id)
            .english_or_first()
            .map(|s| s.chars().collect::<String>().trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let Some(family) =
        get(StringId::TYPOGRAPHIC_FAMILY_NAME).or_else(|| get(StringId::FAMILY_NAME))
    else {
        return Vec::new();
    };
    let sub = get(StringId::TYPOGRAPHIC_SUBFAMILY_NAME)
        .or_else(|| get(StringId::SUBFAMILY_NAME))
        .unwrap_or_else(|| "Regular".to_string());
    let mut names = vec![format!("{family} {sub}")];
    if let Some(full) = get(StringId::FULL_NAME).filter(|f| !names.contains(f)) {
        names.push(full);
    }
    names
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
