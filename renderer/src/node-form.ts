/**
 * The DICOM node panel's pure parts: the settings form's text to the settings the API takes (the
 * engine validates them again and answers a coded error), and the words the panel shows for the
 * node's state. No DOM here, so the tests run them in Node.
 */
import type { NodeSettingsData, NodeStateData } from '../../main/app/api/contract.js';

/** Loopback, where the node listens unless the user explicitly chooses another address. */
export const LOOPBACK = '127.0.0.1';

export interface NodeFormFields {
  aeTitle: string;
  port: string;
  /** The "accept connections from other computers" choice; unchecked means loopback. */
  network: boolean;
  host: string;
  allowed: string;
  stableSeconds: string;
  destinations: string;
  startWithApp: boolean;
}

export function fieldsOf(settings: NodeSettingsData): NodeFormFields {
  return {
    aeTitle: settings.aeTitle,
    port: String(settings.port),
    network: settings.host !== LOOPBACK,
    host: settings.host,
    allowed: settings.allowedCallingAeTitles.join(', '),
    stableSeconds: String(settings.stableSeconds),
    destinations: settings.destinations.join('\n'),
    startWithApp: settings.startWithApp,
  };
}

/** Integers as typed ("11112"); anything else NaN, which the API refuses with the field named. */
function integer(text: string): number {
  return /^\s*\d{1,6}\s*$/.test(text) ? Number(text) : NaN;
}

export function settingsOf(fields: NodeFormFields): NodeSettingsData {
  return {
    aeTitle: fields.aeTitle.trim(),
    port: integer(fields.port),
    host: fields.network ? fields.host.trim() : LOOPBACK,
    allowedCallingAeTitles: fields.allowed
      .split(/[,\n]/)
      .map((ae) => ae.trim())
      .filter((ae) => ae !== ''),
    stableSeconds: integer(fields.stableSeconds),
    destinations: fields.destinations
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== ''),
    startWithApp: fields.startWithApp,
  };
}

export function sameSettings(a: NodeSettingsData, b: NodeSettingsData): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The panel's and the status bar's one line on the node. */
export function nodeHeadline(state: NodeStateData): string {
  if (state.listening) {
    const { aeTitle, host, port } = state.listening;
    return `Listening as ${aeTitle} on ${host.includes(':') ? `[${host}]` : host}:${port}`;
  }
  return 'Stopped';
}

/** A destination as the outbox names it (`dicom:AET@HOST:PORT`, `stow:URL`), for people. */
export function destinationLabel(name: string): string {
  return name.replace(/^dicom:/, '').replace(/^stow:/, 'STOW-RS ');
}

/** The destination text in the settings whose outbox name is `name` (for Test connection). */
export function settingsDestination(settings: NodeSettingsData, name: string): string | null {
  const wanted = name.replace(/^dicom:/, '');
  return name.startsWith('dicom:') ? (settings.destinations.find((d) => d.trim() === wanted) ?? null) : null;
}

/** ISO time as the panel shows it: the time of day, with the date when it is not today. */
export function when(iso: string, now = new Date()): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  const time = at.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  return at.toDateString() === now.toDateString() ? time : `${at.toLocaleDateString()} ${time}`;
}
