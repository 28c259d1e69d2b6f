/**
 * Running the independent tools the conformance tests compare against (dcmtk, gdcm, netpbm, ...).
 * A missing tool fails the test with the command that installs it (reference-tools.ts): a
 * comparison that silently skips proves nothing.
 */
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireProgram } from './reference-tools.js';

/** Runs a reference tool; its standard output as bytes. */
export function toolBytes(name: string, args: string[], options: { cwd?: string } = {}): Buffer {
  const path = requireProgram(name);
  return execFileSync(path, args, {
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 256 * 1024 * 1024,
  });
}

/** Runs a reference tool; its standard output as latin1 text. */
export function tool(name: string, args: string[], options: { cwd?: string } = {}): string {
  return toolBytes(name, args, options).toString('latin1');
}

/** An attribute's first value as dcmdump reads it (the independent reader), '' when absent. */
export function dicomValue(path: string, tag: string): string {
  const line = tool('dcmdump', ['-q', '+P', tag, path]);
  return /\[([^\]]*)\]/.exec(line)?.[1] ?? /=(\S+)/.exec(line)?.[1] ?? '';
}

export function scratchDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Binary PGM (P5) as netpbm writes it: the independent reference for a PNG's grey values. */
export function readPgm(path: string): { width: number; height: number; maxval: number; values: Uint16Array } {
  const bytes = readFileSync(path);
  const header: string[] = [];
  let offset = 0;
  while (header.length < 4) {
    while (/\s/.test(String.fromCharCode(bytes[offset]))) offset++;
    if (bytes[offset] === 0x23) {
      while (bytes[offset] !== 0x0a) offset++;
      continue;
    }
    let token = '';
    while (!/\s/.test(String.fromCharCode(bytes[offset]))) token += String.fromCharCode(bytes[offset++]);
    header.push(token);
  }
  offset++; // the single whitespace after maxval
  if (header[0] !== 'P5') throw new Error(`${path} is not a binary PGM`);
  const [width, height, maxval] = header.slice(1).map(Number);
  const values = new Uint16Array(width * height);
  for (let i = 0; i < values.length; i++) {
    values[i] = maxval > 255 ? (bytes[offset + 2 * i] << 8) | bytes[offset + 2 * i + 1] : bytes[offset + i];
  }
  return { width, height, maxval, values };
}

export const SHARED = fileURLToPath(new URL('../../../shared/', import.meta.url));
export const SAMPLES_DIR = join(SHARED, 'data', 'cxr-samples', 'png');

/** The real radiographs' PNG names, sorted. The tests need them: fail, naming what is missing. */
export function sampleNames(): string[] {
  if (!existsSync(SAMPLES_DIR)) {
    throw new Error(
      `${SAMPLES_DIR} is missing: the tests read the 40 real radiographs from ../shared beside the checkout (as CI provides it)`,
    );
  }
  return readdirSync(SAMPLES_DIR)
    .filter((name) => name.endsWith('.png'))
    .sort();
}
