// The real `rasterzen serve` for the browser tests: on a free loopback port, its environment
// without RASTERZEN_* (so a developer's settings do not leak in), healthy before it returns,
// and stopped by `stop()` (SIGTERM, then SIGKILL after 5 s).

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.unref();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

/** Starts `BIN serve --listen 127.0.0.1:PORT ...args`; returns {base, child, log(), stop()}. */
export async function startServe(bin, args) {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run ./build.sh first`);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('RASTERZEN_')));
  const child = spawn(bin, ['serve', '--listen', `127.0.0.1:${port}`, ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const keep = (d) => {
    log = (log + d.toString()).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = null;
  child.on('exit', (code, signal) => {
    exited = { code, signal };
  });
  const served = {
    base,
    child,
    log: () => log,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((ok) => child.once('exit', ok));
      child.kill('SIGTERM');
      const timedOut = await Promise.race([gone.then(() => false), sleep(5000).then(() => true)]);
      if (timedOut) {
        child.kill('SIGKILL');
        await gone;
      }
    },
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`rasterzen serve exited (${JSON.stringify(exited)}) before it was healthy:\n${log}`);
    try {
      if ((await fetch(`${base}/healthz`)).ok) return served;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      await served.stop();
      throw new Error(`rasterzen serve was not healthy within 60 s:\n${log}`);
    }
    await sleep(100);
  }
}
