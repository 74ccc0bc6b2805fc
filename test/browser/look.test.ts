// Issue 13, "look rather than read": the volume chart, level colours, state in the address, the runs
// page and reading comfort, in headless Chromium against the real `view` process. Screenshots of the
// default view, the chart after a drag and the runs page are kept under test-output/screenshots/, and
// their pixels are checked for the colours of ERROR rows and bars.
import { mkdirSync, writeFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { schemaSql } from '../../src/write/ddl.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { insertRows, createWideTable } from '../support/seed.js';
import { startViewerProcess, type RunningViewer } from '../support/viewer.js';
import { launchChromium, type Browser } from './support/chromium.js';
import { closeAll, shownIds as rowIds } from './support/rows.js';
import { countColour, decodePng, type Rgb } from './support/png.js';

const SCREENSHOTS = new URL('../../test-output/screenshots/', import.meta.url);

/** Light-mode colours of viewer.css. */
const ERROR_BAR: Rgb = [208, 28, 28];
const ERROR_ROW: Rgb = [255, 227, 227];
const INFO_BAR: Rgb = [138, 166, 138];

const STACK_TRACE =
  'render crashed\nTraceback (most recent call last):\n  File "render.py", line 12\nRuntimeError: out of memory';

// 1,200 rows 1.5 s apart from 09:00:01.5 to 09:30:00: an error burst at rows 700-760 (09:17:30 to
// 09:19:00) with one CRITICAL (row 730, a stack trace), an ERROR every 97 rows and at row 1198,
// a WARNING every 50. render runs on gpu-1, u2net (every fourth row) on gpu-2; run 2 from row 401.
const LEVEL_SQL = `CASE WHEN i = 730 THEN 'CRITICAL'
  WHEN (i BETWEEN 700 AND 760 AND i % 2 = 0) OR i % 97 = 0 OR i = 1198 THEN 'ERROR'
  WHEN i % 50 = 0 THEN 'WARNING' WHEN i % 3 = 0 THEN 'DEBUG' ELSE 'INFO' END`;
const SEED_SQL = `
  INSERT INTO log (run_number, application_name, open_clone_log, "timestamp", message, tags, level, machine_name, ip_address, record)
  SELECT CASE WHEN i <= 400 THEN 1 ELSE 2 END, CASE WHEN i % 4 = 0 THEN 'u2net' ELSE 'render' END, true,
         timestamptz '2026-11-28 09:00:00+00' + i * interval '1.5 seconds',
         CASE WHEN i = 730 THEN $trace$${STACK_TRACE}$trace$ ELSE 'message number ' || i END, '', ${LEVEL_SQL},
         CASE WHEN i % 4 = 0 THEN 'gpu-2' ELSE 'gpu-1' END, '10.0.0.5',
         json_build_object('seq', i, 'user', 'u' || (i % 7))
    FROM generate_series(1, 1200) AS i`;
// render's run 1 ended cleanly, its run 2 crashed; u2net's run 1 ended cleanly, its run 2 has no end.
const RUNS_SQL = `
  INSERT INTO log_runs (application_name, machine_name, run_number, run_key, started_at, ended_at, ended_cleanly) VALUES
    ('render', 'gpu-1', 1, 'k1', '2026-11-28 09:00:00+00', '2026-11-28 09:10:01+00', true),
    ('render', 'gpu-1', 2, 'k2', '2026-11-28 09:10:01+00', '2026-11-28 09:30:05+00', false),
    ('u2net', 'gpu-2', 1, 'k3', '2026-11-28 09:00:00+00', '2026-11-28 09:10:01+00', true),
    ('u2net', 'gpu-2', 2, 'k4', '2026-11-28 09:10:01+00', NULL, NULL)`;

let db: TestDatabase;
let viewer: RunningViewer;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  db = await createTestDatabase('look');
  await db.query(schemaSql({ schema: 'public', table: 'log' }));
  await db.query(SEED_SQL);
  await db.query(RUNS_SQL);
  viewer = await startViewerProcess(db.url);
  browser = await launchChromium();
});
afterAll(() => closeAll({ browser, viewer, db }));

beforeEach(async () => {
  page = await browser.context.newPage();
  await page.setViewportSize({ width: 1280, height: 900 });
});
afterEach(async () => {
  await page.close();
});

const shownIds = () => rowIds(page);

/** The page is loaded, its rows shown and its chart drawn for the current filters. */
async function settled(): Promise<void> {
  await expect.poll(async () => (await shownIds()).length, { timeout: 10_000 }).toBeGreaterThan(0);
  await expect.poll(() => page.locator('#volume').getAttribute('data-drawn'), { timeout: 10_000 }).not.toBeNull();
}

async function open(path = ''): Promise<void> {
  await page.goto(new URL(path, viewer.url).toString());
  await settled();
}

/** The totals above the chart, e.g. { ERROR: '43', ... }. */
async function totals(): Promise<Record<string, string>> {
  const items = await page.locator('#volume .totals .total').allTextContents();
  return Object.fromEntries(items.map((text) => text.split(' ') as [string, string]));
}

async function screenshot(name: string): Promise<Buffer> {
  const png = await page.screenshot({ fullPage: false });
  writeFileSync(new URL(name, SCREENSHOTS), png);
  return png;
}

/** The chart's box on the page. */
async function chartBox(): Promise<{ x: number; y: number; width: number; height: number }> {
  const box = await page.locator('#volume svg').boundingBox();
  if (!box) throw new Error('no chart on the page');
  return box;
}

const backgroundOf = (selector: string) =>
  page
    .locator(selector)
    .first()
    .evaluate((element) => {
      type Window = { getComputedStyle(element: unknown): { backgroundColor: string } };
      return (globalThis as unknown as Window).getComputedStyle(element).backgroundColor;
    });

describe('the volume chart', () => {
  it('shows rows per time bucket stacked by level, with the totals of each level', async () => {
    await open();
    const shown = await totals();
    expect(Object.keys(shown)).toEqual(['CRITICAL', 'ERROR', 'WARNING', 'INFO', 'DEBUG']);
    expect(shown).toMatchObject({ CRITICAL: '1', ERROR: '43', WARNING: '22' });
    // 09:00:01.5 to 09:30:00 in 15-second buckets: 121 bars.
    expect(await page.locator('#volume').getAttribute('data-bucket-ms')).toBe('15000');
    expect(await page.locator('#volume svg g.bar').count()).toBe(121);
    expect(await page.locator('#volume svg .segment[data-level="ERROR"]').count()).toBeGreaterThan(5);
    const fill = await page
      .locator('#volume svg .segment[data-level="ERROR"]')
      .first()
      .evaluate((element) => {
        type Window = { getComputedStyle(element: unknown): { fill: string } };
        return (globalThis as unknown as Window).getComputedStyle(element).fill;
      });
    expect(fill).toBe(`rgb(${ERROR_BAR.join(', ')})`);
  });

  it('keeps a PNG of the default view, in which ERROR rows and bars are coloured', async () => {
    await open();
    const image = decodePng(await screenshot('default-view.png'));
    expect(countColour(image, ERROR_BAR, 12)).toBeGreaterThan(100); // the error burst's bars
    expect(countColour(image, ERROR_ROW, 4)).toBeGreaterThan(5_000); // row 1198, tinted across the page
    expect(countColour(image, INFO_BAR, 12)).toBeGreaterThan(1_000);
  });

  it('follows every filter', async () => {
    await open();
    await page.selectOption('#level', 'ERROR');
    await expect.poll(totals).toEqual({ CRITICAL: '1', ERROR: '43' });
    await page.uncheck('#applications input[value="render"]');
    await expect.poll(totals).toEqual({ ERROR: '19' });
  });

  it('sets the time range by a drag across it, and keeps a PNG of the chart after the drag', async () => {
    await open();
    const box = await chartBox();
    // From the 70th to the 80th bar (09:17:30 to 09:20:00): the error burst.
    const x = (bar: number) => box.x + (bar / 121) * box.width;
    await page.mouse.move(x(70) + 2, box.y + 40);
    await page.mouse.down();
    await page.mouse.move(x(75), box.y + 40, { steps: 4 });
    await page.mouse.move(x(80) - 2, box.y + 40, { steps: 4 });
    await page.mouse.up();
    await expect.poll(() => page.inputValue('#from')).toBe('2026-11-28T09:17:30');
    expect(await page.inputValue('#to')).toBe('2026-11-28T09:19:59.999');
    // Rows 700 (09:17:30) to 799 (09:19:58.5), newest first.
    await expect.poll(shownIds).toEqual(Array.from({ length: 100 }, (_, index) => 799 - index));
    await expect.poll(() => page.locator('#volume').getAttribute('data-bucket-ms')).toBe('2000');
    const image = decodePng(await screenshot('chart-after-drag.png'));
    expect(countColour(image, ERROR_BAR, 12)).toBeGreaterThan(1_000);
    expect(countColour(image, ERROR_ROW, 4)).toBeGreaterThan(5_000);
  });

  it('jumps to the rows of a bar that is clicked', async () => {
    await open();
    const box = await chartBox();
    // Bar 70: 09:17:30 to 09:17:45, rows 700 to 709.
    await page.mouse.click(box.x + (70.5 / 121) * box.width, box.y + 80);
    await expect.poll(async () => (await shownIds())[0]).toBe(709);
    expect(await page.locator('#rows tbody tr.target').getAttribute('data-id')).toBe('709');
  });

  // Last of the chart's tests: it adds a row.
  it('is updated by live tail', async () => {
    await open();
    await page.check('#live');
    await insertRows(db.url, [{ message: 'late failure', level: 'ERROR', time: '2026-11-28T09:30:01Z', run: 2 }]);
    await expect.poll(async () => (await totals()).ERROR, { timeout: 10_000 }).toBe('44');
    await db.query(`DELETE FROM log WHERE message = 'late failure'`);
  });
});

describe('levels', () => {
  it('colour every row by its level: WARNING and above stand out from INFO', async () => {
    await open();
    expect(await backgroundOf('#rows tr[data-id="1198"]')).toBe(`rgb(${ERROR_ROW.join(', ')})`);
    expect(await backgroundOf('#rows tr[data-id="1199"]')).toBe('rgba(0, 0, 0, 0)');
    expect(await backgroundOf('#rows tr[data-id="1150"]')).toBe('rgb(255, 246, 224)');
    expect(await page.locator('#rows tr[data-id="1198"] td.level').getAttribute('class')).toContain('level-ERROR');
  });

  it('make a CRITICAL row impossible to miss among INFO rows', async () => {
    await open();
    await page.fill('#goto', '740');
    await page.click('#goto-button');
    await expect.poll(async () => (await shownIds())[0]).toBe(740);
    expect(await backgroundOf('#rows tr[data-id="730"]')).toBe('rgb(255, 201, 201)');
    expect(await backgroundOf('#rows tr[data-id="730"] td.level')).toBe('rgb(204, 0, 0)');
  });
});

describe('the address', () => {
  const query = () => new URL(page.url()).search;

  it('opens the view it names: filters, applications, order', async () => {
    await open('/?level=ERROR&application=u2net&order=asc');
    expect(await page.inputValue('#level')).toBe('ERROR');
    await expect.poll(() => page.isChecked('#applications input[value="render"]')).toBe(false);
    expect(await page.isChecked('#applications input[value="u2net"]')).toBe(true);
    expect(await page.locator('#order').textContent()).toBe('Oldest first');
    const ids = await shownIds();
    expect(ids[0]).toBe(388);
    expect(ids).toHaveLength(19);
    await expect.poll(totals).toEqual({ ERROR: '19' });
  });

  it('follows every change, and back and forward step through the views', async () => {
    await open();
    expect(query()).toBe('');
    await page.selectOption('#level', 'WARNING');
    await expect.poll(query).toBe('?level=WARNING');
    await page.fill('#machine', 'gpu-2');
    await expect.poll(query).toBe('?level=WARNING&machine=gpu-2');
    await expect.poll(async () => (await shownIds()).length).toBe(30); // u2net's 19 ERROR and 11 WARNING rows
    await page.goBack();
    await expect.poll(() => page.inputValue('#machine')).toBe('');
    expect(await page.inputValue('#level')).toBe('WARNING');
    await expect.poll(async () => (await shownIds()).length).toBe(66);
    await page.goBack();
    await expect.poll(() => page.inputValue('#level')).toBe('');
    await page.goForward();
    await expect.poll(() => page.inputValue('#level')).toBe('WARNING');
    await expect.poll(async () => (await shownIds()).length).toBe(66);
  });

  it('keeps the time range chosen on the chart and the selected row: a pasted link shows them', async () => {
    await open('/?since=2026-11-28T09:17:30&until=2026-11-28T09:19:59.999');
    await expect.poll(async () => (await shownIds())[0]).toBe(799);
    await page.click('#rows tbody tr[data-id="730"] td.id');
    await page.keyboard.press('Escape');
    await expect.poll(query).toBe('?since=2026-11-28T09%3A17%3A30&until=2026-11-28T09%3A19%3A59.999&row=730');
    const link = page.url();
    await page.goto('about:blank');
    await page.goto(link);
    await expect.poll(() => page.locator('#rows tbody tr.selected').getAttribute('data-id')).toBe('730');
    expect(await page.inputValue('#from')).toBe('2026-11-28T09:17:30');
    await expect.poll(() => page.locator('#volume').getAttribute('data-bucket-ms')).toBe('2000');
  });
});

describe('the runs page', () => {
  const cells = (run: string, selector: string) =>
    page.locator(`#runs-table tr[data-run="${run}"] ${selector}`).first().textContent();
  const listed = () =>
    page
      .locator('#runs-table tbody tr')
      .evaluateAll((rows) => rows.map((row) => (row as unknown as { dataset: { run: string } }).dataset.run));

  async function openRuns(): Promise<void> {
    await page.goto(new URL('/runs', viewer.url).toString());
    await expect.poll(async () => (await listed()).length).toBe(4);
  }

  it('lists every run, crashed and unended first, with start, end, duration, rows per level and how it ended', async () => {
    await openRuns();
    expect(await listed()).toEqual(['render gpu-1 2', 'u2net gpu-2 2', 'u2net gpu-2 1', 'render gpu-1 1']);
    expect(await page.locator('#problem-summary').textContent()).toBe(
      '1 crashed run · 1 run with no end recorded (running, or killed): listed first.',
    );
    const crashed = 'render gpu-1 2';
    expect(await cells(crashed, 'td.ending')).toBe('crashed');
    expect(await cells(crashed, 'td.start')).toBe('2026-11-28 09:10:01');
    expect(await cells(crashed, 'td.end')).toBe('2026-11-28 09:30:05'); // from the runs table
    expect(await cells(crashed, 'td.duration')).toBe('20 min 04 s');
    expect(await cells(crashed, 'td.count')).toBe('600');
    expect(await cells(crashed, 'td[data-level="CRITICAL"]')).toBe('1');
    expect(await cells(crashed, 'td[data-level="ERROR"]')).toBe('21');
    expect(await cells('u2net gpu-2 2', 'td.ending')).toBe('no end');
    expect(await cells('render gpu-1 1', 'td.ending')).toBe('clean');
    expect(await backgroundOf(`#runs-table tr[data-run="${crashed}"]`)).toBe(`rgb(${ERROR_ROW.join(', ')})`);
  });

  it('shows only the runs that did not end cleanly when asked', async () => {
    await openRuns();
    await page.check('#problems');
    await expect.poll(listed).toEqual(['render gpu-1 2', 'u2net gpu-2 2']);
  });

  it("links to a run's rows and to its errors in the viewer", async () => {
    await openRuns();
    await page.click('#runs-table tr[data-run="render gpu-1 2"] td[data-level="ERROR"] a');
    await expect.poll(() => new URL(page.url()).search).toBe('?application=render&machine=gpu-1&run=2&level=ERROR');
    await settled();
    const ids = await shownIds();
    expect(ids).toHaveLength(22); // 21 ERROR and the CRITICAL row
    expect(ids[0]).toBe(1198);
    await page.goBack();
    await page.click('#runs-table tr[data-run="u2net gpu-2 1"] td.run a');
    await expect.poll(async () => (await shownIds())[0], { timeout: 10_000 }).toBe(400);
    expect(await page.isChecked('#applications input[value="render"]')).toBe(false);
  });

  it('keeps a PNG of the runs page, in which the crashed run and its errors are coloured', async () => {
    await openRuns();
    const image = decodePng(await screenshot('runs-page.png'));
    expect(countColour(image, ERROR_ROW, 4)).toBeGreaterThan(5_000);
    expect(countColour(image, ERROR_BAR, 40)).toBeGreaterThan(30); // the red "crashed" and error counts
  });
});

describe('reading comfort', () => {
  const selectedId = () => page.locator('#rows tbody tr.selected').getAttribute('data-id');

  it('shows relative times, with the exact time on hover', async () => {
    await open();
    const time = page.locator('#rows tr[data-id="1200"] td.time');
    expect(await time.locator('.ago').textContent()).toMatch(/^\d+ (d|mo) ago$/);
    expect(await time.locator('.clock').textContent()).toBe('11-28 09:30:00.000');
    expect(await time.getAttribute('title')).toBe('2026-11-28T09:30:00.000Z');
  });

  it('folds a multi-line message to its first line, with a toggle', async () => {
    await open('/?at=740');
    const message = page.locator('#rows tr[data-id="730"] td.message');
    expect(await message.locator('.text').textContent()).toBe('render crashed');
    expect(await message.locator('button.fold').textContent()).toBe('▸ 3 more lines');
    await message.locator('button.fold').click();
    expect(await message.locator('.text').textContent()).toBe(STACK_TRACE);
    expect(await page.locator('#details').isVisible()).toBe(false); // the toggle is not a click on the row
    await message.locator('button.fold').click();
    expect(await message.locator('.text').textContent()).toBe('render crashed');
  });

  it("shows a record's fields as a key/value table in the details", async () => {
    await open();
    await page.click('#rows tr[data-id="1198"] td.id');
    await expect.poll(() => page.locator('#details').isVisible()).toBe(true);
    const fields = await page
      .locator('#details-record-table tr')
      .evaluateAll((rows) => rows.map((row) => (row as unknown as { innerText: string }).innerText.split('\t')));
    expect(fields).toEqual([
      ['seq', '1198'],
      ['user', 'u1'],
    ]);
  });

  it('moves with j and k, opens the details with Enter and searches with /', async () => {
    await open();
    await page.keyboard.press('j');
    await expect.poll(selectedId).toBe('1200');
    await page.keyboard.press('j');
    await page.keyboard.press('j');
    await page.keyboard.press('k');
    await expect.poll(selectedId).toBe('1199');
    await expect.poll(() => new URL(page.url()).search).toBe('?row=1199');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#details-id').textContent()).toBe('#1199');
    await page.keyboard.press('Escape');
    await expect.poll(() => page.locator('#details').isVisible()).toBe(false);
    await page.keyboard.press('/');
    await page.keyboard.type('number 11');
    expect(await page.inputValue('#text')).toBe('number 11');
    await expect.poll(async () => (await shownIds())[0]).toBe(1199);
  });

  it('follows the system into dark mode', async () => {
    await page.emulateMedia({ colorScheme: 'dark' });
    await open();
    expect(await backgroundOf('body')).toBe('rgb(22, 22, 22)');
    expect(await backgroundOf('#rows tr[data-id="1198"]')).toBe('rgb(74, 21, 21)');
    expect(await backgroundOf('#rows tr[data-id="1199"]')).toBe('rgba(0, 0, 0, 0)');
    writeFileSync(new URL('default-view-dark.png', SCREENSHOTS), await page.screenshot());
  });
});

describe("the pages' own files", () => {
  it('load both pages with no script error and no Content-Security-Policy violation', async () => {
    const problems: string[] = [];
    // A failed load is checked by its address below (Chromium asks every site for /favicon.ico).
    page.on('console', (message) => {
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
        problems.push(message.text());
      }
    });
    page.on('response', (response) => {
      if (response.status() >= 400 && !response.url().endsWith('/favicon.ico')) problems.push(response.url());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    const external: string[] = [];
    page.on('request', (request) => {
      if (!request.url().startsWith(viewer.url)) external.push(request.url());
    });
    await open();
    await page.goto(new URL('/runs', viewer.url).toString());
    await expect.poll(() => page.locator('#runs-table tbody tr').count()).toBe(4);
    expect(problems).toEqual([]);
    expect(external).toEqual([]);
  });
});

describe('the volume chart of a table of more than 250,000 ids', () => {
  let wide: RunningViewer;

  beforeAll(async () => {
    await createWideTable(db, 'wide');
    wide = await startViewerProcess(db.url, '--schema', 'wide');
  });
  afterAll(() => wide?.cli.kill());

  it('is drawn part by part, newest first, until every row is counted', async () => {
    await page.goto(wide.url);
    await expect.poll(() => page.locator('#volume').getAttribute('data-drawn'), { timeout: 20_000 }).not.toBeNull();
    expect(await totals()).toEqual({ ERROR: '1', INFO: '2' });
    expect(await page.locator('#volume svg g.bar').count()).toBe(3);
    expect(await page.locator('#volume-note').textContent()).toBe('');
  });
});
