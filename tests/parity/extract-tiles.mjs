// Copies the tiles the parity cases use from ../shared/fixtures into tests/parity/tiles/:
//   node tests/parity/extract-tiles.mjs [FIXTURES_DIR]     (default: ../shared/fixtures beside the repo)
// Archive tiles are stored as the archive holds them (gzip); loose fixture tiles as they are.
// Re-running gives the same bytes. See SOURCES.md for each tile's origin and attribution.

import { chmodSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PMTiles } from './lib/pmtiles.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const FIXTURES = resolve(process.argv[2] ?? join(HERE, '../../../shared/fixtures'));
const OUT = join(HERE, 'tiles');

/** name → where it comes from: {archive, z, x, y} or {file}. */
export const TILES = {
  'omt-liechtenstein-7-67-44': { archive: 'liechtenstein-2015-omt.pmtiles', z: 7, x: 67, y: 44 },
  'omt-liechtenstein-8-134-89': { archive: 'liechtenstein-2015-omt.pmtiles', z: 8, x: 134, y: 89 },
  'omt-liechtenstein-10-539-359': { archive: 'liechtenstein-2015-omt.pmtiles', z: 10, x: 539, y: 359 },
  'omt-liechtenstein-12-2156-1438': { archive: 'liechtenstein-2015-omt.pmtiles', z: 12, x: 2156, y: 1438 },
  'omt-liechtenstein-13-4313-2877': { archive: 'liechtenstein-2015-omt.pmtiles', z: 13, x: 4313, y: 2877 },
  'omt-liechtenstein-14-8625-5755': { archive: 'liechtenstein-2015-omt.pmtiles', z: 14, x: 8625, y: 5755 },
  'omt-monaco-11-1066-746': { archive: 'monaco-2023-omt.pmtiles', z: 11, x: 1066, y: 746 },
  'omt-monaco-13-4264-2987': { archive: 'monaco-2023-omt.pmtiles', z: 13, x: 4264, y: 2987 },
  'omt-monaco-14-8529-5974': { archive: 'monaco-2023-omt.pmtiles', z: 14, x: 8529, y: 5974 },
  'omt-openfreemap-0-0-0': { file: 'tiles/openfreemap/0-0-0.pbf', z: 0, x: 0, y: 0 },
  'mapbox-streets-12-1143-1497': { file: 'tiles/mapbox-streets/vector-tile-js/12-1143-1497.vector.pbf', z: 12, x: 1143, y: 1497 },
  'mapbox-streets-14-8801-5371': { file: 'tiles/mapbox-streets/vector-tile-js/14-8801-5371.vector.pbf', z: 14, x: 8801, y: 5371 },
  // The fixture's name gives no coordinates: 14/8803/5397 is where its place labels (Neukölln,
  // Rixdorf, Richardkiez, Flughafenkiez) fall on the map.
  'shortbread-berlin-14-8803-5397': { file: 'tiles/shortbread/berlin-neukoelln-z14.pbf', z: 14, x: 8803, y: 5397 },
  'tilezen-newyork-10-301-384': { file: 'tiles/tilezen/tangram-es/10-301-384.mvt', z: 10, x: 301, y: 384 },
  'protomaps-florence-6-34-23': { archive: 'firenze.pmtiles', z: 6, x: 34, y: 23 },
  'protomaps-florence-8-136-93': { archive: 'firenze.pmtiles', z: 8, x: 136, y: 93 },
  'protomaps-florence-10-543-373': { archive: 'firenze.pmtiles', z: 10, x: 543, y: 373 },
  'protomaps-florence-12-2175-1492': { archive: 'firenze.pmtiles', z: 12, x: 2175, y: 1492 },
  'protomaps-florence-13-4352-2985': { archive: 'firenze.pmtiles', z: 13, x: 4352, y: 2985 },
  'protomaps-florence-14-8704-5971': { archive: 'firenze.pmtiles', z: 14, x: 8704, y: 5971 },
};

/** The committed file name of a tile: .mvt.gz when gzip, else .mvt. */
export const tileFile = (name) => `${name}${TILES[name].archive ? '.mvt.gz' : '.mvt'}`;

if (import.meta.url === `file://${process.argv[1]}`) {
  mkdirSync(OUT, { recursive: true });
  const archives = {};
  for (const [name, t] of Object.entries(TILES)) {
    const dest = join(OUT, tileFile(name));
    if (t.archive) {
      archives[t.archive] ??= new PMTiles(join(FIXTURES, 'archives', t.archive));
      const bytes = archives[t.archive].tile(t.z, t.x, t.y);
      if (!bytes) throw new Error(`${t.archive} has no tile ${t.z}/${t.x}/${t.y}`);
      if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) throw new Error(`${name}: expected gzip in the archive`);
      writeFileSync(dest, bytes);
    } else {
      copyFileSync(join(FIXTURES, t.file), dest);
      chmodSync(dest, 0o644); // the fixtures are read-only
    }
    console.log(`${tileFile(name)}  ${t.archive ?? t.file}${t.archive ? ` ${t.z}/${t.x}/${t.y}` : ''}`);
  }
}
