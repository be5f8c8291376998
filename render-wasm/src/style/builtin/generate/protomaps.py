# Usage: python3 protomaps.py OUT_DIR (see README.md)
"""Generates the built-in "default" and "light" styles (Protomaps v2 + Tilezen schemas)."""
import json, sys
from fmt import dumps

def get(k): return ["get", k]
def coalesce(*a): return ["coalesce", *a]
def lit(v): return ["literal", v]
def is_in(expr, values): return ["in", expr, lit(values)]
GEOM = ["geometry-type"]
POLY = ["==", GEOM, "Polygon"]
LINE = ["==", GEOM, "LineString"]
POINT = ["==", GEOM, "Point"]

# Both schemas: Protomaps v2 (`pmap:kind`, OSM tags) and Tilezen (`kind`, `kind_detail`).
KIND = coalesce(get("pmap:kind"), get("kind"))
DETAIL = coalesce(get("highway"), get("pmap:kind_detail"), get("kind_detail"), "")

# Landuse class: Protomaps' "other"/"park" kinds are refined with the OSM tags it keeps.
LANDUSE_CLASS = ["case",
    ["has", "pmap:kind"],
    ["match", get("pmap:kind"),
        "other", coalesce(get("landuse"), get("leisure"), get("amenity"), get("natural"), "other"),
        "park", ["match", get("leisure"), ["pitch", "playground", "dog_park", "golf_course", "garden"], get("leisure"), "park"],
        get("pmap:kind")],
    coalesce(get("kind"), get("landuse"), get("natural"), get("leisure"), "other")]

LANDUSE_GROUPS = [
    # (group, kinds, sort rank when the data has no sort_rank)
    ("residential", ["residential", "urban_area", "urban", "rural"], 1),
    ("farmland", ["farmland", "farm", "farmyard", "greenfield", "allotments", "plant_nursery"], 2),
    ("orchard", ["orchard", "vineyard", "winery"], 2),
    ("commercial", ["commercial", "retail"], 3),
    ("industrial", ["industrial", "brownfield", "railway", "port", "works", "quarry", "landfill",
                    "wastewater_plant", "water_works", "substation", "shipyard", "container_terminal", "boatyard"], 3),
    ("aerodrome", ["aerodrome", "airfield", "apron", "heliport"], 3),
    ("military", ["military", "prison", "danger_area", "range", "naval_base"], 3),
    ("grass", ["grass", "meadow", "village_green", "recreation_ground", "common", "greenery", "grassland"], 4),
    ("cemetery", ["cemetery", "grave_yard"], 4),
    ("park", ["park", "garden", "playground", "dog_park", "nature_reserve", "national_park", "protected_area",
              "zoo", "picnic_site", "golf_course", "camp_site", "caravan_site", "theme_park", "wildlife_park"], 5),
    ("forest", ["forest", "wood", "natural_wood", "natural_forest"], 6),
    ("scrub", ["scrub", "heath"], 6),
    ("wetland", ["wetland", "marsh", "swamp", "bog", "mud"], 6),
    ("sand", ["sand", "beach", "bare_rock", "scree", "shingle", "desert", "rock", "stone"], 6),
    ("glacier", ["glacier"], 6),
    ("school", ["school", "university", "college", "kindergarten"], 7),
    ("hospital", ["hospital", "clinic"], 7),
    ("pitch", ["pitch", "sports_centre", "stadium", "track", "recreation_track"], 8),
    ("pedestrian", ["pedestrian", "plaza"], 8),
    ("parking", ["parking"], 8),
    ("runway", ["runway", "taxiway"], 9),
]

def landuse_match(values, fallback):
    m = ["match", LANDUSE_CLASS]
    for group, kinds, _ in LANDUSE_GROUPS:
        if group in values:
            m += [kinds, values[group]]
    m.append(fallback)
    return m

ROAD_CLASS = ["match", KIND,
    "highway", "highway",
    "major_road", ["match", DETAIL, ["secondary", "secondary_link", "tertiary", "tertiary_link"], "medium", "major"],
    "medium_road", "medium",
    "minor_road", ["match", DETAIL, ["service", "track"], "service", "minor"],
    "other", ["match", DETAIL,
        ["living_street", "residential", "unclassified", "road"], "minor",
        "pedestrian", "pedestrian",
        "service", "service",
        ["footway", "path", "cycleway", "steps", "bridleway", "corridor", "track"], "path",
        "none"],
    "path", ["match", DETAIL, ["pedestrian", "living_street"], "pedestrian", "path"],
    "none"]
ROAD_CLASSES = ["path", "service", "pedestrian", "minor", "medium", "major", "highway"]
ROAD_RANK = ["match", ROAD_CLASS, *sum(([c, i + 1] for i, c in enumerate(ROAD_CLASSES)), []), 0]
TUNNEL = ["any", ["==", get("is_tunnel"), True], ["==", get("pmap:level"), -1]]
BRIDGE = ["any", ["==", get("is_bridge"), True], ["==", get("pmap:level"), 1]]

ZOOMS = [5, 8, 10, 12, 13, 14, 15, 16, 18, 20]
ROAD_FILL = {
    "highway":    [0.6, 1.2, 2.0, 3.0, 4.0, 5.5, 8.0, 11, 28, 80],
    "major":      [0.4, 0.7, 1.2, 2.4, 3.2, 4.5, 6.5, 9.5, 24, 70],
    "medium":     [0,   0.3, 0.7, 1.6, 2.4, 3.5, 5.0, 7.5, 20, 60],
    "minor":      [0,   0,   0.3, 0.8, 1.4, 2.4, 3.8, 6.0, 16, 48],
    "pedestrian": [0,   0,   0,   0.5, 0.9, 1.8, 3.0, 4.5, 12, 36],
    "service":    [0,   0,   0,   0.4, 0.7, 1.3, 2.2, 3.2, 9, 26],
    "path":       [0,   0,   0,   0.3, 0.5, 0.8, 1.0, 1.3, 2.2, 4],
}
# Casing on each side; 0 = no casing yet at that zoom.
CASING = {
    "highway":    [0.25, 0.3, 0.4, 0.6, 0.7, 0.8, 1.0, 1.2, 2.0, 4.0],
    "major":      [0,    0.2, 0.25, 0.4, 0.6, 0.8, 1.0, 1.2, 2.0, 4.0],
    "medium":     [0,    0,   0.2, 0.35, 0.5, 0.7, 0.9, 1.1, 2.0, 4.0],
    "minor":      [0,    0,   0,   0,   0.4, 0.6, 0.8, 1.0, 1.8, 3.5],
    "pedestrian": [0,    0,   0,   0,   0,   0.5, 0.7, 0.9, 1.5, 3.0],
    "service":    [0,    0,   0,   0,   0,   0.5, 0.7, 0.8, 1.4, 3.0],
    "path":       [0] * 10,
}

def by_zoom(table, base=1.5, classes=ROAD_CLASSES, expr=ROAD_CLASS, casing=None):
    out = ["interpolate", ["exponential", base], ["zoom"]]
    for i, z in enumerate(ZOOMS):
        m = ["match", ["var", "class"]]
        for c in classes:
            w = table[c][i]
            if casing is not None:
                w = w + 2 * casing[c][i] if casing[c][i] > 0 else 0
            m += [c, round(w, 2)]
        m.append(0)
        out += [z, m]
    return ["let", "class", expr, out]

def road_match(colors, expr=ROAD_CLASS):
    m = ["match", expr]
    for c in ROAD_CLASSES:
        m += [c, colors[c]]
    m.append(colors["path"])
    return m

def zoom_curve(stops, base=1.5):
    out = ["interpolate", ["exponential", base], ["zoom"]]
    for z, v in stops:
        out += [z, v]
    return out

RAIL_STOPS = [(8, 0.4), (11, 0.7), (14, 1.4), (16, 2.2), (18, 3.5)]

ADMIN_LEVEL = coalesce(get("pmap:min_admin_level"), get("admin_level"),
    ["match", get("kind"), ["country", "unrecognized_country", "disputed"], 2,
     ["region", "macroregion", "unrecognized_region"], 4, "county", 6, 8])

def build(name, P):
    src = "rasterzen"
    layers = []
    def add(layer):
        if layer["type"] != "background":
            layer = {"id": layer["id"], "type": layer["type"], "source": src,
                     **{k: v for k, v in layer.items() if k not in ("id", "type")}}
        layers.append(layer)
    add({"id": "background", "type": "background", "paint": {"background-color": P["land"]}})
    add({"id": "earth", "type": "fill", "source-layer": "earth", "filter": POLY,
         "paint": {"fill-color": P["land"]}})
    lu_colors = {g: P["lu"][g] for g in P["lu"]}
    add({"id": "landuse", "type": "fill", "source-layer": "landuse", "minzoom": 4,
         "filter": ["all", POLY, ["match", LANDUSE_CLASS, sum((k for g, k, _ in LANDUSE_GROUPS if g in lu_colors), []), True, False]],
         "layout": {"fill-sort-key": coalesce(get("sort_rank"),
             ["match", LANDUSE_CLASS, *sum(([k, r] for g, k, r in LANDUSE_GROUPS), []), 0])},
         "paint": {"fill-color": landuse_match(lu_colors, P["land"]),
                   "fill-opacity": zoom_curve([(4, 0.6), (10, 0.9), (14, 1)], 1)}})
    add({"id": "natural", "type": "fill", "source-layer": "natural", "minzoom": 4,
         "filter": ["all", POLY, ["match", LANDUSE_CLASS, sum((k for g, k, _ in LANDUSE_GROUPS if g in lu_colors), []), True, False]],
         "paint": {"fill-color": landuse_match(lu_colors, P["land"]),
                   "fill-opacity": zoom_curve([(4, 0.6), (10, 0.9), (14, 1)], 1)}})
    add({"id": "water", "type": "fill", "source-layer": "water", "filter": POLY,
         "paint": {"fill-color": P["water"]}})
    waterway_width = lambda kind_expr: ["interpolate", ["exponential", 1.5], ["zoom"],
        9, ["match", kind_expr, "river", 0.6, "canal", 0.4, 0],
        12, ["match", kind_expr, "river", 1.4, "canal", 1.0, "stream", 0.5, 0],
        14, ["match", kind_expr, "river", 3, "canal", 2.2, "stream", 1.0, ["ditch", "drain"], 0.5, 0],
        18, ["match", kind_expr, "river", 12, "canal", 9, "stream", 4, ["ditch", "drain"], 2.5, 0]]
    add({"id": "water-lines", "type": "line", "source-layer": "water", "minzoom": 9,
         "filter": ["all", LINE, is_in(get("kind"), ["river", "canal", "stream", "ditch", "drain"]),
                    ["!", ["to-boolean", get("boundary")]]],
         "layout": {"line-cap": "round", "line-join": "round"},
         "paint": {"line-color": P["water"], "line-width": waterway_width(get("kind")),
                   "line-opacity": ["case", ["==", get("is_tunnel"), True], 0.5, 1]}})
    add({"id": "waterways", "type": "line", "source-layer": "physical_line", "minzoom": 9,
         "filter": ["all", ["==", get("pmap:kind"), "waterway"],
                    is_in(get("waterway"), ["river", "canal", "stream", "ditch", "drain"])],
         "layout": {"line-cap": "round", "line-join": "round"},
         "paint": {"line-color": P["water"], "line-width": waterway_width(get("waterway"))}})
    aeroway_width = lambda e: ["interpolate", ["exponential", 1.6], ["zoom"],
        10, ["match", e, "runway", 0.8, 0.2], 14, ["match", e, "runway", 8, 2.5], 18, ["match", e, "runway", 60, 20]]
    add({"id": "aeroway-lines", "type": "line", "source-layer": "transit", "minzoom": 10,
         "filter": ["==", get("pmap:kind"), "aeroway"],
         "paint": {"line-color": P["runway"], "line-width": aeroway_width(get("aeroway"))}})
    add({"id": "aeroway-lines-tilezen", "type": "line", "source-layer": "roads", "minzoom": 9,
         "filter": ["==", get("kind"), "aeroway"],
         "paint": {"line-color": P["runway"], "line-width": aeroway_width(get("kind_detail"))}})
    add({"id": "buildings", "type": "fill", "source-layer": "buildings", "minzoom": 13,
         "filter": POLY,
         "paint": {"fill-color": P["building"], "fill-outline-color": P["building_outline"],
                   "fill-opacity": zoom_curve([(13, 0.6), (15, 1)], 1)}})
    # Class filtering happens in the width tables (0 = not drawn): cheap filters, and the
    # class expression is evaluated once less per feature.
    road_filter = lambda extra, classes=None: ["all", LINE, *extra]
    # Tilezen has sort_rank; for Protomaps the kind is enough (cheaper than the full class).
    sort_key = coalesce(get("sort_rank"), ["match", get("pmap:kind"), "highway", 7, "major_road", 6,
                                           "medium_road", 5, "minor_road", 4, "other", 2, 0])
    cased = [c for c in ROAD_CLASSES if c != "path"]
    for prefix, cond, fill_colors, casing_colors, extra_paint in [
        ("tunnel", [TUNNEL], P["tunnel"], P["tunnel_casing"], {"line-opacity": 0.8}),
        ("road", [["!", TUNNEL], ["!", BRIDGE]], P["road"], P["road_casing"], {}),
        ("bridge", [BRIDGE], P["road"], P["bridge_casing"], {}),
    ]:
        casing_paint = {"line-color": road_match(casing_colors),
                        "line-width": by_zoom(ROAD_FILL, casing=CASING)}
        if prefix == "tunnel":
            casing_paint["line-dasharray"] = ["literal", [2, 1]] if False else [3, 2]
        add({"id": f"{prefix}s-casing", "type": "line", "source-layer": "roads", "minzoom": 5,
             "filter": road_filter(cond, cased),
             "layout": {"line-cap": "butt" if prefix != "road" else "round", "line-join": "round",
                        "line-sort-key": sort_key},
             "paint": casing_paint})
        add({"id": f"{prefix}s", "type": "line", "source-layer": "roads", "minzoom": 5,
             "filter": road_filter(cond),
             "layout": {"line-cap": "round", "line-join": "round", "line-sort-key": sort_key},
             "paint": {"line-color": road_match(fill_colors), "line-width": by_zoom(ROAD_FILL), **extra_paint}})
        if prefix == "road":
            # Railways between ground roads and bridges.
            rail_width = zoom_curve(RAIL_STOPS)
            rail_paint = {"line-color": P["rail"], "line-width": rail_width}
            add({"id": "rail", "type": "line", "source-layer": "transit", "minzoom": 10,
                 "filter": ["all", ["==", get("pmap:kind"), "railway"],
                            is_in(get("railway"), ["rail", "light_rail", "narrow_gauge", "funicular", "monorail", "preserved"]),
                            ["!=", get("pmap:level"), -1]],
                 "paint": dict(rail_paint, **{"line-width": ["interpolate", ["exponential", 1.5], ["zoom"],
                     *sum(([z, ["*", ["match", get("service"), ["yard", "siding", "crossover", "spur"], 0.6, 1], w]]
                           for z, w in RAIL_STOPS), [])]})})
            add({"id": "rail-tilezen", "type": "line", "source-layer": "roads", "minzoom": 10,
                 "filter": ["all", ["==", get("kind"), "rail"], ["!=", get("is_tunnel"), True],
                            ["!", is_in(get("kind_detail"), ["subway", "disused", "abandoned", "razed"])]],
                 "paint": rail_paint})
            add({"id": "rail-routes-tilezen", "type": "line", "source-layer": "transit", "minzoom": 5, "maxzoom": 12,
                 "filter": is_in(get("kind"), ["train", "railway", "light_rail"]),
                 "paint": rail_paint})
            add({"id": "tram", "type": "line", "source-layer": "transit", "minzoom": 13,
                 "filter": ["any", ["==", get("railway"), "tram"], ["==", get("kind"), "tram"]],
                 "paint": {"line-color": P["tram"], "line-width": zoom_curve([(13, 0.5), (16, 1.2), (18, 2)])}})
            add({"id": "rail-hatch", "type": "line", "source-layer": "transit", "minzoom": 14,
                 "filter": ["all", ["==", get("pmap:kind"), "railway"], ["==", get("railway"), "rail"],
                            ["!", ["has", "service"]], ["!=", get("pmap:level"), -1]],
                 "paint": {"line-color": P["rail_hatch"], "line-width": zoom_curve([(14, 0.7), (16, 1.2), (18, 2)]),
                           "line-dasharray": [3, 3]}})
            add({"id": "ferry", "type": "line", "source-layer": "roads", "minzoom": 5,
                 "filter": ["all", LINE, ["==", KIND, "ferry"]],
                 "paint": {"line-color": P["ferry"], "line-width": zoom_curve([(5, 0.6), (14, 1.2), (18, 2)], 1),
                           "line-dasharray": [3, 2]}})
    for lid, cond, color, width, dash, minzoom in [
        ("boundaries-local", ["all", [">=", ADMIN_LEVEL, 5], ["<=", ADMIN_LEVEL, 8]], P["boundary_local"],
         zoom_curve([(9, 0.5), (14, 1), (18, 1.5)], 1), [2, 2], 9),
        ("boundaries-region", ["all", [">", ADMIN_LEVEL, 2], ["<=", ADMIN_LEVEL, 4]], P["boundary_region"],
         zoom_curve([(4, 0.6), (10, 1), (14, 1.5), (18, 2.5)], 1), [4, 2], 3),
        ("boundaries-country", ["<=", ADMIN_LEVEL, 2], P["boundary_country"],
         zoom_curve([(2, 0.6), (6, 1.2), (10, 1.8), (14, 2.5), (18, 4)], 1), None, 0),
    ]:
        paint = {"line-color": color, "line-width": width}
        if dash:
            paint["line-dasharray"] = dash
        add({"id": lid, "type": "line", "source-layer": "boundaries", "minzoom": minzoom,
             "filter": cond,
             "layout": {"line-join": "round"}, "paint": paint})
    add({"id": "places-city", "type": "circle", "source-layer": "places", "minzoom": 3, "maxzoom": 11,
         "filter": ["any", ["==", get("pmap:kind"), "city"],
                    ["all", ["==", get("kind"), "locality"], ["==", get("kind_detail"), "city"]]],
         "paint": {"circle-radius": zoom_curve([(3, 2), (10, 3.5)], 1), "circle-color": P["city"],
                   "circle-stroke-color": P["city_stroke"], "circle-stroke-width": 1}})

    # Labels, bottom to top (MapLibre places the top layer first): water, streets, POIs, places.
    NAME = coalesce(get("name"), "")
    REG, BOLD, ITAL = ["Noto Sans Regular"], ["Noto Sans Bold"], ["Noto Sans Italic"]
    add({"id": "water-labels", "type": "symbol", "source-layer": "water", "minzoom": 8,
         "filter": ["all", ["has", "name"], ["any", POLY, POINT],
                    ["any", ["!", ["has", "pmap:area"]], [">", get("pmap:area"), 20000]]],
         "layout": {"text-field": NAME, "text-font": ITAL, "text-max-width": 7,
                    "text-size": zoom_curve([(8, 11), (14, 13), (18, 16)], 1)},
         "paint": {"text-color": P["water_label"], "text-halo-color": P["water_halo"], "text-halo-width": 1}})
    add({"id": "waterway-labels", "type": "symbol", "source-layer": "physical_line", "minzoom": 12,
         "filter": ["all", ["has", "name"], ["==", get("pmap:kind"), "waterway"],
                    is_in(get("waterway"), ["river", "canal"])],
         "layout": {"text-field": NAME, "text-font": ITAL, "symbol-placement": "line",
                    "symbol-spacing": 350, "text-letter-spacing": 0.1,
                    "text-size": zoom_curve([(12, 11), (16, 14)], 1)},
         "paint": {"text-color": P["water_label"], "text-halo-color": P["water_halo"], "text-halo-width": 1}})
    add({"id": "waterway-labels-tilezen", "type": "symbol", "source-layer": "water", "minzoom": 12,
         "filter": ["all", LINE, ["has", "name"], is_in(get("kind"), ["river", "canal"])],
         "layout": {"text-field": NAME, "text-font": ITAL, "symbol-placement": "line",
                    "symbol-spacing": 350, "text-letter-spacing": 0.1,
                    "text-size": zoom_curve([(12, 11), (16, 14)], 1)},
         "paint": {"text-color": P["water_label"], "text-halo-color": P["water_halo"], "text-halo-width": 1}})
    add({"id": "road-labels", "type": "symbol", "source-layer": "roads", "minzoom": 12,
         "filter": ["all", LINE, ["has", "name"],
                    ["match", ROAD_CLASS, ["highway", "major", "medium"], True,
                     ["minor", "pedestrian"], [">=", ["zoom"], 14], ["service", "path"], [">=", ["zoom"], 16], False]],
         "layout": {"text-field": NAME, "text-font": REG, "symbol-placement": "line",
                    "symbol-sort-key": ["-", 10, ROAD_RANK],
                    "text-size": ["interpolate", ["linear"], ["zoom"],
                                  12, ["match", ROAD_CLASS, ["highway", "major"], 10, 9],
                                  15, ["match", ROAD_CLASS, ["highway", "major", "medium"], 12, 11],
                                  18, ["match", ROAD_CLASS, ["highway", "major", "medium"], 15, 13]]},
         "paint": {"text-color": P["road_label"], "text-halo-color": P["road_halo"], "text-halo-width": 1.5}})
    add({"id": "poi-labels", "type": "symbol", "source-layer": "pois", "minzoom": 15,
         "filter": ["all", POINT, ["has", "name"]],
         "layout": {"text-field": NAME, "text-font": REG, "text-size": 11, "text-max-width": 8,
                    "symbol-sort-key": ["match", coalesce(get("tourism"), get("amenity"), ""),
                                        ["museum", "attraction", "place_of_worship", "viewpoint"], 0,
                                        ["theatre", "library", "townhall", "university"], 1, 2]},
         "paint": {"text-color": P["poi_label"], "text-halo-color": P["road_halo"], "text-halo-width": 1.2}})
    add({"id": "poi-labels-major", "type": "symbol", "source-layer": "pois", "minzoom": 13, "maxzoom": 15,
         "filter": ["all", POINT, ["has", "name"],
                    ["any", is_in(get("tourism"), ["museum", "attraction"]),
                     ["==", get("amenity"), "place_of_worship"], ["==", get("kind"), "museum"]]],
         "layout": {"text-field": NAME, "text-font": REG, "text-size": 11, "text-max-width": 8},
         "paint": {"text-color": P["poi_label"], "text-halo-color": P["road_halo"], "text-halo-width": 1.2}})
    # Tilezen's localities carry their size in kind_detail (city, town, village...).
    PLACE = coalesce(get("pmap:kind"),
                     ["match", get("kind"), "locality", coalesce(get("kind_detail"), "town"), get("kind")])
    add({"id": "place-neighbourhoods", "type": "symbol", "source-layer": "places", "minzoom": 12,
         "filter": ["all", POINT, ["has", "name"], is_in(PLACE, ["neighbourhood", "macrohood", "microhood", "suburb", "quarter"])],
         "layout": {"text-field": NAME, "text-font": REG, "text-transform": "uppercase",
                    "text-letter-spacing": 0.12, "text-max-width": 7,
                    "text-size": zoom_curve([(12, 10), (16, 13)], 1)},
         "paint": {"text-color": P["neighbourhood_label"], "text-halo-color": P["place_halo"], "text-halo-width": 1.5}})
    # Protomaps' "other" places are named squares and the like: small, like a street name.
    add({"id": "place-other", "type": "symbol", "source-layer": "places", "minzoom": 13,
         "filter": ["all", POINT, ["has", "name"], ["==", PLACE, "other"]],
         "layout": {"text-field": NAME, "text-font": REG, "text-max-width": 7,
                    "text-size": zoom_curve([(13, 11), (17, 13)], 1)},
         "paint": {"text-color": P["road_label"], "text-halo-color": P["road_halo"], "text-halo-width": 1.5}})
    add({"id": "place-localities", "type": "symbol", "source-layer": "places", "minzoom": 4,
         "filter": ["all", POINT, ["has", "name"], ["!", is_in(PLACE, ["neighbourhood", "macrohood", "microhood", "suburb", "quarter", "country", "region", "other"])]],
         "layout": {"text-field": NAME, "text-font": BOLD, "text-max-width": 8,
                    "symbol-sort-key": coalesce(get("pmap:min_zoom"), get("min_zoom"), 10),
                    "text-size": ["interpolate", ["linear"], ["zoom"],
                                  4, ["match", PLACE, "city", 12, 10],
                                  10, ["match", PLACE, "city", 18, "town", 14, 12],
                                  14, ["match", PLACE, "city", 22, "town", 17, 14]]},
         "paint": {"text-color": P["place_label"], "text-halo-color": P["place_halo"], "text-halo-width": 1.8}})
    add({"id": "place-regions", "type": "symbol", "source-layer": "places", "minzoom": 3, "maxzoom": 9,
         "filter": ["all", POINT, ["has", "name"], is_in(PLACE, ["region", "state"])],
         "layout": {"text-field": NAME, "text-font": REG, "text-transform": "uppercase",
                    "text-letter-spacing": 0.15, "text-size": zoom_curve([(3, 10), (8, 13)], 1)},
         "paint": {"text-color": P["region_label"], "text-halo-color": P["place_halo"], "text-halo-width": 1.5}})
    add({"id": "place-countries", "type": "symbol", "source-layer": "places", "maxzoom": 8,
         "filter": ["all", POINT, ["has", "name"], ["==", PLACE, "country"]],
         "layout": {"text-field": NAME, "text-font": BOLD, "text-max-width": 6,
                    "text-size": zoom_curve([(1, 10), (6, 16)], 1)},
         "paint": {"text-color": P["country_label"], "text-halo-color": P["place_halo"], "text-halo-width": 1.5}})
    return {
        "version": 8,
        "name": name,
        "metadata": {
            "rasterzen:description": P["description"],
            "rasterzen:schemas": ["protomaps-v2", "tilezen"],
        },
        "sources": {src: {"type": "vector", "url": "pmtiles://example.pmtiles",
                          "attribution": "© OpenStreetMap contributors"}},
        "layers": layers,
    }

DEFAULT = {
    "description": "Rasterzen's default basemap for Protomaps v2 and Tilezen (Nextzen) vector tiles.",
    "land": "#f3f0ea", "water": "#a6cbe3", "runway": "#dcdbe3",
    "building": "#e0d9cf", "building_outline": "#d0c6b9",
    "lu": {
        "residential": "#ece8e1", "farmland": "#eef0da", "orchard": "#e4ebcd", "commercial": "#f1e6e1",
        "industrial": "#e9e5eb", "aerodrome": "#e7e6ec", "military": "#eee3e1", "grass": "#ddecca",
        "cemetery": "#d7e1cf", "park": "#d0e6c0", "forest": "#c2dcae", "scrub": "#d4e4bf",
        "wetland": "#d5e7de", "sand": "#f0e8cb", "glacier": "#f5f9fb", "school": "#f2eacf",
        "hospital": "#f6e2e1", "pitch": "#c8e3c2", "pedestrian": "#efece6", "parking": "#ebe8e2",
        "runway": "#dcdbe3",
    },
    "road": {"highway": "#f6c27e", "major": "#fde3a7", "medium": "#fff2c9", "minor": "#ffffff",
             "pedestrian": "#f7f5f1", "service": "#ffffff", "path": "#cdbfae"},
    "road_casing": {"highway": "#d99b56", "major": "#d9b67a", "medium": "#d6c7a1", "minor": "#d8d0c4",
                    "pedestrian": "#dcd4c9", "service": "#ddd6cb", "path": "#cdbfae"},
    "tunnel": {"highway": "#f9dfba", "major": "#fdeecb", "medium": "#fff7e0", "minor": "#f8f6f2",
               "pedestrian": "#f7f5f1", "service": "#f8f6f2", "path": "#ddd3c6"},
    "tunnel_casing": {"highway": "#e0b98c", "major": "#e2cda6", "medium": "#ded3b9", "minor": "#dcd6cd",
                      "pedestrian": "#e0dad1", "service": "#e0dad1", "path": "#ddd3c6"},
    "bridge_casing": {"highway": "#b9824a", "major": "#bb9c68", "medium": "#b8aa88", "minor": "#b9b0a3",
                      "pedestrian": "#bdb4a8", "service": "#bdb4a8", "path": "#cdbfae"},
    "rail": "#aaa39b", "rail_hatch": "#ffffff", "tram": "#b8b0a7",
    "boundary_country": "#a093b6", "boundary_region": "#b5aac6", "boundary_local": "#c9c0d3",
    "city": "#ffffff", "city_stroke": "#857f75", "ferry": "#7fa8c9", "park_outline": "#b9d6a6",
    "water_label": "#4a77a0", "water_halo": "#dcebf5", "road_label": "#5a534b", "road_halo": "#ffffff",
    "poi_label": "#7a6a58", "place_label": "#3d3833", "place_halo": "#f8f6f2",
    "neighbourhood_label": "#857a6e", "region_label": "#8a7f9e", "country_label": "#5e5470",
}

LIGHT = {
    "description": "A light gray variant of Rasterzen's default basemap (Protomaps v2 and Tilezen).",
    "land": "#f5f5f3", "water": "#d3dde4", "runway": "#e6e6e6",
    "building": "#e4e4e2", "building_outline": "#d6d6d4",
    "lu": {
        "residential": "#f0f0ee", "farmland": "#f1f2ee", "orchard": "#edefe9", "commercial": "#efedec",
        "industrial": "#ecebed", "aerodrome": "#ececee", "military": "#eeecec", "grass": "#e9eee6",
        "cemetery": "#e6eae3", "park": "#e2ebdd", "forest": "#dde6d7", "scrub": "#e5ebe0",
        "wetland": "#e3ebe8", "sand": "#f1efe8", "glacier": "#fafbfc", "school": "#f1efea",
        "hospital": "#f2ecec", "pitch": "#e0e9dc", "pedestrian": "#f1f1ef", "parking": "#efefed",
        "runway": "#e6e6e6",
    },
    "road": {"highway": "#ffffff", "major": "#ffffff", "medium": "#ffffff", "minor": "#ffffff",
             "pedestrian": "#fafaf9", "service": "#ffffff", "path": "#dcdcda"},
    "road_casing": {"highway": "#c9c9c7", "major": "#d0d0ce", "medium": "#d6d6d4", "minor": "#dcdcda",
                    "pedestrian": "#e0e0de", "service": "#e0e0de", "path": "#dcdcda"},
    "tunnel": {"highway": "#f7f7f6", "major": "#f7f7f6", "medium": "#f8f8f7", "minor": "#f8f8f7",
               "pedestrian": "#f8f8f7", "service": "#f8f8f7", "path": "#e4e4e2"},
    "tunnel_casing": {"highway": "#dadad8", "major": "#dddddb", "medium": "#e0e0de", "minor": "#e2e2e0",
                      "pedestrian": "#e4e4e2", "service": "#e4e4e2", "path": "#e4e4e2"},
    "bridge_casing": {"highway": "#b5b5b3", "major": "#bbbbb9", "medium": "#c2c2c0", "minor": "#c8c8c6",
                      "pedestrian": "#cbcbc9", "service": "#cbcbc9", "path": "#dcdcda"},
    "rail": "#c2c2c0", "rail_hatch": "#f5f5f3", "tram": "#cacac8",
    "boundary_country": "#a9a9b0", "boundary_region": "#bdbdc3", "boundary_local": "#d0d0d5",
    "city": "#ffffff", "city_stroke": "#9a9a98", "ferry": "#b9c6d0", "park_outline": "#d5dfd0",
    "water_label": "#7d94a8", "water_halo": "#e8eef2", "road_label": "#77736e", "road_halo": "#ffffff",
    "poi_label": "#8a8580", "place_label": "#55524e", "place_halo": "#fafafa",
    "neighbourhood_label": "#98948f", "region_label": "#9a97a0", "country_label": "#6e6b72",
}

if __name__ == "__main__":
    out = sys.argv[1]
    for name, pal in [("default", DEFAULT), ("light", LIGHT)]:
        style = build("Rasterzen " + name, pal)
        with open(f"{out}/{name}.json", "w") as f:
            f.write(dumps(style) + "\n")
        print(name, len(style["layers"]), "layers")
