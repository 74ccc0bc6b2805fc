// How this machine's Chromium is started headless, for the browser tests and the read benchmark.
// Without the background-networking flags Chromium keeps trying to reach Google's hosts, which a
// closed network refuses.
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
