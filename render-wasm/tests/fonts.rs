//! Fonts the host passes in: `text-font` stacks resolved glyph by glyph (the embedded Noto
//! Sans first where the stack names it, a CJK and a Devanagari face for what it lacks), what
//! `fonts_needed` asks for, and warnings for characters no face has. On a real tile: the
//! OpenFreeMap planet z0 tile, whose place names are in their own scripts (中国, 日本, 대한민국,
//! भारत, مصر, ኢትዮጵያ …). Fonts: subsets of Noto Sans CJK SC and Noto Sans Devanagari
//! (`tests/fixtures/fonts/`).

use rasterzen_render::labels::font::{FaceId, Fonts};
use rasterzen_render::labels::seams::{build_block, SeamMode};
use rasterzen_render::labels::PlacedLabel;
use rasterzen_render::scene::View;
use rasterzen_render::sprite::Sprites;
use rasterzen_render::style::Style;
use rasterzen_render::{
    fonts_needed, mvt, render_with, Assets, FontFile, Format, PngProfile, RenderOptions,
    StyleSource, TileId,
};

const Z0: TileId = TileId { z: 0, x: 0, y: 0 };
const CJK: &str = "Noto Sans CJK SC Regular";
const DEVANAGARI: &str = "Noto Sans Devanagari Regular";

fn repo_file(path: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn tile_bytes() -> Vec<u8> {
    repo_file("tests/parity/tiles/omt-openfreemap-0-0-0.mvt")
}

fn style_json() -> String {
    String::from_utf8(repo_file("render-wasm/tests/styles/world-names.json")).unwrap()
}

struct FontFiles {
    cjk: Vec<u8>,
    devanagari: Vec<u8>,
}

fn font_files() -> FontFiles {
    FontFiles {
        cjk: repo_file("tests/fixtures/fonts/NotoSansCJKsc-Regular.subset.otf"),
        devanagari: repo_file("tests/fixtures/fonts/NotoSansDevanagari-Regular.subset.ttf"),
    }
}

fn placed(fonts: &Fonts) -> Vec<PlacedLabel> {
    let tile = mvt::decode_bytes(&tile_bytes(), &mvt::DecodeLimits::render()).unwrap();
    let style = Style::from_json(&style_json()).unwrap();
    let view = View::new(Z0, Z0, 512, 1);
    let sprites = Sprites::new();
    build_block(&tile, &[], &style, &view, &sprites, fonts, SeamMode::Region).placed
}

fn label<'a>(labels: &'a [PlacedLabel], layer: &str, text: &str) -> Option<&'a PlacedLabel> {
    labels.iter().find(|l| l.layer == layer && l.text == text)
}

#[test]
fn the_font_files_answer_to_their_family_and_style() {
    let f = font_files();
    assert_eq!(
        rasterzen_render::font_names(&f.cjk),
        vec![CJK.to_string(), "Noto Sans CJK SC".to_string()]
    );
    assert_eq!(
        rasterzen_render::font_names(&f.devanagari),
        vec![DEVANAGARI.to_string()]
    );
    assert!(rasterzen_render::font_names(b"not a font at all").is_empty());
}

#[test]
fn each_character_is_drawn_in_the_first_face_of_its_stack_that_has_it() {
    let f = font_files();
    // Without the host's faces the embedded Noto Sans has no CJK or Devanagari glyph:
    // those names place nothing (MapLibre draws nothing for a glyph it lacks).
    let alone = placed(&Fonts::embedded());
    assert!(label(&alone, "names", "Italia").is_some());
    for name in ["日本", "中国", "대한민국", "भारत"] {
        assert!(
            label(&alone, "names", name).is_none(),
            "{name} drawn without a font"
        );
    }
    let mut warnings = Vec::new();
    let fonts = Fonts::load(
        &[
            FontFile {
                name: CJK,
                data: &f.cjk,
            },
            FontFile {
                name: DEVANAGARI,
                data: &f.devanagari,
            },
        ],
        &mut warnings,
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    let with = placed(&fonts);
    let embedded = FaceId(0);
    let faces = |l: &PlacedLabel| l.glyphs.iter().map(|g| g.face).collect::<Vec<_>>();
    // Latin from the stack's first name, the embedded Noto Sans Regular.
    let italia = label(&with, "names", "Italia").expect("Italia");
    assert!(faces(italia).iter().all(|&f| f == embedded));
    // CJK and Hangul from the CJK face: one face, not the embedded one, a glyph each.
    let cjk_face = faces(label(&with, "names", "日本").expect("日本"))[0];
    assert_ne!(cjk_face, embedded);
    for name in ["日本", "中国", "대한민국", "亚洲"] {
        let l = label(&with, "names", name).unwrap_or_else(|| panic!("{name} not drawn"));
        let fs = faces(l);
        assert_eq!(fs.len(), name.chars().count(), "{name}");
        assert!(fs.iter().all(|&f| f == cjk_face), "{name}: {fs:?}");
    }
    let cjk_face = Some(cjk_face);
    // Devanagari from its face, shaped: the vowel sign goes with its consonant (भा), so
    // the glyphs are not simply one per character in order of another face.
    let india = label(&with, "names", "भारत").expect("भारत");
    let fs = faces(india);
    assert!(!fs.is_empty() && fs.iter().all(|&f| f != embedded && Some(f) != cjk_face));
    // One label in two faces: the CJK run, then the Latin run in the embedded face.
    let mixed = label(&with, "mixed", "日本 Japan").expect("the mixed label");
    let fs = faces(mixed);
    assert_eq!(fs.len(), 2 + 1 + 5, "日本, the space, Japan");
    // The space goes with the run before it.
    assert!(fs[..3].iter().all(|&f| Some(f) == cjk_face));
    assert!(fs[fs.len() - 5..].iter().all(|&f| f == embedded));
    // The Latin glyphs sit right of the CJK ones along the baseline.
    let xs: Vec<f64> = mixed.glyphs.iter().map(|g| g.origin.0).collect();
    assert!(xs.windows(2).all(|w| w[0] < w[1]), "{xs:?}");
}

fn options(style: &str) -> RenderOptions<'_> {
    RenderOptions {
        format: Format::Png,
        size: 512,
        scale: 1,
        style: StyleSource::Json(style),
        data_tile: None,
        png: PngProfile::Default,
    }
}

#[test]
fn fonts_needed_names_what_the_tiles_text_needs_and_giving_only_those_changes_nothing() {
    let f = font_files();
    let style = style_json();
    let data = tile_bytes();
    let offered = [CJK, DEVANAGARI, "Open Sans Bold"];
    let needed = fonts_needed(&data, Z0, &options(&style), &[], &offered).unwrap();
    assert_eq!(needed, vec![CJK.to_string(), DEVANAGARI.to_string()]);
    // Labels whose text the embedded face covers need neither face: the same tile and
    // stacks, with the layers filtered to Latin names.
    let latin_style = style
        .replace(
            r#""source-layer": "place",
      "layout""#,
            r#""source-layer": "place",
      "filter": ["in", ["get", "name"], ["literal", ["Italia", "Россия"]]],
      "layout""#,
        )
        .replace(
            r#"["==", ["get", "name"], "日本"]"#,
            r#"["==", ["get", "name"], "Brasil"]"#,
        );
    assert_ne!(latin_style, style);
    let latin = fonts_needed(&data, Z0, &options(&latin_style), &[], &offered).unwrap();
    assert!(latin.is_empty(), "{latin:?}");
    // Nothing offered, nothing needed; the style's stacks decide, not the files.
    assert!(fonts_needed(&data, Z0, &options(&style), &[], &[])
        .unwrap()
        .is_empty());

    // Every offered file, or only the needed ones: the same bytes.
    let all = [
        FontFile {
            name: CJK,
            data: &f.cjk,
        },
        FontFile {
            name: DEVANAGARI,
            data: &f.devanagari,
        },
        FontFile {
            name: "Open Sans Bold",
            data: &f.cjk,
        },
    ];
    let render = |fonts: &[FontFile<'_>]| {
        render_with(
            &data,
            Z0,
            &options(&style),
            &Assets {
                sprites: &[],
                fonts,
            },
        )
        .unwrap()
    };
    let every = render(&all);
    let only = render(&all[..2]);
    assert_eq!(every.bytes, only.bytes);
    let none = render(&[]);
    assert_ne!(none.bytes, only.bytes, "the faces drew nothing more");
    // What no face has is said, by script, with what to do; once per layer and script.
    let says = |w: &[String], script: &str| {
        w.iter()
            .filter(|w| {
                w.contains("layer \"names\"") && w.contains(&format!("{script} characters"))
            })
            .count()
    };
    for script in ["Han (CJK)", "Hangul", "Devanagari", "Arabic", "Ethiopic"] {
        assert_eq!(
            says(&none.warnings, script),
            1,
            "{script}: {:?}",
            none.warnings
        );
    }
    assert!(none.warnings.iter().any(|w| w.contains("--fonts DIR")));
    for script in ["Han (CJK)", "Hangul", "Devanagari"] {
        assert_eq!(
            says(&only.warnings, script),
            0,
            "{script}: {:?}",
            only.warnings
        );
    }
    for script in ["Arabic", "Ethiopic"] {
        assert_eq!(
            says(&only.warnings, script),
            1,
            "{script}: {:?}",
            only.warnings
        );
    }
}

#[test]
fn a_file_that_is_not_a_font_is_said_and_left_out() {
    let mut warnings = Vec::new();
    let fonts = Fonts::load(
        &[FontFile {
            name: CJK,
            data: b"garbage",
        }],
        &mut warnings,
    );
    assert!(fonts.is_embedded_only());
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].contains(CJK) && warnings[0].contains("not used"),
        "{warnings:?}"
    );
}
