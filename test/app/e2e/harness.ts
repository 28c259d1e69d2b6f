/**
 * The desktop app without Electron (whose binary cannot be downloaded here): the built renderer in
 * Debian's Chromium, served by the app's own asset server (main/app/shell/protocol.ts serveAsset:
 * the same files, MIME types and CSP as app://triage/), with `window.triage` bridged to the real
 * API backend (engine, pack, store) in the test process through the same validated dispatch.
 *
 * The bridge's transport is Playwright's exposeBinding, which carries JSON only, so ArrayBuffers
 * (pixels, heatmaps) travel base64-encoded and are rebuilt in the page; what the renderer sees is
 * exactly what the preload gives it in Electron: ArrayBuffers, "CODE: message" errors, events.
 */
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import type { Backend } from '../../../main/app/api/backend.js';
import { APP_ORIGIN } from '../../../main/app/shell/origin.js';
import { serveAsset } from '../../../main/app/shell/protocol.js';
import { requireChromium } from '../../support/reference-tools.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** Builds the renderer into `out` (its own folder: no other test's build is touched). */
export function buildRenderer(out: string): void {
  execFileSync(process.execPath, ['renderer/build.mjs', '--out', out], { cwd: root, stdio: 'inherit' });
}

/** An HTTP server on 127.0.0.1 answering every request as the app:// protocol handler would. */
export async function serveRenderer(rendererRoot: string): Promise<{ origin: string; close(): Promise<void> }> {
  const server = createServer((request, response) => {
    void (async () => {
      const answer = await serveAsset(
        { url: `${APP_ORIGIN}${request.url ?? '/'}`, method: request.method ?? 'GET' },
        rendererRoot,
      );
      const headers: Record<string, string> = {};
      answer.headers.forEach((value, key) => (headers[key] = value));
      response.writeHead(answer.status, headers);
      response.end(Buffer.from(await answer.arrayBuffer()));
    })().catch((error: Error) => {
      response.writeHead(500);
      response.end(error.message);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Debian's Chromium (or CHROMIUM_PATH's), kept off the network (the background-networking flags). */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: requireChromium(),
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/** ArrayBuffers as {__bytes: base64}, recursively (JSON transport). */
export function encodeBinary(value: unknown): unknown {
  if (value instanceof ArrayBuffer) return { __bytes: Buffer.from(value).toString('base64') };
  if (Array.isArray(value)) return value.map(encodeBinary);
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encodeBinary(v)]));
  return value;
}

/**
 * Installs `window.triage` in every document the page loads (reloads included). `dropFolder` is
 * where dropped files "are": pathForFile(file) answers dropFolder/<file name>, as Electron's
 * webUtils.getPathForFile answers a dropped file's real path.
 */
export async function bridgeApi(page: Page, backend: Backend, dropFolder: string): Promise<void> {
  await page.exposeBinding('__triageInvoke', async (_source, channel: unknown, request: unknown) =>
    encodeBinary(await backend.invoke(String(channel), request)),
  );
  const script = readFileSync(new URL('./bridge-page.js', import.meta.url), 'utf8').replace(
    '= __TRIAGE_DROP_FOLDER__;',
    `= ${JSON.stringify(dropFolder)};`,
  );
  await page.addInitScript({ content: script });
}

/** Forwards backend events to the page (a page in the middle of a reload misses them, as a window would). */
export function pageEmitter(getPage: () => Page | null) {
  return (event: string, payload: unknown) => {
    const page = getPage();
    if (!page || page.isClosed()) return;
    page
      .evaluate(
        ([name, data]) =>
          (globalThis as unknown as { __triageEmit?: (e: string, p: unknown) => void }).__triageEmit?.(
            name as string,
            data,
          ),
        [event, encodeBinary(payload)] as const,
      )
      .catch(() => undefined);
  };
}
