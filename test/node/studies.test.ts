import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StudyClock } from '../../main/node/index.js';

test('a study is triaged once no instance of it has arrived for the stable period', () => {
  const clock = new StudyClock(10_000);
  clock.arrived('A', '/a1', 0);
  clock.arrived('B', '/b1', 4_000);
  clock.arrived('A', '/a2', 5_000);
  assert.equal(clock.nextStableAt(), 14_000, 'B, 10 s after its only instance');
  assert.deepEqual(clock.takeStable(13_999), []);
  assert.deepEqual(clock.takeStable(14_000), [{ studyKey: 'B', paths: ['/b1'] }]);
  assert.equal(clock.nextStableAt(), 15_000, 'A waits 10 s after its latest instance, not its first');
  assert.deepEqual([clock.waitingStudies, clock.waitingInstances], [1, 2]);
  clock.arrived('A', '/a2', 6_000);
  assert.equal(clock.waitingInstances, 2, 'an instance counted once');
  assert.deepEqual(clock.takeStable(16_000), [{ studyKey: 'A', paths: ['/a1', '/a2'] }]);
  assert.equal(clock.nextStableAt(), null);
});

test('an instance arriving after its study was triaged starts the study again', () => {
  const clock = new StudyClock(1_000);
  clock.arrived('A', '/a1', 0);
  assert.equal(clock.takeStable(1_000).length, 1);
  clock.arrived('A', '/a3', 2_000);
  assert.deepEqual(clock.takeStable(3_000), [{ studyKey: 'A', paths: ['/a3'] }]);
});
