/**
 * Heatmap overlays: colours computed once per heatmap cell and rows copied must give exactly the
 * pixels of the plain per-pixel rendering (kept here as the reference), and the PNG written with
 * Node's zlib must be a valid PNG to independent decoders (fast-png, netpbm's pngtopam).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { decode } from 'fast-png';
import { registerMap } from '../../main/explain/heatmap.js';
import type { Heatmap } from '../../main/explain/heatmap.js';
import { colour } from '../../main/common/index.js';
import { overlayPng } from '../../main/explain/overlay.js';
import { scratchDir, tool } from '../support/tools.js';

const scratch = scratchDir('overlay');
after(() => scratch.remove());

/** The reference: every image pixel coloured on its own. */
function referenceRgba(heatmap: Heatmap): Uint8Array {
  const { imageRows, imageColumns, scale } = heatmap;
  const rgba = new Uint8Array(imageRows * imageColumns * 4);
  for (let y = 0; y < imageRows; y++) {
    const row = Math.min(heatmap.rows - 1, Math.floor(y / scale));
    for (let x = 0; x < imageColumns; x++) {
      const value = heatmap.data[row * heatmap.columns + Math.min(heatmap.columns - 1, Math.floor(x / scale))];
      const [r, g, b] = colour(value);
      const o = (y * imageColumns + x) * 4;
      rgba.set([r, g, b, Math.round(Math.min(1, value) * 200)], o);
    }
  }
  return rgba;
}

function heatmapFor(imageRows: number, imageColumns: number, seed: number): Heatmap {
  const cells = 7;
  const data = Float32Array.from({ length: cells * cells }, (_, i) => ((i * 37 + seed * 11) % 23) / 20); // some above 1
  const side = Math.min(imageRows, imageColumns);
  const region = {
    x: Math.floor((imageColumns - side) / 2),
    y: Math.floor((imageRows - side) / 2),
    width: side,
    height: side,
  };
  return registerMap(
    { rows: cells, columns: cells, data },
    { region, inputWidth: 224, inputHeight: 224, imageRows, imageColumns },
  );
}

describe('heatmap overlays', () => {
  test('equal the per-pixel rendering, at whole and fractional cell scales', () => {
    for (const [rows, columns, seed] of [
      [300, 400, 1], // scale 1: a cell per pixel
      [987, 1234, 2], // 2.41 image pixels per cell
      [1301, 1061, 3], // 2.54 pixels per cell, odd sizes
    ] as const) {
      const heatmap = heatmapFor(rows, columns, seed);
      const png = decode(overlayPng(heatmap));
      assert.deepEqual([png.width, png.height, png.channels, png.depth], [columns, rows, 4, 8]);
      assert.ok(
        Buffer.from(png.data as Uint8Array).equals(Buffer.from(referenceRgba(heatmap))),
        `${columns} x ${rows}: pixels differ`,
      );
    }
  });

  test('the PNG reads in netpbm', () => {
    const heatmap = heatmapFor(123, 77, 4);
    const path = join(scratch.path, 'overlay.png');
    writeFileSync(path, overlayPng(heatmap));
    const pam = Buffer.from(tool('pngtopam', ['-alphapam', path]), 'latin1');
    const header = pam.subarray(0, pam.indexOf('ENDHDR\n') + 7).toString();
    assert.match(header, /WIDTH 77\nHEIGHT 123\nDEPTH 4\nMAXVAL 255\nTUPLTYPE RGB_ALPHA/);
    assert.ok(
      pam.subarray(header.length).equals(Buffer.from(referenceRgba(heatmap))),
      'netpbm decodes the reference pixels',
    );
  });
});
