/**
 * Writes images [N, C, H, W] (pixels in [0, 1]) as one PNG grid of `cols` columns, each image scaled
 * up `scale` times (nearest neighbour) with a 2-pixel gap.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import sharp from 'sharp';
import type { Tensor } from '@rdc/core';

export async function writeImageGrid(path: string, images: Tensor, cols: number, scale = 2): Promise<void> {
  const [n, c, h, w] = images.dims;
  const rows = Math.ceil(n / cols);
  const gap = 2;
  const cw = w * scale + gap;
  const ch = h * scale + gap;
  const W = cols * cw + gap;
  const H = rows * ch + gap;
  const buf = Buffer.alloc(W * H * 3, 255);
  for (let i = 0; i < n; i++) {
    const ox = gap + (i % cols) * cw;
    const oy = gap + Math.floor(i / cols) * ch;
    for (let y = 0; y < h * scale; y++) {
      for (let x = 0; x < w * scale; x++) {
        for (let k = 0; k < 3; k++) {
          const v = images.data[((i * c + (c === 1 ? 0 : k)) * h + Math.floor(y / scale)) * w + Math.floor(x / scale)];
          buf[((oy + y) * W + ox + x) * 3 + k] = Math.round(255 * Math.min(1, Math.max(0, v)));
        }
      }
    }
  }
  mkdirSync(dirname(path), { recursive: true });
  await sharp(buf, { raw: { width: W, height: H, channels: 3 } })
    .png()
    .toFile(path);
}
