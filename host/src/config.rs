//! `rasterzen serve --config FILE`: many maps (a style bound to a source) from one TOML or
//! YAML file, as tileserver-gl and martin users expect.
//!
//! The file is *resolved* against the command line: every setting it names is the `serve`
//! option of the same name, and an option given on the command line or in the environment
//! (`RASTERZEN_*`) wins over the file (CLI > env > file > built-in default), for every map.
//! The result is a [`Plan`]: for each map, the `ServeArgs` it is built with, so a map is built
//! by exactly the code that builds today's single map (and options added to `serve` later
//! reach every map without touching this module).
//!
//! ```toml
//! default = "florence"            # the map of the paths without a map prefix (else the first)
//! [server]                        # process-wide `serve` options
//! cache = "memory,fs:/var/cache/rasterzen"
//! [defaults]                      # per-map options, for every map that does not set them
//! tile-size = 512
//! [sources.florence]
//! embedded = true                 # or path = "x.pmtiles" / "x.mbtiles" / "dir", or url = "https://…"
//! [maps.florence]
//! source = "florence"
//! style = "default"               # built-in name, file (relative to this file), https:// or s3://;
//!                                 # none: the built-in style for the source's schema
//! ```

use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::cli::{PngArg, ServeArgs};

/// Why a config file cannot be used. Each is one line naming the file and what to change.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config {0}: cannot read it: {1}")]
    Read(String, String),
    #[error("config {0}: name it .toml, .yaml or .yml (the extension says how to read it)")]
    Extension(String),
    #[error("config {0}: {1}")]
    Syntax(String, String),
    #[error("config {0}: {1}")]
    Invalid(String, String),
    #[error(
        "{0} cannot be combined with --config: the config file names each map's source and style"
    )]
    Conflict(String),
}

/// The file as written. Keys are the `serve` options' long names (`tile-size`, `cache-control`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The map served by the paths without a map prefix; default: the first map.
    pub default: Option<String>,
    #[serde(default)]
    pub server: ServerSection,
    #[serde(default)]
    pub defaults: MapSettings,
    #[serde(default, deserialize_with = "ordered")]
    pub sources: Vec<(String, SourceSection)>,
    #[serde(default, deserialize_with = "ordered")]
    pub maps: Vec<(String, MapSection)>,
}

/// Process-wide options. They apply at start; a reload that changes them says they need a restart.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServerSection {
    pub listen: Option<String>,
    pub cache: Option<String>,
    pub cache_acl: Option<String>,
    pub memory_cache_mb: Option<usize>,
    pub fs_cache_mb: Option<usize>,
    pub public_url: Option<String>,
    pub renderers: Option<String>,
    pub renderer_poll_ms: Option<u64>,
    pub render_workers: Option<usize>,
    pub render_queue: Option<usize>,
    pub upstream_memory_mb: Option<usize>,
    pub max_connections: Option<usize>,
    pub header_timeout_ms: Option<u64>,
    pub idle_timeout_ms: Option<u64>,
    pub write_timeout_ms: Option<u64>,
}

/// Per-map options (in `[defaults]` for every map, or in a map's own table).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MapSettings {
    pub tile_size: Option<u32>,
    pub cache_control: Option<String>,
    pub overzoom: Option<u8>,
    pub png: Option<String>,
    /// The tile formats the map serves (default: all).
    pub formats: Option<Vec<String>>,
}

/// One source of vector tiles: exactly one of `path`, `url`, `embedded = true`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SourceSection {
    /// A `.pmtiles` or `.mbtiles` file or a `{z}/{x}/{y}.mvt` directory (relative to the config file).
    pub path: Option<String>,
    /// An `http(s)://…{z}/{x}/{y}…` template, or an `http(s)://` / `s3://` PMTiles archive.
    pub url: Option<String>,
    /// The sample archive built into the binary (central Florence).
    pub embedded: Option<bool>,
    pub api_key: Option<String>,
    /// Zoom range of a URL template (it has no metadata).
    pub minzoom: Option<u8>,
    pub maxzoom: Option<u8>,
    pub upstream_timeout_ms: Option<u64>,
    pub upstream_retries: Option<u32>,
}

/// One map: a style bound to a source, with its own options.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MapSection {
    /// A name in `[sources]`.
    pub source: String,
    /// A built-in style name, a file (relative to the config file), `https://…` or `s3://BUCKET/KEY`;
    /// none: the built-in style for the source's schema.
    pub style: Option<String>,
    /// Shown in the catalog and TileJSON; default: the map id.
    pub name: Option<String>,
    /// Replaces the source's attribution in TileJSON and the catalog.
    pub attribution: Option<String>,
    /// More styles this map's requests can pick with `?style=NAME`: NAME = style.
    #[serde(default, deserialize_with = "ordered")]
    pub named_styles: Vec<(String, String)>,
    // The same keys as [`MapSettings`] (serde cannot flatten with deny_unknown_fields).
    pub tile_size: Option<u32>,
    pub cache_control: Option<String>,
    pub overzoom: Option<u8>,
    pub png: Option<String>,
    pub formats: Option<Vec<String>>,
}

/// A table as a list of (key, value) in the file's order ("the first map" is the default), with
/// duplicate keys refused (YAML allows them syntactically).
fn ordered<'de, D, T>(d: D) -> Result<Vec<(String, T)>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Ordered<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for Ordered<T> {
        type Value = Vec<(String, T)>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a table of names")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out: Vec<(String, T)> = Vec::new();
            while let Some((k, v)) = map.next_entry::<String, T>()? {
                if out.iter().any(|(have, _)| *have == k) {
                    return Err(de::Error::custom(format!("{k:?} is defined twice")));
                }
                out.push((k, v));
            }
            Ok(out)
        }
    }
    d.deserialize_map(Ordered(std::marker::PhantomData))
}

/// The tile formats a map can serve: the first path segment of its tile paths.
pub const TILE_FORMATS: &[&str] = &["png", "svg", "geojson", "mvt", "webp", "jpg"];

/// Top-level paths a map id must not shadow (`/{map}/…` and `/{path}` share the first segment),
/// including names kept for formats and endpoints of the contract. The preview page's files
/// and folders are added by the router (`crate::routes::maps::reserved`).
pub const RESERVED_IDS: &[&str] = &[
    "png",
    "svg",
    "mvt",
    "geojson",
    "webp",
    "jpg",
    "jpeg",
    "static",
    "wmts",
    "wmts.xml",
    "catalog",
    "tilejson.json",
    "style-report.json",
    "healthz",
    "metrics",
    "pkg",
    "vendor",
    "index.html",
];

/// Whether `id` may name a map: letters, digits, `-` and `_` (a path segment that needs no
/// escaping), at most 64 characters, not a top-level path.
pub fn check_map_id(id: &str, reserved: &[String]) -> Result<(), String> {
    if id.is_empty()
        || id.len() > 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(format!(
            "map id {id:?} must be 1 to 64 letters, digits, '-' or '_' (it is a URL path segment)"
        ));
    }
    let lower = id.to_ascii_lowercase();
    if RESERVED_IDS.contains(&lower.as_str()) || reserved.contains(&lower) {
        return Err(format!(
            "map id {id:?} collides with the top-level path /{lower}: pick another id"
        ));
    }
    Ok(())
}

/// Which `serve` options were given on the command line or in the environment: those win over
/// the file. Everything else (clap's defaults) gives way to it.
pub fn given(matches: &clap::ArgMatches) -> BTreeSet<String> {
    matches
        .ids()
        .filter(|id| {
            matches!(
                matches.value_source(id.as_str()),
                Some(
                    clap::parser::ValueSource::CommandLine | clap::parser::ValueSource::EnvVariable
                )
            )
        })
        .map(|id| id.as_str().to_string())
        .collect()
}

/// A source as the maps will open it.
#[derive(Debug, Clone)]
pub struct SourcePlan {
    pub name: String,
    /// How messages name it: `"monaco" (monaco.pmtiles)` from a file, the spec alone otherwise.
    pub label: String,
    /// As `--source` takes it; `None` is the embedded archive.
    pub spec: Option<String>,
    /// The options its network reads use (`--upstream-*`, `--api-key`, `--source-*zoom`).
    pub args: ServeArgs,
}

/// A map as it will be built.
#[derive(Debug, Clone)]
pub struct MapPlan {
    pub id: String,
    pub name: Option<String>,
    pub attribution: Option<String>,
    /// Index into [`Plan::sources`].
    pub source: usize,
    /// Its resolved options: `style`, `named_styles`, `tile_size`, `cache_control`, `overzoom`, `png`.
    pub args: ServeArgs,
    /// The formats it serves.
    pub formats: Vec<String>,
}

/// A resolved config: what `serve` builds.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The process-wide options (listen, cache, pool, registry).
    pub server: ServeArgs,
    pub sources: Vec<SourcePlan>,
    pub maps: Vec<MapPlan>,
    /// Index into `maps`.
    pub default: usize,
    /// The file's `[server]` table, to tell a reload that changes it needs a restart.
    pub server_section: ServerSection,
    /// Where it came from (`None`: the command line alone).
    pub file: Option<PathBuf>,
}

impl Plan {
    /// Today's single map, from the command line alone: map `default` over `--source`.
    pub fn single(args: &ServeArgs) -> Plan {
        Plan {
            server: args.clone(),
            sources: vec![SourcePlan {
                name: "source".into(),
                label: args
                    .source
                    .clone()
                    .filter(|s| !s.trim().is_empty())
                    .unwrap_or_else(|| "(the embedded archive)".into()),
                spec: args.source.clone().filter(|s| !s.trim().is_empty()),
                args: args.clone(),
            }],
            maps: vec![MapPlan {
                id: "default".into(),
                name: None,
                attribution: None,
                source: 0,
                args: args.clone(),
                formats: TILE_FORMATS.iter().map(|f| f.to_string()).collect(),
            }],
            default: 0,
            server_section: ServerSection::default(),
            file: None,
        }
    }
}

/// Reads and parses a config file (TOML or YAML by its extension).
pub fn read(path: &Path) -> Result<ConfigFile, ConfigError> {
    let shown = path.display().to_string();
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::Read(shown.clone(), e.to_string()))?;
    match ext.as_deref() {
        Some("toml") => toml::from_str(&text).map_err(|e| {
            let at = e
                .span()
                .map(|s| {
                    let (line, col) = line_col(&text, s.start);
                    format!("line {line}, column {col}: ")
                })
                .unwrap_or_default();
            ConfigError::Syntax(shown, format!("{at}{}", one_line(e.message())))
        }),
        Some("yaml" | "yml") => serde_saphyr::from_str(&text)
            // Without the source snippet: one line, position included.
            .map_err(|e| ConfigError::Syntax(shown, one_line(&e.without_snippet().to_string()))),
        _ => Err(ConfigError::Extension(shown)),
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Newlines and runs of spaces folded: every error is one log line.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Reads the file `args.config` names and resolves it against `args` (CLI > env > file).
/// `reserved` are top-level paths besides [`RESERVED_IDS`] (the preview page's files).
pub fn load(args: &ServeArgs, reserved: &[String]) -> Result<Plan, ConfigError> {
    let Some(path) = args.config.as_deref() else {
        return Ok(Plan::single(args));
    };
    for (id, flag) in [
        ("source", "--source (RASTERZEN_SOURCE)"),
        ("style", "--style (RASTERZEN_STYLE)"),
        ("named_styles", "--named-style (RASTERZEN_NAMED_STYLE)"),
    ] {
        if args.given.contains(id) {
            return Err(ConfigError::Conflict(flag.into()));
        }
    }
    let file = read(path)?;
    resolve(args, &file, path, reserved)
}

/// Builds the plan of a parsed file; `path` locates its relative paths.
pub fn resolve(
    args: &ServeArgs,
    file: &ConfigFile,
    path: &Path,
    reserved: &[String],
) -> Result<Plan, ConfigError> {
    let shown = path.display().to_string();
    let bad = |m: String| ConfigError::Invalid(shown.clone(), m);
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let given = &args.given;
    // A file value applies where the option was not given on the command line or in the env.
    macro_rules! take {
        ($target:expr, $id:literal, $value:expr) => {
            if !given.contains($id) {
                if let Some(v) = $value {
                    $target = v;
                }
            }
        };
    }

    let mut server = args.clone();
    let s = &file.server;
    take!(server.listen, "listen", s.listen.clone());
    take!(server.cache, "cache", s.cache.clone().map(Some));
    take!(server.cache_acl, "cache_acl", s.cache_acl.clone().map(Some));
    take!(server.memory_cache_mb, "memory_cache_mb", s.memory_cache_mb);
    take!(server.fs_cache_mb, "fs_cache_mb", s.fs_cache_mb);
    take!(
        server.public_url,
        "public_url",
        s.public_url.clone().map(Some)
    );
    take!(server.renderers, "renderers", s.renderers.clone().map(Some));
    take!(
        server.renderer_poll_ms,
        "renderer_poll_ms",
        s.renderer_poll_ms
    );
    take!(
        server.render_workers,
        "render_workers",
        s.render_workers.map(Some)
    );
    take!(server.render_queue, "render_queue", s.render_queue);
    take!(
        server.upstream_memory_mb,
        "upstream_memory_mb",
        s.upstream_memory_mb
    );
    take!(server.max_connections, "max_connections", s.max_connections);
    take!(
        server.header_timeout_ms,
        "header_timeout_ms",
        s.header_timeout_ms
    );
    take!(server.idle_timeout_ms, "idle_timeout_ms", s.idle_timeout_ms);
    take!(
        server.write_timeout_ms,
        "write_timeout_ms",
        s.write_timeout_ms
    );
    // The maps' own options come from the file (checked above not to be on the command line).
    server.source = None;
    server.style = None;
    server.named_styles = Vec::new();

    let mut sources = Vec::new();
    for (name, src) in &file.sources {
        if name.trim().is_empty() {
            return Err(bad("a source has an empty name".into()));
        }
        let spec = match (&src.path, &src.url, src.embedded.unwrap_or(false)) {
            (Some(p), None, false) if !p.trim().is_empty() => {
                Some(resolve_path(dir, p.trim()).display().to_string())
            }
            (None, Some(u), false) if !u.trim().is_empty() => Some(u.trim().to_string()),
            (None, None, true) => None,
            _ => {
                return Err(bad(format!(
                    "source {name:?} needs exactly one of path = \"FILE or DIR\", url = \"https://…\", embedded = true"
                )))
            }
        };
        let mut a = server.clone();
        take!(a.api_key, "api_key", src.api_key.clone().map(Some));
        take!(a.source_minzoom, "source_minzoom", src.minzoom.map(Some));
        take!(a.source_maxzoom, "source_maxzoom", src.maxzoom.map(Some));
        take!(
            a.upstream_timeout_ms,
            "upstream_timeout_ms",
            src.upstream_timeout_ms
        );
        take!(a.upstream_retries, "upstream_retries", src.upstream_retries);
        a.source = spec.clone();
        sources.push(SourcePlan {
            name: name.clone(),
            label: format!(
                "{name:?} ({})",
                spec.as_deref().unwrap_or("the embedded archive")
            ),
            spec,
            args: a,
        });
    }

    if file.maps.is_empty() {
        return Err(bad(
            "no maps: add at least one [maps.ID] table with source = \"NAME\"".into(),
        ));
    }
    let d = &file.defaults;
    check_settings(
        "[defaults]",
        d.tile_size,
        d.png.as_deref(),
        d.formats.as_deref(),
    )
    .map_err(&bad)?;
    let mut maps = Vec::new();
    for (id, m) in &file.maps {
        check_map_id(id, reserved).map_err(&bad)?;
        let Some(source) = file.sources.iter().position(|(n, _)| *n == m.source) else {
            let known: Vec<&str> = file.sources.iter().map(|(n, _)| n.as_str()).collect();
            return Err(bad(format!(
                "map {id:?}: no source named {:?} (sources: {})",
                m.source,
                if known.is_empty() {
                    "none: add a [sources.NAME] table".to_string()
                } else {
                    known.join(", ")
                }
            )));
        };
        check_settings(
            &format!("map {id:?}"),
            m.tile_size,
            m.png.as_deref(),
            m.formats.as_deref(),
        )
        .map_err(&bad)?;
        let mut a = sources[source].args.clone();
        // No style: the built-in one for the source's schema, chosen when the source is open.
        a.style = m.style.as_deref().map(|s| resolve_style(dir, s));
        a.named_styles = m
            .named_styles
            .iter()
            .map(|(n, s)| format!("{n}={}", resolve_style(dir, s)))
            .collect();
        take!(a.tile_size, "tile_size", m.tile_size.or(d.tile_size));
        take!(
            a.cache_control,
            "cache_control",
            m.cache_control.clone().or_else(|| d.cache_control.clone())
        );
        take!(a.overzoom, "overzoom", m.overzoom.or(d.overzoom));
        let png = m.png.as_deref().or(d.png.as_deref()).and_then(parse_png);
        take!(a.png, "png", png);
        let formats = m
            .formats
            .clone()
            .or_else(|| d.formats.clone())
            .unwrap_or_else(|| TILE_FORMATS.iter().map(|f| f.to_string()).collect());
        maps.push(MapPlan {
            id: id.clone(),
            name: m.name.clone(),
            attribution: m.attribution.clone(),
            source,
            args: a,
            formats,
        });
    }
    let default = match &file.default {
        None => 0,
        Some(want) => maps.iter().position(|m| m.id == *want).ok_or_else(|| {
            bad(format!(
                "default = {want:?} is not a map (maps: {})",
                maps.iter()
                    .map(|m| m.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?,
    };
    Ok(Plan {
        server,
        sources,
        maps,
        default,
        server_section: file.server.clone(),
        file: Some(path.to_path_buf()),
    })
}

fn parse_png(s: &str) -> Option<PngArg> {
    <PngArg as clap::ValueEnum>::from_str(s, true).ok()
}

fn check_settings(
    what: &str,
    tile_size: Option<u32>,
    png: Option<&str>,
    formats: Option<&[String]>,
) -> Result<(), String> {
    if let Some(t) = tile_size.filter(|t| *t != 256 && *t != 512) {
        return Err(format!("{what}: tile-size {t} is not 256 or 512"));
    }
    if let Some(p) = png.filter(|p| parse_png(p).is_none()) {
        return Err(format!(
            "{what}: png = {p:?} is not default, fast, small or png8"
        ));
    }
    if let Some(fs) = formats {
        if fs.is_empty() {
            return Err(format!("{what}: formats is empty"));
        }
        let mut seen = HashSet::new();
        for f in fs {
            if !TILE_FORMATS.contains(&f.as_str()) || !seen.insert(f) {
                return Err(format!(
                    "{what}: formats has {f:?}; each of {} at most once",
                    TILE_FORMATS.join(", ")
                ));
            }
        }
    }
    Ok(())
}

/// A path in the file, relative to the file's directory.
fn resolve_path(dir: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        dir.join(p)
    }
}

/// A style in the file: URLs as they are; a file relative to the config file's directory; a
/// built-in name when no such file exists.
fn resolve_style(dir: &Path, s: &str) -> String {
    let s = s.trim();
    if s.starts_with("http://") || s.starts_with("https://") || s.starts_with("s3://") {
        return s.to_string();
    }
    let joined = resolve_path(dir, s);
    if !joined.is_file() && rasterzen_render::style::Style::BUILTIN_NAMES.contains(&s) {
        return s.to_string();
    }
    joined.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Args as _, FromArgMatches as _};

    fn args(cli: &[&str]) -> ServeArgs {
        let cmd = ServeArgs::augment_args(clap::Command::new("t").no_binary_name(true));
        let m = cmd.try_get_matches_from(cli).unwrap();
        let mut a = ServeArgs::from_arg_matches(&m).unwrap();
        a.given = given(&m);
        a
    }

    const TOML: &str = r#"
default = "b"
[server]
cache = "none"
[defaults]
tile-size = 256
[sources.s]
embedded = true
[maps.b]
source = "s"
style = "omt"
[maps.a]
source = "s"
tile-size = 512
overzoom = 2
"#;

    #[test]
    fn resolves_in_order_with_cli_winning() {
        let file: ConfigFile = toml::from_str(TOML).unwrap();
        let plan = resolve(&args(&[]), &file, Path::new("x.toml"), &[]).unwrap();
        let ids: Vec<&str> = plan.maps.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["b", "a"], "the file's order");
        assert_eq!(plan.default, 0);
        assert_eq!(plan.server.cache.as_deref(), Some("none"));
        assert_eq!(plan.maps[0].args.tile_size, 256, "[defaults]");
        assert_eq!(plan.maps[1].args.tile_size, 512, "the map's own");
        assert_eq!(plan.maps[0].args.style.as_deref(), Some("omt"));
        assert_eq!(
            plan.maps[1].args.style, None,
            "chosen by the source's schema"
        );
        let cli = resolve(
            &args(&["--tile-size", "512", "--cache", "memory"]),
            &file,
            Path::new("x.toml"),
            &[],
        )
        .unwrap();
        assert_eq!(cli.maps[0].args.tile_size, 512, "CLI over file");
        assert_eq!(cli.server.cache.as_deref(), Some("memory"));
    }

    #[test]
    fn refuses_bad_files_in_one_line() {
        let base: ConfigFile = toml::from_str(TOML).unwrap();
        let mut f = base.clone();
        f.maps[0].0 = "png".into();
        let e = resolve(&args(&[]), &f, Path::new("x.toml"), &[]).unwrap_err();
        assert!(
            e.to_string()
                .contains("collides with the top-level path /png"),
            "{e}"
        );
        let mut f = base.clone();
        f.maps[0].1.source = "nope".into();
        let e = resolve(&args(&[]), &f, Path::new("x.toml"), &[]).unwrap_err();
        assert!(
            e.to_string()
                .contains("no source named \"nope\" (sources: s)"),
            "{e}"
        );
        let mut f = base.clone();
        f.default = Some("zz".into());
        assert!(resolve(&args(&[]), &f, Path::new("x.toml"), &[]).is_err());
        let mut f = base;
        f.maps[1].1.tile_size = Some(300);
        assert!(resolve(&args(&[]), &f, Path::new("x.toml"), &[]).is_err());
        assert!(toml::from_str::<ConfigFile>("[maps.a]\nsource = \"s\"\ntile-sise = 3\n").is_err());
        for id in ["a.b", "", "a/b", "x y"] {
            assert!(check_map_id(id, &[]).is_err(), "{id:?}");
        }
        assert!(check_map_id("Catalog", &[]).is_err());
        assert!(check_map_id("florence-2", &[]).is_ok());
    }

    #[test]
    fn yaml_reads_the_same() {
        let yaml = "default: b\nserver:\n  cache: none\ndefaults:\n  tile-size: 256\nsources:\n  s:\n    embedded: true\nmaps:\n  b:\n    source: s\n    style: omt\n  a:\n    source: s\n    tile-size: 512\n    overzoom: 2\n";
        let y: ConfigFile = serde_saphyr::from_str(yaml).unwrap();
        let t: ConfigFile = toml::from_str(TOML).unwrap();
        assert_eq!(y, t);
        assert!(serde_saphyr::from_str::<ConfigFile>(
            "maps:\n  a:\n    source: s\n  a:\n    source: t\n"
        )
        .is_err());
    }
}
