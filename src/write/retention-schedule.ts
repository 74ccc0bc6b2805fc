/**
 * The writer's retention (the `retention` option): one pass shortly after the run starts, then one an
 * hour, each on a connection of its own, opened for the pass and closed after it. The write path
 * never waits for it: it holds nothing the writer needs, and a failure is a warning, retried at the
 * next hour, that never touches a record. Started by both entry points (transport.ts, cli/pipe.ts).
 */
import { errorText } from '../errors.js';
import { runIdentity } from '../identity.js';
import type { ResolvedOptions } from '../options.js';
import type { Reporter } from '../report.js';
import { connectClient } from '../tls.js';
import { tableNameOf } from './ddl.js';
import { retentionPass, type PassResult, type RetentionTarget } from './retention.js';
import { writerConfig } from './session.js';

/** After the run number is known: the first batches go first, and a short-lived process does no pass. */
const FIRST_PASS_DELAY_MS = 5_000;
const PASS_INTERVAL_MS = 60 * 60 * 1000;

/** Starts the schedule; the function it returns stops it (a pass under way ends after its batch). */
export function startRetention(
  options: ResolvedOptions,
  reporter: Reporter,
  runNumber: () => number | undefined,
): () => void {
  const period = options.retention;
  if (period === undefined) return () => undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let warnedDenied = false;
  const schedule = (delay: number) => {
    // A rejection escaping a worker's timer would end the worker: none may.
    timer = setTimeout(() => void tick().catch((error) => reporter.warn(`retention: ${errorText(error)}`)), delay);
    timer.unref();
  };
  const tick = async () => {
    const run = runNumber();
    if (run === undefined) return schedule(FIRST_PASS_DELAY_MS); // not connected yet
    const identity = await runIdentity(options);
    const target: RetentionTarget = { table: tableNameOf(options), period, marker: { ...identity, runNumber: run } };
    try {
      const result = await passOnOwnConnection(options, target, () => stopped);
      if (result.denied !== undefined && !warnedDenied) {
        warnedDenied = true; // said once: it stays so until someone grants DELETE
        reporter.warn(result.denied);
      } else if (result.rows > 0) reporter.info(describePass(result));
    } catch (error) {
      reporter.warn(`retention failed; tried again in an hour: ${errorText(error)}`);
    }
    if (!stopped) schedule(PASS_INTERVAL_MS);
  };
  schedule(FIRST_PASS_DELAY_MS);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

async function passOnOwnConnection(
  options: ResolvedOptions,
  target: RetentionTarget,
  stopped: () => boolean,
): Promise<PassResult> {
  const { client } = await connectClient(
    writerConfig(options.connection),
    options.connection.tls,
    (client) => client.on('error', () => undefined), // the pass's own query fails too, and is reported
  );
  try {
    return await retentionPass(client, target, { skipRecent: true, stopped });
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** `retention dropped 25000 rows older than T in 3 batches; 2 runs and 40 ledger entries expired` */
export function describePass(result: PassResult): string {
  return (
    `retention dropped ${result.rows} rows older than ${result.cutoff.toISOString()} in ${result.batches} batches; ` +
    `${result.runs} runs and ${result.ledger} ledger entries expired`
  );
}
