/** Command-line argument errors, coded like every other error. */
import { TriageError } from '../errors/index.js';

export function usage(message: string): never {
  throw new TriageError('USAGE', message);
}

export function positiveInteger(text: string, flag: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) usage(`${flag} takes a positive whole number, not "${text}".`);
  return value;
}
