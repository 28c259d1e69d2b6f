import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { RETRY_BASE_MS, RETRY_MAX_MS, ResultStore, retryDelayMs } from '../../main/store/index.js';
import { scratchDir } from '../support/tools.js';

const scratch = scratchDir('outbox');
after(() => scratch.remove());

const objects = [
  { file: '/r/sr1.dcm', sopInstanceUID: '2.25.1', kind: 'sr', sourcePath: '/i/1.dcm' },
  { file: '/r/sc1.dcm', sopInstanceUID: '2.25.2', kind: 'sc', sourcePath: '/i/1.dcm' },
];

test('the outbox keeps each object once per destination, across a reopen', () => {
  const path = join(scratch.path, 'once.db');
  let store = ResultStore.open(path);
  const t0 = new Date('2026-12-07T10:00:00Z');
  assert.equal(store.outbox.enqueue('dicom:PACS@h:104', objects, t0), 2);
  assert.equal(store.outbox.enqueue('dicom:PACS@h:104', objects, t0), 0, 'the same objects again: nothing added');
  assert.equal(store.outbox.enqueue('stow:http://h/dicom-web', objects.slice(0, 1), t0), 1);
  store.close();
  store = ResultStore.open(path);
  const both = ['dicom:PACS@h:104', 'stow:http://h/dicom-web'];
  assert.deepEqual(
    store.outbox.due(both, t0).map((item) => [item.destination, item.sopInstanceUID, item.state]),
    [
      ['dicom:PACS@h:104', '2.25.1', 'pending'],
      ['dicom:PACS@h:104', '2.25.2', 'pending'],
      ['stow:http://h/dicom-web', '2.25.1', 'pending'],
    ],
  );
  // A destination no longer configured holds up nothing: only the ones asked for are due.
  assert.deepEqual(
    store.outbox.due(['stow:http://h/dicom-web'], t0).map((item) => item.destination),
    ['stow:http://h/dicom-web'],
  );
  assert.deepEqual(store.outbox.due([], t0), []);
  assert.equal(store.outbox.nextDue(['dicom:GONE@h:1']), null);
  assert.ok(store.outbox.produced('2.25.2'));
  assert.ok(!store.outbox.produced('2.25.3'));
  store.close();
});

test('a failed attempt is retried after a doubling delay, capped; a final failure stays failed until retried', () => {
  const store = ResultStore.open(join(scratch.path, 'retry.db'));
  const t0 = new Date('2026-12-07T10:00:00Z');
  store.outbox.enqueue('dicom:PACS@h:104', objects, t0);
  const pacs = ['dicom:PACS@h:104'];
  const [first, second] = store.outbox.due(pacs, t0);
  store.outbox.markFailed([first.id], 'cannot reach h:104: ECONNREFUSED', false, t0);
  store.outbox.markFailed([second.id], 'PACS answered status 0xa900', true, t0);
  assert.deepEqual(store.outbox.due(pacs, t0), [], 'nothing due right after the failure');
  assert.equal(store.outbox.nextDue(pacs)?.getTime(), t0.getTime() + RETRY_BASE_MS);
  const retry = store.outbox.due(pacs, new Date(t0.getTime() + RETRY_BASE_MS));
  assert.deepEqual(
    retry.map((item) => [item.id, item.attempts, item.lastError]),
    [[first.id, 1, 'cannot reach h:104: ECONNREFUSED']],
  );
  assert.deepEqual([1, 2, 3, 4].map(retryDelayMs), [
    RETRY_BASE_MS,
    2 * RETRY_BASE_MS,
    4 * RETRY_BASE_MS,
    8 * RETRY_BASE_MS,
  ]);
  assert.equal(retryDelayMs(40), RETRY_MAX_MS);
  store.outbox.markSent([first.id], new Date(t0.getTime() + RETRY_BASE_MS));
  assert.deepEqual(store.outbox.counts(), [
    { destination: 'dicom:PACS@h:104', pending: 0, sent: 1, failed: 1, lastError: 'PACS answered status 0xa900' },
  ]);
  assert.equal(store.outbox.retryFailed('dicom:PACS@h:104', t0), 1);
  assert.deepEqual(
    store.outbox.due(pacs, t0).map((item) => item.id),
    [second.id],
  );
  store.close();
});
