/**
 * A deterministic, chest-radiograph-like 12-bit image for the decode benchmark: collimator borders,
 * direct exposure, torso, lungs with a top-to-bottom gradient, ribs, clavicles, spine with
 * vertebrae, heart, diaphragm domes, fine vessel texture, a burned-in marker and signal-dependent
 * noise. Smooth structures plus noise give lossless compression ratios like real DX images (about
 * 2.5-3.5), where a flat or purely synthetic pattern would flatter every codec.
 */
import { mulberry32 } from '../../main/phantom/index.js';

/** 0 below edge0, 1 above edge1, smooth in between. */
function smoothstep(edge0: number, edge1: number, x: number): number {
  const t = Math.min(1, Math.max(0, (x - edge0) / (edge1 - edge0)));
  return t * t * (3 - 2 * t);
}

/** 1 inside the ellipse, 0 outside, with a soft edge of relative width `soft`. */
function ellipse(u: number, v: number, cu: number, cv: number, ru: number, rv: number, soft: number): number {
  const du = (u - cu) / ru;
  const dv = (v - cv) / rv;
  const r = Math.sqrt(du * du + dv * dv);
  return 1 - smoothstep(1 - soft, 1 + soft, r);
}

/** Raised-cosine band profile: 1 at the centre of a band of half-width `half`, 0 outside. */
function band(distance: number, half: number): number {
  const d = Math.abs(distance);
  return d >= half ? 0 : 0.5 + 0.5 * Math.cos((Math.PI * d) / half);
}

export interface SyntheticImage {
  rows: number;
  columns: number;
  bitsStored: number;
  values: Uint16Array;
}

export function syntheticChest(rows: number, columns: number, seed = 20240601): SyntheticImage {
  const random = mulberry32(seed);
  const values = new Uint16Array(rows * columns);
  const max = 4095;
  const border = Math.round(Math.min(rows, columns) * 0.03); // collimator shutter
  let spare: number | null = null;
  const gaussian = (): number => {
    if (spare !== null) {
      const value = spare;
      spare = null;
      return value;
    }
    const r = Math.sqrt(-2 * Math.log(1 - random()));
    const theta = 2 * Math.PI * random();
    spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  };

  for (let y = 0; y < rows; y++) {
    const v = y / rows;
    for (let x = 0; x < columns; x++) {
      const u = x / columns;
      let value: number;
      if (x < border || y < border || x >= columns - border || y >= rows - border) {
        value = 3900 - 40 * v; // shutter: nearly white, a faint gradient
      } else {
        const side = u < 0.5 ? -1 : 1;
        const du = Math.abs(u - 0.5);
        // Direct exposure (dark), then the torso (soft tissue), widening downwards.
        const torsoHalf = 0.36 + 0.08 * smoothstep(0, 0.6, v);
        const torso = (1 - smoothstep(torsoHalf - 0.03, torsoHalf + 0.01, du)) * smoothstep(0.0, 0.08, v);
        value = 180 + 60 * u + torso * 1500;
        // Shoulders and neck.
        value += 350 * ellipse(u, v, 0.5, 0.02, 0.12, 0.12, 0.3);
        // Lungs: dark, darker at the apex, with a soft edge.
        const lung = ellipse(du, v, 0.19, 0.44, 0.14, 0.33, 0.12);
        value -= lung * (800 + 250 * (1 - v));
        // Vessel texture in the lungs: smooth, branching-looking interference.
        const texture =
          Math.sin(x * 0.021 + 3 * Math.sin(y * 0.004)) * Math.sin(y * 0.017 + 2 * Math.sin(x * 0.005)) +
          0.6 * Math.sin((x + y) * 0.043) * Math.sin((x - y) * 0.031);
        value += lung * 70 * texture * (0.6 + 0.8 * (1 - du / 0.35));
        // Ribs: curved bands, ten a side, posterior ribs falling towards the side.
        const ribBase = 0.14 + 0.9 * (du - 0.05) * (du - 0.05);
        const ribPhase = (v - ribBase) / 0.058;
        if (ribPhase > 0 && ribPhase < 10 && du > 0.04 && du < 0.37) {
          const fraction = ribPhase - Math.floor(ribPhase);
          const rib = band(fraction - 0.5, 0.32);
          const cortex = band(fraction - 0.5 - 0.28, 0.05) + band(fraction - 0.5 + 0.28, 0.05);
          value += (220 * rib + 120 * cortex) * torso;
        }
        // Clavicles.
        const clavicle = v - (0.16 - 0.18 * (du - 0.05) + 0.25 * (du - 0.15) * (du - 0.15));
        if (du > 0.03 && du < 0.3) value += 380 * band(clavicle, 0.018) * torso;
        // Mediastinum and spine, with vertebral bodies and disc spaces.
        value += 520 * (1 - smoothstep(0.04, 0.09, du)) * torso;
        const vertebra = 0.5 + 0.5 * Math.cos((2 * Math.PI * v) / 0.045);
        value += (260 + 90 * vertebra) * (1 - smoothstep(0.025, 0.04, du)) * torso;
        // Heart, to the patient's left (image right).
        value += 620 * ellipse(u, v, 0.56 + 0.02 * side, 0.63, 0.14, 0.15, 0.15) * torso;
        // Diaphragm domes and the abdomen below them.
        const dome = 0.74 + 0.05 * (side > 0 ? 1 : 0.7) * ((du - 0.2) / 0.18) ** 2;
        value += 950 * smoothstep(dome - 0.01, dome + 0.02, v) * torso;
        // Heel effect: a gentle left-to-right exposure gradient.
        value *= 0.97 + 0.06 * u;
        // Burned-in laterality marker: a bright square.
        if (x > columns * 0.08 && x < columns * 0.08 + 60 && y > rows * 0.08 && y < rows * 0.08 + 80) value = max;
      }
      // Quantum plus electronic noise.
      value += gaussian() * (4 + 0.003 * value);
      values[y * columns + x] = Math.max(0, Math.min(max, Math.round(value)));
    }
  }
  return { rows, columns, bitsStored: 12, values };
}

/** Binary PGM (P5, 16-bit big endian) of the image, for tools that read netpbm. */
export function toPgm(image: SyntheticImage): Uint8Array {
  const header = new TextEncoder().encode(`P5\n${image.columns} ${image.rows}\n${2 ** image.bitsStored - 1}\n`);
  const out = new Uint8Array(header.length + image.values.length * 2);
  out.set(header, 0);
  for (let i = 0, o = header.length; i < image.values.length; i++, o += 2) {
    out[o] = image.values[i] >> 8;
    out[o + 1] = image.values[i] & 0xff;
  }
  return out;
}

/** The samples as little-endian 16-bit words, the layout of Explicit VR Little Endian Pixel Data. */
export function toLittleEndian(image: SyntheticImage): Uint8Array {
  const out = new Uint8Array(image.values.length * 2);
  for (let i = 0; i < image.values.length; i++) {
    out[2 * i] = image.values[i] & 0xff;
    out[2 * i + 1] = image.values[i] >> 8;
  }
  return out;
}
