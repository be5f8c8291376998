//! Bytes → [`Tile`]: gzip/zlib detection with an output cap, protobuf decoding, and the
//! semantic validation of the Mapbox Vector Tile 2.1 specification.
//!
//! Error policy, following the mvt-fixtures conformance suite:
//! * **fatal** (the whole tile is refused, [`MvtError`]): malformed protobuf, a layer without a
//!   name or with a missing/unknown version, a bad extent, a value with zero or several types,
//!   a tag pointing past the key/value tables, and any malformed geometry command stream
//!   (unknown command, wrong counts, too few parameters, ClosePath in a version 2 LineString).
//! * **recoverable** (the item is skipped and counted in [`Tile::dropped`]): a feature without
//!   geometry, with two geometry fields, with an unknown type enum, with an odd number of tags,
//!   or whose geometry is degenerate (nothing drawable is left); a layer whose name repeats an
//!   earlier layer's (the first one wins).
//! * **repaired silently**: consecutive duplicate vertices of lines and rings are merged, an
//!   explicit closing vertex of a ring is removed, zero-area rings are dropped, and rings are
//!   re-oriented (exterior clockwise, holes counter-clockwise in tile space, y down).
//!
//! Resource use is bounded by [`DecodeLimits`]: nothing is allocated in proportion to a count
//! claimed by the data, only to data actually present, and each layer's feature and
//! dictionary counts are checked before the layer is decoded.

use std::collections::HashSet;

use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;
use prost::bytes::{Buf, Bytes};
use prost::encoding::{decode_key, decode_varint, skip_field, DecodeContext, WireType};
use prost::Message;

use super::proto;
use super::{Feature, GeomType, Geometry, Layer, MvtError, Point, Polygon, Tile, Value};

/// Resource limits for [`decode`] / [`decode_bytes`]. Exceeding any gives [`MvtError::Limit`].
///
/// The defaults accept real tiles of tens of MB while keeping the worst case of hostile input
/// to a few hundred MB of memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Size of the protobuf tile, after decompression (default 64 MiB).
    pub max_decompressed_bytes: usize,
    /// Number of layers in the tile, duplicates included (default 1000).
    pub max_layers: usize,
    /// Number of features in one layer, dropped ones included (default 200 000).
    pub max_features_per_layer: usize,
    /// Number of features in the whole tile (default 2 000 000).
    pub max_total_features: usize,
    /// Number of key and value table entries in the whole tile (default 4 000 000).
    pub max_dictionary_entries: usize,
    /// Number of geometry vertices in the whole tile (default 16 000 000, i.e. ≤ 256 MB of
    /// points; a vertex needs at least two bytes of input).
    pub max_total_points: usize,
    /// Number of geometry vertices in one feature (default: no lower than the tile's). A
    /// renderer's memory goes with its largest feature (a line's tessellation is ~600 bytes a
    /// vertex), so [`DecodeLimits::render`] bounds it.
    pub max_points_per_feature: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_decompressed_bytes: 64 << 20,
            max_layers: 1000,
            max_features_per_layer: 200_000,
            max_total_features: 2_000_000,
            max_dictionary_entries: 4_000_000,
            max_total_points: 16_000_000,
            max_points_per_feature: 16_000_000,
        }
    }
}

impl DecodeLimits {
    /// The limits of a render: what a render can draw within the sandbox's default memory
    /// limit (512 MiB) and deadline (10 s), with a wide margin over real tiles (the densest
    /// tile in the test data has 80 000 vertices). A tile over them is bad source data,
    /// refused in milliseconds instead of exhausting memory or time.
    pub fn render() -> DecodeLimits {
        DecodeLimits {
            max_total_points: 1_000_000,
            max_points_per_feature: 250_000,
            ..DecodeLimits::default()
        }
    }
}

/// Largest accepted layer extent. Real tiles use 256…65 536; zero would divide by zero
/// downstream and anything huge is garbage.
const MAX_EXTENT: u32 = 1 << 20;

/// Decodes a tile that may be gzip- or zlib-compressed (detected by its magic bytes) or raw.
pub fn decode_bytes(bytes: &[u8], limits: &DecodeLimits) -> Result<Tile, MvtError> {
    decode_layers(bytes, limits, &|_| true)
}

/// Like [`decode_bytes`], but only the layers `wanted` names are decoded (a renderer needs
/// only those its style draws); the others are checked for framing and counted against the
/// limits, then skipped.
pub fn decode_layers(
    bytes: &[u8],
    limits: &DecodeLimits,
    wanted: &dyn Fn(&str) -> bool,
) -> Result<Tile, MvtError> {
    match Compression::detect(bytes) {
        Compression::None => {
            check_size(bytes.len(), limits)?;
            decode_owned(Bytes::copy_from_slice(bytes), limits, wanted)
        }
        _ => {
            let mut data = inflate_any(bytes, limits.max_decompressed_bytes)?;
            // Tolerate one more level (tiles stored gzipped and then gzipped again in transit).
            // A raw tile can never start with these bytes (0x1f is field 3 with wire type 7).
            if Compression::detect(&data) != Compression::None {
                data = inflate_any(&data, limits.max_decompressed_bytes)?;
            }
            decode_owned(Bytes::from(data), limits, wanted)
        }
    }
}

/// Decodes an uncompressed (raw protobuf) tile.
pub fn decode(raw: &[u8], limits: &DecodeLimits) -> Result<Tile, MvtError> {
    check_size(raw.len(), limits)?;
    // One copy so features can reference their packed fields without copying them again.
    decode_owned(Bytes::copy_from_slice(raw), limits, &|_| true)
}

fn check_size(len: usize, limits: &DecodeLimits) -> Result<(), MvtError> {
    if len > limits.max_decompressed_bytes {
        return Err(MvtError::Limit(format!(
            "tile is {len} bytes, more than the limit of {} bytes",
            limits.max_decompressed_bytes
        )));
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// Decompression
// ------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    None,
    Gzip,
    Zlib,
}

impl Compression {
    fn detect(b: &[u8]) -> Compression {
        match b {
            [0x1f, 0x8b, ..] => Compression::Gzip,
            // CMF 0x78 (deflate, 32 KiB window) and a valid header checksum. A raw tile cannot
            // start with 0x78 (field 15 does not exist in `Tile`).
            [0x78, flg, ..] if ((0x78u16 << 8) | u16::from(*flg)).is_multiple_of(31) => {
                Compression::Zlib
            }
            _ => Compression::None,
        }
    }
}

fn inflate_any(bytes: &[u8], cap: usize) -> Result<Vec<u8>, MvtError> {
    match Compression::detect(bytes) {
        Compression::Gzip => gunzip(bytes, cap),
        Compression::Zlib => {
            let mut out = Vec::new();
            inflate_into(
                bytes,
                inflate_flags::TINFL_FLAG_PARSE_ZLIB_HEADER,
                &mut out,
                cap,
                0,
            )
            .map_err(|e| e.map_gzip("zlib"))?;
            Ok(out)
        }
        Compression::None => Ok(bytes.to_vec()),
    }
}

/// Inflates a gzip file (RFC 1952), every member of it, into at most `cap` bytes.
fn gunzip(data: &[u8], cap: usize) -> Result<Vec<u8>, MvtError> {
    let gz = |m: &str| MvtError::Gzip(m.to_string());
    let mut out = Vec::new();
    let mut rest = data;
    loop {
        let body = &rest[gzip_header_len(rest)?..];
        // ISIZE (the last 4 bytes) as a capacity hint, trusted only up to 32× the input.
        let hint = match body.len().checked_sub(4) {
            Some(at) => {
                let b = &body[at..];
                u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize
            }
            None => 0,
        };
        let start = out.len();
        let hint = hint.min(body.len().saturating_mul(32));
        let consumed =
            inflate_into(body, 0, &mut out, cap, hint).map_err(|e| e.map_gzip("gzip"))?;
        let trailer = body
            .get(consumed..consumed.saturating_add(8))
            .ok_or_else(|| gz("truncated: the 8-byte trailer is missing"))?;
        let isize = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
        // (The CRC-32 is not checked: the protobuf and geometry validation that follows
        // catches corruption that still inflates.)
        if isize != (out.len() - start) as u32 {
            return Err(gz("size in the trailer does not match the inflated data"));
        }
        rest = &body[consumed + 8..];
        // Another member follows, or (ignored) trailing garbage / padding.
        if !rest.starts_with(&[0x1f, 0x8b]) {
            return Ok(out);
        }
    }
}

/// Length of the gzip member header at the start of `d` (FEXTRA, FNAME, FCOMMENT, FHCRC).
fn gzip_header_len(d: &[u8]) -> Result<usize, MvtError> {
    let gz = |m: &str| MvtError::Gzip(m.to_string());
    if d.len() < 10 {
        return Err(gz("truncated header"));
    }
    if d[0] != 0x1f || d[1] != 0x8b {
        return Err(gz("bad magic bytes"));
    }
    if d[2] != 8 {
        return Err(MvtError::Gzip(format!(
            "compression method {} is not deflate",
            d[2]
        )));
    }
    let flags = d[3];
    if flags & 0xe0 != 0 {
        return Err(gz("reserved header flags are set"));
    }
    let mut pos = 10usize;
    if flags & 0x04 != 0 {
        // FEXTRA: 2-byte little-endian length, then that many bytes.
        let xlen = d.get(pos..pos + 2).ok_or_else(|| gz("truncated header"))?;
        pos += 2 + usize::from(u16::from_le_bytes([xlen[0], xlen[1]]));
    }
    for flag in [0x08u8, 0x10] {
        // FNAME, FCOMMENT: zero-terminated strings.
        if flags & flag != 0 {
            let tail = d.get(pos..).ok_or_else(|| gz("truncated header"))?;
            let nul = tail
                .iter()
                .position(|&b| b == 0)
                .ok_or_else(|| gz("truncated header"))?;
            pos += nul + 1;
        }
    }
    if flags & 0x02 != 0 {
        pos += 2; // FHCRC
    }
    if pos > d.len() {
        return Err(gz("truncated header"));
    }
    Ok(pos)
}

enum InflateError {
    Limit(usize),
    Corrupt(String),
}

impl InflateError {
    fn map_gzip(self, what: &str) -> MvtError {
        match self {
            InflateError::Limit(cap) => {
                MvtError::Limit(format!("{what} data inflates to more than {cap} bytes"))
            }
            InflateError::Corrupt(m) => MvtError::Gzip(format!("{what}: {m}")),
        }
    }
}

/// Inflates one deflate (or zlib, per `flags`) stream from `input`, appending to `out` while
/// keeping `out.len() <= cap`. Returns how many input bytes the stream used.
fn inflate_into(
    input: &[u8],
    flags: u32,
    out: &mut Vec<u8>,
    cap: usize,
    hint: usize,
) -> Result<usize, InflateError> {
    let flags = flags | inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
    let start = out.len();
    let room = cap.saturating_sub(start);
    let initial = hint
        .max(input.len().saturating_mul(4))
        .max(16 << 10)
        .min(room);
    out.resize(start + initial, 0);
    let mut decomp = Box::<DecompressorOxide>::default();
    let mut in_pos = 0usize;
    let mut out_pos = 0usize;
    loop {
        let (status, used_in, used_out) = decompress(
            &mut decomp,
            &input[in_pos..],
            &mut out[start..],
            out_pos,
            flags,
        );
        in_pos += used_in;
        out_pos += used_out;
        match status {
            TINFLStatus::Done => {
                out.truncate(start + out_pos);
                return Ok(in_pos);
            }
            TINFLStatus::HasMoreOutput => {
                let len = out.len() - start;
                if len >= room {
                    out.truncate(start);
                    return Err(InflateError::Limit(cap));
                }
                let grown = len.saturating_mul(2).max(16 << 10).min(room);
                out.resize(start + grown, 0);
            }
            TINFLStatus::NeedsMoreInput | TINFLStatus::FailedCannotMakeProgress => {
                return Err(InflateError::Corrupt("truncated deflate stream".into()))
            }
            TINFLStatus::Adler32Mismatch => {
                return Err(InflateError::Corrupt("checksum mismatch".into()))
            }
            other => {
                return Err(InflateError::Corrupt(format!(
                    "corrupt deflate stream ({other:?})"
                )))
            }
        }
    }
}

// ------------------------------------------------------------------------------------------
// Protobuf → Tile
// ------------------------------------------------------------------------------------------

fn pb(e: prost::DecodeError) -> MvtError {
    MvtError::Protobuf(e.to_string())
}

/// Budgets shared by all layers of one tile.
struct Budget {
    points_left: usize,
    max_points: usize,
    /// Of the feature being decoded (reset per feature).
    feature_points_left: usize,
    max_feature_points: usize,
    features_left: usize,
    dictionary_left: usize,
}

impl Budget {
    #[inline]
    fn take_points(&mut self, n: usize) -> Result<(), MvtError> {
        match self.feature_points_left.checked_sub(n) {
            Some(left) => self.feature_points_left = left,
            None => {
                return Err(MvtError::Limit(format!(
                    "more than {} geometry vertices in one feature",
                    self.max_feature_points
                )))
            }
        }
        match self.points_left.checked_sub(n) {
            Some(left) => {
                self.points_left = left;
                Ok(())
            }
            None => Err(MvtError::Limit(format!(
                "more than {} geometry vertices in the tile",
                self.max_points
            ))),
        }
    }
}

fn decode_owned(
    mut buf: Bytes,
    limits: &DecodeLimits,
    wanted: &dyn Fn(&str) -> bool,
) -> Result<Tile, MvtError> {
    check_size(buf.len(), limits)?;
    let mut tile = Tile::default();
    let mut budget = Budget {
        points_left: limits.max_total_points,
        max_points: limits.max_total_points,
        feature_points_left: limits.max_points_per_feature,
        max_feature_points: limits.max_points_per_feature,
        features_left: limits.max_total_features,
        dictionary_left: limits.max_dictionary_entries,
    };
    let mut layers_seen = 0usize;
    let mut names: HashSet<Vec<u8>> = HashSet::new();
    while buf.has_remaining() {
        let (tag, wire_type) = decode_key(&mut buf).map_err(pb)?;
        if tag != 3 {
            // Unknown fields and extensions (16…8191) are skipped.
            skip_field(wire_type, tag, &mut buf, DecodeContext::default()).map_err(pb)?;
            continue;
        }
        if wire_type != WireType::LengthDelimited {
            return Err(MvtError::Protobuf(format!(
                "Tile.layers has wire type {wire_type:?}, expected length-delimited"
            )));
        }
        let len = decode_varint(&mut buf).map_err(pb)?;
        if len > buf.remaining() as u64 {
            return Err(MvtError::Protobuf("truncated layer".into()));
        }
        let layer_bytes = buf.split_to(len as usize);
        layers_seen += 1;
        if layers_seen > limits.max_layers {
            return Err(MvtError::Limit(format!(
                "more than {} layers in the tile",
                limits.max_layers
            )));
        }

        let scan = scan_layer(&layer_bytes, layers_seen - 1)?;
        if let Some(name) = scan.name {
            if names.contains(name) {
                // Duplicate layer name (recoverable): the first layer wins.
                tile.dropped += 1;
                continue;
            }
        }
        let label = scan.label();
        if scan.features > limits.max_features_per_layer {
            return Err(MvtError::Limit(format!(
                "layer {label} has {} features, more than the limit of {}",
                scan.features, limits.max_features_per_layer
            )));
        }
        budget.features_left =
            budget
                .features_left
                .checked_sub(scan.features)
                .ok_or_else(|| {
                    MvtError::Limit(format!(
                        "more than {} features in the tile",
                        limits.max_total_features
                    ))
                })?;
        budget.dictionary_left = budget
            .dictionary_left
            .checked_sub(scan.dictionary)
            .ok_or_else(|| {
                MvtError::Limit(format!(
                    "more than {} keys and values in the tile",
                    limits.max_dictionary_entries
                ))
            })?;

        if let Some(name) = scan.name {
            let text = String::from_utf8_lossy(name);
            if !wanted(&text) {
                names.insert(name.to_vec());
                if scan.features > 0 {
                    tile.skipped.push(text.into_owned());
                }
                continue;
            }
        }
        // Sized up front from the scan (counts of data present, already checked).
        let mut layer = proto::Layer::default();
        layer.features.reserve_exact(scan.features);
        layer
            .merge(layer_bytes)
            .map_err(|e| MvtError::Protobuf(format!("layer {label}: {e}")))?;
        let layer = convert_layer(layer, &mut budget, &mut tile.dropped)?;
        names.insert(layer.name.as_bytes().to_vec());
        tile.layers.push(layer);
    }
    Ok(tile)
}

/// What a quick walk over a layer's fields (without decoding them) tells.
struct LayerScan<'a> {
    name: Option<&'a [u8]>,
    index: usize,
    features: usize,
    dictionary: usize,
}

impl LayerScan<'_> {
    /// How to name the layer in messages.
    fn label(&self) -> String {
        match self.name {
            Some(n) => format!("{:?}", String::from_utf8_lossy(n)),
            None => format!("#{}", self.index),
        }
    }
}

fn scan_layer(bytes: &[u8], index: usize) -> Result<LayerScan<'_>, MvtError> {
    let mut s = bytes;
    let mut scan = LayerScan {
        name: None,
        index,
        features: 0,
        dictionary: 0,
    };
    while !s.is_empty() {
        let (tag, wire_type) = decode_key(&mut s).map_err(pb)?;
        if tag == 1 && wire_type == WireType::LengthDelimited {
            let len = decode_varint(&mut s).map_err(pb)?;
            if len > s.len() as u64 {
                return Err(MvtError::Protobuf("truncated layer name".into()));
            }
            let (name, tail) = s.split_at(len as usize);
            scan.name = Some(name); // last one wins, as in protobuf
            s = tail;
            continue;
        }
        match tag {
            2 => scan.features += 1,
            3 | 4 => scan.dictionary += 1,
            _ => {}
        }
        skip_field(wire_type, tag, &mut s, DecodeContext::default()).map_err(pb)?;
    }
    Ok(scan)
}

fn convert_value(v: proto::Value) -> Option<Value> {
    let set = usize::from(v.string_value.is_some())
        + usize::from(v.float_value.is_some())
        + usize::from(v.double_value.is_some())
        + usize::from(v.int_value.is_some())
        + usize::from(v.uint_value.is_some())
        + usize::from(v.sint_value.is_some())
        + usize::from(v.bool_value.is_some());
    if set != 1 {
        return None;
    }
    Some(if let Some(s) = v.string_value {
        Value::String(s)
    } else if let Some(f) = v.float_value {
        Value::Number(f64::from(f))
    } else if let Some(d) = v.double_value {
        Value::Number(d)
    } else if let Some(i) = v.int_value.or(v.sint_value) {
        Value::Number(i as f64)
    } else if let Some(u) = v.uint_value {
        Value::Number(u as f64)
    } else {
        Value::Bool(v.bool_value.unwrap_or_default())
    })
}

fn convert_layer(
    pl: proto::Layer,
    budget: &mut Budget,
    dropped: &mut usize,
) -> Result<Layer, MvtError> {
    let name = pl
        .name
        .ok_or_else(|| MvtError::Invalid("a layer has no name".into()))?;
    let version = match pl.version {
        Some(v @ (1 | 2)) => v,
        Some(v) => {
            return Err(MvtError::Invalid(format!(
                "layer {name:?}: unsupported version {v} (only 1 and 2 exist)"
            )))
        }
        None => {
            return Err(MvtError::Invalid(format!(
                "layer {name:?}: the required version field is missing"
            )))
        }
    };
    let extent = pl.extent.unwrap_or(4096);
    if extent == 0 || extent > MAX_EXTENT {
        return Err(MvtError::Invalid(format!(
            "layer {name:?}: extent {extent} is out of range 1..={MAX_EXTENT}"
        )));
    }
    let mut values = Vec::with_capacity(pl.values.len());
    for (i, v) in pl.values.into_iter().enumerate() {
        values.push(convert_value(v).ok_or_else(|| {
            MvtError::Invalid(format!(
                "layer {name:?}: value {i} must have exactly one of the 7 value types"
            ))
        })?);
    }
    let keys = pl.keys;

    let mut features = Vec::with_capacity(pl.features.len());
    for (index, f) in pl.features.into_iter().enumerate() {
        let context = |e: MvtError| in_feature(e, &name, index);
        // Recoverable problems first: the feature is skipped and counted.
        // A missing type is proto2's default UNKNOWN (fixture 003 is byte-identical to 016).
        let geom_type = match f.r#type.map(proto::GeomType::try_from) {
            None | Some(Ok(proto::GeomType::Unknown)) => GeomType::Unknown,
            Some(Ok(proto::GeomType::Point)) => GeomType::Point,
            Some(Ok(proto::GeomType::Linestring)) => GeomType::LineString,
            Some(Ok(proto::GeomType::Polygon)) => GeomType::Polygon,
            Some(Err(_)) => {
                *dropped += 1;
                continue;
            }
        };
        if !f.geometry.is_present() || f.geometry.is_repeated_field() {
            *dropped += 1;
            continue;
        }
        let Some(tags) =
            decode_tags(f.tags.as_slice(), keys.len(), values.len()).map_err(context)?
        else {
            *dropped += 1;
            continue;
        };
        budget.feature_points_left = budget.max_feature_points;
        let mut cursor = GeomCursor::new(f.geometry.as_slice());
        let geometry = match geom_type {
            GeomType::Unknown => Some(Geometry::Unknown),
            GeomType::Point => {
                let points = decode_points(&mut cursor, budget).map_err(context)?;
                (!points.is_empty()).then_some(Geometry::Points(points))
            }
            GeomType::LineString => {
                let lines = decode_lines(&mut cursor, budget, version).map_err(context)?;
                (!lines.is_empty()).then_some(Geometry::Lines(lines))
            }
            GeomType::Polygon => {
                let rings = decode_rings(&mut cursor, budget, version).map_err(context)?;
                let polygons = classify_rings(rings, version);
                (!polygons.is_empty()).then_some(Geometry::Polygons(polygons))
            }
        };
        match geometry {
            Some(geometry) => features.push(Feature {
                id: f.id,
                geom_type,
                tags,
                geometry,
            }),
            // Degenerate: nothing drawable left.
            None => *dropped += 1,
        }
    }

    Ok(Layer {
        name,
        version,
        extent,
        keys,
        values,
        features,
    })
}

/// Prefixes an error with the layer and feature it concerns.
fn in_feature(e: MvtError, layer: &str, index: usize) -> MvtError {
    let at = |m: String| format!("layer {layer:?}, feature {index}: {m}");
    match e {
        MvtError::Invalid(m) => MvtError::Invalid(at(m)),
        MvtError::Protobuf(m) => MvtError::Protobuf(at(m)),
        other => other,
    }
}

/// Decodes packed tags into (key, value) index pairs, checking the indices (fatal if out of
/// range). `Ok(None)` for an odd count (recoverable: the feature is dropped).
fn decode_tags(
    data: &[u8],
    keys: usize,
    values: usize,
) -> Result<Option<Vec<(u32, u32)>>, MvtError> {
    let mut v = Varints::new(data);
    let mut tags = Vec::with_capacity(data.len() / 2);
    while let Some(k) = v.next()? {
        let Some(val) = v.next()? else {
            return Ok(None);
        };
        if k as usize >= keys {
            return Err(MvtError::Invalid(format!(
                "tag key index {k} is out of range ({keys} keys)"
            )));
        }
        if val as usize >= values {
            return Err(MvtError::Invalid(format!(
                "tag value index {val} is out of range ({values} values)"
            )));
        }
        tags.push((k, val));
    }
    Ok(Some(tags))
}

// ------------------------------------------------------------------------------------------
// Geometry
// ------------------------------------------------------------------------------------------

/// Packed varints, read as `uint32` (larger varints are truncated, as protobuf does).
#[derive(Clone, Copy)]
struct Varints<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Varints<'a> {
    fn new(data: &'a [u8]) -> Self {
        Varints { data, pos: 0 }
    }

    #[inline]
    fn next(&mut self) -> Result<Option<u32>, MvtError> {
        match self.data.get(self.pos) {
            None => Ok(None),
            Some(&b) if b < 0x80 => {
                self.pos += 1;
                Ok(Some(u32::from(b)))
            }
            Some(_) => self.next_slow().map(Some),
        }
    }

    #[cold]
    fn next_slow(&mut self) -> Result<u32, MvtError> {
        let mut value = 0u64;
        for i in 0..10 {
            let Some(&b) = self.data.get(self.pos + i) else {
                return Err(MvtError::Protobuf(
                    "truncated varint in a packed field".into(),
                ));
            };
            value |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                self.pos += i + 1;
                return Ok(value as u32);
            }
        }
        Err(MvtError::Protobuf(
            "varint longer than 10 bytes in a packed field".into(),
        ))
    }

    fn remaining_bytes(&self) -> usize {
        self.data.len() - self.pos
    }
}

/// A geometry command integer: id in the low 3 bits, count in the other 29.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
    MoveTo(u32),
    LineTo(u32),
    ClosePath(u32),
}

impl Command {
    fn parse(c: u32) -> Result<Command, MvtError> {
        let count = c >> 3;
        match c & 0x7 {
            1 => Ok(Command::MoveTo(count)),
            2 => Ok(Command::LineTo(count)),
            7 => Ok(Command::ClosePath(count)),
            id => Err(MvtError::Invalid(format!(
                "unknown geometry command id {id} (command integer {c})"
            ))),
        }
    }

    fn name(self) -> String {
        match self {
            Command::MoveTo(n) => format!("MoveTo({n})"),
            Command::LineTo(n) => format!("LineTo({n})"),
            Command::ClosePath(n) => format!("ClosePath({n})"),
        }
    }
}

/// Zigzag-decodes a `sint32` parameter.
#[inline]
fn zigzag(n: u32) -> i64 {
    i64::from(n >> 1) ^ -i64::from(n & 1)
}

/// Reads commands and parameters, keeping the cursor (in `i64`: deltas may overflow `i32`).
struct GeomCursor<'a> {
    v: Varints<'a>,
    x: i64,
    y: i64,
}

impl<'a> GeomCursor<'a> {
    fn new(data: &'a [u8]) -> Self {
        GeomCursor {
            v: Varints::new(data),
            x: 0,
            y: 0,
        }
    }

    fn command(&mut self) -> Result<Option<Command>, MvtError> {
        self.v.next()?.map(Command::parse).transpose()
    }

    fn peek_command(&self) -> Result<Option<Command>, MvtError> {
        let mut v = self.v;
        v.next()?.map(Command::parse).transpose()
    }

    /// Reads `count` vertices into `out`, skipping a vertex equal to the previous one when
    /// `dedupe`. Fails on too few parameters before allocating anything for them.
    fn read_points(
        &mut self,
        count: u32,
        budget: &mut Budget,
        out: &mut Vec<Point>,
        dedupe: bool,
    ) -> Result<(), MvtError> {
        let count = count as usize;
        // Each vertex takes at least two bytes: a larger claimed count cannot be satisfied.
        if count > self.v.remaining_bytes() / 2 {
            return Err(too_few_parameters());
        }
        budget.take_points(count)?;
        out.reserve(count);
        for _ in 0..count {
            let (Some(dx), Some(dy)) = (self.v.next()?, self.v.next()?) else {
                return Err(too_few_parameters());
            };
            self.x = self.x.wrapping_add(zigzag(dx));
            self.y = self.y.wrapping_add(zigzag(dy));
            let p = Point {
                x: self.x,
                y: self.y,
            };
            if !(dedupe && out.last() == Some(&p)) {
                out.push(p);
            }
        }
        Ok(())
    }
}

impl GeomCursor<'_> {
    /// Reads the vertex of a MoveTo(1) into a new path, sized for the LineTo that follows
    /// (bounded by the data present) plus a closing vertex.
    fn start_path(&mut self, budget: &mut Budget) -> Result<Vec<Point>, MvtError> {
        let mut ahead = self.v;
        let _ = (ahead.next()?, ahead.next()?);
        let capacity = match ahead.next()?.map(Command::parse) {
            Some(Ok(Command::LineTo(n))) => (n as usize).min(ahead.remaining_bytes() / 2) + 2,
            _ => 1,
        };
        let mut path = Vec::with_capacity(capacity);
        self.read_points(1, budget, &mut path, true)?;
        Ok(path)
    }

    /// Moves the cursor over `count` vertices without keeping them.
    fn skip_points(&mut self, count: u32, budget: &mut Budget) -> Result<(), MvtError> {
        if count as usize > self.v.remaining_bytes() / 2 {
            return Err(too_few_parameters());
        }
        budget.take_points(count as usize)?;
        for _ in 0..count {
            let (Some(dx), Some(dy)) = (self.v.next()?, self.v.next()?) else {
                return Err(too_few_parameters());
            };
            self.x = self.x.wrapping_add(zigzag(dx));
            self.y = self.y.wrapping_add(zigzag(dy));
        }
        Ok(())
    }
}

fn too_few_parameters() -> MvtError {
    MvtError::Invalid("geometry command count exceeds the parameters present".into())
}

fn unexpected(what: &str, cmd: Option<Command>) -> MvtError {
    MvtError::Invalid(match cmd {
        Some(c) => format!("{what}: unexpected {}", c.name()),
        None => format!("{what}: geometry ends early"),
    })
}

/// POINT geometry: one or more MoveTo(n ≥ 1).
fn decode_points(g: &mut GeomCursor<'_>, budget: &mut Budget) -> Result<Vec<Point>, MvtError> {
    let mut points = Vec::new();
    while let Some(cmd) = g.command()? {
        match cmd {
            Command::MoveTo(n) if n > 0 => g.read_points(n, budget, &mut points, false)?,
            other => return Err(unexpected("Point geometry", Some(other))),
        }
    }
    Ok(points)
}

/// The version 2 grammar: (MoveTo(1) LineTo(n ≥ 1))+ for lines, and
/// (MoveTo(1) LineTo(n ≥ 1) ClosePath(1))+ for rings.
fn decode_paths_strict(
    g: &mut GeomCursor<'_>,
    budget: &mut Budget,
    ring: bool,
    mut emit: impl FnMut(Vec<Point>, bool),
) -> Result<(), MvtError> {
    let what = if ring {
        "Polygon geometry"
    } else {
        "LineString geometry"
    };
    while let Some(cmd) = g.command()? {
        if cmd != Command::MoveTo(1) {
            return Err(unexpected(what, Some(cmd)));
        }
        let mut path = g.start_path(budget)?;
        match g.command()? {
            Some(Command::LineTo(n)) if n > 0 => g.read_points(n, budget, &mut path, true)?,
            other => return Err(unexpected(what, other)),
        }
        if ring {
            match g.command()? {
                Some(Command::ClosePath(1)) => {}
                Some(Command::ClosePath(n)) => {
                    return Err(MvtError::Invalid(format!(
                        "{what}: ClosePath count {n}, must be 1"
                    )))
                }
                other => return Err(unexpected(what, other)),
            }
        } else if let Some(Command::ClosePath(_)) = g.peek_command()? {
            return Err(MvtError::Invalid(format!(
                "{what}: ClosePath is allowed in a LineString only in version 1 layers"
            )));
        }
        emit(path, ring);
    }
    Ok(())
}

/// The version 1 grammar, as lenient as the reference reader (vector-tile-js) on what real
/// version 1 tiles contain: any ClosePath count closes the current path once, a ClosePath
/// without a current path is ignored, LineTo(0) and a MoveTo straight followed by ClosePath
/// or MoveTo give (degenerate) paths, MoveTo(n > 1) starts a path at its last vertex, and a
/// ring need not end with ClosePath. Still fatal: unknown commands, MoveTo(0), LineTo
/// without a current path, too few parameters.
fn decode_paths_lenient(
    g: &mut GeomCursor<'_>,
    budget: &mut Budget,
    what: &str,
    mut emit: impl FnMut(Vec<Point>, bool),
) -> Result<(), MvtError> {
    let mut current: Option<Vec<Point>> = None;
    while let Some(cmd) = g.command()? {
        match cmd {
            Command::MoveTo(n) if n > 0 => {
                if let Some(path) = current.take() {
                    emit(path, false);
                }
                // The earlier vertices would only be single-vertex (degenerate) paths.
                g.skip_points(n - 1, budget)?;
                current = Some(g.start_path(budget)?);
            }
            Command::LineTo(n) => match current.as_mut() {
                Some(path) => g.read_points(n, budget, path, true)?,
                None => return Err(unexpected(what, Some(cmd))),
            },
            Command::ClosePath(_) => {
                // Without a current path (geometry starting with ClosePath, or two in a row,
                // as in vector-tile-js's 12-1143-1497 fixture) it is a no-op.
                if let Some(path) = current.take() {
                    emit(path, true);
                }
            }
            Command::MoveTo(_) => return Err(unexpected(what, Some(cmd))),
        }
    }
    if let Some(path) = current {
        emit(path, false);
    }
    Ok(())
}

/// LINESTRING geometry (see [`decode_paths_strict`], [`decode_paths_lenient`]). A line that
/// ClosePath ended (version 1 only; fixture 061) repeats its first vertex, as vector-tile-js
/// does. Lines with fewer than two distinct vertices are dropped.
fn decode_lines(
    g: &mut GeomCursor<'_>,
    budget: &mut Budget,
    version: u32,
) -> Result<Vec<Vec<Point>>, MvtError> {
    let mut lines = Vec::new();
    let emit = |mut line: Vec<Point>, closed: bool| {
        if closed {
            let first = line[0];
            if line.last() != Some(&first) {
                line.push(first);
            }
        }
        if line.len() >= 2 {
            lines.push(line);
        }
    };
    if version == 1 {
        decode_paths_lenient(g, budget, "LineString geometry", emit)?;
    } else {
        decode_paths_strict(g, budget, false, emit)?;
    }
    Ok(lines)
}

/// A ring and twice its signed area (positive: clockwise in tile space, y down).
type Ring = (Vec<Point>, i128);

/// POLYGON geometry: the rings with a non-zero area, without a repeated closing vertex.
fn decode_rings(
    g: &mut GeomCursor<'_>,
    budget: &mut Budget,
    version: u32,
) -> Result<Vec<Ring>, MvtError> {
    let mut rings = Vec::new();
    let emit = |mut ring: Vec<Point>, _closed: bool| {
        while ring.len() > 1 && ring.last() == ring.first() {
            ring.pop();
        }
        let area = signed_area2(&ring);
        if area != 0 {
            rings.push((ring, area));
        }
    };
    if version == 1 {
        decode_paths_lenient(g, budget, "Polygon geometry", emit)?;
    } else {
        decode_paths_strict(g, budget, true, emit)?;
    }
    Ok(rings)
}

/// Twice the signed area of a ring (shoelace formula, implicit closing edge). Positive means
/// clockwise on screen (y down). Wrapping arithmetic: absurd coordinates give a meaningless
/// sign, never a panic.
fn signed_area2(ring: &[Point]) -> i128 {
    let Some(&last) = ring.last() else {
        return 0;
    };
    let mut prev = last;
    let mut sum = 0i128;
    for &p in ring {
        let term = i128::from(prev.x)
            .wrapping_mul(i128::from(p.y))
            .wrapping_sub(i128::from(p.x).wrapping_mul(i128::from(prev.y)));
        sum = sum.wrapping_add(term);
        prev = p;
    }
    sum
}

/// Groups rings into polygons. Version 2: a positive-area ring starts a polygon and the
/// negative-area rings after it are its holes (holes before any exterior are dropped).
/// Version 1 (winding may be either way): rings with the first ring's sign are exteriors, the
/// others holes. Output exteriors are clockwise and holes counter-clockwise (y down).
fn classify_rings(rings: Vec<Ring>, version: u32) -> Vec<Polygon> {
    let exterior_positive = match rings.first() {
        Some((_, area)) if version == 1 => *area > 0,
        _ => true,
    };
    let mut polygons: Vec<Polygon> = Vec::new();
    for (mut ring, area) in rings {
        let is_exterior = (area > 0) == exterior_positive;
        // Reverse in place but keep the starting vertex.
        let reverse = |ring: &mut Vec<Point>| {
            if let Some(tail) = ring.get_mut(1..) {
                tail.reverse();
            }
        };
        if is_exterior {
            if area < 0 {
                reverse(&mut ring);
            }
            polygons.push(Polygon {
                exterior: ring,
                holes: Vec::new(),
            });
        } else if let Some(polygon) = polygons.last_mut() {
            if area > 0 {
                reverse(&mut ring);
            }
            polygon.holes.push(ring);
        }
    }
    polygons
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(x: i64, y: i64) -> Point {
        Point { x, y }
    }

    fn zz(v: i32) -> u32 {
        ((v << 1) ^ (v >> 31)) as u32
    }

    fn cmd(id: u32, count: u32) -> u32 {
        (count << 3) | id
    }

    fn varints(values: &[u32]) -> Vec<u8> {
        let mut out = Vec::new();
        for &v in values {
            prost::encoding::encode_varint(u64::from(v), &mut out);
        }
        out
    }

    fn budget() -> Budget {
        Budget {
            points_left: 1000,
            max_points: 1000,
            feature_points_left: 1000,
            max_feature_points: 1000,
            features_left: 1000,
            dictionary_left: 1000,
        }
    }

    /// A ring command stream (MoveTo, LineTo(n-1), ClosePath) from absolute vertices,
    /// starting from cursor `from`.
    fn ring_cmds(from: &mut (i32, i32), pts: &[(i32, i32)]) -> Vec<u32> {
        let mut out = vec![cmd(1, 1)];
        for (i, &(x, y)) in pts.iter().enumerate() {
            if i == 1 {
                out.push(cmd(2, pts.len() as u32 - 1));
            }
            out.push(zz(x - from.0));
            out.push(zz(y - from.1));
            *from = (x, y);
        }
        out.push(cmd(7, 1));
        out
    }

    fn polygons(cmds: &[u32], version: u32) -> Result<Vec<Polygon>, MvtError> {
        let data = varints(cmds);
        let rings = decode_rings(&mut GeomCursor::new(&data), &mut budget(), version)?;
        Ok(classify_rings(rings, version))
    }

    #[test]
    fn zigzag_decoding() {
        assert_eq!(zigzag(0), 0);
        assert_eq!(zigzag(1), -1);
        assert_eq!(zigzag(2), 1);
        assert_eq!(zigzag(3), -2);
        assert_eq!(zigzag(50), 25);
        assert_eq!(zigzag(4294967294), i64::from(i32::MAX));
        assert_eq!(zigzag(4294967295), i64::from(i32::MIN));
        for v in [-100_000, -1, 0, 7, 123_456, i32::MIN, i32::MAX] {
            assert_eq!(zigzag(zz(v)), i64::from(v));
        }
    }

    #[test]
    fn command_parsing() {
        assert_eq!(Command::parse(9).unwrap(), Command::MoveTo(1));
        assert_eq!(Command::parse(18).unwrap(), Command::LineTo(2));
        assert_eq!(Command::parse(15).unwrap(), Command::ClosePath(1));
        assert_eq!(Command::parse(7).unwrap(), Command::ClosePath(0));
        assert_eq!(
            Command::parse(0xFFFF_FFF9).unwrap(),
            Command::MoveTo((1 << 29) - 1)
        );
        for bad in [0, 3, 4, 5, 6, 8, 11] {
            assert!(Command::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn varints_and_truncation() {
        let data = varints(&[1, 300, u32::MAX]);
        let mut v = Varints::new(&data);
        assert_eq!(v.next().unwrap(), Some(1));
        assert_eq!(v.next().unwrap(), Some(300));
        assert_eq!(v.next().unwrap(), Some(u32::MAX));
        assert_eq!(v.next().unwrap(), None);
        assert!(Varints::new(&[0x80]).next().is_err());
        assert!(Varints::new(&[0xff; 11]).next().is_err());
        // A 64-bit varint is truncated to 32 bits, as protobuf does for uint32.
        let big = [0x80, 0x80, 0x80, 0x80, 0x10];
        assert_eq!(Varints::new(&big).next().unwrap(), Some(0));
    }

    #[test]
    fn points_and_huge_counts() {
        let data = varints(&[cmd(1, 2), zz(5), zz(7), zz(-2), zz(-5)]);
        let pts = decode_points(&mut GeomCursor::new(&data), &mut budget()).unwrap();
        assert_eq!(pts, vec![p(5, 7), p(3, 2)]);
        // A claimed count far above the data fails without allocating for it.
        let data = varints(&[cmd(1, (1 << 29) - 1), 2, 2]);
        assert!(decode_points(&mut GeomCursor::new(&data), &mut budget()).is_err());
        // Half a vertex.
        let data = varints(&[cmd(1, 1), 50]);
        assert!(decode_points(&mut GeomCursor::new(&data), &mut budget()).is_err());
        // Point geometry must not contain LineTo / ClosePath / MoveTo(0).
        for bad in [vec![cmd(2, 1), 0, 0], vec![cmd(7, 1)], vec![cmd(1, 0)]] {
            let data = varints(&bad);
            assert!(decode_points(&mut GeomCursor::new(&data), &mut budget()).is_err());
        }
        // The vertex budget is enforced.
        let data = varints(&[cmd(1, 3), 0, 0, 2, 2, 2, 2]);
        let mut b = budget();
        b.points_left = 2;
        assert!(matches!(
            decode_points(&mut GeomCursor::new(&data), &mut b),
            Err(MvtError::Limit(_))
        ));
    }

    #[test]
    fn lines_version_rules() {
        // 061's geometry: a line closed with ClosePath.
        let closed = varints(&[9, 4, 4, 18, 0, 16, 16, 0, 7]);
        let v1 = decode_lines(&mut GeomCursor::new(&closed), &mut budget(), 1).unwrap();
        assert_eq!(v1, vec![vec![p(2, 2), p(2, 10), p(10, 10), p(2, 2)]]);
        assert!(decode_lines(&mut GeomCursor::new(&closed), &mut budget(), 2).is_err());
        // Version 1 ignores the ClosePath count (as vector-tile-js does).
        let closed_twice = varints(&[9, 4, 4, 18, 0, 16, 16, 0, cmd(7, 2)]);
        assert_eq!(
            decode_lines(&mut GeomCursor::new(&closed_twice), &mut budget(), 1).unwrap(),
            v1
        );
        // Version 1: MoveTo(2) starts the line at its last vertex; LineTo(0) is harmless.
        let data = varints(&[cmd(1, 2), 0, 0, 2, 2, cmd(2, 0), cmd(2, 1), 2, 2]);
        assert_eq!(
            decode_lines(&mut GeomCursor::new(&data), &mut budget(), 1).unwrap(),
            vec![vec![p(1, 1), p(2, 2)]]
        );
        // Version 1 still refuses LineTo without a MoveTo, and MoveTo(0).
        for bad in [vec![cmd(2, 1), 2, 2], vec![cmd(1, 0)]] {
            let data = varints(&bad);
            assert!(decode_lines(&mut GeomCursor::new(&data), &mut budget(), 1).is_err());
        }
        // Duplicate vertices are merged; a line collapsing to one vertex vanishes.
        let dup = varints(&[9, 4, 4, 18, 0, 16, 0, 0, 9, 0, 0, 10, 0, 0]);
        let lines = decode_lines(&mut GeomCursor::new(&dup), &mut budget(), 2).unwrap();
        assert_eq!(lines, vec![vec![p(2, 2), p(2, 10)]]);
        // MoveTo(2), LineTo(0), missing LineTo: invalid.
        for bad in [
            vec![cmd(1, 2), 0, 0, 2, 2, cmd(2, 1), 2, 2],
            vec![cmd(1, 1), 0, 0, cmd(2, 0)],
            vec![cmd(1, 1), 0, 0],
        ] {
            let data = varints(&bad);
            assert!(decode_lines(&mut GeomCursor::new(&data), &mut budget(), 2).is_err());
        }
    }

    #[test]
    fn winding_classification_v2() {
        let mut c = (0, 0);
        let mut cmds = ring_cmds(&mut c, &[(0, 0), (10, 0), (10, 10), (0, 10)]); // clockwise
        cmds.extend(ring_cmds(&mut c, &[(2, 2), (2, 8), (8, 8), (8, 2)])); // ccw: hole
        cmds.extend(ring_cmds(&mut c, &[(20, 20), (30, 20), (30, 30)])); // clockwise
        let polys = polygons(&cmds, 2).unwrap();
        assert_eq!(polys.len(), 2);
        assert_eq!(
            polys[0].exterior,
            vec![p(0, 0), p(10, 0), p(10, 10), p(0, 10)]
        );
        assert_eq!(
            polys[0].holes,
            vec![vec![p(2, 2), p(2, 8), p(8, 8), p(8, 2)]]
        );
        assert_eq!(polys[1].exterior, vec![p(20, 20), p(30, 20), p(30, 30)]);
        assert!(polys[1].holes.is_empty());
        for poly in &polys {
            assert!(signed_area2(&poly.exterior) > 0);
            assert!(poly.holes.iter().all(|h| signed_area2(h) < 0));
        }

        // A hole before any exterior is dropped; a zero-area ring too.
        let mut c = (0, 0);
        let mut cmds = ring_cmds(&mut c, &[(2, 2), (2, 8), (8, 8)]); // ccw first
        cmds.extend(ring_cmds(&mut c, &[(0, 0), (5, 0), (10, 0)])); // collinear
        cmds.extend(ring_cmds(&mut c, &[(0, 0), (10, 0), (10, 10)]));
        let polys = polygons(&cmds, 2).unwrap();
        assert_eq!(polys.len(), 1);
        assert_eq!(polys[0].exterior, vec![p(0, 0), p(10, 0), p(10, 10)]);
    }

    #[test]
    fn winding_classification_v1_relative_to_first_ring() {
        // Inverted winding throughout: the first ring is counter-clockwise.
        let mut c = (0, 0);
        let mut cmds = ring_cmds(&mut c, &[(0, 0), (0, 10), (10, 10), (10, 0)]); // ccw exterior
        cmds.extend(ring_cmds(&mut c, &[(2, 2), (8, 2), (8, 8), (2, 8)])); // cw hole
        cmds.extend(ring_cmds(&mut c, &[(20, 20), (20, 30), (30, 30)])); // ccw exterior
        let polys = polygons(&cmds, 1).unwrap();
        assert_eq!(polys.len(), 2);
        // Normalised: exterior clockwise (first vertex kept), hole counter-clockwise.
        assert_eq!(
            polys[0].exterior,
            vec![p(0, 0), p(10, 0), p(10, 10), p(0, 10)]
        );
        assert_eq!(
            polys[0].holes,
            vec![vec![p(2, 2), p(2, 8), p(8, 8), p(8, 2)]]
        );
        assert_eq!(polys[1].exterior, vec![p(20, 20), p(30, 30), p(20, 30)]);
        // The same stream read as version 2: ccw rings are holes, without an exterior.
        assert!(polygons(&cmds, 2).unwrap().len() == 1);
    }

    #[test]
    fn ring_closing_rules() {
        // An explicit closing vertex is removed.
        let mut c = (0, 0);
        let cmds = ring_cmds(&mut c, &[(0, 0), (10, 0), (10, 10), (0, 0)]);
        let polys = polygons(&cmds, 2).unwrap();
        assert_eq!(polys[0].exterior, vec![p(0, 0), p(10, 0), p(10, 10)]);
        // ClosePath count must be exactly 1; the ring must be closed.
        for close in [cmd(7, 2), cmd(7, 0)] {
            let bad = [cmd(1, 1), 0, 0, cmd(2, 2), 20, 0, 0, 20, close];
            assert!(polygons(&bad, 2).is_err());
        }
        assert!(polygons(&[cmd(1, 1), 0, 0, cmd(2, 2), 20, 0, 0, 20], 2).is_err());
        assert!(polygons(&[cmd(7, 1)], 2).is_err());
        // MoveTo straight followed by ClosePath: invalid in version 2.
        assert!(polygons(&[cmd(1, 1), 0, 0, cmd(7, 1)], 2).is_err());

        // Version 1 tolerates what real version 1 tiles contain (see vector-tile-js fixtures):
        // ClosePath(0) / ClosePath(2), a MoveTo+ClosePath stub ring, an unclosed last ring.
        let triangle = vec![p(0, 0), p(10, 0), p(10, 10)];
        for close in [cmd(7, 0), cmd(7, 1), cmd(7, 2)] {
            let ok = [cmd(1, 1), 0, 0, cmd(2, 2), 20, 0, 0, 20, close];
            assert_eq!(polygons(&ok, 1).unwrap()[0].exterior, triangle);
        }
        let stub_then_ring = [
            cmd(1, 1),
            0,
            0,
            cmd(7, 1),
            cmd(1, 1),
            0,
            0,
            cmd(2, 2),
            20,
            0,
            0,
            20,
        ];
        let polys = polygons(&stub_then_ring, 1).unwrap();
        assert_eq!(polys.len(), 1);
        assert_eq!(polys[0].exterior, triangle);
        // A leading ClosePath is ignored in version 1 (fatal in version 2, fixture 044).
        let leading_close = [
            cmd(7, 1),
            cmd(1, 1),
            0,
            0,
            cmd(2, 2),
            20,
            0,
            0,
            20,
            cmd(7, 1),
        ];
        assert_eq!(polygons(&leading_close, 1).unwrap()[0].exterior, triangle);
        assert!(polygons(&leading_close, 2).is_err());
        assert!(polygons(&[cmd(2, 1), 2, 2], 1).is_err());
    }

    #[test]
    fn layer_level_validation() {
        use prost::Message as _;
        let feature = proto::Feature {
            id: Some(1),
            tags: proto::Packed::from_values(&[0, 0]),
            r#type: Some(proto::GeomType::Point as i32),
            geometry: proto::Packed::from_values(&[9, 50, 34]),
        };
        let layer = proto::Layer {
            version: Some(2),
            name: Some("l".into()),
            features: vec![feature],
            keys: vec!["k".into()],
            values: vec![proto::Value {
                int_value: Some(-3),
                ..Default::default()
            }],
            extent: None,
        };
        let tile = |layers: Vec<proto::Layer>| proto::Tile { layers }.encode_to_vec();
        let limits = DecodeLimits::default();

        let t = decode(&tile(vec![layer.clone()]), &limits).unwrap();
        assert_eq!(t.layers[0].extent, 4096);
        assert_eq!(t.layers[0].values, vec![Value::Number(-3.0)]);
        assert_eq!(t.layers[0].features[0].tags, vec![(0, 0)]);
        assert_eq!(
            t.layers[0].features[0].geometry,
            Geometry::Points(vec![p(25, 17)])
        );

        for extent in [0, MAX_EXTENT + 1, u32::MAX] {
            let mut l = layer.clone();
            l.extent = Some(extent);
            assert!(matches!(
                decode(&tile(vec![l]), &limits),
                Err(MvtError::Invalid(_))
            ));
        }
        let mut l = layer.clone();
        l.values[0].bool_value = Some(true); // two value types
        assert!(matches!(
            decode(&tile(vec![l]), &limits),
            Err(MvtError::Invalid(_))
        ));

        let mut small = limits.clone();
        small.max_layers = 2;
        let three = tile(vec![layer.clone(), layer.clone(), layer.clone()]);
        assert!(matches!(decode(&three, &small), Err(MvtError::Limit(_))));
        let mut small = limits.clone();
        small.max_features_per_layer = 0;
        assert!(matches!(
            decode(&tile(vec![layer.clone()]), &small),
            Err(MvtError::Limit(_))
        ));
    }

    #[test]
    fn gzip_headers_and_members() {
        let raw = b"some bytes, some bytes, some bytes".to_vec();
        let deflated = miniz_oxide::deflate::compress_to_vec(&raw, 6);
        let member = |flags: u8, extra: &[u8]| {
            let mut g = vec![0x1f, 0x8b, 8, flags, 0, 0, 0, 0, 0, 3];
            g.extend_from_slice(extra);
            g.extend_from_slice(&deflated);
            g.extend_from_slice(&[0, 0, 0, 0]); // CRC (not checked)
            g.extend_from_slice(&(raw.len() as u32).to_le_bytes());
            g
        };
        let plain = member(0, &[]);
        assert_eq!(gunzip(&plain, 1 << 20).unwrap(), raw);
        // FEXTRA + FNAME + FCOMMENT + FHCRC.
        let fancy = member(
            0x04 | 0x08 | 0x10 | 0x02,
            b"\x02\x00ab name\0comment\0\xaa\xbb",
        );
        assert_eq!(gunzip(&fancy, 1 << 20).unwrap(), raw);
        // Two members concatenate; trailing garbage is ignored.
        let mut two = plain.clone();
        two.extend_from_slice(&plain);
        two.extend_from_slice(b"\0\0junk");
        assert_eq!(
            gunzip(&two, 1 << 20).unwrap(),
            [raw.clone(), raw.clone()].concat()
        );
        // Errors.
        assert!(matches!(gunzip(&plain, 10), Err(MvtError::Limit(_))));
        assert!(gunzip(&plain[..plain.len() - 3], 1 << 20).is_err());
        assert!(gunzip(&plain[..12], 1 << 20).is_err());
        assert!(gunzip(&member(0x20, &[]), 1 << 20).is_err());
        let mut wrong_size = plain.clone();
        let n = wrong_size.len();
        wrong_size[n - 4] ^= 1;
        assert!(gunzip(&wrong_size, 1 << 20).is_err());
        // zlib.
        let z = miniz_oxide::deflate::compress_to_vec_zlib(&raw, 6);
        assert_eq!(Compression::detect(&z), Compression::Zlib);
        assert_eq!(inflate_any(&z, 1 << 20).unwrap(), raw);
    }
}
