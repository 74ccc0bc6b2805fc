/** What the viewer's page shows, read in the page (the tests are compiled without the DOM's types). */
import type { Page } from 'playwright-core';

/** The log ids of the rows on the page, top to bottom. */
export function shownIds(page: Page): Promise<number[]> {
  type Row = { getAttribute(name: string): string | null };
  return page
    .locator('#rows tbody tr')
    .evaluateAll((rows) => rows.map((row) => Number((row as unknown as Row).getAttribute('data-id'))));
}

/** After a file's tests: the browser, the viewer process and the test database, in that order. */
export async function closeAll(parts: {
  browser: { close(): Promise<void> } | undefined;
  viewer: { cli: { kill(): void } } | undefined;
  db: { drop(): Promise<void> } | undefined;
}): Promise<void> {
  await parts.browser?.close();
  parts.viewer?.cli.kill();
  await parts.db?.drop();
}
