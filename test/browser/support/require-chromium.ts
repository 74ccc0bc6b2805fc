// Fails the browser tests at once, with how to install Chromium, when there is none: they never pass by skipping.
import { findChromium } from './chromium.js';

export function setup(): void {
  const path = findChromium();
  process.stderr.write(`browser tests use ${path}\n`);
}
