// Tests of the parity suite's oracle (not of rasterzen): run from the repository root after
//   (cd tests/parity && npm ci --no-audit --no-fund)
//   node --test --test-reporter=spec tests/parity/oracle.test.mjs
// - the committed MapLibre references still come out of make-references.mjs byte for byte
//   (`--check 3`: a 512 px, a 256 px and an @2x case);
// - the oracle's view is pixel-exact: a probe tile of squares at known pixels renders exactly
//   there, at 512 px, at 256 px (through the parent tile) and at @2x;
// - lib/mvt.mjs round-trips every tile, and the parent tile of a 256 px case holds the child's
//   geometry exactly (both read back with @mapbox/vector-tile, an independent decoder);
// - the committed styles are what prepare-styles.mjs makes from the pinned packages, and the
//   committed tiles what extract-tiles.mjs takes from ../shared/fixtures (when it is there).
// Env: CHROMIUM (default /usr/bin/chromium).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Pbf from 'pbf';
import { VectorTile } from '@mapbox/vector-tile';
import { decodeTile, encodeTile, inflate, parentTileOf, sameTile } from './lib/mvt.mjs';
import { decodePng } from './lib/png.mjs';
import { listCases, loadCase, renderCases } from './make-references.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));

test('make-references.mjs --check 3 reproduces 3 committed references byte for byte', () => {
  const r = spawnSync(process.execPath, [join(HERE, 'make-references.mjs'), '--check', '3'], { encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, `make-references.mjs --check 3 failed:\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /3 of 3 references reproduced byte for byte/);
});

// A probe tile: layer "probe", extent 4096, squares with edges on pixel boundaries at 512 px
// and at 256 px (even coordinates; a pixel centre exactly on an edge is a rasterization-rule
// question, not an alignment one). In pixels of a 512 px tile (1 px = 8 units): [x0, y0, x1, y1).
const SQUARES = [
  [10, 20, 30, 50],
  [0, 0, 4, 4],
  [506, 0, 512, 4],
  [0, 508, 2, 512],
  [500, 490, 512, 512],
  [256, 256, 258, 258],
  [2, 100, 4, 300],
];

function probeTile(unitsPerPx) {
  const ring = ([x0, y0, x1, y1]) => [
    { cmd: 1, count: 1, points: [[x0 * unitsPerPx, y0 * unitsPerPx]] },
    { cmd: 2, count: 3, points: [[x1 * unitsPerPx, y0 * unitsPerPx], [x1 * unitsPerPx, y1 * unitsPerPx], [x0 * unitsPerPx, y1 * unitsPerPx]] },
    { cmd: 7, count: 1, points: [] },
  ];
  return encodeTile({
    layers: [{ version: 2, name: 'probe', extent: 4096, keys: [], values: [], features: SQUARES.map((s) => ({ id: null, tags: [], type: 3, geometry: ring(s) })) }],
  });
}

const PROBE_STYLE = {
  version: 8,
  sources: { probe: { type: 'vector', tiles: ['{z}/{x}/{y}.pbf'] } },
  layers: [
    { id: 'background', type: 'background', paint: { 'background-color': '#ffffff' } },
    { id: 'squares', type: 'fill', source: 'probe', 'source-layer': 'probe', paint: { 'fill-color': '#000000', 'fill-antialias': false } },
  ],
};

test('the oracle view is pixel-exact: probe squares land on their pixels (512, 256 via the parent, @2x)', async () => {
  // The squares are given in 512 px units; at 256 px they are half as large (units per px 16).
  const variants = [
    { name: 'probe-512', size: 512, scale: 1, unitsPerPx: 8, z: 14, x: 8625, y: 5755 },
    { name: 'probe-512@2x', size: 512, scale: 2, unitsPerPx: 8, z: 14, x: 8625, y: 5755 },
    { name: 'probe-256-q00', size: 256, scale: 1, unitsPerPx: 8, z: 12, x: 2156, y: 1438 },
    { name: 'probe-256-q11', size: 256, scale: 1, unitsPerPx: 8, z: 13, x: 4313, y: 2877 },
    { name: 'probe-256@2x-q10', size: 256, scale: 2, unitsPerPx: 8, z: 10, x: 539, y: 358 },
  ];
  const results = await renderCases(
    variants.map((v) => ({ ...v, style: 'probe', styleJson: PROBE_STYLE, tileBytes: probeTile(v.unitsPerPx) })),
    { log: () => {} },
  );
  for (const [i, v] of variants.entries()) {
    const { width, height, rgba } = decodePng(results[i].png);
    const device = v.size * v.scale;
    assert.equal(width, device);
    assert.equal(height, device);
    // Device pixels per 512-px probe unit square: the tile is `device` px wide.
    const f = device / 512;
    let wrong = 0;
    const examples = [];
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const px = (x + 0.5) / f;
        const py = (y + 0.5) / f;
        const inside = SQUARES.some(([x0, y0, x1, y1]) => px >= x0 && px < x1 && py >= y0 && py < y1);
        const o = (y * width + x) * 4;
        const want = inside ? 0 : 255;
        if (rgba[o] !== want || rgba[o + 1] !== want || rgba[o + 2] !== want || rgba[o + 3] !== 255) {
          wrong++;
          if (examples.length < 5) examples.push(`(${x},${y}) = ${[...rgba.subarray(o, o + 4)]} want ${want}`);
        }
      }
    }
    assert.equal(wrong, 0, `${v.name}: ${wrong} pixels off, e.g. ${examples.join('; ')}`);
  }
});

function features(bytes) {
  const vt = new VectorTile(new Pbf(bytes));
  const out = {};
  for (const [name, layer] of Object.entries(vt.layers)) {
    out[name] = { extent: layer.extent, version: layer.version, features: [] };
    for (let i = 0; i < layer.length; i++) {
      const f = layer.feature(i);
      out[name].features.push({ id: f.id, type: f.type, properties: f.properties, geometry: f.loadGeometry().map((r) => r.map((p) => [p.x, p.y])) });
    }
  }
  return out;
}

test('lib/mvt.mjs round-trips every tile (as read back by @mapbox/vector-tile)', () => {
  for (const f of readdirSync(join(HERE, 'tiles'))) {
    const raw = inflate(readFileSync(join(HERE, 'tiles', f)));
    const again = encodeTile(decodeTile(raw));
    assert.ok(sameTile(decodeTile(raw), decodeTile(again)), f);
    assert.deepEqual(features(again), features(raw), f);
  }
});

test('the parent tile of every 256 px case holds the child geometry exactly, in its quadrant', () => {
  const seen = new Set();
  for (const name of listCases()) {
    const c = loadCase(name);
    if (c.size !== 256 || seen.has(`${c.tile}:${c.x & 1}:${c.y & 1}`)) continue;
    seen.add(`${c.tile}:${c.x & 1}:${c.y & 1}`);
    const child = inflate(readFileSync(join(HERE, c.tile)));
    const a = features(child);
    const b = features(parentTileOf(child, c.x, c.y));
    assert.deepEqual(Object.keys(b), Object.keys(a), name);
    for (const [layer, la] of Object.entries(a)) {
      const lb = b[layer];
      assert.equal(lb.extent, 2 * la.extent, `${name} ${layer}: extent`);
      assert.equal(lb.version, la.version, `${name} ${layer}: version`);
      const dx = (c.x & 1) * la.extent;
      const dy = (c.y & 1) * la.extent;
      assert.equal(lb.features.length, la.features.length);
      la.features.forEach((fa, i) => {
        const fb = lb.features[i];
        assert.equal(fb.id, fa.id);
        assert.equal(fb.type, fa.type);
        assert.deepEqual(fb.properties, fa.properties);
        assert.deepEqual(fb.geometry, fa.geometry.map((r) => r.map(([x, y]) => [x + dx, y + dy])), `${name} ${layer} feature ${i}`);
      });
    }
  }
  assert.ok(seen.size >= 5, `only ${seen.size} distinct 256 px parents checked`);
});

test('the committed styles are what prepare-styles.mjs makes from the pinned packages', () => {
  const out = mkdtempSync(join(tmpdir(), 'rasterzen-parity-styles-'));
  try {
    const r = spawnSync(process.execPath, [join(HERE, 'prepare-styles.mjs'), '--out', out], { encoding: 'utf8', timeout: 300_000 });
    assert.equal(r.status, 0, r.stderr);
    const committed = join(HERE, 'styles');
    for (const style of readdirSync(committed, { withFileTypes: true }).filter((d) => d.isDirectory())) {
      for (const f of readdirSync(join(committed, style.name))) {
        assert.ok(readFileSync(join(committed, style.name, f)).equals(readFileSync(join(out, style.name, f))), `styles/${style.name}/${f} differs from what prepare-styles.mjs makes`);
      }
    }
    assert.ok(readFileSync(join(committed, 'prepared.json')).equals(readFileSync(join(out, 'prepared.json'))), 'styles/prepared.json');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

const FIXTURES = join(HERE, '../../../shared/fixtures');
test('the committed tiles are what extract-tiles.mjs takes from ../shared/fixtures', { skip: !existsSync(FIXTURES) && 'no ../shared/fixtures here' }, async () => {
  const { TILES, tileFile } = await import('./extract-tiles.mjs');
  const { PMTiles } = await import('./lib/pmtiles.mjs');
  const archives = {};
  for (const [name, t] of Object.entries(TILES)) {
    let bytes;
    if (t.archive) {
      archives[t.archive] ??= new PMTiles(join(FIXTURES, 'archives', t.archive));
      bytes = archives[t.archive].tile(t.z, t.x, t.y);
    } else bytes = readFileSync(join(FIXTURES, t.file));
    assert.ok(Buffer.from(bytes).equals(readFileSync(join(HERE, 'tiles', tileFile(name)))), `tiles/${tileFile(name)}`);
  }
  const used = new Set(listCases().map((n) => loadCase(n).tile));
  for (const f of readdirSync(join(HERE, 'tiles'))) assert.ok(used.has(`tiles/${f}`), `tiles/${f} is used by no case`);
});

test('every case is well formed, has its reference, and the suite covers what the issue asks', () => {
  const cases = listCases().map(loadCase);
  assert.ok(cases.length >= 40, `${cases.length} cases`);
  const styles = new Set(cases.map((c) => c.style));
  const schemas = new Set(cases.map((c) => c.schema));
  assert.ok(styles.size >= 6, `${styles.size} styles`);
  assert.ok(schemas.size >= 4, `${schemas.size} schemas`);
  assert.ok(cases.some((c) => c.z <= 8) && cases.some((c) => c.z >= 9 && c.z <= 12) && cases.some((c) => c.z >= 13));
  assert.ok(cases.filter((c) => c.size === 256).length >= 5 && cases.filter((c) => c.scale === 2).length >= 5);
  for (const c of cases) {
    for (const k of ['max_differ_pct', 'min_ssim', 'max_interior_px']) assert.equal(typeof c[k], 'number', `${c.name}: ${k}`);
    assert.ok(existsSync(join(HERE, 'styles', c.style, 'style.json')), `${c.name}: style ${c.style}`);
    const { width } = decodePng(readFileSync(join(HERE, 'cases', c.name, 'maplibre.png')));
    assert.equal(width, c.size * c.scale, `${c.name}: maplibre.png width`);
  }
});
