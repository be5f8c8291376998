//! Embeds into the binary, so one file is all a deployment (or Lambda zip) needs:
//! - the renderer component (`target/rasterzen-renderer.wasm`, made by `build.sh component`);
//! - the preview page (`www/`: its own files, `www/pkg` from `build.sh web`, `www/vendor` from npm).
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The page's files: (URL path under `/`, file under `www/`). Missing ones are left out.
fn www_files(www: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for dir in ["", "pkg", "vendor", "vendor/images"] {
        let Ok(entries) = std::fs::read_dir(www.join(dir)) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names {
            let path = www.join(dir).join(&name);
            let served = matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("html" | "js" | "css" | "wasm" | "png" | "svg")
            ) && !(dir.is_empty() && name == "screenshot.png");
            if path.is_file() && served {
                let url = if dir.is_empty() {
                    name
                } else {
                    format!("{dir}/{name}")
                };
                out.push((url, path));
            }
        }
    }
    out
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let component = std::env::var_os("RASTERZEN_EMBED_RENDERER")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/rasterzen-renderer.wasm"));
    println!("cargo::rerun-if-env-changed=RASTERZEN_EMBED_RENDERER");
    println!("cargo::rerun-if-changed={}", component.display());
    println!("cargo::rustc-check-cfg=cfg(embedded_renderer)");
    let www = root.join("www");
    for dir in ["", "pkg", "vendor", "vendor/images"] {
        println!("cargo::rerun-if-changed={}", www.join(dir).display());
    }
    let mut table = String::from("/// (URL path, bytes) of the preview page's files.\npub static WWW_FILES: &[(&str, &[u8])] = &[\n");
    for (url, path) in www_files(&www) {
        println!("cargo::rerun-if-changed={}", path.display());
        let _ = writeln!(
            table,
            "    ({url:?}, include_bytes!({:?})),",
            path.canonicalize().unwrap().display().to_string()
        );
    }
    table.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("www_files.rs");
    std::fs::write(out, table).unwrap();
    if component.is_file() {
        println!("cargo::rustc-cfg=embedded_renderer");
        println!(
            "cargo::rustc-env=RASTERZEN_EMBEDDED_RENDERER={}",
            component.canonicalize().unwrap().display()
        );
    }
}
