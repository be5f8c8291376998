//! The checkpoint: which tiles of a run are finished, as ranges of ordinals (see
//! [`super::tiles`]), in a small JSON file written atomically (temporary file, `fsync`, rename)
//! every second while tiles finish, and when the run stops for any reason. A run killed outright
//! loses at most the last second of records; those tiles are in the cache already, and the skip
//! check (an existence check per key) finds them, so nothing is rendered twice.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};

/// A set of `u64`s as disjoint, non-adjacent half-open ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ranges {
    /// start → end (exclusive).
    map: BTreeMap<u64, u64>,
    len: u64,
}

impl Ranges {
    pub fn contains(&self, v: u64) -> bool {
        self.map
            .range(..=v)
            .next_back()
            .is_some_and(|(_, &e)| v < e)
    }

    pub fn insert(&mut self, v: u64) {
        self.insert_range(v, v + 1);
    }

    pub fn insert_range(&mut self, mut a: u64, mut b: u64) {
        if a >= b {
            return;
        }
        // Merge with every range that overlaps or touches [a, b).
        let touching: Vec<(u64, u64)> = self
            .map
            .range(..=b)
            .rev()
            .take_while(|(_, &e)| e >= a)
            .map(|(&s, &e)| (s, e))
            .collect();
        for (s, e) in touching {
            self.map.remove(&s);
            self.len -= e - s;
            a = a.min(s);
            b = b.max(e);
        }
        self.map.insert(a, b);
        self.len += b - a;
    }

    /// How many values the set holds.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn spans(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.map.iter().map(|(&a, &b)| (a, b))
    }
}

/// The file.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct File {
    format: String,
    /// The run's identity (see `SeedRun::id`): another run's checkpoint is refused.
    run: String,
    /// What the run covers, for people reading the file.
    about: String,
    total: u64,
    /// Finished ordinals, `[start, end)` pairs.
    done: Vec<[u64; 2]>,
}

const FORMAT: &str = "rasterzen-seed-checkpoint/1";

pub struct Checkpoint {
    pub path: PathBuf,
    pub run: String,
    pub about: String,
    pub total: u64,
    pub done: Ranges,
    dirty: bool,
}

impl Checkpoint {
    /// Opens the run's checkpoint at `path` (a new one if there is none, or with `restart`).
    pub fn open(
        path: &Path,
        run: &str,
        about: &str,
        total: u64,
        restart: bool,
    ) -> anyhow::Result<Checkpoint> {
        let mut c = Checkpoint {
            path: path.to_path_buf(),
            run: run.to_string(),
            about: about.to_string(),
            total,
            done: Ranges::default(),
            dirty: true,
        };
        if restart {
            return Ok(c);
        }
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(c),
            Err(e) => bail!("cannot read the checkpoint {}: {e}", path.display()),
        };
        let file: File = serde_json::from_str(&text).with_context(|| {
            format!(
                "the checkpoint {} is damaged (remove it, or pass --restart)",
                path.display()
            )
        })?;
        if file.format != FORMAT {
            bail!("the checkpoint {} is not a {FORMAT} file", path.display());
        }
        if file.run != run {
            bail!(
                "the checkpoint {} belongs to another run ({}: other tiles, styles, formats, \
                 source or renderer); remove it, pass --restart, or use another --checkpoint",
                path.display(),
                file.about
            );
        }
        for [a, b] in file.done {
            c.done.insert_range(a, b.min(total));
        }
        c.dirty = false;
        Ok(c)
    }

    pub fn mark(&mut self, ordinal: u64) {
        self.done.insert(ordinal);
        self.dirty = true;
    }

    /// Writes the file if anything changed since the last write.
    pub fn save(&mut self) -> anyhow::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let file = File {
            format: FORMAT.into(),
            run: self.run.clone(),
            about: self.about.clone(),
            total: self.total,
            done: self.done.spans().map(|(a, b)| [a, b]).collect(),
        };
        let body = serde_json::to_vec(&file)?;
        write_atomically(&self.path, &body)
            .with_context(|| format!("cannot write the checkpoint {}", self.path.display()))?;
        self.dirty = false;
        Ok(())
    }
}

/// Temporary file beside the target, `fsync`, rename: readers (and a resumed run after a
/// crash) see the old file or the new one, never half of one.
fn write_atomically(path: &Path, body: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("checkpoint"),
        std::process::id()
    ));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(body)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_merge() {
        let mut r = Ranges::default();
        for v in [5, 3, 4, 10, 0, 1, 2, 11, 7] {
            r.insert(v);
        }
        assert_eq!(
            r.spans().collect::<Vec<_>>(),
            vec![(0, 6), (7, 8), (10, 12)]
        );
        assert_eq!(r.len(), 9);
        assert!(r.contains(0) && r.contains(5) && r.contains(11));
        assert!(!r.contains(6) && !r.contains(9) && !r.contains(12));
        r.insert_range(5, 11);
        assert_eq!(r.spans().collect::<Vec<_>>(), vec![(0, 12)]);
        assert_eq!(r.len(), 12);
        r.insert(3);
        assert_eq!(r.len(), 12);
    }

    #[test]
    fn save_and_resume() {
        let dir = std::env::temp_dir().join(format!("rasterzen-ckpt-{}", std::process::id()));
        let path = dir.join("run.json");
        let mut c = Checkpoint::open(&path, "r1", "test", 100, false).unwrap();
        c.mark(3);
        c.mark(4);
        c.save().unwrap();
        let c = Checkpoint::open(&path, "r1", "test", 100, false).unwrap();
        assert!(c.done.contains(3) && c.done.contains(4) && !c.done.contains(5));
        assert!(Checkpoint::open(&path, "r2", "test", 100, false).is_err());
        assert_eq!(
            Checkpoint::open(&path, "r2", "test", 100, true)
                .unwrap()
                .done
                .len(),
            0
        );
        std::fs::write(&path, "{").unwrap();
        assert!(Checkpoint::open(&path, "r1", "test", 100, false).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
