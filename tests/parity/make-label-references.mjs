// The label oracle: renders each label case with MapLibre GL JS (the version pinned in
// package-lock.json) *with its symbol layers*, in Debian's headless Chromium, and records
// which labels MapLibre placed and where: labels/<case>/maplibre-labels.json.
//
//   (cd tests/parity && npm ci)
//   node tests/parity/make-label-references.mjs              # every case
//   node tests/parity/make-label-references.mjs CASE...      # the named cases
//   node tests/parity/make-label-references.mjs --check      # re-run; exit 1 unless the JSON and
//                                                            # the label styles are identical
//
// The view is make-references.mjs's (a static map of exactly one 512 px tile at its own zoom,
// fadeDuration 0, one vector source serving only that tile), and after `idle` the labels are
// read from MapLibre's own placement state, not from pixels:
//   - every SymbolBucket of the tile (tileManagers[source] → tile.buckets), every symbol
//     instance in it, and `style.placement.placements[crossTileID]` (its JointPlacement: text
//     and icon shown or not) — the very state MapLibre draws from;
//   - the instance's collision boxes (`bucket.collisionArrays[i].textBox / iconBox`, tile units
//     relative to the anchor, EXTENT 8192 per tile) moved to the anchor and scaled to CSS px
//     (× tileSize / EXTENT = 1/16), exactly as CollisionIndex.placeCollisionBox does for an
//     unpitched, unrotated map; with text-padding/icon-padding included, as MapLibre's are;
//   - the feature: `symbolInstance.featureIndex` is the feature's index in its source layer of
//     the tile (the same index rasterzen's PlacedLabel.feature gives), its id and properties;
//     the text is the layer's `text-field` evaluated on that feature by MapLibre's own style
//     layer (getValueAndResolveTokens + text-transform), as SymbolBucket.populate does.
//
// Fonts: the styles' `glyphs` URLs are replaced by `rzglyphs://{fontstack}/{range}`, served by an
// addProtocol handler in the page that builds glyph PBFs (MapLibre's glyphs.proto) with
// @mapbox/tiny-sdf from the very TTFs rasterzen embeds (render-wasm/src/labels/fonts/, loaded as
// FontFaces), only for the code points each face has (lib/ttf.mjs reads their cmap). A font stack
// maps to a face by rasterzen's rule (style/symbol.rs FontStack::from_names: the first name's
// weight/slope words). Metrics: advance = the canvas advance at 24 px rounded to a whole pixel
// (MapLibre's PBF field is an integer), top = ceil(ink ascent) − the face's ascender at 24 px
// rounded up (26 for Noto Sans: the baseline rasterzen uses), left = floor(ink left).
//
// Env: CHROMIUM (default /usr/bin/chromium).

import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { derefLayers } from '@maplibre/maplibre-gl-style-spec';
import { launch } from './lib/browser.mjs';
import { inflate } from './lib/mvt.mjs';
import { PMTiles } from './lib/pmtiles.mjs';
import { readTtf } from './lib/ttf.mjs';
import { tileCentre } from './make-references.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '../..');
const LABELS = join(HERE, 'labels');
const FONTS = join(ROOT, 'render-wasm/src/labels/fonts');
const NM = join(HERE, 'node_modules');

/** The faces rasterzen embeds, by the name its FaceStyle gives them. */
export const FACES = { regular: 'NotoSans-Regular.ttf', bold: 'NotoSans-Bold.ttf', italic: 'NotoSans-Italic.ttf' };

/** rasterzen's FontStack::from_names: the face standing in for a `text-font` stack. */
export function faceOf(stack) {
  const first = (stack.split(',')[0] ?? '').toLowerCase();
  if (first.includes('italic') || first.includes('oblique')) return 'italic';
  if (['bold', 'black', 'heavy', 'semibold', 'demi'].some((w) => first.includes(w))) return 'bold';
  return 'regular';
}

/**
 * The label styles. `default` is rasterzen's built-in style (the file it embeds); the others are
 * made from an npm package like prepare-styles.mjs makes the parity styles, but keeping the
 * symbol layers: ref layers dereferenced, only the vector source's layers (and background), no
 * glyphs, the sprite that styles/<name>/ already holds. Written to labels/styles/<name>.json,
 * the file both renderers get.
 */
export const LABEL_STYLES = {
  default: { file: join(ROOT, 'render-wasm/src/style/builtin/default.json') },
  'osm-bright': { pkg: 'tileserver-gl-styles', path: 'styles/osm-bright/style.json', sprite: 'osm-bright' },
  'klokantech-basic': { pkg: 'tileserver-gl-styles', path: 'styles/klokantech-basic/style.json' },
};

export function labelStyle(name) {
  const def = LABEL_STYLES[name];
  if (!def) throw new Error(`no label style ${name}`);
  if (def.file) return JSON.parse(readFileSync(def.file, 'utf8'));
  const published = JSON.parse(readFileSync(join(NM, def.pkg, def.path), 'utf8'));
  const version = JSON.parse(readFileSync(join(NM, def.pkg, 'package.json'), 'utf8')).version;
  const sources = Object.keys(published.sources).filter((s) => published.sources[s].type === 'vector');
  if (sources.length !== 1) throw new Error(`${name}: expected one vector source, found ${sources}`);
  const [source] = sources;
  const layers = derefLayers(published.layers).filter((l) => l.type === 'background' || l.source === source);
  return {
    version: 8,
    name: published.name ?? name,
    metadata: {
      'rasterzen:labels': {
        origin: `${def.pkg}@${version}: ${def.path}`,
        prepared: `tests/parity/make-label-references.mjs: ref layers dereferenced, one vector source, symbol layers kept, no glyphs, ${def.sprite ? `sprite ../../styles/${def.sprite}/sprite` : 'no sprite'}`,
      },
    },
    sources: { [source]: { type: 'vector', tiles: ['{z}/{x}/{y}.pbf'], attribution: published.sources[source].attribution ?? '' } },
    ...(def.sprite ? { sprite: `../../styles/${def.sprite}/sprite` } : {}),
    layers,
  };
}

/** Writes (or, with check, compares) labels/styles/<name>.json for the non-built-in styles. */
function writeLabelStyles(check) {
  mkdirSync(join(LABELS, 'styles'), { recursive: true });
  const bad = [];
  for (const name of Object.keys(LABEL_STYLES)) {
    if (LABEL_STYLES[name].file) continue;
    const file = join(LABELS, 'styles', `${name}.json`);
    const text = `${JSON.stringify(labelStyle(name), null, 2)}\n`;
    if (check) {
      if (!existsSync(file) || readFileSync(file, 'utf8') !== text) bad.push(`labels/styles/${name}.json`);
    } else writeFileSync(file, text);
  }
  return bad;
}

export function listLabelCases() {
  return readdirSync(LABELS, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(LABELS, d.name, 'case.json')))
    .map((d) => d.name)
    .sort();
}

export function loadLabelCase(name) {
  const c = JSON.parse(readFileSync(join(LABELS, name, 'case.json'), 'utf8'));
  for (const k of ['style', 'z', 'x', 'y', 'size']) if (c[k] === undefined) throw new Error(`${name}: case.json lacks ${k}`);
  if ((c.tile === undefined) === (c.archive === undefined)) throw new Error(`${name}: case.json needs one of tile (a file in tests/parity) and archive (a PMTiles file, from the repository root)`);
  if (c.size !== 512) throw new Error(`${name}: label cases are 512 px (tile z/x/y drawn at zoom z)`);
  if (!LABEL_STYLES[c.style]) throw new Error(`${name}: unknown label style ${c.style}`);
  if (!/OpenStreetMap contributors/.test(c.attribution ?? '')) throw new Error(`${name}: case.json needs the data's attribution (© OpenStreetMap contributors …)`);
  return { name, ...c };
}

/** The case's tile, raw MVT. */
export function labelTile(c) {
  if (c.tile) return inflate(readFileSync(join(HERE, c.tile)));
  const bytes = new PMTiles(join(ROOT, c.archive)).tile(c.z, c.x, c.y);
  if (!bytes) throw new Error(`${c.name}: ${c.archive} has no tile ${c.z}/${c.x}/${c.y}`);
  return inflate(bytes);
}

/** Code points (>= U+0020) each face has, and how far whole-pixel advances are from the font's. */
export function fontCoverage() {
  const out = {};
  for (const [face, file] of Object.entries(FACES)) {
    const t = readTtf(readFileSync(join(FONTS, file)));
    const cps = t.codePoints.filter((c) => c >= 0x20);
    let sum = 0;
    let max = 0;
    for (const c of cps) {
      const exact = (t.advance(c) * 24) / t.unitsPerEm;
      const d = Math.abs(Math.round(exact) - exact);
      sum += d;
      max = Math.max(max, d);
    }
    out[face] = { file, codePoints: cps, ascender24: Math.ceil((t.ascender * 24) / t.unitsPerEm), advanceRounding: { mean: sum / cps.length, max } };
  }
  return out;
}

const TYPES = { '.mjs': 'text/javascript', '.js': 'text/javascript', '.json': 'application/json', '.png': 'image/png', '.ttf': 'font/ttf', '.html': 'text/html' };

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><style>html,body{margin:0;padding:0;background:#fff}</style></head>
<body><script type="module">
import * as maplibregl from '/maplibre/maplibre-gl.mjs';
import TinySDF from '/npm/@mapbox/tiny-sdf/index.js';
import Pbf from '/npm/pbf/index.js';
window.maplibreVersion = maplibregl.getVersion();

// --- glyph PBFs from the embedded TTFs -------------------------------------------------------
let fonts = null; // face -> {family, codePoints: Set, ascender24, sdf}
const served = {}; // "face range" -> glyph count, for the report
window.setFonts = async (coverage) => {
  fonts = {};
  for (const [face, c] of Object.entries(coverage)) {
    const family = 'rasterzen-noto-' + face;
    const ff = new FontFace(family, 'url(/fonts/' + c.file + ')');
    await ff.load();
    document.fonts.add(ff);
    fonts[face] = { family, codePoints: new Set(c.codePoints), ascender24: c.ascender24,
      sdf: new TinySDF({ fontSize: 24, buffer: 3, radius: 8, cutoff: 0.25, fontFamily: family }) };
  }
};
const faceOf = ${faceOf.toString()};
function glyphPbf(stack, range) {
  const [start, end] = range.split('-').map(Number);
  const face = faceOf(stack);
  const f = fonts[face];
  const pbf = new Pbf();
  pbf.writeMessage(1, (_, p) => {
    p.writeStringField(1, stack);
    p.writeStringField(2, range);
    let n = 0;
    for (let cp = start; cp <= end; cp++) {
      if (!f.codePoints.has(cp)) continue;
      const g = f.sdf.draw(String.fromCodePoint(cp));
      n++;
      p.writeMessage(3, (_, q) => {
        q.writeVarintField(1, cp);
        if (g.glyphWidth > 0 && g.glyphHeight > 0) q.writeBytesField(2, new Uint8Array(g.data.buffer, g.data.byteOffset, g.data.length));
        q.writeVarintField(3, g.glyphWidth);
        q.writeVarintField(4, g.glyphHeight);
        q.writeSVarintField(5, g.glyphLeft);
        q.writeSVarintField(6, g.glyphTop - f.ascender24);
        q.writeVarintField(7, Math.round(g.glyphAdvance));
      });
    }
    served[face + ' ' + range] = n;
  });
  return pbf.finish();
}
maplibregl.addProtocol('rzglyphs', async (params) => {
  const m = params.url.match(/^rzglyphs:\\/\\/(.*)\\/(\\d+-\\d+)$/);
  if (!m) throw new Error('bad glyph URL ' + params.url);
  const bytes = glyphPbf(decodeURIComponent(m[1]), m[2]);
  return { data: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) };
});

// --- one case ------------------------------------------------------------------------------
const EXTENT = 8192;
const r3 = (v) => Math.round(v * 1000) / 1000;
window.labelCase = async ({ style, size, center, zoom }) => {
  const problems = [];
  const div = document.createElement('div');
  div.style.cssText = 'width:' + size + 'px;height:' + size + 'px;position:absolute;left:0;top:0';
  document.body.appendChild(div);
  const map = new maplibregl.Map({
    container: div, style, center, zoom, bearing: 0, pitch: 0, pixelRatio: 1,
    fadeDuration: 0, interactive: false, attributionControl: false, localIdeographFontFamily: false,
  });
  map.on('error', (e) => problems.push(String(e.error?.message ?? e.error ?? e)));
  try {
    await new Promise((ok, fail) => {
      const t = setTimeout(() => fail(new Error('no idle within 60 s: ' + problems.join('; '))), 60000);
      map.once('idle', () => { clearTimeout(t); ok(); });
    });
    if (map.getZoom() !== zoom || map.getBearing() !== 0 || map.getPitch() !== 0) throw new Error('the view moved');
    const placement = map.style.placement;
    const labels = [];
    let candidates = 0;
    for (const [sourceId, tm] of Object.entries(map.style.tileManagers)) {
      for (const id of tm.getRenderableIds(true)) {
        const tile = tm.getTileByID(id);
        const scale = tile.tileSize / EXTENT;
        const vt = tile.latestFeatureIndex.loadVTLayers();
        const canonical = tile.tileID.canonical;
        for (const bucket of Object.values(tile.buckets)) {
          if (!bucket.symbolInstances || bucket.layerIds[0] !== bucket.layers[0].id) continue;
          const layer = map.style.getLayer(bucket.layerIds[0]);
          const layout = layer.layout;
          for (let i = 0; i < bucket.symbolInstances.length; i++) {
            candidates++;
            const si = bucket.symbolInstances.get(i);
            const jp = placement.placements[si.crossTileID];
            if (!jp || (!jp.text && !jp.icon)) continue;
            const ca = bucket.collisionArrays?.[i] ?? {};
            const f = vt[layer.sourceLayer].feature(si.featureIndex);
            const ef = { type: f.type, properties: f.properties, id: f.id, geometry: f.loadGeometry() };
            let text = '';
            if (layout.get('text-field')) {
              const v = layer.getValueAndResolveTokens('text-field', ef, canonical, []);
              text = v == null ? '' : v.toString();
              const tr = layout.get('text-transform').evaluate(ef, {}, canonical);
              if (tr === 'uppercase') text = text.toLocaleUpperCase();
              else if (tr === 'lowercase') text = text.toLocaleLowerCase();
            }
            const box = (b) => b ? [r3((b.anchorPointX + b.x1) * scale), r3((b.anchorPointY + b.y1) * scale), r3((b.anchorPointX + b.x2) * scale), r3((b.anchorPointY + b.y2) * scale)] : null;
            const hasText = si.numHorizontalGlyphVertices > 0;
            labels.push({
              layer: layer.id,
              shared_with: bucket.layerIds.slice(1),
              feature: si.featureIndex,
              id: f.id ?? null,
              name: f.properties.name ?? null,
              text,
              placement: layout.get('symbol-placement'),
              anchor: [r3(si.anchorX * scale), r3(si.anchorY * scale)],
              text_placed: !!jp.text && hasText,
              icon_placed: !!jp.icon && si.numIconVertices > 0,
              text_box: jp.text && hasText ? box(ca.textBox) : null,
              icon_box: jp.icon && si.numIconVertices > 0 ? box(ca.iconBox) : null,
              text_size: hasText ? r3(layout.get('text-size').evaluate(ef, {}, canonical)) : null,
              layout_text_size: hasText ? r3(si.textBoxScale * 24 / (EXTENT / tile.tileSize)) : null,
            });
          }
        }
      }
    }
    // Every symbol layer's placement at this zoom (the Rust test tells point labels by it).
    const layers = {};
    for (const l of map.getStyle().layers) if (l.type === 'symbol') layers[l.id] = map.style.getLayer(l.id).layout.get('symbol-placement');
    return { labels, layers, candidates, problems, served: { ...served } };
  } finally {
    map.remove();
    div.remove();
  }
};
window.ready = true;
</script></body></html>`;

function startServer(state) {
  const server = createServer((req, res) => {
    const p = decodeURIComponent(new URL(req.url, 'http://127.0.0.1').pathname);
    const send = (code, type, body) => {
      res.writeHead(code, { 'Content-Type': type, 'Cache-Control': 'no-store', 'Access-Control-Allow-Origin': '*' });
      res.end(body);
    };
    if (p === '/') return send(200, 'text/html', PAGE);
    const m = p.match(/^\/tiles\/(\d+)\/(\d+)\/(\d+)\.pbf$/);
    if (m) {
      const [z, x, y] = m.slice(1).map(Number);
      const t = state.tile;
      if (t && t.z === z && t.x === x && t.y === y) return send(200, 'application/x-protobuf', Buffer.from(t.bytes));
      state.otherTiles.push(`${z}/${x}/${y}`);
      return send(204, 'application/x-protobuf', '');
    }
    const roots = [
      ['/maplibre/', join(NM, 'maplibre-gl/dist')],
      ['/npm/@mapbox/tiny-sdf/', join(NM, '@mapbox/tiny-sdf')],
      ['/npm/pbf/', join(NM, 'pbf')],
      ['/fonts/', FONTS],
      ['/styles/', join(HERE, 'styles')],
    ];
    for (const [prefix, root] of roots) {
      if (!p.startsWith(prefix)) continue;
      const file = normalize(join(root, p.slice(prefix.length)));
      if (!file.startsWith(root + '/') || !existsSync(file)) break;
      return send(200, TYPES[extname(file)] ?? 'application/octet-stream', readFileSync(file));
    }
    return send(404, 'text/plain', 'not found');
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

/** The style MapLibre gets: the label style, its one source serving the case's tile, glyphs ours. */
function browserStyle(c, base) {
  const style = structuredClone(labelStyle(c.style));
  const [source] = Object.keys(style.sources);
  style.sources = { [source]: { type: 'vector', tiles: [`${base}/tiles/{z}/{x}/{y}.pbf`], tileSize: 512, minzoom: c.z, maxzoom: c.z } };
  const sprite = LABEL_STYLES[c.style].sprite;
  if (sprite) style.sprite = `${base}/styles/${sprite}/sprite`;
  else delete style.sprite;
  style.glyphs = 'rzglyphs://{fontstack}/{range}';
  style.transition = { duration: 0, delay: 0 };
  return style;
}

/** Runs the cases; returns [{name, json (the file's text), summary}]. */
export async function labelCases(names, { log = console.log } = {}) {
  const state = { tile: null, otherTiles: [] };
  const server = await startServer(state);
  const base = `http://127.0.0.1:${server.address().port}`;
  const browser = await launch();
  const coverage = fontCoverage();
  const out = [];
  try {
    const page = await browser.context.newPage();
    const consoleLines = [];
    page.on('console', (m) => {
      if (m.type() === 'warning' || m.type() === 'error') consoleLines.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
    await page.goto(`${base}/`);
    await page.waitForFunction(() => window.ready === true, null, { timeout: 30000 });
    await page.evaluate((c) => window.setFonts(c), coverage);
    const version = await page.evaluate(() => window.maplibreVersion);
    log(`MapLibre GL JS ${version}; glyph PBFs from ${Object.values(FACES).join(', ')}`);
    for (const item of names) {
      const c = typeof item === 'string' ? loadLabelCase(item) : item;
      state.tile = { z: c.z, x: c.x, y: c.y, bytes: labelTile(c) };
      state.otherTiles = [];
      consoleLines.length = 0;
      const r = await page.evaluate((a) => window.labelCase(a), { style: browserStyle(c, base), size: c.size, center: tileCentre(c.z, c.x, c.y), zoom: c.z });
      const problems = [...r.problems, ...consoleLines].filter((l) => !/does not use vector tile spec v2/.test(l));
      if (problems.length) throw new Error(`${c.name}: MapLibre said: ${problems.join(' | ')}`);
      const labels = r.labels.sort((a, b) => (a.layer < b.layer ? -1 : a.layer > b.layer ? 1 : a.feature - b.feature || a.anchor[0] - b.anchor[0] || a.anchor[1] - b.anchor[1]));
      const doc = {
        what: 'Labels MapLibre GL JS placed on this tile: made by tests/parity/make-label-references.mjs; positions in CSS px of the 512 px tile (origin top-left, y down); boxes are MapLibre collision boxes (padding included) as placed',
        attribution: c.attribution,
        maplibre: version,
        case: c.name,
        style: c.style,
        tile: c.tile ?? null,
        archive: c.archive ?? null,
        z: c.z,
        x: c.x,
        y: c.y,
        size: c.size,
        fonts: Object.fromEntries(Object.entries(coverage).map(([k, v]) => [k, { file: v.file, code_points: v.codePoints.length, ascender24: v.ascender24 }])),
        symbol_layers: r.layers,
        candidates: r.candidates,
        placed: labels.length,
        labels,
      };
      const json = `${JSON.stringify(doc, null, 1)}\n`;
      const point = labels.filter((l) => l.placement === 'point' && l.text_placed).length;
      log(`${c.name}: ${r.candidates} symbol instances, ${labels.length} placed (${point} point texts)${state.otherTiles.length ? `, also asked for ${state.otherTiles.join(' ')}` : ''}`);
      out.push({ name: c.name, json });
    }
  } finally {
    await browser.close();
    await new Promise((ok) => server.close(ok));
  }
  return { results: out, coverage };
}

async function main() {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { check: { type: 'boolean' } } });
  const names = positionals.length ? positionals : listLabelCases();
  if (values.check) {
    const bad = writeLabelStyles(true);
    const { results } = await labelCases(names);
    for (const r of results) {
      const file = join(LABELS, r.name, 'maplibre-labels.json');
      if (!existsSync(file) || readFileSync(file, 'utf8') !== r.json) {
        writeFileSync(join(LABELS, r.name, 'maplibre-labels.check.json'), r.json);
        bad.push(`labels/${r.name}/maplibre-labels.json (new one: maplibre-labels.check.json)`);
      } else console.log(`${r.name}: identical`);
    }
    if (bad.length) {
      console.error(`differs from what the oracle makes now: ${bad.join(', ')}`);
      process.exit(1);
    }
    console.log(`${results.length} of ${results.length} label references reproduced exactly`);
    return;
  }
  writeLabelStyles(false);
  const { results, coverage } = await labelCases(names);
  for (const r of results) writeFileSync(join(LABELS, r.name, 'maplibre-labels.json'), r.json);
  for (const [face, c] of Object.entries(coverage)) {
    console.log(`${face}: ${c.codePoints.length} code points; |whole-pixel advance − font advance| at 24 px: mean ${c.advanceRounding.mean.toFixed(3)}, max ${c.advanceRounding.max.toFixed(3)} px`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
