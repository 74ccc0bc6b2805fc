/**
 * `logweaver-pino retention [--dry-run]`: one retention pass now, for cron, with the writer's
 * connection and table flags and `--retention` (or LOGWEAVER_RETENTION). Prints what it would delete
 * or deleted; exits 0, 1 when the role may not delete, 2 on a bad flag (naming it and the value).
 */
import type { Writable } from 'node:stream';
import pg from 'pg';
import { errorText, OptionError } from '../errors.js';
import { runIdentity } from '../identity.js';
import type { ResolvedOptions } from '../options.js';
import { connectClient } from '../tls.js';
import { tableNameOf } from '../write/ddl.js';
import { retentionPass, type PassResult } from '../write/retention.js';
import { describePass } from '../write/retention-schedule.js';
import { writerConfig } from '../write/session.js';

/** The marker row of a pass run from cron belongs to no run of an application. */
const NO_RUN = 0;

export async function runRetention(options: ResolvedOptions, dryRun: boolean, stdout: Writable): Promise<number> {
  const period = options.retention;
  if (period === undefined) throw new OptionError('retention: give --retention (e.g. 30d) or LOGWEAVER_RETENTION');
  const identity = await runIdentity(options);
  const table = tableNameOf(options);
  let client: pg.Client | undefined;
  try {
    ({ client } = await connectClient(writerConfig(options.connection), options.connection.tls));
    const target = { table, period, marker: { ...identity, runNumber: NO_RUN } };
    const result = await retentionPass(client, target, { dryRun });
    stdout.write(`${describeOutcome(`${options.schema}.${options.table}`, period.text, result, dryRun)}\n`);
    return result.denied !== undefined ? 1 : 0;
  } catch (error) {
    throw new Error(`${errorText(error)}, connecting as ${options.connection.description}`, { cause: error });
  } finally {
    await client?.end().catch(() => undefined);
  }
}

function describeOutcome(table: string, period: string, result: PassResult, dryRun: boolean): string {
  const head = `logweaver-pino: ${table}, retention ${period}:`;
  if (result.skipped !== undefined) return `${head} nothing done: ${result.skipped}`;
  if (!dryRun) return `${head} ${describePass(result)}`;
  return (
    `${head} would drop ${result.rows} rows older than ${result.cutoff.toISOString()}; ` +
    `${result.runs} runs and ${result.ledger} ledger entries (dry run: nothing deleted)`
  );
}
