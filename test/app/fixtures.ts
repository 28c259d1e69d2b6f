/**
 * What the app's tests run on: the real model pack (the bundled demonstration pack when it is in
 * the tree, else the small real CAM test pack) and a folder the user could open: the bundled chest
 * phantoms (real DX DICOMs), a lateral view the gate rejects, a truncated file, and a real
 * radiograph from ../shared, which the demonstration pack's image-based gate refuses.
 */
import { fileURLToPath } from 'node:url';
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = fileURLToPath(new URL('../../', import.meta.url));

export const PHANTOMS = join(root, 'models', 'samples', 'phantoms');
export const DICOM_FIXTURES = join(root, 'test', 'fixtures', 'dicom');
const SHARED_SAMPLES = join(root, '..', 'shared', 'data', 'cxr-samples', 'png');

/** The demonstration pack once it is in the tree; the CAM test pack until then. */
export function appPack(): string {
  const demo = join(root, 'models', 'packs', 'demo');
  return existsSync(join(demo, 'ensemble.json')) ? demo : join(root, 'test', 'fixtures', 'models', 'cam-pack');
}

export const PHANTOM_FILES = readdirSync(PHANTOMS)
  .filter((name) => name.endsWith('.dcm'))
  .sort();

/**
 * A reading folder: the phantoms, plus `views/lateral.dcm` (rejected by the metadata gate),
 * `broken/truncated.dcm` (error) and `real/radiograph.png` (a real radiograph: out of the demo
 * pack's distribution), copied from ../shared into the scratch folder only.
 */
export function makeReadingFolder(dir: string): {
  dir: string;
  phantoms: string[];
  lateral: string;
  truncated: string;
  unfamiliar: string;
} {
  mkdirSync(dir, { recursive: true });
  const phantoms = PHANTOM_FILES.map((name) => {
    copyFileSync(join(PHANTOMS, name), join(dir, name));
    return join(dir, name);
  });
  mkdirSync(join(dir, 'views'), { recursive: true });
  mkdirSync(join(dir, 'broken'), { recursive: true });
  const lateral = join(dir, 'views', 'lateral.dcm');
  const truncated = join(dir, 'broken', 'truncated.dcm');
  copyFileSync(join(DICOM_FIXTURES, 'lateral.dcm'), lateral);
  copyFileSync(join(DICOM_FIXTURES, 'truncated.dcm'), truncated);
  mkdirSync(join(dir, 'real'), { recursive: true });
  const unfamiliar = join(dir, 'real', 'radiograph.png');
  copyFileSync(
    join(
      SHARED_SAMPLES,
      readdirSync(SHARED_SAMPLES)
        .filter((f) => f.endsWith('.png'))
        .sort()[0],
    ),
    unfamiliar,
  );
  return { dir, phantoms, lateral, truncated, unfamiliar };
}
