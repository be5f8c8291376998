// A small, lossless Mapbox Vector Tile codec for the parity oracle: decodes a tile into layers
// and features with absolute integer geometry, and encodes it back. Values are kept as their
// raw protobuf bytes (so int64/uint64/float/double survive untouched), feature ids as BigInt.
// Used to build the parent tile of a 256 px case: the child's geometry translated into its
// quadrant of a tile with twice the extent (exact integer arithmetic).

import { gunzipSync } from 'node:zlib';
import Pbf from 'pbf';

/** Raw or gzip bytes → raw MVT bytes. */
export function inflate(bytes) {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) return new Uint8Array(gunzipSync(b));
  return b;
}

function readVarint64(pbf) {
  // An unsigned 64-bit varint as BigInt (pbf's readVarint returns a lossy Number above 2^53).
  let result = 0n;
  let shift = 0n;
  for (;;) {
    const byte = pbf.buf[pbf.pos++];
    result |= BigInt(byte & 0x7f) << shift;
    if (byte < 0x80) return result;
    shift += 7n;
    if (shift > 63n) throw new Error('varint too long');
  }
}

function writeVarint64(pbf, v) {
  const bytes = [];
  let n = BigInt.asUintN(64, v);
  do {
    let byte = Number(n & 0x7fn);
    n >>= 7n;
    if (n > 0n) byte |= 0x80;
    bytes.push(byte);
  } while (n > 0n);
  pbf.realloc(bytes.length);
  for (const b of bytes) pbf.buf[pbf.pos++] = b;
}

function readPacked(pbf) {
  const end = pbf.readVarint() + pbf.pos;
  const out = [];
  while (pbf.pos < end) out.push(pbf.readVarint());
  return out;
}

const zigzag = (n) => (n << 1) ^ (n >> 31);
const unzigzag = (n) => (n >>> 1) ^ -(n & 1);

/** Geometry commands → [{cmd: 1|2|7, points: [[x,y],...]}] with absolute coordinates. */
export function decodeGeometry(ints) {
  const out = [];
  let i = 0;
  let x = 0;
  let y = 0;
  while (i < ints.length) {
    const c = ints[i++];
    const cmd = c & 7;
    const count = c >>> 3;
    if (cmd === 7) {
      out.push({ cmd, count, points: [] });
      continue;
    }
    if (cmd !== 1 && cmd !== 2) throw new Error(`unknown geometry command ${cmd}`);
    const points = [];
    for (let k = 0; k < count; k++) {
      if (i + 1 >= ints.length) throw new Error('truncated geometry');
      x += unzigzag(ints[i++]);
      y += unzigzag(ints[i++]);
      points.push([x, y]);
    }
    out.push({ cmd, count, points });
  }
  return out;
}

export function encodeGeometry(commands) {
  const ints = [];
  let x = 0;
  let y = 0;
  for (const { cmd, count, points } of commands) {
    if (cmd === 7) {
      ints.push((count << 3) | 7);
      continue;
    }
    ints.push((points.length << 3) | cmd);
    for (const [px, py] of points) {
      ints.push(zigzag(px - x) >>> 0, zigzag(py - y) >>> 0);
      x = px;
      y = py;
    }
  }
  return ints;
}

/** Raw MVT bytes → {layers: [{version, name, extent, keys, values (raw bytes), features}]}. */
export function decodeTile(bytes) {
  const pbf = new Pbf(inflate(bytes));
  const tile = { layers: [] };
  pbf.readFields((tag, t, p) => {
    if (tag === 3) t.layers.push(p.readMessage(readLayer, { version: 1, name: '', extent: 4096, keys: [], values: [], features: [] }));
  }, tile);
  return tile;
}

function readLayer(tag, l, p) {
  if (tag === 15) l.version = p.readVarint();
  else if (tag === 1) l.name = p.readString();
  else if (tag === 2) l.features.push(p.readMessage(readFeature, { id: null, tags: [], type: 0, geometry: [] }));
  else if (tag === 3) l.keys.push(p.readString());
  else if (tag === 4) l.values.push(Uint8Array.from(p.readBytes()));
  else if (tag === 5) l.extent = p.readVarint();
}

function readFeature(tag, f, p) {
  if (tag === 1) f.id = readVarint64(p);
  else if (tag === 2) f.tags = readPacked(p);
  else if (tag === 3) f.type = p.readVarint();
  else if (tag === 4) f.geometry = decodeGeometry(readPacked(p));
}

export function encodeTile(tile) {
  const pbf = new Pbf();
  for (const layer of tile.layers) pbf.writeMessage(3, writeLayer, layer);
  return pbf.finish();
}

function writeLayer(l, pbf) {
  pbf.writeVarintField(15, l.version);
  pbf.writeStringField(1, l.name);
  for (const f of l.features) pbf.writeMessage(2, writeFeature, f);
  for (const k of l.keys) pbf.writeStringField(3, k);
  for (const v of l.values) pbf.writeBytesField(4, v);
  pbf.writeVarintField(5, l.extent);
}

function writeFeature(f, pbf) {
  if (f.id !== null) {
    pbf.writeTag(1, 0);
    writeVarint64(pbf, f.id);
  }
  if (f.tags.length) pbf.writePackedVarint(2, f.tags);
  pbf.writeVarintField(3, f.type);
  const g = encodeGeometry(f.geometry);
  if (g.length) pbf.writePackedVarint(4, g);
}

/**
 * The tile z−1 that holds `child` (tile z/x/y) in its quadrant: every layer's extent doubled,
 * every coordinate moved by (x & 1, y & 1) × the child's extent. Exact: no rounding anywhere.
 */
export function parentTileOf(childBytes, x, y) {
  const tile = decodeTile(childBytes);
  const qx = x & 1;
  const qy = y & 1;
  for (const layer of tile.layers) {
    const e = layer.extent;
    const dx = qx * e;
    const dy = qy * e;
    layer.extent = 2 * e;
    for (const f of layer.features) {
      for (const c of f.geometry) c.points = c.points.map(([px, py]) => [px + dx, py + dy]);
    }
  }
  return encodeTile(tile);
}

/** Deep equality of two decoded tiles (for the round-trip check). */
export function sameTile(a, b) {
  return JSON.stringify(a, jsonSafe) === JSON.stringify(b, jsonSafe);
}

function jsonSafe(_k, v) {
  if (typeof v === 'bigint') return `${v}n`;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  return v;
}
