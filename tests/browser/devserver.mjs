// For working on the preview page: serves www/ from disk (edits show on reload, no host rebuild)
// and passes every other path to a running `rasterzen serve`.
//   target/release/rasterzen serve &            # 127.0.0.1:8080
//   node tests/browser/devserver.mjs [--port 8081] [--upstream http://127.0.0.1:8080]
// Then open http://127.0.0.1:8081/.

import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const WWW = resolve(dirname(fileURLToPath(import.meta.url)), '../../www');
const { values } = parseArgs({
  options: { port: { type: 'string', default: '8081' }, upstream: { type: 'string', default: 'http://127.0.0.1:8080' } },
});
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.png': 'image/png',
};

createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  const path = url.pathname === '/' ? '/index.html' : url.pathname;
  const file = normalize(join(WWW, path));
  if (file.startsWith(WWW + '/') && TYPES[extname(file)] && !file.includes('node_modules')) {
    try {
      if ((await stat(file)).isFile()) {
        res.writeHead(200, { 'Content-Type': TYPES[extname(file)], 'Cache-Control': 'no-cache' });
        res.end(await readFile(file));
        return;
      }
    } catch {
      /* not a file here: ask the host */
    }
  }
  try {
    const up = await fetch(new URL(req.url, values.upstream), { headers: { accept: req.headers.accept ?? '*/*' } });
    const headers = Object.fromEntries([...up.headers].filter(([k]) => !['content-encoding', 'content-length', 'transfer-encoding', 'connection'].includes(k)));
    res.writeHead(up.status, headers);
    res.end(Buffer.from(await up.arrayBuffer()));
  } catch (e) {
    res.writeHead(502, { 'Content-Type': 'text/plain' });
    res.end(`upstream ${values.upstream}: ${e.message}`);
  }
}).listen(Number(values.port), '127.0.0.1', () => {
  console.log(`www/ on http://127.0.0.1:${values.port}/, everything else from ${values.upstream}`);
});
