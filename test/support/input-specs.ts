/**
 * Model input specifications for the preprocessing tests and benchmarks: a TorchXRayVision-style
 * input (one channel, 224 x 224 from the display image, centre square, area resize, xrv scale)
 * with whatever a case changes; and the ImageNet normalization a three-channel member uses.
 */
import type { InputSpec } from '../../main/packs/manifest.js';

export function inputSpec(changes: Partial<InputSpec> = {}): InputSpec {
  return {
    name: 'input',
    channels: 1,
    height: 224,
    width: 224,
    source: 'display',
    crop: 'center-square',
    resize: 'area',
    normalization: { kind: 'xrv', range: 1024 },
    ...changes,
  };
}

export const IMAGENET_NORMALIZATION: InputSpec['normalization'] = {
  kind: 'mean-std',
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
};
