// Real map clients on a second map of a config: MapLibre GL JS and OpenLayers (each from npm,
// at the version package.json pins) in Debian's Chromium, driven by playwright-core, load the
// `monaco` map of examples/maps.toml from the real `rasterzen serve --config` through its
// TileJSON, as a user would set them up. (GDAL, the third client, reads the same map through
// its WMTS capabilities in tests/maps.rs.) Every process and listener started here is stopped
// at the end, also on failure. Run from the repository root after ./build.sh:
//   (cd tests/browser && npm ci) && node --test tests/browser/clients.test.mjs
// Env: RASTERZEN_BIN (default target/release/rasterzen), CHROMIUM (default /usr/bin/chromium).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServe } from './lib/serve.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const BIN = process.env.RASTERZEN_BIN || join(ROOT, 'target/release/rasterzen');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
// WebGL (MapLibre needs it) from SwiftShader: there is no GPU here.
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--use-angle=swiftshader', '--use-gl=angle',
  '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
// Monaco, inside the archive's bounds.
const CENTER = [7.4289, 43.7375];

let served; // rasterzen serve (lib/serve.mjs)
let rz; // http://127.0.0.1:PORT of rasterzen
let pages; // the loopback server of the test pages and the clients' files
let pagesBase;
let scratch;
let context;

async function startRasterzen() {
  served = await startServe(BIN, [
    '--config', join(ROOT, 'examples/maps.toml'), '--cache', 'memory',
    '--compiled-cache', join(scratch, 'compiled'),
  ]);
  rz = served.base;
}

const TYPES = { '.mjs': 'text/javascript', '.js': 'text/javascript', '.css': 'text/css', '.html': 'text/html' };

// The two pages: each sets `window.result` once its map has drawn (or `window.failure`).
const MAPLIBRE_PAGE = `<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="/lib/maplibre-gl/maplibre-gl.css">
<style>html,body{margin:0}#map{width:768px;height:768px}</style></head>
<body><div id="map"></div><script type="module">
import * as maplibregl from '/lib/maplibre-gl/maplibre-gl.mjs';
const rz = new URL(location.href).searchParams.get('rz');
const errors = [];
const map = new maplibregl.Map({
  container: 'map', center: ${JSON.stringify(CENTER)}, zoom: 14, fadeDuration: 0,
  canvasContextAttributes: { preserveDrawingBuffer: true },
  style: { version: 8, sources: { monaco: { type: 'raster', url: rz + '/monaco/tilejson.json', tileSize: 512 } },
           layers: [{ id: 'monaco', type: 'raster', source: 'monaco' }] },
});
map.on('error', (e) => errors.push(String(e.error?.message ?? e.error ?? e)));
map.once('idle', () => {
  const c = document.createElement('canvas');
  const src = map.getCanvas();
  c.width = src.width; c.height = src.height;
  const g = c.getContext('2d');
  g.drawImage(src, 0, 0);
  const px = g.getImageData(0, 0, c.width, c.height).data;
  const colours = new Set();
  for (let i = 0; i < px.length; i += 4 * 97) colours.add((px[i] << 16) | (px[i + 1] << 8) | px[i + 2]);
  window.result = { errors, colours: colours.size,
    attribution: document.querySelector('.maplibregl-ctrl-attrib')?.textContent ?? '' };
});
</script></body></html>`;

const OPENLAYERS_PAGE = `<!doctype html><html><head><meta charset="utf-8">
<style>html,body{margin:0}#map{width:768px;height:768px}</style></head>
<body><div id="map"></div><script src="/lib/ol/ol.js"></script><script>
const rz = new URL(location.href).searchParams.get('rz');
const errors = [];
const source = new ol.source.TileJSON({ url: rz + '/monaco/tilejson.json', crossOrigin: 'anonymous', tileSize: 512 });
source.on('tileloaderror', (e) => errors.push('tile load error: ' + e.tile.getTileCoord()));
let loaded = 0;
source.on('tileloadend', () => loaded++);
const map = new ol.Map({
  target: 'map', layers: [new ol.layer.Tile({ source })],
  view: new ol.View({ center: ol.proj.fromLonLat(${JSON.stringify(CENTER)}), zoom: 14 }),
});
map.on('rendercomplete', () => {
  // The first frames come before the TileJSON and the tiles: wait for a frame with tiles.
  if (window.result || loaded === 0) return;
  const colours = new Set();
  for (const canvas of document.querySelectorAll('#map canvas')) {
    const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < px.length; i += 4 * 97) colours.add((px[i] << 16) | (px[i + 1] << 8) | px[i + 2]);
  }
  window.result = { errors, colours: colours.size,
    attribution: document.querySelector('.ol-attribution')?.textContent ?? '' };
});
</script></body></html>`;

function startPages() {
  const libs = {
    '/lib/maplibre-gl/': join(HERE, 'node_modules/maplibre-gl/dist'),
    '/lib/ol/': join(HERE, 'node_modules/ol/dist'),
  };
  pages = createHttpServer((req, res) => {
    const p = decodeURIComponent(new URL(req.url, 'http://127.0.0.1').pathname);
    const send = (code, type, body) => {
      res.writeHead(code, { 'Content-Type': type, 'Cache-Control': 'no-store' });
      res.end(body);
    };
    if (p === '/maplibre.html') return send(200, 'text/html', MAPLIBRE_PAGE);
    if (p === '/openlayers.html') return send(200, 'text/html', OPENLAYERS_PAGE);
    // Browsers ask for it unprompted; a 404 would be a console error.
    if (p === '/favicon.ico') return send(204, 'image/x-icon', '');
    for (const [prefix, root] of Object.entries(libs)) {
      if (!p.startsWith(prefix)) continue;
      const file = normalize(join(root, p.slice(prefix.length)));
      if (!file.startsWith(root + '/') || !existsSync(file)) break;
      return send(200, TYPES[extname(file)] ?? 'application/octet-stream', readFileSync(file));
    }
    return send(404, 'text/plain', 'not found');
  });
  return new Promise((ok) => pages.listen(0, '127.0.0.1', () => {
    pagesBase = `http://127.0.0.1:${pages.address().port}`;
    ok();
  }));
}

before(async () => {
  for (const lib of ['maplibre-gl/dist/maplibre-gl.mjs', 'ol/dist/ol.js']) {
    if (!existsSync(join(HERE, 'node_modules', lib))) {
      throw new Error(`tests/browser/node_modules/${lib} is missing: (cd tests/browser && npm ci)`);
    }
  }
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
  scratch = mkdtempSync(join(tmpdir(), 'rasterzen-clients-'));
  await startRasterzen();
  await startPages();
  context = await chromium.launchPersistentContext(join(scratch, 'chromium'), {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS,
    ignoreDefaultArgs: ['--enable-automation'], viewport: { width: 800, height: 800 },
  });
});

after(async () => {
  try {
    await context?.close();
  } finally {
    await served?.stop();
    await new Promise((ok) => (pages ? pages.close(ok) : ok()));
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
});

/** Opens a client's page; returns its result and every request it made to rasterzen. */
async function runClient(pageName) {
  const page = await context.newPage();
  const problems = [];
  const answers = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (r.url().startsWith(rz)) answers.push({ path: new URL(r.url()).pathname, status: r.status() });
  });
  try {
    await page.goto(`${pagesBase}/${pageName}?rz=${encodeURIComponent(rz)}`);
    await page.waitForFunction(() => window.result, null, { timeout: 90_000 });
    const result = await page.evaluate(() => window.result);
    return { result, problems, answers };
  } finally {
    await page.close();
  }
}

/** What must hold for every client: it asked for the Monaco map's TileJSON and tiles, all of
 * them answered 200, and it drew a picture (not one colour) with the map's attribution. */
function assertDrewTheMonacoMap({ result, problems, answers }, client) {
  const detail = () => `${client}: ${JSON.stringify({ result, problems, answers })}\n${served.log().slice(-3000)}`;
  assert.deepEqual(problems, [], detail());
  assert.deepEqual(result.errors, [], detail());
  assert.ok(answers.some((a) => a.path === '/monaco/tilejson.json' && a.status === 200), detail());
  const tiles = answers.filter((a) => a.path.startsWith('/monaco/png/'));
  assert.ok(tiles.length >= 4, `at least 4 tiles of the viewport: ${detail()}`);
  assert.ok(tiles.every((a) => a.status === 200), detail());
  assert.ok(answers.every((a) => a.path.startsWith('/monaco/')), `only the monaco map: ${detail()}`);
  assert.ok(result.colours >= 20, `a map, not a blank canvas: ${detail()}`);
  assert.match(result.attribution, /OpenStreetMap contributors/, detail());
}

test('MapLibre GL JS draws the second map of the config from its TileJSON', async () => {
  assertDrewTheMonacoMap(await runClient('maplibre.html'), 'MapLibre GL JS');
});

test('OpenLayers draws the second map of the config from its TileJSON', async () => {
  assertDrewTheMonacoMap(await runClient('openlayers.html'), 'OpenLayers');
});
