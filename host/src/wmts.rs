//! WMTS 1.0.0 GetCapabilities (RESTful binding, OGC 07-057r7) for `GET /wmts.xml`, so QGIS,
//! ArcGIS and GDAL add the raster tiles as a layer.
//!
//! One layer (the source drawn with the requested style), one tile matrix set in EPSG:3857
//! whose levels are the service's zooms (minzoom to the overzoom limit), a `ResourceURL`
//! template per image format pointing at `/png`, `/webp` and `/jpg`.
//!
//! The tile matrix set: with 256-px tiles it is OGC's well-known `GoogleMapsCompatible`
//! (Annex E.4: level 0 is one 256-px tile at scale 1 : 559 082 264.0287178). Tiles of any
//! other pixel size (512, or @2x) cover the same ground at the same zoom, so each level has
//! the same matrix size and corner but a smaller scale denominator; such a set is named
//! `GoogleMapsCompatible_{N}` and does not claim the well-known scale set, which is defined
//! for 256-px tiles only.

use rasterzen_render::encode::Encoding;

/// Half the Web Mercator world's width in metres (π · 6 378 137).
pub const HALF_WORLD_M: f64 = 20_037_508.342_789_244;

/// OGC's standardized rendering pixel size, in metres (WMTS 1.0.0 §6.1: 0.28 mm).
pub const PIXEL_M: f64 = 0.000_28;

/// The scale denominator of zoom `z` with tiles of `tile_px` pixels: the ground size of one
/// pixel (the world's width in metres over its width in pixels) divided by 0.28 mm.
pub fn scale_denominator(z: u8, tile_px: u32) -> f64 {
    2.0 * HALF_WORLD_M / (f64::from(tile_px) * 2f64.powi(i32::from(z))) / PIXEL_M
}

/// Longitude, latitude (degrees) to EPSG:3857 metres; latitude clamped to Mercator's range.
pub fn to_mercator(lon: f64, lat: f64) -> (f64, f64) {
    let lat = lat.clamp(-85.051_128_779_806_6, 85.051_128_779_806_6);
    let x = lon / 180.0 * HALF_WORLD_M;
    let y = (std::f64::consts::FRAC_PI_4 + lat.to_radians() / 2.0)
        .tan()
        .ln()
        / std::f64::consts::PI
        * HALF_WORLD_M;
    (x, y)
}

/// The tiles of zoom `z` that overlap `bounds` (west, south, east, north in degrees), as
/// (min col, max col, min row, max row), rows counted from the north as in XYZ and WMTS.
/// Edges touching a tile do not count, as in the service's own bounds check.
pub fn tile_range(bounds: [f64; 4], z: u8) -> (u32, u32, u32, u32) {
    let n = 2f64.powi(i32::from(z));
    let max = (1u64 << z) as f64 - 1.0;
    let [w, s, e, nth] = bounds;
    let col = |lon: f64| (lon + 180.0) / 360.0 * n;
    let row = |lat: f64| {
        let (_, y) = to_mercator(0.0, lat);
        (1.0 - y / HALF_WORLD_M) / 2.0 * n
    };
    let clamp = |v: f64| v.clamp(0.0, max);
    let min_col = clamp(col(w).floor());
    let max_col = clamp(col(e).ceil() - 1.0).max(min_col);
    let min_row = clamp(row(nth).floor());
    let max_row = clamp(row(s).ceil() - 1.0).max(min_row);
    (
        min_col as u32,
        max_col as u32,
        min_row as u32,
        max_row as u32,
    )
}

/// What the capabilities document describes.
#[derive(Debug, Clone)]
pub struct Capabilities<'a> {
    /// The service's base URL, no trailing slash (`http://127.0.0.1:8080`).
    pub base: &'a str,
    /// The query every tile URL carries (`style=…&api_key=…`), not escaped; empty for none.
    pub query: &'a str,
    /// The layer's identifier (letters, digits, `_`, `-`, `.`).
    pub layer: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    /// West, south, east, north in degrees (WGS 84).
    pub bounds: [f64; 4],
    pub minzoom: u8,
    /// The deepest level: the source's maxzoom plus the overzoom levels.
    pub maxzoom: u8,
    /// Tile edge in CSS pixels (256 or 512).
    pub tile_size: u32,
    /// Device pixel ratio (1, or 2 for `@2x` tiles).
    pub scale: u32,
    /// The formats offered, the first being the default (first `ResourceURL`).
    pub formats: &'a [Encoding],
}

impl Capabilities<'_> {
    /// Tile edge in pixels as served.
    pub fn tile_px(&self) -> u32 {
        self.tile_size * self.scale
    }

    /// The tile matrix set's identifier.
    pub fn matrix_set(&self) -> String {
        match self.tile_px() {
            256 => "GoogleMapsCompatible".to_string(),
            px => format!("GoogleMapsCompatible_{px}"),
        }
    }

    /// The document.
    pub fn to_xml(&self) -> String {
        use std::fmt::Write as _;
        let mut x = String::with_capacity(16 << 10);
        let set = self.matrix_set();
        let px = self.tile_px();
        let [w, s, e, n] = self.bounds;
        // The EPSG:3857 box is the bounds' tiles at the deepest level: GDAL takes its raster
        // grid from this box, and a box on tile edges puts every level's pixels on the tiles'
        // pixels (a read of one tile's ground is then that tile, not a resampling of it).
        let (c0, c1, r0, r1) = tile_range(self.bounds, self.maxzoom);
        let tile_m = 2.0 * HALF_WORLD_M / 2f64.powi(i32::from(self.maxzoom));
        let mw = -HALF_WORLD_M + f64::from(c0) * tile_m;
        let me = -HALF_WORLD_M + f64::from(c1 + 1) * tile_m;
        let mn = HALF_WORLD_M - f64::from(r0) * tile_m;
        let ms = HALF_WORLD_M - f64::from(r1 + 1) * tile_m;
        let base = esc(self.base);
        let _ = write!(
            x,
            r#"<?xml version="1.0" encoding="UTF-8"?>
<Capabilities xmlns="http://www.opengis.net/wmts/1.0" xmlns:ows="http://www.opengis.net/ows/1.1" xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:gml="http://www.opengis.net/gml" xsi:schemaLocation="http://www.opengis.net/wmts/1.0 http://schemas.opengis.net/wmts/1.0/wmtsGetCapabilities_response.xsd" version="1.0.0">
  <ows:ServiceIdentification>
    <ows:Title>{title}</ows:Title>
    <ows:ServiceType>OGC WMTS</ows:ServiceType>
    <ows:ServiceTypeVersion>1.0.0</ows:ServiceTypeVersion>
  </ows:ServiceIdentification>
  <Contents>
    <Layer>
      <ows:Title>{title}</ows:Title>
      <ows:Abstract>{description}</ows:Abstract>
      <ows:WGS84BoundingBox crs="urn:ogc:def:crs:OGC:2:84">
        <ows:LowerCorner>{w} {s}</ows:LowerCorner>
        <ows:UpperCorner>{e} {n}</ows:UpperCorner>
      </ows:WGS84BoundingBox>
      <ows:Identifier>{layer}</ows:Identifier>
      <ows:BoundingBox crs="urn:ogc:def:crs:EPSG::3857">
        <ows:LowerCorner>{mw} {ms}</ows:LowerCorner>
        <ows:UpperCorner>{me} {mn}</ows:UpperCorner>
      </ows:BoundingBox>
      <Style isDefault="true">
        <ows:Identifier>default</ows:Identifier>
      </Style>
"#,
            title = esc(self.title),
            description = esc(self.description),
            layer = esc(self.layer),
        );
        for f in self.formats {
            let _ = writeln!(x, "      <Format>{}</Format>", f.content_type());
        }
        let _ = write!(
            x,
            "      <TileMatrixSetLink>\n        <TileMatrixSet>{set}</TileMatrixSet>\n        <TileMatrixSetLimits>\n"
        );
        for z in self.minzoom..=self.maxzoom {
            let (c0, c1, r0, r1) = tile_range(self.bounds, z);
            let _ = write!(
                x,
                "          <TileMatrixLimits>\n            <TileMatrix>{z}</TileMatrix>\n            <MinTileRow>{r0}</MinTileRow>\n            <MaxTileRow>{r1}</MaxTileRow>\n            <MinTileCol>{c0}</MinTileCol>\n            <MaxTileCol>{c1}</MaxTileCol>\n          </TileMatrixLimits>\n"
            );
        }
        x.push_str("        </TileMatrixSetLimits>\n      </TileMatrixSetLink>\n");
        let retina = if self.scale == 2 { "@2x" } else { "" };
        let query = if self.query.is_empty() {
            String::new()
        } else {
            format!("?{}", esc(self.query))
        };
        for f in self.formats {
            let ext = f.extension();
            let _ = writeln!(
                x,
                r#"      <ResourceURL format="{}" resourceType="tile" template="{base}/{ext}/{{TileMatrix}}/{{TileCol}}/{{TileRow}}{retina}.{ext}{query}"/>"#,
                f.content_type()
            );
        }
        let _ = write!(
            x,
            "    </Layer>\n    <TileMatrixSet>\n      <ows:Identifier>{set}</ows:Identifier>\n      <ows:SupportedCRS>urn:ogc:def:crs:EPSG::3857</ows:SupportedCRS>\n"
        );
        if px == 256 {
            x.push_str("      <WellKnownScaleSet>urn:ogc:def:wkss:OGC:1.0:GoogleMapsCompatible</WellKnownScaleSet>\n");
        }
        for z in self.minzoom..=self.maxzoom {
            let size = 1u64 << z;
            let _ = write!(
                x,
                "      <TileMatrix>\n        <ows:Identifier>{z}</ows:Identifier>\n        <ScaleDenominator>{}</ScaleDenominator>\n        <TopLeftCorner>{} {}</TopLeftCorner>\n        <TileWidth>{px}</TileWidth>\n        <TileHeight>{px}</TileHeight>\n        <MatrixWidth>{size}</MatrixWidth>\n        <MatrixHeight>{size}</MatrixHeight>\n      </TileMatrix>\n",
                scale_denominator(z, px),
                -HALF_WORLD_M,
                HALF_WORLD_M
            );
        }
        let _ = write!(
            x,
            "    </TileMatrixSet>\n  </Contents>\n  <ServiceMetadataURL xlink:href=\"{base}/wmts.xml{query}\"/>\n</Capabilities>\n"
        );
        x
    }
}

/// A layer identifier from a source name: `[A-Za-z0-9_.-]`, anything else `_`.
pub fn layer_id(name: &str) -> String {
    let id: String = name
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if id.is_empty() {
        "rasterzen".into()
    } else {
        id
    }
}

/// XML text and attribute escaping.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters are not allowed in XML 1.0 at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: &str = "http://www.opengis.net/wmts/1.0";
    const OWS: &str = "http://www.opengis.net/ows/1.1";

    fn caps(tile_size: u32, scale: u32) -> String {
        Capabilities {
            base: "http://h:1",
            query: "style=light&api_key=a<b",
            layer: "firenze",
            title: "Firenze & co",
            description: "tiles",
            bounds: [11.15, 43.72, 11.35, 43.83],
            minzoom: 0,
            maxzoom: 20,
            tile_size,
            scale,
            formats: &[Encoding::Png, Encoding::Webp, Encoding::Jpeg],
        }
        .to_xml()
    }

    fn child<'a, 'i>(n: roxmltree::Node<'a, 'i>, ns: &str, name: &str) -> roxmltree::Node<'a, 'i> {
        n.children()
            .find(|c| c.has_tag_name((ns, name)))
            .unwrap_or_else(|| panic!("no {name} under {:?}", n.tag_name()))
    }

    fn text<'a>(n: roxmltree::Node<'a, '_>, ns: &str, name: &str) -> &'a str {
        child(n, ns, name).text().unwrap_or("").trim()
    }

    #[test]
    fn scale_denominators_follow_the_ogc_formula() {
        // OGC 07-057r7 Annex E.4: GoogleMapsCompatible level 0.
        assert!((scale_denominator(0, 256) - 559_082_264.028_717_8).abs() < 1e-6);
        assert!((scale_denominator(18, 256) - 2_132.729_583_849_784).abs() < 1e-9);
        // A 512-px tile of zoom z has the pixel size of a 256-px tile of zoom z + 1.
        for z in 0..20 {
            assert_eq!(scale_denominator(z, 512), scale_denominator(z + 1, 256));
        }
    }

    #[test]
    fn every_element_a_client_needs_is_there() {
        for (size, scale) in [(256, 1), (512, 1), (512, 2)] {
            let xml = caps(size, scale);
            let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
            let root = doc.root_element();
            assert!(root.has_tag_name((NS, "Capabilities")));
            assert_eq!(root.attribute("version"), Some("1.0.0"));
            let contents = child(root, NS, "Contents");
            let layer = child(contents, NS, "Layer");
            assert_eq!(text(layer, OWS, "Identifier"), "firenze");
            assert_eq!(text(layer, OWS, "Title"), "Firenze & co");
            let bbox = child(layer, OWS, "WGS84BoundingBox");
            assert_eq!(text(bbox, OWS, "LowerCorner"), "11.15 43.72");
            assert_eq!(text(bbox, OWS, "UpperCorner"), "11.35 43.83");
            let formats: Vec<&str> = layer
                .children()
                .filter(|c| c.has_tag_name((NS, "Format")))
                .filter_map(|c| c.text())
                .collect();
            assert_eq!(formats, ["image/png", "image/webp", "image/jpeg"]);
            let px = size * scale;
            let set_name = if px == 256 {
                "GoogleMapsCompatible".to_string()
            } else {
                format!("GoogleMapsCompatible_{px}")
            };
            let link = child(layer, NS, "TileMatrixSetLink");
            assert_eq!(text(link, NS, "TileMatrixSet"), set_name);
            let limits: Vec<_> = child(link, NS, "TileMatrixSetLimits")
                .children()
                .filter(|c| c.is_element())
                .collect();
            assert_eq!(limits.len(), 21);
            for (z, l) in limits.iter().enumerate() {
                let z = z as u8;
                assert_eq!(text(*l, NS, "TileMatrix"), z.to_string());
                let (c0, c1, r0, r1) = tile_range([11.15, 43.72, 11.35, 43.83], z);
                assert_eq!(text(*l, NS, "MinTileCol"), c0.to_string());
                assert_eq!(text(*l, NS, "MaxTileCol"), c1.to_string());
                assert_eq!(text(*l, NS, "MinTileRow"), r0.to_string());
                assert_eq!(text(*l, NS, "MaxTileRow"), r1.to_string());
            }
            let urls: Vec<(&str, &str)> = layer
                .children()
                .filter(|c| c.has_tag_name((NS, "ResourceURL")))
                .map(|c| {
                    assert_eq!(c.attribute("resourceType"), Some("tile"));
                    (
                        c.attribute("format").unwrap(),
                        c.attribute("template").unwrap(),
                    )
                })
                .collect();
            let r = if scale == 2 { "@2x" } else { "" };
            assert_eq!(
                urls[0],
                (
                    "image/png",
                    &*format!(
                        "http://h:1/png/{{TileMatrix}}/{{TileCol}}/{{TileRow}}{r}.png?style=light&api_key=a<b"
                    )
                )
            );
            assert_eq!(urls.len(), 3);
            assert!(urls[2].1.contains("/jpg/") && urls[2].1.contains(".jpg?"));

            let set = contents
                .children()
                .find(|c| c.has_tag_name((NS, "TileMatrixSet")))
                .unwrap();
            assert_eq!(text(set, OWS, "Identifier"), set_name);
            assert_eq!(text(set, OWS, "SupportedCRS"), "urn:ogc:def:crs:EPSG::3857");
            let wkss = set
                .children()
                .find(|c| c.has_tag_name((NS, "WellKnownScaleSet")));
            assert_eq!(wkss.is_some(), px == 256);
            let matrices: Vec<_> = set
                .children()
                .filter(|c| c.has_tag_name((NS, "TileMatrix")))
                .collect();
            assert_eq!(matrices.len(), 21);
            for (z, m) in matrices.iter().enumerate() {
                assert_eq!(text(*m, OWS, "Identifier"), z.to_string());
                let sd: f64 = text(*m, NS, "ScaleDenominator").parse().unwrap();
                // The OGC formula, written out independently: pixel size (m) / 0.28 mm.
                let pixel_m = 2.0 * std::f64::consts::PI * 6_378_137.0
                    / (f64::from(px) * 2f64.powi(z as i32));
                assert!((sd - pixel_m / 0.00028).abs() / sd < 1e-12, "z{z}: {sd}");
                let corner: Vec<f64> = text(*m, NS, "TopLeftCorner")
                    .split(' ')
                    .map(|v| v.parse().unwrap())
                    .collect();
                assert!((corner[0] + 20_037_508.342_789_2).abs() < 1e-3);
                assert!((corner[1] - 20_037_508.342_789_2).abs() < 1e-3);
                assert_eq!(text(*m, NS, "TileWidth"), px.to_string());
                assert_eq!(text(*m, NS, "TileHeight"), px.to_string());
                assert_eq!(text(*m, NS, "MatrixWidth"), (1u64 << z).to_string());
                assert_eq!(text(*m, NS, "MatrixHeight"), (1u64 << z).to_string());
            }
        }
    }

    #[test]
    fn tile_ranges_match_the_tiles_of_the_bounds() {
        // Central Florence at z14 (tests/service.rs uses 14/8704/5972).
        let (c0, c1, r0, r1) = tile_range([11.25, 43.76, 11.26, 43.78], 14);
        assert!(c0 <= 8704 && 8704 <= c1 && r0 <= 5972 && 5972 <= r1);
        // The world: every tile.
        assert_eq!(tile_range([-180.0, -85.06, 180.0, 85.06], 3), (0, 7, 0, 7));
        // An edge on a tile boundary does not take the next tile.
        assert_eq!(tile_range([0.0, 0.0, 90.0, 45.0], 2).1, 2);
        assert_eq!(layer_id("Firenze (OSM)"), "Firenze__OSM_");
        assert_eq!(layer_id(""), "rasterzen");
    }
}
