//! The command line. Every option also reads `RASTERZEN_<OPTION>` from the environment; the
//! command line wins over the environment.

use std::path::PathBuf;

use clap::builder::TypedValueParser as _;
use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "rasterzen",
    version,
    about = "Vector tiles to raster tiles: CLI, HTTP tile service, AWS Lambda function"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render one tile file (raw or gzip MVT) to PNG or SVG.
    Render(RenderArgs),
    /// Print the renderer's version and built-in styles.
    Version(EngineArgs),
    /// Run the HTTP tile service.
    Serve(Box<ServeArgs>),
    /// Manage renderer versions in a registry (a directory or s3://BUCKET/PREFIX).
    Renderer {
        #[command(subcommand)]
        command: crate::renderer_cmd::RendererCommand,
    },
    /// Pre-render tiles into the cache (a box, polygon or tile list over a zoom range), here or
    /// fanned out over SQS to the Lambda function; resumable.
    Seed(Box<crate::seed::SeedArgs>),
    /// Manage the tile cache.
    Cache {
        #[command(subcommand)]
        command: CacheCommand,
    },
    /// Check a style before deploying it: what is drawn, approximated or ignored.
    Style {
        #[command(subcommand)]
        command: crate::style_cmd::StyleCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Remove the cached tiles whose key starts with PREFIX (keys:
    /// SOURCE/RENDERER/STYLE/FORMAT-SIZE@SCALEx/Z/X/Y.EXT).
    Purge(PurgeArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (the default on AWS Lambda).
    Json,
}

/// Logging options, shared by the long-running commands.
#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// Log level or filter (`info`, `debug`, `rasterzen=debug,info`); default `RUST_LOG`, else `info`.
    #[arg(long, env = "RASTERZEN_LOG_LEVEL")]
    pub log_level: Option<String>,
    /// Log format (default: text, or json when running in AWS Lambda).
    #[arg(long, env = "RASTERZEN_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// A config file of many maps (sources × styles), TOML or YAML (see the README, "Many maps");
    /// reloaded on change and on SIGHUP. Options given here or in the environment win over it.
    #[arg(long, env = "RASTERZEN_CONFIG")]
    pub config: Option<PathBuf>,
    /// How often the config file is checked for changes (its modification time and length), in milliseconds.
    #[arg(long, env = "RASTERZEN_CONFIG_POLL_MS", default_value_t = 2_000)]
    pub config_poll_ms: u64,
    /// The options given on the command line or in the environment (they win over the config
    /// file); filled from clap's matches, not an option itself.
    #[arg(skip)]
    pub given: std::collections::BTreeSet<String>,
    /// Address to listen on.
    #[arg(long, env = "RASTERZEN_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Vector tiles: a .pmtiles or .mbtiles file, a {z}/{x}/{y}.mvt directory, an http(s) URL
    /// template with {z}/{x}/{y} (and {api_key}), an http(s) or s3:// URL of a .pmtiles archive.
    /// Default: the embedded sample archive (central Florence).
    #[arg(long, env = "RASTERZEN_SOURCE")]
    pub source: Option<String>,
    /// Cache tiers, fastest first, joined by commas: none, memory, memory:MB, fs:DIR,
    /// s3://BUCKET/PREFIX. Default: memory,fs:~/.cache/rasterzen/tiles.
    #[arg(long, env = "RASTERZEN_CACHE")]
    pub cache: Option<String>,
    /// Canned ACL for tiles written to S3 (e.g. public-read).
    #[arg(long, env = "RASTERZEN_CACHE_ACL")]
    pub cache_acl: Option<String>,
    /// Size of the `memory` cache tier, in MiB.
    #[arg(long, env = "RASTERZEN_MEMORY_CACHE_MB", default_value_t = 256)]
    pub memory_cache_mb: usize,
    /// Bound of each `fs:DIR` cache tier, in MiB (the oldest tiles are evicted beyond it); 0 for none.
    #[arg(long, env = "RASTERZEN_FS_CACHE_MB", default_value_t = 4096)]
    pub fs_cache_mb: usize,
    /// The default style: a MapLibre style JSON file, an https:// or s3:// URL, or a built-in style
    /// name (`rasterzen version` lists them); none: the built-in style for the source's schema
    /// (told from its vector_layers, said in the log).
    #[arg(long, env = "RASTERZEN_STYLE")]
    pub style: Option<String>,
    /// More styles a request can pick with ?style=NAME, as NAME=FILE (repeatable; comma-separated in the environment).
    #[arg(
        long = "named-style",
        env = "RASTERZEN_NAMED_STYLE",
        value_delimiter = ','
    )]
    pub named_styles: Vec<String>,
    /// A registry of renderer versions (directory or s3://BUCKET/PREFIX): its active version serves, and is swapped in when it changes.
    #[arg(long, env = "RASTERZEN_RENDERERS")]
    pub renderers: Option<String>,
    /// How often to check the registry's active pointer, in milliseconds (a conditional read).
    #[arg(long, env = "RASTERZEN_RENDERER_POLL_MS", default_value_t = 10_000)]
    pub renderer_poll_ms: u64,
    /// Tile edge in CSS pixels (@2x doubles it).
    #[arg(long, env = "RASTERZEN_TILE_SIZE", default_value_t = 512, value_parser = clap::builder::PossibleValuesParser::new(["256", "512"]).map(|s| s.parse::<u32>().unwrap_or(512)))]
    pub tile_size: u32,
    /// `Cache-Control` of tiles (also stored on S3 objects).
    #[arg(
        long,
        env = "RASTERZEN_CACHE_CONTROL",
        default_value = "public, max-age=86400"
    )]
    pub cache_control: String,
    /// `Cache-Control` of a tile drawn without a neighbour whose fetch failed (its seam
    /// labels may not match the neighbour's); such tiles are never cached by the service.
    #[arg(
        long,
        env = "RASTERZEN_PARTIAL_CACHE_CONTROL",
        default_value = crate::service::PARTIAL_CACHE_CONTROL
    )]
    pub partial_cache_control: String,
    /// Memory for recently read source tiles (kept inflated), in MiB: a labelled tile reads its
    /// eight neighbours too, so each source tile is wanted by up to nine renders.
    #[arg(long, env = "RASTERZEN_SOURCE_MEMORY_MB", default_value_t = 64)]
    pub source_memory_mb: usize,
    /// Draw tiles of labelled styles with their eight neighbours, so that every label crossing
    /// an edge is drawn identically by every tile it touches. `off` reads one source tile per
    /// render instead of up to nine (for sources that charge per request); labels crossing an
    /// edge may then be cut, as in other tile servers.
    #[arg(
        long,
        env = "RASTERZEN_LABEL_NEIGHBOURS",
        value_enum,
        default_value = "on"
    )]
    pub label_neighbours: Switch,
    /// Zoom levels above the source's maxzoom drawn by overzooming its deepest tile.
    #[arg(long, env = "RASTERZEN_OVERZOOM", default_value_t = 6)]
    pub overzoom: u8,
    /// Renders running at once (default: the number of cores).
    #[arg(long, env = "RASTERZEN_RENDER_WORKERS")]
    pub render_workers: Option<usize>,
    /// Renders waiting for a worker; beyond this, 503 with Retry-After.
    #[arg(long, env = "RASTERZEN_RENDER_QUEUE", default_value_t = 64)]
    pub render_queue: usize,
    /// Timeout of one upstream request, in milliseconds.
    #[arg(long, env = "RASTERZEN_UPSTREAM_TIMEOUT_MS", default_value_t = 10_000)]
    pub upstream_timeout_ms: u64,
    /// Retries of an upstream request after a 5xx or a connection failure (with back-off).
    #[arg(long, env = "RASTERZEN_UPSTREAM_RETRIES", default_value_t = 2)]
    pub upstream_retries: u32,
    /// Memory for upstream tile bodies held at once (being read, or waiting for their render),
    /// in MiB; beyond it, requests that need another body get 503.
    #[arg(long, env = "RASTERZEN_UPSTREAM_MEMORY_MB", default_value_t = 256)]
    pub upstream_memory_mb: usize,
    /// API key for URL-template sources ({api_key}), used when a request brings none.
    #[arg(long, env = "RASTERZEN_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Zoom range of a URL-template source (it has no metadata): min.
    #[arg(long, env = "RASTERZEN_SOURCE_MINZOOM")]
    pub source_minzoom: Option<u8>,
    /// Zoom range of a URL-template source: max (default 16).
    #[arg(long, env = "RASTERZEN_SOURCE_MAXZOOM")]
    pub source_maxzoom: Option<u8>,
    /// Base URL of the service in TileJSON (default: from the request's Host header).
    #[arg(long, env = "RASTERZEN_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// How PNG tiles are compressed: default (zlib 1), fast (fdeflate: ~3× faster, ~1.5× the
    /// bytes), small (zlib 9: ~25 % smaller, ~20× slower; for seeding), png8 (256 colours, lossy).
    #[arg(long, env = "RASTERZEN_PNG", value_enum, default_value = "default")]
    pub png: PngArg,
    /// The image format TileJSON's `tiles` URL and `format`, and WMTS's first ResourceURL, name
    /// when the request gives no `?format=` (every format is served either way).
    #[arg(long, env = "RASTERZEN_FORMAT", value_enum, default_value = "png")]
    pub format: ImageFormatArg,
    /// What image tiles outside the source's bounds answer: 404, `empty` (the style's
    /// background, transparent without one: for GIS clients whose windows cross the data's
    /// edge) or 204 (GDAL's empty block). Below minzoom or above the overzoom limit stays 404.
    #[arg(long, env = "RASTERZEN_OUTSIDE", value_enum, default_value = "404")]
    pub outside: OutsideArg,
    /// Open client connections at most (also bounded by the file-descriptor limit); over it,
    /// new connections get 503 and are closed.
    #[arg(long, env = "RASTERZEN_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,
    /// Time a client has to send a whole request head, in milliseconds (slow-loris guard).
    #[arg(long, env = "RASTERZEN_HEADER_TIMEOUT_MS", default_value_t = 10_000)]
    pub header_timeout_ms: u64,
    /// A connection with no request in flight and no bytes moving is closed after this many
    /// milliseconds (one second when more than 3/4 of --max-connections are open).
    #[arg(long, env = "RASTERZEN_IDLE_TIMEOUT_MS", default_value_t = 30_000)]
    pub idle_timeout_ms: u64,
    /// A client that stops reading its response is dropped after this many milliseconds.
    #[arg(long, env = "RASTERZEN_WRITE_TIMEOUT_MS", default_value_t = 30_000)]
    pub write_timeout_ms: u64,
    #[command(flatten)]
    pub log: LogArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// The key prefix to remove, e.g. `firenze-3f2a9c1b04d2/0.1.0-` (a source's tiles of every build of one renderer version; `0.1.0-5e0c1f3a/` for one build).
    pub prefix: Option<String>,
    /// Remove every cached tile.
    #[arg(long, conflicts_with = "prefix")]
    pub all: bool,
    /// The cache, as for `serve`.
    #[arg(long, env = "RASTERZEN_CACHE")]
    pub cache: Option<String>,
    #[command(flatten)]
    pub log: LogArgs,
}

/// A setting that is on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

/// PNG compression profiles (see `rasterzen_render::PngProfile`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PngArg {
    Default,
    Fast,
    Small,
    Png8,
}

impl From<PngArg> for rasterzen_render::PngProfile {
    fn from(p: PngArg) -> Self {
        match p {
            PngArg::Default => rasterzen_render::PngProfile::Default,
            PngArg::Fast => rasterzen_render::PngProfile::Fast,
            PngArg::Small => rasterzen_render::PngProfile::Small,
            PngArg::Png8 => rasterzen_render::PngProfile::Png8,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Png,
    /// Lossless WebP of the PNG's pixels.
    Webp,
    /// JPEG of the PNG's pixels (quality 85, transparency flattened over white).
    Jpg,
    Svg,
    Geojson,
}

/// The image format TileJSON and WMTS advertise (`serve --format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImageFormatArg {
    Png,
    Webp,
    Jpg,
}

impl From<ImageFormatArg> for rasterzen_render::encode::Encoding {
    fn from(f: ImageFormatArg) -> Self {
        match f {
            ImageFormatArg::Png => rasterzen_render::encode::Encoding::Png,
            ImageFormatArg::Webp => rasterzen_render::encode::Encoding::Webp,
            ImageFormatArg::Jpg => rasterzen_render::encode::Encoding::Jpeg,
        }
    }
}

/// What a tile outside the source's bounds answers (`serve --outside`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutsideArg {
    /// 404 Not Found.
    #[value(name = "404")]
    NotFound,
    /// The tile drawn without data: the style's background (transparent without one).
    Empty,
    /// 204 No Content.
    #[value(name = "204")]
    NoContent,
}

impl From<OutsideArg> for crate::service::Outside {
    fn from(o: OutsideArg) -> Self {
        match o {
            OutsideArg::NotFound => crate::service::Outside::NotFound,
            OutsideArg::Empty => crate::service::Outside::Empty,
            OutsideArg::NoContent => crate::service::Outside::NoContent,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineKind {
    /// The renderer component in a wasmtime sandbox (default).
    Wasm,
    /// The same renderer linked into this binary.
    Native,
}

/// Which renderer to run and within which limits.
#[derive(Debug, Clone, Args)]
pub struct EngineArgs {
    /// `wasm` runs the sandboxed component; `native` the in-process library.
    #[arg(long, env = "RASTERZEN_ENGINE", value_enum, default_value = "wasm")]
    pub engine: EngineKind,
    /// The renderer component (default: the one built into this binary, else target/rasterzen-renderer.wasm).
    #[arg(long, env = "RASTERZEN_RENDERER")]
    pub renderer: Option<PathBuf>,
    /// Memory limit of one render in the sandbox, in MiB.
    #[arg(long, env = "RASTERZEN_MEMORY_LIMIT_MB", default_value_t = 512)]
    pub memory_limit_mb: usize,
    /// Deadline of one render in the sandbox, in milliseconds.
    #[arg(long, env = "RASTERZEN_RENDER_TIMEOUT_MS", default_value_t = 10_000)]
    pub render_timeout_ms: u64,
    /// `--engine native` only: renders past their deadline (they cannot be stopped) that may
    /// still run in the background; while this many do, new renders are refused (503).
    #[arg(long, env = "RASTERZEN_NATIVE_MAX_OVERDUE", default_value_t = 2)]
    pub native_max_overdue: usize,
    /// `--engine native` only: resident memory of the process, in MiB, above which no new render
    /// starts (503); 0 turns the check off.
    #[arg(
        long,
        env = "RASTERZEN_NATIVE_MEMORY_BUDGET_MB",
        default_value_t = 2048
    )]
    pub native_memory_budget_mb: usize,
    /// Where precompiled renderers are cached (default ~/.cache/rasterzen/compiled; /tmp on Lambda).
    #[arg(long, env = "RASTERZEN_COMPILED_CACHE")]
    pub compiled_cache: Option<PathBuf>,
    /// Load renderer versions from a registry through the precompiled artifacts published beside
    /// them (checked against their manifest's sha256), instead of compiling each version here.
    /// They are native code: trust the registry's writers as you trust this binary's.
    #[arg(long, env = "RASTERZEN_REGISTRY_ARTIFACTS", default_value_t = true, action = clap::ArgAction::Set)]
    pub registry_artifacts: bool,
    /// A directory of TrueType/OpenType fonts (.ttf, .otf; subdirectories too) for the
    /// `text-font` names styles use, by each file's family and style ("Noto Sans CJK SC
    /// Regular"). A label's characters are drawn in the first font of its stack that has them;
    /// the embedded Noto Sans (Latin, Greek, Cyrillic) stands in for the rest.
    #[arg(long, env = "RASTERZEN_FONTS")]
    pub fonts: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The tile file: raw or gzip-compressed Mapbox Vector Tile.
    #[arg(long, env = "RASTERZEN_INPUT")]
    pub input: PathBuf,
    /// The tile's address, Z/X/Y (XYZ scheme).
    #[arg(long, env = "RASTERZEN_TILE")]
    pub tile: String,
    #[arg(long, env = "RASTERZEN_FORMAT", value_enum, default_value = "png")]
    pub format: FormatArg,
    /// A MapLibre style JSON file, an https:// or s3:// URL, or the name of a built-in style
    /// (`rasterzen version` lists them); none: the built-in style for the tile's schema (told
    /// from its layers).
    #[arg(long, env = "RASTERZEN_STYLE")]
    pub style: Option<String>,
    /// Tile edge in CSS pixels.
    #[arg(long, env = "RASTERZEN_SIZE", default_value_t = 512, value_parser = clap::builder::PossibleValuesParser::new(["256", "512"]).map(|s| s.parse::<u32>().unwrap_or(512)))]
    pub size: u32,
    /// Device pixel ratio.
    #[arg(long, env = "RASTERZEN_SCALE", default_value_t = 1, value_parser = clap::builder::PossibleValuesParser::new(["1", "2"]).map(|s| s.parse::<u32>().unwrap_or(1)))]
    pub scale: u32,
    /// How a PNG is compressed (see `serve --help`).
    #[arg(long, env = "RASTERZEN_PNG", value_enum, default_value = "default")]
    pub png: PngArg,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Where the tiles around `--tile` come from, so that labels crossing its edges are drawn
    /// exactly as the neighbouring tiles draw them (as `serve` does): a directory of
    /// `{z}/{x}/{y}.mvt`, a .pmtiles/.mbtiles archive or any other `serve --source`. A tile it
    /// lacks is taken as empty. Without it, labels crossing an edge may be cut.
    #[arg(long, env = "RASTERZEN_NEIGHBOURS")]
    pub neighbours: Option<String>,
    /// Output file, `-` for standard output.
    #[arg(short = 'o', long = "output", env = "RASTERZEN_OUTPUT")]
    pub output: PathBuf,
}
