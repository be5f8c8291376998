//! Hand-written `prost` messages for `vector_tile.proto` 2.1 (no protoc, no build script).
//!
//! Every proto2 `optional`/`required` scalar is an `Option` so the decoder can tell "absent"
//! from "present with the default value" (version, extent, feature type all need that).
//!
//! [`Feature`] implements [`prost::Message`] by hand: its packed `tags` and `geometry` are kept
//! as zero-copy [`Bytes`] slices of the input (parsed later, straight into our types), and it
//! counts how often `geometry` occurs on the wire so that two geometry fields (a spec
//! violation the generated code would silently concatenate) can be detected.
//!
//! [`Tile`] documents the top-level message and is used to build test tiles; the decoder walks
//! the top level by hand so it can enforce limits before decoding each layer.

use prost::bytes::{Buf, BufMut, Bytes};
use prost::encoding::{self, DecodeContext, WireType};
use prost::DecodeError;

/// `Tile.GeomType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum GeomType {
    Unknown = 0,
    Point = 1,
    Linestring = 2,
    Polygon = 3,
}

/// `Tile.Value`: exactly one field must be set (checked by the decoder, not here).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Value {
    #[prost(string, optional, tag = "1")]
    pub string_value: Option<String>,
    #[prost(float, optional, tag = "2")]
    pub float_value: Option<f32>,
    #[prost(double, optional, tag = "3")]
    pub double_value: Option<f64>,
    #[prost(int64, optional, tag = "4")]
    pub int_value: Option<i64>,
    #[prost(uint64, optional, tag = "5")]
    pub uint_value: Option<u64>,
    #[prost(sint64, optional, tag = "6")]
    pub sint_value: Option<i64>,
    #[prost(bool, optional, tag = "7")]
    pub bool_value: Option<bool>,
}

/// `Tile.Layer`. `version` is proto2 `required` (default 1) and `extent` optional (default
/// 4096); both stay `Option` here so absence is visible.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Layer {
    #[prost(uint32, optional, tag = "15")]
    pub version: Option<u32>,
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    #[prost(message, repeated, tag = "2")]
    pub features: Vec<Feature>,
    #[prost(string, repeated, tag = "3")]
    pub keys: Vec<String>,
    #[prost(message, repeated, tag = "4")]
    pub values: Vec<Value>,
    #[prost(uint32, optional, tag = "5")]
    pub extent: Option<u32>,
}

/// `Tile`: `repeated Layer layers = 3`.
#[cfg_attr(not(test), allow(dead_code))]
#[derive(Clone, PartialEq, prost::Message)]
pub struct Tile {
    #[prost(message, repeated, tag = "3")]
    pub layers: Vec<Layer>,
}

/// A `repeated uint32 … [packed = true]` field kept as its raw varint bytes.
///
/// Every occurrence on the wire is appended in order (protobuf merge semantics), whether it
/// arrives packed (one length-delimited run) or unpacked (one varint per field).
#[derive(Clone, PartialEq, Default, Debug)]
pub struct Packed {
    /// The varints when the field came as a single packed run (zero-copy).
    run: Bytes,
    /// The varints when there was more than one occurrence (then `run` is empty).
    joined: Vec<u8>,
    /// Number of packed (length-delimited) runs seen.
    pub packed_runs: u32,
    /// Number of unpacked (single varint) elements seen.
    pub unpacked: u32,
}

impl Packed {
    /// Packed from raw varint bytes (one run), e.g. to build test messages.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn from_varint_bytes(bytes: impl Into<Bytes>) -> Packed {
        Packed {
            run: bytes.into(),
            joined: Vec::new(),
            packed_runs: 1,
            unpacked: 0,
        }
    }

    /// Packed holding `values` as one run.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn from_values(values: &[u32]) -> Packed {
        let mut v = Vec::with_capacity(values.len());
        for &x in values {
            encoding::encode_varint(u64::from(x), &mut v);
        }
        Packed::from_varint_bytes(v)
    }

    /// The concatenated varint bytes of every occurrence.
    pub fn as_slice(&self) -> &[u8] {
        if self.joined.is_empty() {
            &self.run
        } else {
            &self.joined
        }
    }

    /// Whether the field occurred at all (even as an empty packed run).
    pub fn is_present(&self) -> bool {
        self.packed_runs > 0 || self.unpacked > 0
    }

    /// Whether the field occurred more than once as a unit: several packed runs, or a packed
    /// run mixed with unpacked elements. (Purely unpacked encoding is one element per field
    /// and legitimate protobuf.)
    pub fn is_repeated_field(&self) -> bool {
        self.packed_runs > 1 || (self.packed_runs == 1 && self.unpacked > 0)
    }

    fn spill(&mut self) {
        if !self.run.is_empty() {
            self.joined.extend_from_slice(&self.run);
            self.run = Bytes::new();
        }
    }

    fn merge(
        &mut self,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        match wire_type {
            WireType::LengthDelimited => {
                let mut run = Bytes::new();
                encoding::bytes::merge(wire_type, &mut run, buf, ctx)?;
                if self.run.is_empty() && self.joined.is_empty() {
                    self.run = run;
                } else {
                    self.spill();
                    self.joined.extend_from_slice(&run);
                }
                self.packed_runs = self.packed_runs.saturating_add(1);
            }
            _ => {
                // Unpacked element; `uint64::merge` rejects any other wire type.
                let mut v = 0u64;
                encoding::uint64::merge(wire_type, &mut v, buf, ctx)?;
                self.spill();
                encoding::encode_varint(v, &mut self.joined);
                self.unpacked = self.unpacked.saturating_add(1);
            }
        }
        Ok(())
    }

    fn encoded_len(&self, tag: u32) -> usize {
        let data = self.as_slice();
        if !self.is_present() {
            return 0;
        }
        encoding::key_len(tag) + encoding::encoded_len_varint(data.len() as u64) + data.len()
    }

    fn encode(&self, tag: u32, buf: &mut impl BufMut) {
        if !self.is_present() {
            return;
        }
        let data = self.as_slice();
        encoding::encode_key(tag, WireType::LengthDelimited, buf);
        encoding::encode_varint(data.len() as u64, buf);
        buf.put_slice(data);
    }
}

/// `Tile.Feature`, with `tags` and `geometry` kept packed (see module docs).
#[derive(Clone, PartialEq, Default, Debug)]
pub struct Feature {
    /// `optional uint64 id = 1`.
    pub id: Option<u64>,
    /// `repeated uint32 tags = 2 [packed = true]`.
    pub tags: Packed,
    /// `optional GeomType type = 3` as the raw enum number (may be out of range).
    pub r#type: Option<i32>,
    /// `repeated uint32 geometry = 4 [packed = true]`.
    pub geometry: Packed,
}

impl prost::Message for Feature {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        if let Some(id) = self.id {
            encoding::uint64::encode(1, &id, buf);
        }
        self.tags.encode(2, buf);
        if let Some(t) = self.r#type {
            encoding::int32::encode(3, &t, buf);
        }
        self.geometry.encode(4, buf);
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        match tag {
            1 => encoding::uint64::merge(wire_type, self.id.get_or_insert(0), buf, ctx),
            2 => self.tags.merge(wire_type, buf, ctx),
            3 => encoding::int32::merge(wire_type, self.r#type.get_or_insert(0), buf, ctx),
            4 => self.geometry.merge(wire_type, buf, ctx),
            _ => encoding::skip_field(wire_type, tag, buf, ctx),
        }
    }

    fn encoded_len(&self) -> usize {
        self.id
            .map_or(0, |id| encoding::uint64::encoded_len(1, &id))
            + self.tags.encoded_len(2)
            + self
                .r#type
                .map_or(0, |t| encoding::int32::encoded_len(3, &t))
            + self.geometry.encoded_len(4)
    }

    fn clear(&mut self) {
        *self = Feature::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn feature_roundtrip_and_field_counting() {
        let f = Feature {
            id: Some(7),
            tags: Packed::from_values(&[0, 1]),
            r#type: Some(GeomType::Point as i32),
            geometry: Packed::from_values(&[9, 50, 34]),
        };
        let bytes = f.encode_to_vec();
        let g = Feature::decode(Bytes::from(bytes.clone())).unwrap();
        assert_eq!(g.id, Some(7));
        assert_eq!(g.tags.as_slice(), &[0, 1]);
        assert_eq!(g.geometry.as_slice(), &[9, 50, 34]);
        assert!(!g.geometry.is_repeated_field());

        // The same geometry field twice: concatenated, and flagged.
        let mut twice = bytes.clone();
        twice.extend_from_slice(&[0x22, 0x03, 9, 0, 0]);
        let g = Feature::decode(&twice[..]).unwrap();
        assert_eq!(g.geometry.as_slice(), &[9, 50, 34, 9, 0, 0]);
        assert!(g.geometry.is_repeated_field());

        // Unpacked geometry (one varint per field) is legitimate protobuf.
        let unpacked = [0x20, 9, 0x20, 50, 0x20, 34];
        let g = Feature::decode(&unpacked[..]).unwrap();
        assert_eq!(g.geometry.as_slice(), &[9, 50, 34]);
        assert!(g.geometry.is_present() && !g.geometry.is_repeated_field());

        // Wrong wire type for geometry (fixed32) is a decode error.
        assert!(Feature::decode(&[0x25, 0, 0, 0, 0][..]).is_err());
        // Truncated packed run.
        assert!(Feature::decode(&[0x22, 0x05, 9][..]).is_err());
    }
}
