/**
 * For tests of logged HTML: which images a page loaded or failed to load (an event each, waited
 * for, instead of guessing when it has fired), and a "remote" server whose every request is seen.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BrowserContext, Page } from 'playwright-core';

/** A 1×1 PNG, as the beacon serves it and as a data: URI in a logged <img>. */
const PIXEL_BASE64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
export const PIXEL_DATA_URI = `data:image/png;base64,${PIXEL_BASE64}`;

/**
 * Page script, run before the page's own: records "load SRC" or "error SRC" for every <img>, also
 * inside shadow roots, whose load and error events never reach the document (they are not composed).
 */
const RECORD_IMAGE_EVENTS = `(() => {
  const events = (window.imageEvents = []);
  const record = (event) => {
    if (event.target instanceof HTMLImageElement) events.push(event.type + ' ' + event.target.getAttribute('src'));
  };
  const listen = (node) => {
    node.addEventListener('load', record, true);
    node.addEventListener('error', record, true);
  };
  listen(document);
  const attachShadow = Element.prototype.attachShadow;
  Element.prototype.attachShadow = function (init) {
    const root = attachShadow.call(this, init);
    listen(root);
    return root;
  };
})();`;

export async function recordImageEvents(context: BrowserContext): Promise<void> {
  await context.addInitScript({ content: RECORD_IMAGE_EVENTS });
}

/** The image events of the page so far, in order. */
export function imageEvents(page: Page): Promise<string[]> {
  return page.evaluate<string[]>('window.imageEvents');
}

export interface Beacon {
  /** http://127.0.0.1:PORT/beacon: another origin than the viewer's. */
  url: string;
  /** The paths requested so far. */
  requests: string[];
  /** Resolves at the first request (at once if there was one). */
  requested(): Promise<void>;
  close(): Promise<void>;
}

export async function startBeacon(): Promise<Beacon> {
  const requests: string[] = [];
  const waiting: (() => void)[] = [];
  const server = createServer((request, response) => {
    requests.push(request.url ?? '');
    for (const wake of waiting.splice(0)) wake();
    // no-store: every page that loads it is seen, not just the first.
    response.writeHead(200, { 'Content-Type': 'image/png', 'Cache-Control': 'no-store' });
    response.end(Buffer.from(PIXEL_BASE64, 'base64'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/beacon`,
    requests,
    requested: () => (requests.length > 0 ? Promise.resolve() : new Promise((resolve) => waiting.push(resolve))),
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
