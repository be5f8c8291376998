//! Shared pieces of the fuzz targets: an allocator that measures each render's peak memory,
//! and the output invariants (a PNG of the asked size, an SVG, GeoJSON) every target checks.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The allocator of every fuzz binary: the system's, counting live bytes and their peak.
pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` with the same arguments; the counters are only
// statistics and never influence an allocation.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            if new_size >= layout.size() {
                let live = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size
                    - layout.size();
                PEAK.fetch_max(live, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// The memory one render may use: the wasm engine's default limit (`--memory-limit-mb 512`).
pub const MEMORY_BUDGET: usize = 512 << 20;

/// The time one render may take: the default deadline (`--render-timeout-ms 10000`). Fuzz
/// builds carry sanitizers and debug assertions, several times slower than a release build,
/// so a render that needs more than this here is far over budget in production.
pub const TIME_BUDGET: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs `f`, returning its result and the peak of bytes allocated above what was live before.
pub fn measured<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let out = f();
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    (out, peak)
}

/// CPU time of the calling thread: unlike the wall clock, not stretched when the machine is
/// busy with other work (fuzzers run niced beside builds).
pub fn thread_cpu_time() -> std::time::Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the valid pointer given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Runs `f` and panics (a finding) if it goes over the memory or time budget (CPU time).
pub fn within_budget<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let started = thread_cpu_time();
    let (out, peak) = measured(f);
    let took = thread_cpu_time().saturating_sub(started);
    assert!(
        peak <= MEMORY_BUDGET,
        "{what} allocated {} MiB at its peak, over the budget of {} MiB",
        peak >> 20,
        MEMORY_BUDGET >> 20
    );
    assert!(
        took <= TIME_BUDGET,
        "{what} took {took:?} of CPU, over the budget of {TIME_BUDGET:?}"
    );
    out
}

/// Asserts that `bytes` is a PNG of `w`×`h` that decodes completely.
pub fn check_png(bytes: &[u8], w: u32, h: u32) {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("the output is a PNG");
    let info = reader.info();
    assert_eq!((info.width, info.height), (w, h), "PNG of the asked size");
    let mut buf = vec![0; reader.output_buffer_size().expect("sane PNG buffer")];
    reader.next_frame(&mut buf).expect("the PNG decodes");
}

/// Asserts that `bytes` is an SVG document of `w`×`h` (its root element says so).
pub fn check_svg(bytes: &[u8], w: u32, h: u32) {
    let text = std::str::from_utf8(bytes).expect("SVG is UTF-8");
    let root = text
        .find("<svg")
        .map(|i| &text[i..])
        .expect("the output has an <svg> root");
    let head = &root[..root.find('>').expect("the root tag ends")];
    assert!(
        head.contains(&format!("width=\"{w}\"")) && head.contains(&format!("height=\"{h}\"")),
        "SVG of the asked size: {head}"
    );
    assert!(text.trim_end().ends_with("</svg>"), "the SVG is complete");
    assert!(!text.contains('\0'), "no NUL in SVG text");
}

/// Asserts that `bytes` is JSON: an object of FeatureCollections.
pub fn check_geojson(bytes: &[u8]) {
    let v: serde_json::Value = serde_json::from_slice(bytes).expect("GeoJSON parses");
    let obj = v.as_object().expect("an object of layers");
    for (name, fc) in obj {
        assert_eq!(
            fc["type"], "FeatureCollection",
            "layer {name:?} is a FeatureCollection"
        );
    }
}
