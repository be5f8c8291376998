//! `rasterzen style check STYLE [--source SRC]`: what of a style is drawn, approximated or
//! ignored, whether its sprites load, and which of its `source-layer`s a source lacks, before
//! anyone deploys it. Exit 1 on errors (the style does not parse, a sprite cannot be loaded, a
//! source lacks layers the style reads); with `--strict`, on warnings too.

use std::io::Write as _;

use anyhow::Context as _;
use clap::Args;

use crate::assets::{AssetLoader, Location};
use crate::cli::{EngineArgs, LogArgs};
use crate::engine::{Assets, Renderer, StyleInfo, StyleSpec};
use crate::source::{self, NetOptions, SourceInfo};

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

/// What is known about a style before it serves: the renderer's report, its sprites, and the
/// source's layers it reads. `style check` prints it; `serve` logs it and serves it as
/// `/{map}/style-report.json` (the one place this check is made).
#[derive(Debug)]
pub struct StyleCheck {
    pub info: StyleInfo,
    /// The sprites fetched (what renders use).
    pub assets: Assets,
    /// Problems that make the style unusable as is (a sprite that does not load, layers the
    /// source lacks).
    pub errors: Vec<String>,
    /// Problems worth knowing (the renderer's warnings: skipped layers, unknown properties...).
    pub warnings: Vec<String>,
    /// The source named, and the layers its metadata lists.
    pub source: Option<(String, Option<Vec<String>>)>,
    /// The style's `source-layer`s the source lacks (empty when it lists no layers).
    pub missing_layers: Vec<String>,
}

/// What is said of a built-in style's few layers for another schema (`serve` logs it as a note).
pub const BUILTIN_SCHEMAS: &str =
    "a built-in style covers several schemas: a few of its layers are for another one";

/// What a source without a layer list is said to lack (`serve` logs it as a note, not a warning).
pub const NO_VECTOR_LAYERS: &str = "lists no vector_layers in its metadata";

/// Checks a style: the renderer's report, its sprites (relative to `location`) and, given a
/// source (a label for messages, and its info), the `source-layer`s it lacks.
pub async fn check(
    renderer: &dyn Renderer,
    label: &str,
    spec: &StyleSpec,
    location: Option<&Location>,
    source: Option<(&str, &SourceInfo)>,
) -> anyhow::Result<StyleCheck> {
    let info = renderer
        .style_info(spec)
        .map_err(|e| anyhow::anyhow!("style {label}: {e}"))?;
    let mut errors = Vec::new();
    let mut warnings = info.warnings.clone();
    // Sprites: each named one must load (the 1x sheet at least).
    let mut sprite_notes = Vec::new();
    let mut assets = AssetLoader::shared()
        .sprites(location, &info.sprites, &mut sprite_notes)
        .await;
    // The fonts directory's files for the names the style's stacks use.
    if let Some(catalog) = crate::fonts::catalog() {
        assets.fonts = catalog.files_for(&info.fonts, &mut warnings);
    }
    for n in sprite_notes {
        if n.contains("(1x)") {
            errors.push(n);
        } else {
            warnings.push(n);
        }
    }
    let mut missing_layers = Vec::new();
    let source = source.map(|(src, si)| {
        match &si.vector_layers {
            Some(have) => {
                missing_layers = info
                    .source_layers
                    .iter()
                    .filter(|l| !have.contains(l))
                    .cloned()
                    .collect();
                if !missing_layers.is_empty() {
                    let text = format!(
                        "the source has no layer {} (the source {src} has {}): those style layers draw nothing; is the style for this source's schema?",
                        missing_layers.iter().map(|m| format!("{m:?}")).collect::<Vec<_>>().join(", "),
                        have.join(", ")
                    );
                    // The built-in styles cover several schemas on purpose (`default`: Tilezen
                    // and Protomaps v2): a few layers of another schema are not an error.
                    let builtin = matches!(spec, StyleSpec::Builtin(_));
                    if builtin && missing_layers.len() * 2 <= info.source_layers.len() {
                        warnings.push(format!("{text} ({BUILTIN_SCHEMAS})"));
                    } else {
                        errors.push(text);
                    }
                }
            }
            None => warnings.push(format!(
                "the source {src} {NO_VECTOR_LAYERS}: its layers cannot be checked"
            )),
        }
        (src.to_string(), si.vector_layers.clone())
    });
    Ok(StyleCheck {
        info,
        assets,
        errors,
        warnings,
        source,
        missing_layers,
    })
}

impl StyleCheck {
    /// The report as JSON (`style check --json`, `/{map}/style-report.json`).
    pub fn to_json(&self, style: &str) -> serde_json::Value {
        let info = &self.info;
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
        serde_json::json!({
            "style": style,
            "hash": info.hash,
            "layers": layers,
            "sprites": info.sprites.iter().map(|(id, url)| serde_json::json!({"id": id, "url": url})).collect::<Vec<_>>(),
            "sprite_sheets_loaded": self.assets.sprites.len(),
            "fonts": info.fonts,
            "fonts_given": self.assets.fonts.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
            "glyphs": info.glyphs,
            "source_layers": info.source_layers,
            "source": self.source.as_ref().map(|(s, l)| serde_json::json!({"source": s, "vector_layers": l})),
            "missing_source_layers": self.missing_layers,
            "errors": self.errors,
            "warnings": self.warnings,
        })
    }

    /// How many layers have each status (drawn, approximated, ignored, hidden).
    pub fn count(&self, status: &str) -> usize {
        self.info
            .layers
            .iter()
            .filter(|l| l.status == status)
            .count()
    }
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
    let opened = match args.source.as_deref() {
        Some(src) => Some((
            src.to_string(),
            runtime
                .block_on(source::open(Some(src), &NetOptions::default()))
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        )),
        None => None,
    };
    let report = runtime.block_on(check(
        &*renderer,
        &args.style,
        &spec,
        location.as_ref(),
        opened.as_ref().map(|(src, s)| (src.as_str(), s.info())),
    ))?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&report.to_json(&args.style))?
        )?;
    } else {
        print_text(&mut out, &args.style, &report)?;
    }
    drop(out);
    if !report.errors.is_empty() {
        anyhow::bail!(
            "{} error(s) in style {} (see above)",
            report.errors.len(),
            args.style
        );
    }
    if args.strict && !report.warnings.is_empty() {
        anyhow::bail!(
            "{} warning(s) in style {} and --strict",
            report.warnings.len(),
            args.style
        );
    }
    Ok(())
}

fn print_text(
    out: &mut impl std::io::Write,
    style: &str,
    report: &StyleCheck,
) -> std::io::Result<()> {
    let info = &report.info;
    let sheets = report.assets.sprites.len();
    let f = report;
    let count = |s: &str| report.count(s);
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
        let given: Vec<&str> = f.assets.fonts.iter().map(|f| f.name.as_str()).collect();
        if !given.is_empty() {
            writeln!(out, "fonts from the fonts directory: {}", given.join(", "))?;
        }
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
