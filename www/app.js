// Rasterzen preview: a slippy map whose tiles are drawn in this browser, by the renderer's
// wasm-bindgen build running in Web Workers, from the host's vector tiles (`mvt/…`); a style
// editor that re-renders the visible tiles as you type; a swipe to compare with the server's
// own `png/…` tiles. Everything is served by `rasterzen serve` (no CDN).
//
// For tests: window.rasterzenPreview = { version, renderPng(z, x, y, scale), idle(), ... }.

import { parseWithPositions, lineCol, locateMessage, formatJson, JsonSyntaxError } from './editor.js';

const L = window.L;
const $ = (sel) => document.querySelector(sel);
const page = new URL(location.href);
const apiKey = page.searchParams.get('api_key') || '';
// Tile edge in CSS px: the server's (TileJSON `tileSize`), 512 unless it is configured for 256.
// Leaflet's zoom is based on 256 px tiles, so 512 px tiles of zoom z show at Leaflet zoom z + 1
// (as MapLibre's zoom z): ZOFF is −1 for 512, 0 for 256.
let SIZE = 512;
let ZOFF = -1;
const SCALE = window.devicePixelRatio > 1 ? 2 : 1; // as Leaflet's own retina test
const STORE_KEY = 'rasterzen-preview.style';

// ---------------------------------------------------------------------------------------------
// Workers: each holds an instance of the renderer; tiles go to a worker by their address so that
// its cache of vector tiles serves re-renders after a style edit.

class WorkerPool {
  constructor(n) {
    this.workers = Array.from({ length: n }, () => new Worker(new URL('./worker.js', import.meta.url), { type: 'module' }));
    this.nextId = 1;
    this.pending = new Map(); // id -> {resolve, reject, worker}
    for (const w of this.workers) {
      w.onmessage = (ev) => {
        const m = ev.data;
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.ok) p.resolve(m);
        else p.reject(Object.assign(new Error(m.error), { status: m.status }));
      };
      w.onerror = (ev) => {
        ev.preventDefault();
        showProblem(`A render worker failed to start: ${ev.message || 'see the console'}`);
      };
    }
  }

  call(worker, msg, transfer = []) {
    const id = this.nextId++;
    return {
      id,
      worker,
      promise: new Promise((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        worker.postMessage({ ...msg, id }, transfer);
      }),
    };
  }

  all(msg) {
    return Promise.all(this.workers.map((w) => this.call(w, msg).promise));
  }

  /** Renders a tile; returns {id, promise} (cancel with `cancel(id)`). */
  render(job) {
    const w = this.workers[(job.x * 31 + job.y) % this.workers.length];
    const r = this.call(w, { type: 'render', ...job });
    r.cancel = () => w.postMessage({ type: 'cancel', id: r.id });
    return r;
  }

  check(json) {
    return this.call(this.workers[0], { type: 'check', json }).promise;
  }
}

// ---------------------------------------------------------------------------------------------
// Style state: a built-in name, and the edited JSON if it differs from that built-in.

const style = {
  builtin: 'default',
  builtins: [],
  texts: {}, // built-in name -> its JSON, pretty-printed for the editor
  json: '', // the style the map shows: '' = the built-in itself, else a checked JSON document
  generation: 0, // bumped on each change of the shown style
};

function prettyJson(text) {
  try {
    return formatJson(JSON.parse(text));
  } catch {
    return text; // shown as it is, with its error marked
  }
}

// ---------------------------------------------------------------------------------------------
// Map layers.

const stats = { inflight: 0, rendered: 0, errors: 0, lastMs: 0, lastError: '' };
const idleWaiters = [];

function settle() {
  if (stats.inflight === 0 && !browserLayer?.isLoading()) {
    while (idleWaiters.length) idleWaiters.shift()();
  }
  updateStatus();
}

/** Draws one tile element `el` for Leaflet coords, with the current style. */
function renderInto(el, coords) {
  const z = coords.z + ZOFF;
  const tile = el._rz;
  tile.job?.cancel?.();
  const generation = style.generation;
  const job = pool.render({
    z, x: coords.x, y: coords.y, size: SIZE, scale: SCALE, format: 'png',
    builtin: style.builtin, styleJson: style.json,
  });
  tile.job = job;
  stats.inflight++;
  return job.promise
    .then(async (r) => {
      if (r.cancelled || tile.job !== job || generation !== style.generation) return;
      if (r.empty) {
        tile.setUrl(null);
        return;
      }
      stats.rendered++;
      stats.lastMs = r.ms;
      const url = URL.createObjectURL(new Blob([r.bytes], { type: 'image/png' }));
      const pre = new Image();
      pre.src = url;
      await pre.decode().catch(() => {});
      if (tile.job !== job) return URL.revokeObjectURL(url);
      tile.setUrl(url);
    })
    .catch((e) => {
      stats.errors++;
      stats.lastError = `${z}/${coords.x}/${coords.y}: ${e.message}`;
      el.classList.add('tile-failed');
      el.title = stats.lastError;
      throw e;
    })
    .finally(() => {
      if (tile.job === job) tile.job = null;
      stats.inflight--;
      settle();
    });
}

const BrowserLayer = L.GridLayer.extend({
  initialize(options) {
    L.GridLayer.prototype.initialize.call(this, options);
    this.tiles = new Set();
    this.on('tileunload', (e) => {
      const t = e.tile._rz;
      t?.job?.cancel?.();
      if (t) t.job = null;
      t?.setUrl(null);
      this.tiles.delete(e.tile);
    });
    this.on('load', settle);
  },
  createTile(coords, done) {
    const img = document.createElement('img');
    img.alt = '';
    img.setAttribute('role', 'presentation');
    img.dataset.tile = `${coords.z + ZOFF}/${coords.x}/${coords.y}`;
    let url = null;
    img._rz = {
      coords,
      job: null,
      setUrl(next) {
        if (url) URL.revokeObjectURL(url);
        url = next;
        if (next) img.src = next;
        else img.removeAttribute('src');
      },
    };
    this.tiles.add(img);
    renderInto(img, coords).then(() => done(null, img), (e) => done(e, img));
    return img;
  },
  /** Re-renders every tile in place (no flash): after a style change. */
  rerender() {
    for (const img of this.tiles) renderInto(img, img._rz.coords).catch(() => {});
  },
});

const ServerLayer = L.TileLayer.extend({
  getTileUrl(coords) {
    const u = new URL(`png/${coords.z + ZOFF}/${coords.x}/${coords.y}${SCALE === 2 ? '@2x' : ''}.png`, page);
    u.search = '';
    u.hash = '';
    u.searchParams.set('style', style.builtin);
    if (apiKey) u.searchParams.set('api_key', apiKey);
    return u.href;
  },
});

const GridOverlay = L.GridLayer.extend({
  createTile(coords) {
    const d = document.createElement('div');
    d.className = 'grid-tile';
    d.textContent = `${coords.z + ZOFF}/${coords.x}/${coords.y}`;
    return d;
  },
});

// ---------------------------------------------------------------------------------------------
// Compare: browser only, a swipe (browser left, server right), or the server only.

let mode = 'browser';
let swipe = 0.5;

function setMode(next) {
  mode = next;
  for (const b of document.querySelectorAll('#mode button')) b.setAttribute('aria-pressed', String(b.dataset.mode === mode));
  document.body.dataset.mode = mode;
  if (mode === 'browser') {
    map.removeLayer(serverLayer);
  } else {
    if (!map.hasLayer(serverLayer)) map.addLayer(serverLayer);
  }
  updateClip();
  updateLabels();
}

function updateClip() {
  const pane = map.getPane('server');
  const handle = $('#swipe');
  if (mode !== 'swipe') {
    pane.style.clip = '';
    handle.hidden = true;
    return;
  }
  const size = map.getSize();
  const nw = map.containerPointToLayerPoint([0, 0]);
  const se = map.containerPointToLayerPoint(size);
  const cx = nw.x + size.x * swipe;
  pane.style.clip = `rect(${nw.y}px, ${se.x}px, ${se.y}px, ${cx}px)`;
  handle.hidden = false;
  handle.style.left = `${size.x * swipe}px`;
}

function updateLabels() {
  const edited = style.json !== '';
  const server = `server · png/ · built-in “${style.builtin}”${edited ? ' (your edits are not on the server)' : ''}`;
  $('#label-left').textContent = mode === 'server' ? server : 'browser · wasm';
  $('#label-right').textContent = server;
  $('#label-right').hidden = mode !== 'swipe';
}

function initSwipe() {
  const handle = $('#swipe');
  L.DomEvent.disableClickPropagation(handle);
  let dragging = false;
  const move = (e) => {
    const r = map.getContainer().getBoundingClientRect();
    swipe = Math.min(1, Math.max(0, (e.clientX - r.left) / r.width));
    updateClip();
  };
  handle.addEventListener('pointerdown', (e) => {
    dragging = true;
    handle.setPointerCapture(e.pointerId);
    e.preventDefault();
  });
  handle.addEventListener('pointermove', (e) => dragging && move(e));
  handle.addEventListener('pointerup', () => { dragging = false; });
  handle.addEventListener('keydown', (e) => {
    const step = e.shiftKey ? 0.1 : 0.02;
    if (e.key === 'ArrowLeft') swipe = Math.max(0, swipe - step);
    else if (e.key === 'ArrowRight') swipe = Math.min(1, swipe + step);
    else return;
    e.preventDefault();
    updateClip();
  });
}

/** The server's renderer version (TileJSON `version`) beside ours: same version, same bytes. */
function showServerVersion(v) {
  const el = $('#server-version');
  if (!v) return;
  const same = v === preview.version;
  el.hidden = false;
  el.textContent = same ? `server ${v} ✓` : `server ${v} ≠ browser`;
  el.classList.toggle('warn', !same);
  el.title = same
    ? 'The server runs the same renderer version: its tiles are byte-identical to the ones drawn here.'
    : `The server runs renderer ${v}, this page ${preview.version}: tiles may differ.`;
}

// ---------------------------------------------------------------------------------------------
// The editor.

const text = $('#style-text');
const gutter = $('#gutter');
const marks = $('#marks');
let checkSeq = 0;
let checkTimer = 0;
let problemRange = null;

function lineHeight() {
  return parseFloat(getComputedStyle(text).lineHeight) || 18;
}

function paintGutter() {
  const lines = text.value.split('\n').length;
  if (gutter.dataset.lines !== String(lines)) {
    gutter.dataset.lines = String(lines);
    gutter.textContent = Array.from({ length: lines }, (_, i) => i + 1).join('\n');
  }
  paintMarks();
}

function paintMarks() {
  gutter.style.transform = `translateY(${-text.scrollTop}px)`;
  marks.style.transform = `translate(${-text.scrollLeft}px, ${-text.scrollTop}px)`;
  marks.replaceChildren();
  for (const el of gutter.querySelectorAll('.err')) el.remove();
  if (!problemRange) return;
  const lh = lineHeight();
  const pad = parseFloat(getComputedStyle(text).paddingTop) || 0;
  const a = lineCol(text.value, problemRange.start).line;
  const b = Math.max(a, lineCol(text.value, Math.max(problemRange.start, problemRange.end - 1)).line);
  const band = (line, cls) => {
    const d = document.createElement('div');
    d.className = cls;
    d.style.top = `${pad + (line - 1) * lh}px`;
    d.style.height = `${lh}px`;
    marks.append(d);
  };
  for (let l = a + 1; l <= Math.min(b, a + 200); l++) band(l, 'mark-range');
  band(a, 'mark-line');
  const dot = document.createElement('div');
  dot.className = 'err';
  dot.style.top = `${pad + (a - 1) * lh}px`;
  dot.textContent = '●';
  gutter.append(dot);
}

function showProblem(message, range = null) {
  const box = $('#problem');
  problemRange = range;
  text.setAttribute('aria-invalid', String(Boolean(message)));
  if (!message) {
    box.hidden = true;
    box.replaceChildren();
    paintMarks();
    return;
  }
  box.hidden = false;
  box.replaceChildren();
  if (range) {
    const { line, col } = lineCol(text.value, range.start);
    const a = document.createElement('button');
    a.type = 'button';
    a.className = 'where';
    a.textContent = `line ${line}, col ${col}`;
    a.title = 'Show it in the editor';
    a.onclick = () => revealRange(range);
    box.append(a, ' ');
  }
  box.append(document.createTextNode(message));
  const note = document.createElement('div');
  note.className = 'note';
  note.textContent = 'The map keeps the last valid style.';
  box.append(note);
  paintMarks();
}

function revealRange(range) {
  text.focus();
  text.setSelectionRange(range.start, range.end);
  const { line } = lineCol(text.value, range.start);
  text.scrollTop = Math.max(0, (line - 4) * lineHeight());
  paintMarks();
}

function setEditorText(value) {
  text.value = value;
  text.scrollTop = 0;
  paintGutter();
}

function editedFromBuiltin() {
  return text.value.trim() !== (style.texts[style.builtin] ?? '').trim();
}

function updateStyleChrome() {
  const edited = editedFromBuiltin();
  $('#edited').hidden = !edited;
  $('#reset').disabled = !edited;
  updateLabels();
}

function scheduleCheck() {
  clearTimeout(checkTimer);
  checkTimer = setTimeout(checkAndApply, 250);
  updateStyleChrome();
  saveEdits();
}

/** Parses and checks the editor's text; if valid and different, shows it on the map. */
async function checkAndApply() {
  const seq = ++checkSeq;
  const source = text.value;
  try {
    return await check(seq, source);
  } finally {
    if (seq === checkSeq) text.rzChecked = source; // for tests: this text has been dealt with
  }
}

async function check(seq, source) {
  let pointers;
  try {
    ({ pointers } = parseWithPositions(source));
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e;
    showProblem(`JSON: ${e.message}`, { start: e.pos, end: e.pos + 1 });
    return false;
  }
  try {
    await pool.check(source);
  } catch (e) {
    if (seq !== checkSeq) return false;
    const msg = e.message.replace(/^invalid style:\s*/, '');
    showProblem(msg, locateMessage(source, e.message, pointers));
    return false;
  }
  if (seq !== checkSeq) return false;
  showProblem(null);
  const next = editedFromBuiltin() ? source : '';
  if (next !== style.json) {
    style.json = next;
    style.generation++;
    browserLayer.rerender();
    updateStyleChrome();
  }
  return true;
}

function chooseBuiltin(name) {
  style.builtin = name;
  $('#style-select').value = name;
  setEditorText(style.texts[name]);
  style.json = '';
  style.generation++;
  showProblem(null);
  browserLayer?.rerender();
  if (map?.hasLayer(serverLayer)) serverLayer.redraw();
  updateStyleChrome();
  saveEdits();
}

function saveEdits() {
  try {
    localStorage.setItem(STORE_KEY, JSON.stringify({ builtin: style.builtin, text: editedFromBuiltin() ? text.value : null }));
  } catch {
    /* private mode */
  }
}

function initEditor() {
  const select = $('#style-select');
  for (const name of style.builtins) select.append(new Option(name, name));
  select.onchange = () => {
    if (editedFromBuiltin() && !confirm(`Discard your edits and load the built-in style “${select.value}”?`)) {
      select.value = style.builtin;
      return;
    }
    chooseBuiltin(select.value);
  };
  $('#reset').onclick = () => chooseBuiltin(style.builtin);
  $('#download').onclick = () => {
    const blob = new Blob([text.value], { type: 'application/json' });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = `${style.builtin}${editedFromBuiltin() ? '-edited' : ''}.json`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  };
  const file = $('#open-file');
  $('#open').onclick = () => file.click();
  file.onchange = async () => {
    const f = file.files?.[0];
    if (!f) return;
    setEditorText(prettyJson(await f.text()));
    file.value = '';
    scheduleCheck();
  };
  text.addEventListener('input', () => {
    paintGutter();
    scheduleCheck();
  });
  text.addEventListener('scroll', paintMarks);
  text.addEventListener('keydown', (e) => {
    if (e.key === 'Tab' && !e.shiftKey && !e.ctrlKey && !e.metaKey) {
      e.preventDefault();
      document.execCommand('insertText', false, '  ');
    } else if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      clearTimeout(checkTimer);
      checkAndApply();
    }
  });
  new ResizeObserver(paintMarks).observe(text);
}

// ---------------------------------------------------------------------------------------------
// Status line.

function updateStatus() {
  if (!map) return;
  const z = map.getZoom() + ZOFF;
  const parts = [
    `tile zoom ${Number.isInteger(z) ? z : z.toFixed(1)}`,
    `${browserLayer?.tiles.size ?? 0} tiles${SCALE === 2 ? ' @2x' : ''}`,
    stats.inflight ? `rendering ${stats.inflight}…` : `last render ${stats.lastMs.toFixed(0)} ms`,
  ];
  $('#status-text').textContent = parts.join(' · ');
  const err = $('#status-error');
  err.hidden = !stats.errors;
  err.textContent = `${stats.errors} tile error${stats.errors === 1 ? '' : 's'}`;
  err.title = stats.lastError;
}

// ---------------------------------------------------------------------------------------------
// Start.

let pool;
let map;
let browserLayer;
let serverLayer;
let gridLayer;
const preview = {};

async function main() {
  const tjUrl = new URL('tilejson.json', page);
  if (apiKey) tjUrl.searchParams.set('api_key', apiKey);
  const tj = await fetch(tjUrl).then((r) => {
    if (!r.ok) throw new Error(`tilejson.json: HTTP ${r.status}`);
    return r.json();
  });
  const minzoom = tj.minzoom ?? 0;
  const maxzoom = tj.maxzoom ?? 20; // the server's overzoom limit included
  const bounds = Array.isArray(tj.bounds) && tj.bounds.length === 4 ? tj.bounds : null;
  if (tj.tileSize === 256) [SIZE, ZOFF] = [256, 0];

  pool = new WorkerPool(Math.max(1, Math.min(4, (navigator.hardwareConcurrency || 2) - 1)));
  const [info] = await pool.all({
    type: 'init', base: new URL('./', page).href, apiKey,
  });
  style.builtins = info.builtins;
  for (const [name, json] of Object.entries(info.styles)) style.texts[name] = prettyJson(json);

  // Initial style: ?style=NAME, else what was being edited here last time, else `default`.
  const asked = page.searchParams.get('style');
  let saved = null;
  try {
    saved = JSON.parse(localStorage.getItem(STORE_KEY) || 'null');
  } catch {
    saved = null;
  }
  if (asked && style.texts[asked]) style.builtin = asked;
  else if (saved && style.texts[saved.builtin]) style.builtin = saved.builtin;
  else if (!style.texts[style.builtin]) style.builtin = style.builtins[0];
  initEditor();
  $('#style-select').value = style.builtin;
  setEditorText(!asked && saved?.text ? saved.text : style.texts[style.builtin]);
  updateStyleChrome();

  $('#version').textContent = `renderer ${info.version}`;
  $('#version').title = 'The renderer running in this page (wasm-bindgen build of render-wasm)';
  document.title = `Rasterzen preview · ${info.version}`;

  // The map, in Leaflet's zoom (see ZOFF).
  const tileBounds = bounds ? L.latLngBounds([bounds[1], bounds[0]], [bounds[3], bounds[2]]) : undefined;
  map = L.map('map', {
    minZoom: minzoom - ZOFF,
    maxZoom: maxzoom - ZOFF,
    zoomSnap: 1,
    attributionControl: true,
  });
  map.createPane('server').style.zIndex = 250;
  map.attributionControl.setPrefix('<a href="https://leafletjs.com" title="A JavaScript library for interactive maps">Leaflet</a>');
  const layerOptions = {
    tileSize: SIZE,
    minZoom: minzoom - ZOFF,
    maxZoom: maxzoom - ZOFF,
    bounds: tileBounds,
    updateWhenZooming: false,
    keepBuffer: 1,
  };
  browserLayer = new BrowserLayer({ ...layerOptions, attribution: tj.attribution || '' });
  serverLayer = new ServerLayer('', { ...layerOptions, pane: 'server', crossOrigin: false });
  gridLayer = new GridOverlay({ ...layerOptions, pane: 'overlayPane' });
  browserLayer.addTo(map);

  // The view: the page's #map=Z/LAT/LON (tile zoom, as MapLibre's hash), else the TileJSON's centre.
  const hash = /^#map=(\d+(?:\.\d+)?)\/(-?\d+(?:\.\d+)?)\/(-?\d+(?:\.\d+)?)$/.exec(location.hash);
  if (hash) {
    map.setView([+hash[2], +hash[3]], Math.round(+hash[1]) - ZOFF);
  } else if (Array.isArray(tj.center) && tj.center.length >= 2) {
    map.setView([tj.center[1], tj.center[0]], Math.max(minzoom, Math.round(tj.center[2] ?? minzoom)) - ZOFF);
  } else if (tileBounds) {
    map.fitBounds(tileBounds);
  } else {
    map.setView([0, 0], minzoom - ZOFF);
  }
  L.control.scale({ position: 'bottomleft' }).addTo(map);

  map.on('move zoom resize viewreset', updateClip);
  map.on('zoomend moveend', updateStatus);
  map.on('moveend', () => {
    const c = map.getCenter();
    const digits = Math.max(2, Math.ceil(Math.log10(2 ** map.getZoom())));
    history.replaceState(null, '', `#map=${map.getZoom() + ZOFF}/${c.lat.toFixed(digits)}/${c.lng.toFixed(digits)}`);
  });
  initSwipe();
  for (const b of document.querySelectorAll('#mode button')) b.onclick = () => setMode(b.dataset.mode);
  $('#grid').onchange = (e) => (e.target.checked ? gridLayer.addTo(map) : gridLayer.remove());
  setMode(page.searchParams.get('compare') || 'browser');

  Object.assign(preview, {
    version: info.version,
    builtins: style.builtins,
    /** PNG bytes this browser's renderer makes for z/x/y at `scale`, 512 px, current style. */
    async renderPng(z, x, y, scale = 1) {
      const r = await pool.render({ z, x, y, size: SIZE, scale, format: 'png', builtin: style.builtin, styleJson: style.json }).promise;
      if (r.empty) throw new Error(`no tile ${z}/${x}/${y} in the source`);
      return r.bytes;
    },
    /** Resolves once no tile is loading or being rendered. */
    idle() {
      return new Promise((resolve) => {
        idleWaiters.push(resolve);
        settle();
      });
    },
    chooseBuiltin,
    setMode,
    stats,
    map,
  });
  /** The style the map shows: {builtin, edited, json}. */
  Object.defineProperty(preview, 'style', {
    enumerable: true,
    get: () => ({ builtin: style.builtin, edited: style.json !== '', json: style.json || style.texts[style.builtin] }),
  });
  window.rasterzenPreview = preview;
  showServerVersion(tj.version);
  document.body.classList.add('ready');
}

main().catch((e) => {
  console.error(e);
  const box = $('#fatal');
  box.hidden = false;
  box.textContent = `The preview could not start: ${e.message}`;
});
