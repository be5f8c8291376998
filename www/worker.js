// A render worker: fetches vector tiles from the host (`mvt/{z}/{x}/{y}.mvt`) and draws them with
// the renderer's browser build (the same crate as the server's component, compiled with
// wasm-bindgen), so the page's main thread only places images and panning stays smooth.
//
// Messages in:  {id, type: 'init', base, apiKey}
//               {id, type: 'check', json}
//               {id, type: 'render', z, x, y, size, scale, format, builtin, styleJson}
//               {type: 'cancel', id}
// Messages out: {id, ok: true, ...result} | {id, ok: false, error, status}

import init, * as renderer from './pkg/rasterzen_render.js';

const ready = init({ module_or_path: new URL('./pkg/rasterzen_render_bg.wasm', import.meta.url) });

let base = new URL('./', self.location.href);
let apiKey = '';
const queue = []; // render jobs not started yet, oldest first (Leaflet asks for the centre first)
const cancelled = new Set();
let running = 0;
const PARALLEL_FETCHES = 2;

// A small cache of tile bytes, so that re-rendering after a style edit needs no network.
const MVT_CACHE_MAX = 256;
const mvtCache = new Map(); // "z/x/y" -> Promise<{bytes, dataTile} | null>

function mvtUrl(z, x, y) {
  const u = new URL(`mvt/${z}/${x}/${y}.mvt`, base);
  if (apiKey) u.searchParams.set('api_key', apiKey);
  return u;
}

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function fetchTile(z, x, y) {
  let res = await fetch(mvtUrl(z, x, y));
  for (let retry = 1; res.status === 503 && retry <= 3; retry++) {
    // Overloaded: wait as asked (Retry-After, seconds), then try again.
    const wait = Math.min(10, Number(res.headers.get('Retry-After')) || retry);
    await new Promise((ok) => setTimeout(ok, wait * 1000));
    res = await fetch(mvtUrl(z, x, y));
  }
  if (res.status === 404) return null; // outside the source's bounds or zooms: no tile
  if (!res.ok) {
    const why = (await res.text().catch(() => '')).trim().slice(0, 200);
    throw new HttpError(res.status, `mvt/${z}/${x}/${y}: HTTP ${res.status}${why ? ` ${why}` : ''}`);
  }
  const bytes = new Uint8Array(await res.arrayBuffer());
  // Above the source's maxzoom the host answers with the ancestor's data and says which tile
  // that is; the renderer then draws our tile from it (overzoom), as the server's /png does.
  const header = res.headers.get('X-Rasterzen-Data-Tile');
  const m = header && /^(\d+)\/(\d+)\/(\d+)$/.exec(header.trim());
  const dataTile = m ? { z: +m[1], x: +m[2], y: +m[3] } : { z, x, y };
  return { bytes, dataTile };
}

function cachedTile(z, x, y) {
  const key = `${z}/${x}/${y}`;
  let p = mvtCache.get(key);
  if (p) {
    mvtCache.delete(key); // refresh its place in the LRU order
  } else {
    p = fetchTile(z, x, y);
    p.catch(() => mvtCache.delete(key));
  }
  mvtCache.set(key, p);
  while (mvtCache.size > MVT_CACHE_MAX) mvtCache.delete(mvtCache.keys().next().value);
  return p;
}

/**
 * The tiles around z/x/y (x wraps around the antimeridian, y stops at the poles), as the host
 * fetches them for its renders: labels crossing a seam are decided from both tiles' data, so
 * this page draws them exactly as the server does. A tile outside the source (404) is empty;
 * one that fails to load is left out (the server does the same, and does not cache that tile).
 */
async function neighbours(z, x, y) {
  const n = 2 ** z;
  const ids = [];
  for (let dy = -1; dy <= 1; dy++) {
    for (let dx = -1; dx <= 1; dx++) {
      const ny = y + dy;
      const nx = (((x + dx) % n) + n) % n;
      if ((dx === 0 && dy === 0) || ny < 0 || ny >= n || (nx === x && ny === y)) continue;
      if (!ids.some((t) => t.x === nx && t.y === ny)) ids.push({ z, x: nx, y: ny });
    }
  }
  const got = await Promise.all(ids.map((t) => cachedTile(t.z, t.x, t.y).then(
    (d) => ({ ...t, bytes: d ? d.bytes : new Uint8Array(0) }),
    () => null,
  )));
  return got.filter(Boolean);
}

async function render(job) {
  const { z, x, y, size, scale, format, builtin, styleJson } = job;
  const data = await cachedTile(z, x, y);
  if (cancelled.has(job.id)) return { cancelled: true };
  if (!data) return { empty: true };
  const d = data.dataTile;
  const own = d.z === z && d.x === x && d.y === y;
  // As on the server: an overzoomed neighbour comes as its ancestor's data (/mvt answers so).
  const around = format !== 'geojson' ? await neighbours(z, x, y) : [];
  if (cancelled.has(job.id)) return { cancelled: true };
  const t0 = performance.now();
  renderer.clearNeighbours();
  for (const t of around) renderer.setNeighbour(t.z, t.x, t.y, t.bytes);
  const bytes = own
    ? renderer.renderTile(data.bytes, z, x, y, format, size, scale, builtin, styleJson)
    : renderer.renderTileFrom(data.bytes, d.z, d.x, d.y, z, x, y, format, size, scale, builtin, styleJson);
  renderer.clearNeighbours();
  return { bytes, ms: performance.now() - t0, dataTile: d };
}

function pump() {
  while (running < PARALLEL_FETCHES && queue.length) {
    const job = queue.shift();
    if (cancelled.delete(job.id)) {
      self.postMessage({ id: job.id, ok: true, cancelled: true });
      continue;
    }
    running++;
    render(job)
      .then((r) => {
        cancelled.delete(job.id);
        self.postMessage({ id: job.id, ok: true, ...r }, r.bytes ? [r.bytes.buffer] : []);
      })
      .catch((e) => {
        cancelled.delete(job.id);
        self.postMessage({ id: job.id, ok: false, error: String(e?.message ?? e), status: e?.status ?? 0 });
      })
      .finally(() => {
        running--;
        pump();
      });
  }
}

self.onmessage = async (ev) => {
  const msg = ev.data;
  if (msg.type === 'cancel') {
    const k = queue.findIndex((j) => j.id === msg.id);
    if (k >= 0) {
      queue.splice(k, 1);
      self.postMessage({ id: msg.id, ok: true, cancelled: true });
    } else {
      cancelled.add(msg.id); // in flight: drop the result once its data arrives
    }
    return;
  }
  try {
    await ready;
    if (msg.type === 'init') {
      base = new URL(msg.base);
      apiKey = msg.apiKey || '';
      const builtins = renderer.builtinStyles();
      const styles = Object.fromEntries(builtins.map((n) => [n, renderer.builtinStyleJson(n)]));
      self.postMessage({ id: msg.id, ok: true, version: renderer.version(), builtins, styles });
    } else if (msg.type === 'check') {
      self.postMessage({ id: msg.id, ok: true, hash: renderer.checkStyle(msg.json) });
    } else if (msg.type === 'render') {
      queue.push(msg);
      pump();
    } else {
      throw new Error(`unknown message ${msg.type}`);
    }
  } catch (e) {
    self.postMessage({ id: msg.id, ok: false, error: String(e?.message ?? e) });
  }
};
