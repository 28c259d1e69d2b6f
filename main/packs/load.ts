/**
 * Loading a model pack from disk: every file validated against the pack format, every ONNX file's
 * SHA-256 checked against its manifest, every label's PadChest term checked against the taxonomy.
 * A pack that fails any check is refused whole: a radiologist must never see findings from a
 * model whose file or metadata is not the one that was validated.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { z } from 'zod';
import type { Tree } from '../common/index.js';
import { TriageError, describeIssues } from '../errors/index.js';
import {
  ENSEMBLE_FILE,
  EnsembleManifestSchema,
  GateModelManifestSchema,
  MANIFEST_FILE,
  MemberManifestSchema,
} from './manifest.js';
import type { EnsembleManifest, GateModelManifest, ImageGate, MemberManifest } from './manifest.js';

export interface Member {
  manifest: MemberManifest;
  /** The member's folder. */
  dir: string;
  onnxPath: string;
}

/** A pack's gate model (an autoencoder of its training distribution). */
export interface GateModel {
  manifest: GateModelManifest;
  dir: string;
  onnxPath: string;
}

export interface ModelPack {
  dir: string;
  ensemble: EnsembleManifest;
  members: Member[];
  /** The image-based gate the pack declares (null: none), with its model when a check needs one. */
  gate: { spec: ImageGate; model: GateModel | null } | null;
}

/** Checks a label's term exists in the PadChest taxonomy; supplied by the taxonomy stage. */
export type TermCheck = (term: string, tree: Tree) => boolean;

async function readJson<S extends z.ZodType>(path: string, schema: S, what: string): Promise<z.infer<S>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new TriageError('INVALID_PACK', `${what} ${path} is missing or unreadable.`, { file: path });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new TriageError('INVALID_PACK', `${what} ${path} is not valid JSON (${(error as Error).message}).`, {
      file: path,
    });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw new TriageError('INVALID_PACK', `${what} ${path} is invalid: ${describeIssues(parsed.error)}.`, {
      file: path,
    });
  }
  return parsed.data;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The ONNX file a manifest names, present and with the SHA-256 the manifest records. */
async function checkedOnnx(dir: string, manifestPath: string, onnx: { file: string; sha256: string }): Promise<string> {
  const onnxPath = join(dir, onnx.file);
  try {
    await stat(onnxPath);
  } catch {
    throw new TriageError(
      'INVALID_PACK',
      `The ONNX file ${onnxPath} named by ${manifestPath} (onnx.file) is missing.`,
      { file: onnxPath },
    );
  }
  const actual = await sha256File(onnxPath);
  if (actual !== onnx.sha256) {
    throw new TriageError(
      'HASH_MISMATCH',
      `${onnxPath} has SHA-256 ${actual} but its manifest (onnx.sha256) records ${onnx.sha256}: the model file was changed or damaged; reinstall the pack.`,
      { file: onnxPath },
    );
  }
  return onnxPath;
}

export async function loadGateModel(dir: string): Promise<GateModel> {
  const manifestPath = join(dir, MANIFEST_FILE);
  const manifest = await readJson(manifestPath, GateModelManifestSchema, 'Gate model manifest');
  return { manifest, dir, onnxPath: await checkedOnnx(dir, manifestPath, manifest.onnx) };
}

export async function loadMember(dir: string, checkTerm?: TermCheck): Promise<Member> {
  const manifestPath = join(dir, MANIFEST_FILE);
  const manifest = await readJson(manifestPath, MemberManifestSchema, 'Model manifest');
  const onnxPath = await checkedOnnx(dir, manifestPath, manifest.onnx);
  if (checkTerm) {
    manifest.labels.forEach((label, index) => {
      if (!checkTerm(label.term, label.tree)) {
        throw new TriageError(
          'INVALID_PACK',
          `${manifestPath} labels[${index}].term: "${label.term}" is not a PadChest ${label.tree} term.`,
          { file: manifestPath },
        );
      }
    });
  }
  return { manifest, dir, onnxPath };
}

export async function loadPack(dir: string, checkTerm?: TermCheck): Promise<ModelPack> {
  const packDir = resolve(dir);
  const ensemblePath = join(packDir, ENSEMBLE_FILE);
  try {
    await stat(ensemblePath);
  } catch {
    throw new TriageError(
      'PACK_NOT_FOUND',
      `No model pack at ${packDir}: ${ENSEMBLE_FILE} is missing. Point --models at a pack folder.`,
      {
        file: packDir,
      },
    );
  }
  const ensemble = await readJson(ensemblePath, EnsembleManifestSchema, 'Ensemble file');
  const members = await Promise.all(ensemble.members.map((member) => loadMember(join(packDir, member), checkTerm)));
  members.forEach((member, index) => {
    if (member.manifest.id !== ensemble.members[index]) {
      throw new TriageError(
        'INVALID_PACK',
        `${ensemblePath} members[${index}] is "${ensemble.members[index]}" but that folder's manifest id is "${member.manifest.id}".`,
        { file: ensemblePath },
      );
    }
  });
  return { dir: packDir, ensemble, members, gate: await loadGate(packDir, ensemblePath, ensemble, members) };
}

/**
 * SHA-256 of what decides a pack's image-based gate: each check's kind, metric, model and accepted
 * range, and the gate model's ONNX hash (not how the ranges were chosen, which changes nothing an
 * image meets). Null for a pack without a gate.
 */
export function gateFingerprint(pack: Pick<ModelPack, 'gate'>): string | null {
  if (!pack.gate) return null;
  const checks = pack.gate.spec.checks.map((check) => ({
    kind: check.kind,
    metric: 'metric' in check ? check.metric : null,
    model: 'model' in check ? check.model : null,
    accepted: check.accepted,
  }));
  const canonical = JSON.stringify({ checks, model: pack.gate.model?.manifest.onnx.sha256 ?? null });
  return createHash('sha256').update(canonical).digest('hex');
}

async function loadGate(
  packDir: string,
  ensemblePath: string,
  ensemble: EnsembleManifest,
  members: Member[],
): Promise<ModelPack['gate']> {
  if (!ensemble.gate) return null;
  const checks = ensemble.gate.checks.flatMap((check) =>
    check.kind === 'reconstruction' || check.kind === 'feature-distance' ? [check] : [],
  );
  if (checks.length === 0) return { spec: ensemble.gate, model: null };
  const name = checks[0].model;
  const refuse = (why: string) => {
    throw new TriageError('INVALID_PACK', `${ensemblePath} gate: ${why}`, { file: ensemblePath });
  };
  if (ensemble.members.includes(name)) refuse(`the gate model "${name}" is also a member; give it its own folder.`);
  const model = await loadGateModel(join(packDir, name));
  if (model.manifest.id !== name)
    refuse(`it names the model "${name}" but that folder's manifest id is "${model.manifest.id}".`);
  const basedOn = model.manifest.basedOn;
  if (basedOn) {
    const member = members.find((m) => m.manifest.id === basedOn.member);
    if (!member)
      refuse(`the gate model "${name}" was made from the member "${basedOn.member}", which the pack does not have.`);
    else if (member.manifest.onnx.sha256 !== basedOn.sha256) {
      refuse(
        `the gate model "${name}" was made from ${basedOn.member} with SHA-256 ${basedOn.sha256}, but that member's ONNX file is now ${member.manifest.onnx.sha256}: fit the gate again (models/training/train_gate.py) or reinstall the pack.`,
      );
    }
  }
  const { channels, normalization } = model.manifest.input;
  if (checks.some((check) => check.kind === 'reconstruction') && (channels !== 1 || normalization.kind !== 'xrv')) {
    refuse(
      `a reconstruction check compares one-channel images on TorchXRayVision's scale; "${name}" reads ${channels} channel(s) with ${normalization.kind} normalisation.`,
    );
  }
  for (const check of checks) {
    const output = check.kind === 'reconstruction' ? 'reconstruction' : 'distance';
    if (!model.manifest.outputs[output])
      refuse(`a ${check.kind} check needs the gate model's ${output} output, which "${name}" lacks.`);
  }
  return { spec: ensemble.gate, model };
}
