/**
 * `logweaver-pino doctor`: says what is wrong before a user finds out from lost logs. Exits 1 when
 * writing would fail, 0 otherwise (warnings included), and prints the fix for each problem.
 */
import type { Writable } from 'node:stream';
import type pg from 'pg';
import { databaseFindings } from '../doctor/verdicts.js';
import { readFacts } from '../doctor/facts.js';
import { finding, type Finding } from '../doctor/findings.js';
import { spoolFinding } from '../doctor/spool.js';
import { errorText } from '../errors.js';
import type { ResolvedOptions } from '../options.js';
import { connectClient } from '../tls.js';

const CONNECT_TIMEOUT_MS = 10_000;
const LABELS = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' } as const;

export async function runDoctor(options: ResolvedOptions, stdout: Writable): Promise<number> {
  const { description } = options.connection;
  stdout.write(`logweaver-pino doctor: ${description}, table ${options.schema}.${options.table}\n`);
  const findings = [...(await checkDatabase(options)), spoolFinding(options)];
  stdout.write(findings.map(describe).join(''));
  const failed = findings.filter((one) => one.verdict === 'fail').length;
  stdout.write(failed === 0 ? 'writing will work\n' : `writing will fail: fix the ${failed} FAIL line(s) first\n`);
  return failed === 0 ? 0 : 1;
}

async function checkDatabase(options: ResolvedOptions): Promise<Finding[]> {
  const config = {
    ...options.connection.config,
    password: options.connection.config.password,
    application_name: 'logweaver-pino doctor',
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  };
  let client: pg.Client | undefined;
  try {
    // As the writer connects: the same sslmode, with its fallback for allow and prefer.
    ({ client } = await connectClient(config, options.connection.tls, (connecting) =>
      connecting.on('error', () => undefined),
    ));
    return databaseFindings(await readFacts(client, options), options);
  } catch (error) {
    const text = `cannot reach the database as ${options.connection.description}: ${errorText(error)}`;
    return [finding('connection', 'fail', text, [`check the database URL (from ${options.connection.source})`])];
  } finally {
    await client?.end().catch(() => undefined);
  }
}

function describe({ check, verdict, text, fixes }: Finding): string {
  const lines = [`${LABELS[verdict]}  ${check.padEnd(10)}  ${text}\n`];
  for (const fix of fixes) lines.push(`      fix: ${fix}\n`);
  return lines.join('');
}
