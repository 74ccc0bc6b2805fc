/**
 * Run numbers: per (application, machine), the next number at each start, and LogWeaver's marker row.
 *
 * LogWeaver read the highest number and added one with no lock, so services starting together got
 * the same number. Here the read and the marker insert happen in one transaction under an advisory
 * lock for the (table, application, machine), which needs no privilege beyond INSERT and SELECT.
 * The lock serialises logweaver-pino processes only: LogWeaver itself, which cannot be changed,
 * takes none. So before committing, the transaction looks for a row of another writer with the same
 * number, and if there is one, starts again with the next number (issue 15; docs/failures.md says
 * what window is left).
 */
import type pg from 'pg';
import type { TableLayout } from './schema.js';
import { qualifiedRunsTable, qualifiedTable, type TableName } from './ddl.js';
import { queueForLock } from './session.js';

export interface RunIdentity {
  application: string;
  machineName: string;
  ipAddress: string;
  /** Processes with the same key share a run (see identity.processRunKey). */
  runKey: string;
  /**
   * The time of the marker row: the start of the process, by the application's clock, so that the
   * marker sorts before the run's records by time as it does by log_id (the database's now() at
   * allocation came after the first records, and from another clock).
   */
  startedAt: Date;
}

/**
 * Each attempt lost to LogWeaver needs a LogWeaver service starting within the same few
 * milliseconds; past this many the last number is kept.
 */
const MAX_ATTEMPTS = 5;

export async function allocateRun(
  client: pg.Client,
  name: TableName,
  layout: TableLayout,
  run: RunIdentity,
  /** The transaction's SET LOCAL statements (session.ts); the wait for the lock has its own bound (queueForLock). */
  settings: string,
): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const number = await allocateOnce(client, name, layout, run, settings, attempt < MAX_ATTEMPTS);
    if (number !== undefined) return number;
  }
}

/** One transaction: the run's number, or undefined when LogWeaver took the same one meanwhile. */
async function allocateOnce(
  client: pg.Client,
  name: TableName,
  layout: TableLayout,
  run: RunIdentity,
  settings: string,
  check: boolean,
): Promise<number | undefined> {
  // READ COMMITTED whatever the role's default: the check must see what LogWeaver committed after
  // this transaction began.
  await client.query(`BEGIN ISOLATION LEVEL READ COMMITTED; ${settings}`);
  try {
    const key = `logweaver-pino run\n${name.schema}.${name.table}\n${run.application}\n${run.machineName}`;
    await queueForLock(client, key, settings);
    const shared = layout.hasRunsTable ? await runOfKey(client, name, run) : undefined;
    if (shared !== undefined) {
      await client.query('COMMIT');
      return shared;
    }
    const started = await startRun(client, name, layout, run);
    if (check && (await takenByAnother(client, name, run, started))) {
      await client.query('ROLLBACK');
      return undefined;
    }
    await client.query('COMMIT');
    return started.number;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * Ids handed out, beyond the newest one seen when the number was read, within which a row that
 * was then still being inserted is looked for. A LogWeaver marker that was not yet committed when
 * the number was read got its id before that read only if it was then in flight (an autocommitted
 * one-row INSERT), and it would have to stay so while this many other rows were inserted and
 * committed (at 100,000 rows/s, a second). Bounded by id, the check goes through the primary key
 * on OpenClone's table, which has no other index: on a million rows, 2 ms for the last 10,000 ids,
 * 25 ms for the last 100,000, 250 ms for a sequential scan (2 busy cores). Its duration is most of
 * the window left to LogWeaver, so it must not grow with the table.
 */
const IN_FLIGHT_IDS = 100_000;

/** Whether a row of another writer (LogWeaver, which takes no lock) carries the number just taken. */
async function takenByAnother(
  client: pg.Client,
  name: TableName,
  run: RunIdentity,
  started: StartedRun,
): Promise<boolean> {
  const result = await client.query<{ taken: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM ${qualifiedTable(name)}
                     WHERE log_id > $5::bigint - ${IN_FLIGHT_IDS} AND log_id <> $4::bigint
                       AND application_name = $1 AND machine_name = $2 AND run_number = $3) AS taken`,
    [run.application, run.machineName, started.number, started.markerId, started.newestSeenId],
  );
  return result.rows[0]?.taken === true;
}

async function runOfKey(client: pg.Client, name: TableName, run: RunIdentity): Promise<number | undefined> {
  const result = await client.query<{ run_number: number }>(
    `SELECT run_number FROM ${qualifiedRunsTable(name)}
      WHERE application_name = $1 AND machine_name = $2 AND run_key = $3
      ORDER BY run_number DESC LIMIT 1`,
    [run.application, run.machineName, run.runKey],
  );
  return result.rows[0]?.run_number;
}

interface StartedRun {
  number: number;
  /** The log_id of its marker row. */
  markerId: string;
  /** The highest log_id committed when the number was read (0 for an empty table). */
  newestSeenId: string;
}

async function startRun(
  client: pg.Client,
  name: TableName,
  layout: TableLayout,
  run: RunIdentity,
): Promise<StartedRun> {
  const highest = await highestRun(client, name, layout, run);
  const number = highest.run + 1;
  if (layout.hasRunsTable) {
    await client.query(
      `INSERT INTO ${qualifiedRunsTable(name)} (application_name, machine_name, run_number, run_key, pid)
       VALUES ($1, $2, $3, $4, $5)`,
      [run.application, run.machineName, number, run.runKey, process.pid],
    );
  }
  // Exactly LogWeaver's marker: INFO, the application's own log, no tags.
  const marker = await client.query<{ log_id: string }>(
    `INSERT INTO ${qualifiedTable(name)}
       (run_number, application_name, open_clone_log, "timestamp", message, tags, level, machine_name, ip_address)
     VALUES ($1, $2, true, $6, $3, '', 'INFO', $4, $5) RETURNING log_id::text`,
    [
      number,
      run.application,
      `${run.application} - Run Number Incremented`,
      run.machineName,
      run.ipAddress,
      run.startedAt,
    ],
  );
  return { number, markerId: marker.rows[0]?.log_id as string, newestSeenId: highest.newestId };
}

/**
 * The highest number in the log table (which older LogWeaver services also write) and the runs
 * table, and, in the same snapshot, the newest log_id (a probe of the primary key).
 */
async function highestRun(
  client: pg.Client,
  name: TableName,
  layout: TableLayout,
  run: RunIdentity,
): Promise<{ run: number; newestId: string }> {
  const fromRuns = layout.hasRunsTable
    ? `, (SELECT max(run_number) FROM ${qualifiedRunsTable(name)} WHERE application_name = $1 AND machine_name = $2)`
    : '';
  const result = await client.query<{ highest: number | null; newest: string }>(
    `SELECT greatest((SELECT max(run_number) FROM ${qualifiedTable(name)}
                       WHERE application_name = $1 AND machine_name = $2)${fromRuns}) AS highest,
            coalesce((SELECT max(log_id) FROM ${qualifiedTable(name)}), 0)::text AS newest`,
    [run.application, run.machineName],
  );
  return { run: result.rows[0]?.highest ?? 0, newestId: result.rows[0]?.newest ?? '0' };
}

/**
 * Records a writer's end. Writers sharing the run (two transports of one process, or processes with
 * one runKey) each add their counters to the run's, and the run ended cleanly only if each of them did.
 */
export async function endRun(
  client: pg.Client,
  name: TableName,
  run: RunIdentity,
  runNumber: number,
  end: { clean: boolean; counters: object },
) {
  await client.query(
    `UPDATE ${qualifiedRunsTable(name)}
        SET ended_at = now(), ended_cleanly = coalesce(ended_cleanly, true) AND $4,
            counters = (SELECT json_object_agg(key, coalesce((counters->>key)::bigint, 0) + value::bigint)
                          FROM json_each_text($5::json))
      WHERE application_name = $1 AND machine_name = $2 AND run_number = $3`,
    [run.application, run.machineName, runNumber, end.clean, JSON.stringify(summable(end.counters))],
  );
}

/** The whole-number counters, which add up across writers (not runNumber, not lastError). */
function summable(counters: object): Record<string, number> {
  return Object.fromEntries(
    Object.entries(counters).filter(
      (entry): entry is [string, number] => Number.isInteger(entry[1]) && entry[0] !== 'runNumber',
    ),
  );
}
