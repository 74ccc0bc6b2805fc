/**
 * Retention on an unpartitioned table: rows older than the period are deleted in windows of at most
 * BATCH_IDS log_ids, each DELETE in its own short transaction, never one huge DELETE that would hold
 * its locks and bloat the table for hours. Expired runs and ledger entries go too, and a pass that
 * deleted rows says so in a row of the table: `logweaver: retention dropped N rows older than T`.
 *
 * Many writers share the work: a pass starts by claiming it under a transaction-level advisory lock
 * (session locks do not survive a pooler in transaction mode), and where `<table>_meta` exists the
 * claim is recorded there, so that one pass an hour is done between all of them. Each batch takes
 * the same lock again (waiting at most lock_timeout), so batches never overlap. The caller runs this on a connection of
 * its own, never the writer's (retention-schedule.ts, cli/retention.ts).
 */
import pg from 'pg';
import type { Period } from '../period.js';
import { qualifiedLedgerTable, qualifiedMetaTable, qualifiedRunsTable, qualifiedTable, type TableName } from './ddl.js';
import { withSettings } from './session.js';

/** The rows of one DELETE are at most this many: a window of log_ids. */
export const BATCH_IDS = 10_000;
/** A batch waits this long for a lock (none is expected: writers only insert), then the pass stops. */
const SETTINGS = 'SET LOCAL lock_timeout = 1000; SET LOCAL statement_timeout = 10000';
/** Between batches the writers get the disk to themselves for a moment. */
const PAUSE_MS = 20;
/** A pass claimed this recently by any writer is not done again by the hourly schedule. */
const RECENT_PASS = '55 minutes';

export interface RetentionTarget {
  table: TableName;
  period: Period;
  /** Who the marker row is from: the writer's application, machine, address and run. */
  marker: { application: string; machineName: string; ipAddress: string; runNumber: number };
}

export interface PassOptions {
  dryRun?: boolean;
  /** The hourly schedule skips a pass another writer started within the hour; the CLI does not. */
  skipRecent?: boolean;
  /** Checked between batches: the writer is closing. */
  stopped?: () => boolean;
}

export interface PassResult {
  /** Why nothing was done (another pass is running, one ran recently, no DELETE privilege). */
  skipped?: string;
  /** The role may not delete from the log table (a person must grant it): what to tell them. */
  denied?: string;
  cutoff: Date;
  rows: number;
  batches: number;
  runs: number;
  ledger: number;
}

export async function retentionPass(
  client: pg.Client,
  target: RetentionTarget,
  options: PassOptions = {},
): Promise<PassResult> {
  const { table } = target;
  const result: PassResult = { cutoff: await cutoffOf(client, target.period), rows: 0, batches: 0, runs: 0, ledger: 0 };
  const denied = await deleteDenied(client, table);
  if (denied !== undefined) return { ...result, skipped: denied, denied };
  if (options.dryRun) return { ...result, ...(await countExpired(client, table, result.cutoff)) };
  const skipped = await claim(client, table, options.skipRecent === true);
  if (skipped !== undefined) return { ...result, skipped };
  const stopped = options.stopped ?? (() => false);
  ({ rows: result.rows, batches: result.batches } = await deleteRows(client, table, result.cutoff, stopped));
  if (result.rows > 0) await insertMarker(client, target, result);
  if (table.metaTables !== false && !stopped()) {
    const { cutoff } = result;
    result.runs = await deleteRepeatedly(client, qualifiedRunsTable(table), expiredRunsSql(table, 'delete'), cutoff);
    result.ledger = await deleteRepeatedly(
      client,
      qualifiedLedgerTable(table),
      expiredLedgerSql(table, 'delete'),
      cutoff,
    );
  }
  return result;
}

async function cutoffOf(client: pg.Client, period: Period): Promise<Date> {
  const result = await client.query<{ cutoff: Date }>("SELECT now() - $1::int * interval '1 hour' AS cutoff", [
    period.hours,
  ]);
  return (result.rows[0] as { cutoff: Date }).cutoff;
}

/** Why this role may not delete from the log table; undefined when it may. */
async function deleteDenied(client: pg.Client, table: TableName): Promise<string | undefined> {
  const qualified = qualifiedTable(table);
  const result = await client.query<{ may: boolean; role: string }>(
    "SELECT has_table_privilege($1, 'DELETE') AS may, current_user AS role",
    [qualified],
  );
  const { may, role } = result.rows[0] as { may: boolean; role: string };
  if (may) return undefined;
  return `retention needs DELETE on ${qualified}, which role ${role} lacks: nothing is deleted (GRANT DELETE ON ${qualified} TO ${pg.escapeIdentifier(role)})`;
}

const lockKey = (table: TableName) => pg.escapeLiteral(`logweaver-pino retention\n${qualifiedTable(table)}`);
/** The claim only tries: a writer that does not get it skips the pass. */
const tryLock = (table: TableName) =>
  `SELECT pg_try_advisory_xact_lock(hashtextextended(${lockKey(table)}, 0)) AS locked`;
/** A batch waits for the lock, within lock_timeout: a claim or another batch holds it for milliseconds. */
const waitLock = (table: TableName) => `SELECT pg_advisory_xact_lock(hashtextextended(${lockKey(table)}, 0))`;

/** Takes the pass for this process, or says why not. */
async function claim(client: pg.Client, table: TableName, skipRecent: boolean): Promise<string | undefined> {
  return withSettings(client, SETTINGS, async () => {
    const locked = await client.query<{ locked: boolean }>(tryLock(table));
    if (locked.rows[0]?.locked !== true) return 'another process is applying retention now';
    if (table.metaTables === false || !(await hasMetaRow(client, table))) return undefined;
    const claimed = await client.query(
      `UPDATE ${qualifiedMetaTable(table)} SET retention_started_at = now()
        WHERE $1::boolean IS FALSE OR retention_started_at IS NULL
           OR retention_started_at < now() - interval '${RECENT_PASS}'`,
      [skipRecent],
    );
    return claimed.rowCount === 0 ? 'retention ran within the last hour' : undefined;
  });
}

/** The meta row, where it exists and this role may update it (else passes are not shared). */
async function hasMetaRow(client: pg.Client, table: TableName): Promise<boolean> {
  const meta = qualifiedMetaTable(table);
  const result = await client.query<{ usable: boolean }>(
    `SELECT to_regclass($1) IS NOT NULL AND has_table_privilege($1, 'UPDATE') AS usable`,
    [meta],
  );
  if (result.rows[0]?.usable !== true) return false;
  return (await client.query(`SELECT 1 FROM ${meta}`)).rows.length > 0;
}

/**
 * Walks log_id upwards from the oldest row, one window per transaction. It stops at the first
 * window that holds rows but none older than the cutoff: past it the rows are newer (log_id grows
 * with time). A record delivered late from a spool, older than its neighbours, goes once they do.
 */
async function deleteRows(client: pg.Client, table: TableName, cutoff: Date, stopped: () => boolean) {
  const done = { rows: 0, batches: 0 };
  for (let from = await nextId(client, table, undefined); from !== undefined && !stopped();) {
    const start = from;
    const window = await withSettings(client, SETTINGS, async () => {
      await client.query(waitLock(table));
      return deleteWindow(client, table, start, cutoff);
    });
    done.rows += window.deleted;
    if (window.deleted > 0) done.batches++;
    if (window.newer) break;
    from = await nextId(client, table, window.end);
    await new Promise((resolve) => setTimeout(resolve, PAUSE_MS));
  }
  return done;
}

/** The end (exclusive) of the window of ids from `from`: ids are bigint, past what a number holds exactly. */
const windowEnd = (from: string) => (BigInt(from) + BigInt(BATCH_IDS)).toString();

/** The lowest log_id at or after `from` (a probe of the primary key), skipping gaps in the ids. */
async function nextId(client: pg.Client, table: TableName, from: string | undefined): Promise<string | undefined> {
  const result = await client.query<{ id: string | null }>(
    `SELECT min(log_id)::text AS id FROM ${qualifiedTable(table)} WHERE $1::bigint IS NULL OR log_id >= $1::bigint`,
    [from ?? null],
  );
  return result.rows[0]?.id ?? undefined;
}

/**
 * The cutoff as UTC text. pg sends a Date in the process's local time with its offset, which a
 * `timestamp without time zone` column (OpenClone's) ignores: east of UTC, rows younger than the
 * period would go. Those columns hold UTC wall time, as the writer stores it.
 */
const utc = (cutoff: Date) => cutoff.toISOString();

/** One DELETE of at most BATCH_IDS rows; the SELECT sees the window as it was before it. */
async function deleteWindow(client: pg.Client, table: TableName, from: string, cutoff: Date) {
  const qualified = qualifiedTable(table);
  const end = windowEnd(from);
  const window = 'log_id >= $1::bigint AND log_id < $2::bigint';
  const result = await client.query<{ deleted: number; newer: boolean }>(
    `WITH gone AS (DELETE FROM ${qualified} WHERE ${window} AND "timestamp" < $3 RETURNING 1)
     SELECT (SELECT count(*) FROM gone)::int AS deleted,
            EXISTS (SELECT 1 FROM ${qualified} WHERE ${window} AND "timestamp" >= $3) AS newer`,
    [from, end, utc(cutoff)],
  );
  const row = result.rows[0] as { deleted: number; newer: boolean };
  return { ...row, end };
}

/** The same walk, counting: what a pass would delete now. */
async function countExpired(client: pg.Client, table: TableName, cutoff: Date) {
  const qualified = qualifiedTable(table);
  let rows = 0;
  for (let from = await nextId(client, table, undefined); from !== undefined;) {
    const end = windowEnd(from);
    const result = await client.query<{ old: number; newer: boolean }>(
      `SELECT count(*) FILTER (WHERE "timestamp" < $3)::int AS old, coalesce(bool_or("timestamp" >= $3), false) AS newer
         FROM ${qualified} WHERE log_id >= $1::bigint AND log_id < $2::bigint`,
      [from, end, utc(cutoff)],
    );
    const window = result.rows[0] as { old: number; newer: boolean };
    rows += window.old;
    if (window.newer) break;
    from = await nextId(client, table, end);
  }
  if (table.metaTables === false) return { rows, runs: 0, ledger: 0 };
  const runs = await expiredOwnRows(client, qualifiedRunsTable(table), expiredRunsSql(table, 'count'), cutoff);
  const ledger = await expiredOwnRows(client, qualifiedLedgerTable(table), expiredLedgerSql(table, 'count'), cutoff);
  return { rows, runs, ledger };
}

/** A count from one of the package's own tables; 0 where it is missing. */
async function expiredOwnRows(client: pg.Client, qualified: string, sql: string, cutoff: Date): Promise<number> {
  if (!(await mayUse(client, qualified, 'SELECT'))) return 0;
  const result = await client.query<{ n: number }>(sql, [utc(cutoff)]);
  return result.rows[0]?.n ?? 0;
}

async function mayUse(client: pg.Client, qualified: string, privilege: 'SELECT' | 'DELETE'): Promise<boolean> {
  const result = await client.query<{ may: boolean }>(
    'SELECT to_regclass($1) IS NOT NULL AND has_table_privilege($1, $2) AS may',
    [qualified, privilege],
  );
  return result.rows[0]?.may === true;
}

/** The row that puts the pass where the logs are: INFO, the application's own, tagged logweaver. */
async function insertMarker(client: pg.Client, target: RetentionTarget, result: PassResult): Promise<void> {
  const { marker } = target;
  const message = `logweaver: retention dropped ${result.rows} rows older than ${result.cutoff.toISOString()}`;
  await client.query(
    `INSERT INTO ${qualifiedTable(target.table)}
       (run_number, application_name, open_clone_log, "timestamp", message, tags, level, machine_name, ip_address)
     VALUES ($1, $2, true, now(), $3, 'logweaver', 'INFO', $4, $5)`,
    [marker.runNumber, marker.application, message, marker.machineName, marker.ipAddress],
  );
}

/**
 * Runs that ended before the cutoff, or never ended (crashed) and have no row left. The highest
 * run of each application and machine is kept, so that numbers are never handed out again.
 */
function expiredRunsSql(table: TableName, what: 'count' | 'delete'): string {
  const runs = qualifiedRunsTable(table);
  const where = `coalesce(r.ended_at, r.started_at) < $1
      AND r.run_number < (SELECT max(run_number) FROM ${runs} m
                           WHERE m.application_name = r.application_name AND m.machine_name = r.machine_name)
      AND (r.ended_at IS NOT NULL OR NOT EXISTS (SELECT 1 FROM ${qualifiedTable(table)} l
            WHERE l.application_name = r.application_name AND l.machine_name = r.machine_name
              AND l.run_number = r.run_number))`;
  return what === 'count'
    ? `SELECT count(*)::int AS n FROM ${runs} r WHERE ${where}`
    : `DELETE FROM ${runs} WHERE ctid IN (SELECT ctid FROM ${runs} r WHERE ${where} LIMIT ${BATCH_IDS})`;
}

/** Ledger entries are only needed until a retry has decided (the writer prunes them after a day too). */
function expiredLedgerSql(table: TableName, what: 'count' | 'delete'): string {
  const ledger = qualifiedLedgerTable(table);
  // Never sooner than the writer's own pruning (a day): a batch left at an exit with its commit
  // unknown is looked up there when the next start delivers it, whatever the retention period.
  const expired = `committed_at < least($1::timestamptz, now() - interval '1 day')`;
  return what === 'count'
    ? `SELECT count(*)::int AS n FROM ${ledger} WHERE ${expired}`
    : `DELETE FROM ${ledger} WHERE batch_id IN (SELECT batch_id FROM ${ledger} WHERE ${expired} LIMIT ${BATCH_IDS})`;
}

/** Runs a bounded DELETE until it deletes fewer than a batch; a table missing, or not ours to delete from, is skipped. */
async function deleteRepeatedly(client: pg.Client, qualified: string, sql: string, cutoff: Date): Promise<number> {
  if (!(await mayUse(client, qualified, 'DELETE'))) return 0;
  let total = 0;
  for (;;) {
    const deleted = (await withSettings(client, SETTINGS, () => client.query(sql, [utc(cutoff)]))).rowCount ?? 0;
    total += deleted;
    if (deleted < BATCH_IDS) return total;
  }
}
