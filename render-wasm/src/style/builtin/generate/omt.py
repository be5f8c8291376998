# Usage: python3 omt.py OUT_DIR (see README.md)
"""Generates the built-in "omt" style (OpenMapTiles schema), with the default palette."""
import sys
from fmt import dumps
from protomaps import (DEFAULT, RAIL_STOPS, ROAD_CLASSES, ROAD_FILL, CASING, by_zoom, road_match, zoom_curve,
                       get, coalesce, is_in, POLY, LINE)

CLASS = get("class")
RC = ["match", CLASS,
      "motorway", "highway",
      ["trunk", "primary"], "major",
      ["secondary", "tertiary"], "medium",
      ["minor", "raceway", "busway"], "minor",
      ["service", "track"], "service",
      "path", ["match", get("subclass"), ["pedestrian", "living_street"], "pedestrian", "path"],
      "none"]
RANK = ["match", RC, *sum(([c, i + 1] for i, c in enumerate(ROAD_CLASSES)), []), 0]
TUNNEL = ["==", get("brunnel"), "tunnel"]
BRIDGE = ["==", get("brunnel"), "bridge"]

LANDCOVER = [  # (class or subclass list, palette key)
    (["park", "garden"], "park"),
    (["wood", "forest"], "forest"),
    (["grass", "meadow", "grassland", "village_green", "recreation_ground", "golf_course"], "grass"),
    (["scrub", "heath"], "scrub"),
    (["farmland", "farm", "orchard", "vineyard", "allotments"], "farmland"),
    (["wetland", "marsh", "swamp", "bog", "mud"], "wetland"),
    (["sand", "beach", "dune", "rock", "bare_rock", "scree"], "sand"),
    (["ice", "glacier"], "glacier"),
]
LANDUSE = [  # (classes, palette key, sort rank)
    (["residential", "suburb", "quarter", "neighbourhood"], "residential", 1),
    (["commercial", "retail"], "commercial", 2),
    (["industrial", "garages", "railway", "dam", "quarry", "bus_station"], "industrial", 2),
    (["military"], "military", 2),
    (["cemetery"], "cemetery", 3),
    (["zoo", "theme_park"], "park", 3),
    (["school", "university", "kindergarten", "college", "library"], "school", 4),
    (["hospital"], "hospital", 4),
    (["stadium", "pitch", "playground", "track"], "pitch", 5),
]

def build(P):
    src = "rasterzen"
    layers = []
    def add(layer):
        if layer["type"] != "background":
            layer = {"id": layer["id"], "type": layer["type"], "source": src,
                     **{k: v for k, v in layer.items() if k not in ("id", "type")}}
        layers.append(layer)
    lu = P["lu"]
    add({"id": "background", "type": "background", "paint": {"background-color": P["land"]}})
    m = ["match", coalesce(get("subclass"), CLASS)]
    for kinds, key in LANDCOVER:
        m += [kinds, lu[key]]
    m.append(["match", CLASS, "wood", lu["forest"], "grass", lu["grass"], "farmland", lu["farmland"],
              "sand", lu["sand"], "wetland", lu["wetland"], "ice", lu["glacier"], "rock", lu["sand"], P["land"]])
    add({"id": "landcover", "type": "fill", "source-layer": "landcover",
         "filter": is_in(CLASS, ["wood", "grass", "farmland", "sand", "wetland", "ice", "rock"]),
         "paint": {"fill-color": m, "fill-opacity": zoom_curve([(0, 0.6), (10, 0.9), (14, 1)], 1)}})
    m = ["match", CLASS]
    rank = ["match", CLASS]
    for kinds, key, r in LANDUSE:
        m += [kinds, lu[key]]
        rank += [kinds, r]
    m.append(P["land"])
    rank.append(0)
    add({"id": "landuse", "type": "fill", "source-layer": "landuse",
         "filter": is_in(CLASS, sum((k for k, _, _ in LANDUSE), [])),
         "layout": {"fill-sort-key": rank},
         "paint": {"fill-color": m, "fill-opacity": zoom_curve([(4, 0.6), (10, 0.9), (14, 1)], 1)}})
    add({"id": "park", "type": "fill", "source-layer": "park",
         "paint": {"fill-color": lu["park"], "fill-opacity": zoom_curve([(6, 0.4), (12, 0.6)], 1),
                   "fill-outline-color": P["park_outline"]}})
    add({"id": "water", "type": "fill", "source-layer": "water",
         "filter": ["all", POLY, ["!=", get("brunnel"), "tunnel"]],
         "paint": {"fill-color": P["water"], "fill-opacity": ["case", ["==", get("intermittent"), 1], 0.6, 1]}})
    add({"id": "waterway", "type": "line", "source-layer": "waterway",
         "filter": is_in(CLASS, ["river", "canal", "stream", "ditch", "drain"]),
         "layout": {"line-cap": "round", "line-join": "round"},
         "paint": {"line-color": P["water"],
                   "line-width": ["interpolate", ["exponential", 1.5], ["zoom"],
                       9, ["match", CLASS, "river", 0.6, "canal", 0.4, 0],
                       12, ["match", CLASS, "river", 1.4, "canal", 1.0, "stream", 0.5, 0],
                       14, ["match", CLASS, "river", 3, "canal", 2.2, "stream", 1.0, 0.5],
                       18, ["match", CLASS, "river", 12, "canal", 9, "stream", 4, 2.5]],
                   "line-opacity": ["case", ["any", TUNNEL, ["==", get("intermittent"), 1]], 0.5, 1]}})
    add({"id": "aeroway-area", "type": "fill", "source-layer": "aeroway", "minzoom": 10,
         "filter": POLY,
         "paint": {"fill-color": ["match", CLASS, ["runway", "taxiway"], P["runway"], lu["aerodrome"]],
                   "fill-opacity": zoom_curve([(10, 0.6), (13, 1)], 1)}})
    add({"id": "aeroway-lines", "type": "line", "source-layer": "aeroway", "minzoom": 10,
         "filter": ["all", LINE, is_in(CLASS, ["runway", "taxiway"])],
         "paint": {"line-color": P["runway"],
                   "line-width": ["interpolate", ["exponential", 1.6], ["zoom"],
                       10, ["match", CLASS, "runway", 0.8, 0.2], 14, ["match", CLASS, "runway", 8, 2.5],
                       18, ["match", CLASS, "runway", 60, 20]]}})
    add({"id": "building", "type": "fill", "source-layer": "building", "minzoom": 13,
         "paint": {"fill-color": P["building"], "fill-outline-color": P["building_outline"],
                   "fill-opacity": zoom_curve([(13, 0.6), (15, 1)], 1)}})
    add({"id": "pier", "type": "fill", "source-layer": "transportation", "minzoom": 13,
         "filter": ["all", POLY, is_in(CLASS, ["pier", "bridge"])],
         "paint": {"fill-color": P["land"], "fill-outline-color": P["road_casing"]["minor"]}})
    cased = [c for c in ROAD_CLASSES if c != "path"]
    sort_key = RANK
    for prefix, cond, fill_colors, casing_colors, extra_paint in [
        ("tunnel", [TUNNEL], P["tunnel"], P["tunnel_casing"], {"line-opacity": 0.8}),
        ("road", [["!", TUNNEL], ["!", BRIDGE]], P["road"], P["road_casing"], {}),
        ("bridge", [BRIDGE], P["road"], P["bridge_casing"], {}),
    ]:
        casing_paint = {"line-color": road_match(casing_colors, RC), "line-width": by_zoom(ROAD_FILL, expr=RC, casing=CASING)}
        if prefix == "tunnel":
            casing_paint["line-dasharray"] = [3, 2]
        add({"id": f"{prefix}-casing", "type": "line", "source-layer": "transportation", "minzoom": 4,
             "filter": ["all", LINE, *cond],
             "layout": {"line-cap": "butt" if prefix != "road" else "round", "line-join": "round", "line-sort-key": sort_key},
             "paint": casing_paint})
        add({"id": prefix, "type": "line", "source-layer": "transportation", "minzoom": 4,
             "filter": ["all", LINE, *cond],
             "layout": {"line-cap": "round", "line-join": "round", "line-sort-key": sort_key},
             "paint": {"line-color": road_match(fill_colors, RC), "line-width": by_zoom(ROAD_FILL, expr=RC), **extra_paint}})
        if prefix == "road":
            rail_width = zoom_curve(RAIL_STOPS)
            add({"id": "rail", "type": "line", "source-layer": "transportation", "minzoom": 8,
                 "filter": ["all", LINE, is_in(CLASS, ["rail", "transit"]), ["!", TUNNEL],
                            ["!", is_in(get("subclass"), ["tram", "subway"])]],
                 "paint": {"line-color": P["rail"],
                           "line-width": ["interpolate", ["exponential", 1.5], ["zoom"],
                     *sum(([z, ["*", ["match", get("service"), ["yard", "siding", "crossover", "spur"], 0.6, 1], w]]
                           for z, w in RAIL_STOPS), [])]}})
            add({"id": "rail-hatch", "type": "line", "source-layer": "transportation", "minzoom": 14,
                 "filter": ["all", LINE, ["==", CLASS, "rail"], ["!", TUNNEL], ["!", ["has", "service"]],
                            ["!", is_in(get("subclass"), ["tram", "subway"])]],
                 "paint": {"line-color": P["rail_hatch"], "line-width": zoom_curve([(14, 0.7), (16, 1.2), (18, 2)]),
                           "line-dasharray": [3, 3]}})
            add({"id": "ferry", "type": "line", "source-layer": "transportation", "minzoom": 7,
                 "filter": ["all", LINE, ["==", CLASS, "ferry"]],
                 "paint": {"line-color": P["ferry"], "line-width": zoom_curve([(7, 0.6), (14, 1.2), (18, 2)], 1),
                           "line-dasharray": [3, 2]}})
    level = get("admin_level")
    for lid, cond, color, width, dash, minzoom in [
        ("boundary-local", ["all", [">=", level, 5], ["<=", level, 10]], P["boundary_local"],
         zoom_curve([(9, 0.5), (14, 1), (18, 1.5)], 1), [2, 2], 9),
        ("boundary-region", ["all", [">", level, 2], ["<=", level, 4]], P["boundary_region"],
         zoom_curve([(4, 0.6), (10, 1), (14, 1.5), (18, 2.5)], 1), [4, 2], 3),
        ("boundary-country", ["<=", level, 2], P["boundary_country"],
         zoom_curve([(2, 0.6), (6, 1.2), (10, 1.8), (14, 2.5), (18, 4)], 1), None, 0),
    ]:
        paint = {"line-color": color, "line-width": width}
        if dash:
            paint["line-dasharray"] = dash
        add({"id": lid, "type": "line", "source-layer": "boundary", "minzoom": minzoom,
             "filter": ["all", cond, ["!=", get("maritime"), 1]],
             "layout": {"line-join": "round"}, "paint": paint})
    add({"id": "place-city", "type": "circle", "source-layer": "place", "minzoom": 3, "maxzoom": 11,
         "filter": is_in(CLASS, ["city"]),
         "paint": {"circle-radius": zoom_curve([(3, 2), (10, 3.5)], 1), "circle-color": P["city"],
                   "circle-stroke-color": P["city_stroke"], "circle-stroke-width": 1}})
    return {
        "version": 8,
        "name": "Rasterzen OpenMapTiles",
        "metadata": {
            "rasterzen:description": "Rasterzen's basemap for OpenMapTiles-schema vector tiles (default palette).",
            "rasterzen:schemas": ["openmaptiles"],
        },
        "sources": {src: {"type": "vector", "url": "pmtiles://example.pmtiles",
                          "attribution": "© OpenMapTiles © OpenStreetMap contributors"}},
        "layers": layers,
    }

if __name__ == "__main__":
    P = DEFAULT
    style = build(P)
    with open(f"{sys.argv[1]}/omt.json", "w") as f:
        f.write(dumps(style) + "\n")
    print("omt", len(style["layers"]), "layers")
