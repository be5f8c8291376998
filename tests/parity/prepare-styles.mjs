// Prepares the parity suite's styles from the npm packages pinned in package-lock.json:
//   (cd tests/parity && npm ci) && node tests/parity/prepare-styles.mjs [--out DIR] [STYLE...]
// Writes tests/parity/styles/<name>/{style.json, LICENSE*, sprite*}. Each prepared style is the
// very file both renderers get:
//   - style spec v7 migrated to v8 and legacy `ref` layers dereferenced (MapLibre's own
//     style-spec code, the same that MapLibre GL JS runs);
//   - symbol layers removed (labels are a later issue), and layers of other sources (raster,
//     hillshade) removed: there is one vector source, named as the style expects;
//   - `glyphs` removed (no text is drawn); `sprite` is "./sprite" (sprite.json, sprite.png,
//     sprite@2x.json, sprite@2x.png beside style.json) where the style draws a pattern and the
//     package ships the images, otherwise removed (and the pattern layers with it, listed in
//     SOURCES.md).
// Deterministic: running it again gives the same bytes (checked by oracle.test.mjs).

import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { derefLayers, migrate, validateStyleMin } from '@maplibre/maplibre-gl-style-spec';
import { buildSprite } from './lib/sprite.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const NM = join(HERE, 'node_modules');
const OUT = join(HERE, 'styles');
const pkgVersion = (name) => JSON.parse(readFileSync(join(NM, name, 'package.json'), 'utf8')).version;
const readJson = (p) => JSON.parse(readFileSync(p, 'utf8'));

/**
 * Every style: name → {schema, pkg, path (the file in the package, or how it is generated),
 * load() → the style as published, source (the vector source's name), licence files, sprite}.
 */
export const STYLES = {
  'osm-bright': {
    schema: 'openmaptiles',
    pkg: 'tileserver-gl-styles',
    path: 'styles/osm-bright/style.json',
    licence: ['LICENSE.md'],
    sprite: { copy: 'styles/osm-bright/sprite' },
  },
  'klokantech-basic': {
    schema: 'openmaptiles',
    pkg: 'tileserver-gl-styles',
    path: 'styles/klokantech-basic/style.json',
    licence: ['LICENSE.md'],
  },
  positron: {
    schema: 'openmaptiles',
    pkg: '@undp-data/style',
    path: 'dist/positron.json',
    licence: ['LICENSE'],
  },
  'dark-matter': {
    schema: 'openmaptiles',
    pkg: '@undp-data/style',
    path: 'dist/dark.json',
    licence: ['LICENSE'],
  },
  'mapbox-bright-v7': {
    schema: 'mapbox-streets-v6',
    pkg: '@mapbox/mapbox-gl-styles',
    path: 'styles/bright-v7.json',
    licence: ['LICENSE.md'],
    // The package ships the sprite as SVG sources only: the one image the style's layers use
    // (the `wave` fill pattern) is rasterized here at 1x and 2x (lib/sprite.mjs).
    sprite: { svg: { wave: 'sprites/bright-v8/_svg/wave.svg' } },
  },
  'mapbox-basic-v7': {
    schema: 'mapbox-streets-v6',
    pkg: '@mapbox/mapbox-gl-styles',
    path: 'styles/basic-v7.json',
    licence: ['LICENSE.md'],
  },
  'versatiles-colorful': {
    schema: 'shortbread',
    pkg: '@versatiles/style',
    path: "osm({ theme: 'colorful' })",
    licence: ['LICENSE.md'],
    load: async () => (await import('@versatiles/style')).osm({ theme: 'colorful' }),
  },
  'versatiles-gray': {
    schema: 'shortbread',
    pkg: '@versatiles/style',
    path: "osm({ theme: 'gray' })",
    licence: ['LICENSE.md'],
    load: async () => (await import('@versatiles/style')).osm({ theme: 'gray' }),
  },
  'protomaps-v2-light': {
    schema: 'protomaps-v2',
    pkg: 'protomaps-themes-base',
    path: "default('protomaps', 'light')",
    licence: [],
    load: async () => protomapsV2('light'),
  },
  'protomaps-v2-dark': {
    schema: 'protomaps-v2',
    pkg: 'protomaps-themes-base',
    path: "default('protomaps', 'dark')",
    licence: [],
    load: async () => protomapsV2('dark'),
  },
  'protomaps-v4-light': {
    schema: 'tilezen',
    pkg: '@protomaps/basemaps',
    path: "layers('protomaps', namedFlavor('light'), { lang: 'en' })",
    licence: [],
    load: async () => {
      const pm = await import('@protomaps/basemaps');
      return {
        version: 8,
        sources: { protomaps: { type: 'vector', url: 'https://example.invalid/tiles.json' } },
        layers: pm.layers('protomaps', pm.namedFlavor('light'), { lang: 'en' }),
      };
    },
  },
};

async function protomapsV2(variant) {
  const mod = await import('protomaps-themes-base');
  const layers = (mod.default.default ?? mod.default)('protomaps', variant);
  return { version: 8, sources: { protomaps: { type: 'vector', url: 'https://example.invalid/tiles.json' } }, layers };
}

// The BSD-3-Clause text, for the two Protomaps packages whose package.json declares
// "license": "BSD-3-Clause" but which ship no licence file.
const BSD3 = (holder) => `Copyright (c) ${holder}
All rights reserved.

Redistribution and use in source and binary forms, with or without modification, are permitted
provided that the following conditions are met:

1. Redistributions of source code must retain the above copyright notice, this list of
   conditions and the following disclaimer.
2. Redistributions in binary form must reproduce the above copyright notice, this list of
   conditions and the following disclaimer in the documentation and/or other materials provided
   with the distribution.
3. Neither the name of the copyright holder nor the names of its contributors may be used to
   endorse or promote products derived from this software without specific prior written
   permission.

THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND ANY EXPRESS OR
IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY AND
FITNESS FOR A PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR
CONTRIBUTORS BE LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL
DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES; LOSS OF USE,
DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER
IN CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT
OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
`;

function imagesUsed(layers) {
  const names = new Set();
  const visit = (v) => {
    if (typeof v === 'string') names.add(v);
    else if (Array.isArray(v)) {
      // A literal image name is a string anywhere in the expression; operator names are
      // harmless extras (they are simply not in the sprite).
      v.forEach(visit);
    } else if (v && typeof v === 'object' && Array.isArray(v.stops)) v.stops.forEach(([, s]) => visit(s));
  };
  for (const l of layers) {
    for (const [k, v] of Object.entries(l.paint ?? {})) if (k.endsWith('-pattern')) visit(v);
  }
  return names;
}

/** Prepares one style; returns a report {kept, removed: [{id, type, why}]} for SOURCES.md. */
export async function prepare(name, outRoot = OUT) {
  const def = STYLES[name];
  const version = pkgVersion(def.pkg);
  const published = def.load ? await def.load() : readJson(join(NM, def.pkg, def.path));
  let style = structuredClone(published);
  if (style.version !== 8) style = migrate(style);
  const sourceNames = Object.keys(style.sources).filter((s) => style.sources[s].type === 'vector');
  if (sourceNames.length !== 1) throw new Error(`${name}: expected one vector source, found ${sourceNames}`);
  const [source] = sourceNames;
  const removed = [];
  let layers = derefLayers(style.layers);
  const derefed = style.layers.filter((l) => l.ref).length;

  // Sprite: what the package gives.
  const dir = join(outRoot, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  let spriteImages = null;
  if (def.sprite?.copy) {
    for (const suffix of ['.json', '.png', '@2x.json', '@2x.png']) {
      copyFileSync(join(NM, def.pkg, def.sprite.copy + suffix), join(dir, `sprite${suffix}`));
    }
    spriteImages = new Set(Object.keys(readJson(join(dir, 'sprite.json'))));
  } else if (def.sprite?.svg) {
    const svgs = Object.fromEntries(Object.entries(def.sprite.svg).map(([id, p]) => [id, readFileSync(join(NM, def.pkg, p), 'utf8')]));
    await buildSprite(svgs, dir);
    spriteImages = new Set(Object.keys(svgs));
  }

  layers = layers.filter((l) => {
    if (l.type === 'symbol') {
      removed.push({ id: l.id, type: l.type, why: 'symbol' });
      return false;
    }
    if (l.type !== 'background' && l.source !== source) {
      removed.push({ id: l.id, type: l.type, why: `source ${l.source} (not the vector source)` });
      return false;
    }
    const images = imagesUsed([l]);
    if (images.size && !spriteImages) {
      removed.push({ id: l.id, type: l.type, why: `pattern ${[...images].join(', ')}: no sprite images in the package` });
      return false;
    }
    return true;
  });
  const used = imagesUsed(layers);
  if (spriteImages) {
    const known = [...used].filter((n) => spriteImages.has(n));
    if (!known.length) throw new Error(`${name}: sprite given but no layer uses it`);
  }

  const out = {
    version: 8,
    name: style.name ?? name,
    metadata: {
      'rasterzen:parity': {
        origin: `${def.pkg}@${version}: ${def.path}`,
        prepared: 'tests/parity/prepare-styles.mjs: symbol layers removed, ref layers dereferenced, one vector source, no glyphs',
      },
    },
    sources: {
      [source]: {
        type: 'vector',
        // Placeholder: the oracle serves the case's one tile here, and rasterzen ignores sources
        // (it is given the tile's bytes).
        tiles: ['{z}/{x}/{y}.pbf'],
        attribution: style.sources[source].attribution ?? '',
      },
    },
  };
  if (spriteImages) out.sprite = './sprite';
  // Not `center`/`zoom`/`bearing`/`pitch`: the view is the tile's. (MapLibre would even apply a
  // style's centre over the map's own when the map's is the default [0, 0] at zoom 0: the z0 case.)
  for (const k of ['light', 'transition']) if (k in style) out[k] = style[k];
  out.layers = layers;
  const errors = validateStyleMin(out);
  if (errors.length) throw new Error(`${name}: invalid after preparation: ${errors.map((e) => e.message).join('; ')}`);

  writeFileSync(join(dir, 'style.json'), `${JSON.stringify(out, null, 2)}\n`);
  for (const f of def.licence) copyFileSync(join(NM, def.pkg, f), join(dir, f));
  if (!def.licence.length) {
    const pj = readJson(join(NM, def.pkg, 'package.json'));
    writeFileSync(
      join(dir, 'LICENSE'),
      `${def.pkg}@${version} declares "license": "${pj.license}" in its package.json and ships no licence file; the text of that licence follows.\n\n${BSD3(`The Protomaps Authors (package author: ${typeof pj.author === 'string' ? pj.author : pj.author?.name})`)}`,
    );
  }
  return { name, schema: def.schema, origin: `${def.pkg}@${version}`, path: def.path, source, derefed, migrated: published.version !== 8 ? published.version : null, kept: layers.length, removed, sprite: !!spriteImages, patterns: [...used].filter((n) => spriteImages?.has(n)) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { out: { type: 'string' } } });
  const outRoot = values.out ?? OUT;
  const names = positionals.length ? positionals : Object.keys(STYLES);
  const reports = [];
  for (const n of names) {
    const r = await prepare(n, outRoot);
    reports.push(r);
    const counts = {};
    for (const x of r.removed) counts[x.why.split(' ')[0]] = (counts[x.why.split(' ')[0]] ?? 0) + 1;
    console.log(`${n}: ${r.origin} ${r.path}; ${r.kept} layers kept, removed ${JSON.stringify(counts)}${r.derefed ? `, ${r.derefed} ref layers dereferenced` : ''}${r.migrated ? `, migrated from v${r.migrated}` : ''}${r.sprite ? `, sprite (${r.patterns.join(', ')})` : ''}`);
    for (const x of r.removed.filter((x) => x.why !== 'symbol')) console.log(`   removed ${x.id} (${x.type}): ${x.why}`);
  }
  if (!positionals.length) writeFileSync(join(outRoot, 'prepared.json'), `${JSON.stringify(reports, null, 2)}\n`);
}
