// Debian's Chromium, headless, with WebGL from SwiftShader (no GPU here), driven by
// playwright-core (which never downloads a browser). The network flags matter: without them
// Chromium's background connections are refused by this machine's closed network.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--use-angle=swiftshader',
  '--use-gl=angle',
  '--enable-unsafe-swiftshader',
  '--ignore-gpu-blocklist',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-features=Translate,MediaRouter,OptimizationHints',
  '--force-color-profile=srgb',
  '--disable-lcd-text',
];

/** Starts Chromium with a fresh profile; returns {context, close()}. */
export async function launch() {
  const userDataDir = mkdtempSync(join(tmpdir(), 'rasterzen-parity-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    ignoreDefaultArgs: ['--enable-automation'],
    deviceScaleFactor: 1,
    viewport: { width: 1100, height: 1100 },
    offline: false,
  });
  return {
    context,
    async close() {
      try {
        await context.close();
      } finally {
        rmSync(userDataDir, { recursive: true, force: true });
      }
    },
  };
}
