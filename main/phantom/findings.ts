/**
 * Finding parameters, drawn for every finding whether or not it is present (each from its own
 * stream), so that switching one finding on or off changes nothing else about a phantom. Sizes,
 * densities and positions come from skewed distributions: most findings are small or faint and
 * some are close to invisible, as in real practice.
 */
import {
  costophrenicAngle,
  diaphragmV,
  distanceToOutline,
  lateralEdge,
  lungMeasure,
  medialEdge,
  SIGMA,
} from './anatomy.js';
import type { Anatomy, Lung, Side, VesselSegment } from './anatomy.js';
import { Random } from './random.js';
import type { PhantomTerm } from './terms.js';

export interface Lesion {
  side: Side;
  /** Centre in patient coordinates, mm. */
  u: number;
  v: number;
  radius: number;
  /** Fraction of the lung in the lesion's path that it turns to soft tissue (0 to 1). */
  density: number;
  /** Radius modulation: sum of amp * cos(freq * angle + phase). */
  lobes: { amp: number; freq: number; phase: number }[];
  /** Width of the soft margin, mm. */
  margin: number;
  /** Solid (every mass, three nodules in four) or subsolid: fainter, with a wide soft margin. */
  solid: boolean;
}

export interface EffusionParams {
  sides: Side[];
  /** Height of the fluid above the costophrenic angle at the lateral wall, mm. */
  height: Record<Side, number>;
  density: number;
  /** Depth over which the opacity grows below the fluid surface (the meniscus gradient), mm. */
  ramp: number;
  /** How far the surface falls from the lateral wall to the medial edge, mm, and the curve's exponent. */
  fall: number;
  curve: number;
}

export interface PneumothoraxParams {
  side: Side;
  kind: 'apical' | 'lateral';
  /** Width of the air space at the apex, mm. */
  depth: number;
  /** How far down the lateral wall it reaches, mm below the apex. */
  extent: number;
  line: { halfWidth: number; density: number };
  /** Extra lucency of the air space (fraction of the lung air added). */
  lucency: number;
  /** Fraction of air the partly collapsed lung loses. */
  collapse: number;
}

export interface ConsolidationParams {
  side: Side;
  zone: 'upper' | 'middle' | 'lower';
  u: number;
  v: number;
  extent: number;
  blobs: { u: number; v: number; sigma: number; weight: number }[];
  density: number;
  /** Lattice seed of the patchy texture. */
  patchSeed: number;
  bronchi: VesselSegment[];
}

export interface AtelectasisParams {
  side: Side;
  kind: 'plate' | 'lower lobe' | 'upper lobe' | 'middle lobe';
  density: number;
  /** Plate atelectasis: a tapered band. */
  band: { u: number; v: number; length: number; halfThickness: number; angle: number } | null;
  /** Lobar atelectasis: a wedge (triangle), with the soft margin of each edge (edge i from vertex i to i+1). */
  wedge: { vertices: [number, number][]; margins: number[] } | null;
  /** Volume loss: elevation of the hemidiaphragm and shift of the mediastinum towards the side, mm. */
  diaphragmRise: number;
  mediastinalShift: number;
}

/**
 * How nodules are drawn: 'standard' (the generator's original appearance, the default) or
 * 'visible', nodules as conspicuous as a radiologist sees them (visibleNodules, and a weaker
 * coarse texture octave in the renderer).
 */
export type NoduleAppearance = 'standard' | 'visible';
export const NODULE_APPEARANCES: readonly NoduleAppearance[] = ['standard', 'visible'];

/** Density floors of visible nodules: solid ones and subsolid (part-solid, ground-glass) ones. */
export const VISIBLE_SOLID_FLOOR = 0.85;
export const VISIBLE_SUBSOLID_FLOOR = 0.45;

/**
 * Nodules with a density floor: a solid nodule of 5 mm or more replaces the whole path of aerated
 * lung it occupies with soft tissue, so its density lies between VISIBLE_SOLID_FLOOR and 1; a
 * subsolid one between VISIBLE_SUBSOLID_FLOOR and the solid floor. The drawn density keeps its
 * rank within its range; size, shape, margin and position are unchanged.
 */
export function visibleNodules(lesions: readonly Lesion[]): Lesion[] {
  return lesions.map((lesion) => {
    const [low, high] = lesion.solid ? SOLID_DENSITY : SUBSOLID_DENSITY;
    const [floor, top] = lesion.solid ? [VISIBLE_SOLID_FLOOR, 1] : [VISIBLE_SUBSOLID_FLOOR, VISIBLE_SOLID_FLOOR];
    const t = Math.min(1, Math.max(0, (lesion.density - low) / (high - low)));
    return { ...lesion, density: floor + (top - floor) * t };
  });
}

export interface FindingParams {
  cardiomegaly: { ctrNormal: number; ctrEnlarged: number };
  'pleural effusion': EffusionParams;
  pneumothorax: PneumothoraxParams;
  nodule: { lesions: Lesion[] };
  mass: { lesions: Lesion[] };
  consolidation: ConsolidationParams;
  atelectasis: AtelectasisParams;
}

/** A random point inside a lung, at least `inset` mm from its outline and `above` mm above its diaphragm. */
function pointInLung(
  rng: Random,
  lung: Lung,
  inset: number,
  above: number,
  region?: (ubar: number, v: number) => boolean,
): { ubar: number; v: number } {
  const lowU = medialEdge(lung);
  const highU = lateralEdge(lung);
  const topV = lung.cv - lung.top;
  const bottomV = lung.dome.v + 40;
  let fallback = { ubar: lung.cu, v: lung.cv };
  for (let attempt = 0; attempt < 400; attempt++) {
    const ubar = rng.uniform(lowU, highU);
    const v = rng.uniform(topV, bottomV);
    if (lungMeasure(lung, ubar, v) >= 1) continue;
    if (v > diaphragmV(lung, ubar) - above) continue;
    if (distanceToOutline(lung, ubar, v) < inset) continue;
    fallback = { ubar, v };
    if (region && !region(ubar, v)) continue;
    return { ubar, v };
  }
  return fallback;
}

function lobes(rng: Random, amplitude: number): Lesion['lobes'] {
  return [0, 1, 2].map(() => ({
    amp: rng.uniform(0, amplitude),
    freq: rng.int(2, 7),
    phase: rng.uniform(0, 2 * Math.PI),
  }));
}

/** The nodules' drawn densities, solid and subsolid. */
const SOLID_DENSITY: [number, number] = [0.28, 0.95];
const SUBSOLID_DENSITY: [number, number] = [0.12, 0.35];

function sampleLesion(rng: Random, anatomy: Anatomy, kind: 'nodule' | 'mass'): Lesion {
  const side: Side = rng.chance(0.52) ? 'right' : 'left';
  const lung = anatomy.lungs[side];
  const radius = kind === 'nodule' ? rng.skewed(5, 28, 1.7) / 2 : rng.skewed(32, 78, 1.4) / 2;
  const solid = kind === 'mass' || rng.chance(0.75);
  const density =
    kind === 'mass'
      ? rng.uniform(0.3, 0.95)
      : solid
        ? rng.uniform(SOLID_DENSITY[0], SOLID_DENSITY[1])
        : rng.uniform(SUBSOLID_DENSITY[0], SUBSOLID_DENSITY[1]);
  // Perihilar masses are common; nodules anywhere in the lung.
  const nearHilum = kind === 'mass' && rng.chance(0.3);
  const hilum = anatomy.hila[side];
  const point = pointInLung(
    rng,
    lung,
    radius * (kind === 'mass' ? 0.35 : 0.6) + 2,
    radius * 0.6 + 22,
    nearHilum ? (ubar, v) => Math.hypot(ubar - SIGMA[side] * hilum.u - 25, v - hilum.v) < 45 : undefined,
  );
  return {
    side,
    u: SIGMA[side] * point.ubar,
    v: point.v,
    radius,
    density,
    lobes: lobes(rng, kind === 'mass' ? 0.16 : solid ? 0.08 : 0.12),
    margin: solid ? rng.uniform(0.6, 1.8) + (kind === 'mass' ? rng.uniform(0, 4) : 0) : radius * rng.uniform(0.25, 0.5),
    solid,
  };
}

function sampleEffusion(rng: Random): EffusionParams {
  const which = rng.weighted([
    ['right', 0.4],
    ['left', 0.35],
    ['both', 0.25],
  ] as const);
  const sides: Side[] = which === 'both' ? ['right', 'left'] : [which];
  const height = { right: rng.skewed(6, 100, 2.3), left: rng.skewed(6, 100, 2.3) };
  const ramp = Math.min(rng.uniform(8, 24), 0.5 * Math.min(height.right, height.left) + 5);
  return {
    sides,
    height,
    density: rng.uniform(0.55, 1.0),
    ramp,
    fall: rng.uniform(8, 30),
    curve: rng.uniform(1.3, 2.3),
  };
}

function samplePneumothorax(rng: Random): PneumothoraxParams {
  const kind = rng.chance(0.65) ? 'apical' : 'lateral';
  const depth = rng.skewed(3, kind === 'apical' ? 26 : 38, 1.5);
  return {
    side: rng.chance(0.5) ? 'right' : 'left',
    kind,
    depth,
    extent: kind === 'apical' ? rng.uniform(35, 110) : rng.uniform(120, 260),
    line: { halfWidth: rng.uniform(0.4, 0.9), density: rng.uniform(2, 6) },
    lucency: rng.uniform(0.06, 0.2),
    collapse: rng.uniform(0.02, 0.2) * Math.min(1, depth / 25),
  };
}

function sampleConsolidation(rng: Random, anatomy: Anatomy): ConsolidationParams {
  const zone = rng.weighted([
    ['right lower', 0.28],
    ['left lower', 0.24],
    ['right middle', 0.14],
    ['right upper', 0.17],
    ['left upper', 0.17],
  ] as const);
  const side: Side = zone.startsWith('right') ? 'right' : 'left';
  const lung = anatomy.lungs[side];
  const sigma = SIGMA[side];
  const extent = rng.skewed(16, 65, 1.4);
  const apex = lung.cv - lung.top;
  const medial = lung.cu - lung.medial;
  const point = pointInLung(rng, lung, Math.min(12, extent * 0.3), 6, (ubar, v) => {
    if (zone.endsWith('lower')) return v > diaphragmV(lung, ubar) - 70;
    if (zone.endsWith('middle'))
      return ubar < medial + 55 && v > anatomy.hila.right.v + 10 && v > diaphragmV(lung, ubar) - 70;
    return v < apex + 100;
  });
  const blobCount = rng.int(4, 10);
  const blobs = Array.from({ length: blobCount }, () => ({
    u: sigma * point.ubar + rng.normal(0, extent * 0.4),
    v: point.v + rng.normal(0, extent * 0.35),
    sigma: extent * rng.uniform(0.25, 0.5),
    weight: rng.uniform(0.6, 1.2),
  }));
  // Air bronchograms: bronchi running away from the hilum through the opacity.
  const hilum = anatomy.hila[side];
  const away = Math.atan2(point.v - hilum.v, sigma * point.ubar - hilum.u);
  const bronchi: VesselSegment[] = [];
  const count = rng.int(1, 4);
  for (let i = 0; i < count; i++) {
    const angle = away + rng.normal(0, 0.35);
    const length = rng.uniform(0.5, 1.1) * extent;
    const start = {
      u: sigma * point.ubar - Math.cos(angle) * length * 0.5 + rng.normal(0, 4),
      v: point.v - Math.sin(angle) * length * 0.5 + rng.normal(0, 4),
    };
    const r = rng.uniform(1.0, 2.2);
    const mid = { u: start.u + Math.cos(angle) * length * 0.55, v: start.v + Math.sin(angle) * length * 0.55 };
    bronchi.push({ u0: start.u, v0: start.v, u1: mid.u, v1: mid.v, r0: r, r1: r * 0.8 });
    for (const turn of [-1, 1]) {
      const a = angle + turn * rng.uniform(0.25, 0.6);
      const l = length * rng.uniform(0.3, 0.5);
      bronchi.push({
        u0: mid.u,
        v0: mid.v,
        u1: mid.u + Math.cos(a) * l,
        v1: mid.v + Math.sin(a) * l,
        r0: r * 0.75,
        r1: r * 0.45,
      });
    }
  }
  return {
    side,
    zone: zone.endsWith('lower') ? 'lower' : zone.endsWith('middle') ? 'middle' : 'upper',
    u: sigma * point.ubar,
    v: point.v,
    extent,
    blobs,
    density: rng.skewed(0.1, 0.85, 1.3),
    patchSeed: rng.uint32(),
    bronchi,
  };
}

function sampleAtelectasis(rng: Random, anatomy: Anatomy): AtelectasisParams {
  const kind = rng.weighted([
    ['plate', 0.4],
    ['lower lobe', 0.3],
    ['upper lobe', 0.15],
    ['middle lobe', 0.15],
  ] as const);
  const side: Side = kind === 'upper lobe' || kind === 'middle lobe' ? 'right' : rng.chance(0.45) ? 'right' : 'left';
  const lung = anatomy.lungs[side];
  const sigma = SIGMA[side];
  const hilum = anatomy.hila[side];
  const hu = sigma * hilum.u; // hilum's lateral coordinate
  const medial = lung.cu - lung.medial;
  const medialLow = medialEdge(lung);
  const apex = lung.cv - lung.top;
  const at = (ubar: number, v: number): [number, number] => [sigma * ubar, v];
  if (kind === 'plate') {
    const point = pointInLung(rng, lung, 15, 14, (ubar, v) => v > diaphragmV(lung, ubar) - 75 && ubar > medial + 15);
    return {
      side,
      kind,
      // A plate is a disc seen edge-on: airless, but only part of the lung's depth deep.
      density: rng.uniform(0.5, 0.95) * rng.uniform(0.15, 0.5),
      band: {
        u: sigma * point.ubar,
        v: point.v,
        length: rng.uniform(22, 75),
        halfThickness: rng.uniform(1.2, 4.5),
        angle: rng.normal(0, 0.18) * sigma,
      },
      wedge: null,
      diaphragmRise: rng.uniform(0, 8),
      mediastinalShift: 0,
    };
  }
  let vertices: [number, number][];
  let margins: number[];
  if (kind === 'lower lobe') {
    const baseFrom = medialLow + rng.uniform(0, 12);
    const baseTo = medialLow + rng.uniform(30, 65);
    vertices = [
      at(hu + rng.uniform(-8, 8), hilum.v + rng.uniform(-5, 25)),
      at(baseFrom, diaphragmV(lung, baseFrom) + 12),
      at(baseTo, diaphragmV(lung, baseTo) + 12),
    ];
    margins = [rng.uniform(4, 10), 4, rng.uniform(1.5, 4)]; // the lateral edge is the displaced major fissure: sharp
  } else if (kind === 'upper lobe') {
    const lateral = lateralEdge(lung);
    vertices = [
      at(hu + rng.uniform(-5, 10), hilum.v + rng.uniform(-10, 5)),
      at(medial + rng.uniform(0, 10), apex - 5),
      at(lateral + 5, apex + rng.uniform(45, 95)),
    ];
    margins = [rng.uniform(6, 14), rng.uniform(4, 10), rng.uniform(0.8, 2)]; // the lower edge is the elevated minor fissure: sharp
  } else {
    const border = medialLow + rng.uniform(22, 32); // about the right heart border
    const lowV = diaphragmV(lung, border);
    vertices = [
      at(hu + rng.uniform(-5, 10), hilum.v + rng.uniform(0, 15)),
      at(border - 6, lowV + 6),
      at(border + rng.uniform(35, 60), lowV - rng.uniform(0, 20)),
    ];
    margins = [rng.uniform(6, 14), 4, rng.uniform(5, 12)]; // ill-defined, silhouetting the right heart border
  }
  return {
    side,
    kind,
    density: rng.uniform(0.35, 0.95),
    band: null,
    wedge: { vertices, margins },
    diaphragmRise: kind === 'lower lobe' ? rng.uniform(8, 28) : rng.uniform(3, 16),
    mediastinalShift: rng.uniform(1.5, 8),
  };
}

/** Draws every finding's parameters, each from its own stream of (seed, index). */
export function sampleFindings(seed: number, index: number, anatomy: Anatomy): FindingParams {
  const stream = (term: PhantomTerm): Random => new Random(seed, index, 'finding', term);
  const cardio = stream('cardiomegaly');
  const nodules = stream('nodule');
  const noduleCount = nodules.weighted([
    [1, 0.78],
    [2, 0.16],
    [3, 0.06],
  ] as const);
  const masses = stream('mass');
  return {
    cardiomegaly: {
      ctrNormal: cardio.truncatedNormal(0.45, 0.028, 0.38, 0.497),
      ctrEnlarged: cardio.skewed(0.503, 0.64, 1.7),
    },
    'pleural effusion': sampleEffusion(stream('pleural effusion')),
    pneumothorax: samplePneumothorax(stream('pneumothorax')),
    nodule: { lesions: Array.from({ length: noduleCount }, () => sampleLesion(nodules, anatomy, 'nodule')) },
    mass: { lesions: [sampleLesion(masses, anatomy, 'mass')] },
    consolidation: sampleConsolidation(stream('consolidation'), anatomy),
    atelectasis: sampleAtelectasis(stream('atelectasis'), anatomy),
  };
}

/** The effusion's fluid surface on one side: v at lateral ū (higher at the wall, the meniscus). */
export function effusionSurface(lung: Lung, params: EffusionParams, side: Side): (ubar: number) => number {
  const cp = costophrenicAngle(lung);
  const span = Math.max(1, cp.u - medialEdge(lung));
  const height = params.height[side];
  return (ubar) => {
    const t = Math.min(1, Math.max(0, (cp.u - ubar) / span));
    return cp.v - height + (height * 0.85 + params.fall) * t ** params.curve;
  };
}
