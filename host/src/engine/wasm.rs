//! The renderer component in a wasmtime sandbox.
//!
//! One [`wasmtime::Engine`] per process; the component is compiled once (or deserialized from a
//! precompiled artifact on disk, keyed by the component's sha256 and the engine's settings) and
//! pre-instantiated once ([`RendererPre`]). Every call runs in a [`Store`] with a memory limit and
//! an epoch deadline, so a hostile tile or a broken renderer that loops or allocates without end
//! is stopped and reported while the host lives on.
//!
//! Instances are kept in a small pool after a call that succeeded: the renderer keeps its
//! parsed style and decoded sprites in its own memory between calls (its caches are keyed by
//! the bytes it is given, so a pooled instance never answers for another input), and the next
//! render skips instantiation and the style parse. A call that traps, hits a limit, or leaves
//! the instance's memory above a quarter of the limit discards the instance.
//!
//! Components of interfaces 1.1.0 and 1.0.0 are still loaded and run (through bindings of
//! those versions): 1.1 components get no fonts (they have no `fonts-needed`, and ignore the
//! fonts of a request); 1.0 components get no sprites either and report no warnings or style
//! details.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};

use rasterzen_render::PngProfile;

use super::{EngineError, LayerInfo, RenderRequest, Rendered, Renderer, StyleInfo, StyleSpec};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "renderer",
    });
}

/// Bindings of the previous interfaces (`wit-compat/`), for components built for them.
mod bindings_1_1 {
    wasmtime::component::bindgen!({
        path: "wit-compat/renderer-1.1.0.wit",
        world: "renderer",
    });
}

mod bindings_1_0 {
    wasmtime::component::bindgen!({
        path: "wit-compat/renderer-1.0.0.wit",
        world: "renderer",
    });
}

use bindings::exports::rasterzen::renderer::render as wit;
use bindings_1_0::exports::rasterzen::renderer::render as wit10;
use bindings_1_1::exports::rasterzen::renderer::render as wit11;

/// The interface versions this host speaks, newest first.
const INTERFACES: [&str; 3] = ["1.2.0", "1.1.0", "1.0.0"];

/// Pooled instances per renderer (beyond this, finished instances are dropped).
const POOL_SIZE: usize = 16;

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
    /// Linear memory the instance has grown to.
    current_bytes: usize,
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
        self.current_bytes = desired;
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

/// A CPU architecture precompiled artifacts are made for, each with a fixed baseline of
/// instruction-set features instead of everything the compiling CPU has, so an artifact made on
/// one machine (the build machine, a Lambda package) loads on every machine of its kind
/// (wasmtime checks the flags against the host on load, and the file name holds the engine's
/// compatibility hash).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Arch {
    /// x86-64-v2: SSE3, SSSE3, SSE4.1, SSE4.2, POPCNT, CMPXCHG16B. Every x86-64 server CPU
    /// since 2009, AWS Lambda's included. The renderer's SIMD is 128-bit wasm SIMD, which
    /// SSE4.1 covers.
    #[value(name = "x86_64", alias = "amd64")]
    X86_64,
    /// Armv8.1-A's atomics (LSE) on top of the Armv8-A base: AWS Graviton2 (Neoverse N1, Lambda's
    /// arm64) and everything later. NEON, which wasm SIMD lowers to, is part of the base.
    #[value(name = "aarch64", alias = "arm64")]
    Aarch64,
}

impl Arch {
    /// The architecture this host was built for, if it is one of ours.
    pub fn host() -> Option<Arch> {
        if cfg!(target_arch = "x86_64") {
            Some(Arch::X86_64)
        } else if cfg!(target_arch = "aarch64") {
            Some(Arch::Aarch64)
        } else {
            None
        }
    }

    /// The name `--arch` takes and manifests record.
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    fn triple(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-linux-gnu",
            Arch::Aarch64 => "aarch64-unknown-linux-gnu",
        }
    }

    /// Cranelift's names of the baseline's features. x86-64-v3's (AVX, AVX2, BMI1/2, FMA,
    /// LZCNT) were measured on top (2026-12-04, the densest Florence tile alternated six times
    /// each way): no gain (fastest 60.1 against 59.0 ms), so the portable v2 stays.
    /// The renderer uses neither relaxed SIMD nor anything else whose result depends on them.
    fn cranelift_flags(self) -> &'static [&'static str] {
        match self {
            Arch::X86_64 => &[
                "has_sse3",
                "has_ssse3",
                "has_sse41",
                "has_sse42",
                "has_popcnt",
                "has_cmpxchg16b",
            ],
            Arch::Aarch64 => &["has_lse"],
        }
    }

    /// Whether this CPU has the baseline (only asked of the host's own architecture).
    fn host_has_baseline(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            self == Arch::X86_64
                && std::is_x86_feature_detected!("sse3")
                && std::is_x86_feature_detected!("ssse3")
                && std::is_x86_feature_detected!("sse4.1")
                && std::is_x86_feature_detected!("sse4.2")
                && std::is_x86_feature_detected!("popcnt")
                && std::is_x86_feature_detected!("cmpxchg16b")
        }
        #[cfg(target_arch = "aarch64")]
        {
            self == Arch::Aarch64 && std::arch::is_aarch64_feature_detected!("lse")
        }
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        {
            let _ = self;
            false
        }
    }
}

/// The engine settings every host uses, for `arch`'s baseline. For the host's own architecture
/// on a CPU without the baseline the CPU's own features are used (its artifacts then only load
/// on CPUs like it).
fn engine_config(arch: Option<Arch>) -> Result<Config, EngineError> {
    match arch {
        Some(arch) if Arch::host() == Some(arch) && !arch.host_has_baseline() => Ok(base_config()),
        Some(arch) => baseline_config(arch),
        None => Ok(base_config()),
    }
}

/// The settings every engine shares, with the compiling CPU's own instruction set.
fn base_config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.cranelift_opt_level(wasmtime::OptLevel::Speed);
    config
}

/// The settings for `arch`'s portable baseline, whatever this CPU has (an engine made from
/// them on a CPU without the baseline can compile for it, not run what it compiled).
fn baseline_config(arch: Arch) -> Result<Config, EngineError> {
    let mut config = base_config();
    config.target(arch.triple()).map_err(|e| {
        EngineError::Unavailable(format!(
            "cannot compile for {}: {}",
            arch.triple(),
            one_line(&format!("{e:#}"))
        ))
    })?;
    for flag in arch.cranelift_flags() {
        // SAFETY: on the host's own architecture each flag was detected just above; for another
        // architecture the code never runs here, and wasmtime refuses the artifact on a machine
        // that lacks a flag when it is loaded.
        #[allow(unsafe_code)]
        unsafe {
            config.cranelift_flag_enable(flag);
        }
    }
    Ok(config)
}

/// Directories of precompiled artifacts shipped with the deployment (read only): `compiled/`
/// beside the executable (the Lambda package: `build.sh lambda`) and `$RASTERZEN_SHIPPED_COMPILED`.
pub fn shipped_artifact_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = std::env::var_os("RASTERZEN_SHIPPED_COMPILED") {
        dirs.push(PathBuf::from(d));
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        dirs.push(dir.join("compiled"));
    }
    dirs
}

/// The file name of a component's artifact under this engine's settings.
pub fn artifact_name(engine: &Engine, sha256: &str) -> String {
    let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
    std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut engine_hash);
    format!(
        "{}-{:016x}.cwasm",
        &sha256[..32],
        std::hash::Hasher::finish(&engine_hash)
    )
}

/// Precompiles a component for `arch`'s portable baseline (default: this host's, with the
/// process-wide engine); returns (file name, bytes) as a host of that architecture looks it up.
pub fn precompile(bytes: &[u8], arch: Option<Arch>) -> Result<(String, Vec<u8>), EngineError> {
    let cross;
    let engine = match arch {
        // Another architecture, or this one on a CPU without the baseline (whose own engine
        // uses the CPU's features: its artifacts would not load on the baseline's hosts).
        Some(arch) if Arch::host() != Some(arch) || !arch.host_has_baseline() => {
            cross = Engine::new(&baseline_config(arch)?).map_err(|e| {
                EngineError::Unavailable(format!(
                    "cannot compile for {}: {}",
                    arch.triple(),
                    one_line(&format!("{e:#}"))
                ))
            })?;
            &cross
        }
        _ => shared_engine(),
    };
    let sha256 = hex(&Sha256::digest(bytes));
    let compiled = engine.precompile_component(bytes).map_err(|e| {
        EngineError::Unavailable(format!(
            "not a valid renderer component: {}",
            one_line(&format!("{e:#}"))
        ))
    })?;
    Ok((artifact_name(engine, &sha256), compiled))
}

/// The process-wide engine, with a background thread ticking its epoch.
pub fn shared_engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        // A fixed instruction-set baseline instead of everything this CPU has, so a component
        // precompiled on one machine (the build machine, a Lambda package) loads on another.
        let config = engine_config(Arch::host()).expect("the host's own target is built in");
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
    pre: Pre,
    version: String,
    /// `version-` and 8 hex digits of `sha256` ([`Renderer::build_id`]).
    build_id: String,
    sha256: String,
    limits: Limits,
    pool: std::sync::Mutex<Vec<Pooled>>,
}

/// The pre-instantiated component, by the interface version it exports.
enum Pre {
    Current(bindings::RendererPre<State>),
    V1_1(bindings_1_1::RendererPre<State>),
    V1_0(bindings_1_0::RendererPre<State>),
}

enum Instance {
    Current(bindings::Renderer),
    V1_1(bindings_1_1::Renderer),
    V1_0(bindings_1_0::Renderer),
}

struct Pooled {
    store: Store<State>,
    instance: Instance,
}

impl std::fmt::Debug for WasmRenderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmRenderer")
            .field("version", &self.version)
            .field("sha256", &self.sha256)
            .field("interface", &self.interface())
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
        let interface = check_contract(&engine, &component)?;
        let mut linker: Linker<State> = Linker::new(&engine);
        linker.allow_shadowing(false);
        let pre = linker.instantiate_pre(&component).map_err(|e| {
            EngineError::Unavailable(format!(
                "component does not fit this host (it must import nothing): {e:#}"
            ))
        })?;
        let bad = |e: wasmtime::Error| {
            EngineError::Unavailable(format!(
                "component does not export rasterzen:renderer/render@{interface}: {e:#}"
            ))
        };
        let pre = match interface {
            "1.0.0" => Pre::V1_0(bindings_1_0::RendererPre::new(pre).map_err(bad)?),
            "1.1.0" => Pre::V1_1(bindings_1_1::RendererPre::new(pre).map_err(bad)?),
            _ => Pre::Current(bindings::RendererPre::new(pre).map_err(bad)?),
        };
        let mut renderer = WasmRenderer {
            engine,
            pre,
            version: String::new(),
            build_id: String::new(),
            sha256,
            limits,
            pool: std::sync::Mutex::new(Vec::new()),
        };
        renderer.version = renderer.call(|i, store| match i {
            Instance::Current(r) => r.rasterzen_renderer_render().call_version(store),
            Instance::V1_1(r) => r.rasterzen_renderer_render().call_version(store),
            Instance::V1_0(r) => r.rasterzen_renderer_render().call_version(store),
        })?;
        renderer.build_id = build_id(&renderer.version, &renderer.sha256);
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

    /// The interface version the component exports.
    pub fn interface(&self) -> &'static str {
        match self.pre {
            Pre::Current(_) => INTERFACES[0],
            Pre::V1_1(_) => "1.1.0",
            Pre::V1_0(_) => "1.0.0",
        }
    }

    /// Runs `f` on an instance within the limits: a pooled one, or a new one in a fresh store.
    fn call<T>(
        &self,
        f: impl FnOnce(&Instance, &mut Store<State>) -> wasmtime::Result<T>,
    ) -> Result<T, EngineError> {
        let pooled = self.pool.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let (mut store, instance) = match pooled {
            Some(p) => (p.store, Ok(p.instance)),
            None => {
                let mut store = Store::new(
                    &self.engine,
                    State {
                        limiter: MemoryLimiter {
                            max_bytes: self.limits.memory_bytes,
                            hit: false,
                            current_bytes: 0,
                        },
                        table: ResourceTable::new(),
                    },
                );
                store.limiter(|s| &mut s.limiter);
                let instance = match &self.pre {
                    Pre::Current(pre) => pre.instantiate(&mut store).map(Instance::Current),
                    Pre::V1_1(pre) => pre.instantiate(&mut store).map(Instance::V1_1),
                    Pre::V1_0(pre) => pre.instantiate(&mut store).map(Instance::V1_0),
                };
                (store, instance)
            }
        };
        let ticks = (self.limits.deadline.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64;
        store.set_epoch_deadline(ticks);
        store.data_mut().limiter.hit = false;
        let started = Instant::now();
        let result = instance.and_then(|instance| {
            let out = f(&instance, &mut store);
            out.map(|v| (v, instance))
        });
        match result {
            Ok((value, instance)) => {
                // Keep the instance for the next call unless it has grown large.
                if store.data().limiter.current_bytes <= self.limits.memory_bytes / 4 {
                    let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
                    if pool.len() < POOL_SIZE {
                        pool.push(Pooled { store, instance });
                    }
                }
                Ok(value)
            }
            Err(e) => Err(if store.data().limiter.hit {
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
            }),
        }
    }
}

/// The sandbox and interface promises, checked before anything runs: the component imports
/// nothing, and exports this host's `rasterzen:renderer/render` interface. A component built
/// for another interface version is named as such.
fn check_contract(engine: &Engine, component: &Component) -> Result<&'static str, EngineError> {
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
    let exports: Vec<String> = ty
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    for v in INTERFACES {
        if exports.contains(&format!("rasterzen:renderer/render@{v}")) {
            return Ok(v);
        }
    }
    let ours = INTERFACES
        .iter()
        .map(|v| format!("rasterzen:renderer/render@{v}"))
        .collect::<Vec<_>>()
        .join(" or ");
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
    let name = artifact_name(engine, sha256);
    let artifact = cache_dir.map(|dir| dir.join(&name));
    // Shipped artifacts first (a Lambda package's), then the host's own cache.
    let candidates = shipped_artifact_dirs()
        .into_iter()
        .map(|d| d.join(&name))
        .chain(artifact.clone());
    for path in candidates.filter(|p| p.is_file()) {
        // SAFETY: the artifact was written by `Engine::precompile_component` (here, or by
        // `rasterzen renderer precompile` into the deployment), under a name keyed by the
        // source's sha256 and the engine's compatibility hash, in a directory of the operator's;
        // wasmtime additionally checks the engine settings on load.
        #[allow(unsafe_code)]
        let loaded = unsafe { Component::deserialize_file(engine, &path) };
        match loaded {
            Ok(component) => return Ok((component, LoadPath::Deserialized)),
            Err(e) => {
                tracing::warn!(artifact = %path.display(), error = %one_line(&format!("{e:#}")), "precompiled renderer does not load here; compiling instead")
            }
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
        let tmp = unique_tmp(&path);
        if std::fs::write(&tmp, &compiled).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
    }
    Ok((component, LoadPath::Compiled))
}

/// A `render-with` request in the bindings module `$w` (1.2 and 1.1 share the record), with
/// no fonts.
macro_rules! render_request {
    ($w:ident, $data:expr, $r:expr) => {{
        let r: &RenderRequest = $r;
        $w::RenderRequest {
            data: $data.to_vec(),
            tile: $w::TileId {
                z: r.tile.z,
                x: r.tile.x,
                y: r.tile.y,
            },
            options: $w::RenderOptions {
                format: match r.format {
                    rasterzen_render::Format::Png => $w::Format::Png,
                    rasterzen_render::Format::Svg => $w::Format::Svg,
                    rasterzen_render::Format::Geojson => $w::Format::Geojson,
                },
                size: r.size,
                scale: r.scale,
                style: match &r.style {
                    StyleSpec::Builtin(n) => $w::StyleSource::Builtin(n.clone()),
                    StyleSpec::Json(j) => $w::StyleSource::Json(j.clone()),
                },
                data_tile: r.data_tile.map(|t| $w::TileId {
                    z: t.z,
                    x: t.x,
                    y: t.y,
                }),
            },
            png: match r.png {
                PngProfile::Default => $w::PngProfile::Default,
                PngProfile::Fast => $w::PngProfile::Fast,
                PngProfile::Small => $w::PngProfile::Small,
                PngProfile::Png8 => $w::PngProfile::Png8,
            },
            sprites: r
                .assets
                .sprites
                .iter()
                .map(|s| $w::SpriteSheet {
                    id: s.id.clone(),
                    pixel_ratio: s.pixel_ratio,
                    json: s.json.to_vec(),
                    png: s.png.to_vec(),
                })
                .collect(),
            fonts: Vec::new(),
            neighbours: r
                .neighbours
                .iter()
                .map(|n| $w::Neighbour {
                    tile: $w::TileId {
                        z: n.tile.z,
                        x: n.tile.x,
                        y: n.tile.y,
                    },
                    data: n.data.to_vec(),
                })
                .collect(),
        }
    }};
}

impl Renderer for WasmRenderer {
    fn version(&self) -> &str {
        &self.version
    }

    fn build_id(&self) -> &str {
        &self.build_id
    }

    fn render(&self, data: &[u8], r: &RenderRequest) -> Result<Rendered, EngineError> {
        let (bytes, warnings) = self
            .call(|instance, store| match instance {
                Instance::Current(i) => {
                    let api = i.rasterzen_renderer_render();
                    let mut request = render_request!(wit, data, r);
                    // The fonts this tile's text needs, asked on the same instance: a face
                    // (a CJK one is ~16 MB) is copied in only for tiles whose text needs it.
                    if !r.assets.fonts.is_empty() {
                        let offered: Vec<String> =
                            r.assets.fonts.iter().map(|f| f.name.clone()).collect();
                        let needed = match api.call_fonts_needed(&mut *store, &request, &offered)? {
                            Ok(n) => n,
                            Err(e) => return Ok(Err(render_error(e))),
                        };
                        request.fonts = r
                            .assets
                            .fonts_named(&needed)
                            .map(|f| wit::FontFace {
                                name: f.name.clone(),
                                data: f.data.to_vec(),
                            })
                            .collect();
                    }
                    Ok(api
                        .call_render_with(store, &request)?
                        .map(|o| (o.bytes, o.warnings))
                        .map_err(render_error))
                }
                Instance::V1_1(i) => {
                    let request = render_request!(wit11, data, r);
                    let mut warnings = Vec::new();
                    if !r.assets.fonts.is_empty() {
                        warnings.push(format!(
                            "renderer {} speaks interface 1.1.0: the fonts directory's faces are not used",
                            self.version
                        ));
                    }
                    Ok(i.rasterzen_renderer_render()
                        .call_render_with(store, &request)?
                        .map(|o| (o.bytes, [warnings, o.warnings].concat()))
                        .map_err(render_error_1_1))
                }
                Instance::V1_0(i) => {
                    let old = wit10::RenderOptions {
                        format: match r.format {
                            rasterzen_render::Format::Png => wit10::Format::Png,
                            rasterzen_render::Format::Svg => wit10::Format::Svg,
                            rasterzen_render::Format::Geojson => wit10::Format::Geojson,
                        },
                        size: r.size,
                        scale: r.scale,
                        style: match &r.style {
                            StyleSpec::Builtin(n) => wit10::StyleSource::Builtin(n.clone()),
                            StyleSpec::Json(j) => wit10::StyleSource::Json(j.clone()),
                        },
                        data_tile: r.data_tile.map(|t| wit10::TileId {
                            z: t.z,
                            x: t.x,
                            y: t.y,
                        }),
                    };
                    let mut warnings = Vec::new();
                    if !r.assets.sprites.is_empty() {
                        warnings.push(format!(
                            "renderer {} speaks interface 1.0.0: the style's sprite is not used",
                            self.version
                        ));
                    }
                    Ok(i.rasterzen_renderer_render()
                        .call_render(
                            store,
                            data,
                            wit10::TileId {
                                z: r.tile.z,
                                x: r.tile.x,
                                y: r.tile.y,
                            },
                            &old,
                        )?
                        .map(|b| (b, warnings))
                        .map_err(render_error_1_0))
                }
            })?
            .map_err(EngineError::Rejected)?;
        Ok(Rendered { bytes, warnings })
    }

    fn style_hash(&self, style: &StyleSpec) -> Result<String, EngineError> {
        self.call(|instance, store| match instance {
            Instance::Current(i) => Ok(i
                .rasterzen_renderer_render()
                .call_style_hash(store, &style_source(style))?
                .map_err(render_error)),
            Instance::V1_1(i) => Ok(i
                .rasterzen_renderer_render()
                .call_style_hash(store, &style_source_1_1(style))?
                .map_err(render_error_1_1)),
            Instance::V1_0(i) => Ok(i
                .rasterzen_renderer_render()
                .call_style_hash(store, &style_source_1_0(style))?
                .map_err(render_error_1_0)),
        })?
        .map_err(EngineError::Rejected)
    }

    fn style_info(&self, style: &StyleSpec) -> Result<StyleInfo, EngineError> {
        if let Pre::V1_0(_) = self.pre {
            return Ok(StyleInfo {
                hash: self.style_hash(style)?,
                sprites: Vec::new(),
                glyphs: None,
                fonts: Vec::new(),
                source_layers: Vec::new(),
                layers: Vec::new(),
                warnings: vec![format!(
                    "renderer {} speaks interface 1.0.0: it reports no style details",
                    self.version
                )],
                detailed: false,
            });
        }
        self.call(|instance, store| match instance {
            Instance::Current(i) => Ok(i
                .rasterzen_renderer_render()
                .call_style_info(store, &style_source(style))?
                .map(|report| style_info!(wit, report))
                .map_err(render_error)),
            Instance::V1_1(i) => Ok(i
                .rasterzen_renderer_render()
                .call_style_info(store, &style_source_1_1(style))?
                .map(|report| style_info!(wit11, report))
                .map_err(render_error_1_1)),
            Instance::V1_0(_) => unreachable!("checked above"),
        })?
        .map_err(EngineError::Rejected)
    }
}

/// A [`StyleInfo`] from the `style-report` of bindings module `$w` (1.2 and 1.1 share it).
macro_rules! style_info {
    ($w:ident, $report:expr) => {{
        let report: $w::StyleReport = $report;
        StyleInfo {
            hash: report.hash,
            sprites: report.sprites.into_iter().map(|s| (s.id, s.url)).collect(),
            glyphs: report.glyphs,
            fonts: report.fonts,
            source_layers: report.source_layers,
            layers: report
                .layers
                .into_iter()
                .map(|l| LayerInfo {
                    id: l.id,
                    kind: l.kind,
                    source_layer: l.source_layer,
                    minzoom: l.minzoom,
                    maxzoom: l.maxzoom,
                    status: match l.status {
                        $w::LayerStatus::Drawn => "drawn",
                        $w::LayerStatus::Approximated => "approximated",
                        $w::LayerStatus::Ignored => "ignored",
                        $w::LayerStatus::Hidden => "hidden",
                    }
                    .to_string(),
                    notes: l.notes,
                })
                .collect(),
            warnings: report.warnings,
            detailed: true,
        }
    }};
}
use style_info;

fn style_source_1_1(s: &StyleSpec) -> wit11::StyleSource {
    match s {
        StyleSpec::Builtin(n) => wit11::StyleSource::Builtin(n.clone()),
        StyleSpec::Json(j) => wit11::StyleSource::Json(j.clone()),
    }
}

fn style_source(s: &StyleSpec) -> wit::StyleSource {
    match s {
        StyleSpec::Builtin(n) => wit::StyleSource::Builtin(n.clone()),
        StyleSpec::Json(j) => wit::StyleSource::Json(j.clone()),
    }
}

fn style_source_1_0(s: &StyleSpec) -> wit10::StyleSource {
    match s {
        StyleSpec::Builtin(n) => wit10::StyleSource::Builtin(n.clone()),
        StyleSpec::Json(j) => wit10::StyleSource::Json(j.clone()),
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

fn render_error_1_1(e: wit11::RenderError) -> rasterzen_render::RenderError {
    use rasterzen_render::RenderError as R;
    match e {
        wit11::RenderError::InvalidTile(m) => R::InvalidTile(m),
        wit11::RenderError::InvalidStyle(m) => R::InvalidStyle(m),
        wit11::RenderError::InvalidOptions(m) => R::InvalidOptions(m),
        wit11::RenderError::LimitExceeded(m) => R::LimitExceeded(m),
    }
}

fn render_error_1_0(e: wit10::RenderError) -> rasterzen_render::RenderError {
    use rasterzen_render::RenderError as R;
    match e {
        wit10::RenderError::InvalidTile(m) => R::InvalidTile(m),
        wit10::RenderError::InvalidStyle(m) => R::InvalidStyle(m),
        wit10::RenderError::InvalidOptions(m) => R::InvalidOptions(m),
        wit10::RenderError::LimitExceeded(m) => R::LimitExceeded(m),
    }
}

/// A temporary name beside `path`, unique to this process and call (two loads of one
/// component at once must not write into each other's file before the rename).
pub(crate) fn unique_tmp(path: &Path) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    path.with_extension(format!("tmp{}-{n}", std::process::id()))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// [`Renderer::build_id`] of a renderer of this `version` whose component has `sha256`.
pub fn build_id(version: &str, sha256: &str) -> String {
    format!("{version}-{}", &sha256[..8.min(sha256.len())])
}

/// The sha256 (hex) of [`embedded_component`], worked out once.
pub fn embedded_sha256() -> Option<&'static str> {
    static SHA: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    SHA.get_or_init(|| embedded_component().map(|c| hex(&Sha256::digest(c))))
        .as_deref()
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
