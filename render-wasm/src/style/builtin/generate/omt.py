# Usage: python3 omt.py OUT_DIR (see README.md)
"""Generates the built-in "omt" style (OpenMapTiles schema), with the default palette."""
import sys
from fmt import dumps
from protomaps import (DEFAULT, RAIL_STOPS, ROAD_CLASSES, ROAD_FILL, CASING, by_zoom, road_match, zoom_curve,
                       get, coalesce, is_in, POLY, LINE, POINT)

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

    # Labels, bottom to top (MapLibre places the top layer first): water, streets, POIs, places.
    NAME = coalesce(get("name"), get("name:latin"), "")
    # Some OpenMapTiles generators (tilemaker's profile) write only name:latin.
    HAS_NAME = ["any", ["has", "name"], ["has", "name:latin"]]
    REG, BOLD, ITAL = ["Noto Sans Regular"], ["Noto Sans Bold"], ["Noto Sans Italic"]
    water_paint = {"text-color": P["water_label"], "text-halo-color": P["water_halo"], "text-halo-width": 1}
    add({"id": "water-labels", "type": "symbol", "source-layer": "water_name", "minzoom": 3,
         "filter": ["all", POINT, HAS_NAME],
         "layout": {"text-field": NAME, "text-font": ITAL, "text-max-width": 7,
                    "text-size": ["interpolate", ["linear"], ["zoom"],
                                  3, ["match", CLASS, "ocean", 13, 10], 14, ["match", CLASS, "ocean", 16, 13]]},
         "paint": water_paint})
    add({"id": "waterway-labels", "type": "symbol", "source-layer": "waterway", "minzoom": 12,
         "filter": ["all", LINE, HAS_NAME, is_in(CLASS, ["river", "canal"])],
         "layout": {"text-field": NAME, "text-font": ITAL, "symbol-placement": "line",
                    "symbol-spacing": 350, "text-letter-spacing": 0.1,
                    "text-size": zoom_curve([(12, 11), (16, 14)], 1)},
         "paint": water_paint})
    add({"id": "road-labels", "type": "symbol", "source-layer": "transportation_name", "minzoom": 12,
         "filter": ["all", LINE, HAS_NAME,
                    ["match", RC, ["highway", "major", "medium"], True,
                     ["minor", "pedestrian"], [">=", ["zoom"], 14], ["service", "path"], [">=", ["zoom"], 16], False]],
         "layout": {"text-field": NAME, "text-font": REG, "symbol-placement": "line",
                    "symbol-sort-key": ["-", 10, RANK],
                    "text-size": ["interpolate", ["linear"], ["zoom"],
                                  12, ["match", RC, ["highway", "major"], 10, 9],
                                  15, ["match", RC, ["highway", "major", "medium"], 12, 11],
                                  18, ["match", RC, ["highway", "major", "medium"], 15, 13]]},
         "paint": {"text-color": P["road_label"], "text-halo-color": P["road_halo"], "text-halo-width": 1.5}})
    add({"id": "poi-labels", "type": "symbol", "source-layer": "poi", "minzoom": 14,
         "filter": ["all", POINT, HAS_NAME,
                    ["any", [">=", ["zoom"], 16], ["<=", coalesce(get("rank"), 99), ["step", ["zoom"], 5, 15, 15]]]],
         "layout": {"text-field": NAME, "text-font": REG, "text-size": 11, "text-max-width": 8,
                    "symbol-sort-key": coalesce(get("rank"), 99)},
         "paint": {"text-color": P["poi_label"], "text-halo-color": P["road_halo"], "text-halo-width": 1.2}})
    add({"id": "place-neighbourhoods", "type": "symbol", "source-layer": "place", "minzoom": 12,
         "filter": ["all", POINT, HAS_NAME, is_in(CLASS, ["suburb", "quarter", "neighbourhood"])],
         "layout": {"text-field": NAME, "text-font": REG, "text-transform": "uppercase",
                    "text-letter-spacing": 0.12, "text-max-width": 7,
                    "text-size": zoom_curve([(12, 10), (16, 13)], 1)},
         "paint": {"text-color": P["neighbourhood_label"], "text-halo-color": P["place_halo"], "text-halo-width": 1.5}})
    add({"id": "place-localities", "type": "symbol", "source-layer": "place", "minzoom": 4,
         "filter": ["all", POINT, HAS_NAME, is_in(CLASS, ["city", "town", "village", "hamlet", "isolated_dwelling"])],
         "layout": {"text-field": NAME, "text-font": BOLD, "text-max-width": 8,
                    "symbol-sort-key": coalesce(get("rank"), 20),
                    "text-size": ["interpolate", ["linear"], ["zoom"],
                                  4, ["match", CLASS, "city", 12, 10],
                                  10, ["match", CLASS, "city", 18, "town", 14, 12],
                                  14, ["match", CLASS, "city", 22, "town", 17, 14]]},
         "paint": {"text-color": P["place_label"], "text-halo-color": P["place_halo"], "text-halo-width": 1.8}})
    add({"id": "place-regions", "type": "symbol", "source-layer": "place", "minzoom": 3, "maxzoom": 9,
         "filter": ["all", POINT, HAS_NAME, ["==", CLASS, "state"]],
         "layout": {"text-field": NAME, "text-font": REG, "text-transform": "uppercase",
                    "text-letter-spacing": 0.15, "text-size": zoom_curve([(3, 10), (8, 13)], 1)},
         "paint": {"text-color": P["region_label"], "text-halo-color": P["place_halo"], "text-halo-width": 1.5}})
    add({"id": "place-countries", "type": "symbol", "source-layer": "place", "maxzoom": 8,
         "filter": ["all", POINT, HAS_NAME, ["==", CLASS, "country"]],
         "layout": {"text-field": NAME, "text-font": BOLD, "text-max-width": 6,
                    "symbol-sort-key": coalesce(get("rank"), 10),
                    "text-size": zoom_curve([(1, 10), (6, 16)], 1)},
         "paint": {"text-color": P["country_label"], "text-halo-color": P["place_halo"], "text-halo-width": 1.5}})
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
