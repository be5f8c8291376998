//! Mapbox Vector Tile 2.1 decoding with semantic validation.
//!
//! Coordinates are in *tile extent units*: (0,0) is the tile's top-left corner and
//! (extent, extent) its bottom-right; geometry may lie outside that square (the buffer).

mod decode;
mod proto;
pub mod reuse;

pub use decode::{decode, decode_bytes, decode_layers, DecodeLimits};

/// The geometry type a feature declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GeomType {
    Unknown,
    Point,
    LineString,
    Polygon,
}

impl GeomType {
    /// The name MapLibre's `$type` / `geometry-type` use.
    pub fn name(self) -> &'static str {
        match self {
            GeomType::Unknown => "Unknown",
            GeomType::Point => "Point",
            GeomType::LineString => "LineString",
            GeomType::Polygon => "Polygon",
        }
    }
}

/// A property value. MVT's int/uint/sint/float/double all become `Number`, as in MapLibre.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(String),
    Number(f64),
    Bool(bool),
}

/// A point in tile extent units (see module docs). `i64` because real and conformance tiles
/// carry coordinates that overflow `i32` after delta decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Point {
    pub x: i64,
    pub y: i64,
}

/// One polygon: an exterior ring and its holes. Rings are closed implicitly (the last point
/// is not repeated). The exterior is clockwise in tile space (y down), holes counter-clockwise.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Polygon {
    pub exterior: Vec<Point>,
    pub holes: Vec<Vec<Point>>,
}

/// Decoded geometry of one feature.
#[derive(Debug, Clone, PartialEq)]
pub enum Geometry {
    /// One or more points (a multipoint has several).
    Points(Vec<Point>),
    /// One or more line strings, each with at least two points.
    Lines(Vec<Vec<Point>>),
    /// One or more polygons.
    Polygons(Vec<Polygon>),
    /// A feature of type UNKNOWN: kept so counts stay right, never drawn.
    Unknown,
}

/// One feature. Property tags index into its layer's `keys` and `values`.
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    pub id: Option<u64>,
    pub geom_type: GeomType,
    /// Pairs of (key index, value index) into [`Layer::keys`] / [`Layer::values`]; validated.
    pub tags: Vec<(u32, u32)>,
    pub geometry: Geometry,
}

/// One layer of a tile.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    pub name: String,
    /// Layer version, 1 or 2.
    pub version: u32,
    /// Width and height of the tile in extent units (default 4096).
    pub extent: u32,
    pub keys: Vec<String>,
    pub values: Vec<Value>,
    pub features: Vec<Feature>,
}

/// A decoded tile.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Tile {
    pub layers: Vec<Layer>,
    /// Features or layers dropped as recoverable errors (counted, logged by the caller).
    pub dropped: usize,
    /// Names of the layers with features that were not decoded (not wanted by the caller).
    pub skipped: Vec<String>,
}

/// A feature together with its layer, the view styles evaluate against.
#[derive(Debug, Clone, Copy)]
pub struct FeatureRef<'a> {
    pub layer: &'a Layer,
    pub feature: &'a Feature,
}

impl<'a> FeatureRef<'a> {
    pub fn new(layer: &'a Layer, feature: &'a Feature) -> Self {
        FeatureRef { layer, feature }
    }

    pub fn geom_type(&self) -> GeomType {
        self.feature.geom_type
    }

    pub fn id(&self) -> Option<u64> {
        self.feature.id
    }

    /// The value of property `key`, if the feature has it.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        let layer = self.layer;
        self.feature
            .tags
            .iter()
            .find_map(|&(k, v)| (layer.keys[k as usize] == key).then(|| &layer.values[v as usize]))
    }

    /// All properties, in tag order.
    pub fn properties(&self) -> impl Iterator<Item = (&'a str, &'a Value)> + 'a {
        let layer = self.layer;
        self.feature
            .tags
            .iter()
            .map(move |&(k, v)| (layer.keys[k as usize].as_str(), &layer.values[v as usize]))
    }
}

/// Why a tile was refused as a whole.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MvtError {
    #[error("not a vector tile: {0}")]
    Protobuf(String),
    #[error("gzip: {0}")]
    Gzip(String),
    #[error("invalid tile: {0}")]
    Invalid(String),
    #[error("limit exceeded: {0}")]
    Limit(String),
}
