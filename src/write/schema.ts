/**
 * The table: created when missing (LogWeaver's columns, an identity log_id, the record column and
 * read indexes); used as it is when it exists, e.g. OpenClone's EF-created table, which the
 * application's role may only INSERT into and SELECT from.
 */
import pg from 'pg';
import { LOGWEAVER_COLUMNS, RECORD_COLUMN, type ColumnEncodings } from './copy.js';
import {
  SCHEMA_VERSION,
  ledgerTableSql,
  logTableSql,
  metaTableSql,
  qualifiedLedgerTable,
  qualifiedMetaTable,
  qualifiedRunsTable,
  qualifiedTable,
  runsTableSql,
  separateMetaSchema,
  type TableName,
} from './ddl.js';
import { queueForLock, withSettings } from './session.js';
import { assertKnownVersion, recordVersion, upgradeTables } from './versions.js';

export interface TableLayout {
  /** Columns written by COPY, in order. */
  columns: string[];
  /** How values are encoded for the table's column types. */
  encodings: ColumnEncodings;
  /** Whether the runs table exists (and so two transports of one process can share a run). */
  hasRunsTable: boolean;
  /** Whether the batch ledger exists (and so a retried batch is never stored twice). */
  hasLedger: boolean;
}

/**
 * Creates what is missing (when allowed), records or upgrades the schema version (versions.ts) and
 * reads the table's columns, in one transaction with the given SET LOCAL settings. Serialised by an
 * advisory lock, since concurrent CREATE TABLE IF NOT EXISTS can still fail on pg_type's unique index.
 */
export async function prepareTable(
  client: pg.Client,
  name: TableName,
  createTable: boolean,
  settings: string,
): Promise<TableLayout> {
  const { version, ...layout } = await withSettings(client, settings, () =>
    prepareInTransaction(client, name, createTable, settings),
  );
  if (version === undefined || version >= SCHEMA_VERSION) return layout;
  await upgradeTables(client, name, version, layout.columns.includes(RECORD_COLUMN));
  return prepareTable(client, name, createTable, settings); // the steps may have changed the columns
}

async function prepareInTransaction(
  client: pg.Client,
  name: TableName,
  createTable: boolean,
  settings: string,
): Promise<TableLayout & { version?: number }> {
  // At most starts everything exists, at the current version: then no lock, which a crowd of
  // processes starting together would queue on while each holder waits for CPU (issue 10).
  const found = await existing(client, name, createTable);
  if (found.complete) return { ...(await readLayout(client, name)), ...found.own };
  await queueForLock(client, 'logweaver-pino schema', settings);
  const created = createTable && !(await exists(client, qualifiedTable(name)));
  if (created) await client.query(logTableSql(name));
  const layout = await readLayout(client, name);
  const own = await prepareOwnTables(client, name, createTable);
  if (name.metaTables === false) return { ...layout, ...own };
  const version = await recordVersion(client, name, created);
  if (version !== undefined) assertKnownVersion(name, version);
  return { ...layout, ...own, version };
}

/**
 * Whether the log table, and the runs table (with its counters), the ledger and the meta table at
 * the current version where they are wanted, all exist: then there is nothing to create or upgrade.
 * One round trip: the version is read optimistically, behind a savepoint, since the meta table may
 * be missing (tables made by 0.1.0) or not readable by this role.
 */
async function existing(
  client: pg.Client,
  name: TableName,
  createTable: boolean,
): Promise<{ complete: boolean; own: Pick<TableLayout, 'hasRunsTable' | 'hasLedger'> }> {
  if (name.metaTables === false) {
    const found = (await client.query<Found>(probeSql(name, false))).rows[0] as Found;
    return { complete: found.log, own: { hasRunsTable: false, hasLedger: false } };
  }
  let found: Found;
  let metaToMake = false;
  try {
    const results = (await client.query(`SAVEPOINT probe; ${probeSql(name, true)}`)) as unknown as pg.QueryResult[];
    found = results[1]?.rows[0] as Found;
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    if (!['42P01', '42501'].includes(code)) throw error;
    await client.query('ROLLBACK TO SAVEPOINT probe');
    found = (await client.query<Found>(probeSql(name, false))).rows[0] as Found;
    // Missing (42P01): made under the lock where this role may. Not readable (42501), or not to be
    // made: the tables are used as they are, with no version known; taking the lock at every start
    // would not change that, and a crowd of starts would queue on it (issue 10).
    metaToMake = code === '42P01' && createTable && found.mayCreate;
  }
  if (typeof found.version === 'number') assertKnownVersion(name, found.version);
  const current = found.version === undefined ? !metaToMake : found.version === SCHEMA_VERSION;
  return {
    complete: found.log && found.runs && found.counters && found.ledger && current,
    own: { hasRunsTable: found.runs, hasLedger: found.ledger },
  };
}

interface Found {
  log: boolean;
  runs: boolean;
  ledger: boolean;
  counters: boolean;
  /** The version recorded in the meta table (null: no row; absent: not read). */
  version?: number | null;
  /** Whether this role may create tables in the meta schema. */
  mayCreate: boolean;
}

/** One simple query (it follows a SAVEPOINT in the same string), so the names are quoted as literals. */
function probeSql(name: TableName, withVersion: boolean): string {
  const [log, runs, ledger] = [qualifiedTable(name), qualifiedRunsTable(name), qualifiedLedgerTable(name)].map(
    (table) => pg.escapeLiteral(table),
  );
  const version = withVersion ? `, (SELECT schema_version FROM ${qualifiedMetaTable(name)}) AS version` : '';
  const metaSchema = pg.escapeLiteral(name.metaSchema ?? name.schema);
  return `SELECT to_regclass(${log}) IS NOT NULL AS log, to_regclass(${runs}) IS NOT NULL AS runs,
            to_regclass(${ledger}) IS NOT NULL AS ledger,
            EXISTS (SELECT 1 FROM pg_attribute
                     WHERE attrelid = to_regclass(${runs}) AND attname = 'counters' AND NOT attisdropped) AS counters,
            EXISTS (SELECT 1 FROM pg_namespace
                     WHERE nspname = ${metaSchema} AND has_schema_privilege(oid, 'CREATE')) AS "mayCreate"${version}`;
}

/** The runs table, the ledger and the meta table, where they are wanted and can be had. */
async function prepareOwnTables(
  client: pg.Client,
  name: TableName,
  createTable: boolean,
): Promise<Pick<TableLayout, 'hasRunsTable' | 'hasLedger'>> {
  if (name.metaTables === false) return { hasRunsTable: false, hasLedger: false };
  if (createTable) await ensureMetaSchema(client, name);
  const hasRunsTable = await ensureOwnTable(client, qualifiedRunsTable(name), runsTableSql(name), createTable);
  if (hasRunsTable) await addRunCountersColumn(client, name);
  const hasLedger = await ensureOwnTable(client, qualifiedLedgerTable(name), ledgerTableSql(name), createTable);
  await ensureOwnTable(client, qualifiedMetaTable(name), metaTableSql(name), createTable);
  return { hasRunsTable, hasLedger };
}

/**
 * Creates a separate meta schema when missing and the role may (CREATE on the database). Its
 * existence is checked first: CREATE SCHEMA IF NOT EXISTS asks for that privilege even when the
 * schema is there.
 */
async function ensureMetaSchema(client: pg.Client, name: TableName): Promise<void> {
  const metaSchema = separateMetaSchema(name);
  if (metaSchema === undefined) return;
  const found = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [metaSchema]);
  if (found.rows.length > 0) return;
  await client.query('SAVEPOINT meta_schema');
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${pg.escapeIdentifier(metaSchema)}`);
  } catch (error) {
    if ((error as { code?: string }).code !== '42501') throw error;
    await client.query('ROLLBACK TO SAVEPOINT meta_schema');
  }
}

/**
 * The package's own tables beside the log table. The application's role may lack CREATE on the
 * schema (OpenClone's setup), or the meta schema may be missing: then run numbers are still
 * race-free, only not shared between transports of one process, runs have no recorded end, and a
 * batch retried after an ambiguous failure may be stored twice.
 */
async function ensureOwnTable(
  client: pg.Client,
  qualified: string,
  sql: string,
  createTable: boolean,
): Promise<boolean> {
  if (await exists(client, qualified)) return true;
  if (!createTable) return false;
  await client.query('SAVEPOINT own_table');
  try {
    await client.query(sql);
    return true;
  } catch (error) {
    // 42501: no CREATE on the schema; 3F000: the meta schema is missing and could not be created.
    if (!['42501', '3F000'].includes((error as { code?: string }).code ?? '')) throw error;
    await client.query('ROLLBACK TO SAVEPOINT own_table');
    return false;
  }
}

/**
 * Runs tables made by earlier development versions have `last_counters` (one writer's) instead of
 * `counters` (summed over the run's writers). The column is added once, by whoever may; without it a
 * run's end is not recorded.
 */
async function addRunCountersColumn(client: pg.Client, name: TableName): Promise<void> {
  const qualified = qualifiedRunsTable(name);
  const found = await client.query(
    "SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'counters' AND NOT attisdropped",
    [qualified],
  );
  if (found.rows.length > 0) return;
  await client.query('SAVEPOINT run_counters');
  try {
    await client.query(`ALTER TABLE ${qualified} ADD COLUMN IF NOT EXISTS counters json`);
  } catch (error) {
    if ((error as { code?: string }).code !== '42501') throw error;
    await client.query('ROLLBACK TO SAVEPOINT run_counters');
  }
}

async function exists(client: pg.Client, qualified: string): Promise<boolean> {
  const result = await client.query<{ found: boolean }>('SELECT to_regclass($1) IS NOT NULL AS found', [qualified]);
  return result.rows[0]?.found === true;
}

/** Binary COPY needs each column's exact type: these are the ones the writer can encode. */
const ACCEPTED_TYPES: Record<string, readonly string[]> = {
  run_number: ['int4', 'int8'],
  open_clone_log: ['bool'],
  timestamp: ['timestamptz', 'timestamp'],
  [RECORD_COLUMN]: ['json', 'jsonb', 'text'],
};
const TEXT_TYPES = ['text', 'varchar', 'bpchar'];

/** What keeps a table with these column types from being written, one sentence each (none: it can be). */
export function columnProblems(types: ReadonlyMap<string, string>, table: string): string[] {
  const missing = LOGWEAVER_COLUMNS.filter((column) => !types.has(column));
  const problems = missing.length > 0 ? [`table ${table} has no column ${missing.join(', ')}`] : [];
  for (const [column, type] of types) {
    const accepted =
      ACCEPTED_TYPES[column] ?? ((LOGWEAVER_COLUMNS as readonly string[]).includes(column) ? TEXT_TYPES : undefined);
    if (accepted && !accepted.includes(type)) {
      problems.push(`column ${column} of ${table} has type ${type}; logweaver-pino writes ${accepted.join(' or ')}`);
    }
  }
  return problems;
}

/** A table's columns and their types; empty when it does not exist. */
export async function columnTypes(client: pg.Client, table: string): Promise<Map<string, string>> {
  const result = await client.query<{ attname: string; typname: string }>(
    `SELECT attname, typname FROM pg_attribute JOIN pg_type ON pg_type.oid = atttypid
      WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped`,
    [table],
  );
  return new Map(result.rows.map((row) => [row.attname, row.typname]));
}

async function readLayout(
  client: pg.Client,
  name: TableName,
): Promise<Omit<TableLayout, 'hasRunsTable' | 'hasLedger'>> {
  const table = qualifiedTable(name);
  const types = await columnTypes(client, table);
  if (types.size === 0) {
    throw new TableError(`table ${table} does not exist (create it with \`logweaver-pino schema apply\`)`);
  }
  const [problem] = columnProblems(types, table);
  if (problem !== undefined) throw new TableError(problem);
  const record = types.get(RECORD_COLUMN) as ColumnEncodings['record'];
  return {
    columns: [...LOGWEAVER_COLUMNS, ...(record ? [RECORD_COLUMN] : [])],
    encodings: { runNumber: types.get('run_number') as ColumnEncodings['runNumber'], record },
  };
}

/** The table is missing or lacks a LogWeaver column: a configuration error, not a transient one. */
export class TableError extends Error {
  override name = 'TableError';
}
