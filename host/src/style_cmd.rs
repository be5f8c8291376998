//! `rasterzen style check STYLE [--source SRC]`: what of a style is drawn, approximated or
//! ignored, whether its sprites load, and which of its `source-layer`s a source lacks, before
//! anyone deploys it. Exit 1 on errors (the style does not parse, a sprite cannot be loaded, a
//! source lacks layers the style reads); with `--strict`, on warnings too.

use std::io::Write as _;

use anyhow::Context as _;
use clap::Args;

use crate::assets::{AssetLoader, Location};
use crate::cli::{EngineArgs, LogArgs};
use crate::engine::StyleInfo;
use crate::source::{self, NetOptions};

#[derive(Debug, Args)]
pub struct StyleCheckArgs {
    /// A MapLibre style: a file, an http(s):// URL, s3://BUCKET/KEY, or a built-in name.
    pub style: String,
    /// A tile source (as for `serve`) whose layers the style's `source-layer`s must exist in.
    #[arg(long, env = "RASTERZEN_SOURCE")]
    pub source: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Fail (exit 1) on warnings too, not only on errors.
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub log: LogArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, clap::Subcommand)]
pub enum StyleCommand {
    /// Report what of a style is drawn, approximated or ignored; check its sprites and, with
    /// --source, that the source has the layers it reads.
    Check(StyleCheckArgs),
}

/// The outcome: problems that make the style unusable as is, and those worth knowing.
#[derive(Debug, Default)]
struct Findings {
    errors: Vec<String>,
    warnings: Vec<String>,
}

pub fn cmd_style(command: StyleCommand) -> anyhow::Result<()> {
    let StyleCommand::Check(mut args) = command;
    // A report on stdout, errors on stderr: no info-level chatter unless asked for.
    if args.log.log_level.is_none() && std::env::var_os("RUST_LOG").is_none() {
        args.log.log_level = Some("warn".into());
    }
    crate::logging::init(&args.log);
    let renderer = crate::build_renderer(&args.engine)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let (spec, location) = runtime.block_on(crate::load_style(&args.style))?;
    let info = renderer
        .style_info(&spec)
        .map_err(|e| anyhow::anyhow!("style {}: {e}", args.style))?;
    let mut f = Findings {
        warnings: info.warnings.clone(),
        ..Findings::default()
    };
    // Sprites: each named one must load (the 1x sheet at least).
    let mut sprite_notes = Vec::new();
    let assets = runtime.block_on(AssetLoader::shared().sprites(
        location.as_ref(),
        &info.sprites,
        &mut sprite_notes,
    ));
    for n in sprite_notes {
        if n.contains("(1x)") {
            f.errors.push(n);
        } else {
            f.warnings.push(n);
        }
    }
    // The source's layers.
    let mut source_layers: Option<(String, Vec<String>)> = None;
    if let Some(src) = args.source.as_deref() {
        let net = NetOptions::default();
        let opened = runtime
            .block_on(source::open(Some(src), &net))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        match opened.info().vector_layers.clone() {
            Some(have) => {
                let missing: Vec<&String> = info
                    .source_layers
                    .iter()
                    .filter(|l| !have.contains(l))
                    .collect();
                if !missing.is_empty() {
                    f.errors.push(format!(
                        "the source {src} has no layer {} (it has {}): those style layers draw nothing",
                        missing.iter().map(|m| format!("{m:?}")).collect::<Vec<_>>().join(", "),
                        have.join(", ")
                    ));
                }
                source_layers = Some((src.to_string(), have));
            }
            None => f.warnings.push(format!(
                "the source {src} lists no vector_layers in its metadata: its layers cannot be checked"
            )),
        }
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        let layers: Vec<serde_json::Value> = info
            .layers
            .iter()
            .map(|l| {
                serde_json::json!({
                    "id": l.id, "type": l.kind, "source-layer": l.source_layer,
                    "minzoom": l.minzoom, "maxzoom": l.maxzoom, "status": l.status, "notes": l.notes,
                })
            })
            .collect();
        let doc = serde_json::json!({
            "style": args.style,
            "hash": info.hash,
            "layers": layers,
            "sprites": info.sprites.iter().map(|(id, url)| serde_json::json!({"id": id, "url": url})).collect::<Vec<_>>(),
            "sprite_sheets_loaded": assets.sprites.len(),
            "fonts": info.fonts,
            "glyphs": info.glyphs,
            "source_layers": info.source_layers,
            "source": source_layers.as_ref().map(|(s, l)| serde_json::json!({"source": s, "vector_layers": l})),
            "errors": f.errors,
            "warnings": f.warnings,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
    } else {
        print_text(&mut out, &args.style, &info, assets.sprites.len(), &f)?;
    }
    drop(out);
    if !f.errors.is_empty() {
        anyhow::bail!(
            "{} error(s) in style {} (see above)",
            f.errors.len(),
            args.style
        );
    }
    if args.strict && !f.warnings.is_empty() {
        anyhow::bail!(
            "{} warning(s) in style {} and --strict",
            f.warnings.len(),
            args.style
        );
    }
    Ok(())
}

fn print_text(
    out: &mut impl std::io::Write,
    style: &str,
    info: &StyleInfo,
    sheets: usize,
    f: &Findings,
) -> std::io::Result<()> {
    let count = |s: &str| info.layers.iter().filter(|l| l.status == s).count();
    writeln!(
        out,
        "style {style} (hash {}): {} layers: {} drawn, {} approximated, {} ignored, {} hidden",
        info.hash,
        info.layers.len(),
        count("drawn"),
        count("approximated"),
        count("ignored"),
        count("hidden")
    )?;
    if !info.detailed {
        writeln!(
            out,
            "  (this renderer speaks interface 1.0.0 and reports no layer details)"
        )?;
    }
    for l in &info.layers {
        writeln!(
            out,
            "  {:<12} {:<28} {:<15} {}",
            l.status,
            l.id,
            l.kind,
            l.source_layer.as_deref().unwrap_or("-")
        )?;
        for n in &l.notes {
            writeln!(out, "               - {n}")?;
        }
    }
    if !info.sprites.is_empty() {
        writeln!(
            out,
            "sprites: {} named, {sheets} sheet(s) loaded",
            info.sprites.len()
        )?;
    }
    if !info.fonts.is_empty() {
        writeln!(out, "fonts: {}", info.fonts.join(", "))?;
    }
    let layer_notes = |w: &String| w.starts_with("layers[");
    let other: Vec<&String> = f.warnings.iter().filter(|w| !layer_notes(w)).collect();
    for w in other {
        writeln!(out, "warning: {w}")?;
    }
    for e in &f.errors {
        writeln!(out, "error: {e}")?;
    }
    Ok(())
}

/// Where a style named on the command line lives (for its relative URLs).
pub fn location_of(style: &str) -> Option<Location> {
    let is_url =
        style.starts_with("http://") || style.starts_with("https://") || style.starts_with("s3://");
    (is_url || std::path::Path::new(style).is_file()).then(|| Location::parse(style))
}
