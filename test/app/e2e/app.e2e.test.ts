/**
 * End to end: the built renderer in Chromium, its window.triage bridged to the real engine, the
 * real model pack and real phantom DICOMs, served with the app's CSP. A reader opens a folder and
 * sees the worklist in priority order; selects a study and sees the radiograph on the canvas
 * (pixels checked against the engine's own decoding); sees the heatmap of a positive finding where
 * the models' evidence peaks and, for a true positive of the demo pack, on the phantom's
 * ground-truth mask of the finding, registered through zoom and pan; changes window/level by dragging;
 * accepts a finding and finds the verdict again after a reload (read back from SQLite); drops a
 * file to scan it. No request leaves the page's origin and no CSP violation happens. Screenshots
 * of the main views go to test-results/screenshots/.
 */
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { openBackend } from '../../../main/app/api/backend.js';
import type { Backend } from '../../../main/app/api/backend.js';
import type { ApiResponse, HeatmapDataType, TriageApi } from '../../../main/app/api/contract.js';
import { colour as engineColour } from '../../../main/common/index.js';
import { readRadiograph, renderDisplay } from '../../../main/ingest/index.js';
import { HEATMAP_FLOOR } from '../../../renderer/src/colormap.js';
import { encodePhantomDicom, generatePhantom } from '../../../main/phantom/index.js';
import { ResultStore } from '../../../main/store/index.js';
import { priorityRank } from '../../../main/triage/index.js';
import { pointInMask } from '../../../models/training/metrics.js';
import { decodePng } from '../../../main/ingest/raster/png.js';
import { scratchDir } from '../../support/tools.js';
import { appPack, makeReadingFolder, PHANTOMS } from '../fixtures.js';
import { BridgeWindow, buildRenderer, launchChromium, pageEmitter, serveRenderer } from './harness.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const SCREENSHOTS = join(root, 'test-results', 'screenshots');
/** A folder (outside the repository) that also receives the worklist with patients, for review. */
const SCREENSHOTS_OUTSIDE = process.env.TRIAGE_SCREENSHOTS ?? null;
const scratch = scratchDir('app-e2e');
const folder = makeReadingFolder(join(scratch.path, 'reading'));
const dropFolder = join(scratch.path, 'dropped');
const database = join(scratch.path, 'results.sqlite');

let backend: Backend;
const bridge = new BridgeWindow();
let browser: Browser;
let page: Page;
let server: { origin: string; close(): Promise<void> };
const requests: string[] = [];
const consoleErrors: string[] = [];
const consoleWarnings: string[] = [];

/** Canvas pixels with, for each sample, the image pixel cornerstone maps it to. */
interface Samples {
  width: number;
  height: number;
  /** Per sample: canvas x, y, image x, y (fractional), r, g, b. */
  points: number[][];
}

/** Two animation frames: cornerstone draws what changed on the next one. */
async function settle(): Promise<void> {
  await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
}

async function canvasSamples(step: number): Promise<Samples> {
  await settle();
  // In the page: the canvas's RGB at every `step` pixels, and cornerstone's canvas-to-image
  // mapping (affine: three points define it), so the per-sample work happens here.
  const raw = await page.evaluate((stride) => {
    const element = document.getElementById('viewport')!;
    const canvas = element.querySelector('canvas')!;
    const { width, height } = canvas;
    const data = canvas.getContext('2d')!.getImageData(0, 0, width, height).data;
    const rgb: number[] = [];
    for (let y = 0; y < height; y += stride) {
      for (let x = 0; x < width; x += stride) {
        const o = (y * width + x) * 4;
        rgb.push(data[o], data[o + 1], data[o + 2]);
      }
    }
    let text = '';
    for (let i = 0; i < rgb.length; i += 8192) text += String.fromCharCode(...rgb.slice(i, i + 8192));
    const origin = cornerstone.canvasToPixel(element, { x: 0, y: 0 });
    const right = cornerstone.canvasToPixel(element, { x: 1, y: 0 });
    const down = cornerstone.canvasToPixel(element, { x: 0, y: 1 });
    return { width, height, rgb: btoa(text), origin, right, down };
  }, step);
  const rgb = Buffer.from(raw.rgb, 'base64');
  const { origin, right, down } = raw;
  const points: number[][] = [];
  let k = 0;
  for (let y = 0; y < raw.height; y += step) {
    for (let x = 0; x < raw.width; x += step) {
      const cx = x + 0.5;
      const cy = y + 0.5;
      const px = origin.x + (right.x - origin.x) * cx + (down.x - origin.x) * cy;
      const py = origin.y + (right.y - origin.y) * cx + (down.y - origin.y) * cy;
      points.push([x, y, px, py, rgb[k], rgb[k + 1], rgb[k + 2]]);
      k += 3;
    }
  }
  return { width: raw.width, height: raw.height, points };
}

/** Where the heatmap's colour is strongest on the canvas, in image pixels (a weighted centroid of the most coloured samples). */
function colourPeak(samples: Samples): { x: number; y: number; coloured: number } {
  const scored = samples.points.map((p) => ({
    x: p[2],
    y: p[3],
    c: Math.max(p[4], p[5], p[6]) - Math.min(p[4], p[5], p[6]),
  }));
  const coloured = scored.filter((s) => s.c > 12);
  if (coloured.length === 0) return { x: NaN, y: NaN, coloured: 0 };
  const top = [...coloured].sort((a, b) => b.c - a.c).slice(0, Math.max(5, Math.round(coloured.length * 0.05)));
  const weight = top.reduce((sum, s) => sum + s.c, 0);
  return {
    x: top.reduce((sum, s) => sum + s.x * s.c, 0) / weight,
    y: top.reduce((sum, s) => sum + s.y * s.c, 0) / weight,
    coloured: coloured.length,
  };
}

async function waitForViewer(file: string, heatmap: string | null): Promise<void> {
  await page.waitForFunction(
    ([f, hm]) => {
      const element = document.getElementById('viewport');
      return (
        element?.dataset.file === f &&
        (hm === null ? (element.dataset.heatmap ?? '') === '' : element.dataset.heatmap === hm)
      );
    },
    [file, heatmap] as const,
  );
}

/** How many times the page called `channel` while `action` ran (the backend's handler, wrapped). */
async function callsDuring(channel: 'heatmap.get', action: () => Promise<void>): Promise<number> {
  const handlers = backend.handlers;
  const original = handlers[channel];
  let calls = 0;
  handlers[channel] = (request) => {
    calls++;
    return original(request);
  };
  try {
    await action();
  } finally {
    handlers[channel] = original;
  }
  return calls;
}

async function shot(name: string, selector?: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  if (selector) await page.locator(selector).screenshot({ path });
  else await page.screenshot({ path });
}

before(async () => {
  mkdirSync(dropFolder, { recursive: true });
  const rendererRoot = join(scratch.path, 'renderer');
  buildRenderer(rendererRoot);
  server = await serveRenderer(rendererRoot);
  backend = await openBackend({
    packDir: appPack(),
    databasePath: database,
    provider: 'cpu',
    threads: 1,
    emit: pageEmitter(() => page ?? null),
    chooseFiles: bridge.chooser(async () => [folder.dir]),
  });
  browser = await launchChromium();
  const context = await browser.newContext({ viewport: { width: 1600, height: 960 }, deviceScaleFactor: 1 });
  page = await context.newPage();
  page.on('request', (request) => requests.push(request.url()));
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
    if (message.type() === 'warning') consoleWarnings.push(message.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(error.message));
  await bridge.install(page, backend, dropFolder);
  await page.goto(`${server.origin}/index.html`);
  await page.waitForSelector('body[data-ready="true"]');
});

after(async () => {
  await browser?.close();
  await backend?.close();
  await server?.close();
  scratch.remove();
});

describe('the reading workstation', () => {
  let worklist: ApiResponse<'worklist.list'>;
  /** A study whose image has a positive finding most models agree on (MONOCHROME1 preferred). */
  let target: { study: string; file: string; term: string; tree: 'finding' | 'diagnosis'; mask: string | null };

  test('opening a folder scans it with live progress and fills the worklist in priority order', async () => {
    // Every progress bar the page ever shows is recorded, however short the scan.
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { __progressSeen: string[] }).__progressSeen = seen;
      new MutationObserver(() => {
        const bar = document.querySelector('[role="progressbar"]');
        if (bar) seen.push(`${bar.getAttribute('aria-valuenow')}/${bar.getAttribute('aria-valuemax')}`);
      }).observe(document.body, { subtree: true, childList: true, attributes: true });
    });
    assert.equal(await page.locator('.worklist .empty-title').textContent(), 'No studies yet');
    await page.getByRole('button', { name: 'Open folder…' }).click();
    await page.waitForSelector('.scan-done.completed');
    worklist = await backend.handlers['worklist.list']({});
    await page.waitForFunction(
      (n) => document.querySelectorAll('[role="option"][data-study]').length === n,
      worklist.studies.length,
    );
    const seen = await page.evaluate(() => (window as unknown as { __progressSeen: string[] }).__progressSeen);
    assert.ok(seen.length > 0, 'a progress bar was shown while the scan ran');

    const rows = await page
      .locator('[role="option"][data-study]')
      .evaluateAll((elements) =>
        elements.map((e) => [(e as HTMLElement).dataset.study!, (e as HTMLElement).dataset.priority!]),
      );
    assert.deepEqual(
      rows.map(([study]) => study),
      worklist.studies.map((s) => s.study),
      'the rows are the store’s worklist, in its order',
    );
    const ranks = rows.map(([, priority]) => priorityRank(priority as never));
    assert.deepEqual(
      ranks,
      [...ranks].sort((a, b) => a - b),
      'most urgent first',
    );
    assert.ok(new Set(ranks).size >= 3, `several priorities shown (${[...new Set(rows.map((r) => r[1]))].join(', ')})`);
    // The rejected lateral and the broken file need review, with their reason.
    const lateralRow = page.locator('[role="option"]', { hasText: 'lateral.dcm' });
    assert.equal(await lateralRow.getAttribute('data-priority'), 'needs review');
    assert.match((await lateralRow.locator('.study-reason').textContent()) ?? '', /lateral/);
    await shot('worklist');

    const images = worklist.studies.flatMap((s) => s.images.map((image) => ({ study: s.study, image })));
    // The phantoms' ground truth: a mask per present finding. A positive call with a mask (a true
    // positive) is the best target: its heatmap can be checked against where the finding is.
    const maskOf = (file: string, term: string) => {
      const path = join(PHANTOMS, 'masks', term.replace(/ /g, '-'), basename(file).replace(/\.dcm$/, '.png'));
      return existsSync(path) ? path : null;
    };
    const called = (image: (typeof images)[number]['image']) => image.findings.filter((f) => f.votes.positive >= 2);
    const candidates = images.filter(({ image }) => called(image).length > 0);
    assert.ok(candidates.length > 0, 'the pack calls a finding on some phantom');
    const details = await Promise.all(
      candidates.map(({ image }) => backend.handlers['image.render']({ file: image.file })),
    );
    const truePositive = (i: number) =>
      called(candidates[i].image).some((f) => maskOf(candidates[i].image.file, f.term));
    const order = candidates
      .map((_, i) => i)
      .sort(
        (a, b) =>
          Number(truePositive(b)) - Number(truePositive(a)) || Number(details[b].invert) - Number(details[a].invert),
      );
    const pick = candidates[order[0]];
    const finding = called(pick.image).find((f) => maskOf(pick.image.file, f.term)) ?? called(pick.image)[0];
    target = {
      study: pick.study,
      file: pick.image.file,
      term: finding.term,
      tree: finding.tree as 'finding',
      mask: maskOf(pick.image.file, finding.term),
    };
  });

  test('the status bar names the provider and the pack; a demo pack shows the banner', async () => {
    const status = await backend.handlers['status.get']({});
    assert.equal(await page.locator('[data-provider]').getAttribute('data-provider'), status.provider);
    assert.match((await page.locator('.statusbar .provider').textContent()) ?? '', /CPU/);
    assert.equal(
      await page.locator('[data-pack]').getAttribute('data-pack'),
      `${status.pack.id}@${status.pack.version}`,
    );
    for (const member of status.pack.members)
      assert.match(
        (await page.locator('.statusbar .pack').textContent()) ?? '',
        new RegExp(`${member.id} ${member.version}`),
      );
    const banner = page.locator('#banner');
    assert.equal(await banner.isVisible(), status.notForClinicalUse);
    if (status.notForClinicalUse) assert.match((await banner.textContent()) ?? '', /NOT FOR CLINICAL USE/);
  });

  test('a selected study shows its radiograph on the canvas as the engine decodes it', async (t) => {
    await page.locator(`[role="option"][data-study="${target.study}"]`).click();
    await waitForViewer(target.file, `${target.term}|ensemble`);
    // The image alone first: heatmap off (keyboard H).
    await page.keyboard.press('h');
    await waitForViewer(target.file, null);
    await page.evaluate(() => {
      const element = document.getElementById('viewport')!;
      const viewport = cornerstone.getViewport(element)!;
      viewport.pixelReplication = true; // nearest neighbour: each canvas pixel shows one image pixel
      cornerstone.setViewport(element, viewport);
    });
    const radiograph = await readRadiograph(target.file);
    const expected = renderDisplay(radiograph);
    const samples = await canvasSamples(3);
    const differences: number[] = [];
    let grey = true;
    for (const [, , px, py, r, g, b] of samples.points) {
      if (px < 0 || py < 0 || px >= radiograph.columns || py >= radiograph.rows) continue;
      // Away from pixel edges, where rounding could pick the neighbour.
      if (Math.abs(px - Math.round(px)) < 0.15 || Math.abs(py - Math.round(py)) < 0.15) continue;
      differences.push(Math.abs(r - expected.pixels[Math.floor(py) * radiograph.columns + Math.floor(px)]));
      if (r !== g || g !== b) grey = false;
    }
    assert.ok(differences.length > 5000, `enough samples on the image (${differences.length})`);
    differences.sort((a, b) => a - b);
    const mean = differences.reduce((a, b) => a + b, 0) / differences.length;
    const p99 = differences[Math.floor(differences.length * 0.99)];
    assert.ok(grey, 'a radiograph alone is grey');
    assert.ok(
      mean < 1 && p99 <= 2,
      `canvas matches the engine's display rendering (mean ${mean.toFixed(3)}, 99th percentile ${p99})`,
    );
    t.diagnostic(
      `${radiograph.photometric} ${radiograph.window.source}: ${differences.length} samples, mean |canvas - engine| ${mean.toFixed(3)} levels, 99th percentile ${p99}, max ${differences[differences.length - 1]}`,
    );
    // And the smoothed default view is the same image.
    await page.evaluate(() => {
      const element = document.getElementById('viewport')!;
      const viewport = cornerstone.getViewport(element)!;
      viewport.pixelReplication = false;
      cornerstone.setViewport(element, viewport);
    });
  });

  test('the heatmap of the selected positive finding appears where the models’ evidence peaks, through zoom and pan', async (t) => {
    await page.keyboard.press('h');
    await waitForViewer(target.file, `${target.term}|ensemble`);
    // Selecting a negative finding clears the overlay; selecting the positive one brings it back.
    await page.locator('[role="treeitem"][data-positive="false"]').first().click();
    await waitForViewer(target.file, null);
    assert.equal(colourPeak(await canvasSamples(4)).coloured, 0, 'no overlay for a negative finding');
    await page.locator(`[role="treeitem"][data-key="${target.tree}:${target.term}"]`).first().click();
    await waitForViewer(target.file, `${target.term}|ensemble`);
    const heatmap: HeatmapDataType = await backend.handlers['heatmap.get']({
      file: target.file,
      term: target.term,
      tree: target.tree,
      model: null,
    });
    const rendered = await backend.handlers['image.render']({ file: target.file });
    const peakX = heatmap.peak.x * (rendered.columns / heatmap.imageColumns);
    const peakY = heatmap.peak.y * (rendered.rows / heatmap.imageRows);
    const tolerance = 0.1 * Math.max(rendered.columns, rendered.rows);
    const check = async (label: string) => {
      const found = colourPeak(await canvasSamples(2));
      assert.ok(found.coloured > 100, `${label}: the overlay is visible (${found.coloured} coloured samples)`);
      const distance = Math.hypot(found.x - peakX, found.y - peakY);
      const message = `${label}: overlay peak at (${found.x.toFixed(1)}, ${found.y.toFixed(1)}), the models' at (${peakX.toFixed(1)}, ${peakY.toFixed(1)}): ${distance.toFixed(1)} px apart`;
      assert.ok(distance < tolerance, message);
      t.diagnostic(message);
      if (target.mask) {
        // Where the finding is: the overlay's peak falls on the phantom's ground-truth mask
        // (within one CAM cell: the heatmap's own resolution).
        const png = decodePng(readFileSync(target.mask));
        const mask = { width: png.width, height: png.height, data: png.values };
        const cell = (Math.min(rendered.columns, rendered.rows) * 8) / 224;
        assert.ok(
          pointInMask(mask, found.x, found.y, rendered.columns, rendered.rows, cell),
          `${label}: the overlay peak (${found.x.toFixed(1)}, ${found.y.toFixed(1)}) lies outside the ${target.term} mask`,
        );
        t.diagnostic(`${label}: the overlay peak lies on the ground-truth ${target.term} mask`);
      }
    };
    await check('fitted');
    await shot('viewer-heatmap');
    // The colour scale beside the heatmap, as Chromium drew it: the engine's ramp (the one behind
    // the PNG overlays) from the viewer's floor to the peak, column by column.
    const drawnScale = await page.evaluate(() => {
      const canvas = document.querySelector<HTMLCanvasElement>('canvas.colour-scale')!;
      const { data, width } = canvas.getContext('2d')!.getImageData(0, 5, canvas.width, 1);
      return { width, rgba: Array.from(data) };
    });
    assert.equal(drawnScale.width, 120);
    for (let x = 0; x < drawnScale.width; x++) {
      const expected = engineColour(HEATMAP_FLOOR + ((1 - HEATMAP_FLOOR) * x) / (drawnScale.width - 1));
      assert.deepEqual(drawnScale.rgba.slice(x * 4, x * 4 + 4), [...expected, 255], `colour scale column ${x}`);
    }
    // Zoom in twice and pan: the overlay moves with the image.
    await page.keyboard.press('+');
    await page.keyboard.press('+');
    await page.getByRole('button', { name: 'Pan', exact: true }).click();
    const box = (await page.locator('#viewport').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 - 60, box.y + box.height / 2 + 40, { steps: 5 });
    await page.mouse.up();
    const scale = await page.evaluate(() => cornerstone.getViewport(document.getElementById('viewport')!)!.scale);
    await check(`zoomed (scale ${scale.toFixed(2)}) and panned`);
    await page.getByRole('button', { name: 'W/L', exact: true }).click();
    await page.keyboard.press('f');
    // Opacity 0 hides it; a member's own heatmap can be chosen.
    const setOpacity = (value: string) =>
      page.locator('.opacity').evaluate((input: HTMLInputElement, v) => {
        input.value = v;
        input.dispatchEvent(new Event('input', { bubbles: true }));
      }, value);
    await setOpacity('0');
    assert.equal(colourPeak(await canvasSamples(4)).coloured, 0, 'opacity 0: no colour left');
    await setOpacity('0.8');
    assert.ok(colourPeak(await canvasSamples(4)).coloured > 0, 'opacity 0.8: the overlay is back');
    const member = heatmap.members[0];
    await page.locator('.heatmap-controls select').selectOption(member);
    await waitForViewer(target.file, `${target.term}|${member}`);
    const own = await backend.handlers['heatmap.get']({
      file: target.file,
      term: target.term,
      tree: target.tree,
      model: member,
    });
    const found = colourPeak(await canvasSamples(2));
    const distance = Math.hypot(
      found.x - own.peak.x * (rendered.columns / own.imageColumns),
      found.y - own.peak.y * (rendered.rows / own.imageRows),
    );
    assert.ok(distance < tolerance, `model ${member}: overlay peak ${distance.toFixed(1)} px from its CAM peak`);
    await page.locator('.heatmap-controls select').selectOption('');
    await waitForViewer(target.file, `${target.term}|ensemble`);
    // Shortcuts act when the focus is not in a form field (a select takes letters itself).
    await page.locator('#viewport').focus();
  });

  test('a window/level drag changes the rendering; the file-window preset restores it', async () => {
    await page.keyboard.press('h'); // heatmap off: compare the radiograph alone
    await waitForViewer(target.file, null);
    const before = await canvasSamples(4);
    const windowBefore = await page.locator('#viewport').getAttribute('data-window');
    // The corners: the image's own (filled once per image) and the view's (W/L, zoom, heatmap).
    const corner = async (where: string) => (await page.locator(`.corner.${where}`).textContent()) ?? '';
    assert.ok((await corner('top-left')).includes(basename(target.file)), 'the file is named top left');
    assert.match(await corner('top-right'), /\d+ × \d+, \d+-bit/);
    assert.equal(await corner('bottom-right'), '', 'no heatmap named while it is hidden');
    assert.match(
      (await page.locator('.heatmap-controls').getAttribute('class')) ?? '',
      /inactive/,
      'hidden: the heatmap controls are dimmed',
    );
    const levelBefore = await corner('bottom-left');
    const box = (await page.locator('#viewport').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 + 120, box.y + box.height / 2 + 60, { steps: 8 });
    await page.mouse.up();
    const windowAfter = await page.locator('#viewport').getAttribute('data-window');
    assert.notEqual(windowAfter, windowBefore);
    const afterDrag = await canvasSamples(4);
    const change = (a: Samples, b: Samples) =>
      a.points.reduce((sum, p, i) => sum + Math.abs(p[4] - b.points[i][4]), 0) / a.points.length;
    assert.ok(
      change(before, afterDrag) > 5,
      `the drag changed the pixels (mean change ${change(before, afterDrag).toFixed(1)} levels)`,
    );
    assert.notEqual(await corner('bottom-left'), levelBefore, 'the W/L corner follows the drag');
    await page.keyboard.press('1');
    const restored = await canvasSamples(4);
    assert.ok(
      change(before, restored) < 0.5,
      `preset 1 restores the file's window (mean change ${change(before, restored).toFixed(2)})`,
    );
    await page.keyboard.press('h');
    await waitForViewer(target.file, `${target.term}|ensemble`);
    assert.match(
      await corner('bottom-right'),
      /^Heatmap: .*ensemble of \d+$/,
      'the heatmap shown is named bottom right',
    );
  });

  test('findings: the PadChest tree, positive first, with votes, probability, spread and members', async () => {
    const study = await backend.handlers['study.get']({ study: target.study });
    const image = study.images.find((i) => i.file === target.file)!;
    const finding = image.findings.find((f) => f.term === target.term && f.tree === target.tree)!;
    const row = page.locator(`[role="treeitem"][data-key="${target.tree}:${target.term}"]`).first();
    assert.equal(await row.getAttribute('aria-selected'), 'true', 'the most probable positive finding is selected');
    assert.match(
      (await row.locator('.votes').textContent()) ?? '',
      new RegExp(`${finding.votes.positive} of ${finding.votes.total} models`),
    );
    // The ensemble's value under the demo pack's majority rule: the median of the members' values,
    // shown as a whole percent rounded down.
    const values = Object.values(finding.perModel).sort((a, b) => b - a);
    const wholePercent = (value: number) => `${Math.floor(Math.round(value * 10_000) / 100)}%`;
    assert.equal(finding.probability!.ensemble, values[Math.floor(values.length / 2)]);
    assert.equal(
      (await row.locator('.probability').textContent())?.trim(),
      wholePercent(finding.probability!.ensemble),
    );
    const details = page.locator(`[data-details="${target.tree}:${target.term}"]`);
    assert.match((await details.textContent()) ?? '', /spread/);
    assert.match((await details.textContent()) ?? '', new RegExp(`mean ${wholePercent(finding.probability!.mean)}`));
    for (const [id, value] of Object.entries(finding.perModel)) {
      assert.match(
        (await details.locator('.member', { hasText: id }).textContent()) ?? '',
        new RegExp(wholePercent(value)),
      );
    }
    // Top-level order: nodes with anything positive inside come first.
    const top = await page
      .locator('.tree > [role="group"] > [role="treeitem"]')
      .evaluateAll((rows) => rows.map((r) => r.classList.contains('positive')));
    const firstNegative = top.indexOf(false);
    assert.ok(firstNegative === -1 || top.slice(firstNegative).every((p) => !p), 'positive first');
    // Collapsing a branch hides its children.
    const parent = page.locator('[role="treeitem"][aria-expanded="true"]').first();
    const before = await page.locator('[role="treeitem"]').count();
    await parent.locator('.twisty').click();
    assert.ok((await page.locator('[role="treeitem"]').count()) < before);
    await page.locator('[role="treeitem"][aria-expanded="false"]').first().locator('.twisty').click();
    assert.equal(await page.locator('[role="treeitem"]').count(), before);
    await shot('findings-tree', '#findings');
  });

  test('an indeterminate call and a term not assessed read as such in the worklist and the findings', async () => {
    // The demo pack: phantom-00000's pleural effusion is called 2 of 3 at a median of 52%, inside
    // the default band [40%, 60%); its nodule heads are untrained in every member.
    const study = worklist.studies.find((s) => s.images.some((i) => i.findings.some((f) => f.indeterminate)))!;
    assert.ok(study, 'some positive call lies in the indeterminate band');
    const image = study.images.find((i) => i.findings.some((f) => f.indeterminate))!;
    const called = image.findings.find((f) => f.indeterminate)!;
    assert.ok(called.probability! >= 0.4 && called.probability! < 0.6);
    const studyRow = page.locator(`[role="option"][data-study="${study.study}"]`);
    const label = called.term.charAt(0).toUpperCase() + called.term.slice(1);
    const chip = studyRow.locator('.finding-chip.indeterminate', { hasText: label });
    assert.match((await chip.textContent()) ?? '', /indeterminate/);
    await studyRow.click();
    await page.waitForSelector(`[role="treeitem"][data-key="finding:${called.term}"]`);
    const row = page.locator(`[role="treeitem"][data-key="finding:${called.term}"]`).first();
    assert.equal(await row.getAttribute('data-positive'), 'true', 'the vote still calls it');
    assert.equal(((await row.locator('.indeterminate-tag').textContent()) ?? '').trim(), 'indeterminate');
    assert.match((await page.locator('.summary').textContent()) ?? '', /\(indeterminate\)/);
    assert.equal(((await page.locator('.not-assessed-note').textContent()) ?? '').trim(), 'Nodule: not assessed');
    const nodule = page.locator('[role="treeitem"][data-key="finding:nodule"]').first();
    assert.equal(((await nodule.locator('.not-assessed').textContent()) ?? '').trim(), 'not assessed');
    assert.equal(((await nodule.locator('.probability').textContent()) ?? '').trim(), '', 'no number');
    assert.equal(await nodule.locator('.verdict').count(), 0, 'nothing to accept or reject');
    await shot('findings-indeterminate', '#findings');
    // Back to the study the other tests read.
    await page.locator(`[role="option"][data-study="${target.study}"]`).click();
    await waitForViewer(target.file, `${target.term}|ensemble`);
  });

  test('accepting a finding is stored with its time and survives a reload', async () => {
    const accept = page.getByRole('button', { name: `Accept ${target.term}` }).first();
    await accept.click();
    await page.waitForFunction(
      (term) => document.querySelector(`[aria-label="Accept ${term}"]`)?.getAttribute('aria-pressed') === 'true',
      target.term,
    );
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    await page.locator(`[role="option"][data-study="${target.study}"]`).click();
    await waitForViewer(target.file, `${target.term}|ensemble`);
    assert.equal(
      await page
        .getByRole('button', { name: `Accept ${target.term}` })
        .first()
        .getAttribute('aria-pressed'),
      'true',
    );
    assert.match((await page.locator('.verdict-note.agree').textContent()) ?? '', /Accepted by you at/);
    assert.match(
      (await page.locator(`[role="option"][data-study="${target.study}"] .reviewed`).textContent()) ?? '',
      /1/,
    );
    await shot('findings-accepted', '#findings');
    // Read back from the database file itself, by a second connection.
    await new Promise((resolve) => setTimeout(resolve, 300)); // the backend's connection releases its lock when idle
    const store = ResultStore.open(database);
    try {
      const verdicts = store.currentVerdicts(target.file);
      assert.deepEqual(
        verdicts.map((v) => [v.term, v.verdict]),
        [[target.term, 'agree']],
      );
      assert.ok(Math.abs(Date.parse(verdicts[0].at) - Date.now()) < 120_000);
    } finally {
      store.close();
    }
  });

  test('a rejected image shows why; a study without findings says so clearly', async () => {
    const lateral = worklist.studies.find((s) => s.images.some((i) => i.file === folder.lateral))!;
    await page.locator(`[role="option"][data-study="${lateral.study}"]`).click();
    await page.waitForSelector('.state-card.rejected');
    assert.match((await page.locator('.state-card.rejected .state-reason').textContent()) ?? '', /lateral/);
    assert.equal(
      await page.locator('.state-card.rejected .state-title').textContent(),
      'Not analysed: rejected by the input gate',
    );
    // A real radiograph, which the demonstration pack (phantoms only) refuses after its models ran.
    const unfamiliar = worklist.studies.find((s) => s.images.some((i) => i.file === folder.unfamiliar))!;
    assert.equal(unfamiliar.priority, 'needs review');
    await page.locator(`[role="option"][data-study="${unfamiliar.study}"]`).click();
    await page.waitForFunction(() =>
      document.querySelector('.state-card.rejected .state-title')?.textContent?.startsWith('Refused'),
    );
    assert.equal(
      await page.locator('.state-card.rejected .state-title').textContent(),
      'Refused: unlike the images this model pack was trained on',
    );
    assert.match(
      (await page.locator('.state-card.rejected .state-reason').textContent()) ?? '',
      /feature distance from the training images is [\d.]+, above the accepted 384\.3/,
    );
    await shot('rejected');
    const truncated = worklist.studies.find((s) => s.images.some((i) => i.file === folder.truncated))!;
    await page.locator(`[role="option"][data-study="${truncated.study}"]`).click();
    await page.waitForSelector('.state-card.error');
    const normal = worklist.studies.find((s) => s.priority === 'normal' && s.images.every((i) => i.status === 'ok'));
    assert.ok(normal, 'the reading folder has a normal study whose images were all analysed');
    await page.locator(`[role="option"][data-study="${normal.study}"]`).click();
    await page.waitForSelector('[data-state="no-finding"]');
    await shot('no-finding');
  });

  test('keyboard: next and previous study, heatmap toggle, window presets', async () => {
    const order = (await page
      .locator('[role="option"][data-study]')
      .evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.study!))) as string[];
    await page.locator(`[role="option"][data-study="${order[0]}"]`).click();
    await page.locator('#viewport').focus();
    await page.keyboard.press('j');
    await page.waitForSelector(`[role="option"][data-study="${order[1]}"][aria-selected="true"]`);
    await page.keyboard.press('ArrowDown');
    await page.waitForSelector(`[role="option"][data-study="${order[2]}"][aria-selected="true"]`);
    await page.keyboard.press('k');
    await page.waitForSelector(`[role="option"][data-study="${order[1]}"][aria-selected="true"]`);
    await page.locator(`[role="option"][data-study="${target.study}"]`).click();
    await waitForViewer(target.file, `${target.term}|ensemble`);
    // Hiding keeps the heatmap: showing it again draws it without fetching it again.
    const refetched = await callsDuring('heatmap.get', async () => {
      await page.keyboard.press('h');
      await waitForViewer(target.file, null);
      const fileWindow = await page.locator('#viewport').getAttribute('data-window');
      await page.keyboard.press('2');
      await page.waitForFunction((w) => document.getElementById('viewport')?.dataset.window !== w, fileWindow);
      await page.keyboard.press('1');
      await page.waitForFunction((w) => document.getElementById('viewport')?.dataset.window === w, fileWindow);
      await page.keyboard.press('h');
      await waitForViewer(target.file, `${target.term}|ensemble`);
    });
    assert.equal(refetched, 0, 'the heatmap shown again is the one loaded');
    // A selection changed while hidden drops the loaded heatmap: showing fetches the selected one.
    await page.keyboard.press('h');
    await waitForViewer(target.file, null);
    await page.locator('[role="treeitem"][data-positive="false"]').first().click();
    await page.locator(`[role="treeitem"][data-key="${target.tree}:${target.term}"]`).first().click();
    const fetched = await callsDuring('heatmap.get', async () => {
      await page.keyboard.press('h');
      await waitForViewer(target.file, `${target.term}|ensemble`);
    });
    assert.equal(fetched, 1, 'none loaded: showing fetches it once');
  });

  test('search and the priority filter narrow the worklist', async () => {
    await page.locator('.search').fill('lateral');
    assert.equal(await page.locator('[role="option"][data-study]').count(), 1);
    await page.locator('.search').fill('');
    await page.locator('.chip[data-priority="needs review"]').click();
    const priorities = await page
      .locator('[role="option"][data-study]')
      .evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.priority));
    assert.ok(priorities.length >= 2 && priorities.every((p) => p === 'needs review'));
    await page.locator('.chip[data-priority="needs review"]').click();
    assert.equal(await page.locator('[role="option"][data-study]').count(), worklist.studies.length);
  });

  test('the worklist names each study’s patient; a search by name, ID or accession narrows it; the header too', async () => {
    // The phantoms' patients as the phantom generator recorded them (PHANTOM^N, PHANTOM-N, PHN).
    const recorded = (
      JSON.parse(readFileSync(join(PHANTOMS, 'phantoms.json'), 'utf8')) as {
        images: Array<{ file: string; patient: { name: string; id: string; sex: string; age: number } }>;
      }
    ).images;
    const withPatient = worklist.studies.filter((s) => s.patient !== null);
    const phantomStudies = worklist.studies.filter((s) => s.images.some((i) => /phantom-\d+\.dcm$/.test(i.file)));
    assert.ok(phantomStudies.length >= 3, 'several phantom studies');
    for (const study of phantomStudies) {
      const image = recorded.find((r) => study.images.some((i) => basename(i.file) === r.file))!;
      assert.equal(study.patient?.name, image.patient.name.replace('^', ', '));
      assert.equal(study.patient?.id, image.patient.id);
      assert.equal(study.patient?.sex, image.patient.sex);
      assert.equal(study.patient?.age, `${String(image.patient.age).padStart(3, '0')}Y`);
      assert.match(study.accessionNumber ?? '', /^PH\d+$/);
      assert.match(study.studyDate ?? '', /^2026-\d{2}-\d{2}$/);
    }
    for (const study of withPatient) {
      const row = page.locator(`[role="option"][data-study="${study.study}"]`);
      assert.equal(await row.locator('.patient-name').textContent(), study.patient!.name ?? null);
      assert.equal(await row.locator('.patient-id').textContent(), `ID ${study.patient!.id}`);
      const sexAge = `${study.patient!.sex} ${Number(study.patient!.age!.slice(0, 3))}y`;
      assert.equal(await row.locator('.patient-sex-age').textContent(), sexAge);
      if (study.accessionNumber)
        assert.equal(await row.locator('.accession').textContent(), `Acc ${study.accessionNumber}`);
      if (study.studyDate)
        assert.match((await row.locator('.study-date').textContent()) ?? '', new RegExp(study.studyDate));
    }
    const chosen = phantomStudies[1];
    await page.locator(`[role="option"][data-study="${chosen.study}"]`).click();
    await page.waitForFunction(
      (name) => document.querySelector('.header-name')?.textContent === name,
      chosen.patient!.name,
    );
    const header = (await page.locator('#study-header').textContent()) ?? '';
    assert.ok(header.includes(`ID ${chosen.patient!.id}`), header);
    assert.ok(header.includes(`Acc ${chosen.accessionNumber}`), header);
    assert.ok(header.includes(chosen.studyDate!), header);
    if (SCREENSHOTS_OUTSIDE) {
      mkdirSync(SCREENSHOTS_OUTSIDE, { recursive: true });
      await page.screenshot({ path: join(SCREENSHOTS_OUTSIDE, 'worklist-patients.png') });
    }
    await shot('worklist-patients');

    const rowsNow = () =>
      page
        .locator('[role="option"][data-study]')
        .evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.study));
    for (const query of [chosen.patient!.id!, chosen.accessionNumber!.toLowerCase()]) {
      await page.locator('.search').fill(query);
      assert.deepEqual(await rowsNow(), [chosen.study], query);
    }
    // By name: "PHANTOM, N" as shown (a reason that mentions phantoms does not match "phantom,").
    await page.locator('.search').fill('Phantom,');
    assert.deepEqual(
      await rowsNow(),
      worklist.studies.filter((s) => s.patient?.name?.startsWith('PHANTOM')).map((s) => s.study),
      'every phantom patient, in the worklist’s order',
    );
    await page.locator('.search').fill('');
    assert.equal(await page.locator('[role="option"][data-study]').count(), worklist.studies.length);
  });

  test('a file dropped on the window is scanned into the worklist; its padding shows black', async () => {
    // A phantom of its own (MONOCHROME1 with pixel padding), drawn by the phantom generator.
    const phantom = generatePhantom(777, 0, { size: 320, photometric: 'MONOCHROME1', padding: true, with: ['nodule'] });
    writeFileSync(join(dropFolder, 'dropped.dcm'), encodePhantomDicom(phantom));
    const count = await page.locator('[role="option"][data-study]').count();
    await page.evaluate(() => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([new Uint8Array([0])], 'dropped.dcm'));
      document.body.dispatchEvent(new DragEvent('dragenter', { dataTransfer: transfer, bubbles: true }));
      document.body.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
    });
    await page.waitForFunction((n) => document.querySelectorAll('[role="option"][data-study]').length === n + 1, count);
    const row = page.locator('[role="option"]', { hasText: 'dropped.dcm' });
    await row.click();
    const file = join(dropFolder, 'dropped.dcm');
    await page.waitForFunction((f) => document.getElementById('viewport')?.dataset.file === f, file);
    await page.keyboard.press('h');
    await page.waitForFunction(() => (document.getElementById('viewport')?.dataset.heatmap ?? '') === '');
    const radiograph = await readRadiograph(file);
    assert.ok(radiograph.padding, 'the phantom has padding');
    const expected = renderDisplay(radiograph);
    const samples = await canvasSamples(3);
    let paddingSamples = 0;
    let paddingBlack = 0;
    for (const [, , px, py, r] of samples.points) {
      if (px < 0 || py < 0 || px >= radiograph.columns || py >= radiograph.rows) continue;
      const i = Math.floor(py) * radiograph.columns + Math.floor(px);
      if (!radiograph.padding![i]) continue;
      // Away from the padding's edge, where smoothing blends in the image.
      const inside = [-2, 2].every(
        (d) =>
          radiograph.padding![
            Math.min(radiograph.rows - 1, Math.max(0, Math.floor(py) + d)) * radiograph.columns + Math.floor(px)
          ],
      );
      if (!inside) continue;
      paddingSamples++;
      if (r <= 2 && expected.pixels[i] === 0) paddingBlack++;
    }
    assert.ok(paddingSamples > 50, `padding visible on the canvas (${paddingSamples} samples)`);
    assert.equal(paddingBlack, paddingSamples, 'padding is black, as the engine renders it');
    await page.keyboard.press('h');
  });

  test('the page scans only what the user gave it: other paths and network paths are refused', async () => {
    const attempt = (paths: string[]) =>
      page.evaluate(
        (list) =>
          (window as unknown as { triage: TriageApi }).triage.invoke('scan.start', { paths: list }).then(
            () => 'accepted',
            (error: Error) => error.message,
          ),
        paths,
      );
    assert.match(await attempt([database]), /^PATH_NOT_GRANTED: /, 'a file the user never opened');
    assert.match(await attempt([String.raw`\\attacker\share\x.dcm`]), /^PATH_NOT_LOCAL: /);
    assert.match(await attempt(['/net/attacker/export/x.dcm']), /^PATH_NOT_LOCAL: /);
    assert.equal(await attempt([join(dropFolder, 'dropped.dcm')]), 'accepted', 'the dropped file is the user’s');
    // A file that appeared in the opened folder since its scan: not stored, but inside the grant.
    const later = join(folder.dir, 'views', 'later.dcm');
    copyFileSync(folder.phantoms[0], later);
    assert.equal(await attempt([later]), 'accepted', 'inside the folder the dialog opened');
  });

  test('a file that changed since its analysis shows so instead of pixels; “Analyse again” brings the new result', async () => {
    const file = target.file;
    const lit = () =>
      page.evaluate(() => {
        const canvas = document.querySelector<HTMLCanvasElement>('#viewport canvas');
        if (!canvas || canvas.width === 0) return 0;
        const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
        let count = 0;
        for (let i = 0; i < data.length; i += 4) if (data[i] + data[i + 1] + data[i + 2] > 0) count++;
        return count;
      });
    // Another study's radiograph on the canvas first.
    const other = worklist.studies.find(
      (s) => s.study !== target.study && s.images.length === 1 && s.images[0].status === 'ok',
    )!;
    await page.locator(`[role="option"][data-study="${other.study}"]`).click();
    await page.waitForFunction((f) => document.getElementById('viewport')?.dataset.file === f, other.images[0].file);
    await settle();
    assert.ok((await lit()) > 1000, 'the other radiograph is drawn');

    // The file changes on disk (its bottom quarter blacked out; the same study, new content).
    const bytes = readFileSync(file);
    const band = Math.floor((bytes.length * 0.2) / 2) * 2;
    bytes.fill(0, bytes.length - band);
    writeFileSync(file, bytes);
    // The engine answers image.render with FILE_CHANGED (the content's hash is not the stored
    // result's); the bridge only counts the scans and heatmap requests the window makes.
    const handlers = backend.handlers;
    const scanStart = handlers['scan.start'];
    const heatmap = handlers['heatmap.get'];
    const scans: string[][] = [];
    let heatmaps = 0;
    handlers['scan.start'] = async (request) => {
      scans.push(request.paths);
      return scanStart(request);
    };
    handlers['heatmap.get'] = async (request) => {
      if (request.file === file) heatmaps++;
      return heatmap(request);
    };
    try {
      await page.locator(`[role="option"][data-study="${target.study}"]`).click();
      const card = page.locator('.viewer-state.file-changed');
      await card.waitFor({ state: 'visible' });
      assert.match((await card.textContent()) ?? '', /The file changed since it was analysed/);
      assert.match((await card.textContent()) ?? '', /its pixels are not shown under the old findings/);
      assert.equal(await page.locator('#viewport').getAttribute('data-file'), null);
      await settle();
      assert.equal(await lit(), 0, 'no pixels of the other radiograph under these findings');
      // cornerstone draws its last image again on a resize: it must have none left to draw.
      await page.setViewportSize({ width: 1500, height: 900 });
      await settle();
      await page.setViewportSize({ width: 1600, height: 960 });
      await settle();
      assert.equal(await lit(), 0, 'still none after a resize');
      assert.ok((await page.locator('[role="treeitem"]').count()) > 0, 'the stored findings stay readable');
      assert.equal(heatmaps, 0, 'no heatmap is fetched for pixels not shown');
      await shot('file-changed');

      // Analyse again, from a window that was never granted the file: it is in the store.
      bridge.forgetGrants();
      await page.getByRole('button', { name: 'Analyse again' }).click();
      await page.waitForFunction((f) => document.getElementById('viewport')?.dataset.file === f, file);
      assert.deepEqual(scans, [[file]], 'scan.start with that one file');
      assert.ok(await card.isHidden(), 'the state is gone with the new result');
      // The canvas shows the file as it is now: the engine's rendering of the new content.
      await page.keyboard.press('h');
      await page.waitForFunction(() => (document.getElementById('viewport')?.dataset.heatmap ?? '') === '');
      await page.evaluate(() => {
        const element = document.getElementById('viewport')!;
        const viewport = cornerstone.getViewport(element)!;
        viewport.pixelReplication = true;
        cornerstone.setViewport(element, viewport);
      });
      const radiograph = await readRadiograph(file);
      const expected = renderDisplay(radiograph);
      const differences: number[] = [];
      for (const [, , px, py, r] of (await canvasSamples(3)).points) {
        if (px < 0 || py < 0 || px >= radiograph.columns || py >= radiograph.rows) continue;
        if (Math.abs(px - Math.round(px)) < 0.15 || Math.abs(py - Math.round(py)) < 0.15) continue;
        differences.push(Math.abs(r - expected.pixels[Math.floor(py) * radiograph.columns + Math.floor(px)]));
      }
      const mean = differences.reduce((a, b) => a + b, 0) / differences.length;
      assert.ok(differences.length > 5000 && mean < 1, `the new pixels (mean |canvas - engine| ${mean.toFixed(3)})`);
      await page.keyboard.press('h');
    } finally {
      handlers['scan.start'] = scanStart;
      handlers['heatmap.get'] = heatmap;
    }
  });

  test('nothing left the page: every request went to the app’s own origin; no CSP violation, no error', async () => {
    const foreign = requests.filter((url) => !url.startsWith(`${server.origin}/`));
    assert.deepEqual(foreign, []);
    assert.ok(requests.some((url) => url.endsWith('/app.js')));
    const violations = await page.evaluate(() => (window as unknown as { __cspViolations: string[] }).__cspViolations);
    assert.deepEqual(violations, []);
    assert.deepEqual(consoleErrors, []);
    // Chromium checks the security headers as it reads them: a policy it does not understand is a warning.
    assert.deepEqual(
      consoleWarnings.filter((text) => /Permissions-Policy|Content-Security-Policy/i.test(text)),
      [],
    );
  });
});
