// Tests of the label oracle (not of rasterzen): run from the repository root after
//   (cd tests/parity && npm ci --no-audit --no-fund)
//   node --test --test-reporter=spec tests/parity/labels.test.mjs
// - make-label-references.mjs --check re-runs MapLibre on every label case and gets exactly the
//   committed labels/<case>/maplibre-labels.json, and labels/styles/ is what it makes;
// - the glyph PBFs come from rasterzen's own faces: lib/ttf.mjs reads their cmaps (Latin, Greek,
//   Cyrillic in, CJK out) and advances, and the font-stack rule is rasterzen's;
// - every case is well formed and its reference has labels to compare.
// Env: CHROMIUM (default /usr/bin/chromium).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM } from './lib/browser.mjs';
import { readTtf } from './lib/ttf.mjs';
import { FACES, faceOf, fontCoverage, listLabelCases, loadLabelCase } from './make-label-references.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));

test('make-label-references.mjs --check reproduces every committed label reference exactly', () => {
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM)`);
  const r = spawnSync(process.execPath, [join(HERE, 'make-label-references.mjs'), '--check'], { encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, `make-label-references.mjs --check failed:\n${r.stdout}\n${r.stderr}`);
  const n = listLabelCases().length;
  assert.match(r.stdout, new RegExp(`${n} of ${n} label references reproduced exactly`));
});

test('the glyph PBFs cover what the embedded faces cover, with their advances', () => {
  const cov = fontCoverage();
  for (const [face, file] of Object.entries(FACES)) {
    const t = readTtf(readFileSync(join(HERE, '../../render-wasm/src/labels/fonts', file)));
    const have = new Set(cov[face].codePoints);
    for (const ch of 'AZaz09 ÀéñßΦλωДжя') assert.ok(have.has(ch.codePointAt(0)), `${face}: ${ch}`);
    for (const ch of '佛罗伦萨') assert.ok(!have.has(ch.codePointAt(0)), `${face}: ${ch} should be missing (rasterzen draws nothing for it)`);
    // Noto Sans: 1000 units per em; 'A' is 639 units in Regular (15.336 px at 24 px).
    assert.equal(t.unitsPerEm, 1000);
    assert.ok(t.advance('A'.codePointAt(0)) > 500 && t.advance('A'.codePointAt(0)) < 800, `${face}: advance of A`);
    assert.equal(cov[face].ascender24, 26, `${face}: ascender at 24 px, rounded up (font.rs)`);
    assert.ok(cov[face].advanceRounding.max <= 0.5);
  }
});

test("font stacks map to faces by rasterzen's rule (style/symbol.rs FontStack::from_names)", () => {
  const cases = {
    'Noto Sans Regular': 'regular',
    'Open Sans Bold,Arial Unicode MS Bold': 'bold',
    'Open Sans Semibold': 'bold',
    'Open Sans Italic,Arial Unicode MS Regular': 'italic',
    'Metropolis Black Italic': 'italic',
    'Roboto Medium': 'regular',
    'Arial Unicode MS Regular,Open Sans Bold': 'regular',
  };
  for (const [stack, face] of Object.entries(cases)) assert.equal(faceOf(stack), face, stack);
});

test('every label case is well formed and its reference has point labels', () => {
  const names = listLabelCases();
  assert.ok(names.length >= 4, `${names.length} label cases`);
  const styles = new Set();
  for (const name of names) {
    const c = loadLabelCase(name);
    styles.add(c.style);
    for (const k of ['edge_margin_px', 'min_recall', 'min_precision', 'max_median_error_px']) assert.equal(typeof c[k], 'number', `${name}: ${k}`);
    const doc = JSON.parse(readFileSync(join(HERE, 'labels', name, 'maplibre-labels.json'), 'utf8'));
    assert.equal(doc.case, name);
    assert.ok(doc.labels.some((l) => l.placement === 'point' && l.text_placed), `${name}: no placed point label`);
    for (const l of doc.labels.filter((l) => l.text_placed && l.placement === 'point')) assert.equal(l.text_box.length, 4, `${name}: ${l.text}`);
  }
  assert.ok(styles.has('default') && styles.has('osm-bright'), [...styles].join(', '));
});
