//! Embeds the renderer component (`target/rasterzen-renderer.wasm`, made by `build.sh component`)
//! into the binary when it exists, so one file is all a deployment (or Lambda zip) needs.
use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let component = std::env::var_os("RASTERZEN_EMBED_RENDERER")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/rasterzen-renderer.wasm"));
    println!("cargo::rerun-if-env-changed=RASTERZEN_EMBED_RENDERER");
    println!("cargo::rerun-if-changed={}", component.display());
    println!("cargo::rustc-check-cfg=cfg(embedded_renderer)");
    if component.is_file() {
        println!("cargo::rustc-cfg=embedded_renderer");
        println!(
            "cargo::rustc-env=RASTERZEN_EMBEDDED_RENDERER={}",
            component.canonicalize().unwrap().display()
        );
    }
}
