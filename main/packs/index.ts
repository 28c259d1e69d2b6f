/**
 * Model packs: the format (manifest.ts, validated with zod, errors naming the field), loading with
 * every ONNX file's SHA-256 checked (load.ts), and the bundled demonstration pack's place.
 */
export { DEFAULT_PACK } from './default.js';
export { gateFingerprint, loadGateModel, loadMember, loadPack, sha256File } from './load.js';
export type { GateModel, Member, ModelPack, TermCheck } from './load.js';
export {
  CalibrationProvenanceSchema,
  DEFAULT_INDETERMINATE_BAND,
  ENSEMBLE_FILE,
  EnsembleManifestSchema,
  GateCheckSchema,
  GateModelManifestSchema,
  ImageGateSchema,
  InputSpecSchema,
  LabelSpecSchema,
  MANIFEST_FILE,
  MemberManifestSchema,
  ModelCardSchema,
  NormalizationSchema,
  OutputSpecSchema,
  ThresholdChoiceSchema,
  VotingRuleSchema,
} from './manifest.js';
export type {
  CalibrationProvenance,
  EnsembleManifest,
  GateCheck,
  GateModelManifest,
  ImageGate,
  InputSpec,
  LabelSpec,
  MemberManifest,
  ModelCard,
  Normalization,
  OutputSpec,
  ThresholdChoice,
  VotingRule,
} from './manifest.js';
