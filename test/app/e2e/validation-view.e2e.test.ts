/**
 * The Validation view end to end: the built renderer in Chromium, window.triage bridged to the
 * real backend (engine, demonstration pack, stores) through the shell's own checks, the dialog a
 * stand-in answering a folder of labelled phantoms and their labels.csv (granted as the shell
 * grants). The reader opens the view from the status bar, chooses both, runs, and sees the
 * figures of the metrics.json the run wrote: each finding's AUC cell reads as the report writes
 * it, each ROC plot's operating-point marker sits where the report's geometry puts it (x = 40 +
 * fpr·200, y = 240 − tpr·200 in the svg's own box), and the NOT FOR CLINICAL USE banner shows. A
 * screenshot goes to test-results/screenshots/validation-view.png (and to TRIAGE_SCREENSHOTS).
 */
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { openBackend } from '../../../main/app/api/backend.js';
import type { Backend } from '../../../main/app/api/backend.js';
import type { ValidationStateData } from '../../../main/app/api/contract.js';
import { writePhantomSet } from '../../../main/phantom/index.js';
import type { Evaluation } from '../../../main/validation/index.js';
import { formatInterval } from '../../../main/common/index.js';
import { scratchDir } from '../../support/tools.js';
import { appPack } from '../fixtures.js';
import { BridgeWindow, buildRenderer, launchChromium, pageEmitter, serveRenderer } from './harness.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const SCREENSHOTS = [join(root, 'test-results', 'screenshots'), process.env.TRIAGE_SCREENSHOTS].filter(
  (dir): dir is string => typeof dir === 'string' && dir !== '',
);
const scratch = scratchDir('app-validation-e2e');
const phantoms = join(scratch.path, 'labelled');
const labels = join(phantoms, 'labels.csv');

let backend: Backend;
const bridge = new BridgeWindow();
let browser: Browser;
let page: Page;
let server: { origin: string; close(): Promise<void> };
const consoleErrors: string[] = [];

const text = (selector: string) => page.locator(selector).first().innerText();

before(async () => {
  await writePhantomSet({ out: phantoms, count: 24, seed: 61022, jobs: 1 });
  const rendererRoot = join(scratch.path, 'renderer');
  buildRenderer(rendererRoot);
  server = await serveRenderer(rendererRoot);
  mkdirSync(join(scratch.path, 'app'), { recursive: true });
  backend = await openBackend({
    packDir: appPack(),
    databasePath: join(scratch.path, 'app', 'results.sqlite'),
    provider: 'cpu',
    threads: 1,
    emit: pageEmitter(() => page ?? null),
    chooseFiles: bridge.chooser(async (kind) => (kind === 'folder' ? [phantoms] : kind === 'labels' ? [labels] : [])),
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
  scratch.remove();
});

test('the view opens from the status bar; Run waits for both choices', async () => {
  await page.click('[data-action="validate"]');
  await page.waitForSelector('#validation-view[open]');
  assert.equal(await page.isDisabled('[data-validation="run"]'), true);
  assert.equal(await page.isDisabled('[data-validation="cancel"]'), true);
  assert.equal(await page.isDisabled('[data-validation="open-report"]'), true, 'no report yet');
  await page.click('[data-choose="images"]');
  await page.waitForFunction((p) => document.querySelector('[data-validation="images"]')?.textContent === p, phantoms);
  assert.equal(await page.isDisabled('[data-validation="run"]'), true);
  await page.click('[data-choose="labels"]');
  await page.waitForFunction((p) => document.querySelector('[data-validation="labels"]')?.textContent === p, labels);
  assert.equal(await page.isDisabled('[data-validation="run"]'), false);
});

test('run: progress, then the figures of the metrics.json written, the ROC markers where the report puts them', async () => {
  await page.click('[data-validation="run"]');
  await page.waitForSelector('#validation-view[data-state="completed"]', { timeout: 240_000 });
  await page.waitForSelector('.validation-findings');
  const envelope = await backend.invoke('validation.get', {});
  assert.ok(envelope.ok);
  const state = envelope.value as ValidationStateData;
  assert.equal(await text('[data-validation="report-path"]'), state.reportPath);
  assert.equal(await page.isDisabled('[data-validation="open-report"]'), false, 'the report can be opened');
  const metrics = JSON.parse(readFileSync(join(dirname(state.reportPath!), 'metrics.json'), 'utf8')) as Evaluation;
  assert.match(await text('[data-validation="counts"]'), /^Completed · (\d+) of \1 files · \d+ analysed$/);

  // Each finding's AUC cell reads as the report writes the written figure.
  assert.ok(metrics.findings.length > 0);
  for (const finding of metrics.findings) {
    const cell = await text(`tr[data-finding="${finding.term}"] td[data-metric="auc"]`);
    assert.equal(cell, formatInterval(finding.auc), finding.term);
  }
  assert.ok(metrics.findings.some((f) => /^\d\.\d{3} \[\d\.\d{3}–\d\.\d{3}\]$/.test(formatInterval(f.auc))));

  // Each ROC plot's operating point: its centre, in the svg's own box, on the report's geometry.
  for (const finding of metrics.findings) {
    const placed = await page.evaluate((term) => {
      const svg = [...document.querySelectorAll('svg.roc')].find((e) => e.getAttribute('data-finding') === term)!;
      const box = svg.getBoundingClientRect();
      const marker = svg.querySelector('circle.operating-point')!.getBoundingClientRect();
      return {
        width: box.width,
        height: box.height,
        x: marker.left + marker.width / 2 - box.left,
        y: marker.top + marker.height / 2 - box.top,
      };
    }, finding.term);
    assert.deepEqual([placed.width, placed.height], [440, 280], 'the plot is drawn at its own size');
    const expected = { x: 40 + finding.operatingPoint.fpr * 200, y: 240 - finding.operatingPoint.tpr * 200 };
    assert.ok(Math.abs(placed.x - expected.x) <= 1.5, `${finding.term}: x ${placed.x} vs ${expected.x}`);
    assert.ok(Math.abs(placed.y - expected.y) <= 1.5, `${finding.term}: y ${placed.y} vs ${expected.y}`);
  }

  // A demonstration pack: the banner shows, in the view itself.
  assert.equal(metrics.pack.demo, true);
  assert.equal(await page.locator('[data-validation="banner"]').isVisible(), true);
  assert.match(await text('[data-validation="banner"]'), /NOT FOR CLINICAL USE/);
  assert.match(await text('[data-validation="pack"]'), new RegExp(`${metrics.pack.id} ${metrics.pack.version}`));
  assert.match(await text('[data-validation="data"]'), new RegExp(`Images analysed\\s+${metrics.data.images}\\b`));
  assert.match(
    await text('[data-validation="overall"]'),
    new RegExp(`Micro F1\\s+${formatInterval(metrics.overall.microF1.f1).replace(/[[\]]/g, '\\$&')}`),
  );
  assert.ok(!(await text('#validation-view')).includes('PHANTOM'), 'the view shows no patient data');

  for (const dir of SCREENSHOTS) {
    mkdirSync(dir, { recursive: true });
    await page.screenshot({ path: join(dir, 'validation-view.png') });
  }
  // The plots, scrolled into view.
  await page.locator('.validation-plots').scrollIntoViewIfNeeded();
  for (const dir of SCREENSHOTS) await page.screenshot({ path: join(dir, 'validation-view-plots.png') });
  assert.deepEqual(consoleErrors, []);
});
