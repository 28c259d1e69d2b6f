/** Pack loading: every manifest error names its field; a changed ONNX file is refused by hash. */
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadPack } from '../../main/packs/index.js';
import type { MemberManifest } from '../../main/packs/index.js';
import { scratchDir } from '../support/tools.js';

const CAM_PACK = fileURLToPath(new URL('../fixtures/models/cam-pack/', import.meta.url));
const scratch = scratchDir('packs');
after(() => scratch.remove());
let copies = 0;

/** A copy of the fixture pack with one member's manifest edited (Object.assign writes invalid shapes). */
function packWith(edit: (manifest: MemberManifest) => void, member = 'alpha'): string {
  const dir = join(scratch.path, `pack-${copies++}`);
  cpSync(CAM_PACK, dir, { recursive: true });
  const path = join(dir, member, 'manifest.json');
  const manifest = JSON.parse(readFileSync(path, 'utf8'));
  edit(manifest);
  writeFileSync(path, JSON.stringify(manifest));
  return dir;
}

/** A copy of the fixture pack with its ensemble.json edited. */
function ensembleWith(edit: (ensemble: Record<string, unknown>) => void): string {
  const dir = packWith(() => {});
  const path = join(dir, 'ensemble.json');
  const ensemble = JSON.parse(readFileSync(path, 'utf8'));
  edit(ensemble);
  writeFileSync(path, JSON.stringify(ensemble));
  return dir;
}

async function rejects(dir: string, code: string, message: RegExp): Promise<void> {
  await assert.rejects(loadPack(dir), (error: { code?: string; message: string }) => {
    assert.equal(error.code, code, error.message);
    assert.match(error.message, message);
    return true;
  });
}

test('the fixture pack loads with its members in order', async () => {
  const pack = await loadPack(CAM_PACK);
  assert.deepEqual(
    pack.members.map((m) => m.manifest.id),
    ['alpha', 'beta', 'gamma'],
  );
  assert.equal(pack.ensemble.rule.kind, 'majority');
});

test('manifest errors name the field', async () => {
  await rejects(
    packWith((m) => Reflect.deleteProperty(m, 'version')),
    'INVALID_PACK',
    /version/,
  );
  await rejects(
    packWith((m) => Object.assign(m.input, { height: 'tall' })),
    'INVALID_PACK',
    /input\.height/,
  );
  await rejects(
    packWith((m) => (m.labels[0].operatingPoint = 1.5)),
    'INVALID_PACK',
    /labels\[0\]\.operatingPoint/,
  );
  await rejects(
    packWith((m) => (m.labels[1].operatingPoint = null)),
    'INVALID_PACK',
    /labels\[1\]\.operatingPoint: a trained label needs an operating point/,
  );
  await rejects(
    packWith((m) => Object.assign(m.input, { normalization: { kind: 'zscore' } })),
    'INVALID_PACK',
    /input\.normalization/,
  );
  await rejects(
    packWith((m) => Object.assign(m.card, { notForClinicalUse: 'yes' })),
    'INVALID_PACK',
    /card\.notForClinicalUse/,
  );
  await rejects(
    packWith((m) => Object.assign(m, { surprise: true })),
    'INVALID_PACK',
    /surprise/,
  );
  await rejects(
    packWith((m) => (m.onnx.sha256 = 'abc')),
    'INVALID_PACK',
    /onnx\.sha256/,
  );
});

test('the indeterminate band is optional, [0.4, 0.6) by default, and must hold 0 < low <= 0.5 <= high < 1', async () => {
  assert.deepEqual((await loadPack(CAM_PACK)).ensemble.indeterminate, { low: 0.4, high: 0.6 });
  const declared = ensembleWith((e) => (e.indeterminate = { low: 0.45, high: 0.55 }));
  assert.deepEqual((await loadPack(declared)).ensemble.indeterminate, { low: 0.45, high: 0.55 });
  const none = ensembleWith((e) => (e.indeterminate = { low: 0.5, high: 0.5 }));
  assert.deepEqual((await loadPack(none)).ensemble.indeterminate, { low: 0.5, high: 0.5 }, 'an empty band: none');
  for (const [band, field] of [
    [{ low: 0, high: 0.6 }, 'low'],
    [{ low: 0.51, high: 0.6 }, 'low'],
    [{ low: 0.4, high: 0.49 }, 'high'],
    [{ low: 0.4, high: 1 }, 'high'],
    [{ low: 0.4 }, 'high'],
  ] as const) {
    await rejects(
      ensembleWith((e) => (e.indeterminate = band)),
      'INVALID_PACK',
      new RegExp(`Ensemble file .*indeterminate\\.${field}`),
    );
  }
  await rejects(
    ensembleWith((e) => (e.indeterminate = { low: 0.4, high: 0.6, width: 0.2 })),
    'INVALID_PACK',
    /indeterminate.*width/,
  );
});

test('a changed ONNX file fails its SHA-256 check', async () => {
  const dir = packWith(() => {});
  appendFileSync(join(dir, 'beta', 'model.onnx'), Buffer.from([0]));
  await rejects(dir, 'HASH_MISMATCH', /beta.*model\.onnx.*SHA-256/);
});

test('a missing ONNX file, a missing ensemble file and a member id mismatch', async () => {
  const missing = packWith(() => {});
  rmSync(join(missing, 'gamma', 'model.onnx'));
  await rejects(missing, 'INVALID_PACK', /onnx\.file.*missing|missing/);
  await rejects(scratch.path, 'PACK_NOT_FOUND', /ensemble\.json/);
  await rejects(
    packWith((m) => (m.id = 'omega')),
    'INVALID_PACK',
    /members\[0\] is "alpha" but that folder's manifest id is "omega"/,
  );
});

test('labels must map to PadChest terms when a term check is given', async () => {
  const dir = packWith((m) => (m.labels[0].term = 'nodulee'));
  await assert.rejects(
    loadPack(dir, (term) => term !== 'nodulee'),
    (error: { code?: string; message: string }) =>
      error.code === 'INVALID_PACK' && /labels\[0\]\.term: "nodulee"/.test(error.message),
  );
});
