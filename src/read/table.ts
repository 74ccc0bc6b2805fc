/**
 * Which table is being read: the one this package creates (a `record` column, a `<table>_runs`
 * table, indexes for reading) or OpenClone's (LogWeaver's ten columns, the primary key and nothing
 * else). Readers ask this once and choose their queries by it; they never add anything to the table.
 */
import type pg from 'pg';
import { LOGWEAVER_COLUMNS, RECORD_COLUMN } from '../write/copy.js';
import { TableError } from '../write/schema.js';
import { qualifiedRunsTable, qualifiedTable, type TableName } from '../write/ddl.js';

export interface TableShape {
  name: TableName;
  /** "schema"."table", quoted for SQL. */
  qualified: string;
  /** The package's table: the whole record is there to show. */
  hasRecord: boolean;
  /** `<table>_runs`, readable: whether a run ended cleanly is known. */
  runsTable: string | undefined;
  /** A btree index led by (application_name, machine_name, run_number): runs are listed through it. */
  hasRunIndex: boolean;
  /** A btree index led by (application_name, timestamp): an application's newest row is one probe. */
  hasApplicationTimeIndex: boolean;
}

/** The columns every reader shows, in the table's order. */
export const READ_COLUMNS = ['log_id', ...LOGWEAVER_COLUMNS] as const;

export async function detectShape(client: pg.ClientBase, name: TableName): Promise<TableShape> {
  const qualified = qualifiedTable(name);
  const columns = await columnNames(client, qualified);
  if (columns.size === 0) {
    throw new TableError(
      `table ${name.schema}.${name.table} does not exist or cannot be read (see --schema and --table)`,
    );
  }
  const missing = READ_COLUMNS.filter((column) => !columns.has(column));
  if (missing.length > 0) {
    throw new TableError(
      `table ${name.schema}.${name.table} is not a LogWeaver log table: no column ${missing.join(', ')}`,
    );
  }
  return {
    name,
    qualified,
    hasRecord: columns.has(RECORD_COLUMN),
    runsTable:
      name.metaTables !== false && (await readable(client, qualifiedRunsTable(name)))
        ? qualifiedRunsTable(name)
        : undefined,
    hasRunIndex: await hasIndexLedBy(client, qualified, ['application_name', 'machine_name', 'run_number']),
    hasApplicationTimeIndex: await hasIndexLedBy(client, qualified, ['application_name', 'timestamp']),
  };
}

async function columnNames(client: pg.ClientBase, qualified: string): Promise<Set<string>> {
  const result = await client.query<{ attname: string }>(
    `SELECT attname FROM pg_attribute
      WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped
        AND has_table_privilege(to_regclass($1), 'SELECT')`,
    [qualified],
  );
  return new Set(result.rows.map((row) => row.attname));
}

async function readable(client: pg.ClientBase, qualified: string): Promise<boolean> {
  const result = await client.query<{ ok: boolean }>(
    `SELECT to_regclass($1) IS NOT NULL AND has_table_privilege(to_regclass($1), 'SELECT') AS ok`,
    [qualified],
  );
  return result.rows[0]?.ok === true;
}

async function hasIndexLedBy(client: pg.ClientBase, qualified: string, leading: string[]): Promise<boolean> {
  const result = await client.query<{ columns: string[] }>(
    `SELECT array(SELECT a.attname::text
                    FROM unnest(string_to_array(i.indkey::text, ' ')::int2[]) WITH ORDINALITY AS k(attnum, position)
                    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                   ORDER BY k.position) AS columns
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
      WHERE i.indrelid = to_regclass($1) AND i.indisvalid AND am.amname = 'btree'`,
    [qualified],
  );
  return result.rows.some((row) => leading.every((column, position) => row.columns[position] === column));
}
