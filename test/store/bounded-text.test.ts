/**
 * What the store keeps of texts a file can make long: reasons, error messages and feedback notes
 * are cut to STORED_TEXT_MAX code units ending in an ellipsis, so an attribute value echoed into
 * a reason cannot grow every worklist answer. Checked on a real store, read back as the worklist,
 * the whole result and the feedback log.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ResultStore } from '../../main/store/index.js';
import { boundedText, STORED_TEXT_MAX } from '../../main/store/writes.js';
import { scratchDir } from '../support/tools.js';
import { result } from './results.js';

const scratch = scratchDir('store-bounded');
after(() => scratch.remove());

describe('bounded stored texts', () => {
  test('short texts are kept as they are; longer ones end in an ellipsis at the bound', () => {
    assert.equal(boundedText('lateral view'), 'lateral view');
    const exact = 'x'.repeat(STORED_TEXT_MAX);
    assert.equal(boundedText(exact), exact);
    const cut = boundedText('y'.repeat(STORED_TEXT_MAX + 1));
    assert.equal(cut.length, STORED_TEXT_MAX);
    assert.equal(cut, `${'y'.repeat(STORED_TEXT_MAX - 1)}…`);
  });

  test('a cut never leaves half of a character that takes two code units', () => {
    // '𝐱' is a surrogate pair (two code units): the cut at STORED_TEXT_MAX - 1 falls inside one.
    const text = '𝐱'.repeat(STORED_TEXT_MAX);
    const cut = boundedText(text);
    assert.ok(cut.length <= STORED_TEXT_MAX);
    assert.ok(cut.endsWith('𝐱…'), 'whole characters, then the ellipsis');
    assert.doesNotMatch(cut, /[\ud800-\udbff](?![\udc00-\udfff])/, 'no lone high surrogate');
    assert.equal(Buffer.from(cut, 'utf8').toString('utf8'), cut, 'valid UTF-16 round-trips through UTF-8');
  });

  test('a 100 KB echoed attribute in a reason or an error message is stored bounded', () => {
    const store = ResultStore.open(join(scratch.path, 'results.sqlite'));
    try {
      const echoed = `body part ${'CHEST'.repeat(20_000)} is not the chest`;
      assert.ok(echoed.length > 100_000);
      const rejected = store.recordResult({
        result: result('/data/rejected.dcm', { status: 'rejected', reason: echoed, findings: [] }),
        file: { path: '/data/rejected.dcm', sha256: '1'.repeat(64), size: 100_000 },
        format: 'dicom',
        priority: 'needs review',
        rulesFingerprint: 'rules',
        scanId: null,
      });
      const broken = store.recordResult({
        result: result('/data/broken.dcm', {
          status: 'error',
          error: { code: 'INVALID_ATTRIBUTE', message: echoed },
          findings: [],
        }),
        file: { path: '/data/broken.dcm', sha256: '2'.repeat(64), size: 100_000 },
        format: 'dicom',
        priority: 'needs review',
        rulesFingerprint: 'rules',
        scanId: null,
      });
      const reason = store.result(rejected)!.reason!;
      assert.equal(reason.length, STORED_TEXT_MAX);
      assert.ok(reason.startsWith('body part CHESTCHEST') && reason.endsWith('…'));
      const message = store.result(broken)!.error!.message;
      assert.equal(message.length, STORED_TEXT_MAX);
      assert.ok(message.endsWith('…'));
      assert.equal(store.result(broken)!.error!.code, 'INVALID_ATTRIBUTE', 'the code is kept');
      // What every worklist answer carries stays small.
      const worklist = JSON.stringify(store.worklist());
      assert.ok(worklist.length < 4 * STORED_TEXT_MAX, `worklist JSON ${worklist.length} characters`);

      const okId = store.recordResult({
        result: result('/data/ok.dcm', { positives: ['nodule'] }),
        file: { path: '/data/ok.dcm', sha256: '3'.repeat(64), size: 10 },
        format: 'dicom',
        priority: 'urgent',
        rulesFingerprint: 'rules',
        scanId: null,
      });
      assert.ok(okId > 0);
      store.addFeedback({ file: '/data/ok.dcm', term: 'nodule', tree: 'finding', verdict: 'agree', note: echoed });
      const [entry] = store.feedbackFor('/data/ok.dcm');
      assert.equal(entry.note?.length, STORED_TEXT_MAX);
    } finally {
      store.close();
    }
  });
});
