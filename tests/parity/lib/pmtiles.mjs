// A minimal PMTiles v3 reader (whole file in memory), enough to list and extract tiles from the
// fixture archives. Spec: header of 127 bytes, directories of varint-encoded entries.

import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

function decompress(buf, compression) {
  if (compression === 1 || compression === 0) return buf; // none / unknown
  if (compression === 2) return gunzipSync(buf);
  throw new Error(`PMTiles compression ${compression} is not supported here`);
}

function readVarint(buf, state) {
  let result = 0;
  let shift = 0;
  for (;;) {
    const b = buf[state.pos++];
    result += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return result;
    shift += 7;
  }
}

function parseDirectory(buf) {
  const s = { pos: 0 };
  const n = readVarint(buf, s);
  const entries = Array.from({ length: n }, () => ({ tileId: 0, offset: 0, length: 0, runLength: 0 }));
  let last = 0;
  for (const e of entries) {
    last += readVarint(buf, s);
    e.tileId = last;
  }
  for (const e of entries) e.runLength = readVarint(buf, s);
  for (const e of entries) e.length = readVarint(buf, s);
  for (let i = 0; i < n; i++) {
    const v = readVarint(buf, s);
    entries[i].offset = v === 0 && i > 0 ? entries[i - 1].offset + entries[i - 1].length : v - 1;
  }
  return entries;
}

/** Hilbert tile id → {z, x, y} (PMTiles v3). */
export function tileIdToZxy(id) {
  let acc = 0;
  for (let z = 0; z < 32; z++) {
    const n = 2 ** (2 * z);
    if (id < acc + n) {
      let t = id - acc;
      const size = 2 ** z;
      let x = 0;
      let y = 0;
      for (let s = 1; s < size; s *= 2) {
        const rx = 1 & (t / 2);
        const ry = 1 & (t ^ rx);
        if (ry === 0) {
          if (rx === 1) {
            x = s - 1 - x;
            y = s - 1 - y;
          }
          [x, y] = [y, x];
        }
        x += s * rx;
        y += s * ry;
        t = Math.floor(t / 4);
      }
      return { z, x, y };
    }
    acc += n;
  }
  throw new Error('tile id out of range');
}

export class PMTiles {
  constructor(path) {
    this.buf = readFileSync(path);
    const b = this.buf;
    if (b.toString('latin1', 0, 7) !== 'PMTiles' || b[7] !== 3) throw new Error(`${path}: not PMTiles v3`);
    const u64 = (o) => Number(b.readBigUInt64LE(o));
    this.header = {
      rootOffset: u64(8),
      rootLength: u64(16),
      metadataOffset: u64(24),
      metadataLength: u64(32),
      leafOffset: u64(40),
      leafLength: u64(48),
      dataOffset: u64(56),
      dataLength: u64(64),
      internalCompression: b[97],
      tileCompression: b[98],
      tileType: b[99],
      minZoom: b[100],
      maxZoom: b[101],
    };
  }

  metadata() {
    const h = this.header;
    const raw = decompress(this.buf.subarray(h.metadataOffset, h.metadataOffset + h.metadataLength), h.internalCompression);
    return JSON.parse(raw.toString('utf8'));
  }

  /** Every tile: [{z, x, y, offset, length}] (runs expanded). */
  tiles() {
    const h = this.header;
    const out = [];
    const walk = (offset, length) => {
      const dir = parseDirectory(decompress(this.buf.subarray(offset, offset + length), h.internalCompression));
      for (const e of dir) {
        if (e.runLength === 0) walk(h.leafOffset + e.offset, e.length);
        else for (let r = 0; r < e.runLength; r++) out.push({ ...tileIdToZxy(e.tileId + r), offset: h.dataOffset + e.offset, length: e.length });
      }
    };
    walk(h.rootOffset, h.rootLength);
    return out;
  }

  /** The stored bytes of tile z/x/y (compressed as in the archive), or null. */
  tile(z, x, y) {
    const t = this.tiles().find((e) => e.z === z && e.x === x && e.y === y);
    return t ? this.buf.subarray(t.offset, t.offset + t.length) : null;
  }
}
