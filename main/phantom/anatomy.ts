/**
 * The patient: a frontal chest in millimetres. Coordinates: u across the image (positive towards
 * the patient's left, which a frontal radiograph shows on the viewer's right), v down (towards
 * the feet); the origin is on the midline half-way between the lung apices and the diaphragm.
 * For one lung, ū = sigma * u is the lateral coordinate (sigma -1 for the right lung, +1 left).
 *
 * The model is projective: a radiograph is the line integral of attenuation, so every structure
 * is a thickness (mm of soft tissue, air or bone along the beam) whose profile is the projection
 * of a solid (sqrt(1 - r^2) for an ellipsoid or a cylinder), which gives the sharp tangent edges
 * of real radiographs.
 */
import type { Random } from './random.js';

export type Side = 'right' | 'left';
export const SIGMA: Readonly<Record<Side, -1 | 1>> = { right: -1, left: 1 };

/** |t|^2.5 without Math.pow: the lung outline is evaluated for every lung pixel. */
export function pow25(t: number): number {
  const a = Math.abs(t);
  return a * a * Math.sqrt(a);
}

export interface Lung {
  side: Side;
  sigma: -1 | 1;
  /** Centre of the superellipse (lateral ū, v) and its four radii. */
  cu: number;
  cv: number;
  lateral: number;
  /** The lateral radius at the apex level is `lateral * (1 - lateralTaper)`: lungs widen downwards. */
  lateralTaper: number;
  /** Medial radius in the upper lung (beside the upper mediastinum) and low down (behind the heart, near the spine). */
  medial: number;
  medialLow: number;
  /** v range (relative to cv) over which the medial radius goes from `medial` to `medialLow`. */
  medialBlend: [number, number];
  top: number;
  bottom: number;
  /** Air thickness along the beam at the centre of the lung, mm. */
  airDepth: number;
  /** Hemidiaphragm: v = dome.v + dome.k * (ū - dome.u)^2. */
  dome: { u: number; v: number; k: number };
}

/** A bone drawn along a polynomial curve v = c0 + c1 ū + c2 ū^2 + c3 ū^3 for ū in [from, to]. */
export interface BoneCurve {
  sigma: -1 | 1;
  from: number;
  to: number;
  c: [number, number, number, number];
  /** Half-width at `from` and at `to`, mm. */
  halfWidth: [number, number];
  /** Bone-equivalent thickness at the centre of the band, mm. */
  bone: number;
  /** Fraction of the half-width that is marrow (less dense than the cortex). */
  marrow: number;
  /** Length over which the bone fades out at `from` (costal cartilage, anterior ribs), mm. */
  fadeFrom: number;
  fadeTo: number;
}

export interface Ellipse {
  u: number;
  v: number;
  /** Semi-axes and the angle of the first one from the u axis, radians. */
  a: number;
  b: number;
  angle: number;
}

export interface Heart extends Ellipse {
  /** Fraction of the lung air in front of and behind the heart that it displaces at its centre. */
  displaces: number;
}

export interface VesselSegment {
  /** Patient coordinates (u, v) of both ends, mm, and the radius at the start and the end. */
  u0: number;
  v0: number;
  u1: number;
  v1: number;
  r0: number;
  r1: number;
}

export interface Anatomy {
  sex: 'M' | 'F';
  /** Age in years. */
  age: number;
  view: 'PA' | 'AP';
  /** Overall scale of the patient (1 = average adult). */
  size: number;
  /** Inspiration: 1 = a good full breath (about 10 posterior ribs above the diaphragm). */
  inspiration: number;
  body: {
    halfWidth: number;
    depth: number;
    shoulderHalfWidth: number;
    neckHalfWidth: number;
    shoulderV: number;
    axillaV: number;
  };
  lungs: { right: Lung; left: Lung };
  /** Heart shape before its width is set by the cardiothoracic ratio. */
  heartShape: { tilt: number; ratio: number; rightFraction: number; dropBelowDome: number; displaces: number };
  heart: Heart;
  /** Width of the cardiac silhouette over the internal thoracic width. */
  ctr: number;
  /** Internal thoracic width (between the inner rib margins at the widest), mm. */
  thoracicWidth: number;
  aorticKnob: Ellipse;
  /** The great vessels and the cardiac waist: joins the heart to the upper mediastinum. */
  greatVessels: Ellipse;
  mediastinumShift: number;
  trachea: { u: number; halfWidth: number; topV: number; carinaV: number; bronchi: VesselSegment[] };
  hila: Record<Side, { u: number; v: number }>;
  spine: { u: number; halfWidth: number; bone: number; period: number; phase: number };
  ribs: BoneCurve[];
  clavicles: BoneCurve[];
  scapulae: { sigma: -1 | 1; borderU: number; topV: number; bottomV: number; slope: number; bone: number }[];
  humeralHeads: (Ellipse & { bone: number })[];
  breasts: (Ellipse & { thickness: number })[];
  nipples: (Ellipse & { thickness: number })[];
  gastricBubble: (Ellipse & { thickness: number }) | null;
  vessels: VesselSegment[];
  /** Relative amplitude of the parenchymal texture (multiplies the lung air). */
  texture: number;
  /** Soft-tissue mm per mm of vessel diameter (vessel contrast). */
  vesselDensity: number;
  marker: { sigma: -1 | 1 } | null;
}

/** v of a hemidiaphragm at lateral coordinate ū. */
export function diaphragmV(lung: Lung, ubar: number): number {
  const d = ubar - lung.dome.u;
  return lung.dome.v + lung.dome.k * d * d;
}

/** v of the diaphragm across the whole width (each side's dome continued to the midline). */
export function diaphragmAt(anatomy: Anatomy, u: number): number {
  return u < 0 ? diaphragmV(anatomy.lungs.right, -u) : diaphragmV(anatomy.lungs.left, u);
}

/** The medial radius at height y = v - cv. */
export function medialRadius(lung: Lung, y: number): number {
  const [y0, y1] = lung.medialBlend;
  if (y <= y0) return lung.medial;
  if (y >= y1) return lung.medialLow;
  const t = (y - y0) / (y1 - y0);
  return lung.medial + (lung.medialLow - lung.medial) * t * t * (3 - 2 * t);
}

/** The lateral radius at height y = v - cv: narrower at the apex, widest at the base. */
export function lateralRadius(lung: Lung, y: number): number {
  const t = (y + lung.top) / (lung.top + lung.top * 1.2);
  if (t >= 1) return lung.lateral;
  if (t <= 0) return lung.lateral * (1 - lung.lateralTaper);
  return lung.lateral * (1 - lung.lateralTaper * (1 - t * t * (3 - 2 * t)));
}

/** Superellipse measure R (below 1 inside the outline) at lateral ū, v. */
export function lungMeasure(lung: Lung, ubar: number, v: number): number {
  const x = ubar - lung.cu;
  const y = v - lung.cv;
  const yt = y / (y < 0 ? lung.top : lung.bottom);
  return pow25(x / (x > 0 ? lateralRadius(lung, y) : medialRadius(lung, y))) + (y < 0 ? yt * yt : pow25(yt));
}

/** Distance (mm) from a point inside the lung outline to the outline along the ray from its centre. */
export function distanceToOutline(lung: Lung, ubar: number, v: number): number {
  const R = lungMeasure(lung, ubar, v);
  const rho = R ** (1 / 2.5);
  const x = ubar - lung.cu;
  const y = v - lung.cv;
  const r = Math.sqrt(x * x + y * y);
  if (rho <= 1e-6) return Infinity;
  return r * (1 / rho - 1);
}

/** Lateral ū of the lung's outer edge at its widest (the base). */
export function lateralEdge(lung: Lung): number {
  return lung.cu + lung.lateral;
}

/** Lateral ū of the lung's innermost medial point (low down, near the spine). */
export function medialEdge(lung: Lung): number {
  return lung.cu - Math.max(lung.medial, lung.medialLow);
}

export function apexV(lung: Lung): number {
  return lung.cv - lung.top;
}

/** The costophrenic angle: where the hemidiaphragm meets the lateral outline. */
export function costophrenicAngle(lung: Lung): { u: number; v: number } {
  // Walk from the lateral edge inwards until the diaphragm point is inside the outline.
  const edge = lateralEdge(lung);
  for (let ubar = edge; ubar > lung.cu; ubar -= 0.25) {
    const v = diaphragmV(lung, ubar);
    if (lungMeasure(lung, ubar, v - 0.01) < 1) return { u: ubar, v };
  }
  return { u: lung.cu, v: diaphragmV(lung, lung.cu) };
}

/** Horizontal and vertical half-extents of a rotated ellipse. */
export function ellipseExtent(e: { a: number; b: number; angle: number }): { x: number; y: number } {
  const c = Math.cos(e.angle);
  const s = Math.sin(e.angle);
  return { x: Math.sqrt(e.a * e.a * c * c + e.b * e.b * s * s), y: Math.sqrt(e.a * e.a * s * s + e.b * e.b * c * c) };
}

/** Normalised radius squared of a point in a rotated ellipse (below 1 inside). */
export function ellipseR2(e: Ellipse, u: number, v: number): number {
  const du = u - e.u;
  const dv = v - e.v;
  const c = Math.cos(e.angle);
  const s = Math.sin(e.angle);
  const p = (du * c + dv * s) / e.a;
  const q = (-du * s + dv * c) / e.b;
  return p * p + q * q;
}

/**
 * Builds the heart for a cardiothoracic ratio: its horizontal extent is ctr times the internal
 * thoracic width, a third or so of it right of the midline, its lower part hidden under the left
 * hemidiaphragm, its widest point above it (so the ratio can be measured on the image).
 */
export function buildHeart(anatomy: Anatomy, ctr: number): Heart {
  const { tilt, ratio, rightFraction, dropBelowDome, displaces } = anatomy.heartShape;
  const width = ctr * anatomy.thoracicWidth;
  const c = Math.cos(tilt);
  const s = Math.sin(tilt);
  const a = width / 2 / Math.sqrt(c * c + ratio * ratio * s * s);
  const b = a * ratio;
  const extent = ellipseExtent({ a, b, angle: tilt });
  const u = -rightFraction * width + width / 2 + anatomy.mediastinumShift;
  const left = anatomy.lungs.left;
  let v = left.dome.v + dropBelowDome * extent.y - extent.y;
  // The left heart border's widest point lies (a^2 - b^2) sin cos / x below the centre; keep it
  // at least 8 mm above the hemidiaphragm under it.
  const widestDrop = ((a * a - b * b) * s * c) / extent.x;
  const limit = diaphragmV(left, u + extent.x) - 8;
  if (v + widestDrop > limit) v = limit - widestDrop;
  return { u, v, a, b, angle: tilt, displaces };
}

function curveThrough(
  sigma: -1 | 1,
  from: number,
  to: number,
  c: [number, number, number, number],
  rest: Omit<BoneCurve, 'sigma' | 'from' | 'to' | 'c'>,
): BoneCurve {
  return { sigma, from, to, c, ...rest };
}

/** A vessel tree from a hilum: dichotomous branching with shrinking length and calibre. */
function growVessels(
  rng: Random,
  out: VesselSegment[],
  sigma: -1 | 1,
  u: number,
  v: number,
  angle: number,
  length: number,
  radius: number,
  depth: number,
): void {
  // angle is measured in the (ū, v) plane: 0 points laterally, +pi/2 down.
  const u1 = u + sigma * Math.cos(angle) * length;
  const v1 = v + Math.sin(angle) * length;
  const r1 = radius * 0.82;
  out.push({ u0: u, v0: v, u1, v1, r0: radius, r1 });
  if (depth === 0) return;
  const spread = rng.uniform(0.25, 0.55);
  const bias = rng.normal(0, 0.12);
  const shrink = rng.uniform(0.72, 0.85);
  growVessels(rng, out, sigma, u1, v1, angle - spread + bias, length * shrink, r1 * rng.uniform(0.68, 0.8), depth - 1);
  growVessels(
    rng,
    out,
    sigma,
    u1,
    v1,
    angle + spread + bias,
    length * shrink * rng.uniform(0.8, 1.0),
    r1 * rng.uniform(0.62, 0.76),
    depth - 1,
  );
}

/** Draws a patient. `sex`, `age` and `size` come from the study (the same person in every image of a study). */
export function sampleAnatomy(
  rng: Random,
  person: { sex: 'M' | 'F'; age: number; size: number },
  view: 'PA' | 'AP',
): Anatomy {
  const { sex, age } = person;
  const size = person.size * (sex === 'F' ? 0.95 : 1);
  const inspiration = view === 'AP' ? rng.uniform(0.82, 1.0) : rng.truncatedNormal(0.98, 0.05, 0.86, 1.1);

  const W = 140 * size * rng.uniform(0.95, 1.05); // inner rib margin, mm from the midline
  const H = 255 * size * inspiration * rng.uniform(0.94, 1.06); // apex to dome
  const apex = -H / 2;
  const domeRight = H / 2 - 8;
  const domeLeft = domeRight + rng.uniform(6, 22);
  const depth = 205 * size * rng.uniform(0.88, 1.15);
  const airDepth = depth * rng.uniform(0.58, 0.68);

  const lung = (side: Side, domeV: number, medialEdge: number, lateralEdgeAt: number): Lung => {
    const top = H * rng.uniform(0.42, 0.5);
    const cu = (lateralEdgeAt + medialEdge) / 2 + rng.uniform(-4, 4);
    const lowEdge = rng.uniform(9, 16) * size;
    const domeU = cu + rng.uniform(-0.05, 0.12) * W;
    const cpDepth = rng.uniform(16, 34) * size;
    return {
      side,
      sigma: SIGMA[side],
      cu,
      cv: apex + top,
      lateral: lateralEdgeAt - cu,
      lateralTaper: rng.uniform(0.1, 0.22),
      medial: cu - medialEdge,
      medialLow: cu - lowEdge,
      medialBlend: [H * rng.uniform(-0.1, 0.02), H * rng.uniform(0.2, 0.3)],
      top,
      bottom: H * 1.25,
      airDepth: airDepth * rng.uniform(0.95, 1.05),
      dome: { u: domeU, v: domeV, k: cpDepth / (lateralEdgeAt - domeU) ** 2 },
    };
  };
  const right = lung('right', domeRight, rng.uniform(20, 30) * size, W * rng.uniform(0.97, 1.03));
  const left = lung('left', domeLeft, rng.uniform(24, 34) * size, W * rng.uniform(0.97, 1.03));
  const thoracicWidth = lateralEdge(right) + lateralEdge(left);

  const bodyHalfWidth = W + rng.uniform(12, 45) * size;
  const shoulderV = apex - rng.uniform(10, 35);
  const body = {
    halfWidth: bodyHalfWidth,
    depth,
    shoulderHalfWidth: Math.max(bodyHalfWidth + 10, W + rng.uniform(45, 75) * size),
    neckHalfWidth: rng.uniform(45, 60) * size,
    shoulderV,
    axillaV: apex + rng.uniform(60, 90) * size,
  };

  const mediastinumShift = rng.normal(0, 2.5);
  const heartShape = {
    tilt: rng.uniform(0.45, 0.75),
    ratio: rng.uniform(0.7, 0.86),
    rightFraction: rng.uniform(0.27, 0.37),
    dropBelowDome: rng.uniform(0.12, 0.32),
    displaces: rng.uniform(0.84, 0.95),
  };

  const carinaV = apex + H * rng.uniform(0.3, 0.36);
  const tracheaU = mediastinumShift + rng.normal(0, 2);
  const trachea = {
    u: tracheaU,
    halfWidth: rng.uniform(7, 10) * size,
    topV: apex - 120,
    carinaV,
    bronchi: [
      // Right main bronchus: shorter and steeper; left: longer and more horizontal.
      { u0: tracheaU, v0: carinaV, u1: tracheaU - 22 * size, v1: carinaV + 28 * size, r0: 7 * size, r1: 5.5 * size },
      { u0: tracheaU, v0: carinaV, u1: tracheaU + 40 * size, v1: carinaV + 30 * size, r0: 6.5 * size, r1: 5 * size },
    ],
  };
  const hila: Record<Side, { u: number; v: number }> = {
    right: { u: -rng.uniform(48, 62) * size, v: apex + H * rng.uniform(0.44, 0.5) },
    left: { u: rng.uniform(50, 64) * size, v: apex + H * rng.uniform(0.38, 0.45) },
  };

  const aorticKnob: Ellipse = {
    u: left.cu - left.medial + rng.uniform(2, 10) + mediastinumShift,
    v: apex + H * rng.uniform(0.22, 0.3),
    a: rng.uniform(14, 20) * size,
    b: rng.uniform(12, 17) * size,
    angle: 0,
  };

  const greatVessels: Ellipse = {
    u: mediastinumShift + rng.uniform(-2, 8),
    v: apex + H * rng.uniform(0.42, 0.5),
    a: rng.uniform(26, 34) * size,
    b: H * rng.uniform(0.3, 0.38),
    angle: rng.normal(0, 0.06),
  };

  const spine = {
    u: rng.normal(0, 3), // axial rotation moves the spinous processes off the midline
    halfWidth: rng.uniform(19, 24) * size,
    bone: rng.uniform(3, 5),
    period: rng.uniform(24, 29) * size * inspiration ** 0.3,
    phase: rng.next(),
  };

  // Ribs: posterior (denser, arching up then down from the spine) and anterior (fainter, running
  // down and medially from the lateral wall to the costal cartilage).
  const ribs: BoneCurve[] = [];
  const ribCount = 12;
  const firstRibV = apex + rng.uniform(-4, 6);
  const ribBone = rng.uniform(3.2, 4.8);
  for (const sigma of [-1, 1] as const) {
    const lungSide = sigma < 0 ? right : left;
    const wall = lateralEdge(lungSide) + 10;
    let v0 = firstRibV + rng.normal(0, 2);
    for (let k = 0; k < ribCount; k++) {
      const spacing = (16 + 1.1 * k) * size * inspiration * rng.uniform(0.95, 1.05);
      const from = 16 * size;
      const L = wall - from;
      const a1 = 0.26 + rng.normal(0, 0.025);
      const a2 = 0.62 + 0.035 * k + rng.normal(0, 0.04);
      // v = v0 + L(-a1 s + a2 s^2), s = (ū - from) / L, as a polynomial in ū.
      const c2 = a2 / L;
      const c1 = -a1 - 2 * a2 * (from / L);
      const c0 = v0 + a1 * from + (a2 * from * from) / L;
      const h0 = (3.8 + 0.12 * k) * size;
      ribs.push(
        curveThrough(sigma, from, wall, [c0, c1, c2, 0], {
          halfWidth: [h0, h0 * 1.45],
          bone: ribBone,
          marrow: 0.72,
          fadeFrom: 6,
          fadeTo: 14,
        }),
      );
      if (k < 9) {
        // The anterior arc starts where the posterior one reaches the wall and runs medially down.
        const vWall = v0 + L * (-a1 + a2);
        const end = Math.max(20, (0.12 + 0.055 * k) * W);
        const slope = 0.42 + 0.04 * k + rng.normal(0, 0.04);
        const bend = rng.uniform(0.0008, 0.0018);
        // v = vWall + slope (wall - ū) + bend (wall - ū)^2
        const d2 = bend;
        const d1 = -slope - 2 * bend * wall;
        const d0 = vWall + slope * wall + bend * wall * wall;
        const h = (5.5 + 0.15 * k) * size;
        ribs.push(
          curveThrough(sigma, end, wall, [d0, d1, d2, 0], {
            halfWidth: [h * 1.1, h],
            bone: ribBone * rng.uniform(0.42, 0.58),
            marrow: 0.78,
            fadeFrom: 28,
            fadeTo: 14,
          }),
        );
      }
      v0 += spacing;
    }
  }

  // Clavicles: S-shaped, from the sternal end near the midline up and out to the acromion.
  const clavicles: BoneCurve[] = [];
  const clavicleV = apex + rng.uniform(6, 28) * (view === 'AP' ? 0.6 : 1);
  for (const sigma of [-1, 1] as const) {
    const from = rng.uniform(10, 18) * size + sigma * spine.u * 0.8;
    const to = (sigma < 0 ? lateralEdge(right) : lateralEdge(left)) + rng.uniform(12, 30);
    const rise = (view === 'AP' ? rng.uniform(0, 14) : rng.uniform(14, 36)) * size;
    const L = to - from;
    const wiggle = rng.uniform(3, 7);
    // v(s) = clavicleV - rise s + wiggle sin(2 pi s) approximated by a cubic: wiggle * 2.6 (s - 3s^2 + 2s^3).
    const k1 = -rise + wiggle * 2.6;
    const k2 = -3 * wiggle * 2.6;
    const k3 = 2 * wiggle * 2.6;
    // Expand in ū with s = (ū - from)/L.
    const a = 1 / L;
    const b = -from / L;
    const c0 = clavicleV + k1 * b + k2 * b * b + k3 * b * b * b;
    const c1 = k1 * a + 2 * k2 * a * b + 3 * k3 * a * b * b;
    const c2 = k2 * a * a + 3 * k3 * a * a * b;
    const c3 = k3 * a * a * a;
    const h = rng.uniform(6, 8.5) * size;
    clavicles.push(
      curveThrough(sigma, from, to, [c0, c1, c2, c3], {
        halfWidth: [h * 1.15, h],
        bone: rng.uniform(6, 8.5),
        marrow: 0.65,
        fadeFrom: 2,
        fadeTo: 8,
      }),
    );
  }

  const scapulae = ([-1, 1] as const).map((sigma) => {
    const lungSide = sigma < 0 ? right : left;
    const border = lateralEdge(lungSide) - (view === 'AP' ? rng.uniform(25, 55) : rng.uniform(-8, 10));
    return {
      sigma,
      borderU: border,
      topV: apex + rng.uniform(0, 20),
      bottomV: apex + H * rng.uniform(0.55, 0.7),
      slope: rng.uniform(0.05, 0.2),
      bone: rng.uniform(1.5, 2.6),
    };
  });
  const humeralHeads = ([-1, 1] as const).map((sigma) => ({
    u: sigma * (body.shoulderHalfWidth - rng.uniform(18, 30)),
    v: shoulderV + rng.uniform(15, 35),
    a: rng.uniform(22, 28) * size,
    b: rng.uniform(22, 28) * size,
    angle: 0,
    bone: rng.uniform(7, 11),
  }));

  const breasts: Anatomy['breasts'] = [];
  const nipples: Anatomy['nipples'] = [];
  if (sex === 'F' ? rng.chance(0.85) : rng.chance(0.1)) {
    const thickness = (sex === 'F' ? rng.uniform(25, 65) : rng.uniform(10, 25)) * size;
    const a = W * rng.uniform(0.4, 0.55);
    const b = rng.uniform(55, 85) * size;
    const vCentre = (domeRight + domeLeft) / 2 - rng.uniform(10, 40);
    for (const sigma of [-1, 1] as const) {
      const lungSide = sigma < 0 ? right : left;
      breasts.push({
        u: sigma * (lungSide.cu + rng.uniform(0, 20)),
        v: vCentre + rng.normal(0, 4),
        a,
        b,
        angle: 0,
        thickness,
      });
    }
  }
  if (rng.chance(0.25)) {
    const v = (domeRight + domeLeft) / 2 - rng.uniform(25, 60);
    const bothSides = rng.chance(0.6);
    const one = rng.sign();
    for (const sigma of [-1, 1] as const) {
      if (!bothSides && sigma !== one) continue;
      const lungSide = sigma < 0 ? right : left;
      const r = rng.uniform(3.5, 6);
      nipples.push({
        u: sigma * (lungSide.cu + rng.uniform(0, 25)),
        v: v + rng.normal(0, 5),
        a: r,
        b: r * rng.uniform(0.8, 1),
        angle: 0,
        thickness: rng.uniform(4, 9),
      });
    }
  }
  const gastricBubble = rng.chance(0.7)
    ? {
        u: left.dome.u + rng.uniform(-15, 20),
        v: domeLeft + rng.uniform(16, 30),
        a: rng.uniform(12, 26),
        b: rng.uniform(8, 16),
        angle: rng.normal(0, 0.2),
        thickness: rng.uniform(8, 28),
      }
    : null;

  const vessels: VesselSegment[] = [];
  for (const side of ['right', 'left'] as const) {
    const sigma = SIGMA[side];
    const hilum = hila[side];
    const ubarHilum = sigma * hilum.u;
    // Root directions in the (ū, v) plane: upper lobe (up and out), lateral, lower (down and out), basal (down).
    const roots = [-1.75, -1.05, -0.35, 0.35, 0.95, 1.35];
    for (const root of roots) {
      const angle = root + rng.normal(0, 0.12);
      const length = rng.uniform(26, 36) * size;
      growVessels(
        rng,
        vessels,
        sigma,
        sigma * (ubarHilum + rng.normal(0, 3)),
        hilum.v + rng.normal(0, 4),
        angle,
        length,
        rng.uniform(3.2, 4.6) * size,
        5,
      );
    }
  }

  const anatomy: Anatomy = {
    sex,
    age,
    view,
    size,
    inspiration,
    body,
    lungs: { right, left },
    heartShape,
    heart: { u: 0, v: 0, a: 1, b: 1, angle: 0, displaces: 0 },
    ctr: 0,
    thoracicWidth,
    aorticKnob,
    greatVessels,
    mediastinumShift,
    trachea,
    hila,
    spine,
    ribs,
    clavicles,
    scapulae,
    humeralHeads,
    breasts,
    nipples,
    gastricBubble,
    vessels,
    texture: rng.uniform(0.03, 0.07),
    vesselDensity: rng.uniform(1.0, 1.5),
    marker: rng.chance(0.55) ? { sigma: rng.sign() } : null,
  };
  return anatomy;
}

/** Evaluates a bone curve's v at ū. */
export function curveV(curve: BoneCurve, ubar: number): number {
  const [c0, c1, c2, c3] = curve.c;
  return c0 + ubar * (c1 + ubar * (c2 + ubar * c3));
}
