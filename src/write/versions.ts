/**
 * Schema versions: `<table>_meta` records the version of the package's tables, so that a release can
 * change them safely. Version 1 is the schema of 0.1.0, the first release; its tables have no meta
 * row, and a table of the package's shape without one is recorded as version 1.
 *
 * A start that finds an older version upgrades it in small steps, each in its own short transaction
 * with a lock_timeout, so that writers never wait long behind the DDL; a step that cannot get its
 * lock in time is reported with what to run instead. A table not made by the package (OpenClone's)
 * is never altered: steps on the log table skip it. A version newer than the code knows is a
 * configuration error: records are kept (spooled) until the package is upgraded.
 */
import pg from 'pg';
import { PrintableError } from '../errors.js';
import { SCHEMA_VERSION, metaRowSql, qualifiedMetaTable, qualifiedTable, type TableName } from './ddl.js';
import { queueForLock } from './session.js';
import { inTransaction } from '../transaction.js';

/** One step from version `to - 1` to `to`. */
export interface Upgrade {
  to: number;
  /** Statements on the package's own tables (runs, ledger, meta): always run. */
  ownTables(name: TableName): string[];
  /** Statements on the log table: run only where the package made it. */
  logTable(name: TableName): string[];
}

/**
 * Every step since version 1, in order. None yet: 0.1.0's schema is the current one. A step must
 * not rewrite a large table (no ALTER COLUMN TYPE, no volatile DEFAULT; CREATE INDEX CONCURRENTLY
 * runs outside a transaction, so it belongs to `schema apply`, not here).
 */
export const UPGRADES: readonly Upgrade[] = [];

/** How long a step waits for a table lock before it gives up and says what to run. */
const STEP_LOCK_TIMEOUT_MS = 2_000;
const STEP_STATEMENT_TIMEOUT_MS = 30_000;

/** The recorded version is newer than this code knows, or an upgrade step could not run. */
export class SchemaVersionError extends PrintableError {
  override name = 'SchemaVersionError';
}

/** Throws when the recorded version is one this code cannot write safely. */
export function assertKnownVersion(name: TableName, version: number): void {
  if (version <= SCHEMA_VERSION) return;
  throw new SchemaVersionError(
    `${qualifiedMetaTable(name)} says the tables of ${qualifiedTable(name)} are at schema version ${version}, ` +
      `but this logweaver-pino knows versions up to ${SCHEMA_VERSION}: upgrade logweaver-pino`,
  );
}

/**
 * The recorded version, recording one where there is none: the current version for tables just
 * made, else 1 (0.1.0 wrote no row). Undefined where the meta table is missing or not readable.
 */
export async function recordVersion(client: pg.Client, name: TableName, created: boolean): Promise<number | undefined> {
  await client.query('SAVEPOINT meta_row');
  try {
    await client.query(metaRowSql(name, created ? SCHEMA_VERSION : 1));
    const result = await client.query<{ schema_version: number }>(
      `SELECT schema_version FROM ${qualifiedMetaTable(name)}`,
    );
    return result.rows[0]?.schema_version;
  } catch (error) {
    // 42P01: no meta table (no CREATE); 42501: a role without INSERT or SELECT on it.
    if (!['42P01', '42501'].includes((error as { code?: string }).code ?? '')) throw error;
    await client.query('ROLLBACK TO SAVEPOINT meta_row');
    return undefined;
  }
}

/**
 * Brings the tables from `from` up to SCHEMA_VERSION, one step per transaction. Each takes the schema
 * lock and checks the version again, so that of several starting writers one does each step.
 */
export async function upgradeTables(
  client: pg.Client,
  name: TableName,
  from: number,
  packageTable: boolean,
  upgrades: readonly Upgrade[] = UPGRADES,
) {
  const steps = upgrades.filter((upgrade) => upgrade.to > from);
  // A missing step would leave the version behind, and prepareTable would try again for ever.
  const reached = steps.at(-1)?.to ?? from;
  if (reached < SCHEMA_VERSION) throw new Error(`no upgrade step reaches schema version ${SCHEMA_VERSION}`);
  for (const step of steps) {
    const statements = [...step.ownTables(name), ...(packageTable ? step.logTable(name) : [])];
    try {
      await inTransaction(client, 'BEGIN', () => runStep(client, name, step, statements));
    } catch (error) {
      throw new SchemaVersionError(
        `could not upgrade the tables of ${qualifiedTable(name)} to schema version ${step.to} ` +
          `(${(error as Error).message}); run \`logweaver-pino schema apply\` when writing is quiet, or:\n` +
          statements.join(';\n'),
        { cause: error },
      );
    }
  }
}

async function runStep(client: pg.Client, name: TableName, step: Upgrade, statements: string[]): Promise<void> {
  const settings = `SET LOCAL lock_timeout = ${STEP_LOCK_TIMEOUT_MS}; SET LOCAL statement_timeout = ${STEP_STATEMENT_TIMEOUT_MS}`;
  await queueForLock(client, 'logweaver-pino schema', settings);
  const meta = qualifiedMetaTable(name);
  const current = await client.query<{ schema_version: number }>(`SELECT schema_version FROM ${meta} FOR UPDATE`);
  if ((current.rows[0]?.schema_version ?? 1) >= step.to) return; // another writer did it meanwhile
  for (const statement of statements) await client.query(statement);
  await client.query(`UPDATE ${meta} SET schema_version = $1, upgraded_at = now()`, [step.to]);
}
