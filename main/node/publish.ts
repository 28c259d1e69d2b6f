/**
 * What the node returns for an image, and how it knows its own: the report stage's SR and
 * Secondary Capture written into the results folder; the loop guard recognises an instance this
 * product made (an SR or SC of its own that a PACS forwards back) by its SOP Instance UID in the
 * outbox, or as a secondary capture with the product's Manufacturer (another installation's, or
 * one made before this database).
 */
import { MANUFACTURER } from '../dicom/index.js';
import type { Analysis } from '../engine/index.js';
import { buildResultObjects, writeResultObjects } from '../report/index.js';
import type { ResultStore } from '../store/index.js';
import type { InstanceHeader } from './received.js';

/** A result object written for an image (its file is complete and durable). */
export interface PublishedObject {
  file: string;
  sopInstanceUID: string;
  kind: string;
  sourcePath: string;
}

export async function publishResultObjects(analysis: Analysis, dir: string): Promise<PublishedObject[]> {
  const objects = await buildResultObjects({ result: analysis.result, heatmaps: analysis.heatmaps });
  if (!objects) return [];
  const files = await writeResultObjects(dir, objects);
  const written = [objects.sr, objects.sc].filter((object) => object !== null);
  return written.map((object, index) => ({
    file: files[index],
    sopInstanceUID: object.sopInstanceUID,
    kind: object.kind,
    sourcePath: analysis.result.file,
  }));
}

export function isOwnResult(header: InstanceHeader, store: Pick<ResultStore, 'outbox'>): boolean {
  // The product's own phantoms carry its Manufacturer too, and are radiographs to triage: only
  // a derived, secondary image of this Manufacturer is a result coming back.
  if (header.manufacturer === MANUFACTURER && /\bSECONDARY\b/.test(header.imageType ?? '')) return true;
  return header.sopInstanceUID !== null && store.outbox.produced(header.sopInstanceUID);
}
