//! `rasterzen serve` and `rasterzen cache purge`: wiring options into the service.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};

use crate::assets::{AssetLoader, Location};
use crate::cache::{CacheOptions, Tiered};
use crate::cli::{PurgeArgs, ServeArgs};
use crate::engine::StyleSpec;
use crate::routes::{self, AppState};
use crate::service::{Service, ServiceConfig, Styles};
use crate::source::{self, NetOptions};

/// The cache when `--cache` is not given: memory in front of the default directory.
fn default_cache_spec() -> String {
    format!("memory,fs:{}", crate::cache::default_fs_dir().display())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("rasterzen")
        .build()
        .context("cannot start the async runtime")
}

pub fn cmd_serve(args: ServeArgs) -> anyhow::Result<()> {
    crate::logging::init(&args.log);
    runtime()?.block_on(async move {
        let (_state, app) = build_app(&args).await?;
        let app = app.layer(crate::routes::compression());
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let addr = listener.local_addr()?;
        let limits = crate::listener::ConnLimits {
            max_connections: crate::listener::fitting_connection_cap(args.max_connections),
            header_timeout: Duration::from_millis(args.header_timeout_ms.max(1)),
            idle_timeout: Duration::from_millis(args.idle_timeout_ms.max(1)),
            write_timeout: Duration::from_millis(args.write_timeout_ms.max(1)),
        };
        tracing::info!(address = %addr, max_connections = limits.max_connections, "listening on http://{addr}/");
        crate::listener::serve(listener, app, limits, shutdown())
            .await
            .context("server failed")?;
        tracing::info!("stopped");
        Ok(())
    })
}

/// Builds the service (renderer, styles, source, cache) and its router from the options, once
/// per process: `serve` listens with it, the Lambda function (`crate::lambda`) answers events with it.
pub async fn build_app(args: &ServeArgs) -> anyhow::Result<(Arc<AppState>, axum::Router)> {
    let mut renderer = crate::build_renderer(&args.engine)?;
    // With a registry, its active version replaces the built-in renderer, and a watcher swaps
    // in whatever is activated later. A registry that cannot be read (or whose active version
    // fails to load) leaves the built-in renderer serving, with the reason logged.
    let mut registry_start = None;
    if let Some(spec) = args.renderers.as_deref().filter(|s| !s.trim().is_empty()) {
        let registry = Arc::new(crate::renderer_cmd::open_registry_for(spec, &args.engine)?);
        let mut tag = None;
        match registry.active().await {
            Ok(Some((version, t))) => match registry.load(&version).await {
                Ok(r) => {
                    renderer = r;
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
        registry_start = Some((registry, tag));
    }
    tracing::info!(version = renderer.version(), engine = ?args.engine.engine, "renderer ready");
    let (default_style, default_at) =
        crate::load_style(args.style.as_deref().unwrap_or("")).await?;
    let mut assets = HashMap::new();
    let mut reads: Vec<(String, Vec<String>)> = Vec::new();
    let (a, layers) =
        prepare_style(&*renderer, "default", &default_style, default_at.as_ref()).await?;
    assets.insert("default".to_string(), a);
    reads.push(("default".to_string(), layers));
    let mut named = HashMap::new();
    for item in args.named_styles.iter().filter(|s| !s.trim().is_empty()) {
        let Some((name, file)) = item.split_once('=') else {
            bail!("--named-style {item:?} is not NAME=FILE")
        };
        let name = name.trim().to_string();
        let (spec, at) = crate::load_style(file.trim()).await?;
        let (a, layers) = prepare_style(&*renderer, &name, &spec, at.as_ref()).await?;
        assets.insert(name.clone(), a);
        reads.push((name.clone(), layers));
        named.insert(name, spec);
    }
    let styles = Styles {
        default: default_style,
        named,
        assets,
    };
    crate::net::set_body_budget(args.upstream_memory_mb.max(1).saturating_mul(1 << 20));
    let net = NetOptions {
        timeout: Duration::from_millis(args.upstream_timeout_ms.max(1)),
        retries: args.upstream_retries,
        api_key: args.api_key.clone().filter(|k| !k.is_empty()),
        minzoom: args.source_minzoom,
        maxzoom: args.source_maxzoom,
    };
    let workers = args
        .render_workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);
    let config = ServiceConfig {
        tile_size: args.tile_size,
        cache_control: args.cache_control.clone(),
        overzoom: args.overzoom,
        render_workers: workers,
        render_queue: args.render_queue,
        png: args.png.into(),
        outside: args.outside.into(),
        format: args.format.into(),
    };
    let cache_spec = args
        .cache
        .clone()
        .filter(|c| !c.trim().is_empty())
        .unwrap_or_else(default_cache_spec);
    let cache_opts = CacheOptions {
        memory_bytes: args.memory_cache_mb.saturating_mul(1 << 20),
        fs_max_bytes: (args.fs_cache_mb as u64).saturating_mul(1 << 20),
        cache_control: args.cache_control.clone(),
        acl: args.cache_acl.clone(),
    };

    let source = source::open(args.source.as_deref(), &net).await?;
    let cache = Tiered::open(&cache_spec, &cache_opts).await?;
    let info = source.info().clone();
    // A style for another schema draws nothing: say so now, not with blank tiles later.
    let styles_for_check = (styles.default.clone(), styles.named.clone());
    if let Some(have) = &info.vector_layers {
        for (style, layers) in &reads {
            let missing: Vec<&String> = layers.iter().filter(|l| !have.contains(l)).collect();
            if missing.is_empty() {
                continue;
            }
            let text = format!(
                "the source has no layer {} (it has {}): those style layers draw nothing; is the style for this source's schema? (rasterzen style check STYLE --source SRC)",
                missing.iter().map(|m| format!("{m:?}")).collect::<Vec<_>>().join(", "),
                have.join(", ")
            );
            // The built-in styles cover several schemas on purpose: only a note for them.
            let builtin = matches!(
                if style == "default" {
                    &styles_for_check.0
                } else {
                    styles_for_check.1.get(style).unwrap_or(&styles_for_check.0)
                },
                StyleSpec::Builtin(_)
            );
            if builtin && missing.len() * 2 <= layers.len() {
                tracing::info!(style = %style, source = %info.name, "{text}");
            } else {
                tracing::warn!(style = %style, source = %info.name, "{text}");
            }
        }
    }
    tracing::info!(
        source = %info.name, id = source.id(), minzoom = info.minzoom, maxzoom = info.maxzoom,
        bounds = ?info.bounds, cache = %cache.describe(), spec = %cache_spec, "source open"
    );
    let service = Arc::new(Service::new(
        Arc::from(source),
        cache,
        renderer,
        styles,
        config,
    ));
    // Check every configured style now rather than on the first request.
    let r = service.renderer();
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
            .style_hash(&r, &name, &spec)
            .await
            .map_err(|e| anyhow::anyhow!("style {name}: {e}"))?;
        tracing::info!(style = %name, hash = %hash, "style ready");
    }
    if let Some((registry, tag)) = registry_start {
        service.set_registry(Arc::clone(&registry));
        let swap_target = Arc::clone(&service);
        crate::engine::registry::spawn_watcher(
            registry,
            Duration::from_millis(args.renderer_poll_ms.max(50)),
            tag,
            move |r| swap_target.set_renderer(r),
        );
    }
    let state = Arc::new(AppState {
        service,
        public_url: args.public_url.clone(),
    });
    let app = routes::router(Arc::clone(&state));
    Ok((state, app))
}

/// Checks a style with the renderer, logs what it says about it (each warning once: unknown
/// properties, skipped layers...), and fetches its sprites (relative to `location`).
pub async fn prepare_style(
    renderer: &dyn crate::engine::Renderer,
    name: &str,
    spec: &StyleSpec,
    location: Option<&Location>,
) -> anyhow::Result<(Arc<crate::engine::Assets>, Vec<String>)> {
    let info = renderer
        .style_info(spec)
        .map_err(|e| anyhow::anyhow!("style {name}: {e}"))?;
    for w in &info.warnings {
        tracing::warn!(style = name, "{w}");
    }
    let mut warnings = Vec::new();
    let assets = AssetLoader::shared()
        .sprites(location, &info.sprites, &mut warnings)
        .await;
    for w in &warnings {
        tracing::warn!(style = name, "{w}");
    }
    let ignored: Vec<&str> = info
        .layers
        .iter()
        .filter(|l| l.status == "ignored")
        .map(|l| l.id.as_str())
        .collect();
    tracing::info!(
        style = name,
        hash = %info.hash,
        layers = info.layers.len(),
        ignored = ignored.len(),
        sprites = assets.sprites.len(),
        "style checked (run `rasterzen style check` for the layer-by-layer report)"
    );
    Ok((Arc::new(assets), info.source_layers))
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

pub fn cmd_purge(args: PurgeArgs) -> anyhow::Result<()> {
    crate::logging::init(&args.log);
    let prefix = match (&args.prefix, args.all) {
        (Some(p), false) if !p.is_empty() => p.clone(),
        (None, true) => String::new(),
        _ => bail!("give a key prefix to purge (e.g. SOURCE/RENDERER/), or --all"),
    };
    let spec = args
        .cache
        .clone()
        .filter(|c| !c.trim().is_empty())
        .unwrap_or_else(default_cache_spec);
    let opts = CacheOptions {
        memory_bytes: 0,
        fs_max_bytes: 0,
        cache_control: String::new(),
        acl: None,
    };
    runtime()?.block_on(async move {
        let cache = Tiered::open(&spec, &opts).await?;
        if cache.is_empty() {
            bail!("cache {spec:?} has no tiers to purge");
        }
        let n = cache.purge(&prefix).await?;
        println!(
            "removed {n} cached tile(s) under {:?} from {}",
            prefix,
            cache.describe()
        );
        Ok(())
    })
}
