//! The little the host does with tile bytes itself: inflate gzip (with a size cap) and check
//! the protobuf framing for `/mvt`. Features are never decoded here: that happens only inside
//! the renderer's sandbox.

use std::io::Read as _;

/// Why tile bytes were refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum MvtError {
    #[error("gzip data is corrupt: {0}")]
    Gzip(String),
    #[error("inflates to more than {0} bytes")]
    TooLarge(usize),
    #[error("not a vector tile: {0}")]
    NotATile(String),
}

/// Whether `data` starts with the gzip magic bytes.
pub fn is_gzip(data: &[u8]) -> bool {
    data.starts_with(&[0x1f, 0x8b])
}

/// Inflates gzip data (raw data passes through), refusing output over `max` bytes.
pub fn inflate(data: &[u8], max: usize) -> Result<Vec<u8>, MvtError> {
    if !is_gzip(data) {
        return Ok(data.to_vec());
    }
    let mut out = Vec::with_capacity(data.len().saturating_mul(4).min(max));
    let mut decoder = flate2::read::MultiGzDecoder::new(data).take(max as u64 + 1);
    decoder
        .read_to_end(&mut out)
        .map_err(|e| MvtError::Gzip(e.to_string()))?;
    if out.len() > max {
        return Err(MvtError::TooLarge(max));
    }
    Ok(out)
}

/// Checks that `data` is framed like a Mapbox Vector Tile: a protobuf message whose fields are
/// well formed, with every `layers` field (3) a well-formed length-delimited message. Only the
/// framing is read (bounds-checked), no geometry or attributes.
pub fn check_framing(data: &[u8]) -> Result<(), MvtError> {
    for (field, body) in fields(data)? {
        if field == 3 {
            let body = body.ok_or_else(|| {
                MvtError::NotATile("field 3 (layers) is not length-delimited".into())
            })?;
            fields(body)?;
        }
    }
    Ok(())
}

/// The names of a tile's layers (raw or gzip, inflated up to `max` bytes), in tile order:
/// field 1 of each `layers` message. Only the framing is read. Unreadable tiles have none.
pub fn layer_names(data: &[u8], max: usize) -> Vec<String> {
    let Ok(raw) = inflate(data, max) else {
        return Vec::new();
    };
    let Ok(top) = fields(&raw) else {
        return Vec::new();
    };
    let mut names = Vec::new();
    for (_, body) in top.into_iter().filter(|(f, _)| *f == 3) {
        let Some(layer) = body.and_then(|b| fields(b).ok()) else {
            continue;
        };
        if let Some((_, Some(name))) = layer.into_iter().find(|(f, _)| *f == 1) {
            names.push(String::from_utf8_lossy(name).into_owned());
        }
    }
    names
}

/// A field number and its body if length-delimited.
type Field<'a> = (u64, Option<&'a [u8]>);

/// The fields of one message.
fn fields(mut data: &[u8]) -> Result<Vec<Field<'_>>, MvtError> {
    let bad = |m: &str| MvtError::NotATile(m.to_string());
    let mut out = Vec::new();
    while !data.is_empty() {
        let key = varint(&mut data).ok_or_else(|| bad("truncated field key"))?;
        let (field, wire) = (key >> 3, key & 7);
        if field == 0 {
            return Err(bad("field number 0"));
        }
        let body = match wire {
            0 => {
                varint(&mut data).ok_or_else(|| bad("truncated varint"))?;
                None
            }
            1 | 5 => {
                let n = if wire == 1 { 8 } else { 4 };
                data = data
                    .get(n..)
                    .ok_or_else(|| bad("truncated fixed-size field"))?;
                None
            }
            2 => {
                let len =
                    usize::try_from(varint(&mut data).ok_or_else(|| bad("truncated length"))?)
                        .unwrap_or(usize::MAX);
                let body = data
                    .get(..len)
                    .ok_or_else(|| bad("a length runs past the end"))?;
                data = &data[len..];
                Some(body)
            }
            w => {
                return Err(MvtError::NotATile(format!(
                    "wire type {w} is not used by vector tiles"
                )))
            }
        };
        out.push((field, body));
    }
    Ok(out)
}

fn varint(data: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for i in 0..10 {
        let b = *data.get(i)?;
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            *data = &data[i + 1..];
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing() {
        let fixture = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/tiles/shortbread-berlin-14.mvt"
        ))
        .unwrap();
        let raw = inflate(&fixture, 64 << 20).unwrap();
        check_framing(&raw).unwrap();
        check_framing(&[]).unwrap();
        assert!(check_framing(b"this is not a vector tile at all").is_err());
        assert!(check_framing(&raw[..raw.len() / 2]).is_err());
        assert!(matches!(
            inflate(&[0x1f, 0x8b, 1, 2, 3], 100),
            Err(MvtError::Gzip(_))
        ));
    }

    #[test]
    fn layer_names_of_real_tiles() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/");
        let read = |p: &str| std::fs::read(format!("{root}{p}")).unwrap();
        let berlin = layer_names(&read("fixtures/tiles/shortbread-berlin-14.mvt"), 64 << 20);
        assert!(berlin.iter().any(|n| n == "streets"), "{berlin:?}");
        assert_eq!(
            crate::schema::Schema::detect(&berlin),
            Some(crate::schema::Schema::Shortbread)
        );
        let monaco = layer_names(&read("reference/monaco-z14-omt/tile.mvt"), 64 << 20);
        assert_eq!(
            crate::schema::Schema::detect(&monaco),
            Some(crate::schema::Schema::OpenMapTiles),
            "{monaco:?}"
        );
        assert!(layer_names(b"not a tile", 1000).is_empty());
    }

    #[test]
    fn inflate_cap() {
        use std::io::Write as _;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&vec![0u8; 1 << 20]).unwrap();
        let gz = enc.finish().unwrap();
        assert_eq!(inflate(&gz, 2 << 20).unwrap().len(), 1 << 20);
        assert!(matches!(inflate(&gz, 1000), Err(MvtError::TooLarge(1000))));
    }
}
