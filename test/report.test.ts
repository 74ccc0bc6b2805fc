// The reporter (issue 14 B): repeats of a message are rate-limited, and what it remembers to do that
// stays bounded when every message is different (a per-record text such as a size or a row's start).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it, vi } from 'vitest';
import { createReporter, type ReportLevel } from '../src/report.js';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

function heapAfterCollection(): number {
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

function collectingSink() {
  const shown: Array<[ReportLevel, string]> = [];
  return { shown, sink: (level: ReportLevel, text: string) => void shown.push([level, text]) };
}

describe('createReporter', () => {
  it('shows a message once per interval, then again with the count of repeats it held back', () => {
    vi.useFakeTimers({ now: new Date('2026-11-28T12:00:00Z') });
    try {
      const { shown, sink } = collectingSink();
      const reporter = createReporter(sink, 30_000);
      for (let count = 0; count < 5; count++) reporter.error('the database connection failed');
      vi.setSystemTime(new Date('2026-11-28T12:00:31Z'));
      reporter.error('the database connection failed');
      expect(shown).toEqual([
        ['error', 'the database connection failed'],
        ['error', 'the database connection failed (repeated 4 more times)'],
      ]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('issue 14 B: messages that all differ do not make it hold more and more memory', () => {
    let shown = 0;
    const reporter = createReporter(() => shown++, 60_000);
    const before = heapAfterCollection();
    for (let record = 0; record < 100_000; record++) reporter.warn(`a record of ${record} bytes`.padEnd(1000, '.'));
    const growth = heapAfterCollection() - before;
    reporter.warn('still in use'); // keeps the reporter alive across the measurement
    // Remembering every one would take about 100 MB (100,000 texts of 1 kB).
    expect(growth).toBeLessThan(10 * 1024 * 1024);
    expect(shown).toBe(100_001);
  });

  it('issue 14 B: a message repeated while thousands of others go by stays rate-limited', () => {
    const { shown, sink } = collectingSink();
    const reporter = createReporter(sink, 60_000);
    for (let record = 0; record < 50_000; record++) {
      reporter.error('writing a batch failed; it will be retried');
      reporter.warn(`a record of ${record} bytes was stored truncated`);
    }
    expect(shown.filter(([, text]) => text.startsWith('writing a batch failed'))).toEqual([
      ['error', 'writing a batch failed; it will be retried'],
    ]);
    expect(shown).toHaveLength(1 + 50_000);
  });
});
