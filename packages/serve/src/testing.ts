/**
 * What the serving tests share: a small flat grey PNG to send.
 *
 * @example
 * const png = await grayPng(); // 8×8, every channel 90
 */
import sharp from 'sharp';

export function grayPng(size = 8, value = 90): Promise<Buffer> {
  return sharp(Buffer.alloc(size * size * 3, value), { raw: { width: size, height: size, channels: 3 } })
    .png()
    .toBuffer();
}
