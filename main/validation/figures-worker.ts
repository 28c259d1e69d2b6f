/** The worker thread of computeFigures (figures.ts): one evaluation, one answer. */
import { parentPort, workerData } from 'node:worker_threads';
import { toTriageError } from '../errors/index.js';
import { loadTaxonomy } from '../taxonomy/index.js';
import { evaluate } from './evaluate.js';
import type { FiguresAnswer, FiguresRequest } from './figures.js';

let answer: FiguresAnswer;
try {
  const taxonomy = await loadTaxonomy();
  answer = { ok: true, outcome: evaluate({ ...(workerData as FiguresRequest), taxonomy }) };
} catch (error) {
  const { code, message } = toTriageError(error);
  answer = { ok: false, error: { code, message } };
}
parentPort!.postMessage(answer);
