//! `rasterzen`: one binary that is a CLI, an HTTP tile service and an AWS Lambda function.

mod assets;
mod aws;
mod cache;
mod cli;
mod config;
mod engine;
mod fonts;
mod lambda;
mod listener;
mod logging;
mod maps;
mod mvt;
mod net;
mod renderer_cmd;
mod routes;
mod schema;
mod seed;
mod serve;
mod service;
mod source;
mod static_map;
mod style_cmd;
mod tilepath;
mod wmts;

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};

use cli::{Cli, Command, EngineArgs, EngineKind, FormatArg, RenderArgs};
use engine::wasm::{Limits, WasmRenderer};
use engine::{RenderRequest, Renderer, StyleSpec};

/// Large buffers (tile bodies, canvases) are mapped and unmapped by glibc's malloc instead of
/// kept in its arenas: with its default, moving threshold, a burst of big bodies left most of
/// their memory held by the process long after they were freed.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called once at start, before threads.
    #[allow(unsafe_code)]
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

fn main() -> ExitCode {
    tune_allocator();
    // In AWS Lambda (custom runtime `provided.al2023`) this binary is `bootstrap`, started with
    // no arguments: serve the Runtime API's events, configured by the environment alone.
    if lambda::wanted() {
        return lambda::main();
    }
    engine::native::install_panic_hook();
    // The matches are kept: `serve --config` needs to know which options were given (they win
    // over the file) and which are clap's defaults (the file wins over those).
    let matches = <Cli as clap::CommandFactory>::command().get_matches();
    let cli = match <Cli as clap::FromArgMatches>::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let result = match cli.command {
        Command::Render(args) => cmd_render(args),
        Command::Version(args) => cmd_version(args),
        Command::Serve(mut args) => {
            if let Some(m) = matches.subcommand_matches("serve") {
                args.given = config::given(m);
            }
            serve::cmd_serve(*args)
        }
        Command::Cache {
            command: cli::CacheCommand::Purge(args),
        } => serve::cmd_purge(args),
        Command::Renderer { command } => renderer_cmd::cmd_renderer(command),
        Command::Style { command } => style_cmd::cmd_style(command),
        // Its own exit codes: 130/143 when interrupted, 1 when tiles failed.
        Command::Seed(args) => return seed::cmd_seed(*args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, always: the chain joined, newlines folded.
            let msg = format!("{e:#}")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            let _ = writeln!(std::io::stderr(), "rasterzen: error: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// Builds the renderer the engine options ask for.
fn build_renderer(args: &EngineArgs) -> anyhow::Result<Arc<dyn Renderer>> {
    fonts::install(args.fonts.as_deref())?;
    if args.engine == EngineKind::Native {
        return Ok(Arc::new(engine::native::Guarded::new(
            engine::native::NativeLimits {
                deadline: Duration::from_millis(args.render_timeout_ms.max(1)),
                max_overdue: args.native_max_overdue,
                memory_budget: (args.native_memory_budget_mb > 0)
                    .then_some((args.native_memory_budget_mb as u64) << 20),
            },
        )));
    }
    let limits = Limits {
        memory_bytes: args.memory_limit_mb.saturating_mul(1 << 20),
        deadline: Duration::from_millis(args.render_timeout_ms),
    };
    let cache = args
        .compiled_cache
        .clone()
        .unwrap_or_else(engine::wasm::default_compiled_cache);
    let started = std::time::Instant::now();
    let (renderer, how) = match (&args.renderer, engine::wasm::embedded_component()) {
        (Some(path), _) => WasmRenderer::load_file(path, Some(&cache), limits)?,
        (None, Some(bytes)) => WasmRenderer::load(bytes, Some(&cache), limits)?,
        (None, None) => {
            let beside = std::env::current_exe()
                .ok()
                .and_then(|exe| {
                    exe.parent()
                        .and_then(Path::parent)
                        .map(|d| d.join("rasterzen-renderer.wasm"))
                })
                .filter(|p| p.is_file())
                .ok_or_else(|| {
                    anyhow!("no renderer component: run ./build.sh, or pass --renderer FILE.wasm")
                })?;
            WasmRenderer::load_file(&beside, Some(&cache), limits)?
        }
    };
    // Compiled (Cranelift, a cold machine) or deserialized (a precompiled artifact): the cold-start cost.
    tracing::info!(load = ?how, ms = started.elapsed().as_millis() as u64, cache = %cache.display(), "renderer component loaded");
    Ok(Arc::new(renderer))
}

/// `--style`: a built-in name, a file, an `http(s)://` URL or `s3://BUCKET/KEY` (fetched
/// once); also where it lives, for its relative URLs (sprites). `None` is the built-in default.
async fn load_style(style: &str) -> anyhow::Result<(StyleSpec, Option<assets::Location>)> {
    let style = style.trim();
    if style.is_empty() {
        return Ok((StyleSpec::Builtin("default".into()), None));
    }
    let location = style_cmd::location_of(style);
    match location {
        Some(loc) => {
            let bytes = assets::AssetLoader::shared()
                .get(&loc)
                .await
                .map_err(|e| anyhow!("cannot read style {e}"))?;
            let text = String::from_utf8(bytes.to_vec())
                .map_err(|_| anyhow!("style {loc} is not UTF-8 text"))?;
            Ok((StyleSpec::Json(text), Some(loc)))
        }
        None if rasterzen_render::style::Style::BUILTIN_NAMES.contains(&style) => {
            Ok((StyleSpec::Builtin(style.into()), None))
        }
        None => bail!(
            "style {style:?} is neither a file, a URL nor a built-in style ({})",
            rasterzen_render::style::Style::BUILTIN_NAMES.join(", ")
        ),
    }
}

/// Parses `Z/X/Y`.
pub(crate) fn parse_tile(s: &str) -> anyhow::Result<rasterzen_render::TileId> {
    let parts: Vec<&str> = s.trim().split('/').collect();
    let [z, x, y] = parts.as_slice() else {
        bail!("tile {s:?} is not Z/X/Y")
    };
    let z: u8 = z
        .parse()
        .map_err(|_| anyhow!("tile {s:?}: zoom {z:?} is not a number from 0 to 30"))?;
    let x: u32 = x
        .parse()
        .map_err(|_| anyhow!("tile {s:?}: x {x:?} is not a whole number"))?;
    let y: u32 = y
        .parse()
        .map_err(|_| anyhow!("tile {s:?}: y {y:?} is not a whole number"))?;
    Ok(rasterzen_render::TileId::new(z, x, y)?)
}

fn cmd_render(args: RenderArgs) -> anyhow::Result<()> {
    let tile = parse_tile(&args.tile)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let data = std::fs::read(&args.input)
        .with_context(|| format!("cannot read {}", args.input.display()))?;
    let named = args
        .style
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    // No style named: the built-in one for the tile's schema, told from its layers; said
    // (with the render's warnings) once the tile is drawn, so that an error stays one line.
    let mut chosen: Option<String> = None;
    let style_name = match named {
        Some(s) => s,
        None => {
            let layers = mvt::layer_names(&data, 64 << 20);
            if layers.is_empty() {
                "default"
            } else {
                let choice = schema::choose(Some(&layers), "tile");
                let what = if choice.fits { "note" } else { "warning" };
                chosen = Some(format!("rasterzen: {what}: {}", choice.message));
                choice.style
            }
        }
    };
    let (style, location) = runtime.block_on(load_style(style_name))?;
    if data.is_empty() {
        // An empty buffer is a valid tile with no layers (MVT conformance fixture 001), so it
        // renders (background only); but an empty *file* is usually a failed download: say so.
        let _ = writeln!(
            std::io::stderr(),
            "rasterzen: warning: {} is empty: rendering an empty tile",
            args.input.display()
        );
    }
    let font_notes = fonts::install(args.engine.fonts.as_deref())?;
    let renderer = build_renderer(&args.engine)?;
    // What the style says about itself, and its sprites (relative to the style file).
    let mut warnings: Vec<String> = font_notes;
    let info = renderer.style_info(&style).map_err(|e| anyhow!("{e}"))?;
    warnings.extend(info.warnings.iter().cloned());
    let mut assets = if info.sprites.is_empty() {
        engine::Assets::default()
    } else {
        runtime.block_on(assets::AssetLoader::shared().sprites(
            location.as_ref(),
            &info.sprites,
            &mut warnings,
        ))
    };
    if let Some(catalog) = fonts::catalog() {
        assets.fonts = catalog.files_for(&info.fonts, &mut warnings);
    }
    let neighbours = match args.neighbours.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(spec) => runtime.block_on(read_neighbours(spec, tile))?,
        None => Vec::new(),
    };
    let request = RenderRequest {
        tile,
        data_tile: None,
        format: match args.format {
            FormatArg::Png | FormatArg::Webp | FormatArg::Jpg => rasterzen_render::Format::Png,
            FormatArg::Svg => rasterzen_render::Format::Svg,
            FormatArg::Geojson => rasterzen_render::Format::Geojson,
        },
        size: args.size,
        scale: args.scale,
        style,
        png: args.png.into(),
        assets: std::sync::Arc::new(assets),
        neighbours,
    };
    let rendered = renderer
        .render(&data, &request)
        .with_context(|| format!("{} ({})", args.input.display(), tile))?;
    warnings.extend(rendered.warnings);
    if let Some(line) = chosen {
        let _ = writeln!(std::io::stderr(), "{line}");
    }
    let mut seen = std::collections::HashSet::new();
    for w in warnings.iter().filter(|w| seen.insert(w.as_str())) {
        let _ = writeln!(std::io::stderr(), "rasterzen: warning: {w}");
    }
    // WebP and JPEG: the renderer's PNG, decoded (exactly) and encoded, as `serve` does.
    let encoding = match args.format {
        FormatArg::Webp => Some(rasterzen_render::encode::Encoding::Webp),
        FormatArg::Jpg => Some(rasterzen_render::encode::Encoding::Jpeg),
        _ => None,
    };
    let bytes = match encoding {
        Some(e) => {
            rasterzen_render::encode::transcode_png(&rendered.bytes, e).with_context(|| {
                format!(
                    "{} ({tile}): cannot make it a {}",
                    args.input.display(),
                    e.name()
                )
            })?
        }
        None => rendered.bytes,
    };
    if args.output.as_os_str() == "-" {
        std::io::stdout()
            .lock()
            .write_all(&bytes)
            .context("cannot write to standard output")?;
    } else {
        write_atomically(&args.output, &bytes)?;
    }
    Ok(())
}

/// The tiles around `tile` from the source `spec` (missing ones as empty). Any failure is an
/// error: a render with a neighbour silently missing could cut the labels at that seam.
async fn read_neighbours(
    spec: &str,
    tile: rasterzen_render::TileId,
) -> anyhow::Result<Vec<engine::NeighbourTile>> {
    let source = source::open(Some(spec), &source::NetOptions::default())
        .await
        .map_err(|e| anyhow!("--neighbours: {e}"))?;
    let mut out = Vec::new();
    for t in service::neighbour_ids(tile) {
        let data = source
            .get(t, &source::FetchContext::default())
            .await
            .map_err(|e| anyhow!("--neighbours: tile {t}: {e}"))?;
        out.push(engine::NeighbourTile {
            tile: t,
            data: data.unwrap_or_default(),
        });
    }
    Ok(out)
}

fn cmd_version(args: EngineArgs) -> anyhow::Result<()> {
    let renderer = build_renderer(&args)?;
    println!(
        "rasterzen {} (renderer {})",
        env!("CARGO_PKG_VERSION"),
        renderer.version()
    );
    println!("built-in styles (--style NAME):");
    for name in rasterzen_render::style::Style::BUILTIN_NAMES {
        let what = match *name {
            "default" => {
                "Protomaps v2 / Tilezen schema: the embedded Florence archive, Nextzen tiles"
            }
            "omt" => "OpenMapTiles schema (OpenMapTiles, MapTiler, OpenFreeMap archives)",
            "light" => "a light grey variant of default, same schema",
            _ => "",
        };
        let hash = renderer
            .style_hash(&StyleSpec::Builtin((*name).to_string()))
            .unwrap_or_else(|e| format!("unavailable: {e}"));
        println!("  {name:<8} {what} (style hash {hash})");
    }
    Ok(())
}

/// Writes via a temporary file and a rename, so readers never see half a file.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("out"),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
