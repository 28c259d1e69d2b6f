/**
 * The validation report as a reader opens it: report.html from a file:// URL in Debian's Chromium
 * (playwright-core), every request but the document's aborted and counted. Chromium's own layout
 * is the reference: each finding's ROC plot is there and its operating point's marker (and each
 * member's) lies where the documented geometry puts (fpr, tpr) in the drawn plot, within 1.5 px;
 * the demo pack's banner is visible and red; nothing overflows at 1280 px, nor on A4 in print; a
 * hostile term stays text. A full-page screenshot goes to test-results/screenshots/ (and to
 * $TRIAGE_SCREENSHOTS/validation-report.png when set).
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { renderReport } from '../../main/validation/index.js';
import type { Evaluation } from '../../main/validation/index.js';
import { launchChromium } from '../support/chromium.js';
import { scratchDir } from '../support/tools.js';
import { fixtureEvaluation } from './fixture.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const SCREENSHOTS = [join(root, 'test-results', 'screenshots'), process.env.TRIAGE_SCREENSHOTS].filter(
  (dir): dir is string => typeof dir === 'string' && dir !== '',
);
const HOSTILE = '<img src=x onerror=alert(1)>';
const scratch = scratchDir('validation-report-e2e');

let browser: Browser;
let context: BrowserContext;

before(async () => {
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
});

after(async () => {
  await browser?.close();
  scratch.remove();
});

interface Opened {
  page: Page;
  /** Every request the page made but the document's own. */
  requests: string[];
  dialogs: string[];
}

/** Writes the report to a file and opens it, aborting (and counting) every other request. */
async function open(evaluation: Evaluation, name: string): Promise<Opened> {
  const path = join(scratch.path, name);
  writeFileSync(path, renderReport(evaluation));
  const url = pathToFileURL(path).href;
  const page = await context.newPage();
  const requests: string[] = [];
  const dialogs: string[] = [];
  page.on('request', (request) => {
    if (request.url() !== url) requests.push(request.url());
  });
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  await page.route('**/*', (route) => (route.request().url() === url ? route.continue() : route.abort()));
  await page.goto(url, { waitUntil: 'load' });
  return { page, requests, dialogs };
}

/** A value the page computes (the Node types have no DOM: the expression is the page's). */
async function inPage<T>(page: Page, expression: string): Promise<T> {
  return (await page.evaluate(expression)) as T;
}

test('the report loads nothing but itself, and every finding has its ROC plot', async () => {
  const evaluation = fixtureEvaluation();
  const { page, requests, dialogs } = await open(evaluation, 'report.html');
  assert.deepEqual(requests, []);
  assert.deepEqual(dialogs, []);
  assert.equal(await page.locator('script, img, link, iframe, object, embed').count(), 0);
  assert.equal(await page.locator('svg.roc').count(), evaluation.findings.length);
  for (const [i, finding] of evaluation.findings.entries()) {
    const svg = page.locator(`#finding-${i} svg.roc`);
    assert.ok(await svg.isVisible(), `${finding.term}'s plot`);
    assert.equal(await page.locator(`#finding-${i} h3`).innerText(), finding.term);
  }
  await page.close();
});

test("the operating point's marker sits at (fpr, tpr) of the documented geometry, and so do the members'", async () => {
  const evaluation = fixtureEvaluation();
  const { page } = await open(evaluation, 'report.html');
  // The documented geometry: in a 440 x 280 plot, x = 40 + fpr * 200, y = 240 - tpr * 200.
  const expectAt = async (
    selector: string,
    svgBox: { x: number; y: number; width: number; height: number },
    fpr: number,
    tpr: number,
  ) => {
    const box = await page.locator(selector).boundingBox();
    assert.ok(box, selector);
    const x = svgBox.x + ((40 + fpr * 200) * svgBox.width) / 440;
    const y = svgBox.y + ((240 - tpr * 200) * svgBox.height) / 280;
    const cx = box.x + box.width / 2;
    const cy = box.y + box.height / 2;
    assert.ok(Math.abs(cx - x) <= 1.5 && Math.abs(cy - y) <= 1.5, `${selector}: (${cx}, ${cy}) against (${x}, ${y})`);
  };
  for (const [i, finding] of evaluation.findings.entries()) {
    const svgBox = await page.locator(`#roc-${i}`).boundingBox();
    assert.ok(svgBox);
    assert.ok(Math.abs(svgBox.width - 440) < 0.5 && Math.abs(svgBox.height - 280) < 0.5, 'drawn at 1 px a unit');
    await expectAt(
      `#roc-${i} circle.operating-point:not(.legend-op)`,
      svgBox,
      finding.operatingPoint.fpr,
      finding.operatingPoint.tpr,
    );
    for (const [m, member] of finding.members.entries()) {
      const { tp, fp, fn, tn } = member.confusion;
      await expectAt(`#roc-${i} .member-point[data-member="${m}"]`, svgBox, fp / (fp + tn), tp / (tp + fn));
    }
    // The curve's ends at (0, 0) and (1, 1): the polyline's box spans the plot area.
    const curve = await page.locator(`#roc-${i} polyline.curve`).boundingBox();
    assert.ok(curve);
    assert.ok(Math.abs(curve.x - (svgBox.x + 40)) <= 1.5 && Math.abs(curve.y - (svgBox.y + 40)) <= 1.5);
    assert.ok(Math.abs(curve.x + curve.width - (svgBox.x + 240)) <= 1.5);
    assert.ok(Math.abs(curve.y + curve.height - (svgBox.y + 240)) <= 1.5);
  }
  await page.close();
});

test("a demonstration pack's banner is visible, first, and red", async () => {
  const { page } = await open(fixtureEvaluation(), 'report.html');
  const banner = page.locator('.banner');
  assert.ok(await banner.isVisible());
  assert.match(await banner.innerText(), /^NOT FOR CLINICAL USE — demonstration pack/);
  const box = await banner.boundingBox();
  assert.ok(box && box.y < 60 && box.width > 1000, 'across the top');
  const [background, color] = await inPage<[string, string]>(
    page,
    `(() => { const s = getComputedStyle(document.querySelector('.banner')); return [s.backgroundColor, s.color]; })()`,
  );
  const [r, g, b] = background.match(/\d+/g)!.map(Number);
  assert.ok(r >= 150 && g <= 60 && b <= 60, `red: ${background}`);
  assert.equal(color, 'rgb(255, 255, 255)');
  await page.close();

  const clinical = fixtureEvaluation();
  clinical.pack.demo = false;
  clinical.pack.notForClinicalUse = false;
  const other = await open(clinical, 'clinical.html');
  assert.equal(await other.page.locator('.banner').count(), 0);
  await other.page.close();
});

test('nothing overflows at 1280 px, nor on an A4 page in print', async () => {
  const { page } = await open(fixtureEvaluation(), 'report.html');
  // Every table, figure and code block ends inside the page's main column.
  const overflow = `(() => {
    const main = document.querySelector('main').getBoundingClientRect();
    const right = main.right - parseFloat(getComputedStyle(document.querySelector('main')).paddingRight);
    const out = [...document.querySelectorAll('table, svg, code, pre, dl, .banner')]
      .filter((el) => el.getBoundingClientRect().right > right + 0.5)
      .map((el) => el.tagName + '.' + el.getAttribute('class') + ' ' + Math.round(el.getBoundingClientRect().right));
    return { scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth, out };
  })()`;
  const wide = await inPage<{ scroll: number; client: number; out: string[] }>(page, overflow);
  assert.equal(wide.client, 1280);
  assert.ok(wide.scroll <= wide.client, `scrollWidth ${wide.scroll}`);
  assert.deepEqual(wide.out, []);
  if (SCREENSHOTS.length > 0) {
    const shot = await page.screenshot({ fullPage: true });
    for (const dir of SCREENSHOTS) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'validation-report.png'), shot);
    }
  }
  // A4 less the report's 12 mm margins: 186 mm = 703 CSS px.
  await page.emulateMedia({ media: 'print' });
  await page.setViewportSize({ width: 703, height: 1000 });
  const print = await inPage<{ scroll: number; client: number; out: string[] }>(page, overflow);
  assert.deepEqual(print.out, []);
  assert.ok(print.scroll <= print.client, `print scrollWidth ${print.scroll}`);
  await page.close();
});

test('a hostile term is shown as text: no element, no request, no dialog', async () => {
  const evaluation = fixtureEvaluation();
  evaluation.findings[0].term = HOSTILE;
  evaluation.subgroups.find((s) => s.attribute === 'manufacturer')!.value = '<svg onload=alert(2)>';
  evaluation.data.labels.file = `"><img src=y onerror=alert(3)>.csv`;
  const { page, requests, dialogs } = await open(evaluation, 'hostile.html');
  assert.deepEqual(requests, []);
  assert.deepEqual(dialogs, []);
  assert.equal(await page.locator('img').count(), 0);
  assert.equal(await page.locator('svg[onload]').count(), 0);
  assert.equal(await page.locator('#finding-0 h3').innerText(), HOSTILE);
  await page.close();
});
