//! Tile → GeoJSON: one FeatureCollection per layer, keyed by layer name, in WGS84
//! longitude/latitude (the layout of Nextzen's `.json` tiles, which the ancestor served).

use serde_json::{json, Map, Value as Json};

use crate::mvt::{FeatureRef, Geometry, Point, Tile, Value};
use crate::TileId;

/// Serializes `tile` (whose data belongs to `data_tile`) as GeoJSON bytes.
pub fn tile_to_geojson(tile: &Tile, data_tile: TileId) -> Vec<u8> {
    let mut root = Map::new();
    for layer in &tile.layers {
        let n = f64::from(1u32 << data_tile.z.min(31));
        let extent = f64::from(layer.extent);
        // Extent units → (lon, lat), rounded to 7 decimals (~1 cm).
        let to_lonlat = |p: &Point| -> Json {
            let fx = (f64::from(data_tile.x) + p.x as f64 / extent) / n;
            let fy = (f64::from(data_tile.y) + p.y as f64 / extent) / n;
            let lon = fx * 360.0 - 180.0;
            let lat = libm::atan(libm::sinh(std::f64::consts::PI * (1.0 - 2.0 * fy))).to_degrees();
            json!([round7(lon), round7(lat)])
        };
        let ring = |points: &[Point], close: bool| -> Json {
            let mut coords: Vec<Json> = points.iter().map(to_lonlat).collect();
            if close {
                if let Some(first) = points.first() {
                    coords.push(to_lonlat(first));
                }
            }
            Json::Array(coords)
        };
        let mut features = Vec::with_capacity(layer.features.len());
        for feature in &layer.features {
            let geometry = match &feature.geometry {
                Geometry::Points(points) if points.len() == 1 => {
                    json!({"type": "Point", "coordinates": to_lonlat(&points[0])})
                }
                Geometry::Points(points) => {
                    json!({"type": "MultiPoint", "coordinates": ring(points, false)})
                }
                Geometry::Lines(lines) if lines.len() == 1 => {
                    json!({"type": "LineString", "coordinates": ring(&lines[0], false)})
                }
                Geometry::Lines(lines) => json!({
                    "type": "MultiLineString",
                    "coordinates": lines.iter().map(|l| ring(l, false)).collect::<Vec<_>>()
                }),
                Geometry::Polygons(polygons) => {
                    let rings = |p: &crate::mvt::Polygon| -> Json {
                        let mut rs = vec![ring(&p.exterior, true)];
                        // GeoJSON (RFC 7946) wants exteriors counter-clockwise in lon/lat, which
                        // is clockwise in tile space (y down): our decoded order already.
                        rs.extend(p.holes.iter().map(|h| ring(h, true)));
                        Json::Array(rs)
                    };
                    if polygons.len() == 1 {
                        json!({"type": "Polygon", "coordinates": rings(&polygons[0])})
                    } else {
                        json!({"type": "MultiPolygon", "coordinates": polygons.iter().map(rings).collect::<Vec<_>>()})
                    }
                }
                Geometry::Unknown => Json::Null,
            };
            let mut properties = Map::new();
            for (k, v) in FeatureRef::new(layer, feature).properties() {
                let v = match v {
                    Value::String(s) => Json::String(s.clone()),
                    Value::Bool(b) => Json::Bool(*b),
                    Value::Number(n) => number(*n),
                };
                properties.insert(k.to_string(), v);
            }
            let mut f = Map::new();
            f.insert("type".into(), Json::String("Feature".into()));
            if let Some(id) = feature.id {
                f.insert("id".into(), json!(id));
            }
            f.insert("geometry".into(), geometry);
            f.insert("properties".into(), Json::Object(properties));
            features.push(Json::Object(f));
        }
        root.insert(
            layer.name.clone(),
            json!({"type": "FeatureCollection", "features": features}),
        );
    }
    serde_json::to_vec(&Json::Object(root)).unwrap_or_default()
}

fn round7(v: f64) -> f64 {
    (v * 1e7).round() / 1e7
}

/// Whole numbers print as integers, as the source tile stored them.
fn number(n: f64) -> Json {
    if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        json!(n as i64)
    } else {
        serde_json::Number::from_f64(n)
            .map(Json::Number)
            .unwrap_or(Json::Null)
    }
}
