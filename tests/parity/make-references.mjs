// The oracle of the parity suite: renders each case with MapLibre GL JS (the exact version in
// package-lock.json) in Debian's headless Chromium (WebGL from SwiftShader) and writes
// cases/<case>/maplibre.png.
//
//   (cd tests/parity && npm ci)
//   node tests/parity/make-references.mjs                 # every case
//   node tests/parity/make-references.mjs CASE...         # the named cases
//   node tests/parity/make-references.mjs --check 3       # re-render 3 cases; fail unless byte-identical
//
// A case is a static map of exactly one tile: a canvas of size × size CSS px at pixelRatio
// `scale`, centred on the tile's centre at zoom z, bearing and pitch 0, fadeDuration 0, style
// transition 0, preserveDrawingBuffer; the style's one vector source serves only that tile
// from 127.0.0.1 with minzoom = maxzoom = z; after `idle` the canvas is read with toDataURL.
// MapLibre refuses 256 px vector sources, so a 256 px case z/x/y is drawn at zoom z−1 on a
// 256 px canvas from a parent tile z−1 that holds the child's geometry in its quadrant
// (lib/mvt.mjs parentTileOf: coordinates moved by quadrant × extent, extent doubled: exact).
// The canvas PNG is decoded and re-encoded by lib/png.mjs, so a reference's bytes depend on its
// pixels alone.
//
// Env: CHROMIUM (default /usr/bin/chromium).

import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { launch } from './lib/browser.mjs';
import { inflate, parentTileOf } from './lib/mvt.mjs';
import { decodePng, encodePng } from './lib/png.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const CASES = join(HERE, 'cases');
const MAPLIBRE_DIST = join(HERE, 'node_modules/maplibre-gl/dist');

export function listCases() {
  return readdirSync(CASES, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(CASES, d.name, 'case.json')))
    .map((d) => d.name)
    .sort();
}

export function loadCase(name) {
  const c = JSON.parse(readFileSync(join(CASES, name, 'case.json'), 'utf8'));
  for (const k of ['style', 'tile', 'z', 'x', 'y', 'size', 'scale']) if (c[k] === undefined) throw new Error(`${name}: case.json lacks ${k}`);
  if (c.size !== 256 && c.size !== 512) throw new Error(`${name}: size must be 256 or 512`);
  if (c.scale !== 1 && c.scale !== 2) throw new Error(`${name}: scale must be 1 or 2`);
  if (c.size === 256 && c.z < 1) throw new Error(`${name}: a 256 px case needs z >= 1 (it is drawn at z-1)`);
  return { name, ...c };
}

/** lon/lat of the centre of tile z/x/y. */
export function tileCentre(z, x, y) {
  const n = 2 ** z;
  const lon = ((x + 0.5) / n) * 360 - 180;
  const lat = (Math.atan(Math.sinh(Math.PI * (1 - (2 * (y + 0.5)) / n))) * 180) / Math.PI;
  return [lon, lat];
}

/** What MapLibre is given for a case: the tile it serves, at which z/x/y, and the view. */
export function oracleView(c) {
  const raw = inflate(c.tileBytes ?? readFileSync(join(HERE, c.tile)));
  if (c.size === 512) return { z: c.z, x: c.x, y: c.y, tile: raw, zoom: c.z };
  return { z: c.z - 1, x: c.x >> 1, y: c.y >> 1, tile: parentTileOf(raw, c.x, c.y), zoom: c.z - 1 };
}

const TYPES = { '.mjs': 'text/javascript', '.js': 'text/javascript', '.json': 'application/json', '.png': 'image/png', '.css': 'text/css', '.html': 'text/html' };

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><style>html,body{margin:0;padding:0;background:#fff}</style></head>
<body><script type="module">
import * as maplibregl from '/maplibre/maplibre-gl.mjs';
window.maplibreVersion = maplibregl.getVersion();
window.renderCase = async ({ style, size, pixelRatio, center, zoom }) => {
  const problems = [];
  const div = document.createElement('div');
  div.style.cssText = 'width:' + size + 'px;height:' + size + 'px;position:absolute;left:0;top:0';
  document.body.appendChild(div);
  const map = new maplibregl.Map({
    container: div, style, center, zoom, bearing: 0, pitch: 0, pixelRatio,
    fadeDuration: 0, interactive: false, attributionControl: false,
    canvasContextAttributes: { preserveDrawingBuffer: true },
  });
  map.on('error', (e) => problems.push(String(e.error?.message ?? e.error ?? e)));
  try {
    await new Promise((ok, fail) => {
      const t = setTimeout(() => fail(new Error('no idle within 60 s: ' + problems.join('; '))), 60000);
      map.once('idle', () => { clearTimeout(t); ok(); });
    });
    const c = map.getCenter();
    if (map.getZoom() !== zoom || map.getBearing() !== 0 || map.getPitch() !== 0 || Math.abs(c.lng - center[0]) > 1e-9 || Math.abs(c.lat - center[1]) > 1e-9) {
      throw new Error('the view moved: ' + JSON.stringify({ zoom: map.getZoom(), center: c, bearing: map.getBearing(), pitch: map.getPitch() }));
    }
    const canvas = map.getCanvas();
    const features = map.queryRenderedFeatures().length;
    return { url: canvas.toDataURL('image/png'), width: canvas.width, height: canvas.height, problems, features };
  } finally {
    map.remove();
    div.remove();
  }
};
window.ready = true;
</script></body></html>`;

/** MapLibre's messages, with its per-layer "not vector tile spec v2" warnings folded into one. */
function summarize(lines) {
  const v1 = [];
  const rest = [];
  for (const l of lines) {
    const m = l.match(/layer "([^"]+)" does not use vector tile spec v2/);
    if (m) v1.push(m[1]);
    else rest.push(l);
  }
  if (v1.length) rest.unshift(`warning: layers ${v1.join(', ')} "do not use vector tile spec v2 and therefore may have some rendering errors"`);
  return rest;
}

/** Starts the loopback server; `state.tile` = {z, x, y, bytes} is the one tile it serves. */
function startServer(state) {
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    const p = decodeURIComponent(url.pathname);
    state.requests.push(p);
    const send = (code, type, body) => {
      res.writeHead(code, { 'Content-Type': type, 'Cache-Control': 'no-store', 'Access-Control-Allow-Origin': '*' });
      res.end(body);
    };
    if (p === '/') return send(200, 'text/html', PAGE);
    let m = p.match(/^\/tiles\/(\d+)\/(\d+)\/(\d+)\.pbf$/);
    if (m) {
      const [z, x, y] = m.slice(1).map(Number);
      const t = state.tile;
      if (t && t.z === z && t.x === x && t.y === y) return send(200, 'application/x-protobuf', Buffer.from(t.bytes));
      state.otherTiles.push(`${z}/${x}/${y}`);
      return send(204, 'application/x-protobuf', '');
    }
    for (const [prefix, root] of [['/maplibre/', MAPLIBRE_DIST], ['/styles/', join(HERE, 'styles')]]) {
      if (!p.startsWith(prefix)) continue;
      const file = normalize(join(root, p.slice(prefix.length)));
      if (!file.startsWith(root + '/') || !existsSync(file)) break;
      return send(200, TYPES[extname(file)] ?? 'application/octet-stream', readFileSync(file));
    }
    return send(404, 'text/plain', 'not found');
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

/** The style MapLibre gets: the prepared file, with the one source and the sprite made absolute. */
function browserStyle(c, view, base) {
  const style = structuredClone(c.styleJson ?? JSON.parse(readFileSync(join(HERE, 'styles', c.style, 'style.json'), 'utf8')));
  const [source] = Object.keys(style.sources);
  style.sources = {
    [source]: { type: 'vector', tiles: [`${base}/tiles/{z}/{x}/{y}.pbf`], tileSize: 512, minzoom: view.z, maxzoom: view.z },
  };
  if (style.sprite) style.sprite = new URL(style.sprite, `${base}/styles/${c.style}/`).href;
  style.transition = { duration: 0, delay: 0 };
  return style;
}

/**
 * Renders the cases (names, or case objects as loadCase gives them, optionally with `styleJson`
 * and `tileBytes` in place of the files); returns [{name, png (canonical bytes), ms, problems}].
 */
export async function renderCases(names, { log = console.log } = {}) {
  const state = { tile: null, requests: [], otherTiles: [] };
  const server = await startServer(state);
  const base = `http://127.0.0.1:${server.address().port}`;
  const browser = await launch();
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
    const version = await page.evaluate(() => window.maplibreVersion);
    log(`MapLibre GL JS ${version}, ${await browser.context.browser()?.version?.() ?? 'chromium'}`);
    for (const item of names) {
      const c = typeof item === 'string' ? loadCase(item) : item;
      const { name } = c;
      const view = oracleView(c);
      state.tile = { z: view.z, x: view.x, y: view.y, bytes: view.tile };
      state.otherTiles = [];
      consoleLines.length = 0;
      const t0 = performance.now();
      const r = await page.evaluate((a) => window.renderCase(a), {
        style: browserStyle(c, view, base),
        size: c.size,
        pixelRatio: c.scale,
        center: tileCentre(c.z, c.x, c.y),
        zoom: view.zoom,
      });
      const ms = performance.now() - t0;
      const want = c.size * c.scale;
      if (r.width !== want || r.height !== want) throw new Error(`${name}: canvas is ${r.width}×${r.height}, expected ${want}×${want}`);
      const { width, height, rgba } = decodePng(Buffer.from(r.url.slice(r.url.indexOf(',') + 1), 'base64'));
      const png = encodePng(width, height, rgba);
      const problems = summarize([...r.problems, ...consoleLines]);
      out.push({ name, png, ms, problems, features: r.features, otherTiles: [...state.otherTiles] });
      log(`${name}: ${width}×${height} in ${ms.toFixed(0)} ms, ${r.features} features drawn${state.otherTiles.length ? `, also asked for ${state.otherTiles.join(' ')}` : ''}${problems.length ? `; MapLibre said: ${problems.join(' | ')}` : ''}`);
    }
  } finally {
    await browser.close();
    await new Promise((ok) => server.close(ok));
  }
  return out;
}

/**
 * The N cases --check re-renders: a 512 px case of a style with a sprite (patterns), a 256 px
 * one and an @2x one, each of another schema and on the densest tile it can; then more,
 * spread over the list.
 */
export function checkCases(n) {
  // Densest tiles first (the file size stands in for density), then by name: deterministic.
  const size = (c) => readFileSync(join(HERE, c.tile)).length;
  const all = listCases()
    .map(loadCase)
    .sort((a, b) => size(b) - size(a) || (a.name < b.name ? -1 : 1));
  const pick = [];
  const schemas = new Set();
  const hasSprite = (c) => existsSync(join(HERE, 'styles', c.style, 'sprite.json'));
  for (const pred of [(c) => c.size === 512 && c.scale === 1 && hasSprite(c), (c) => c.size === 256 && c.scale === 1, (c) => c.size === 512 && c.scale === 2]) {
    if (pick.length >= n) break;
    const f = all.find((c) => pred(c) && !schemas.has(c.schema)) ?? all.find((c) => pred(c) && !pick.includes(c.name));
    if (f) {
      pick.push(f.name);
      schemas.add(f.schema);
    }
  }
  for (let i = 0; pick.length < Math.min(n, all.length); i++) {
    const c = all[Math.floor((i * all.length) / n) % all.length];
    if (!pick.includes(c.name)) pick.push(c.name);
  }
  return pick;
}

async function main() {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { check: { type: 'string' } } });
  if (values.check !== undefined) {
    const names = positionals.length ? positionals : checkCases(Number(values.check));
    const results = await renderCases(names);
    let bad = 0;
    for (const r of results) {
      const committed = join(CASES, r.name, 'maplibre.png');
      const same = existsSync(committed) && readFileSync(committed).equals(r.png);
      if (!same) {
        bad++;
        writeFileSync(join(CASES, r.name, 'maplibre.check.png'), r.png);
        console.error(`${r.name}: the re-rendered reference differs from the committed maplibre.png (new one: cases/${r.name}/maplibre.check.png)`);
      } else console.log(`${r.name}: byte-identical`);
    }
    if (bad) process.exit(1);
    console.log(`${results.length} of ${results.length} references reproduced byte for byte`);
    return;
  }
  const names = positionals.length ? positionals : listCases();
  const t0 = performance.now();
  const results = await renderCases(names);
  for (const r of results) writeFileSync(join(CASES, r.name, 'maplibre.png'), r.png);
  const total = (performance.now() - t0) / 1000;
  const renders = results.map((r) => r.ms).sort((a, b) => a - b);
  console.log(`${results.length} references written in ${total.toFixed(1)} s (renders: median ${renders[renders.length >> 1].toFixed(0)} ms, max ${renders[renders.length - 1].toFixed(0)} ms)`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
