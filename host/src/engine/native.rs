//! The renderer crate linked in-process: no sandbox, no per-call setup. For comparisons,
//! benchmarks and embedding; untrusted tiles belong in the `wasm` engine.
//!
//! What the native engine can and cannot enforce (SECURITY.md says the same):
//! * **Memory** is bounded per render by the renderer's own decode limits
//!   ([`rasterzen_render::mvt::DecodeLimits::render`]: vertices per tile and per feature), and
//!   per process by [`Guarded`]: no new render starts while the process holds more than its
//!   memory budget. Nothing can stop one render's allocation midway, as the sandbox does.
//! * **Time**: a render cannot be interrupted. [`Guarded`] runs each on its own thread and
//!   answers at the deadline; the render finishes in the background, and while
//!   [`NativeLimits::max_overdue`] such renders are still running, new ones are refused
//!   (`Busy`, 503), so overdue work can never pile up.
//! * **Panics** are caught and reported in one line.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use super::{EngineError, RenderRequest, Rendered, Renderer, StyleInfo, StyleSpec};

/// [`Renderer::build_id`] of the in-process renderer: that of the component built into this
/// binary from the same sources (their bytes agree, so both engines share cached tiles), or
/// `VERSION-native` in a binary without one.
fn native_build_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| match super::wasm::embedded_sha256() {
        Some(sha) => super::wasm::build_id(rasterzen_render::version(), sha),
        None => format!("{}-native", rasterzen_render::version()),
    })
}

/// The bare in-process renderer (no deadline, no budget): benchmarks and [`Guarded`] use it.
#[derive(Debug, Default)]
pub struct NativeRenderer;

impl Renderer for NativeRenderer {
    fn version(&self) -> &str {
        rasterzen_render::version()
    }

    fn build_id(&self) -> &str {
        native_build_id()
    }

    fn render(&self, data: &[u8], r: &RenderRequest) -> Result<Rendered, EngineError> {
        let options = rasterzen_render::RenderOptions {
            format: r.format,
            size: r.size,
            scale: r.scale,
            style: r.style.as_source(),
            data_tile: r.data_tile,
            png: r.png,
        };
        let sprites: Vec<rasterzen_render::SpriteData<'_>> = r
            .assets
            .sprites
            .iter()
            .map(|s| rasterzen_render::SpriteData {
                id: &s.id,
                pixel_ratio: s.pixel_ratio,
                json: &s.json,
                png: &s.png,
            })
            .collect();
        let neighbours: Vec<rasterzen_render::NeighbourData<'_>> = r
            .neighbours
            .iter()
            .map(|n| rasterzen_render::NeighbourData {
                tile: n.tile,
                data: &n.data,
            })
            .collect();
        // A panic here is a renderer bug; report it as a failure instead of taking the host down.
        caught(|| {
            // The fonts this tile's text needs, as the component is given them.
            let offered: Vec<&str> = r.assets.fonts.iter().map(|f| f.name.as_str()).collect();
            let needed =
                rasterzen_render::fonts_needed(data, r.tile, &options, &neighbours, &offered)?;
            let fonts: Vec<rasterzen_render::FontFile<'_>> = r
                .assets
                .fonts_named(&needed)
                .map(|f| rasterzen_render::FontFile {
                    name: &f.name,
                    data: &f.data,
                })
                .collect();
            let assets = rasterzen_render::Assets {
                sprites: &sprites,
                fonts: &fonts,
            };
            rasterzen_render::render_with_neighbours(data, r.tile, &options, &assets, &neighbours)
        })?
        .map(|out| Rendered {
            bytes: out.bytes,
            warnings: out.warnings,
        })
        .map_err(EngineError::Rejected)
    }

    fn style_hash(&self, style: &StyleSpec) -> Result<String, EngineError> {
        caught(|| rasterzen_render::style_hash(style.as_source()))?.map_err(EngineError::Rejected)
    }

    fn style_info(&self, style: &StyleSpec) -> Result<StyleInfo, EngineError> {
        Ok(StyleInfo::from_report(caught(|| {
            rasterzen_render::style_report(style.as_source())
        })??))
    }
}

thread_local! {
    /// The message of the last panic on this thread while inside [`caught`].
    static PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
    static CATCHING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Installs a panic hook that keeps panics inside [`caught`] quiet (their message becomes the
/// error, on one line) and prints any other panic on one line, never a multi-line dump.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let msg = one_line(&format!("{info}"));
        if CATCHING.with(std::cell::Cell::get) {
            PANIC.with(|p| *p.borrow_mut() = Some(msg));
        } else {
            eprintln!("rasterzen: internal error: {msg}");
        }
    }));
}

fn caught<T>(f: impl FnOnce() -> T) -> Result<T, EngineError> {
    CATCHING.with(|c| c.set(true));
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(false));
    out.map_err(|_| {
        let msg = PANIC
            .with(|p| p.borrow_mut().take())
            .unwrap_or_else(|| "no message".into());
        EngineError::Failed(format!(
            "native renderer panicked: {}",
            msg.chars().take(300).collect::<String>()
        ))
    })
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Limits of [`Guarded`].
#[derive(Debug, Clone, Copy)]
pub struct NativeLimits {
    /// When a caller stops waiting for a render.
    pub deadline: Duration,
    /// Renders past their deadline that may still be running; beyond, new renders are refused.
    pub max_overdue: usize,
    /// Resident memory of the process above which no new render starts (`None`: unchecked).
    pub memory_budget: Option<u64>,
}

/// Renders past their deadline still running, process-wide.
static OVERDUE: AtomicUsize = AtomicUsize::new(0);

/// The native renderer with a deadline per render and a process budget (see the module docs).
pub struct Guarded {
    limits: NativeLimits,
}

impl Guarded {
    pub fn new(limits: NativeLimits) -> Guarded {
        Guarded { limits }
    }

    /// Renders past their deadline still running.
    pub fn overdue() -> usize {
        OVERDUE.load(Ordering::SeqCst)
    }

    fn admit(&self) -> Result<(), EngineError> {
        let overdue = Self::overdue();
        if overdue >= self.limits.max_overdue.max(1) {
            return Err(EngineError::Busy(format!(
                "{overdue} native render(s) past their deadline still running"
            )));
        }
        if let (Some(budget), Some(rss)) = (self.limits.memory_budget, resident_bytes()) {
            if rss > budget {
                return Err(EngineError::Busy(format!(
                    "the process holds {} MiB, over the native engine's budget of {} MiB",
                    rss >> 20,
                    budget >> 20
                )));
            }
        }
        Ok(())
    }
}

/// The process's resident memory (Linux `/proc/self/statm`), if known.
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Whether the caller stopped waiting (then the render thread settles the overdue count).
type Abandoned = Arc<Mutex<bool>>;

impl Renderer for Guarded {
    fn version(&self) -> &str {
        rasterzen_render::version()
    }

    fn build_id(&self) -> &str {
        native_build_id()
    }

    fn render(&self, data: &[u8], r: &RenderRequest) -> Result<Rendered, EngineError> {
        self.admit()?;
        let (tx, rx) = mpsc::sync_channel(1);
        let abandoned: Abandoned = Arc::default();
        let done = Arc::clone(&abandoned);
        let (data, request) = (data.to_vec(), r.clone());
        std::thread::Builder::new()
            .name("rasterzen-native".into())
            .spawn(move || {
                let out = NativeRenderer.render(&data, &request);
                let abandoned = done.lock().unwrap_or_else(|p| p.into_inner());
                if *abandoned {
                    OVERDUE.fetch_sub(1, Ordering::SeqCst);
                } else {
                    let _ = tx.send(out);
                }
            })
            .map_err(|e| EngineError::Unavailable(format!("cannot start a render thread: {e}")))?;
        match rx.recv_timeout(self.limits.deadline) {
            Ok(out) => out,
            Err(_) => {
                let mut gone = abandoned.lock().unwrap_or_else(|p| p.into_inner());
                // The render may have finished between the timeout and the lock.
                if let Ok(out) = rx.try_recv() {
                    return out;
                }
                *gone = true;
                OVERDUE.fetch_add(1, Ordering::SeqCst);
                Err(EngineError::Failed(format!(
                    "native renderer exceeded its deadline of {} ms (it cannot be stopped: it \
                     finishes in the background, and new renders wait while {} are overdue)",
                    self.limits.deadline.as_millis(),
                    self.limits.max_overdue.max(1)
                )))
            }
        }
    }

    fn style_hash(&self, style: &StyleSpec) -> Result<String, EngineError> {
        NativeRenderer.style_hash(style)
    }

    fn style_info(&self, style: &StyleSpec) -> Result<StyleInfo, EngineError> {
        NativeRenderer.style_info(style)
    }
}
