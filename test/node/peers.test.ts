import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  chooseTransferSyntax,
  isValidAeTitle,
  isValidUid,
  parsePeer,
  peerName,
  stowEndpoint,
} from '../../main/dimse/index.js';

test('AET@HOST:PORT is parsed, and anything else refused as a usage error', () => {
  assert.deepEqual(parsePeer('PACS@10.0.0.5:104'), { aeTitle: 'PACS', host: '10.0.0.5', port: 104 });
  assert.deepEqual(parsePeer('ORTHANC@[::1]:4242'), { aeTitle: 'ORTHANC', host: '::1', port: 4242 });
  assert.equal(peerName(parsePeer('ORTHANC@[::1]:4242')), 'ORTHANC@[::1]:4242');
  for (const bad of [
    'PACS@host',
    'PACS:104',
    '@host:104',
    'A_TITLE_LONGER_THAN_16@h:1',
    'PACS@h:0',
    'PACS@h:65536',
    'BACK\\SLASH@h:1',
  ]) {
    assert.throws(
      () => parsePeer(bad),
      (error: { code?: string }) => error.code === 'USAGE',
      bad,
    );
  }
});

test('AE titles and UIDs as PS3.5 allows them', () => {
  assert.ok(isValidAeTitle('TRIAGE'));
  assert.ok(!isValidAeTitle(''));
  assert.ok(!isValidAeTitle('    '));
  assert.ok(!isValidAeTitle('A'.repeat(17)));
  assert.ok(isValidUid('1.2.840.10008.5.1.4.1.1.1'));
  assert.ok(isValidUid('2.25.0'));
  for (const bad of ['', '1..2', '1.02', '1.2.', 'a.b', '1'.repeat(65), '../etc/passwd'])
    assert.ok(!isValidUid(bad), bad);
});

test("the peer's first proposed syntax the ingest decodes is accepted (no transcoding)", () => {
  assert.equal(chooseTransferSyntax(['1.2.840.10008.1.2.4.70', '1.2.840.10008.1.2.1']), '1.2.840.10008.1.2.4.70');
  assert.equal(chooseTransferSyntax(['1.2.840.10008.1.2.4.100', '1.2.840.10008.1.2']), '1.2.840.10008.1.2');
  assert.equal(chooseTransferSyntax(['1.2.840.10008.1.2.4.100']), null, 'MPEG-2 is not decoded: refused');
});

test('the STOW-RS endpoint is the DICOMweb root plus /studies', () => {
  assert.equal(stowEndpoint('http://127.0.0.1:8042/dicom-web/'), 'http://127.0.0.1:8042/dicom-web/studies');
  assert.throws(() => stowEndpoint('ftp://pacs/dicom-web'));
});
