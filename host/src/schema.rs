//! Which vector tile schema a source follows, told from its layer names, and the built-in
//! style drawn for it when the user names none (`serve`, Lambda, `seed`, a config's map
//! without `style`, `render`). Layer names are all a source reliably says about itself:
//! TileJSON's `vector_layers` for archives, the tile's own layers for `render`.

/// A schema we can tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// OpenMapTiles (OpenMapTiles, MapTiler, OpenFreeMap, tilemaker's default config).
    OpenMapTiles,
    /// Protomaps basemap v2/v3 (`pmap:kind`, `physical_line`, `natural`).
    ProtomapsV2,
    /// Protomaps basemap v4 (`kind`, a `landcover` layer, no `physical_*`).
    ProtomapsV4,
    /// Tilezen / Nextzen (the schema Protomaps v2 grew from).
    Tilezen,
    /// Shortbread (VersaTiles, Geofabrik).
    Shortbread,
}

const OPENMAPTILES: &[&str] = &[
    "transportation",
    "transportation_name",
    "water",
    "waterway",
    "water_name",
    "landcover",
    "landuse",
    "park",
    "place",
    "poi",
    "building",
    "boundary",
    "aeroway",
    "aerodrome_label",
    "housenumber",
    "mountain_peak",
];

const SHORTBREAD: &[&str] = &[
    "ocean",
    "land",
    "water_polygons",
    "water_polygons_labels",
    "water_lines",
    "water_lines_labels",
    "sites",
    "streets",
    "street_polygons",
    "street_labels",
    "street_labels_points",
    "streets_polygons_labels",
    "place_labels",
    "boundary_labels",
    "addresses",
    "aerialways",
    "bridges",
    "dam_lines",
    "dam_polygons",
    "ferries",
    "pier_lines",
    "pier_polygons",
    "public_transport",
];

impl Schema {
    /// Tells the schema from a source's layer names; `None` when they match none well enough
    /// (at least three of a schema's layers, and the one that defines it).
    pub fn detect<S: AsRef<str>>(layers: &[S]) -> Option<Schema> {
        let has = |name: &str| layers.iter().any(|l| l.as_ref() == name);
        let count = |names: &[&str]| names.iter().filter(|n| has(n)).count();
        if has("transportation") && count(OPENMAPTILES) >= 3 {
            return Some(Schema::OpenMapTiles);
        }
        if (has("streets") || has("water_polygons")) && count(SHORTBREAD) >= 3 {
            return Some(Schema::Shortbread);
        }
        if has("roads") && (has("earth") || has("water")) {
            if has("physical_line") || has("physical_point") || has("natural") {
                return Some(Schema::ProtomapsV2);
            }
            if has("landcover") {
                return Some(Schema::ProtomapsV4);
            }
            return Some(Schema::Tilezen);
        }
        None
    }

    pub fn name(self) -> &'static str {
        match self {
            Schema::OpenMapTiles => "OpenMapTiles",
            Schema::ProtomapsV2 => "Protomaps v2",
            Schema::ProtomapsV4 => "Protomaps v4",
            Schema::Tilezen => "Tilezen",
            Schema::Shortbread => "Shortbread",
        }
    }

    /// The built-in style drawn for this schema.
    pub fn builtin_style(self) -> Option<&'static str> {
        match self {
            Schema::OpenMapTiles => Some("omt"),
            Schema::ProtomapsV2 | Schema::Tilezen => Some("default"),
            // No built-in style for these yet: the user is told to bring one.
            Schema::ProtomapsV4 | Schema::Shortbread => None,
        }
    }
}

/// The style drawn when the user names none, and what to tell them about the choice: a note
/// when a built-in style fits the source's schema, a warning (with what to do) when none does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub style: &'static str,
    pub schema: Option<Schema>,
    /// Whether the choice fits the data (else `message` is a warning).
    pub fits: bool,
    pub message: String,
}

/// Chooses the built-in style for data with these layer names (`None`: it lists none);
/// `whose` names the data in the message ("source", "tile").
pub fn choose(layers: Option<&[String]>, whose: &str) -> Choice {
    let Some(layers) = layers else {
        return Choice {
            style: "default",
            schema: None,
            fits: true,
            message: format!(
                "the {whose} lists no vector_layers: drawing the built-in style default \
                 (Protomaps v2 / Tilezen schema); pass --style for another schema"
            ),
        };
    };
    match Schema::detect(layers) {
        Some(schema) => match schema.builtin_style() {
            Some(style) => Choice {
                style,
                schema: Some(schema),
                fits: true,
                message: format!(
                    "the {whose}'s layers follow the {} schema: drawing the built-in style {style} (pass --style to choose another)",
                    schema.name()
                ),
            },
            None => Choice {
                style: "default",
                schema: Some(schema),
                fits: false,
                message: format!(
                    "the {whose}'s layers follow the {} schema, for which there is no built-in style: the built-in default draws little of it; pass --style with a style for that schema (e.g. VersaTiles' colorful for Shortbread, Protomaps' own from @protomaps/basemaps for Protomaps v4)",
                    schema.name()
                ),
            },
        },
        None => Choice {
            style: "default",
            schema: None,
            fits: false,
            message: format!(
                "the {whose}'s layers ({}) follow no schema we know: drawing the built-in style default, which may draw little of them; pass --style with a style made for this data",
                shorten(layers)
            ),
        },
    }
}

fn shorten(layers: &[String]) -> String {
    let mut s = layers
        .iter()
        .take(6)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if layers.len() > 6 {
        s.push_str(&format!(", … {} in all", layers.len()));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(s: &str) -> Vec<String> {
        s.split(',').map(|n| n.trim().to_string()).collect()
    }

    #[test]
    fn tells_the_schemas_of_real_archives_apart() {
        // The layer lists of the fixtures' archives (their metadata's vector_layers).
        let omt = names("water, waterway, landcover, landuse, mountain_peak, park, boundary, aeroway, transportation, building, water_name, transportation_name, place, housenumber, poi, aerodrome_label");
        assert_eq!(Schema::detect(&omt), Some(Schema::OpenMapTiles));
        let v2 = names("earth, natural, land, water, physical_line, buildings, physical_point, places, roads, transit, pois, boundaries, mask, landuse");
        assert_eq!(Schema::detect(&v2), Some(Schema::ProtomapsV2));
        let v4 = names(
            "boundaries, buildings, earth, landcover, landuse, places, pois, roads, transit, water",
        );
        assert_eq!(Schema::detect(&v4), Some(Schema::ProtomapsV4));
        let tilezen =
            names("boundaries, buildings, earth, landuse, places, pois, roads, transit, water");
        assert_eq!(Schema::detect(&tilezen), Some(Schema::Tilezen));
        let shortbread = names("ocean, water_polygons, water_lines, land, sites, buildings, streets, street_labels, place_labels, pois, boundaries, addresses");
        assert_eq!(Schema::detect(&shortbread), Some(Schema::Shortbread));
        assert_eq!(Schema::detect(&names("hello, world")), None);
        assert_eq!(Schema::detect::<String>(&[]), None);
    }

    #[test]
    fn the_choice_says_what_it_chose_and_warns_when_nothing_fits() {
        let omt = names("transportation, water, place, poi");
        let c = choose(Some(&omt), "source");
        assert_eq!((c.style, c.fits), ("omt", true));
        assert!(
            c.message
                .contains("the source's layers follow the OpenMapTiles"),
            "{}",
            c.message
        );
        let sb = names("streets, water_polygons, land, place_labels");
        let c = choose(Some(&sb), "source");
        assert_eq!((c.style, c.fits), ("default", false));
        assert!(c.message.contains("--style"), "{}", c.message);
        let c = choose(None, "source");
        assert_eq!((c.style, c.fits), ("default", true));
        let c = choose(Some(&names("a, b, c, d, e, f, g, h")), "tile");
        assert!(!c.fits);
        assert!(c.message.contains("… 8 in all"), "{}", c.message);
    }
}
