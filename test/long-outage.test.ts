// FAULTS.md #11: the database down for minutes while the application logs 5,000 lines a second.
// Oracle: every record is stored once, except exactly as many as the package reported dropped; every
// warning is kept (DEBUG and INFO are shed first); main-thread memory flat; the worker's bounded; the
// spool's size on disk within its cap (100 MiB, which the ten minutes fill). Only `npm run test:long`
// runs it (vitest.config.ts).
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrivateServer, type PrivateServer } from '../support/private-postgres.mjs';
import { queryOnce } from './support/database.js';
import { diskUse } from './support/disk.js';
import { eventually } from './support/records.js';
import { mainThreadGrowth, startSteadyApp, workerPeak } from './support/steady-app.js';

const MB = 1024 * 1024;
const OUTAGE_MS = 10 * 60_000;
const MAX_SPOOL_BYTES = 100 * MB;
const RATE = 5_000;
const WARN_EVERY = 100;

let server: PrivateServer;
beforeAll(async () => {
  server = await startPrivateServer('outage');
});
afterAll(async () => server?.remove());

async function stored(application: string) {
  const [counts] = await queryOnce<{ records: number; distinct: number }>(
    server.url,
    `SELECT count(*)::int AS records, count(DISTINCT record->>'seq')::int AS distinct
       FROM log WHERE application_name = $1 AND record->>'seq' IS NOT NULL`,
    [application],
  );
  const warnings = await queryOnce<{ seq: number }>(
    server.url,
    `SELECT (record->>'seq')::int AS seq FROM log
      WHERE application_name = $1 AND level = 'WARNING' AND record->>'seq' IS NOT NULL ORDER BY 1`,
    [application],
  );
  const dropRows = await queryOnce<{ message: string }>(
    server.url,
    "SELECT message FROM log WHERE application_name = $1 AND message LIKE 'logweaver: % records dropped %'",
    [application],
  );
  return { ...counts, warnings: warnings.map((row) => row.seq), dropRows: dropRows.map((row) => row.message) };
}

/** Samples a directory's size on disk every 200 ms until stopped; returns the peak. */
function watchDiskUse(directory: string): () => number {
  let peak = 0;
  const timer = setInterval(() => (peak = Math.max(peak, diskUse(directory))), 200);
  return () => {
    clearInterval(timer);
    return peak;
  };
}

describe('FAULTS.md #11', () => {
  it(
    '#11 database down for 10 minutes at 5,000 lines/s: memory flat and bounded, spooled, delivered, drops counted and recorded',
    async () => {
      const spoolDir = mkdtempSync(join(tmpdir(), 'logweaver-f11-'));
      const app = startSteadyApp(
        RATE,
        { connectionString: server.url, application: 'f11', maxSpoolBytes: MAX_SPOOL_BYTES },
        { env: { FIXTURE_WARN_EVERY: String(WARN_EVERY), LOGWEAVER_SPOOL_DIR: spoolDir } },
      );
      const diskPeak = watchDiskUse(spoolDir);
      await eventually(() => app.samples.some((sample) => (sample.stats?.written ?? 0) > 10 * RATE), 60_000);

      await server.stop();
      const downAt = Date.now();
      await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
      const duringOutage = app.samples.filter((sample) => sample.at > downAt);
      await server.start();

      // Delivered after recovery while the app goes on logging; then it stops and flushes.
      await eventually(() => {
        const stats = app.samples.at(-1)?.stats;
        return stats !== null && stats !== undefined && stats.spoolBytes === 0 && stats.buffered < 2 * RATE;
      }, 240_000);
      const { code, logged } = await app.stop(30_000);
      const spoolOnDisk = diskPeak();
      expect(code).toBe(143);
      const dropped = app.samples.at(-1)?.stats?.dropped ?? -1;
      const result = await stored('f11');

      // Nothing duplicated; the missing ones are exactly the ones reported dropped.
      expect(result.distinct).toBe(result.records);
      expect(dropped).toBeGreaterThan(0);
      expect(result.records).toBe(logged - dropped);
      const recordedDrops = result.dropRows.map((message) =>
        Number(/^logweaver: (\d+) records dropped/.exec(message)?.[1]),
      );
      expect(recordedDrops.reduce((sum, count) => sum + count, 0)).toBe(dropped);
      expect(
        result.dropRows.every((message) => message.includes('(spool nearly full: DEBUG and INFO shed first)')),
      ).toBe(true);
      expect(app.stderr()).toContain('records are being dropped');
      // Warnings were never shed.
      const expectedWarnings = Array.from({ length: Math.ceil(logged / WARN_EVERY) }, (_, index) => index * WARN_EVERY);
      expect(result.warnings).toEqual(expectedWarnings);

      // Memory: the main thread flat, the worker bounded, the spool within its cap.
      const growth = mainThreadGrowth(app.samples);
      const peak = workerPeak(app.samples);
      const spoolPeak = Math.max(...duringOutage.map((sample) => sample.stats?.spoolBytes ?? 0));
      console.info(
        `#11: logged ${logged}, stored ${result.records}, dropped ${dropped}; main thread grew ${(growth / MB).toFixed(1)} MB, ` +
          `worker peak ${(peak / MB).toFixed(1)} MB, spool peak ${(spoolPeak / MB).toFixed(1)} MB (${(spoolOnDisk / MB).toFixed(1)} MB on disk)`,
      );
      expect(growth).toBeLessThan(10 * MB);
      expect(peak).toBeLessThan(150 * MB);
      expect(spoolOnDisk).toBeGreaterThan(0.75 * MAX_SPOOL_BYTES);
      expect(spoolOnDisk).toBeLessThanOrEqual(MAX_SPOOL_BYTES + MAX_SPOOL_BYTES / 8); // plus one segment
      expect(readdirSync(spoolDir)).toEqual([]);
    },
    OUTAGE_MS + 10 * 60_000,
  );
});
