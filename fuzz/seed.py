#!/usr/bin/env python3
"""Builds the fuzz seed corpora (fuzz/corpus/TARGET/) from the repository's fixtures: every
test tile, the built-in and third-party styles, the expressions those styles use, and tile
paths good and hostile. Deterministic; rerun at will (the corpus directory is not committed,
the regressions under fuzz/regressions/ are)."""
import hashlib, json, os, struct, sys

FUZZ = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(FUZZ)
OUT = os.path.join(FUZZ, "corpus")

def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)

def files(top, exts):
    for dirpath, _, names in os.walk(top):
        for n in sorted(names):
            if n.endswith(exts):
                yield os.path.join(dirpath, n)

tiles = [open(p, "rb").read() for p in files(os.path.join(ROOT, "tests/fixtures"), (".mvt", ".pbf"))]
tiles += [open(p, "rb").read() for p in files(os.path.join(ROOT, "tests/reference"), (".mvt",))]
small = [t for t in tiles if len(t) <= 64 << 10]

# MVT decoder: every tile as it is.
for t in tiles:
    put("mvt_decode", t)

# Styles: built-ins, the parity suite's third-party styles, the reference cases' styles.
styles = [open(p).read() for p in files(os.path.join(ROOT, "render-wasm/src/style/builtin"), (".json",))]
styles += [open(p).read() for p in files(os.path.join(ROOT, "tests/parity/styles"), ("style.json",))]
styles += [open(p).read() for p in files(os.path.join(ROOT, "render-wasm/tests/styles"), (".json",))]
for s in styles:
    put("style_parse", s)

# Expressions: every array-valued filter, layout and paint value of those styles.
exprs = set()
for s in styles:
    try:
        doc = json.loads(s)
    except ValueError:
        continue
    for layer in doc.get("layers", []) if isinstance(doc, dict) else []:
        if not isinstance(layer, dict):
            continue
        if isinstance(layer.get("filter"), list):
            exprs.add(json.dumps(layer["filter"]))
        for part in ("paint", "layout"):
            for v in (layer.get(part) or {}).values():
                if isinstance(v, (list, dict)):
                    exprs.add(json.dumps(v))
exprs |= {json.dumps(e) for e in [
    ["get", "name"], ["has", "class"], ["==", ["geometry-type"], "Polygon"],
    ["interpolate", ["exponential", 1.5], ["zoom"], 5, 1, 22, 80],
    ["step", ["get", "rank"], 1, 5, 2, 10, 3],
    ["match", ["get", "class"], ["a", "b"], 1, "c", 2, 0],
    ["case", ["<", ["to-number", ["get", "h"]], 10], "#f00", "rgba(0,0,255,0.5)"],
    ["coalesce", ["get", "x"], ["get", "y"], 3],
    ["let", "v", ["*", ["zoom"], 2], ["var", "v"]],
    ["concat", ["get", "name"], ["to-string", ["id"]]],
    ["at", 1, ["literal", [1, 2, 3]]], ["length", ["get", "name"]],
    ["in", ["get", "class"], ["literal", ["a", "b"]]],
    ["^", 10, 1e10], ["/", 1, 0], ["%", 7, 0], ["sqrt", -1], ["ln", 0],
    ["interpolate", ["linear"], ["zoom"], 0, 1e10, 22, 1e30],
    ["interpolate-hcl", ["linear"], ["zoom"], 0, "red", 22, "blue"],
    ["to-color", ["get", "colour"]], ["rgba", 300, -5, 1e9, 2],
]}
for i, e in enumerate(sorted(exprs)):
    for which in (i % 6, (i + 3) % 6):
        put("expr_eval", bytes([which]) + e.encode())

# Render: small tiles × formats, sizes, scales, built-in styles, overzoom; and custom styles.
flags = [0x00, 0x01, 0x02, 0x03, 0x04, 0x08, 0x10, 0x22, 0x41, 0x0e]
for i, t in enumerate(small):
    for f in (flags[i % len(flags)], flags[(i + 5) % len(flags)]):
        put("render", bytes([f]) + t)
custom = [s for s in styles if len(s) < 60000]
custom.append(json.dumps({"version": 8, "sources": {"s": {"type": "vector"}}, "layers": [
    {"id": "bg", "type": "background", "paint": {"background-color": "#eee"}},
    {"id": "f", "type": "fill", "source": "s", "source-layer": "water", "paint": {"fill-color": "#00f", "fill-outline-color": "#000"}},
    {"id": "l", "type": "line", "source": "s", "source-layer": "roads", "paint": {"line-width": ["get", "w"], "line-dasharray": [2, 1], "line-gap-width": 3}},
    {"id": "c", "type": "circle", "source": "s", "source-layer": "pois", "paint": {"circle-radius": ["get", "r"], "circle-stroke-width": 2}},
    {"id": "e", "type": "fill-extrusion", "source": "s", "source-layer": "buildings", "paint": {"fill-extrusion-height": ["get", "height"]}}]}))
for i, s in enumerate(custom):
    t = small[i % len(small)]
    b = s.encode()[:0xffff]
    put("render", bytes([0x30 | (i % 4)]) + struct.pack("<H", len(b)) + b + t)

# Tile paths: good ones, and what attackers send.
for p in ["14/8704/5971.png", "14/8704/5971@2x.png", "0/0/0.mvt", "3/7/7.geojson", "1/1/1@2x.svg",
          "../../etc/passwd", "..%2f..%2fetc", "14/8704/5971.png/../../x", "/abs/path.png",
          "1/2/3\x00.png", "%2e%2e/%2e%2e/x", "99999999999/1/1.png", "1/2/" + "9" * 300 + ".png",
          "a/b/c.png", "1/2/3@3x.png", "C:\\windows\\x", "0.1.0+build", "..", ".hidden", "v" * 80]:
    put("tile_path", p)
print("seeded", {t: len(os.listdir(os.path.join(OUT, t))) for t in sorted(os.listdir(OUT))}, file=sys.stderr)
