//! The maps being served: one [`Service`] per map (a style bound to a source), built from a
//! [`Plan`] (the config file resolved against the command line, or today's single map), and
//! swapped whole on reload.
//!
//! What the maps share: the renderer (and the registry that swaps it), the cache tiers (keys
//! hold the source's id and the style's hash, so maps never see each other's tiles), the
//! render pool (`--render-workers` bounds the process, not each map), and within one load
//! every source (two maps over one archive open it once). A reload builds and checks the whole
//! new set (sources open, styles load and hash) before anything changes; a request holds the
//! set it started with until it ends.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use axum::Router;
use tokio::sync::Semaphore;

use crate::cache::{CacheOptions, Tiered};
use crate::cli::ServeArgs;
use crate::config::{self, ConfigError, Plan, ServerSection};
use crate::engine::{Renderer, StyleSpec};
use crate::routes::AppState;
use crate::service::{Service, Styles};
use crate::source::{self, TileSource};

/// Why a set of maps cannot be built. One line each, naming the map or source.
#[derive(Debug, thiserror::Error)]
pub enum MapsError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("source {0:?}: {1}")]
    Source(String, String),
    #[error("map {0:?}: {1}")]
    Style(String, String),
}

/// What a map's router knows about the map (TileJSON's name, attribution and URLs).
#[derive(Debug, Clone, Default)]
pub struct MapInfo {
    /// `""` at the top level, `/{id}` under the map's prefix.
    pub prefix: String,
    /// Replaces the source's name in TileJSON.
    pub name: Option<String>,
    /// Replaces the source's attribution in TileJSON.
    pub attribution: Option<String>,
}

/// One map, ready to serve.
pub struct Map {
    pub id: String,
    pub name: String,
    pub source_name: String,
    pub formats: Vec<String>,
    pub service: Arc<Service>,
    pub attribution: Option<String>,
    /// The map's routes at `/{id}/…`.
    pub prefixed: Router,
    /// The same routes at `/…` (used when this is the default map).
    pub unprefixed: Router,
    /// The state behind `unprefixed` (Lambda and `seed` take the default map's service).
    pub state: Arc<AppState>,
    /// `/{id}/style-report.json`.
    pub report: serde_json::Value,
    /// The report's summary, for `/catalog`.
    pub summary: serde_json::Value,
}

/// One load of the config: every map, and which one the paths without a prefix serve.
pub struct Maps {
    pub maps: Vec<Arc<Map>>,
    pub default: usize,
    /// When it was loaded (the catalog says so).
    pub loaded_at: SystemTime,
}

impl Maps {
    pub fn get(&self, id: &str) -> Option<&Arc<Map>> {
        self.maps.iter().find(|m| m.id == id)
    }

    pub fn default_map(&self) -> &Arc<Map> {
        &self.maps[self.default]
    }
}

/// What every map of every load shares.
struct Shared {
    renderer: ArcSwap<Arc<dyn Renderer>>,
    registry: Option<Arc<crate::engine::registry::Registry>>,
    cache: Tiered,
    pool: Arc<Semaphore>,
}

/// The maps being served, swapped atomically on reload.
pub struct Registry {
    current: ArcSwap<Maps>,
    shared: Shared,
    /// The process's own options (re-resolved against the file at each reload).
    args: ServeArgs,
    /// The process-wide options in force (from the start).
    server: ServeArgs,
    server_section: ServerSection,
    /// The top-level paths map ids must not take (besides `config::RESERVED_IDS`).
    reserved: Vec<String>,
    /// One reload at a time (SIGHUP and a file change can come together).
    reloading: tokio::sync::Mutex<()>,
}

impl Registry {
    /// Resolves the config (or the single map of the command line), builds what the maps share
    /// and every map; fails on anything wrong, before serving anything.
    pub async fn start(args: &ServeArgs) -> anyhow::Result<Arc<Registry>> {
        let reserved = crate::routes::multi::reserved();
        let plan = config::load(args, &reserved)?;
        if let Some(f) = &plan.file {
            tracing::info!(config = %f.display(), maps = plan.maps.len(), sources = plan.sources.len(), "config read");
        }
        let (shared, registry_start) = Shared::build(&plan.server).await?;
        let maps = build(&plan, &shared).await?;
        log_loaded(&maps, &plan, "maps ready");
        let registry = Arc::new(Registry {
            current: ArcSwap::from_pointee(maps),
            shared,
            args: args.clone(),
            server: plan.server.clone(),
            server_section: plan.server_section.clone(),
            reserved,
            reloading: tokio::sync::Mutex::new(()),
        });
        if let Some((renderers, tag)) = registry_start {
            let weak = Arc::downgrade(&registry);
            crate::engine::registry::spawn_watcher(
                renderers,
                Duration::from_millis(plan.server.renderer_poll_ms.max(50)),
                tag,
                move |r| {
                    if let Some(reg) = weak.upgrade() {
                        reg.set_renderer(r);
                    }
                },
            );
        }
        Ok(registry)
    }

    /// The maps now (a request keeps this `Arc` until it ends, whatever reloads meanwhile).
    pub fn current(&self) -> Arc<Maps> {
        self.current.load_full()
    }

    /// The process-wide options in force (`listen`, connection limits).
    pub fn server_args(&self) -> &ServeArgs {
        &self.server
    }

    /// Swaps the renderer in every map, now and in the loads to come.
    fn set_renderer(&self, r: Arc<dyn Renderer>) {
        self.shared.renderer.store(Arc::new(Arc::clone(&r)));
        for m in &self.current().maps {
            m.service.set_renderer(Arc::clone(&r));
        }
    }

    /// Reads the config file again and, if the whole of it is good, serves it; if not, keeps
    /// serving what it served and says why in one line.
    pub async fn reload(&self, why: &str) -> Result<(), MapsError> {
        let _one = self.reloading.lock().await;
        match self.load().await {
            Ok((maps, plan)) => {
                // A renderer swapped while this load was being built: make sure it serves.
                let r: Arc<dyn Renderer> = Arc::clone(&self.shared.renderer.load());
                for m in &maps.maps {
                    if m.service.renderer().version() != r.version() {
                        m.service.set_renderer(Arc::clone(&r));
                    }
                }
                log_loaded(&maps, &plan, &format!("config reloaded ({why})"));
                self.current.store(Arc::new(maps));
                Ok(())
            }
            Err(e) => {
                tracing::error!(
                    trigger = why,
                    "config reload refused, still serving the previous config: {}",
                    config::one_line(&e.to_string())
                );
                Err(e)
            }
        }
    }
}

impl Registry {
    /// The config file read, resolved and built again, with the shared parts of the start.
    async fn load(&self) -> Result<(Maps, Plan), MapsError> {
        let plan = config::load(&self.args, &self.reserved)?;
        if plan.server_section != self.server_section {
            tracing::warn!(
                "the config's [server] table changed: its settings (listen, cache, render pool, registry...) take effect at the next restart"
            );
        }
        let maps = build(&plan, &self.shared).await?;
        Ok((maps, plan))
    }
}

fn log_loaded(maps: &Maps, plan: &Plan, what: &str) {
    let ids: Vec<&str> = maps.maps.iter().map(|m| m.id.as_str()).collect();
    tracing::info!(
        maps = %ids.join(","),
        default = %maps.default_map().id,
        config = %plan.file.as_ref().map(|f| f.display().to_string()).unwrap_or_else(|| "-".into()),
        "{what}"
    );
}

impl Shared {
    /// The renderer (and its registry), the upstream memory budget, the cache tiers and the
    /// render pool: once per process.
    #[allow(clippy::type_complexity)]
    async fn build(
        args: &ServeArgs,
    ) -> anyhow::Result<(
        Shared,
        Option<(
            Arc<crate::engine::registry::Registry>,
            Option<crate::engine::registry::PointerTag>,
        )>,
    )> {
        // With a registry, its active version is the renderer, and a watcher swaps in whatever
        // is activated later. A registry that cannot be read (or whose active version fails to
        // load) leaves the built-in renderer serving, with the reason logged. The built-in one is
        // loaded only then: a cold start on a registry version pays for one renderer, not two.
        let mut renderer: Option<Arc<dyn Renderer>> = None;
        let mut registry_start = None;
        let mut registry = None;
        if let Some(spec) = args.renderers.as_deref().filter(|s| !s.trim().is_empty()) {
            let reg = Arc::new(crate::renderer_cmd::open_registry_for(spec, &args.engine)?);
            let mut tag = None;
            match reg.active().await {
                Ok(Some((version, t))) => match reg.load(&version).await {
                    Ok(r) => {
                        renderer = Some(r);
                        tag = Some(t);
                    }
                    Err(e) => {
                        tracing::error!(registry = %spec, version = %version, error = %e, "active renderer failed to load; serving the built-in one")
                    }
                },
                Ok(None) => {
                    tracing::warn!(registry = %spec, "the registry has no active renderer yet; serving the built-in one")
                }
                Err(e) => {
                    tracing::error!(registry = %spec, error = %e, "cannot read the renderer registry; serving the built-in renderer")
                }
            }
            registry = Some(Arc::clone(&reg));
            registry_start = Some((reg, tag));
        }
        crate::fonts::install(args.engine.fonts.as_deref())?;
        let renderer = match renderer {
            Some(r) => r,
            None => crate::build_renderer(&args.engine)?,
        };
        tracing::info!(version = renderer.version(), engine = ?args.engine.engine, "renderer ready");
        crate::net::set_body_budget(args.upstream_memory_mb.max(1).saturating_mul(1 << 20));
        let cache_spec = crate::serve::cache_spec(args);
        let cache = Tiered::open(&cache_spec, &cache_options(args)).await?;
        tracing::info!(cache = %cache.describe(), spec = %cache_spec, "cache open");
        let workers = crate::serve::service_config(args).render_workers;
        Ok((
            Shared {
                renderer: ArcSwap::from_pointee(renderer),
                registry,
                cache,
                pool: Arc::new(Semaphore::new(workers.max(1))),
            },
            registry_start,
        ))
    }
}

fn cache_options(args: &ServeArgs) -> CacheOptions {
    CacheOptions {
        memory_bytes: args.memory_cache_mb.saturating_mul(1 << 20),
        fs_max_bytes: (args.fs_cache_mb as u64).saturating_mul(1 << 20),
        cache_control: args.cache_control.clone(),
        acl: args.cache_acl.clone(),
    }
}

/// Builds every map of a plan: sources first (each once), then each map's styles and service.
async fn build(plan: &Plan, shared: &Shared) -> Result<Maps, MapsError> {
    let renderer: Arc<dyn Renderer> = Arc::clone(&shared.renderer.load());
    let mut sources: Vec<Arc<dyn TileSource>> = Vec::new();
    for sp in &plan.sources {
        let net = crate::serve::net_options(&sp.args);
        let opened = source::open(sp.spec.as_deref(), &net)
            .await
            .map_err(|e| MapsError::Source(sp.name.clone(), e.to_string()))?;
        let info = opened.info();
        tracing::info!(
            source = %sp.name, name = %info.name, id = opened.id(), minzoom = info.minzoom, maxzoom = info.maxzoom,
            bounds = ?info.bounds, "source open"
        );
        sources.push(Arc::from(opened));
    }
    let mut maps = Vec::new();
    for mp in &plan.maps {
        let sp = &plan.sources[mp.source];
        let map = build_map(mp, sp, &sources[mp.source], shared, &renderer).await?;
        maps.push(Arc::new(map));
    }
    Ok(Maps {
        maps,
        default: plan.default,
        loaded_at: SystemTime::now(),
    })
}

async fn build_map(
    mp: &config::MapPlan,
    sp: &config::SourcePlan,
    source: &Arc<dyn TileSource>,
    shared: &Shared,
    renderer: &Arc<dyn Renderer>,
) -> Result<Map, MapsError> {
    let id = mp.id.as_str();
    let fail = |e: String| MapsError::Style(id.to_string(), config::one_line(&e));
    let args = &mp.args;
    let info = source.info();
    let style_name = match args
        .style
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(s) => s.to_string(),
        None => {
            // No style named: the built-in one for the source's schema, said in the log.
            let choice = crate::schema::choose(info.vector_layers.as_deref(), "source");
            let schema = choice.schema.map(crate::schema::Schema::name);
            if choice.fits {
                tracing::info!(map = id, style = choice.style, schema, "{}", choice.message);
            } else {
                tracing::warn!(map = id, style = choice.style, schema, "{}", choice.message);
            }
            choice.style.to_string()
        }
    };
    let source_label = sp.label.clone();

    let mut assets = HashMap::new();
    let mut named = HashMap::new();
    // The map's style, then its named ones (`?style=NAME`): each loaded, checked against the
    // source and its warnings logged, once per load.
    let (default_spec, at) = crate::load_style(&style_name)
        .await
        .map_err(|e| fail(format!("{e:#}")))?;
    let report = crate::style_cmd::check(
        &**renderer,
        &style_name,
        &default_spec,
        at.as_ref(),
        Some((source_label.as_str(), info)),
    )
    .await
    .map_err(|e| fail(format!("{e:#}")))?;
    log_report(id, &style_name, &default_spec, &report, sp);
    assets.insert("default".to_string(), Arc::new(report.assets.clone()));
    let mut named_reports = Vec::new();
    for item in args.named_styles.iter().filter(|s| !s.trim().is_empty()) {
        let Some((name, file)) = item.split_once('=') else {
            return Err(fail(format!("named style {item:?} is not NAME=STYLE")));
        };
        let name = name.trim().to_string();
        let (spec, at) = crate::load_style(file.trim())
            .await
            .map_err(|e| fail(format!("style {name}: {e:#}")))?;
        let r = crate::style_cmd::check(
            &**renderer,
            file.trim(),
            &spec,
            at.as_ref(),
            Some((source_label.as_str(), info)),
        )
        .await
        .map_err(|e| fail(format!("{e:#}")))?;
        log_report(id, file.trim(), &spec, &r, sp);
        assets.insert(name.clone(), Arc::new(r.assets.clone()));
        named_reports.push((name.clone(), r.to_json(file.trim())));
        named.insert(name, spec);
    }
    let styles = Styles {
        default: default_spec,
        named,
        assets,
    };
    let service = Service::new(
        Arc::clone(source),
        shared.cache.clone(),
        Arc::clone(renderer),
        styles,
        crate::serve::service_config(args),
    )
    .with_pool(Arc::clone(&shared.pool));
    let service = Arc::new(service);
    if let Some(reg) = &shared.registry {
        service.set_registry(Arc::clone(reg));
    }
    // Every style's hash now rather than on the first request (a style the renderer refuses
    // refuses the whole load).
    let mut names: Vec<(String, StyleSpec)> =
        vec![("default".into(), service.styles.default.clone())];
    names.extend(
        service
            .styles
            .named
            .iter()
            .map(|(n, s)| (n.clone(), s.clone())),
    );
    for (name, spec) in names {
        let hash = service
            .style_hash(renderer, &name, &spec)
            .await
            .map_err(|e| fail(format!("style {name}: {e}")))?;
        tracing::info!(map = id, style = %name, hash = %hash, "style ready");
    }

    let mut report_doc = report.to_json(&style_name);
    report_doc["map"] = serde_json::Value::String(id.to_string());
    report_doc["source_name"] = serde_json::Value::String(sp.name.clone());
    report_doc["named_styles"] = serde_json::Value::Object(named_reports.into_iter().collect());
    let summary = serde_json::json!({
        "style": style_name,
        "hash": report.info.hash,
        "layers": report.info.layers.len(),
        "drawn": report.count("drawn"),
        "approximated": report.count("approximated"),
        "ignored": report.count("ignored"),
        "hidden": report.count("hidden"),
        "warnings": report.warnings.len(),
        "errors": report.errors.len(),
        "missing_source_layers": report.missing_layers,
    });
    let map_info = |prefix: String| MapInfo {
        prefix,
        name: mp.name.clone(),
        attribution: mp.attribution.clone(),
    };
    let state_at = |prefix: String| {
        Arc::new(AppState {
            service: Arc::clone(&service),
            public_url: args.public_url.clone(),
            map: map_info(prefix),
        })
    };
    let state = state_at(String::new());
    let prefixed = crate::routes::router(state_at(format!("/{id}")));
    let unprefixed = crate::routes::router(Arc::clone(&state));
    Ok(Map {
        id: id.to_string(),
        // As TileJSON names it: the map's name, else the source's.
        name: mp.name.clone().unwrap_or_else(|| info.name.clone()),
        source_name: sp.name.clone(),
        formats: mp.formats.clone(),
        attribution: mp.attribution.clone().or_else(|| info.attribution.clone()),
        service,
        prefixed,
        unprefixed,
        state,
        report: report_doc,
        summary,
    })
}

/// Logs what the style check found, once per load: the renderer's warnings and the sprites'
/// as warnings; the layers the source lacks as a warning (a note for the built-in styles,
/// which cover several schemas on purpose, when most of their layers are there).
fn log_report(
    map: &str,
    style: &str,
    spec: &StyleSpec,
    report: &crate::style_cmd::StyleCheck,
    sp: &config::SourcePlan,
) {
    let source = sp.name.as_str();
    for w in &report.warnings {
        if w.contains(crate::style_cmd::NO_VECTOR_LAYERS)
            || w.contains(crate::style_cmd::BUILTIN_SCHEMAS)
        {
            tracing::info!(map, style, source, "{w}");
        } else {
            tracing::warn!(map, style, source, "{w}");
        }
    }
    let check = match &sp.spec {
        Some(src) => format!("rasterzen style check {style} --source {src}"),
        None => format!("rasterzen style check {style}"),
    };
    for e in &report.errors {
        let advice = format!("{e} (see /{map}/style-report.json, or run: {check})");
        let builtin = matches!(spec, StyleSpec::Builtin(_));
        let mostly_there = report.missing_layers.len() * 2 <= report.info.source_layers.len();
        if builtin && !report.missing_layers.is_empty() && mostly_there {
            tracing::info!(map, style, source, "{advice}");
        } else {
            tracing::warn!(map, style, source, "{advice}");
        }
    }
    tracing::info!(
        map,
        style,
        hash = %report.info.hash,
        layers = report.info.layers.len(),
        ignored = report.count("ignored"),
        sprites = report.assets.sprites.len(),
        "style checked (the layer-by-layer report: /{map}/style-report.json)"
    );
}

/// Reloads on SIGHUP and when the config file's modification time or length changes
/// (checked every `every`).
pub fn spawn_reloader(registry: Arc<Registry>, every: Duration) {
    let Some(path) = registry.args.config.clone() else {
        return;
    };
    let stamp = |p: &std::path::Path| {
        std::fs::metadata(p)
            .ok()
            .map(|m| (m.modified().ok(), m.len()))
    };
    tokio::spawn(async move {
        let mut hup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGHUP: the config reloads on file changes only");
                None
            }
        };
        let mut last = stamp(&path);
        loop {
            let why = tokio::select! {
                Some(()) = async {
                    match hup.as_mut() {
                        Some(h) => h.recv().await,
                        None => std::future::pending().await,
                    }
                } => "SIGHUP",
                () = tokio::time::sleep(every) => {
                    let now = stamp(&path);
                    if now == last {
                        continue;
                    }
                    // A file written in place (truncated, then filled) is read only once it
                    // has held still for a moment, so a half-written config is not refused.
                    tokio::time::sleep(every.min(Duration::from_millis(100))).await;
                    if stamp(&path) != now {
                        continue;
                    }
                    "file changed"
                }
            };
            // Stamped before reading: a write that lands during the reload is seen next time.
            last = stamp(&path);
            let _ = registry.reload(why).await;
        }
    });
}
