//! The wasm engine end to end: components of the previous interface (1.0.0) still load and
//! render; pooled instances keep their limits (a render that hits one is stopped, the next
//! renders normally); a precompiled artifact shipped beside the binary (the Lambda package)
//! is loaded instead of compiling.

use std::process::{Command, Output};

#[path = "support/harness.rs"]
mod harness;
use harness::{repo, Scratch, Server, BIN};

fn run(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut c = Command::new(BIN);
    c.args(args);
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().expect("run rasterzen")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn old_renderer() -> String {
    repo()
        .join("tests/fixtures/renderers/rasterzen-renderer-0.1.0-interface-1.0.0.wasm")
        .display()
        .to_string()
}

#[test]
fn a_component_of_interface_1_0_still_renders() {
    let scratch = Scratch::new("compat");
    let cache = scratch.0.join("compiled").display().to_string();
    let out = scratch.0.join("o.png");
    let tile = repo().join("tests/fixtures/tiles/nextzen-10-301-384.mvt");
    let o = run(
        &[
            "render",
            "--input",
            tile.to_str().unwrap(),
            "--tile",
            "10/301/384",
            "--renderer",
            &old_renderer(),
            "-o",
            out.to_str().unwrap(),
        ],
        &[("RASTERZEN_COMPILED_CACHE", &cache)],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let png = std::fs::read(&out).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000);
    // A style with a sprite: the old renderer can neither report nor take it, and that is said.
    let style = repo().join("tests/parity/styles/osm-bright/style.json");
    let o = run(
        &[
            "render",
            "--input",
            tile.to_str().unwrap(),
            "--tile",
            "10/301/384",
            "--renderer",
            &old_renderer(),
            "--style",
            style.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
        &[("RASTERZEN_COMPILED_CACHE", &cache)],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("speaks interface 1.0.0: it reports no style details"),
        "{}",
        stderr(&o)
    );
    // `style check` says what it can.
    let o = run(
        &[
            "style",
            "check",
            style.to_str().unwrap(),
            "--renderer",
            &old_renderer(),
        ],
        &[("RASTERZEN_COMPILED_CACHE", &cache)],
    );
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(text.contains("interface 1.0.0"), "{text}");
    // And it serves.
    let s = Server::start(
        &["--renderer", &old_renderer(), "--cache", "none"],
        &[("RASTERZEN_COMPILED_CACHE", &cache)],
    );
    let (status, body) = get(&s.url("/png/14/8704/5971.png"));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
}

fn get(url: &str) -> (u16, Vec<u8>) {
    let (status, _, body) = get_with_headers(url);
    (status, body)
}

fn get_with_headers(url: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let r = reqwest::get(url).await.unwrap();
        let (status, headers) = (r.status().as_u16(), r.headers().clone());
        (status, headers, r.bytes().await.unwrap().to_vec())
    })
}

#[test]
fn pooled_instances_keep_their_limits() {
    // 16 MiB: enough for the world tile, not for the densest Florence tile at @2x.
    let s = Server::start(&["--memory-limit-mb", "16", "--cache", "none"], &[]);
    let small = "/png/0/0/0.png";
    let first = get(&s.url(small));
    assert_eq!(first.0, 200);
    for _ in 0..3 {
        let again = get(&s.url(small));
        assert_eq!(again, first, "a reused instance renders the same bytes");
    }
    let (status, body) = get(&s.url("/png/14/8704/5971@2x.png"));
    let text = String::from_utf8_lossy(&body);
    assert!(status >= 500, "{status}: {text}");
    assert!(text.contains("memory limit of 16 MiB"), "{text}");
    let after = get(&s.url(small));
    assert_eq!(after, first, "the service renders on after a limit fired");
}

/// `renderer precompile --arch aarch64` (how `build.sh lambda arm64` fills an arm64 package on
/// an x86_64 machine) makes an AArch64 object under its own name; a host of the other
/// architecture does not take it for its own. That the arm64 host loads it and renders the same
/// bytes is checked under qemu by tests/lambda-arm64.sh.
#[test]
fn a_renderer_precompiled_for_the_other_architecture_is_an_artifact_of_that_architecture() {
    let scratch = Scratch::new("cross");
    let mut names = Vec::new();
    for (arch, machine) in [("aarch64", 183u16), ("x86_64", 62)] {
        let out = scratch.0.join(arch);
        let o = run(
            &[
                "renderer",
                "precompile",
                "--arch",
                arch,
                "--out",
                out.to_str().unwrap(),
            ],
            &[],
        );
        assert!(o.status.success(), "{arch}: {}", stderr(&o));
        let files: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1, "{arch}: {files:?}");
        let elf = std::fs::read(&files[0]).unwrap();
        assert_eq!(&elf[..4], b"\x7fELF", "{arch}");
        assert_eq!(
            u16::from_le_bytes([elf[18], elf[19]]),
            machine,
            "{arch}: ELF e_machine"
        );
        names.push(files[0].file_name().unwrap().to_owned());
    }
    assert_ne!(names[0], names[1], "each architecture has its own name");
    let o = run(
        &["renderer", "precompile", "--arch", "sparc", "--out", "x"],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("possible values: x86_64, aarch64"),
        "{}",
        stderr(&o)
    );
    // An x86_64 host shipped only the aarch64 artifact compiles its own.
    if !cfg!(target_arch = "x86_64") {
        return;
    }
    let empty_cache = scratch.0.join("empty-cache");
    let s = Server::start(
        &["--cache", "none"],
        &[
            ("RASTERZEN_COMPILED_CACHE", empty_cache.to_str().unwrap()),
            (
                "RASTERZEN_SHIPPED_COMPILED",
                scratch.0.join("aarch64").to_str().unwrap(),
            ),
            ("RASTERZEN_LOG_LEVEL", "info"),
        ],
    );
    assert!(s.log_text().contains("load=Compiled"), "{}", s.log_text());
}

#[test]
fn a_shipped_precompiled_renderer_is_loaded_not_compiled() {
    let scratch = Scratch::new("shipped");
    let shipped = scratch.0.join("shipped");
    let o = run(
        &["renderer", "precompile", "--out", shipped.to_str().unwrap()],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let empty_cache = scratch.0.join("empty-cache");
    let envs = [
        ("RASTERZEN_COMPILED_CACHE", empty_cache.to_str().unwrap()),
        ("RASTERZEN_SHIPPED_COMPILED", shipped.to_str().unwrap()),
        ("RASTERZEN_LOG_LEVEL", "info"),
    ];
    let s = Server::start(&["--cache", "none"], &envs);
    let log = s.log_text();
    assert!(
        log.contains("renderer component loaded") && log.contains("load=Deserialized"),
        "{log}"
    );
    assert!(
        !empty_cache.exists() || std::fs::read_dir(&empty_cache).unwrap().next().is_none(),
        "nothing was compiled into the (empty, as on a Lambda cold start) cache"
    );
    drop(s);
    // Without it, the same start compiles.
    let s = Server::start(
        &["--cache", "none"],
        &[
            ("RASTERZEN_COMPILED_CACHE", empty_cache.to_str().unwrap()),
            ("RASTERZEN_LOG_LEVEL", "info"),
        ],
    );
    assert!(s.log_text().contains("load=Compiled"), "{}", s.log_text());
}

/// The cache key's renderer part is the build, not only the version: a rebuilt renderer under
/// the same version string (a host upgraded in place over a kept fs or S3 cache) never serves
/// the tiles the old build cached, and the native engine shares the embedded component's keys
/// (their bytes agree).
#[test]
fn two_builds_of_one_version_never_share_cached_tiles() {
    use sha2::Digest;
    let scratch = Scratch::new("build-id");
    let original = std::fs::read(repo().join("target/rasterzen-renderer.wasm"))
        .expect("target/rasterzen-renderer.wasm: run ./build.sh first");
    // Another build of the same version: the same component with a custom section appended
    // (id 0, size, name, payload), as a rebuild that changed nothing the version says.
    let name = b"rasterzen-rebuilt";
    let payload = b"another build";
    let mut rebuilt = original.clone();
    rebuilt.push(0);
    rebuilt.push((1 + name.len() + payload.len()) as u8);
    rebuilt.push(name.len() as u8);
    rebuilt.extend_from_slice(name);
    rebuilt.extend_from_slice(payload);
    let rebuilt_path = scratch.0.join("rebuilt.wasm");
    std::fs::write(&rebuilt_path, &rebuilt).unwrap();
    let cache = scratch.0.join("tiles");
    let spec = format!("fs:{}", cache.display());
    let compiled = scratch.0.join("compiled").display().to_string();
    let tile = "/png/14/8704/5971.png";
    // The renderer segment of every cached tile's key (SOURCE/RENDERER/STYLE/...).
    let segments = || -> std::collections::BTreeSet<String> {
        let mut out = std::collections::BTreeSet::new();
        for source in std::fs::read_dir(&cache).unwrap() {
            for r in std::fs::read_dir(source.unwrap().path()).unwrap() {
                out.insert(r.unwrap().file_name().to_string_lossy().into_owned());
            }
        }
        out
    };
    let hex = |b: &[u8]| -> String {
        sha2::Sha256::digest(b)
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect()
    };
    // (version header, cache header) of one request.
    let fetch = |url: String| -> (String, String) {
        let (status, headers, _) = get_with_headers(&url);
        assert_eq!(status, 200);
        let h = |n: &str| headers[n].to_str().unwrap().to_string();
        (h("x-rasterzen-renderer"), h("x-rasterzen-cache"))
    };
    let mut versions = Vec::new();
    // The embedded component; the native engine (a hit: the same build's key); the rebuilt
    // component (a miss, though its version is the same).
    for (engine, renderer, cached) in [
        ("wasm", None, "miss"),
        ("native", None, "hit"),
        ("wasm", Some(rebuilt_path.to_str().unwrap()), "miss"),
    ] {
        let mut args = vec!["--cache", spec.as_str(), "--engine", engine];
        if let Some(r) = renderer {
            args.extend(["--renderer", r]);
        }
        let s = Server::start(&args, &[("RASTERZEN_COMPILED_CACHE", compiled.as_str())]);
        let (version, cache) = fetch(s.url(tile));
        assert_eq!(cache, cached, "{engine} {renderer:?}");
        versions.push(version);
    }
    assert!(
        versions.iter().all(|v| *v == versions[0]),
        "one version string: {versions:?}"
    );
    let want: std::collections::BTreeSet<String> = [&original, &rebuilt]
        .iter()
        .map(|c| format!("{}-{}", versions[0], &hex(c)[..8]))
        .collect();
    assert_eq!(segments(), want);
}
