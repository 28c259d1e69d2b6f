/**
 * Where the models looked: class activation maps and occlusion sensitivity, registered onto the
 * radiograph's pixel grid (heatmap.ts), and PNG overlays in the product's colour ramp (overlay.ts).
 */
export { HEATMAP_MAX_SIDE, meanHeatmap, normalizeMap, peak, registerMap } from './heatmap.js';
export type { Heatmap, InputMap } from './heatmap.js';
export { DEFAULT_OCCLUSION, occludedBatch, patchPositions, sensitivityMap } from './occlusion.js';
export type { OcclusionPlan } from './occlusion.js';
export { overlayPng, overlayRgba } from './overlay.js';
