//! The renderer component in a wasmtime sandbox.
//!
//! One [`wasmtime::Engine`] per process; the component is compiled once (or deserialized from a
//! precompiled artifact on disk, keyed by the component's sha256 and the engine's settings) and
//! pre-instantiated once ([`RendererPre`]). Every render gets a fresh [`Store`] with a memory
//! limit and an epoch deadline, so a hostile tile or a broken renderer that loops or allocates
//! without end is stopped and reported while the host lives on.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};

use super::{EngineError, RenderRequest, Renderer, StyleSpec};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "renderer",
    });
}

use bindings::exports::rasterzen::renderer::render as wit;
use bindings::RendererPre;

/// How often the epoch ticks; deadlines are counted in these.
const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Limits for one render.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Linear memory the renderer may grow to, in bytes.
    pub memory_bytes: usize,
    /// Wall-clock budget for one call.
    pub deadline: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 512 << 20,
            deadline: Duration::from_secs(10),
        }
    }
}

/// Per-store state: the memory limiter and whether it refused a growth.
struct State {
    limiter: MemoryLimiter,
    #[allow(dead_code)]
    table: ResourceTable,
}

struct MemoryLimiter {
    max_bytes: usize,
    hit: bool,
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.hit = true;
            // An error (not `Ok(false)`) traps at once with a readable reason instead of letting
            // the guest's allocator turn the failure into an opaque `unreachable`.
            return Err(wasmtime::Error::msg(format!(
                "renderer exceeded its memory limit of {} MiB",
                self.max_bytes >> 20
            )));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// The process-wide engine, with a background thread ticking its epoch.
pub fn shared_engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        config.cranelift_opt_level(wasmtime::OptLevel::Speed);
        let engine = Engine::new(&config).expect("wasmtime configuration is valid");
        let ticker = engine.weak();
        std::thread::Builder::new()
            .name("rasterzen-epoch".into())
            .spawn(move || {
                while let Some(engine) = ticker.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })
            .expect("spawn epoch thread");
        engine
    })
}

/// A loaded renderer component, ready to instantiate per call.
pub struct WasmRenderer {
    engine: Engine,
    pre: RendererPre<State>,
    version: String,
    sha256: String,
    limits: Limits,
}

impl std::fmt::Debug for WasmRenderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmRenderer")
            .field("version", &self.version)
            .field("sha256", &self.sha256)
            .finish()
    }
}

/// Where precompiled artifacts live: `$RASTERZEN_COMPILED_CACHE`, else `~/.cache/rasterzen/compiled`,
/// else the temp dir (which is `/tmp` on Lambda, its only writable place).
pub fn default_compiled_cache() -> PathBuf {
    if let Some(dir) = std::env::var_os("RASTERZEN_COMPILED_CACHE") {
        return PathBuf::from(dir);
    }
    match std::env::var_os("HOME") {
        Some(home) if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() => {
            PathBuf::from(home).join(".cache/rasterzen/compiled")
        }
        _ => std::env::temp_dir().join("rasterzen-compiled"),
    }
}

/// How a component was made ready, for logs and the cold-start figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadPath {
    Compiled,
    Deserialized,
}

impl WasmRenderer {
    /// Loads a component from its bytes: deserializes a cached precompiled artifact if one
    /// matches, else compiles it with Cranelift and stores the artifact (best effort).
    pub fn load(
        bytes: &[u8],
        cache_dir: Option<&Path>,
        limits: Limits,
    ) -> Result<(WasmRenderer, LoadPath), EngineError> {
        let engine = shared_engine().clone();
        let sha256 = hex(&Sha256::digest(bytes));
        let (component, path) = load_component(&engine, bytes, &sha256, cache_dir)?;
        check_contract(&engine, &component)?;
        let mut linker: Linker<State> = Linker::new(&engine);
        linker.allow_shadowing(false);
        let pre = linker.instantiate_pre(&component).map_err(|e| {
            EngineError::Unavailable(format!(
                "component does not fit this host (it must import nothing): {e:#}"
            ))
        })?;
        let pre = RendererPre::new(pre).map_err(|e| {
            EngineError::Unavailable(format!(
                "component does not export rasterzen:renderer/render@{} : {e:#}",
                rasterzen_render::INTERFACE_VERSION
            ))
        })?;
        let mut renderer = WasmRenderer {
            engine,
            pre,
            version: String::new(),
            sha256,
            limits,
        };
        renderer.version = renderer.call(|r, store| r.call_version(store))?;
        Ok((renderer, path))
    }

    /// Loads a component file.
    pub fn load_file(
        path: &Path,
        cache_dir: Option<&Path>,
        limits: Limits,
    ) -> Result<(WasmRenderer, LoadPath), EngineError> {
        let bytes = std::fs::read(path).map_err(|e| {
            EngineError::Unavailable(format!("cannot read renderer {}: {e}", path.display()))
        })?;
        Self::load(&bytes, cache_dir, limits)
    }

    /// The component's sha256 (hex).
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// Instantiates the component in a fresh, limited store and runs `f` on its exports.
    fn call<T>(
        &self,
        f: impl FnOnce(&wit::Guest, &mut Store<State>) -> wasmtime::Result<T>,
    ) -> Result<T, EngineError> {
        let mut store = Store::new(
            &self.engine,
            State {
                limiter: MemoryLimiter {
                    max_bytes: self.limits.memory_bytes,
                    hit: false,
                },
                table: ResourceTable::new(),
            },
        );
        store.limiter(|s| &mut s.limiter);
        let ticks = (self.limits.deadline.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64;
        store.set_epoch_deadline(ticks);
        let started = Instant::now();
        let result = self
            .pre
            .instantiate(&mut store)
            .and_then(|instance| f(instance.rasterzen_renderer_render(), &mut store));
        result.map_err(|e| {
            if store.data().limiter.hit {
                EngineError::Failed(format!(
                    "renderer exceeded its memory limit of {} MiB",
                    self.limits.memory_bytes >> 20
                ))
            } else if matches!(
                e.downcast_ref::<wasmtime::Trap>(),
                Some(wasmtime::Trap::Interrupt)
            ) {
                EngineError::Failed(format!(
                    "renderer exceeded its deadline of {} ms (stopped after {} ms)",
                    self.limits.deadline.as_millis(),
                    started.elapsed().as_millis()
                ))
            } else {
                EngineError::Failed(format!("renderer trapped: {}", one_line(&format!("{e:#}"))))
            }
        })
    }
}

/// The sandbox and interface promises, checked before anything runs: the component imports
/// nothing, and exports this host's `rasterzen:renderer/render` interface. A component built
/// for another interface version is named as such.
fn check_contract(engine: &Engine, component: &Component) -> Result<(), EngineError> {
    let ty = component.component_type();
    let imports: Vec<String> = ty
        .imports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    if !imports.is_empty() {
        return Err(EngineError::Unavailable(format!(
            "the component imports {}: a renderer must import nothing",
            imports.join(", ")
        )));
    }
    let ours = format!(
        "rasterzen:renderer/render@{}",
        rasterzen_render::INTERFACE_VERSION
    );
    let exports: Vec<String> = ty
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    if exports.contains(&ours) {
        return Ok(());
    }
    Err(EngineError::Unavailable(
        match exports
            .iter()
            .find(|e| e.starts_with("rasterzen:renderer/render@"))
        {
            Some(theirs) => {
                format!("the component was built for interface {theirs}; this host speaks {ours}")
            }
            None => format!(
                "the component does not export {ours}: not a Rasterzen renderer (exports: {})",
                exports.join(", ")
            ),
        },
    ))
}

fn load_component(
    engine: &Engine,
    bytes: &[u8],
    sha256: &str,
    cache_dir: Option<&Path>,
) -> Result<(Component, LoadPath), EngineError> {
    let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
    std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut engine_hash);
    let artifact = cache_dir.map(|dir| {
        dir.join(format!(
            "{}-{:016x}.cwasm",
            &sha256[..32],
            std::hash::Hasher::finish(&engine_hash)
        ))
    });
    if let Some(path) = artifact.as_deref().filter(|p| p.is_file()) {
        // SAFETY: the artifact was written by `Engine::precompile_component` in this function, in
        // a directory we own, under a name keyed by the source's sha256 and the engine's
        // compatibility hash; wasmtime additionally checks the engine settings on load.
        #[allow(unsafe_code)]
        let loaded = unsafe { Component::deserialize_file(engine, path) };
        if let Ok(component) = loaded {
            return Ok((component, LoadPath::Deserialized));
        }
    }
    let compiled = engine.precompile_component(bytes).map_err(|e| {
        EngineError::Unavailable(format!(
            "not a valid renderer component: {}",
            one_line(&format!("{e:#}"))
        ))
    })?;
    // SAFETY: `compiled` was produced just above by this very engine.
    #[allow(unsafe_code)]
    let component = unsafe { Component::deserialize(engine, &compiled) }
        .map_err(|e| EngineError::Unavailable(format!("cannot load compiled renderer: {e:#}")))?;
    if let Some(path) = artifact {
        // Best effort: a read-only disk only costs the next cold start a compile.
        let _ = std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")));
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        if std::fs::write(&tmp, &compiled).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
    }
    Ok((component, LoadPath::Compiled))
}

impl Renderer for WasmRenderer {
    fn version(&self) -> &str {
        &self.version
    }

    fn render(&self, data: &[u8], r: &RenderRequest) -> Result<Vec<u8>, EngineError> {
        let options = wit::RenderOptions {
            format: match r.format {
                rasterzen_render::Format::Png => wit::Format::Png,
                rasterzen_render::Format::Svg => wit::Format::Svg,
                rasterzen_render::Format::Geojson => wit::Format::Geojson,
            },
            size: r.size,
            scale: r.scale,
            style: style_source(&r.style),
            data_tile: r.data_tile.map(tile_id),
        };
        self.call(|g, store| g.call_render(store, data, tile_id(r.tile), &options))?
            .map_err(|e| EngineError::Rejected(render_error(e)))
    }

    fn style_hash(&self, style: &StyleSpec) -> Result<String, EngineError> {
        self.call(|g, store| g.call_style_hash(store, &style_source(style)))?
            .map_err(|e| EngineError::Rejected(render_error(e)))
    }
}

fn style_source(s: &StyleSpec) -> wit::StyleSource {
    match s {
        StyleSpec::Builtin(n) => wit::StyleSource::Builtin(n.clone()),
        StyleSpec::Json(j) => wit::StyleSource::Json(j.clone()),
    }
}

fn tile_id(t: rasterzen_render::TileId) -> wit::TileId {
    wit::TileId {
        z: t.z,
        x: t.x,
        y: t.y,
    }
}

fn render_error(e: wit::RenderError) -> rasterzen_render::RenderError {
    use rasterzen_render::RenderError as R;
    match e {
        wit::RenderError::InvalidTile(m) => R::InvalidTile(m),
        wit::RenderError::InvalidStyle(m) => R::InvalidStyle(m),
        wit::RenderError::InvalidOptions(m) => R::InvalidOptions(m),
        wit::RenderError::LimitExceeded(m) => R::LimitExceeded(m),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The component built into this binary by `build.sh`, if any.
pub fn embedded_component() -> Option<&'static [u8]> {
    #[cfg(embedded_renderer)]
    {
        Some(include_bytes!(env!("RASTERZEN_EMBEDDED_RENDERER")))
    }
    #[cfg(not(embedded_renderer))]
    {
        None
    }
}
