/**
 * Run numbers: per (application, machine), the next number at each start, and LogWeaver's marker row.
 *
 * LogWeaver read the highest number and added one with no lock, so services starting together got
 * the same number. Here the read and the marker insert happen in one transaction under an advisory
 * lock for the (table, application, machine), which needs no privilege beyond INSERT and SELECT.
 */
import type pg from 'pg';
import { qualifiedRunsTable, qualifiedTable, type TableLayout, type TableName } from './schema.js';

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

export async function allocateRun(
  client: pg.Client,
  name: TableName,
  layout: TableLayout,
  run: RunIdentity,
  /** The transaction's SET LOCAL statements (session.ts): lock_timeout bounds the wait for the lock. */
  settings: string,
): Promise<number> {
  await client.query(`BEGIN; ${settings}`);
  try {
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
      `logweaver-pino run\n${name.schema}.${name.table}\n${run.application}\n${run.machineName}`,
    ]);
    const shared = layout.hasRunsTable ? await runOfKey(client, name, run) : undefined;
    const number = shared ?? (await startRun(client, name, layout, run));
    await client.query('COMMIT');
    return number;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
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

async function startRun(client: pg.Client, name: TableName, layout: TableLayout, run: RunIdentity): Promise<number> {
  const number = (await highestRun(client, name, layout, run)) + 1;
  if (layout.hasRunsTable) {
    await client.query(
      `INSERT INTO ${qualifiedRunsTable(name)} (application_name, machine_name, run_number, run_key, pid)
       VALUES ($1, $2, $3, $4, $5)`,
      [run.application, run.machineName, number, run.runKey, process.pid],
    );
  }
  // Exactly LogWeaver's marker: INFO, the application's own log, no tags.
  await client.query(
    `INSERT INTO ${qualifiedTable(name)}
       (run_number, application_name, open_clone_log, "timestamp", message, tags, level, machine_name, ip_address)
     VALUES ($1, $2, true, $6, $3, '', 'INFO', $4, $5)`,
    [
      number,
      run.application,
      `${run.application} - Run Number Incremented`,
      run.machineName,
      run.ipAddress,
      run.startedAt,
    ],
  );
  return number;
}

/** The highest number in the log table (which older LogWeaver services also write) and the runs table. */
async function highestRun(client: pg.Client, name: TableName, layout: TableLayout, run: RunIdentity): Promise<number> {
  const fromRuns = layout.hasRunsTable
    ? `, (SELECT max(run_number) FROM ${qualifiedRunsTable(name)} WHERE application_name = $1 AND machine_name = $2)`
    : '';
  const result = await client.query<{ highest: number | null }>(
    `SELECT greatest((SELECT max(run_number) FROM ${qualifiedTable(name)}
                       WHERE application_name = $1 AND machine_name = $2)${fromRuns}) AS highest`,
    [run.application, run.machineName],
  );
  return result.rows[0]?.highest ?? 0;
}

/**
 * Marks the run's end, with the counters of the writer that ended it (the last one, when several
 * share the run). A run with no end is one that crashed or was killed.
 */
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
