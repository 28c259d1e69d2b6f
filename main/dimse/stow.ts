/**
 * STOW-RS (DICOMweb, PS3.18 10.5): the product's result files POSTed to `URL/studies` as one
 * multipart/related request of application/dicom parts, on Node's own fetch. The answer's HTTP
 * status decides: 200 all stored, 202 some refused (each file's fate is then unknown from the
 * status alone: the outbox treats them as not sent and tries again, the PACS deduplicates by
 * SOP Instance UID), anything else none.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';

export interface StowOutcome {
  sent: boolean;
  httpStatus: number | null;
  detail: string | null;
}

export function stowEndpoint(base: string): string {
  const url = new URL(base);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${base} is not an http(s) URL`);
  return `${url.href.replace(/\/+$/, '')}/studies`;
}

export async function stowFiles(base: string, files: readonly string[], timeoutMs = 30_000): Promise<StowOutcome> {
  let endpoint: string;
  try {
    endpoint = stowEndpoint(base);
  } catch (error) {
    return { sent: false, httpStatus: null, detail: (error as Error).message };
  }
  const boundary = `cxr-triage-${randomBytes(12).toString('hex')}`;
  const parts: Uint8Array[] = [];
  try {
    for (const file of files) {
      parts.push(Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`, 'latin1'));
      parts.push(await readFile(file));
      parts.push(Buffer.from('\r\n', 'latin1'));
    }
  } catch (error) {
    return { sent: false, httpStatus: null, detail: `not sent: ${(error as Error).message}` };
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`, 'latin1'));
  try {
    const response = await fetch(endpoint, {
      method: 'POST',
      headers: {
        'Content-Type': `multipart/related; type="application/dicom"; boundary=${boundary}`,
        Accept: 'application/dicom+json',
      },
      body: Buffer.concat(parts),
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.arrayBuffer().catch(() => undefined);
    return response.status === 200
      ? { sent: true, httpStatus: 200, detail: null }
      : { sent: false, httpStatus: response.status, detail: `STOW-RS answered HTTP ${response.status}` };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { sent: false, httpStatus: null, detail: `cannot reach ${endpoint}: ${message}` };
  }
}
