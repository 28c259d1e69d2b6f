import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { guardPduLengths, SpoolWriter } from '../../main/dimse/index.js';
import { scratchDir } from '../support/tools.js';
import { EventEmitter } from 'node:events';

const scratch = scratchDir('spool');
after(() => scratch.remove());

test('the spool file is the prefix and every chunk in order, fsynced, once the stream ends', async () => {
  const writer = new SpoolWriter(scratch.path, new Uint8Array([1, 2, 3]), 1 << 20, () => assert.fail('no late write'));
  for (let i = 0; i < 100; i++) writer.write(Buffer.alloc(1000, i));
  writer.end();
  const outcome = await writer.outcome();
  assert.equal(outcome.failure, null);
  assert.equal(outcome.bytes, 100_000);
  const bytes = readFileSync(outcome.path!);
  assert.deepEqual([...bytes.subarray(0, 3)], [1, 2, 3]);
  for (let i = 0; i < 100; i++) assert.equal(bytes[3 + i * 1000 + 999], i);
});

test('beyond its budget an instance is dropped, not held, and its file removed', async () => {
  const writer = new SpoolWriter(scratch.path, new Uint8Array(0), 5_000, () => assert.fail('no late write'));
  for (let i = 0; i < 10; i++) writer.write(Buffer.alloc(1000));
  writer.end();
  const outcome = await writer.outcome();
  assert.deepEqual([outcome.path, outcome.failure, outcome.bytes], [null, 'too-large', 10_000]);
  assert.equal(existsSync(writer.path), false);
});

test("a peer's data after the instance ended is reported, never an unhandled error", async () => {
  let late = 0;
  const writer = new SpoolWriter(scratch.path, new Uint8Array(0), 1 << 20, () => late++);
  writer.write(Buffer.alloc(10));
  writer.end();
  await writer.outcome();
  writer.write(Buffer.alloc(10)); // as dcmjs-dimse does when a peer pipelines its next command
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(late, 1);
});

test('a PDU longer than the node accepts closes the connection before it is gathered', () => {
  const socket = new EventEmitter() as EventEmitter & { off: EventEmitter['off'] };
  let refused = 0;
  guardPduLengths(socket as never, () => refused++);
  const pdu = (type: number, length: number) => {
    const header = Buffer.alloc(6);
    header[0] = type;
    header.writeUInt32BE(length, 2);
    return header;
  };
  // An association request of 200 bytes, then a P-DATA of 256 KiB in pieces: accepted.
  socket.emit('data', Buffer.concat([pdu(0x01, 200), Buffer.alloc(200)]));
  socket.emit('data', pdu(0x04, 256 * 1024).subarray(0, 3));
  socket.emit('data', Buffer.concat([pdu(0x04, 256 * 1024).subarray(3), Buffer.alloc(1000)]));
  socket.emit('data', Buffer.alloc(256 * 1024 - 1000));
  assert.equal(refused, 0);
  // An association request claiming 4 GiB: refused at its header.
  socket.emit('data', pdu(0x01, 0xfffffff0));
  assert.equal(refused, 1);
});
