/**
 * The DICOM node panel end to end: the built renderer in Chromium, window.triage bridged to the
 * real backend (engine, pack, store) through the shell's own checks, dcmtk's storescu as the
 * modality and storescp as the PACS, a second destination that is down. The reader opens the
 * panel from the status bar, sees a bad port refused with its coded message, starts the node (on
 * 127.0.0.1: the address field stays locked), and sees the pushed phantoms counted, the
 * association, the worklist filled, the outbox sent to the PACS and pending for the peer that is
 * down with the reason, and Test connection answer both ways; then stops it. A screenshot of the
 * panel goes to test-results/screenshots/node-panel.png (and to TRIAGE_SCREENSHOTS if set).
 */
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { openBackend } from '../../../main/app/api/backend.js';
import type { Backend } from '../../../main/app/api/backend.js';
import type { NodeStateData } from '../../../main/app/api/contract.js';
import { requireProgram } from '../../support/reference-tools.js';
import { scratchDir } from '../../support/tools.js';
import { appPack, PHANTOMS } from '../fixtures.js';
import { BridgeWindow, buildRenderer, launchChromium, pageEmitter, serveRenderer } from './harness.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const SCREENSHOTS = [join(root, 'test-results', 'screenshots'), process.env.TRIAGE_SCREENSHOTS].filter(
  (dir): dir is string => typeof dir === 'string' && dir !== '',
);
const scratch = scratchDir('app-node-e2e');
const pacsFolder = join(scratch.path, 'pacs');
const PUSHED = ['phantom-00000.dcm', 'phantom-00001.dcm'].map((name) => join(PHANTOMS, name));

let backend: Backend;
const bridge = new BridgeWindow();
let browser: Browser;
let page: Page;
let server: { origin: string; close(): Promise<void> };
let pacs: ChildProcess;
let pacsPort: number;
let downPort: number;
const consoleErrors: string[] = [];

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

function storescu(port: number, files: string[]): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(
      requireProgram('storescu'),
      ['-aet', 'MOD', '-aec', 'TRIAGE', '127.0.0.1', String(port), ...files],
      { stdio: 'ignore', timeout: 60_000 },
    );
    child.on('close', resolve);
  });
}

async function nodeState(): Promise<NodeStateData> {
  const envelope = await backend.invoke('node.get', {});
  assert.ok(envelope.ok);
  return envelope.value as NodeStateData;
}

const text = (selector: string) => page.locator(selector).first().innerText();

before(async () => {
  mkdirSync(pacsFolder, { recursive: true });
  pacsPort = await freePort();
  downPort = await freePort();
  pacs = spawn(requireProgram('storescp'), ['-aet', 'PACS', '-od', pacsFolder, String(pacsPort)], { stdio: 'ignore' });
  const rendererRoot = join(scratch.path, 'renderer');
  buildRenderer(rendererRoot);
  server = await serveRenderer(rendererRoot);
  backend = await openBackend({
    packDir: appPack(),
    databasePath: join(scratch.path, 'results.sqlite'),
    provider: 'cpu',
    threads: 1,
    emit: pageEmitter(() => page ?? null),
    chooseFiles: bridge.chooser(async () => []),
  });
  browser = await launchChromium();
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, deviceScaleFactor: 1 });
  page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(error.message));
  await bridge.install(page, backend, scratch.path);
  await page.goto(`${server.origin}/index.html`);
  await page.waitForSelector('body[data-ready="true"]');
});

after(async () => {
  await browser?.close();
  await backend?.close();
  await server?.close();
  pacs?.kill();
  scratch.remove();
});

test('the status bar says the node is off; the panel opens from it, locked to loopback', async () => {
  assert.equal(await text('[data-action="node"]'), 'DICOM node: off');
  await page.click('[data-action="node"]');
  await page.waitForSelector('#node-panel[open]');
  assert.equal(await text('[data-node="headline"]'), 'Stopped');
  assert.equal(await page.inputValue('input[name="host"]'), '127.0.0.1');
  assert.equal(await page.isDisabled('input[name="host"]'), true, 'another address only by explicit choice');
  assert.equal(await page.isChecked('input[name="startWithApp"]'), false);
  assert.equal(await page.isDisabled('[data-node="stop"]'), true);
});

test('a bad port is refused with its coded message; nothing starts', async () => {
  await page.fill('input[name="aeTitle"]', 'TRIAGE');
  await page.fill('input[name="port"]', '70000');
  await page.click('[data-node="save"]');
  await page.waitForFunction(() => /port/.test(document.querySelector('[data-node="message"]')?.textContent ?? ''));
  assert.match(await text('[data-node="message"]'), /Invalid node\.configure request: .*port/);
  assert.equal((await nodeState()).running, false);
});

test('start: the node listens, receives, triages into the worklist and sends to the PACS', async () => {
  await page.fill('input[name="port"]', '0');
  await page.fill('input[name="allowed"]', 'MOD');
  await page.fill('input[name="stableSeconds"]', '1');
  await page.fill('textarea[name="destinations"]', `PACS@127.0.0.1:${pacsPort}\nDOWN@127.0.0.1:${downPort}`);
  await page.click('[data-node="start"]');
  await page.waitForSelector('#node-panel[data-running="true"]');
  const port = (await nodeState()).listening!.port;
  assert.equal(await text('[data-node="headline"]'), `Listening as TRIAGE on 127.0.0.1:${port}`);
  assert.equal(await text('[data-action="node"]'), `DICOM node: TRIAGE on 127.0.0.1:${port}`);
  assert.equal(await page.isDisabled('input[name="aeTitle"]'), true, 'settings are locked while it runs');

  assert.equal(await storescu(port, PUSHED), 0);
  await page.waitForFunction(
    () => document.querySelector('[data-count="instances"] strong')?.textContent === '2',
    undefined,
    { timeout: 60_000 },
  );
  assert.match(await text('[data-node="association"]'), /^MOD from .*127\.0\.0\.1.* · accepted/);
  // The worklist in the window updates as after a scan: the phantoms' patients appear.
  await page.waitForFunction(
    () => (document.getElementById('worklist')?.textContent ?? '').includes('PHANTOM'),
    undefined,
    {
      timeout: 60_000,
    },
  );
  await page.waitForFunction(
    () =>
      /Triaged: [1-9]\d* studies, 2 images/.test(document.querySelector('[data-node="triaged"]')?.textContent ?? ''),
    undefined,
    { timeout: 60_000 },
  );
  // The outbox: everything at the PACS, the peer that is down pending with its reason.
  const up = `dicom:PACS@127.0.0.1:${pacsPort}`;
  const down = `dicom:DOWN@127.0.0.1:${downPort}`;
  await page.waitForFunction(
    ([u, d]) => {
      const upRow = document.querySelector(`tr[data-destination="${u}"]`);
      const downRow = document.querySelector(`tr[data-destination="${d}"]`);
      const sent = Number(upRow?.querySelector('.sent')?.textContent ?? '0');
      return sent >= 4 && (downRow?.querySelector('.reason')?.textContent ?? '') !== '';
    },
    [up, down] as const,
    { timeout: 60_000 },
  );
  const state = await nodeState();
  const [upRow, downRow] = state.outbox;
  assert.equal(upRow.sent, readdirSync(pacsFolder).length, 'storescp holds what the panel calls sent');
  assert.equal(downRow.sent, 0);
  assert.ok(downRow.pending + downRow.failed > 0);
  assert.equal(await text(`tr[data-destination="${up}"] .sent`), String(upRow.sent));
  assert.equal(await page.locator(`tr[data-destination="${down}"] .reason`).textContent(), downRow.lastError);
  assert.ok((await page.locator('[data-node="recent"] tr[data-state="sent"]').count()) > 0);
  assert.ok((await page.locator('[data-node="recent"] tr[data-state="pending"]').count()) > 0);
  const panelText = await text('#node-panel');
  assert.ok(!panelText.includes('PHANTOM'), 'the panel shows no patient data');

  // Test connection, both ways.
  await page.click(`[data-echo="${up}"]`);
  await page.click(`[data-echo="${down}"]`);
  await page.waitForFunction(
    ([u, d]) =>
      /OK · \d+ ms/.test(document.querySelector(`[data-echo-result="${u}"]`)?.textContent ?? '') &&
      /Failed · \S/.test(document.querySelector(`[data-echo-result="${d}"]`)?.textContent ?? ''),
    [up, down] as const,
    { timeout: 30_000 },
  );
  for (const dir of SCREENSHOTS) {
    mkdirSync(dir, { recursive: true });
    await page.screenshot({ path: join(dir, 'node-panel.png') });
  }
});

test('stop: the node stops, the settings can be edited again, and no page error happened', async () => {
  await page.click('[data-node="stop"]');
  await page.waitForSelector('#node-panel[data-running="false"]');
  assert.equal(await text('[data-node="headline"]'), 'Stopped');
  assert.equal(await page.isDisabled('input[name="aeTitle"]'), false);
  assert.equal((await nodeState()).running, false);
  await page.click('[data-node="close"]');
  await page.waitForSelector('#node-panel:not([open])', { state: 'attached' });
  assert.equal(await text('[data-action="node"]'), 'DICOM node: off');
  assert.deepEqual(consoleErrors, []);
});
