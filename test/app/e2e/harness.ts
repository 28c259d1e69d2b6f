/**
 * The desktop app without Electron (whose binary cannot be downloaded here): the built renderer in
 * Debian's Chromium, served by the app's own asset server (main/app/shell/protocol.ts serveAsset:
 * the same files, MIME types and CSP as app://triage/), with `window.triage` bridged to the real
 * API backend (engine, pack, store) in the test process through the same validated dispatch.
 *
 * The bridge's transport is Playwright's exposeBinding, which carries JSON only, so ArrayBuffers
 * (pixels, heatmaps) travel base64-encoded and are rebuilt in the page; what the renderer sees is
 * exactly what the preload gives it in Electron: ArrayBuffers, "CODE: message" errors, events.
 * Requests are checked as the main process checks them (BridgeWindow): the same sender check,
 * schemas and window policy, and dropped paths granted as the preload grants them.
 */
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import type { Backend } from '../../../main/app/api/backend.js';
import { API } from '../../../main/app/api/contract.js';
import type { Envelope } from '../../../main/app/api/contract.js';
import { handleGrant, handleInvoke } from '../../../main/app/shell/ipc.js';
import type { InvokeContext, InvokeEventLike } from '../../../main/app/shell/ipc.js';
import { APP_ORIGIN, ENTRY_URL } from '../../../main/app/shell/origin.js';
import { serveAsset } from '../../../main/app/shell/protocol.js';
import { pathSemantics } from '../../../main/app/shell/reach.js';
import { WindowPolicy } from '../../../main/app/shell/window-policy.js';
import type { ChooserKind } from '../../../main/common/index.js';

export { launchChromium } from '../../support/chromium.js';

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

/** ArrayBuffers as {__bytes: base64}, recursively (JSON transport). */
export function encodeBinary(value: unknown): unknown {
  if (value instanceof ArrayBuffer) return { __bytes: Buffer.from(value).toString('base64') };
  if (Array.isArray(value)) return value.map(encodeBinary);
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encodeBinary(v)]));
  return value;
}

/** The page's "WebContents": the bridge speaks for one window, its main frame on the app origin. */
const BRIDGE_WINDOW = 1;
const FROM_THE_PAGE: InvokeEventLike = { sender: { id: BRIDGE_WINDOW }, senderFrame: { url: ENTRY_URL, parent: null } };

/**
 * The main process's side of the bridge: every invoke goes through the shell's own handleInvoke
 * (the contract's schemas, then the window's checks: what it may scan), and a dropped file's path
 * is granted through the shell's handleGrant, as the preload's message is in the app. The dialog's
 * answers are granted as install.ts grants them.
 */
export class BridgeWindow {
  readonly policy: WindowPolicy;
  private backend: Backend | null = null;
  private readonly context: InvokeContext;

  constructor() {
    this.policy = new WindowPolicy({
      semantics: pathSemantics(process.platform),
      stored: async (paths): Promise<Envelope> =>
        this.backend
          ? { ok: true, value: this.backend.stored(paths) }
          : { ok: false, error: { code: 'ENGINE_STOPPED', message: 'The bridge has no backend yet.' } },
    });
    this.context = {
      schemas: API,
      windowContentsId: () => BRIDGE_WINDOW,
      run: (channel, request) => this.backend!.invoke(channel, request),
      check: (windowId, channel, request) => this.policy.check(windowId, channel, request),
    };
  }

  /** The test's dialog answer, granted to the window as the main process grants the dialog's. */
  chooser(choose: (kind: ChooserKind) => Promise<string[]>): (kind: ChooserKind) => Promise<string[]> {
    return async (kind) => {
      const paths = await choose(kind);
      this.policy.grant(BRIDGE_WINDOW, paths);
      return paths;
    };
  }

  /** Forgets what the window was granted, as a window that closed (a new one starts with none). */
  forgetGrants(): void {
    this.policy.forget(BRIDGE_WINDOW);
  }

  /**
   * Installs `window.triage` in every document the page loads (reloads included). `dropFolder` is
   * where dropped files "are": pathForFile(file) answers dropFolder/<file name>, as Electron's
   * webUtils.getPathForFile answers a dropped file's real path, and grants it first.
   */
  async install(page: Page, backend: Backend, dropFolder: string): Promise<void> {
    this.backend = backend;
    await page.exposeBinding('__triageInvoke', async (_source, channel: unknown, request: unknown) =>
      encodeBinary(await handleInvoke(this.context, String(channel), FROM_THE_PAGE, request)),
    );
    await page.exposeBinding('__triageGrant', (_source, path: unknown) =>
      handleGrant(this.context, FROM_THE_PAGE, path, (windowId, granted) => this.policy.grant(windowId, [granted])),
    );
    const script = readFileSync(new URL('./bridge-page.js', import.meta.url), 'utf8').replace(
      '= __TRIAGE_DROP_FOLDER__;',
      `= ${JSON.stringify(dropFolder)};`,
    );
    await page.addInitScript({ content: script });
  }
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
