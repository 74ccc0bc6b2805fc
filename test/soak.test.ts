// The soak test of issue 3: minutes of steady logging through the transport while random faults from
// FAULTS.md are injected one after another (fast and immediate server restarts, terminated
// connections, a locked table, a poison row, a network black hole), then a fault-free phase, then the
// check: every fault was seen to take effect (the server really restarted, the writer really waited
// for the lock, records logged during an outage landed only after it), nothing lost but the poison
// rows (reported), nothing duplicated, the spool empty, a fresh record lands within 5 s, the
// application never crashed, and its main-thread memory stayed flat.
// SOAK_SEED=<n> replays one schedule of faults. Every kind of fault is injected once, then random
// ones for three minutes, then 30 s quiet. Only `npm run test:long` runs it (vitest.config.ts).
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrivateServer, type PrivateServer } from '../support/private-postgres.mjs';
import { createNetworkNamespace, type NetworkNamespace } from './support/black-hole.js';
import { queryOnce } from './support/database.js';
import { eventually } from './support/records.js';
import { mainThreadGrowth, startSteadyApp, workerPeak, type SteadyApp } from './support/steady-app.js';

const FAULT_PHASE_MS = 180_000;
const QUIET_PHASE_MS = 30_000;
const RATE = 1_000;
const MB = 1024 * 1024;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let server: PrivateServer;
let namespace: NetworkNamespace;
beforeAll(async () => {
  namespace = createNetworkNamespace();
  server = await startPrivateServer('soak', { listenAddresses: ['127.0.0.1', namespace.serverHost] });
  await namespace.admit(server);
});
afterAll(async () => {
  namespace?.remove();
  await server?.remove();
});

/** A small seeded generator (mulberry32), so that a failing schedule can be replayed. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Fault =
  'fast restart' | 'immediate restart' | 'terminated connections' | 'table lock' | 'poison row' | 'black hole';
const FAULTS: Fault[] = [
  'fast restart',
  'immediate restart',
  'terminated connections',
  'table lock',
  'poison row',
  'black hole',
];

/**
 * What an injected fault was seen to do, so that the test can tell a fault that took effect from one
 * that silently did nothing. `window`: while it lasted, nothing could land (the server down, the
 * table locked, the link dead), so every record logged inside it must be seen only after it ended.
 * `missing`: what was expected of it and not seen.
 */
interface Outcome {
  fault: Fault;
  window?: { from: number; to: number };
  missing?: string;
}

type Injection = (app: SteadyApp, between: (low: number, high: number) => number) => Promise<Omit<Outcome, 'fault'>>;

const INJECTIONS: Record<Fault, Injection> = {
  'fast restart': (_app, between) => restart(() => server.stop(), between),
  'immediate restart': (_app, between) => restart(() => server.stopImmediately(), between),
  'terminated connections': () => terminateConnections(),
  'table lock': (_app, between) => lockTable(between(6_000, 9_000)),
  'poison row': (app) => poison(app),
  'black hole': async (_app, between) => {
    namespace.blackHole();
    const from = Date.now();
    await sleep(between(5_000, 20_000));
    const to = Date.now();
    namespace.restore();
    return { window: { from, to } };
  },
};

async function inject(fault: Fault, app: SteadyApp, random: () => number): Promise<Outcome> {
  const between = (low: number, high: number) => low + Math.floor(random() * (high - low));
  return { fault, ...(await INJECTIONS[fault](app, between)) };
}

const postmasterStart = async () =>
  (await queryOnce<{ at: string }>(server.url, 'SELECT pg_postmaster_start_time()::text AS at'))[0]?.at;

async function restart(stop: () => Promise<void>, between: (low: number, high: number) => number) {
  const startedBefore = await postmasterStart();
  await stop();
  const from = Date.now();
  await sleep(between(500, 3_000));
  const to = Date.now();
  await server.start();
  const restarted = (await postmasterStart()) !== startedBefore;
  return { window: { from, to }, missing: restarted ? undefined : 'the server was not restarted' };
}

/** Connections of the app's writer, as the server lists them. */
const APP_BACKENDS = "FROM pg_stat_activity WHERE application_name = 'logweaver-pino'";

async function terminateConnections(): Promise<{ missing?: string }> {
  // After an earlier fault the writer may still be reconnecting: wait until it has a connection to cut.
  const connected = async () =>
    ((await queryOnce<{ n: number }>(server.url, `SELECT count(*)::int AS n ${APP_BACKENDS}`))[0]?.n ?? 0) > 0;
  await eventually(connected, 30_000).catch(() => undefined);
  const [terminated] = await queryOnce<{ n: number }>(
    server.url,
    `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n ${APP_BACKENDS}`,
  );
  return { missing: (terminated?.n ?? 0) > 0 ? undefined : 'no connection of the app was there to terminate' };
}

/** Held past the writer's 5 s lock_timeout, so that its statement is cancelled and retried. */
async function lockTable(holdMs: number): Promise<Omit<Outcome, 'fault'>> {
  const locker = new pg.Client({ connectionString: server.url });
  locker.on('error', () => undefined);
  await locker.connect();
  await locker.query('BEGIN');
  await locker.query('LOCK TABLE log IN ACCESS EXCLUSIVE MODE');
  const from = Date.now();
  let writerWaited = false;
  while (Date.now() < from + holdMs) {
    writerWaited ||= await writerWaitsForLock();
    await sleep(250);
  }
  const to = Date.now();
  await locker.query('COMMIT');
  await locker.end();
  return { window: { from, to }, missing: writerWaited ? undefined : 'the writer never waited for the lock' };
}

async function writerWaitsForLock(): Promise<boolean> {
  const [waiting] = await queryOnce<{ n: number }>(
    server.url,
    `SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND pid IN (SELECT pid ${APP_BACKENDS})`,
  );
  return (waiting?.n ?? 0) > 0;
}

async function poison(app: SteadyApp): Promise<{ missing?: string }> {
  const before = app.poisoned.length;
  app.poison();
  const logged = await eventually(() => app.poisoned.length > before, 10_000).then(
    () => true,
    () => false,
  );
  return { missing: logged ? undefined : 'the app never logged the poison record' };
}

/**
 * What a window fault failed to do, judged by when its records were seen: every record logged while
 * it lasted must have landed only after it ended, and some must have landed.
 */
function missedWindow(
  { from, to }: { from: number; to: number },
  landings: Array<{ loggedAt: number; delayMs: number }>,
): string | undefined {
  const inside = landings.filter((landing) => landing.loggedAt > from && landing.loggedAt < to);
  if (inside.length === 0) return 'no record logged while it lasted was seen';
  const early = inside.filter((landing) => landing.loggedAt + landing.delayMs < to).length;
  return early > 0 ? `${early} records logged while it lasted landed before it ended` : undefined;
}

/** Follows the table by log_id and keeps, for every record, how long after it was logged it was seen. */
function watchLandings() {
  const delays: Array<{ loggedAt: number; delayMs: number }> = [];
  let lastId = 0;
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      await sleep(250);
      const rows = await queryOnce<{ log_id: string; time: string }>(
        server.url,
        `SELECT log_id, record->>'time' AS time FROM log
          WHERE log_id > $1 AND application_name = 'soak' AND record->>'seq' IS NOT NULL ORDER BY log_id LIMIT 50000`,
        [lastId],
      ).catch(() => []); // the server is down or the table locked: try again
      const seenAt = Date.now();
      for (const row of rows) {
        lastId = Number(row.log_id);
        delays.push({ loggedAt: Number(row.time), delayMs: seenAt - Number(row.time) });
      }
    }
  })();
  return {
    delays,
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

describe('soak', () => {
  it(
    'survives minutes of random faults: nothing lost or duplicated, spool empty, memory flat',
    async () => {
      const seed = Number(process.env.SOAK_SEED ?? Date.now() % 1_000_000);
      const random = seededRandom(seed);
      const spoolDir = mkdtempSync(join(tmpdir(), 'logweaver-soak-spool-'));
      const url = namespace.urlOf(server);
      const app = startSteadyApp(
        RATE,
        { connectionString: url, application: 'soak' },
        {
          prefix: namespace.prefix,
          env: { LOGWEAVER_SPOOL_DIR: spoolDir },
        },
      );
      let crashed: number | null | undefined;
      void app.exited.then((code) => (crashed ??= code));
      await eventually(
        async () =>
          (await queryOnce(server.url, "SELECT 1 FROM log WHERE application_name = 'soak' LIMIT 1").catch(() => []))
            .length > 0,
      );
      // The table's owner forbids one kind of message: those rows are poison.
      await queryOnce(server.url, "ALTER TABLE log ADD CONSTRAINT no_poison CHECK (message NOT LIKE 'poison %')");
      const landings = watchLandings();

      // Every kind of fault once, in a random order, then random ones until the phase ends.
      const schedule = [...FAULTS].sort(() => random() - 0.5);
      const outcomes: Outcome[] = [];
      const faultPhaseEnds = Date.now() + FAULT_PHASE_MS;
      while (Date.now() < faultPhaseEnds || schedule.length > 0) {
        const fault: Fault = schedule.shift() ?? FAULTS[Math.floor(random() * FAULTS.length)] ?? 'poison row';
        outcomes.push(await inject(fault, app, random));
        await sleep(3_000 + Math.floor(random() * 7_000));
      }
      const quietFrom = Date.now();
      await sleep(QUIET_PHASE_MS);
      const { code, logged } = await app.stop(30_000);
      await landings.stop();

      const counts = await queryOnce<{ records: number; distinct: number }>(
        server.url,
        `SELECT count(*)::int AS records, count(DISTINCT record->>'seq')::int AS distinct
         FROM log WHERE application_name = 'soak' AND record->>'seq' IS NOT NULL`,
      );
      const missing = await queryOnce<{ seq: number }>(
        server.url,
        `SELECT seq FROM generate_series(0, $1::int - 1) AS seq
       EXCEPT SELECT (record->>'seq')::int FROM log WHERE application_name = 'soak' AND record->>'seq' IS NOT NULL
       ORDER BY 1`,
        [logged],
      );
      const dropRows = await queryOnce<{ message: string }>(
        server.url,
        "SELECT message FROM log WHERE application_name = 'soak' AND message LIKE 'logweaver: % records dropped %'",
      );
      const reportedDrops = dropRows
        .map((row) => Number(/^logweaver: (\d+) records dropped \(rejected by the database\)/.exec(row.message)?.[1]))
        .reduce((sum, count) => sum + count, 0);
      const latest = landings.delays.filter((landing) => landing.loggedAt > quietFrom + 10_000);
      const figures = {
        seed,
        logged,
        faults: outcomes.map((outcome) => outcome.fault).join(', '),
        lost: missing.length - app.poisoned.length,
        duplicated: (counts[0]?.records ?? 0) - (counts[0]?.distinct ?? 0),
        mainThreadGrowthMB: +(mainThreadGrowth(app.samples) / MB).toFixed(1),
        mainThreadPeakMB: +(Math.max(...app.samples.map((sample) => sample.mainHeap)) / MB).toFixed(1),
        workerPeakMB: +(workerPeak(app.samples) / MB).toFixed(1),
        longestDelayMs: landings.delays.reduce((max, landing) => Math.max(max, landing.delayMs), 0),
        longestDelayWhenQuietMs: latest.reduce((max, landing) => Math.max(max, landing.delayMs), 0),
      };
      console.info(`soak: ${JSON.stringify(figures)}`);

      expect(crashed ?? code).toBe(143); // alive until the SIGTERM, then flushed and exited
      // Every fault injected was seen to take effect (each kind is in the schedule at least once).
      const ineffective = outcomes
        .map(({ fault, window, missing }) => ({
          fault,
          missing: missing ?? (window && missedWindow(window, landings.delays)),
        }))
        .filter((outcome) => outcome.missing !== undefined);
      expect(ineffective).toEqual([]);
      expect(missing.map((row) => row.seq)).toEqual(app.poisoned);
      expect(figures.duplicated).toBe(0);
      expect(reportedDrops).toBe(app.poisoned.length);
      expect(readdirSync(spoolDir).filter((file) => file.endsWith('.spool'))).toEqual([]);
      expect(latest.length).toBeGreaterThan(0);
      expect(figures.longestDelayWhenQuietMs).toBeLessThan(5_000);
      expect(figures.mainThreadGrowthMB).toBeLessThan(10);
      expect(figures.workerPeakMB).toBeLessThan(150);
    },
    15 * 60_000,
  );
});
