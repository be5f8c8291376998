// Builds a MapLibre sprite (sprite.json/png and @2x) from SVG icons, for a style package that
// ships its sprite only as SVG sources: each SVG is drawn by Chromium at its own size × pixel
// ratio, the images are laid out left to right, and the PNGs are written by lib/png.mjs.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { launch } from './browser.mjs';
import { encodePng } from './png.mjs';

export async function buildSprite(svgs, dir) {
  const browser = await launch();
  try {
    const page = await browser.context.newPage();
    await page.setContent('<!doctype html><body></body>');
    for (const ratio of [1, 2]) {
      const images = [];
      for (const [id, svg] of Object.entries(svgs)) {
        const { width, height, data } = await page.evaluate(
          async ([svg, ratio]) => {
            const img = new Image();
            img.src = `data:image/svg+xml;base64,${btoa(svg)}`;
            await img.decode();
            const w = img.naturalWidth * ratio;
            const h = img.naturalHeight * ratio;
            const c = document.createElement('canvas');
            c.width = w;
            c.height = h;
            const g = c.getContext('2d');
            g.drawImage(img, 0, 0, w, h);
            return { width: w, height: h, data: Array.from(g.getImageData(0, 0, w, h).data) };
          },
          [svg, ratio],
        );
        images.push({ id, width, height, data });
      }
      const W = images.reduce((s, i) => s + i.width, 0);
      const H = Math.max(...images.map((i) => i.height));
      const rgba = new Uint8Array(W * H * 4);
      const index = {};
      let x0 = 0;
      for (const im of images) {
        for (let y = 0; y < im.height; y++) {
          rgba.set(im.data.slice(y * im.width * 4, (y + 1) * im.width * 4), (y * W + x0) * 4);
        }
        index[im.id] = { height: im.height, pixelRatio: ratio, width: im.width, x: x0, y: 0 };
        x0 += im.width;
      }
      const suffix = ratio === 1 ? '' : '@2x';
      writeFileSync(join(dir, `sprite${suffix}.json`), `${JSON.stringify(index, null, 2)}\n`);
      writeFileSync(join(dir, `sprite${suffix}.png`), encodePng(W, H, rgba));
    }
  } finally {
    await browser.close();
  }
}
