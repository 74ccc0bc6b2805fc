// The browser tests never pass by skipping: without a Chromium they fail, saying how to get one.
import { describe, expect, it } from 'vitest';
import { findChromium } from './browser/support/chromium.js';

describe('finding Chromium for npm run test:browser', () => {
  it('says how to install it when there is none', () => {
    expect(() => findChromium({}, ['/nonexistent/chromium'])).toThrow(
      'the browser tests need Chromium and found none at /nonexistent/chromium: install it with ' +
        '`apt-get install -y chromium` (Debian; `apt-get update` first), or set CHROMIUM_PATH to a Chromium binary',
    );
  });

  it('takes CHROMIUM_PATH first, and says when it names nothing', () => {
    expect(findChromium({ CHROMIUM_PATH: process.execPath }, [])).toBe(process.execPath);
    expect(() => findChromium({ CHROMIUM_PATH: '/nonexistent/chrome' })).toThrow(
      'CHROMIUM_PATH is /nonexistent/chrome, which does not exist',
    );
  });
});
