/**
 * A DICOM peer as the command line names it, `AET@HOST:PORT`, checked before any connection.
 */
import { TriageError } from '../errors/index.js';
import { isValidAeTitle } from './sop-classes.js';

export interface DicomPeer {
  aeTitle: string;
  host: string;
  port: number;
}

export function parsePeer(text: string): DicomPeer {
  const match = /^([^@]+)@(\[[0-9a-fA-F:.]+\]|[^:@\s]+):(\d{1,5})$/.exec(text.trim());
  const port = match ? Number(match[3]) : NaN;
  if (!match || !isValidAeTitle(match[1]) || port < 1 || port > 65535) {
    throw new TriageError(
      'USAGE',
      `"${text}" is not a DICOM peer: write AET@HOST:PORT, for example PACS@10.0.0.5:104 (AE title up to 16 characters, port 1 to 65535).`,
    );
  }
  return { aeTitle: match[1], host: match[2].replace(/^\[|\]$/g, ''), port };
}

export function peerName(peer: DicomPeer): string {
  return `${peer.aeTitle}@${peer.host.includes(':') ? `[${peer.host}]` : peer.host}:${peer.port}`;
}
