//! Where untrusted request text meets paths and keys: the tile path parser, the cache-key
//! component filter and the renderer-version check. Pure functions with no dependencies, so
//! the fuzz target `fuzz/fuzz_targets/tile_path.rs` includes this very file.

/// Parses `{z}/{x}/{y}.{ext}`, or `{z}/{x}/{y}@2x.{ext}` when `retina` is allowed, into
/// (z, x, y, scale). Coordinates are 1–10 ASCII digits; the zoom must fit a `u8` and x, y a
/// `u32` (range checks against the zoom's grid come later). The error says why, briefly.
pub fn parse_tile_path(
    ext: &str,
    retina: bool,
    rest: &str,
) -> Result<(u8, u32, u32, u32), &'static str> {
    let parts: Vec<&str> = rest.split('/').collect();
    let [z, x, last] = parts.as_slice() else {
        return Err("not three parts");
    };
    let stem = last
        .strip_suffix(ext)
        .and_then(|s| s.strip_suffix('.'))
        .ok_or("wrong extension")?;
    let (y, scale) = match stem.strip_suffix("@2x") {
        Some(y) if retina => (y, 2),
        Some(_) => return Err("@2x is only for images and svg"),
        None => (stem, 1),
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(z) || !digits(x) || !digits(y) {
        return Err("coordinates must be whole numbers");
    }
    let z: u8 = z.parse().map_err(|_| "zoom out of range")?;
    let x: u32 = x.parse().map_err(|_| "x out of range")?;
    let y: u32 = y.parse().map_err(|_| "y out of range")?;
    Ok((z, x, y, scale))
}

/// A cache-key path component that is safe on every tier: only `[A-Za-z0-9._+-]` (anything
/// else becomes `_`), never empty and never all dots, so it can be neither a separator, a
/// parent directory, an absolute path, a NUL nor a hidden trick.
pub fn key_component(s: &str) -> String {
    let c: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._+-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if c.is_empty() || c.chars().all(|ch| ch == '.') {
        "_".into()
    } else {
        c
    }
}

/// Whether `v` can name a renderer version: 1–64 of `[A-Za-z0-9._+-]`, not starting with `.`.
/// Every name that reaches a registry path or an S3 key passes this first, so `../x`,
/// `/etc/x`, `%2e%2e` or a NUL can never leave `versions/`.
pub fn valid_version(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 64
        && !v.starts_with('.')
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c))
}
