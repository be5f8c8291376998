// A minimal TrueType reader for the label oracle: the cmap (formats 4 and 12: which code points
// a face has), units per em, the hhea ascender and hmtx advances. Enough to give MapLibre glyph
// PBFs for exactly the characters rasterzen's embedded faces cover, and to say how far the
// PBFs' whole-pixel advances are from the font's own.

export function readTtf(buf) {
  const u16 = (o) => buf.readUInt16BE(o);
  const i16 = (o) => buf.readInt16BE(o);
  const u32 = (o) => buf.readUInt32BE(o);
  const tables = {};
  const n = u16(4);
  for (let i = 0; i < n; i++) {
    const o = 12 + 16 * i;
    tables[buf.toString('latin1', o, o + 4)] = { offset: u32(o + 8), length: u32(o + 12) };
  }
  for (const t of ['cmap', 'head', 'hhea', 'hmtx', 'maxp']) if (!tables[t]) throw new Error(`font has no ${t} table`);
  const unitsPerEm = u16(tables.head.offset + 18);
  const ascender = i16(tables.hhea.offset + 4);
  const numberOfHMetrics = u16(tables.hhea.offset + 34);
  const numGlyphs = u16(tables.maxp.offset + 4);
  const advances = new Uint16Array(numGlyphs);
  for (let g = 0; g < numGlyphs; g++) advances[g] = u16(tables.hmtx.offset + 4 * Math.min(g, numberOfHMetrics - 1));

  // cmap: prefer a format 12 (3,10) subtable, then format 4 (3,1) / (0,*).
  const cmap = tables.cmap.offset;
  const subtables = [];
  for (let i = 0; i < u16(cmap + 2); i++) {
    const o = cmap + 4 + 8 * i;
    subtables.push({ platform: u16(o), encoding: u16(o + 2), offset: cmap + u32(o + 4) });
  }
  const glyphOf = new Map();
  const pick = subtables.find((s) => u16(s.offset) === 12) ?? subtables.find((s) => u16(s.offset) === 4);
  if (!pick) throw new Error('font has no cmap subtable of format 4 or 12');
  const o = pick.offset;
  if (u16(o) === 12) {
    const groups = u32(o + 12);
    for (let i = 0; i < groups; i++) {
      const g = o + 16 + 12 * i;
      const [start, end, gid] = [u32(g), u32(g + 4), u32(g + 8)];
      for (let c = start; c <= end; c++) glyphOf.set(c, gid + (c - start));
    }
  } else {
    const segX2 = u16(o + 6);
    const ends = o + 14;
    const starts = ends + segX2 + 2;
    const deltas = starts + segX2;
    const rangeOffsets = deltas + segX2;
    for (let s = 0; s < segX2 / 2; s++) {
      const [end, start, delta, ro] = [u16(ends + 2 * s), u16(starts + 2 * s), i16(deltas + 2 * s), u16(rangeOffsets + 2 * s)];
      for (let c = start; c <= end && c !== 0xffff; c++) {
        let gid;
        if (ro === 0) gid = (c + delta) & 0xffff;
        else {
          const gi = u16(rangeOffsets + 2 * s + ro + 2 * (c - start));
          gid = gi === 0 ? 0 : (gi + delta) & 0xffff;
        }
        if (gid) glyphOf.set(c, gid);
      }
    }
  }
  return {
    unitsPerEm,
    ascender,
    /** Code points with a glyph, ascending. */
    codePoints: [...glyphOf.keys()].sort((a, b) => a - b),
    /** The advance of the code point's glyph in font units. */
    advance: (cp) => advances[glyphOf.get(cp) ?? 0],
  };
}
