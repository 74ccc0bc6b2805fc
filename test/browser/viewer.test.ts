// The web log viewer in headless Chromium: what a person sees on the page, served by the real
// `logweaver-pino view` process from a real PostgreSQL table.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, it } from 'vitest';
import { schemaSql } from '../../src/write/ddl.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { insertRows, OPENCLONE_TABLE } from '../support/seed.js';
import { startViewerProcess, type RunningViewer } from '../support/viewer.js';
import { launchChromium, type Browser } from './support/chromium.js';
import { closeAll, shownIds as rowIds } from './support/rows.js';
import { imageEvents, PIXEL_DATA_URI, recordImageEvents, startBeacon, type Beacon } from './support/images.js';

interface ModelRow {
  id: number;
  application: string;
  machine: string;
  run: number;
  level: string;
  thirdParty: boolean;
  tags: string;
  message: string;
}

const GENERATED = 600;
const LEVELS = ['DEBUG', 'INFO', 'INFO', 'WARNING', 'ERROR'];
const HTML_MESSAGE = '<b>bold</b> and <img src="x:broken" onerror="window.pwned = true"> image';

/** Row i of the seed, exactly as GENERATE_SQL makes it (log_id = i). */
function generated(i: number): ModelRow {
  return {
    id: i,
    application: i % 3 === 0 ? 'u2net' : 'render',
    machine: i % 2 === 0 ? 'gpu-1' : 'gpu-2',
    run: i <= 300 ? 1 : 2,
    level: LEVELS[i % 5] as string,
    thirdParty: i % 10 === 0,
    tags: i % 7 === 0 ? 'seven' : '',
    message: `message number ${i}`,
  };
}

const GENERATE_SQL = `
  INSERT INTO log (run_number, application_name, open_clone_log, "timestamp", message, tags, level, machine_name, ip_address, record)
  SELECT CASE WHEN i <= 300 THEN 1 ELSE 2 END, CASE WHEN i % 3 = 0 THEN 'u2net' ELSE 'render' END, i % 10 <> 0,
         timestamptz '2026-11-28 09:00:00+00' + i * interval '1 second', 'message number ' || i,
         CASE WHEN i % 7 = 0 THEN 'seven' ELSE '' END, (ARRAY['DEBUG','INFO','INFO','WARNING','ERROR'])[i % 5 + 1],
         CASE WHEN i % 2 = 0 THEN 'gpu-1' ELSE 'gpu-2' END, '10.0.0.5', json_build_object('seq', i)
    FROM generate_series(1, ${GENERATED}) AS i`;

const special = (id: number, message: string): ModelRow => ({
  id,
  application: 'render',
  machine: 'gpu-1',
  run: 2,
  level: 'INFO',
  thirdParty: false,
  tags: '',
  message,
});
const MODEL: ModelRow[] = [
  ...Array.from({ length: GENERATED }, (_, index) => generated(index + 1)),
  special(601, HTML_MESSAGE),
  special(602, 'logged a minute ago'),
];

/** What the first page shows for a filter: the newest 250 matching rows. */
function firstPage(filter: (row: ModelRow) => boolean): number[] {
  return MODEL.filter(filter)
    .map((row) => row.id)
    .sort((a, b) => b - a)
    .slice(0, 250);
}

let db: TestDatabase;
let viewer: RunningViewer;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  db = await createTestDatabase('viewer');
  await db.query(schemaSql({ schema: 'public', table: 'log' }));
  await db.query(GENERATE_SQL);
  await insertRows(db.url, [
    { run: 2, message: HTML_MESSAGE, time: '2026-11-28T09:10:01Z' },
    { run: 2, message: 'logged a minute ago', time: new Date(Date.now() - 60_000).toISOString() },
  ]);
  viewer = await startViewerProcess(db.url);
  browser = await launchChromium();
  await recordImageEvents(browser.context);
});
afterAll(() => closeAll({ browser, viewer, db }));

beforeEach(async () => {
  page = await browser.context.newPage();
  await page.goto(viewer.url);
});
afterEach(async () => {
  await page.close();
});

const shownIds = () => rowIds(page);

async function expectShown(ids: number[]): Promise<void> {
  await expect.poll(shownIds, { timeout: 10_000 }).toEqual(ids);
}

const messageCell = (id: number) => page.locator(`#rows tbody tr[data-id="${id}"] td.message`);

describe('the log viewer', () => {
  it('shows the newest 250 rows, newest first', async () => {
    await expectShown(firstPage(() => true));
    await expect.poll(() => page.locator('#status').textContent()).toBe('250 rows · scroll for more');
    expect(await page.locator('#rows tbody tr[data-id="598"] td.level').textContent()).toBe('WARNING');
  });

  it('loads the next pages as the end of the list is scrolled into view', async () => {
    await expectShown(firstPage(() => true));
    await page.locator('#status').scrollIntoViewIfNeeded();
    await expect.poll(async () => (await shownIds()).length, { timeout: 10_000 }).toBe(500);
    await page.locator('#status').scrollIntoViewIfNeeded();
    await expect.poll(async () => (await shownIds()).length, { timeout: 10_000 }).toBe(602);
    expect(await shownIds()).toEqual(MODEL.map((row) => row.id).reverse());
    expect(await page.locator('#status').textContent()).toBe('602 rows · end of the log');
  });

  it.for<[string, (page: Page) => Promise<void>, (row: ModelRow) => boolean]>([
    [
      'level ERROR and above',
      async (p) => {
        await p.selectOption('#level', 'ERROR');
      },
      (row) => row.level === 'ERROR',
    ],
    ['text in the message', (p) => p.fill('#text', 'NUMBER 12'), (row) => row.message.includes('number 12')],
    ['a tag', (p) => p.fill('#tag', 'seven'), (row) => row.tags === 'seven'],
    ['a run number', (p) => p.fill('#run', '1'), (row) => row.run === 1],
    ['a machine', (p) => p.fill('#machine', 'gpu-2'), (row) => row.machine === 'gpu-2'],
    [
      'hiding an application',
      (p) => p.uncheck('#applications input[value="render"]'),
      (row) => row.application === 'u2net',
    ],
    ['hiding third-party rows', (p) => p.uncheck('#third-party'), (row) => !row.thirdParty],
    ['the last 5 minutes', (p) => p.fill('#minutes', '5'), (row) => row.id === 602],
    [
      'a time range',
      async (p) => {
        await p.fill('#from', '2026-11-28T09:05:00');
        await p.fill('#to', '2026-11-28T09:06:40');
      },
      (row) => row.id >= 300 && row.id <= 400,
    ],
  ])('narrows the rows by %s', async ([, act, filter]) => {
    await expectShown(firstPage(() => true));
    await act(page);
    await expectShown(firstPage(filter));
  });

  it('shows HTML in a message as text, and renders it only when asked', async () => {
    await expectShown(firstPage(() => true));
    expect(await messageCell(601).textContent()).toBe(HTML_MESSAGE);
    expect(await messageCell(601).locator('b, img').count()).toBe(0);
    await page.check('#render-html');
    await expect.poll(() => messageCell(601).locator('b').textContent()).toBe('bold');
    expect(await messageCell(601).locator('img').count()).toBe(1);
    // The image's error event is where a logged onerror= would run: once it has fired, the page's
    // Content-Security-Policy has kept the handler from running, or never will.
    await expect.poll(() => imageEvents(page)).toContain('error x:broken');
    expect(await page.evaluate(() => (globalThis as unknown as { pwned?: boolean }).pwned)).toBeUndefined();
  });

  it('goes to a log id', async () => {
    await expectShown(firstPage(() => true));
    await page.fill('#goto', '100');
    await page.click('#goto-button');
    await expectShown(Array.from({ length: 100 }, (_, index) => 100 - index));
    expect(await page.locator('#rows tbody tr.target').getAttribute('data-id')).toBe('100');
  });

  it('switches between newest first and oldest first', async () => {
    await expectShown(firstPage(() => true));
    await page.click('#order');
    await expectShown(Array.from({ length: 250 }, (_, index) => index + 1));
    expect(await page.locator('#order').textContent()).toBe('Oldest first');
  });

  it('shows the details of a row, with its record', async () => {
    await expectShown(firstPage(() => true));
    await page.fill('#goto', '5');
    await page.click('#goto-button');
    await expectShown([5, 4, 3, 2, 1]);
    await page.click('#rows tbody tr[data-id="5"]');
    await expect.poll(() => page.locator('#details').isVisible()).toBe(true);
    expect(await page.locator('#details-id').textContent()).toBe('#5');
    expect(await page.locator('#details dd[data-field="level"]').textContent()).toBe('DEBUG');
    expect(await page.locator('#details dd[data-field="machine_name"]').textContent()).toBe('gpu-2');
    expect(await page.locator('#details-message').textContent()).toBe('message number 5');
    expect(await page.locator('#details-record').textContent()).toBe('{\n  "seq": 5\n}');
  });

  it('jumps to a run', async () => {
    await expectShown(firstPage(() => true));
    await page.click('#runs');
    await expect.poll(() => page.locator('#runs option').count()).toBeGreaterThan(1);
    await page.selectOption('#runs', JSON.stringify(['u2net', 'gpu-2', 2]));
    await expectShown(firstPage((row) => row.application === 'u2net' && row.machine === 'gpu-2' && row.run === 2));
    expect(await page.isChecked('#applications input[value="render"]')).toBe(false);
  });

  it('shows a bad filter value as an error naming it', async () => {
    await expectShown(firstPage(() => true));
    await page.fill('#run', 'last');
    await expect
      .poll(() => page.locator('#error').textContent())
      .toBe('run must be a run number or "latest", got "last"');
  });

  // Last: it adds a row.
  it('with live tail on, shows a row logged after the page loaded, without a reload', async () => {
    await expectShown(firstPage(() => true));
    await page.check('#live');
    await page.evaluate(() => ((globalThis as unknown as { sameDocument?: boolean }).sameDocument = true));
    await insertRows(db.url, [{ message: 'appeared live', time: new Date().toISOString() }]);
    const started = Date.now();
    await expect.poll(async () => (await shownIds())[0], { timeout: 5_000 }).toBe(603);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await messageCell(603).textContent()).toBe('appeared live');
    expect(await page.evaluate(() => (globalThis as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
  });
});

describe('the log viewer on an OpenClone table', () => {
  let openclone: RunningViewer;

  beforeAll(async () => {
    await db.query(`CREATE SCHEMA openclone; SET search_path TO openclone; ${OPENCLONE_TABLE}`);
    await insertRows(
      db.url,
      [
        {
          application: 'SadTalker',
          machine: 'gpu-box',
          run: 7,
          message: 'talking head rendered',
          time: '2026-11-28T14:00:00Z',
        },
        {
          application: 'SadTalker',
          machine: 'gpu-box',
          run: 7,
          message: 'face not found',
          time: '2026-11-28T14:00:01Z',
          level: 'ERROR',
        },
      ],
      'openclone.log',
      false,
    );
    // A row far above the others: more than one scan window (100,000 ids) lies between them.
    await db.query(`INSERT INTO openclone.log (log_id, run_number, application_name, open_clone_log, "timestamp", message,
                      tags, level, machine_name, ip_address)
                    VALUES (300000, 8, 'SadTalker', true, '2026-11-28T15:00:00Z', 'far above', '', 'INFO', 'gpu-box', '10.0.0.5')`);
    openclone = await startViewerProcess(db.url, '--schema', 'openclone');
  });
  afterAll(() => openclone?.cli.kill());

  it('shows its rows, filters them and shows details without a record', async () => {
    await page.goto(openclone.url);
    await expectShown([300000, 2, 1]);
    // The volume chart too: 300,000 ids, counted in two parts on the primary key.
    const totals = () => page.locator('#volume .totals .total').allTextContents();
    await expect.poll(totals, { timeout: 10_000 }).toEqual(['ERROR 1', 'INFO 2']);
    await page.selectOption('#level', 'ERROR');
    await expect.poll(totals, { timeout: 10_000 }).toEqual(['ERROR 1']);
    await expectShown([2]);
    await page.click('#rows tbody tr[data-id="2"]');
    await expect.poll(() => page.locator('#details-message').textContent()).toBe('face not found');
    expect(await page.locator('#details-record').isVisible()).toBe(false);
  });

  it('goes on through empty windows of the table until it finds matching rows, without scrolling', async () => {
    await page.goto(openclone.url);
    await expectShown([300000, 2, 1]);
    await page.fill('#text', 'talking');
    await expectShown([1]);
    expect(await page.locator('#status').textContent()).toBe('1 row · end of the log');
  });
});

/**
 * Logged HTML that tries what a log line should never do to the page showing it: restyle it (a
 * <style>, a style= overlay), clobber its elements (ids the page uses), and report the reader to
 * another server (a remote <img>, the beacon). OpenClone's own kind of image, a data: URI, must load.
 */
function hostileHtml(beacon: string): string {
  return [
    '<style>body, header, #status { display: none !important; } p { color: rgb(255, 0, 0) !important; }</style>',
    '<p id="status">clobbered</p><span id="details-id">clobbered</span>',
    '<form id="filters"><input id="render-html" type="checkbox"></form>',
    '<span class="overlay" style="position: fixed; inset: 0; background: red">covering the page</span>',
    `<img id="error" src="${beacon}"><img src="${PIXEL_DATA_URI}">`,
  ].join('');
}

/** What the page's own elements are and look like (run in the page). */
const PAGE_LOOK = `(() => {
  const status = document.getElementById('status');
  const shown = (element) => getComputedStyle(element).display !== 'none';
  return {
    status: status.textContent,
    statusShown: shown(status),
    statusColor: getComputedStyle(status).color,
    headerShown: shown(document.querySelector('header')),
    bodyShown: shown(document.body),
    filtersIsThePageForm: document.getElementById('filters').contains(document.getElementById('minutes')),
    renderHtmlChecked: document.getElementById('render-html').checked,
    error: document.getElementById('error').tagName,
    documentImages: document.images.length,
  };
})()`;

const pageLook = () => page.evaluate<Record<string, unknown>>(PAGE_LOOK);

/** An element's computed position (run in the page; the tests are compiled without the DOM's types). */
function position(element: unknown): string {
  type Window = { getComputedStyle(element: unknown): { position: string } };
  return (globalThis as unknown as Window).getComputedStyle(element).position;
}

describe('logged HTML, rendered', () => {
  let beacon: Beacon;
  let hostile: RunningViewer;

  beforeAll(async () => {
    beacon = await startBeacon();
    await db.query(`CREATE SCHEMA hostile; ${schemaSql({ schema: 'hostile', table: 'log' })}`);
    await insertRows(db.url, [{ message: hostileHtml(beacon.url), time: '2026-11-28T09:00:00Z' }], 'hostile.log');
    hostile = await startViewerProcess(db.url, '--schema', 'hostile');
  });
  afterAll(async () => {
    hostile?.cli.kill();
    await beacon?.close();
  });

  it('can neither restyle nor clobber the page, and loads no remote image unless asked', async () => {
    await page.goto(hostile.url);
    await expectShown([1]);
    expect(await messageCell(1).locator('img').count()).toBe(0); // as text: no image at all
    const before = await pageLook();
    expect(before).toMatchObject({ status: '1 row · end of the log', statusColor: 'rgb(102, 102, 102)' });
    await page.check('#render-html');
    await expect
      .poll(() => imageEvents(page))
      .toEqual(expect.arrayContaining([`error ${beacon.url}`, `load ${PIXEL_DATA_URI}`]));
    expect(beacon.requests).toEqual([]);
    expect(await messageCell(1).locator('p').textContent()).toBe('clobbered');
    expect(await pageLook()).toEqual({ ...before, renderHtmlChecked: true });
    expect(await messageCell(1).locator('span.overlay').evaluate(position)).toBe('static');
    await expect.poll(() => page.locator('#applications input').count()).toBe(1); // /api/meta answered
    expect(await page.locator('#remote-images-note').textContent()).toBe(
      'images from other servers are blocked (view --remote-images)',
    );
    expect(await page.locator('#remote-images-note').isVisible()).toBe(true);
  });

  it("shows the details of such a row in the page's own dialog", async () => {
    await page.goto(hostile.url);
    await expectShown([1]);
    await page.check('#render-html');
    await page.click('#rows tbody tr[data-id="1"] td.id');
    await expect.poll(() => page.locator('#details').isVisible()).toBe(true);
    expect(await page.locator('#details h2').textContent()).toBe('Log row #1');
    expect(await page.locator('#details-message p').textContent()).toBe('clobbered');
    expect(beacon.requests).toEqual([]);
  });

  describe('with view --remote-images', () => {
    let remote: RunningViewer;

    beforeAll(async () => {
      remote = await startViewerProcess(db.url, '--schema', 'hostile', '--remote-images');
    });
    afterAll(() => remote?.cli.kill());

    it('loads remote images once Render HTML is ticked, and still keeps the page its own', async () => {
      await page.goto(remote.url);
      await expectShown([1]);
      const before = await pageLook();
      expect(beacon.requests).toEqual([]); // shown as text: no image element asked for it
      await page.check('#render-html');
      await beacon.requested();
      await expect.poll(() => imageEvents(page)).toEqual(expect.arrayContaining([`load ${beacon.url}`]));
      expect(await pageLook()).toEqual({ ...before, renderHtmlChecked: true });
      await expect.poll(() => page.locator('#applications input').count()).toBe(1); // /api/meta answered
      expect(await page.locator('#remote-images-note').isVisible()).toBe(false);
    });
  });
});
