/**
 * A pack's identity for the store: the provenance every result carries (pack, models, hashes,
 * operating points) and its fingerprint, which decides whether a stored result is still valid.
 */
import { createHash } from 'node:crypto';
import type { ModelProvenance, PackRef } from '../domain/index.js';
import { gateFingerprint } from '../packs/index.js';
import type { Member, ModelPack } from '../packs/index.js';

/** What decides whether a stored result is still valid: the pack and every model's identity. */
export interface PackProvenance {
  pack: PackRef;
  models: ModelProvenance[];
  notForClinicalUse: boolean;
}

/** The provenance of a loaded pack: each member's trained labels' operating points. */
export function packProvenance(pack: ModelPack): PackProvenance {
  const operatingPoints = (member: Member) =>
    Object.fromEntries(
      member.manifest.labels
        .filter((l) => l.trained && l.operatingPoint !== null)
        .map((l) => [l.name, l.operatingPoint as number]),
    );
  return {
    pack: {
      id: pack.ensemble.id,
      version: pack.ensemble.version,
      rule: pack.ensemble.rule.kind,
      indeterminate: { ...pack.ensemble.indeterminate },
      demo: pack.ensemble.demo,
      gate: gateFingerprint(pack),
    },
    models: pack.members.map((m) => ({
      id: m.manifest.id,
      version: m.manifest.version,
      sha256: m.manifest.onnx.sha256,
      operatingPoints: operatingPoints(m),
    })),
    notForClinicalUse: pack.ensemble.demo || pack.members.some((m) => m.manifest.card.notForClinicalUse),
  };
}

/**
 * The indeterminate band of every result stored before results recorded one (schema 3's
 * migration gives their packs this band): frozen, whatever a later default becomes.
 */
export const LEGACY_INDETERMINATE_BAND = Object.freeze({ low: 0.4, high: 0.6 });

/**
 * SHA-256 of the pack's id, version, rule, indeterminate band, image-based gate (when it has one)
 * and each member's id, version, ONNX hash and operating points. The band enters only when it is not LEGACY_INDETERMINATE_BAND, so the
 * fingerprints of results stored before the band existed stay valid (they are not analysed again),
 * while a pack that changes its band has its images analysed again.
 */
export function packFingerprint(provenance: Pick<PackProvenance, 'pack' | 'models'>): string {
  const { low, high } = provenance.pack.indeterminate;
  const legacyBand = low === LEGACY_INDETERMINATE_BAND.low && high === LEGACY_INDETERMINATE_BAND.high;
  const canonical = {
    pack: {
      id: provenance.pack.id,
      version: provenance.pack.version,
      rule: provenance.pack.rule,
      ...(legacyBand ? {} : { indeterminate: { low, high } }),
      demo: provenance.pack.demo,
      // A pack without a gate keeps the fingerprint it had before gates existed.
      ...(provenance.pack.gate ? { gate: provenance.pack.gate } : {}),
    },
    models: provenance.models.map((m) => ({
      id: m.id,
      version: m.version,
      sha256: m.sha256,
      operatingPoints: Object.fromEntries(
        Object.entries(m.operatingPoints).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
      ),
    })),
  };
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}
