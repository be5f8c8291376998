//! A fonts directory (`--fonts DIR`) end to end: its files are named by family and style and
//! given to the renderer for the `text-font` names a style uses; labels in scripts the
//! embedded Noto Sans lacks (CJK, Hangul, Devanagari) are then drawn, identically by the wasm
//! and the native engine and by `render` and `serve`; what no font has is said; files that are
//! not fonts are said and skipped; a renderer of interface 1.1 runs and says it cannot use
//! them. Data: the OpenFreeMap planet z0 tile, whose place names are in their own scripts.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "support/harness.rs"]
mod harness;
use harness::{repo, Scratch, Server, BIN};

fn run(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut c = Command::new(BIN);
    c.args(args).env_remove("RASTERZEN_FONTS");
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().expect("run rasterzen")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn tile() -> PathBuf {
    repo().join("tests/parity/tiles/omt-openfreemap-0-0-0.mvt")
}

fn style() -> PathBuf {
    repo().join("render-wasm/tests/styles/world-names.json")
}

/// A fonts directory: the two fixture faces (one in a subdirectory), a file that is not a
/// font, and a collection.
fn fonts_dir(scratch: &Scratch) -> PathBuf {
    let dir = scratch.0.join("fonts");
    std::fs::create_dir_all(dir.join("cjk")).unwrap();
    let fixtures = repo().join("tests/fixtures/fonts");
    std::fs::copy(
        fixtures.join("NotoSansCJKsc-Regular.subset.otf"),
        dir.join("cjk/NotoSansCJKsc-Regular.subset.otf"),
    )
    .unwrap();
    std::fs::copy(
        fixtures.join("NotoSansDevanagari-Regular.subset.ttf"),
        dir.join("NotoSansDevanagari-Regular.subset.ttf"),
    )
    .unwrap();
    std::fs::write(dir.join("broken.ttf"), b"this is not a font").unwrap();
    std::fs::write(dir.join("NotoSansCJK.ttc"), b"ttcf").unwrap();
    std::fs::write(dir.join("README.txt"), b"fonts for the test").unwrap();
    dir
}

fn render(out: &Path, extra: &[&str], cache: &str) -> Output {
    let (tile, style) = (tile(), style());
    let mut args = vec![
        "render",
        "--input",
        tile.to_str().unwrap(),
        "--tile",
        "0/0/0",
        "--style",
        style.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&args, &[("RASTERZEN_COMPILED_CACHE", cache)])
}

#[test]
fn a_fonts_directory_draws_what_the_embedded_font_lacks_the_same_everywhere() {
    let scratch = Scratch::new("fonts");
    let cache = scratch.0.join("compiled").display().to_string();
    let dir = fonts_dir(&scratch);
    let dir_s = dir.to_str().unwrap();

    // Without fonts: drawn, and the scripts no font has are said, with what to do.
    let plain = scratch.0.join("plain.png");
    let o = render(&plain, &[], &cache);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    for script in ["Han (CJK)", "Hangul", "Devanagari", "Arabic"] {
        assert!(
            err.contains(&format!("{script} characters")),
            "{script}: {err}"
        );
    }
    assert!(err.contains("--fonts DIR"), "{err}");

    // With the directory: wasm and native draw the same bytes, and not those of before.
    let wasm = scratch.0.join("wasm.png");
    let o = render(&wasm, &["--fonts", dir_s], &cache);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    for script in ["Han (CJK)", "Hangul", "Devanagari"] {
        assert!(
            !err.contains(&format!("{script} characters")),
            "{script}: {err}"
        );
    }
    assert!(
        err.contains("Arabic characters"),
        "no Arabic font was given: {err}"
    );
    // What in the directory is not used is said, file by file.
    assert!(
        err.contains("broken.ttf") && err.contains("not used"),
        "{err}"
    );
    assert!(
        err.contains("NotoSansCJK.ttc") && err.contains("a collection"),
        "{err}"
    );
    assert!(!err.contains("README.txt"), "{err}");
    let native = scratch.0.join("native.png");
    let o = render(&native, &["--fonts", dir_s, "--engine", "native"], &cache);
    assert!(o.status.success(), "{}", stderr(&o));
    let (wasm, native, plain) = (
        std::fs::read(&wasm).unwrap(),
        std::fs::read(&native).unwrap(),
        std::fs::read(&plain).unwrap(),
    );
    assert_eq!(wasm, native, "wasm and native differ with host fonts");
    assert_ne!(wasm, plain, "the fonts drew nothing");
    assert!(wasm.len() > plain.len(), "more glyphs, more bytes");

    // `serve` draws the tile as `render` does.
    let tiles = scratch.0.join("tiles/0/0");
    std::fs::create_dir_all(&tiles).unwrap();
    std::fs::copy(tile(), tiles.join("0.mvt")).unwrap();
    let source = scratch.0.join("tiles").display().to_string();
    let s = Server::start(
        &[
            "--source",
            &source,
            "--style",
            style().to_str().unwrap(),
            "--tile-size",
            "512",
            "--cache",
            "none",
            "--fonts",
            dir_s,
        ],
        &[("RASTERZEN_COMPILED_CACHE", &cache)],
    );
    let (status, body) = get(&s.url("/png/0/0/0.png"));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(body, wasm, "serve and render differ");
    let log = s.log_text();
    assert!(log.contains("fonts found"), "{log}");
    assert!(log.contains("Noto Sans CJK SC Regular"), "{log}");

    // `style check` says which fonts the directory gives the style.
    let o = run(
        &[
            "style",
            "check",
            style().to_str().unwrap(),
            "--fonts",
            dir_s,
        ],
        &[("RASTERZEN_COMPILED_CACHE", &cache)],
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(
            "fonts from the fonts directory: Noto Sans CJK SC Regular, Noto Sans Devanagari Regular"
        ),
        "{out}{}",
        stderr(&o)
    );
}

#[test]
fn a_fonts_directory_without_fonts_is_an_error_on_one_line() {
    let scratch = Scratch::new("fonts-empty");
    let empty = scratch.0.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("notes.txt"), b"no fonts here").unwrap();
    let out = scratch.0.join("o.png");
    let cache = scratch.0.join("compiled").display().to_string();
    for dir in [empty.clone(), scratch.0.join("missing")] {
        let o = render(&out, &["--fonts", dir.to_str().unwrap()], &cache);
        assert!(!o.status.success());
        let err = stderr(&o);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains("fonts directory"), "{err}");
    }
}

#[test]
fn a_renderer_of_interface_1_1_runs_and_says_it_cannot_use_the_fonts() {
    let scratch = Scratch::new("fonts-1-1");
    let cache = scratch.0.join("compiled").display().to_string();
    let dir = fonts_dir(&scratch);
    let old = repo().join("tests/fixtures/renderers/rasterzen-renderer-0.2.0-interface-1.1.0.wasm");
    let out = scratch.0.join("o.png");
    let o = render(
        &out,
        &[
            "--fonts",
            dir.to_str().unwrap(),
            "--renderer",
            old.to_str().unwrap(),
        ],
        &cache,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("speaks interface 1.1.0: the fonts directory's faces are not used"),
        "{}",
        stderr(&o)
    );
    assert!(std::fs::read(&out).unwrap().starts_with(b"\x89PNG"));
}

fn get(url: &str) -> (u16, Vec<u8>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let r = reqwest::get(url).await.unwrap();
        let status = r.status().as_u16();
        (status, r.bytes().await.unwrap().to_vec())
    })
}
