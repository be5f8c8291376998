//! `rasterzen serve` and `rasterzen cache purge`: wiring options into the service.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};

use crate::cache::{CacheOptions, Tiered};
use crate::cli::{PurgeArgs, ServeArgs};
use crate::routes::{self, AppState};
use crate::service::ServiceConfig;
use crate::source::NetOptions;

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
        let maps = crate::maps::Registry::start(&args).await?;
        // `listen` and the connection limits may come from the config file's [server] table.
        let server = maps.server_args().clone();
        let app = routes::multi::router(Arc::clone(&maps)).layer(crate::routes::compression());
        let listener = tokio::net::TcpListener::bind(&server.listen)
            .await
            .with_context(|| format!("cannot listen on {}", server.listen))?;
        let addr = listener.local_addr()?;
        let limits = crate::listener::ConnLimits {
            max_connections: crate::listener::fitting_connection_cap(server.max_connections),
            header_timeout: Duration::from_millis(server.header_timeout_ms.max(1)),
            idle_timeout: Duration::from_millis(server.idle_timeout_ms.max(1)),
            write_timeout: Duration::from_millis(server.write_timeout_ms.max(1)),
        };
        if args.config.is_some() {
            crate::maps::spawn_reloader(
                Arc::clone(&maps),
                Duration::from_millis(args.config_poll_ms.max(100)),
            );
        }
        tracing::info!(address = %addr, max_connections = limits.max_connections, "listening on http://{addr}/");
        crate::listener::serve(listener, app, limits, shutdown())
            .await
            .context("server failed")?;
        tracing::info!("stopped");
        Ok(())
    })
}

/// Builds the maps (renderer, cache, sources, styles: `crate::maps`) and the router over them,
/// once per process: `serve` listens with it, the Lambda function (`crate::lambda`) answers
/// events with it, `seed` renders with the default map's service.
pub async fn build_app(args: &ServeArgs) -> anyhow::Result<(Arc<AppState>, axum::Router)> {
    let maps = crate::maps::Registry::start(args).await?;
    let state = Arc::clone(&maps.current().default_map().state);
    Ok((state, routes::multi::router(maps)))
}

/// The cache tiers `--cache` names (default: memory in front of the default directory).
pub fn cache_spec(args: &ServeArgs) -> String {
    args.cache
        .clone()
        .filter(|c| !c.trim().is_empty())
        .unwrap_or_else(default_cache_spec)
}

/// A map's service settings from its options (each map of a config file has its own).
pub fn service_config(args: &ServeArgs) -> ServiceConfig {
    let workers = args
        .render_workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);
    ServiceConfig {
        tile_size: args.tile_size,
        cache_control: args.cache_control.clone(),
        overzoom: args.overzoom,
        render_workers: workers,
        render_queue: args.render_queue,
        png: args.png.into(),
        partial_cache_control: args.partial_cache_control.clone(),
        source_memory: args.source_memory_mb.saturating_mul(1 << 20),
        neighbours: args.label_neighbours == crate::cli::Switch::On,
        outside: args.outside.into(),
        format: args.format.into(),
    }
}

/// How a source's network reads behave (each source of a config file has its own).
pub fn net_options(args: &ServeArgs) -> NetOptions {
    NetOptions {
        timeout: Duration::from_millis(args.upstream_timeout_ms.max(1)),
        retries: args.upstream_retries,
        api_key: args.api_key.clone().filter(|k| !k.is_empty()),
        minzoom: args.source_minzoom,
        maxzoom: args.source_maxzoom,
    }
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
