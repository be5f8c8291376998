//! `rasterzen seed`: pre-render the tiles that matter into the cache, so no user waits for a
//! render.
//!
//! ```text
//! plan (boxes | GeoJSON | Z/X/Y list) × zooms, clipped to the source, in 8×8 blocks  tiles.rs
//!   → minus what the checkpoint says is finished                                     checkpoint.rs
//!   → locally: N tiles at once (the service's render pool, N workers)                worker.rs
//!       skip when every variant's key is in every persistent tier (stat / HEAD)
//!       else fetch once (per-run LRU of source tiles), render the missing variants,
//!       store; no data there → the shared empty tile of that zoom and variant
//!   → or, with --queue: batches of tiles to SQS, rendered by the Lambda function     queue.rs
//! ```
//!
//! The service is built exactly as `serve` builds it (`serve::build_app`), so a seeded tile has
//! the key and the bytes `serve` would give it.

pub mod checkpoint;
pub mod queue;
pub mod tiles;
pub mod worker;

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use clap::{Args, FromArgMatches as _, ValueEnum};
use rasterzen_render::TileId;
use sha2::{Digest, Sha256};

use crate::cli::{EngineArgs, LogArgs, ServeArgs};
use crate::service::Kind;
use checkpoint::Checkpoint;
use tiles::Plan;
use worker::{Outcome, Seeder, Variant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SeedFormat {
    Png,
    Svg,
    /// Lossless WebP made from the PNG (as `serve`'s `/webp/…`).
    Webp,
    /// JPEG made from the PNG (as `serve`'s `/jpg/…`).
    Jpg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    /// A progress bar on a terminal, log lines otherwise.
    Auto,
    Bar,
    /// A plain log line every --progress-interval-s.
    Log,
    None,
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// A box to seed, W,S,E,N in degrees (repeatable; `;` between boxes in the environment).
    /// With no --bbox, --geojson or --tiles: the source's whole extent.
    #[arg(long, env = "RASTERZEN_BBOX", value_delimiter = ';')]
    pub bbox: Vec<String>,
    /// A GeoJSON file (Polygon, MultiPolygon, Feature, FeatureCollection): the tiles it touches.
    #[arg(long, env = "RASTERZEN_GEOJSON")]
    pub geojson: Option<PathBuf>,
    /// A file of Z/X/Y lines to seed, `-` for standard input (--zooms does not apply).
    #[arg(long, env = "RASTERZEN_TILES", conflicts_with_all = ["bbox", "geojson"])]
    pub tiles: Option<PathBuf>,
    /// Zoom levels, A-B or Z (default: the source's zoom range).
    #[arg(long, env = "RASTERZEN_ZOOMS")]
    pub zooms: Option<String>,
    /// Formats to render, comma-separated.
    #[arg(
        long,
        env = "RASTERZEN_FORMATS",
        value_enum,
        value_delimiter = ',',
        default_value = "png"
    )]
    pub formats: Vec<SeedFormat>,
    /// Device pixel ratios to render (1, 2), comma-separated.
    #[arg(
        long,
        env = "RASTERZEN_SCALES",
        value_delimiter = ',',
        default_value = "1"
    )]
    pub scales: Vec<u32>,
    /// Styles to render, by name: `default` (the --style one), a --named-style, or a built-in
    /// (comma-separated; default: `default`).
    #[arg(long, env = "RASTERZEN_STYLES", value_delimiter = ',')]
    pub styles: Vec<String>,
    /// Tiles seeded at once (default: the number of cores); at most one render per core runs at a
    /// time, so more than that only hides I/O latency (cache checks, fetches, S3 writes).
    #[arg(long, env = "RASTERZEN_CONCURRENCY")]
    pub concurrency: Option<usize>,
    /// The checkpoint file (default: ~/.cache/rasterzen/seed/RUN.json, RUN naming the source,
    /// renderer, styles, formats and tiles, so the same command resumes).
    #[arg(long, env = "RASTERZEN_CHECKPOINT")]
    pub checkpoint: Option<PathBuf>,
    /// Ignore (and overwrite) the checkpoint: every tile is looked at again (cached ones are
    /// still skipped).
    #[arg(long, env = "RASTERZEN_RESTART")]
    pub restart: bool,
    /// Count the tiles and estimate time and storage (from a few sample renders); write nothing.
    #[arg(long, env = "RASTERZEN_DRY_RUN")]
    pub dry_run: bool,
    /// Send the tiles to an SQS queue in batches instead of rendering here: `sqs://QUEUE_URL`
    /// (the Lambda function subscribed to it renders them into its S3 cache).
    #[arg(long, env = "RASTERZEN_QUEUE")]
    pub queue: Option<String>,
    /// Tiles per SQS message.
    #[arg(long, env = "RASTERZEN_BATCH_SIZE", default_value_t = 64)]
    pub batch_size: usize,
    /// With --queue: after sending, follow the queue (and its dead-letter queue) until it drains.
    #[arg(long, env = "RASTERZEN_WAIT")]
    pub wait: bool,
    /// Progress display.
    #[arg(long, env = "RASTERZEN_PROGRESS", value_enum, default_value = "auto")]
    pub progress: ProgressMode,
    /// Seconds between progress log lines (when not on a terminal).
    #[arg(long, env = "RASTERZEN_PROGRESS_INTERVAL_S", default_value_t = 10)]
    pub progress_interval_s: u64,
    /// Also write the final summary as JSON to this file.
    #[arg(long, env = "RASTERZEN_SUMMARY")]
    pub summary: Option<PathBuf>,

    // The service's options, as for `serve`.
    /// Vector tiles, as for `serve` (default: the embedded sample archive).
    #[arg(long, env = "RASTERZEN_SOURCE")]
    pub source: Option<String>,
    /// Cache tiers, as for `serve` (only fs: and s3:// tiers are seeded; default
    /// fs:~/.cache/rasterzen/tiles).
    #[arg(long, env = "RASTERZEN_CACHE")]
    pub cache: Option<String>,
    /// Canned ACL for tiles written to S3 (e.g. public-read).
    #[arg(long, env = "RASTERZEN_CACHE_ACL")]
    pub cache_acl: Option<String>,
    /// `Cache-Control` stored on S3 objects.
    #[arg(
        long,
        env = "RASTERZEN_CACHE_CONTROL",
        default_value = "public, max-age=86400"
    )]
    pub cache_control: String,
    /// The default style: a MapLibre style JSON file or a built-in name (default, omt, light).
    #[arg(long, env = "RASTERZEN_STYLE")]
    pub style: Option<String>,
    /// More styles, as NAME=FILE (repeatable; comma-separated in the environment).
    #[arg(
        long = "named-style",
        env = "RASTERZEN_NAMED_STYLE",
        value_delimiter = ','
    )]
    pub named_styles: Vec<String>,
    /// A renderer registry (directory or s3://BUCKET/PREFIX): its active version renders.
    #[arg(long, env = "RASTERZEN_RENDERERS")]
    pub renderers: Option<String>,
    /// Tile edge in CSS pixels (256 or 512).
    #[arg(long, env = "RASTERZEN_TILE_SIZE", default_value_t = 512)]
    pub tile_size: u32,
    /// Zoom levels above the source's maxzoom that may be seeded (overzoomed).
    #[arg(long, env = "RASTERZEN_OVERZOOM", default_value_t = 6)]
    pub overzoom: u8,
    /// Timeout of one upstream request, in milliseconds.
    #[arg(long, env = "RASTERZEN_UPSTREAM_TIMEOUT_MS", default_value_t = 10_000)]
    pub upstream_timeout_ms: u64,
    /// Retries of an upstream request after a 5xx or a connection failure.
    #[arg(long, env = "RASTERZEN_UPSTREAM_RETRIES", default_value_t = 2)]
    pub upstream_retries: u32,
    /// API key for URL-template sources ({api_key}).
    #[arg(long, env = "RASTERZEN_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Zoom range of a URL-template source: min.
    #[arg(long, env = "RASTERZEN_SOURCE_MINZOOM")]
    pub source_minzoom: Option<u8>,
    /// Zoom range of a URL-template source: max (default 16).
    #[arg(long, env = "RASTERZEN_SOURCE_MAXZOOM")]
    pub source_maxzoom: Option<u8>,
    #[command(flatten)]
    pub log: LogArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
}

impl SeedArgs {
    /// The options `serve` would run with (the environment's, then these).
    fn serve_args(&self, concurrency: usize) -> anyhow::Result<ServeArgs> {
        let command =
            <ServeArgs as Args>::augment_args(clap::Command::new("seed").no_binary_name(true));
        let matches = command
            .try_get_matches_from(std::iter::empty::<String>())
            .map_err(|e| anyhow!("{}", e.to_string().trim()))?;
        let mut s = ServeArgs::from_arg_matches(&matches).map_err(|e| anyhow!("{e}"))?;
        // Seeding renders one map, named by its own options: never a config file's.
        s.config = None;
        s.source = self.source.clone().filter(|v| !v.trim().is_empty());
        s.cache = Some(
            self.cache
                .clone()
                .filter(|c| !c.trim().is_empty())
                .unwrap_or_else(|| format!("fs:{}", crate::cache::default_fs_dir().display())),
        );
        s.cache_acl = self.cache_acl.clone();
        s.cache_control = self.cache_control.clone();
        s.style = self.style.clone().filter(|v| !v.trim().is_empty());
        s.named_styles = self.named_styles.clone();
        s.renderers = self.renderers.clone();
        if self.tile_size != 256 && self.tile_size != 512 {
            bail!("--tile-size {} is not 256 or 512", self.tile_size);
        }
        s.tile_size = self.tile_size;
        s.overzoom = self.overzoom;
        s.upstream_timeout_ms = self.upstream_timeout_ms;
        s.upstream_retries = self.upstream_retries;
        s.api_key = self.api_key.clone();
        s.source_minzoom = self.source_minzoom;
        s.source_maxzoom = self.source_maxzoom;
        s.memory_cache_mb = 0;
        // Tiles in flight: `concurrency`; renders at once: no more than the cores (more would
        // only share them, with a sandbox's memory each). Extra tiles in flight hide the
        // latency of the cache checks, fetches and writes (S3).
        s.render_workers = Some(concurrency.min(cores()));
        s.render_queue = concurrency * 4 + 16;
        s.engine = self.engine.clone();
        s.log = self.log.clone();
        Ok(s)
    }
}

/// Everything a run is about.
pub struct SeedRun {
    pub seeder: Arc<Seeder>,
    pub plan: Plan,
    /// A short hash of what decides the run's output: source, renderer, size, variants, tiles.
    pub id: String,
    pub about: String,
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

pub fn cmd_seed(args: SeedArgs) -> ExitCode {
    match run(args) {
        Ok(code) => code,
        Err(e) => {
            let msg = format!("{e:#}")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            let _ = writeln!(std::io::stderr(), "rasterzen: error: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: SeedArgs) -> anyhow::Result<ExitCode> {
    crate::logging::init(&args.log);
    let concurrency = args.concurrency.unwrap_or_else(cores);
    if concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    if args.batch_size == 0 || args.batch_size > 1000 {
        bail!("--batch-size must be from 1 to 1000");
    }
    if let Some(s) = args.scales.iter().find(|s| **s != 1 && **s != 2) {
        bail!("--scales: {s} is not 1 or 2");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("rasterzen-seed")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let serve = args.serve_args(concurrency)?;
        let (state, _router) = crate::serve::build_app(&serve).await?;
        let service = Arc::clone(&state.service);
        if service.cache.persistent().is_empty() && args.queue.is_none() && !args.dry_run {
            bail!(
                "--cache {:?} has no tier to seed: give fs:DIR or s3://BUCKET/PREFIX",
                serve.cache.as_deref().unwrap_or("")
            );
        }
        let info = service.source.info().clone();
        let plan = if let Some(path) = &args.tiles {
            let text = if path.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin()).context("cannot read standard input")?
            } else {
                std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?
            };
            Plan::list(
                tiles::parse_tile_list(&text, &path.display().to_string())?,
                &info,
            )
        } else {
            let bboxes: Vec<[f64; 4]> = args
                .bbox
                .iter()
                .filter(|b| !b.trim().is_empty())
                .map(|b| tiles::parse_bbox(b))
                .collect::<Result<_, _>>()?;
            let shapes = match &args.geojson {
                Some(p) => {
                    let text = std::fs::read_to_string(p)
                        .with_context(|| format!("cannot read {}", p.display()))?;
                    Some(Arc::new(
                        tiles::Shapes::parse(&text)
                            .with_context(|| format!("--geojson {}", p.display()))?,
                    ))
                }
                None => None,
            };
            let zooms = match args.zooms.as_deref().filter(|z| !z.trim().is_empty()) {
                Some(z) => tiles::parse_zooms(z)?,
                None => (info.minzoom, info.maxzoom),
            };
            if zooms.1 > service.max_zoom() {
                bail!(
                    "--zooms {}-{}: the source goes to zoom {} (maxzoom {} + --overzoom {})",
                    zooms.0,
                    zooms.1,
                    service.max_zoom(),
                    info.maxzoom,
                    args.overzoom
                );
            }
            let mut describe_shapes = String::new();
            if let Some(p) = &args.geojson {
                let bytes = std::fs::read(p).unwrap_or_default();
                describe_shapes = crate::source::short_hash(&[&bytes]);
            }
            let mut plan = Plan::areas(&bboxes, shapes, zooms, &info);
            plan.describe.push_str(&describe_shapes);
            plan
        };
        let renderer = service.renderer();
        let styles: Vec<String> = if args.styles.iter().all(|s| s.trim().is_empty()) {
            vec!["default".into()]
        } else {
            args.styles
                .iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        };
        let formats: Vec<Kind> = args
            .formats
            .iter()
            .map(|f| match f {
                SeedFormat::Png => Kind::Png,
                SeedFormat::Svg => Kind::Svg,
                SeedFormat::Webp => Kind::Webp,
                SeedFormat::Jpg => Kind::Jpg,
            })
            .collect();
        let variants =
            worker::variants(&service, &renderer, &styles, &formats, &args.scales).await?;
        // Where the tiles go is part of the run: the same tiles into another cache are another run.
        let target = match args.queue.as_deref() {
            Some(q) => format!("queue {q}"),
            None => format!("cache {}", serve.cache.as_deref().unwrap_or("")),
        };
        let id = run_id(&service, &renderer, &variants, &plan, &target);
        let about = format!(
            "{} ({}), renderer {}, {}, {}",
            info.name,
            service.source.id(),
            renderer.version(),
            variants
                .iter()
                .map(Variant::label)
                .collect::<Vec<_>>()
                .join(", "),
            plan.describe
        );
        let seeder = Arc::new(Seeder::new(Arc::clone(&service), renderer, variants));
        let run = SeedRun {
            seeder,
            plan,
            id,
            about,
        };
        if args.dry_run {
            return dry_run(&run, &args, concurrency).await;
        }
        let checkpoint_path = args.checkpoint.clone().unwrap_or_else(|| {
            crate::cache::default_fs_dir()
                .parent()
                .map(|p| p.to_path_buf())
                .unwrap_or_else(std::env::temp_dir)
                .join("seed")
                .join(format!("{}.json", run.id))
        });
        let total = run.plan.count();
        let checkpoint =
            Checkpoint::open(&checkpoint_path, &run.id, &run.about, total, args.restart)?;
        if let Some(q) = &args.queue {
            return queue::send(&run, &args, q, checkpoint, total).await;
        }
        local(&run, &args, concurrency, checkpoint, total).await
    })
}

fn run_id(
    service: &crate::service::Service,
    renderer: &Arc<dyn crate::engine::Renderer>,
    variants: &[Variant],
    plan: &Plan,
    target: &str,
) -> String {
    let mut h = Sha256::new();
    h.update(service.source.id().as_bytes());
    h.update([0]);
    h.update(renderer.version().as_bytes());
    h.update([0]);
    h.update(service.config.tile_size.to_le_bytes());
    for v in variants {
        h.update(
            format!(
                "{}|{}|{}|{};",
                v.style_name,
                v.style_hash,
                v.kind.name(),
                v.scale
            )
            .as_bytes(),
        );
    }
    h.update(plan.describe.as_bytes());
    h.update([0]);
    h.update(target.as_bytes());
    h.finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What stopped a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Running,
    /// First Ctrl-C / SIGTERM: take no new tiles, let the ones in flight finish (exit code).
    Drain(u8),
    /// A second signal: abandon the tiles in flight.
    Abort(u8),
}

/// Ctrl-C and SIGTERM, into a watch channel: the first drains, the second aborts.
fn signals() -> tokio::sync::watch::Receiver<Stop> {
    let (tx, rx) = tokio::sync::watch::channel(Stop::Running);
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let mut int =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
        loop {
            let code: u8 = tokio::select! {
                Some(()) = async { match term.as_mut() { Some(s) => s.recv().await, None => std::future::pending().await } } => 143,
                Some(()) = async { match int.as_mut() { Some(s) => s.recv().await, None => std::future::pending().await } } => 130,
            };
            let next = match *tx.borrow() {
                Stop::Running => Stop::Drain(code),
                Stop::Drain(c) | Stop::Abort(c) => Stop::Abort(c),
            };
            if let Stop::Drain(_) = next {
                let _ = writeln!(
                    std::io::stderr(),
                    "rasterzen: stopping: finishing the tiles in flight (again to abandon them)"
                );
            }
            let _ = tx.send(next);
        }
    });
    rx
}

/// The progress display: an indicatif bar on a terminal, log lines otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    fn start(
        mode: ProgressMode,
        interval: Duration,
        total: u64,
        before: u64,
        seeder: Arc<Seeder>,
        what: &'static str,
    ) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        let mode = match mode {
            ProgressMode::Auto if terminal => ProgressMode::Bar,
            ProgressMode::Auto => ProgressMode::Log,
            m => m,
        };
        let started = Instant::now();
        match mode {
            ProgressMode::Bar => {
                let bar = indicatif::ProgressBar::new(total).with_position(before);
                bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} ({percent}%) ETA {eta} {msg}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar.reset_eta();
                let b = bar.clone();
                let task = tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        let s = &seeder.stats;
                        b.set_position(before + s.processed());
                        let rate = s.processed() as f64 / started.elapsed().as_secs_f64().max(1e-3);
                        b.set_message(format!(
                            "{rate:.1} tiles/s · {what} {} · skipped {} · empty {} · failed {}",
                            s.get(&s.rendered),
                            s.get(&s.skipped),
                            s.get(&s.empty),
                            s.get(&s.failed)
                        ));
                    }
                });
                Progress {
                    bar: Some(bar),
                    task: Some(task),
                }
            }
            ProgressMode::Log => {
                let task = tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(interval).await;
                        let s = &seeder.stats;
                        let processed = s.processed();
                        let secs = started.elapsed().as_secs_f64().max(1e-3);
                        let rate = processed as f64 / secs;
                        let left = total.saturating_sub(before + processed);
                        let eta = if rate > 0.0 {
                            left as f64 / rate
                        } else {
                            f64::NAN
                        };
                        tracing::info!(
                            target: "rasterzen::seed",
                            done = before + processed,
                            total,
                            rendered = s.get(&s.rendered),
                            skipped = s.get(&s.skipped),
                            empty = s.get(&s.empty),
                            failed = s.get(&s.failed),
                            tiles_per_s = (rate * 10.0).round() / 10.0,
                            eta_s = eta.round(),
                            "seed progress: {}/{total} tiles ({:.1} %), {:.1} tiles/s, ETA {}",
                            before + processed,
                            100.0 * (before + processed) as f64 / total.max(1) as f64,
                            rate,
                            human_duration(eta)
                        );
                    }
                });
                Progress {
                    bar: None,
                    task: Some(task),
                }
            }
            _ => Progress {
                bar: None,
                task: None,
            },
        }
    }

    fn finish(self) {
        if let Some(t) = self.task {
            t.abort();
        }
        if let Some(b) = self.bar {
            b.finish_and_clear();
        }
    }
}

pub fn human_duration(secs: f64) -> String {
    if !secs.is_finite() {
        return "unknown".into();
    }
    let s = secs.round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

pub fn human_bytes(b: u64) -> String {
    let b = b as f64;
    if b < 1e3 {
        format!("{b} B")
    } else if b < 1e6 {
        format!("{:.1} kB", b / 1e3)
    } else if b < 1e9 {
        format!("{:.1} MB", b / 1e6)
    } else {
        format!("{:.2} GB", b / 1e9)
    }
}

/// The local run: `concurrency` tiles at once, the checkpoint saved every second.
async fn local(
    run: &SeedRun,
    args: &SeedArgs,
    concurrency: usize,
    checkpoint: Checkpoint,
    total: u64,
) -> anyhow::Result<ExitCode> {
    let before = checkpoint.done.len();
    let checkpoint_path = checkpoint.path.clone();
    let checkpoint = Arc::new(Mutex::new(checkpoint));
    let mut stop = signals();
    let seeder = Arc::clone(&run.seeder);
    tracing::info!(
        run = %run.id, total, finished_before = before, concurrency,
        checkpoint = %checkpoint_path.display(), cache = %seeder.cache.describe(),
        "seeding {}", run.about
    );
    let progress = Progress::start(
        args.progress,
        Duration::from_secs(args.progress_interval_s.max(1)),
        total,
        before,
        Arc::clone(&seeder),
        "rendered",
    );
    // Saves the checkpoint every second while tiles finish.
    let saver = {
        let c = Arc::clone(&checkpoint);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let mut c = c.lock().unwrap_or_else(|p| p.into_inner());
                if let Err(e) = c.save() {
                    tracing::warn!(error = %format!("{e:#}"), "checkpoint not saved");
                }
            }
        })
    };
    let started = Instant::now();
    let mut set: tokio::task::JoinSet<(u64, Outcome)> = tokio::task::JoinSet::new();
    let mut tiles = run.plan.iter();
    let mut exhausted = false;
    let mut stopped = Stop::Running;
    loop {
        if let s @ (Stop::Drain(_) | Stop::Abort(_)) = *stop.borrow() {
            stopped = s;
        }
        if stopped != Stop::Running {
            break;
        }
        while !exhausted && set.len() < concurrency {
            match tiles.next() {
                Some((ordinal, tile)) => {
                    let done = checkpoint
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .done
                        .contains(ordinal);
                    if !done {
                        let s = Arc::clone(&seeder);
                        set.spawn(async move { (ordinal, s.seed(tile).await) });
                    }
                }
                None => exhausted = true,
            }
        }
        if set.is_empty() {
            break;
        }
        tokio::select! {
            Some(r) = set.join_next() => finish_one(&checkpoint, r),
            _ = stop.changed() => {}
        }
    }
    // Drain what is in flight, unless told again to abandon it.
    while !set.is_empty() {
        if let Stop::Abort(_) = stopped {
            set.abort_all();
            while set.join_next().await.is_some() {}
            break;
        }
        tokio::select! {
            Some(r) = set.join_next() => finish_one(&checkpoint, r),
            _ = stop.changed() => { stopped = *stop.borrow(); }
        }
    }
    saver.abort();
    progress.finish();
    let save = checkpoint.lock().unwrap_or_else(|p| p.into_inner()).save();
    let elapsed = started.elapsed();
    let done_now = checkpoint
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .done
        .len();
    let status = match stopped {
        Stop::Running if seeder.stats.get(&seeder.stats.failed) > 0 => "failed",
        Stop::Running => "finished",
        _ => "interrupted",
    };
    let summary = summary_json(
        run,
        status,
        total,
        before,
        done_now,
        elapsed,
        &checkpoint_path,
    );
    print_summary(&summary, &seeder);
    if let Some(p) = &args.summary {
        std::fs::write(p, serde_json::to_vec_pretty(&summary)?)
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    save?;
    Ok(match stopped {
        Stop::Drain(c) | Stop::Abort(c) => ExitCode::from(c),
        Stop::Running if status == "failed" => {
            let _ = writeln!(
                std::io::stderr(),
                "rasterzen: error: {} tile(s) failed (see above); run the same command again to retry them",
                seeder.stats.get(&seeder.stats.failed)
            );
            ExitCode::FAILURE
        }
        Stop::Running => ExitCode::SUCCESS,
    })
}

fn finish_one(
    checkpoint: &Arc<Mutex<Checkpoint>>,
    r: Result<(u64, Outcome), tokio::task::JoinError>,
) {
    match r {
        Ok((ordinal, outcome)) => {
            if !matches!(outcome, Outcome::Failed(_)) {
                checkpoint
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .mark(ordinal);
            }
        }
        Err(e) if e.is_cancelled() => {}
        Err(e) => tracing::error!(error = %e, "a seeding task failed"),
    }
}

fn summary_json(
    run: &SeedRun,
    status: &str,
    total: u64,
    before: u64,
    done_now: u64,
    elapsed: Duration,
    checkpoint: &std::path::Path,
) -> serde_json::Value {
    let s = &run.seeder.stats;
    let secs = elapsed.as_secs_f64().max(1e-6);
    serde_json::json!({
        "status": status,
        "run": run.id,
        "about": run.about,
        "total": total,
        "finished_before": before,
        "finished": done_now,
        "remaining": total.saturating_sub(done_now),
        "rendered": s.get(&s.rendered),
        "skipped": s.get(&s.skipped),
        "empty": s.get(&s.empty),
        "failed": s.get(&s.failed),
        "failures": s.failures_json(),
        "renders": s.get(&s.renders),
        "bytes_written": s.get(&s.bytes),
        "elapsed_s": (secs * 1000.0).round() / 1000.0,
        "tiles_per_s": ((s.processed() as f64 / secs) * 10.0).round() / 10.0,
        "rendered_per_s": (((s.get(&s.rendered) + s.get(&s.empty)) as f64 / secs) * 10.0).round() / 10.0,
        "checkpoint": checkpoint.display().to_string(),
    })
}

fn print_summary(v: &serde_json::Value, seeder: &Seeder) {
    let n = |k: &str| v[k].as_u64().unwrap_or(0);
    let mut out = String::new();
    out.push_str(&format!(
        "seed {}: {} of {} tiles done ({} before this run); this run: rendered {}, skipped {} (cached), empty {}, failed {}\n",
        v["status"].as_str().unwrap_or(""),
        n("finished"),
        n("total"),
        n("finished_before"),
        n("rendered"),
        n("skipped"),
        n("empty"),
        n("failed"),
    ));
    out.push_str(&format!(
        "  {} in {}: {} tiles/s, {} renders, {} written to {}\n",
        seeder
            .variants
            .iter()
            .map(Variant::label)
            .collect::<Vec<_>>()
            .join(", "),
        human_duration(v["elapsed_s"].as_f64().unwrap_or(0.0)),
        v["tiles_per_s"],
        n("renders"),
        human_bytes(n("bytes_written")),
        seeder.cache.describe()
    ));
    for f in v["failures"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  failed: {} × {} (e.g. {})\n",
            f["count"],
            f["reason"].as_str().unwrap_or(""),
            f["tiles"]
                .as_array()
                .map(|t| t
                    .iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_default()
        ));
    }
    out.push_str(&format!(
        "  checkpoint: {}\n",
        v["checkpoint"].as_str().unwrap_or("")
    ));
    let _ = std::io::stdout().write_all(out.as_bytes());
    let _ = std::io::stdout().flush();
}

/// `--dry-run`: the count (with data / empty, from the source's directory where it has one),
/// and time and storage estimated from a few sample renders (nothing is written).
async fn dry_run(run: &SeedRun, args: &SeedArgs, concurrency: usize) -> anyhow::Result<ExitCode> {
    let seeder = &run.seeder;
    let service = &seeder.service;
    let started = Instant::now();
    let (mut total, mut with_data, mut empty, mut unknown, mut outside) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut samples: Vec<TileId> = Vec::new();
    let (mut zmin, mut zmax) = (u8::MAX, 0u8);
    for (_, tile) in run.plan.iter() {
        total += 1;
        zmin = zmin.min(tile.z);
        zmax = zmax.max(tile.z);
        let Ok(data_tile) = service.data_tile(tile) else {
            outside += 1;
            continue;
        };
        match service.source.contains(data_tile).await {
            Ok(Some(true)) => {
                with_data += 1;
                samples.push(tile);
            }
            Ok(Some(false)) => empty += 1,
            Ok(None) | Err(_) => {
                unknown += 1;
                samples.push(tile);
            }
        }
    }
    // A few samples spread over the plan (deepest zooms dominate the count, and the time).
    let want = 6usize;
    let picked: Vec<TileId> = if samples.len() <= want {
        samples.clone()
    } else {
        (0..want)
            .map(|i| samples[i * (samples.len() - 1) / (want - 1)])
            .collect()
    };
    let mut render_ms = Vec::new();
    let mut render_bytes = Vec::new();
    for tile in &picked {
        let Ok(data_tile) = service.data_tile(*tile) else {
            continue;
        };
        let data = match seeder.source_tile(data_tile).await {
            Ok(Some(d)) => d,
            _ => continue,
        };
        for i in 0..seeder.variants.len() {
            let t = Instant::now();
            if let Ok(b) = seeder.render(&data, *tile, data_tile, i).await {
                render_ms.push(t.elapsed().as_secs_f64() * 1000.0);
                render_bytes.push(b.len() as f64);
            }
        }
    }
    let mut empty_bytes = 0.0;
    for i in 0..seeder.variants.len() {
        let tile = TileId { z: 0, x: 0, y: 0 };
        if let Ok(b) = seeder.render(&bytes::Bytes::new(), tile, tile, i).await {
            empty_bytes += b.len() as f64;
        }
    }
    let mean = |v: &[f64]| {
        if v.is_empty() {
            0.0
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    let variants = seeder.variants.len() as f64;
    let renders = (with_data + unknown) as f64 * variants;
    let workers = concurrency.min(cores()).max(1) as f64;
    let est_s = renders * mean(&render_ms) / 1000.0 / workers;
    let est_bytes = renders * mean(&render_bytes) + empty as f64 * empty_bytes;
    let zmin = zmin.min(zmax);
    let v = serde_json::json!({
        "status": "dry-run",
        "run": run.id,
        "about": run.about,
        "total": total,
        "zooms": [zmin, zmax],
        "with_data": with_data,
        "empty": empty,
        "unknown": unknown,
        "outside": outside,
        "variants": seeder.variants.iter().map(Variant::label).collect::<Vec<_>>(),
        "sample_renders": render_ms.len(),
        "mean_render_ms": (mean(&render_ms) * 10.0).round() / 10.0,
        "mean_tile_bytes": mean(&render_bytes).round(),
        "estimated_s": est_s.round(),
        "estimated_bytes": est_bytes.round(),
        "concurrency": concurrency,
    });
    let mut out = String::new();
    out.push_str(&format!(
        "seed (dry run): {total} tiles, zooms {zmin}-{zmax}, {} variant(s): {}\n",
        seeder.variants.len(),
        seeder
            .variants
            .iter()
            .map(Variant::label)
            .collect::<Vec<_>>()
            .join(", ")
    ));
    out.push_str(&format!(
        "  with data: {with_data}; empty (no data: one shared rendering per zoom and variant): {empty}{}{}\n",
        if unknown > 0 {
            format!("; source cannot tell without fetching (rendered each): {unknown}")
        } else {
            String::new()
        },
        if outside > 0 {
            format!("; outside the source: {outside}")
        } else {
            String::new()
        }
    ));
    out.push_str(&format!(
        "  {} sample render(s): mean {:.1} ms, {} per tile\n",
        render_ms.len(),
        mean(&render_ms),
        human_bytes(mean(&render_bytes) as u64)
    ));
    out.push_str(&format!(
        "  estimated: {} at --concurrency {concurrency} ({} renders), {} of tiles (cached tiles, skipped at run time, not counted)\n",
        human_duration(est_s),
        renders as u64,
        human_bytes(est_bytes as u64)
    ));
    out.push_str(&format!(
        "  counted in {}\n",
        human_duration(started.elapsed().as_secs_f64())
    ));
    let _ = std::io::stdout().write_all(out.as_bytes());
    if let Some(p) = &args.summary {
        std::fs::write(p, serde_json::to_vec_pretty(&v)?)
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
