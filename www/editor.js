// The style editor's text tools: a JSON parser that remembers where every value is, so an error
// (a syntax error, or the renderer's "layers[3].paint.line-width: ..." path) can be shown on the
// line it belongs to. No dependencies; positions are UTF-16 offsets into the text (as the
// textarea's selectionStart uses).

/** A JSON syntax error at `pos` (offset into the text). */
export class JsonSyntaxError extends Error {
  constructor(message, pos) {
    super(message);
    this.pos = pos;
  }
}

/**
 * Parses JSON and records, for every value, its span: `pointers.get("layers[3].paint")` is
 * `{ start, end, keyStart }` (offsets; `keyStart` is where the property name begins, if any).
 * Paths use the renderer's spelling: `key`, `a.b`, `a[3].b`; the root is "".
 */
export function parseWithPositions(text) {
  let i = 0;
  const pointers = new Map();
  const fail = (what) => {
    const found = i >= text.length ? 'the end of the text' : `'${text[i]}'`;
    throw new JsonSyntaxError(`expected ${what}, found ${found}`, Math.min(i, text.length));
  };
  const ws = () => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 32 || c === 9 || c === 10 || c === 13) i++;
      else break;
    }
  };
  const child = (path, key) => (typeof key === 'number' ? `${path}[${key}]` : path === '' ? key : `${path}.${key}`);

  function string() {
    const start = i;
    i++; // opening quote
    let out = '';
    for (;;) {
      if (i >= text.length) throw new JsonSyntaxError('unterminated string', start);
      const c = text[i];
      if (c === '"') { i++; return out; }
      if (c === '\n') throw new JsonSyntaxError('unterminated string (a line break inside quotes)', start);
      if (c === '\\') {
        const e = text[i + 1];
        const map = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
        if (e in map) { out += map[e]; i += 2; continue; }
        if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
          out += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
          i += 6;
          continue;
        }
        throw new JsonSyntaxError(`invalid escape '\\${e ?? ''}' in a string`, i);
      }
      out += c;
      i++;
    }
  }

  function value(path, keyStart) {
    ws();
    const start = i;
    const c = text[i];
    let v;
    if (c === '{') {
      i++;
      v = {};
      ws();
      if (text[i] === '}') i++;
      else {
        for (;;) {
          ws();
          if (text[i] !== '"') fail(text[i] === '}' ? 'a property name (no trailing comma in JSON)' : 'a property name in double quotes');
          const ks = i;
          const key = string();
          ws();
          if (text[i] !== ':') fail(`':' after "${key}"`);
          i++;
          v[key] = value(child(path, key), ks);
          ws();
          if (text[i] === ',') { i++; continue; }
          if (text[i] === '}') { i++; break; }
          fail("',' or '}'");
        }
      }
    } else if (c === '[') {
      i++;
      v = [];
      ws();
      if (text[i] === ']') i++;
      else {
        for (let n = 0; ; n++) {
          ws();
          if (text[i] === ']') fail('a value (no trailing comma in JSON)');
          v.push(value(child(path, n)));
          ws();
          if (text[i] === ',') { i++; continue; }
          if (text[i] === ']') { i++; break; }
          fail("',' or ']'");
        }
      }
    } else if (c === '"') {
      v = string();
    } else {
      const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 64));
      if (m) { v = Number(m[0]); i += m[0].length; }
      else if (text.startsWith('true', i)) { v = true; i += 4; }
      else if (text.startsWith('false', i)) { v = false; i += 5; }
      else if (text.startsWith('null', i)) { v = null; i += 4; }
      else fail('a value');
    }
    pointers.set(path, { start, end: i, keyStart: keyStart ?? start });
    return v;
  }

  const v = value('');
  ws();
  if (i < text.length) fail('the end of the text after the style');
  return { value: v, pointers };
}

/** 1-based line and column of offset `pos`. */
export function lineCol(text, pos) {
  let line = 1;
  let last = -1;
  for (let k = text.indexOf('\n'); k !== -1 && k < pos; k = text.indexOf('\n', k + 1)) {
    line++;
    last = k;
  }
  return { line, col: pos - last };
}

/** Offset of 1-based `line`, `col`. */
export function offsetOf(text, line, col) {
  let pos = 0;
  for (let l = 1; l < line; l++) {
    const k = text.indexOf('\n', pos);
    if (k === -1) return text.length;
    pos = k + 1;
  }
  return Math.min(text.length, pos + Math.max(0, col - 1));
}

const PATH_AT_START = /^((?:[A-Za-z_$][\w$-]*|\[\d+\])(?:\.[A-Za-z_$][\w$-]*|\[\d+\])*)(?::|\s)/;

/**
 * Where an error message from the renderer points in `text`: a leading JSON path
 * (`layers[3].paint.line-width: …`, after an optional `invalid style: `), or serde's
 * `at line L column C`. Returns `{ start, end, path }` or null. An unknown path is shortened
 * until it names something present (a missing property points at its object).
 */
export function locateMessage(text, message, pointers) {
  const body = message.replace(/^(?:Error:\s*)?(?:invalid style:\s*)?/i, '');
  const lc = /\bline (\d+),? column (\d+)/.exec(body);
  const pm = PATH_AT_START.exec(body);
  if (lc) {
    const start = offsetOf(text, Number(lc[1]), Number(lc[2]));
    return { start: Math.max(0, start - 1), end: start, path: null };
  }
  if (pm && pointers) {
    // `style: …` is about the document as a whole: point at its first line.
    let path = pm[1] === 'style' ? '' : pm[1].replace(/^style\./, '');
    for (;;) {
      const p = pointers.get(path);
      if (p) return path === '' ? { start: p.start, end: p.start + 1, path } : { start: p.keyStart, end: p.end, path };
      if (path === '') break;
      const cut = Math.max(path.lastIndexOf('.'), path.lastIndexOf('['));
      path = cut > 0 ? path.slice(0, cut) : '';
    }
  }
  return null;
}

/**
 * JSON for people: objects and arrays on one line when they fit in `width` columns (filters,
 * stops, short paint blocks), expanded with two-space indents when they don't.
 */
export function formatJson(value, width = 72) {
  const go = (v, indent, prefix) => {
    if (v === null || typeof v !== 'object') return JSON.stringify(v);
    const one = flatten(v);
    if (one.length + indent.length + prefix.length <= width) return one;
    const inner = indent + '  ';
    if (Array.isArray(v)) {
      if (v.length === 0) return '[]';
      // Runs of scalars (stops, numbers) share lines; anything else gets its own line.
      const lines = [];
      let run = '';
      for (const x of v) {
        if (x !== null && typeof x === 'object') {
          if (run) lines.push(run);
          run = '';
          lines.push(go(x, inner, ''));
          continue;
        }
        const item = JSON.stringify(x);
        if (run && inner.length + run.length + item.length + 3 > width) {
          lines.push(run);
          run = '';
        }
        run = run ? `${run}, ${item}` : item;
      }
      if (run) lines.push(run);
      return `[\n${lines.map((l) => inner + l).join(',\n')}\n${indent}]`;
    }
    const keys = Object.keys(v);
    if (keys.length === 0) return '{}';
    return `{\n${keys.map((k) => {
      const key = `${JSON.stringify(k)}: `;
      return inner + key + go(v[k], inner, key);
    }).join(',\n')}\n${indent}}`;
  };
  // One line: `[1, 2]`, `{"a": 1, "b": [2, 3]}` (spaces after separators, none inside strings).
  const flatten = (v) => {
    if (v === null || typeof v !== 'object') return JSON.stringify(v);
    if (Array.isArray(v)) return `[${v.map(flatten).join(', ')}]`;
    const keys = Object.keys(v);
    return keys.length ? `{${keys.map((k) => `${JSON.stringify(k)}: ${flatten(v[k])}`).join(', ')}}` : '{}';
  };
  return go(value, '', '') + '\n';
}
