//! Font files for `text-font` names: a directory the operator names (`--fonts DIR`), scanned
//! once at start for TrueType and OpenType files and the names they answer to, as glyph
//! servers (fontnik, tileserver-gl) name fonts: family and subfamily from the file's name
//! table ("Noto Sans CJK SC Regular"), and its full name when that differs.
//!
//! A style's assets get the files whose names its `text-font` stacks use (read when the style
//! is loaded, then shared by every render); each render is then given only those its tile's
//! text needs (`fonts-needed`), so a CJK face is copied into the sandbox only for tiles with
//! CJK text.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use bytes::Bytes;

use crate::engine::FontFileBytes;

/// Font files larger than this are not read (the largest CJK faces are ~20 MB).
const MAX_FONT_BYTES: u64 = 64 << 20;

/// Subdirectories followed below the fonts directory.
const MAX_DEPTH: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum FontError {
    #[error("fonts directory {0}: {1}")]
    Dir(PathBuf, std::io::Error),
    #[error("fonts directory {0} holds no TrueType or OpenType font (.ttf, .otf)")]
    Empty(PathBuf),
}

/// The fonts of a directory, by name.
#[derive(Debug, Default)]
pub struct FontCatalog {
    entries: Vec<Entry>,
}

#[derive(Debug)]
struct Entry {
    names: Vec<String>,
    path: PathBuf,
    /// The file's bytes, read when a style first uses one of its names.
    data: OnceLock<Result<Bytes, String>>,
}

impl FontCatalog {
    /// Scans `dir` (and its subdirectories, a few levels down). Files that are not fonts are
    /// skipped; collections (.ttc, .otc) and unreadable fonts are skipped with a warning each.
    pub fn scan(dir: &Path) -> Result<(FontCatalog, Vec<String>), FontError> {
        let mut files = Vec::new();
        collect(dir, 0, &mut files).map_err(|e| FontError::Dir(dir.to_path_buf(), e))?;
        files.sort();
        let mut warnings = Vec::new();
        let mut entries: Vec<Entry> = Vec::new();
        for path in files {
            let ext = path
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase);
            match ext.as_deref() {
                Some("ttf" | "otf") => {}
                Some("ttc" | "otc") => {
                    warnings.push(format!(
                        "font {}: a collection, which is not read; extract the face you need (e.g. fonttools: pyftsubset FILE --font-number=N --unicodes='*')",
                        path.display()
                    ));
                    continue;
                }
                _ => continue,
            }
            let bytes = match read_font(&path) {
                Ok(b) => b,
                Err(e) => {
                    warnings.push(format!("font {}: {e}; not used", path.display()));
                    continue;
                }
            };
            let names = rasterzen_render::font_names(&bytes);
            if names.is_empty() {
                warnings.push(format!(
                    "font {}: not a TrueType or OpenType font with a family name; not used",
                    path.display()
                ));
                continue;
            }
            let mut kept = Vec::new();
            for name in names {
                match entries.iter().find(|e| e.names.contains(&name)) {
                    Some(first) => warnings.push(format!(
                        "font {}: the name {name:?} is already {}'s; this file is not used under it",
                        path.display(),
                        first.path.display()
                    )),
                    None => kept.push(name),
                }
            }
            if !kept.is_empty() {
                entries.push(Entry {
                    names: kept,
                    path,
                    data: OnceLock::new(),
                });
            }
        }
        if entries.is_empty() {
            return Err(FontError::Empty(dir.to_path_buf()));
        }
        Ok((FontCatalog { entries }, warnings))
    }

    /// Every name the catalog answers to, in file order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries
            .iter()
            .flat_map(|e| e.names.iter().map(String::as_str))
    }

    /// The files for those of `names` the catalog has (each name once, in the order given). A
    /// file that cannot be read any more is left out with a warning.
    pub fn files_for(&self, names: &[String], warnings: &mut Vec<String>) -> Vec<FontFileBytes> {
        let mut out: Vec<FontFileBytes> = Vec::new();
        for name in names {
            if out.iter().any(|f| &f.name == name) {
                continue;
            }
            let Some(e) = self.entries.iter().find(|e| e.names.contains(name)) else {
                continue;
            };
            match e.data.get_or_init(|| read_font(&e.path)) {
                Ok(data) => out.push(FontFileBytes {
                    name: name.clone(),
                    data: data.clone(),
                }),
                Err(err) => warnings.push(format!(
                    "font {} ({name:?}): {err}; not used",
                    e.path.display()
                )),
            }
        }
        out
    }

    /// How many files the catalog holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

fn collect(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() && depth < MAX_DEPTH {
            collect(&path, depth + 1, out)?;
        } else if kind.is_file() || kind.is_symlink() {
            out.push(path);
        }
    }
    Ok(())
}

fn read_font(path: &Path) -> Result<Bytes, String> {
    let len = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if len > MAX_FONT_BYTES {
        return Err(format!("larger than {} MiB", MAX_FONT_BYTES >> 20));
    }
    std::fs::read(path)
        .map(Bytes::from)
        .map_err(|e| e.to_string())
}

static CATALOG: OnceLock<Option<FontCatalog>> = OnceLock::new();

/// Scans `dir` once per process, logging what it found and skipped, and returns what it
/// skipped (for commands that print instead of logging); later calls keep the first catalog
/// and return nothing. `None` means no fonts directory.
pub fn install(dir: Option<&Path>) -> Result<Vec<String>, FontError> {
    if CATALOG.get().is_some() {
        return Ok(Vec::new());
    }
    let mut skipped = Vec::new();
    let catalog = match dir {
        None => None,
        Some(dir) => {
            let started = std::time::Instant::now();
            let (catalog, warnings) = FontCatalog::scan(dir)?;
            for w in warnings {
                tracing::warn!("{w}");
                skipped.push(w);
            }
            tracing::info!(
                dir = %dir.display(),
                files = catalog.len(),
                names = catalog.names().collect::<Vec<_>>().join(", "),
                ms = started.elapsed().as_millis() as u64,
                "fonts found"
            );
            Some(catalog)
        }
    };
    let _ = CATALOG.set(catalog);
    Ok(skipped)
}

/// The process's fonts directory, if one was given.
pub fn catalog() -> Option<&'static FontCatalog> {
    CATALOG.get().and_then(Option::as_ref)
}
