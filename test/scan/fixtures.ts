/** Test inputs for the scan tests: distinct PNGs the cam-pack calls (a bright disk: nodule) or not (grey). */
import { fileURLToPath } from 'node:url';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeDiskPng } from '../support/images.js';

export const CAM_PACK = fileURLToPath(new URL('../fixtures/models/cam-pack', import.meta.url));
export const DICOM = fileURLToPath(new URL('../fixtures/dicom/', import.meta.url));

/**
 * A radiograph-like PNG: `nodule` puts the disk the cam-pack calls (3 of 3 votes) where its
 * models look; `seed` shifts it (or, for grey images, a single bright pixel) so that every file
 * has its own content (seeds below 81 for nodules, below the width less 16 for grey images).
 */
export function writeImage(path: string, kind: 'nodule' | 'normal', seed: number, size = 256): void {
  mkdirSync(dirname(path), { recursive: true });
  const s = size / 256;
  if (kind === 'nodule')
    writeDiskPng(path, size, size, {
      x: (176 + (seed % 9)) * s,
      y: (60 + (Math.floor(seed / 9) % 9)) * s,
      radius: 24 * s,
    });
  // Grey, with one bright pixel on the top row that makes each file's content its own.
  else
    writeDiskPng(path, size, size, {
      x: 8 + (seed % (size - 16)) + 0.5,
      y: 0.5,
      radius: 0.5,
      background: 100 + (seed % 40),
    });
}

/** `count` images, alternately nodule and normal, named 000.png, 001.png ... */
export function writeImages(dir: string, count: number, size = 256): string[] {
  return Array.from({ length: count }, (_, i) => {
    const path = join(dir, `${String(i).padStart(3, '0')}.png`);
    writeImage(path, i % 2 === 0 ? 'nodule' : 'normal', i, size);
    return path;
  });
}

export function copyFixture(name: string, to: string): string {
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(join(DICOM, name), to);
  return to;
}
