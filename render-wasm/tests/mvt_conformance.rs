//! Conformance and robustness of the MVT decoder (`rasterzen_render::mvt`).
//!
//! * Every fixture of the mvt-fixtures suite, with the expectation its `info.json` gives (and
//!   the few documented exceptions where the suite contradicts itself), cross-checked against
//!   the fixture's `tile.json` dump.
//! * Real tiles (Tilezen/Nextzen, Shortbread, vector-tile-js test tiles).
//! * Hostile input: random bytes, mutations, truncations, a gzip bomb, huge geometries,
//!   huge layer counts, bad extents.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rasterzen_render::mvt::{
    decode, decode_bytes, DecodeLimits, FeatureRef, GeomType, Geometry, Layer, MvtError, Point,
    Polygon, Tile, Value,
};
use serde_json::Value as Json;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/mvt-fixtures/fixtures")
}

fn tiles_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tiles")
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn fixture(id: &str) -> Vec<u8> {
    read(&fixtures_dir().join(id).join("tile.mvt"))
}

fn limits() -> DecodeLimits {
    DecodeLimits::default()
}

fn p(x: i64, y: i64) -> Point {
    Point { x, y }
}

fn pts(v: &[(i64, i64)]) -> Vec<Point> {
    v.iter().map(|&(x, y)| p(x, y)).collect()
}

fn kind(e: &MvtError) -> &'static str {
    match e {
        MvtError::Protobuf(_) => "protobuf",
        MvtError::Gzip(_) => "gzip",
        MvtError::Invalid(_) => "invalid",
        MvtError::Limit(_) => "limit",
    }
}

// ------------------------------------------------------------------------------------------
// A minimal protobuf writer, to build hostile tiles.
// ------------------------------------------------------------------------------------------

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn field_varint(out: &mut Vec<u8>, tag: u32, v: u64) {
    varint(out, u64::from(tag << 3));
    varint(out, v);
}

fn field_bytes(out: &mut Vec<u8>, tag: u32, bytes: &[u8]) {
    varint(out, u64::from(tag << 3 | 2));
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn packed(values: impl IntoIterator<Item = u32>) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        varint(&mut out, u64::from(v));
    }
    out
}

fn feature_msg(geom_type: u32, geometry: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    field_varint(&mut f, 3, u64::from(geom_type));
    field_bytes(&mut f, 4, geometry);
    f
}

fn layer_msg(
    name: &str,
    version: Option<u32>,
    extent: Option<u32>,
    features: &[Vec<u8>],
) -> Vec<u8> {
    let mut l = Vec::new();
    if let Some(v) = version {
        field_varint(&mut l, 15, u64::from(v));
    }
    field_bytes(&mut l, 1, name.as_bytes());
    for f in features {
        field_bytes(&mut l, 2, f);
    }
    if let Some(e) = extent {
        field_varint(&mut l, 5, u64::from(e));
    }
    l
}

fn tile_msg(layers: &[Vec<u8>]) -> Vec<u8> {
    let mut t = Vec::new();
    for l in layers {
        field_bytes(&mut t, 3, l);
    }
    t
}

fn zz(v: i64) -> u32 {
    ((v << 1) ^ (v >> 63)) as u32
}

fn cmd(id: u32, count: u32) -> u32 {
    (count << 3) | id
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut g = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    g.extend_from_slice(&miniz_oxide::deflate::compress_to_vec(data, 1));
    g.extend_from_slice(&[0, 0, 0, 0]); // CRC-32 (not checked by the decoder)
    g.extend_from_slice(&(data.len() as u32).to_le_bytes());
    g
}

// ------------------------------------------------------------------------------------------
// Invariants every decoded tile must satisfy.
// ------------------------------------------------------------------------------------------

fn area2(ring: &[Point]) -> i128 {
    let mut sum = 0i128;
    for (i, a) in ring.iter().enumerate() {
        let b = ring[(i + 1) % ring.len()];
        sum += i128::from(a.x) * i128::from(b.y) - i128::from(b.x) * i128::from(a.y);
    }
    sum
}

fn check_invariants(tile: &Tile) -> Result<(), String> {
    let mut names = std::collections::HashSet::new();
    for layer in &tile.layers {
        if !names.insert(layer.name.as_str()) {
            return Err(format!("duplicate layer {:?}", layer.name));
        }
        if !(layer.version == 1 || layer.version == 2) || layer.extent == 0 {
            return Err(format!("layer {:?}: version/extent", layer.name));
        }
        for (i, f) in layer.features.iter().enumerate() {
            let at = |m: &str| format!("layer {:?} feature {i}: {m}", layer.name);
            // Tags are validated: properties() must not panic.
            let _ = FeatureRef::new(layer, f).properties().count();
            match (&f.geometry, f.geom_type) {
                (Geometry::Points(v), GeomType::Point) if !v.is_empty() => {}
                (Geometry::Lines(lines), GeomType::LineString) if !lines.is_empty() => {
                    for line in lines {
                        if line.len() < 2 || line.windows(2).any(|w| w[0] == w[1]) {
                            return Err(at("degenerate line or repeated vertex"));
                        }
                    }
                }
                (Geometry::Polygons(polys), GeomType::Polygon) if !polys.is_empty() => {
                    for poly in polys {
                        for (ring, exterior) in std::iter::once((&poly.exterior, true))
                            .chain(poly.holes.iter().map(|h| (h, false)))
                        {
                            if ring.len() < 3 || ring.first() == ring.last() {
                                return Err(at("short ring or repeated closing vertex"));
                            }
                            let a = area2(ring);
                            if (exterior && a <= 0) || (!exterior && a >= 0) {
                                return Err(at("ring orientation"));
                            }
                        }
                    }
                }
                (Geometry::Unknown, GeomType::Unknown) => {}
                _ => return Err(at("geometry does not match its type or is empty")),
            }
        }
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// mvt-fixtures
// ------------------------------------------------------------------------------------------

struct Info {
    v1: bool,
    v2: bool,
    error: Option<String>,
}

fn read_info(dir: &Path) -> Info {
    let json: Json = serde_json::from_slice(&read(&dir.join("info.json"))).unwrap();
    let validity = &json["validity"];
    Info {
        v1: validity["v1"].as_bool().unwrap(),
        v2: validity["v2"].as_bool().unwrap(),
        error: validity["error"].as_str().map(str::to_string),
    }
}

type Check = fn(&Tile) -> Result<(), String>;

enum Expect {
    /// Decodes, nothing dropped, agrees with tile.json.
    Valid,
    /// Refused, with this error kind.
    Fatal(&'static str),
    /// Decodes; the check says how the problem was recovered from.
    Recoverable(Check),
}

fn ensure(cond: bool, msg: &str) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(msg.to_string())
    }
}

/// The single layer "hello" with no feature left and one item dropped.
fn one_feature_dropped(t: &Tile) -> Result<(), String> {
    ensure(
        t.layers.len() == 1 && t.layers[0].name == "hello",
        "one layer hello",
    )?;
    ensure(t.layers[0].features.is_empty(), "the feature is dropped")?;
    ensure(t.dropped == 1, "dropped == 1")
}

/// Per-fixture expectations for the recoverable fixtures, and documented exceptions.
fn expectation(id: &str, info: &Info) -> Expect {
    match id {
        // 003 (missing type, "recoverable") is byte-for-byte identical to 016 (type UNKNOWN,
        // valid): proto2 gives the default UNKNOWN. Recovery = the feature is kept as
        // Geometry::Unknown, which is never drawn.
        "003" => {
            return Expect::Recoverable(|t| {
                ensure(
                    t.dropped == 0 && t.layers.len() == 1,
                    "one layer, nothing dropped",
                )?;
                let f = &t.layers[0].features;
                ensure(f.len() == 1, "one feature")?;
                ensure(f[0].geom_type == GeomType::Unknown, "type UNKNOWN")?;
                ensure(f[0].geometry == Geometry::Unknown, "geometry Unknown")
            })
        }
        // missing geometry / odd tags / bad type enum / two geometry fields
        "004" | "005" | "006" | "030" => return Expect::Recoverable(one_feature_dropped),
        // Two layers named "hello": the first wins.
        "015" => {
            return Expect::Recoverable(|t| {
                ensure(
                    t.layers.len() == 1 && t.layers[0].name == "hello",
                    "one layer",
                )?;
                ensure(
                    t.layers[0].values == vec![Value::String("layer-one".into())],
                    "the first layer is kept",
                )?;
                ensure(t.dropped == 1, "dropped == 1")
            })
        }
        // Repeated vertex in a line: merged, the line is kept.
        "046" => {
            return Expect::Recoverable(|t| {
                ensure(t.dropped == 0, "nothing dropped")?;
                ensure(
                    t.layers[0].features[0].geometry
                        == Geometry::Lines(vec![pts(&[(2, 2), (2, 10)])]),
                    "line (2,2)-(2,10)",
                )
            })
        }
        // "Invalid" without an error kind: half a vertex is unreadable, hence fatal.
        "045" => return Expect::Fatal("invalid"),
        // 057 claims validity, but is 051 (fatal, "count too large") with other numbers:
        // MoveTo with count 2^29-1 and a single vertex. No decoder can accept one and refuse
        // the other; vtzero refuses both. We refuse both.
        "057" => return Expect::Fatal("invalid"),
        // 061 (v1-only) has no version field at all, exactly like 024 (missing version,
        // fatal). It is refused here; the version-1 behaviour it is about (ClosePath in a
        // LineString) is checked in `fixture_061_per_layer_version` with the version set.
        "061" => return Expect::Fatal("invalid"),
        _ => {}
    }
    match (info.v2, info.error.as_deref()) {
        (true, _) => Expect::Valid,
        (false, Some("fatal")) => Expect::Fatal(match id {
            // Wrong wire types: the protobuf layer refuses them.
            "007" | "008" | "010" | "013" => "protobuf",
            _ => "invalid",
        }),
        _ => panic!("fixture {id}: no expectation written for this invalid fixture"),
    }
}

/// Reference geometry decoding of tile.json's command integers (vector-tile-js style): the
/// paths, each a list of vertices, without any validation or normalisation.
fn reference_paths(geometry: &[u32]) -> Vec<Vec<Point>> {
    let (mut x, mut y) = (0i64, 0i64);
    let mut paths: Vec<Vec<Point>> = Vec::new();
    let mut i = 0;
    while i < geometry.len() {
        let (id, count) = (geometry[i] & 7, geometry[i] >> 3);
        i += 1;
        if id == 7 {
            continue;
        }
        for _ in 0..count {
            let zig = |n: u32| i64::from(n >> 1) ^ -i64::from(n & 1);
            x += zig(geometry[i]);
            y += zig(geometry[i + 1]);
            i += 2;
            if id == 1 {
                paths.push(Vec::new());
            }
            paths.last_mut().unwrap().push(p(x, y));
        }
    }
    paths
}

/// Whether `ring` is `reference` (closing vertex dropped) in either orientation.
fn same_ring(ring: &[Point], reference: &[Point]) -> bool {
    let mut r = reference.to_vec();
    if r.len() > 1 && r.first() == r.last() {
        r.pop();
    }
    if ring == r.as_slice() {
        return true;
    }
    if let Some(tail) = r.get_mut(1..) {
        tail.reverse();
    }
    ring == r.as_slice()
}

/// Compares a decoded (valid) fixture with its tile.json dump.
fn compare_with_json(tile: &Tile, json: &Json) -> Result<(), String> {
    let layers = json["layers"].as_array().cloned().unwrap_or_default();
    ensure(tile.layers.len() == layers.len(), "layer count")?;
    for (layer, jl) in tile.layers.iter().zip(&layers) {
        ensure(
            Some(layer.name.as_str()) == jl["name"].as_str(),
            "layer name",
        )?;
        ensure(
            u64::from(layer.version) == jl["version"].as_u64().unwrap_or(1),
            "layer version",
        )?;
        ensure(
            u64::from(layer.extent) == jl["extent"].as_u64().unwrap_or(4096),
            "layer extent",
        )?;
        let keys: Vec<&str> = jl["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap())
            .collect();
        ensure(layer.keys == keys, "keys")?;
        let values = jl["values"].as_array().unwrap();
        ensure(layer.values.len() == values.len(), "value count")?;
        for (v, jv) in layer.values.iter().zip(values) {
            let (ty, x) = jv.as_object().unwrap().iter().next().unwrap();
            let ok = match (ty.as_str(), v) {
                // (076's dump shows a numeric-looking string as a JSON number.)
                ("string_value", Value::String(s)) => match x.as_str() {
                    Some(js) => js == s,
                    None => x.is_number() && s.parse::<f64>().ok() == x.as_f64(),
                },
                ("bool_value", Value::Bool(b)) => x.as_bool() == Some(*b),
                ("float_value", Value::Number(n)) => f64::from(x.as_f64().unwrap() as f32) == *n,
                ("double_value", Value::Number(n)) => x.as_f64() == Some(*n),
                ("int_value" | "sint_value", Value::Number(n)) => x.as_i64().unwrap() as f64 == *n,
                ("uint_value", Value::Number(n)) => x.as_u64().unwrap() as f64 == *n,
                _ => false,
            };
            ensure(ok, &format!("value {jv} decoded as {v:?}"))?;
        }
        let features = jl["features"].as_array().unwrap();
        ensure(layer.features.len() == features.len(), "feature count")?;
        for (f, jf) in layer.features.iter().zip(features) {
            ensure(f.id == jf["id"].as_u64(), "feature id")?;
            let tags: Vec<u32> = jf["tags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_u64().unwrap() as u32)
                .collect();
            let pairs: Vec<(u32, u32)> = tags.chunks(2).map(|c| (c[0], c[1])).collect();
            ensure(f.tags == pairs, "feature tags")?;
            let geom: Vec<u32> = jf["geometry"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g.as_u64().unwrap() as u32)
                .collect();
            let paths = reference_paths(&geom);
            let ok = match (jf["type"].as_u64().unwrap_or(0), &f.geometry) {
                (0, Geometry::Unknown) => true,
                (1, Geometry::Points(points)) => paths.concat() == *points,
                (2, Geometry::Lines(lines)) => paths == *lines,
                (3, Geometry::Polygons(polys)) => {
                    let rings: Vec<&Vec<Point>> = polys
                        .iter()
                        .flat_map(|p| std::iter::once(&p.exterior).chain(&p.holes))
                        .collect();
                    rings.len() == paths.len()
                        && rings
                            .iter()
                            .zip(&paths)
                            .all(|(r, reference)| same_ring(r, reference))
                }
                _ => false,
            };
            ensure(
                ok,
                &format!("geometry {:?} vs commands {geom:?}", f.geometry),
            )?;
        }
    }
    Ok(())
}

#[test]
fn mvt_fixtures_conformance() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("mvt-fixtures directory")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 70, "found only {} fixtures", dirs.len());

    let mut rows = Vec::new();
    let mut failures = 0;
    let (mut valid, mut fatal, mut recoverable) = (0, 0, 0);
    for dir in &dirs {
        let id = dir.file_name().unwrap().to_string_lossy().to_string();
        let info = read_info(dir);
        let bytes = read(&dir.join("tile.mvt"));
        let expect = expectation(&id, &info);
        let result = decode(&bytes, &limits());
        // decode_bytes must agree on raw input.
        assert_eq!(result, decode_bytes(&bytes, &limits()), "fixture {id}");
        let (expected, verdict) = match (&expect, &result) {
            (Expect::Valid, Ok(t)) => {
                valid += 1;
                let json: Json = serde_json::from_slice(&read(&dir.join("tile.json"))).unwrap();
                let r = ensure(t.dropped == 0, "nothing dropped")
                    .and_then(|()| compare_with_json(t, &json))
                    .and_then(|()| check_invariants(t));
                ("valid", r)
            }
            (Expect::Fatal(k), Err(e)) => {
                fatal += 1;
                (
                    "fatal",
                    ensure(kind(e) == *k, &format!("expected a {k} error")),
                )
            }
            (Expect::Recoverable(check), Ok(t)) => {
                recoverable += 1;
                ("recoverable", check(t).and_then(|()| check_invariants(t)))
            }
            (Expect::Valid, Err(_)) => ("valid", Err("refused".into())),
            (Expect::Fatal(_), Ok(_)) => ("fatal", Err("accepted".into())),
            (Expect::Recoverable(_), Err(_)) => ("recoverable", Err("refused".into())),
        };
        let outcome = match &result {
            Ok(t) => format!("ok ({} layers, {} dropped)", t.layers.len(), t.dropped),
            Err(e) => format!("{}: {e}", kind(e)),
        };
        let info_text = format!(
            "v1={} v2={} {}",
            info.v1,
            info.v2,
            info.error
                .as_deref()
                .unwrap_or("")
                .chars()
                .take(11)
                .collect::<String>()
        );
        let mark = match &verdict {
            Ok(()) => "PASS".to_string(),
            Err(m) => {
                failures += 1;
                format!("FAIL: {m}")
            }
        };
        rows.push(format!(
            "{id} {expected:<12} {info_text:<28} {mark:<6} {outcome}"
        ));
    }
    let table = rows.join("\n");
    if failures > 0 {
        panic!("{failures} fixture(s) failed:\n{table}");
    }
    println!("{table}\nvalid {valid}, fatal {fatal}, recoverable {recoverable}");
}

#[test]
fn fixture_geometries_exact() {
    let geometry = |id: &str| {
        let t = decode(&fixture(id), &limits()).unwrap();
        assert_eq!(t.layers.len(), 1, "{id}");
        t.layers[0].features[0].geometry.clone()
    };
    let square = |a: i64, b: i64| Polygon {
        exterior: pts(&[(a, a), (b, a), (b, b), (a, b)]),
        holes: vec![],
    };
    assert_eq!(geometry("017"), Geometry::Points(pts(&[(25, 17)])));
    assert_eq!(
        geometry("018"),
        Geometry::Lines(vec![pts(&[(2, 2), (2, 10), (10, 10)])])
    );
    assert_eq!(
        geometry("019"),
        Geometry::Polygons(vec![Polygon {
            exterior: pts(&[(3, 6), (8, 12), (20, 34)]),
            holes: vec![],
        }])
    );
    assert_eq!(geometry("020"), Geometry::Points(pts(&[(5, 7), (3, 2)])));
    assert_eq!(
        geometry("021"),
        Geometry::Lines(vec![
            pts(&[(2, 2), (2, 10), (10, 10)]),
            pts(&[(1, 1), (3, 5)])
        ])
    );
    assert_eq!(
        geometry("022"),
        Geometry::Polygons(vec![
            square(0, 10),
            Polygon {
                exterior: pts(&[(11, 11), (20, 11), (20, 20), (11, 20)]),
                holes: vec![pts(&[(13, 13), (13, 17), (17, 17), (17, 13)])],
            },
        ])
    );
    // int32 overflow: accumulated in i64, no wrap-around.
    let max = i64::from(i32::MAX);
    assert_eq!(
        geometry("049"),
        Geometry::Lines(vec![pts(&[(max, 0), (max + 1, 1)])])
    );
    let min = i64::from(i32::MIN);
    assert_eq!(
        geometry("050"),
        Geometry::Lines(vec![pts(&[(0, min), (-1, min - 1)])])
    );
    assert_eq!(geometry("053"), Geometry::Polygons(vec![square(0, 4096)]));
    assert_eq!(geometry("054"), Geometry::Polygons(vec![square(-1, 4097)]));
    assert_eq!(geometry("055"), Geometry::Polygons(vec![square(1, 4095)]));
    assert_eq!(
        geometry("056"),
        Geometry::Polygons(vec![square(-200, 4296)])
    );
    // UNKNOWN features are kept, never interpreted.
    assert_eq!(geometry("016"), Geometry::Unknown);
    assert_eq!(geometry("039"), Geometry::Unknown);
}

#[test]
fn fixture_values_and_properties() {
    let t = decode(&fixture("038"), &limits()).unwrap();
    let layer = &t.layers[0];
    assert_eq!(
        layer.values,
        vec![
            Value::String("ello".into()),
            Value::Bool(true),
            Value::Number(6.0),
            Value::Number(1.23),
            Value::Number(f64::from(3.1f32)),
            Value::Number(-87948.0),
            Value::Number(87948.0),
        ]
    );
    let f = FeatureRef::new(layer, &layer.features[0]);
    assert_eq!(f.id(), Some(1));
    assert_eq!(f.geom_type(), GeomType::Point);
    assert_eq!(f.get("string_value"), Some(&Value::String("ello".into())));
    assert_eq!(f.get("sint_value"), Some(&Value::Number(-87948.0)));
    assert_eq!(f.properties().count(), 7);

    // 039: every default written explicitly (version 1, id 0, type UNKNOWN, extent 4096).
    let t = decode(&fixture("039"), &limits()).unwrap();
    let l = &t.layers[0];
    assert_eq!((l.version, l.extent), (1, 4096));
    assert_eq!(l.features[0].id, Some(0));
    // 002: no id; 009: extent absent → 4096.
    assert_eq!(
        decode(&fixture("002"), &limits()).unwrap().layers[0].features[0].id,
        None
    );
    assert_eq!(
        decode(&fixture("009"), &limits()).unwrap().layers[0].extent,
        4096
    );
    // 001: an empty buffer is an empty tile.
    assert_eq!(decode(&fixture("001"), &limits()).unwrap(), Tile::default());
    // 025: a layer without features.
    let t = decode(&fixture("025"), &limits()).unwrap();
    assert_eq!(t.layers.len(), 1);
    assert!(t.layers[0].features.is_empty());
    // 043: six features sharing a key.
    let t = decode(&fixture("043"), &limits()).unwrap();
    let l = &t.layers[0];
    let pois: Vec<_> = l
        .features
        .iter()
        .map(|f| FeatureRef::new(l, f).get("poi").cloned())
        .collect();
    assert_eq!(pois[1], Some(Value::String("water_fountain".into())));
    assert_eq!(pois.len(), 6);
}

/// Fixture 061 with its layer version made explicit (the fixture itself has none).
fn fixture_061_with_version(version: u8) -> Vec<u8> {
    let raw = fixture("061");
    assert_eq!(raw[0], 0x1a);
    let body = &raw[2..];
    assert_eq!(usize::from(raw[1]), body.len());
    let mut out = vec![0x1a, raw[1] + 2, 0x78, version];
    out.extend_from_slice(body);
    out
}

#[test]
fn fixture_061_per_layer_version() {
    // Version 1: ClosePath in a LineString (written as ClosePath(0)) closes the line.
    let t = decode(&fixture_061_with_version(1), &limits()).unwrap();
    assert_eq!(
        t.layers[0].features[0].geometry,
        Geometry::Lines(vec![pts(&[(2, 2), (2, 10), (10, 10), (2, 2)])])
    );
    // Version 2 forbids it.
    let e = decode(&fixture_061_with_version(2), &limits()).unwrap_err();
    assert!(matches!(e, MvtError::Invalid(_)), "{e}");
    // As shipped (no version field, like 024): refused.
    assert!(decode(&fixture("061"), &limits()).is_err());
    assert!(decode(&fixture("024"), &limits()).is_err());
}

// ------------------------------------------------------------------------------------------
// Real tiles
// ------------------------------------------------------------------------------------------

fn layer<'a>(t: &'a Tile, name: &str) -> &'a Layer {
    t.layers
        .iter()
        .find(|l| l.name == name)
        .unwrap_or_else(|| panic!("no layer {name:?}"))
}

#[test]
fn real_tile_nextzen() {
    let data = read(&tiles_dir().join("nextzen-10-301-384.mvt"));
    let t = decode_bytes(&data, &limits()).unwrap();
    check_invariants(&t).unwrap();
    assert_eq!(t.dropped, 0);
    let names: Vec<&str> = t.layers.iter().map(|l| l.name.as_str()).collect();
    for want in [
        "water",
        "buildings",
        "places",
        "transit",
        "pois",
        "boundaries",
        "roads",
        "earth",
        "landuse",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    assert!(t.layers.iter().all(|l| l.version == 1 && l.extent == 4096));
    let roads = layer(&t, "roads");
    assert!(roads.features.len() > 1000, "{}", roads.features.len());
    assert!(roads
        .features
        .iter()
        .all(|f| f.geom_type == GeomType::LineString));
    assert!(roads
        .features
        .iter()
        .all(|f| FeatureRef::new(roads, f).get("kind").is_some()));
    assert!(layer(&t, "water").features.len() > 100);
    assert!(layer(&t, "pois")
        .features
        .iter()
        .all(|f| f.geom_type == GeomType::Point));
    let total: usize = t.layers.iter().map(|l| l.features.len()).sum();
    assert!((2000..5000).contains(&total), "{total}");

    // The same tile gzipped and zlib-wrapped decodes the same.
    assert_eq!(decode_bytes(&gzip(&data), &limits()).unwrap(), t);
    let zlib = miniz_oxide::deflate::compress_to_vec_zlib(&data, 1);
    assert_eq!(decode_bytes(&zlib, &limits()).unwrap(), t);
}

#[test]
fn real_tile_shortbread() {
    let data = read(&tiles_dir().join("shortbread-berlin-14.mvt"));
    let t = decode_bytes(&data, &limits()).unwrap();
    check_invariants(&t).unwrap();
    assert_eq!(t.dropped, 0);
    assert_eq!(t.layers.len(), 13);
    assert!(t.layers.iter().all(|l| l.version == 2 && l.extent == 4096));
    let streets = layer(&t, "streets");
    assert!(streets.features.len() > 4000);
    assert!(streets.keys.iter().any(|k| k == "kind"));
    let buildings = layer(&t, "buildings");
    assert!(buildings.features.len() > 2000);
    assert!(buildings
        .features
        .iter()
        .all(|f| f.geom_type == GeomType::Polygon));
    for name in [
        "water_polygons",
        "land",
        "addresses",
        "place_labels",
        "street_labels",
    ] {
        assert!(!layer(&t, name).features.is_empty(), "{name}");
    }
}

#[test]
fn real_tiles_vector_tile_js() {
    let dir = tiles_dir().join("vector-tile-js");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pbf"))
        .collect();
    files.sort();
    assert!(files.len() >= 16, "{}", files.len());
    let mut decoded = std::collections::HashMap::new();
    for path in &files {
        // None of these is meant to be invalid (the zero-* files are empty tiles).
        let t = decode_bytes(&read(path), &limits())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        check_invariants(&t).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        decoded.insert(name, t);
    }
    let only = |name: &str| -> Geometry {
        let t = &decoded[name];
        assert_eq!(t.layers.len(), 1, "{name}");
        assert_eq!(t.layers[0].features.len(), 1, "{name}");
        t.layers[0].features[0].geometry.clone()
    };
    for zero in ["zero-line.pbf", "zero-point.pbf", "zero-polygon.pbf"] {
        assert!(decoded[zero].layers.is_empty());
    }
    assert!(matches!(only("multi-point.pbf"), Geometry::Points(v) if v.len() == 2));
    assert!(matches!(only("singleton-multi-point.pbf"), Geometry::Points(v) if v.len() == 1));
    assert!(matches!(only("multi-line.pbf"), Geometry::Lines(v) if v.len() == 2));
    assert!(matches!(only("singleton-multi-line.pbf"), Geometry::Lines(v) if v.len() == 1));
    assert!(matches!(only("multi-polygon.pbf"), Geometry::Polygons(v) if v.len() == 2));
    assert!(matches!(only("singleton-multi-polygon.pbf"), Geometry::Polygons(v) if v.len() == 1));
    assert!(matches!(only("multipolygon.pbf"), Geometry::Polygons(v) if v.len() == 2));
    // Version 1 tile with ClosePath(0) after each ring.
    assert!(
        matches!(only("multipolygon-with-closepath.pbf"), Geometry::Polygons(v) if v.len() == 2)
    );
    // One hole; stacked: two clockwise squares are two polygons.
    match only("polygon-with-inner.pbf") {
        Geometry::Polygons(v) => assert!(v.len() == 1 && v[0].holes.len() == 1),
        g => panic!("{g:?}"),
    }
    match only("stacked-multipolygon.pbf") {
        Geometry::Polygons(v) => assert!(v.len() == 2 && v.iter().all(|p| p.holes.is_empty())),
        g => panic!("{g:?}"),
    }
    // Old (version 1) Mapbox Streets tiles with the quirks of their encoder: ClosePath(2),
    // rings of a MoveTo and a ClosePath, geometry starting with ClosePath, zero-length lines.
    let t = &decoded["14-8801-5371.vector.pbf"];
    assert_eq!(t.layers.len(), 20);
    assert!(layer(t, "building").features.len() > 900);
    assert!(layer(t, "poi_label").features.len() > 500);
    let t = &decoded["12-1143-1497.vector.pbf"];
    assert_eq!(t.layers.len(), 3);
    assert_eq!(layer(t, "water").features.len(), 2);
    // 12 road features are single repeated vertices (zero-length lines): dropped, counted.
    assert_eq!(t.dropped, 12);
    let t = &decoded["lots-of-tags.vector.pbf"];
    let l = layer(t, "stuttgart-rails");
    assert!(l.keys.len() > 100 && l.features.len() > 100);
}

// ------------------------------------------------------------------------------------------
// Hostile input
// ------------------------------------------------------------------------------------------

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn empty_input_is_an_empty_tile() {
    assert_eq!(decode(&[], &limits()).unwrap(), Tile::default());
    assert_eq!(decode_bytes(&[], &limits()).unwrap(), Tile::default());
    assert_eq!(
        decode_bytes(&gzip(&[]), &limits()).unwrap(),
        Tile::default()
    );
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut ok = 0;
    for case in 0..1000 {
        let len = (rng.next() % 600) as usize;
        let mut data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        // Some cases start like a tile / a gzip file, to get past the first byte.
        match case % 4 {
            1 if len > 2 => data[0] = 0x1a,
            2 if len > 2 => {
                data[0] = 0x1f;
                data[1] = 0x8b;
            }
            _ => {}
        }
        if decode_bytes(&data, &limits()).is_ok() {
            ok += 1;
        }
        let _ = decode(&data, &limits());
    }
    assert!(ok < 1000);
}

#[test]
fn mutated_tiles_never_panic() {
    let sources = [
        read(&tiles_dir().join("vector-tile-js/12-1143-1497.vector.pbf")),
        fixture("022"),
        fixture("038"),
        fixture("043"),
    ];
    let mut rng = XorShift(42);
    for case in 0..2000 {
        let mut data = sources[case % sources.len()].clone();
        for _ in 0..1 + rng.next() % 4 {
            let i = (rng.next() as usize) % data.len();
            data[i] = match rng.next() % 3 {
                0 => rng.next() as u8,
                1 => data[i] ^ (1 << (rng.next() % 8)),
                _ => 0xff,
            };
        }
        if let Ok(t) = decode(&data, &limits()) {
            check_invariants(&t).unwrap_or_else(|e| panic!("case {case}: {e}"));
        }
    }
}

#[test]
fn every_truncation_never_panics() {
    // Every prefix of a real (version 1) tile and of its gzip file.
    let data = read(&tiles_dir().join("vector-tile-js/12-1143-1497.vector.pbf"));
    let full = decode(&data, &limits()).unwrap();
    let mut ok = 0;
    for n in 0..data.len() {
        if let Ok(t) = decode(&data[..n], &limits()) {
            check_invariants(&t).unwrap();
            assert!(t.layers.len() <= full.layers.len());
            ok += 1;
        }
    }
    assert!(ok < data.len());
    let gz = gzip(&data);
    for n in 2..gz.len() {
        assert!(
            decode_bytes(&gz[..n], &limits()).is_err(),
            "gzip prefix {n} accepted"
        );
    }
    // Strided prefixes of the large tiles.
    for name in ["nextzen-10-301-384.mvt", "shortbread-berlin-14.mvt"] {
        let data = read(&tiles_dir().join(name));
        for n in (0..data.len()).step_by(1999) {
            if let Ok(t) = decode(&data[..n], &limits()) {
                check_invariants(&t).unwrap();
            }
        }
    }
}

#[test]
fn gzip_bomb_fails_fast() {
    // 64 MiB + 1 zero bytes: one byte over the default limit.
    let size = (64 << 20) + 1;
    let zeros = vec![0u8; size];
    let bomb = gzip(&zeros);
    drop(zeros);
    assert!(bomb.len() < 1 << 20, "{}", bomb.len());
    let start = Instant::now();
    let e = decode_bytes(&bomb, &limits()).unwrap_err();
    assert!(matches!(e, MvtError::Limit(_)), "{e}");
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );

    // With a small limit the same bomb stops after 1 MiB of output.
    let mut small = limits();
    small.max_decompressed_bytes = 1 << 20;
    let start = Instant::now();
    let e = decode_bytes(&bomb, &small).unwrap_err();
    assert!(matches!(e, MvtError::Limit(_)), "{e}");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    // Also via zlib, and raw input over the limit.
    let zlib = miniz_oxide::deflate::compress_to_vec_zlib(&vec![0u8; 2 << 20], 1);
    assert!(matches!(
        decode_bytes(&zlib, &small),
        Err(MvtError::Limit(_))
    ));
    assert!(matches!(
        decode(&vec![0u8; (1 << 20) + 1], &small),
        Err(MvtError::Limit(_))
    ));
}

#[test]
fn huge_claimed_counts_do_not_allocate() {
    // MoveTo with count 2^29-1 and one vertex, in every geometry type.
    for ty in 1..=3 {
        let geometry = packed([cmd(1, (1 << 29) - 1), 2, 2]);
        let tile = tile_msg(&[layer_msg("l", Some(2), None, &[feature_msg(ty, &geometry)])]);
        assert!(matches!(
            decode(&tile, &limits()),
            Err(MvtError::Invalid(_))
        ));
        let tile = tile_msg(&[layer_msg("l", Some(1), None, &[feature_msg(ty, &geometry)])]);
        assert!(matches!(
            decode(&tile, &limits()),
            Err(MvtError::Invalid(_))
        ));
    }
    // LineTo with a huge count after a valid MoveTo.
    let geometry = packed([cmd(1, 1), 0, 0, cmd(2, (1 << 29) - 1), 2, 2, 4, 4]);
    let tile = tile_msg(&[layer_msg("l", Some(2), None, &[feature_msg(2, &geometry)])]);
    assert!(matches!(
        decode(&tile, &limits()),
        Err(MvtError::Invalid(_))
    ));
}

#[test]
fn millions_of_commands_are_bounded() {
    // 3 million MoveTo(1) commands in one point feature (9 MB of geometry).
    let n = 3_000_000u32;
    let geometry = packed((0..n).flat_map(|i| [cmd(1, 1), zz(i64::from(i % 2) * 2 - 1), 0]));
    let tile = tile_msg(&[layer_msg("l", Some(2), None, &[feature_msg(1, &geometry)])]);
    let t = decode(&tile, &limits()).unwrap();
    assert!(
        matches!(&t.layers[0].features[0].geometry, Geometry::Points(v) if v.len() == n as usize)
    );
    drop(t);
    // A vertex budget below that: refused with a limit.
    let mut small = limits();
    small.max_total_points = 1_000_000;
    assert!(matches!(decode(&tile, &small), Err(MvtError::Limit(_))));

    // A line of 2 million vertices in a version 2 layer decodes.
    let geometry = packed(
        [cmd(1, 1), 0, 0, cmd(2, 2_000_000)]
            .into_iter()
            .chain((0..2_000_000).flat_map(|_| [zz(1), zz(1)])),
    );
    let tile = tile_msg(&[layer_msg("l", Some(2), None, &[feature_msg(2, &geometry)])]);
    let t = decode(&tile, &limits()).unwrap();
    assert!(
        matches!(&t.layers[0].features[0].geometry, Geometry::Lines(v) if v[0].len() == 2_000_001)
    );
    drop(t);

    // A million no-op ClosePath commands in a version 1 polygon: bounded work, nothing drawn.
    let geometry = packed(std::iter::repeat_n(cmd(7, 1), 1_000_000));
    let tile = tile_msg(&[layer_msg("l", Some(1), None, &[feature_msg(3, &geometry)])]);
    let t = decode(&tile, &limits()).unwrap();
    assert!(t.layers[0].features.is_empty());
    assert_eq!(t.dropped, 1);
}

#[test]
fn layer_and_feature_counts_are_limited() {
    // 100 000 empty layers: the first has no name, which is fatal.
    let empty = [0x1a, 0x00].repeat(100_000);
    assert!(matches!(
        decode(&empty, &limits()),
        Err(MvtError::Invalid(_))
    ));
    // 100 000 minimal named layers: over max_layers.
    let layers: Vec<Vec<u8>> = (0..100_000)
        .map(|i| layer_msg(&format!("l{i}"), Some(2), None, &[]))
        .collect();
    let tile = tile_msg(&layers);
    let start = Instant::now();
    assert!(matches!(decode(&tile, &limits()), Err(MvtError::Limit(_))));
    assert!(start.elapsed() < Duration::from_secs(5));
    // With the limit raised they decode, each name kept once.
    let mut many = limits();
    many.max_layers = 100_000;
    assert_eq!(decode(&tile, &many).unwrap().layers.len(), 100_000);
    // The same name 100 000 times: the first kept, the rest dropped.
    let same = tile_msg(&vec![layer_msg("x", Some(2), None, &[]); 100_000]);
    let t = decode(&same, &many).unwrap();
    assert_eq!((t.layers.len(), t.dropped), (1, 99_999));

    // 300 000 empty features in one layer: over max_features_per_layer, before decoding.
    let features = vec![Vec::new(); 300_000];
    let tile = tile_msg(&[layer_msg("l", Some(2), None, &features)]);
    assert!(matches!(decode(&tile, &limits()), Err(MvtError::Limit(_))));
    // Total features over several layers.
    let mut few = limits();
    few.max_total_features = 250_000;
    let half = vec![Vec::new(); 150_000];
    let tile = tile_msg(&[
        layer_msg("a", Some(2), None, &half),
        layer_msg("b", Some(2), None, &half),
    ]);
    assert!(matches!(decode(&tile, &few), Err(MvtError::Limit(_))));
    // Keys and values.
    let mut l = layer_msg("l", Some(2), None, &[]);
    for _ in 0..1000 {
        field_bytes(&mut l, 3, b"k");
    }
    let mut tiny = limits();
    tiny.max_dictionary_entries = 999;
    assert!(matches!(
        decode(&tile_msg(&[l]), &tiny),
        Err(MvtError::Limit(_))
    ));
}

#[test]
fn bad_extents_are_fatal() {
    let point = feature_msg(1, &packed([cmd(1, 1), 50, 34]));
    for extent in [0u32, 1 << 31, u32::MAX] {
        let tile = tile_msg(&[layer_msg(
            "l",
            Some(2),
            Some(extent),
            std::slice::from_ref(&point),
        )]);
        assert!(
            matches!(decode(&tile, &limits()), Err(MvtError::Invalid(_))),
            "extent {extent}"
        );
    }
    for extent in [1u32, 256, 512, 4096, 8192, 65536] {
        let tile = tile_msg(&[layer_msg(
            "l",
            Some(2),
            Some(extent),
            std::slice::from_ref(&point),
        )]);
        assert_eq!(decode(&tile, &limits()).unwrap().layers[0].extent, extent);
    }
}
