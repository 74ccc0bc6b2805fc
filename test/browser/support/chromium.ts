/**
 * Debian's Chromium (or CHROMIUM_PATH), driven by playwright-core, with a fresh profile. Never a
 * browser that playwright downloads: this machine has no route to one, and CI installs Debian's.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { CHROMIUM_FLAGS } from '../../../support/chromium.mjs';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/** The browser to use, or an error that says how to get one. */
export function findChromium(env: Record<string, string | undefined> = process.env, candidates = CANDIDATES): string {
  const configured = env.CHROMIUM_PATH;
  if (configured) {
    if (existsSync(configured)) return configured;
    throw new Error(`CHROMIUM_PATH is ${configured}, which does not exist`);
  }
  const found = candidates.find((path) => existsSync(path));
  if (found) return found;
  throw new Error(
    `the browser tests need Chromium and found none at ${candidates.join(', ')}: install it with ` +
      '`apt-get install -y chromium` (Debian; `apt-get update` first), or set CHROMIUM_PATH to a Chromium binary',
  );
}

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'logweaver-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: findChromium(),
    headless: true,
    args: CHROMIUM_FLAGS,
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
