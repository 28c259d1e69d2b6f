/** Synthetic test images written as PNG (8-bit grey) for the engine tests. */
import { writeFileSync } from 'node:fs';
import { encode } from 'fast-png';

/** A dark image with one bright disk, or a uniform grey one (radius 0). */
export function writeDiskPng(
  path: string,
  width: number,
  height: number,
  disk: { x: number; y: number; radius: number; background?: number },
): void {
  const data = new Uint8Array(width * height).fill(disk.background ?? 0);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if ((x + 0.5 - disk.x) ** 2 + (y + 0.5 - disk.y) ** 2 <= disk.radius ** 2) data[y * width + x] = 255;
    }
  }
  writeFileSync(path, encode({ width, height, data, depth: 8, channels: 1 }));
}
