// The preview page in a real browser: Debian's Chromium driven by playwright-core, against the
// real `rasterzen serve` on a free loopback port (both started here, both stopped at the end,
// also on failure). Run from the repository root after ./build.sh:
//   (cd tests/browser && npm ci) && node --test tests/browser/preview.test.mjs
// Env: RASTERZEN_BIN (default target/release/rasterzen), CHROMIUM (default /usr/bin/chromium),
// RASTERZEN_SCREENSHOT=PATH also saves the page's screenshot there (as www/screenshot.png).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';
import { startServe } from './lib/serve.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const BIN = process.env.RASTERZEN_BIN || join(ROOT, 'target/release/rasterzen');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const OUT = join(HERE, 'out');
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

let served; // rasterzen serve (lib/serve.mjs)
let base; // http://127.0.0.1:PORT
let userDataDir;
let context;
let page;
let tj; // the server's TileJSON
const pageProblems = [];

// ------------------------------------------------------------------------------------------
// Helpers

async function startServer() {
  served = await startServe(BIN, ['--cache', 'memory']);
  base = served.base;
}

async function stopServer() {
  await served?.stop();
}

const sha = (b) => createHash('sha256').update(b).digest('hex').slice(0, 16);

/** The tile containing lon/lat at zoom z. */
function tileAt(lon, lat, z) {
  const n = 2 ** z;
  const x = Math.floor(((lon + 180) / 360) * n);
  const r = (lat * Math.PI) / 180;
  const y = Math.floor(((1 - Math.asinh(Math.tan(r)) / Math.PI) / 2) * n);
  return { z, x: Math.min(n - 1, Math.max(0, x)), y: Math.min(n - 1, Math.max(0, y)) };
}

async function serverPng(z, x, y, scale, query = '') {
  const r = await fetch(`${base}/png/${z}/${x}/${y}${scale === 2 ? '@2x' : ''}.png${query}`);
  const body = Buffer.from(await r.arrayBuffer());
  assert.equal(r.status, 200, `server /png/${z}/${x}/${y}: HTTP ${r.status} ${body.toString().slice(0, 200)}`);
  assert.equal(r.headers.get('content-type'), 'image/png');
  return { body, renderer: r.headers.get('x-rasterzen-renderer') };
}

async function browserPng(z, x, y, scale) {
  const b64 = await page.evaluate(async ([z, x, y, scale]) => {
    const bytes = await window.rasterzenPreview.renderPng(z, x, y, scale);
    if (!(bytes instanceof Uint8Array)) throw new Error(`renderPng gave ${Object.prototype.toString.call(bytes)}`);
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(s);
  }, [z, x, y, scale]);
  return Buffer.from(b64, 'base64');
}

/** Waits until no tile is loading or rendering. */
async function idle(p = page) {
  await p.evaluate(() => window.rasterzenPreview.idle());
}

/**
 * The pixels of the browser-rendered tiles on screen: per tile a hash of its RGBA, plus how many
 * distinct colours and opaque pixels there are in all.
 */
function tilePixels(p = page) {
  return p.evaluate(() => {
    const imgs = [...document.querySelectorAll('.leaflet-tile-pane img[data-tile]')].filter((i) => i.src && i.complete && i.naturalWidth);
    const out = { tiles: {}, colours: 0, opaque: 0, pixels: 0, magenta: 0, width: imgs[0]?.naturalWidth ?? 0 };
    const colours = new Set();
    for (const img of imgs) {
      const c = document.createElement('canvas');
      c.width = img.naturalWidth;
      c.height = img.naturalHeight;
      const g = c.getContext('2d');
      g.drawImage(img, 0, 0);
      const d = g.getImageData(0, 0, c.width, c.height).data;
      let h = 2166136261;
      for (let i = 0; i < d.length; i += 4) {
        const v = (d[i] << 24) | (d[i + 1] << 16) | (d[i + 2] << 8) | d[i + 3];
        h = Math.imul(h ^ v, 16777619);
        if ((i & 28) === 0) colours.add(v);
        if (d[i + 3] === 255) out.opaque++;
        if (d[i] > 230 && d[i + 1] < 40 && d[i + 2] > 230) out.magenta++;
      }
      out.pixels += d.length / 4;
      out.tiles[img.dataset.tile] = (h >>> 0).toString(16);
    }
    out.colours = colours.size;
    return out;
  });
}

async function editorText() {
  return page.$eval('#style-text', (t) => t.value);
}

/**
 * Edits the editor as a user would: selects the first `search` at or after offset `from` and
 * types `replacement` over it (input events and all). Returns the new text.
 */
async function typeOver(search, replacement, from = 0) {
  const found = await page.$eval('#style-text', (t, [search, from]) => {
    const i = t.value.indexOf(search, from);
    if (i < 0) return false;
    t.focus();
    t.setSelectionRange(i, i + search.length);
    return true;
  }, [search, from]);
  assert.ok(found, `the editor has ${search}`);
  await page.keyboard.insertText(replacement);
  return editorText();
}

/** Waits until the editor's current text has been checked (and applied, if valid). */
async function checked() {
  await page.waitForFunction(() => {
    const t = document.querySelector('#style-text');
    return t.rzChecked === t.value;
  }, null, { timeout: 20_000 });
  await idle();
}

function lineOf(text, needle) {
  const i = text.indexOf(needle);
  assert.ok(i >= 0, `${needle} is not in the text`);
  return text.slice(0, i).split('\n').length;
}

// ------------------------------------------------------------------------------------------
// Setup and teardown

before(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install with: apt-get install chromium chromium-driver`);
  }
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build it with ./build.sh`);
  for (const f of ['pkg/rasterzen_render.js', 'pkg/rasterzen_render_bg.wasm', 'vendor/leaflet.js']) {
    if (!existsSync(join(ROOT, 'www', f))) throw new Error(`www/${f} is missing: build it with ./build.sh web`);
  }
  mkdirSync(OUT, { recursive: true });
  await startServer();
  tj = await (await fetch(`${base}/tilejson.json`)).json();
  userDataDir = mkdtempSync(join(tmpdir(), 'rasterzen-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1440, height: 860 },
    deviceScaleFactor: 1,
    acceptDownloads: true,
    timeout: 60_000,
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(60_000);
  page.on('pageerror', (e) => pageProblems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // A vector tile outside the source's bounds is a 404 the page expects; nothing else is.
    const expected = /status of 404/.test(m.text()) && /\/mvt\//.test(m.location()?.url ?? '');
    if (m.type() === 'error' && !expected) pageProblems.push(`console error: ${m.text()} (${m.location()?.url ?? ''})`);
  });
  // Everything comes from the host: no CDN, works offline.
  context.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(`${base}/`) && !/^(blob|data):/.test(u)) pageProblems.push(`request outside the host: ${u}`);
  });
  page.on('worker', (w) => w.on('console', (m) => {
    if (m.type() === 'error') pageProblems.push(`worker console error: ${m.text()}`);
  }));
});

after(async () => {
  try {
    if (context) await Promise.race([context.close(), sleep(10_000)]);
  } finally {
    await stopServer();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  }
});

// ------------------------------------------------------------------------------------------
// Tests (in order: they share the page)

// What the page needs from the host, with the content types browsers insist on (module scripts
// and module workers need a JavaScript type; streaming wasm compilation needs application/wasm).
const PAGE_FILES = {
  '/': 'text/html',
  '/app.js': 'text/javascript',
  '/editor.js': 'text/javascript',
  '/worker.js': 'text/javascript',
  '/style.css': 'text/css',
  '/vendor/leaflet.js': 'text/javascript',
  '/vendor/leaflet.css': 'text/css',
  '/pkg/rasterzen_render.js': 'text/javascript',
  '/pkg/rasterzen_render_bg.wasm': 'application/wasm',
};
let pageReady = false;
let filesServed = false;
const needPage = () => assert.ok(pageReady, 'the page did not start (see the first failure)');

test('the host serves the page and everything it needs', async () => {
  const wrong = [];
  for (const [path, type] of Object.entries(PAGE_FILES)) {
    const r = await fetch(`${base}${path}`);
    const got = r.headers.get('content-type') ?? '';
    if (r.status !== 200 || !got.startsWith(type)) wrong.push(`${path}: HTTP ${r.status}, ${got || 'no content type'} (want 200, ${type})`);
    await r.arrayBuffer();
  }
  assert.deepEqual(wrong, [], `rasterzen serve must serve www/:\n${wrong.join('\n')}`);
  filesServed = true;
});

test('the page loads from rasterzen serve and draws tiles in the browser', async () => {
  const res = await page.goto(`${base}/`);
  assert.equal(res.status(), 200);
  await page.waitForFunction(() => window.rasterzenPreview?.version, null, { timeout: filesServed ? 60_000 : 5_000 });
  pageReady = true;
  await idle();
  const version = await page.evaluate(() => window.rasterzenPreview.version);
  assert.match(version, /^\d+\.\d+\.\d+/);
  assert.equal(version, tj.version, 'the browser renderer reports the server renderer\'s version');
  assert.match(await page.textContent('#version'), new RegExp(version.replace(/[.+]/g, '\\$&')));

  const px = await tilePixels();
  const n = Object.keys(px.tiles).length;
  assert.ok(n >= 2, `expected several tiles drawn, got ${n}`);
  assert.equal(px.width, 512, 'tiles are 512 px at device pixel ratio 1');
  assert.ok(px.opaque > px.pixels * 0.9, `tiles should be drawn (opaque pixels ${px.opaque} of ${px.pixels})`);
  assert.ok(px.colours >= 8, `a map has many colours; the tiles have ${px.colours}`);
  const srcs = await page.$$eval('.leaflet-tile-pane img[data-tile]', (l) => l.map((i) => i.src));
  assert.ok(srcs.every((s) => !s || s.startsWith('blob:')), 'browser tiles are drawn in the page, not fetched as PNG');

  const attribution = await page.textContent('.leaflet-control-attribution');
  assert.ok(tj.attribution, 'the sample TileJSON has an attribution');
  assert.match(attribution, /OpenStreetMap contributors/, `attribution shown: ${attribution}`);
  const stats = await page.evaluate(() => ({ ...window.rasterzenPreview.stats }));
  assert.equal(stats.errors, 0, `tile errors: ${stats.lastError}`);
});

test('renderPng in the browser is byte-identical to the server\'s /png', async () => {
  needPage();
  const [lon, lat, cz] = tj.center ?? [(tj.bounds[0] + tj.bounds[2]) / 2, (tj.bounds[1] + tj.bounds[3]) / 2, 12];
  const dataMax = tj.maxzoom - 6; // the server's default overzoom is 6
  const cases = [
    { ...tileAt(lon, lat, cz), scale: 1 },
    { ...tileAt(lon, lat, cz), scale: 2 },
    { ...(() => { const t = tileAt(lon, lat, cz); return { ...t, x: t.x + 1 }; })(), scale: 1 },
    { ...tileAt(lon, lat, Math.max(tj.minzoom, cz - 3)), scale: 1 },
    { ...tileAt(lon, lat, tj.minzoom), scale: 1 },
    { ...tileAt(lon, lat, dataMax), scale: 1 },
    { ...tileAt(lon, lat, dataMax + 2), scale: 1 }, // overzoomed: drawn from the ancestor's data
  ];
  const report = [];
  for (const { z, x, y, scale } of cases) {
    const [server, browser] = [await serverPng(z, x, y, scale), await browserPng(z, x, y, scale)];
    const name = `${z}/${x}/${y}${scale === 2 ? '@2x' : ''}`;
    const same = server.body.equals(browser);
    report.push(`${name}: server ${server.body.length} B ${sha(server.body)}, browser ${browser.length} B ${sha(browser)} ${same ? 'identical' : 'DIFFERENT'}`);
    if (!same) {
      const f = name.replaceAll('/', '-');
      writeFileSync(join(OUT, `${f}.server.png`), server.body);
      writeFileSync(join(OUT, `${f}.browser.png`), browser);
    }
    assert.equal(server.renderer, tj.version);
  }
  console.log(report.map((l) => `  ${l}`).join('\n'));
  assert.ok(report.every((l) => l.endsWith('identical')), `not byte-identical (files in ${OUT}):\n${report.join('\n')}`);

  // Every built-in style, chosen in the page, against ?style=NAME.
  const builtins = await page.evaluate(() => window.rasterzenPreview.builtins);
  assert.ok(builtins.includes('default'));
  const t = tileAt(lon, lat, cz);
  for (const name of builtins) {
    await page.selectOption('#style-select', name);
    await idle();
    const server = await serverPng(t.z, t.x, t.y, 1, `?style=${encodeURIComponent(name)}`);
    const browser = await browserPng(t.z, t.x, t.y, 1);
    assert.ok(server.body.equals(browser), `style ${name}: ${t.z}/${t.x}/${t.y} differs (server ${sha(server.body)}, browser ${sha(browser)})`);
    console.log(`  style ${name}: ${t.z}/${t.x}/${t.y} identical (${sha(browser)})`);
  }
  await page.selectOption('#style-select', 'default');
  await idle();
});

test('editing the style re-renders the visible tiles', async () => {
  needPage();
  const before = await tilePixels();
  const original = await editorText();
  const bg = original.indexOf('"background-color"');
  const earth = original.indexOf('"fill-color"');
  assert.ok(bg >= 0 && earth >= 0, 'the default style has a background and a fill layer to recolour');
  const colour = (at) => /"(#[0-9a-fA-F]{3,8})"/.exec(original.slice(at))[1];
  await typeOver(colour(bg), '#ff00ff', bg);
  await typeOver(colour(earth), '#ff00ff', earth);
  await checked();
  assert.equal(await page.evaluate(() => window.rasterzenPreview.style.edited), true);
  const edited = await editorText();
  const afterEdit = await tilePixels();
  const changed = Object.keys(afterEdit.tiles).filter((k) => before.tiles[k] && before.tiles[k] !== afterEdit.tiles[k]);
  assert.ok(changed.length >= 1, 'the tiles changed after the edit');
  const unchanged = Object.keys(before.tiles).filter((k) => afterEdit.tiles[k] && before.tiles[k] === afterEdit.tiles[k]);
  assert.deepEqual(unchanged, [], 'every visible tile was re-rendered with the new style');
  assert.ok(afterEdit.magenta > afterEdit.pixels * 0.01, `the new colour shows (${afterEdit.magenta} magenta pixels)`);
  assert.ok(await page.isVisible('#edited'), 'the style is marked as edited');

  // renderPng uses the page's current style.
  const t = tileAt(tj.center[0], tj.center[1], tj.center[2]);
  const [server, browser] = [await serverPng(t.z, t.x, t.y, 1), await browserPng(t.z, t.x, t.y, 1)];
  assert.ok(!server.body.equals(browser), 'renderPng follows the edited style');

  // "Download style" saves the editor's text.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  assert.match(download.suggestedFilename(), /\.json$/);
  const saved = join(OUT, 'downloaded-style.json');
  await download.saveAs(saved);
  assert.equal(readFileSync(saved, 'utf8'), edited);

  // Reset brings the built-in back, and the very same pixels.
  await page.click('#reset');
  await idle();
  assert.equal(await page.evaluate(() => window.rasterzenPreview.style.edited), false);
  assert.equal(await editorText(), original);
  assert.deepEqual((await tilePixels()).tiles, before.tiles);
});

test('style errors are shown where they are', async () => {
  needPage();
  const original = await editorText();
  const markedLine = async () => {
    const top = await page.$eval('#marks .mark-line', (m) => parseFloat(m.style.top));
    const [lh, pad] = await page.$eval('#style-text', (t) => [parseFloat(getComputedStyle(t).lineHeight), parseFloat(getComputedStyle(t).paddingTop)]);
    return Math.round((top - pad) / lh) + 1;
  };

  // A JSON syntax error: a missing comma. The parser stops where the next key starts.
  const broken = await typeOver('"version": 8,', '"version": 8');
  await checked();
  await page.waitForSelector('#problem:not([hidden])');
  const syntax = await page.textContent('#problem');
  const want1 = lineOf(broken, '"version": 8') + 1;
  assert.match(syntax, new RegExp(`line ${want1}\\b`), `syntax error at line ${want1}: ${syntax.slice(0, 300)}`);
  assert.equal(await page.$$eval('#marks .mark-line', (l) => l.length), 1, 'the line is marked');
  assert.equal(await markedLine(), want1);
  await typeOver('"version": 8', '"version": 8,');
  await checked();
  assert.equal(await page.isVisible('#problem'), false, 'fixing it clears the error');

  // A style error: the renderer names the JSON path; the editor marks that line.
  const doc = JSON.parse(original);
  const line = doc.layers.find((l) => l.type === 'line' && typeof l.paint?.['line-color'] === 'string');
  assert.ok(line, 'the default style has a line layer with a plain line-color');
  const at = original.indexOf(`"id": ${JSON.stringify(line.id)}`);
  const bad = await typeOver(JSON.stringify(line.paint['line-color']), '"bluish"', at);
  await checked();
  await page.waitForSelector('#problem:not([hidden])');
  const problem = await page.textContent('#problem');
  assert.match(problem, /line-color/, problem.slice(0, 300));
  const want2 = lineOf(bad, '"bluish"');
  assert.match(problem, new RegExp(`line ${want2}\\b`), `the error points at line ${want2}: ${problem.slice(0, 300)}`);
  assert.equal(await markedLine(), want2, 'the marked line is the one with the error');
  // The map keeps the last valid style (the built-in): nothing was re-rendered.
  assert.equal(await page.evaluate(() => window.rasterzenPreview.style.edited), false);

  await page.click('#reset');
  await page.waitForSelector('#problem', { state: 'hidden' });
  await idle();
});

test('compare: swipe and server modes show the server\'s png tiles', async () => {
  needPage();
  await page.click('#mode button[data-mode="swipe"]');
  await page.waitForSelector('#swipe', { state: 'visible' });
  await page.waitForFunction(() => {
    const imgs = [...document.querySelectorAll('.leaflet-server-pane img.leaflet-tile')];
    return imgs.length > 0 && imgs.every((i) => i.complete && i.naturalWidth > 0);
  });
  const srcs = await page.$$eval('.leaflet-server-pane img.leaflet-tile', (l) => l.map((i) => new URL(i.src).pathname));
  assert.ok(srcs.every((s) => /^\/png\/\d+\/\d+\/\d+\.png$/.test(s)), srcs.join(' '));
  const clip = await page.$eval('.leaflet-server-pane', (p) => p.style.clip);
  assert.match(clip, /^rect\(/, 'the server tiles are clipped to the right of the swipe');
  assert.match(await page.textContent('#server-version'), /✓/);

  await page.click('#mode button[data-mode="server"]');
  assert.equal(await page.$eval('.leaflet-server-pane', (p) => p.style.clip), '');
  await page.click('#mode button[data-mode="browser"]');
  assert.equal(await page.$$eval('.leaflet-server-pane img', (l) => l.length), 0, 'browser mode asks the server for no png');
});

test('HiDPI screens get @2x tiles', async () => {
  needPage();
  const p = await context.newPage();
  try {
    const cdp = await context.newCDPSession(p);
    await cdp.send('Emulation.setDeviceMetricsOverride', { width: 1000, height: 700, deviceScaleFactor: 2, mobile: false });
    await p.goto(`${base}/?compare=swipe`);
    await p.waitForFunction(() => window.rasterzenPreview?.version);
    await idle(p);
    const px = await tilePixels(p);
    assert.equal(px.width, 1024, 'browser tiles are drawn at 1024 px for 512 CSS px');
    await p.waitForFunction(() => {
      const imgs = [...document.querySelectorAll('.leaflet-server-pane img.leaflet-tile')];
      return imgs.length > 0 && imgs.every((i) => i.complete && i.naturalWidth === 1024);
    });
    const srcs = await p.$$eval('.leaflet-server-pane img.leaflet-tile', (l) => l.map((i) => new URL(i.src).pathname));
    assert.ok(srcs.every((s) => s.endsWith('@2x.png')), srcs.join(' '));
  } finally {
    await p.close();
  }
});

test('screenshot of the page', async () => {
  needPage();
  await page.click('#mode button[data-mode="swipe"]');
  await page.waitForFunction(() => {
    const imgs = [...document.querySelectorAll('.leaflet-server-pane img.leaflet-tile')];
    return imgs.length > 0 && imgs.every((i) => i.complete);
  });
  await idle();
  const file = join(OUT, 'preview.png');
  await page.screenshot({ path: file });
  if (process.env.RASTERZEN_SCREENSHOT) copyFileSync(file, resolve(process.env.RASTERZEN_SCREENSHOT));
  await page.click('#mode button[data-mode="browser"]');
});

test('no errors in the page or its workers, no request outside the host', () => {
  assert.deepEqual(pageProblems, []);
});
